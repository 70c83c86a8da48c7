package playbooks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/tend-sh/tend/inventory"
)

// EnvPrefix starts the names of the environment variables that set playbook
// variables: TEND_VAR_db_password sets variable "db_password".
const EnvPrefix = "TEND_VAR_"

// Inputs are the values given for a playbook's variables from outside it.
// For each variable the value of highest precedence wins; from lowest to
// highest: the default, Env, Files (in order, a later file over an earlier
// one), Flags. Only the winning value is parsed and checked. Whatever its
// source, a value keeps its variable's sensitive flag.
type Inputs struct {
	// Env holds the values of TEND_VAR_<name> environment variables, by
	// variable name (see EnvInputs). Values for variables the playbook does
	// not declare are ignored: one environment serves many playbooks.
	Env map[string]string
	// Files are variable files (--var-file), HCL files of name = value
	// assignments, like Terraform's .tfvars. Values are HCL expressions
	// (functions allowed, variables not). A value for an undeclared
	// variable is a warning.
	Files []string
	// Flags holds the --var name=value values, by name. A value for an
	// undeclared variable is an error.
	Flags map[string]string
}

// EnvInputs returns the values of the TEND_VAR_<name> entries of environ
// (in the form of os.Environ), by variable name.
func EnvInputs(environ []string) map[string]string {
	out := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) && len(k) > len(EnvPrefix) {
			out[k[len(EnvPrefix):]] = v
		}
	}
	return out
}

// rawValue is one given value of a variable, not yet parsed.
type rawValue struct {
	// text is the value of an environment variable or --var flag; typed
	// variables parse it (see textValue).
	text string
	// expr is the expression of a variable file's assignment (nil for
	// text).
	expr hcl.Expression
	// file names where the value is, for diagnostics: a variable file, or a
	// pseudo file such as "<--var NAME>".
	file string
	// source names the value in messages: "--var NAME", "TEND_VAR_NAME",
	// "--var-file FILE".
	source string
}

// inputs resolves the variables' values from in, lowest precedence first,
// and checks every variable has a value.
func (l *loader) inputs(in Inputs) {
	given := map[string]rawValue{}
	for _, name := range mapKeys(in.Env) {
		if _, ok := l.p.Variables[name]; ok {
			given[name] = rawValue{text: in.Env[name], file: "<env " + EnvPrefix + name + ">", source: EnvPrefix + name}
		}
	}
	for _, fn := range in.Files {
		for name, rv := range l.varFile(fn) {
			given[name] = rv
		}
	}
	for _, name := range mapKeys(in.Flags) {
		fn := fmt.Sprintf("<--var %s>", name)
		if _, ok := l.p.Variables[name]; !ok {
			text := in.Flags[name]
			whole := hcl.Range{Filename: fn, Start: hcl.InitialPos,
				End: hcl.Pos{Line: 1, Column: len([]rune(text)) + 1, Byte: len(text)}}
			l.errorf(whole, "Value for undeclared variable",
				"--var %s: the playbook declares no variable %q.%s", name, name, suggest(name, mapKeys(l.p.Variables)))
			continue
		}
		given[name] = rawValue{text: in.Flags[name], file: fn, source: "--var " + name}
	}

	for _, name := range mapKeys(given) {
		v := l.p.Variables[name]
		rv := given[name]
		var val cty.Value
		var ok bool
		if rv.expr != nil {
			val, ok = l.exprValue(v, rv)
		} else {
			l.p.Files[rv.file] = &hcl.File{Bytes: []byte(rv.text)}
			val, ok = l.textValue(v, rv)
		}
		if !ok {
			// Reported; not "no value" as well.
			val = cty.DynamicVal
		}
		v.Value = val
	}

	vars := map[string]cty.Value{}
	for _, name := range mapKeys(l.p.Variables) {
		v := l.p.Variables[name]
		if v.Value == cty.NilVal {
			l.errorf(v.Range, "No value for required variable",
				"Variable %q has no default; set it with --var %s=VALUE, in a --var-file, or with the environment variable %s%s.", name, name, EnvPrefix, name)
			v.Value = cty.DynamicVal
		}
		if v.Sensitive {
			v.Value = v.Value.Mark(Sensitive)
		}
		vars[name] = v.Value
	}
	l.p.vars = cty.ObjectVal(vars)
}

