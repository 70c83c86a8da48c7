package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mistakes is a playbook for the web group with one module mistake of each
// kind that used to hide: behind "No hosts match" without -i, or in tasks
// that no host runs. Each is at a known line:col.
const mistakes = `play "site" {
  hosts = ["web"]

  file "/etc/app.conf" {
    contnet = "x"
  }
  gunicorn_service "app" {
    gunicorn = "/venv/bin/gunicorn"
    app      = "a.wsgi:application"
    bind     = "unix:/run/a.sock"
    workers  = 0
  }
  directory "/srv/app" {
    mode = 644
  }
  file "/etc/site" {
    template = "nope.tpl"
    vars     = { workers = host.vars.workers }
  }
  directory "/srv/canary" {
    mode = "0999"
    when = host.name == "canary"
  }
  file "extra" {
    for_each = toset([])
    path     = "/etc/${each.key}"
    content  = "x"
    mode     = "0888"
  }
}
`

// mistakesAt are the places and messages of the mistakes.
var mistakesAt = []string{
	"site.hcl:5:5: error: Unsupported argument",
	"site.hcl:11:5: error: Invalid workers",
	"site.hcl:14:5: error: Invalid mode",
	`Write mode = "0644".`,
	"site.hcl:17:5: error: Cannot read template",
	"site.hcl:21:5: error: Invalid mode",
	"site.hcl:28:5: error: Invalid mode",
}

// inventoryWeb writes an inventory with n hosts web1..webn in group web,
// with vars.
func inventoryWeb(t *testing.T, n int, vars string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "group \"web\" {\n  vars = %s\n", vars)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  host \"web%d\" { address = \"192.0.2.%d\" }\n", i, i)
	}
	b.WriteString("}\n")
	return writeTestFile(t, filepath.Join(t.TempDir(), "inventory.hcl"), b.String())
}

