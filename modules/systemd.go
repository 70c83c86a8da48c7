package modules

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"

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
		if t := misspeltUnitType(suffix); t != "" {
			return "", fmt.Errorf("%q ends in %q, which looks like a misspelt %q: write %q, or %q if the unit is really called that", s, "."+suffix, "."+t, s[:i]+"."+t, s+".service")
		}
	}
	return s + ".service", nil
}

// misspeltUnitType returns the unit type suffix looks like a misspelling
// of ("servcie", "Service", "sock"), or "". A name whose last part merely
// resembles a type can be written with its type in full
// ("redis.server.service").
func misspeltUnitType(suffix string) string {
	if len(suffix) < 3 {
		return ""
	}
	for _, t := range unitTypes {
		allowed := 1
		if len(t) > 5 {
			allowed = 2
		}
		if levenshtein.Distance(strings.ToLower(suffix), t, nil) <= allowed {
			return t
		}
	}
	return ""
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

// DefaultSettle is how long a unit tend started, restarted or reloaded must
// then stay up (not failed, not in a crash loop, not restarted by systemd)
// before the task counts as done. A task's settle attribute overrides it.
const DefaultSettle = 2 * time.Second

// unitSpec is the desired state of a unit file and of the unit.
type unitSpec struct {
	Name string
	File fileSpec
	// Enabled is nil when enablement is not managed.
	Enabled *bool
	// State is "", "started" or "stopped".
	State           string
	RestartOnChange bool
	// Settle is how long the unit must stay up after tend (re)starts it.
	Settle time.Duration
	// AllowDropIns accepts drop-ins that override settings of the unit
	// file (drop_ins = "allow"); by default they fail the task.
	AllowDropIns bool
}

// unitFile returns the file spec of a unit file: mode 0644, root:root.
func unitFile(path, name string, content []byte) fileSpec {
	return fileSpec{
		Path:        path,
		Content:     content,
		ownership:   ownership{Mode: 0o644, HasMode: true, Owner: "root", Group: "root"},
		DefaultMode: 0o644,
		QuietCreate: true,
		Validate:    unitVerify(name),
	}
}

// unitVerify returns the validate command of the unit file of unit name:
// the staged file, copied under the unit's name into a private directory,
// must pass systemd-analyze verify (an invalid setting) without systemd
// ignoring any of its lines (a misspelt key such as Restrt=, a value it
// cannot parse): systemd would run the unit without them. A program that
// does not exist yet is left to the preflight and to the start (a later
// task may install it). Where systemd-analyze is missing, nothing is
// checked.
func unitVerify(name string) string {
	q := executor.ShellQuote(name)
	return strings.Join([]string{
		`command -v systemd-analyze >/dev/null 2>&1 || exit 0`,
		`d=$(mktemp -d) || exit 1`,
		`cp -- %s "$d/"` + q + ` || { rm -rf -- "$d"; exit 1; }`,
		`out=$(systemd-analyze verify --man=no -- "$d/"` + q + ` 2>&1); rc=$?`,
		verifyVerdict,
	}, "; ")
}

// verifyVerdict ends a verify script: it removes the private directory $d
// and fails when systemd-analyze's output $out names a line of a file under
// $d (the staged file), or when it exited non-zero ($rc) for another reason
// than a program that does not exist yet.
var verifyVerdict = strings.Join([]string{
	`rm -rf -- "$d"`,
	`bad=$(printf '%''s\n' "$out" | grep -F -- "$d/" | grep -v -e 'is not executable' -e '^$')`,
	`if [ -n "$bad" ] || { [ "$rc" -ne 0 ] && [ -z "$(printf '%''s\n' "$out" | grep -F 'is not executable')" ]; }; then printf '%''s\n' "systemd-analyze verify: $out" | sed "s|$d/||g"; exit 1; fi`,
}, "; ")

// probes reads the unit file and the unit, with its drop-ins.
func (u *unitSpec) probes() []executor.Probe {
	return []executor.Probe{
		{Kind: executor.ProbeFile, Path: u.File.Path, Become: true},
		{Kind: executor.ProbeUnit, Unit: u.Name, Become: true, DropIns: true},
	}
}

// check decides what to change: the file first, then, in order,
// daemon-reload (file content changed, or systemd says the loaded unit is
// stale), enable/disable, reset-failed + start, stop, and restart (content
// changed and the unit is running and not to be stopped). A drop-in that
// overrides a setting of the unit file fails the check (unless allowed):
// the declared unit is not what runs.
func (u *unitSpec) check(t *Target) (*Diff, error) {
	unit, err := gatheredUnit(t.State, u.Name)
	if err != nil {
		return nil, err
	}
	d := &Diff{}
	if err := u.checkDropIns(unit, d); err != nil {
		return nil, err
	}
	changed, err := u.File.check(t.State.File(u.File.Path), d)
	if err != nil {
		return nil, err
	}
	stale := changed || unit.NeedDaemonReload
	if stale {
		d.Effect(executor.EffectDaemonReload, "")
	}
	unitActions(u.Name, unit, u.Enabled, u.State, d)
	// The running service must run the declared unit: restart it when the
	// file changed now, and also when systemd still has an older version
	// loaded (NeedDaemonReload), e.g. after a run that wrote the file and
	// then died before its restart.
	if stale && u.RestartOnChange && unit.Active() && u.State != "stopped" {
		d.Effect(executor.EffectRestart, u.Name)
	}
	u.settle(d)
	return d, nil
}

// settle sets the unit's settle time on the effects that (re)start it.
func (u *unitSpec) settle(d *Diff) {
	for i := range d.Effects {
		if d.Effects[i].Unit == u.Name {
			d.Effects[i].Settle = u.Settle
		}
	}
}

// checkDropIns compares the unit's drop-ins with the settings of the
// declared unit file: a drop-in that sets a key the file sets, in the same
// section, overrides it.
func (u *unitSpec) checkDropIns(unit *executor.UnitState, d *Diff) error {
	if !unit.DropInsRead || len(unit.DropIns) == 0 {
		return nil
	}
	declared := unitKeys(u.File.Content)
	var overrides []string
	for _, di := range unit.DropIns {
		var keys []string
		for _, kv := range unitKeyList(di.Content) {
			if declared[kv.section+"."+kv.key] {
				keys = append(keys, fmt.Sprintf("[%s] %s=%s", kv.section, kv.key, kv.value))
			}
		}
		if len(keys) > 0 {
			overrides = append(overrides, fmt.Sprintf("%s sets %s", di.Path, strings.Join(keys, ", ")))
		}
	}
	if len(overrides) == 0 {
		return nil
	}
	if u.AllowDropIns {
		for _, o := range overrides {
			d.Notes = append(d.Notes, "drop-in overrides the declared unit (allowed by drop_ins = \"allow\"): "+o)
		}
		return nil
	}
	return fmt.Errorf("%s: drop-ins override settings this task declares, so the unit that runs is not the declared one:\n  %s\nRemove or fix the drop-in(s), move the settings into this task, or set drop_ins = \"allow\" to accept them", u.Name, strings.Join(overrides, "\n  "))
}

// unitKV is one Key=value line of a unit file, in its section.
type unitKV struct{ section, key, value string }

// unitKeyList lists the settings of unit file content in order.
func unitKeyList(content []byte) []unitKV {
	var out []unitKV
	section := ""
	var cont string
	for _, line := range strings.Split(string(content), "\n") {
		line = strings.TrimSpace(line)
		if cont != "" {
			line = cont + line
			cont = ""
		}
		if strings.HasSuffix(line, "\\") {
			cont = strings.TrimSuffix(line, "\\") + " "
			continue
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out = append(out, unitKV{section, strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return out
}

// unitKeys is the set of "Section.Key" a unit file sets.
func unitKeys(content []byte) map[string]bool {
	keys := map[string]bool{}
	for _, kv := range unitKeyList(content) {
		keys[kv.section+"."+kv.key] = true
	}
	return keys
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

// unitActions appends the enable/disable and start/stop changes and
// effects for a unit in state unit. state is "", "started" or "stopped".
func unitActions(name string, unit *executor.UnitState, enabled *bool, state string, d *Diff) {
	if enabled != nil && *enabled != unit.Enabled() {
		old := unit.UnitFileState
		if old == "" {
			old = "disabled"
		}
		if *enabled {
			d.Add(Change{Attr: "enabled", Old: old, New: "enabled"})
			d.Effect(executor.EffectEnable, name)
		} else {
			d.Add(Change{Attr: "enabled", Old: old, New: "disabled"})
			d.Effect(executor.EffectDisable, name)
		}
	}
	switch state {
	case "started":
		if !unit.Active() {
			d.Add(Change{Attr: "state", Old: activeWord(unit), New: "started"})
			if unit.ActiveState == "failed" {
				// A unit that failed, for example on its start limit, must be
				// reset or systemctl start may refuse it.
				d.Effect(executor.EffectResetFailed, name)
			}
			// A unit systemd is starting again (activating, or waiting to
			// restart after a crash) has a start job queued with the
			// configuration it loaded then: a start would join that job and
			// its outcome, a restart replaces it.
			kind := executor.EffectStart
			if unit.ActiveState == "activating" || unit.CrashLooping() {
				kind = executor.EffectRestart
			}
			d.Effect(kind, name)
		}
	case "stopped":
		if unit.Active() || unit.CrashLooping() {
			d.Add(Change{Attr: "state", Old: activeWord(unit), New: "stopped"})
			d.Effect(executor.EffectStop, name)
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

// apply writes the unit file changes of d; the engine runs the effects.
func (u *unitSpec) apply(ctx context.Context, t *Target, d *Diff) error {
	if d.Change("content") != nil || d.Change("mode") != nil || d.Change("owner") != nil || d.Change("group") != nil {
		return u.File.apply(ctx, t, t.State.File(u.File.Path), d)
	}
	return nil
}

// Doc strings of the attributes every unit module takes: a field settle or
// drop_ins without a doc tag gets them (see attrDoc). Their default tags are
// "2s" (DefaultSettle) and "refuse".
const (
	settleDoc  = "How long the unit must stay up (not failed, not in a crash loop) after tend starts, restarts or reloads it, as a duration from \"0s\" (no check) to \"10m\"."
	dropInsDoc = "\"refuse\": a drop-in on the host that overrides a setting the task declares fails the task; \"allow\" lets it."
)

// decodeSettle reads a settle attribute.
func decodeSettle(body hcl.Body, v *string) (time.Duration, hcl.Diagnostics) {
	if v == nil {
		return DefaultSettle, nil
	}
	d, err := time.ParseDuration(*v)
	if err != nil {
		err = fmt.Errorf("%q is not a duration: write it like \"2s\", \"500ms\", or \"0s\" for no check", *v)
	} else if d < 0 || d > 10*time.Minute {
		err = fmt.Errorf("settle must be between 0s (no check) and 10m, not %s", d)
	}
	if err != nil {
		return 0, hcl.Diagnostics{errAt(body, "settle", "Invalid settle", err.Error())}
	}
	return d, nil
}

// allowDropIns reads a drop_ins attribute (its enum tag checked it).
func allowDropIns(v *string) bool {
	return v != nil && *v == "allow"
}
