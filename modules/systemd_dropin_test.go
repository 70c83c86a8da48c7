package modules

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor"
)

// TestSystemdDropinRender checks what the blocks render to: sections in a
// fixed order whatever the order of the blocks, keys in source order, a
// list as repeated keys (an empty first element resets the setting).
func TestSystemdDropinRender(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"service", `
service {
  Restart    = "always"
  RestartSec = 5
  NoNewPrivileges = true
}`, dropInHeader + "\n[Service]\nRestart=always\nRestartSec=5\nNoNewPrivileges=yes\n"},
		{"sections in systemd's order", `
install { WantedBy = "multi-user.target" }
service { ExecStart = ["", "/usr/bin/x --flag"] }
unit { After = "network-online.target" }
`, dropInHeader + "\n[Unit]\nAfter=network-online.target\n\n[Service]\nExecStart=\nExecStart=/usr/bin/x --flag\n\n[Install]\nWantedBy=multi-user.target\n"},
		{"content verbatim", `content = "[Service]\nLimitNOFILE=65536\n"`, "[Service]\nLimitNOFILE=65536\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustDecode(t, "systemd_dropin", "nginx", tt.src).(*SystemdDropin)
			if got := string(m.file.Content); got != tt.want {
				t.Errorf("rendered\n%s\nwant\n%s", got, tt.want)
			}
			if m.file.Path != "/etc/systemd/system/nginx.service.d/50-tend.conf" || m.unit != "nginx.service" {
				t.Errorf("path %s, unit %s", m.file.Path, m.unit)
			}
		})
	}
	m := mustDecode(t, "systemd_dropin", "ssh.socket", "dropin = \"10-listen.conf\"\nsocket { ListenStream = [\"\", \"2222\"] }\n").(*SystemdDropin)
	if m.file.Path != "/etc/systemd/system/ssh.socket.d/10-listen.conf" {
		t.Errorf("name with .conf: %s", m.file.Path)
	}
	m = mustDecode(t, "systemd_dropin", "limits", "unit_name = \"cron\"\ndropin = \"20-limits\"\nservice { LimitNOFILE = 4096 }\n").(*SystemdDropin)
	if m.file.Path != "/etc/systemd/system/cron.service.d/20-limits.conf" {
		t.Errorf("unit_name: %s", m.file.Path)
	}
}

// TestSystemdDropinDiagnostics: every mistake is an error at its attribute.
func TestSystemdDropinDiagnostics(t *testing.T) {
	tests := []struct {
		name, label, src, at, want string
	}{
		{"bad on_change", "nginx", "service { Restart = \"always\" }\non_change = \"bounce\"\n", "2:1", `on_change must be "restart", "reload", "reload-or-restart" or "none"`},
		{"bad name", "nginx", "dropin = \"../x\"\nservice { Restart = \"always\" }\n", "1:1", "is not a drop-in name"},
		{"hidden name", "nginx", "dropin = \".x\"\nservice { Restart = \"always\" }\n", "1:1", "is not a drop-in name"},
		{"bad unit", "ngi nx", "service { Restart = \"always\" }\n", "", "not a valid systemd unit name"},
		{"bad setting name", "nginx", "service {\n  _Restart = 1\n}\n", "2:3", "is not a systemd setting name"},
		{"both", "nginx", "content = \"[Service]\\n\"\nservice { Restart = \"always\" }\n", "1:1", "either content or"},
		{"none", "nginx", "on_change = \"none\"\n", "", "needs content or"},
		{"absent with content", "nginx", "state = \"absent\"\ncontent = \"x\"\n", "2:1", "no meaning"},
		{"bad settle", "nginx", "settle = \"soon\"\nservice { Restart = \"always\" }\n", "1:1", "not a duration"},
		{"multi-line value", "nginx", "service { Environment = \"A=1\\nB=2\" }\n", "1:11", "cannot span lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decodeModule(t, "systemd_dropin", tt.label, tt.src, nil)
			if !diags.HasErrors() {
				t.Fatalf("no error")
			}
			d := diags[0]
			if !strings.Contains(d.Summary+" "+d.Detail, tt.want) {
				t.Errorf("diagnostic %q: %q, want %q", d.Summary, d.Detail, tt.want)
			}
			if tt.at != "" && pos(d) != tt.at {
				t.Errorf("at %s, want %s", pos(d), tt.at)
			}
		})
	}
}

