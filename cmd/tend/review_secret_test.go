package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReview_SecretNotInOtherDiagnosticsSnippet: a password variable on a
// line that also holds another mistake must not reach stderr through the
// other mistake's snippet (which shows the whole line as written).
func TestReview_SecretNotInOtherDiagnosticsSnippet(t *testing.T) {
	dir := t.TempDir()
	inv := writeTestFile(t, filepath.Join(dir, "hosts.ini"),
		"[web]\nweb1 ansible_port=notaport ansible_become_password=hunter2\nweb2 ansible_become_password=hunter3 ansible_connection=telnet\n")
	r := tend(t, "inventory", "-i", inv, "--no-color")
	r.want(t, ExitInvalid)
	if !strings.Contains(r.stderr, "Secret in the inventory") {
		t.Fatalf("no secret error:\n%s", r.stderr)
	}
	for _, secret := range []string{"hunter2", "hunter3"} {
		if strings.Contains(r.stderr, secret) {
			t.Errorf("the password %s reached stderr:\n%s", secret, r.stderr)
		}
	}
}

// TestReview_AnsibleOtherPasswordVarsNotEchoed: Ansible has more password
// variables than the seven tend lists (su's, a key's passphrase): their
// values must not be echoed in "Unknown Ansible variable" warnings.
func TestReview_AnsibleOtherPasswordVarsNotEchoed(t *testing.T) {
	inv := writeTestFile(t, filepath.Join(t.TempDir(), "hosts.ini"),
		"[web]\nweb1 ansible_su_pass=hunter7\nweb2 ansible_ssh_private_key_passphrase=hunter8 ansible_su_password=hunter9\n")
	r := tend(t, "inventory", "-i", inv, "--no-color")
	for _, secret := range []string{"hunter7", "hunter8", "hunter9"} {
		if strings.Contains(r.stderr+r.stdout, secret) {
			t.Errorf("the password %s was echoed:\n%s%s", secret, r.stdout, r.stderr)
		}
	}
}
