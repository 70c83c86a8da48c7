package modules

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/testenv"
)

// Answers of the package fact's script, as a Debian host gives them.
const (
	policyProbe = `tend-probe:
  Installed: (none)
  Candidate: 1.1-1
  Version table:
     1.1-1 500
        500 file:/srv/tend-apt ./ Packages
     1.0-1 500
        500 file:/srv/tend-apt ./ Packages
`
	policyProbeInstalled10 = `tend-probe:
  Installed: 1.0-1
  Candidate: 1.1-1
  Version table:
     1.1-1 500
        500 file:/srv/tend-apt ./ Packages
 *** 1.0-1 500
        500 file:/srv/tend-apt ./ Packages
        100 /var/lib/dpkg/status
`
	// jq installed from a source that no longer offers it.
	policyJQLocalOnly = `jq:
  Installed: 1.6-2.1+deb12u1
  Candidate: 1.6-2.1+deb12u3
  Version table:
     1.6-2.1+deb12u3 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 1.6-2.1+deb12u1 100
        100 /var/lib/dpkg/status
`
	policyNoCandidate = `tend-probe:
  Installed: (none)
  Candidate: (none)
  Version table:
`
)

func factOut(dpkgRC int, dpkg string, policy string, sim string) string {
	out := "@@dpkg " + strconv.Itoa(dpkgRC) + "\n" + dpkg + "@@policy 0\n" + policy
	if sim != "" {
		out += sim
	}
	return out + "@@end\n"
}