const dropInPath = "/etc/systemd/system/nginx.service.d/50-tend.conf"

// dropInState builds the gathered state of nginx.service with the drop-in
// (nil: missing), its directory and CanReload.
func dropInState(file *executor.FileState, dirExists bool, unit executor.UnitState, canReload string) *executor.State {
	unit.Name = "nginx.service"
	if file == nil {
		file = &executor.FileState{}
	}
	file.Path = dropInPath
	dir := &executor.FileState{Path: "/etc/systemd/system/nginx.service.d"}
	if dirExists {
		dir.Exists, dir.Type, dir.Mode, dir.Owner, dir.Group = true, "directory", 0o755, "root", "root"
	}
	return &executor.State{
		Facts:  executor.Facts{Systemd: true},
		Files:  map[string]*executor.FileState{file.Path: file, dir.Path: dir},
		Units:  map[string]*executor.UnitState{"nginx.service": &unit},
		Values: map[string]any{canReloadFact{"nginx.service"}.Key(): canReload},
	}
}

// TestSystemdDropinCheck checks what each state calls for: daemon-reload
// and the on_change action only when the drop-in changed, and only on an
// active unit.
func TestSystemdDropinCheck(t *testing.T) {
	const body = "service {\n  Restart = \"always\"\n}\n"
	want := dropInHeader + "\n[Service]\nRestart=always\n"
	same := func() *executor.FileState {
		return &executor.FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Content: []byte(want)}
	}
	old := func() *executor.FileState {
		f := same()
		f.Content = []byte("[Service]\nRestart=no\n")
		return f
	}
	active := executor.UnitState{LoadState: "loaded", ActiveState: "active", SubState: "running", UnitFileState: "enabled"}
	inactive := executor.UnitState{LoadState: "loaded", ActiveState: "inactive", SubState: "dead", UnitFileState: "enabled"}
	notFound := executor.UnitState{LoadState: "not-found", ActiveState: "inactive"}
	stale := active
	stale.NeedDaemonReload = true
	tests := []struct {
		name      string
		attrs     string
		file      *executor.FileState
		dir       bool
		unit      executor.UnitState
		canReload string
		changes   []string
		actions   []string
		note      string
		err       string
	}{
		{"in sync", "", same(), true, active, "yes", nil, nil, "", ""},
		{"in sync, inactive", "", same(), true, inactive, "no", nil, nil, "", ""},
		{"new, no directory", "", nil, false, active, "no",
			[]string{"directory:->/etc/systemd/system/nginx.service.d", "exists:absent->present", "content:->"},
			[]string{"daemon-reload", "restart nginx.service"}, "", ""},
		{"changed, active", "", old(), true, active, "no", []string{"content:->"}, []string{"daemon-reload", "restart nginx.service"}, "", ""},
		{"changed, inactive: not started", "", old(), true, inactive, "no", []string{"content:->"}, []string{"daemon-reload"}, "nginx.service is inactive: it is not started", ""},
		{"changed, on_change none", "on_change = \"none\"\n", old(), true, active, "no", []string{"content:->"}, []string{"daemon-reload"}, "", ""},
		{"changed, reload", "on_change = \"reload\"\n", old(), true, active, "yes", []string{"content:->"}, []string{"daemon-reload", "reload nginx.service"}, "", ""},
		{"changed, reload-or-restart, can reload", "on_change = \"reload-or-restart\"\n", old(), true, active, "yes", []string{"content:->"}, []string{"daemon-reload", "reload nginx.service"}, "", ""},
		{"changed, reload-or-restart, cannot", "on_change = \"reload-or-restart\"\n", old(), true, active, "no", []string{"content:->"}, []string{"daemon-reload", "restart nginx.service"}, "", ""},
		{"reload impossible, even in sync", "on_change = \"reload\"\n", same(), true, active, "no", nil, nil, "", "cannot reload"},
		{"stale in systemd", "", same(), true, stale, "no", nil, []string{"daemon-reload", "restart nginx.service"}, "", ""},
		{"unit not installed yet", "", nil, false, notFound, "no",
			[]string{"directory:->/etc/systemd/system/nginx.service.d", "exists:absent->present", "content:->"},
			[]string{"daemon-reload"}, "systemd does not know nginx.service", ""},
		{"mode drift", "", func() *executor.FileState { f := same(); f.Mode = 0o600; return f }(), true, active, "no",
			[]string{"mode:0600->0644"}, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustDecode(t, "systemd_dropin", "nginx", tt.attrs+body)
			d, err := m.Check(context.Background(), &Target{State: dropInState(tt.file, tt.dir, tt.unit, tt.canReload)})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var changes []string
			for _, c := range d.Changes {
				changes = append(changes, c.Attr+":"+c.Old+"->"+c.New)
			}
			if !reflect.DeepEqual(changes, tt.changes) {
				t.Errorf("changes %q, want %q", changes, tt.changes)
			}
			if !reflect.DeepEqual(d.Actions(), tt.actions) {
				t.Errorf("actions %q, want %q", d.Actions(), tt.actions)
			}
			if tt.note != "" && !strings.Contains(strings.Join(d.Notes, "\n"), tt.note) {
				t.Errorf("notes %q, want %q", d.Notes, tt.note)
			}
			if c := d.Change("content"); c != nil && string(c.NewContent) != want {
				t.Errorf("new content %q", c.NewContent)
			}
		})
	}
}

