package run

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/playbooks"
)

// prepareDrill prepares playbook for hosts web1, web2 (group web) and db1
// in mode, returning the run and the diagnostics.
func prepareDrill(t *testing.T, playbook string, mode Mode) (*Run, hcl.Diagnostics) {
	t.Helper()
	dir := t.TempDir()
	inv, diags := inventory.Parse([]byte(`group "web" {
  host "web1" { connection = "local" }
  host "web2" { connection = "local" }
}
host "db1" { connection = "local" }
`), filepath.Join(dir, "inv.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pb, diags := playbooks.Load([]string{writeTemp(t, dir, "pb.hcl", playbook)}, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return Prepare(Options{Mode: mode, Inventory: inv, Playbook: pb})
}

func TestPrepareDrills(t *testing.T) {
	unit := func(service string) string {
		return `
play "web" {
  hosts = ["web"]
  restart_drill {
    unit = "app.service"
    allow_without_health_check = true
  }
  systemd_unit "app.service" {
    content = "[Service]\nExecStart=/bin/sleep infinity\n` + service + `"
  }
}
play "db" {
  hosts = ["db1"]
  file "/tmp/x" { content = "x" }
}
`
	}
	for _, tc := range []struct {
		name    string
		service string
		mode    Mode
		hosts   string // the run's hosts; "" when refused
		refusal string
	}{
		{"drill mode keeps the hosts with drills", `Restart=always\n`, ModeDrill, "web1 web2", ""},
		{"plan keeps every host", `Restart=always\n`, ModePlan, "web1 web2 db1", ""},
		{"no Restart= at all", ``, ModeDrill, "", "refuse: no restart policy: task systemd_unit.app.service renders app.service with Restart=no"},
		{"Restart=no", `Restart=no\n`, ModeDrill, "", "Restart=no"},
		{"the last Restart= wins", `Restart=always\nRestart=no\n`, ModeDrill, "", "Restart=no"},
		{"refused in plan too", `Restart=no\n`, ModePlan, "", "refuse: no restart policy"},
		{"Restart= of another section does not count", `[Unit]\nRestart=always\n`, ModeDrill, "", "refuse: no restart policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, diags := prepareDrill(t, unit(tc.service), tc.mode)
			if tc.refusal != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.refusal) {
					t.Fatalf("want %q, got %v", tc.refusal, diags)
				}
				if len(diags) != 1 || diags[0].Subject == nil || diags[0].Subject.Start.Line != 4 {
					t.Errorf("want one diagnostic at the restart_drill block (line 4): %v", diags)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			var names []string
			for _, h := range r.Hosts() {
				names = append(names, h.Name)
			}
			if got := strings.Join(names, " "); got != tc.hosts {
				t.Errorf("hosts %q, want %q", got, tc.hosts)
			}
		})
	}
	_, diags := prepareDrill(t, `play "db" {
  hosts = ["db1"]
  file "/tmp/x" { content = "x" }
}
`, ModeDrill)
	if !strings.Contains(diags.Error(), "No play of the selected hosts has a restart_drill block") {
		t.Errorf("a drill with no drills: %v", diags)
	}
}

func writeTemp(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeSystemctl puts a systemctl on PATH for drills on local hosts: the
// Nth read of the unit (one per drilled host) names the Nth of pids as
// its main process; the polls after it report the unit back with a new
// process, or, when the read number is in failAt, failed for good. It
// logs "read" and "poll" lines, in order, to the returned file.
func fakeSystemctl(t *testing.T, pids []int, failAt int) string {
	t.Helper()
	dir := t.TempDir()
	var list strings.Builder
	for _, p := range pids {
		fmt.Fprintln(&list, p)
	}
	writeTemp(t, dir, "pids", list.String())
	script := `#!/bin/sh
d=` + dir + `
case "$*" in
*"MainPID --value"*)
	sed -n "$(cat $d/reads)p" $d/pids
	;;
*Restart,RestartUSec*)
	n=$(($(cat $d/reads 2>/dev/null || echo 0) + 1))
	echo $n >$d/reads
	echo read >>$d/log
	printf 'Id=a.service\nLoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nMainPID=%s\nRestart=always\nRestartUSec=100ms\nNRestarts=0\nStartLimitBurst=5\nStartLimitIntervalUSec=10s\n' "$(sed -n ${n}p $d/pids)"
	;;
*)
	echo poll >>$d/log
	if [ "$(cat $d/reads)" = ` + fmt.Sprint(failAt) + ` ]; then
		printf 'ActiveState=failed\nSubState=failed\nMainPID=0\nResult=exit-code\nNRestarts=1\nControlGroup=\n'
	else
		printf 'ActiveState=active\nSubState=running\nMainPID=99999\nResult=success\nNRestarts=1\nControlGroup=\n'
	fi
	;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	writeTemp(t, dir, "journalctl", "#!/bin/sh\necho 'a.service: Failed with result exit-code.'\n")
	os.Chmod(filepath.Join(dir, "journalctl"), 0o755)
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return filepath.Join(dir, "log")
}

// victims starts n processes for the drills to kill.
func victims(t *testing.T, n int) []int {
	t.Helper()
	var pids []int
	for range n {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() { cmd.Process.Kill(); <-done })
		pids = append(pids, cmd.Process.Pid)
	}
	return pids
}

// TestDrillOneHostAtATime runs drills on three local hosts: they go one
// after the other, each timed, and the first failure halts the rest.
func TestDrillOneHostAtATime(t *testing.T) {
	const pb = `
play "p" {
  hosts = ["all"]
  restart_drill {
    unit = "a.service"
    allow_without_health_check = true
  }
}
`
	for _, tc := range []struct {
		name   string
		failAt int
		want   map[string]string
	}{
		{"every host recovers", 0, map[string]string{"a": "ok", "b": "ok", "c": "ok"}},
		{"the second fails: the third is not started", 2, map[string]string{"a": "ok", "b": "failed", "c": "not started"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pids := victims(t, 3)
			log := fakeSystemctl(t, pids, tc.failAt)
			r, rec := setup(t, []string{"a", "b", "c"}, pb, ModeDrill)
			res := r.Execute(context.Background())
			for i, rc := range res.Recaps {
				got := "ok"
				switch {
				case rc.NotStarted:
					got = "not started"
				case rc.Failed > 0:
					got = "failed"
				}
				if got != tc.want[rc.Host] {
					t.Errorf("%s: %s, want %s (%+v)", rc.Host, got, tc.want[rc.Host], rc)
				}
				if got == "ok" && (rc.Recovery <= 0 || rc.Drilled != 1) {
					t.Errorf("%s: recovery %v, drilled %d", rc.Host, rc.Recovery, rc.Drilled)
				}
				e := rec.find(rc.Host, "restart_drill.a.service")
				if got == "not started" {
					if e != nil {
						t.Errorf("%s was drilled", rc.Host)
					}
					continue
				}
				if e == nil || e.Drill == nil || e.Drill.OldPID != pids[i] {
					t.Fatalf("%s: drill event %+v", rc.Host, e)
				}
				if got == "ok" && (e.Drill.NewPID != 99999 || e.Drill.Recovery != rc.Recovery) {
					t.Errorf("%s: %+v", rc.Host, e.Drill)
				}
				if got == "failed" && !strings.Contains(e.Message, "did not come back") {
					t.Errorf("%s: %s", rc.Host, e.Message)
				}
			}
			// One host at a time: every read is followed by its polls
			// before the next read.
			data, _ := os.ReadFile(log)
			lines := strings.Fields(string(data))
			for i, l := range lines {
				if l == "read" && (i+1 == len(lines) || lines[i+1] != "poll") {
					t.Errorf("drills overlapped: %v", lines)
					break
				}
			}
		})
	}
}
