package modules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "command",
		Summary: "A shell script, run unless its guards (creates, removes, unless, only_if) say it is not needed",
		New:     func() Module { return &Command{} },
		Config:  func() any { return &commandConfig{} },
		Doc: `Runs a shell script (/bin/sh) on the host, unless its guards say it is not needed. The guards (creates, removes, unless, only_if) are evaluated when the state is read, in plan too, so plan knows whether the command will run; they must only read. They run with the same chdir, environment and become as the script. A command whose guards do not settle it shows as "will run (cannot be previewed)", never as unchanged; a command that ran counts as changed unless changed_when says otherwise.

The script, the guards and the environment values are passed on the command line of /bin/sh and may be visible in the host's process list: they must never hold secrets, and sensitive values are refused.

undo, when given, is a script that undoes run: a revert of a host that fails later in the run runs it (newest command first) before it puts the files back. Without it, a revert says the command stays done.`,
		Example: `command "migrate" {
  run         = "/srv/app/venv/bin/python manage.py migrate --noinput"
  chdir       = "/srv/app"
  unless      = "/srv/app/venv/bin/python manage.py migrate --check"
  environment = { DJANGO_SETTINGS_MODULE = "app.settings" }
  timeout     = "10m"
}
`,
		// changed_when and failed_when see the result of the run.
		ResultAttrs: []string{"changed_when", "failed_when"},
	})
}

var _ Module = (*Command)(nil)

// Command runs a shell script on the host (its registry entry and the tags
// of commandConfig document it).
//
// When the guards do not skip it, Check returns an Unpreviewable diff whose
// Run is the script's first line; a command that ran counts as changed.
// After Apply ran the script, Check on the same Command evaluates only the
// creates, removes and unless guards (a script that ran but left its guard
// unsatisfied is reported again: it would run on every apply); without such
// guards it reports nothing more to do.
type Command struct {
	run     string
	creates string
	removes string
	unless  string
	onlyIf  string
	become  *bool
	chdir   string
	env     map[string]string
	timeout time.Duration
	// undo is the script that undoes run, for a revert ("": none).
	undo string
	// ran is set once Apply ran the script.
	ran bool
	// changedWhen and failedWhen are evaluated in ctx with the result;
	// unchanged is set when changed_when said the run changed nothing.
	changedWhen, failedWhen hcl.Expression
	ctx                     *hcl.EvalContext
	unchanged               bool
}

var _ ChangeReporter = (*Command)(nil)

// resultType is the type of result in changed_when and failed_when.
var resultType = cty.Object(map[string]cty.Type{"exit_code": cty.Number, "stdout": cty.String, "stderr": cty.String})

// resultCtx is ctx with result bound to v.
func resultCtx(ctx *hcl.EvalContext, v cty.Value) *hcl.EvalContext {
	var child *hcl.EvalContext
	if ctx == nil {
		child = &hcl.EvalContext{}
	} else {
		child = ctx.NewChild()
	}
	child.Variables = map[string]cty.Value{"result": v}
	return child
}

// evalResultBool evaluates a changed_when or failed_when expression for
// result v: a known bool, or an error that says why not.
func evalResultBool(expr hcl.Expression, ctx *hcl.EvalContext, v cty.Value) (cty.Value, hcl.Diagnostics) {
	val, diags := expr.Value(resultCtx(ctx, v))
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	val, _ = val.UnmarkDeep()
	if !val.IsKnown() {
		return val, nil
	}
	if val.IsNull() || val.Type() != cty.Bool {
		rng := expr.Range()
		return cty.NilVal, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid condition",
			Detail: fmt.Sprintf("The condition must be true or false, not %s.", val.Type().FriendlyName()), Subject: &rng}}
	}
	return val, nil
}

// Changed reports whether the run changed something: false when
// changed_when said it did not.
func (m *Command) Changed() bool { return !m.unchanged }

