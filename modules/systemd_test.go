package modules

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor"
)

const unitText = "[Service]\nExecStart=/bin/sleep infinity\n\n[Install]\nWantedBy=multi-user.target\n"

// unitState builds a gathered state for demo.service and its unit file.
func unitState(file *executor.FileState, unit executor.UnitState) *executor.State {
	unit.Name = "demo.service"
	if file == nil {
		file = &executor.FileState{Path: "/etc/systemd/system/demo.service"}
	}
	file.Path = "/etc/systemd/system/demo.service"
	return &executor.State{
		Facts: executor.Facts{CPUs: 2},
		Files: map[string]*executor.FileState{file.Path: file},
		Units: map[string]*executor.UnitState{"demo.service": &unit},
	}
}

// TestSystemdUnitCheck checks which actions each unit state calls for.
func TestSystemdUnitCheck(t *testing.T) {
	same := func() *executor.FileState {
		return &executor.FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Content: []byte(unitText)}
	}
	changed := func() *executor.FileState {
		f := same()
		f.Content = []byte("[Service]\nExecStart=/bin/false\n")
		return f
	}
	active := executor.UnitState{LoadState: "loaded", ActiveState: "active", SubState: "running", UnitFileState: "enabled"}
	inactive := executor.UnitState{LoadState: "loaded", ActiveState: "inactive", SubState: "dead", UnitFileState: "disabled"}
	notFound := executor.UnitState{LoadState: "not-found", ActiveState: "inactive"}
	failed := executor.UnitState{LoadState: "loaded", ActiveState: "failed", SubState: "failed", UnitFileState: "enabled"}
	stale := active
	stale.NeedDaemonReload = true
	looping := executor.UnitState{LoadState: "loaded", ActiveState: "activating", SubState: "auto-restart", UnitFileState: "enabled", NRestarts: 7}

	tests := []struct {
		name    string
		attrs   string
		file    *executor.FileState
		unit    executor.UnitState
		actions []string
		changes []string // "attr:old->new"
	}{
		{"in sync", "enabled = true\nstate = \"started\"\n", same(), active, nil, nil},
		{"in sync unmanaged state", "", same(), inactive, nil, nil},
		{"new unit", "enabled = true\nstate = \"started\"\n", nil, notFound,
			[]string{"daemon-reload", "enable demo.service", "start demo.service"},
			[]string{"exists:absent->present", "content:->", "enabled:disabled->enabled", "state:not-found->started"}},
		{"changed and running", "state = \"started\"\n", changed(), active,
			[]string{"daemon-reload", "restart demo.service"}, []string{"content:->"}},
		{"changed and running, unmanaged state", "", changed(), active,
			[]string{"daemon-reload", "restart demo.service"}, []string{"content:->"}},
		{"changed, no restart on change", "restart_on_change = false\n", changed(), active,
			[]string{"daemon-reload"}, []string{"content:->"}},
		{"changed and stopped, unmanaged state", "", changed(), inactive,
			[]string{"daemon-reload"}, []string{"content:->"}},
		{"changed and stopped, to start", "state = \"started\"\n", changed(), inactive,
			[]string{"daemon-reload", "start demo.service"}, []string{"content:->", "state:inactive->started"}},
		{"changed and running, to stop", "state = \"stopped\"\n", changed(), active,
			[]string{"daemon-reload", "stop demo.service"}, []string{"content:->", "state:active->stopped"}},
		{"stale in systemd: reload and restart", "", same(), stale, []string{"daemon-reload", "restart demo.service"}, nil},
		{"stale in systemd, no restart on change", "restart_on_change = false\n", same(), stale, []string{"daemon-reload"}, nil},
		{"failed, to start", "state = \"started\"\n", same(), failed,
			[]string{"reset-failed demo.service", "start demo.service"}, []string{"state:failed->started"}},
		{"crash loop is not started", "state = \"started\"\n", same(), looping,
			[]string{"start demo.service"}, []string{"state:activating (auto-restart: crash loop)->started"}},
		{"crash loop, changed: start, not restart", "state = \"started\"\n", changed(), looping,
			[]string{"daemon-reload", "start demo.service"}, []string{"content:->", "state:activating (auto-restart: crash loop)->started"}},
		{"crash loop, to stop", "state = \"stopped\"\n", same(), looping,
			[]string{"stop demo.service"}, []string{"state:activating (auto-restart: crash loop)->stopped"}},
		{"disable", "enabled = false\n", same(), active,
			[]string{"disable demo.service"}, []string{"enabled:enabled->disabled"}},
		{"enable", "enabled = true\n", same(), inactive,
			[]string{"enable demo.service"}, []string{"enabled:disabled->enabled"}},
		{"mode only: no reload", "", func() *executor.FileState { f := same(); f.Mode = 0o600; return f }(), active,
			nil, []string{"mode:0600->0644"}},
		{"owner only: no reload", "", func() *executor.FileState { f := same(); f.Owner = "deploy"; return f }(), active,
			nil, []string{"owner:deploy->root"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "content = " + quoteHCL(unitText) + "\n" + tc.attrs
			m := mustDecode(t, "systemd_unit", "demo", src)
			d, err := m.Check(context.Background(), &Target{State: unitState(tc.file, tc.unit)})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Actions, tc.actions) {
				t.Errorf("actions %q, want %q", d.Actions, tc.actions)
			}
			var changes []string
			for _, c := range d.Changes {
				changes = append(changes, c.Attr+":"+c.Old+"->"+c.New)
			}
			if !reflect.DeepEqual(changes, tc.changes) {
				t.Errorf("changes %q, want %q", changes, tc.changes)
			}
			if (tc.actions == nil && tc.changes == nil) != d.Empty() {
				t.Errorf("Empty() = %v", d.Empty())
			}
			if c := d.Change("content"); c != nil && string(c.NewContent) != unitText {
				t.Errorf("new content %q", c.NewContent)
			}
		})
	}
}

