package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tend inventory shows sensitive vars as "(sensitive)", in text and JSON,
// and the rest of a partly sensitive var as usual.
func TestInventoryCommandHidesSensitiveVars(t *testing.T) {
	t.Setenv("TEND_TEST_DB_PASSWORD", "env-s3cret-db-pw")
	inv := writeTestFile(t, filepath.Join(t.TempDir(), "inventory.hcl"), `
defaults {
  vars = {
    db_password = sensitive(env("TEND_TEST_DB_PASSWORD"))
    db          = { host = "db1", password = sensitive("nested-s3cret") }
    workers     = 2
  }
}
host "web1" { connection = "local" }
`)
	text := tend(t, "inventory", "-i", inv)
	text.want(t, ExitOK)
	js := tend(t, "inventory", "-i", inv, "--json")
	js.want(t, ExitOK)
	for name, out := range map[string]string{"text": text.stdout + text.stderr, "json": js.stdout + js.stderr} {
		for _, secret := range []string{"env-s3cret-db-pw", "nested-s3cret"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s inventory leaks %q:\n%s", name, secret, out)
			}
		}
	}
	for _, want := range []string{"var db_password = (sensitive)", `host     = "db1"`, "var workers = 2"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("text inventory lacks %q:\n%s", want, text.stdout)
		}
	}
	var out struct {
		Hosts []struct {
			Vars map[string]any
		}
	}
	if err := json.Unmarshal([]byte(js.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, js.stdout)
	}
	vars := out.Hosts[0].Vars
	db, _ := vars["db"].(map[string]any)
	if vars["db_password"] != "(sensitive)" || db["password"] != "(sensitive)" || db["host"] != "db1" || vars["workers"] != 2.0 {
		t.Errorf("JSON vars: %v", vars)
	}
}

// The whole chain: an inventory var marked with sensitive(env(...)) reaches
// host.vars, a file's content is computed from it, and neither plan nor
// apply, in human or JSON form, ever prints it — for a new file and for a
// changed one.
func TestSensitiveInventoryVarNeverPrinted(t *testing.T) {
	h := newSSHHost(t)
	src, err := os.ReadFile(h.inventory)
	if err != nil {
		t.Fatal(err)
	}
	withSecret := strings.Replace(string(src), "vars = { workers = 2 }",
		`vars = { workers = 2, db_password = sensitive(env("TEND_TEST_CHAIN_PW")) }`, 1)
	if withSecret == string(src) {
		t.Fatal("test inventory changed shape")
	}
	writeTestFile(t, h.inventory, withSecret)
	target := filepath.Join(h.dir, "app.env")
	pb := writeTestFile(t, filepath.Join(t.TempDir(), "site.hcl"), fmt.Sprintf(`
play "site" {
  hosts = ["web"]
  file "app.env" {
    path    = %q
    content = "DB_PASSWORD=${host.vars.db_password}\nWORKERS=${host.vars.workers}\n"
  }
}
`, target))
	t.Setenv("NO_COLOR", "1")
	secrets := []string{"chain-s3cret-one", "chain-s3cret-two"}
	check := func(what string, r cli) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
				t.Errorf("%s prints the secret %q:\nstdout:\n%s\nstderr:\n%s", what, s, r.stdout, r.stderr)
			}
		}
	}

	t.Setenv("TEND_TEST_CHAIN_PW", secrets[0])
	plan := tend(t, "plan", pb, "-i", h.inventory)
	plan.want(t, ExitChanges)
	check("plan of a new file", plan)
	if !strings.Contains(plan.stdout, "sensitive") || !strings.Contains(plan.stdout, "mode: 0600") {
		t.Errorf("the plan should say the content is sensitive and the new file 0600:\n%s", plan.stdout)
	}
	planJSON := tend(t, "plan", pb, "-i", h.inventory, "--json")
	planJSON.want(t, ExitChanges)
	check("plan --json of a new file", planJSON)
	if !strings.Contains(planJSON.stdout, `"sensitive":true`) {
		t.Errorf("the JSON plan should flag the change sensitive:\n%s", planJSON.stdout)
	}
	apply := tend(t, "apply", pb, "-i", h.inventory, "--json")
	apply.want(t, ExitOK)
	check("apply --json", apply)
	if got, _ := os.ReadFile(target); string(got) != "DB_PASSWORD="+secrets[0]+"\nWORKERS=2\n" {
		t.Fatalf("app.env = %q", got)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("app.env holds a secret and no mode was given: want 0600, got %v, %v", fi.Mode(), err)
	}

	// The secret rotates: the diff of the existing file hides both values.
	t.Setenv("TEND_TEST_CHAIN_PW", secrets[1])
	for _, args := range [][]string{{"plan"}, {"plan", "--json"}} {
		r := tend(t, append(args, pb, "-i", h.inventory)...)
		r.want(t, ExitChanges)
		check(strings.Join(args, " ")+" of a changed file", r)
	}
	applied := tend(t, "apply", pb, "-i", h.inventory)
	applied.want(t, ExitOK)
	check("apply of a changed file", applied)
	if got, _ := os.ReadFile(target); !strings.Contains(string(got), secrets[1]) {
		t.Fatalf("app.env = %q", got)
	}
}

