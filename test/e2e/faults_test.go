//go:build e2e

package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

// The fault suite: every fault of the README's catalogue, on real hosts, for
// each login shape where it matters — root, deploy (passwordless sudo) and
// ops (sudo with a password). Each test fails when the behaviour it names
// breaks.

// logins are the three login shapes, one per host of a three-host fleet.
var logins = []string{"root", "deploy", "ops"}

// mixedInventory writes an inventory whose hosts log in as logins[i] (ops
// with its sudo password from TEND_E2E_SUDO_PASSWORD), with extra settings
// in defaults.
func mixedInventory(t *testing.T, f *fleet.Fleet, dir, extra string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "defaults {\n  identity_file = %q\n  known_hosts_file = %q\n  become = true\n%s\n}\n", f.ClientKey, f.KnownHosts, extra)
	b.WriteString("group \"web\" {\n  vars = { workers = 2 }\n")
	for i, h := range f.Hosts {
		user := logins[i%len(logins)]
		fmt.Fprintf(&b, "  host %q {\n    address = %q\n    user = %q\n", h.Name, h.Address, user)
		if user == "ops" {
			b.WriteString("    become_password_env = \"TEND_E2E_SUDO_PASSWORD\"\n")
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return writeFile(t, filepath.Join(dir, fmt.Sprintf("inventory-%d.hcl", time.Now().UnixNano())), b.String())
}

// started is a tend run in the background.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr *bytes.Buffer
	start          time.Time
	done           chan struct{}
}

// tendBackground starts tend and returns at once.
func tendBackground(t *testing.T, env []string, args ...string) *started {
	t.Helper()
	cmd := exec.Command(tendBin, args...)
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1", "SSH_AUTH_SOCK="), env...)
	s := &started{cmd: cmd, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	s.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	return s
}

// wait waits for the run (bounded) and returns its result and how long it
// took from start.
func (s *started) wait(t *testing.T, max time.Duration) (result, time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(max):
		s.cmd.Process.Kill()
		<-s.done
		t.Fatalf("tend did not finish within %s:\n%s\n%s", max, s.stdout, s.stderr)
	}
	r := result{args: s.cmd.Args[1:], code: s.cmd.ProcessState.ExitCode(), stdout: s.stdout.String(), stderr: s.stderr.String()}
	return r, time.Since(s.start)
}

// absent asserts, on every host, that a marker file does not exist (the
// command that makes it did not finish) and that no process runs pattern.
func absent(t *testing.T, hosts []*fleet.Host, marker, pattern string) {
	t.Helper()
	for _, h := range hosts {
		if got := sh(t, h, "test -e "+marker+" && echo exists || echo absent"); got != "absent" {
			t.Errorf("%s: %s exists: the stopped command went on to its end", h.Name, marker)
		}
		if got := sh(t, h, "pgrep -fa -- "+shellQuote(pattern)+" | grep -v pgrep || true"); got != "" {
			t.Errorf("%s: processes left running: %s", h.Name, got)
		}
	}
}

// killSessions kills, on each host, the sshd process of every session that
// runs a tend command (found by walking up from tend's supervisors), as a
// dying sshd or a dropped connection would end it.
func killSessions(t *testing.T, hosts []*fleet.Host) {
	t.Helper()
	const script = `for p in $(pgrep -f '[t]end-supervisor'); do
	q=$p
	while [ -n "$q" ] && [ "$q" -gt 1 ]; do
		c=$(cat /proc/$q/comm 2>/dev/null) || break
		case $c in sshd*) kill -9 $q; break ;; esac
		q=$(cut -d' ' -f4 /proc/$q/stat 2>/dev/null) || break
	done
done
true`
	for _, h := range hosts {
		sh(t, h, script)
	}
}

var sudoEnv = func(f *fleet.Fleet) []string { return []string{"TEND_E2E_SUDO_PASSWORD=" + f.SudoPassword} }

