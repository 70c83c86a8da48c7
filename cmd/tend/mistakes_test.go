package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Each common mistake gives one clear message: the right exit code, the
// message once, no usage dump, no second "Error:" line.
func TestCommonMistakes(t *testing.T) {
	dir := t.TempDir()
	inv := writeTestFile(t, filepath.Join(dir, "inv.hcl"), "host \"web1\" { connection = \"local\" }\n")
	pb := writeTestFile(t, filepath.Join(dir, "site.hcl"), "play \"p\" {\n  hosts = [\"all\"]\n  file \"/tmp/x\" { content = \"x\" }\n}\n")
	missing := filepath.Join(dir, "missing.hcl")
	for _, tc := range []struct {
		name string
		args []string
		want string // the one message, on stderr
	}{
		{"apply without a playbook", []string{"apply"}, "tend: apply needs a playbook"},
		{"plan without a playbook", []string{"plan"}, "tend: plan needs a playbook"},
		{"validate without a playbook", []string{"validate"}, "tend: validate needs a playbook"},
		{"show without a plan", []string{"show"}, "tend: show needs exactly one argument, a plan saved with tend plan --out, not 0"},
		{"merge without streams", []string{"report", "merge"}, "tend: report merge needs the --json streams"},
		{"missing inventory", []string{"plan", pb, "-i", missing}, "Cannot read inventory " + missing},
		{"missing playbook", []string{"plan", missing, "-i", inv}, "Cannot read " + missing},
		{"playbook as inventory", []string{"plan", pb, "-i", pb}, "site.hcl is a playbook, given as the inventory (-i)"},
		{"inventory as playbook", []string{"plan", inv, "-i", inv}, "inv.hcl is an inventory, given as a playbook"},
		{"limit matching nothing", []string{"plan", pb, "-i", inv, "--limit", "db*"}, `host pattern "db*" matches no host or group`},
		{"misspelt command", []string{"aply", pb}, `tend: unknown command "aply": did you mean apply?`},
		{"file for a command", []string{pb}, "is not a command: give the command first, as in `tend plan "},
		{"flag for a value", []string{"plan", pb, "--out", "--no-color"}, "tend: --out --no-color: the value looks like a flag"},
		{"unknown flag", []string{"plan", pb, "--bogus"}, "tend: unknown flag: --bogus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tend(t, append(tc.args, "--no-color")...)
			r.want(t, ExitInvalid)
			if strings.Count(r.stderr, tc.want) != 1 {
				t.Errorf("stderr does not say %q once:\n%s", tc.want, r.stderr)
			}
			if strings.Contains(r.stderr, "Usage:") || strings.Contains(r.stderr, "Error:") || strings.Count(r.stderr, "tend:") != 1 || r.stdout != "" {
				t.Errorf("more than one message, or usage:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			}
		})
	}
}
