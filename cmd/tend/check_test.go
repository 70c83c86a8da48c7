package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fakeSystemd puts a systemctl on PATH (the in-process SSH host runs its
// commands on this machine) that answers `systemctl show` with the file
// DIR/UNIT, and returns DIR. A unit's ControlGroup climbs out of
// /sys/fs/cgroup into DIR/cg, whose cgroup.procs the fact counts.
func fakeSystemd(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	writeTestFile(t, filepath.Join(bin, "systemctl"), "#!/bin/sh\nfor a; do u=$a; done\nexec cat "+dir+"/\"$u\"\n")
	os.Chmod(filepath.Join(bin, "systemctl"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	os.MkdirAll(filepath.Join(dir, "cg"), 0o755)
	return dir
}

// setUnit writes what the fake systemctl says of app.service, and the
// processes of its control group.
func setUnit(t *testing.T, dir, active, sub string, restarts, procs int) {
	t.Helper()
	cg := "/../../.." + dir + "/cg"
	writeTestFile(t, filepath.Join(dir, "app.service"), fmt.Sprintf("LoadState=loaded\nActiveState=%s\nSubState=%s\nNRestarts=%d\nStateChangeTimestamp=@1769094000\nActiveEnterTimestamp=@1769094000\nControlGroup=%s\n", active, sub, restarts, cg))
	writeTestFile(t, filepath.Join(dir, "cg", "cgroup.procs"), strings.Repeat("1\n", procs))
}

// checkPlaybook holds the seed's verification list as code, against the
// in-process host's endpoint, and a check of severity "warning" on
// var.soft_path.
func (h *sshHost) checkPlaybook(t *testing.T) string {
	t.Helper()
	return writeTestFile(t, filepath.Join(t.TempDir(), "check.hcl"), fmt.Sprintf(`
variable "sock" { default = %q }
variable "soft_path" { default = "/health/" }

play "site" {
  hosts = ["web"]

  service "app.service" {
    state = "started"
  }
  health_check "health" {
    name        = "health \"db\""
    unix_socket = var.sock
    path        = "/health/"
    expect_json = { status = "ok" }
    retries     = 5
  }
  health_check "soft" {
    unix_socket = var.sock
    path        = var.soft_path
    severity    = "warning"
  }
  health_check "workers" {
    unit             = "app.service"
    expect_processes = 3
  }
}
`, h.socket))
}

// TestCheckExitCodes drives tend check over SSH through the states of a
// fleet's health and checks the exit code of each, and that a check
// changes nothing and takes no lock.
func TestCheckExitCodes(t *testing.T) {
	h := newSSHHost(t)
	sys := fakeSystemd(t)
	pb := h.checkPlaybook(t)
	t.Setenv("NO_COLOR", "1")
	state := filepath.Join(t.TempDir(), "restarts.json")
	prom := filepath.Join(t.TempDir(), "tend.prom")
	check := func(extra ...string) cli {
		return tend(t, append([]string{"check", pb, "-i", h.inventory, "--state", state, "--prometheus", prom}, extra...)...)
	}

	setUnit(t, sys, "active", "running", 0, 3)
	c := check()
	c.want(t, CheckOK)
	for _, s := range []string{"tend check OK: 1 host healthy", "web1  unit app.service", "new (0)", "2026-01-22T15:00:00Z", `health "db"`, "3 proc"} {
		if !strings.Contains(c.stdout, s) {
			t.Errorf("no %q in\n%s", s, c.stdout)
		}
	}
	for _, cmd := range h.srv.Commands() {
		if strings.Contains(cmd, "flock") || strings.Contains(cmd, "tend_write") {
			t.Errorf("check took a lock or wrote: %.200s", cmd)
		}
	}
	if n := h.srv.Stats().StreamLocals; n != 2 {
		t.Errorf("%d socket streams, want 2 (one attempt per HTTP check)", n)
	}

	tests := []struct {
		name     string
		active   string
		sub      string
		restarts int
		procs    int
		healthy  bool
		args     []string
		code     int
		want     []string
	}{
		{"ok again", "active", "running", 0, 3, true, nil, CheckOK, []string{"+0 (0)"}},
		{"warning check", "active", "running", 0, 3, true, []string{"--var", "soft_path=/nope/"}, CheckWarning, []string{"tend check WARNING: warning web1", "status 404, want 200"}},
		{"restarted", "active", "running", 1, 3, true, nil, CheckWarning, []string{"+1 (1)", "restarted by systemd 1 time(s) since the last check"}},
		{"restarts seen", "active", "running", 1, 3, true, nil, CheckOK, []string{"+0 (1)"}},
		{"db down", "active", "running", 1, 3, false, nil, CheckCritical, []string{"tend check CRITICAL: critical web1", "status 503, want 200"}},
		{"worker gone", "active", "running", 1, 2, true, nil, CheckCritical, []string{"app.service runs 2 processes, want 3"}},
		{"crash loop", "activating", "auto-restart", 3, 0, true, nil, CheckCritical, []string{"+2 (3)", "waiting to be restarted after a crash"}},
		{"warning and critical", "failed", "failed", 3, 3, true, []string{"--var", "soft_path=/nope/"}, CheckCritical, []string{"failed/failed"}},
	}
	for _, tc := range tests {
		setUnit(t, sys, tc.active, tc.sub, tc.restarts, tc.procs)
		h.healthy.Store(tc.healthy)
		c := check(tc.args...)
		if c.code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tc.name, c.code, tc.code, c.stdout, c.stderr)
			continue
		}
		for _, s := range tc.want {
			if !strings.Contains(c.stdout, s) {
				t.Errorf("%s: no %q in\n%s", tc.name, s, c.stdout)
			}
		}
	}
	h.healthy.Store(true)
	setUnit(t, sys, "active", "running", 3, 3)

	// JSON for machines, with the same exit code.
	c = check("--var", "soft_path=/nope/", "--json")
	c.want(t, CheckWarning)
	var doc struct {
		Status string
		Checks []struct {
			Check, Status string
			HTTPCode      int `json:"http_code"`
		}
	}
	if err := json.Unmarshal([]byte(c.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, c.stdout)
	}
	if doc.Status != "WARNING" || len(doc.Checks) != 5 || doc.Checks[3].Check != "health_check.soft" || doc.Checks[3].HTTPCode != 404 {
		t.Errorf("%+v", doc)
	}

	// The Prometheus file of the last check parses, the check name that
	// needs escaping included.
	f, err := os.Open(prom)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range fams["tend_health_up"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "check" && l.GetValue() == `health "db"` {
				found = m.GetGauge().GetValue() == 1
			}
		}
	}
	if !found {
		t.Errorf("no tend_health_up{check=%q} 1 in %v", `health "db"`, fams["tend_health_up"])
	}
}

