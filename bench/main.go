// Command bench measures tend against Ansible and against plain OpenSSH on
// one throwaway fleet of 8 real Debian hosts (test/fleet), and writes its
// scenario's section of BENCHMARKS.md. `make bench` runs it, as root, from
// the repository root.
//
// A scenario is one example: staffrota (examples/staffrota/harden.hcl
// against bench/ansible/harden.yml, the default) or ssh-hardening
// (examples/ssh-hardening/harden.hcl against
// bench/ansible/ssh-hardening.yml). The benchmark boots the fleet,
// converges it with each tool (each must then find nothing to change after
// the other), then measures, interleaving the tools round by round:
//
//   - a no-op run on converged hosts: `tend apply` against
//     `ansible-playbook` against the plain OpenSSH reference, one plain ssh
//     per host reading the managed files with sudo;
//   - a cold converge: before every run each host is reset to the
//     pre-hardening state, then `tend apply` against `ansible-playbook`
//     against the cold reference, one plain ssh per host doing the
//     host-side work of the converge.
//
// For each run it records wall time, controller CPU (user+sys of the tool
// and all of its processes), peak RSS (the largest single process) and the
// hosts' CPU, and checks the run: exit status 0, a recap without failures,
// no change in a no-op run and a change on every host in a cold one, and
// on every host the scenario's state (files' digests, owners and modes,
// live values, packages) and a service that was restarted or reloaded by
// a cold run and left alone by a no-op one. A failing run aborts the
// benchmark. The fleet is torn down on exit, also on SIGINT, SIGTERM and
// SIGHUP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

// Bounds of the benchmark.
const (
	maxRounds = 50
	minRounds = 5
)

