package modules

import (
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor"
)

func TestSplitCommand(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		err  string
	}{
		{"/usr/local/bin/backup", []string{"/usr/local/bin/backup"}, ""},
		{"  /bin/tar  czf /backup/x.tgz\t/srv ", []string{"/bin/tar", "czf", "/backup/x.tgz", "/srv"}, ""},
		{`/bin/echo 'a b' "c d" e\ f`, []string{"/bin/echo", "a b", "c d", "e f"}, ""},
		{`/bin/echo 'it''s' "say \"hi\" \\ \n"`, []string{"/bin/echo", "its", `say "hi" \ \n`}, ""},
		{`/bin/echo '$HOME | * ;' ""`, []string{"/bin/echo", "$HOME | * ;", ""}, ""},
		{`/bin/echo 100%`, []string{"/bin/echo", "100%"}, ""},
		{"/bin/tar czf - /srv | gzip", nil, "only a shell would interpret"},
		{"/bin/echo $HOME", nil, "only a shell"},
		{`/bin/echo "$HOME"`, nil, "only a shell"},
		{"/bin/rm /tmp/*.log", nil, "only a shell"},
		{"a && b", nil, "only a shell"},
		{"a > /x", nil, "only a shell"},
		{"/bin/echo `id`", nil, "only a shell"},
		{"/bin/echo 'open", nil, "not closed"},
		{`/bin/echo "open`, nil, "not closed"},
		{`/bin/echo \`, nil, "ends with a backslash"},
		{"   ", nil, "empty"},
	} {
		got, err := splitCommand(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("splitCommand(%q) = %q, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestSystemdTimerRender checks both unit files (golden).
func TestSystemdTimerRender(t *testing.T) {
	m := mustDecode(t, "systemd_timer", "backup", `
on_calendar      = ["Mon..Fri 03:00", "Sat 12:00"]
command          = "/usr/local/bin/backup --to '/srv/back up' 100%"
user             = "backup"
description      = "Nightly backup"
randomized_delay = "5m"
accuracy         = 1
`).(*SystemdTimer)
	header := "# Managed by tend (systemd_timer \"backup\"). Local changes will be overwritten.\n"
	wantSvc := header + `[Unit]
Description=Nightly backup

[Service]
Type=oneshot
User=backup
ExecStart=/usr/local/bin/backup --to "/srv/back up" 100%%
`
	wantTimer := header + `[Unit]
Description=Nightly backup

[Timer]
OnCalendar=Mon..Fri 03:00
OnCalendar=Sat 12:00
Persistent=true
RandomizedDelaySec=300
AccuracySec=1

[Install]
WantedBy=timers.target
`
	if got := string(m.service.File.Content); got != wantSvc {
		t.Errorf("service\n%s\nwant\n%s", got, wantSvc)
	}
	if got := string(m.timer.File.Content); got != wantTimer {
		t.Errorf("timer\n%s\nwant\n%s", got, wantTimer)
	}
	if m.service.File.Path != "/etc/systemd/system/backup.service" || m.timer.File.Path != "/etc/systemd/system/backup.timer" ||
		m.service.File.Validate != unitVerify("backup.service") || m.timer.File.Validate != unitVerify("backup.timer") {
		t.Errorf("files %+v %+v", m.service.File, m.timer.File)
	}
	// A list is the argv as it is; defaults: no User=, Persistent=true,
	// the description from the name and command.
	m = mustDecode(t, "systemd_timer", "rotate.timer", `
on_calendar = "daily"
command     = ["/bin/sh", "-c", "find /var/log/app -mtime +7 -delete; echo $HOME"]
persistent  = false
`).(*SystemdTimer)
	if got := string(m.service.File.Content); !strings.Contains(got, "Description=rotate: /bin/sh -c find /var/log/app -mtime +7 -delete; echo $HOME\n") ||
		!strings.Contains(got, "\nExecStart=/bin/sh -c \"find /var/log/app -mtime +7 -delete; echo $$HOME\"\n") || strings.Contains(got, "User=") {
		t.Errorf("service\n%s", got)
	}
	if got := string(m.timer.File.Content); !strings.Contains(got, "\nOnCalendar=daily\nPersistent=false\n\n[Install]") {
		t.Errorf("timer\n%s", got)
	}
}

func TestSystemdTimerDiagnostics(t *testing.T) {
	tests := []struct {
		name, label, src, at, want string
	}{
		{"no calendar", "backup", "command = \"/bin/true\"\n", "", "\"on_calendar\" is required"},
		{"no command", "backup", "on_calendar = \"daily\"\n", "", "\"command\" is required"},
		{"bad calendar", "backup", "on_calendar = \"daily; rm -rf /\"\ncommand = \"/bin/true\"\n", "1:1", "not a systemd calendar event"},
		{"shell command", "backup", "on_calendar = \"daily\"\ncommand = \"/bin/tar c /srv | gzip\"\n", "2:1", "only a shell would interpret"},
		{"empty list", "backup", "on_calendar = \"daily\"\ncommand = []\n", "2:1", "empty"},
		{"bad user", "backup", "on_calendar = \"daily\"\ncommand = \"/bin/true\"\nuser = \"a b\"\n", "3:1", "not a valid user"},
		{"bad delay", "backup", "on_calendar = \"daily\"\ncommand = \"/bin/true\"\nrandomized_delay = \"soon\"\n", "3:1", "not a time span"},
		{"bad name", "back/up", "on_calendar = \"daily\"\ncommand = \"/bin/true\"\n", "", "not a timer name"},
		{"service name", "backup.service", "on_calendar = \"daily\"\ncommand = \"/bin/true\"\n", "", "not a timer name"},
		{"absent with command", "backup", "state = \"absent\"\ncommand = \"/bin/true\"\n", "2:1", "no meaning"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decodeModule(t, "systemd_timer", tt.label, tt.src, nil)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			d := diags[0]
			if !strings.Contains(d.Summary+" "+d.Detail, tt.want) {
				t.Errorf("%q: %q, want %q", d.Summary, d.Detail, tt.want)
			}
			if tt.at != "" && pos(d) != tt.at {
				t.Errorf("at %s, want %s", pos(d), tt.at)
			}
		})
	}
}

// timerState is the gathered state of backup.service and backup.timer.
func timerState(svc, tmr *executor.FileState, svcUnit, tmrUnit executor.UnitState, calendar string) *executor.State {
	st := &executor.State{
		Facts:  executor.Facts{Systemd: true},
		Files:  map[string]*executor.FileState{},
		Units:  map[string]*executor.UnitState{},
		Values: map[string]any{calendarFact{[]string{"daily"}}.Key(): calendar},
	}
	for _, f := range []struct {
		name string
		file *executor.FileState
		unit executor.UnitState
	}{{"backup.service", svc, svcUnit}, {"backup.timer", tmr, tmrUnit}} {
		if f.file == nil {
			f.file = &executor.FileState{}
		}
		f.file.Path = "/etc/systemd/system/" + f.name
		st.Files[f.file.Path] = f.file
		u := f.unit
		u.Name = f.name
		st.Units[f.name] = &u
	}
	return st
}

func TestSystemdTimerCheck(t *testing.T) {
	const src = "on_calendar = \"daily\"\ncommand = \"/bin/true\"\n"
	m := mustDecode(t, "systemd_timer", "backup", src).(*SystemdTimer)
	file := func(content []byte) *executor.FileState {
		return &executor.FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Content: content}
	}
	notFound := executor.UnitState{LoadState: "not-found", ActiveState: "inactive"}
	svcLoaded := executor.UnitState{LoadState: "loaded", ActiveState: "inactive", UnitFileState: "static"}
	running := executor.UnitState{LoadState: "loaded", ActiveState: "active", SubState: "waiting", UnitFileState: "enabled"}
	tests := []struct {
		name             string
		svc, tmr         *executor.FileState
		svcUnit, tmrUnit executor.UnitState
		changes, actions []string
	}{
		{"new", nil, nil, notFound, notFound,
			[]string{"backup.service exists:absent->present", "content:->", "backup.timer exists:absent->present", "content:->", "enabled:disabled->enabled", "state:not-found->started"},
			[]string{"daemon-reload", "enable backup.timer", "start backup.timer"}},
		{"in sync", file(m.service.File.Content), file(m.timer.File.Content), svcLoaded, running, nil, nil},
		{"service changed: no restart, no start of the service", file([]byte("old")), file(m.timer.File.Content), svcLoaded, running,
			[]string{"content:->"}, []string{"daemon-reload"}},
		{"timer changed: the timer restarts", file(m.service.File.Content), file([]byte("old")), svcLoaded, running,
			[]string{"content:->"}, []string{"daemon-reload", "restart backup.timer"}},
		{"both files' modes drift", func() *executor.FileState { f := file(m.service.File.Content); f.Mode = 0o600; return f }(),
			func() *executor.FileState { f := file(m.timer.File.Content); f.Mode = 0o666; return f }(), svcLoaded, running,
			[]string{"backup.service mode:0600->0644", "backup.timer mode:0666->0644"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := timerState(tt.svc, tt.tmr, tt.svcUnit, tt.tmrUnit, "")
			d, err := m.Check(context.Background(), &Target{State: st})
			if err != nil {
				t.Fatal(err)
			}
			var changes []string
			for _, c := range d.Changes {
				changes = append(changes, c.Attr+":"+c.Old+"->"+c.New)
			}
			if !reflect.DeepEqual(changes, tt.changes) || !reflect.DeepEqual(d.Actions(), tt.actions) {
				t.Errorf("changes %q actions %q, want %q %q", changes, d.Actions(), tt.changes, tt.actions)
			}
			// Apply writes exactly the files that differ, each its own.
			conn := &fakeConn{}
			if err := m.Apply(context.Background(), &Target{Conn: conn, State: st, Become: true}, d); err != nil {
				t.Fatal(err)
			}
			for _, w := range conn.writes {
				want := m.service.File.Content
				if strings.HasSuffix(w.Path, ".timer") {
					want = m.timer.File.Content
				}
				if w.Data != string(want) || w.Attrs.Mode != 0o644 || w.Attrs.Owner != "root" {
					t.Errorf("write %s: %q %+v", w.Path, w.Data, w.Attrs)
				}
			}
			for _, s := range conn.scripts {
				if !strings.Contains(s, "chmod -- 0644") {
					t.Errorf("script %q", tail([]byte(s), 200))
				}
			}
			if n := len(conn.writes) + len(conn.scripts); n != len(d.Changes)-strings.Count(strings.Join(changes, " "), "exists:")-strings.Count(strings.Join(changes, " "), "state:")-strings.Count(strings.Join(changes, " "), "enabled:") {
				t.Errorf("%d commands for changes %q", n, changes)
			}
		})
	}
	st := timerState(nil, nil, notFound, notFound, "systemd-analyze calendar: Failed to parse calendar specification 'daily': Invalid argument")
	if _, err := m.Check(context.Background(), &Target{State: st}); err == nil || !strings.Contains(err.Error(), "on_calendar: systemd-analyze calendar: Failed to parse") {
		t.Errorf("a calendar the host rejects: %v", err)
	}
	off := mustDecode(t, "systemd_timer", "backup", src+"enabled = false\n")
	d, err := off.Check(context.Background(), &Target{State: timerState(file(m.service.File.Content), file(m.timer.File.Content), svcLoaded, running, "")})
	if err != nil || !reflect.DeepEqual(d.Actions(), []string{"disable backup.timer", "stop backup.timer"}) {
		t.Errorf("enabled = false: %q %v", d.Actions(), err)
	}
}

// TestSystemdTimerAbsent: the timer is stopped, both files and the
// enablement link go (each kept first), systemd reloads.
func TestSystemdTimerAbsent(t *testing.T) {
	m := mustDecode(t, "systemd_timer", "backup", "state = \"absent\"\n")
	running := executor.UnitState{LoadState: "loaded", ActiveState: "active", SubState: "waiting", UnitFileState: "enabled"}
	svc := executor.UnitState{LoadState: "loaded", ActiveState: "activating", SubState: "start"}
	f := &executor.FileState{Exists: true, Type: "file", Content: []byte("[Service]\n")}
	st := timerState(f, &executor.FileState{Exists: true, Type: "file", Content: []byte("[Timer]\n")}, svc, running, "")
	st.Files["/etc/systemd/system/timers.target.wants/backup.timer"] = &executor.FileState{Path: "/etc/systemd/system/timers.target.wants/backup.timer", Exists: true, Type: "symlink"}
	d, err := m.Check(context.Background(), &Target{State: st})
	if err != nil {
		t.Fatal(err)
	}
	want := "state:active->stopped backup.service exists:present->absent content:present->absent backup.timer exists:present->absent content:present->absent timers.target.wants/backup.timer exists:present->absent"
	if got := changeList(d); got != want {
		t.Errorf("changes %q\nwant    %q", got, want)
	}
	if !reflect.DeepEqual(d.Actions(), []string{"stop backup.timer", "daemon-reload"}) || len(d.Notes) != 1 {
		t.Errorf("actions %q notes %q", d.Actions(), d.Notes)
	}
	conn := &fakeConn{}
	if err := m.Apply(context.Background(), &Target{Conn: conn, State: st, Become: true}, d); err != nil {
		t.Fatal(err)
	}
	var removed []string
	for _, s := range conn.scripts {
		i := strings.LastIndex(s, "\nrm -f -- ")
		if i < 0 || !strings.Contains(s, "\ntend_keep ") {
			t.Fatalf("script %q", tail([]byte(s), 300))
		}
		removed = append(removed, s[i+len("\nrm -f -- "):])
	}
	if want := []string{"/etc/systemd/system/backup.service", "/etc/systemd/system/backup.timer", "/etc/systemd/system/timers.target.wants/backup.timer"}; !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %q", removed)
	}
	gone := timerState(nil, nil, executor.UnitState{LoadState: "not-found"}, executor.UnitState{LoadState: "not-found"}, "")
	gone.Files["/etc/systemd/system/timers.target.wants/backup.timer"] = &executor.FileState{Path: "/etc/systemd/system/timers.target.wants/backup.timer"}
	if d, err := m.Check(context.Background(), &Target{State: gone}); err != nil || !d.Empty() {
		t.Errorf("gone: %+v %v", d, err)
	}
}

func TestCalendarFactParse(t *testing.T) {
	f := calendarFact{[]string{"daily"}}
	for _, tt := range []struct {
		out  string
		want any
		err  bool
	}{
		{"tend: rc 0\n", "", false},
		{"tend: no systemd-analyze\n", "", false},
		{"Failed to parse calendar specification 'x': Invalid argument\ntend: rc 1\n", "systemd-analyze calendar: Failed to parse calendar specification 'x': Invalid argument", false},
		{"tend: rc 1\n", nil, true},
		{"", nil, true},
		{"garbage\n", nil, true},
		{"Failed to parse calendar specification 'x'\ntend: rc 0\n", nil, true},
	} {
		got, err := f.Parse([]byte(tt.out), 0)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v", tt.out, got, err)
		}
	}
}

// TestCalendarFactLocal runs the calendar check with this machine's
// systemd-analyze.
func TestCalendarFactLocal(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze")
	}
	conn := executor.NewLocal(executor.LocalOptions{})
	good, bad := calendarFact{[]string{"daily", "Mon..Fri 03:00"}}, calendarFact{[]string{"daily", "Mon..Fry 03:00"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := executor.Gather(ctx, conn, executor.Request{Probes: []executor.Probe{{Kind: executor.ProbeFact, Fact: good}, {Kind: executor.ProbeFact, Fact: bad}}})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := st.Fact(good); v != "" {
		t.Errorf("good: %q", v)
	}
	if v, _ := st.Fact(bad); !strings.Contains(v.(string), "Mon..Fry 03:00") {
		t.Errorf("bad: %q", v)
	}
}
