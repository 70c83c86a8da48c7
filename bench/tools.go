package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

// The tools compared. The references are plain OpenSSH doing, per host,
// what any SSH-based tool must do to read the managed state (no-op) or to
// change it (cold; the scenario says how), one ssh process per host. They are a
// reference, not a floor: one tend process can be faster than many ssh
// processes. ToolRef uses OpenSSH's defaults (a post-quantum key exchange
// with current OpenSSH, costly for the client); ToolRefX25519 forces
// curve25519-sha256, a classical key exchange that golang.org/x/crypto/ssh,
// tend's SSH library, also offers.
//
// ToolTendNoSettle and ToolTendBatch are measured in the staffrota
// scenario only. ToolTendNoSettle is tend with the playbook's settle =
// "0s": after the restart it does not watch the service (a check neither
// Ansible's playbook nor the references make), so its cold run shows what
// that check costs. It is measured in cold runs only (a no-op run
// restarts nothing).
//
// ToolTendBatch is tend with --batch 25%: the hosts in four batches, each
// finished (restarted, settled, health-checked) before the next starts;
// it shows what a staged rollout costs against all hosts at once.
const (
	ToolTend         = "tend"
	ToolTendNoSettle = "tend-settle0"
	ToolTendBatch    = "tend-batch25"
	ToolAnsible      = "ansible"
	ToolRef          = "openssh"
	ToolRefX25519    = "openssh-x25519"
)

// allTools is every tool, in report order.
var allTools = []string{ToolTend, ToolTendNoSettle, ToolTendBatch, ToolAnsible, ToolRef, ToolRefX25519}

// isTend reports whether tool is tend, in either variant.
func isTend(tool string) bool {
	return tool == ToolTend || tool == ToolTendNoSettle || tool == ToolTendBatch
}

// coldOnly reports whether tool is measured in the cold scenario only.
func coldOnly(tool string) bool { return tool == ToolTendNoSettle }

// isReference reports whether tool is one of the plain OpenSSH references.
func isReference(tool string) bool { return tool == ToolRef || tool == ToolRefX25519 }

// runTimeout bounds one run of any tool.
const runTimeout = 5 * time.Minute

// Setup is everything the tool invocations need.
type Setup struct {
	Fleet *fleet.Fleet
	// Tend is the tend binary, Playbook its playbook, Inventory the fleet's
	// HCL inventory.
	Tend, Playbook, Inventory string
	// AnsibleDir holds ansible.cfg and the scenarios' playbooks;
	// AnsibleInventory is the
	// fleet's INI inventory.
	AnsibleDir, AnsibleInventory string
	// Forks is passed to tend (Ansible's is in ansible.cfg).
	Forks int
	// TmpDir receives Ansible's per-run control path directories.
	TmpDir string
	// User is the login user of every tool.
	User string
}

// Result is one checked run of a tool.
type Result struct {
	Usage Usage
	// RoundTrips is tend's own count of round trips per host (median over
	// hosts); 0 for the other tools.
	RoundTrips int
	// HostMax is the longest per-host duration tend reported, and Startup
	// the time from starting tend to its first event (tend only).
	HostMax, Startup time.Duration
	// Phases is where tend's time went, from its own events (tend only).
	Phases []Phase
	// HostCPU is the CPU time all hosts together used during the run
	// (cgroup accounting); valid when HasHostCPU.
	HostCPU    time.Duration
	HasHostCPU bool
	// OK and Changed are the tool's own counts of tasks per host (medians
	// over hosts), from its recap (tend and Ansible only).
	OK, Changed int
	// Masters is how many orphaned ssh processes (ControlPersist masters
	// and the intermediate processes of their daemonizing) were reaped
	// after an Ansible run.
	Masters int
}

// HostCounts is one host's line of a run's recap.
type HostCounts struct {
	Host                         string
	OK, Changed, Failed, Unreach int
	RoundTrips                   int
	Duration                     time.Duration
	Error                        string
}

