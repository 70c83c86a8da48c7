package playbooks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/modules"
)

// HostObject returns the value of `host` in expressions for h: an object
// with name, address, groups (a list of strings) and vars (an object of the
// host's merged inventory vars).
func HostObject(h *inventory.Host) cty.Value {
	return hostObject(h, nil)
}

// hostObject is HostObject with host.facts from facts (unknown when nil).
func hostObject(h *inventory.Host, facts *Facts) cty.Value {
	groups := cty.ListValEmpty(cty.String)
	if len(h.Groups) > 0 {
		gs := make([]cty.Value, len(h.Groups))
		for i, g := range h.Groups {
			gs[i] = cty.StringVal(g)
		}
		groups = cty.ListVal(gs)
	}
	vars := cty.EmptyObjectVal
	if len(h.Vars) > 0 {
		vars = cty.ObjectVal(h.Vars)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"name":    cty.StringVal(h.Name),
		"address": cty.StringVal(h.Address),
		"groups":  groups,
		"vars":    vars,
		"facts":   facts.value(),
	})
}

// EvalContext returns the evaluation context of the playbook for host h:
// var, local (all locals evaluated for h), host and the functions (file and
// templatefile relative to BaseDir). Instantiate uses it; it is exported for
// tools that evaluate expressions of their own.
func (p *Playbook) EvalContext(h *inventory.Host) (*hcl.EvalContext, hcl.Diagnostics) {
	return p.evalContext(HostObject(h), h)
}

// evalContext is EvalContext with host bound to hostVal; h is nil when
// hostVal stands for no particular host (then host vars are not checked).
func (p *Playbook) evalContext(hostVal cty.Value, h *inventory.Host) (*hcl.EvalContext, hcl.Diagnostics) {
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":   p.vars,
			"host":  hostVal,
			"local": cty.EmptyObjectVal,
		},
		Functions: p.baseFuncs,
	}
	var diags hcl.Diagnostics
	locals := map[string]cty.Value{}
	for _, lc := range p.locals {
		if d := checkHostVars(lc.refs, h); d.HasErrors() {
			diags = append(diags, d...)
			locals[lc.name] = cty.DynamicVal
			ctx.Variables["local"] = cty.ObjectVal(locals)
			continue
		}
		v, d := lc.attr.Expr.Value(p.fileCtx(ctx, lc.attr.Range.Filename))
		diags = append(diags, d...)
		if d.HasErrors() {
			// Unknown, so that locals using it do not report it again.
			v = cty.DynamicVal
		}
		locals[lc.name] = v
		ctx.Variables["local"] = cty.ObjectVal(locals)
	}
	return ctx, diags
}

// fileCtx returns a child of ctx whose file and templatefile functions
// resolve paths against the directory of filename.
func (p *Playbook) fileCtx(ctx *hcl.EvalContext, filename string) *hcl.EvalContext {
	funcs, ok := p.funcs[filename]
	if !ok {
		return ctx
	}
	child := ctx.NewChild()
	child.Functions = funcs
	return child
}

// Instantiate evaluates play for host: each task's for_each (expanding it
// into one task per key), when (false skips the task: its module is not
// decoded), display name, and module settings, decoded by the module. It
// makes no connection. Diagnostics of all tasks are collected; the plan holds
// the tasks that could be instantiated.
//
// A play that refers to host.facts (NeedsFacts) is only checked: its plan
// has NeedsFacts set and no tasks, and InstantiateWithFacts makes them once
// the facts were read.
func (p *Playbook) Instantiate(play *Play, host *inventory.Host) (*HostPlan, hcl.Diagnostics) {
	return p.instantiatePlay(play, host, nil)
}

func (p *Playbook) instantiatePlay(play *Play, host *inventory.Host, facts *Facts) (*HostPlan, hcl.Diagnostics) {
	plan := &HostPlan{Play: play, Host: host, Become: host.Become, Handlers: map[string]*Task{}}
	if play.Become != nil {
		plan.Become = *play.Become
	}
	ctx, diags := p.evalContext(hostObject(host, facts), host)
	if diags.HasErrors() {
		return plan, p.forHost(diags, host, ctx)
	}
	if facts == nil && p.NeedsFacts(play) {
		plan.NeedsFacts = true
		diags = append(diags, p.checkForHost(play, host, ctx)...)
		return plan, p.forHost(diags, host, ctx)
	}
	for _, spec := range play.Tasks {
		tasks, d := p.instantiate(spec, ctx, host)
		diags = append(diags, d...)
		plan.Tasks = append(plan.Tasks, tasks...)
	}
	for _, name := range mapKeys(play.Handlers) {
		spec := play.Handlers[name]
		tasks, d := p.instantiate(spec, ctx, host)
		diags = append(diags, d...)
		if len(tasks) == 1 {
			plan.Handlers[name] = tasks[0]
		}
	}
	return plan, p.forHost(diags, host, ctx)
}

