package modules

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "systemd_dropin",
		Summary: "A drop-in file of a systemd unit (also a vendor unit tend does not own); daemon-reload and restart or reload on change",
		New:     func() Module { return &SystemdDropin{} },
		Config:  func() any { return &systemdDropinConfig{} },
		Doc: `Manages one drop-in of a systemd unit: /etc/systemd/system/UNIT.d/DROPIN.conf (dropin defaults to "50-tend"), which overrides or extends the unit's settings without touching its unit file, so it works for units tend does not own (ssh.service, cron.service, a package's nginx.service). The label is the unit (".service" is implied when it has no unit type suffix); unit_name overrides it, so that one play can hold several drop-ins of one unit.

The drop-in is given as content, or as unit, service, socket, timer and install blocks whose attributes become Key=value lines: sections always come in that order, keys in the order written; strings are written as they are, numbers as numbers, bools as yes/no, and a list writes the key once per element, so ExecStart = ["", "/usr/bin/x"] first resets the unit's ExecStart= and then sets the new one. The file is written 0644 root:root, the UNIT.d directory is created (0755 root:root) when missing, and the new file is checked with systemd-analyze verify against the unit and its other drop-ins before it replaces the old one: a misspelt key or a value systemd cannot parse fails the task and leaves the old file.

When the drop-in changes (or is removed), tend runs daemon-reload and then acts on the unit as on_change says, only if the unit is active: an inactive unit is not started (the plan says so), and a second run with nothing changed reloads and restarts nothing. on_change = "reload" needs a unit that can reload (ExecReload=); "reload-or-restart" reloads such a unit and restarts any other, and the plan names which. The plan notes another drop-in that overrides a key this one sets (a later name wins) or that masks this one (the same name in a directory systemd reads first). state = "absent" removes the file (the directory stays) and reloads systemd.`,
		Example: `systemd_dropin "ssh" {
  dropin = "10-restart"
  service {
    Restart    = "always"
    RestartSec = "5s"
  }
  on_change = "restart"
}
`,
	})
}

var _ Module = (*SystemdDropin)(nil)

// SystemdDropin manages one drop-in file of a unit, and what a change of it
// owes the unit: daemon-reload, then a restart or a reload of the unit if
// it is active.
type SystemdDropin struct {
	unit string
	// dir is the unit's drop-in directory under /etc/systemd/system.
	dir    string
	file   fileSpec
	absent bool
	// onChange is "restart", "reload", "reload-or-restart" or "none".
	onChange string
	settle   time.Duration
}

type systemdDropinConfig struct {
	UnitName *string        `hcl:"unit_name,optional" doc:"The unit the drop-in belongs to, such as \"nginx\" or \"ssh.service\"; the task's label when not set (\".service\" is implied when the name has no unit type suffix)."`
	DropIn   *string        `hcl:"dropin,optional" default:"50-tend" doc:"The drop-in's name: the file is UNIT.d/NAME.conf (a trailing \".conf\" is accepted). systemd reads a unit's drop-ins in the order of their names; a later one overrides what an earlier one sets. (The task's name meta-argument is its display name, not this.)"`
	Content  *string        `hcl:"content,optional" sensitive:"ok" doc:"The whole drop-in file, instead of the section blocks."`
	OnChange *string        `hcl:"on_change,optional" enum:"restart,reload,reload-or-restart,none" default:"restart" doc:"What a changed drop-in does to the unit, after daemon-reload, if the unit is active: restart it, reload it (the unit must support reload), reload it if it can and restart it otherwise, or nothing."`
	State    *string        `hcl:"state,optional" enum:"present,absent" default:"present" doc:"\"absent\" removes the drop-in, then reloads systemd and acts on the unit as on_change says."`
	Settle   *string        `hcl:"settle,optional" default:"2s" doc:"How long the unit must stay up after tend restarts or reloads it, such as \"2s\"; \"0s\" skips the check."`
	Validate *string        `hcl:"validate,optional" doc:"A command that checks the new drop-in after systemd-analyze verify, \"%s\" standing for the new file's path; a non-zero exit leaves the old file and fails the task."`
	Backup   *bool          `hcl:"backup,optional" doc:"Keep the drop-in being replaced beside it, as NAME.conf.YYYY-MM-DD@HH:MM:SS~ (systemd ignores it: it does not end in .conf)."`
	Unit     []sectionBlock `hcl:"unit,block" doc:"Settings of the [Unit] section, as Key = value."`
	Service  []sectionBlock `hcl:"service,block" doc:"Settings of the [Service] section, as Key = value; a list repeats the key."`
	Socket   []sectionBlock `hcl:"socket,block" doc:"Settings of the [Socket] section."`
	Timer    []sectionBlock `hcl:"timer,block" doc:"Settings of the [Timer] section."`
	Install  []sectionBlock `hcl:"install,block" doc:"Settings of the [Install] section."`
}

