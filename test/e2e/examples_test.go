//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// The examples run as they are shipped: examples/ssh-hardening and
// examples/vendor-unit-dropin on two real hosts (one logging in as root,
// one as deploy with sudo), twice. The first apply does what plan showed;
// the second changes nothing, reloads and restarts nothing, and plan then
// shows nothing.
func TestExamples(t *testing.T) {
	f := bootFleet(t, "fexamples", 2)
	dir := t.TempDir()
	inv := mixedInventory(t, f, dir, "")
	hardening, _ := filepath.Abs("../../examples/ssh-hardening/harden.hcl")
	dropin, _ := filepath.Abs("../../examples/vendor-unit-dropin/dropin.hcl")
	// tree is in the hosts' local apt repository, not in their image.
	vars := []string{"--var", `packages=["openssh-server", "tree"]`}
	for _, h := range f.Hosts {
		sh(t, h, "grep -q '^PASS_MAX_DAYS' /etc/login.defs && grep -q '^#.*PASS_MAX_DAYS' /etc/login.defs || { echo 'login.defs lacks its PASS_MAX_DAYS lines'; exit 1; }")
	}

	plan := tend(t, nil, append([]string{"plan", hardening, "-i", inv, "--no-color"}, vars...)...)
	plan.wantExit(t, 2)
	for _, want := range []string{
		"-PASS_MAX_DAYS\t99999", "+PASS_MAX_DAYS\t90", // one line of login.defs, in a unified diff
		"+PasswordAuthentication no",
		"from=\"10.0.0.0/8\",no-agent-forwarding",
		"(absent) →", // tree: installed → wanted
		"net.ipv4.conf.all.accept_redirects",
	} {
		if !strings.Contains(plan.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan.stdout)
		}
	}
	if strings.Contains(plan.stdout, "cannot be previewed") {
		t.Errorf("a task of the example cannot be previewed:\n%s", plan.stdout)
	}

	first := tend(t, nil, append([]string{"apply", hardening, "-i", inv, "--json"}, vars...)...)
	first.wantExit(t, 0)
	for _, h := range f.Hosts {
		if got := sh(t, h, "grep -c '^PASS_MAX_DAYS' /etc/login.defs; grep -c '^#.*PASS_MAX_DAYS' /etc/login.defs"); got != "1\n1" {
			t.Errorf("%s: PASS_MAX_DAYS lines (live, commented): %q, want one of each", h.Name, got)
		}
		if got := sh(t, h, "sshd -T | grep -i '^passwordauthentication'"); got != "passwordauthentication no" {
			t.Errorf("%s: sshd's effective setting: %q", h.Name, got)
		}
		if got := sh(t, h, "sysctl -n net.ipv4.conf.all.rp_filter net.ipv4.conf.all.accept_redirects"); got != "1\n0" {
			t.Errorf("%s: live sysctls: %q", h.Name, got)
		}
		if got := sh(t, h, "grep -c . ~deploy/.ssh/authorized_keys; grep -c ci@example ~deploy/.ssh/authorized_keys"); got != "2\n1" {
			t.Errorf("%s: deploy's keys (all, the CI's): %q, want the login key kept and the CI's added", h.Name, got)
		}
		sh(t, h, "dpkg-query -W -f '${Status}' tree | grep -q 'install ok installed'")
	}

	// Twice: nothing changes, sshd is not reloaded (its handler does not
	// run), and plan shows nothing.
	pids := map[string]string{}
	for _, h := range f.Hosts {
		pids[h.Name] = sh(t, h, "systemctl show -p MainPID --value ssh")
	}
	again := tend(t, nil, append([]string{"apply", hardening, "-i", inv, "--json"}, vars...)...)
	again.wantExit(t, 0)
	evs := again.events(t)
	if tot := evs[len(evs)-1].Totals; tot == nil || tot.Changed != 0 {
		t.Errorf("the second apply changed something: %+v\n%s", tot, again)
	}
	for _, e := range evs {
		if e.Type == "handler" {
			t.Errorf("a handler ran on the second apply: %+v", e)
		}
	}
	tend(t, nil, append([]string{"plan", hardening, "-i", inv}, vars...)...).wantExit(t, 0)

	// The vendor unit's drop-in: a restart only when it changed.
	dplan := tend(t, nil, "plan", dropin, "-i", inv, "--no-color")
	dplan.wantExit(t, 2)
	for _, want := range []string{"/etc/systemd/system/ssh.service.d/10-restart.conf", "+Restart=always", "restart ssh.service"} {
		if !strings.Contains(dplan.stdout, want) {
			t.Errorf("drop-in plan lacks %q:\n%s", want, dplan.stdout)
		}
	}
	tend(t, nil, "apply", dropin, "-i", inv).wantExit(t, 0)
	for _, h := range f.Hosts {
		if got := sh(t, h, "systemctl show -p Restart -p StartLimitIntervalUSec --value ssh"); got != "always\n0" {
			t.Errorf("%s: ssh.service after the drop-in: %q", h.Name, got)
		}
		pids[h.Name] = sh(t, h, "systemctl show -p MainPID --value ssh")
	}
	dagain := tend(t, nil, "apply", dropin, "-i", inv, "--json")
	dagain.wantExit(t, 0)
	if evs := dagain.events(t); evs[len(evs)-1].Totals == nil || evs[len(evs)-1].Totals.Changed != 0 {
		t.Errorf("the drop-in's second apply changed something:\n%s", dagain)
	}
	for _, h := range f.Hosts {
		if now := sh(t, h, "systemctl show -p MainPID --value ssh"); now != pids[h.Name] {
			t.Errorf("%s: ssh was restarted by the second apply (MainPID %s → %s)", h.Name, pids[h.Name], now)
		}
	}
	tend(t, nil, "plan", dropin, "-i", inv).wantExit(t, 0)
}
