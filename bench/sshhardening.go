package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

// The ssh-hardening scenario: examples/ssh-hardening/harden.hcl against
// bench/ansible/ssh-hardening.yml. What both do, as the files they leave
// (sshTest checks these against both playbooks).
const (
	sshDropinPath  = "/etc/ssh/sshd_config.d/50-tend-hardening.conf"
	loginDefsPath  = "/etc/login.defs"
	authKeysPath   = "/home/deploy/.ssh/authorized_keys"
	sysctlFilePath = "/etc/sysctl.d/90-tend-hardening.conf"
	// sshPackage is the package the benchmark adds to var.packages
	// (openssh-server is installed already): it is in the hosts' local
	// apt repository, not in their image.
	sshPackage = "tree"

	sshDropin = `# Managed by tend (examples/ssh-hardening).
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
X11Forwarding no
MaxAuthTries 3
LoginGraceTime 30
ClientAliveInterval 300
ClientAliveCountMax 2
`
	// ciKeyLine is the line of the CI system's key in deploy's
	// authorized_keys: the options, then the key.
	ciKeyLine = `from="10.0.0.0/8",no-agent-forwarding,no-port-forwarding,no-X11-forwarding,no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGiWocOZ7jCxLCT0lJBXOWRx2ykAwT4bUFaIGVGCYiBx ci@example`
)

// loginDefs are the three settings of /etc/login.defs, in task order.
var loginDefs = [][2]string{{"PASS_MAX_DAYS", "90"}, {"PASS_MIN_DAYS", "1"}, {"PASS_WARN_AGE", "14"}}

// sshSysctls are the three kernel parameters, in the order both tools
// write them into the file (tend's for_each goes through its map in key
// order; the Ansible loop lists them so).
var sshSysctls = [][2]string{
	{"net.ipv4.conf.all.accept_redirects", "0"},
	{"net.ipv4.conf.all.rp_filter", "1"},
	{"net.ipv4.conf.all.send_redirects", "0"},
}

// aptDebs are what Ansible's apt module needs on a host (python3-apt) and
// the image lacks, downloaded on the controller with `apt-get download`.
var aptDebs = []string{"python3-apt", "python-apt-common", "distro-info-data"}

// State keys of the ssh-hardening scenario.
const (
	keyDropin    = "file:" + sshDropinPath
	keyLoginDefs = "file:" + loginDefsPath
	keyAuthKeys  = "file:" + authKeysPath
	keySysctl    = "file:" + sysctlFilePath
	keyPackage   = "package:" + sshPackage
	keySSHPid    = "ssh:MainPID"
)

func liveKey(param string) string { return "live:" + param }

// procPath is param's file under /proc/sys.
func procPath(param string) string { return "/proc/sys/" + strings.ReplaceAll(param, ".", "/") }

// sysctlFile is the sysctl.d file as tool writes it: tend "key = value",
// ansible.posix.sysctl "key=value".
func sysctlFile(tool string) []byte {
	sep := " = "
	if tool == ToolAnsible {
		sep = "="
	}
	var b strings.Builder
	for _, kv := range sshSysctls {
		b.WriteString(kv[0] + sep + kv[1] + "\n")
	}
	return []byte(b.String())
}

// lineInFile is Ansible's lineinfile with regexp "^KEY\s" and line
// "KEY\tVALUE" (what tend's line_in_file does too): the last line the
// regexp matches is replaced, or the line is appended when none does.
func lineInFile(content []byte, key, value string) []byte {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(key) + `\s`)
	line := key + "\t" + value
	lines := splitLinesKeep(string(content))
	last := -1
	for i, l := range lines {
		if re.MatchString(strings.TrimSuffix(l, "\n")) {
			last = i
		}
	}
	if last < 0 {
		s := string(content)
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return []byte(s + line + "\n")
	}
	end := ""
	if strings.HasSuffix(lines[last], "\n") {
		end = "\n"
	}
	lines[last] = line + end
	return []byte(strings.Join(lines, ""))
}