// A connection lost while a command runs is never a success: the outcome is
// unknown, the host is unreachable (exit 4), in the human output and in
// --json; and the host stops the command, which never finishes its work.
// The same during the state read, through sudo as without: never "sudo
// failed (exit 0)". And a unit restart whose result never arrived.
func TestFaultLostConnection(t *testing.T) {
	f := bootFleet(t, "flost", 3)
	dir := t.TempDir()
	inv := mixedInventory(t, f, dir, "")
	env := sudoEnv(f)
	pb := writeFile(t, filepath.Join(dir, "slow.hcl"), `
play "slow" {
  hosts = ["all"]
  command "slow" { run = "sleep 10; touch /root/slow-finished; exit 3" }
}
`)
	for _, h := range f.Hosts {
		sh(t, h, "rm -f /root/slow-finished")
	}
	run := tendBackground(t, env, "apply", pb, "-i", inv, "--json")
	time.Sleep(3 * time.Second)
	killSessions(t, f.Hosts)
	r, took := run.wait(t, 30*time.Second)
	r.wantExit(t, 4)
	if took > 8*time.Second {
		t.Errorf("tend took %s to notice the lost connections", took)
	}
	evs := r.events(t)
	rc := recap(evs)
	for _, h := range f.Hosts {
		e := task(t, evs, h.Name, "command.slow")
		if e.Status != "failed" || !strings.Contains(e.Message, "outcome unknown") {
			t.Errorf("%s: task %s: %s, want failed with the outcome unknown", h.Name, e.Status, e.Message)
		}
		if !rc[h.Name].Unreachable || rc[h.Name].Changed != 0 {
			t.Errorf("%s: recap %+v, want unreachable and nothing changed", h.Name, rc[h.Name])
		}
	}
	if tot := evs[len(evs)-1].Totals; tot.Changed != 0 || tot.Unreachable != 3 {
		t.Errorf("totals %+v", tot)
	}
	time.Sleep(10 * time.Second)
	absent(t, f.Hosts, "/root/slow-finished", "sleep 10")

	// Lost during the state read (a guard that takes its time).
	gpb := writeFile(t, filepath.Join(dir, "guard.hcl"), `
play "guard" {
  hosts = ["all"]
  command "guarded" {
    run     = "true"
    only_if = "sleep 6; true"
  }
}
`)
	run = tendBackground(t, env, "plan", gpb, "-i", inv, "--no-color")
	time.Sleep(2500 * time.Millisecond)
	killSessions(t, f.Hosts)
	r, _ = run.wait(t, 30*time.Second)
	r.wantExit(t, 4)
	if strings.Contains(r.stdout, "sudo failed") || strings.Count(r.stdout, "outcome unknown") != 3 {
		t.Errorf("a state read cut short must say the outcome is unknown on every host:\n%s", r)
	}

	// Lost while systemd restarts a unit (its start takes 4 s).
	upb := writeFile(t, filepath.Join(dir, "unit.hcl"), `
variable "v" { default = "1" }
play "unit" {
  hosts = ["all"]
  systemd_unit "tend-slowstart" {
    service {
      ExecStartPre = "/bin/sleep 4"
      ExecStart    = "/bin/sleep infinity"
      Environment  = "V=${var.v}"
    }
    state = "started"
  }
}
`)
	tend(t, env, "apply", upb, "-i", inv, "--var", "v=1").wantExit(t, 0)
	run = tendBackground(t, env, "apply", upb, "-i", inv, "--var", "v=2", "--json")
	time.Sleep(2500 * time.Millisecond)
	killSessions(t, f.Hosts)
	r, _ = run.wait(t, 30*time.Second)
	r.wantExit(t, 4)
	for _, h := range f.Hosts {
		e := task(t, r.events(t), h.Name, "systemd_unit.tend-slowstart")
		if e.Status != "failed" || !strings.Contains(e.Message, "outcome unknown") {
			t.Errorf("%s: a restart whose result never arrived: %s %s", h.Name, e.Status, e.Message)
		}
	}
	// What the run promised is still owed: the next plan says so.
	p := tend(t, env, "plan", upb, "-i", inv, "--var", "v=2", "--no-color")
	p.wantExit(t, 2)
	if strings.Count(p.stdout, "pending from an earlier run") != 3 {
		t.Errorf("plan after the cut must show the owed restart on every host:\n%s", p)
	}
	tend(t, env, "apply", upb, "-i", inv, "--var", "v=2").wantExit(t, 0)
	tend(t, env, "plan", upb, "-i", inv, "--var", "v=2").wantExit(t, 0)
}

