package main

import (
	"strings"
	"testing"
	"time"
)

// medians is one tool's medians in one scenario, in seconds; host < 0 means no
// host CPU was measured. connect is tend's connect phase (tend only).
type medians struct {
	wall, cpu, host float64
	rt              int
	connect, unit   float64
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// mkSeries makes a series of three identical results, so that every median
// is the given value.
func mkSeries(tool string, x medians) *Series {
	s := &Series{Tool: tool}
	for range 3 {
		res := Result{Usage: Usage{Wall: secs(x.wall), CPU: secs(x.cpu), MaxRSS: 14 * 1024}}
		if x.host >= 0 {
			res.HostCPU, res.HasHostCPU = secs(x.host), true
		}
		if isTend(tool) {
			res.RoundTrips = x.rt
			res.Startup = 6 * time.Millisecond
			res.HostMax = secs(x.wall * 0.95)
			res.Phases = []Phase{{phaseConnect, secs(x.connect)}, {"gunicorn_service.staffrota", secs(x.unit)}, {"health_check.staffrota", 4 * time.Millisecond}}
		}
		s.Results = append(s.Results, res)
	}
	return s
}

// measured are the medians of the BENCHMARKS.md run of 2026-11-28 (8 hosts,
// 2 CPUs).
func measured() (noop, cold map[string]medians) {
	noop = map[string]medians{
		ToolTend:      {wall: 0.216, cpu: 0.032, host: 0.335, rt: 2, connect: 0.201},
		ToolAnsible:   {wall: 4.30, cpu: 2.49, host: 5.40},
		ToolRef:       {wall: 0.449, cpu: 0.474, host: 0.282},
		ToolRefX25519: {wall: 0.230, cpu: 0.071, host: 0.236},
	}
	cold = map[string]medians{
		ToolTend:         {wall: 1.67, cpu: 0.068, host: 3.18, rt: 11, connect: 0.236, unit: 1.47},
		ToolTendNoSettle: {wall: 1.40, cpu: 0.066, host: 2.70, rt: 11, connect: 0.236, unit: 1.20},
		ToolAnsible:      {wall: 6.87, cpu: 3.06, host: 9.96},
		ToolRef:          {wall: 1.68, cpu: 0.476, host: 2.78},
		ToolRefX25519:    {wall: 1.45, cpu: 0.073, host: 2.66},
	}
	return noop, cold
}

const ansibleDump = `DEFAULT_FORKS(/x/ansible.cfg) = 8
DEFAULT_GATHERING(/x/ansible.cfg) = explicit
HOST_KEY_CHECKING(/x/ansible.cfg) = True`

func mkReport(m Machine, noop, cold map[string]medians) *Report {
	r := &Report{M: m, Noop: map[string]*Series{}, Cold: map[string]*Series{}}
	for t, x := range noop {
		r.Noop[t] = mkSeries(t, x)
	}
	for t, x := range cold {
		r.Cold[t] = mkSeries(t, x)
	}
	r.Ratios = ratios(r.Noop, r.Cold)
	return r
}

func baseMachine() Machine {
	return Machine{Hosts: 8, NProc: 2, Rounds: 7, Forks: 8, AnsibleConfig: ansibleDump,
		AnsiblePipelining: "True", AnsibleGatherFacts: "false"}
}

// TestMarkdownFollowsTheData: the sentences of BENCHMARKS.md follow the
// measurements. Each case changes the data and lists what the text must and
// must not say.
func TestMarkdownFollowsTheData(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *Machine, noop, cold map[string]medians)
		want   []string
		absent []string
	}{
		{
			name: "as measured",
			want: []string{
				"**The machine is saturated in some runs.**", "at least 80% of the measured wall time in 8 of the 9 runs below, and less in the others (67–99% in all)",
				"the hosts use more of that CPU than the controller in 8 of the 9 runs",
				"tend is 6% faster than the reference",
				"tend takes 220 ms longer than the reference",
				"(reference + 5.42 s) ÷ (reference + 220 ms)",
				"520 ms more than the reference, or 65 ms per host",
				"close to it: on this machine the wall time follows the CPU",
				"Nearly all of tend's time is connecting",
				"`gathering = explicit` and `gather_facts: false`: Ansible gathers no facts.",
				"tend does read host facts",
				"`forks = 8`: Ansible works on every host at once; tend on every host at once (`--forks 8`).",
				"`pipelining = True` in `[ssh_connection]`: modules are fed",
				"which cost the client 50 ms more CPU per connection than curve25519-sha256",
				"Without its settle check (`--var settle=0s`), tend takes 1.40 s: watching the restarted service costs 270 ms of wall time, and without it tend takes 50 ms less than the reference and Ansible 4.9× tend's time.",
				"| cold | tend apply, settle 0s | 66 ms |",
				"All targets met.",
			},
			absent: []string{"not saturated", "The machine is saturated.", "slower than the reference", "gathers no facts either"},
		},
		{
			name: "tend slower than the reference",
			change: func(m *Machine, noop, cold map[string]medians) {
				x := noop[ToolTend]
				x.wall, x.connect = 0.400, 0.100
				noop[ToolTend] = x
			},
			want:   []string{"tend is 74% slower than the reference", "25% of tend's time is connecting", "**Targets missed:** tend no-op ÷ plain OpenSSH reference, curve25519 missed"},
			absent: []string{"faster than the reference", "All targets met.", "Nearly all of tend's time"},
		},
		{
			name:   "many CPUs: not saturated",
			change: func(m *Machine, noop, cold map[string]medians) { m.NProc = 64 },
			want:   []string{"**The machine is not saturated.**", "CPU alone does not explain their wall time"},
			absent: []string{"The machine is saturated.", "the wall time is mostly CPU time"},
		},
		{
			name: "saturated in some runs",
			change: func(m *Machine, noop, cold map[string]medians) {
				x := cold[ToolAnsible]
				x.wall = 30
				cold[ToolAnsible] = x
			},
			want:   []string{"**The machine is saturated in some runs.**", "in 7 of the 9 runs below, and less in the others"},
			absent: []string{"The machine is saturated.**", "close to it: on this machine"},
		},
		{
			name: "tend beats the cold reference, with less host CPU",
			change: func(m *Machine, noop, cold map[string]medians) {
				x := cold[ToolTend]
				x.wall, x.host = 1.20, 2.40
				cold[ToolTend] = x
			},
			want:   []string{"tend takes 250 ms less than the reference", "260 ms less than the reference, or 33 ms per host", "longer than tend's whole run (1.20 s)", "tend needs no more host CPU than the reference"},
			absent: []string{"longer than the reference", "(reference + ", "tend's extra host CPU"},
		},
		{
			name: "the controller does most of the work",
			change: func(m *Machine, noop, cold map[string]medians) {
				for _, ss := range []map[string]medians{noop, cold} {
					for k, x := range ss {
						x.host = x.cpu / 10
						ss[k] = x
					}
				}
			},
			want:   []string{"the controller uses more of that CPU than the hosts in every run", "tend 7 ms (about the same as the reference) and"},
			absent: []string{"the hosts use more of that CPU", "(0 ms", "or 0 ms per host"},
		},
		{
			name: "no host CPU",
			change: func(m *Machine, noop, cold map[string]medians) {
				for _, ss := range []map[string]medians{noop, cold} {
					for k, x := range ss {
						x.host = -1
						ss[k] = x
					}
				}
			},
			absent: []string{"saturated", "On host CPU", "On the hosts,"},
		},
		{
			name: "references not measured",
			change: func(m *Machine, noop, cold map[string]medians) {
				delete(noop, ToolRef)
				delete(noop, ToolRefX25519)
				delete(cold, ToolRef)
				delete(cold, ToolRefX25519)
			},
			want:   []string{"**The machine is saturated.**"},
			absent: []string{"**No-op medians.**", "**Cold converge.**", "per connection than curve25519"},
		},
		{
			name: "only the default reference",
			change: func(m *Machine, noop, cold map[string]medians) {
				delete(noop, ToolRefX25519)
				delete(cold, ToolRefX25519)
			},
			absent: []string{"**No-op medians.**", "**Cold converge.**"},
		},
		{
			name: "tend's library negotiates curve25519",
			change: func(m *Machine, noop, cold map[string]medians) {
				m.KexTend, m.KexOpenSSH = "curve25519-sha256", "sntrup761x25519-sha512@openssh.com"
			},
			want: []string{"(it negotiated `sntrup761x25519-sha512@openssh.com` with these hosts)", "negotiated with these hosts (`curve25519-sha256`): the reference with tend's crypto", "with OpenSSH's default key exchange (`sntrup761x25519-sha512@openssh.com`)"},
		},
		{
			name:   "tend's library negotiates another key exchange",
			change: func(m *Machine, noop, cold map[string]medians) { m.KexTend = "mlkem768x25519-sha256" },
			want:   []string{"negotiated `mlkem768x25519-sha256` with these hosts, so neither reference has exactly tend's crypto"},
			absent: []string{"the reference with tend's crypto"},
		},
		{
			name: "Ansible gathers facts, fewer forks",
			change: func(m *Machine, noop, cold map[string]medians) {
				m.AnsibleConfig = "DEFAULT_FORKS(/x/ansible.cfg) = 4"
				m.AnsibleGatherFacts = "true"
				m.AnsiblePipelining = ""
			},
			want:   []string{"`gathering = (not set)` and `gather_facts: true`.", "`forks = 4`: Ansible works on 4 of the 8 hosts at once"},
			absent: []string{"Ansible gathers no facts", "pipelining"},
		},
		{
			name: "the default key exchange is the cheaper one",
			change: func(m *Machine, noop, cold map[string]medians) {
				x := noop[ToolRef]
				x.cpu = 0.039
				noop[ToolRef] = x
			},
			want: []string{"which cost the client 4 ms less CPU per connection than curve25519-sha256"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := baseMachine()
			noop, cold := measured()
			if tc.change != nil {
				tc.change(&m, noop, cold)
			}
			md := mkReport(m, noop, cold).Markdown()
			for _, s := range tc.want {
				if !strings.Contains(md, s) {
					t.Errorf("lacks %q", s)
				}
			}
			for _, s := range append(tc.absent, "floor", "Floor") {
				if strings.Contains(md, s) {
					t.Errorf("says %q", s)
				}
			}
			if t.Failed() {
				t.Logf("analysis:\n%s", md[strings.Index(md, "## Analysis"):])
			}
		})
	}
}