// splitLinesKeep splits s into lines that keep their "\n".
func splitLinesKeep(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// hardenedLoginDefs is login.defs with the three settings.
func hardenedLoginDefs(orig []byte) []byte {
	for _, kv := range loginDefs {
		orig = lineInFile(orig, kv[0], kv[1])
	}
	return orig
}

// withCIKey is deploy's authorized_keys with the CI key appended.
func withCIKey(orig []byte) []byte {
	s := string(orig)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return []byte(s + ciKeyLine + "\n")
}

// sshHost is what the scenario read from one host before any tool ran.
type sshHost struct {
	// initial is the host's state then (its Values).
	initial map[string]string
	// loginDefs and authKeys are the two files' contents then.
	loginDefs, authKeys []byte
}

// sshHardening is the ssh-hardening scenario.
type sshHardening struct {
	hosts []sshHost
}

func (*sshHardening) name() string { return "ssh-hardening" }

func (*sshHardening) tools() []string {
	return []string{ToolTend, ToolAnsible, ToolRef, ToolRefX25519}
}

func (*sshHardening) tendPlaybook() string { return "examples/ssh-hardening/harden.hcl" }

func (*sshHardening) ansiblePlaybook() string { return "ssh-hardening.yml" }

// tendVars adds the package, as the e2e test of the example does.
func (*sshHardening) tendVars(string) []string {
	return []string{"--var", `packages=["openssh-server", "` + sshPackage + `"]`}
}

func (*sshHardening) stateScript() string {
	var b strings.Builder
	for _, kv := range [][2]string{{keyDropin, sshDropinPath}, {keyLoginDefs, loginDefsPath}, {keyAuthKeys, authKeysPath}, {keySysctl, sysctlFilePath}} {
		b.WriteString(fileState(kv[0], kv[1]) + "\n")
	}
	for _, kv := range sshSysctls {
		fmt.Fprintf(&b, "echo %s \"$(cat %s)\"\n", liveKey(kv[0]), procPath(kv[0]))
	}
	fmt.Fprintf(&b, `s=$(dpkg-query -W -f '${db:Status-Abbrev}' %[1]s 2>/dev/null || true)
case "$s" in ii*) echo %[2]s installed ;; *) echo %[2]s not-installed ;; esac
echo "%[3]s $(systemctl show -p MainPID --value ssh.service)"
echo "active $(systemctl is-active ssh.service || true)"
echo "marker reload-pid=$(systemctl show -p ExecReload --value ssh.service | sed -n 's/.* pid=\([0-9]*\) .*/\1/p' | tail -n 1)"`, sshPackage, keyPackage, keySSHPid)
	return b.String()
}

// init installs python3-apt on the hosts when Ansible is measured, then
// reads every host's state and its login.defs and authorized_keys, and
// checks that the hosts are not hardened yet.
func (sc *sshHardening) init(ctx context.Context, b *Bench) error {
	hosts := b.Setup.Fleet.Hosts
	if slices.Contains(b.Tools, ToolAnsible) {
		if err := installPythonApt(ctx, b.Setup.TmpDir, hosts); err != nil {
			return err
		}
	}
	states, err := States(ctx, sc, hosts)
	if err != nil {
		return err
	}
	sc.hosts = make([]sshHost, len(hosts))
	err = forHosts(ctx, hosts, 30*time.Second, func(ctx context.Context, i int, h *fleet.Host) error {
		st := states[i].Values
		for _, k := range []string{keyDropin, keySysctl} {
			if st[k] != absent {
				return fmt.Errorf("already hardened: %s exists", strings.TrimPrefix(k, "file:"))
			}
		}
		if st[keyPackage] != "not-installed" {
			return fmt.Errorf("already hardened: %s is installed", sshPackage)
		}
		out, err := h.SSH(ctx, "root", "base64 -w0 "+loginDefsPath+" && echo && base64 -w0 "+authKeysPath+" && echo")
		if err != nil {
			return err
		}
		f := strings.Split(strings.TrimSpace(out), "\n")
		if len(f) != 2 {
			return fmt.Errorf("reading login.defs and authorized_keys: %q", out)
		}
		host := sshHost{initial: st}
		if host.loginDefs, err = base64.StdEncoding.DecodeString(f[0]); err != nil {
			return err
		}
		if host.authKeys, err = base64.StdEncoding.DecodeString(f[1]); err != nil {
			return err
		}
		for _, x := range []struct {
			key     string
			content []byte
		}{{keyLoginDefs, host.loginDefs}, {keyAuthKeys, host.authKeys}} {
			if _, sum, _ := strings.Cut(st[x.key], " "); sum != sha256Hex(x.content) {
				return fmt.Errorf("%s changed while it was read", x.key)
			}
		}
		if string(hardenedLoginDefs(host.loginDefs)) == string(host.loginDefs) || strings.Contains(string(host.authKeys), "ci@example") {
			return errors.New("already hardened: login.defs or authorized_keys")
		}
		sc.hosts[i] = host
		return nil
	})
	return err
}

// installPythonApt gives the hosts python3-apt, which Ansible's apt
// module needs (without it the module tries to install it with apt-get,
// and the hosts' only apt source is the fleet's local repository): the
// packages are downloaded once on the controller with `apt-get download`,
// copied into every host's root file system and installed with dpkg -i.
// Hosts that have it already are left alone. It is set-up, not measured.
func installPythonApt(ctx context.Context, tmp string, hosts []*fleet.Host) error {
	dir := filepath.Join(tmp, "debs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"-q", "download"}, aptDebs...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get download %s (Ansible's apt module needs python3-apt on the hosts): %w: %s", strings.Join(aptDebs, " "), err, out)
	}
	debs, err := filepath.Glob(filepath.Join(dir, "*.deb"))
	if err != nil || len(debs) != len(aptDebs) {
		return fmt.Errorf("apt-get download: %d .deb files in %s, want %d (%v)", len(debs), dir, len(aptDebs), err)
	}
	const remote = "/var/tmp/tend-bench-debs"
	return forHosts(ctx, hosts, 2*time.Minute, func(ctx context.Context, _ int, h *fleet.Host) error {
		if _, err := h.SSH(ctx, "root", "python3 -c 'import apt_pkg'"); err == nil {
			return nil
		}
		into := filepath.Join(h.Root, remote)
		if err := os.MkdirAll(into, 0o700); err != nil {
			return err
		}
		for _, d := range debs {
			data, err := os.ReadFile(d)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(into, filepath.Base(d)), data, 0o600); err != nil {
				return err
			}
		}
		_, err := h.SSH(ctx, "root", "dpkg -i "+remote+"/*.deb >/dev/null && rm -rf "+remote+" && python3 -c 'import apt_pkg'")
		return err
	})
}