func TestPackageFactParse(t *testing.T) {
	f := packageFact{Name: "tend-probe", Wish: "present"}
	tests := []struct {
		name    string
		out     string
		code    int
		check   func(t *testing.T, st *packageState)
		wantErr string
	}{
		{name: "installed", out: factOut(0, "tend-probe install installed ok 1.0-1\n", policyProbeInstalled10, ""),
			check: func(t *testing.T, st *packageState) {
				p, err := st.installed("tend-probe")
				if err != nil || !p.Installed || p.Version != "1.0-1" || p.Want != "install" {
					t.Errorf("installed: %+v %v", p, err)
				}
				if !st.Policy.Known || st.Policy.Installed != "1.0-1" || st.Policy.Candidate != "1.1-1" || len(st.Policy.Versions) != 2 {
					t.Errorf("policy: %+v", st.Policy)
				}
				if !st.Policy.available("1.0-1") || !st.Policy.available("1.1-1") || st.Policy.available("0.9-1") {
					t.Errorf("available versions wrong: %+v", st.Policy.Versions)
				}
			}},
		{name: "not installed, dpkg does not know it", out: factOut(1, "", policyProbe, "@@sim 0\nInst tend-probe (1.1-1 localhost [all])\n"),
			check: func(t *testing.T, st *packageState) {
				p, err := st.installed("tend-probe")
				if err != nil || p.Installed || p.ConfigOnly {
					t.Errorf("installed: %+v %v", p, err)
				}
				if st.Sim == nil || len(st.Sim.Packages) != 1 || st.Sim.Packages[0] != (simPackage{Action: "Inst", Name: "tend-probe", New: "1.1-1"}) {
					t.Errorf("sim: %+v", st.Sim)
				}
			}},
		{name: "not installed, known to dpkg", out: factOut(0, "tend-probe unknown not-installed ok \n", policyProbe, ""),
			check: func(t *testing.T, st *packageState) {
				if p, err := st.installed("tend-probe"); err != nil || p.Installed || p.ConfigOnly {
					t.Errorf("installed: %+v %v", p, err)
				}
			}},
		{name: "config-files", out: factOut(0, "tend-probe deinstall config-files ok 1.0-1\n", policyProbe, ""),
			check: func(t *testing.T, st *packageState) {
				if p, err := st.installed("tend-probe"); err != nil || p.Installed || !p.ConfigOnly || p.Version != "" {
					t.Errorf("installed: %+v %v", p, err)
				}
			}},
		{name: "half-installed", out: factOut(0, "tend-probe install half-installed ok 1.0-1\n", policyProbe, ""),
			check: func(t *testing.T, st *packageState) {
				if _, err := st.installed("tend-probe"); err == nil || !strings.Contains(err.Error(), "half-installed") {
					t.Errorf("want a half-installed error, got %v", err)
				}
			}},
		{name: "reinstall required", out: factOut(0, "tend-probe install installed reinstreq 1.0-1\n", policyProbe, ""),
			check: func(t *testing.T, st *packageState) {
				if _, err := st.installed("tend-probe"); err == nil || !strings.Contains(err.Error(), "reinstall") {
					t.Errorf("want a reinstall error, got %v", err)
				}
			}},
		{name: "several architectures", out: factOut(0, "tend-probe:amd64 install installed ok 1.0-1\ntend-probe:i386 install installed ok 1.0-1\n", policyProbe, ""),
			check: func(t *testing.T, st *packageState) {
				if _, err := st.installed("tend-probe"); err == nil || !strings.Contains(err.Error(), "several architectures") {
					t.Errorf("want a multi-arch error, got %v", err)
				}
			}},
		{name: "multiple candidates, other blocks of a pattern ignored",
			out: factOut(1, "", "tend-probe-extra:\n  Installed: (none)\n  Candidate: 9-1\n  Version table:\n     9-1 500\n        500 file:/x ./ Packages\n"+policyProbe, ""),
			check: func(t *testing.T, st *packageState) {
				if !st.Policy.Known || st.Policy.Candidate != "1.1-1" || len(st.Policy.Versions) != 2 {
					t.Errorf("policy: %+v", st.Policy)
				}
			}},
		{name: "apt answers a pattern only: unknown",
			out: factOut(1, "", "tend-probe-extra:\n  Installed: (none)\n  Candidate: 9-1\n  Version table:\n     9-1 500\n        500 file:/x ./ Packages\n", ""),
			check: func(t *testing.T, st *packageState) {
				if st.Policy.Known || st.Policy.Candidate != "" {
					t.Errorf("policy of another package taken: %+v", st.Policy)
				}
			}},
		{name: "no candidate", out: factOut(1, "", policyNoCandidate, ""),
			check: func(t *testing.T, st *packageState) {
				if !st.Policy.Known || st.Policy.Candidate != "" {
					t.Errorf("policy: %+v", st.Policy)
				}
			}},
		{name: "simulation failed", out: factOut(1, "", policyProbe, "@@sim 100\nE: Unable to correct problems, you have held broken packages.\n"),
			check: func(t *testing.T, st *packageState) {
				if st.Sim == nil || st.Sim.Code != 100 || !strings.Contains(st.Sim.errorText(), "held broken") {
					t.Errorf("sim: %+v", st.Sim)
				}
			}},
		{name: "simulation of an upgrade and a removal",
			out: factOut(0, "jq install installed ok 1.6-2.1+deb12u1\n", policyJQLocalOnly, "@@sim 0\nInst jq [1.6-2.1+deb12u1] (1.6-2.1+deb12u3 Debian-Security:12/oldstable-security [amd64]) []\nInst libjq1 [1.6-2.1+deb12u1] (1.6-2.1+deb12u3 Debian-Security:12/oldstable-security [amd64])\nRemv yq [3.1.0-3]\n"),
			check: func(t *testing.T, st *packageState) {
				want := []simPackage{{"Inst", "jq", "1.6-2.1+deb12u1", "1.6-2.1+deb12u3"}, {"Inst", "libjq1", "1.6-2.1+deb12u1", "1.6-2.1+deb12u3"}, {"Remv", "yq", "3.1.0-3", ""}}
				if st.Sim == nil || len(st.Sim.Packages) != 3 {
					t.Fatalf("sim: %+v", st.Sim)
				}
				for i, p := range want {
					if st.Sim.Packages[i] != p {
						t.Errorf("sim[%d] = %+v, want %+v", i, st.Sim.Packages[i], p)
					}
				}
			}},
		{name: "no apt/dpkg", out: "@@nodpkg\n",
			check: func(t *testing.T, st *packageState) {
				if st.Supported {
					t.Error("a host without dpkg taken as supported")
				}
			}},
		{name: "garbage", out: "hello\n", wantErr: "unexpected"},
		{name: "cut short", out: "@@dpkg 1\n@@policy 0\n" + policyProbe, wantErr: "@@end"},
		{name: "dpkg-query failed", out: factOut(2, "", policyProbe, ""), wantErr: "dpkg-query exited with status 2"},
		{name: "dpkg line not understood", out: factOut(0, "tend-probe install installed\n", policyProbe, ""), wantErr: "dpkg-query line"},
		{name: "unknown dpkg status", out: factOut(0, "tend-probe install frobbed ok 1.0-1\n", policyProbe, ""), wantErr: "dpkg-query line"},
		{name: "policy line not understood", out: factOut(1, "", "tend-probe:\n  Weird: yes\n", ""), wantErr: "apt-cache policy line"},
		{name: "policy exit status", out: "@@dpkg 1\n@@policy 100\n@@end\n", wantErr: "apt-cache policy exited"},
		{name: "simulation line not understood", out: factOut(1, "", policyProbe, "@@sim 0\nInst ???\n"), wantErr: "simulation line"},
		{name: "unknown marker", out: "@@dpkg 1\n@@policy 0\n@@frob 0\n@@end\n", wantErr: "marker"},
		{name: "script failed", out: "", code: 2, wantErr: "exited with status 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := f.Parse([]byte(tt.out), tt.code)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want an error with %q, got %v (%+v)", tt.wantErr, err, v)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, v.(*packageState))
		})
	}
}

