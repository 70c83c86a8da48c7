package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

// hostCPUFiles finds the cgroup v2 cpu.stat file of every host of f. test/fleet
// runs each host in a cgroup "tend-fleet/MACHINE" of every hierarchy that
// tracks processes; cpu.stat's usage_usec there is the CPU time of
// everything the host ran (sshd, sudo, systemd, python, gunicorn). It
// returns nil when a host's file is missing (no cgroup v2, or a fleet that
// lays its cgroups out differently): host CPU is then not reported.
func hostCPUFiles(f *fleet.Fleet) []string {
	var roots []string
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	for _, l := range strings.Split(string(data), "\n") {
		if fs := strings.Fields(l); len(fs) >= 3 && fs[2] == "cgroup2" {
			roots = append(roots, fs[1])
		}
	}
	var out []string
	for _, h := range f.Hosts {
		found := ""
		for _, r := range roots {
			p := filepath.Join(r, "tend-fleet", h.Machine, "cpu.stat")
			if _, err := os.Stat(p); err == nil {
				found = p
				break
			}
		}
		if found == "" {
			return nil
		}
		out = append(out, found)
	}
	return out
}

// hostCPU sums usage_usec over files; ok is false when any is unreadable.
func hostCPU(files []string) (time.Duration, bool) {
	if len(files) == 0 {
		return 0, false
	}
	var total time.Duration
	for _, p := range files {
		us, ok := usageUsec(p)
		if !ok {
			return 0, false
		}
		total += time.Duration(us) * time.Microsecond
	}
	return total, true
}

// usageUsec reads usage_usec from a cgroup v2 cpu.stat file.
func usageUsec(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "usage_usec "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