func (sc *sshHardening) pristine(i int) map[string]string { return sc.hosts[i].initial }

// want is the hardened state; the sysctl file is spelt as tool writes it.
func (sc *sshHardening) want(i int, tool string) map[string]string {
	h := sc.hosts[i]
	w := map[string]string{}
	for k, v := range h.initial {
		w[k] = v
	}
	owner := func(k string) string { o, _, _ := strings.Cut(h.initial[k], " "); return o }
	w[keyDropin] = fileValue("root:root", "644", []byte(sshDropin))
	w[keyLoginDefs] = owner(keyLoginDefs) + " " + sha256Hex(hardenedLoginDefs(h.loginDefs))
	w[keyAuthKeys] = owner(keyAuthKeys) + " " + sha256Hex(withCIKey(h.authKeys))
	w[keySysctl] = fileValue("root:root", "644", sysctlFile(tool))
	for _, kv := range sshSysctls {
		w[liveKey(kv[0])] = kv[1]
	}
	w[keyPackage] = "installed"
	return w
}

// writeFile is sh, run as root, that replaces path with content through a
// temporary file beside it and a rename, owned and moded as owner
// ("USER:GROUP:MODE", as fileState prints it).
func writeFile(path, owner string, content []byte) string {
	u, mode, _ := strings.Cut(owner, ":")
	g, mode, _ := strings.Cut(mode, ":")
	tmp := shellQuote(path + ".bench-tmp")
	return fmt.Sprintf("echo %s | base64 -d > %s && chown %s %s && chmod %s %s && mv -f %s %s\n",
		base64.StdEncoding.EncodeToString(content), tmp, shellQuote(u+":"+g), tmp, mode, tmp, tmp, shellQuote(path))
}

