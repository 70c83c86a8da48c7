package drill

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/testenv"
)

const showStaffrota = `Id=staffrota.service
LoadState=loaded
ActiveState=active
SubState=running
Result=success
MainPID=157
Restart=always
RestartUSec=10s
NRestarts=0
StartLimitBurst=3
StartLimitIntervalUSec=1min
`

func TestParseShow(t *testing.T) {
	u, err := ParseShow("staffrota.service", []byte(showStaffrota))
	if err != nil {
		t.Fatal(err)
	}
	want := Unit{Name: "staffrota.service", LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success",
		MainPID: 157, Restart: "always", RestartSec: 10 * time.Second, StartLimitBurst: 3, StartLimitInterval: time.Minute}
	if *u != want {
		t.Errorf("got %+v\nwant %+v", *u, want)
	}
	for name, out := range map[string]string{
		"missing property": strings.Replace(showStaffrota, "NRestarts=0\n", "", 1),
		"garbage line":     showStaffrota + "oops\n",
		"bad pid":          strings.Replace(showStaffrota, "MainPID=157", "MainPID=x", 1),
		"bad timespan":     strings.Replace(showStaffrota, "RestartUSec=10s", "RestartUSec=soon", 1),
	} {
		if _, err := ParseShow("staffrota.service", []byte(out)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseTimespan(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "": 0, "10s": 10 * time.Second, "100ms": 100 * time.Millisecond, "1min 30s": 90 * time.Second,
		"1min": time.Minute, "2h": 2 * time.Hour, "infinity": -1, "1.5s": 1500 * time.Millisecond, "500us": 500 * time.Microsecond,
	} {
		got, err := ParseTimespan(in)
		if err != nil || got != want {
			t.Errorf("ParseTimespan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"soon", "10 s", "-1s", "s"} {
		if _, err := ParseTimespan(in); err == nil {
			t.Errorf("ParseTimespan(%q): no error", in)
		}
	}
}

func TestRefuse(t *testing.T) {
	base := Unit{Name: "a.service", LoadState: "loaded", ActiveState: "active", SubState: "running", MainPID: 10, Restart: "always"}
	for _, tc := range []struct {
		name string
		edit func(*Unit)
		want string // "" = drilled
	}{
		{"running with a policy", func(*Unit) {}, ""},
		{"Restart=no", func(u *Unit) { u.Restart = "no" }, "no restart policy (Restart=no)"},
		{"not found", func(u *Unit) { u.LoadState = "not-found" }, "not-found, not a loaded unit"},
		{"stopped", func(u *Unit) { u.ActiveState, u.MainPID = "inactive", 0 }, "is not running"},
		{"already gave up", func(u *Unit) { u.ActiveState, u.Result, u.MainPID = "failed", "start-limit-hit", 0 }, "already failed with start-limit-hit"},
	} {
		u := base
		tc.edit(&u)
		err := u.Refuse()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestParseKill(t *testing.T) {
	o, err := ParseKill([]byte("killed 1700000000000\nend recovered 10703 439 3 active running success 1 11800\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !o.Recovered || o.Recovery != 10703*time.Millisecond || o.NewPID != 439 || o.Processes != 3 || o.NRestarts != 1 || o.Ended != 11800*time.Millisecond {
		t.Errorf("recovered: %+v", o)
	}
	o, err = ParseKill([]byte("killed 1\nend gaveup 3483 0 -1 failed failed exit-code 3 3483\nstartlimit\njournal\nx: Start request repeated too quickly.\nx: Failed with result 'exit-code'.\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Recovered || !o.GaveUp || !o.StartLimitHit() || o.Result != "exit-code" || !strings.Contains(o.Journal, "repeated too quickly") {
		t.Errorf("gave up: %+v", o)
	}
	o, err = ParseKill([]byte("killed 1\nend timeout 20000 0 -1 activating auto-restart exit-code 5 20000\njournal\n"))
	if err != nil || o.Recovered || o.GaveUp || o.StartLimitHit() || o.Waited != 20*time.Second {
		t.Errorf("timeout: %+v, %v", o, err)
	}
	for _, out := range []string{"", "killfailed\n", "killed 1\n", "killed 1\nend recovered x 1 1 active running success 1 1\n",
		"killed 1\nend recovered 1 1 1 active running success 1\n", "killed 1\nend maybe 1 1 1 a b c 1 1\n", "hello\n"} {
		if _, err := ParseKill([]byte(out)); err == nil {
			t.Errorf("ParseKill(%q): no error", out)
		}
	}
}

func TestExplainStartLimit(t *testing.T) {
	u := &Unit{Name: "crashy.service", Restart: "always", RestartSec: time.Second, StartLimitBurst: 3, StartLimitInterval: time.Minute}
	o := &Outcome{GaveUp: true, ActiveState: "failed", SubState: "failed", Result: "exit-code", startLimit: true, Journal: "crashy: cannot start"}
	got := o.Explain(u, Options{Workers: -1, Margin: 10 * time.Second})
	for _, want := range []string{"start-limit-hit: systemd gave up restarting crashy.service (StartLimitBurst=3 in StartLimitIntervalSec=1min)",
		"systemctl reset-failed", "[Unit]", "StartLimitIntervalSec=0", "journalctl -u crashy.service -n 20:\ncrashy: cannot start"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	o.startLimit = false
	if got := o.Explain(u, Options{Workers: -1, Margin: 10 * time.Second}); strings.Contains(got, "start-limit-hit") {
		t.Errorf("not a start limit, yet:\n%s", got)
	}
	// Up, but short of its workers until the deadline.
	o = &Outcome{ActiveState: "active", SubState: "running", Result: "success", OldPID: 10, NewPID: 20, Processes: 2}
	if got, want := o.Explain(u, Options{Workers: 2, Margin: 10 * time.Second}), "crashy.service did not come back within RestartSec=1s + margin 10s: it is active/running (MainPID 20, was 10; 2 processes in its cgroup, want 3: the main one and workers = 2; Result=success)"; got != want {
		t.Errorf("timeout:\n got %s\nwant %s", got, want)
	}
}

// fakeSystemd puts systemctl and journalctl on PATH that tell the story
// of states: the Nth "systemctl show" during the wait prints states[N]
// (the last one repeats).
func fakeSystemd(t *testing.T, states []string, journal string) string {
	t.Helper()
	dir := t.TempDir()
	for i, s := range states {
		if err := os.WriteFile(filepath.Join(dir, "state"+string(rune('0'+i))), []byte(strings.ReplaceAll(s, " ", "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	systemctl := `#!/bin/sh
d=` + dir + `
case "$*" in *"MainPID --value"*) if [ -e $d/mainpid ]; then cat $d/mainpid; else echo "$FAKE_MAINPID"; fi; exit 0 ;; esac
n=$(cat $d/count 2>/dev/null || echo 0)
f=$d/state$n
[ -e "$f" ] || f=$d/state` + string(rune('0'+len(states)-1)) + `
echo $((n + 1)) >$d/count
cat "$f"
`
	journalctl := "#!/bin/sh\nprintf '%s\\n' " + executor.ShellQuote(journal) + "\n"
	for name, body := range map[string]string{"systemctl": systemctl, "journalctl": journalctl} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return dir
}

// victim starts a process for the drill to kill.
func victim(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return cmd.Process.Pid
}

func TestKillScript(t *testing.T) {
	up := func(pid string) string {
		return "ActiveState=active SubState=running MainPID=" + pid + " Result=success NRestarts=1 ControlGroup="
	}
	restarting := "ActiveState=activating SubState=auto-restart MainPID=0 Result=signal NRestarts=0 ControlGroup="
	for _, tc := range []struct {
		name    string
		states  []string
		journal string
		check   func(*Outcome) bool
	}{
		{"recovered", []string{restarting, restarting, up("4242")}, "", func(o *Outcome) bool {
			return o.Recovered && o.NewPID == 4242 && o.NRestarts == 1 && o.Recovery > 0 && o.Recovery < 2*time.Second && o.Ended >= o.Recovery+Settle
		}},
		{"dead for an instant between a restart's stop and start", []string{restarting, "ActiveState=inactive SubState=dead MainPID=0 Result=success NRestarts=1 ControlGroup=", restarting, up("4242")}, "", func(o *Outcome) bool {
			return o.Recovered && o.NewPID == 4242
		}},
		{"up for an instant, then crashing: not recovered", []string{restarting, up("4242"), restarting, up("4243"), restarting}, "x", func(o *Outcome) bool {
			return !o.Recovered && !o.GaveUp && o.Waited >= 2*time.Second
		}},
		{"systemd gave up", []string{restarting, "ActiveState=failed SubState=failed MainPID=0 Result=exit-code NRestarts=3 ControlGroup="},
			"x: Start request repeated too quickly.", func(o *Outcome) bool {
				return o.GaveUp && o.StartLimitHit() && o.Result == "exit-code" && strings.Contains(o.Journal, "repeated too quickly")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakeSystemd(t, tc.states, tc.journal)
			pid := victim(t)
			t.Setenv("FAKE_MAINPID", strconv.Itoa(pid))
			u := &Unit{Name: "a.service", LoadState: "loaded", ActiveState: "active", MainPID: pid, Restart: "always", RestartSec: time.Second}
			o, err := Kill(context.Background(), executor.NewLocal(executor.LocalOptions{}), u, Options{Workers: -1, Margin: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(o) {
				t.Errorf("outcome %+v", o)
			}
		})
	}
}

// TestShellcheck: the kill script, as run, passes shellcheck as POSIX sh.
func TestShellcheck(t *testing.T) {
	shellcheck := testenv.NeedTool(t, "shellcheck")
	p := filepath.Join(t.TempDir(), "kill.sh")
	script := "set -- " + executor.ShellJoin("a.service", "10", "20000", "-1", "1000") + "\n" + killScript
	if err := os.WriteFile(p, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(shellcheck, "-s", "sh", "-S", "warning", p).CombinedOutput(); err != nil {
		t.Errorf("%s", out)
	}
}
