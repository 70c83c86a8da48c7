package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the benchmark ran, and how the tools were set
// up, as far as the report states it.
type Machine struct {
	CPU, Kernel, OS, Memory  string
	NProc                    int
	Go, TendCommit           string
	Ansible, Python, OpenSSH string
	Date                     string
	AnsibleConfig            string
	AnsibleInventoryExcerpt  string
	LoadIdle                 string
	LoadBefore, LoadAfter    string
	Hosts                    int
	Rounds                   int
	Forks                    int
	TendArgs, AnsibleArgs    string
	ReferenceArgs            string
	// HostOS is the hosts' PRETTY_NAME ("" when it could not be read).
	HostOS string
	// KexOpenSSH is the key exchange plain ssh with its defaults negotiated
	// with a host, KexTend the one golang.org/x/crypto/ssh (tend's SSH
	// library, with tend's defaults) negotiated ("" when unknown).
	KexOpenSSH, KexTend string
	// AnsiblePipelining is the pipelining setting of the benchmark's
	// ansible.cfg ("" when not set there).
	AnsiblePipelining string
	// AnsibleGatherFacts is the gather_facts of the benchmark's playbook
	// ("" when not set there).
	AnsibleGatherFacts string
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
	m.HostOS = hostOS(ctx, s)
	m.KexOpenSSH = opensshKex(ctx, s)
	m.KexTend = libraryKex(ctx, s)
	m.AnsiblePipelining = iniValue(readFile(filepath.Join(s.AnsibleDir, "ansible.cfg")), "ssh_connection", "pipelining")
	sc := b.Scenario
	m.AnsibleGatherFacts = yamlPlayValue(readFile(filepath.Join(s.AnsibleDir, sc.ansiblePlaybook())), "gather_facts")
	m.TendArgs = commandLine(append([]string{"tend"}, tendArgs(sc, sc.tendPlaybook(), "FLEET/inventory.hcl", s.Forks, ToolTend)...)...)
	m.AnsibleArgs = commandLine("ANSIBLE_CONFIG=bench/ansible/ansible.cfg", "ANSIBLE_SSH_CONTROL_PATH_DIR=$(mktemp -d)", "ansible-playbook", "-i", "FLEET/ansible.ini", "bench/ansible/"+sc.ansiblePlaybook())
	if len(b.states) > 0 {
		cmd, _ := sc.noopReference(0, b.states[0])
		args := append(append([]string{"ssh"}, displaySSHArgs(referenceArgs(s, ToolRef))...), "-n", "-l", s.User, "HOST", "--", "sudo")
		m.ReferenceArgs = commandLine(append(args, strings.Fields(cmd)...)...)
	}

	r := &Report{M: m, Noop: b.Noop, Cold: b.Cold}
	r.Ratios = sc.ratios(b.Noop, b.Cold)
	return r, nil
}

// ratios computes the targets (and the ratios shown for context) from the
// wall-time medians; a ratio whose series are missing is left out.
func ratios(noop, cold map[string]*Series) []Ratio {
	var out []Ratio
	med := func(ss map[string]*Series, t string) float64 {
		if x, ok := ss[t]; ok && len(x.Results) > 0 {
			return x.Wall().Median
		}
		return 0
	}
	ratio := func(name string, num, den float64, target float64, atMost bool) {
		if num > 0 && den > 0 {
			out = append(out, Ratio{Name: name, Value: num / den, Target: target, AtMost: atMost, Info: target == 0})
		}
	}
	ratio("tend no-op ÷ plain OpenSSH reference", med(noop, ToolTend), med(noop, ToolRef), 1.3, true)
	ratio("tend no-op ÷ plain OpenSSH reference, curve25519", med(noop, ToolTend), med(noop, ToolRefX25519), 1.3, true)
	ratio("Ansible no-op ÷ tend no-op", med(noop, ToolAnsible), med(noop, ToolTend), 8, false)
	ratio("Ansible cold ÷ tend cold", med(cold, ToolAnsible), med(cold, ToolTend), 4, false)
	ratio("Ansible cold ÷ tend cold with settle 0s", med(cold, ToolAnsible), med(cold, ToolTendNoSettle), 0, false)
	ratio("tend no-op --batch 25% ÷ tend no-op, all at once", med(noop, ToolTendBatch), med(noop, ToolTend), 0, false)
	ratio("tend cold --batch 25% ÷ tend cold, all at once", med(cold, ToolTendBatch), med(cold, ToolTend), 0, false)
	ratio("tend cold ÷ plain OpenSSH cold reference, curve25519", med(cold, ToolTend), med(cold, ToolRefX25519), 0, false)
	ratio("Ansible cold ÷ plain OpenSSH cold reference, curve25519", med(cold, ToolAnsible), med(cold, ToolRefX25519), 0, false)
	return out
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
	case ToolTendNoSettle:
		return "tend apply, settle 0s"
	case ToolTendBatch:
		return "tend apply --batch 25%"
	case ToolAnsible:
		return "ansible-playbook"
	}
	if t == ToolRefX25519 {
		return "plain OpenSSH reference, curve25519-sha256"
	}
	return "plain OpenSSH reference (1 ssh/host)"
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
	fmt.Fprintf(&b, "%-7s %-44s %-28s %-28s %-20s %s\n", "", "tool", "wall median (min – max)", "CPU median (min – max)", "peak RSS MiB", "host CPU (all hosts)")
	for _, row := range r.rows() {
		fmt.Fprintf(&b, "%-7s %-44s %-28s %-28s %-20s %s\n", row.scenario, toolLabel(row.s.Tool), secsCell(row.s.Wall()), secsCell(row.s.CPU()), mibCell(row.s.RSS()), hostCPUCell(row.s))
	}
	return b.String()
}