func TestPackageNamesAndVersions(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"nginx", true}, {"libc6:i386", true}, {"g++", true}, {"python3.11", true}, {"0ad", true},
		{"x", false}, {"Nginx", false}, {"-rf", false}, {"nginx;reboot", false}, {"foo bar", false},
		{"./foo.deb", false}, {"foo.deb", false}, {"tre*", false}, {"jq:", false}, {"", false},
	} {
		if err := validPackageName(tt.name); (err == nil) != tt.ok {
			t.Errorf("validPackageName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	for _, tt := range []struct {
		v  string
		ok bool
	}{
		{"1.22.1-9", true}, {"1:2.3-1", true}, {"1.0", true}, {"2.36-9+deb12u14", true}, {"1.0~rc1-1ubuntu0.1", true},
		{"1:2.3:4-1", true}, {"1.0-1-2", true},
		{"", false}, {"a1.0", false}, {"1.0 -1", false}, {"x:1.0", false}, {"1:", false}, {"1.0-", false},
		{"2.3:4-1", false}, {"1.0-1_2", false}, {"1.0;id", false},
	} {
		if err := validDebVersion(tt.v); (err == nil) != tt.ok {
			t.Errorf("validDebVersion(%q) = %v, want ok=%v", tt.v, err, tt.ok)
		}
	}
}

func TestPackageDecode(t *testing.T) {
	tests := []struct {
		name, label, src string
		want             []string // "line:col summary"
	}{
		{"label is the name", "nginx", "", nil},
		{"package attribute", "web server", "package = \"nginx\"\n", nil},
		{"bad label", "Nginx", "", []string{"1:1 Invalid package name"}},
		{"bad name", "x", "state = \"present\"\npackage = \"nginx; reboot\"\n", []string{"2:1 Invalid package name"}},
		{"bad version", "nginx", "version = \"latest\"\n", []string{"1:1 Invalid version"}},
		{"version with absent", "nginx", "state = \"absent\"\nversion = \"1.0-1\"\n", []string{"2:1 Version with state = \"absent\""}},
		{"version with latest", "nginx", "state = \"latest\"\nversion = \"1.0-1\"\n", []string{"2:1 Version with state = \"latest\""}},
		{"purge without absent", "nginx", "purge = true\n", []string{"1:1 Purge without state = \"absent\""}},
		{"update_cache with absent", "nginx", "state = \"absent\"\nupdate_cache = true\n", []string{"2:1 update_cache with state = \"absent\""}},
		{"bad state", "nginx", "state = \"installed\"\n", []string{"1:1 Invalid state"}},
		{"every error at once", "nginx", "package = \"A\"\nversion = \"x\"\n", []string{"1:1 Invalid package name", "2:1 Invalid version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decodeModule(t, "package", tt.label, tt.src, nil)
			var got []string
			for _, d := range diags {
				got = append(got, pos(d)+" "+d.Summary)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	// Unknown values (validation for no particular host) raise nothing.
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"value": cty.UnknownVal(cty.String)})}}
	if _, diags := decodeModule(t, "package", "x", "package = each.value\nstate = each.value\npurge = true\n", ctx); diags.HasErrors() {
		t.Errorf("unknown values: %v", diags)
	}
}

// pkgTarget decodes a package task and gives it a gathered state built
// from the fact script's answer.
func pkgTarget(t *testing.T, src, label, out string, facts executor.Facts) (*Package, *Target) {
	t.Helper()
	m := mustDecode(t, "package", label, src).(*Package)
	v, err := m.fact().Parse([]byte(out), 0)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	st := &executor.State{Facts: facts, Values: map[string]any{m.fact().Key(): v}}
	return m, &Target{Host: "h", Conn: &fakeConn{}, State: st, Become: true}
}

var rootFacts = executor.Facts{OS: "debian", OSVersion: "12", User: "deploy", EffectiveUser: "root"}

func TestPackageCheck(t *testing.T) {
	tests := []struct {
		name, src, label, out string
		facts                 *executor.Facts
		want                  string // changes, "" for in sync
		notes                 string
		wantErr               string
	}{
		{name: "absent → candidate", label: "tend-probe", out: factOut(1, "", policyProbe, "@@sim 0\nInst tend-probe (1.1-1 localhost [all])\n"),
			want: "version:(absent)->1.1-1 (candidate)"},
		{name: "with dependencies", label: "jq", out: factOut(1, "", "jq:\n  Installed: (none)\n  Candidate: 1.6-2.1\n  Version table:\n     1.6-2.1 500\n        500 file:/srv/tend-apt ./ Packages\n",
			"@@sim 0\nInst libonig5 (6.9.8-1 localhost [amd64])\nInst libjq1 (1.6-2.1 localhost [amd64])\nInst jq (1.6-2.1 localhost [amd64])\n"),
			want: "version:(absent)->1.6-2.1 (candidate) also libonig5:(absent)->6.9.8-1 also libjq1:(absent)->1.6-2.1"},
		{name: "pinned", label: "tend-probe", src: `version = "1.0-1"`, out: factOut(1, "", policyProbe, "@@sim 0\nInst tend-probe (1.0-1 localhost [all])\n"),
			want: "version:(absent)->1.0-1"},
		{name: "present leaves an older version", label: "tend-probe", out: factOut(0, "tend-probe install installed ok 1.0-1\n", policyProbeInstalled10, "")},
		{name: "latest upgrades", label: "tend-probe", src: `state = "latest"`, out: factOut(0, "tend-probe install installed ok 1.0-1\n", policyProbeInstalled10, "@@sim 0\nInst tend-probe [1.0-1] (1.1-1 localhost [all])\n"),
			want: "version:1.0-1->1.1-1 (candidate)"},
		{name: "latest in sync", label: "tend-probe", src: `state = "latest"`, out: factOut(0, "tend-probe install installed ok 1.1-1\n", policyProbe, "")},
		{name: "pinned downgrade", label: "tend-probe", src: `version = "1.0-1"`, out: factOut(0, "tend-probe install installed ok 1.1-1\n", policyProbe, "@@sim 0\nInst tend-probe [1.1-1] (1.0-1 localhost [all])\n"),
			want: "version:1.1-1->1.0-1"},
		{name: "pinned version not offered", label: "tend-probe", src: `version = "0.9-1"`, out: factOut(1, "", policyProbe, ""),
			wantErr: "version 0.9-1 is not available from the host's apt sources (it offers 1.1-1, 1.0-1)"},
		{name: "not available", label: "tend-probe", out: factOut(1, "", "", ""),
			wantErr: "not available from the host's apt sources: run apt-get update or add update_cache = true"},
		{name: "no candidate", label: "tend-probe", out: factOut(1, "", policyNoCandidate, ""),
			wantErr: "not available from the host's apt sources"},
		{name: "not available but update_cache", label: "tend-probe", src: `update_cache = true`, out: factOut(1, "", "", ""),
			want: "version:(absent)->(candidate after apt-get update)", notes: "apt-get update runs first: the candidate may change"},
		{name: "absent removes", label: "tend-probe", src: `state = "absent"`, out: factOut(0, "tend-probe install installed ok 1.0-1\n", policyProbeInstalled10, "@@sim 0\nRemv tend-probe [1.0-1]\n"),
			want: "version:1.0-1->", notes: "its configuration files are kept (purge = true deletes them)"},
		{name: "absent with its reverse dependencies", label: "jq", src: `state = "absent"`, out: factOut(0, "jq install installed ok 1.6-2.1+deb12u1\n", policyJQLocalOnly, "@@sim 0\nRemv yq [3.1.0-3]\nRemv jq [1.6-2.1+deb12u1]\n"),
			want: "version:1.6-2.1+deb12u1-> also yq:3.1.0-3->", notes: "its configuration files are kept (purge = true deletes them)"},
		{name: "absent leaves config files", label: "tend-probe", src: `state = "absent"`, out: factOut(0, "tend-probe deinstall config-files ok 1.0-1\n", policyProbe, "")},
		{name: "purge of config files", label: "tend-probe", src: "state = \"absent\"\npurge = true", out: factOut(0, "tend-probe deinstall config-files ok 1.0-1\n", policyProbe, "@@sim 0\nPurg tend-probe\n"),
			want: "version:(config files)->(purged)", notes: "its configuration files are deleted too"},
		{name: "absent in sync", label: "tend-probe", src: `state = "absent"`, out: factOut(1, "", policyProbe, "")},
		{name: "held", label: "tend-probe", src: `state = "latest"`, out: factOut(0, "tend-probe hold installed ok 1.0-1\n", policyProbeInstalled10, ""),
			wantErr: "is held (apt-mark hold)"},
		{name: "half-installed", label: "tend-probe", out: factOut(0, "tend-probe install half-installed ok 1.0-1\n", policyProbe, ""),
			wantErr: "is half-installed (dpkg)"},
		{name: "not root", label: "tend-probe", out: factOut(1, "", policyProbe, "@@sim 0\nInst tend-probe (1.1-1 localhost [all])\n"),
			facts: &executor.Facts{OS: "debian", User: "deploy", EffectiveUser: "deploy"}, wantErr: "changing packages needs root, and this host's state was read as deploy"},
		{name: "not root, nothing to change", label: "tend-probe", out: factOut(0, "tend-probe install installed ok 1.1-1\n", policyProbe, ""),
			facts: &executor.Facts{OS: "debian", User: "deploy", EffectiveUser: "deploy"}},
		{name: "simulation fails", label: "tend-probe", out: factOut(1, "", policyProbe, "@@sim 100\nE: Unable to correct problems, you have held broken packages.\n"),
			wantErr: "apt cannot install it: Unable to correct problems"},
		{name: "not a dpkg system", label: "tend-probe", out: "@@nodpkg\n", facts: &executor.Facts{OS: "fedora", OSVersion: "40", EffectiveUser: "root"},
			wantErr: "package supports apt/dpkg systems (Debian, Ubuntu) for now; this host runs fedora 40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			facts := rootFacts
			if tt.facts != nil {
				facts = *tt.facts
			}
			m, tgt := pkgTarget(t, tt.src, tt.label, tt.out, facts)
			d, err := m.Check(context.Background(), tgt)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want an error with %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := changeList(d); got != tt.want {
				t.Errorf("changes %q, want %q", got, tt.want)
			}
			if tt.want != "" && !d.Beyond {
				t.Error("a package change must be marked Beyond")
			}
			if tt.want == "" && !d.Empty() {
				t.Errorf("want in sync, got %+v", d)
			}
			if got := strings.Join(d.Notes, "; "); tt.notes != "" && got != tt.notes {
				t.Errorf("notes %q, want %q", got, tt.notes)
			}
		})
	}
}

