package playbooks

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/tend-sh/tend/inventory"
)

// Functions returns the functions playbook expressions may call: those of
// inventory.Functions, plus file(path) and templatefile(path, vars), which
// resolve relative paths against dir (the directory of the playbook file
// that holds the call). Templates rendered by templatefile may call the same
// functions except templatefile itself.
func Functions(dir string) map[string]function.Function {
	funcs := inventory.Functions()
	funcs["file"] = fileFunc(dir)
	tmplFuncs := inventory.Functions()
	tmplFuncs["file"] = funcs["file"]
	funcs["templatefile"] = templateFileFunc(dir, tmplFuncs)
	funcs["fileset"] = filesetFunc(dir)
	funcs["try"] = tryfunc.TryFunc
	funcs["can"] = tryfunc.CanFunc
	return funcs
}

// filesetFunc is Terraform's fileset(path, pattern): the regular files under
// path (relative to the playbook's directory) that pattern matches, as a
// set of paths relative to path. The pattern is a glob in which "**"
// matches any number of directories; a path that does not exist is an
// error (a misspelt template tree must not quietly yield no tasks).
func filesetFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "The regular files under a local directory that a glob pattern matches, relative to the directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}, {Name: "pattern", Type: cty.String}},
		Type:        function.StaticReturnType(cty.Set(cty.String)),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			root := resolvePath(dir, args[0].AsString())
			pattern := args[1].AsString()
			if !doublestar.ValidatePattern(pattern) {
				return cty.NilVal, function.NewArgErrorf(1, "%q is not a valid glob pattern", pattern)
			}
			if fi, err := os.Stat(root); err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "no directory exists at %s", root)
			} else if !fi.IsDir() {
				return cty.NilVal, function.NewArgErrorf(0, "%s is not a directory", root)
			}
			matches, err := doublestar.Glob(os.DirFS(root), pattern, doublestar.WithFilesOnly(), doublestar.WithFailOnIOErrors())
			if err != nil {
				return cty.NilVal, fmt.Errorf("listing %s: %w", root, err)
			}
			if len(matches) == 0 {
				return cty.SetValEmpty(cty.String), nil
			}
			vals := make([]cty.Value, len(matches))
			for i, m := range matches {
				vals[i] = cty.StringVal(m)
			}
			return cty.SetVal(vals), nil
		},
	})
}

func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func readLocal(dir, p string) ([]byte, string, error) {
	fn := resolvePath(dir, p)
	b, err := os.ReadFile(fn)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fn, fmt.Errorf("no file exists at %s", fn)
		}
		return nil, fn, err
	}
	return b, fn, nil
}

func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a local file (relative to the playbook's directory) as a UTF-8 string.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, fn, err := readLocal(dir, args[0].AsString())
			if err != nil {
				return cty.NilVal, err
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("%s is not valid UTF-8", fn)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

func templateFileFunc(dir string, funcs map[string]function.Function) function.Function {
	return function.New(&function.Spec{
		Description: "Renders a local HCL template file with the given variables.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			// An unknown vars (validation for no particular host) still
			// has the template read and parsed.
			{Name: "vars", Type: cty.DynamicPseudoType, AllowUnknown: true, AllowDynamicType: true},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return renderTemplateFile(dir, args[0].AsString(), args[1], funcs)
		},
	})
}

func renderTemplateFile(dir, name string, vars cty.Value, funcs map[string]function.Function) (cty.Value, error) {
	src, fn, err := readLocal(dir, name)
	if err != nil {
		return cty.NilVal, err
	}
	expr, diags := hclsyntax.ParseTemplate(src, fn, hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, diagsError(diags)
	}
	if !vars.IsKnown() {
		return cty.UnknownVal(cty.String), nil
	}
	vty := vars.Type()
	if vars.IsNull() || !(vty.IsObjectType() || vty.IsMapType()) {
		return cty.NilVal, function.NewArgErrorf(1, "vars must be an object, like { port = 8080 }")
	}
	ctxVars := map[string]cty.Value{}
	for it := vars.ElementIterator(); it.Next(); {
		k, v := it.Element()
		if !hclsyntax.ValidIdentifier(k.AsString()) {
			return cty.NilVal, function.NewArgErrorf(1, "%q is not a valid template variable name", k.AsString())
		}
		ctxVars[k.AsString()] = v
	}
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if _, ok := ctxVars[root]; !ok {
			keys := make([]string, 0, len(ctxVars))
			for k := range ctxVars {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return cty.NilVal, fmt.Errorf("%s: vars has no key %q (keys: %s)", rangeString(tr.SourceRange()), root, strings.Join(keys, ", "))
		}
	}
	v, diags := expr.Value(&hcl.EvalContext{Variables: ctxVars, Functions: funcs})
	if diags.HasErrors() {
		return cty.NilVal, diagsError(diags)
	}
	v, marks := v.UnmarkDeep()
	if !v.IsKnown() {
		return cty.UnknownVal(cty.String).WithMarks(marks), nil
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil || sv.IsNull() {
		return cty.NilVal, fmt.Errorf("the template %s must produce a string, not %s", fn, v.Type().FriendlyName())
	}
	return sv.WithMarks(marks), nil
}

func rangeString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// diagsError turns template diagnostics into one error, each with its place.
func diagsError(diags hcl.Diagnostics) error {
	var parts []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			msg = rangeString(*d.Subject) + ": " + msg
		}
		parts = append(parts, msg)
	}
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}