var dropInNameRe = regexp.MustCompile(`^[A-Za-z0-9_@:+-][A-Za-z0-9_.@:+-]*$`)

// dropInHeader starts a drop-in rendered from blocks.
const dropInHeader = "# Managed by tend. Local changes will be overwritten.\n"

// Decode reads and validates the drop-in task.
func (m *SystemdDropin) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg systemdDropinConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok || diags.HasErrors() {
		return diags
	}
	if cfg.UnitName != nil {
		label = *cfg.UnitName
	}
	if !dec.unknown["unit_name"] {
		name, err := unitName(label)
		if err != nil {
			if cfg.UnitName != nil {
				diags = append(diags, errAt(body, "unit_name", "Invalid unit name", err.Error()))
			} else {
				diags = append(diags, labelErrAt(body, "Invalid unit name", err.Error()))
			}
		}
		m.unit = name
	}
	file := ""
	if cfg.DropIn != nil {
		n := strings.TrimSuffix(*cfg.DropIn, ".conf")
		if !dropInNameRe.MatchString(n) || len(n) > 200 {
			diags = append(diags, errAt(body, "dropin", "Invalid drop-in name",
				fmt.Sprintf("%q is not a drop-in name: use letters, digits and \"_.@:+-\", not starting with a dot, such as \"10-restart\".", *cfg.DropIn)))
		} else {
			file = n + ".conf"
		}
	}
	m.dir = "/etc/systemd/system/" + m.unit + ".d"
	m.absent = cfg.State != nil && *cfg.State == "absent"
	if cfg.OnChange != nil {
		m.onChange = *cfg.OnChange
	}
	var sd hcl.Diagnostics
	m.settle, sd = decodeSettle(body, cfg.Settle)
	diags = append(diags, sd...)

	sections := []unitSection{{"Unit", cfg.Unit}, {"Service", cfg.Service}, {"Socket", cfg.Socket}, {"Timer", cfg.Timer}, {"Install", cfg.Install}}
	structured := anySection(sections)
	contentGiven := dec.given("content", cfg.Content != nil)
	if m.absent {
		for _, a := range []struct {
			name string
			set  bool
		}{{"content", contentGiven}, {"validate", dec.given("validate", cfg.Validate != nil)}, {"backup", dec.given("backup", cfg.Backup != nil)}} {
			if a.set {
				diags = append(diags, errAt(body, a.name, "Attribute for an absent drop-in", fmt.Sprintf("%s has no meaning with state = \"absent\".", a.name)))
			}
		}
		if structured {
			diags = append(diags, errAt(body, "", "Settings for an absent drop-in", "Section blocks have no meaning with state = \"absent\"."))
		}
		m.file = fileSpec{Path: path.Join(m.dir, file)}
		return diags
	}
	var content []byte
	switch {
	case contentGiven && structured:
		return append(diags, errAt(body, "content", "Conflicting drop-in definitions", "Give either content or unit/service/install blocks, not both."))
	case contentGiven:
		if cfg.Content != nil {
			content = []byte(*cfg.Content)
		}
	case structured:
		var sdiags hcl.Diagnostics
		content, sdiags = renderSections(dropInHeader, sections, ctx)
		diags = append(diags, sdiags...)
	case !dec.unknown["state"]:
		return append(diags, errAt(body, "", "Missing drop-in settings", "A systemd_dropin needs content or unit/service/install blocks."))
	}
	m.file = unitFile(path.Join(m.dir, file), m.unit, content)
	m.file.Validate = ""
	diags = append(diags, m.file.decodeWriteOptions(body, dec, cfg.Validate, cfg.Backup)...)
	m.file.Validate = dropInValidate(m.unit, file, m.file.Validate)
	diags = append(diags, unitSecretWarnings(body, ctx, dec.marked)...)
	for k := range dec.marked {
		if k == "content" || strings.Contains(k, ".") {
			m.file.Sensitive = true
		}
	}
	return diags
}

