package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Usage is what one measured run of a tool cost on the controller.
type Usage struct {
	// Wall is the elapsed time from starting the tool to its exit.
	Wall time.Duration
	// CPU is user plus system time of the tool's processes: the tool, the
	// descendants it waited for and, for Ansible, its backgrounded SSH
	// control masters (see reapOrphans).
	CPU time.Duration
	// MaxRSS is the largest resident set of any single one of those
	// processes, in KiB (ru_maxrss does not add processes up).
	MaxRSS int64
}

// add folds the rusage of more processes of the same run into u: CPU adds
// up, the peak is the larger one. Wall is left alone.
func (u *Usage) add(ru *syscall.Rusage) {
	if ru == nil {
		return
	}
	u.CPU += tv(ru.Utime) + tv(ru.Stime)
	if ru.Maxrss > u.MaxRSS {
		u.MaxRSS = ru.Maxrss
	}
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// prctl options, from linux/prctl.h.
const (
	prSetPdeathsig      = 1
	prSetChildSubreaper = 36
)

// becomeSubreaper makes this process the reaper of its orphaned
// descendants, so that the SSH control masters Ansible leaves behind
// (ControlPersist daemonizes them) are re-parented to it and their CPU time
// can be collected with wait4. It also asks for SIGTERM when the parent
// (`go run`) dies, so the fleet is still torn down then.
func becomeSubreaper() error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", e)
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetPdeathsig, uintptr(syscall.SIGTERM), 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_PDEATHSIG): %w", e)
	}
	if os.Getppid() == 1 {
		return errors.New("parent already exited")
	}
	return nil
}

// Proc is a finished measured process.
type Proc struct {
	// Code is the exit status (128+N when killed by signal N; -1 when it
	// could not be started).
	Code int
	// Log is the file holding its standard output and error.
	Log string
	// Usage is what it cost.
	Usage Usage
}

// Output returns the process's combined output.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// Tail returns the last n lines of the output, for error messages.
func (p *Proc) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Output(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Runner starts measured processes, writing their output to files in Dir.
type Runner struct {
	// Dir receives one log file per process.
	Dir string
	// Env is the environment of every process, before Cmd.Env additions.
	Env []string
	seq int
}

// Spec is one command to measure.
type Spec struct {
	Name string
	Args []string
	Env  []string
	// Timeout bounds the run; the process group is killed after it.
	Timeout time.Duration
}

// start starts s in its own process group, with output to a fresh log file.
func (r *Runner) start(ctx context.Context, s Spec) (*exec.Cmd, *os.File, context.CancelFunc, error) {
	r.seq++
	base := fmt.Sprintf("%03d-%s.log", r.seq, filepath.Base(s.Name))
	log, err := os.Create(filepath.Join(r.Dir, base))
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	cmd := exec.CommandContext(ctx, s.Name, s.Args...)
	cmd.Env = append(append([]string{}, r.Env...), s.Env...)
	cmd.Stdin = nil
	// Files, not pipes: a daemonized grandchild holding a pipe open would
	// otherwise make Wait block until it exits.
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		log.Close()
		return nil, nil, nil, fmt.Errorf("starting %s: %w", s.Name, err)
	}
	return cmd, log, cancel, nil
}

// finish waits for cmd and returns its exit status and rusage (which covers
// the process and every descendant it waited for).
func finish(cmd *exec.Cmd, log *os.File, cancel context.CancelFunc) (int, *syscall.Rusage) {
	err := cmd.Wait()
	cancel()
	log.Close()
	var ru *syscall.Rusage
	if cmd.ProcessState != nil {
		ru, _ = cmd.ProcessState.SysUsage().(*syscall.Rusage)
	}
	if err == nil {
		return 0, ru
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), ru
	}
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() >= 0 {
		return cmd.ProcessState.ExitCode(), ru
	}
	return -1, ru
}

// Run runs s to completion and measures it.
func (r *Runner) Run(ctx context.Context, s Spec) (*Proc, error) {
	t0 := time.Now()
	cmd, log, cancel, err := r.start(ctx, s)
	if err != nil {
		return nil, err
	}
	code, ru := finish(cmd, log, cancel)
	p := &Proc{Code: code, Log: log.Name()}
	p.Usage.Wall = time.Since(t0)
	p.Usage.add(ru)
	return p, ctx.Err()
}

// RunParallel starts every spec at once and waits for all of them. The
// wall time is from the first start to the last exit; CPU adds up; the peak
// is the largest single process.
func (r *Runner) RunParallel(ctx context.Context, specs []Spec) ([]*Proc, Usage, error) {
	type started struct {
		cmd    *exec.Cmd
		log    *os.File
		cancel context.CancelFunc
	}
	var total Usage
	t0 := time.Now()
	ss := make([]started, 0, len(specs))
	var startErr error
	for _, s := range specs {
		cmd, log, cancel, err := r.start(ctx, s)
		if err != nil {
			startErr = err
			break
		}
		ss = append(ss, started{cmd, log, cancel})
	}
	procs := make([]*Proc, len(ss))
	done := make(chan int, len(ss))
	rus := make([]*syscall.Rusage, len(ss))
	for i, s := range ss {
		go func() {
			code, ru := finish(s.cmd, s.log, s.cancel)
			procs[i] = &Proc{Code: code, Log: s.log.Name()}
			rus[i] = ru
			done <- i
		}()
	}
	for range ss {
		<-done
	}
	total.Wall = time.Since(t0)
	for i := range ss {
		procs[i].Usage.add(rus[i])
		total.add(rus[i])
	}
	if startErr != nil {
		return procs, total, startErr
	}
	return procs, total, ctx.Err()
}

// reapOrphans ends the SSH processes that were re-parented to this process
// (Ansible's ControlPersist masters, which daemonize and outlive the run),
// waits for them and returns their summed rusage. keep lists pids that are
// this process's own long-lived children (the fleet's systemd-nspawn) and
// are never touched. Every wait is bounded.
func reapOrphans(keep map[int]bool) (Usage, int, error) {
	var u Usage
	self := os.Getpid()
	pids, err := childPids(self)
	if err != nil {
		return u, 0, err
	}
	n := 0
	var errs []error
	for _, pid := range pids {
		if keep[pid] || procComm(pid) != "ssh" {
			continue
		}
		n++
		_ = syscall.Kill(pid, syscall.SIGTERM)
		ru, err := waitPid(pid, 5*time.Second)
		if err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			ru, err = waitPid(pid, 5*time.Second)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reaping ssh master %d: %w", pid, err))
			continue
		}
		u.add(ru)
	}
	return u, n, errors.Join(errs...)
}

// waitPid waits (polling, bounded by limit) for child pid to exit.
func waitPid(pid int, limit time.Duration) (*syscall.Rusage, error) {
	deadline := time.Now().Add(limit)
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, &ru)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if got == pid {
			return &ru, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("still running after %s", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// childPids lists the pids whose parent is ppid, from /proc.
func childPids(ppid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, parent := procStat(pid); parent == ppid {
			out = append(out, pid)
		}
	}
	return out, nil
}

// procStat returns the command name and parent pid of pid ("" and 0 when it
// is gone).
func procStat(pid int) (string, int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return "", 0
	}
	fields := strings.Fields(s[close+1:])
	if len(fields) < 2 {
		return "", 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return s[open+1 : close], ppid
}

func procComm(pid int) string {
	c, _ := procStat(pid)
	return c
}
