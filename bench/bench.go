package main

import (
	"context"
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
	Setup *Setup
	// Scenario is what is measured.
	Scenario scenario
	Tools    []string
	Runner   *Runner
	// Keep are the fleet's own child processes (never reaped as orphans).
	Keep   map[int]bool
	Rounds int

	// CPUFiles are the hosts' cgroup cpu.stat files (nil: no host CPU).
	CPUFiles []string
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
		res, err = RunTend(ctx, b.Runner, s, b.Scenario, tool, noop)
	case tool == ToolAnsible:
		res, err = RunAnsible(ctx, b.Runner, s, b.Scenario, noop, b.Keep)
	case noop:
		res, err = RunReference(ctx, b.Runner, s, b.Scenario, tool, b.states)
	default:
		res, err = RunColdReference(ctx, b.Runner, s, b.Scenario, tool)
	}
	if err != nil {
		return res, err
	}
	if h1, ok1 := hostCPU(b.CPUFiles); ok0 && ok1 {
		res.HostCPU, res.HasHostCPU = h1-h0, true
	}
	return res, nil
}

// run measures one run of tool and checks the hosts' states after it
// against the states before it (see checkStates); the states after it
// become the current ones.
func (b *Bench) run(ctx context.Context, tool string, cold bool, before []HostState) (Result, error) {
	res, err := b.measure(ctx, tool, !cold)
	if err != nil {
		return res, err
	}
	hosts := b.Setup.Fleet.Hosts
	after, err := States(ctx, b.Scenario, hosts)
	if err == nil {
		err = checkStates(b.Scenario, hosts, tool, cold, before, after)
	}
	if err != nil {
		return res, err
	}
	b.states = after
	return res, nil
}

// reset puts the hosts back into their pristine state (untimed) and makes
// it the current one.
func (b *Bench) reset(ctx context.Context) error {
	st, err := Reset(ctx, b.Scenario, b.Setup.Fleet.Hosts)
	if err != nil {
		return err
	}
	b.states = st
	return nil
}

// Prepare lets the scenario read the hosts, checks that they are in the
// pre-hardening state, then converges the fleet with each tool, which
// doubles as a warm-up and as the check that the tools leave the same
// state: Ansible converges the fleet and tend must then change nothing;
// after a reset, tend converges it and Ansible must change nothing. The
// no-op runs are measured on tend's converged state.
func (b *Bench) Prepare(ctx context.Context) error {
	sc, hosts := b.Scenario, b.Setup.Fleet.Hosts
	if err := sc.init(ctx, b); err != nil {
		return err
	}
	states, err := States(ctx, sc, hosts)
	if err != nil {
		return err
	}
	for i, st := range states {
		if err := diffValues(sc.pristine(i), st.Values); err != nil || st.Active != "active" {
			return fmt.Errorf("%s: not in the pre-hardening state at boot (service %s): %v", hosts[i].Name, st.Active, err)
		}
	}
	b.states = states
	step := func(what, tool string, cold bool) error {
		res, err := b.run(ctx, tool, cold, b.states)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		fmt.Fprintf(os.Stderr, "bench: %-52s %s\n", what, describe(res))
		return nil
	}
	has := func(t string) bool { return slices.Contains(b.Tools, t) }
	tend, ansible := has(ToolTend), has(ToolAnsible)
	if ansible {
		if err := step("converge with ansible-playbook", ToolAnsible, true); err != nil {
			return err
		}
		if tend {
			if err := step("tend apply after ansible-playbook (must change nothing)", ToolTend, false); err != nil {
				return err
			}
			if err := b.reset(ctx); err != nil {
				return err
			}
		} else if err := step("ansible-playbook again (warm-up)", ToolAnsible, false); err != nil {
			return err
		}
	}
	if tend {
		if err := step("converge with tend apply", ToolTend, true); err != nil {
			return err
		}
		if ansible {
			if err := step("ansible-playbook after tend (must change nothing)", ToolAnsible, false); err != nil {
				return err
			}
		}
		if err := step("tend apply again (warm-up)", ToolTend, false); err != nil {
			return err
		}
	}
	for _, t := range b.Tools {
		if isReference(t) {
			if err := step(t+" reference (warm-up)", t, false); err != nil {
				return err
			}
		}
	}
	return nil
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

// Measure runs the rounds of both scenarios: the no-op runs on the
// converged fleet, then the cold runs, each after a reset.
func (b *Bench) Measure(ctx context.Context) error {
	b.Noop, b.Cold = map[string]*Series{}, map[string]*Series{}
	b.LoadBefore = loadAvg()
	defer func() { b.LoadAfter = loadAvg() }()
	for _, t := range b.Tools {
		if !coldOnly(t) {
			b.Noop[t] = &Series{Tool: t}
		}
		b.Cold[t] = &Series{Tool: t}
	}

	for round := 0; round < b.Rounds; round++ {
		for _, tool := range rotate(b.Tools, round) {
			if coldOnly(tool) {
				continue
			}
			res, err := b.run(ctx, tool, false, b.states)
			if err != nil {
				return fmt.Errorf("no-op round %d, %s: %w", round+1, tool, err)
			}
			b.Noop[tool].Results = append(b.Noop[tool].Results, res)
			fmt.Fprintf(os.Stderr, "bench: no-op %d/%d %-8s %s\n", round+1, b.Rounds, tool, describe(res))
		}
	}

	for round := 0; round < b.Rounds; round++ {
		for _, tool := range rotate(b.Tools, round) {
			t0 := time.Now()
			if err := b.reset(ctx); err != nil {
				return fmt.Errorf("cold round %d, resetting the hosts before %s: %w", round+1, tool, err)
			}
			reset := time.Since(t0)
			res, err := b.run(ctx, tool, true, b.states)
			if err != nil {
				return fmt.Errorf("cold round %d, %s: %w", round+1, tool, err)
			}
			b.Cold[tool].Results = append(b.Cold[tool].Results, res)
			fmt.Fprintf(os.Stderr, "bench: cold  %d/%d %-8s %s  (reset %s)\n", round+1, b.Rounds, tool, describe(res), fmtDur(reset))
		}
	}
	return nil
}

// commandLine renders how a tool was invoked, for the report: the
// arguments a shell would split differently are quoted.
func commandLine(args ...string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if strings.ContainsAny(a, " \"'[]*?;&|<>`\\") && !strings.HasPrefix(a, "ANSIBLE_SSH_CONTROL_PATH_DIR=$(") {
			out[i] = shellQuote(a)
		}
	}
	return strings.Join(out, " ")
}
