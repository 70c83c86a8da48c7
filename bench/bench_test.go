package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", []float64{3}, Summary{Median: 3, Min: 3, Max: 3, N: 1}},
		{"odd, unsorted", []float64{5, 1, 3}, Summary{Median: 3, Min: 1, Max: 5, N: 3}},
		{"even: mean of the middle two", []float64{4, 1, 2, 10}, Summary{Median: 3, Min: 1, Max: 10, N: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := summarize(tt.in); got != tt.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("summarize reordered its input: %v", tt.in)
			}
		})
	}
}

func TestRatioVerdict(t *testing.T) {
	tests := []struct {
		r        Ratio
		met      bool
		contains string
	}{
		{Ratio{Value: 1.2, Target: 1.3, AtMost: true}, true, "met"},
		{Ratio{Value: 1.3, Target: 1.3, AtMost: true}, true, "met"},
		{Ratio{Value: 2.6, Target: 1.3, AtMost: true}, false, "100.0% above"},
		{Ratio{Value: 9, Target: 8}, true, "met"},
		{Ratio{Value: 6, Target: 8}, false, "25.0% short"},
	}
	for _, tt := range tests {
		if tt.r.Met() != tt.met {
			t.Errorf("%+v: Met() = %v, want %v", tt.r, tt.r.Met(), tt.met)
		}
		if v := tt.r.Verdict(); !strings.Contains(v, tt.contains) {
			t.Errorf("%+v: Verdict() = %q, want it to contain %q", tt.r, v, tt.contains)
		}
	}
}