// A command tend gives up on is stopped on the host, whatever the login: a
// task timeout, the inventory's command_timeout (also the default), the
// first Ctrl-C (tend reports and exits 130 within about two seconds), a
// second Ctrl-C (exits at once), and a dead link (tend notices within the
// keepalive bound; the host stops the command when the heartbeats stop).
func TestFaultStopRemoteWork(t *testing.T) {
	f := bootFleet(t, "fstop", 3)
	dir := t.TempDir()
	env := sudoEnv(f)
	reset := func() {
		for _, h := range f.Hosts {
			sh(t, h, "rm -f /root/finished")
		}
	}
	slow := func(name, attrs string) string {
		return writeFile(t, filepath.Join(dir, name+".hcl"), `
play "`+name+`" {
  hosts = ["all"]
  command "slow" {
    run = "sleep 12; touch /root/finished"
    `+attrs+`
  }
}
`)
	}

	t.Run("task timeout", func(t *testing.T) {
		reset()
		inv := mixedInventory(t, f, dir, "")
		start := time.Now()
		r := tend(t, env, "apply", slow("timeout", `timeout = "3s"`), "-i", inv, "--json")
		r.wantExit(t, 3)
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("took %s for a 3s timeout", d)
		}
		for _, h := range f.Hosts {
			if e := task(t, r.events(t), h.Name, "command.slow"); !strings.Contains(e.Message, "timed out after 3s; the command was stopped on the host") {
				t.Errorf("%s: %s", h.Name, e.Message)
			}
		}
		time.Sleep(10 * time.Second)
		absent(t, f.Hosts, "/root/finished", "sleep 12")
	})

	t.Run("inventory command_timeout", func(t *testing.T) {
		reset()
		inv := mixedInventory(t, f, dir, "  command_timeout = 2")
		r := tend(t, env, "apply", slow("default", ""), "-i", inv, "--no-color")
		r.wantExit(t, 3)
		if strings.Count(r.stdout, "timed out after 2s; the command was stopped on the host") != 3 {
			t.Errorf("want three stopped commands:\n%s", r)
		}
		time.Sleep(11 * time.Second)
		absent(t, f.Hosts, "/root/finished", "sleep 12")
	})

	t.Run("Ctrl-C", func(t *testing.T) {
		reset()
		inv := mixedInventory(t, f, dir, "")
		run := tendBackground(t, env, "apply", slow("ctrlc", ""), "-i", inv, "--no-color")
		time.Sleep(3 * time.Second)
		run.cmd.Process.Signal(syscall.SIGINT)
		sent := time.Now()
		r, _ := run.wait(t, 20*time.Second)
		if d := time.Since(sent); d > 3*time.Second {
			t.Errorf("tend took %s after Ctrl-C", d)
		}
		r.wantExit(t, 130)
		if strings.Count(r.stdout, "interrupted; the command was stopped on the host") != 3 || !strings.Contains(r.stdout, "RECAP") {
			t.Errorf("want three stopped commands and a recap:\n%s", r)
		}
		time.Sleep(10 * time.Second)
		absent(t, f.Hosts, "/root/finished", "sleep 12")

		// A second Ctrl-C exits at once.
		run = tendBackground(t, env, "apply", slow("ctrlc2", ""), "-i", inv, "--no-color")
		time.Sleep(3 * time.Second)
		run.cmd.Process.Signal(syscall.SIGINT)
		time.Sleep(50 * time.Millisecond)
		run.cmd.Process.Signal(syscall.SIGINT)
		sent = time.Now()
		r, _ = run.wait(t, 10*time.Second)
		if d := time.Since(sent); d > 500*time.Millisecond {
			t.Errorf("a second Ctrl-C took %s", d)
		}
		r.wantExit(t, 130)
		// The commands stop on the hosts all the same: their input closed.
		time.Sleep(10 * time.Second)
		absent(t, f.Hosts, "/root/finished", "sleep 12")
	})

	t.Run("dead link", func(t *testing.T) {
		reset()
		h := f.Hosts[0] // root login
		inv := mixedInventory(t, f, dir, "  keepalive_interval = 1\n  keepalive_count = 2")
		run := tendBackground(t, env, "apply", slow("link", ""), "-i", inv, "--limit", h.Name, "--json")
		time.Sleep(2 * time.Second)
		if out, err := exec.Command("ip", "link", "set", h.Veth, "down").CombinedOutput(); err != nil {
			t.Fatalf("cutting the link: %v %s", err, out)
		}
		cut := time.Now()
		defer exec.Command("ip", "link", "set", h.Veth, "up").Run()
		r, _ := run.wait(t, 30*time.Second)
		if d := time.Since(cut); d > 6*time.Second {
			t.Errorf("tend noticed the dead link after %s", d)
		}
		r.wantExit(t, 4)
		if e := task(t, r.events(t), h.Name, "command.slow"); !strings.Contains(e.Message, "outcome unknown") || !strings.Contains(e.Message, "keepalives") {
			t.Errorf("message: %s", e.Message)
		}
		// The host stops the command when the heartbeats stop (4 s), long
		// before it would finish; the link comes back after that.
		time.Sleep(7 * time.Second)
		exec.Command("ip", "link", "set", h.Veth, "up").Run()
		time.Sleep(5 * time.Second)
		absent(t, f.Hosts[:1], "/root/finished", "sleep 12")
	})
}