func TestPackageApply(t *testing.T) {
	tests := []struct {
		name, src, label, out string
		want                  []string
		not                   []string
	}{
		{name: "install the planned candidate, pinned", label: "tend-probe", out: factOut(1, "", policyProbe, ""),
			want: []string{"DEBIAN_FRONTEND=noninteractive", "apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o DPkg::Lock::Timeout=120 install 'tend-probe=1.1-1' || exit $?"},
			not:  []string{"update"}},
		{name: "pinned version may downgrade", label: "tend-probe", src: `version = "1.0-1"`, out: factOut(0, "tend-probe install installed ok 1.1-1\n", policyProbe, ""),
			want: []string{"install --allow-downgrades 'tend-probe=1.0-1'"}},
		{name: "update first, then the new candidate", label: "tend-probe", src: `update_cache = true`, out: factOut(1, "", policyProbe, ""),
			want: []string{"apt-get -q -o DPkg::Lock::Timeout=120 update || exit $?\n", "apt-cache policy tend-probe 2>/dev/null | awk -v h1=tend-probe:", `install tend-probe="$tend_c"`}},
		{name: "remove", label: "tend-probe", src: `state = "absent"`, out: factOut(0, "tend-probe install installed ok 1.0-1\n", policyProbeInstalled10, ""),
			want: []string{"DPkg::Lock::Timeout=120 remove tend-probe || exit $?"}, not: []string{"purge", "update"}},
		{name: "purge", label: "tend-probe", src: "state = \"absent\"\npurge = true", out: factOut(0, "tend-probe install installed ok 1.0-1\n", policyProbeInstalled10, ""),
			want: []string{"DPkg::Lock::Timeout=120 purge tend-probe || exit $?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, tgt := pkgTarget(t, tt.src, tt.label, tt.out, rootFacts)
			d, err := m.Check(context.Background(), tgt)
			if err != nil || d.Empty() {
				t.Fatalf("check: %+v %v", d, err)
			}
			conn := tgt.Conn.(*fakeConn)
			if err := m.Apply(context.Background(), tgt, d); err != nil {
				t.Fatal(err)
			}
			if len(conn.scripts) != 1 {
				t.Fatalf("want one command, got %d", len(conn.scripts))
			}
			s := conn.lastScript()
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("script lacks %q:\n%s", w, s)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(s, w) {
					t.Errorf("script has %q:\n%s", w, s)
				}
			}
		})
	}
	// A failure reports apt's own words.
	m, tgt := pkgTarget(t, "", "tend-probe", factOut(1, "", policyProbe, ""), rootFacts)
	tgt.Conn = &fakeConn{rules: []fakeRule{{contains: "apt-get", result: executor.Result{ExitCode: 100, Stderr: []byte("E: Could not get lock /var/lib/dpkg/lock-frontend")}}}}
	d, _ := m.Check(context.Background(), tgt)
	if err := m.Apply(context.Background(), tgt, d); err == nil || !strings.Contains(err.Error(), "exit status 100") || !strings.Contains(err.Error(), "Could not get lock") {
		t.Errorf("want apt's error, got %v", err)
	}
}