// TestSystemdDropinAbsent: removal shows the old content, reloads systemd
// and restarts the active unit; apply removes the file, keeping it first.
func TestSystemdDropinAbsent(t *testing.T) {
	m := mustDecode(t, "systemd_dropin", "nginx", "state = \"absent\"\n")
	active := executor.UnitState{LoadState: "loaded", ActiveState: "active"}
	file := &executor.FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Content: []byte("[Service]\nRestart=always\n")}
	st := dropInState(file, true, active, "no")
	d, err := m.Check(context.Background(), &Target{State: st})
	if err != nil {
		t.Fatal(err)
	}
	if c := d.Change("content"); c == nil || string(c.OldContent) != "[Service]\nRestart=always\n" || c.NewContent != nil {
		t.Errorf("content change %+v", c)
	}
	if got := d.Actions(); !reflect.DeepEqual(got, []string{"daemon-reload", "restart nginx.service"}) {
		t.Errorf("actions %q", got)
	}
	conn := &fakeConn{}
	if err := m.Apply(context.Background(), &Target{Conn: conn, State: st, Become: true}, d); err != nil {
		t.Fatal(err)
	}
	if len(conn.scripts) != 1 || !strings.HasSuffix(conn.scripts[0], "\ntend_keep "+dropInPath+" || { echo 'tend: what "+dropInPath+" was could not be kept for a revert' >&2; exit 1; }\nrm -f -- "+dropInPath) {
		t.Errorf("scripts %q", tails(conn.scripts))
	}
	// Gone already: nothing to do.
	d, err = m.Check(context.Background(), &Target{State: dropInState(nil, true, active, "no")})
	if err != nil || !d.Empty() {
		t.Errorf("absent and gone: %+v %v", d, err)
	}
}

