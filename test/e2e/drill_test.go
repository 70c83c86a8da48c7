//go:build e2e

package e2e

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// drillEvent is the drill measurement of a task event.
type drillEvent struct {
	Type  string `json:"type"`
	Host  string `json:"host"`
	Task  string `json:"task"`
	Drill *struct {
		Unit          string `json:"unit"`
		OldPID        int    `json:"old_pid"`
		NewPID        int    `json:"new_pid"`
		NRestarts     int    `json:"n_restarts"`
		Processes     int    `json:"processes"`
		RecoveryMS    int64  `json:"recovery_ms"`
		HealthyMS     int64  `json:"healthy_ms"`
		Result        string `json:"result"`
		StartLimitHit bool   `json:"start_limit_hit"`
	} `json:"drill"`
	Recap []struct {
		Host       string `json:"host"`
		RecoveryMS int64  `json:"recovery_ms"`
	} `json:"recap"`
}

func drillEvents(t *testing.T, r result) []drillEvent {
	t.Helper()
	var out []drillEvent
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var e drillEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// crashyUnit is the seed's restart settings (start limits in [Service],
// as the report wrote them) on a service that runs the first time and
// crashes at once on every later start.
const crashyPlay = `
play "crashy" {
  hosts = ["web"]
  systemd_unit "crashy.service" {
    state   = "started"
    content = <<-EOT
      [Unit]
      Description=runs once, then crashes at every start
      [Service]
      ExecStart=/bin/sh -c 'if [ -e /run/crashy.ran ]; then echo "crashy: cannot start" >&2; exit 1; fi; touch /run/crashy.ran; exec sleep infinity'
      Restart=always
      RestartSec=1
      StartLimitInterval=60
      StartLimitBurst=3
    EOT
  }
  restart_drill {
    unit                       = "crashy.service"
    margin                     = "15s"
    allow_without_health_check = true
  }
}
`

// TestRestartDrill drills the hardened staffrota unit on two real hosts
// (recovered, timed, a new main PID, NRestarts up), then a unit with the
// seed's start limits whose app crashes on restart (start-limit-hit, the
// drill halts), and refuses units without a restart policy before
// killing anything.
func TestRestartDrill(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "fdrill", 2, "deploy")
	hosts := f.Hosts
	tend(t, nil, "apply", playbook, "-i", inv, "--json").wantExit(t, 0)

	drillPB := writeFile(t, filepath.Join(dir, "drill.hcl"), strings.Replace(readFile(t, playbook), `  hosts = ["web"]
`, `  hosts = ["web"]
  restart_drill {
    unit   = "staffrota.service"
    margin = "10s"
  }
`, 1))

	t.Run("the hardened unit recovers on every host", func(t *testing.T) {
		before := map[string][2]int{}
		for _, h := range hosts {
			pid, _ := strconv.Atoi(mainPID(t, h))
			n, _ := strconv.Atoi(sh(t, h, "systemctl show -p NRestarts --value staffrota"))
			before[h.Name] = [2]int{pid, n}
		}
		r := tend(t, nil, "drill", drillPB, "-i", inv, "--json")
		r.wantExit(t, 0)
		for _, e := range drillEvents(t, r) {
			if e.Type != "task" {
				continue
			}
			d := e.Drill
			if d == nil || e.Task != "restart_drill.staffrota.service" {
				t.Fatalf("task event without a drill: %+v", e)
			}
			pid, _ := strconv.Atoi(mainPID(t, hosts[0]))
			if e.Host == hosts[1].Name {
				pid, _ = strconv.Atoi(mainPID(t, hosts[1]))
			}
			b := before[e.Host]
			if d.OldPID != b[0] || d.NewPID != pid || pid == b[0] {
				t.Errorf("%s: MainPID before %d, after %d; drill says %d → %d", e.Host, b[0], pid, d.OldPID, d.NewPID)
			}
			if d.NRestarts != b[1]+1 {
				t.Errorf("%s: NRestarts %d → %d, want one more", e.Host, b[1], d.NRestarts)
			}
			// RestartSec=10: systemd waits 10 s before the restart.
			if d.RecoveryMS < 10000 || d.RecoveryMS > 20000 || d.HealthyMS < d.RecoveryMS {
				t.Errorf("%s: recovery %d ms, healthy %d ms", e.Host, d.RecoveryMS, d.HealthyMS)
			}
			// workers from the gunicorn_service (host.vars.workers = 2).
			if d.Processes != 3 {
				t.Errorf("%s: %d processes in the cgroup, want 3", e.Host, d.Processes)
			}
			t.Logf("%s: recovered in %d ms, healthy in %d ms (MainPID %d → %d)", e.Host, d.RecoveryMS, d.HealthyMS, d.OldPID, d.NewPID)
		}
		for _, h := range hosts {
			serving(t, h)
		}
		human := tend(t, nil, "drill", drillPB, "-i", inv, "--limit", hosts[0].Name)
		human.wantExit(t, 0)
		if !strings.Contains(human.stdout, "recovered in 1") || !strings.Contains(human.stdout, "recovery") {
			t.Errorf("human output:\n%s", human.stdout)
		}
		t.Logf("human drill output:\n%s", human.stdout)
	})

	t.Run("the seed's start limits end in start-limit-hit", func(t *testing.T) {
		crashy := writeFile(t, filepath.Join(dir, "crashy.hcl"), crashyPlay)
		tend(t, nil, "apply", crashy, "-i", inv).wantExit(t, 0)
		r := tend(t, nil, "drill", crashy, "-i", inv, "--json")
		r.wantExit(t, 3)
		evs := r.events(t)
		e := task(t, evs, hosts[0].Name, "restart_drill.crashy.service")
		if e.Status != "failed" || !strings.Contains(e.Message, "start-limit-hit: systemd gave up restarting crashy.service (StartLimitBurst=3 in StartLimitIntervalSec=1min)") ||
			!strings.Contains(e.Message, "crashy: cannot start") {
			t.Errorf("canary: %s: %s", e.Status, e.Message)
		}
		if rc := recapOf(t, evs, hosts[1].Name); !rc.NotStarted {
			t.Errorf("the drill went on past the failed canary: %+v", rc)
		}
		// Debian 12's systemd (252) keeps the crash's Result=exit-code when
		// the start limit refuses the restart; the journal says why.
		if got := sh(t, hosts[0], "systemctl show -p ActiveState --value crashy; systemctl show -p Result --value crashy"); got != "failed\nexit-code" && got != "failed\nstart-limit-hit" {
			t.Errorf("crashy on the canary: %s", got)
		}
		if d := drillEvents(t, r); !slices.ContainsFunc(d, func(e drillEvent) bool { return e.Drill != nil && e.Drill.StartLimitHit && e.Host == hosts[0].Name }) {
			t.Errorf("no drill event with start_limit_hit")
		}
		if got := sh(t, hosts[1], "systemctl show -p ActiveState --value crashy"); got != "active" {
			t.Errorf("crashy on the host not drilled: %s", got)
		}
		t.Logf("canary: %s", e.Message)
	})

	t.Run("no restart policy: refused before anything is killed", func(t *testing.T) {
		h := hosts[1]
		pid := mainPID(t, h)
		// Offline: the play renders the unit without Restart=.
		norestart := writeFile(t, filepath.Join(dir, "norestart.hcl"), strings.Replace(readFile(t, drillPB), `restart     = "always"`, `restart     = "no"`, 1))
		r := tend(t, nil, "drill", norestart, "-i", inv)
		r.wantExit(t, 5)
		if !strings.Contains(r.stderr, "refuse: no restart policy") {
			t.Errorf("offline refusal:\n%s", r)
		}
		// On the host: a unit the play does not manage, with Restart=no.
		sh(t, h, "printf '[Service]\\nExecStart=/bin/sleep infinity\\n' >/etc/systemd/system/plain.service && systemctl daemon-reload && systemctl start plain")
		plainPID := sh(t, h, "systemctl show -p MainPID --value plain")
		plain := writeFile(t, filepath.Join(dir, "plain.hcl"), `play "plain" {
  hosts = ["web"]
  restart_drill {
    unit = "plain.service"
    allow_without_health_check = true
  }
}
`)
		r = tend(t, nil, "drill", plain, "-i", inv, "--limit", h.Name, "--json")
		r.wantExit(t, 3)
		if e := task(t, r.events(t), h.Name, "restart_drill.plain.service"); e.Status != "failed" || !strings.Contains(e.Message, "no restart policy (Restart=no)") {
			t.Errorf("on-host refusal: %s: %s", e.Status, e.Message)
		}
		if now := sh(t, h, "systemctl show -p MainPID --value plain"); now != plainPID {
			t.Errorf("plain.service was killed: MainPID %s → %s", plainPID, now)
		}
		if now := mainPID(t, h); now != pid {
			t.Errorf("staffrota was killed: MainPID %s → %s", pid, now)
		}
	})
}