// ansibleRecapRE matches one host line of Ansible's PLAY RECAP.
var ansibleRecapRE = regexp.MustCompile(`(?m)^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// parseAnsibleRecap reads the PLAY RECAP of ansible-playbook's default
// output.
func parseAnsibleRecap(out string) ([]HostCounts, error) {
	i := strings.LastIndex(out, "PLAY RECAP")
	if i < 0 {
		return nil, errors.New("no PLAY RECAP in ansible-playbook's output")
	}
	var hc []HostCounts
	for _, m := range ansibleRecapRE.FindAllStringSubmatch(out[i:], -1) {
		n := func(k int) int { v, _ := strconv.Atoi(m[k]); return v }
		hc = append(hc, HostCounts{Host: m[1], OK: n(2), Changed: n(3), Unreach: n(4), Failed: n(5)})
	}
	if len(hc) == 0 {
		return nil, errors.New("empty PLAY RECAP in ansible-playbook's output")
	}
	return hc, nil
}

// checkCounts demands a recap line for each of hosts hosts, none failed or
// unreachable, and no change at all (noop) or a change on every host.
func checkCounts(hc []HostCounts, hosts int, noop bool) error {
	if len(hc) != hosts {
		return fmt.Errorf("recap lists %d hosts, want %d", len(hc), hosts)
	}
	var errs []error
	for _, c := range hc {
		switch {
		case c.Failed > 0 || c.Unreach > 0:
			errs = append(errs, fmt.Errorf("%s: failed=%d unreachable=%d %s", c.Host, c.Failed, c.Unreach, c.Error))
		case noop && c.Changed != 0:
			errs = append(errs, fmt.Errorf("%s: changed=%d on a converged host", c.Host, c.Changed))
		case !noop && c.Changed == 0:
			errs = append(errs, fmt.Errorf("%s: changed=0 on a host reset to the pre-hardening unit", c.Host))
		}
	}
	return errors.Join(errs...)
}

// toolEnv is the environment of every tool: this process's, without an SSH
// agent (all tools use the fleet's key file) and without colour.
func toolEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SSH_AUTH_SOCK=") || strings.HasPrefix(kv, "ANSIBLE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "NO_COLOR=1")
}

// tendArgs are the arguments of `tend apply` as tool runs it, with
// playbook and inventory as given.
func tendArgs(sc scenario, playbook, inventory string, forks int, tool string) []string {
	args := []string{"apply", playbook, "-i", inventory, "--json", "--forks", strconv.Itoa(forks)}
	args = append(args, sc.tendVars(tool)...)
	if tool == ToolTendBatch {
		args = append(args, "--batch", "25%")
	}
	return args
}

// countsMedians are the medians over hosts of the recap's ok and changed
// counts.
func countsMedians(hc []HostCounts) (ok, changed int) {
	var oks, chs []int
	for _, c := range hc {
		oks = append(oks, c.OK)
		chs = append(chs, c.Changed)
	}
	return medianInt(oks), medianInt(chs)
}

// RunTend runs `tend apply` once (tool picks the variant) and checks its
// exit status and recap.
func RunTend(ctx context.Context, r *Runner, s *Setup, sc scenario, tool string, noop bool) (Result, error) {
	started := time.Now()
	p, err := r.Run(ctx, Spec{
		Name:    s.Tend,
		Args:    tendArgs(sc, s.Playbook, s.Inventory, s.Forks, tool),
		Timeout: runTimeout,
	})
	if err != nil {
		return Result{}, err
	}
	if p.Code != 0 {
		return Result{}, fmt.Errorf("tend apply exited %d (log %s):\n%s", p.Code, p.Log, p.Tail(30))
	}
	tr, err := parseTendRun(p.Output())
	if err == nil {
		err = checkCounts(tr.Hosts, len(s.Fleet.Hosts), noop)
	}
	if err != nil {
		return Result{}, fmt.Errorf("tend apply: %w (log %s)", err, p.Log)
	}
	res := Result{Usage: p.Usage, Phases: tr.Phases}
	res.OK, res.Changed = countsMedians(tr.Hosts)
	var rts []int
	for _, c := range tr.Hosts {
		rts = append(rts, c.RoundTrips)
		res.HostMax = max(res.HostMax, c.Duration)
	}
	res.RoundTrips = medianInt(rts)
	if !tr.First.IsZero() {
		res.Startup = tr.First.Sub(started)
	}
	return res, nil
}

// RunAnsible runs ansible-playbook once with a fresh control path
// directory, checks its exit status and recap, then ends the SSH control
// masters the run left behind and adds their cost to the run's.
func RunAnsible(ctx context.Context, r *Runner, s *Setup, sc scenario, noop bool, keep map[int]bool) (Result, error) {
	cp, err := os.MkdirTemp(s.TmpDir, "cp-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(cp)
	p, err := r.Run(ctx, Spec{
		Name: "ansible-playbook",
		Args: []string{"-i", s.AnsibleInventory, filepath.Join(s.AnsibleDir, sc.ansiblePlaybook())},
		Env: []string{
			"ANSIBLE_CONFIG=" + filepath.Join(s.AnsibleDir, "ansible.cfg"),
			"ANSIBLE_SSH_CONTROL_PATH_DIR=" + cp,
			"ANSIBLE_NOCOLOR=1",
		},
		Timeout: runTimeout,
	})
	masters, n, rerr := reapOrphans(keep)
	if err != nil {
		return Result{}, err
	}
	if rerr != nil {
		return Result{}, rerr
	}
	if p.Code != 0 {
		return Result{}, fmt.Errorf("ansible-playbook exited %d (log %s):\n%s", p.Code, p.Log, p.Tail(40))
	}
	hc, err := parseAnsibleRecap(p.Output())
	if err == nil {
		err = checkCounts(hc, len(s.Fleet.Hosts), noop)
	}
	if err != nil {
		return Result{}, fmt.Errorf("ansible-playbook: %w (log %s)", err, p.Log)
	}
	u := p.Usage
	u.CPU += masters.CPU
	if masters.MaxRSS > u.MaxRSS {
		u.MaxRSS = masters.MaxRSS
	}
	res := Result{Usage: u, Masters: n}
	res.OK, res.Changed = countsMedians(hc)
	return res, nil
}

// referenceArgs are the ssh options of a reference tool, before "-l USER
// HOST".
func referenceArgs(s *Setup, tool string) []string {
	args := append(s.Fleet.SSHArgs(), "-o", "ControlMaster=no", "-o", "ControlPath=none")
	if tool == ToolRefX25519 {
		args = append(args, "-o", "KexAlgorithms=curve25519-sha256")
	}
	return args
}

// RunReference opens one plain OpenSSH connection per host, all in parallel,
// each running the scenario's no-op reference command with sudo (batch
// mode, the fleet's key, strict host key checking, no connection sharing),
// and checks that every host printed what the scenario expects from its
// current state (states). tool picks the reference variant.
func RunReference(ctx context.Context, r *Runner, s *Setup, sc scenario, tool string, states []HostState) (Result, error) {
	var specs []Spec
	var want []string
	for i, h := range s.Fleet.Hosts {
		cmd, out := sc.noopReference(i, states[i])
		want = append(want, out)
		args := append(referenceArgs(s, tool), "-n", "-l", s.User, h.Address, "--", "sudo "+cmd)
		specs = append(specs, Spec{Name: "/usr/bin/ssh", Args: args, Timeout: runTimeout})
	}
	procs, total, err := r.RunParallel(ctx, specs)
	if err != nil {
		return Result{}, err
	}
	var errs []error
	for i, p := range procs {
		h := s.Fleet.Hosts[i]
		switch {
		case p.Code != 0:
			errs = append(errs, fmt.Errorf("%s: ssh exited %d: %s", h.Name, p.Code, p.Tail(5)))
		case p.Output() != want[i]:
			errs = append(errs, fmt.Errorf("%s: ssh printed something other than the converged state (log %s)", h.Name, p.Log))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Result{}, fmt.Errorf("%s reference: %w", tool, err)
	}
	return Result{Usage: total}, nil
}

// RunColdReference is the reference of a cold converge: per host, in
// parallel, one plain OpenSSH connection running the host-side work no
// tool can avoid (the scenario's coldReference) as one `sudo sh -c`.
func RunColdReference(ctx context.Context, r *Runner, s *Setup, sc scenario, tool string) (Result, error) {
	var specs []Spec
	for i, h := range s.Fleet.Hosts {
		args := append(referenceArgs(s, tool), "-n", "-l", s.User, h.Address, "--", "sudo sh -c "+shellQuote(sc.coldReference(i)))
		specs = append(specs, Spec{Name: "/usr/bin/ssh", Args: args, Timeout: runTimeout})
	}
	procs, total, err := r.RunParallel(ctx, specs)
	if err != nil {
		return Result{}, err
	}
	var errs []error
	for i, p := range procs {
		if p.Code != 0 {
			errs = append(errs, fmt.Errorf("%s: ssh exited %d: %s", s.Fleet.Hosts[i].Name, p.Code, p.Tail(5)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Result{}, fmt.Errorf("%s cold reference: %w", tool, err)
	}
	return Result{Usage: total}, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