type commandConfig struct {
	Run         *string        `hcl:"run,optional" required:"true" sensitive:"script" doc:"The script, run by /bin/sh."`
	Creates     *string        `hcl:"creates,optional" sensitive:"path" doc:"An absolute path: the command is skipped when it exists."`
	Removes     *string        `hcl:"removes,optional" sensitive:"path" doc:"An absolute path: the command is skipped when it does not exist."`
	Unless      *string        `hcl:"unless,optional" sensitive:"script" doc:"A guard script: the command is skipped when it exits 0. It must only read."`
	OnlyIf      *string        `hcl:"only_if,optional" sensitive:"script" doc:"A guard script: the command is skipped when it exits non-zero. It must only read."`
	Become      *bool          `hcl:"become,optional" doc:"Run as root (true) or as the connection user (false); the inventory's become setting when not set."`
	Chdir       *string        `hcl:"chdir,optional" sensitive:"path" doc:"An absolute directory the script and its guards run in."`
	Environment cty.Value      `hcl:"environment,optional" sensitive:"script" type:"map of string" doc:"Variables exported to the script and its guards."`
	Timeout     *string        `hcl:"timeout,optional" doc:"How long the script may run, as a duration such as \"10m\"; no limit when not set."`
	Undo        *string        `hcl:"undo,optional" sensitive:"script" doc:"A script that undoes run, run by the revert of a host that fails later in the run (like run: same become, chdir, environment and timeout)."`
	ChangedWhen *hcl.Attribute `hcl:"changed_when,optional" type:"bool expression" doc:"Evaluated once the script ran, with result.exit_code, result.stdout and result.stderr: false reports the command as ok, changing nothing, and its handlers are not notified."`
	FailedWhen  *hcl.Attribute `hcl:"failed_when,optional" type:"bool expression" doc:"Evaluated once the script ran, with result.exit_code, result.stdout and result.stderr: replaces \"a non-zero exit fails\"."`
}

// Decode reads and validates the command task.
func (m *Command) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg commandConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok {
		return diags
	}
	if cfg.Run != nil {
		m.run = *cfg.Run
	}
	if cfg.Undo != nil {
		m.undo = *cfg.Undo
		if strings.TrimSpace(m.undo) == "" && !dec.unknown["undo"] {
			diags = append(diags, errAt(body, "undo", "Empty undo", "undo must hold a shell script that undoes run, or be left out."))
		}
	}
	if strings.TrimSpace(m.run) == "" && !dec.unknown["run"] {
		diags = append(diags, errAt(body, "run", "Empty command", "run must hold a shell script."))
	}
	for _, a := range []struct {
		name string
		val  *string
		dst  *string
	}{{"creates", cfg.Creates, &m.creates}, {"removes", cfg.Removes, &m.removes}, {"chdir", cfg.Chdir, &m.chdir}} {
		if a.val == nil {
			continue
		}
		p, err := cleanAbsPath(*a.val)
		if err != nil {
			diags = append(diags, errAt(body, a.name, "Invalid "+a.name, err.Error()))
		}
		*a.dst = p
	}
	for _, a := range []struct {
		name string
		val  *string
		dst  *string
	}{{"unless", cfg.Unless, &m.unless}, {"only_if", cfg.OnlyIf, &m.onlyIf}} {
		if a.val == nil {
			continue
		}
		if strings.TrimSpace(*a.val) == "" {
			diags = append(diags, errAt(body, a.name, "Empty guard", a.name+" must hold a shell command."))
		}
		*a.dst = *a.val
	}
	m.ctx = ctx
	for _, a := range []struct {
		attr *hcl.Attribute
		dst  *hcl.Expression
	}{{cfg.ChangedWhen, &m.changedWhen}, {cfg.FailedWhen, &m.failedWhen}} {
		if a.attr == nil {
			continue
		}
		expr := hcl.UnwrapExpression(a.attr.Expr)
		// Checked now with the result unknown: references, type.
		if _, d := evalResultBool(expr, ctx, cty.UnknownVal(resultType)); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		*a.dst = expr
	}
	m.become = cfg.Become
	env, err := envMap(cfg.Environment)
	if err != nil {
		diags = append(diags, errAt(body, "environment", "Invalid environment", err.Error()))
	}
	m.env = env
	if cfg.Timeout != nil {
		d, err := parseDuration(*cfg.Timeout)
		if err != nil {
			diags = append(diags, errAt(body, "timeout", "Invalid timeout", err.Error()))
		}
		m.timeout = d
	}
	return diags
}

// wrap prefixes script with the chdir and the environment.
func (m *Command) wrap(script string) string {
	var b strings.Builder
	if m.chdir != "" {
		b.WriteString("cd -- " + executor.ShellQuote(m.chdir) + " || exit 1\n")
	}
	keys := make([]string, 0, len(m.env))
	for k := range m.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("export " + k + "=" + executor.ShellQuote(m.env[k]) + "\n")
	}
	b.WriteString(script)
	return b.String()
}

// probeBecome is the become flag of the guards: the override, or the
// inventory's setting (a connection honours Become only when configured).
func (m *Command) probeBecome() bool {
	return m.become == nil || *m.become
}

// Probes reads the creates/removes paths and runs the guards.
func (m *Command) Probes() []executor.Probe {
	var ps []executor.Probe
	for _, p := range []string{m.creates, m.removes} {
		if p != "" {
			ps = append(ps, executor.Probe{Kind: executor.ProbeFile, Path: p, Become: m.probeBecome()})
		}
	}
	for _, g := range []string{m.unless, m.onlyIf} {
		if g != "" {
			ps = append(ps, executor.Probe{Kind: executor.ProbeGuard, Script: m.wrap(g), Become: m.probeBecome()})
		}
	}
	return ps
}

