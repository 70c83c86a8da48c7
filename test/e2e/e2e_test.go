//go:build e2e

// Package e2e runs the tend binary against real Debian hosts — systemd as
// PID 1, OpenSSH, sudo — booted as systemd-nspawn containers by test/fleet.
// It proves what only real hosts can: restart only on change, daemon-reload,
// sudo with and without a password, atomic writes, health checks through the
// app's unix socket. Run it with `make e2e` (root). Outside CI it skips when
// the machine cannot boot containers; under CI=true it fails instead.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

const (
	unitPath   = "/etc/systemd/system/staffrota.service"
	appDir     = "/home/staff-rota-system"
	socketPath = appDir + "/staffrota.sock"
	dbMarker   = appDir + "/db/available"
)

var (
	tendBin  string
	playbook string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tend-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tendBin = filepath.Join(dir, "tend")
	build := exec.Command("go", "build", "-o", tendBin, "../../cmd/tend")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tend:", err)
		os.Exit(1)
	}
	playbook, _ = filepath.Abs("../../examples/staffrota/harden.hcl")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireFleet skips (outside CI) or fails (under CI=true) when this machine
// cannot boot a fleet.
func requireFleet(t *testing.T) {
	t.Helper()
	var why string
	switch {
	case os.Geteuid() != 0:
		why = "the real-host suite needs root"
	default:
		if err := fleet.Check(); err != nil {
			why = err.Error()
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the real-host suite cannot run: %s", why)
	}
	t.Skipf("skipping real-host suite: %s (run as root on Debian with `make deps`)", why)
}

// bootFleet boots n hosts and tears them down when the test ends.
func bootFleet(t *testing.T, name string, n int) *fleet.Fleet {
	t.Helper()
	requireFleet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var log bytes.Buffer
	start := time.Now()
	f, err := fleet.Up(ctx, fleet.Options{Hosts: n, Name: name, Log: &log})
	if err != nil {
		t.Fatalf("booting %d hosts: %v\n%s", n, err, log.String())
	}
	t.Logf("fleet %s: %d hosts up in %s", f.Name, n, time.Since(start).Round(100*time.Millisecond))
	t.Cleanup(func() {
		if err := f.Down(); err != nil {
			t.Errorf("tearing down fleet: %v", err)
		}
	})
	return f
}

// fleetWithInventory boots n hosts and writes a tend inventory for them
// that logs in as user; it returns the fleet, a scratch directory and the
// inventory's path.
func fleetWithInventory(t *testing.T, name string, n int, user string) (*fleet.Fleet, string, string) {
	t.Helper()
	f := bootFleet(t, name, n)
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.hcl")
	if err := f.WriteTendInventory(inv, user); err != nil {
		t.Fatal(err)
	}
	return f, dir, inv
}

// result is one finished tend invocation.
type result struct {
	args   []string
	code   int
	stdout string
	stderr string
}

func (r result) String() string {
	return fmt.Sprintf("tend %s → exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// tend runs the binary with a bounded time and extra environment.
func tend(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tendBin, args...)
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1", "SSH_AUTH_SOCK="), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("running tend: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("tend did not finish in time: %s", r)
	}
	return r
}

func (r result) wantExit(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got:\n%s", code, r)
	}
}

