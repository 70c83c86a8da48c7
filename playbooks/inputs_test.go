package playbooks

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

const inputsPlaybook = `
variable "name"    { default = "default" }
variable "workers" {
  type    = number
  default = 1
}
variable "hosts_list" {
  type    = list(string)
  default = []
}
variable "db_password" {
  type      = string
  sensitive = true
  default   = "default-pw"
}
variable "db" {
  type      = object({ user = string, port = number })
  sensitive = true
  default   = { user = "app", port = 5432 }
}
play "p" {
  hosts = ["all"]
}
`

func loadInputs(t *testing.T, files map[string]string, in func(dir string) Inputs) (*Playbook, hcl.Diagnostics) {
	t.Helper()
	all := map[string]string{"main.hcl": inputsPlaybook}
	for k, v := range files {
		all[k] = v
	}
	dir := writeFiles(t, all)
	return LoadWith([]string{filepath.Join(dir, "main.hcl")}, in(dir))
}

// Each source overrides the ones before it: default < TEND_VAR_ <
// --var-file (in order) < --var.
func TestInputsPrecedence(t *testing.T) {
	files := map[string]string{
		"one.tfvars": "name = \"file-one\"\nworkers = 3\n",
		"two.tfvars": "name = \"file-two\"\n",
	}
	tests := []struct {
		name  string
		in    func(dir string) Inputs
		want  string
		wantW int64
	}{
		{"default", func(string) Inputs { return Inputs{} }, "default", 1},
		{"env", func(string) Inputs {
			return Inputs{Env: map[string]string{"name": "env", "workers": "2"}}
		}, "env", 2},
		{"file over env", func(dir string) Inputs {
			return Inputs{Env: map[string]string{"name": "env", "workers": "2"}, Files: []string{filepath.Join(dir, "one.tfvars")}}
		}, "file-one", 3},
		{"later file over earlier", func(dir string) Inputs {
			return Inputs{Env: map[string]string{"workers": "2"}, Files: []string{filepath.Join(dir, "one.tfvars"), filepath.Join(dir, "two.tfvars")}}
		}, "file-two", 3},
		{"earlier file under later", func(dir string) Inputs {
			return Inputs{Files: []string{filepath.Join(dir, "two.tfvars"), filepath.Join(dir, "one.tfvars")}}
		}, "file-one", 3},
		{"flag over all", func(dir string) Inputs {
			return Inputs{Env: map[string]string{"name": "env"}, Files: []string{filepath.Join(dir, "one.tfvars")},
				Flags: map[string]string{"name": "flag", "workers": "7"}}
		}, "flag", 7},
		{"only the winner is parsed", func(dir string) Inputs {
			return Inputs{Env: map[string]string{"workers": "not a number"}, Flags: map[string]string{"workers": "4"}}
		}, "default", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb, diags := loadInputs(t, files, tt.in)
			if diags.HasErrors() || len(diags) != 0 {
				t.Fatalf("diagnostics: %s", diagsString(diags))
			}
			if got := pb.Variables["name"].Value; !got.RawEquals(cty.StringVal(tt.want)) {
				t.Errorf("name = %#v, want %q", got, tt.want)
			}
			if got := pb.Variables["workers"].Value; !got.RawEquals(cty.NumberIntVal(tt.wantW)) {
				t.Errorf("workers = %#v, want %d", got, tt.wantW)
			}
		})
	}
}

// Values are typed like --var whatever their source; values of sensitive
// variables are marked whatever their source, and sensitive() in a variable
// file marks the value of any variable.
func TestInputsTypesAndSensitivity(t *testing.T) {
	pb, diags := loadInputs(t, map[string]string{
		"v.tfvars": "hosts_list = [\"a\", \"b\"]\ndb = { user = \"ops\", port = \"6432\" }\nname = sensitive(\"marked-in-file\")\n",
	}, func(dir string) Inputs {
		return Inputs{Env: map[string]string{"db_password": "env-pw", "workers": " 5 "}, Files: []string{filepath.Join(dir, "v.tfvars")}}
	})
	if diags.HasErrors() {
		t.Fatal(diagsString(diags))
	}
	checks := []struct {
		name      string
		want      cty.Value
		sensitive bool
	}{
		{"hosts_list", cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}), false},
		{"db", cty.ObjectVal(map[string]cty.Value{"user": cty.StringVal("ops"), "port": cty.NumberIntVal(6432)}), true},
		{"db_password", cty.StringVal("env-pw"), true},
		{"workers", cty.NumberIntVal(5), false},
		{"name", cty.StringVal("marked-in-file"), true},
	}
	for _, c := range checks {
		v := pb.Variables[c.name].Value
		if got := v.ContainsMarked(); got != c.sensitive {
			t.Errorf("%s: sensitive = %v, want %v", c.name, got, c.sensitive)
		}
		if uv, _ := v.UnmarkDeep(); !uv.RawEquals(c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, uv, c.want)
		}
	}
}

