package modules

import (
	"reflect"
	"slices"
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
	Arg    *string   `hcl:"arg,optional" sensitive:"argv"`
	Script *string   `hcl:"script,optional" sensitive:"script"`
	Target cty.Value `hcl:"target,optional" type:"string or list" default:"multi-user.target"`
	Tries  *int      `hcl:"tries,optional" min:"0" max:"100" doc:"Attempts."`
	Least  *int      `hcl:"least,optional" min:"1"`
	Mood   *string   `hcl:"mood,optional" sensitive:"ok" enum:"calm,loud"`
	Env    *string   `hcl:"env,optional" sensitive:"unit"`
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
		// refused is the attribute the error is about: the module must
		// see it as unknown and unset, and no longer as marked.
		refused string
	}{
		{`path = "/a"`, "", ""},
		{`state = "absent"`, `"path" is required`, "path"},
		{`path = null`, "path must not be null", "path"},
		{"path = \"/a\"\nstate = \"gone\"", `state must be "present" or "absent", not "gone". What.`, "state"},
		{"path = var.secret", "path is a path on the host", "path"},
		{"path = \"/a\"\nshown = var.secret", "shown is shown in plans", "shown"},
		{"path = \"/a\"\nkey = var.secret", "", ""},
		{"path = \"/a\"\narg = var.secret", "arg is written on gunicorn's command line", "arg"},
		{"path = \"/a\"\nscript = var.secret", "Command scripts and their environment", "script"},
		// Refused as sensitive before its value is checked (and quoted).
		{"path = \"/a\"\nstate = var.secret", "state is shown in plans", "state"},
		{"path = host.name\nstate = host.name", "", ""},
		{"path = \"/a\"\ntries = 101", "tries must be from 0 to 100, not 101. Attempts.", "tries"},
		{"path = \"/a\"\ntries = 0\nleast = 1", "", ""},
		{"path = \"/a\"\nleast = 0", "least must be at least 1, not 0.", "least"},
		// A sensitive value an attribute accepts is not quoted.
		{"path = \"/a\"\nmood = var.secret", `mood must be "calm" or "loud", not the sensitive value given.`, "mood"},
		{"path = \"/a\"\nmood = \"calm\"", "", ""},
	} {
		var cfg schemaTestConfig
		dec, diags, ok := decodeConfig(parseBody(t, "t.hcl", tc.src), ctx, &cfg)
		got := diags.Error()
		if !ok {
			t.Errorf("%q: gohcl refused it: %s", tc.src, got)
		}
		if tc.wantErr == "" && diags.HasErrors() {
			t.Errorf("%q: %s", tc.src, got)
		}
		if tc.wantErr != "" && (len(diags) != 1 || !strings.Contains(got, tc.wantErr) || !strings.HasPrefix(diags[0].Subject.String(), "t.hcl:")) {
			t.Errorf("%q: got %q, want one error %q at an attribute", tc.src, got, tc.wantErr)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("%q: the secret is in the diagnostic: %s", tc.src, got)
		}
		if a := tc.refused; a != "" && (!dec.unknown[a] || dec.marked[a] || schemaField(&cfg, a).IsValid() && !isNil(schemaField(&cfg, a))) {
			t.Errorf("%q: %s is not left unset and unknown: unknown %v, marked %v", tc.src, a, dec.unknown[a], dec.marked[a])
		}
	}
	// sensitive:"unit" takes the value and warns at the attribute.
	var ucfg schemaTestConfig
	if _, diags, _ := decodeConfig(parseBody(t, "t.hcl", "path = \"/a\"\nenv = var.secret"), ctx, &ucfg); len(diags) != 1 ||
		diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Detail, "world-readable") || diags[0].Subject.Start.Line != 2 || ucfg.Env == nil {
		t.Errorf("a sensitive env: want one warning at 2:1 and the value kept, got %v", diags)
	}
	var cfg schemaTestConfig
	if _, diags, _ := decodeConfig(parseBody(t, "t.hcl", `path = "/a"`), ctx, &cfg); diags.HasErrors() {
		t.Fatal(diags)
	}
	if cfg.State == nil || *cfg.State != "present" || cfg.Create == nil || !*cfg.Create || cfg.Count == nil || *cfg.Count != 3 ||
		!cfg.Target.RawEquals(cty.StringVal("multi-user.target")) {
		t.Errorf("defaults not filled in: %+v", cfg)
	}
	cfg = schemaTestConfig{}
	if _, diags, _ := decodeConfig(parseBody(t, "t.hcl", "path = host.name\nstate = host.name"), ctx, &cfg); diags.HasErrors() || cfg.State != nil {
		t.Errorf("an unknown state got a default or an error: %v %v", diags, cfg.State)
	}
	cfg = schemaTestConfig{}
	if _, diags, ok := decodeConfig(parseBody(t, "t.hcl", "path = \"/a\"\ncount = \"many\""), ctx, &cfg); ok || !diags.HasErrors() {
		t.Errorf("a value of the wrong type: ok %v, %v", ok, diags)
	}
	attrs := schemaOf(typeOf[schemaTestConfig]())
	want := []Attr{
		{Name: "path", Type: "string", Doc: "Where.", Required: true},
		{Name: "state", Type: "string", Doc: "What.", Default: "present", Enum: []string{"present", "absent"}},
		{Name: "create", Type: "bool", Default: "true"},
		{Name: "count", Type: "number", Default: "3"},
		{Name: "key", Type: "string", Sensitive: "ok"},
		{Name: "shown", Type: "string"},
		{Name: "list", Type: "list of string"},
		{Name: "arg", Type: "string"},
		{Name: "script", Type: "string"},
		{Name: "target", Type: "string or list", Default: "multi-user.target"},
		{Name: "tries", Type: "number", Doc: "Attempts.", Bounds: "from 0 to 100"},
		{Name: "least", Type: "number", Bounds: "at least 1"},
		{Name: "mood", Type: "string", Sensitive: "ok", Enum: []string{"calm", "loud"}},
		{Name: "env", Type: "string", Sensitive: "unit"},
	}
	if len(attrs) != len(want) {
		t.Fatalf("schema: %+v", attrs)
	}
	for i := range want {
		if attrs[i].Name != want[i].Name || attrs[i].Type != want[i].Type || attrs[i].Required != want[i].Required ||
			attrs[i].Default != want[i].Default || attrs[i].Sensitive != want[i].Sensitive || strings.Join(attrs[i].Enum, ",") != strings.Join(want[i].Enum, ",") ||
			attrs[i].Bounds != want[i].Bounds {
			t.Errorf("attr %d = %+v, want %+v", i, attrs[i], want[i])
		}
	}
}

