package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runSupervisor starts the supervisor with the shell sh (as /bin/sh -c
// would), feeding it input and keeping its standard input open for hold,
// and returns its exit code and standard error.
func runSupervisor(t *testing.T, sh string, args supervisorArgs, input io.Reader, hold time.Duration) (int, string) {
	t.Helper()
	words := args.words(args.prologue())
	cmd := exec.Command(sh, append([]string{"-c", words[2]}, words[3:]...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		in.Write(args.prologue())
		io.Copy(in, input)
		time.Sleep(hold)
		in.Close()
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the supervisor did not end")
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// gone reports whether no process runs a command line holding marker.
func gone(t *testing.T, marker string) bool {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(marker)) && !bytes.Contains(b, []byte("tend-supervisor")) {
			return false
		}
	}
	return true
}

// The supervisor, under each shell a host may have as /bin/sh: it stops
// the whole session of the command (children that ignore SIGTERM too) when
// its input closes, when heartbeats stop, and at its deadline; it passes
// the command exactly its data; and it reports how it stopped.
func TestSupervisor(t *testing.T) {
	shells := []string{"dash", "bash"}
	for _, sh := range shells {
		path := needTool(t, sh)
		t.Run(sh, func(t *testing.T) {
			dir := t.TempDir()
			marker := func(name string) string { return filepath.Join(dir, name) }
			tests := []struct {
				name     string
				args     supervisorArgs
				input    []byte
				hold     time.Duration
				code     int
				stop     string // the reason in the stop line, "" for none
				finished string // a file the command creates only if it ran to its end
				max      time.Duration
			}{
				{name: "exit code", args: supervisorArgs{script: "exit 7"}, hold: time.Second, code: 7, max: 3 * time.Second},
				{name: "EOF stops the session", args: supervisorArgs{script: "(trap '' TERM; sleep 5; touch " + marker("a1") + ") & sleep 5; touch " + marker("a2")},
					hold: 300 * time.Millisecond, code: 124, stop: "stop", finished: marker("a2"), max: 4 * time.Second}, // under 5s: stopped, not run out
				{name: "no heartbeat", args: supervisorArgs{script: "sleep 5; touch " + marker("b"), heartbeat: time.Second},
					hold: 10 * time.Second, code: 124, stop: "heartbeat", finished: marker("b"), max: 4 * time.Second},
				{name: "deadline", args: supervisorArgs{script: "sleep 5; touch " + marker("c"), deadline: time.Second},
					hold: 10 * time.Second, code: 124, stop: "deadline", finished: marker("c"), max: 4 * time.Second},
				{name: "data passed exactly", args: supervisorArgs{script: "test \"$(wc -c)\" = 5 && touch " + marker("d"), input: 5},
					input: []byte("12345more-bytes-after-the-data"), hold: 2 * time.Second, code: 0, max: 4 * time.Second},
				{name: "stop lets the session clean up", args: supervisorArgs{script: "/bin/sh -c 'touch " + marker("f") + "; trap \"rm -f " + marker("f") + "; touch " + marker("g") + "; exit 1\" TERM; sleep 10 & wait' & sleep 10"},
					hold: 500 * time.Millisecond, code: 124, stop: "stop", max: 3 * time.Second},
				{name: "EOF in the data", args: supervisorArgs{script: "cat >/dev/null; sleep 3; touch " + marker("e"), input: 100},
					input: []byte("short"), hold: 0, code: 124, stop: "stop", finished: marker("e"), max: 3 * time.Second},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.args.token = "T" + fmt.Sprint(time.Now().UnixNano())
					if tc.args.input == 0 {
						tc.args.input = -1
					}
					start := time.Now()
					code, stderr := runSupervisor(t, path, tc.args, bytes.NewReader(tc.input), tc.hold)
					if d := time.Since(start); d > tc.max+tc.hold && tc.stop == "" || tc.stop != "" && d > tc.max {
						t.Errorf("took %s", d)
					}
					if code != tc.code {
						t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
					}
					if !strings.HasPrefix(stderr, "tend-ok-"+tc.args.token+"\n") {
						t.Errorf("stderr %q lacks the ok line first", stderr)
					}
					stopLine := "\ntend-stop-" + tc.args.token + " " + tc.stop + "\n"
					if (tc.stop != "") != strings.HasSuffix(stderr, stopLine) {
						t.Errorf("stderr %q, want stop %q", stderr, tc.stop)
					}
					if tc.finished != "" {
						time.Sleep(5500*time.Millisecond - time.Since(start))
						if _, err := os.Stat(tc.finished); err == nil {
							t.Errorf("the stopped command went on to its end")
						}
						if _, err := os.Stat(marker("a1")); err == nil {
							t.Errorf("a child that ignored SIGTERM went on to its end")
						}
					}
					if tc.name == "stop lets the session clean up" {
						_, errF := os.Stat(marker("f"))
						_, errC := os.Stat(marker("g"))
						if errF == nil || errC != nil {
							t.Errorf("a process of the session was killed before its TERM trap cleaned up (its file left: %v; its trap ran: %v)", errF == nil, errC == nil)
						}
					}
					if tc.name == "data passed exactly" {
						if _, err := os.Stat(marker("d")); err != nil {
							t.Errorf("the command did not get exactly its 5 bytes")
						}
					}
					if left, _ := filepath.Glob(filepath.Join(os.TempDir(), ".tend-run.*")); len(left) > 0 {
						for _, l := range left {
							if pid, _ := os.ReadFile(filepath.Join(l, "pid")); len(pid) > 0 && !processAlive(string(bytes.TrimSpace(pid))) {
								t.Errorf("private directory left behind: %s", l)
							}
						}
					}
				})
			}
		})
	}
}