func TestSystemdUnitCheckErrors(t *testing.T) {
	m := mustDecode(t, "systemd_unit", "demo", "content = \"x\"\n")
	dir := &executor.FileState{Exists: true, Type: "directory"}
	if _, err := m.Check(context.Background(), &Target{State: unitState(dir, executor.UnitState{})}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("unit path is a directory: %v", err)
	}
	if _, err := m.Check(context.Background(), &Target{State: &executor.State{}}); err == nil || !strings.Contains(err.Error(), "systemd is not running") {
		t.Errorf("no systemd: %v", err)
	}
	if _, err := m.Check(context.Background(), &Target{State: &executor.State{Facts: executor.Facts{Systemd: true}}}); err == nil || !strings.Contains(err.Error(), "not gathered") {
		t.Errorf("no state: %v", err)
	}
}

func TestSystemdUnitStructured(t *testing.T) {
	src := `
unit {
  Description = "Demo 100%"
  After       = ["network.target", "postgresql.service"]
}
service {
  ExecStart     = "/usr/bin/demo --flag"
  Restart       = "always"
  RestartSec    = 10
  NoNewPrivileges = true
  PrivateTmp    = false
  Nothing       = null
  Environment   = ["A=1", "B=2"]
}
install {
  WantedBy = "multi-user.target"
}
enabled = true
`
	m := mustDecode(t, "systemd_unit", "demo.service", src)
	got := string(m.(*SystemdUnit).spec.File.Content)
	want := `# Managed by tend. Local changes will be overwritten.

[Unit]
Description=Demo 100%
After=network.target
After=postgresql.service

[Service]
ExecStart=/usr/bin/demo --flag
Restart=always
RestartSec=10
NoNewPrivileges=yes
PrivateTmp=no
Environment=A=1
Environment=B=2

[Install]
WantedBy=multi-user.target
`
	if got != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
	}
}

