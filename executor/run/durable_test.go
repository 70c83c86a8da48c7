package run

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/executor/testenv"
	"github.com/tend-sh/tend/modules"
)

// A notification whose handler never ran (the host failed first) is
// recorded on the host: the next plan shows the handler as due, the next
// apply runs it, and the record is gone afterwards.
func TestPendingHandlerRunsOnTheNextApply(t *testing.T) {
	pb := func(fail bool) string {
		run := "true"
		if fail {
			run = "false"
		}
		return `
play "p" {
  hosts = ["all"]
  file "conf" {
    path    = "${host.vars.dir}/conf"
    content = "v=1\n"
    notify  = ["h"]
  }
  command "later" {
    run     = "` + run + `"
    creates = "${host.vars.dir}/never"
  }
  handler "h" {
    command "count" { run = "echo x >> ${host.vars.dir}/handled" }
  }
}
`
	}
	r, _ := setup(t, []string{"a"}, pb(true), ModeApply)
	// Left as it failed (a revert would undo the change that notified).
	noRevert(r)
	dir := r.Hosts()[0].Vars["dir"].AsString()
	state := filepath.Join(filepath.Dir(dir), "state-a")
	if res := r.Execute(context.Background()); res.Failed() != 1 {
		t.Fatalf("first apply: %+v", res.Recaps)
	}
	if _, err := os.Stat(filepath.Join(dir, "handled")); !os.IsNotExist(err) {
		t.Fatal("the handler ran although the host failed")
	}
	if recs := pendingRecords(t, state); len(recs) != 1 {
		t.Fatalf("records after the failed run: %q", recs)
	}

	// Same directories, fixed playbook: plan shows the handler as due.
	plan, rec := setupIn(t, filepath.Dir(dir), []string{"a"}, pb(false), ModePlan)
	plan.Execute(context.Background())
	h := rec.find("a", "command.count")
	if h == nil || h.Status != report.StatusWillRun || len(h.NotifiedBy) != 1 || h.NotifiedBy[0] != earlierRun {
		t.Fatalf("plan: pending handler %+v", h)
	}
	if e := rec.find("a", "file.conf"); e == nil || e.Status != report.StatusOK {
		t.Fatalf("plan: the file is in sync, so nothing notifies the handler now: %+v", e)
	}

	apply, rec := setupIn(t, filepath.Dir(dir), []string{"a"}, pb(false), ModeApply)
	if res := apply.Execute(context.Background()); res.Failed() != 0 {
		t.Fatalf("second apply: %+v", res.Recaps)
	}
	if h := rec.find("a", "command.count"); h == nil || h.Status != report.StatusChanged {
		t.Fatalf("apply: pending handler %+v", h)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "handled")); string(b) != "x\n" {
		t.Fatalf("handler ran %q", b)
	}
	if recs := pendingRecords(t, state); len(recs) != 0 {
		t.Fatalf("records after the handler ran: %q", recs)
	}
}