// Notifications and owed unit actions are recorded on the host before the
// change: tend SIGKILLed between the change and the restart leaves them,
// plan shows them, the next apply carries them out and clears them.
func TestFaultDurableNotifications(t *testing.T) {
	f := bootFleet(t, "fdurable", 2)
	dir := t.TempDir()
	inv := mixedInventory(t, f, dir, "")
	env := sudoEnv(f)
	pb := func(slow bool) string {
		run := `run = "touch /etc/tend-e2e-slow-done"`
		if slow {
			run = `run = "sleep 30; touch /etc/tend-e2e-slow-done"`
		}
		return writeFile(t, filepath.Join(dir, fmt.Sprintf("notify-%v.hcl", slow)), `
play "notify" {
  hosts = ["all"]
  file "/etc/tend-e2e-notify.conf" {
    content = "v=2\n"
    notify  = ["restart-app"]
  }
  command "slow" {
    `+run+`
    creates = "/etc/tend-e2e-slow-done"
  }
  handler "restart-app" {
    service "staffrota" { state = "restarted" }
  }
}
`)
	}
	before := map[string]string{}
	for _, h := range f.Hosts {
		before[h.Name] = sh(t, h, "systemctl show -p InvocationID --value staffrota")
	}
	run := tendBackground(t, env, "apply", pb(true), "-i", inv, "--no-color")
	time.Sleep(4 * time.Second)
	run.cmd.Process.Signal(syscall.SIGKILL)
	run.wait(t, 10*time.Second)
	for _, h := range f.Hosts {
		if got := sh(t, h, "cat /etc/tend-e2e-notify.conf"); got != "v=2" {
			t.Fatalf("%s: the change was not made before the kill: %q", h.Name, got)
		}
		if got := sh(t, h, "systemctl show -p InvocationID --value staffrota"); got != before[h.Name] {
			t.Fatalf("%s: staffrota was restarted before the kill", h.Name)
		}
		if got := sh(t, h, "ls /var/lib/tend/pending | wc -l"); got != "1" {
			t.Errorf("%s: %s pending records", h.Name, got)
		}
	}
	// The killed run's commands stopped with it; its lock is free.
	time.Sleep(2 * time.Second)
	absent(t, f.Hosts, "/etc/tend-e2e-slow-done", "sleep 30")

	p := tend(t, env, "plan", pb(false), "-i", inv, "--json")
	p.wantExit(t, 2)
	for _, e := range p.events(t) {
		if e.Type == "handler" && e.Status != "will_run" {
			t.Errorf("plan: handler %+v", e)
		}
	}
	if strings.Count(p.stdout, `"(an earlier run)"`) != 2 {
		t.Errorf("plan must show the pending handler on both hosts:\n%s", p)
	}
	a := tend(t, env, "apply", pb(false), "-i", inv, "--no-color")
	a.wantExit(t, 0)
	for _, h := range f.Hosts {
		if got := sh(t, h, "systemctl show -p InvocationID --value staffrota"); got == before[h.Name] {
			t.Errorf("%s: the pending restart did not run", h.Name)
		}
		if got := sh(t, h, "ls /var/lib/tend/pending | wc -l"); got != "0" {
			t.Errorf("%s: %s records left after the handler ran", h.Name, got)
		}
	}
	tend(t, env, "plan", pb(false), "-i", inv).wantExit(t, 0)
}

// One apply at a time per host: a second one is refused naming the holder,
// a plan says an apply is in progress, and a holder that dies (SIGKILL)
// frees the lock at once.
func TestFaultRunLock(t *testing.T) {
	f := bootFleet(t, "flock", 3)
	dir := t.TempDir()
	inv := mixedInventory(t, f, dir, "")
	env := sudoEnv(f)
	slow := writeFile(t, filepath.Join(dir, "slow.hcl"), `
play "slow" {
  hosts = ["all"]
  command "slow" { run = "sleep 15" }
}
`)
	quick := writeFile(t, filepath.Join(dir, "quick.hcl"), `
play "quick" {
  hosts = ["all"]
  file "/etc/tend-e2e-lock" { content = "x\n" }
}
`)
	holder := tendBackground(t, env, "apply", slow, "-i", inv, "--no-color")
	time.Sleep(3 * time.Second)
	second := tend(t, env, "apply", quick, "-i", inv, "--no-color")
	second.wantExit(t, 3)
	if n := strings.Count(second.stdout, "holds this host's run lock: tend apply by root@"); n != 3 {
		t.Errorf("want the holder named on all three hosts, got %d:\n%s", n, second)
	}
	for _, h := range f.Hosts {
		if got := sh(t, h, "test -e /etc/tend-e2e-lock && echo written || echo absent"); got != "absent" {
			t.Errorf("%s: the refused apply wrote", h.Name)
		}
	}
	p := tend(t, env, "plan", quick, "-i", inv, "--no-color")
	if strings.Count(p.stdout, "an apply is in progress on this host") != 3 {
		t.Errorf("plan must say that an apply holds the lock:\n%s", p)
	}
	holder.cmd.Process.Signal(syscall.SIGKILL)
	holder.wait(t, 10*time.Second)
	start := time.Now()
	tend(t, env, "apply", quick, "-i", inv).wantExit(t, 0)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the lock of a killed holder took %s to free", d)
	}
	absent(t, f.Hosts, "/nonexistent", "sleep 15")
}

