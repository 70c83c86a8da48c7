package modules

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The snippets the account modules run on hosts pass shellcheck as POSIX
// sh, as they are framed into the state script (each in a subshell).
func TestAccountScriptsShellcheck(t *testing.T) {
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck is not installed")
	}
	u := mustDecode(t, "user", "deploy", "groups = [\"sudo\"]\nshell = \"/bin/bash\"\n").(*User)
	scripts := map[string]string{
		"user.sh":            userFact{"deploy"}.Script(),
		"group.sh":           groupFact{"deploy"}.Script(),
		"home.sh":            homeFact{"deploy", ""}.Script(),
		"authorized_keys.sh": authKeysFact{"deploy", ""}.Script(),
		"authorized_path.sh": authKeysFact{"deploy", "/etc/ssh/keys/deploy"}.Script(),
		"useradd.sh":         u.useradd("/home/deploy"),
	}
	dir := t.TempDir()
	for name, src := range scripts {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n(\n"+src+"\n)\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(shellcheck, "-s", "sh", "-S", "warning", p).CombinedOutput(); err != nil {
			t.Errorf("%s:\n%s", name, out)
		}
	}
}