// TestCheckUnknown: invalid input connects to nothing and exits 3, as does
// a --prometheus file that cannot be written; an unreachable host is
// critical.
func TestCheckUnknown(t *testing.T) {
	h := newSSHHost(t)
	fakeSystemd(t)
	pb := h.checkPlaybook(t)
	t.Setenv("NO_COLOR", "1")
	state := filepath.Join(t.TempDir(), "restarts.json")

	bad := writeTestFile(t, filepath.Join(t.TempDir(), "bad.hcl"), `play "p" {
  hosts = ["web"]
  health_check "x" {
    unit = "app.service"
  }
}
`)
	c := tend(t, "check", bad, "-i", h.inventory, "--state", state)
	c.want(t, CheckUnknown)
	if !strings.Contains(c.stderr, "give expect_processes") || !strings.Contains(c.stderr, "bad.hcl:4") {
		t.Errorf("stderr:\n%s", c.stderr)
	}
	tend(t, "check", pb, "-i", h.inventory, "--state", state, "--bogus").want(t, CheckUnknown)
	tend(t, "check", pb, "-i", h.inventory, "--state", state, "--prometheus", "/nonexistent/dir/x.prom").want(t, CheckUnknown)
	tend(t, "check", pb, "-i", h.inventory, "--state", state, "--no-state").want(t, CheckUnknown)
	if n := h.srv.Stats().Connections; n != 0 {
		t.Errorf("%d connections for invalid input, want 0", n)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state written for invalid input: %v", err)
	}

	h.srv.Close()
	c = tend(t, "check", pb, "-i", h.inventory, "--state", state)
	c.want(t, CheckCritical)
	if !strings.Contains(c.stdout, "tend check CRITICAL: critical web1") || !strings.Contains(c.stdout, "web1  connection  CRITICAL") {
		t.Errorf("stdout:\n%s", c.stdout)
	}
}

// TestCheckDuplicateNames: two plays with a check of the same name give
// two distinct rows (and metric labels), the second named with its play.
func TestCheckDuplicateNames(t *testing.T) {
	h := newSSHHost(t)
	pb := writeTestFile(t, filepath.Join(t.TempDir(), "dup.hcl"), fmt.Sprintf(`
play "one" {
  hosts = ["web"]
  health_check "app" {
    unix_socket = %[1]q
    path        = "/health/"
  }
}
play "two" {
  hosts = ["web"]
  health_check "app" {
    unix_socket = %[1]q
    path        = "/health/"
  }
}
`, h.socket))
	c := tend(t, "check", pb, "-i", h.inventory, "--no-state", "--json")
	c.want(t, CheckOK)
	var doc struct{ Checks []struct{ Check string } }
	if err := json.Unmarshal([]byte(c.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ch := range doc.Checks {
		names = append(names, ch.Check)
	}
	if strings.Join(names, ",") != "connection,health_check.app,two/health_check.app" {
		t.Errorf("checks %v", names)
	}
}

// TestCheckFactPlays: a play that refers to host.facts is made once the
// facts are read, and its checks run (or are skipped by its when).
func TestCheckFactPlays(t *testing.T) {
	h := newSSHHost(t)
	pb := writeTestFile(t, filepath.Join(t.TempDir(), "facts.hcl"), fmt.Sprintf(`
play "facts" {
  hosts = ["web"]
  health_check "known" {
    when        = host.facts.cpus >= 1
    unix_socket = %[1]q
    path        = "/health/"
  }
  health_check "never" {
    when        = host.facts.cpus < 1
    unix_socket = %[1]q
    path        = "/nope/"
  }
}
`, h.socket))
	c := tend(t, "check", pb, "-i", h.inventory, "--no-state", "--json")
	c.want(t, CheckOK)
	var doc struct{ Checks []struct{ Check string } }
	if err := json.Unmarshal([]byte(c.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Checks) != 2 || doc.Checks[1].Check != "health_check.known" {
		t.Errorf("%s", c.stdout)
	}
}