func TestRotate(t *testing.T) {
	xs := []string{"a", "b", "c"}
	tests := []struct {
		k    int
		want []string
	}{
		{0, []string{"a", "b", "c"}},
		{1, []string{"b", "c", "a"}},
		{2, []string{"c", "a", "b"}},
		{3, []string{"a", "b", "c"}},
		{7, []string{"b", "c", "a"}},
	}
	for _, tt := range tests {
		if got := rotate(xs, tt.k); !slices.Equal(got, tt.want) {
			t.Errorf("rotate(%v, %d) = %v, want %v", xs, tt.k, got, tt.want)
		}
	}
	if !slices.Equal(xs, []string{"a", "b", "c"}) {
		t.Errorf("rotate changed its input: %v", xs)
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseAnsibleRecap(t *testing.T) {
	hc, err := parseAnsibleRecap(readTestdata(t, "ansible-noop.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []HostCounts{{Host: "h1", OK: 3}, {Host: "h2", OK: 3}}
	if !slices.Equal(hc, want) {
		t.Fatalf("got %+v, want %+v", hc, want)
	}
	if err := checkCounts(hc, 2, true); err != nil {
		t.Errorf("no-op recap rejected: %v", err)
	}
	if err := checkCounts(hc, 2, false); err == nil {
		t.Error("a recap without changes passed as a cold run")
	}
	if err := checkCounts(hc, 3, true); err == nil {
		t.Error("a recap missing a host passed")
	}

	hc, err = parseAnsibleRecap(readTestdata(t, "ansible-failed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	err = checkCounts(hc, 3, false)
	if err == nil || !strings.Contains(err.Error(), "h2: failed=0 unreachable=1") || !strings.Contains(err.Error(), "h3: failed=1") {
		t.Errorf("checkCounts = %v, want h2 unreachable and h3 failed", err)
	}
	if strings.Contains(err.Error(), "h1") {
		t.Errorf("checkCounts blamed h1, which is fine: %v", err)
	}

	if _, err := parseAnsibleRecap("ERROR! the playbook could not be found\n"); err == nil {
		t.Error("output without PLAY RECAP parsed")
	}
}

func TestParseTendRun(t *testing.T) {
	tr, err := parseTendRun("warning: something on stderr\n" + readTestdata(t, "tend-apply.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := []HostCounts{
		{Host: "h1", OK: 1, Changed: 1, RoundTrips: 7, Duration: 800 * time.Millisecond},
		{Host: "h2", OK: 1, Changed: 1, RoundTrips: 9, Duration: 650 * time.Millisecond},
	}
	if !slices.Equal(tr.Hosts, want) {
		t.Fatalf("got %+v, want %+v", tr.Hosts, want)
	}
	if w := time.Date(2026, 1, 2, 10, 0, 0, 100e6, time.UTC); !tr.First.Equal(w) {
		t.Errorf("first event at %v, want %v", tr.First, w)
	}
	// h1 starts its first task at .601-.400 = .201, 100 ms after its start;
	// h2 at .700-.350 = .350, 250 ms after: the phase is the longer one.
	phases := []Phase{
		{phaseConnect, 250 * time.Millisecond},
		{"gunicorn_service.staffrota", 400 * time.Millisecond},
		{"health_check.staffrota", 30 * time.Millisecond},
		{"handler service.ssh", 20 * time.Millisecond},
	}
	if !slices.Equal(tr.Phases, phases) {
		t.Errorf("phases = %v, want %v", tr.Phases, phases)
	}
	if err := checkCounts(tr.Hosts, 2, false); err != nil {
		t.Errorf("cold recap rejected: %v", err)
	}
	if err := checkCounts(tr.Hosts, 2, true); err == nil {
		t.Error("a recap with changes passed as a no-op run")
	}
	if _, err := parseTendRun(`{"type":"run_start"}` + "\n"); err == nil {
		t.Error("output without a recap event parsed")
	}
}

func TestParseState(t *testing.T) {
	st, err := parseState("reset noise\n" + stateBegin + "\nunit root:root:644 abc123\nactive active\nmarker 5f0e\nlive:x \n")
	if err != nil {
		t.Fatal(err)
	}
	want := HostState{Values: map[string]string{"unit": "root:root:644 abc123", "live:x": ""}, Active: "active", Marker: "5f0e"}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("got %+v, want %+v", st, want)
	}
	for name, bad := range map[string]string{
		"no start line":  "unit x\nactive active\nmarker m\n",
		"no marker":      stateBegin + "\nunit x\nactive active\n",
		"no active":      stateBegin + "\nunit x\nmarker m\n",
		"a key twice":    stateBegin + "\nunit x\nunit y\nactive active\nmarker m\n",
		"an empty line":  stateBegin + "\nunit x\n\nactive active\nmarker m\n",
		"only the start": stateBegin + "\n",
	} {
		if _, err := parseState(bad); err == nil {
			t.Errorf("%s: parsed %q", name, bad)
		}
	}
}

func TestParseTools(t *testing.T) {
	staff, ssh := scenarios[0], &sshHardening{}
	got, err := parseTools("openssh, tend,tend", staff)
	if err != nil || !slices.Equal(got, []string{ToolTend, ToolRef}) {
		t.Errorf("parseTools = %v, %v", got, err)
	}
	if got, err := parseTools("", ssh); err != nil || !slices.Equal(got, ssh.tools()) {
		t.Errorf("parseTools(\"\") = %v, %v: want all of the scenario's tools", got, err)
	}
	for _, bad := range []string{"chef", ",", "tend-settle0"} {
		if _, err := parseTools(bad, ssh); err == nil {
			t.Errorf("parseTools(%q) accepted", bad)
		}
	}
}

func TestFindScenario(t *testing.T) {
	if scenarios[0].name() != "staffrota" {
		t.Errorf("the default scenario is %s: make bench must stay the staffrota benchmark", scenarios[0].name())
	}
	for _, n := range []string{"staffrota", "ssh-hardening"} {
		if sc, err := findScenario(n); err != nil || sc.name() != n {
			t.Errorf("findScenario(%q) = %v, %v", n, sc, err)
		}
	}
	if _, err := findScenario("nginx"); err == nil {
		t.Error("an unknown scenario was found")
	}
}

func TestCheckStates(t *testing.T) {
	sc := &staffrota{original: []byte("old\n"), hardened: []byte("new\n")}
	hosts := []*fleet.Host{{Name: "h1"}, {Name: "h2"}}
	st := func(unit []byte, active, marker string) HostState {
		return HostState{Values: map[string]string{"unit": fileValue("root:root", "644", unit)}, Active: active, Marker: marker}
	}
	pristine := []HostState{st(sc.original, "active", "a1"), st(sc.original, "active", "a2")}
	hard := []HostState{st(sc.hardened, "active", "b1"), st(sc.hardened, "active", "b2")}
	tests := []struct {
		name          string
		cold          bool
		before, after []HostState
		wantErr       []string
	}{
		{"converged", true, pristine, hard, nil},
		{"no-op", false, hard, hard, nil},
		{"converge without a restart", true, pristine, []HostState{hard[0], st(sc.hardened, "active", "a2")}, []string{"h2: the service was not restarted or reloaded"}},
		{"converge to the wrong file", true, pristine, []HostState{st([]byte("other\n"), "active", "b1"), hard[1]}, []string{"h1: after a converge: unit is"}},
		{"a wrong mode", true, pristine, []HostState{{Values: map[string]string{"unit": fileValue("root:root", "600", sc.hardened)}, Active: "active", Marker: "b1"}, hard[1]}, []string{"h1: after a converge: unit is \"root:root:600"}},
		{"restarted by a no-op run", false, hard, []HostState{hard[0], st(sc.hardened, "active", "c2")}, []string{"h2: the service was restarted or reloaded by a no-op run"}},
		{"changed by a no-op run", false, hard, []HostState{hard[0], st(sc.original, "active", "b2")}, []string{"h2: changed by a no-op run: unit is"}},
		{"inactive", false, hard, []HostState{st(sc.hardened, "failed", "b1"), hard[1]}, []string{"h1: the service is \"failed\""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkStates(sc, hosts, ToolTend, tc.cold, tc.before, tc.after)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDiffValues(t *testing.T) {
	err := diffValues(map[string]string{"a": "1", "b": "2", "c": "3"}, map[string]string{"a": "1", "b": "x", "d": "4"})
	if err == nil {
		t.Fatal("no difference found")
	}
	for _, w := range []string{`b is "x", want "2"`, "c: not in the state", `d: unexpected in the state ("4")`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "a ") {
		t.Errorf("%q names a, which is right", err)
	}
	if err := diffValues(map[string]string{"a": "1"}, map[string]string{"a": "1"}); err != nil {
		t.Error(err)
	}
}

func TestTemplateMatchesHealthSocket(t *testing.T) {
	// The Ansible template must name the same socket the fleet's app
	// listens on and that Reset's health wait polls.
	b, err := os.ReadFile(filepath.Join("ansible", "templates", "staffrota.service.j2"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "--bind unix:{{ app_dir }}/staffrota.sock") {
		t.Errorf("template does not bind {{ app_dir }}/staffrota.sock:\n%s", b)
	}
	if !strings.Contains(healthScript, "/home/staff-rota-system/staffrota.sock") {
		t.Errorf("health script polls another socket:\n%s", healthScript)
	}
}