// dropInValidate is the validate command of drop-in file of unit: the
// drop-in verify, then the user's command when there is one.
func dropInValidate(unit, file, user string) string {
	v := dropInVerify(unit, file)
	if user == "" {
		return v
	}
	return "(" + v + ") && (" + user + ")"
}

// dropInVerify returns the validate command of drop-in file of unit: the
// staged file, copied as UNIT.d/FILE into a private directory that comes
// first in systemd's unit path (so it masks the current file of that name),
// must pass systemd-analyze verify of the unit with its unit file and its
// other drop-ins, without systemd ignoring any line of it (see unitVerify).
// A service systemd does not know (not installed yet) is verified as a stub
// service with the drop-in; a unit of another type that is not known is not
// verified.
func dropInVerify(unit, file string) string {
	qu := executor.ShellQuote(unit)
	run := `out=$(SYSTEMD_UNIT_PATH="$d:" systemd-analyze verify --man=no -- ` + qu + ` 2>&1); rc=$?`
	unknown := `rm -rf -- "$d"; exit 0`
	if strings.HasSuffix(unit, ".service") {
		unknown = `printf '[Service]\nExecStart=/bin/true\n' >"$d/"` + qu + `; ` + run
	}
	return strings.Join([]string{
		`command -v systemd-analyze >/dev/null 2>&1 || exit 0`,
		`d=$(mktemp -d) || exit 1`,
		`{ mkdir -- "$d/"` + executor.ShellQuote(unit+".d") + ` && cp -- %s "$d/"` + executor.ShellQuote(unit+".d/"+file) + `; } || { rm -rf -- "$d"; exit 1; }`,
		run,
		`if [ "$rc" -ne 0 ] && printf '%''s\n' "$out" | grep -qxF ` + executor.ShellQuote("Unit "+unit+" not found.") + `; then ` + unknown + `; fi`,
		verifyVerdict,
	}, "; ")
}

// Probes reads the drop-in, its directory, the unit with its drop-ins, and
// whether the unit can reload when on_change may reload it.
func (m *SystemdDropin) Probes() []executor.Probe {
	ps := []executor.Probe{
		{Kind: executor.ProbeFile, Path: m.file.Path, Become: true},
		{Kind: executor.ProbeFile, Path: m.dir, Become: true},
		{Kind: executor.ProbeUnit, Unit: m.unit, Become: true, DropIns: true},
	}
	if m.onChange == "reload" || m.onChange == "reload-or-restart" {
		ps = append(ps, executor.Probe{Kind: executor.ProbeFact, Fact: canReloadFact{m.unit}, Become: true})
	}
	return ps
}

