package inventory

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// sensitive() marks inventory vars, and the mark survives the merge
// defaults < group < host whichever level the var comes from.
func TestSensitiveVarsSurviveMerge(t *testing.T) {
	t.Setenv("TEND_TEST_API_KEY", "api-key-from-env")
	inv := mustParse(t, `
defaults {
  vars = { db_password = sensitive("default-pw"), plain = "p" }
}
group "web" {
  vars = { api_key = sensitive(env("TEND_TEST_API_KEY")), plain = "web" }
  host "web1" { vars = { db_password = sensitive("web1-pw") } }
  host "web2" {}
}
host "db1" {
  vars = sensitive({ root_pw = "db1-root", port = 5432 })
}
`)
	hosts := map[string]*Host{}
	for _, h := range inv.Hosts {
		hosts[h.Name] = h
	}
	tests := []struct {
		host, name string
		want       cty.Value
		sensitive  bool
	}{
		{"web1", "db_password", cty.StringVal("web1-pw"), true},
		{"web1", "api_key", cty.StringVal("api-key-from-env"), true},
		{"web1", "plain", cty.StringVal("web"), false},
		{"web2", "db_password", cty.StringVal("default-pw"), true},
		{"web2", "api_key", cty.StringVal("api-key-from-env"), true},
		{"db1", "db_password", cty.StringVal("default-pw"), true},
		{"db1", "plain", cty.StringVal("p"), false},
		{"db1", "root_pw", cty.StringVal("db1-root"), true},
		{"db1", "port", cty.NumberIntVal(5432), true},
	}
	for _, tt := range tests {
		v, ok := hosts[tt.host].Vars[tt.name]
		if !ok {
			t.Errorf("%s: no var %s", tt.host, tt.name)
			continue
		}
		if got := v.HasMark(Sensitive); got != tt.sensitive {
			t.Errorf("%s.%s: sensitive = %v, want %v", tt.host, tt.name, got, tt.sensitive)
		}
		if uv, _ := v.Unmark(); !uv.RawEquals(tt.want) {
			t.Errorf("%s.%s = %#v, want %#v", tt.host, tt.name, uv, tt.want)
		}
	}
	// Computing with a sensitive value keeps the mark.
	if !inv.Vars["db_password"].HasMark(Sensitive) {
		t.Error("inventory-wide var lost its mark")
	}
}

// Connection settings, addresses and group lists are printed everywhere:
// a sensitive value there is an error at the attribute.
func TestSensitiveConnectionSettingsRefused(t *testing.T) {
	for _, tc := range []struct{ name, src, where string }{
		{"user", `defaults { user = sensitive("deploy") }`, "inv.hcl:1:19"},
		{"address", `host "a" { address = sensitive("10.0.0.1") }`, "inv.hcl:1:22"},
		{"port", `host "a" { port = sensitive(22) }`, "inv.hcl:1:19"},
		{"members", "host \"a\" {}\ngroup \"g\" { members = [sensitive(\"a\")] }", "inv.hcl:2:24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse([]byte(tc.src), "inv.hcl")
			if !diags.HasErrors() {
				t.Fatal("want an error")
			}
			d := diags[0]
			at := ""
			if d.Subject != nil {
				at = fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
			}
			if !strings.Contains(d.Summary, "Sensitive value") || at != tc.where {
				t.Errorf("got %q at %s, want a sensitive-value error at %s", d.Summary, at, tc.where)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{
		"plain":  cty.StringVal("shown"),
		"secret": cty.StringVal("hidden-value").Mark(Sensitive),
		"list":   cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("hidden-elem").Mark(Sensitive)}),
		"n":      cty.NumberIntVal(1),
	})
	r := Redacted(v)
	if r.ContainsMarked() {
		t.Fatal("redacted value is still marked")
	}
	want := cty.ObjectVal(map[string]cty.Value{
		"plain":  cty.StringVal("shown"),
		"secret": cty.StringVal("(sensitive)"),
		"list":   cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.StringVal("(sensitive)")}),
		"n":      cty.NumberIntVal(1),
	})
	if !r.RawEquals(want) {
		t.Errorf("Redacted = %#v", r)
	}
	if got := Redacted(cty.NumberIntVal(7).Mark(Sensitive)); !got.RawEquals(cty.StringVal("(sensitive)")) {
		t.Errorf("Redacted(marked number) = %#v", got)
	}
}
