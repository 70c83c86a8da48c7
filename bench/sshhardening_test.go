package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSSHScenarioMatchesPlaybooks: what the driver expects on the hosts is
// what both playbooks declare. Editing the example or the Ansible playbook
// without the other (or without the driver) fails here, not in a
// 10-minute benchmark run.
func TestSSHScenarioMatchesPlaybooks(t *testing.T) {
	hcl, err := os.ReadFile("../examples/ssh-hardening/harden.hcl")
	if err != nil {
		t.Fatal(err)
	}
	yml, err := os.ReadFile("ansible/ssh-hardening.yml")
	if err != nil {
		t.Fatal(err)
	}
	key := strings.SplitN(ciKeyLine, " ", 2)[1]
	opts := strings.SplitN(ciKeyLine, " ", 2)[0]
	common := []string{sshDropinPath, loginDefsPath, sysctlFilePath, key, "10.0.0.0/8", "/usr/sbin/sshd -t -f %s", "reload sshd"}
	for _, l := range strings.Split(strings.TrimSpace(sshDropin), "\n") {
		common = append(common, l)
	}
	for name, text := range map[string]string{"harden.hcl": string(hcl), "ssh-hardening.yml": string(yml)} {
		for _, w := range common {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q", name, w)
			}
		}
	}
	// The options: HCL interpolates var.ci_from, Ansible ci_from.
	for name, text := range map[string]string{
		"harden.hcl":        strings.ReplaceAll(strings.ReplaceAll(string(hcl), `\"`, `"`), "${var.ci_from}", "10.0.0.0/8"),
		"ssh-hardening.yml": strings.ReplaceAll(string(yml), "{{ ci_from }}", "10.0.0.0/8"),
	} {
		if !strings.Contains(text, opts) {
			t.Errorf("%s lacks the options %s", name, opts)
		}
	}
	for _, kv := range loginDefs {
		if !regexp.MustCompile(`\b` + kv[0] + `\s*=\s*` + kv[1] + `\b`).Match(hcl) {
			t.Errorf("harden.hcl lacks %s = %s", kv[0], kv[1])
		}
		if !strings.Contains(string(yml), "{ key: "+kv[0]+", value: "+kv[1]+" }") {
			t.Errorf("ssh-hardening.yml lacks %s: %s", kv[0], kv[1])
		}
	}
	for _, kv := range sshSysctls {
		if !regexp.MustCompile(`"` + regexp.QuoteMeta(kv[0]) + `"\s*=\s*"` + kv[1] + `"`).Match(hcl) {
			t.Errorf("harden.hcl lacks %s = %s", kv[0], kv[1])
		}
		if !strings.Contains(string(yml), "{ key: "+kv[0]+`, value: "`+kv[1]+`" }`) {
			t.Errorf("ssh-hardening.yml lacks %s: %s", kv[0], kv[1])
		}
	}
	// The sshd drop-in in the YAML is a literal block with the same lines.
	var block []string
	for _, l := range strings.Split(string(yml), "\n") {
		if t := strings.TrimSpace(l); t != "" && strings.Contains(sshDropin, t+"\n") {
			block = append(block, t)
		}
	}
	if got := strings.Join(block, "\n") + "\n"; got != sshDropin {
		t.Errorf("ssh-hardening.yml's drop-in lines:\n%s\nwant:\n%s", got, sshDropin)
	}
	if !strings.Contains(string(yml), "sysctl_file: "+sysctlFilePath) || !strings.Contains(string(yml), "packages: [openssh-server, "+sshPackage+"]") {
		t.Error("ssh-hardening.yml: sysctl_file or packages differ from the driver's")
	}
}

