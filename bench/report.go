package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Machine describes where the benchmark ran.
type Machine struct {
	CPU, Kernel, OS, Memory   string
	NProc                     int
	Go, TendCommit            string
	Ansible, Python, OpenSSH  string
	Date                      string
	AnsibleConfig             string
	AnsibleInventoryExcerpt   string
	LoadIdle                  string
	LoadBefore, LoadAfter     string
	Hosts                     int
	Rounds                    int
	Forks                     int
	TendArgs, AnsibleArgs     string
	FloorArgs                 string
	AnsibleSSHArgsDescription string
}

// Report is the outcome of a benchmark.
type Report struct {
	M          Machine
	Noop, Cold map[string]*Series
	Ratios     []Ratio
}

// Report gathers the machine description and computes the ratios.
func (b *Bench) Report(ctx context.Context) (*Report, error) {
	s := b.Setup
	m := Machine{
		NProc:  runtime.NumCPU(),
		Go:     runtime.Version(),
		Date:   time.Now().UTC().Format("2006-01-02 15:04 MST"),
		Hosts:  len(s.Fleet.Hosts),
		Rounds: b.Rounds,
		Forks:  s.Forks,
	}
	m.LoadIdle, m.LoadBefore, m.LoadAfter = b.LoadIdle, b.LoadBefore, b.LoadAfter
	m.CPU = cpuModel()
	m.Kernel = strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))
	m.OS = osRelease()
	m.Memory = memTotal()
	m.TendCommit = output(ctx, "git", "describe", "--always", "--dirty", "--abbrev=12")
	if log := output(ctx, "git", "log", "-1", "--format=%cs %s"); log != "" {
		m.TendCommit += " (" + log + ")"
	}
	m.Ansible = firstLine(output(ctx, "ansible-playbook", "--version"))
	m.Python = output(ctx, "python3", "--version")
	m.OpenSSH = firstLine(combined(ctx, "ssh", "-V"))
	cfg := exec.CommandContext(ctx, "ansible-config", "dump", "--only-changed")
	cfg.Env = append(toolEnv(), "ANSIBLE_CONFIG="+filepath.Join(s.AnsibleDir, "ansible.cfg"), "ANSIBLE_NOCOLOR=1")
	if out, err := cfg.Output(); err == nil {
		m.AnsibleConfig = strings.TrimSpace(string(out))
	}
	if ini, err := os.ReadFile(s.AnsibleInventory); err == nil {
		var vars []string
		in := false
		for _, l := range strings.Split(string(ini), "\n") {
			if strings.HasPrefix(l, "[") {
				in = l == "[web:vars]"
				continue
			}
			if in && strings.TrimSpace(l) != "" && !strings.Contains(l, "password") {
				vars = append(vars, l)
			}
		}
		m.AnsibleInventoryExcerpt = strings.Join(vars, "\n")
	}
	m.TendArgs = commandLine("tend", "apply", "examples/staffrota/harden.hcl", "-i", "FLEET/inventory.hcl", "--json", "--forks", fmt.Sprint(s.Forks))
	m.AnsibleArgs = commandLine("ANSIBLE_CONFIG=bench/ansible/ansible.cfg", "ANSIBLE_SSH_CONTROL_PATH_DIR=$(mktemp -d)", "ansible-playbook", "-i", "FLEET/ansible.ini", "bench/ansible/harden.yml")
	m.FloorArgs = commandLine(append(append([]string{"ssh"}, displaySSHArgs(floorArgs(s, ToolFloor))...),
		"-n", "-l", s.User, "HOST", "--", "sudo cat "+unitPath)...)

	r := &Report{M: m, Noop: b.Noop, Cold: b.Cold}
	med := func(ss map[string]*Series, t string) float64 {
		if x, ok := ss[t]; ok && len(x.Results) > 0 {
			return x.Wall().Median
		}
		return 0
	}
	ratio := func(name string, num, den float64, target float64, atMost bool) {
		if num > 0 && den > 0 {
			r.Ratios = append(r.Ratios, Ratio{Name: name, Value: num / den, Target: target, AtMost: atMost, Info: target == 0})
		}
	}
	ratio("tend no-op ÷ OpenSSH floor", med(b.Noop, ToolTend), med(b.Noop, ToolFloor), 1.3, true)
	ratio("tend no-op ÷ OpenSSH floor, curve25519", med(b.Noop, ToolTend), med(b.Noop, ToolFloorX25519), 1.3, true)
	ratio("Ansible no-op ÷ tend no-op", med(b.Noop, ToolAnsible), med(b.Noop, ToolTend), 8, false)
	ratio("Ansible cold ÷ tend cold", med(b.Cold, ToolAnsible), med(b.Cold, ToolTend), 4, false)
	ratio("tend cold ÷ OpenSSH cold floor, curve25519", med(b.Cold, ToolTend), med(b.Cold, ToolFloorX25519), 0, false)
	ratio("Ansible cold ÷ OpenSSH cold floor, curve25519", med(b.Cold, ToolAnsible), med(b.Cold, ToolFloorX25519), 0, false)
	return r, nil
}

