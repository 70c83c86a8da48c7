package modules

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/inventory"
)

func init() {
	Register(Info{
		Kind:    "systemd_unit",
		Summary: "A systemd unit file (verbatim or from unit/service/install blocks), its enablement and run state; reload and restart on change",
		New:     func() Module { return &SystemdUnit{} },
		Config:  func() any { return &systemdUnitConfig{} },
		Doc: `Manages a systemd unit file, the unit's enablement and its run state. The label is the unit name; ".service" is appended when it has no unit type suffix. The file is given whole as content, or as unit, service, socket, timer and install blocks whose attributes become "Key=value" lines of that section in source order: strings verbatim, numbers, bools as yes/no, lists as repeated keys, null omitted.

The file is written 0644 root:root, after systemd-analyze verify accepted it under its own name (an error, or a line systemd would ignore such as a misspelt key, fails the task and leaves the old unit). A changed file triggers one daemon-reload and, if the unit runs or state = "started", a restart; nothing is reloaded or restarted when nothing changed. A unit tend starts or restarts must then stay up for settle; a failed start reports systemctl status and the journal tail.

Before a unit that should run is changed, its User=, Group=, WorkingDirectory= and ExecStart= program are checked on the host. A sensitive value in the content is never shown in plans, but unit files are readable by every user of the host: tend warns at the attribute that holds it.`,
		Example: `systemd_unit "app-worker" {
  unit {
    Description = "App background worker"
    After       = "network.target"
  }
  service {
    User       = "app"
    ExecStart  = "/srv/app/venv/bin/python -m app.worker"
    Restart    = "on-failure"
    RestartSec = 5
  }
  install {
    WantedBy = "multi-user.target"
  }
  enabled = true
  state   = "started"
}
`,
	})
}

var _ Module = (*SystemdUnit)(nil)

// SystemdUnit manages a unit file and the unit (its registry entry and the
// tags of systemdUnitConfig document it).
type SystemdUnit struct {
	spec unitSpec
	// needs is what the unit needs from the host before it can start.
	needs *preflight
}

type sectionBlock struct {
	Body hcl.Body `hcl:",remain"`
}

type systemdUnitConfig struct {
	Content         *string        `hcl:"content,optional" sensitive:"unit" doc:"The whole unit file; or give the section blocks instead."`
	Path            *string        `hcl:"path,optional" sensitive:"path" doc:"Where the unit file goes; /etc/systemd/system/NAME when not set."`
	Enabled         *bool          `hcl:"enabled,optional" doc:"Whether the unit starts at boot (it needs an [Install] section); left as it is when not set."`
	State           *string        `hcl:"state,optional" enum:"started,stopped" doc:"Whether the unit runs; left as it is when not set."`
	RestartOnChange *bool          `hcl:"restart_on_change,optional" default:"true" doc:"Restart the unit when its file changed and it runs."`
	Settle          *string        `hcl:"settle,optional" default:"2s"`
	DropIns         *string        `hcl:"drop_ins,optional" enum:"refuse,allow" default:"refuse"`
	Unit            []sectionBlock `hcl:"unit,block" doc:"The [Unit] section: each attribute a Key=value line, such as Description = \"…\"."`
	Service         []sectionBlock `hcl:"service,block" doc:"The [Service] section, such as ExecStart = \"…\", User = \"app\"."`
	Socket          []sectionBlock `hcl:"socket,block" doc:"The [Socket] section of a .socket unit."`
	Timer           []sectionBlock `hcl:"timer,block" doc:"The [Timer] section of a .timer unit."`
	Install         []sectionBlock `hcl:"install,block" doc:"The [Install] section, such as WantedBy = \"multi-user.target\"."`
}

