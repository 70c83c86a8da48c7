package playbooks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/inventory"
)

// Facts are what expressions see as host.facts: the host's facts, read
// when tend connects (in the first round trip). Before that — when a
// playbook is validated and prepared, offline — host.facts is an unknown
// object of the same type, so a misspelt fact is still an error before any
// connection.
type Facts struct {
	// OSID is os-release's ID ("debian", "ubuntu"), OSVersion its VERSION_ID.
	OSID, OSVersion string
	// Arch is the machine (uname -m), Kernel the kernel release.
	Arch, Kernel string
	// Virtualization is what systemd-detect-virt says ("kvm",
	// "systemd-nspawn", "none", "unknown").
	Virtualization string
	// Init is the name of process 1 ("systemd").
	Init     string
	Hostname string
	CPUs     int
}

// factTypes are the attributes of host.facts.
var factTypes = map[string]cty.Type{
	"os_id": cty.String, "os_version": cty.String, "arch": cty.String, "kernel": cty.String,
	"virtualization": cty.String, "init": cty.String, "hostname": cty.String, "cpus": cty.Number,
}

// factNames lists host.facts' attributes, sorted.
func factNames() []string {
	names := make([]string, 0, len(factTypes))
	for n := range factTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// value is host.facts for f; unknown (with its type) when f is nil.
func (f *Facts) value() cty.Value {
	if f == nil {
		return cty.UnknownVal(cty.Object(factTypes))
	}
	return cty.ObjectVal(map[string]cty.Value{
		"os_id": cty.StringVal(f.OSID), "os_version": cty.StringVal(f.OSVersion),
		"arch": cty.StringVal(f.Arch), "kernel": cty.StringVal(f.Kernel),
		"virtualization": cty.StringVal(f.Virtualization), "init": cty.StringVal(f.Init),
		"hostname": cty.StringVal(f.Hostname), "cpus": cty.NumberIntVal(int64(f.CPUs)),
	})
}

// refersToFacts reports whether any of refs is host.facts or below it (or
// the whole host object, which holds them).
func refersToFacts(refs []hcl.Traversal) bool {
	for _, tr := range refs {
		if tr.RootName() != "host" {
			continue
		}
		name, ok := attrName(tr, 1)
		if !ok || name == "facts" {
			return true
		}
	}
	return false
}

// checkFactRef checks the attribute named below host.facts in tr.
func checkFactRef(tr hcl.Traversal) *hcl.Diagnostic {
	name, ok := attrName(tr, 2)
	if !ok {
		return nil
	}
	if _, known := factTypes[name]; known {
		return nil
	}
	hint := suggest(name, factNames())
	for _, n := range factNames() {
		if hint == "" && strings.HasPrefix(n, name+"_") {
			hint = fmt.Sprintf(" Did you mean %q?", n)
		}
	}
	return refError(tr, "Unsupported attribute", "host.facts has no fact %q.%s It has: %s.", name, hint, strings.Join(factNames(), ", "))
}

// NeedsFacts reports whether the play's tasks or handlers, or a local
// value, refer to host.facts: such a play is instantiated for a host only
// once its facts were read (see InstantiateWithFacts); before that,
// Instantiate checks it with the facts unknown.
func (p *Playbook) NeedsFacts(play *Play) bool {
	for _, lc := range p.locals {
		if refersToFacts(lc.refs) {
			return true
		}
	}
	specs := append([]*TaskSpec{}, play.Tasks...)
	for _, h := range play.Handlers {
		specs = append(specs, h)
	}
	for _, s := range specs {
		for _, refs := range [][]hcl.Traversal{s.forEachRefs, s.whenRefs, s.nameRefs, s.bodyRefs} {
			if refersToFacts(refs) {
				return true
			}
		}
	}
	return false
}

// InstantiateWithFacts is Instantiate with host.facts known: what a play
// that NeedsFacts becomes once tend has read the host's facts.
func (p *Playbook) InstantiateWithFacts(play *Play, host *inventory.Host, facts Facts) (*HostPlan, hcl.Diagnostics) {
	return p.instantiatePlay(play, host, &facts)
}

// checkForHost checks a play that needs facts for one host, offline: host
// variables must exist, and each task is decoded with host.facts (and what
// depends on them) unknown, as CheckTasks does for no particular host.
func (p *Playbook) checkForHost(play *Play, host *inventory.Host, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	specs := append([]*TaskSpec{}, play.Tasks...)
	for _, name := range mapKeys(play.Handlers) {
		specs = append(specs, play.Handlers[name])
	}
	for _, s := range specs {
		var refs []hcl.Traversal
		for _, r := range [][]hcl.Traversal{s.forEachRefs, s.whenRefs, s.nameRefs, s.bodyRefs} {
			refs = append(refs, r...)
		}
		if d := checkHostVars(refs, host); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		diags = append(diags, p.checkSpec(s, ctx)...)
	}
	return diags
}

// FactsError is a play that could not be instantiated for a host once its
// facts were known.
func FactsError(diags hcl.Diagnostics) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			msg = d.Subject.String() + ": " + msg
		}
		msgs = append(msgs, msg)
	}
	return fmt.Errorf("with the host's facts, the play is invalid: %s", strings.Join(msgs, "; "))
}
