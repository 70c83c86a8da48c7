package modules

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

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
		{"crash loop: restarted (a start would join its queued start job)", "state = \"started\"\n", same(), looping,
			[]string{"restart demo.service"}, []string{"state:activating (auto-restart: crash loop)->started"}},
		{"crash loop, changed: one restart, with the new unit", "state = \"started\"\n", changed(), looping,
			[]string{"daemon-reload", "restart demo.service"}, []string{"content:->", "state:activating (auto-restart: crash loop)->started"}},
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
			if !reflect.DeepEqual(actions(d), tc.actions) {
				t.Errorf("actions %q, want %q", actions(d), tc.actions)
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
	if w.Path != "/etc/systemd/system/demo.service" || w.Data != unitText || w.Attrs != (executor.FileAttrs{Mode: 0o644, Owner: "root", Group: "root", Become: true, Validate: unitVerify("demo.service")}) {
		t.Errorf("write %+v", w)
	}
	// The unit actions are effects, run by the engine, not by Apply; a
	// start is settle-checked for the default time.
	if len(conn.scripts) != 0 {
		t.Errorf("Apply ran %q; effects are the engine's", conn.scripts)
	}
	want := []executor.Effect{{Kind: executor.EffectDaemonReload}, {Kind: executor.EffectEnable, Unit: "demo.service", Settle: DefaultSettle}, {Kind: executor.EffectStart, Unit: "demo.service", Settle: DefaultSettle}}
	if !reflect.DeepEqual(d.Effects, want) {
		t.Errorf("effects %+v, want %+v", d.Effects, want)
	}

	// In sync: nothing is run.
	active := executor.UnitState{LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled"}
	tgt = &Target{State: unitState(&executor.FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Content: []byte(unitText)}, active)}
	d, err = m.Check(context.Background(), tgt)
	if err != nil || !d.Empty() {
		t.Fatalf("in sync: %+v, %v", d, err)
	}

	// Mode only: chmod, where only root can change entries, no write, no
	// reload.
	conn = &fakeConn{}
	tgt = &Target{Conn: conn, State: unitState(&executor.FileState{Exists: true, Type: "file", Mode: 0o600, Owner: "root", Group: "root", Content: []byte(unitText)}, active)}
	d, _ = m.Check(context.Background(), tgt)
	if err := m.Apply(context.Background(), tgt, d); err != nil {
		t.Fatal(err)
	}
	if len(conn.writes) != 0 || len(conn.scripts) != 1 || !strings.HasSuffix(conn.scripts[0], "\nchmod -- 0644 /etc/systemd/system/demo.service") ||
		!strings.Contains(conn.scripts[0], "tend_trust /etc/systemd/system ''") || len(d.Effects) != 0 {
		t.Errorf("mode only: writes %+v scripts %q effects %v", conn.writes, conn.scripts, d.Effects)
	}
}

