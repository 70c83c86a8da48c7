package inventory

import (
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Sensitive is the cty mark of secret values: the values of playbook
// variables declared sensitive, the results of sensitive(...) in inventories
// and playbooks, and everything computed from them (cty carries marks through
// operations and function calls). Modules see which of their attributes held
// a marked value and keep such values out of plans, logs and --json.
const Sensitive = mark("sensitive")

type mark string

// SensitiveFunc is sensitive(value), as in Terraform: the value, marked
// Sensitive. In an inventory it is how a var is made secret:
//
//	vars = { db_password = sensitive(env("DB_PASSWORD")) }
var SensitiveFunc = function.New(&function.Spec{
	Description: "Returns its argument marked sensitive: it and everything computed from it are never shown in plans, diffs, --json or diagnostics.",
	Params: []function.Parameter{{
		Name:             "value",
		Type:             cty.DynamicPseudoType,
		AllowUnknown:     true,
		AllowNull:        true,
		AllowMarked:      true,
		AllowDynamicType: true,
	}},
	Type: func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return args[0].Mark(Sensitive), nil
	},
})

// IsSensitive reports whether v or anything inside it is marked sensitive
// (or carries any other mark: tend uses marks for nothing else).
func IsSensitive(v cty.Value) bool {
	return v != cty.NilVal && v.ContainsMarked()
}

// Redacted returns v with every marked part replaced by the string
// "(sensitive)", so that it can be printed or encoded (hclwrite and the cty
// JSON encoder refuse marked values). Lists and sets that hold a sensitive
// element become tuples and maps objects, since the replacement changes the
// element's type.
func Redacted(v cty.Value) cty.Value {
	if v == cty.NilVal || !v.ContainsMarked() {
		return v
	}
	if v.IsMarked() {
		return cty.StringVal("(sensitive)")
	}
	ty := v.Type()
	switch {
	case v.IsNull() || !v.IsKnown():
		return v
	case ty.IsObjectType() || ty.IsMapType():
		attrs := map[string]cty.Value{}
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			attrs[k.AsString()] = Redacted(ev)
		}
		return cty.ObjectVal(attrs)
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		var elems []cty.Value
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			elems = append(elems, Redacted(ev))
		}
		return cty.TupleVal(elems)
	}
	return cty.StringVal("(sensitive)")
}
