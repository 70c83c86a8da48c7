package run

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor/plan"
	"github.com/tend-sh/tend/executor/report"
)

// Two tasks editing one file: plan shows the second change on top of the
// first (what apply does), and a saved plan of them applies.
func TestPlanEditsOneFileTwice(t *testing.T) {
	pb := `
play "p" {
  hosts = ["all"]
  line_in_file "max" {
    path   = "${host.vars.dir}/login.defs"
    regexp = "^PASS_MAX_DAYS"
    line   = "PASS_MAX_DAYS 90"
  }
  line_in_file "min" {
    path   = "${host.vars.dir}/login.defs"
    regexp = "^PASS_MIN_DAYS"
    line   = "PASS_MIN_DAYS 1"
  }
}
`
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	orig := "#PASS_MAX_DAYS 1\nPASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\n"
	if err := os.WriteFile(filepath.Join(dir, "a", "login.defs"), []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	key := plan.Key(strings.Repeat("k", 32))
	r, rec := setupIn(t, dir, []string{"a"}, pb, ModePlan)
	r.opts.Saved = &SavedPlan{Key: key, Nonce: "n1"}
	r.recorder = &planRecorder{hosts: map[string]*plan.Host{}}
	res := r.Execute(context.Background())
	e := rec.find("a", "line_in_file.min")
	if e == nil || e.Status != report.StatusChange {
		t.Fatalf("plan of the second edit: %+v", e)
	}
	c := e.Diff.Change("content")
	if c == nil || string(c.OldContent) != "#PASS_MAX_DAYS 1\nPASS_MAX_DAYS 90\nPASS_MIN_DAYS 0\n" {
		t.Errorf("the second edit's plan does not start from the first's result: %+v", c)
	}
	hosts := r.Planned(res)

	apply, _ := setupIn(t, dir, []string{"a"}, pb, ModeApply)
	apply.opts.Saved = &SavedPlan{Key: key, Apply: &plan.File{Hosts: hosts, Nonce: "n1"}}
	res = apply.Execute(context.Background())
	if rc := res.Recaps[0]; rc.Failed != 0 || rc.Changed != 2 {
		t.Fatalf("apply of the saved plan: %+v", rc)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "a", "login.defs")); string(got) != "#PASS_MAX_DAYS 1\nPASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\n" {
		t.Errorf("login.defs: %q", got)
	}
}
