package playbooks

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// fileset lists a template tree relative to the playbook; for_each over it
// makes one task per file. try and can come from hcl's tryfunc.
func TestFilesetTryCan(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl":                     "locals {\n  x = 1\n}\nplay \"p\" {\n  hosts = [\"all\"]\n}\n",
		"templates/nginx/nginx.conf":   "a",
		"templates/nginx/sites/a.conf": "b",
		"templates/nginx/sites/b.txt":  "c",
		"templates/nginx/.hidden.conf": "d",
	})
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
	ctx, diags := pb.evalContext(unknownHost(), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, tc := range []struct{ expr, want, err string }{
		{`join(",", sort(fileset("templates/nginx", "**/*.conf")))`, ".hidden.conf,nginx.conf,sites/a.conf", ""},
		{`join(",", sort(fileset("templates", "nginx/*")))`, "nginx/.hidden.conf,nginx/nginx.conf", ""},
		{`length(fileset("templates", "*.none"))`, "0", ""},
		{`fileset("no/such/dir", "*")`, "", "no directory exists at"},
		{`fileset("templates", "[")`, "", "not a valid glob pattern"},
		{`try(local.x.nope, "fallback")`, "fallback", ""},
		{`try(tonumber("x"), 7)`, "7", ""},
		{`can(tonumber("x"))`, "false", ""},
		{`can(tonumber("3"))`, "true", ""},
	} {
		v, d := evalString(t, ctx, tc.expr)
		if tc.err != "" {
			if !strings.Contains(d, tc.err) {
				t.Errorf("%s: got %q / %q, want error %q", tc.expr, v, d, tc.err)
			}
			continue
		}
		if d != "" || v != tc.want {
			t.Errorf("%s = %q (%s), want %q", tc.expr, v, d, tc.want)
		}
	}
}

func evalString(t *testing.T, ctx *hcl.EvalContext, src string) (string, string) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "expr.hcl", hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return "", diags.Error()
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return "", diags.Error()
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), ""
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), ""
	case cty.Bool:
		return fmt.Sprint(v.True()), ""
	}
	return v.GoString(), ""
}
