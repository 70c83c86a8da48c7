package executor

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The run lock: taken with the state in one command, refused to a second
// run with the holder named, released by Release, and released by the host
// when the holder goes away without one.
func TestLock(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	c := NewLocal(LocalOptions{StateDir: state})
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("hi"), 0o644)
	holder := LockHolder{Controller: "ctl1", User: "alice", PID: 77, Started: time.Unix(1700000000, 0), Command: "tend apply"}
	held, st, err := Lock(ctx, c, Request{Probes: []Probe{{Kind: ProbeFile, Path: file}}}, holder)
	if err != nil {
		t.Fatal(err)
	}
	if f := st.File(file); f == nil || string(f.Content) != "hi" {
		t.Errorf("state read under the lock: %+v", f)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory: %v, %v", fi, err)
	}

	// A second run: refused, holder named; a plan sees the apply.
	start := time.Now()
	_, _, err = Lock(ctx, c, Request{}, LockHolder{Command: "tend apply"})
	var locked *LockedError
	if !errors.As(err, &locked) || !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "tend apply by alice@ctl1 (pid 77), started 2023-11-14T22:13:20Z") {
		t.Fatalf("second lock: %v", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("refusal took %s", d)
	}
	pst, err := Gather(ctx, c, Request{Records: true})
	if err != nil || !pst.Lock.Held || !strings.Contains(pst.Lock.Holder, "alice@ctl1") {
		t.Fatalf("plan's view: %+v, %v", pst.Lock, err)
	}

	// The holder has been waiting a while (its wait is a sleep of its own):
	// the release is still at once, not after the sleep.
	time.Sleep(2500 * time.Millisecond)
	start = time.Now()
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the release took %s", d)
	}
	if pst, err := Gather(ctx, c, Request{Records: true}); err != nil || pst.Lock.Held {
		t.Fatalf("after release: %+v, %v", pst.Lock, err)
	}

	// A holder that goes away without releasing (tend killed: its end of
	// the command's input closes) frees the lock.
	held, _, err = Lock(ctx, c, Request{}, holder)
	if err != nil {
		t.Fatal(err)
	}
	held.t.proc.abort()
	waitLockFree(t, c, holder)

	// Even with its supervisor and its watcher killed on the host (SIGKILL:
	// no trap runs), the holding command ends: a lock never outlives the
	// run that holds it.
	held, _, err = Lock(ctx, c, Request{}, holder)
	if err != nil {
		t.Fatal(err)
	}
	sup := held.t.proc.(*localProc).cmd.Process.Pid
	// The watcher is the supervisor's subshell: a child with its command
	// line.
	supCmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", sup))
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(sup)).Output()
	watchers := 0
	for _, w := range strings.Fields(string(out)) {
		pid, _ := strconv.Atoi(w)
		if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); bytes.Equal(cmd, supCmd) {
			syscall.Kill(pid, syscall.SIGKILL)
			watchers++
		}
	}
	if watchers != 1 {
		t.Fatalf("found %d watchers of supervisor %d, want 1", watchers, sup)
	}
	syscall.Kill(sup, syscall.SIGKILL)
	waitLockFree(t, c, holder)
}

// waitLockFree waits (at most 8 s) until the lock can be taken.
func waitLockFree(t *testing.T, c Conn, holder LockHolder) {
	t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	for {
		h2, _, err := Lock(context.Background(), c, Request{}, holder)
		if err == nil {
			h2.Release()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock of a holder that went away was never freed: %v", err)
		}
	}
}

