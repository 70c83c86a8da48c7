package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Scenarios.
const (
	ScenarioNoop = "no-op"
	ScenarioCold = "cold"
)

// Bench runs the measurements on a booted fleet.
type Bench struct {
	Setup  *Setup
	Tools  []string
	Runner *Runner
	// Keep are the fleet's own child processes (never reaped as orphans).
	Keep   map[int]bool
	Rounds int

	// CPUFiles are the hosts' cgroup cpu.stat files (nil: no host CPU).
	CPUFiles []string
	// Original is the pre-hardening unit, as the fleet booted it.
	Original []byte
	// states are the hosts' states after the last checked run.
	states []HostState
	// Series per scenario and tool.
	Noop, Cold map[string]*Series
	// LoadIdle is /proc/loadavg before the fleet booted, LoadBefore and
	// LoadAfter around the measurements: the machine may be shared, and a
	// busy neighbour shows here.
	LoadIdle, LoadBefore, LoadAfter string
}

func lookPath(name string) (string, error) { return exec.LookPath(name) }

// loadAvg is the 1, 5 and 15 minute load average.
func loadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// measure runs one tool once (see RunTend, RunAnsible, RunReference,
// RunColdReference) and adds the hosts' CPU time during the run.
func (b *Bench) measure(ctx context.Context, tool string, noop bool) (Result, error) {
	s := b.Setup
	h0, ok0 := hostCPU(b.CPUFiles)
	var res Result
	var err error
	switch {
	case isTend(tool):
		res, err = RunTend(ctx, b.Runner, s, tool, noop)
	case tool == ToolAnsible:
		res, err = RunAnsible(ctx, b.Runner, s, noop, b.Keep)
	case noop:
		res, err = RunReference(ctx, b.Runner, s, tool)
	default:
		res, err = RunColdReference(ctx, b.Runner, s, tool)
	}
	if err != nil {
		return res, err
	}
	if h1, ok1 := hostCPU(b.CPUFiles); ok0 && ok1 {
		res.HostCPU, res.HasHostCPU = h1-h0, true
	}
	return res, nil
}

