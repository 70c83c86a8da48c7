package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReview_UserSSHConfigWithMatchDoesNotBlockEveryHost: ~/.ssh/config is
// read implicitly. A valid OpenSSH file with a Match criterion the parser
// does not evaluate (Match user, Match exec...), for other hosts, must not
// make every host of every inventory unreachable.
func TestReview_UserSSHConfigWithMatchDoesNotBlockEveryHost(t *testing.T) {
	h := newSSHHost(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	writeTestFile(t, filepath.Join(home, ".ssh", "config"),
		"Host build\n  User ci\n\nMatch user alice\n  ForwardAgent yes\n")
	r := tend(t, "plan", h.playbook(t), "-i", h.inventory, "--no-color")
	if r.code != ExitOK && r.code != ExitChanges {
		t.Fatalf("exit %d; a ~/.ssh/config with Match user, about no host of the inventory, blocks the run:\n%s%s", r.code, r.stdout, r.stderr)
	}
}