// schemaField returns the field of cfg (a pointer to a config struct) that
// holds attribute name.
func schemaField(cfg any, name string) reflect.Value {
	v := reflect.ValueOf(cfg).Elem()
	for i := 0; i < v.NumField(); i++ {
		if n, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("hcl"), ","); n == name {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

// An unknown sensitive tag is a programming error, never an attribute that
// silently takes secrets.
func TestDecodeConfigUnknownSensitiveTag(t *testing.T) {
	var cfg struct {
		Key *string `hcl:"key,optional" sensitive:"yes"`
	}
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	decodeConfig(parseBody(t, "t.hcl", "key = var.secret"), sensitiveCtx("s3cret"), &cfg)
}

// TestRegisteredKinds checks what every kind declares: a summary, its
// attributes (a config), an example that decodes without errors, a doc,
// and a doc on every attribute.
func TestRegisteredKinds(t *testing.T) {
	for _, kind := range Kinds() {
		info, _ := Lookup(kind)
		if info.Summary == "" {
			t.Errorf("%s: no summary", kind)
		}
		if info.Config == nil {
			t.Errorf("%s: its attributes are not declared (Info.Config)", kind)
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

// TestRegisteredTags checks the tags of every kind's config: a sensitive
// tag decodeConfig knows, defaults that fill their field and fall within
// the attribute's enum, and settle's default that is DefaultSettle.
func TestRegisteredTags(t *testing.T) {
	for _, kind := range Kinds() {
		info, _ := Lookup(kind)
		if info.Config == nil {
			continue
		}
		typ := reflect.TypeOf(info.Config()).Elem()
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("hcl"), ",")
			if _, ok := refusals[f.Tag.Get("sensitive")]; !ok {
				t.Errorf("%s.%s: unknown sensitive tag %q", kind, name, f.Tag.Get("sensitive"))
			}
			d, ok := f.Tag.Lookup("default")
			if !ok {
				continue
			}
			if f.Tag.Get("required") == "true" {
				t.Errorf("%s.%s: required with a default", kind, name)
			}
			if err := setDefault(reflect.New(f.Type).Elem(), d); err != nil {
				t.Errorf("%s.%s: default %q: %v", kind, name, d, err)
			}
			if e := f.Tag.Get("enum"); e != "" && !slices.Contains(strings.Split(e, ","), d) {
				t.Errorf("%s.%s: default %q is not in its enum %s", kind, name, d, e)
			}
			if name == "settle" {
				if got, diags := decodeSettle(nil, &d); diags.HasErrors() || got != DefaultSettle {
					t.Errorf("%s.settle: default %q is not DefaultSettle (%s)", kind, d, DefaultSettle)
				}
			}
		}
	}
}

// A mistake decodeConfig reports leaves the module's other checks running,
// with the attribute taken as unknown: every other mistake is reported,
// nothing that depends on the refused value is, and no secret is quoted.
func TestDecodeCollectsAfterSchemaErrors(t *testing.T) {
	for _, tc := range []struct {
		name, kind, label, src string
		want                   []string // one error each, in any order
	}{
		{"file state and mode", "file", "/etc/x", "content = \"x\"\nstate = \"gone\"\nmode = \"999\"\n",
			[]string{`state must be "present" or "absent"`, "not an octal file mode"}},
		{"file bad state needs no content", "file", "/etc/x", "state = \"gone\"\n", []string{"state must be"}},
		{"gunicorn missing app", "gunicorn_service", "app", "gunicorn = \"/g\"\nbind = \"nowhere\"\n",
			[]string{`"app" is required`, "is not an address"}},
		{"gunicorn argv and type", "gunicorn_service", "app", gunicornBase + "extra_args = [\"--x\", var.secret]\ntype = \"forking\"\n",
			[]string{"extra_args is written on gunicorn's command line", `type must be "notify", "exec" or "simple", not "forking"`}},
		{"command script and timeout", "command", "x", "run = \"echo ${var.secret}\"\ntimeout = \"forever\"\n",
			[]string{"Sensitive value in a command", "not a duration"}},
		{"service state refused", "service", "nginx", "state = var.secret\nsettle = \"soon\"\n",
			[]string{"state is shown in plans", "not a duration"}},
		{"health retries and url", "health_check", "h", "url = \"ftp://x\"\nretries = 101\n",
			[]string{"not an http:// or https:// URL", "retries must be from 0 to 100, not 101"}},
		{"unit drop_ins and path", "systemd_unit", "app", "content = \"[Service]\\n\"\ndrop_ins = \"maybe\"\npath = \"rel\"\n",
			[]string{`drop_ins must be "refuse" or "allow", not "maybe"`, "not an absolute path"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := decodeModule(t, tc.kind, tc.label, tc.src, sensitiveCtx("s3cret-v4lue"))
			var errs []string
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					errs = append(errs, d.Summary+": "+d.Detail)
				}
				if strings.Contains(d.Summary+d.Detail, "s3cret-v4lue") {
					t.Errorf("a diagnostic quotes the secret: %s", d.Detail)
				}
				if d.Subject == nil || d.Subject.Filename != "test.hcl" {
					t.Errorf("a diagnostic has no place: %v", d)
				}
			}
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(tc.want), strings.Join(errs, "\n"))
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, w) }) {
					t.Errorf("no error says %q:\n%s", w, strings.Join(errs, "\n"))
				}
			}
		})
	}
}