// displaySSHArgs shortens the fleet's paths in ssh options for the report.
func displaySSHArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case strings.HasSuffix(a, "/client_key"):
			a = "FLEET/client_key"
		case strings.HasPrefix(a, "UserKnownHostsFile="):
			a = "UserKnownHostsFile=FLEET/known_hosts"
		}
		out[i] = a
	}
	return out
}

// rows lists the table rows in a fixed order.
func (r *Report) rows() []struct {
	scenario string
	s        *Series
} {
	var out []struct {
		scenario string
		s        *Series
	}
	for _, sc := range []struct {
		name string
		m    map[string]*Series
	}{{ScenarioNoop, r.Noop}, {ScenarioCold, r.Cold}} {
		for _, t := range allTools {
			if s, ok := sc.m[t]; ok && len(s.Results) > 0 {
				out = append(out, struct {
					scenario string
					s        *Series
				}{sc.name, s})
			}
		}
	}
	return out
}

func toolLabel(t string) string {
	switch t {
	case ToolTend:
		return "tend apply"
	case ToolAnsible:
		return "ansible-playbook"
	}
	if t == ToolFloorX25519 {
		return "OpenSSH floor, curve25519-sha256"
	}
	return "OpenSSH floor (1 ssh/host)"
}

func secsCell(x Summary) string {
	return fmt.Sprintf("%s (%s – %s)", fmtSecs(x.Median), fmtSecs(x.Min), fmtSecs(x.Max))
}

func hostCPUCell(s *Series) string {
	x, ok := s.HostCPU()
	if !ok {
		return "n/a"
	}
	return secsCell(x)
}

func mibCell(x Summary) string {
	return fmt.Sprintf("%.1f (%.1f – %.1f)", x.Median, x.Min, x.Max)
}

// Table renders the results as a plain text table.
func (r *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %-33s %-28s %-28s %-20s %s\n", "", "tool", "wall median (min – max)", "CPU median (min – max)", "peak RSS MiB", "host CPU (all hosts)")
	for _, row := range r.rows() {
		fmt.Fprintf(&b, "%-7s %-33s %-28s %-28s %-20s %s\n", row.scenario, toolLabel(row.s.Tool), secsCell(row.s.Wall()), secsCell(row.s.CPU()), mibCell(row.s.RSS()), hostCPUCell(row.s))
	}
	return b.String()
}

// RatiosText renders the ratios against their targets.
func (r *Report) RatiosText() string {
	var b strings.Builder
	for _, x := range r.Ratios {
		fmt.Fprintf(&b, "%-52s %6.2f×  target %-6s %s\n", x.Name, x.Value, x.Bound(), x.Verdict())
	}
	return b.String()
}

