//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

// This file proves systemd_dropin, sysctl and systemd_timer on real hosts.
// Its helpers start with sx, so they cannot clash with other files.

const sxDropIn = "/etc/systemd/system/ssh.service.d/10-restart.conf"

// sxInventory writes an inventory of f's hosts that logs in as login (ops
// with its sudo password from TEND_E2E_SUDO_PASSWORD).
func sxInventory(t *testing.T, f *fleet.Fleet, dir, login string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "defaults {\n  user = %q\n  identity_file = %q\n  known_hosts_file = %q\n  become = true\n", login, f.ClientKey, f.KnownHosts)
	if login == "ops" {
		b.WriteString("  become_password_env = \"TEND_E2E_SUDO_PASSWORD\"\n")
	}
	b.WriteString("}\ngroup \"web\" {\n")
	for _, h := range f.Hosts {
		fmt.Fprintf(&b, "  host %q { address = %q }\n", h.Name, h.Address)
	}
	b.WriteString("}\n")
	return writeFile(t, filepath.Join(dir, "inventory-"+login+".hcl"), b.String())
}

// sxPlaybook writes a playbook of one play holding tasks.
func sxPlaybook(t *testing.T, dir, name, tasks string) string {
	t.Helper()
	return writeFile(t, filepath.Join(dir, name+".hcl"), "play \"extra\" {\n  hosts = [\"all\"]\n"+tasks+"}\n")
}

// sxTotals returns the run's totals.
func sxTotals(t *testing.T, r result) (changed, failed int) {
	t.Helper()
	evs := r.events(t)
	tot := evs[len(evs)-1].Totals
	if tot == nil {
		t.Fatalf("no totals:\n%s", r)
	}
	return tot.Changed, tot.Failed
}

// sxNothingToDo asserts that plan and apply find nothing to change.
func sxNothingToDo(t *testing.T, env []string, pb, inv string) {
	t.Helper()
	p := tend(t, env, "plan", pb, "-i", inv, "--json")
	p.wantExit(t, 0)
	if changed, _ := sxTotals(t, p); changed != 0 {
		t.Errorf("plan after apply still changes %d task(s):\n%s", changed, p)
	}
	a := tend(t, env, "apply", pb, "-i", inv, "--json")
	a.wantExit(t, 0)
	if changed, _ := sxTotals(t, a); changed != 0 {
		t.Errorf("second apply changed %d task(s):\n%s", changed, a)
	}
}

