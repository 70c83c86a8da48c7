package modules

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

type schemaTestConfig struct {
	Path   *string   `hcl:"path,optional" doc:"Where." required:"true" sensitive:"path"`
	State  *string   `hcl:"state,optional" doc:"What." enum:"present,absent" default:"present"`
	Create *bool     `hcl:"create,optional" default:"true"`
	Count  *int      `hcl:"count,optional" default:"3"`
	Key    *string   `hcl:"key,optional" sensitive:"ok"`
	Shown  *string   `hcl:"shown,optional"`
	List   cty.Value `hcl:"list,optional" type:"list of string"`
}

// TestDecodeConfig checks each tag's rule, one mistake per case, and that
// an unknown value is neither checked nor defaulted.
func TestDecodeConfig(t *testing.T) {
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var":  cty.ObjectVal(map[string]cty.Value{"secret": cty.StringVal("s3cret").Mark("sensitive")}),
		"host": cty.UnknownVal(cty.Object(map[string]cty.Type{"name": cty.String})),
	}}
	for _, tc := range []struct {
		src, wantErr string
	}{
		{`path = "/a"`, ""},
		{`state = "absent"`, `"path" is required`},
		{`path = null`, "path must not be null"},
		{"path = \"/a\"\nstate = \"gone\"", `state must be "present" or "absent", not "gone"`},
		{"path = var.secret", "path"},
		{"path = \"/a\"\nshown = var.secret", "shown"},
		{"path = \"/a\"\nkey = var.secret", ""},
		{"path = host.name\nstate = host.name", ""},
	} {
		var cfg schemaTestConfig
		_, diags := decodeConfig(parseBody(t, "t.hcl", tc.src), ctx, &cfg)
		got := diags.Error()
		if tc.wantErr == "" && diags.HasErrors() {
			t.Errorf("%q: %s", tc.src, got)
		}
		if tc.wantErr != "" && (!diags.HasErrors() || !strings.Contains(got, tc.wantErr)) {
			t.Errorf("%q: got %q, want %q", tc.src, got, tc.wantErr)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("%q: the secret is in the diagnostic: %s", tc.src, got)
		}
	}
	var cfg schemaTestConfig
	if _, diags := decodeConfig(parseBody(t, "t.hcl", `path = "/a"`), ctx, &cfg); diags.HasErrors() {
		t.Fatal(diags)
	}
	if cfg.State == nil || *cfg.State != "present" || cfg.Create == nil || !*cfg.Create || cfg.Count == nil || *cfg.Count != 3 {
		t.Errorf("defaults not filled in: %+v", cfg)
	}
	cfg = schemaTestConfig{}
	if _, diags := decodeConfig(parseBody(t, "t.hcl", "path = host.name\nstate = host.name"), ctx, &cfg); diags.HasErrors() || cfg.State != nil {
		t.Errorf("an unknown state got a default or an error: %v %v", diags, cfg.State)
	}
	attrs := schemaOf(typeOf[schemaTestConfig]())
	want := []Attr{
		{Name: "path", Type: "string", Doc: "Where.", Required: true},
		{Name: "state", Type: "string", Doc: "What.", Default: "present", Enum: []string{"present", "absent"}},
		{Name: "create", Type: "bool", Default: "true"},
		{Name: "count", Type: "number", Default: "3"},
		{Name: "key", Type: "string", Sensitive: true},
		{Name: "shown", Type: "string"},
		{Name: "list", Type: "list of string"},
	}
	if len(attrs) != len(want) {
		t.Fatalf("schema: %+v", attrs)
	}
	for i := range want {
		if attrs[i].Name != want[i].Name || attrs[i].Type != want[i].Type || attrs[i].Required != want[i].Required ||
			attrs[i].Default != want[i].Default || attrs[i].Sensitive != want[i].Sensitive || strings.Join(attrs[i].Enum, ",") != strings.Join(want[i].Enum, ",") {
			t.Errorf("attr %d = %+v, want %+v", i, attrs[i], want[i])
		}
	}
}

// TestRegisteredKinds checks what every kind declares: a summary, and when
// it declares a config, an example that decodes without errors, a doc, and
// a doc on every attribute.
func TestRegisteredKinds(t *testing.T) {
	for _, kind := range Kinds() {
		info, _ := Lookup(kind)
		if info.Summary == "" {
			t.Errorf("%s: no summary", kind)
		}
		if info.Config == nil {
			continue
		}
		if info.Doc == "" || info.Example == "" {
			t.Errorf("%s: no doc or example", kind)
		}
		for _, a := range Schema(info) {
			if a.Doc == "" {
				t.Errorf("%s.%s: no doc", kind, a.Name)
			}
		}
		checkExample(t, info)
	}
}

// checkExample decodes each block of info's example (only the module's own
// attributes: no meta-arguments) as a task of the kind.
func checkExample(t *testing.T, info Info) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(info.Example), info.Kind+"-example.hcl", hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		t.Errorf("%s: example: %v", info.Kind, diags)
		return
	}
	blocks := f.Body.(*hclsyntax.Body).Blocks
	if len(blocks) == 0 {
		t.Errorf("%s: the example has no block", info.Kind)
	}
	for _, b := range blocks {
		if b.Type != info.Kind || len(b.Labels) != 1 {
			t.Errorf("%s: example block %s %v is not one task of the kind", info.Kind, b.Type, b.Labels)
			continue
		}
		if diags := info.New().Decode(b.Labels[0], b.Body, nil); diags.HasErrors() {
			t.Errorf("%s: example: %v", info.Kind, diags)
		}
	}
}