func TestLineInFile(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"replaces the line", "A\t1\nPASS_MAX_DAYS\t99999\nB\n", "A\t1\nPASS_MAX_DAYS\t90\nB\n"},
		{"commented lines stay", "#\tPASS_MAX_DAYS\tMaximum\nPASS_MAX_DAYS 5\n#PASS_MAX_DAYS 7\n", "#\tPASS_MAX_DAYS\tMaximum\nPASS_MAX_DAYS\t90\n#PASS_MAX_DAYS 7\n"},
		{"the last match is replaced", "PASS_MAX_DAYS 1\nx\nPASS_MAX_DAYS 2\n", "PASS_MAX_DAYS 1\nx\nPASS_MAX_DAYS\t90\n"},
		{"a longer key does not match", "PASS_MAX_DAYSX 1\n", "PASS_MAX_DAYSX 1\nPASS_MAX_DAYS\t90\n"},
		{"appended", "A\n", "A\nPASS_MAX_DAYS\t90\n"},
		{"appended after a last line without newline", "A", "A\nPASS_MAX_DAYS\t90\n"},
		{"empty file", "", "PASS_MAX_DAYS\t90\n"},
		{"a last line without newline keeps none", "PASS_MAX_DAYS 1", "PASS_MAX_DAYS\t90"},
	}
	for _, tc := range tests {
		if got := string(lineInFile([]byte(tc.in), "PASS_MAX_DAYS", "90")); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestHardenedLoginDefs: testdata/login.defs is Debian 12's, as the fleet
// hosts boot with it, and login.defs.hardened is what tend and Ansible
// both left on a fleet host (byte for byte the same).
func TestHardenedLoginDefs(t *testing.T) {
	orig := []byte(readTestdata(t, "login.defs"))
	if got, want := string(hardenedLoginDefs(orig)), readTestdata(t, "login.defs.hardened"); got != want {
		t.Errorf("hardenedLoginDefs differs from what the tools wrote")
	}
}

func TestSSHWant(t *testing.T) {
	initial := map[string]string{
		keyDropin: absent, keySysctl: absent, keyPackage: "not-installed", keySSHPid: "34",
		keyLoginDefs: "root:root:644 x", keyAuthKeys: "deploy:deploy:600 y",
		liveKey(sshSysctls[0][0]): "1", liveKey(sshSysctls[1][0]): "0", liveKey(sshSysctls[2][0]): "1",
	}
	sc := &sshHardening{hosts: []sshHost{{initial: initial, loginDefs: []byte("PASS_MAX_DAYS\t99999\n"), authKeys: []byte("ssh-ed25519 AAAA login")}}}
	tw, aw := sc.want(0, ToolTend), sc.want(0, ToolAnsible)
	if tw[keySSHPid] != "34" {
		t.Errorf("sshd's MainPID must stay: %q", tw[keySSHPid])
	}
	if tw[keyAuthKeys] != "deploy:deploy:600 "+sha256Hex([]byte("ssh-ed25519 AAAA login\n"+ciKeyLine+"\n")) {
		t.Errorf("authorized_keys: %q", tw[keyAuthKeys])
	}
	if tw[keyLoginDefs] != "root:root:644 "+sha256Hex([]byte("PASS_MAX_DAYS\t90\nPASS_MIN_DAYS\t1\nPASS_WARN_AGE\t14\n")) {
		t.Errorf("login.defs: %q", tw[keyLoginDefs])
	}
	if tw[keyPackage] != "installed" || tw[liveKey("net.ipv4.conf.all.rp_filter")] != "1" || tw[liveKey("net.ipv4.conf.all.send_redirects")] != "0" {
		t.Errorf("package or live values: %v", tw)
	}
	if tw[keySysctl] == aw[keySysctl] {
		t.Error("the two tools' sysctl spellings have the same digest")
	}
	for k := range tw {
		if k != keySysctl && tw[k] != aw[k] {
			t.Errorf("%s differs between the tools: %q, %q", k, tw[k], aw[k])
		}
	}
	if initial[keyDropin] != absent {
		t.Error("want changed the initial state")
	}
	if got := string(sysctlFile(ToolTend)); got != "net.ipv4.conf.all.accept_redirects = 0\nnet.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.all.send_redirects = 0\n" {
		t.Errorf("tend's sysctl file: %q", got)
	}
	if got := string(sysctlFile(ToolAnsible)); got != "net.ipv4.conf.all.accept_redirects=0\nnet.ipv4.conf.all.rp_filter=1\nnet.ipv4.conf.all.send_redirects=0\n" {
		t.Errorf("Ansible's sysctl file: %q", got)
	}
	// The no-op reference expects the spelling on the host.
	_, outT := sc.noopReference(0, HostState{Values: tw})
	_, outA := sc.noopReference(0, HostState{Values: aw})
	if !strings.Contains(outT, "rp_filter = 1\n") || !strings.Contains(outA, "rp_filter=1\n") || !strings.HasSuffix(outT, "\n0\n1\n0\n") {
		t.Errorf("no-op reference output:\n%s\n---\n%s", outT, outA)
	}
}

// TestScriptsShellcheck: every script the driver runs on the hosts is
// POSIX sh that shellcheck accepts.
func TestScriptsShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck is not installed (make deps)")
	}
	initial := map[string]string{keyLoginDefs: "root:root:644 x", keyAuthKeys: "deploy:deploy:600 y", liveKey(sshSysctls[0][0]): "1", liveKey(sshSysctls[1][0]): "0", liveKey(sshSysctls[2][0]): "1"}
	ssh := &sshHardening{hosts: []sshHost{{initial: initial, loginDefs: []byte("A 'quoted'\n"), authKeys: []byte("k\n")}}}
	staff := &staffrota{original: []byte("[Unit]\n"), hardened: []byte("[Unit]\nX='y'\n")}
	cmd, _ := ssh.noopReference(0, HostState{})
	scripts := map[string]string{
		"ssh state": stateCommand(ssh), "ssh reset": ssh.resetScript(0), "ssh cold reference": ssh.coldReference(0), "ssh no-op reference": cmd,
		"staffrota state": stateCommand(staff), "staffrota reset": staff.resetScript(0), "staffrota cold reference": staff.coldReference(0),
	}
	for name, s := range scripts {
		c := exec.Command("shellcheck", "-s", "sh", "-e", "SC2016", "-")
		c.Stdin = strings.NewReader(s)
		if out, err := c.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s\n--- script:\n%s", name, err, out, s)
		}
	}
}

// TestFileStateAndWriteFile runs the two snippets on this machine: what
// fileState prints is fileValue's rendering, and writeFile replaces a file
// with the given content, owner and mode.
func TestFileStateAndWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f 'x'")
	run := func(script string) string {
		out, err := exec.Command("sh", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s\n%s", err, out, script)
		}
		return string(out)
	}
	if got := run(fileState("k", p)); got != "k absent\n" {
		t.Errorf("missing file: %q", got)
	}
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	content := []byte("line 1\nline 'two'\n")
	run(writeFile(p, "root:root:600", content))
	if got, want := run(fileState("k", p)), "k "+fileValue("root:root", "600", content)+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if b, _ := os.ReadFile(p); string(b) != string(content) {
		t.Errorf("content %q", b)
	}
	if _, err := os.Stat(p + ".bench-tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary file is left: %v", err)
	}
}