// tendFacts summarizes what tend reported about its own runs: medians over
// runs of the round trips per host, the time to tend's first event, the
// slowest host's duration and each phase's slowest host.
func tendFacts(s *Series) (rt int, startup, hostMax float64, phases []Phase) {
	var rts []int
	var su, hm []float64
	byName := map[string][]float64{}
	var order []string
	for _, x := range s.Results {
		rts = append(rts, x.RoundTrips)
		su = append(su, x.Startup.Seconds())
		hm = append(hm, x.HostMax.Seconds())
		for _, p := range x.Phases {
			if _, ok := byName[p.Name]; !ok {
				order = append(order, p.Name)
			}
			byName[p.Name] = append(byName[p.Name], p.Max.Seconds())
		}
	}
	for _, n := range order {
		phases = append(phases, Phase{Name: n, Max: time.Duration(summarize(byName[n]).Median * float64(time.Second))})
	}
	return medianInt(rts), summarize(su).Median, summarize(hm).Median, phases
}

// Markdown renders BENCHMARKS.md.
func (r *Report) Markdown() string {
	m := r.M
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Benchmarks\n\n")
	w("tend against Ansible and against plain OpenSSH, on one fleet of %d real Debian 12 hosts (test/fleet: systemd-nspawn containers with systemd, OpenSSH and the staffrota gunicorn app) on the same machine as the controller. ", m.Hosts)
	w("Generated by `make bench` (`go run ./bench`); do not edit by hand, run it again.\n\n")

	w("## Machine\n\n")
	w("| | |\n|---|---|\n")
	w("| date | %s |\n", m.Date)
	w("| CPU | %s, nproc %d |\n", m.CPU, m.NProc)
	w("| memory | %s |\n", m.Memory)
	w("| kernel | %s |\n", m.Kernel)
	w("| OS | %s |\n", m.OS)
	w("| Go | %s |\n", m.Go)
	w("| tend | %s |\n", m.TendCommit)
	w("| Ansible | %s, %s |\n", m.Ansible, m.Python)
	w("| OpenSSH | %s |\n", m.OpenSSH)
	w("| load average (1, 5, 15 min) | %s before the fleet booted; %s when the measurements began, %s when they ended (these two include the benchmark's own load) |\n\n", m.LoadIdle, m.LoadBefore, m.LoadAfter)
	w("The %d hosts and the controller share the machine's %d CPUs: the hosts' sshd, sudo, systemd and (for Ansible) python run on the same cores as the tools. Host and controller talk over veth links, so network latency is near zero and the numbers measure CPU and round trips, not distance; on a real network every round trip adds its RTT.\n\n", m.Hosts, m.NProc)

	w("## Method\n\n")
	w("- One fleet of %d hosts is booted; every host starts with the pre-hardening `staffrota.service` (1 worker, no restart policy). The tend playbook is `examples/staffrota/harden.hcl`; `bench/ansible/harden.yml` does the same four steps (the unit from `templates/staffrota.service.j2` with `workers` from the inventory, root 0644, a handler that runs daemon-reload and restart on change, the service enabled and started, handlers flushed, then `uri` on the unix socket: `GET /health/` must answer 200 with `status` `\"ok\"`, retried 10 times 1 s apart). Both leave the same unit file byte for byte: before measuring, tend converges the fleet, the driver checks the unit's sha256 on every host against the template, and Ansible must then report `changed=0` on every host.\n", m.Hosts)
	w("- **no-op**: the hosts are converged; %d rounds, each running every tool once, the order rotating from round to round. The floor is what any SSH tool must at least do to read the unit: per host, in parallel, one plain `ssh` connection (no connection sharing) running `sudo cat` of the unit. It is measured twice: with OpenSSH's defaults, whose preferred key exchange here is the post-quantum `sntrup761x25519-sha512@openssh.com` (OpenSSH 9.2's implementation costs the client about 50 ms of CPU per connection), and with `curve25519-sha256`, the key exchange tend (golang.org/x/crypto/ssh) negotiates with these hosts — the floor for the same crypto, and the fairer yardstick.\n", m.Rounds)
	w("- **cold**: before every run each host is reset over SSH (as root) to the pre-hardening unit: file written back, daemon-reload, the running gunicorn killed (a graceful stop can hang 30 s when it meets a worker that is still booting), `systemctl reset-failed`, start, wait until `/health/` answers 200 (the pre-hardening unit runs one worker, so the tool's restart never meets a booting worker). Then one tool converges the fleet. %d rounds, the order rotating. The reset is not timed. The cold floor is the host-side work no tool can avoid, done as cheaply as possible: per host, in parallel, one plain `ssh` running one `sudo sh -c` that writes the hardened unit (temporary file, rename), runs `systemctl daemon-reload` and `systemctl restart` (which waits for gunicorn's READY); it reads no state first and runs no health check.\n", m.Rounds)
	w("- Every run is checked, and a failing run aborts the benchmark: exit status 0; the tool's recap lists all %d hosts with no failure; no-op: no change on any host and the service not restarted (its `InvocationID` unchanged); cold: a change on every host, the service restarted (new `InvocationID`), active, and the hardened unit's sha256 on every host; the floor must print the hardened unit from every host.\n", m.Hosts)
	w("- **wall**: from starting the tool to its exit. **CPU**: user+sys on the controller, of the tool and every process it waited for (`wait4` rusage); for Ansible also its `ControlPersist` SSH masters, which daemonize: the driver is a child subreaper, so they are re-parented to it, and after each run it ends them and adds their rusage (they are never reused across runs). For the floor, the sum over the %d `ssh` processes. **Peak RSS**: `ru_maxrss`, the largest *single* process (for Ansible, its biggest python fork or ssh process; for the floor, the biggest `ssh`), not the sum over processes. **Host CPU**: the CPU time all %[1]d hosts used during the run (sshd, sudo, systemd, python, gunicorn), from each host's cgroup `cpu.stat` (`usage_usec`), before and after; an idle host uses well under 1 ms per second.\n", m.Hosts)
	w("- The tables give the median of the %d runs and, in brackets, the minimum and maximum.\n\n", m.Rounds)

	w("### Invocations\n\n")
	w("```\n%s\n%s\n%s    # once per host, all in parallel\n```\n\n", m.TendArgs, m.AnsibleArgs, m.FloorArgs)
	w("The curve25519 floor adds `-o KexAlgorithms=curve25519-sha256` to the ssh options.\n\n")
	w("### Ansible settings\n\n")
	w("`ansible-config dump --only-changed` with `bench/ansible/ansible.cfg`:\n\n```\n%s\n```\n\n", m.AnsibleConfig)
	w("Inventory variables (`[web:vars]`, written by test/fleet):\n\n```\n%s\n```\n\n", m.AnsibleInventoryExcerpt)
	w("- `pipelining = True` is Ansible's fastest setting: modules are fed to the remote python over the open session, with no temporary file copied per task.\n")
	w("- `ssh_args` is Ansible's default, `-C -o ControlMaster=auto -o ControlPersist=60s`: one multiplexed connection per host, shared by every task of a run. Each run gets a fresh `control_path_dir` (`ANSIBLE_SSH_CONTROL_PATH_DIR`), so no run reuses the previous run's connections; tend makes fresh connections every run too.\n")
	w("- `gathering = explicit` and `gather_facts: false`: tend gathers no facts either.\n")
	w("- `forks = 8`: every host at once, as tend (`--forks %d`).\n\n", m.Forks)

	w("## Results\n\n")
	w("| scenario | tool | wall: median (min – max) | controller CPU: median (min – max) | peak RSS MiB: median (min – max) | CPU of all %d hosts: median (min – max) |\n|---|---|---|---|---|---|\n", m.Hosts)
	for _, row := range r.rows() {
		w("| %s | %s | %s | %s | %s | %s |\n", row.scenario, toolLabel(row.s.Tool), secsCell(row.s.Wall()), secsCell(row.s.CPU()), mibCell(row.s.RSS()), hostCPUCell(row.s))
	}
	w("\n## Targets\n\n")
	w("| ratio of wall-time medians | value | target | verdict |\n|---|---|---|---|\n")
	for _, x := range r.Ratios {
		w("| %s | %.2f× | %s | %s |\n", x.Name, x.Value, x.Bound(), x.Verdict())
	}
	cpuRatio := func(a, bm map[string]*Series, ta, tb string) string {
		sa, oka := a[ta]
		sb, okb := bm[tb]
		if !oka || !okb || sb.CPU().Median == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.1f×", sa.CPU().Median/sb.CPU().Median)
	}
	w("\nThe same ratios on controller CPU: Ansible no-op ÷ tend no-op %s, Ansible cold ÷ tend cold %s, tend no-op ÷ OpenSSH floor %s, tend no-op ÷ OpenSSH floor with curve25519 %s.\n\n",
		cpuRatio(r.Noop, r.Noop, ToolAnsible, ToolTend), cpuRatio(r.Cold, r.Cold, ToolAnsible, ToolTend), cpuRatio(r.Noop, r.Noop, ToolTend, ToolFloor), cpuRatio(r.Noop, r.Noop, ToolTend, ToolFloorX25519))

	w("## Where tend's time goes\n\n")
	w("From tend's own `--json` events (medians over the runs; each phase is its slowest host):\n\n")
	for _, sc := range []struct {
		name string
		m    map[string]*Series
	}{{ScenarioNoop, r.Noop}, {ScenarioCold, r.Cold}} {
		s, ok := sc.m[ToolTend]
		if !ok || len(s.Results) == 0 {
			continue
		}
		rt, startup, hostMax, phases := tendFacts(s)
		var ps []string
		for _, p := range phases {
			ps = append(ps, fmt.Sprintf("%s %s", p.Name, fmtDur(p.Max)))
		}
		w("- %s: wall %s. First event %s after the process started (start-up, loading and checking playbook and inventory). Slowest host %s: %s. %d round trips per host after connecting (tend's count).\n",
			sc.name, fmtSecs(s.Wall().Median), fmtSecs(startup), fmtSecs(hostMax), strings.Join(ps, "; "), rt)
	}
	for _, t := range []string{ToolFloor, ToolFloorX25519} {
		if fl, ok := r.Noop[t]; ok && len(fl.Results) > 0 {
			w("- %s, no-op: wall %s, controller CPU %s for %d `ssh` processes (one TCP connection, key exchange, public key authentication and one command each).\n",
				toolLabel(t), fmtSecs(fl.Wall().Median), fmtSecs(fl.CPU().Median), m.Hosts)
		}
	}
	w("\n")

	w("## Analysis\n\n")
	w("**The machine is saturated.** With %d CPUs for the controller and all %d hosts, a run cannot be shorter than all the CPU it needs, controller and hosts together, divided by %[1]d. That bound is close to the measured wall time of every run below, so on this machine the wall time is CPU time, and the host side is most of it:\n\n", m.NProc, m.Hosts)
	w("| scenario | tool | controller CPU | host CPU | (controller + host) ÷ %d | wall |\n|---|---|---|---|---|---|\n", m.NProc)
	for _, row := range r.rows() {
		hc, ok := row.s.HostCPU()
		if !ok {
			continue
		}
		c := row.s.CPU().Median
		w("| %s | %s | %s | %s | %s | %s |\n", row.scenario, toolLabel(row.s.Tool), fmtSecs(c), fmtSecs(hc.Median), fmtSecs((c+hc.Median)/float64(m.NProc)), fmtSecs(row.s.Wall().Median))
	}
	w("\n")
	hostMed := func(x *Series) float64 { h, _ := x.HostCPU(); return h.Median }
	tc, okT := r.Cold[ToolTend]
	ac, okA := r.Cold[ToolAnsible]
	fc, okF := r.Cold[ToolFloorX25519]
	if okT && okA && okF && len(tc.Results) > 0 && len(ac.Results) > 0 && len(fc.Results) > 0 {
		coldRT, _, _, phases := tendFacts(tc)
		var unit time.Duration
		for _, p := range phases {
			if strings.HasPrefix(p.Name, "gunicorn_service.") {
				unit = p.Max
			}
		}
		floor, tw, aw := fc.Wall().Median, tc.Wall().Median, ac.Wall().Median
		w("**Cold converge.** Most of it is host-side work no tool can avoid: writing the unit, `systemctl daemon-reload`, stopping the old gunicorn and starting the new one (a python master and its workers) until it reports READY. The cold floor does only that and takes %s; in tend it is the `gunicorn_service.staffrota` phase (%s of %s). Over the floor, tend adds %s of wall time and Ansible %s, so Ansible ÷ tend for the cold run is (floor + %[5]s) ÷ (floor + %[4]s): a large floor pulls the ratio towards 1, and faster or separate hosts (a smaller floor) raise it.",
			fmtSecs(floor), fmtDur(unit), fmtSecs(tw), fmtSecs(tw-floor), fmtSecs(aw-floor))
		if _, ok := tc.HostCPU(); ok {
			th, ah, fh := hostMed(tc), hostMed(ac), hostMed(fc)
			w(" On host CPU, the cold floor needs %s for the %d hosts, tend %s (%s, or %s per host, more than the floor) and Ansible %s; with the controller's CPU, Ansible needs %.1f× the CPU of tend in all, and that is what the wall-time ratio follows on this machine. tend's extra host CPU goes into its %d round trips per host (tend's count: reading the state, staging and installing the file, systemctl, reading the state again, the health check), where the floor runs one command; on the host every remote command is a new SSH channel and, with become, a new sudo.",
				fmtSecs(fh), m.Hosts, fmtSecs(th), fmtSecs(th-fh), fmtSecs((th-fh)/float64(m.Hosts)), fmtSecs(ah),
				(ac.CPU().Median+ah)/max(tc.CPU().Median+th, 0.001), coldRT)
		}
		w("\n\n")
	}
	if tn, ok := r.Noop[ToolTend]; ok && len(tn.Results) > 0 {
		if fx, ok := r.Noop[ToolFloorX25519]; ok && len(fx.Results) > 0 {
			w("**No-op run.** tend takes %s, the curve25519 floor %s: one tend process makes the %d connections with %s of controller CPU where %d `ssh` processes need %s, and with OpenSSH's default post-quantum key exchange the `ssh` processes need %s. Nearly all of tend's time is connecting, authenticating and reading the state (%d round trips per host in all).",
				fmtSecs(tn.Wall().Median), fmtSecs(fx.Wall().Median), m.Hosts, fmtSecs(tn.CPU().Median), m.Hosts, fmtSecs(fx.CPU().Median), fmtSecs(r.Noop[ToolFloor].CPU().Median), r.noopRoundTrips())
			if _, ok := tn.HostCPU(); ok {
				w(" On the hosts, tend's state probe (one sudo shell reading the unit file and `systemctl show`) and health check cost %s of CPU against the floor's %s for `sudo cat`.", fmtSecs(hostMed(tn)), fmtSecs(hostMed(fx)))
			}
			w("\n\n")
		}
	}
	if missed := r.missedNames(); len(missed) > 0 {
		w("**Targets missed:** %s.\n", strings.Join(missed, "; "))
	} else {
		w("All targets met.\n")
	}
	return b.String()
}

// noopRoundTrips is the median of tend's round trips per host in no-op runs.
func (r *Report) noopRoundTrips() int {
	s, ok := r.Noop[ToolTend]
	if !ok {
		return 0
	}
	rt, _, _, _ := tendFacts(s)
	return rt
}

func (r *Report) missedNames() []string {
	var out []string
	for _, x := range r.Ratios {
		if !x.Met() {
			out = append(out, x.Name+" "+x.Verdict())
		}
	}
	return out
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func cpuModel() string {
	sc := bufio.NewScanner(strings.NewReader(readFile("/proc/cpuinfo")))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	sc := bufio.NewScanner(strings.NewReader(readFile("/proc/meminfo")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			var kb float64
			fmt.Sscan(f[1], &kb)
			return fmt.Sprintf("%.1f GiB", kb/1024/1024)
		}
	}
	return "unknown"
}

func osRelease() string {
	for _, l := range strings.Split(readFile("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "unknown"
}

func output(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func combined(ctx context.Context, name string, args ...string) string {
	out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(l)
}
