package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Every host runs in cgroups of its own, FLEET-hN under a "tend-fleet"
// directory of each cgroup hierarchy that tracks processes. Without them,
// every systemd-nspawn started from the same cgroup puts its container in
// the same "payload" cgroup, and the containers' systemd instances then share
// /payload/system.slice/UNIT.service and the like: they remove and populate
// each other's cgroups, so units randomly fail with 219/CGROUP and hosts
// come up "degraded".

// cgroupHierarchies returns the mount points of the cgroup hierarchies that
// systemd uses to track processes: every cgroup2 mount, and the cgroup1
// hierarchy named "systemd" of legacy and hybrid layouts.
func cgroupHierarchies() []string {
	ms, err := mounts()
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range ms {
		named := m.FSType == "cgroup" && slices.Contains(strings.Split(m.Opts, ","), "name=systemd")
		if (m.FSType == "cgroup2" || named) && !slices.Contains(out, m.Point) {
			out = append(out, m.Point)
		}
	}
	return out
}

// cgroupDirs returns the host's cgroup directories, one per hierarchy.
func cgroupDirs(machine string) []string {
	var out []string
	for _, h := range cgroupHierarchies() {
		out = append(out, filepath.Join(h, "tend-fleet", machine))
	}
	return out
}

// makeCgroups creates the host's cgroups and returns their cgroup.procs
// files, which its systemd-nspawn joins before it starts.
func makeCgroups(machine string) ([]string, error) {
	dirs := cgroupDirs(machine)
	if len(dirs) == 0 {
		return nil, errors.New("no cgroup hierarchy found to run containers in")
	}
	var procs []string
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("making cgroup: %w", err)
		}
		procs = append(procs, filepath.Join(d, "cgroup.procs"))
	}
	return procs, nil
}

// cgroupPids lists the processes in the cgroup dir and its descendants.
func cgroupPids(dir string) []int {
	var out []int
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				out = append(out, pid)
			}
		}
		return nil
	})
	return out
}

// killCgroups SIGKILLs every process in the host's cgroups, repeating
// (bounded) until none is left.
func killCgroups(machine string) error {
	dirs := cgroupDirs(machine)
	for round := 0; round < 50; round++ {
		var pids []int
		for _, d := range dirs {
			pids = append(pids, cgroupPids(d)...)
		}
		if len(pids) == 0 {
			return nil
		}
		for _, d := range dirs {
			_ = os.WriteFile(filepath.Join(d, "cgroup.kill"), []byte("1"), 0o644) // cgroup2, kernel 5.14+
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		waitGone(pids, time.Second)
	}
	return fmt.Errorf("processes left in the cgroups of %s", machine)
}

// removeCgroups removes the host's cgroups, innermost first; cgroups whose
// processes are still exiting are retried for a few seconds.
func removeCgroups(machine string) error {
	var errs []error
	for _, d := range cgroupDirs(machine) {
		var err error
		for attempt := 0; attempt < 50; attempt++ {
			if err = rmdirTree(d); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// rmdirTree removes a cgroup directory and its child cgroups (rmdir only:
// the control files inside cannot and need not be removed).
func rmdirTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("rmdir %s: %w", dir, err)
	}
	return nil
}

// cgroupMachines lists the machine names that have cgroups on this machine.
func cgroupMachines() []string {
	var out []string
	for _, h := range cgroupHierarchies() {
		entries, _ := os.ReadDir(filepath.Join(h, "tend-fleet"))
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, e.Name())
			}
		}
	}
	return out
}