// Prepare reads the original unit, then converges the fleet once with each
// tool (which doubles as a warm-up and as the check that both tools leave
// the very same unit file).
func (b *Bench) Prepare(ctx context.Context) error {
	s := b.Setup
	hosts := s.Fleet.Hosts
	orig, err := hosts[0].SSH(ctx, "root", "cat "+unitPath)
	if err != nil {
		return fmt.Errorf("reading the original unit: %w", err)
	}
	b.Original = []byte(orig)
	if string(b.Original) == string(s.Hardened) {
		return errors.New("the fleet's unit is already the hardened one: nothing to converge")
	}
	states, err := States(ctx, hosts)
	if err != nil {
		return err
	}
	for i, st := range states {
		if st.SHA256 != sha256Hex(b.Original) || st.Active != "active" {
			return fmt.Errorf("%s: not in the pre-hardening state at boot (unit %s, service %s)", hosts[i].Name, st.SHA256, st.Active)
		}
	}
	b.states = states
	want := sha256Hex(s.Hardened)
	step := func(what string, restarted bool, fn func() (Result, error)) error {
		res, err := fn()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		after, err := CheckHardened(ctx, hosts, want, b.states, restarted)
		if err != nil {
			return fmt.Errorf("%s: %w%s", what, err, b.unitDiff(ctx))
		}
		b.states = after
		fmt.Fprintf(os.Stderr, "bench: %-44s %s\n", what, describe(res))
		return nil
	}
	has := func(t string) bool { return slices.Contains(b.Tools, t) }
	if has(ToolTend) {
		if err := step("converge with tend apply", true, func() (Result, error) { return b.measure(ctx, ToolTend, false) }); err != nil {
			return err
		}
	}
	if has(ToolAnsible) {
		// After tend, Ansible must find nothing to change: same bytes,
		// owner, mode, and a running service.
		noop := has(ToolTend)
		what := "converge with ansible-playbook"
		if noop {
			what = "ansible-playbook after tend (must change nothing)"
		}
		if err := step(what, !noop, func() (Result, error) { return b.measure(ctx, ToolAnsible, noop) }); err != nil {
			return err
		}
		if !noop {
			if err := step("ansible-playbook again (warm-up)", false, func() (Result, error) { return b.measure(ctx, ToolAnsible, true) }); err != nil {
				return err
			}
		}
	}
	if has(ToolTend) {
		if err := step("tend apply again (warm-up)", false, func() (Result, error) { return b.measure(ctx, ToolTend, true) }); err != nil {
			return err
		}
	}
	for _, t := range b.Tools {
		if isReference(t) {
			if err := step(t+" reference (warm-up)", false, func() (Result, error) { return b.measure(ctx, t, true) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// unitDiff shows the first host's unit next to the expected one, for an
// error message.
func (b *Bench) unitDiff(ctx context.Context) string {
	got, err := b.Setup.Fleet.Hosts[0].SSH(ctx, "root", "cat "+unitPath)
	if err != nil || got == string(b.Setup.Hardened) {
		return ""
	}
	return fmt.Sprintf("\n--- expected (bench/ansible/templates/staffrota.service.j2, workers=2):\n%s--- on %s:\n%s",
		b.Setup.Hardened, b.Setup.Fleet.Hosts[0].Name, got)
}

// describe renders one result for the progress log.
func describe(r Result) string {
	s := fmt.Sprintf("wall %-8s cpu %-8s rss %5.1f MiB", fmtDur(r.Usage.Wall), fmtDur(r.Usage.CPU), float64(r.Usage.MaxRSS)/1024)
	if r.HasHostCPU {
		s += fmt.Sprintf("  host cpu %-8s", fmtDur(r.HostCPU))
	}
	if r.RoundTrips > 0 {
		s += fmt.Sprintf("  round trips/host %d", r.RoundTrips)
	}
	if r.Masters > 0 {
		s += fmt.Sprintf("  ssh orphans reaped %d", r.Masters)
	}
	return s
}

// rotate returns xs rotated left by k, so that every tool goes first in
// turn.
func rotate(xs []string, k int) []string {
	if len(xs) == 0 {
		return nil
	}
	k %= len(xs)
	return append(slices.Clone(xs[k:]), xs[:k]...)
}

// Measure runs the rounds of both scenarios.
func (b *Bench) Measure(ctx context.Context) error {
	s := b.Setup
	hosts := s.Fleet.Hosts
	want := sha256Hex(s.Hardened)
	b.Noop, b.Cold = map[string]*Series{}, map[string]*Series{}
	b.LoadBefore = loadAvg()
	defer func() { b.LoadAfter = loadAvg() }()
	for _, t := range b.Tools {
		if !coldOnly(t) {
			b.Noop[t] = &Series{Tool: t}
		}
		b.Cold[t] = &Series{Tool: t}
	}
	runTool := func(tool string, noop bool) (Result, error) { return b.measure(ctx, tool, noop) }

	for round := 0; round < b.Rounds; round++ {
		for _, tool := range rotate(b.Tools, round) {
			if coldOnly(tool) {
				continue
			}
			res, err := runTool(tool, true)
			if err != nil {
				return fmt.Errorf("no-op round %d, %s: %w", round+1, tool, err)
			}
			after, err := CheckHardened(ctx, hosts, want, b.states, false)
			if err != nil {
				return fmt.Errorf("no-op round %d, %s: %w", round+1, tool, err)
			}
			b.states = after
			b.Noop[tool].Results = append(b.Noop[tool].Results, res)
			fmt.Fprintf(os.Stderr, "bench: no-op %d/%d %-8s %s\n", round+1, b.Rounds, tool, describe(res))
		}
	}

	for round := 0; round < b.Rounds; round++ {
		for _, tool := range rotate(b.Tools, round) {
			t0 := time.Now()
			before, err := Reset(ctx, hosts, b.Original)
			if err != nil {
				return fmt.Errorf("cold round %d, resetting the hosts before %s: %w", round+1, tool, err)
			}
			reset := time.Since(t0)
			res, err := runTool(tool, false)
			if err != nil {
				return fmt.Errorf("cold round %d, %s: %w", round+1, tool, err)
			}
			after, err := CheckHardened(ctx, hosts, want, before, true)
			if err != nil {
				return fmt.Errorf("cold round %d, %s: %w", round+1, tool, err)
			}
			b.states = after
			b.Cold[tool].Results = append(b.Cold[tool].Results, res)
			fmt.Fprintf(os.Stderr, "bench: cold  %d/%d %-8s %s  (reset %s)\n", round+1, b.Rounds, tool, describe(res), fmtDur(reset))
		}
	}
	return nil
}

// commandLine renders how a tool was invoked, for the report.
func commandLine(args ...string) string {
	return strings.Join(args, " ")
}