// Records are stored before a change in the change's own command, read
// back, and cleared once what they promise ran.
func TestRecords(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	c := NewLocal(LocalOptions{StateDir: state})
	ctx := context.Background()
	now := time.Unix(1700000000, 0)
	h := HandlerRecord("play \"x\"", "restart app", "file./etc/app.conf", now)
	e := EffectsRecord("play \"x\"", "gunicorn_service.app", []Effect{{Kind: EffectDaemonReload}, {Kind: EffectRestart, Unit: "app.service", Settle: 2 * time.Second}}, now)
	target := filepath.Join(t.TempDir(), "changed")
	cmd, err := WithRecords(Command{Script: "touch " + ShellQuote(target)}, []Record{h, e})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.Run(ctx, cmd); err != nil || res.ExitCode != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	// A write's script carries the state functions already: sent once.
	wc, err := WriteScript(target, []byte("x"), FileAttrs{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	w, err := WithRecords(wc, []Record{h})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(w.Script, "tend_state_dir() {"); n != 1 {
		t.Errorf("the state functions are in a recorded write %d times, want once", n)
	}
	st, err := Gather(ctx, c, Request{Records: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Records) != 2 {
		t.Fatalf("records: %+v", st.Records)
	}
	byName := map[string]Record{}
	for _, r := range st.Records {
		byName[r.Name] = r
	}
	if got := byName[h.Name]; got.Kind != "handler" || got.Handler != "restart app" || got.Play != "play \"x\"" || !got.Since.Equal(now) {
		t.Errorf("handler record %+v", got)
	}
	if got := byName[e.Name]; got.Describe() != "daemon-reload, restart app.service" || got.Effects[1].Settle != 2*time.Second {
		t.Errorf("effects record %+v", got)
	}
	// Clearing waits for the effects: with none, at once.
	st, err = Gather(ctx, c, Request{Clear: []string{h.Name}})
	if err != nil || !st.Cleared {
		t.Fatalf("clear: %+v, %v", st, err)
	}
	if st, _ := Gather(ctx, c, Request{Records: true}); len(st.Records) != 1 || st.Records[0].Name != e.Name {
		t.Errorf("after clearing one: %+v", st.Records)
	}
	// Damaged records are errors, not silently ignored.
	os.WriteFile(filepath.Join(state, "pending", e.Name), []byte("{not json\n"), 0o600)
	if _, err := Gather(ctx, c, Request{Records: true}); err == nil || !strings.Contains(err.Error(), e.Name) {
		t.Errorf("damaged record: %v", err)
	}
}

// An effect's section of the state output: its result, the settle check
// and the journal of a failure.
func TestParseEffect(t *testing.T) {
	restart := Effect{Kind: EffectRestart, Unit: "app.service", Settle: 2 * time.Second}
	r, err := parseEffect(restart, []string{"rc 0", "out ", "settle fail its process exited (result: exit-code) and systemd is waiting to restart it: a crash loop", "journal " + b64("app[1]: ImportError\n")})
	if err != nil || !r.Failed() || !strings.Contains(r.Error(), "did not stay up for 2s: its process exited") || !strings.Contains(r.Error(), "ImportError") {
		t.Fatalf("%+v, %v: %s", r, err, r.Error())
	}
	r, err = parseEffect(restart, []string{"rc 1", "out " + b64("Job for app.service failed.")})
	if err != nil || !r.Failed() || !strings.Contains(r.Error(), "restart app.service failed (systemctl exit status 1): Job for app.service failed.") {
		t.Fatalf("%+v, %v", r, err)
	}
	if r, err := parseEffect(restart, []string{"skipped"}); err != nil || r.Ran || r.Failed() {
		t.Errorf("skipped: %+v, %v", r, err)
	}
	for _, bad := range [][]string{nil, {"rc x"}, {"rc 0", "out !!"}, {"rc 0", "what"}, {"rc 0", "out "}} {
		if _, err := parseEffect(restart, bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	for _, e := range []Effect{{Kind: "frobnicate", Unit: "x.service"}, {Kind: EffectRestart, Unit: "a;b"}, {Kind: EffectRestart}, {Kind: EffectDaemonReload, Unit: "x"}, {Kind: EffectStart, Unit: "-x"}} {
		if e.Validate() == nil {
			t.Errorf("%+v accepted", e)
		}
	}
}

func b64(s string) string {
	return base64Std(s)
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// The state read of a held command is bounded like any command: a guard
// that hangs makes Lock fail after the command timeout, and the lock is
// free again; a guard's leftover process does not keep the lock.
func TestLockStateReadTimeoutAndGuardLeftovers(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	c := NewLocal(LocalOptions{StateDir: state, CommandTimeout: time.Second})
	holder := LockHolder{Command: "tend apply"}
	start := time.Now()
	_, _, err := Lock(context.Background(), c, Request{Probes: []Probe{{Kind: ProbeGuard, Script: "sleep 30"}}}, holder)
	var stop *StopError
	if !errors.As(err, &stop) || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	waitLockFree(t, c, holder)

	// A guard that leaves a process behind (which would inherit the lock's
	// file descriptor).
	pidFile := filepath.Join(t.TempDir(), "leftover")
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	held, _, err := Lock(context.Background(), c, Request{Probes: []Probe{{Kind: ProbeGuard, Script: "setsid sleep 20 >/dev/null 2>&1 & echo $! >" + ShellQuote(pidFile) + "; exit 1"}}}, holder)
	if err != nil {
		t.Fatal(err)
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	again, _, err := Lock(context.Background(), c, Request{}, holder)
	if err != nil {
		t.Fatalf("a guard's leftover kept the lock: %v", err)
	}
	again.Release()
}

// Once the run is interrupted, no command starts any more.
func TestNoCommandStartsAfterInterrupt(t *testing.T) {
	c := NewLocal(LocalOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	marker := filepath.Join(t.TempDir(), "ran")
	_, err := c.Run(ctx, Command{Script: "touch " + ShellQuote(marker)})
	var stop *StopError
	if !errors.As(err, &stop) || !stop.NotStarted || err.Error() != "interrupted before it started" {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command ran")
	}
}

// A state directory of the inventory's choosing under a directory another
// user can change is refused (they could swap in records of their own).
func TestStateDirUnderAnotherUsersDirectory(t *testing.T) {
	needRoot(t, "for root's state directory")
	base := t.TempDir()
	theirs := nobodyDir(t, base, "theirs")
	c := NewLocal(LocalOptions{StateDir: filepath.Join(theirs, "state")})
	_, _, err := Lock(context.Background(), c, Request{}, LockHolder{})
	if err == nil || !strings.Contains(err.Error(), "state_dir "+filepath.Join(theirs, "state")+" is refused") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(theirs, "state")); !os.IsNotExist(err) {
		t.Error("the state directory was made")
	}
}