// forHost redacts the diagnostics found for host and marks them with it
// (see DiagnosticHost).
func (p *Playbook) forHost(diags hcl.Diagnostics, host *inventory.Host, ctx *hcl.EvalContext) hcl.Diagnostics {
	diags = p.redact(diags, ctx)
	for i, d := range diags {
		diags[i] = WithHost(d, host.Name)
	}
	return diags
}

// redact replaces sensitive values in diagnostic texts: a module's
// validation message may quote the value it rejects ("\"s3cret\" is not an
// octal file mode"), and such messages reach the terminal. The values are
// those of sensitive variables and every marked value in scope (host.vars
// from sensitive() in the inventory, locals, var values given through
// sensitive()).
func (p *Playbook) redact(diags hcl.Diagnostics, ctx *hcl.EvalContext) hcl.Diagnostics {
	var secrets []string
	for _, v := range p.Variables {
		if v.Sensitive {
			secrets = appendStrings(secrets, v.Value)
		}
	}
	if ctx != nil {
		for _, name := range mapKeys(ctx.Variables) {
			secrets = appendMarkedStrings(secrets, ctx.Variables[name])
		}
	}
	if len(secrets) == 0 {
		return diags
	}
	for _, d := range diags {
		for _, secret := range secrets {
			d.Summary = strings.ReplaceAll(d.Summary, secret, "(sensitive)")
			d.Detail = strings.ReplaceAll(d.Detail, secret, "(sensitive)")
		}
	}
	return diags
}

// appendStrings collects the string and number leaves of v (at least 3
// characters long: shorter ones would blank out ordinary words).
func appendStrings(out []string, v cty.Value) []string {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return out
	}
	switch {
	case v.Type() == cty.String:
		if s := v.AsString(); len(s) >= 3 {
			out = append(out, s)
		}
	case v.Type() == cty.Number:
		if s := v.AsBigFloat().Text('f', -1); len(s) >= 3 {
			out = append(out, s)
		}
	case v.CanIterateElements():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = appendStrings(out, e)
		}
	}
	return out
}

// appendMarkedStrings collects the string and number leaves of the marked
// parts of v, as appendStrings.
func appendMarkedStrings(out []string, v cty.Value) []string {
	switch {
	case v == cty.NilVal || !v.ContainsMarked():
		return out
	case v.IsMarked():
		return appendStrings(out, v)
	case v.IsKnown() && !v.IsNull() && v.CanIterateElements():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = appendMarkedStrings(out, e)
		}
	}
	return out
}

// instance is one for_each element.
type instance struct {
	key   string
	value cty.Value
	each  bool
}

func (p *Playbook) instantiate(spec *TaskSpec, hostCtx *hcl.EvalContext, host *inventory.Host) ([]*Task, hcl.Diagnostics) {
	ctx := p.fileCtx(hostCtx, spec.file)
	insts := []instance{{}}
	var diags hcl.Diagnostics
	if spec.forEach != nil {
		if d := checkHostVars(spec.forEachRefs, host); d.HasErrors() {
			return nil, d
		}
		var d hcl.Diagnostics
		insts, d = forEachInstances(spec.forEach, ctx)
		if d.HasErrors() {
			return nil, d
		}
	}
	if d := checkHostVars(spec.whenRefs, host); d.HasErrors() {
		return nil, d
	}
	if d := checkHostVars(spec.nameRefs, host); d.HasErrors() {
		return nil, d
	}
	bodyChecked := false
	var tasks []*Task
	for _, in := range insts {
		ictx := ctx
		t := &Task{ID: spec.ID, Kind: spec.Kind, Label: spec.Label, Name: spec.Name,
			Notify: spec.Notify, Range: spec.Range, IgnoreErrors: spec.IgnoreErrors}
		if spec.Handler != "" && t.Name == "" {
			t.Name = spec.Handler
		}
		if in.each {
			ictx = ctx.NewChild()
			ictx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{
				"key": cty.StringVal(in.key), "value": in.value,
			})}
			t.ID = fmt.Sprintf("%s[%q]", spec.ID, in.key)
			t.EachKey = in.key
		}
		if spec.when != nil {
			run, d := evalWhen(spec.when, ictx)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			t.Skip = !run
		}
		if spec.name != nil && len(spec.nameRefs) > 0 {
			name, d := evalName(spec.name, ictx)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			t.Name = name
		}
		if t.Skip {
			tasks = append(tasks, t)
			continue
		}
		if !bodyChecked {
			bodyChecked = true
			if d := checkHostVars(spec.bodyRefs, host); d.HasErrors() {
				return tasks, append(diags, d...)
			}
		}
		info, ok := modules.Lookup(spec.Kind)
		if !ok {
			rng := spec.block.TypeRange
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported block type",
				Detail: fmt.Sprintf("There is no module kind %q.", spec.Kind), Subject: &rng})
			continue
		}
		m := info.New()
		d := spec.atLabel(m.Decode(spec.Label, spec.body, ictx))
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		t.Module = m
		label, body := spec.Label, spec.body
		t.renew = func() (modules.Module, hcl.Diagnostics) {
			fresh := info.New()
			return fresh, spec.atLabel(fresh.Decode(label, body, ictx))
		}
		tasks = append(tasks, t)
	}
	return tasks, diags
}

