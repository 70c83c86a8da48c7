package playbooks

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/modules"
)

// unknownHost is the value of `host` when the playbook is checked for no
// particular host: every attribute has its type and an unknown value.
func unknownHost() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"name":    cty.UnknownVal(cty.String),
		"address": cty.UnknownVal(cty.String),
		"groups":  cty.UnknownVal(cty.List(cty.String)),
		"vars":    cty.DynamicVal,
		"facts":   (*Facts)(nil).value(),
	})
}

// CheckTasks checks every task and handler of every play against its
// module's schema for no particular host, offline and without an inventory:
// host.* is unknown, and so is each.* in for_each tasks whose for_each
// depends on the host or is empty. Each module validates what is known and
// skips what is not. The when and name meta-arguments are evaluated where
// they are known, but a false when does not skip the check.
//
// Instantiate checks each task again for each host, with everything known;
// CheckTasks is what finds the mistakes in tasks that no host runs: plays
// whose hosts match nothing in the inventory, tasks whose when is false on
// every host, for_each over an empty collection. A mistake that does not
// depend on the host is reported by both, as the same diagnostic.
func (p *Playbook) CheckTasks() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, play := range p.Plays {
		ctx, d := p.evalContext(unknownHost(), nil)
		pd := d
		for _, spec := range play.Tasks {
			pd = append(pd, p.checkSpec(spec, ctx)...)
		}
		for _, name := range mapKeys(play.Handlers) {
			pd = append(pd, p.checkSpec(play.Handlers[name], ctx)...)
		}
		diags = append(diags, p.redact(pd, ctx)...)
	}
	return diags
}

// checkSpec decodes one task's body for no particular host: once per
// for_each element when for_each is known and not empty, else once with
// each.* unknown.
func (p *Playbook) checkSpec(spec *TaskSpec, hostCtx *hcl.EvalContext) hcl.Diagnostics {
	ctx := p.fileCtx(hostCtx, spec.file)
	var diags hcl.Diagnostics
	var eaches []cty.Value // each objects; nil without for_each
	if spec.forEach != nil {
		v, d := spec.forEach.Value(ctx)
		if d.HasErrors() {
			return d
		}
		if uv, _ := v.UnmarkDeep(); uv.IsWhollyKnown() {
			insts, d := forEachInstances(spec.forEach, ctx)
			if d.HasErrors() {
				return d
			}
			for _, in := range insts {
				eaches = append(eaches, cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(in.key), "value": in.value}))
			}
		}
		if len(eaches) == 0 {
			eaches = []cty.Value{cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal})}
		}
	} else {
		eaches = []cty.Value{cty.NilVal}
	}
	info, ok := modules.Lookup(spec.Kind)
	if !ok {
		return diags // Load reported it
	}
	for _, each := range eaches {
		ictx := ctx
		if each != cty.NilVal {
			ictx = ctx.NewChild()
			ictx.Variables = map[string]cty.Value{"each": each}
		}
		if spec.when != nil {
			if d := checkKnown(spec.when, ictx, func() hcl.Diagnostics { _, d := evalWhen(spec.when, ictx); return d }); d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
		}
		if spec.name != nil && len(spec.nameRefs) > 0 {
			if d := checkKnown(spec.name, ictx, func() hcl.Diagnostics { _, d := evalName(spec.name, ictx); return d }); d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
		}
		diags = append(diags, spec.atLabel(info.New().Decode(spec.Label, spec.body, ictx))...)
	}
	return diags
}

// checkKnown evaluates expr and, when its value is known, runs check (the
// meta-argument's own validation); an unknown value passes.
func checkKnown(expr hcl.Expression, ctx *hcl.EvalContext, check func() hcl.Diagnostics) hcl.Diagnostics {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return diags
	}
	if uv, _ := v.UnmarkDeep(); !uv.IsWhollyKnown() {
		return nil
	}
	return check()
}

// hostExtra is the Extra of a diagnostic found for one host by Instantiate.
type hostExtra struct {
	host    string
	wrapped any
}

var _ hcl.DiagnosticExtraUnwrapper = hostExtra{}

// UnwrapDiagnosticExtra lets hcl.DiagnosticExtra see the Extra it wraps.
func (e hostExtra) UnwrapDiagnosticExtra() any { return e.wrapped }

// WithHost returns a copy of d that says it was found for host (see
// DiagnosticHost). Diagnostics that are the same for many hosts can so be
// reported once, naming the hosts.
func WithHost(d *hcl.Diagnostic, host string) *hcl.Diagnostic {
	c := *d
	c.Extra = hostExtra{host: host, wrapped: d.Extra}
	return &c
}

// DiagnosticHost returns the host a diagnostic was found for, or "" when it
// was not found for a particular host.
func DiagnosticHost(d *hcl.Diagnostic) string {
	if e, ok := hcl.DiagnosticExtra[hostExtra](d); ok {
		return e.host
	}
	return ""
}

// unmatchedPlay is the Extra of Validate's "No hosts match" diagnostics.
type unmatchedPlay struct{ play string }

// UnmatchedPlay reports whether d is Validate's diagnostic for a hosts
// pattern of a play that matches nothing in the inventory, and names the
// play.
func UnmatchedPlay(d *hcl.Diagnostic) (string, bool) {
	if e, ok := hcl.DiagnosticExtra[unmatchedPlay](d); ok {
		return e.play, true
	}
	return "", false
}

// WithoutPlays returns a copy of the playbook without the named plays (to
// prepare the plays that do match an inventory when others do not).
func (p *Playbook) WithoutPlays(names ...string) *Playbook {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	c := *p
	c.Plays = nil
	for _, play := range p.Plays {
		if !drop[play.Name] {
			c.Plays = append(c.Plays, play)
		}
	}
	return &c
}