// TestSystemdUnitApply checks that Apply does what the diff says, in one
// write and one command, and nothing at all when in sync.
func TestSystemdUnitApply(t *testing.T) {
	m := mustDecode(t, "systemd_unit", "demo", "content = "+quoteHCL(unitText)+"\nenabled = true\nstate = \"started\"\n")
	notFound := executor.UnitState{LoadState: "not-found", ActiveState: "inactive"}
	tgt := &Target{State: unitState(nil, notFound), Become: true}
	d, err := m.Check(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	conn := &fakeConn{}
	tgt.Conn = conn
	if err := m.Apply(context.Background(), tgt, d); err != nil {
		t.Fatal(err)
	}
	if len(conn.writes) != 1 {
		t.Fatalf("writes: %+v", conn.writes)
	}
	w := conn.writes[0]
	if w.Path != "/etc/systemd/system/demo.service" || w.Data != unitText || w.Attrs != (executor.FileAttrs{Mode: 0o644, Owner: "root", Group: "root", Become: true}) {
		t.Errorf("write %+v", w)
	}
	want := []string{"systemctl daemon-reload && systemctl enable demo.service && systemctl start demo.service"}
	if !reflect.DeepEqual(conn.scripts, want) {
		t.Errorf("scripts %q, want %q", conn.scripts, want)
	}

	// In sync: nothing is run.
	active := executor.UnitState{LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled"}
	tgt = &Target{State: unitState(&executor.FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Content: []byte(unitText)}, active)}
	d, err = m.Check(context.Background(), tgt)
	if err != nil || !d.Empty() {
		t.Fatalf("in sync: %+v, %v", d, err)
	}

	// Mode only: chmod, no write, no reload.
	conn = &fakeConn{}
	tgt = &Target{Conn: conn, State: unitState(&executor.FileState{Exists: true, Type: "file", Mode: 0o600, Owner: "root", Group: "root", Content: []byte(unitText)}, active)}
	d, _ = m.Check(context.Background(), tgt)
	if err := m.Apply(context.Background(), tgt, d); err != nil {
		t.Fatal(err)
	}
	if len(conn.writes) != 0 || !reflect.DeepEqual(conn.scripts, []string{"chmod -- 0644 /etc/systemd/system/demo.service"}) {
		t.Errorf("mode only: writes %+v scripts %q", conn.writes, conn.scripts)
	}
}

func TestSystemdUnitApplyFailureShowsJournal(t *testing.T) {
	m := mustDecode(t, "systemd_unit", "demo", "content = "+quoteHCL(unitText)+"\nstate = \"started\"\n")
	inactive := executor.UnitState{LoadState: "loaded", ActiveState: "inactive"}
	conn := &fakeConn{rules: []fakeRule{
		{"systemctl start", executor.Result{ExitCode: 1, Stderr: []byte("Job for demo.service failed because the control process exited with error code.\n")}},
		{"journalctl", executor.Result{Stdout: []byte("demo.service - Demo\n  Active: failed (Result: exit-code)\ndemo[42]: ModuleNotFoundError: No module named 'rotasystems'\n")}},
	}}
	tgt := &Target{Conn: conn, State: unitState(&executor.FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Content: []byte(unitText)}, inactive)}
	d, err := m.Check(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	err = m.Apply(context.Background(), tgt, d)
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"start demo.service", "exit status 1", "control process exited", "ModuleNotFoundError"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
}

func TestServiceModule(t *testing.T) {
	active := executor.UnitState{Name: "demo.service", LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled"}
	st := &executor.State{Units: map[string]*executor.UnitState{"demo.service": &active}}

	m := mustDecode(t, "service", "demo", "state = \"restarted\"\n")
	conn := &fakeConn{}
	tgt := &Target{Conn: conn, State: st}
	d, err := m.Check(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Actions, []string{"restart demo.service"}) || d.Change("state") == nil || d.Change("state").New != "restarted" || d.Change("state").Old != "active" {
		t.Fatalf("restarted: %+v", d)
	}
	if err := m.Apply(context.Background(), tgt, d); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(conn.scripts, []string{"systemctl restart demo.service"}) {
		t.Errorf("scripts %q", conn.scripts)
	}
	// The re-check after apply: restarted once, and it runs.
	if d, err := m.Check(context.Background(), tgt); err != nil || !d.Empty() {
		t.Errorf("re-check after restart: %+v, %v", d, err)
	}

	m = mustDecode(t, "service", "demo", "state = \"stopped\"\nenabled = false\n")
	d, err = m.Check(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Actions, []string{"disable demo.service", "stop demo.service"}) {
		t.Errorf("stop+disable: %q", d.Actions)
	}

	m = mustDecode(t, "service", "demo", "state = \"started\"\nenabled = true\n")
	if d, err := m.Check(context.Background(), tgt); err != nil || !d.Empty() {
		t.Errorf("in sync: %+v, %v", d, err)
	}
}

func TestServiceModuleErrors(t *testing.T) {
	tests := []struct {
		src  string
		unit executor.UnitState
		want string
	}{
		{"enabled = true\n", executor.UnitState{LoadState: "loaded", ActiveState: "inactive", UnitFileState: "static"}, "is static"},
		{"state = \"started\"\n", executor.UnitState{LoadState: "masked", ActiveState: "inactive", UnitFileState: "masked"}, "is masked"},
		{"state = \"started\"\n", executor.UnitState{LoadState: "not-found", ActiveState: "inactive"}, ""},
		{"state = \"stopped\"\n", executor.UnitState{LoadState: "masked", ActiveState: "inactive", UnitFileState: "masked"}, ""},
	}
	for _, tc := range tests {
		unit := tc.unit
		st := &executor.State{Facts: executor.Facts{Systemd: true}, Units: map[string]*executor.UnitState{"demo.service": &unit}}
		_, err := mustDecode(t, "service", "demo", tc.src).Check(context.Background(), &Target{State: st})
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s with %+v: %v, want %q", tc.src, tc.unit, err, tc.want)
		}
	}
}

func TestSystemctlScriptRejectsUnknownActions(t *testing.T) {
	for _, a := range []string{"rm -rf /", "restart", "restart a;b", "frobnicate x.service"} {
		if _, err := systemctlScript([]string{a}); err == nil {
			t.Errorf("action %q accepted", a)
		}
	}
}

func TestInstallable(t *testing.T) {
	tests := []struct {
		content string
		want    bool
	}{
		{unitText, true},
		{"[Service]\nExecStart=/bin/true\n", false},
		{"[Install]\n# WantedBy=x\n", false},
		{"[Install]\nAlias=foo.service\n", true},
		{"[Service]\nWantedBy=x\n", false},
	}
	for _, tc := range tests {
		if got := installable([]byte(tc.content)); got != tc.want {
			t.Errorf("installable(%q) = %v", tc.content, got)
		}
	}
}

// quoteHCL writes s as an HCL string literal.
func quoteHCL(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}

func TestServiceDaemonReload(t *testing.T) {
	active := executor.UnitState{Name: "demo.service", LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled"}
	stale := active
	stale.NeedDaemonReload = true
	tests := []struct {
		name    string
		src     string
		unit    executor.UnitState
		actions []string
		script  string
	}{
		{"asked for", "state = \"restarted\"\ndaemon_reload = true\n", active,
			[]string{"daemon-reload", "restart demo.service"}, "systemctl daemon-reload && systemctl restart demo.service"},
		{"systemd says stale", "state = \"reloaded\"\n", stale,
			[]string{"daemon-reload", "reload demo.service"}, "systemctl daemon-reload && systemctl reload demo.service"},
		{"stale, running as declared", "state = \"started\"\n", stale,
			[]string{"daemon-reload"}, "systemctl daemon-reload"},
		{"not asked, not stale", "state = \"restarted\"\n", active,
			[]string{"restart demo.service"}, "systemctl restart demo.service"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			unit := tc.unit
			st := &executor.State{Units: map[string]*executor.UnitState{"demo.service": &unit}}
			m := mustDecode(t, "service", "demo", tc.src)
			conn := &fakeConn{}
			tgt := &Target{Conn: conn, State: st}
			d, err := m.Check(context.Background(), tgt)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Actions, tc.actions) {
				t.Fatalf("actions %q, want %q", d.Actions, tc.actions)
			}
			if err := m.Apply(context.Background(), tgt, d); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(conn.scripts, []string{tc.script}) {
				t.Errorf("scripts %q", conn.scripts)
			}
			unit.NeedDaemonReload = false // what systemd says after the reload
			if d, err := m.Check(context.Background(), tgt); err != nil || !d.Empty() {
				t.Errorf("re-check: %+v, %v", d, err)
			}
		})
	}
}