// TestValidateFindsEveryModuleError: without -i, every module mistake is
// reported (not only "No hosts match", which is a warning for validate and
// stays an error for plan); with -i, the mistakes in tasks no host runs are
// reported too. Each at its file:line:col, exit 5.
func TestValidateFindsEveryModuleError(t *testing.T) {
	dir := t.TempDir()
	pb := writeTestFile(t, filepath.Join(dir, "site.hcl"), mistakes)
	t.Chdir(dir)
	inv := inventoryWeb(t, 3, "{ workers = 2 }")
	for _, tc := range []struct {
		name      string
		args      []string
		noHostsAs string // how "No hosts match" is reported; "" = not at all
	}{
		{"validate without -i", []string{"validate", pb}, "warning: No hosts match"},
		{"plan without -i", []string{"plan", pb}, "error: No hosts match"},
		{"apply without -i", []string{"apply", pb}, "error: No hosts match"},
		{"validate -i", []string{"validate", pb, "-i", inv}, ""},
		{"plan -i", []string{"plan", pb, "-i", inv}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tend(t, append(tc.args, "--no-color")...)
			r.want(t, ExitInvalid)
			for _, want := range mistakesAt {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q", want)
				}
			}
			if tc.noHostsAs != "" && !strings.Contains(r.stderr, tc.noHostsAs) {
				t.Errorf("stderr lacks %q", tc.noHostsAs)
			}
			if tc.noHostsAs == "" && strings.Contains(r.stderr, "No hosts match") {
				t.Errorf("No hosts match with an inventory that has the group")
			}
			if n := strings.Count(r.stderr, "error:"); n != len(mistakesAt)-1+boolInt(strings.HasPrefix(tc.noHostsAs, "error")) {
				t.Errorf("%d errors printed, want each mistake once", n)
			}
			if t.Failed() {
				t.Logf("stderr:\n%s", r.stderr)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestValidateWithoutInventoryWarns: a correct playbook written for an
// inventory validates without -i: its plays' hosts are only a warning
// there (and still an error for plan, which would run on localhost).
func TestValidateWithoutInventoryWarns(t *testing.T) {
	dir := t.TempDir()
	pb := writeTestFile(t, filepath.Join(dir, "site.hcl"), `play "site" {
  hosts = ["web"]
  file "/etc/app.conf" {
    content = "workers = ${host.vars.workers}\n"
    mode    = "0644"
  }
}
`)
	r := tend(t, "validate", pb, "--no-color")
	r.want(t, ExitOK)
	if !strings.Contains(r.stderr, "warning: No hosts match") || !strings.Contains(r.stderr, "give the inventory with -i") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "Valid: 1 task checked for any host; 0 task instances across 0 hosts.") {
		t.Errorf("stdout: %s", r.stdout)
	}
	tend(t, "plan", pb, "--no-color").want(t, ExitInvalid)
	withInv := tend(t, "validate", pb, "-i", inventoryWeb(t, 2, "{ workers = 2 }"), "--no-color")
	withInv.want(t, ExitOK)
	if withInv.stderr != "" || !strings.Contains(withInv.stdout, "Valid: 1 task checked for any host; 2 task instances across 2 hosts.") {
		t.Errorf("with -i: stdout %q, stderr %q", withInv.stdout, withInv.stderr)
	}
}

// TestDiagnosticsOncePerMistake: two mistakes on 50 hosts are two blocks,
// not 100; a mistake that depends on the host's values names the hosts.
func TestDiagnosticsOncePerMistake(t *testing.T) {
	dir := t.TempDir()
	pb := writeTestFile(t, filepath.Join(dir, "site.hcl"), `play "site" {
  hosts = ["web"]
  gunicorn_service "app" {
    gunicorn = "/venv/bin/gunicorn"
    app      = "a.wsgi:application"
    bind     = "unix:/run/a.sock"
    workers  = host.vars.workers
    timeout  = 0
  }
  file "/etc/motd" {
    content = "hello"
    mode    = "0999"
  }
}
`)
	inv := inventoryWeb(t, 50, "{ workers = 0 }")
	for _, cmd := range []string{"validate", "plan"} {
		r := tend(t, cmd, pb, "-i", inv, "--no-color")
		r.want(t, ExitInvalid)
		if n := strings.Count(r.stderr, "error:"); n != 3 {
			t.Errorf("%s: %d error blocks, want 3:\n%s", cmd, n, r.stderr)
		}
		if !strings.Contains(r.stderr, "(on 50 hosts: web1, web2, web3, web4, web5 and 45 more)") {
			t.Errorf("%s: the host-specific workers error should name its hosts:\n%s", cmd, r.stderr)
		}
		if strings.Count(r.stderr, "(on ") != 1 {
			t.Errorf("%s: only the host-specific error names hosts:\n%s", cmd, r.stderr)
		}
	}
}

// TestConnectionSettingsCheckedOffline: validate -i, plan and apply refuse
// an identity_file that does not exist and a become_password_env that is
// not set, naming the hosts and the place in the inventory, with exit 5 and
// no connection.
func TestConnectionSettingsCheckedOffline(t *testing.T) {
	h := newSSHHost(t)
	pb := h.playbook(t)
	inv, _ := os.ReadFile(h.inventory)
	missing := filepath.Join(t.TempDir(), "no_such_key")
	lines := strings.Split(string(inv), "\n")
	keyLine := 0
	for i, l := range lines {
		if strings.Contains(l, "identity_file") {
			lines[i] = fmt.Sprintf("  identity_file    = %q", missing)
			keyLine = i + 1
		}
	}
	writeTestFile(t, h.inventory, strings.Join(lines, "\n"))
	for _, cmd := range []string{"validate", "plan", "apply"} {
		r := tend(t, cmd, pb, "-i", h.inventory, "--no-color")
		r.want(t, ExitInvalid)
		want := fmt.Sprintf("inventory.hcl:%d:22: error: Unusable identity file", keyLine)
		if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, missing+" does not exist") || !strings.Contains(r.stderr, "(on host web1)") {
			t.Errorf("%s: stderr lacks %q, the path or the host:\n%s", cmd, want, r.stderr)
		}
	}
	if c := h.srv.Stats().Connections; c != 0 {
		t.Fatalf("%d connections with a missing identity file", c)
	}

	// A directory is no key either; a local connection has no use for one.
	dir := t.TempDir()
	pbLocal := writeTestFile(t, filepath.Join(dir, "local.hcl"), "play \"p\" {\n  hosts = [\"all\"]\n  file \"/tmp/x\" { content = \"x\" }\n}\n")
	invDir := writeTestFile(t, filepath.Join(dir, "inv.hcl"), fmt.Sprintf("defaults { identity_file = %q }\nhost \"a\" {}\nhost \"b\" { connection = \"local\" }\n", dir))
	r := tend(t, "validate", pbLocal, "-i", invDir, "--no-color")
	r.want(t, ExitInvalid)
	if !strings.Contains(r.stderr, "inv.hcl:1:28: error: Unusable identity file") || !strings.Contains(r.stderr, "is not a regular file") || !strings.Contains(r.stderr, "(on host a)") {
		t.Errorf("directory as identity file:\n%s", r.stderr)
	}
}

func TestBecomePasswordEnvCheckedOffline(t *testing.T) {
	const name = "TEND_TEST_SUDO_PASSWORD"
	t.Setenv(name, "")
	os.Unsetenv(name)
	play := func(become string) string {
		return writeTestFile(t, filepath.Join(t.TempDir(), "site.hcl"), fmt.Sprintf("play \"p\" {\n  hosts = [\"web\"]\n  %s\n  file \"/tmp/x\" { content = \"x\" }\n}\n", become))
	}
	inv := func(become bool) string {
		return writeTestFile(t, filepath.Join(t.TempDir(), "inv.hcl"), fmt.Sprintf(`defaults {
  become              = %v
  become_password_env = %q
}
group "web" {
  host "web1" { connection = "local" }
  host "web2" { connection = "local" }
}
`, become, name))
	}
	for _, tc := range []struct {
		name      string
		pb, inv   string
		wantError bool
	}{
		{"inventory become", play(""), inv(true), true},
		{"play become", play("become = true"), inv(false), true},
		{"play without become", play("become = false"), inv(true), false},
		{"no become", play(""), inv(false), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tend(t, "validate", tc.pb, "-i", tc.inv, "--no-color")
			if !tc.wantError {
				r.want(t, ExitOK)
				return
			}
			r.want(t, ExitInvalid)
			if !strings.Contains(r.stderr, "inv.hcl:3:25: error: Sudo password variable not set") || !strings.Contains(r.stderr, name) ||
				!strings.Contains(r.stderr, "(on 2 hosts: web1, web2)") || strings.Count(r.stderr, "error:") != 1 {
				t.Errorf("stderr:\n%s", r.stderr)
			}
		})
	}
	t.Setenv(name, "s3cret")
	tend(t, "validate", play(""), "-i", inv(true), "--no-color").want(t, ExitOK)
}