// TestSystemdUnitSettle: settle = "0s" turns the check off, another value
// is carried on the effects that (re)start the unit.
func TestSystemdUnitSettle(t *testing.T) {
	active := executor.UnitState{LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled"}
	changed := &executor.FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Content: []byte("old")}
	for src, want := range map[string]time.Duration{"": DefaultSettle, "settle = \"0s\"\n": 0, "settle = \"7s\"\n": 7 * time.Second} {
		m := mustDecode(t, "systemd_unit", "demo", "content = "+quoteHCL(unitText)+"\n"+src)
		d, err := m.Check(context.Background(), &Target{State: unitState(changed, active)})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Effects) != 2 || d.Effects[1].Kind != executor.EffectRestart || d.Effects[1].Settle != want || d.Effects[1].Settles() != (want > 0) {
			t.Errorf("%q: effects %+v, want a restart settling %s", src, d.Effects, want)
		}
	}
	for _, bad := range []string{"settle = \"soon\"\n", "settle = \"-1s\"\n", "settle = \"11m\"\n"} {
		if _, diags := decodeModule(t, "systemd_unit", "demo", "content = "+quoteHCL(unitText)+"\n"+bad, nil); !diags.HasErrors() {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSystemdUnitDropIns: a drop-in that overrides a setting the task
// declares fails the check (the hardening would be silently defeated), and
// is accepted with a note under drop_ins = "allow"; a drop-in that only
// adds settings is fine.
func TestSystemdUnitDropIns(t *testing.T) {
	same := &executor.FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Content: []byte(unitText)}
	withDropIns := func(dropins ...executor.DropIn) executor.UnitState {
		return executor.UnitState{LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled", DropIns: dropins, DropInsRead: true}
	}
	override := executor.DropIn{Path: "/etc/systemd/system/demo.service.d/override.conf", Content: []byte("[Service]\nExecStart=\nExecStart=/bin/false\nRestart=no\n")}
	adds := executor.DropIn{Path: "/etc/systemd/system/demo.service.d/10-limits.conf", Content: []byte("[Service]\nLimitNOFILE=4096\n")}
	otherSection := executor.DropIn{Path: "/run/systemd/system/service.d/x.conf", Content: []byte("[Unit]\nExecStart=/bin/false\n")}

	m := mustDecode(t, "systemd_unit", "demo", "content = "+quoteHCL(unitText))
	_, err := m.Check(context.Background(), &Target{State: unitState(same, withDropIns(adds, override))})
	if err == nil || !strings.Contains(err.Error(), override.Path) || !strings.Contains(err.Error(), "[Service] ExecStart=/bin/false") || strings.Contains(err.Error(), adds.Path) {
		t.Fatalf("override: %v", err)
	}
	if d, err := m.Check(context.Background(), &Target{State: unitState(same, withDropIns(adds, otherSection))}); err != nil || !d.Empty() {
		t.Fatalf("additions only: %+v, %v", d, err)
	}
	allow := mustDecode(t, "systemd_unit", "demo", "content = "+quoteHCL(unitText)+"\ndrop_ins = \"allow\"\n")
	d, err := allow.Check(context.Background(), &Target{State: unitState(same, withDropIns(override))})
	if err != nil || !d.Empty() || len(d.Notes) != 1 || !strings.Contains(d.Notes[0], override.Path) {
		t.Fatalf("allowed: %+v, %v", d, err)
	}
	if _, diags := decodeModule(t, "systemd_unit", "demo", "content = "+quoteHCL(unitText)+"\ndrop_ins = \"ignore\"\n", nil); !diags.HasErrors() {
		t.Error("drop_ins = ignore accepted")
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
	if !reflect.DeepEqual(actions(d), []string{"restart demo.service"}) || len(d.Changes) != 0 || d.Effects[0].Settle != DefaultSettle {
		t.Fatalf("restarted: %+v", d)
	}
	if err := m.Apply(context.Background(), tgt, d); err != nil {
		t.Fatal(err)
	}
	if len(conn.scripts) != 0 {
		t.Errorf("Apply ran %q; the restart is the engine's", conn.scripts)
	}

	m = mustDecode(t, "service", "demo", "state = \"stopped\"\nenabled = false\n")
	d, err = m.Check(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(actions(d), []string{"disable demo.service", "stop demo.service"}) {
		t.Errorf("stop+disable: %q", actions(d))
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
	}{
		{"asked for", "state = \"restarted\"\ndaemon_reload = true\n", active, []string{"daemon-reload", "restart demo.service"}},
		{"systemd says stale", "state = \"reloaded\"\n", stale, []string{"daemon-reload", "reload demo.service"}},
		{"stale, running as declared", "state = \"started\"\n", stale, []string{"daemon-reload"}},
		{"not asked, not stale", "state = \"restarted\"\n", active, []string{"restart demo.service"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			unit := tc.unit
			st := &executor.State{Units: map[string]*executor.UnitState{"demo.service": &unit}}
			m := mustDecode(t, "service", "demo", tc.src)
			d, err := m.Check(context.Background(), &Target{State: st})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(actions(d), tc.actions) {
				t.Fatalf("actions %q, want %q", actions(d), tc.actions)
			}
		})
	}
}
