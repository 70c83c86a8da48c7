package modules

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/tend-sh/tend/executor"
)

// This file holds the unit logic shared by systemd_unit, gunicorn_service
// and service: unit names, the decision which systemctl actions a state
// calls for, and running them.

// unitTypes are the unit suffixes systemd knows.
var unitTypes = []string{"service", "socket", "device", "mount", "automount", "swap", "target", "path", "timer", "slice", "scope"}

var unitNameRe = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+$`)

// unitName validates a unit name and appends ".service" when it has no unit
// type suffix.
func unitName(s string) (string, error) {
	if s == "" || len(s) > 250 || !unitNameRe.MatchString(s) || strings.HasPrefix(s, "-") {
		return "", fmt.Errorf("%q is not a valid systemd unit name: use letters, digits and \":_.\\@-\", such as \"staffrota.service\"", s)
	}
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		suffix := s[i+1:]
		for _, t := range unitTypes {
			if suffix == t {
				if i == 0 {
					return "", fmt.Errorf("%q has no name before the suffix", s)
				}
				return s, nil
			}
		}
	}
	return s + ".service", nil
}

// installKeys are the [Install] settings that make a unit enable-able.
var installKeys = map[string]bool{"WantedBy": true, "RequiredBy": true, "UpheldBy": true, "Alias": true, "Also": true}

// installable reports whether unit file content has an [Install] section
// with a setting that `systemctl enable` acts on.
func installable(content []byte) bool {
	section := ""
	for _, line := range strings.Split(string(content), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		if section != "Install" {
			continue
		}
		if k, _, ok := strings.Cut(line, "="); ok && installKeys[strings.TrimSpace(k)] {
			return true
		}
	}
	return false
}

// unitSpec is the desired state of a unit file and of the unit.
type unitSpec struct {
	Name string
	File fileSpec
	// Enabled is nil when enablement is not managed.
	Enabled *bool
	// State is "", "started" or "stopped".
	State           string
	RestartOnChange bool
}

// unitFile returns the file spec of a unit file: mode 0644, root:root.
func unitFile(path string, content []byte) fileSpec {
	return fileSpec{
		Path:        path,
		Content:     content,
		ownership:   ownership{Mode: 0o644, HasMode: true, Owner: "root", Group: "root"},
		DefaultMode: 0o644,
		QuietCreate: true,
	}
}

// probes reads the unit file and the unit.
func (u *unitSpec) probes() []executor.Probe {
	return []executor.Probe{
		{Kind: executor.ProbeFile, Path: u.File.Path, Become: true},
		{Kind: executor.ProbeUnit, Unit: u.Name, Become: true},
	}
}

// check decides what to change: the file first, then, in order,
// daemon-reload (file content changed, or systemd says the loaded unit is
// stale), enable/disable, reset-failed + start, stop, and restart (content
// changed and the unit is running and not to be stopped).
func (u *unitSpec) check(t *Target) (*Diff, error) {
	unit, err := gatheredUnit(t.State, u.Name)
	if err != nil {
		return nil, err
	}
	d := &Diff{}
	changed, err := u.File.check(t.State.File(u.File.Path), d)
	if err != nil {
		return nil, err
	}
	stale := changed || unit.NeedDaemonReload
	if stale {
		d.Actions = append(d.Actions, "daemon-reload")
	}
	unitActions(u.Name, unit, u.Enabled, u.State, d)
	// The running service must run the declared unit: restart it when the
	// file changed now, and also when systemd still has an older version
	// loaded (NeedDaemonReload), e.g. after a run that wrote the file and
	// then died before its restart.
	if stale && u.RestartOnChange && unit.Active() && u.State != "stopped" {
		d.Actions = append(d.Actions, "restart "+u.Name)
	}
	return d, nil
}

// gatheredUnit returns the gathered state of a unit, with a clear error when
// the host does not run systemd.
func gatheredUnit(st *executor.State, name string) (*executor.UnitState, error) {
	if u := st.Unit(name); u != nil {
		return u, nil
	}
	if st != nil && !st.Facts.Systemd {
		return nil, fmt.Errorf("%s: systemd is not running on this host (PID 1 is not systemd), so tend cannot manage units here", name)
	}
	return nil, fmt.Errorf("%s: the unit's state was not gathered", name)
}

// unitActions appends the enable/disable and start/stop changes and actions
// for a unit in state unit. state is "", "started" or "stopped".
func unitActions(name string, unit *executor.UnitState, enabled *bool, state string, d *Diff) {
	if enabled != nil && *enabled != unit.Enabled() {
		old := unit.UnitFileState
		if old == "" {
			old = "disabled"
		}
		if *enabled {
			d.Add(Change{Attr: "enabled", Old: old, New: "enabled"})
			d.Actions = append(d.Actions, "enable "+name)
		} else {
			d.Add(Change{Attr: "enabled", Old: old, New: "disabled"})
			d.Actions = append(d.Actions, "disable "+name)
		}
	}
	switch state {
	case "started":
		if !unit.Active() {
			d.Add(Change{Attr: "state", Old: activeWord(unit), New: "started"})
			if unit.ActiveState == "failed" {
				// A unit that failed, for example on its start limit, must be
				// reset or `systemctl start` may refuse it.
				d.Actions = append(d.Actions, "reset-failed "+name)
			}
			d.Actions = append(d.Actions, "start "+name)
		}
	case "stopped":
		if unit.Active() || unit.CrashLooping() {
			d.Add(Change{Attr: "state", Old: activeWord(unit), New: "stopped"})
			d.Actions = append(d.Actions, "stop "+name)
		}
	}
}

func activeWord(u *executor.UnitState) string {
	if u.LoadState == "not-found" {
		return "not-found"
	}
	if u.ActiveState == "" {
		return "inactive"
	}
	if u.CrashLooping() {
		return u.ActiveState + " (auto-restart: crash loop)"
	}
	return u.ActiveState
}

// apply writes the unit file changes of d, then runs all of d's systemctl
// actions in one command.
func (u *unitSpec) apply(ctx context.Context, t *Target, d *Diff) error {
	if d.Change("content") != nil || d.Change("mode") != nil || d.Change("owner") != nil || d.Change("group") != nil {
		if err := u.File.apply(ctx, t, t.State.File(u.File.Path), d); err != nil {
			return err
		}
	}
	return runUnitActions(ctx, t, u.Name, d.Actions)
}

// unitVerbs are the actions runUnitActions understands ("VERB UNIT").
var unitVerbs = map[string]bool{"enable": true, "disable": true, "start": true, "stop": true, "restart": true, "reload": true, "reset-failed": true}

// systemctlScript turns diff actions into one shell command line.
func systemctlScript(actions []string) (string, error) {
	var cmds []string
	for _, a := range actions {
		if a == "daemon-reload" {
			cmds = append(cmds, "systemctl daemon-reload")
			continue
		}
		verb, unit, ok := strings.Cut(a, " ")
		if !ok || !unitVerbs[verb] {
			return "", fmt.Errorf("unknown unit action %q", a)
		}
		if _, err := unitName(unit); err != nil {
			return "", fmt.Errorf("unit action %q: %w", a, err)
		}
		cmds = append(cmds, "systemctl "+verb+" "+executor.ShellQuote(unit))
	}
	return strings.Join(cmds, " && "), nil
}

// runUnitActions runs the actions as one command. When it fails, the unit's
// status and recent journal are fetched so the error says why.
func runUnitActions(ctx context.Context, t *Target, name string, actions []string) error {
	if len(actions) == 0 {
		return nil
	}
	script, err := systemctlScript(actions)
	if err != nil {
		return err
	}
	res, err := t.Conn.Run(ctx, executor.Command{Script: script, Become: t.Become})
	if err != nil {
		return fmt.Errorf("%s: %w", strings.Join(actions, ", "), err)
	}
	if res.ExitCode == 0 {
		return nil
	}
	msg := fmt.Sprintf("%s: %s failed with exit status %d%s", name, strings.Join(actions, ", "), res.ExitCode, outputTail(res))
	q := executor.ShellQuote(name)
	diag, derr := t.Conn.Run(ctx, executor.Command{
		Script: "systemctl status --no-pager --full --lines=0 -- " + q + " 2>&1; journalctl -u " + q + " -n 20 --no-pager 2>&1",
		Become: t.Become,
	})
	if derr == nil {
		if s := tail(diag.Stdout, 4000); s != "" {
			msg += "\nsystemctl status / journal of " + name + ":\n" + indent(s)
		}
	}
	return fmt.Errorf("%s", msg)
}