// TestSystemdExtraDropin: a drop-in for the vendor ssh.service (tend does
// not own its unit file) shows its diff and its effects, applies, and a
// second run restarts nothing; on_change = "reload" reloads instead;
// absent removes it. It works for each login shape, and bad attributes are
// diagnostics before any connection.
func TestSystemdExtraDropin(t *testing.T) {
	f := bootFleet(t, "fsxdropin", 1)
	h := f.Hosts[0]
	dir := t.TempDir()
	env := []string{"TEND_E2E_SUDO_PASSWORD=" + f.SudoPassword}
	inv := sxInventory(t, f, dir, "deploy")
	pb := func(attrs string) string {
		return sxPlaybook(t, dir, "dropin", `  systemd_dropin "ssh" {
    dropin = "10-restart"
`+attrs+`  }
`)
	}
	restartAlways := pb("    service {\n      Restart    = \"always\"\n      RestartSec = \"5s\"\n    }\n")
	pid0 := sh(t, h, "systemctl show -p MainPID --value ssh.service")
	if got := sh(t, h, "systemctl show -p Restart --value ssh.service"); got == "always" {
		t.Fatalf("ssh.service already has Restart=always")
	}

	p := tend(t, nil, "plan", restartAlways, "-i", inv)
	p.wantExit(t, 2)
	for _, want := range []string{"+++ " + sxDropIn, "+[Service]", "+Restart=always", "+RestartSec=5s", "directory: /etc/systemd/system/ssh.service.d", "then: daemon-reload, restart ssh.service"} {
		if !strings.Contains(p.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, p.stdout)
		}
	}
	tend(t, nil, "apply", restartAlways, "-i", inv).wantExit(t, 0)
	if got := sh(t, h, "systemctl show -p Restart --value ssh.service"); got != "always" {
		t.Errorf("Restart=%s after apply", got)
	}
	if got := sh(t, h, "stat -c '%a %U:%G' /etc/systemd/system/ssh.service.d "+sxDropIn); got != "755 root:root\n644 root:root" {
		t.Errorf("modes: %q", got)
	}
	pid1 := sh(t, h, "systemctl show -p MainPID --value ssh.service")
	if pid1 == pid0 {
		t.Errorf("ssh.service was not restarted (MainPID %s)", pid1)
	}
	sxNothingToDo(t, nil, restartAlways, inv)
	if pid := sh(t, h, "systemctl show -p MainPID --value ssh.service"); pid != pid1 {
		t.Errorf("the second run restarted ssh.service: MainPID %s → %s", pid1, pid)
	}

	// on_change = "reload": sshd reloads (SIGHUP, the same process).
	reload := pb("    on_change = \"reload\"\n    service {\n      Restart    = \"always\"\n      RestartSec = \"7s\"\n    }\n")
	p = tend(t, nil, "plan", reload, "-i", inv)
	p.wantExit(t, 2)
	if !strings.Contains(p.stdout, "-RestartSec=5s") || !strings.Contains(p.stdout, "+RestartSec=7s") || !strings.Contains(p.stdout, "then: daemon-reload, reload ssh.service") {
		t.Errorf("reload plan:\n%s", p.stdout)
	}
	tend(t, nil, "apply", reload, "-i", inv).wantExit(t, 0)
	if got := sh(t, h, "systemctl show -p RestartUSec --value ssh.service"); got != "7s" {
		t.Errorf("RestartUSec=%s", got)
	}
	if pid := sh(t, h, "systemctl show -p MainPID --value ssh.service"); pid != pid1 {
		t.Errorf("reload replaced sshd: MainPID %s → %s", pid1, pid)
	}
	sxNothingToDo(t, nil, reload, inv)

	// A misspelt key is refused by systemd-analyze verify; the old file stays.
	typo := pb("    service {\n      Restrt = \"always\"\n    }\n")
	r := tend(t, nil, "apply", typo, "-i", inv, "--json")
	r.wantExit(t, 3)
	if e := task(t, r.events(t), h.Name, "systemd_dropin.ssh"); e.Status != "failed" || !strings.Contains(e.Message, "Unknown key 'Restrt'") {
		t.Errorf("typo: %s: %s", e.Status, e.Message)
	}
	if got := sh(t, h, "grep -c RestartSec=7s "+sxDropIn); got != "1" {
		t.Errorf("the old drop-in was replaced: %s", sh(t, h, "cat "+sxDropIn))
	}

	// Absent: removed, systemd reloaded, ssh back to its vendor setting.
	absent := pb("    state = \"absent\"\n")
	p = tend(t, nil, "plan", absent, "-i", inv)
	p.wantExit(t, 2)
	if !strings.Contains(p.stdout, "exists: present → absent") || !strings.Contains(p.stdout, "-Restart=always") || !strings.Contains(p.stdout, "then: daemon-reload, restart ssh.service") {
		t.Errorf("absent plan:\n%s", p.stdout)
	}
	tend(t, nil, "apply", absent, "-i", inv).wantExit(t, 0)
	if got := sh(t, h, "test -e "+sxDropIn+" && echo present || echo gone; systemctl show -p Restart --value ssh.service"); got != "gone\non-failure" {
		t.Errorf("after absent: %q", got)
	}
	sxNothingToDo(t, nil, absent, inv)

	// Every login shape applies, and then finds nothing to do.
	for _, login := range []string{"root", "deploy", "ops"} {
		inv := sxInventory(t, f, dir, login)
		limits := pb(fmt.Sprintf("    service {\n      LimitNOFILE = %d\n    }\n", map[string]int{"root": 4001, "deploy": 4002, "ops": 4003}[login]))
		r := tend(t, env, "apply", limits, "-i", inv, "--json")
		r.wantExit(t, 0)
		if changed, _ := sxTotals(t, r); changed != 1 {
			t.Errorf("login %s: changed %d:\n%s", login, changed, r)
		}
		if got, want := sh(t, h, "systemctl show -p LimitNOFILE --value ssh.service"), fmt.Sprint(map[string]int{"root": 4001, "deploy": 4002, "ops": 4003}[login]); got != want {
			t.Errorf("login %s: LimitNOFILE=%s", login, got)
		}
		sxNothingToDo(t, env, limits, inv)
	}

	// Bad attributes: diagnostics at file:line:col, no connection (the
	// inventory's host does not exist; exit 5 comes at once).
	nowhere := writeFile(t, filepath.Join(dir, "nowhere.hcl"), "defaults {\n  user = \"root\"\n}\nhost \"nowhere\" { address = \"192.0.2.1\" }\n")
	bad := sxPlaybook(t, dir, "bad", `  systemd_dropin "ssh" {
    on_change = "bounce"
    service { Restart = "always" }
  }
  sysctl "net.ipv4.*.rp_filter" {
    value = 1
  }
  systemd_timer "backup" {
    on_calendar = "daily"
    command     = "/bin/tar czf - /srv | gzip"
  }
`)
	start := time.Now()
	d := tend(t, nil, "plan", bad, "-i", nowhere)
	d.wantExit(t, 5)
	for _, want := range []string{"bad.hcl:4:5: error: Invalid on_change", "bad.hcl:7:10: error: Invalid kernel parameter", "bad.hcl:12:5: error: Invalid command", "no host was contacted"} {
		if !strings.Contains(d.stderr, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, d.stderr)
		}
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("diagnostics took %s: a connection was tried", time.Since(start))
	}
}

