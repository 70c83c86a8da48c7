package fleet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lockFile opens (creating it if needed) and flocks path exclusively. When
// wait is false it returns errLocked at once if another process holds the
// lock; otherwise it polls until ctx is done. It guards against the file being
// unlinked by its previous holder between open and flock by checking that the
// locked descriptor still names the file at path.
func lockFile(ctx context.Context, path string, wait bool) (*os.File, error) {
	for attempt := 0; attempt < 100000; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			if !wait {
				return nil, errLocked
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		var locked, named syscall.Stat_t
		if syscall.Fstat(int(f.Fd()), &locked) == nil && syscall.Stat(path, &named) == nil &&
			locked.Ino == named.Ino && locked.Dev == named.Dev {
			return f, nil
		}
		f.Close() // the previous holder removed the file; lock the new one
	}
	return nil, fmt.Errorf("could not lock %s", path)
}

// errLocked reports that a lock file is held by another process.
var errLocked = errors.New("lock is held by another process")

// mountInfo is one line of /proc/self/mountinfo, reduced to what we need.
type mountInfo struct {
	Point  string
	FSType string
	Opts   string // the super block options, such as "rw,name=systemd"
}

// mounts lists the mounts of this process's mount namespace.
func mounts() ([]mountInfo, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []mountInfo
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 10 {
			continue
		}
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(fields) {
			continue
		}
		m := mountInfo{Point: unescapeMount(fields[4]), FSType: fields[sep+1]}
		if sep+3 < len(fields) {
			m.Opts = fields[sep+3]
		}
		out = append(out, m)
	}
	return out, nil
}

// unescapeMount decodes the octal escapes (\040 and friends) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isUnder reports whether p is dir itself or lies below it.
func isUnder(p, dir string) bool {
	dir = filepath.Clean(dir)
	p = filepath.Clean(p)
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	all, err := mounts()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range all {
		if isUnder(m.Point, dir) {
			out = append(out, m.Point)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// unmountUnder unmounts everything mounted at or below dir, deepest first. A
// mount that stays busy for about two seconds is detached lazily, which takes
// it out of the tree at once.
func unmountUnder(dir string) error {
	for round := 0; round < 20; round++ {
		points, err := mountsUnder(dir)
		if err != nil {
			return err
		}
		if len(points) == 0 {
			return nil
		}
		for _, p := range points {
			flags := 0
			if round >= 10 {
				flags = syscall.MNT_DETACH
			}
			if err := syscall.Unmount(p, flags); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				if round == 19 {
					return fmt.Errorf("unmount %s: %w", p, err)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	points, err := mountsUnder(dir)
	if err == nil && len(points) > 0 {
		err = fmt.Errorf("still mounted: %s", strings.Join(points, ", "))
	}
	return err
}

// safeRemoveAll unmounts everything below dir and then removes it. It refuses
// to remove anything while a mount is left below dir, so it never deletes
// through a mount into a file system it does not own.
func safeRemoveAll(dir string) error {
	if dir == "" || filepath.Clean(dir) == "/" {
		return fmt.Errorf("refusing to remove %q", dir)
	}
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := unmountUnder(dir); err != nil {
		return err
	}
	left, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("refusing to remove %s: still mounted: %s", dir, strings.Join(left, ", "))
	}
	return os.RemoveAll(dir)
}

// run runs a command, returning its stdout; a failure carries its stderr.
func run(ctx context.Context, name string, args ...string) (string, error) {
	return runInput(ctx, nil, name, args...)
}

// runInput is run with the given standard input.
func runInput(ctx context.Context, stdin io.Reader, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// pidsInNetns lists the processes whose network namespace is the one bound
// at /run/netns/name, the way `ip netns pids` finds them.
func pidsInNetns(name string) []int {
	var ns syscall.Stat_t
	if err := syscall.Stat(filepath.Join(netnsDir, name), &ns); err != nil {
		return nil
	}
	var out []int
	for _, pid := range allPids() {
		var st syscall.Stat_t
		if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st); err != nil {
			continue
		}
		if st.Ino == ns.Ino && st.Dev == ns.Dev && pid != os.Getpid() {
			out = append(out, pid)
		}
	}
	return out
}

// allPids lists the processes visible in /proc.
func allPids() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}

// cmdline returns the argument vector of a process, or nil if it is gone.
func cmdline(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

// nspawnMachine returns the --machine= argument of a systemd-nspawn process,
// or "" if pid is not one.
func nspawnMachine(pid int) string {
	args := cmdline(pid)
	if len(args) == 0 || filepath.Base(args[0]) != "systemd-nspawn" {
		return ""
	}
	for _, a := range args[1:] {
		if m, ok := strings.CutPrefix(a, "--machine="); ok {
			return m
		}
	}
	return ""
}

// findNspawn returns the pids of systemd-nspawn processes running machine.
func findNspawn(machine string) []int {
	var out []int
	for _, pid := range allPids() {
		if nspawnMachine(pid) == machine {
			out = append(out, pid)
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

// waitGone polls until none of pids is alive, at most for d.
func waitGone(pids []int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for i := 0; i < 10000; i++ {
		any := false
		for _, p := range pids {
			if alive(p) {
				any = true
				break
			}
		}
		if !any {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// killNetns SIGKILLs every process inside the named network namespace,
// repeating (bounded) until none is left.
func killNetns(name string) error {
	for round := 0; round < 50; round++ {
		pids := pidsInNetns(name)
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		waitGone(pids, time.Second)
	}
	if left := pidsInNetns(name); len(left) > 0 {
		return fmt.Errorf("processes left in netns %s: %v", name, left)
	}
	return nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// netnsDir is where `ip netns` binds named network namespaces.
const netnsDir = "/run/netns"