// textValue types the text of an environment variable or --var flag: a
// string (or untyped) variable takes it as is, number and bool variables
// convert it, other types parse it as an HCL expression, like ["a", "b"] or
// { k = 1 }.
func (l *loader) textValue(v *Variable, rv rawValue) (cty.Value, bool) {
	text := rv.text
	switch {
	case v.Type == cty.DynamicPseudoType || v.Type == cty.String:
		return cty.StringVal(text), true
	case v.Type == cty.Number || v.Type == cty.Bool:
		cv, err := convert.Convert(cty.StringVal(strings.TrimSpace(text)), v.Type)
		if err != nil {
			whole := hcl.Range{Filename: rv.file, Start: hcl.InitialPos,
				End: hcl.Pos{Line: 1, Column: len([]rune(text)) + 1, Byte: len(text)}}
			l.errorf(whole, "Invalid value for variable",
				"%s: the variable is a %s, and %s.", rv.source, v.Type.FriendlyName(), valueQuote(text, v.Sensitive))
			return cty.NilVal, false
		}
		return cv, true
	}
	expr, d := hclsyntax.ParseExpression([]byte(text), rv.file, hcl.InitialPos)
	l.diags = append(l.diags, d...)
	if d.HasErrors() {
		return cty.NilVal, false
	}
	return l.exprValue(v, rawValue{expr: expr, file: rv.file, source: rv.source})
}

// exprValue evaluates a value expression (functions, no variables) and
// converts it to the variable's type. Diagnostics about a sensitive
// variable's value carry its place in their text only: a diagnostic's
// subject makes the printer show the source line, which holds the secret.
func (l *loader) exprValue(v *Variable, rv rawValue) (cty.Value, bool) {
	ctx := &hcl.EvalContext{Functions: l.p.funcs[v.Range.Filename]}
	if !strings.HasPrefix(rv.file, "<") {
		// A variable file: file() and templatefile() are relative to it.
		ctx.Functions = Functions(filepath.Dir(rv.file))
	}
	ev, d := rv.expr.Value(ctx)
	if d.HasErrors() {
		l.addValueDiags(v, d)
		return cty.NilVal, false
	}
	cv, err := convertVar(ev, v.Type, v.defaults)
	if err != nil {
		rng := rv.expr.Range()
		l.addValueDiags(v, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value for variable",
			Detail:  fmt.Sprintf("%s: the value does not match the type %s: %s.", rv.source, typeexpr.TypeString(v.Type), convertMessage(err, v.Sensitive)),
			Subject: &rng}})
		return cty.NilVal, false
	}
	return cv, true
}

// addValueDiags adds diagnostics about variable v's value; for a sensitive
// variable the place moves from the subject into the text.
func (l *loader) addValueDiags(v *Variable, diags hcl.Diagnostics) {
	for _, d := range diags {
		if v.Sensitive && d.Subject != nil && !strings.HasPrefix(d.Subject.Filename, "<") {
			c := *d
			c.Detail = fmt.Sprintf("%s:%d:%d: %s (The line is not shown: variable %q is sensitive.)",
				d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Detail, v.Name)
			c.Subject, c.Context, c.Expression, c.EvalContext = nil, nil, nil, nil
			d = &c
		}
		l.diags = append(l.diags, d)
	}
}

// varFile reads a variable file: name = value assignments. It returns the
// values for declared variables and warns about the others.
func (l *loader) varFile(fn string) map[string]rawValue {
	src, err := os.ReadFile(fn)
	if err != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Failed to read variables file",
			Detail: fmt.Sprintf("--var-file: cannot read %s: %s.", fn, err)})
		return nil
	}
	f, diags := hclparse.NewParser().ParseHCL(src, fn)
	l.diags = append(l.diags, diags...)
	if f == nil || diags.HasErrors() {
		return nil
	}
	l.p.Files[fn] = f
	attrs, diags := f.Body.JustAttributes()
	l.diags = append(l.diags, diags...)
	out := map[string]rawValue{}
	for _, a := range inventory.SortedAttrs(attrs) {
		if _, ok := l.p.Variables[a.Name]; !ok {
			rng := a.NameRange
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Value for undeclared variable",
				Detail:  fmt.Sprintf("--var-file %s sets %q, which the playbook does not declare; the value is ignored.%s", fn, a.Name, suggest(a.Name, mapKeys(l.p.Variables))),
				Subject: &rng})
			continue
		}
		out[a.Name] = rawValue{expr: a.Expr, file: fn, source: "--var-file " + fn}
	}
	return out
}