// A change that is known to have changed nothing (a refused write) leaves
// no promise behind.
func TestRefusedWriteLeavesNoRecord(t *testing.T) {
	testenv.NeedRoot(t, "for root's write refusal")
	r, _ := setup(t, []string{"a"}, `
play "p" {
  hosts = ["all"]
  file "conf" {
    path    = "${host.vars.dir}/theirs/conf"
    content = "v=1\n"
    notify  = ["h"]
  }
  handler "h" {
    command "count" { run = "true" }
  }
}
`, ModeApply)
	dir := r.Hosts()[0].Vars["dir"].AsString()
	// A directory another user owns: root must not write there.
	if err := os.Mkdir(filepath.Join(dir, "theirs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "theirs"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	res := r.Execute(context.Background())
	if res.Failed() != 1 || !strings.Contains(res.Recaps[0].Error, "refused") {
		t.Fatalf("want the write refused: %+v", res.Recaps)
	}
	if recs := pendingRecords(t, filepath.Join(filepath.Dir(dir), "state-a")); len(recs) != 0 {
		t.Fatalf("a refused write left records: %q", recs)
	}
}

// An apply finds the run lock of another run taken: it is refused, names
// the holder, and changes nothing; plan says an apply is in progress.
func TestRunLockRefusesASecondApply(t *testing.T) {
	pb := `
play "p" {
  hosts = ["all"]
  file "conf" {
    path    = "${host.vars.dir}/conf"
    content = "v=1\n"
  }
}
`
	r, rec := setup(t, []string{"a"}, pb, ModeApply)
	dir := r.Hosts()[0].Vars["dir"].AsString()
	state := filepath.Join(filepath.Dir(dir), "state-a")
	other := executor.NewLocal(executor.LocalOptions{StateDir: state})
	held, _, err := executor.Lock(context.Background(), other, executor.Request{}, executor.LockHolder{Controller: "ctl9", User: "alice", PID: 4242, Started: time.Unix(1700000000, 0), Command: "tend apply"})
	if err != nil {
		t.Fatal(err)
	}
	res := r.Execute(context.Background())
	if res.Failed() != 1 {
		t.Fatalf("second apply: %+v", res.Recaps)
	}
	msg := res.Recaps[0].Error
	for _, want := range []string{"holds this host's run lock", "alice@ctl9", "pid 4242", "2023-11-14T22:13:20Z"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "conf")); !os.IsNotExist(err) {
		t.Fatal("the refused apply wrote the file")
	}
	_ = rec

	plan, prec := setupIn(t, filepath.Dir(dir), []string{"a"}, pb, ModePlan)
	plan.Execute(context.Background())
	note := false
	for _, e := range prec.events {
		if e.Type == report.EventHostNote && strings.Contains(e.Message, "an apply is in progress") && strings.Contains(e.Message, "alice@ctl9") {
			note = true
		}
	}
	if !note {
		t.Error("plan did not say that an apply holds the lock")
	}

	// Released, the lock is free for the next apply.
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	again, _ := setupIn(t, filepath.Dir(dir), []string{"a"}, pb, ModeApply)
	if res := again.Execute(context.Background()); res.Failed() != 0 {
		t.Fatalf("apply after release: %+v", res.Recaps)
	}
}

// panicker is a test module whose Check panics: a bug in tend.
type panicker struct{ liar }

func init() {
	modules.Register(modules.Info{Kind: "test_panic", Summary: "test only", New: func() modules.Module { return new(panicker) }})
}

func (p *panicker) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	return p.liar.Decode(label, body, ctx)
}
func (p *panicker) Check(ctx context.Context, t *modules.Target) (*modules.Diff, error) {
	panic("boom")
}

// A panic in a module is an internal error of that host, with the stack,
// not a failed task; the other hosts go on.
func TestPanicIsAnInternalError(t *testing.T) {
	r, _ := setup(t, []string{"a"}, `
play "p" {
  hosts = ["all"]
  test_panic "x" { path = "${host.vars.dir}/x" }
}
`, ModeApply)
	res := r.Execute(context.Background())
	if !res.Internal() || !strings.Contains(res.Recaps[0].Error, "boom") || !strings.Contains(res.Recaps[0].Error, "goroutine") {
		t.Fatalf("want an internal error with the stack: %+v", res.Recaps)
	}
}