// RatiosText renders the ratios against their targets.
func (r *Report) RatiosText() string {
	var b strings.Builder
	for _, x := range r.Ratios {
		fmt.Fprintf(&b, "%-56s %6.2f×  target %-6s %s\n", x.Name, x.Value, x.Bound(), x.Verdict())
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

// Markdown renders BENCHMARKS.md. What it says about the results is
// computed from the measurements: a comparison says which side is ahead and
// by how much, and a sentence whose measurements are missing is left out.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	r.writeIntro(w)
	r.writeMethod(w)
	r.writeResults(w)
	r.writeTimeGoes(w)
	r.writeAnalysis(w)
	return b.String()
}

// writef appends formatted text to the report.
type writef func(format string, a ...any)

// series returns tool's series in ss when it has results.
func series(ss map[string]*Series, tool string) (*Series, bool) {
	s, ok := ss[tool]
	return s, ok && len(s.Results) > 0
}

// versus says how a compares with b, as "X more than" or "X less than"
// (with the words given), or "about the same as" when they are within 1%.
func versus(a, b float64, more, less string) string {
	d := a - b
	if math.Abs(d) <= 0.01*math.Max(math.Abs(a), math.Abs(b)) || fmtSecs(math.Abs(d)) == fmtSecs(0) {
		return "about the same as"
	}
	if d > 0 {
		return fmtSecs(d) + " " + more + " than"
	}
	return fmtSecs(-d) + " " + less + " than"
}

// faster says how much faster or slower a wall time a is than b.
func faster(a, b float64) string {
	switch {
	case b <= 0 || math.Abs(a-b) <= 0.02*b:
		return "about as fast as"
	case a < b:
		return fmt.Sprintf("%.0f%% faster than", (1-a/b)*100)
	}
	return fmt.Sprintf("%.0f%% slower than", (a/b-1)*100)
}

// isCurve25519 reports whether kex is curve25519-sha256 by either name.
func isCurve25519(kex string) bool {
	return kex == "curve25519-sha256" || kex == "curve25519-sha256@libssh.org"
}

// dumpValue returns a setting's value from `ansible-config dump` output
// ("NAME(origin) = value"), or "".
func dumpValue(dump, name string) string {
	for _, l := range strings.Split(dump, "\n") {
		if !strings.HasPrefix(l, name+"(") {
			continue
		}
		if _, v, ok := strings.Cut(l, " = "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (r *Report) writeIntro(w writef) {
	m := r.M
	kind := "real"
	if m.HostOS != "" {
		kind = "real " + m.HostOS
	}
	w("tend against Ansible and against plain OpenSSH, on one fleet of %d %s hosts (test/fleet: systemd-nspawn containers with systemd, OpenSSH and the staffrota gunicorn app) on the same machine as the controller. ", m.Hosts, kind)
	w("Generated by `make bench` (`go run ./bench`); do not edit by hand, run it again.\n\n")

	r.writeMachine(w, "##")
}

// cell escapes the pipes of a table cell's text (a commit subject may
// hold one).
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// writeMachine writes the machine table under a heading of level h ("##").
func (r *Report) writeMachine(w writef, h string) {
	m := r.M
	w("%s Machine\n\n", h)
	w("| | |\n|---|---|\n")
	w("| date | %s |\n", m.Date)
	w("| CPU | %s, nproc %d |\n", m.CPU, m.NProc)
	w("| memory | %s |\n", m.Memory)
	w("| kernel | %s |\n", m.Kernel)
	w("| OS | %s |\n", m.OS)
	if m.HostOS != "" {
		w("| hosts' OS | %s |\n", m.HostOS)
	}
	w("| Go | %s |\n", m.Go)
	w("| tend | %s |\n", cell(m.TendCommit))
	w("| Ansible | %s, %s |\n", cell(m.Ansible), cell(m.Python))
	w("| OpenSSH | %s |\n", cell(m.OpenSSH))
	w("| load average (1, 5, 15 min) | %s before the fleet booted; %s when the measurements began, %s when they ended (these two include the benchmark's own load) |\n\n", m.LoadIdle, m.LoadBefore, m.LoadAfter)
	w("The %d hosts and the controller share the machine's %d CPUs: the hosts' sshd, sudo, systemd and (for Ansible) python run on the same cores as the tools. Host and controller talk over veth links, so network latency is near zero and the numbers measure CPU and round trips, not distance; on a real network every round trip adds its RTT.\n\n", m.Hosts, m.NProc)
}

func (r *Report) writeMethod(w writef) {
	m := r.M
	w("## Method\n\n")
	w("- One fleet of %d hosts is booted; every host starts with the pre-hardening `staffrota.service` (1 worker, no restart policy). The tend playbook is `examples/staffrota/harden.hcl`; `bench/ansible/harden.yml` does the same four steps (the unit from `templates/staffrota.service.j2` with `workers` from the inventory, root 0644, a handler that runs daemon-reload and restart on change, the service enabled and started, handlers flushed, then `uri` on the unix socket: `GET /health/` must answer 200 with `status` `\"ok\"`, retried 10 times 1 s apart). Both leave the same unit file byte for byte: before measuring, Ansible converges the fleet and tend must then report no change, and after a reset tend converges it and Ansible must then report `changed=0` on every host; after every converge the driver checks the unit's owner, mode and sha256 on every host against the template.\n", m.Hosts)
	w("- **no-op**: the hosts are converged; %d rounds, each running every tool once, the order rotating from round to round. The plain OpenSSH reference does what any SSH tool must do to read the unit: per host, in parallel, one plain `ssh` connection (no connection sharing) running `sudo cat` of the unit. It is a reference, not a lower bound: it starts one `ssh` process per host, and one process that makes all the connections can be faster. It is measured twice: %s\n", m.Rounds, r.kexText())
	w("- **cold**: before every run each host is reset over SSH (as root) to the pre-hardening unit: file written back, daemon-reload, the running gunicorn killed (a graceful stop can hang 30 s when it meets a worker that is still booting), `systemctl reset-failed`, start, wait until `/health/` answers 200 (the pre-hardening unit runs one worker, so the tool's restart never meets a booting worker). Then one tool converges the fleet. %d rounds, the order rotating. The reset is not timed. The cold reference does only the host-side work every tool must do, in one command per host: per host, in parallel, one plain `ssh` running one `sudo sh -c` that writes the hardened unit (temporary file, rename), runs `systemctl daemon-reload` and `systemctl restart` (which waits for gunicorn's READY); it reads no state first and runs no health check.\n", m.Rounds)
	w("- Every run is checked, and a failing run aborts the benchmark: exit status 0; the tool's recap lists all %d hosts with no failure; no-op: no change on any host and the service not restarted (its `InvocationID` unchanged); cold: a change on every host, the service restarted (new `InvocationID`), active, and the hardened unit's sha256 on every host; the no-op reference must print the hardened unit from every host.\n", m.Hosts)
	w("- %s\n", r.measuresText("sshd, sudo, systemd, python, gunicorn"))
	w("- The tables give the median of the %d runs and, in brackets, the minimum and maximum.\n\n", m.Rounds)

	w("### Invocations\n\n")
	w("```\n%s\n%s\n%s    # once per host, all in parallel\n```\n\n", m.TendArgs, m.AnsibleArgs, m.ReferenceArgs)
	w("The cold scenario also runs tend with `--var settle=0s`: after the restart it does not watch the service for the playbook's settle time (default 2 s) — a check that neither Ansible's playbook nor the references make — so the two tend rows show what that check costs.\n\n")
	w("The curve25519 reference adds `-o KexAlgorithms=curve25519-sha256` to the ssh options.\n\n")
	r.writeAnsibleSettings(w, "###")
}

// writeAnsibleSettings writes Ansible's settings under a heading of level
// h ("###").
func (r *Report) writeAnsibleSettings(w writef, h string) {
	m := r.M
	w("%s Ansible settings\n\n", h)
	w("`ansible-config dump --only-changed` with `bench/ansible/ansible.cfg`:\n\n```\n%s\n```\n\n", m.AnsibleConfig)
	w("Inventory variables (`[web:vars]`, written by test/fleet):\n\n```\n%s\n```\n\n", m.AnsibleInventoryExcerpt)
	if p := m.AnsiblePipelining; p != "" {
		w("- `pipelining = %s` in `[ssh_connection]`", p)
		if strings.EqualFold(p, "true") {
			w(": modules are fed to the remote python over the open session, with no temporary file copied per task")
		}
		w(".\n")
	}
	w("- `ssh_args` is Ansible's default, `-C -o ControlMaster=auto -o ControlPersist=60s`: one multiplexed connection per host, shared by every task of a run. Each run gets a fresh `control_path_dir` (`ANSIBLE_SSH_CONTROL_PATH_DIR`), so no run reuses the previous run's connections; tend makes fresh connections every run too.\n")
	gathering, facts := dumpValue(m.AnsibleConfig, "DEFAULT_GATHERING"), m.AnsibleGatherFacts
	if gathering != "" || facts != "" {
		w("- `gathering = %s` and `gather_facts: %s`", orUnset(gathering), orUnset(facts))
		if gathering == "explicit" && strings.EqualFold(facts, "false") {
			w(": Ansible gathers no facts")
		}
		w(".")
		if rt := r.noopRoundTrips(); rt > 0 {
			w(" tend does read host facts (hostname, CPU count, OS, users, whether systemd runs), in the same command that reads the state: %d round trips per host in all in its no-op runs (tend's count).", rt)
		}
		w("\n")
	}
	if f, err := strconv.Atoi(dumpValue(m.AnsibleConfig, "DEFAULT_FORKS")); err == nil {
		w("- `forks = %d`: Ansible works on %s; tend on %s (`--forks %d`).\n", f, atOnce(f, m.Hosts), atOnce(m.Forks, m.Hosts), m.Forks)
	}
	w("\n")
}

// measuresText defines what the tables measure; busy lists what runs on
// the hosts during a run.
func (r *Report) measuresText(busy string) string {
	m := r.M
	return fmt.Sprintf("**wall**: from starting the tool to its exit. **CPU**: user+sys on the controller, of the tool and every process it waited for (`wait4` rusage); for Ansible also its `ControlPersist` SSH masters, which daemonize: the driver is a child subreaper, so they are re-parented to it, and after each run it ends them and adds their rusage (they are never reused across runs). For the references, the sum over the %d `ssh` processes. **Peak RSS**: `ru_maxrss`, the largest *single* process (for Ansible, its biggest python fork or ssh process; for the references, the biggest `ssh`), not the sum over processes. **Host CPU**: the CPU time all %[1]d hosts used during the run (%s), from each host's cgroup `cpu.stat` (`usage_usec`), before and after.", m.Hosts, busy)
}

func orUnset(s string) string {
	if s == "" {
		return "(not set)"
	}
	return s
}

// atOnce says how many of n hosts a tool works on at once with forks.
func atOnce(forks, n int) string {
	if forks >= n {
		return "every host at once"
	}
	return fmt.Sprintf("%d of the %d hosts at once", forks, n)
}

// kexText describes the two no-op references' key exchanges from what was
// negotiated and measured.
func (r *Report) kexText() string {
	m := r.M
	var b strings.Builder
	b.WriteString("with OpenSSH's defaults")
	if m.KexOpenSSH != "" {
		fmt.Fprintf(&b, " (it negotiated `%s` with these hosts)", m.KexOpenSSH)
	}
	ref, ok1 := series(r.Noop, ToolRef)
	x, ok2 := series(r.Noop, ToolRefX25519)
	if ok1 && ok2 && m.Hosts > 0 {
		per := (ref.CPU().Median - x.CPU().Median) / float64(m.Hosts)
		word := "more"
		if per < 0 {
			word = "less"
		}
		fmt.Fprintf(&b, ", which cost the client %s %s CPU per connection than curve25519-sha256 (the difference of the two references' controller CPU medians, divided by %d hosts)",
			fmtSecs(math.Abs(per)), word, m.Hosts)
	}
	b.WriteString(", and with `curve25519-sha256` forced")
	switch {
	case m.KexTend == "":
		b.WriteString(", a classical key exchange that golang.org/x/crypto/ssh, tend's SSH library, also offers.")
	case isCurve25519(m.KexTend):
		fmt.Fprintf(&b, ", the key exchange tend's SSH library (golang.org/x/crypto/ssh) negotiated with these hosts (`%s`): the reference with tend's crypto.", m.KexTend)
	default:
		fmt.Fprintf(&b, "; tend's SSH library (golang.org/x/crypto/ssh) negotiated `%s` with these hosts, so neither reference has exactly tend's crypto.", m.KexTend)
	}
	return b.String()
}

func (r *Report) writeResults(w writef) {
	m := r.M
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
		sa, oka := series(a, ta)
		sb, okb := series(bm, tb)
		if !oka || !okb || sb.CPU().Median == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.1f×", sa.CPU().Median/sb.CPU().Median)
	}
	w("\nThe same ratios on controller CPU: Ansible no-op ÷ tend no-op %s, Ansible cold ÷ tend cold %s, tend no-op ÷ plain OpenSSH reference %s, tend no-op ÷ plain OpenSSH reference with curve25519 %s.\n\n",
		cpuRatio(r.Noop, r.Noop, ToolAnsible, ToolTend), cpuRatio(r.Cold, r.Cold, ToolAnsible, ToolTend), cpuRatio(r.Noop, r.Noop, ToolTend, ToolRef), cpuRatio(r.Noop, r.Noop, ToolTend, ToolRefX25519))
}

func (r *Report) writeTimeGoes(w writef) {
	m := r.M
	w("## Where tend's time goes\n\n")
	w("From tend's own `--json` events (medians over the runs; each phase is its slowest host):\n\n")
	for _, sc := range []struct {
		name string
		m    map[string]*Series
	}{{ScenarioNoop, r.Noop}, {ScenarioCold, r.Cold}} {
		s, ok := series(sc.m, ToolTend)
		if !ok {
			continue
		}
		w("- %s\n", tendTimeLine(sc.name, s))
	}
	for _, t := range []string{ToolRef, ToolRefX25519} {
		if fl, ok := series(r.Noop, t); ok {
			w("- %s, no-op: wall %s, controller CPU %s for %d `ssh` processes (one TCP connection, key exchange, public key authentication and one command each).\n",
				toolLabel(t), fmtSecs(fl.Wall().Median), fmtSecs(fl.CPU().Median), m.Hosts)
		}
	}
	w("\n")
}

// tendTimeLine says where tend's time went in a scenario's runs, from its
// own events.
func tendTimeLine(scenario string, s *Series) string {
	rt, startup, hostMax, phases := tendFacts(s)
	var ps []string
	quick := 0
	for _, p := range phases {
		if p.Max < time.Millisecond && p.Name != phaseConnect {
			quick++
			continue
		}
		ps = append(ps, fmt.Sprintf("%s %s", p.Name, fmtDur(p.Max)))
	}
	if quick > 0 {
		ps = append(ps, fmt.Sprintf("%d more %s under 1 ms", quick, plural(quick, "task", "tasks")))
	}
	return fmt.Sprintf("%s: wall %s. First event %s after the process started (start-up, loading and checking playbook and inventory). Slowest host %s: %s. %d round trips per host after connecting (tend's count).",
		scenario, fmtSecs(s.Wall().Median), fmtSecs(startup), fmtSecs(hostMax), strings.Join(ps, "; "), rt)
}

// plural picks the word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// saturatedAt is the share of a run's wall time that its CPU bound,
// (controller + host CPU) ÷ CPUs, must reach for the run to count as
// CPU-bound.
const saturatedAt = 0.8

func (r *Report) writeAnalysis(w writef) {
	w("## Analysis\n\n")
	r.writeSaturation(w)
	r.writeCold(w)
	r.writeNoop(w)
	if missed := r.missedNames(); len(missed) > 0 {
		w("**Targets missed:** %s.\n", strings.Join(missed, "; "))
	} else if len(r.Ratios) > 0 {
		w("All targets met.\n")
	}
}

// writeSaturation compares each run's wall time with the least time its
// CPU needs on this machine.
func (r *Report) writeSaturation(w writef) {
	m := r.M
	type row struct {
		scenario, tool         string
		ctl, host, bound, wall float64
	}
	var rows []row
	for _, x := range r.rows() {
		hc, ok := x.s.HostCPU()
		if !ok || m.NProc <= 0 {
			continue
		}
		c := x.s.CPU().Median
		rows = append(rows, row{x.scenario, toolLabel(x.s.Tool), c, hc.Median, (c + hc.Median) / float64(m.NProc), x.s.Wall().Median})
	}
	if len(rows) == 0 {
		return
	}
	saturated, hostMost := 0, 0
	minShare, maxShare := math.Inf(1), 0.0
	for _, x := range rows {
		share := x.bound / x.wall
		minShare, maxShare = math.Min(minShare, share), math.Max(maxShare, share)
		if share >= saturatedAt {
			saturated++
		}
		if x.host > x.ctl {
			hostMost++
		}
	}
	n := len(rows)
	switch saturated {
	case n:
		w("**The machine is saturated.** ")
	case 0:
		w("**The machine is not saturated.** ")
	default:
		w("**The machine is saturated in some runs.** ")
	}
	w("With %d CPUs for the controller and all %d hosts, a run cannot be shorter than all the CPU it needs, controller and hosts together, divided by %[1]d. ", m.NProc, m.Hosts)
	switch saturated {
	case n:
		w("That bound is %.0f–%.0f%% of the measured wall time of every run below, so on this machine the wall time is mostly CPU time", minShare*100, maxShare*100)
	case 0:
		w("That bound is %.0f–%.0f%% of the measured wall time of the runs below, so CPU alone does not explain their wall time", minShare*100, maxShare*100)
	default:
		w("That bound is at least %.0f%% of the measured wall time in %d of the %d runs below, and less in the others (%.0f–%.0f%% in all)", saturatedAt*100, saturated, n, minShare*100, maxShare*100)
	}
	switch hostMost {
	case n:
		w(", and the hosts use more of that CPU than the controller in every run")
	case 0:
		w(", and the controller uses more of that CPU than the hosts in every run")
	default:
		w(", and the hosts use more of that CPU than the controller in %d of the %d runs", hostMost, n)
	}
	w(":\n\n")
	w("| scenario | tool | controller CPU | host CPU | (controller + host) ÷ %d | wall | bound ÷ wall |\n|---|---|---|---|---|---|---|\n", m.NProc)
	for _, x := range rows {
		w("| %s | %s | %s | %s | %s | %s | %.0f%% |\n", x.scenario, x.tool, fmtSecs(x.ctl), fmtSecs(x.host), fmtSecs(x.bound), fmtSecs(x.wall), x.bound/x.wall*100)
	}
	w("\n")
}

// writeCold relates the cold runs to the cold reference.
func (r *Report) writeCold(w writef) {
	m := r.M
	tc, okT := series(r.Cold, ToolTend)
	ac, okA := series(r.Cold, ToolAnsible)
	fc, okF := series(r.Cold, ToolRefX25519)
	if !okT || !okA || !okF {
		return
	}
	coldRT, _, _, phases := tendFacts(tc)
	ref, tw, aw := fc.Wall().Median, tc.Wall().Median, ac.Wall().Median
	w("**Cold converge.** The host-side work every tool must do — writing the unit, `systemctl daemon-reload`, stopping the old gunicorn and starting the new one (a python master and its workers) until it reports READY — is what the cold reference does, and it takes %s", fmtSecs(ref))
	if ref <= tw {
		w("; that is %.0f%% of tend's %s", ref/tw*100, fmtSecs(tw))
	} else {
		w(", longer than tend's whole run (%s)", fmtSecs(tw))
	}
	for _, p := range phases {
		if strings.HasPrefix(p.Name, "gunicorn_service.") {
			w("; in tend, the `%s` phase takes %s", p.Name, fmtDur(p.Max))
		}
	}
	w(". tend takes %s the reference and Ansible %s it", versus(tw, ref, "longer", "less"), versus(aw, ref, "longer", "less"))
	if aw > tw && tw >= ref {
		w(", so Ansible ÷ tend for the cold run is (reference + %s) ÷ (reference + %s): a longer reference pulls the ratio towards 1, and faster or separate hosts (a shorter reference) raise it", fmtSecs(aw-ref), fmtSecs(tw-ref))
	}
	w(".")
	if ns, ok := series(r.Cold, ToolTendNoSettle); ok {
		nw := ns.Wall().Median
		if nw < tw {
			w(" Without its settle check (`--var settle=0s`), tend takes %s: watching the restarted service costs %s of wall time", fmtSecs(nw), fmtSecs(tw-nw))
		} else {
			w(" Without its settle check (`--var settle=0s`), tend takes %s, no less than with it", fmtSecs(nw))
		}
		w(", and without it tend takes %s the reference and Ansible %.1f× tend's time.", versus(nw, ref, "longer", "less"), aw/math.Max(nw, 0.001))
	}
	_, okTH := tc.HostCPU()
	_, okAH := ac.HostCPU()
	_, okFH := fc.HostCPU()
	if okTH && okAH && okFH {
		hostMed := func(x *Series) float64 { h, _ := x.HostCPU(); return h.Median }
		th, ah, fh := hostMed(tc), hostMed(ac), hostMed(fc)
		vs := versus(th, fh, "more", "less")
		w(" On host CPU, the cold reference needs %s for the %d hosts, tend %s (%s the reference", fmtSecs(fh), m.Hosts, fmtSecs(th), vs)
		if m.Hosts > 0 && vs != "about the same as" {
			w(", or %s per host", fmtSecs(math.Abs(th-fh)/float64(m.Hosts)))
		}
		w(") and Ansible %s.", fmtSecs(ah))
		total := (ac.CPU().Median + ah) / math.Max(tc.CPU().Median+th, 0.001)
		wall := aw / tw
		w(" With the controller's CPU, Ansible needs %.1f× the CPU of tend in all; the wall-time ratio is %.1f×", total, wall)
		if math.Abs(math.Log(total/wall)) <= math.Log(1.25) {
			w(", close to it: on this machine the wall time follows the CPU")
		}
		w(".")
		if th > fh {
			w(" tend's extra host CPU goes with its %d round trips per host (tend's count), where the reference runs one command: on the host every remote command is a new SSH channel and, with become, a new sudo.", coldRT)
		} else {
			w(" tend needs no more host CPU than the reference despite its %d round trips per host (tend's count).", coldRT)
		}
	}
	w("\n\n")
}

// writeNoop relates tend's no-op run to the no-op references.
func (r *Report) writeNoop(w writef) {
	m := r.M
	tn, ok1 := series(r.Noop, ToolTend)
	fx, ok2 := series(r.Noop, ToolRefX25519)
	if !ok1 || !ok2 {
		return
	}
	tw, fw := tn.Wall().Median, fx.Wall().Median
	w("**No-op run.** tend takes %s, the curve25519 reference %s: tend is %s the reference. One tend process makes the %d connections with %s of controller CPU, where %d `ssh` processes need %s",
		fmtSecs(tw), fmtSecs(fw), faster(tw, fw), m.Hosts, fmtSecs(tn.CPU().Median), m.Hosts, fmtSecs(fx.CPU().Median))
	if fd, ok := series(r.Noop, ToolRef); ok {
		w(", and %s with OpenSSH's default key exchange", fmtSecs(fd.CPU().Median))
		if m.KexOpenSSH != "" {
			w(" (`%s`)", m.KexOpenSSH)
		}
	}
	w(".")
	rt, _, _, phases := tendFacts(tn)
	for _, p := range phases {
		if p.Name != phaseConnect || tw <= 0 {
			continue
		}
		share := p.Max.Seconds() / tw
		var how string
		switch {
		case share >= 0.8:
			how = "Nearly all"
		case share >= 0.5:
			how = "Most"
		default:
			how = fmt.Sprintf("%.0f%%", share*100)
		}
		w(" %s of tend's time is connecting, authenticating and reading the state (%s of %s; %d round trips per host in all).", how, fmtDur(p.Max), fmtSecs(tw), rt)
	}
	_, okTH := tn.HostCPU()
	_, okFH := fx.HostCPU()
	if okTH && okFH {
		th, _ := tn.HostCPU()
		fh, _ := fx.HostCPU()
		w(" On the hosts, tend's state read and health check cost %s of CPU, %s the reference's `sudo cat` (%s).", fmtSecs(th.Median), versus(th.Median, fh.Median, "more", "less"), fmtSecs(fh.Median))
	}
	w("\n\n")
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
