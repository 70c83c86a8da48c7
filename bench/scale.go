package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The scale scenario (-scenario scale, `make bench-scale`) measures one
// controller against simulated fleets (test/simfleet: in-process SSH
// servers on loopback answering like converged staffrota hosts, from a
// recording of a real one), run as a separate process so that their CPU is
// not the controller's. It needs neither root nor a real fleet. For each
// fleet size it runs one no-op `tend apply` of examples/staffrota and
// records wall time, controller CPU (user+sys of tend, from its rusage),
// CPU per host, peak RSS (ru_maxrss) and how many hosts were ok and
// unchanged.

// Goals of issue 9 for one controller on the 2-CPU benchmark machine.
const (
	scaleGoalHosts  = 10000
	scaleGoalWall   = 20 * time.Second
	scaleGoalRSSMiB = 300
	scaleGoalRatio  = 1.5 // CPU per host at 10,000 over CPU per host at 100
)

// scaleResult is one measured run.
type scaleResult struct {
	Hosts, OK  int
	Wall       time.Duration
	CPU        time.Duration
	PeakRSSKiB int64
	Misses     bool
	// Load is the machine's 1-minute load average before the run: other
	// work on the machine slows the run's wall time down.
	Load string
}

func (r scaleResult) perHost() time.Duration { return r.CPU / time.Duration(r.Hosts) }