func TestPackageUndo(t *testing.T) {
	tests := []struct {
		name, src, label, out string
		want                  []string // "" for no undo
	}{
		{name: "fresh install: purged with its new dependencies", label: "jq",
			out: factOut(1, "", "jq:\n  Installed: (none)\n  Candidate: 1.6-2.1\n  Version table:\n     1.6-2.1 500\n        500 file:/srv/tend-apt ./ Packages\n",
				"@@sim 0\nInst libonig5 (6.9.8-1 localhost [amd64])\nInst libjq1 (1.6-2.1 localhost [amd64])\nInst jq (1.6-2.1 localhost [amd64])\n"),
			want: []string{"for tend_p in jq libonig5 libjq1; do", "purge \"$@\""}},
		{name: "install over config files: removed again", label: "tend-probe", out: factOut(0, "tend-probe deinstall config-files ok 1.0-1\n", policyProbe, "@@sim 0\nInst tend-probe (1.1-1 localhost [all])\n"),
			want: []string{"for tend_p in tend-probe; do", "remove \"$@\""}},
		{name: "upgrade: the old version again", label: "tend-probe", src: `state = "latest"`, out: factOut(0, "tend-probe install installed ok 1.0-1\n", policyProbeInstalled10, ""),
			want: []string{"install --allow-downgrades 'tend-probe=1.0-1'"}},
		{name: "removal: reinstalled with what went with it", label: "jq", src: `state = "absent"`,
			out:  factOut(0, "jq install installed ok 1.6-2.1\n", "jq:\n  Installed: 1.6-2.1\n  Candidate: 1.6-2.1\n  Version table:\n *** 1.6-2.1 500\n        500 file:/srv/tend-apt ./ Packages\n        100 /var/lib/dpkg/status\n", "@@sim 0\nRemv yq [3.1.0-3]\nRemv jq [1.6-2.1]\n"),
			want: []string{"install --allow-downgrades 'jq=1.6-2.1' 'yq=3.1.0-3'"}},
		{name: "upgrade from a version apt no longer offers", label: "jq", src: `state = "latest"`, out: factOut(0, "jq install installed ok 1.6-2.1+deb12u1\n", policyJQLocalOnly, "")},
		{name: "purge", label: "tend-probe", src: "state = \"absent\"\npurge = true", out: factOut(0, "tend-probe install installed ok 1.0-1\n", policyProbeInstalled10, "")},
		{name: "nothing to do", label: "tend-probe", out: factOut(0, "tend-probe install installed ok 1.0-1\n", policyProbeInstalled10, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, tgt := pkgTarget(t, tt.src, tt.label, tt.out, rootFacts)
			cmd, ok := m.Undo(tgt)
			if len(tt.want) == 0 {
				if ok {
					t.Fatalf("want no undo, got:\n%s", cmd.Script)
				}
				return
			}
			if !ok {
				t.Fatal("want an undo")
			}
			if !cmd.Become || cmd.Timeout != aptTimeout {
				t.Errorf("undo runs with become and apt's timeout: %+v", cmd)
			}
			for _, w := range tt.want {
				if !strings.Contains(cmd.Script, w) {
					t.Errorf("undo lacks %q:\n%s", w, cmd.Script)
				}
			}
		})
	}
}

