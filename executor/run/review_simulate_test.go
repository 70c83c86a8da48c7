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

// A file an earlier task creates gets the mode (0644) and owner (root)
// apply gives it: a later task that declares them plans no change of
// them, as apply finds none, and a saved plan of both applies.
func TestPlanNewFileModeAfterEarlierTask(t *testing.T) {
	pb := `
play "p" {
  hosts = ["all"]
  line_in_file "one" {
    path   = "${host.vars.dir}/app.conf"
    line   = "a = 1"
    create = true
  }
  line_in_file "two" {
    path  = "${host.vars.dir}/app.conf"
    line  = "b = 2"
    mode  = "0644"
    owner = "root"
    group = "root"
  }
}
`
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	key := plan.Key(strings.Repeat("k", 32))
	r, rec := setupIn(t, dir, []string{"a"}, pb, ModePlan)
	r.opts.Saved = &SavedPlan{Key: key, Nonce: "n1"}
	r.recorder = &planRecorder{hosts: map[string]*plan.Host{}}
	res := r.Execute(context.Background())
	e := rec.find("a", "line_in_file.two")
	if e == nil || e.Status != report.StatusChange {
		t.Fatalf("plan of the second edit: %+v", e)
	}
	for _, a := range []string{"mode", "owner", "group"} {
		if c := e.Diff.Change(a); c != nil {
			t.Errorf("plan shows a %s change %q -> %q that apply will not make", a, c.Old, c.New)
		}
	}
	hosts := r.Planned(res)
	apply, _ := setupIn(t, dir, []string{"a"}, pb, ModeApply)
	apply.opts.Saved = &SavedPlan{Key: key, Apply: &plan.File{Hosts: hosts, Nonce: "n1"}}
	res = apply.Execute(context.Background())
	if rc := res.Recaps[0]; rc.Failed != 0 || rc.Changed != 2 {
		t.Fatalf("apply of the saved plan: %+v", rc)
	}
}