func processAlive(pid string) bool {
	_, err := os.Stat("/proc/" + pid)
	return err == nil
}

// The runner turns the supervisor's own stops into errors that say the
// host stopped the command, and why.
func TestRunnerReportsStopsByTheHost(t *testing.T) {
	c := NewLocal(LocalOptions{}).(*localConn)
	r := *c.runner
	// A supervisor that expects a heartbeat every second, from a runner
	// that sends none (as when the link is cut).
	args := supervisorArgs{token: newToken(), heartbeat: time.Second, input: -1, script: "sleep 5"}
	w := newStderrWatcher(args.token, "")
	out := &notifyBuffer{}
	p, err := startLocal(commandLine(args.words(args.prologue())), out, w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.stdin().Write(args.prologue()); err != nil {
		t.Fatal(err)
	}
	tk := &task{r: &r, proc: p, stdout: out, stderr: w, stopReq: make(chan struct{}), exited: make(chan struct{}), fed: make(chan struct{})}
	go func() { tk.exit, tk.waitErr = p.wait(); close(tk.exited) }()
	close(tk.fed)
	start := time.Now()
	_, err = tk.finish(context.Background(), "")
	var stop *StopError
	if !errors.As(err, &stop) || !stop.ByHost || !stop.Confirmed || err.Error() != "stopped on the host: no heartbeat from tend" {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("stopped after %s", d)
	}
}

// A supervisor killed on the host (SIGKILL by someone) leaves its command's
// outcome unknown: never a success.
func TestSupervisorKilledIsNotSuccess(t *testing.T) {
	c := NewLocal(LocalOptions{})
	pidFile := filepath.Join(t.TempDir(), "pid")
	go func() {
		for i := 0; i < 100; i++ {
			if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
				var pid int
				fmt.Sscan(string(b), &pid)
				syscall.Kill(pid, syscall.SIGKILL)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// $PPID of the command is its supervisor.
	marker := filepath.Join(t.TempDir(), "finished")
	_, err := c.Run(context.Background(), Command{Script: "echo $PPID > " + ShellQuote(pidFile) + "; sleep 3; touch " + ShellQuote(marker)})
	if err == nil || !strings.Contains(err.Error(), "outcome is unknown") {
		t.Fatalf("err = %v, want the outcome unknown", err)
	}
	// Its input closed, the watcher stops the command the supervisor left.
	time.Sleep(4 * time.Second)
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command of a killed supervisor went on to its end")
	}
}

// While the data flows it is the heartbeat: data that stops coming (tend
// stopped, the link dead) stops the command after the heartbeat timeout,
// not only at the deadline.
func TestSupervisorDataStall(t *testing.T) {
	args := supervisorArgs{token: "TSTALL", heartbeat: time.Second, deadline: time.Minute, input: 3 << 20, script: "cat >/dev/null"}
	start := time.Now()
	// 1 MiB and a half, then silence with the input still open.
	code, stderr := runSupervisor(t, needTool(t, "dash"), args, bytes.NewReader(make([]byte, 3<<19)), 8*time.Second)
	if code != 124 || !strings.HasSuffix(stderr, "\ntend-stop-TSTALL heartbeat\n") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s: the stall was not noticed within the heartbeat timeout", d)
	}
}

// slowReader yields n bytes, a piece every interval.
type slowReader struct {
	n, piece int
	every    time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.every)
	k := min(len(p), r.piece, r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

// Data that keeps coming, each piece well within the heartbeat timeout, is
// still bound by the deadline: the command is stopped when it passes, not
// once the data is all there.
func TestSupervisorDataDeadline(t *testing.T) {
	args := supervisorArgs{token: "TDATADL", heartbeat: 2 * time.Second, deadline: 2 * time.Second, input: 8 << 20, script: "cat >/dev/null"}
	start := time.Now()
	// 8 MiB at 1 MiB a second: 8 s in all, each mebibyte within a second.
	code, stderr := runSupervisor(t, needTool(t, "dash"), args, &slowReader{n: 8 << 20, piece: 256 << 10, every: 250 * time.Millisecond}, 0)
	if code != 124 || !strings.HasSuffix(stderr, "\ntend-stop-TDATADL deadline\n") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s: the deadline was not kept while the data came", d)
	}
}

// A prologue cut short starts nothing, and the boot script says why it
// stopped: EOF (tend stopped) or silence (the link died).
func TestBootPrologueCutShort(t *testing.T) {
	for _, sh := range []string{"dash", "bash"} {
		for _, silent := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/silent=%v", sh, silent), func(t *testing.T) {
				marker := filepath.Join(t.TempDir(), "ran")
				args := supervisorArgs{token: "TCUT", heartbeat: time.Second, input: -1, script: "touch " + ShellQuote(marker)}
				pro := args.prologue()
				hold, why := time.Duration(0), "stop"
				if silent {
					hold, why = 5*time.Second, "heartbeat"
				}
				code, stderr := runBoot(t, needTool(t, sh), args, pro[:len(pro)-3], hold)
				if code != 124 || stderr != "tend-ok-TCUT\n\ntend-stop-TCUT "+why+"\n" {
					t.Fatalf("exit %d, stderr %q", code, stderr)
				}
				if _, err := os.Stat(marker); err == nil {
					t.Error("the command ran from a prologue cut short")
				}
			})
		}
	}
}