// Decode reads and validates the unit task.
func (m *SystemdUnit) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg systemdUnitConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok {
		return diags
	}
	name, err := unitName(label)
	if err != nil {
		return append(diags, labelErrAt(body, "Invalid unit name", err.Error()))
	}
	path := "/etc/systemd/system/" + name
	if cfg.Path != nil {
		if path, err = cleanAbsPath(*cfg.Path); err != nil {
			diags = append(diags, errAt(body, "path", "Invalid unit path", err.Error()))
		}
	}
	sections := []unitSection{{"Unit", cfg.Unit}, {"Service", cfg.Service}, {"Socket", cfg.Socket}, {"Timer", cfg.Timer}, {"Install", cfg.Install}}
	var content []byte
	contentGiven := dec.given("content", cfg.Content != nil)
	switch structured := anySection(sections); {
	case contentGiven && structured:
		return append(diags, errAt(body, "content", "Conflicting unit definitions", "Give either content or unit/service/install blocks, not both."))
	case contentGiven:
		if cfg.Content != nil {
			content = []byte(*cfg.Content)
		}
	case structured:
		var sdiags hcl.Diagnostics
		content, sdiags = renderSections("# Managed by tend. Local changes will be overwritten.\n", sections, ctx)
		diags = append(diags, sdiags...)
	default:
		return append(diags, errAt(body, "", "Missing unit definition", "A systemd_unit needs content or unit/service/install blocks."))
	}
	m.spec = unitSpec{Name: name, File: unitFile(path, name, content), RestartOnChange: true}
	diags = append(diags, unitSecretWarnings(body, ctx, dec.marked)...)
	for k := range dec.marked {
		if k == "content" || strings.Contains(k, ".") {
			m.spec.File.Sensitive = true
		}
	}
	if cfg.RestartOnChange != nil {
		m.spec.RestartOnChange = *cfg.RestartOnChange
	}
	var d hcl.Diagnostics
	m.spec.Settle, d = decodeSettle(body, cfg.Settle)
	diags = append(diags, d...)
	m.spec.AllowDropIns = allowDropIns(cfg.DropIns)
	m.spec.Enabled = cfg.Enabled
	if cfg.State != nil {
		m.spec.State = *cfg.State
	}
	// Unknown content or settings (left out of content above) may hold
	// the [Install] section.
	contentKnown := !dec.unknown["content"] && !unknownSetting(dec)
	if m.spec.Enabled != nil && *m.spec.Enabled && !diags.HasErrors() && contentKnown && !installable(content) {
		diags = append(diags, errAt(body, "enabled", "Unit cannot be enabled",
			fmt.Sprintf("%s has no [Install] section with WantedBy=, RequiredBy= or Alias=, so `systemctl enable` cannot enable it. Add an install block such as install { WantedBy = \"multi-user.target\" }, or remove enabled.", name)))
	}
	return diags
}

// unitSecretWarnings warns about each setting of a section block that puts
// a sensitive value into the unit file (decodeConfig warns about content).
func unitSecretWarnings(body hcl.Body, ctx *hcl.EvalContext, marked map[string]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, k := range sortedKeys(marked) {
		block, setting, ok := strings.Cut(k, ".")
		if !ok {
			continue
		}
		diags = append(diags, unitSecretWarning(markedBlockAttr(body, ctx, block, setting), block+" { "+setting+" }"))
	}
	return diags
}

// unknownSetting reports whether a unit/service/... block setting is unknown.
func unknownSetting(dec decoded) bool {
	for k := range dec.unknown {
		if strings.Contains(k, ".") {
			return true
		}
	}
	return false
}

// unitSection is one section of a unit file as blocks of a task: the
// section's name ("Service") and the blocks that set it.
type unitSection struct {
	name   string
	blocks []sectionBlock
}

// anySection reports whether any section has a block.
func anySection(sections []unitSection) bool {
	for _, s := range sections {
		if len(s.blocks) > 0 {
			return true
		}
	}
	return false
}

// renderSections renders header and then, in the order of sections (a
// fixed order, whatever the order of the blocks in the task), each section
// that has blocks: "[Name]" and the Key=value lines of its blocks (see
// sectionLines), a blank line before each section.
func renderSections(header string, sections []unitSection, ctx *hcl.EvalContext) ([]byte, hcl.Diagnostics) {
	var b strings.Builder
	var diags hcl.Diagnostics
	b.WriteString(header)
	for _, s := range sections {
		if len(s.blocks) == 0 {
			continue
		}
		b.WriteString("\n[" + s.name + "]\n")
		for _, blk := range s.blocks {
			lines, sdiags := sectionLines(blk.Body, ctx)
			diags = append(diags, sdiags...)
			for _, l := range lines {
				b.WriteString(l + "\n")
			}
		}
	}
	return []byte(b.String()), diags
}

var unitKeyRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// sectionLines renders the attributes of a section block as Key=value lines,
// in source order.
func sectionLines(body hcl.Body, ctx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	attrs, diags := body.JustAttributes()
	if diags.HasErrors() {
		return nil, diags
	}
	var lines []string
	for _, a := range inventory.SortedAttrs(attrs) {
		rng := a.Range
		bad := func(detail string) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid unit setting", Detail: detail, Subject: &rng})
		}
		if !unitKeyRe.MatchString(a.Name) {
			bad(fmt.Sprintf("%q is not a systemd setting name.", a.Name))
			continue
		}
		v, vdiags := a.Expr.Value(ctx)
		diags = append(diags, vdiags...)
		if vdiags.HasErrors() {
			continue
		}
		v, _ = v.UnmarkDeep()
		if v.IsNull() {
			continue
		}
		if !v.IsWhollyKnown() {
			bad(fmt.Sprintf("The value of %s is not known before apply.", a.Name))
			continue
		}
		var vals []cty.Value
		if ty := v.Type(); ty.IsListType() || ty.IsTupleType() || ty.IsSetType() {
			for it := v.ElementIterator(); it.Next(); {
				_, ev := it.Element()
				vals = append(vals, ev)
			}
		} else {
			vals = []cty.Value{v}
		}
		for _, ev := range vals {
			s, err := unitValue(ev)
			if err != nil {
				bad(fmt.Sprintf("%s: %v", a.Name, err))
				continue
			}
			lines = append(lines, a.Name+"="+s)
		}
	}
	return lines, diags
}

// unitValue renders one primitive value for a unit file: bools as yes/no.
func unitValue(v cty.Value) (string, error) {
	if v.IsNull() {
		return "", fmt.Errorf("null in a list")
	}
	switch v.Type() {
	case cty.Bool:
		if v.True() {
			return "yes", nil
		}
		return "no", nil
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), nil
	case cty.String:
		s := v.AsString()
		if strings.ContainsAny(s, "\n\r") {
			return "", fmt.Errorf("a unit setting cannot span lines: %s", strconv.Quote(s))
		}
		return s, nil
	}
	return "", fmt.Errorf("a string, number, bool or list of them is required, not %s", v.Type().FriendlyName())
}

// Probes reads the unit file and the unit.
func (m *SystemdUnit) Probes() []executor.Probe {
	return append(m.spec.probes(), m.preflight().probe()...)
}

// preflight is what the unit needs from the host to start, from its file;
// nothing for a unit declared stopped.
func (m *SystemdUnit) preflight() *preflight {
	if m.spec.State == "stopped" {
		return nil
	}
	if m.needs == nil {
		m.needs = unitFileNeeds(m.spec.File.Content)
	}
	return m.needs
}

// Check reads the preflight (what the unit needs from the host), then
// compares the unit file and the unit with the gathered state.
func (m *SystemdUnit) Check(ctx context.Context, t *Target) (*Diff, error) {
	d, err := m.spec.check(t)
	if err != nil {
		return nil, err
	}
	return preflightResult(m.spec.Name, m.preflight(), t, d)
}

// Apply writes the unit file; the engine runs the effects of d.
func (m *SystemdUnit) Apply(ctx context.Context, t *Target, d *Diff) error {
	return m.spec.apply(ctx, t, d)
}

// RunningUnit implements UnitRunner: the unit, when state = "started".
func (m *SystemdUnit) RunningUnit() string {
	if m.spec.State == "started" {
		return m.spec.Name
	}
	return ""
}

var _ SecretFiler = (*SystemdUnit)(nil)

// SecretFiles implements SecretFiler.
func (m *SystemdUnit) SecretFiles() []string { return m.spec.File.secretFiles() }