// TestRatioNames: the targets name the plain OpenSSH reference, not a floor.
func TestRatioNames(t *testing.T) {
	noop, cold := measured()
	r := mkReport(baseMachine(), noop, cold)
	if len(r.Ratios) != 7 {
		t.Fatalf("%d ratios: %+v", len(r.Ratios), r.Ratios)
	}
	for _, x := range r.Ratios {
		if strings.Contains(strings.ToLower(x.Name), "floor") {
			t.Errorf("ratio %q", x.Name)
		}
	}
	if got := r.Ratios[1]; got.Name != "tend no-op ÷ plain OpenSSH reference, curve25519" || got.Value > 0.95 || !got.Met() {
		t.Errorf("%+v", got)
	}
}

func TestMachineProbes(t *testing.T) {
	if got := kexFromDebug("debug1: SSH2_MSG_KEXINIT sent\ndebug1: kex: algorithm: sntrup761x25519-sha512@openssh.com\ndebug1: kex: host key algorithm: ssh-ed25519\n"); got != "sntrup761x25519-sha512@openssh.com" {
		t.Errorf("kexFromDebug = %q", got)
	}
	cfg := "[defaults]\nforks = 8\n# pipelining = False\n[ssh_connection]\n# comment\npipelining = True\n"
	if got := iniValue(cfg, "ssh_connection", "pipelining"); got != "True" {
		t.Errorf("iniValue = %q", got)
	}
	if got := iniValue(cfg, "defaults", "pipelining"); got != "" {
		t.Errorf("iniValue in the wrong section = %q", got)
	}
	if got := yamlPlayValue("- name: harden\n  hosts: web\n  gather_facts: false\n  become: true\n", "gather_facts"); got != "false" {
		t.Errorf("yamlPlayValue = %q", got)
	}
	if got := dumpValue(ansibleDump, "DEFAULT_GATHERING"); got != "explicit" {
		t.Errorf("dumpValue = %q", got)
	}
}