// --var-file and TEND_VAR_name set playbook variables like --var, with the
// precedence default < TEND_VAR_ < --var-file (in order) < --var; a
// variable file's type error points at file:line:col; a sensitive value from
// any source is never printed.
func TestVarFileAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.txt")
	pb := writeTestFile(t, filepath.Join(dir, "site.hcl"), fmt.Sprintf(`
variable "greeting" { default = "from-default" }
variable "workers" {
  type    = number
  default = 1
}
variable "token" {
  type      = string
  sensitive = true
}
play "p" {
  hosts = ["all"]
  file "out" {
    path    = %q
    content = "${var.greeting} ${var.workers}\n"
  }
  file "token" {
    path    = "%s.token"
    content = var.token
  }
}
`, target, target))
	one := writeTestFile(t, filepath.Join(dir, "one.tfvars"), "greeting = \"from-file-one\"\nworkers  = 3\n")
	two := writeTestFile(t, filepath.Join(dir, "two.tfvars"), "greeting = \"from-file-two\"\n")
	t.Setenv("NO_COLOR", "1")
	t.Setenv("TEND_VAR_token", "env-s3cret-token")
	t.Setenv("TEND_VAR_greeting", "from-env")

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"env over default", nil, "+from-env 1"},
		{"file over env", []string{"--var-file", one}, "+from-file-one 3"},
		{"later file wins", []string{"--var-file", one, "--var-file", two}, "+from-file-two 3"},
		{"flag over all", []string{"--var-file", one, "--var", "greeting=from-flag"}, "+from-flag 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tend(t, append([]string{"plan", pb}, tc.args...)...)
			r.want(t, ExitChanges)
			if !strings.Contains(r.stdout, tc.want) {
				t.Errorf("plan lacks %q:\n%s", tc.want, r.stdout)
			}
			if strings.Contains(r.stdout+r.stderr, "env-s3cret-token") {
				t.Errorf("the sensitive TEND_VAR_ value is printed:\n%s%s", r.stdout, r.stderr)
			}
		})
	}

	// A type error in a variable file: file:line:col of the value.
	bad := writeTestFile(t, filepath.Join(dir, "bad.tfvars"), "greeting = \"ok\"\nworkers  = \"many\"\n")
	r := tend(t, "validate", pb, "--var-file", bad)
	r.want(t, ExitInvalid)
	if !strings.Contains(r.stderr, "bad.tfvars:2:12: error: Invalid value for variable") {
		t.Errorf("want the error at bad.tfvars:2:12:\n%s", r.stderr)
	}

	// The same for the sensitive variable: the place, never the line.
	t.Setenv("TEND_VAR_token", "")
	secretBad := writeTestFile(t, filepath.Join(dir, "secret.tfvars"), "token = { v = \"file-s3cret-token\" }\n")
	r = tend(t, "validate", pb, "--var-file", secretBad)
	r.want(t, ExitInvalid)
	if !strings.Contains(r.stderr, "secret.tfvars:1:9") || strings.Contains(r.stderr, "file-s3cret-token") {
		t.Errorf("want the place of the sensitive value and not the value:\n%s", r.stderr)
	}

	// A missing variable file is invalid input.
	r = tend(t, "validate", pb, "--var-file", filepath.Join(dir, "nope.tfvars"))
	r.want(t, ExitInvalid)
	if !strings.Contains(r.stderr, "nope.tfvars") {
		t.Errorf("missing var file:\n%s", r.stderr)
	}
}