// A refused change clears only what it would itself have promised: a record
// of the same name an earlier run left (the same handler, still owed)
// stays, and the next apply runs the handler.
func TestRefusedWriteKeepsEarlierRecords(t *testing.T) {
	testenv.NeedRoot(t, "for root's write refusal")
	pb := func(second bool) string {
		extra := `
  command "later" {
    run     = "false"
    creates = "${host.vars.dir}/never"
  }`
		if second {
			extra = `
  file "refused" {
    path    = "${host.vars.dir}/theirs/b"
    content = "b\n"
    notify  = ["h"]
  }`
		}
		return `
play "p" {
  hosts = ["all"]
  file "a" {
    path    = "${host.vars.dir}/a"
    content = "a\n"
    notify  = ["h"]
  }` + extra + `
  handler "h" {
    command "count" { run = "echo x >> ${host.vars.dir}/handled" }
  }
}
`
	}
	r, _ := setup(t, []string{"a"}, pb(false), ModeApply)
	noRevert(r)
	dir := r.Hosts()[0].Vars["dir"].AsString()
	state := filepath.Join(filepath.Dir(dir), "state-a")
	if res := r.Execute(context.Background()); res.Failed() != 1 {
		t.Fatalf("first apply: %+v", res.Recaps)
	}
	if recs := pendingRecords(t, state); len(recs) != 1 {
		t.Fatalf("records after the first run: %q", recs)
	}
	if err := os.Mkdir(filepath.Join(dir, "theirs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "theirs"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	second, rec := setupIn(t, filepath.Dir(dir), []string{"a"}, pb(true), ModeApply)
	if res := second.Execute(context.Background()); res.Failed() != 1 || !strings.Contains(res.Recaps[0].Error, "refused") {
		t.Fatalf("second apply: %+v", res.Recaps)
	}
	if h := rec.find("a", "command.count"); h == nil || h.Status != report.StatusSkipped {
		t.Fatalf("the handler is reported pending: %+v", h)
	}
	if recs := pendingRecords(t, state); len(recs) != 1 || !strings.Contains(recs[0], `"handler":"h"`) {
		t.Fatalf("the earlier run's record must stay: %q", recs)
	}
	os.Remove(filepath.Join(dir, "theirs"))
	third, _ := setupIn(t, filepath.Dir(dir), []string{"a"}, pb(false)[:strings.Index(pb(false), "  command \"later\"")]+"  handler \"h\" {\n    command \"count\" { run = \"echo x >> ${host.vars.dir}/handled\" }\n  }\n}\n", ModeApply)
	if res := third.Execute(context.Background()); res.Failed() != 0 {
		t.Fatalf("third apply: %+v", res.Recaps)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "handled")); string(b) != "x\n" {
		t.Fatalf("the owed handler ran %q", b)
	}
}

// Pending effects are refreshes only (a pending start or stop is decided
// afresh from the state), and those of a task that is skipped now are
// carried out (here: shown in plan) all the same.
func TestPendingEffectsOfASkippedTask(t *testing.T) {
	pb := `
play "p" {
  hosts = ["all"]
  file "x" {
    path    = "${host.vars.dir}/x"
    content = "x\n"
    when    = false
  }
}
`
	r, rec := setup(t, []string{"a"}, pb, ModePlan)
	dir := r.Hosts()[0].Vars["dir"].AsString()
	state := filepath.Join(filepath.Dir(dir), "state-a")
	c := executor.NewLocal(executor.LocalOptions{StateDir: state})
	owed := executor.EffectsRecord("p", "file.x", []executor.Effect{{Kind: executor.EffectStart, Unit: "x.service"}, {Kind: executor.EffectRestart, Unit: "x.service"}}, time.Unix(0, 0))
	cmd, err := executor.WithRecords(executor.Command{Script: "true"}, []executor.Record{owed})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.Run(context.Background(), cmd); err != nil || res.ExitCode != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	res := r.Execute(context.Background())
	if !res.Pending() {
		t.Fatalf("plan must show the owed restart: %+v", res.Recaps)
	}
	var e *report.Event
	for i := range rec.events {
		if rec.events[i].Kind == "pending" {
			e = &rec.events[i]
		}
	}
	if e == nil || e.Task != "file.x" || strings.Join(e.Diff.Actions(), ",") != "restart x.service" {
		t.Fatalf("pending event %+v", e)
	}
}

// A record that owes no refresh (only a start, which Check decides afresh)
// is not shown as pending, and apply clears it from the host: it must not
// stay there for good.
func TestRecordOwingNothingIsCleared(t *testing.T) {
	pb := `
play "p" {
  hosts = ["all"]
  file "x" {
    path    = "${host.vars.dir}/x"
    content = "x\n"
  }
}
`
	for _, mode := range []Mode{ModePlan, ModeApply} {
		r, rec := setup(t, []string{"a"}, pb, mode)
		dir := r.Hosts()[0].Vars["dir"].AsString()
		c := executor.NewLocal(executor.LocalOptions{StateDir: filepath.Join(filepath.Dir(dir), "state-a")})
		os.WriteFile(filepath.Join(dir, "x"), []byte("x\n"), 0o644) // in sync
		owed := executor.EffectsRecord("p", "file.x", []executor.Effect{{Kind: executor.EffectStart, Unit: "x.service"}}, time.Unix(0, 0))
		cmd, err := executor.WithRecords(executor.Command{Script: "true"}, []executor.Record{owed})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := c.Run(context.Background(), cmd); err != nil || res.ExitCode != 0 {
			t.Fatalf("%+v %v", res, err)
		}
		res := r.Execute(context.Background())
		if res.Pending() || res.Recaps[0].Changed != 0 || res.Recaps[0].Failed != 0 {
			t.Errorf("%v: a record owing nothing was reported: %+v", mode, res.Recaps)
		}
		for _, e := range rec.events {
			if e.Kind == "pending" {
				t.Errorf("%v: pending event %+v", mode, e)
			}
		}
		st, err := executor.Gather(context.Background(), c, executor.Request{Records: true})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[Mode]int{ModePlan: 1, ModeApply: 0}[mode]; len(st.Records) != want {
			t.Errorf("%v: %d records left on the host, want %d", mode, len(st.Records), want)
		}
	}
}

// noRevert makes r leave a failed host as it is (--no-revert).
func noRevert(r *Run) {
	r.opts.Rollout.NoRevert = true
	r.policy.Revert = false
}