// A drop-in that overrides what a task declares (the seed's hardening
// silently defeated) fails plan and apply, naming the drop-in; apply
// touches nothing; drop_ins = "allow" accepts it with a note.
func TestFaultDropIns(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "fdropin", 1, "deploy")
	h := f.Hosts[0]
	tend(t, nil, "apply", playbook, "-i", inv).wantExit(t, 0)
	sh(t, h, "mkdir -p /etc/systemd/system/staffrota.service.d && printf '[Service]\\nRestart=no\\nExecStart=\\nExecStart=/home/staff-rota-system/venv/bin/gunicorn --workers 1 --bind unix:/home/staff-rota-system/staffrota.sock rotasystems.wsgi:application\\n' > /etc/systemd/system/staffrota.service.d/override.conf && systemctl daemon-reload && systemctl restart staffrota")
	before := snapshot(t, h)
	p := tend(t, nil, "plan", playbook, "-i", inv, "--no-color")
	p.wantExit(t, 3)
	for _, want := range []string{"/etc/systemd/system/staffrota.service.d/override.conf", "[Service] Restart=no", "--workers 1", "drop_ins = \"allow\""} {
		if !strings.Contains(p.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, p.stdout)
		}
	}
	a := tend(t, nil, "apply", playbook, "-i", inv, "--no-color")
	a.wantExit(t, 3)
	if after := snapshot(t, h); after != before {
		t.Errorf("apply touched the host:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := sh(t, h, "test -e /etc/systemd/system/staffrota.service.d/override.conf && echo kept"); got != "kept" {
		t.Error("the drop-in was removed")
	}
	allow := writeFile(t, filepath.Join(dir, "allow.hcl"), strings.Replace(readFile(t, playbook), "restart_sec = 10", "restart_sec = 10\n    drop_ins    = \"allow\"", 1))
	if !strings.Contains(readFile(t, allow), "drop_ins") {
		t.Fatal("could not write the allow playbook")
	}
	ok := tend(t, nil, "plan", allow, "-i", inv, "--no-color")
	ok.wantExit(t, 0)
	if !strings.Contains(ok.stdout, "drop-in overrides the declared unit (allowed") {
		t.Errorf("allowed plan should note the override:\n%s", ok.stdout)
	}
}

// A unit tend restarts must stay up: a broken app (an import error) and no
// health check fails the apply with the journal tail, never "all ok".
func TestFaultSettle(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "fsettle", 2, "deploy")
	for _, h := range f.Hosts {
		sh(t, h, "echo 'import no_such_module_tend' > /home/staff-rota-system/rotasystems/wsgi.py")
	}
	nohealth := writeFile(t, filepath.Join(dir, "nohealth.hcl"), removeBlock(t, readFile(t, playbook), "health_check"))
	r := tend(t, nil, "apply", nohealth, "-i", inv, "--json")
	r.wantExit(t, 3)
	evs := r.events(t)
	for _, h := range f.Hosts {
		e := task(t, evs, h.Name, "gunicorn_service.staffrota")
		if e.Status != "failed" || !strings.Contains(e.Message, "did not stay up for 2s") || !strings.Contains(e.Message, "no_such_module_tend") {
			t.Errorf("%s: %s: %s", h.Name, e.Status, e.Message)
		}
	}
	if strings.Contains(r.stdout, "all ok") {
		t.Error("an outage reported as all ok")
	}

	// A unit that dies a second after it starts and that systemd restarts
	// at once: the settle check fails as soon as it does, long before its
	// 30 s are up.
	flaky := writeFile(t, filepath.Join(dir, "flaky.hcl"), `
play "flaky" {
  hosts = ["all"]
  systemd_unit "tend-e2e-flaky.service" {
    content = "[Service]\nExecStart=/bin/sh -c 'sleep 1; exit 1'\nRestart=always\nRestartSec=100ms\n[Unit]\nStartLimitIntervalSec=0\n"
    state   = "started"
    settle  = "30s"
  }
}
`)
	start := time.Now()
	r = tend(t, nil, "apply", flaky, "-i", inv, "--json")
	took := time.Since(start)
	r.wantExit(t, 3)
	for _, h := range f.Hosts {
		e := task(t, r.events(t), h.Name, "systemd_unit.tend-e2e-flaky.service")
		if e.Status != "failed" || !strings.Contains(e.Message, "did not stay up for 30s") ||
			!(strings.Contains(e.Message, "restarted it") || strings.Contains(e.Message, "crash loop")) {
			t.Errorf("%s: %s: %s", h.Name, e.Status, e.Message)
		}
		sh(t, h, "systemctl stop tend-e2e-flaky.service || true")
	}
	if took > 15*time.Second {
		t.Errorf("the settle check of a unit that died after 1 s ended only after %s", took)
	}
}

// removeBlock removes the first block of the given type from HCL source.
func removeBlock(t *testing.T, src, kind string) string {
	t.Helper()
	i := strings.Index(src, "\n  "+kind+" ")
	if i < 0 {
		t.Fatalf("no %s block", kind)
	}
	j := strings.Index(src[i:], "\n  }\n")
	if j < 0 {
		t.Fatalf("unterminated %s block", kind)
	}
	return src[:i] + src[i+j+len("\n  }"):]
}