// TestSystemdExtraSysctlTimer: a kernel parameter live and in its file,
// two parameters sharing one file, and a timer whose service apply never
// starts.
func TestSystemdExtraSysctlTimer(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "fsxsysctl", 1, "deploy")
	h := f.Hosts[0]
	const conf = "/etc/sysctl.d/90-tend.conf"
	sh(t, h, "sysctl -q -w net.ipv4.ip_forward=0 net.ipv4.conf.all.rp_filter=0 && printf '# the admin s own\\nvm.swappiness = 10\\n' >"+conf)
	pb := sxPlaybook(t, dir, "sysctl", `  sysctl "net.ipv4.ip_forward" {
    value = 1
  }
  sysctl "net.ipv4.conf.all.rp_filter" {
    value = "2"
    file  = "`+conf+`"
  }
`)
	p := tend(t, nil, "plan", pb, "-i", inv)
	p.wantExit(t, 2)
	for _, want := range []string{"live: 0 → 1", "live: 0 → 2", "+net.ipv4.ip_forward = 1", "+net.ipv4.conf.all.rp_filter = 2", " vm.swappiness = 10"} {
		if !strings.Contains(p.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, p.stdout)
		}
	}
	tend(t, nil, "apply", pb, "-i", inv).wantExit(t, 0)
	if got := sh(t, h, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/all/rp_filter"); got != "1\n2" {
		t.Errorf("live values %q", got)
	}
	if got := sh(t, h, "cat "+conf); got != "# the admin s own\nvm.swappiness = 10\nnet.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter = 2" {
		t.Errorf("file:\n%s", got)
	}
	sxNothingToDo(t, nil, pb, inv)
	// The file is what the kernel gets at boot: systemd-sysctl applies it.
	sh(t, h, "sysctl -q -w net.ipv4.ip_forward=0 && /lib/systemd/systemd-sysctl "+conf)
	if got := sh(t, h, "cat /proc/sys/net/ipv4/ip_forward"); got != "1" {
		t.Errorf("systemd-sysctl of the file: ip_forward=%s", got)
	}
	missing := sxPlaybook(t, dir, "missing", "  sysctl \"net.ipv4.tend_no_such\" {\n    value = 1\n  }\n")
	r := tend(t, nil, "plan", missing, "-i", inv, "--json")
	if e := task(t, r.events(t), h.Name, "sysctl.net.ipv4.tend_no_such"); e.Status != "failed" || !strings.Contains(e.Message, "no such kernel parameter: net.ipv4.tend_no_such (/proc/sys/net/ipv4/tend_no_such") {
		t.Errorf("missing parameter: %s: %s", e.Status, e.Message)
	}

	// The timer: both units written and verified, the timer enabled and
	// waiting, the service not run by apply.
	timer := sxPlaybook(t, dir, "timer", `  systemd_timer "tend-backup" {
    on_calendar      = "*-*-* 03:00:00"
    command          = "/bin/sh -c 'date >> /var/tmp/tend-backup.log'"
    randomized_delay = "5m"
  }
`)
	p = tend(t, nil, "plan", timer, "-i", inv)
	p.wantExit(t, 2)
	for _, want := range []string{"+++ /etc/systemd/system/tend-backup.service", "+++ /etc/systemd/system/tend-backup.timer", "+ExecStart=/bin/sh -c \"date >> /var/tmp/tend-backup.log\"", "+OnCalendar=*-*-* 03:00:00", "+RandomizedDelaySec=300",
		"then: daemon-reload, enable tend-backup.timer, start tend-backup.timer"} {
		if !strings.Contains(p.stdout, want) {
			t.Errorf("timer plan lacks %q:\n%s", want, p.stdout)
		}
	}
	tend(t, nil, "apply", timer, "-i", inv).wantExit(t, 0)
	if got := sh(t, h, "systemctl is-enabled tend-backup.timer; systemctl is-active tend-backup.timer; systemctl show -p ActiveState --value tend-backup.service; systemctl show -p NRestarts --value tend-backup.service; systemctl show -p ExecMainStartTimestampMonotonic --value tend-backup.service; test -e /var/tmp/tend-backup.log && echo ran || echo not-run"); got != "enabled\nactive\ninactive\n0\n0\nnot-run" {
		t.Errorf("after apply: %q", got)
	}
	if got := sh(t, h, "systemctl list-timers --all --no-pager tend-backup.timer"); !strings.Contains(got, "tend-backup.timer") || !strings.Contains(got, "tend-backup.service") {
		t.Errorf("list-timers:\n%s", got)
	}
	sxNothingToDo(t, nil, timer, inv)
	// Run by hand, the service does what the command says.
	sh(t, h, "systemctl start tend-backup.service")
	if got := sh(t, h, "wc -l < /var/tmp/tend-backup.log"); got != "1" {
		t.Errorf("the service ran %s time(s)", got)
	}
	badCal := sxPlaybook(t, dir, "badcal", "  systemd_timer \"tend-backup\" {\n    on_calendar = \"Mon..Fry 03:00\"\n    command = \"/bin/true\"\n  }\n")
	r = tend(t, nil, "plan", badCal, "-i", inv, "--json")
	if e := task(t, r.events(t), h.Name, "systemd_timer.tend-backup"); e.Status != "failed" || !strings.Contains(e.Message, "Failed to parse calendar specification") {
		t.Errorf("bad calendar: %s: %s", e.Status, e.Message)
	}
	gone := sxPlaybook(t, dir, "timer-absent", "  systemd_timer \"tend-backup\" {\n    state = \"absent\"\n  }\n")
	tend(t, nil, "apply", gone, "-i", inv).wantExit(t, 0)
	if got := sh(t, h, "ls /etc/systemd/system/tend-backup.* /etc/systemd/system/timers.target.wants/tend-backup.timer 2>/dev/null | wc -l; systemctl is-active tend-backup.timer || true"); got != "0\ninactive" {
		t.Errorf("after absent: %q", got)
	}
	sxNothingToDo(t, nil, gone, inv)
}