// sshMeasured are medians like the ssh-hardening smoke run's (2 hosts):
// tend's cold run with a handler phase.
func sshMeasured() (noop, cold map[string]medians) {
	noop = map[string]medians{
		ToolTend:      {wall: 1.85, cpu: 0.150, host: 2.31, rt: 2, connect: 1.75},
		ToolAnsible:   {wall: 17.2, cpu: 9.77, host: 10.8},
		ToolRef:       {wall: 0.626, cpu: 0.255, host: 0.441},
		ToolRefX25519: {wall: 0.491, cpu: 0.087, host: 0.454},
	}
	cold = map[string]medians{
		ToolTend:      {wall: 15.3, cpu: 0.598, host: 22.3, rt: 33, connect: 1.86, unit: 1.0},
		ToolAnsible:   {wall: 16.1, cpu: 10.8, host: 16.7},
		ToolRef:       {wall: 1.57, cpu: 0.250, host: 2.47},
		ToolRefX25519: {wall: 1.58, cpu: 0.093, host: 2.48},
	}
	return noop, cold
}

func mkSSHReport(m Machine, noop, cold map[string]medians) *Report {
	r := &Report{M: m, Noop: map[string]*Series{}, Cold: map[string]*Series{}}
	for t, x := range noop {
		r.Noop[t] = mkSeries(t, x)
	}
	for t, x := range cold {
		s := mkSeries(t, x)
		if t == ToolTend {
			for i := range s.Results {
				s.Results[i].Phases = append(s.Results[i].Phases, Phase{"handler service.ssh", 2900 * time.Millisecond})
				s.Results[i].OK, s.Results[i].Changed = 1, 10
			}
		}
		if t == ToolAnsible {
			for i := range s.Results {
				s.Results[i].OK, s.Results[i].Changed = 6, 6
			}
		}
		r.Cold[t] = s
	}
	r.Ratios = sshRatios(r.Noop, r.Cold)
	return r
}