// Check compares the drop-in with the gathered state and declares, when it
// changes, daemon-reload and the unit action on_change asks for.
func (m *SystemdDropin) Check(ctx context.Context, t *Target) (*Diff, error) {
	unit, err := gatheredUnit(t.State, m.unit)
	if err != nil {
		return nil, err
	}
	dir := t.State.File(m.dir)
	cur := t.State.File(m.file.Path)
	if dir == nil || cur == nil {
		return nil, fmt.Errorf("%s: the drop-in's state was not gathered", m.file.Path)
	}
	if dir.Exists && dir.Type != "directory" {
		return nil, fmt.Errorf("%s exists but is a %s, not a directory; tend will not replace it", m.dir, dir.Type)
	}
	d := &Diff{}
	changed := false
	if m.absent {
		if cur.Exists {
			if cur.Type != "file" {
				return nil, fmt.Errorf("%s is a %s, not a file; tend will not remove it", m.file.Path, cur.Type)
			}
			d.Add(Change{Attr: "exists", Old: "present", New: "absent", Path: m.file.Path})
			if !cur.Truncated {
				d.Add(Change{Attr: "content", Path: m.file.Path, OldContent: cur.Content, Old: "present", New: "absent"})
			}
			changed = true
		}
	} else {
		if !dir.Exists {
			d.Add(Change{Attr: "directory", New: m.dir, Path: m.dir})
		}
		if changed, err = m.file.check(cur, d); err != nil {
			return nil, err
		}
		m.noteOverrides(unit, d)
	}
	if unit.LoadState == "not-found" {
		d.Notes = append(d.Notes, fmt.Sprintf("systemd does not know %s (yet): the drop-in applies once the unit is installed", m.unit))
	}
	if changed || unit.NeedDaemonReload {
		d.Effect(executor.EffectDaemonReload, "")
		kind, err := m.action(t, unit)
		if err != nil {
			return nil, err
		}
		switch {
		case kind == "":
		case unit.Active():
			d.Effect(kind, m.unit)
			d.Effects[len(d.Effects)-1].Settle = m.settle
		default:
			d.Notes = append(d.Notes, fmt.Sprintf("%s is %s: it is not started; the drop-in takes effect when it starts", m.unit, activeWord(unit)))
		}
	} else if _, err := m.action(t, unit); err != nil {
		// A reload the unit cannot do fails every run, not only the one
		// that changes the drop-in.
		return nil, err
	}
	return d, nil
}

// action returns the unit action on_change asks for ("" for none), with
// reload-or-restart decided by whether the unit can reload.
func (m *SystemdDropin) action(t *Target, unit *executor.UnitState) (executor.EffectKind, error) {
	switch m.onChange {
	case "none":
		return "", nil
	case "reload", "reload-or-restart":
		can, err := canReload(t.State, m.unit)
		if err != nil {
			return "", err
		}
		// A drop-in that sets ExecReload= makes the unit reloadable once
		// systemd reads it, which the daemon-reload before does.
		can = can || (!m.absent && unitKeys(m.file.Content)["Service.ExecReload"])
		switch {
		case can:
			return executor.EffectReload, nil
		case m.onChange == "reload-or-restart":
			return executor.EffectRestart, nil
		case unit.LoadState == "not-found":
			return executor.EffectReload, nil
		}
		return "", fmt.Errorf("%s cannot reload (it has no ExecReload=), so on_change = \"reload\" cannot apply the drop-in; use on_change = \"reload-or-restart\" or \"restart\"", m.unit)
	}
	return executor.EffectRestart, nil
}

// higherDropInDirs are the drop-in directories systemd reads before
// /etc/systemd/system: a drop-in of the same name there masks this one.
var higherDropInDirs = []string{"/etc/systemd/system.control/", "/run/systemd/system.control/", "/run/systemd/transient/", "/run/systemd/generator.early/"}

