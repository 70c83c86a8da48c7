//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestFleetCheck: tend check on two real hosts after the staffrota
// hardening, with the report's verification list as code (verify.hcl):
// every host OK and nothing changed; one host's database marker removed →
// exit 2 naming that host, and a Prometheus file the Prometheus parser
// reads; the main process killed once → the restart since the last check
// shows, as a warning.
func TestFleetCheck(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "chk", 2, "deploy")
	h1, h2 := f.Hosts[0], f.Hosts[1]
	verify, _ := filepath.Abs("../../examples/staffrota/verify.hcl")
	state := filepath.Join(dir, "restarts.json")
	prom := filepath.Join(dir, "tend.prom")
	check := func(extra ...string) result {
		return tend(t, nil, append([]string{"check", playbook, verify, "-i", inv, "--state", state, "--prometheus", prom}, extra...)...)
	}

	tend(t, nil, "apply", playbook, "-i", inv).wantExit(t, 0)

	before := map[string]hostState{h1.Name: snapshot(t, h1), h2.Name: snapshot(t, h2)}
	start := time.Now()
	r := check()
	t.Logf("healthy fleet, in %s:\n%s", time.Since(start).Round(time.Millisecond), r.stdout)
	r.wantExit(t, 0)
	if !strings.HasPrefix(r.stdout, "tend check OK: 2 hosts healthy\n") {
		t.Errorf("summary:\n%s", r.stdout)
	}
	for _, h := range f.Hosts {
		for _, row := range []string{
			h.Name + " connection OK",
			h.Name + "  unit staffrota.service  OK",
			h.Name + "  health_check.staffrota  OK        200",
			h.Name + "  health_check.home       OK        200",
			h.Name + "  health_check.database   OK        200",
			h.Name + "  health_check.dashboard  OK        302",
			h.Name + "  health_check.workers    OK        3 proc",
		} {
			if !hasRow(r.stdout, row) {
				t.Errorf("no row %q", row)
			}
		}
		if after := snapshot(t, h); after != before[h.Name] {
			t.Errorf("%s: check changed the host:\nbefore %+v\nafter  %+v", h.Name, before[h.Name], after)
		}
	}

	t.Run("database gone on one host", func(t *testing.T) {
		sh(t, h2, "rm "+dbMarker)
		defer sh(t, h2, "install -o staffrota -g staffrota -m 0644 /dev/null "+dbMarker)
		r := check()
		t.Logf("\n%s", r.stdout)
		r.wantExit(t, 2)
		if !strings.HasPrefix(r.stdout, "tend check CRITICAL: critical "+h2.Name+" of 2 hosts\n") {
			t.Errorf("summary does not name only %s:\n%s", h2.Name, r.stdout)
		}
		for _, s := range []string{h2.Name + "  health_check.staffrota  CRITICAL  503", h2.Name + "  health_check.database   CRITICAL  503", h1.Name + "  health_check.database   OK        200"} {
			if !hasRow(r.stdout, s) {
				t.Errorf("no %q", s)
			}
		}
		fh, err := os.Open(prom)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(fh)
		if err != nil {
			t.Fatalf("the Prometheus parser refuses %s: %v", prom, err)
		}
		up := map[string]float64{}
		for _, m := range fams["tend_health_up"].GetMetric() {
			var host, check string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "host":
					host = l.GetValue()
				case "check":
					check = l.GetValue()
				}
			}
			up[host+" "+check] = m.GetGauge().GetValue()
		}
		if up[h2.Name+" health_check.database"] != 0 || up[h1.Name+" health_check.database"] != 1 || up[h2.Name+" health_check.dashboard"] != 1 {
			t.Errorf("tend_health_up: %v", up)
		}
		if n := len(fams["tend_unit_restarts_total"].GetMetric()); n != 2 {
			t.Errorf("%d tend_unit_restarts_total series, want 2", n)
		}
		if n := len(fams["tend_health_latency_seconds"].GetMetric()); n < 10 {
			t.Errorf("%d latency series", n)
		}
	})

	t.Run("main process killed once", func(t *testing.T) {
		sh(t, h1, "systemctl kill -s KILL --kill-whom=main staffrota")
		// Restart=always, RestartSec=10: back within about 10 s.
		deadline := time.Now().Add(40 * time.Second)
		for {
			out := sh(t, h1, `systemctl show -p NRestarts --value staffrota; systemctl is-active staffrota; cg=$(systemctl show -p ControlGroup --value staffrota); cat /sys/fs/cgroup$cg/cgroup.procs /sys/fs/cgroup/systemd$cg/cgroup.procs 2>/dev/null | wc -l`)
			if strings.HasPrefix(out, "1\nactive\n3") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("staffrota not back with 3 processes after the kill: %q", out)
			}
			time.Sleep(500 * time.Millisecond)
		}
		r := check("--json")
		r.wantExit(t, 1)
		var doc struct {
			Status string
			Checks []struct {
				Host, Check, Status string
				Restarts            *int `json:"restarts_since_last_check"`
				Total               *int `json:"restarts_total"`
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		seen := 0
		for _, c := range doc.Checks {
			if c.Check != "unit staffrota.service" {
				continue
			}
			seen++
			want, status := 0, "OK"
			if c.Host == h1.Name {
				want, status = 1, "WARNING"
			}
			if c.Restarts == nil || *c.Restarts != want || c.Total == nil || *c.Total != want || c.Status != status {
				t.Errorf("%s: %+v, want %d restart(s) since the last check, %s", c.Host, c, want, status)
			}
		}
		if seen != 2 || doc.Status != "WARNING" {
			t.Errorf("status %s, %d unit rows:\n%s", doc.Status, seen, r.stdout)
		}
		// Seen once: the next check is OK again.
		r = check()
		r.wantExit(t, 0)
		if !hasRow(r.stdout, h1.Name+" unit staffrota.service OK - - +0 (1)") {
			t.Errorf("after the restart was reported:\n%s", r.stdout)
		}
	})
}

// hasRow reports whether the table has a line that starts with the words
// of row (columns are aligned with runs of spaces).
func hasRow(table, row string) bool {
	want := strings.Fields(row)
	for _, l := range strings.Split(table, "\n") {
		got := strings.Fields(l)
		if len(got) >= len(want) && strings.Join(got[:len(want)], " ") == strings.Join(want, " ") {
			return true
		}
	}
	return false
}