// scaleSizes parses -scale-hosts.
func scaleSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 50000 {
			return nil, fmt.Errorf("-scale-hosts: %q is not a fleet size from 1 to 50000", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// runScale runs the scale scenario and writes its section of the report.
func runScale(o options) error {
	sizes, err := scaleSizes(o.scaleHosts)
	if err != nil {
		return err
	}
	if o.playbook == "" {
		o.playbook = "examples/staffrota/harden.hcl"
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	tmp, err := os.MkdirTemp("", "tend-bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	sim := filepath.Join(tmp, "simfleet")
	build := exec.CommandContext(ctx, "go", "build", "-o", sim, "./test/simfleet/cmd/simfleet")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building simfleet: %w", err)
	}
	var results []scaleResult
	for i, n := range sizes {
		dir := filepath.Join(tmp, strconv.Itoa(n))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		r, err := scaleRun(ctx, o, sim, dir, n, i)
		if err != nil {
			return fmt.Errorf("%d hosts: %w", n, err)
		}
		fmt.Fprintf(os.Stderr, "bench: %6d hosts: wall %s, CPU %s (%.2f ms/host), peak RSS %d MiB, %d ok\n",
			n, r.Wall.Round(time.Millisecond), r.CPU.Round(time.Millisecond), ms(r.perHost()), r.PeakRSSKiB/1024, r.OK)
		results = append(results, r)
	}
	body := scaleReport(o, results)
	fmt.Print(body)
	if o.out == "" {
		return nil
	}
	return writeSection(o.out, "scale", body)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// scaleRun serves n simulated hosts and runs one no-op apply against them.
func scaleRun(ctx context.Context, o options, sim, dir string, n, seq int) (scaleResult, error) {
	r := scaleResult{Hosts: n}
	// Each size gets addresses of its own (127.77+seq.0.0/16): no socket of
	// the previous fleet lingers on them.
	simCmd := exec.CommandContext(ctx, sim, "serve", "-hosts", strconv.Itoa(n), "-dir", dir,
		"-delay", o.delay.String(), "-net", fmt.Sprintf("127.%d.0", 77+seq))
	simIn, err := simCmd.StdinPipe()
	if err != nil {
		return r, err
	}
	simOut, err := simCmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	simErr := &strings.Builder{}
	simCmd.Stderr = simErr
	if err := simCmd.Start(); err != nil {
		return r, err
	}
	stopped := false
	stopSim := func() error {
		if stopped {
			return nil
		}
		stopped = true
		simIn.Close()
		done := make(chan error, 1)
		go func() { done <- simCmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			simCmd.Process.Kill()
			return <-done
		}
	}
	defer stopSim()
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(simOut).ReadString('\n')
		if err == nil && !strings.HasPrefix(line, "ready ") {
			err = fmt.Errorf("simfleet said %q", line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, simOut)
	}()
	select {
	case err := <-ready:
		if err != nil {
			return r, fmt.Errorf("simfleet did not start: %v\n%s", err, simErr)
		}
	case <-time.After(2 * time.Minute):
		return r, fmt.Errorf("simfleet not ready after 2m\n%s", simErr)
	}

	args := []string{"apply", o.playbook, "-i", filepath.Join(dir, "inventory.hcl"), "--json"}
	if o.forks > 0 {
		args = append(args, "--forks", strconv.Itoa(o.forks))
	}
	out, err := os.Create(filepath.Join(dir, "tend.jsonl"))
	if err != nil {
		return r, err
	}
	defer out.Close()
	rctx, rcancel := context.WithTimeout(ctx, o.runTimeout)
	defer rcancel()
	cmd := exec.CommandContext(rctx, o.tend, args...)
	cmd.Env = append(os.Environ(), "HOME="+dir, "SSH_AUTH_SOCK=", "NO_COLOR=1")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = out, &stderr
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		r.Load = strings.Fields(string(data))[0]
	}
	t0 := time.Now()
	runErr := cmd.Run()
	r.Wall = time.Since(t0)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPU = tv(ru.Utime) + tv(ru.Stime)
		r.PeakRSSKiB = ru.Maxrss
	}
	if rctx.Err() != nil {
		return r, fmt.Errorf("tend did not finish within %s", o.runTimeout)
	}
	data, err := os.ReadFile(out.Name())
	if err != nil {
		return r, err
	}
	tr, perr := parseTendRun(string(data))
	if perr == nil {
		for _, h := range tr.Hosts {
			if h.Failed == 0 && h.Unreach == 0 && h.Changed == 0 {
				r.OK++
			}
		}
	}
	if err := stopSim(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			r.Misses = true
		} else {
			return r, fmt.Errorf("simfleet: %v\n%s", err, simErr)
		}
	}
	if runErr != nil || perr != nil || r.OK != n || r.Misses {
		return r, fmt.Errorf("the no-op run was not clean (tend: %v; recap: %v; %d of %d hosts ok; simfleet: %s)\n%s",
			runErr, perr, r.OK, n, strings.TrimSpace(simErr.String()), tail(stderr.String(), 20))
	}
	return r, nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// scaleReport renders the section.
func scaleReport(o options, rs []scaleResult) string {
	var b strings.Builder
	b.WriteString("## Scale: one controller, simulated fleets\n\n")
	fmt.Fprintf(&b, "A no-op `tend apply %s` against simulated fleets of converged hosts (`test/simfleet`: in-process SSH servers on loopback, in a process of their own, answering from a recording of a real converged host, `test/simfleet/testdata/staffrota-noop.json`; one shared ed25519 host key, one known_hosts line per host). ", o.playbook)
	forks := "the default `--forks`"
	if o.forks > 0 {
		forks = fmt.Sprintf("`--forks %d`", o.forks)
	}
	delay := "no added delay"
	if o.delay > 0 {
		delay = fmt.Sprintf("%s added before each answer", o.delay)
	}
	fmt.Fprintf(&b, "One run per size, %s, %s. CPU is tend's user+sys (rusage of the process), peak RSS its ru_maxrss; the simulator's CPU is not counted, but it shares the machine's CPUs, and so does whatever else runs on the machine: the load average before each run is given, and wall times measured on a busy machine overstate what one controller needs.\n\n", forks, delay)
	b.WriteString("| Hosts | Wall | Controller CPU | CPU per host | Peak RSS | Hosts ok, unchanged | Load before |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %d | %.2f s | %.2f s | %.2f ms | %d MiB | %d | %s |\n", r.Hosts, r.Wall.Seconds(), r.CPU.Seconds(), ms(r.perHost()), r.PeakRSSKiB/1024, r.OK, r.Load)
	}
	b.WriteString("\n")
	var small, big *scaleResult
	for i := range rs {
		if rs[i].Hosts == 100 {
			small = &rs[i]
		}
		if rs[i].Hosts == scaleGoalHosts {
			big = &rs[i]
		}
	}
	if small == nil || big == nil {
		b.WriteString("The goal (10,000 hosts) was not measured in this run.\n\n")
	} else {
		ratio := float64(big.perHost()) / float64(small.perHost())
		verdict := func(ok bool) string {
			if ok {
				return "met"
			}
			return "**not met**"
		}
		fmt.Fprintf(&b, "Goal of issue 9 at %d hosts: wall under %s: %.1f s, %s; peak RSS under %d MiB: %d MiB, %s; CPU per host within %.1f× that at 100 hosts: %.2f×, %s.\n\n",
			scaleGoalHosts, scaleGoalWall, big.Wall.Seconds(), verdict(big.Wall < scaleGoalWall),
			scaleGoalRSSMiB, big.PeakRSSKiB/1024, verdict(big.PeakRSSKiB/1024 < scaleGoalRSSMiB),
			scaleGoalRatio, ratio, verdict(ratio <= scaleGoalRatio))
	}
	fmt.Fprintf(&b, "Machine: %s. Reproduce: `make bench-scale` (`go run ./bench -scenario scale`).\n", machineLine())
	return b.String()
}

// machineLine describes this machine and the commit measured.
func machineLine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	commit := "unknown commit"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = "commit " + strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d CPUs (%s), %s", numCPU(), model, commit)
}

// numCPU counts the CPUs this process may use.
func numCPU() int { return runtime.NumCPU() }
