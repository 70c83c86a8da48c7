package playbooks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/inventory"
)

// scope says which references an expression may make.
type scope struct {
	// where names the place in messages, e.g. "a play's hosts".
	where                   string
	local, host, each, vars bool
}

var (
	scopeConst   = scope{where: "this argument"}
	scopePlay    = scope{where: "a play's hosts and become", vars: true}
	scopeLocal   = scope{where: "locals", vars: true, local: true, host: true}
	scopeTask    = scope{where: "a task", vars: true, local: true, host: true}
	scopeEach    = scope{where: "a for_each task", vars: true, local: true, host: true, each: true}
	scopeForEach = scope{where: "for_each", vars: true, local: true, host: true}
)

// hostAttrs are the attributes of the host object.
var hostAttrs = []string{"address", "facts", "groups", "name", "vars"}

// bodyTraversals returns every variable reference in body and its nested
// blocks, in source order.
func bodyTraversals(body *hclsyntax.Body) []hcl.Traversal {
	var out []hcl.Traversal
	for _, a := range sortedSyntaxAttrs(body.Attributes) {
		out = append(out, a.Expr.Variables()...)
	}
	for _, b := range body.Blocks {
		out = append(out, bodyTraversals(b.Body)...)
	}
	return out
}

func sortedSyntaxAttrs(attrs hclsyntax.Attributes) []*hclsyntax.Attribute {
	out := make([]*hclsyntax.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SrcRange.Start.Byte < out[j].SrcRange.Start.Byte })
	return out
}

func refError(tr hcl.Traversal, summary, format string, args ...any) *hcl.Diagnostic {
	rng := tr.SourceRange()
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: &rng}
}

// attrName returns the name of the traversal's step i when it is an
// attribute access or a string index, and whether there is one.
func attrName(tr hcl.Traversal, i int) (string, bool) {
	if len(tr) <= i {
		return "", false
	}
	switch s := tr[i].(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// checkRefs checks, without any host, that refs only name what exists in sc.
func (p *Playbook) checkRefs(refs []hcl.Traversal, sc scope, localNames map[string]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range refs {
		root := tr.RootName()
		allowed := map[string]bool{"var": sc.vars, "local": sc.local, "host": sc.host, "each": sc.each}
		if ok, known := allowed[root]; known && !ok {
			if root == "each" {
				diags = append(diags, refError(tr, `Reference to "each" in context without for_each`,
					"each.key and each.value can only be used in the body of a task that has for_each."))
			} else {
				diags = append(diags, refError(tr, "Invalid reference",
					"%s cannot refer to %s.*: it is evaluated %s.", capitalize(sc.where), root, scopeWhen(sc)))
			}
			continue
		}
		name, hasName := attrName(tr, 1)
		switch root {
		case "var":
			if !hasName {
				diags = append(diags, refError(tr, "Invalid reference", "A reference to var must name a variable, like var.app_dir."))
			} else if _, ok := p.Variables[name]; !ok {
				diags = append(diags, refError(tr, "Reference to undeclared input variable",
					"An input variable named %q has not been declared.%s Declare it with a variable %q block.",
					name, suggest(name, mapKeys(p.Variables)), name))
			}
		case "local":
			if !hasName {
				diags = append(diags, refError(tr, "Invalid reference", "A reference to local must name a local value, like local.unit."))
			} else if !localNames[name] {
				diags = append(diags, refError(tr, "Reference to undeclared local value",
					"A local value named %q has not been declared.%s", name, suggest(name, boolKeys(localNames))))
			}
		case "host":
			if !hasName {
				break // the whole host object
			}
			if !contains(hostAttrs, name) {
				diags = append(diags, refError(tr, "Unsupported attribute",
					"The host object has no attribute %q.%s It has: %s.", name, suggest(name, hostAttrs), strings.Join(hostAttrs, ", ")))
			} else if name == "facts" {
				if d := checkFactRef(tr); d != nil {
					diags = append(diags, d)
				}
			}
		case "each":
			if hasName && name != "key" && name != "value" {
				diags = append(diags, refError(tr, "Unsupported attribute",
					"The each object has only key and value, not %q.", name))
			}
		default:
			diags = append(diags, refError(tr, "Unknown variable",
				"There is no variable named %q. Expressions may refer to var.<name>, local.<name>, host.name, host.address, host.groups, host.vars.<name>, host.facts.<name>, and each.key / each.value in for_each tasks.", root))
		}
	}
	return diags
}

func scopeWhen(sc scope) string {
	if !sc.host {
		return "once for all hosts"
	}
	return "before for_each"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// checkHostVars checks that every host.vars.<name> reference in refs names
// a variable the host has (h nil: no particular host, nothing to check).
// The message does not name the host, so that hosts with the same vars get
// the same diagnostic (reported once, with the hosts' names).
func checkHostVars(refs []hcl.Traversal, h *inventory.Host) hcl.Diagnostics {
	if h == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, tr := range refs {
		if tr.RootName() != "host" {
			continue
		}
		if n, ok := attrName(tr, 1); !ok || n != "vars" {
			continue
		}
		name, ok := attrName(tr, 2)
		if !ok {
			continue
		}
		if _, ok := h.Vars[name]; ok {
			continue
		}
		have := mapKeys(h.Vars)
		list := "it has none"
		if len(have) > 0 {
			list = "it has " + strings.Join(have, ", ")
		}
		diags = append(diags, refError(tr, "Unknown host variable",
			"The host has no variable %q (%s).%s Set it in the inventory, or use lookup(host.vars, %q, <default>).",
			name, list, suggest(name, have), name))
	}
	return diags
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func boolKeys(m map[string]bool) []string { return mapKeys(m) }

// suggest is inventory.Suggest: one "did you mean" for all diagnostics.
var suggest = inventory.Suggest
