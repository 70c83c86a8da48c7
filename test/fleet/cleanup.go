package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// objectRE matches the names of a fleet's namespaces, links and machines,
// FLEET-hN, capturing the fleet name and the host name.
var objectRE = regexp.MustCompile(`^([a-z][a-z0-9]{0,10})-(h[0-9]{1,2})$`)

// Cleanup removes what fleets whose name starts with prefix left behind
// when their owner died without calling Down: systemd-nspawn processes and
// everything in their network namespaces, overlay mounts, veth links,
// network namespaces and state directories (those under DefaultWorkRoot and
// those a fleet recorded). Fleets whose owner is still alive are left
// alone, so Cleanup is safe to run while other fleets are up. The prefix
// must not be empty.
func Cleanup(prefix string) error {
	if prefix == "" || !regexp.MustCompile(`^[a-z0-9]+$`).MatchString(prefix) {
		return fmt.Errorf("fleet: cleanup prefix %q must be a non-empty run of [a-z0-9]", prefix)
	}
	return cleanup(func(name string) bool { return strings.HasPrefix(name, prefix) }, true, os.Stderr)
}

// cleanupStale tears down the recorded fleets that match and whose owner is
// gone. Up calls it so that crashed runs do not pile up.
func cleanupStale(match func(string) bool, log io.Writer) error {
	return cleanup(match, false, log)
}

// cleanup tears down dead fleets whose names match. Fleets are found through
// their lock files and, when discover is set, also through the names of
// network namespaces, interfaces, nspawn machines and state directories.
func cleanup(match func(string) bool, discover bool, log io.Writer) error {
	names := map[string]bool{}
	locks, _ := filepath.Glob(filepath.Join(runDir, "fleets", "*.lock"))
	for _, l := range locks {
		names[strings.TrimSuffix(filepath.Base(l), ".lock")] = true
	}
	if discover {
		for _, n := range discoverNames() {
			names[n] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		if nameRE.MatchString(n) && match(n) {
			sorted = append(sorted, n)
		}
	}
	sort.Strings(sorted)
	var errs []error
	for _, name := range sorted {
		if err := cleanupOne(name, log); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cleanupOne tears down fleet name unless its owner holds its lock.
func cleanupOne(name string, log io.Writer) error {
	if err := os.MkdirAll(filepath.Join(runDir, "fleets"), 0o755); err != nil {
		return err
	}
	path := filepath.Join(runDir, "fleets", name+".lock")
	lock, err := lockFile(context.Background(), path, false)
	if errors.Is(err, errLocked) {
		return nil // alive
	}
	if err != nil {
		return err
	}
	defer lock.Close()
	var rec record
	data, _ := io.ReadAll(lock)
	_ = json.Unmarshal(data, &rec)
	dir := rec.Dir
	if dir == "" {
		dir = filepath.Join(DefaultWorkRoot, name)
	}
	fmt.Fprintf(log, "fleet: removing leftovers of fleet %s\n", name)
	var errs []error
	for _, h := range rec.Hosts {
		if err := teardownHost(h, func() error { return stopForeign(h.Machine, h.Netns) }, log); err != nil {
			errs = append(errs, err)
		}
	}
	if err := teardownByName(name, dir, log); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		_ = os.Remove(path) // while holding the lock; see lockFile
	}
	return errors.Join(errs...)
}

// teardownByName removes the leftovers of fleet name that can be found by
// their names alone: its nspawn machines, network namespaces and veth links
// (NAME-hN), the host directories under dir, and dir itself.
func teardownByName(name, dir string, log io.Writer) error {
	hosts := map[string]bool{}
	add := func(obj string) {
		if m := objectRE.FindStringSubmatch(obj); m != nil && m[1] == name {
			hosts[m[2]] = true
		}
	}
	for _, o := range objectNames() {
		add(o)
	}
	entries, _ := os.ReadDir(dir)
	if _, err := os.Stat(filepath.Join(dir, dirMarker)); err == nil {
		for _, e := range entries {
			add(name + "-" + e.Name())
		}
	}
	var errs []error
	for h := range hosts {
		id := name + "-" + h
		rec := hostRecord{Name: h, Netns: id, Veth: id, Machine: id, Dir: filepath.Join(dir, h)}
		if err := teardownHost(rec, func() error { return stopForeign(id, id) }, log); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := removeFleetDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// objectNames lists the names of network namespaces, interfaces, nspawn
// machines and host cgroups on this machine that look like a fleet's
// (FLEET-hN).
func objectNames() []string {
	var out []string
	if entries, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range entries {
			out = append(out, e.Name())
		}
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			out = append(out, i.Name)
		}
	}
	for _, pid := range allPids() {
		if m := nspawnMachine(pid); m != "" {
			out = append(out, m)
		}
	}
	out = append(out, cgroupMachines()...)
	var keep []string
	for _, o := range out {
		if objectRE.MatchString(o) {
			keep = append(keep, o)
		}
	}
	return keep
}

// discoverNames lists fleet names seen in object names, in overlay mounts
// and among the directories under DefaultWorkRoot.
func discoverNames() []string {
	var out []string
	for _, o := range objectNames() {
		out = append(out, objectRE.FindStringSubmatch(o)[1])
	}
	if entries, err := os.ReadDir(DefaultWorkRoot); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, e.Name())
			}
		}
	}
	if ms, err := mounts(); err == nil {
		for _, m := range ms {
			if rel, ok := strings.CutPrefix(m.Point, DefaultWorkRoot+"/"); ok {
				out = append(out, strings.SplitN(rel, "/", 2)[0])
			}
		}
	}
	return out
}