// options are the command line flags.
type options struct {
	scenario string
	rounds   int
	hosts    int
	name     string
	tend     string
	playbook string
	ansible  string
	out      string
	tools    string
	forks    int
	timeout  time.Duration
	// The scale scenario's own (see scale.go).
	scaleHosts string
	delay      time.Duration
	runTimeout time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.scenario, "scenario", scenarios[0].name(), "what to measure: "+strings.Join(scenarioNames(), ", ")+" or scale")
	flag.IntVar(&o.rounds, "rounds", 7, "measured runs per tool and scenario (5-50)")
	flag.IntVar(&o.hosts, "hosts", 8, "fleet size")
	flag.StringVar(&o.name, "name", "bench", "fleet name")
	flag.StringVar(&o.tend, "tend", "bin/tend", "tend binary")
	flag.StringVar(&o.playbook, "playbook", "", "tend playbook (default: the scenario's)")
	flag.StringVar(&o.ansible, "ansible", "bench/ansible", "directory of ansible.cfg and the scenario's playbook")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report whose scenario section to write (empty: none); written only when every tool ran")
	flag.StringVar(&o.tools, "tools", "", "tools to measure (comma-separated subset of the scenario's, for debugging the harness; default: all)")
	flag.IntVar(&o.forks, "forks", 8, "parallel hosts for tend (Ansible's forks are in ansible.cfg)")
	flag.DurationVar(&o.timeout, "timeout", 40*time.Minute, "bound on the whole benchmark")
	flag.StringVar(&o.scaleHosts, "scale-hosts", "100,1000,10000", "scale scenario: simulated fleet sizes")
	flag.DurationVar(&o.delay, "delay", 0, "scale scenario: delay the simulated hosts add before each answer")
	flag.DurationVar(&o.runTimeout, "run-timeout", 5*time.Minute, "scale scenario: bound on each tend run")
	flag.Parse()
	if o.scenario == "scale" {
		// No root, no fleet: simulated hosts. --forks is tend's default
		// unless given.
		forksSet := false
		flag.Visit(func(f *flag.Flag) { forksSet = forksSet || f.Name == "forks" })
		if !forksSet {
			o.forks = 0
		}
		if err := runScale(o); err != nil {
			fmt.Fprintf(os.Stderr, "\nbench: FAILED: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "\nbench: FAILED: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) (err error) {
	if o.rounds < minRounds || o.rounds > maxRounds {
		return fmt.Errorf("-rounds must be from %d to %d", minRounds, maxRounds)
	}
	sc, err := findScenario(o.scenario)
	if err != nil {
		return err
	}
	tools, err := parseTools(o.tools, sc)
	if err != nil {
		return err
	}
	if o.playbook == "" {
		o.playbook = sc.tendPlaybook()
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root (it boots systemd-nspawn containers)")
	}
	if err := becomeSubreaper(); err != nil {
		return err
	}
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx, cancel := context.WithTimeout(sigCtx, o.timeout)
	defer cancel()
	// An interrupted or timed-out benchmark says so, not what it broke.
	defer func() {
		switch {
		case err == nil:
		case sigCtx.Err() != nil:
			err = errors.New("interrupted by a signal; no report written")
		case ctx.Err() != nil:
			err = fmt.Errorf("took longer than -timeout %s (%v); no report written", o.timeout, err)
		}
	}()

	abs := func(p string) (string, error) {
		a, err := filepath.Abs(p)
		if err == nil {
			_, err = os.Stat(a)
		}
		return a, err
	}
	s := &Setup{Forks: o.forks, User: "deploy"}
	if slices.ContainsFunc(tools, isTend) {
		if s.Tend, err = abs(o.tend); err != nil {
			return fmt.Errorf("tend binary: %w (run make build)", err)
		}
		if s.Playbook, err = abs(o.playbook); err != nil {
			return fmt.Errorf("tend playbook: %w", err)
		}
	}
	if s.AnsibleDir, err = abs(o.ansible); err != nil {
		return fmt.Errorf("ansible directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(s.AnsibleDir, sc.ansiblePlaybook())); err != nil && slices.Contains(tools, ToolAnsible) {
		return fmt.Errorf("ansible playbook: %w", err)
	}
	if slices.Contains(tools, ToolAnsible) {
		if _, err := lookPath("ansible-playbook"); err != nil {
			return fmt.Errorf("%w (make bench-deps installs Debian's ansible)", err)
		}
	}

	work, err := os.MkdirTemp("", "tend-bench-")
	if err != nil {
		return err
	}
	logs := filepath.Join(work, "logs")
	if err := os.Mkdir(logs, 0o700); err != nil {
		return err
	}
	s.TmpDir = work
	ok := false
	defer func() {
		if ok {
			os.RemoveAll(work)
		} else {
			fmt.Fprintf(os.Stderr, "bench: logs of every run kept in %s\n", logs)
		}
	}()

	loadIdle := loadAvg()
	fmt.Fprintf(os.Stderr, "bench: booting %d hosts (load average %s)\n", o.hosts, loadIdle)
	f, err := fleet.Up(ctx, fleet.Options{Hosts: o.hosts, Name: o.name, Log: os.Stderr})
	if err != nil {
		return err
	}
	defer func() {
		// Whatever SSH masters are still around are ours to end.
		_, _, _ = reapOrphans(nspawnPids(f))
		t0 := time.Now()
		if err := f.Down(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: fleet teardown: %v\n", err)
			return
		}
		fmt.Fprintf(os.Stderr, "bench: fleet torn down in %s\n", fmtDur(time.Since(t0)))
	}()
	s.Fleet = f
	s.Inventory = filepath.Join(work, "inventory.hcl")
	s.AnsibleInventory = filepath.Join(work, "ansible.ini")
	if err := f.WriteTendInventory(s.Inventory, s.User); err != nil {
		return err
	}
	if err := f.WriteAnsibleInventory(s.AnsibleInventory, s.User); err != nil {
		return err
	}

	b := &Bench{Setup: s, Scenario: sc, Tools: tools, Runner: &Runner{Dir: logs, Env: toolEnv()}, Keep: nspawnPids(f), Rounds: o.rounds, LoadIdle: loadIdle, CPUFiles: hostCPUFiles(f)}
	if b.CPUFiles == nil {
		fmt.Fprintln(os.Stderr, "bench: the hosts' cgroup cpu.stat files were not found: host CPU is not reported")
	}
	if err := b.Prepare(ctx); err != nil {
		return err
	}
	if err := b.Measure(ctx); err != nil {
		return err
	}
	rep, err := b.Report(ctx)
	if err != nil {
		return err
	}
	fmt.Println()
	fmt.Println(rep.Table())
	fmt.Println(rep.RatiosText())
	if o.out != "" {
		if len(tools) != len(sc.tools()) {
			fmt.Fprintf(os.Stderr, "bench: not writing %s: only %s were measured\n", o.out, strings.Join(tools, ", "))
		} else {
			if err := writeSection(o.out, sc.name(), sc.section(rep)); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "bench: wrote the %s section of %s\n", sc.name(), o.out)
		}
	}
	ok = true
	return nil
}

// parseTools reads -tools: a subset of the scenario's tools, all of them
// when s is empty, in the report's order whatever the flag's.
func parseTools(s string, sc scenario) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return slices.Clone(sc.tools()), nil
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
		case hasTool(sc, t):
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		default:
			return nil, fmt.Errorf("-tools: the %s scenario has no tool %q (want %s)", sc.name(), t, strings.Join(sc.tools(), ", "))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("-tools: no tool")
	}
	slices.SortFunc(out, func(a, b string) int { return toolRank(a) - toolRank(b) })
	return out, nil
}

func toolRank(t string) int {
	return slices.Index(allTools, t)
}

// nspawnPids lists the fleet's systemd-nspawn processes, this process's
// children that reapOrphans must leave alone.
func nspawnPids(f *fleet.Fleet) map[int]bool {
	keep := map[int]bool{}
	for _, h := range f.Hosts {
		if pid := h.PID(); pid > 0 {
			keep[pid] = true
		}
	}
	return keep
}