// resetScript removes the drop-in and the sysctl file, writes back the
// original login.defs and authorized_keys, sets the kernel parameters
// back and purges the package. It does not reload sshd: its running
// settings matter to no tool (each reads the files), and sshd re-executes
// itself on a reload, refusing connections for a moment, which the tool
// run right after the reset could meet.
func (sc *sshHardening) resetScript(i int) string {
	h := sc.hosts[i]
	owner := func(k string) string { o, _, _ := strings.Cut(h.initial[k], " "); return o }
	var b strings.Builder
	b.WriteString("set -e\nrm -f " + sshDropinPath + " " + sysctlFilePath + "\n")
	b.WriteString(writeFile(loginDefsPath, owner(keyLoginDefs), h.loginDefs))
	b.WriteString(writeFile(authKeysPath, owner(keyAuthKeys), h.authKeys))
	for _, kv := range sshSysctls {
		b.WriteString("sysctl -q -w " + shellQuote(kv[0]+"="+h.initial[liveKey(kv[0])]) + "\n")
	}
	fmt.Fprintf(&b, `case "$(dpkg-query -W -f '${db:Status-Abbrev}' %[1]s 2>/dev/null || true)" in
i*|r*|h*) DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=60 purge %[1]s >/dev/null ;;
esac
set +e`, sshPackage)
	return b.String()
}

// noopReference reads the four files and the three live values.
func (sc *sshHardening) noopReference(i int, st HostState) (string, string) {
	h := sc.hosts[i]
	sys := sysctlFile(ToolTend)
	if st.Values[keySysctl] == fileValue("root:root", "644", sysctlFile(ToolAnsible)) {
		sys = sysctlFile(ToolAnsible)
	}
	cmd := "cat " + strings.Join([]string{sshDropinPath, loginDefsPath, authKeysPath, sysctlFilePath}, " ")
	out := sshDropin + string(hardenedLoginDefs(h.loginDefs)) + string(withCIKey(h.authKeys)) + string(sys)
	for _, kv := range sshSysctls {
		cmd += " " + procPath(kv[0])
		out += kv[1] + "\n"
	}
	return cmd, out
}

// coldReference writes the four files as tend does (each through a
// temporary file and a rename), sets the three live values, installs the
// package and reloads sshd. It reads no state first and validates
// nothing.
func (sc *sshHardening) coldReference(i int) string {
	h := sc.hosts[i]
	owner := func(k string) string { o, _, _ := strings.Cut(h.initial[k], " "); return o }
	var b strings.Builder
	b.WriteString("set -e\n")
	b.WriteString(writeFile(sshDropinPath, "root:root:644", []byte(sshDropin)))
	b.WriteString(writeFile(loginDefsPath, owner(keyLoginDefs), hardenedLoginDefs(h.loginDefs)))
	b.WriteString(writeFile(authKeysPath, owner(keyAuthKeys), withCIKey(h.authKeys)))
	b.WriteString(writeFile(sysctlFilePath, "root:root:644", sysctlFile(ToolTend)))
	for _, kv := range sshSysctls {
		b.WriteString("sysctl -q -w " + shellQuote(kv[0]+"="+kv[1]) + "\n")
	}
	b.WriteString("DEBIAN_FRONTEND=noninteractive apt-get -q -y install " + sshPackage + " >/dev/null\n")
	b.WriteString("systemctl reload ssh.service")
	return b.String()
}

func (*sshHardening) section(r *Report) string { return r.sshMarkdown() }