// TestSSHMarkdownFollowsTheData: the ssh-hardening section states the
// measured ratios and counts, and drops what was not measured.
func TestSSHMarkdownFollowsTheData(t *testing.T) {
	m := baseMachine()
	m.Hosts, m.Rounds = 2, 5
	noop, cold := sshMeasured()
	md := mkSSHReport(m, noop, cold).sshMarkdown()
	for _, s := range []string{
		"## The ssh-hardening example: tend against Ansible\n",
		"`go run ./bench -scenario ssh-hardening -rounds 5`",
		"### Machine\n", "### Method\n", "### Results\n", "### Analysis\n",
		"| Ansible no-op ÷ tend no-op | 9.30× |",
		"| Ansible cold ÷ tend cold | 1.05× |",
		"| tend no-op ÷ plain OpenSSH reference, curve25519 | 3.77× |",
		"Ansible no-op ÷ tend no-op 65.1×, Ansible cold ÷ tend cold 18.1×",
		"| cold | tend apply | 1 | 10 | 33 |",
		"| cold | ansible-playbook | 6 | 6 | — |",
		"the `handler service.ssh` phase takes 2.90 s",
		"tend's cold run makes 33 round trips per host where its no-op run makes 2, and needs 10.00 s more host CPU per host than it: 322 ms per extra round trip",
		"so Ansible ÷ tend is (reference + 14.5 s) ÷ (reference + 13.7 s)",
		"tend is 277% slower than the reference",
		"tend takes 15.3 s, Ansible 16.1 s: Ansible takes 1.05× tend's time.",
		"Ansible 17.2 s: Ansible takes 9.30× tend's time.",
		"reading the state costs tend 2.31 s of CPU (1.16 s per host) and Ansible 10.8 s (5.40 s per host), the reference 454 ms (227 ms per host)",
		"the no-op runs are measured on tend's converged state",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("lacks %q", s)
		}
	}
	for _, s := range []string{"target", "missed", "met"} {
		if strings.Contains(md, "| "+s) {
			t.Errorf("has a %s column: the ssh-hardening ratios have no targets", s)
		}
	}

	// Without the references and Ansible: no ratios against them, no
	// comparisons.
	delete(noop, ToolRef)
	delete(noop, ToolRefX25519)
	delete(cold, ToolRef)
	delete(cold, ToolRefX25519)
	delete(noop, ToolAnsible)
	delete(cold, ToolAnsible)
	md = mkSSHReport(m, noop, cold).sshMarkdown()
	for _, s := range []string{"| Ansible no-op", "| Ansible cold", "| tend no-op ÷", "The same on controller CPU", "**Cold converge.**", "**No-op run.**", "(reference +"} {
		if strings.Contains(md, s) {
			t.Errorf("says %q without the series it needs", s)
		}
	}
}

// TestMachineTableEscapesPipes: a commit subject with a pipe stays in its
// cell.
func TestMachineTableEscapesPipes(t *testing.T) {
	m := baseMachine()
	m.TendCommit = "abc (bench: -scenario staffrota|ssh-hardening)"
	md := mkReport(m, nil, nil).Markdown()
	if !strings.Contains(md, `| tend | abc (bench: -scenario staffrota\|ssh-hardening) |`) {
		t.Errorf("the tend row:\n%s", md[:strings.Index(md, "## Method")])
	}
}

func TestAnsibleVsTend(t *testing.T) {
	for _, tc := range []struct {
		a, t float64
		want string
	}{
		{42.4, 44.9, "Ansible is 6% faster than tend"},
		{45, 44.9, "Ansible is about as fast as tend"},
		{90, 45, "Ansible takes 2.00× tend's time"},
	} {
		if got := ansibleVsTend(tc.a, tc.t); got != tc.want {
			t.Errorf("ansibleVsTend(%v, %v) = %q, want %q", tc.a, tc.t, got, tc.want)
		}
	}
}

func TestTendTimeLineLeavesOutQuickTasks(t *testing.T) {
	s := mkSeries(ToolTend, medians{wall: 1, rt: 2, connect: 0.9})
	line := tendTimeLine(ScenarioNoop, s)
	if !strings.Contains(line, "connect, authenticate, read state 900 ms; gunicorn_service.staffrota 0 ms") && !strings.Contains(line, "1 more task under 1 ms") {
		t.Errorf("%s", line)
	}
	if strings.Contains(line, "gunicorn_service.staffrota 0 ms") {
		t.Errorf("lists a task under 1 ms: %s", line)
	}
}