// noteOverrides notes the unit's other drop-ins that mask this one (the
// same file name in a directory systemd reads first) or override a key it
// sets (a later name, in the same section).
func (m *SystemdDropin) noteOverrides(unit *executor.UnitState, d *Diff) {
	if !unit.DropInsRead {
		return
	}
	base := path.Base(m.file.Path)
	mine := map[string]bool{}
	for _, kv := range unitKeyList(m.file.Content) {
		mine[kv.section+"."+kv.key] = true
	}
	for _, di := range unit.DropIns {
		if di.Path == m.file.Path {
			continue
		}
		other := path.Base(di.Path)
		if other == base {
			for _, h := range higherDropInDirs {
				if strings.HasPrefix(di.Path, h) {
					d.Notes = append(d.Notes, fmt.Sprintf("%s masks this drop-in (same name, read first): systemd ignores %s", di.Path, m.file.Path))
				}
			}
			continue
		}
		if other < base {
			continue
		}
		var keys []string
		seen := map[string]bool{}
		for _, kv := range unitKeyList(di.Content) {
			k := kv.section + "." + kv.key
			if mine[k] && !seen[k] {
				seen[k] = true
				keys = append(keys, fmt.Sprintf("[%s] %s=", kv.section, kv.key))
			}
		}
		if len(keys) > 0 {
			d.Notes = append(d.Notes, fmt.Sprintf("%s comes later and overrides %s of this drop-in", di.Path, strings.Join(keys, ", ")))
		}
	}
}

// Apply creates the drop-in directory when missing and writes the drop-in,
// or removes it; the engine runs the effects of d.
func (m *SystemdDropin) Apply(ctx context.Context, t *Target, d *Diff) error {
	if c := d.Change("exists"); c != nil && c.New == "absent" {
		return runTrusted(ctx, t, "remove "+m.file.Path, m.dir, "", keepFirst(m.file.Path, "rm -f -- "+executor.ShellQuote(m.file.Path)), "")
	}
	if d.Change("directory") != nil {
		q := executor.ShellQuote(m.dir)
		// What mkdir makes is kept: a revert removes it.
		script := "tend_keep_dirs " + q + " || { echo 'tend: what the directory was could not be kept for a revert' >&2; exit 1; }\n" +
			"mkdir -m 0755 -- " + q + " && chown root:root -- " + q
		if err := runTrusted(ctx, t, "create "+m.dir, path.Dir(m.dir), m.dir, script, ""); err != nil {
			return err
		}
	}
	if d.Change("content") != nil || d.Change("mode") != nil || d.Change("owner") != nil || d.Change("group") != nil {
		return m.file.apply(ctx, t, t.State.File(m.file.Path), d)
	}
	return nil
}

// canReloadFact reads whether systemd can reload a unit (CanReload: it has
// ExecReload=).
type canReloadFact struct{ unit string }

// Key names the fact and its unit.
func (f canReloadFact) Key() string { return "unit-can-reload:" + f.unit }

// Script asks systemd; it prints "nosystemd" where systemd is not running.
func (f canReloadFact) Script() string {
	return `if [ ! -d /run/systemd/system ]; then echo nosystemd; else systemctl show -p CanReload --value -- ` + executor.ShellQuote(f.unit) + `; fi`
}

// Parse reads "yes", "no" or "nosystemd" (as "").
func (f canReloadFact) Parse(out []byte, rc int) (any, error) {
	s := string(out)
	if rc == 0 {
		switch s {
		case "yes\n", "no\n":
			return strings.TrimSpace(s), nil
		case "nosystemd\n":
			return "", nil
		}
	}
	return nil, fmt.Errorf("systemctl show -p CanReload %s: unexpected answer %q (exit status %d)", f.unit, factAnswer(s), rc)
}

// canReload returns the gathered CanReload of unit.
func canReload(st *executor.State, unit string) (bool, error) {
	v, ok := st.Fact(canReloadFact{unit})
	if !ok {
		return false, fmt.Errorf("%s: whether the unit can reload was not gathered", unit)
	}
	return v == "yes", nil
}

// factAnswer cuts a fact's answer for an error message.
func factAnswer(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

var _ SecretFiler = (*SystemdDropin)(nil)

// SecretFiles implements SecretFiler.
func (m *SystemdDropin) SecretFiles() []string { return m.file.secretFiles() }
