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