// runBoot starts the boot script with the shell sh, writes in to its
// standard input, keeps it open for hold, and returns its exit code and
// standard error.
func runBoot(t *testing.T, sh string, args supervisorArgs, in []byte, hold time.Duration) (int, string) {
	t.Helper()
	words := args.words(args.prologue())
	cmd := exec.Command(sh, append([]string{"-c", words[2]}, words[3:]...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Write(in)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(hold):
	}
	w.Close()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the boot script did not end")
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// The deadline the supervisor keeps counts from the boot script's start:
// the time the prologue took is taken off it.
func TestBootDeadlineCountsThePrologue(t *testing.T) {
	// 3.5 s of the 4 s deadline go by before the prologue is whole: the
	// command is stopped well before 7.5 s (the deadline counted after it).
	args := supervisorArgs{token: "TDL", deadline: 4 * time.Second, input: -1, script: "sleep 10"}
	words := args.words(args.prologue())
	cmd := exec.Command(needTool(t, "dash"), append([]string{"-c", words[2]}, words[3:]...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pro := args.prologue()
	w.Write(pro[:100])
	time.Sleep(3500 * time.Millisecond)
	w.Write(pro[100:])
	defer w.Close()
	cmd.Wait()
	if d := time.Since(start); cmd.ProcessState.ExitCode() != 124 || !strings.HasSuffix(stderr.String(), "tend-stop-TDL deadline\n") || d > 6500*time.Millisecond {
		t.Fatalf("exit %d after %s, stderr %q", cmd.ProcessState.ExitCode(), d, stderr.String())
	}
}
