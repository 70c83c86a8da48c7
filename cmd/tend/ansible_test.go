package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInventoryToHCL: tend inventory -i FILE --to-hcl prints what
// inventory.WriteHCL writes (its golden files are in inventory/testdata).
func TestInventoryToHCL(t *testing.T) {
	for _, name := range []string{"hosts.ini", "hosts.yml"} {
		src := filepath.Join("..", "..", "inventory", "testdata", "ansible", name)
		r := tend(t, "inventory", "-i", src, "--to-hcl")
		r.want(t, ExitOK)
		want, err := os.ReadFile(src + ".hcl")
		if err != nil {
			t.Fatal(err)
		}
		if r.stdout != string(want) {
			t.Errorf("%s --to-hcl:\n%s\nwant:\n%s", name, r.stdout, want)
		}
	}
}

// TestAnsibleInventoryDiagnostics: an Ansible inventory's errors end the
// command with a snippet at file:line:col before any connection; its
// warnings are printed and the command goes on.
func TestAnsibleInventoryDiagnostics(t *testing.T) {
	h := newSSHHost(t)
	pb := h.playbook(t)
	dir := t.TempDir()
	port := h.srv.Port()

	secret := writeTestFile(t, filepath.Join(dir, "hosts"), fmt.Sprintf(
		"# no extension: INI by its shape\n[web]\nweb1 ansible_host=127.0.0.1 ansible_port=%d\n\n[web:vars]\nworkers=2\nansible_become_password=hunter2\n", port))
	r := tend(t, "plan", pb, "-i", secret, "--no-color")
	r.want(t, ExitInvalid)
	for _, want := range []string{secret + ":7:1: error: Secret in the inventory", "ansible_become_password=(redac", "become_password_env", "no host was contacted"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("the password reached stderr:\n%s", r.stderr)
	}
	if c := h.srv.Stats().Connections; c != 0 {
		t.Fatalf("an inventory with a password made %d connections", c)
	}

	warn := writeTestFile(t, filepath.Join(dir, "hosts.yml"), fmt.Sprintf(`all:
  children:
    web:
      hosts:
        web1:
          ansible_host: 127.0.0.1
          ansible_port: %d
          ansible_python_interpreter: /usr/bin/python3
          ansible_winrm_scheme: https
      vars:
        workers: 2
`, port))
	v := tend(t, "validate", pb, "-i", warn, "--no-color")
	v.want(t, ExitOK)
	if !strings.Contains(v.stderr, "hosts.yml:9:11: warning: Unknown Ansible variable") || !strings.Contains(v.stderr, "ansible_winrm_scheme") || !strings.Contains(v.stderr, "Hosts: web1.") {
		t.Errorf("validate should warn about ansible_winrm_scheme for web1:\n%s", v.stderr)
	}
	if strings.Contains(v.stderr, "python_interpreter") {
		t.Errorf("ansible_python_interpreter is harmless and should pass silently:\n%s", v.stderr)
	}
}