// atLabel points the diagnostics a module's Decode found in the task's
// label (a path or unit name written as the label) at the label.
func (spec *TaskSpec) atLabel(diags hcl.Diagnostics) hcl.Diagnostics {
	if spec.block == nil || len(spec.block.LabelRanges) == 0 {
		return diags
	}
	for i, d := range diags {
		if modules.IsLabelDiagnostic(d) {
			c := *d
			rng := spec.block.LabelRanges[0]
			c.Subject = &rng
			diags[i] = &c
		}
	}
	return diags
}

func exprDiag(expr hcl.Expression, ctx *hcl.EvalContext, summary, format string, args ...any) *hcl.Diagnostic {
	rng := expr.Range()
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...),
		Subject: &rng, Expression: expr, EvalContext: ctx}
}

// evalWhen evaluates a when condition: a known bool.
func evalWhen(expr hcl.Expression, ctx *hcl.EvalContext) (bool, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return false, diags
	}
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() {
		return false, hcl.Diagnostics{exprDiag(expr, ctx, "Invalid when condition", "The when condition's value is not known.")}
	}
	if v.IsNull() {
		return false, hcl.Diagnostics{exprDiag(expr, ctx, "Invalid when condition", "The when condition is null; it must be true or false.")}
	}
	if v.Type() != cty.Bool {
		return false, hcl.Diagnostics{exprDiag(expr, ctx, "Invalid when condition",
			"The when condition must be a bool (true or false), not %s. Compare explicitly, like when = length(x) > 0.", v.Type().FriendlyName())}
	}
	return v.True(), nil
}

// evalName evaluates a display name computed per host.
func evalName(expr hcl.Expression, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if v.ContainsMarked() {
		return "", hcl.Diagnostics{exprDiag(expr, ctx, "Sensitive task name",
			"The task's name is computed from a sensitive value; names are shown in output, so they must not be.")}
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil || sv.IsNull() || !sv.IsKnown() {
		return "", hcl.Diagnostics{exprDiag(expr, ctx, "Invalid name", "The name must be a string.")}
	}
	return sv.AsString(), nil
}

// forEachInstances evaluates a for_each: a map or object (each.key is the
// key, each.value the element) or a set of strings (each.key and
// each.value are the element). Instances come in key order.
func forEachInstances(expr hcl.Expression, ctx *hcl.EvalContext) ([]instance, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	if v.ContainsMarked() {
		return nil, hcl.Diagnostics{exprDiag(expr, ctx, "Invalid for_each argument",
			"for_each cannot use sensitive values: its keys become task IDs, which are shown in output.")}
	}
	switch {
	case !v.IsWhollyKnown():
		return nil, hcl.Diagnostics{exprDiag(expr, ctx, "Invalid for_each argument", "The for_each value is not known.")}
	case v.IsNull():
		return nil, hcl.Diagnostics{exprDiag(expr, ctx, "Invalid for_each argument", "for_each must not be null.")}
	}
	ty := v.Type()
	var out []instance
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			out = append(out, instance{key: k.AsString(), value: ev, each: true})
		}
	case ty.IsSetType():
		if v.LengthInt() == 0 {
			break // toset([]) is a set of dynamic: no instances either way
		}
		if !ty.ElementType().Equals(cty.String) {
			return nil, hcl.Diagnostics{exprDiag(expr, ctx, "Invalid for_each set argument",
				"A for_each set must hold strings, not %s.", ty.ElementType().FriendlyName())}
		}
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if ev.IsNull() {
				return nil, hcl.Diagnostics{exprDiag(expr, ctx, "Invalid for_each set argument", "A for_each set must not hold null.")}
			}
			out = append(out, instance{key: ev.AsString(), value: ev, each: true})
		}
	case ty.IsListType() || ty.IsTupleType():
		return nil, hcl.Diagnostics{exprDiag(expr, ctx, "Invalid for_each argument",
			"for_each needs a map or a set of strings, not %s; convert a list of strings with toset(...).", ty.FriendlyName())}
	default:
		return nil, hcl.Diagnostics{exprDiag(expr, ctx, "Invalid for_each argument",
			"for_each needs a map or a set of strings, not %s.", ty.FriendlyName())}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}