// skipReason returns why the guards skip the command ("" to run it). With
// onlyConvergence, only the guards that a run is expected to satisfy
// (creates, removes, unless) count.
func (m *Command) skipReason(st *executor.State, onlyConvergence bool) (string, error) {
	if m.creates != "" {
		f := st.File(m.creates)
		if f == nil {
			return "", fmt.Errorf("creates %s: the path's state was not gathered", m.creates)
		}
		if f.Exists {
			return fmt.Sprintf("skipped: %s exists (creates)", m.creates), nil
		}
	}
	if m.removes != "" {
		f := st.File(m.removes)
		if f == nil {
			return "", fmt.Errorf("removes %s: the path's state was not gathered", m.removes)
		}
		if !f.Exists {
			return fmt.Sprintf("skipped: %s does not exist (removes)", m.removes), nil
		}
	}
	if m.unless != "" {
		code, ok := st.Guard(m.wrap(m.unless))
		if !ok {
			return "", fmt.Errorf("unless guard %q was not run", firstLine(m.unless))
		}
		if code == 0 {
			return fmt.Sprintf("skipped: unless guard succeeded (%s)", firstLine(m.unless)), nil
		}
	}
	if m.onlyIf != "" && !onlyConvergence {
		code, ok := st.Guard(m.wrap(m.onlyIf))
		if !ok {
			return "", fmt.Errorf("only_if guard %q was not run", firstLine(m.onlyIf))
		}
		if code != 0 {
			return fmt.Sprintf("skipped: only_if guard exited %d (%s)", code, firstLine(m.onlyIf)), nil
		}
	}
	return "", nil
}

// Check decides from the guards whether the command runs.
func (m *Command) Check(ctx context.Context, t *Target) (*Diff, error) {
	if m.ran && m.creates == "" && m.removes == "" && m.unless == "" {
		return &Diff{Notes: []string{"ran"}}, nil
	}
	reason, err := m.skipReason(t.State, m.ran)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		return &Diff{Notes: []string{reason}}, nil
	}
	return &Diff{Unpreviewable: true, Run: firstLine(m.run), Detail: m.detail()}, nil
}

// Apply runs the script. A non-zero exit is an error carrying the exit code
// and the end of the output.
// detail identifies in full what Apply runs, for a saved plan.
func (m *Command) detail() string {
	b, _ := json.Marshal(struct {
		Run, Undo, Chdir string
		Become           *bool
		Env              map[string]string
		Timeout          time.Duration
	}{m.run, m.undo, m.chdir, m.become, m.env, m.timeout})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Undo returns the command that undoes what Apply ran, for a revert of a
// host that failed later (false: the command declares no undo). It runs
// like run: same become, chdir, environment and timeout.
func (m *Command) Undo(t *Target) (executor.Command, bool) {
	if m.undo == "" {
		return executor.Command{}, false
	}
	become := t.Become
	if m.become != nil {
		become = *m.become
	}
	return executor.Command{Script: m.wrap(m.undo), Become: become, Timeout: m.timeout}, true
}

func (m *Command) Apply(ctx context.Context, t *Target, d *Diff) error {
	if !d.Unpreviewable && d.Run == "" {
		return nil
	}
	become := t.Become
	if m.become != nil {
		become = *m.become
	}
	what := "command " + fmt.Sprintf("%q", firstLine(m.run))
	res, err := t.Conn.Run(ctx, executor.Command{Script: m.wrap(m.run), Become: become, Timeout: m.timeout})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	result := cty.ObjectVal(map[string]cty.Value{
		"exit_code": cty.NumberIntVal(int64(res.ExitCode)),
		"stdout":    cty.StringVal(strings.ToValidUTF8(string(res.Stdout), "\uFFFD")),
		"stderr":    cty.StringVal(strings.ToValidUTF8(string(res.Stderr), "\uFFFD")),
	})
	failed := res.ExitCode != 0
	if m.failedWhen != nil {
		v, d := evalResultBool(m.failedWhen, m.ctx, result)
		if d.HasErrors() {
			return fmt.Errorf("%s: failed_when: %s", what, d.Error())
		}
		failed = v.True()
		if failed {
			return fmt.Errorf("%s: failed_when is true (exit status %d)%s", what, res.ExitCode, outputTail(res))
		}
	}
	if failed {
		return fmt.Errorf("%s exited with status %d%s", what, res.ExitCode, outputTail(res))
	}
	m.ran = true
	if m.changedWhen != nil {
		v, d := evalResultBool(m.changedWhen, m.ctx, result)
		if d.HasErrors() {
			return fmt.Errorf("%s: changed_when: %s", what, d.Error())
		}
		m.unchanged = !v.True()
	}
	return nil
}