// TestPackageUndoRefusesCollateral runs the undo of an install with a
// stand-in apt-get whose simulation would remove another package: the undo
// must refuse and remove nothing. dpkg-query is this machine's.
func TestPackageUndoRefusesCollateral(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("no dpkg-query here")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "apt.log")
	fake := `#!/bin/sh
echo "$*" >>` + log + `
case " $* " in *" -s "*) echo 'Purg dpkg [1]'; echo 'Purg other-package [2]' ;; esac
`
	if err := os.WriteFile(filepath.Join(dir, "apt-get"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(names ...string) (string, error) {
		cmd := exec.Command("/bin/sh", "-c", aptEnv+undoInstallScript("purge", names))
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("dpkg", "tend-no-such-package")
	if err == nil || !strings.Contains(out, "would also remove: other-package") {
		t.Errorf("want a refusal naming other-package, got %v:\n%s", err, out)
	}
	calls, _ := os.ReadFile(log)
	if strings.Count(string(calls), "\n") != 1 || !strings.Contains(string(calls), "-s -o Debug::NoLocking=1 purge dpkg") {
		t.Errorf("only the simulation may run, for the installed package only:\n%s", calls)
	}
	// Nothing installed any more: nothing to do, apt not even asked.
	os.Remove(log)
	if out, err := run("tend-no-such-package"); err != nil {
		t.Errorf("undo of a package already gone: %v\n%s", err, out)
	}
	if _, err := os.Stat(log); err == nil {
		t.Error("apt-get ran for a package that is not installed")
	}
}

// TestPackageLocal reads real packages of this machine (read-only: the
// fact's script, through Gather).
func TestPackageLocal(t *testing.T) {
	if _, err := os.Stat("/etc/debian_version"); err != nil {
		t.Skip("not a Debian machine")
	}
	if _, err := exec.LookPath("apt-cache"); err != nil {
		t.Skip("no apt here")
	}
	conn := executor.NewLocal(executor.LocalOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	check := func(src, label string) (*Diff, error) {
		m := mustDecode(t, "package", label, src)
		st, err := executor.Gather(ctx, conn, executor.Request{Probes: m.Probes()})
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		return m.Check(ctx, &Target{Host: "local", Conn: conn, State: st})
	}
	if d, err := check("", "dpkg"); err != nil || !d.Empty() {
		t.Errorf("dpkg is installed: %+v %v", d, err)
	}
	if d, err := check(`state = "absent"`, "tend-no-such-package"); err != nil || !d.Empty() {
		t.Errorf("an unknown package is absent: %+v %v", d, err)
	}
	if _, err := check("", "tend-no-such-package"); err == nil || !strings.Contains(err.Error(), "not available from the host's apt sources") {
		t.Errorf("want not available, got %v", err)
	}
	// A name apt would take for a pattern is not a package.
	if _, err := check("", "dpk."); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("a pattern matched: %v", err)
	}
	// apt refuses to remove an essential package: the plan says so (the
	// removal is only simulated).
	if _, err := check(`state = "absent"`, "dpkg"); err == nil || !strings.Contains(err.Error(), "apt cannot remove it") {
		t.Errorf("dpkg removal: want apt's refusal, got %v", err)
	}
}

// TestPackageShellcheck passes the package scripts through shellcheck as
// POSIX sh.
func TestPackageShellcheck(t *testing.T) {
	shellcheck := testenv.NeedTool(t, "shellcheck")
	scripts := map[string]string{"undo.sh": aptEnv + undoInstallScript("purge", []string{"jq", "libjq1"})}
	for _, w := range []string{"present", "latest", "=1.0-1", "absent", "purge"} {
		scripts["fact"+w+".sh"] = packageFact{Name: "jq:amd64", Wish: w}.Script()
	}
	for _, src := range []string{"update_cache = true", "", "version = \"1.0-1\"", "state = \"absent\"", "state = \"absent\"\npurge = true"} {
		m, tgt := pkgTarget(t, src, "tend-probe", factOut(0, "tend-probe install installed ok 1.1-1\n", policyProbe, ""), rootFacts)
		if m.state != "absent" {
			tgt.State.Values[m.fact().Key()].(*packageState).Dpkg = nil
		}
		d, err := m.Check(context.Background(), tgt)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Apply(context.Background(), tgt, d); err != nil {
			t.Fatal(err)
		}
		scripts["apply "+src+".sh"] = tgt.Conn.(*fakeConn).lastScript()
	}
	dir := t.TempDir()
	for name, src := range scripts {
		p := filepath.Join(dir, strings.NewReplacer(" ", "_", "\"", "", "=", "", "\n", "").Replace(name))
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(shellcheck, "-s", "sh", "-S", "warning", p).CombinedOutput(); err != nil {
			t.Errorf("%s:\n%s\n%s", name, out, src)
		}
	}
}