// TestSystemdDropinApply: a missing directory is made (kept for a revert,
// 0755 root), then the file is written 0644 root:root with the verify.
func TestSystemdDropinApply(t *testing.T) {
	m := mustDecode(t, "systemd_dropin", "nginx", "service { Restart = \"always\" }\nvalidate = \"test -s %s\"\n")
	st := dropInState(nil, false, executor.UnitState{LoadState: "loaded", ActiveState: "active"}, "no")
	d, err := m.Check(context.Background(), &Target{State: st})
	if err != nil {
		t.Fatal(err)
	}
	conn := &fakeConn{}
	if err := m.Apply(context.Background(), &Target{Conn: conn, State: st, Become: true}, d); err != nil {
		t.Fatal(err)
	}
	if len(conn.scripts) != 1 || !strings.Contains(conn.scripts[0], "tend_trust /etc/systemd/system '' /etc/systemd/system/nginx.service.d ") ||
		!strings.HasSuffix(conn.scripts[0], "\ntend_keep_dirs /etc/systemd/system/nginx.service.d || { echo 'tend: what the directory was could not be kept for a revert' >&2; exit 1; }\nmkdir -m 0755 -- /etc/systemd/system/nginx.service.d && chown root:root -- /etc/systemd/system/nginx.service.d") {
		t.Errorf("directory script %q", tails(conn.scripts))
	}
	if len(conn.writes) != 1 {
		t.Fatalf("writes %+v", conn.writes)
	}
	w := conn.writes[0]
	wantValidate := "(" + dropInVerify("nginx.service", "50-tend.conf") + ") && (test -s %s)"
	if w.Path != dropInPath || w.Attrs.Mode != 0o644 || w.Attrs.Owner != "root" || w.Attrs.Group != "root" || w.Attrs.Validate != wantValidate {
		t.Errorf("write %+v", w)
	}
}

// TestDropInVerify runs the drop-in verify with this machine's
// systemd-analyze: a good drop-in passes, a misspelt key or a value systemd
// cannot parse fails naming the line, and a service systemd does not know
// is verified as a stub.
func TestDropInVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze")
	}
	if _, err := os.Stat("/lib/systemd/system/dbus.service"); err != nil {
		t.Skip("no dbus.service to attach drop-ins to")
	}
	tests := []struct {
		unit, content, fail string
	}{
		{"dbus.service", "[Service]\nRestart=always\n", ""},
		{"dbus.service", "[Service]\nRestrt=always\n", "dbus.service.d/10-x.conf:2: Unknown key 'Restrt'"},
		{"tend-no-such.service", "[Service]\nExecStart=\nExecStart=/bin/true\n", ""},
		{"tend-no-such.service", "[Service]\nRestart=alwayz\n", "Failed to parse service restart specifier"},
		{"tend-no-such.socket", "[Socket]\nBogus=1\n", ""},
	}
	for _, tt := range tests {
		f := filepath.Join(t.TempDir(), "staged")
		if err := os.WriteFile(f, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		script := strings.ReplaceAll(dropInVerify(tt.unit, "10-x.conf"), "%s", `"$1"`)
		out, err := exec.Command("/bin/sh", "-c", script, "verify", f).CombinedOutput()
		switch {
		case tt.fail == "" && err != nil:
			t.Errorf("%s %q: rejected: %v %s", tt.unit, tt.content, err, out)
		case tt.fail != "" && (err == nil || !strings.Contains(string(out), tt.fail)):
			t.Errorf("%s %q: %v %s, want a failure naming %q", tt.unit, tt.content, err, out, tt.fail)
		}
	}
}

// TestCanReloadParse: the answer is understood or an error.
func TestCanReloadParse(t *testing.T) {
	f := canReloadFact{"nginx.service"}
	for _, tt := range []struct {
		out  string
		rc   int
		want any
		err  bool
	}{
		{"yes\n", 0, "yes", false},
		{"no\n", 0, "no", false},
		{"nosystemd\n", 0, "", false},
		{"", 1, nil, true},
		{"maybe\n", 0, nil, true},
		{"yes", 0, nil, true},
		{"yes\n", 1, nil, true},
	} {
		got, err := f.Parse([]byte(tt.out), tt.rc)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Parse(%q, %d) = %v, %v", tt.out, tt.rc, got, err)
		}
	}
}

// tails returns the ends of scripts, for messages.
func tails(scripts []string) []string {
	out := make([]string, len(scripts))
	for i, s := range scripts {
		out[i] = tail([]byte(s), 300)
	}
	return out
}
