package main

import (
	"strings"
	"testing"
	"time"
)

func TestScaleSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		err  bool
	}{
		{"100,1000,10000", []int{100, 1000, 10000}, false},
		{" 5 ", []int{5}, false},
		{"0", nil, true},
		{"100,x", nil, true},
		{"60000", nil, true},
	} {
		got, err := scaleSizes(tc.in)
		if (err != nil) != tc.err || len(got) != len(tc.want) {
			t.Errorf("scaleSizes(%q) = %v, %v", tc.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("scaleSizes(%q) = %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}

// TestScaleReportGoal: the section says which goal is met, from the runs at
// 100 and 10,000 hosts.
func TestScaleReportGoal(t *testing.T) {
	small := scaleResult{Hosts: 100, OK: 100, Wall: time.Second, CPU: 300 * time.Millisecond, PeakRSSKiB: 30 << 10, Load: "0.5"}
	for _, tc := range []struct {
		big  scaleResult
		want []string
	}{
		{scaleResult{Hosts: 10000, OK: 10000, Wall: 15 * time.Second, CPU: 40 * time.Second, PeakRSSKiB: 250 << 10},
			[]string{"15.0 s, met", "250 MiB, met", "1.33×, met"}},
		{scaleResult{Hosts: 10000, OK: 10000, Wall: 25 * time.Second, CPU: 50 * time.Second, PeakRSSKiB: 310 << 10},
			[]string{"25.0 s, **not met**", "310 MiB, **not met**", "1.67×, **not met**"}},
	} {
		body := scaleReport(options{playbook: "pb.hcl"}, []scaleResult{small, tc.big})
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("report lacks %q:\n%s", w, body)
			}
		}
	}
	if body := scaleReport(options{playbook: "pb.hcl"}, []scaleResult{small}); !strings.Contains(body, "not measured") {
		t.Errorf("a report without 10,000 hosts must say the goal was not measured:\n%s", body)
	}
}