// A variable file's mistakes point at the file: a type error at the value
// (file:line:col), an undeclared name as a warning at the name. A sensitive
// variable's error names the place in its text and has no subject, so that
// no source line (holding the secret) is printed.
func TestInputsVarFileDiagnostics(t *testing.T) {
	pb, diags := loadInputs(t, map[string]string{
		"bad.tfvars": "workers = \"many\"\nwrokers = 2\ndb = { user = \"s3cret-user\" }\n",
	}, func(dir string) Inputs { return Inputs{Files: []string{filepath.Join(dir, "bad.tfvars")}} })
	fn := filepath.Join(pb.BaseDir, "bad.tfvars")
	var typeErr, undeclared, sensitive *hcl.Diagnostic
	for _, d := range diags {
		switch {
		case d.Severity == hcl.DiagError && strings.Contains(d.Detail, "type number"):
			typeErr = d
		case d.Severity == hcl.DiagWarning && strings.Contains(d.Detail, "wrokers"):
			undeclared = d
		case d.Severity == hcl.DiagError && strings.Contains(d.Detail, "sensitive"):
			sensitive = d
		}
	}
	if typeErr == nil || undeclared == nil || sensitive == nil {
		t.Fatalf("want a type error, an undeclared warning and a sensitive type error: %s", diagsString(diags))
	}
	if got := where(typeErr); got != fn+":1:11" {
		t.Errorf("type error at %s, want %s:1:11", got, fn)
	}
	if !strings.Contains(typeErr.Detail, "--var-file "+fn) {
		t.Errorf("type error should name its source: %s", typeErr.Detail)
	}
	if got := where(undeclared); got != fn+":2:1" || !strings.Contains(undeclared.Detail, `"workers"`) {
		t.Errorf("undeclared warning at %s: %s", got, undeclared.Detail)
	}
	if sensitive.Subject != nil || !strings.Contains(sensitive.Detail, fn+":3:6") || strings.Contains(sensitive.Detail, "s3cret") {
		t.Errorf("sensitive variable's error: subject %v, detail %s", sensitive.Subject, sensitive.Detail)
	}
}

// TEND_VAR_ values for undeclared variables are ignored; --var values for
// them are an error, and a missing required value names every source.
func TestInputsUndeclaredAndRequired(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": "variable \"token\" {}\nplay \"p\" { hosts = [\"all\"] }\n"})
	main := filepath.Join(dir, "main.hcl")
	_, diags := LoadWith([]string{main}, Inputs{Env: map[string]string{"token": "t", "other": "x"}})
	if len(diags) != 0 {
		t.Errorf("env for an undeclared variable: %s", diagsString(diags))
	}
	_, diags = LoadWith([]string{main}, Inputs{Env: map[string]string{"token": "t"}, Flags: map[string]string{"other": "x"}})
	if !diags.HasErrors() || !strings.Contains(diags[0].Summary, "undeclared") {
		t.Errorf("--var for an undeclared variable: %s", diagsString(diags))
	}
	_, diags = LoadWith([]string{main}, Inputs{})
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "TEND_VAR_token") || !strings.Contains(diags[0].Detail, "--var-file") {
		t.Errorf("missing value: %s", diagsString(diags))
	}
}

func TestEnvInputs(t *testing.T) {
	got := EnvInputs([]string{"TEND_VAR_db_password=a=b", "TEND_VAR_=x", "HOME=/root", "TEND_VARX=1", "TEND_VAR_empty="})
	want := map[string]string{"db_password": "a=b", "empty": ""}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("EnvInputs = %v, want %v", got, want)
	}
}

func where(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return "(none)"
	}
	return fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
}