// Unprivileged users on the host attack while tend works as root: the login
// user's own processes (ops, whose sudo needs a password they do not have)
// race every path they can write while tend installs a root unit and a
// secret through sudo — nothing of tend's passes through those paths, the
// files are what was declared, nothing of theirs is installed or exposed;
// and another user (mallory) plants symlinks in sticky /tmp and in their
// home for tend's directory, chmod and removal tasks — all refused, nothing
// outside is touched. A target directory a user owns is refused for root's
// files, and a file owned by that user is written as that user.
func TestFaultNoPathToRoot(t *testing.T) {
	f := bootFleet(t, "fattack", 1)
	h := f.Hosts[0]
	dir := t.TempDir()
	inv := mixedInventory(t, f, dir, "")
	inv = writeFile(t, inv, strings.Replace(readFile(t, inv), `user = "root"`, `user = "ops"`+"\n    become_password_env = \"TEND_E2E_SUDO_PASSWORD\"", 1))
	env := sudoEnv(f)
	// The attacker: for 25 s, as ops, replace every tend-looking entry it
	// can reach with a symlink to /etc/shadow or a unit of its own; it logs
	// only what it managed to do.
	attacker := `
end=$(( $(date +%s) + 25 ))
printf '[Service]\nExecStart=/bin/sh -c "id > /tmp/pwned"\n[Install]\nWantedBy=multi-user.target\n' > /home/ops/evil.unit
while [ "$(date +%s)" -lt "$end" ]; do
	for f in /home/ops/.tend-* /tmp/.tend-* /var/tmp/.tend-* /home/ops/app/.tend-* /home/ops/app/.tend-*/*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		o=$(stat -c %U -- "$f" 2>/dev/null) || continue
		# rm -r without -f fails when the entry is already gone: only what
		# the attacker itself removed counts.
		if rm -r "$f" </dev/null 2>/dev/null && { ln -s /etc/shadow "$f" 2>/dev/null || cp /home/ops/evil.unit "$f" 2>/dev/null; }; then
			echo "swapped $f of $o" >> /home/ops/attack.log
		fi
	done
done
`
	sh(t, h, "mkdir -p /home/ops/app && chown ops: /home/ops/app && printf 'old\\n' > /home/ops/app/owned.conf && chown ops: /home/ops/app/owned.conf")
	writeFile(t, filepath.Join(h.Root, "home/ops/attack.sh"), attacker)
	sh(t, h, "chown ops: /home/ops/attack.sh && su ops -s /bin/sh -c 'nohup sh /home/ops/attack.sh >/dev/null 2>&1 &'")
	// The attack must really run while tend works, or this proves nothing.
	sh(t, h, "sleep 0.5; pgrep -u ops -f attack.sh >/dev/null")
	pb := writeFile(t, filepath.Join(dir, "install.hcl"), `
variable "v" { default = "1" }
play "install" {
  hosts = ["all"]
  systemd_unit "tend-e2e-target" {
    service {
      ExecStart = "/bin/sleep infinity"
      Environment = "V=${var.v}"
    }
    install { WantedBy = "multi-user.target" }
    enabled = true
    state   = "started"
  }
  file "/etc/tend-e2e-secret.conf" {
    content = "secret ${var.v}\n"
    mode    = "0600"
  }
}
`)
	for i := 1; i <= 5; i++ {
		tend(t, env, "apply", pb, "-i", inv, "--var", fmt.Sprintf("v=%d", i)).wantExit(t, 0)
		unit := sh(t, h, "cat /etc/systemd/system/tend-e2e-target.service")
		if !strings.Contains(unit, fmt.Sprintf("Environment=V=%d", i)) || strings.Contains(unit, "pwned") {
			t.Fatalf("run %d installed:\n%s", i, unit)
		}
		if got := sh(t, h, "stat -c '%U %a' /etc/tend-e2e-secret.conf; cat /etc/tend-e2e-secret.conf"); got != fmt.Sprintf("root 600\nsecret %d", i) {
			t.Fatalf("run %d: secret file %q", i, got)
		}
	}
	// A root file in a directory the user owns: refused, nothing written;
	// the user's own file: written as the user.
	owned := writeFile(t, filepath.Join(dir, "owned.hcl"), `
play "owned" {
  hosts = ["all"]
  file "/home/ops/app/root.conf" { content = "root's\n" }
  file "/home/ops/app/owned.conf" {
    content = "new\n"
    owner   = "ops"
  }
}
`)
	r := tend(t, env, "apply", owned, "-i", inv, "--no-color")
	r.wantExit(t, 3)
	if !strings.Contains(r.stdout, "refused: /home/ops/app belongs to ops") {
		t.Errorf("the root file in ops's directory must be refused:\n%s", r)
	}
	if got := sh(t, h, "test -e /home/ops/app/root.conf && echo written || echo absent"); got != "absent" {
		t.Error("root.conf was written")
	}
	own := writeFile(t, filepath.Join(dir, "own.hcl"), strings.Replace(readFile(t, owned), `  file "/home/ops/app/root.conf" { content = "root's\n" }`+"\n", "", 1))
	tend(t, env, "apply", own, "-i", inv).wantExit(t, 0)
	if got := sh(t, h, "stat -c %U /home/ops/app/owned.conf; cat /home/ops/app/owned.conf"); got != "ops\nnew" {
		t.Errorf("owned.conf: %q", got)
	}
	time.Sleep(time.Second)
	sh(t, h, "pkill -u ops -f attack.sh || true")

	// mallory, a user without sudo, plants symlinks.
	sh(t, h, `id mallory >/dev/null 2>&1 || useradd -m mallory
mkdir -p /etc/victimdir && echo keep > /etc/victimdir/app.conf && echo secret > /etc/victim && chmod 600 /etc/victim
su mallory -s /bin/sh -c 'ln -sfn /etc /tmp/app; ln -sfn /etc/victimdir /home/mallory/conf; echo mine > /tmp/appconf; chmod 600 /tmp/appconf'`)
	traps := map[string]string{
		"directory./tmp/app/victimdir":     "directory \"/tmp/app/victimdir\" {\n    owner = \"mallory\"\n    mode  = \"0755\"\n  }",
		"file./tmp/appconf":                "file \"/tmp/appconf\" {\n    content = \"mine\\n\"\n    mode    = \"0644\"\n  }",
		"file./home/mallory/conf/app.conf": "file \"/home/mallory/conf/app.conf\" { state = \"absent\" }",
	}
	for id, body := range traps {
		one := writeFile(t, filepath.Join(dir, "trap.hcl"), "play \"traps\" {\n  hosts = [\"all\"]\n  "+body+"\n}\n")
		r := tend(t, env, "apply", one, "-i", inv, "--json")
		r.wantExit(t, 3)
		if e := task(t, r.events(t), h.Name, id); e.Status != "failed" || !strings.Contains(e.Message, "refused") {
			t.Errorf("%s: %s %s, want refused", id, e.Status, e.Message)
		}
	}
	if got := sh(t, h, "stat -c '%U %a' /etc/victimdir /etc/victim /tmp/appconf; cat /etc/victimdir/app.conf"); got != "root 755\nroot 600\nmallory 600\nkeep" {
		t.Errorf("after the traps: %q", got)
	}
	if got := sh(t, h, "test -e /tmp/pwned && echo PWNED || echo safe"); got != "safe" {
		t.Fatal("the attacker's unit ran as root")
	}
	if got := sh(t, h, "stat -c '%a %U %G' /etc/shadow"); got != "640 root shadow" {
		t.Fatalf("/etc/shadow is now %s", got)
	}
	if got := sh(t, h, "find /etc /home/ops/app -type f -user ops -newer /home/ops/attack.sh ! -name owned.conf 2>/dev/null | head"); got != "" {
		t.Errorf("files of the attacker's landed: %s", got)
	}
	// The only entries the attacker could swap are in its own directory,
	// where tend writes as ops: its own files.
	if got := sh(t, h, "grep -v ' of ops$' /home/ops/attack.log 2>/dev/null | sed 's/\\.tend-[^/ ]*/.tend-*/' | sort -u || true"); got != "" {
		t.Errorf("the attacker swapped entries not its own: %s", got)
	}
	t.Logf("successful swaps by the attacker, all in its own directory: %s", sh(t, h, "wc -l < /home/ops/attack.log 2>/dev/null || echo 0"))
}