// event is one line of --json output.
type event struct {
	Type    string `json:"type"`
	Mode    string `json:"mode"`
	Host    string `json:"host"`
	Task    string `json:"task"`
	Kind    string `json:"kind"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Diff    *struct {
		Changes []struct {
			Attr    string `json:"attr"`
			Old     string `json:"old"`
			New     string `json:"new"`
			Path    string `json:"path"`
			Unified string `json:"unified"`
		} `json:"changes"`
		Actions []string `json:"actions"`
	} `json:"diff"`
	Recap []struct {
		Host        string `json:"host"`
		OK          int    `json:"ok"`
		Changed     int    `json:"changed"`
		Failed      int    `json:"failed"`
		Skipped     int    `json:"skipped"`
		Unreachable bool   `json:"unreachable"`
		NotStarted  bool   `json:"not_started"`
		Reverted    bool   `json:"reverted"`
		RevertError string `json:"revert_error"`
		Error       string `json:"error"`
		RoundTrips  int    `json:"round_trips"`
	} `json:"recap"`
	Totals *struct {
		Hosts, OK, Changed, Failed, Skipped, Unreachable int
	} `json:"totals"`
}

// events parses the JSON event stream; every line must be an event.
func (r result) events(t *testing.T) []event {
	t.Helper()
	var evs []event
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("stdout line is not a JSON event: %q: %v\n%s", sc.Text(), err, r)
		}
		if e.Type == "" || e.Mode == "" {
			t.Fatalf("event without type or mode: %q", sc.Text())
		}
		evs = append(evs, e)
	}
	if len(evs) == 0 || evs[0].Type != "run_start" || evs[len(evs)-1].Type != "recap" {
		t.Fatalf("event stream must start with run_start and end with recap:\n%s", r)
	}
	return evs
}

// task returns the task event of host and task ID.
func task(t *testing.T, evs []event, host, id string) event {
	t.Helper()
	for _, e := range evs {
		if e.Type == "task" && e.Host == host && e.Task == id {
			return e
		}
	}
	t.Fatalf("no task event for %s on %s", id, host)
	return event{}
}

// recap returns the final recap keyed by host.
func recap(evs []event) map[string]struct {
	OK, Changed, Failed, Skipped int
	Unreachable                  bool
	Error                        string
	RoundTrips                   int
} {
	out := map[string]struct {
		OK, Changed, Failed, Skipped int
		Unreachable                  bool
		Error                        string
		RoundTrips                   int
	}{}
	last := evs[len(evs)-1]
	for _, r := range last.Recap {
		out[r.Host] = struct {
			OK, Changed, Failed, Skipped int
			Unreachable                  bool
			Error                        string
			RoundTrips                   int
		}{r.OK, r.Changed, r.Failed, r.Skipped, r.Unreachable, r.Error, r.RoundTrips}
	}
	return out
}

// sh runs a command on a host as root over plain OpenSSH.
func sh(t *testing.T, h *fleet.Host, command string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := h.SSH(ctx, "root", command)
	if err != nil {
		t.Fatalf("%s: %s: %v", h.Name, command, err)
	}
	return strings.TrimSpace(out)
}

// hostState is what must not move when nothing should change.
type hostState struct {
	unitSum  string
	mainPID  string
	restarts string
	listing  string // temp litter shows up here
}

func snapshot(t *testing.T, h *fleet.Host) hostState {
	t.Helper()
	out := sh(t, h, "sha256sum "+unitPath+" | cut -d' ' -f1; systemctl show -p MainPID --value staffrota; systemctl show -p NRestarts --value staffrota; ls -A /etc/systemd/system /home/deploy /tmp | tr '\\n' ' '")
	lines := strings.SplitN(out, "\n", 4)
	if len(lines) < 4 {
		t.Fatalf("%s: snapshot: %q", h.Name, out)
	}
	return hostState{lines[0], lines[1], lines[2], lines[3]}
}

func mainPID(t *testing.T, h *fleet.Host) string {
	return sh(t, h, "systemctl show -p MainPID --value staffrota")
}

// httpCode asks the app through its unix socket, on the host.
func httpCode(t *testing.T, h *fleet.Host, path string) string {
	return sh(t, h, "curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket "+socketPath+" http://localhost"+path)
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestStaffrota walks the seed's hardening through plan, apply, idempotence,
// drift, a health failure, --limit, host key mismatch and an unreachable
// host, on three real hosts.
func TestStaffrota(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "e2e", 3, "deploy")
	hosts := f.Hosts
	const unitTask = "gunicorn_service.staffrota"
	const healthTask = "health_check.staffrota"

	t.Run("plan on fresh hosts changes nothing", func(t *testing.T) {
		before := map[string]hostState{}
		for _, h := range hosts {
			before[h.Name] = snapshot(t, h)
		}
		r := tend(t, nil, "plan", playbook, "-i", inv, "--json")
		r.wantExit(t, 2)
		evs := r.events(t)
		for _, h := range hosts {
			e := task(t, evs, h.Name, unitTask)
			if e.Status != "change" || e.Diff == nil || len(e.Diff.Changes) == 0 {
				t.Fatalf("%s: want a pending change, got %+v", h.Name, e)
			}
			u := e.Diff.Changes[0].Unified
			for _, want := range []string{"+Restart=always", "--workers 2", "--timeout 60", "-ExecStart=" + appDir + "/venv/bin/gunicorn --workers 1"} {
				if !strings.Contains(u, want) {
					t.Errorf("%s: plan diff lacks %q:\n%s", h.Name, want, u)
				}
			}
			if !containsAll(e.Diff.Actions, "daemon-reload") {
				t.Errorf("%s: plan should announce a daemon-reload: %v", h.Name, e.Diff.Actions)
			}
			if after := snapshot(t, h); after != before[h.Name] {
				t.Errorf("%s: plan changed the host:\nbefore %+v\nafter  %+v", h.Name, before[h.Name], after)
			}
		}
		// The human rendering of the same plan, for the log.
		human := tend(t, nil, "plan", playbook, "-i", inv, "--limit", hosts[0].Name)
		human.wantExit(t, 2)
		t.Logf("human plan output:\n%s", human.stdout)
	})

	t.Run("apply hardens every host", func(t *testing.T) {
		r := tend(t, nil, "apply", playbook, "-i", inv, "--json")
		r.wantExit(t, 0)
		evs := r.events(t)
		for _, h := range hosts {
			// Lock + state, the baseline health dial (before the first
			// change, for a revert), the unit's write, reload + restart +
			// settle + state, the health dial.
			if rt := recap(evs)[h.Name].RoundTrips; rt > 5 {
				t.Errorf("%s: a cold converge cost %d round trips, want at most 5", h.Name, rt)
			} else {
				t.Logf("%s: cold converge cost %d round trips", h.Name, rt)
			}
			if e := task(t, evs, h.Name, unitTask); e.Status != "changed" {
				t.Errorf("%s: unit task %s, want changed: %s", h.Name, e.Status, e.Message)
			}
			if e := task(t, evs, h.Name, healthTask); e.Status != "ok" {
				t.Errorf("%s: health check %s: %s", h.Name, e.Status, e.Message)
			}
			unit := sh(t, h, "cat "+unitPath)
			for _, want := range []string{"Restart=always", "RestartSec=10", "--workers 2", "--timeout 60", "--bind unix:" + socketPath} {
				if !strings.Contains(unit, want) {
					t.Errorf("%s: unit lacks %q:\n%s", h.Name, want, unit)
				}
			}
			if got := sh(t, h, "systemctl show -p ActiveState --value staffrota"); got != "active" {
				t.Errorf("%s: staffrota is %s", h.Name, got)
			}
			pid := mainPID(t, h)
			if n := sh(t, h, "ps -o pid= --ppid "+pid+" | wc -l"); n != "2" {
				t.Errorf("%s: gunicorn master %s has %s workers, want 2", h.Name, pid, n)
			}
			for path, want := range map[string]string{"/": "200", "/health/": "200", "/dashboard/": "302"} {
				if got := httpCode(t, h, path); got != want {
					t.Errorf("%s: GET %s = %s, want %s", h.Name, path, got, want)
				}
			}
			if litter := sh(t, h, "ls -A /etc/systemd/system | grep -c tend || true"); litter != "0" {
				t.Errorf("%s: temp files left in /etc/systemd/system", h.Name)
			}
		}
	})

	t.Run("second apply changes and restarts nothing", func(t *testing.T) {
		before := map[string]hostState{}
		for _, h := range hosts {
			before[h.Name] = snapshot(t, h)
		}
		r := tend(t, nil, "apply", playbook, "-i", inv, "--json")
		r.wantExit(t, 0)
		evs := r.events(t)
		if tot := evs[len(evs)-1].Totals; tot == nil || tot.Changed != 0 || tot.Failed != 0 {
			t.Fatalf("second apply: want 0 changed, got %+v\n%s", tot, r)
		}
		for _, h := range hosts {
			if after := snapshot(t, h); after != before[h.Name] {
				t.Errorf("%s: second apply moved the host (MainPID/restarts/unit):\nbefore %+v\nafter  %+v", h.Name, before[h.Name], after)
			}
			t.Logf("%s: no-op apply cost %d round trips", h.Name, recap(evs)[h.Name].RoundTrips)
		}
		p := tend(t, nil, "plan", playbook, "-i", inv)
		p.wantExit(t, 0)
		if !strings.Contains(p.stdout, "No changes") {
			t.Errorf("plan on converged hosts should say so:\n%s", p.stdout)
		}
	})

	t.Run("drift on one host is repaired only there", func(t *testing.T) {
		drifted := hosts[1]
		sh(t, drifted, "sed -i 's/--workers 2/--workers 7/' "+unitPath)
		pids := map[string]string{}
		for _, h := range hosts {
			pids[h.Name] = mainPID(t, h)
		}
		r := tend(t, nil, "plan", playbook, "-i", inv, "--json")
		r.wantExit(t, 2)
		evs := r.events(t)
		for _, h := range hosts {
			e := task(t, evs, h.Name, unitTask)
			if h == drifted {
				if e.Status != "change" || !strings.Contains(e.Diff.Changes[0].Unified, "--workers 7") {
					t.Errorf("%s: plan should show the drift: %+v", h.Name, e)
				}
			} else if e.Status != "ok" {
				t.Errorf("%s: untouched host shows %s", h.Name, e.Status)
			}
		}
		a := tend(t, nil, "apply", playbook, "-i", inv, "--json")
		a.wantExit(t, 0)
		rc := recap(a.events(t))
		for _, h := range hosts {
			pid := mainPID(t, h)
			if h == drifted {
				if rc[h.Name].Changed != 1 || pid == pids[h.Name] {
					t.Errorf("%s: want 1 change and a restart, got %+v (pid %s → %s)", h.Name, rc[h.Name], pids[h.Name], pid)
				}
				if !strings.Contains(sh(t, h, "cat "+unitPath), "--workers 2") {
					t.Errorf("%s: drift not repaired", h.Name)
				}
			} else if rc[h.Name].Changed != 0 || pid != pids[h.Name] {
				t.Errorf("%s: want untouched, got %+v (pid %s → %s)", h.Name, rc[h.Name], pids[h.Name], pid)
			}
		}
	})

	t.Run("health failure fails only that host", func(t *testing.T) {
		sick := hosts[2]
		sh(t, sick, "rm -f "+dbMarker)
		defer sh(t, sick, "touch "+dbMarker+" && chown staffrota: "+dbMarker)
		r := tend(t, nil, "apply", playbook, "-i", inv, "--json", "--var", "health_retries=2")
		r.wantExit(t, 3)
		evs := r.events(t)
		rc := recap(evs)
		for _, h := range hosts {
			e := task(t, evs, h.Name, healthTask)
			if h == sick {
				if e.Status != "failed" || !strings.Contains(e.Message, "503") {
					t.Errorf("%s: health check should fail with 503: %+v", h.Name, e)
				}
				if rc[h.Name].Failed != 1 {
					t.Errorf("%s: recap %+v", h.Name, rc[h.Name])
				}
			} else if e.Status != "ok" || rc[h.Name].Failed != 0 {
				t.Errorf("%s: healthy host: %s %+v", h.Name, e.Status, rc[h.Name])
			}
		}
		human := tend(t, nil, "apply", playbook, "-i", inv, "--limit", sick.Name, "--var", "health_retries=1")
		human.wantExit(t, 3)
		if !strings.Contains(human.stdout, "FAILED") || !strings.Contains(human.stdout, "1 of 1 host failed") {
			t.Errorf("human recap should report the failure:\n%s", human.stdout)
		}
	})

	t.Run("limit and json", func(t *testing.T) {
		r := tend(t, nil, "plan", playbook, "-i", inv, "--json", "--limit", hosts[0].Name)
		r.wantExit(t, 0)
		for _, e := range r.events(t) {
			if e.Host != "" && e.Host != hosts[0].Name {
				t.Errorf("--limit %s leaked host %s", hosts[0].Name, e.Host)
			}
		}
		if rc := recap(r.events(t)); len(rc) != 1 {
			t.Errorf("recap should hold one host: %v", rc)
		}
		bad := tend(t, nil, "plan", playbook, "-i", inv, "--limit", "nosuchhost")
		bad.wantExit(t, 5)
	})

	t.Run("host key mismatch is refused and nothing is written", func(t *testing.T) {
		victim := hosts[0]
		sh(t, victim, "sed -i 's/--timeout 60/--timeout 30/' "+unitPath)
		defer tend(t, nil, "apply", playbook, "-i", inv, "--limit", victim.Name)
		before := snapshot(t, victim)
		// A known_hosts that pins the victim's address to another host's keys.
		var lines []string
		for _, k := range hosts[1].HostKeys {
			lines = append(lines, victim.Address+" "+k)
		}
		kh := writeFile(t, filepath.Join(dir, "wrong_known_hosts"), strings.Join(lines, "\n")+"\n")
		badInv := writeFile(t, filepath.Join(dir, "mismatch.hcl"), strings.Replace(readFile(t, inv), f.KnownHosts, kh, 1))
		r := tend(t, nil, "apply", playbook, "-i", badInv, "--limit", victim.Name, "--accept-new-host-keys")
		r.wantExit(t, 4)
		out := r.stdout + r.stderr
		if !strings.Contains(out, kh+":1") {
			t.Errorf("mismatch message must name the known_hosts file and line %s:1:\n%s", kh, r)
		}
		if after := snapshot(t, victim); after != before {
			t.Errorf("a refused host was changed:\nbefore %+v\nafter  %+v", before, after)
		}
		if got := readFile(t, kh); got != strings.Join(lines, "\n")+"\n" {
			t.Errorf("known_hosts was modified on a mismatch:\n%s", got)
		}
	})

	t.Run("unreachable host does not stop the others", func(t *testing.T) {
		// A host in group web pointing at a closed port of a fleet host:
		// the connection is refused, so it is unreachable.
		webInv := writeFile(t, filepath.Join(dir, "ghost2.hcl"), addHostToWeb(t, readFile(t, inv), "ghost", hosts[0].Address, 2))
		r := tend(t, nil, "apply", playbook, "-i", webInv, "--json")
		r.wantExit(t, 4)
		rc := recap(r.events(t))
		if !rc["ghost"].Unreachable {
			t.Errorf("ghost should be unreachable: %+v", rc["ghost"])
		}
		for _, h := range hosts {
			if rc[h.Name].Unreachable || rc[h.Name].Failed != 0 {
				t.Errorf("%s should have converged: %+v", h.Name, rc[h.Name])
			}
		}
	})
}

// TestCommandBecomeOff: a command with become = false runs, and has its
// guards run, as the login user, although the host's state is read with sudo.
// It also proves on a real host that commands end at their exit (not when
// a background child closes its output) and that a timed-out command run
// through sudo is really stopped.
func TestCommandBecomeOff(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "e2ecmd", 1, "deploy")
	h := f.Hosts[0]
	pb := writeFile(t, filepath.Join(dir, "cmd.hcl"), `
play "cmd" {
  hosts = ["all"]
  command "as-login-user" {
    become  = false
    only_if = "test \"$(id -un)\" = deploy"
    run     = "id -un > /home/deploy/ran-as"
    creates = "/home/deploy/ran-as"
  }
}
`)
	plan := tend(t, nil, "plan", pb, "-i", inv, "--json")
	plan.wantExit(t, 2)
	if e := task(t, plan.events(t), h.Name, "command.as-login-user"); e.Status != "will_run" {
		t.Fatalf("the only_if guard must run as deploy (so the command will run): %+v", e)
	}
	tend(t, nil, "apply", pb, "-i", inv).wantExit(t, 0)
	if got := sh(t, h, "cat /home/deploy/ran-as; stat -c %U /home/deploy/ran-as"); got != "deploy\ndeploy" {
		t.Errorf("command ran as %q, want deploy", got)
	}
	again := tend(t, nil, "plan", pb, "-i", inv)
	again.wantExit(t, 0)

	// A command that leaves a background process holding its output is done
	// when it exits, not when the background process ends.
	bg := writeFile(t, filepath.Join(dir, "bg.hcl"), `
play "bg" {
  hosts = ["all"]
  command "daemonish" {
    run     = "sleep 40 & touch /home/deploy/bg-started"
    creates = "/home/deploy/bg-started"
  }
}
`)
	start := time.Now()
	tend(t, nil, "apply", bg, "-i", inv).wantExit(t, 0)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("apply waited %s for a background process", d.Round(time.Second))
	}

	// A timed-out command run through sudo is really stopped: the root-owned
	// process must not finish its work afterwards.
	slow := writeFile(t, filepath.Join(dir, "slow.hcl"), `
play "slow" {
  hosts = ["all"]
  command "slow" {
    run     = "sleep 6; touch /root/should-not-exist"
    timeout = "2s"
  }
}
`)
	r := tend(t, nil, "apply", slow, "-i", inv)
	r.wantExit(t, 3)
	time.Sleep(6 * time.Second)
	if got := sh(t, h, "test -e /root/should-not-exist && echo exists || echo absent"); got != "absent" {
		t.Errorf("the timed-out privileged command went on running and finished:\n%s", r)
	}
}

// TestUnitsAndHandlers proves on real systemd: a systemd_unit built from
// blocks is installed, enabled and started; unchanged, it is neither
// reloaded nor restarted; changed, it is restarted once; and a handler
// notified by two tasks restarts its service exactly once per run.
func TestUnitsAndHandlers(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "e2eunit", 1, "deploy")
	h := f.Hosts[0]
	pb := writeFile(t, filepath.Join(dir, "units.hcl"), `
variable "v" { default = "1" }

play "units" {
  hosts = ["all"]

  directory "/etc/staffrota" { mode = "0755" }
  file "/etc/staffrota/a.conf" {
    content = "a=${var.v}\n"
    notify  = ["restart-app"]
  }
  file "/etc/staffrota/b.conf" {
    content = "b=${var.v}\n"
    notify  = ["restart-app"]
  }
  systemd_unit "tend-sleeper" {
    unit {
      Description = "tend e2e sleeper ${var.v}"
    }
    service {
      ExecStart = "/bin/sleep infinity"
    }
    install {
      WantedBy = "multi-user.target"
    }
    enabled = true
    state   = "started"
  }
  health_check "staffrota" {
    unix_socket   = "/home/staff-rota-system/staffrota.sock"
    path          = "/health/"
    expect_json   = { status = "ok" }
    retries       = 10
    delay         = "500ms"
  }
  handler "restart-app" {
    service "staffrota" { state = "restarted" }
  }
}
`)
	// InvocationID changes with every start of a unit: the count of distinct
	// ones seen is the count of (re)starts.
	inv2 := func(unit string) string {
		return sh(t, h, "systemctl show -p InvocationID --value "+unit)
	}
	apply := func(v string) []event {
		r := tend(t, nil, "apply", pb, "-i", inv, "--json", "--var", "v="+v)
		r.wantExit(t, 0)
		return r.events(t)
	}

	appBefore := inv2("staffrota")
	evs := apply("1")
	if got := sh(t, h, "systemctl is-enabled tend-sleeper; systemctl is-active tend-sleeper"); got != "enabled\nactive" {
		t.Fatalf("tend-sleeper: %q", got)
	}
	handler := 0
	for _, e := range evs {
		if e.Type == "handler" {
			handler++
			if e.Status != "changed" {
				t.Errorf("handler: %+v", e)
			}
		}
	}
	if handler != 1 {
		t.Fatalf("handler events: %d, want 1 (notified by two tasks)", handler)
	}
	appAfter := inv2("staffrota")
	if appAfter == appBefore {
		t.Fatal("the notified handler did not restart staffrota")
	}
	restarts := sh(t, h, "journalctl -u staffrota --no-pager -q | grep -c 'Started staffrota' || true")
	sleeper := inv2("tend-sleeper")

	// Unchanged: no restart of either unit, no handler.
	evs = apply("1")
	if tot := evs[len(evs)-1].Totals; tot.Changed != 0 {
		t.Fatalf("second apply changed %d", tot.Changed)
	}
	if inv2("tend-sleeper") != sleeper || inv2("staffrota") != appAfter {
		t.Fatal("a unit was restarted by a no-op apply")
	}

	// Changed unit and both notifying files: one restart each.
	evs = apply("2")
	if e := task(t, evs, h.Name, "systemd_unit.tend-sleeper"); e.Status != "changed" || !containsAll(e.Diff.Actions, "daemon-reload", "restart") {
		t.Errorf("unit change: %+v", e)
	}
	if inv2("tend-sleeper") == sleeper {
		t.Error("changed unit not restarted")
	}
	after := sh(t, h, "journalctl -u staffrota --no-pager -q | grep -c 'Started staffrota' || true")
	a, _ := strconv.Atoi(restarts)
	b, _ := strconv.Atoi(after)
	if b != a+1 {
		t.Errorf("staffrota started %d times for one run with two notifications, want 1", b-a)
	}
	if got := sh(t, h, "systemctl show -p Description --value tend-sleeper"); got != "tend e2e sleeper 2" {
		t.Errorf("daemon-reload missing: systemd sees %q", got)
	}
}

// TestBecomePassword proves sudo with a password: it works, and the password
// appears in no process's argv on the host, nor in the journal or tend's
// output.
func TestBecomePassword(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "e2esudo", 1, "ops")
	h := f.Hosts[0]
	src := readFile(t, inv)
	src = strings.Replace(src, "become", "become_password_env = \"TEND_E2E_SUDO_PASSWORD\"\n  become", 1)
	writeFile(t, inv, src)
	pb := writeFile(t, filepath.Join(dir, "sudo.hcl"), `
play "sudo" {
  hosts = ["all"]
  file "/etc/tend-e2e-sudo.conf" {
    content = "written with a sudo password\n"
    mode    = "0640"
    owner   = "root"
    group   = "root"
  }
  command "as-root" {
    run     = "test \"$(id -u)\" = 0 && touch /etc/tend-e2e-ran"
    creates = "/etc/tend-e2e-ran"
  }
}
`)
	// Without the password, sudo cannot work: a clear failure, no hang.
	noPw := tend(t, []string{"TEND_E2E_SUDO_PASSWORD="}, "apply", pb, "-i", inv)
	if noPw.code == 0 {
		t.Fatalf("apply without the sudo password should fail:\n%s", noPw)
	}

	// Sample every process's argv on the host while tend works (bounded:
	// 600 samples, about 30 s at most).
	sampler := "nohup sh -c 'i=0; while [ $i -lt 600 ] && [ ! -e /tmp/stop-sampler ]; do ps -eo args >> /tmp/argv.log; i=$((i+1)); sleep 0.05; done' >/dev/null 2>&1 &"
	sh(t, h, "rm -f /tmp/argv.log /tmp/stop-sampler; "+sampler)
	r := tend(t, []string{"TEND_E2E_SUDO_PASSWORD=" + f.SudoPassword}, "apply", pb, "-i", inv, "--json")
	sh(t, h, "touch /tmp/stop-sampler; sleep 0.2")
	r.wantExit(t, 0)
	if got := sh(t, h, "stat -c '%U:%G %a' /etc/tend-e2e-sudo.conf"); got != "root:root 640" {
		t.Errorf("file written through sudo: %s", got)
	}
	samples := sh(t, h, "wc -l < /tmp/argv.log")
	if n, _ := strconv.Atoi(samples); n < 10 {
		t.Fatalf("argv sampler took only %s samples", samples)
	}
	if sh(t, h, "grep -cF -- "+shellQuote(f.SudoPassword)+" /tmp/argv.log || true") != "0" {
		t.Fatal("the sudo password appeared in a process's argv on the host")
	}
	if sh(t, h, "journalctl --no-pager -q | grep -cF -- "+shellQuote(f.SudoPassword)+" || true") != "0" {
		t.Fatal("the sudo password appeared in the host's journal")
	}
	if strings.Contains(r.stdout+r.stderr+noPw.stdout+noPw.stderr, f.SudoPassword) {
		t.Fatal("the sudo password appeared in tend's output")
	}
	again := tend(t, []string{"TEND_E2E_SUDO_PASSWORD=" + f.SudoPassword}, "apply", pb, "-i", inv, "--json")
	again.wantExit(t, 0)
	if tot := again.events(t)[len(again.events(t))-1].Totals; tot.Changed != 0 {
		t.Errorf("second sudo apply changed %d", tot.Changed)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// addHostToWeb inserts a host block into the inventory's group "web".
func addHostToWeb(t *testing.T, inv, name, address string, port int) string {
	t.Helper()
	i := strings.Index(inv, "group \"web\" {")
	if i < 0 {
		t.Fatalf("inventory has no group web:\n%s", inv)
	}
	j := i + len("group \"web\" {")
	return inv[:j] + fmt.Sprintf("\n  host %q {\n    address = %q\n    port    = %d\n  }\n", name, address, port) + inv[j:]
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, l := range list {
			if l == w || strings.HasPrefix(l, w) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
