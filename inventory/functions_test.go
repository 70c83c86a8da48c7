package inventory

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func TestFunctions(t *testing.T) {
	t.Setenv("TEND_TEST_FN", "set")
	tests := []struct {
		expr string
		want cty.Value
	}{
		{`upper("a")`, cty.StringVal("A")},
		{`join(",", ["a", "b"])`, cty.StringVal("a,b")},
		{`format("%s-%d", "w", 2)`, cty.StringVal("w-2")},
		{`replace("a.b.c", ".", "/")`, cty.StringVal("a/b/c")},
		{`replace("web12", "/[0-9]+$/", "")`, cty.StringVal("web")},
		{`length("héllo")`, cty.NumberIntVal(5)},
		{`length(["a", "b"])`, cty.NumberIntVal(2)},
		{`length({ a = 1 })`, cty.NumberIntVal(1)},
		{`startswith("/etc/x", "/etc/")`, cty.True},
		{`endswith("a.conf", ".service")`, cty.False},
		{`strcontains("abc", "b")`, cty.True},
		{`basename("/etc/app/x.conf")`, cty.StringVal("x.conf")},
		{`dirname("/etc/app/x.conf")`, cty.StringVal("/etc/app")},
		{`base64decode(base64encode("hi"))`, cty.StringVal("hi")},
		{`merge({ a = 1 }, { b = 2 })["b"]`, cty.NumberIntVal(2)},
		{`lookup({ a = 1 }, "z", 9)`, cty.NumberIntVal(9)},
		{`tostring(max(1, 5, 3))`, cty.StringVal("5")},
		{`env("TEND_TEST_FN")`, cty.StringVal("set")},
		{`env("TEND_TEST_FN_UNSET", "dflt")`, cty.StringVal("dflt")},
		{`jsonencode({ a = [1] })`, cty.StringVal(`{"a":[1]}`)},
	}
	ctx := &hcl.EvalContext{Functions: Functions()}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			expr, diags := hclsyntax.ParseExpression([]byte(tt.expr), "t.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			got, diags := expr.Value(ctx)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if !got.RawEquals(tt.want) {
				t.Errorf("= %#v, want %#v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{`env("TEND_TEST_FN_UNSET")`, `env("A", "b", "c")`, `length(1)`, `replace("a", "/[/", "")`} {
		expr, _ := hclsyntax.ParseExpression([]byte(bad), "t.hcl", hcl.InitialPos)
		if _, diags := expr.Value(ctx); !diags.HasErrors() {
			t.Errorf("%s: no error", bad)
		}
	}
}