// Ctrl-C during a large upload returns within seconds and leaves nothing;
// a writer killed on the host (a crash) leaves its temporary file, which
// the next run removes — only tend's own (name pattern, owner, older than
// the run); a full disk is reported as such and loses nothing.
func TestFaultLitterAndFullDisk(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "flitter", 1, "deploy")
	h := f.Hosts[0]
	sh(t, h, "mkdir -p /srv/big")
	// 20 MB over a link throttled to 20 Mbit/s: eight seconds of upload.
	big := filepath.Join(dir, "big.bin")
	data := make([]byte, 20<<20)
	for i := range data {
		data[i] = byte(i*131 + i>>13)
	}
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tc", "qdisc", "add", "dev", h.Veth, "root", "tbf", "rate", "20mbit", "burst", "32kbit", "latency", "400ms").CombinedOutput(); err != nil {
		t.Fatalf("throttling the link: %v %s", err, out)
	}
	unthrottle := func() { exec.Command("tc", "qdisc", "del", "dev", h.Veth, "root").Run() }
	defer unthrottle()
	pb := writeFile(t, filepath.Join(dir, "big.hcl"), `
play "big" {
  hosts = ["all"]
  file "/srv/big/data.bin" { source = "`+big+`" }
}
`)
	run := tendBackground(t, nil, "apply", pb, "-i", inv, "--no-color")
	time.Sleep(2500 * time.Millisecond)
	if got := sh(t, h, "ls -A /srv/big | grep -c '^.tend-' || true"); got != "1" {
		t.Fatalf("no upload in flight at +2.5s (%s temporary files)", got)
	}
	run.cmd.Process.Signal(syscall.SIGINT)
	sent := time.Now()
	r, _ := run.wait(t, 60*time.Second)
	if d := time.Since(sent); d > 3*time.Second {
		t.Errorf("Ctrl-C during an upload took %s", d)
	}
	r.wantExit(t, 130)
	// The stop reaches the host behind the data already in flight on the
	// slow link (at most the channel's 2 MiB window); then the write is
	// undone and the run's processes are gone, its lock with them — at the
	// latest when its heartbeats have been missing for 4 × 5 s, if the
	// link lost tend's goodbye.
	settled := false
	for i := 0; i < 100 && !settled; i++ {
		settled = sh(t, h, "{ ls -A /srv/big /home/deploy /tmp | grep '^.tend'; pgrep -f '[t]end-supervisor|[t]end_state_dir'; } | wc -l") == "0"
		if !settled {
			time.Sleep(250 * time.Millisecond)
		}
	}
	if !settled {
		t.Errorf("25 s after Ctrl-C the host still has tend's work: %s", sh(t, h, "ls -A /srv/big /home/deploy /tmp; pgrep -fa '[t]end-' || true"))
	}
	t.Logf("the host was clean %s after Ctrl-C", time.Since(sent).Round(100*time.Millisecond))

	// The writer killed on the host mid-upload (a crash: no trap runs).
	run = tendBackground(t, nil, "apply", pb, "-i", inv, "--no-color")
	time.Sleep(2500 * time.Millisecond)
	// The write's command, its supervisor and its watcher: SIGKILL, no
	// trap runs.
	sh(t, h, `c=
for p in $(pgrep -f '[t]end_dest='); do
	grep -qa tend-supervisor /proc/$p/cmdline || { c=$p; break; }
done
[ -n "$c" ] || exit 1
s=$(cut -d' ' -f4 /proc/$c/stat)
for w in $(pgrep -f '[t]end-watch'); do
	case " $(tr '\0' ' ' </proc/$w/cmdline) " in *" $s "*) kill -KILL $w ;; esac
done
kill -KILL $s; kill -KILL -$c`)
	r, _ = run.wait(t, 60*time.Second)
	if r.code != 3 {
		t.Logf("host processes: %s", sh(t, h, "pgrep -fa '[t]end' | cut -c1-100 || true"))
	}
	r.wantExit(t, 3)
	if !strings.Contains(r.stdout, "outcome unknown") && !strings.Contains(r.stdout, "outcome is unknown") {
		t.Errorf("a killed writer's outcome is unknown:\n%s", r)
	}
	stale := sh(t, h, "ls -A /srv/big | grep '^.tend-' || true")
	if stale == "" {
		t.Fatal("the killed writer left no temporary file to clean up")
	}
	unthrottle()
	for i := 0; i < 40 && sh(t, h, "pgrep -f '[t]end-supervisor' | wc -l") != "0"; i++ {
		time.Sleep(250 * time.Millisecond)
	}
	// Decoys that are not tend's, or not its writer's, stay; age makes the
	// killed supervisor's private directory collectable.
	sh(t, h, "touch /srv/big/.tend-notes.tmp /srv/big/.tend-AAAAAAAAAAAA.tmp && chown deploy /srv/big/.tend-AAAAAAAAAAAA.tmp && touch -d '1 hour ago' /srv/big/.tend-* /tmp/.tend-run.*")
	// A staging file of an earlier tend version in the login's home.
	sh(t, h, "touch -d '1 hour ago' /home/deploy/.tend-upload-0123456789abcdef && chown deploy /home/deploy/.tend-upload-0123456789abcdef")
	tend(t, nil, "apply", pb, "-i", inv).wantExit(t, 0)
	if got := sh(t, h, "ls -A /srv/big | sort | tr '\\n' ' '"); got != ".tend-AAAAAAAAAAAA.tmp .tend-notes.tmp data.bin" {
		t.Errorf("after the next run /srv/big holds %q (stale was %q)", got, stale)
	}
	if got := sh(t, h, "ls -A /home/deploy /tmp | grep -c 'tend-upload\\|tend-run' || true"); got != "0" {
		t.Errorf("stale files left: %s", sh(t, h, "ls -A /home/deploy /tmp"))
	}
	if got := sh(t, h, "sha256sum < /srv/big/data.bin | cut -d' ' -f1"); got != fmt.Sprintf("%x", sha256.Sum256(data)) {
		t.Errorf("data.bin is not the uploaded file")
	}

	// A full disk.
	sh(t, h, "mkdir -p /mnt/small && mount -t tmpfs -o size=64k tmpfs /mnt/small && echo old > /mnt/small/f")
	defer sh(t, h, "umount /mnt/small || true")
	full := writeFile(t, filepath.Join(dir, "full.hcl"), `
play "full" {
  hosts = ["all"]
  file "/mnt/small/f" { source = "`+big+`" }
}
`)
	r = tend(t, nil, "apply", full, "-i", inv, "--no-color")
	r.wantExit(t, 3)
	if !strings.Contains(r.stdout, "write /mnt/small/f: no space left on device in /mnt/small") {
		t.Errorf("want a clear full-disk message:\n%s", r)
	}
	if got := sh(t, h, "cat /mnt/small/f; ls -A /mnt/small | tr '\\n' ' '"); got != "old\nf" {
		t.Errorf("after the full disk: %q", got)
	}
}
