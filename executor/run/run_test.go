package run

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/modules"
	"github.com/tend-sh/tend/playbooks"
)

// liar is a test module whose Apply claims success but changes nothing, so
// the engine's re-check must catch it. It is a real module (decoded with
// gohcl, probing a real file), registered only in this test binary.
type liar struct {
	Path string `hcl:"path"`
}

func init() {
	modules.Register(modules.Info{Kind: "test_liar", Summary: "test only", New: func() modules.Module { return new(liar) }})
}

func (l *liar) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	return gohcl.DecodeBody(body, ctx, l)
}
func (l *liar) Probes() []executor.Probe {
	return []executor.Probe{{Kind: executor.ProbeFile, Path: l.Path}}
}
func (l *liar) Check(ctx context.Context, t *modules.Target) (*modules.Diff, error) {
	d := &modules.Diff{}
	if f := t.State.File(l.Path); f == nil || !f.Exists {
		d.Add(modules.Change{Attr: "exists", Old: "absent", New: "present"})
	}
	return d, nil
}
func (l *liar) Apply(ctx context.Context, t *modules.Target, d *modules.Diff) error { return nil }

// recorder keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []report.Event
}

func (r *recorder) Emit(e report.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) find(host, task string) *report.Event {
	for i := range r.events {
		if r.events[i].Host == host && r.events[i].Task == task {
			return &r.events[i]
		}
	}
	return nil
}

// setup writes an inventory of local "hosts" (each a name for this machine)
// and a playbook, and prepares a run.
func setup(t *testing.T, hosts []string, playbook string, mode Mode) (*Run, *recorder) {
	t.Helper()
	return setupIn(t, t.TempDir(), hosts, playbook, mode)
}

// setupIn is setup in a given directory, so that a second run finds the
// first one's hosts as it left them.
func setupIn(t *testing.T, dir string, hosts []string, playbook string, mode Mode) (*Run, *recorder) {
	t.Helper()
	var inv strings.Builder
	inv.WriteString("group \"all_local\" {\n")
	for _, h := range hosts {
		fmt.Fprintf(&inv, "  host %q {\n    connection = \"local\"\n    vars = { dir = %q }\n  }\n", h, filepath.Join(dir, h))
		if err := os.MkdirAll(filepath.Join(dir, h), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	inv.WriteString("}\n")
	i, diags := inventory.Parse([]byte(inv.String()), filepath.Join(dir, "inv.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pbPath := filepath.Join(dir, "pb.hcl")
	if err := os.WriteFile(pbPath, []byte(playbook), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, diags := playbooks.Load([]string{pbPath}, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	rec := &recorder{}
	r, diags := Prepare(Options{
		Mode: mode, Inventory: i, Playbook: pb, Forks: 4, Sink: rec,
		Dial: func(ctx context.Context, h *inventory.Host) (executor.Conn, error) {
			if h.Name == "down" {
				return nil, fmt.Errorf("%s: connect: refused: %w", h.Name, executor.ErrUnreachable)
			}
			// Each local "host" is this machine: each gets a state
			// directory of its own, as a real host has.
			return executor.NewLocal(executor.LocalOptions{Host: h.Name, StateDir: filepath.Join(dir, "state-"+h.Name)}), nil
		},
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return r, rec
}

func TestApplyThatDoesNotConvergeFailsLoudly(t *testing.T) {
	r, rec := setup(t, []string{"a"}, `
play "p" {
  hosts = ["all"]
  test_liar "x" { path = "${host.vars.dir}/never" }
}
`, ModeApply)
	res := r.Execute(context.Background())
	if res.Failed() != 1 {
		t.Fatalf("want the host failed, got %+v", res.Recaps)
	}
	e := rec.find("a", "test_liar.x")
	if e == nil || e.Status != report.StatusFailed || !strings.Contains(e.Message, "still differs after apply") {
		t.Fatalf("event: %+v", e)
	}
}

func TestHostIsolationAndHandlersOnce(t *testing.T) {
	pb := `
play "p" {
  hosts = ["all"]
  file "one" {
    path    = "${host.vars.dir}/one"
    content = "1\n"
    notify  = ["h"]
  }
  command "fail-on-b" {
    run     = "test ${host.name} != b"
    creates = "${host.vars.dir}/one-never"
  }
  file "two" {
    path    = "${host.vars.dir}/two"
    content = "2\n"
    notify  = ["h"]
  }
  handler "h" {
    command "count" { run = "echo x >> ${host.vars.dir}/handled" }
  }
}
`
	r, rec := setup(t, []string{"a", "b", "down"}, pb, ModeApply)
	noRevert(r) // b stays as it failed: its notification stays recorded
	res := r.Execute(context.Background())
	byHost := map[string]report.HostRecap{}
	for _, h := range res.Recaps {
		byHost[h.Host] = h
	}
	if a := byHost["a"]; a.Failed != 0 || a.Changed != 4 {
		t.Errorf("a: %+v (want 3 tasks + 1 handler changed)", a)
	}
	if b := byHost["b"]; b.Failed != 1 || b.Changed != 1 || b.Skipped != 1 {
		t.Errorf("b: %+v (want file one changed, then the command failed)", b)
	}
	if d := byHost["down"]; !d.Unreachable {
		t.Errorf("down: %+v", d)
	}
	if res.Failed() != 1 || res.Unreachable() != 1 {
		t.Errorf("failed %d unreachable %d", res.Failed(), res.Unreachable())
	}
	// The handler ran once on a though two tasks notified it, and not on b,
	// whose run stopped at the failure.
	dir := filepath.Dir(r.Hosts()[0].Vars["dir"].AsString())
	if got, _ := os.ReadFile(filepath.Join(dir, "a", "handled")); string(got) != "x\n" {
		t.Errorf("handler on a ran %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "b", "handled")); !os.IsNotExist(err) {
		t.Errorf("handler ran on the failed host b")
	}
	if _, err := os.Stat(filepath.Join(dir, "b", "two")); !os.IsNotExist(err) {
		t.Errorf("b went on after its failure")
	}
	h := rec.find("a", "command.count")
	if h == nil || h.Type != report.EventHandler || len(h.NotifiedBy) != 2 {
		t.Errorf("handler event: %+v", h)
	}
	// On b the handler was notified, then the host failed: it says so, and
	// the notification stays recorded on the host for the next run.
	hb := rec.find("b", "command.count")
	if hb == nil || hb.Status != report.StatusSkipped || !strings.Contains(hb.Message, "not run") || !strings.Contains(hb.Message, "next apply runs it") {
		t.Errorf("b's pending handler must be reported as not run: %+v", hb)
	}
	if recs := pendingRecords(t, filepath.Join(dir, "state-b")); len(recs) != 1 || !strings.Contains(recs[0], `"handler":"h"`) {
		t.Errorf("b's pending records: %q", recs)
	}
	if recs := pendingRecords(t, filepath.Join(dir, "state-a")); len(recs) != 0 {
		t.Errorf("a's handler ran, yet records remain: %q", recs)
	}
}

// pendingRecords returns the contents of the pending records in a state
// directory.
func pendingRecords(t *testing.T, stateDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(stateDir, "pending"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(stateDir, "pending", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestPlanChangesNothing(t *testing.T) {
	r, rec := setup(t, []string{"a"}, `
play "p" {
  hosts = ["all"]
  file "one" {
    path    = "${host.vars.dir}/one"
    content = "1\n"
    notify  = ["h"]
  }
  handler "h" {
    command "count" { run = "echo x >> ${host.vars.dir}/handled" }
  }
}
`, ModePlan)
	res := r.Execute(context.Background())
	if !res.Pending() || res.Failed() != 0 {
		t.Fatalf("plan result: %+v", res.Recaps)
	}
	dir := r.Hosts()[0].Vars["dir"].AsString()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("plan wrote %v", entries)
	}
	if e := rec.find("a", "command.count"); e == nil || e.Status != report.StatusWillRun {
		t.Errorf("handler in plan: %+v", e)
	}
}

func TestInterruptedRunStopsHosts(t *testing.T) {
	r, _ := setup(t, []string{"a", "b"}, `
play "p" {
  hosts = ["all"]
  command "slow" { run = "sleep 0.1" }
}
`, ModeApply)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := r.Execute(ctx)
	for _, h := range res.Recaps {
		if h.Failed == 0 {
			t.Errorf("%s ran after cancellation: %+v", h.Host, h)
		}
	}
}

// A handler notified again after a health check flushed it runs again, so
// it sees the later change too.
func TestHandlerRunsAgainWhenNotifiedAfterFlush(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	r, rec := setup(t, []string{"a"}, fmt.Sprintf(`
play "p" {
  hosts = ["all"]
  file "a" {
    path    = "${host.vars.dir}/a"
    content = "a\n"
    notify  = ["h"]
  }
  health_check "up" { url = %q }
  file "b" {
    path    = "${host.vars.dir}/b"
    content = "b\n"
    notify  = ["h"]
  }
  handler "h" {
    command "log" { run = "cat ${host.vars.dir}/a ${host.vars.dir}/b >> ${host.vars.dir}/log 2>/dev/null; echo --- >> ${host.vars.dir}/log" }
  }
}
`, srv.URL), ModeApply)
	res := r.Execute(context.Background())
	if res.Failed() != 0 {
		t.Fatalf("%+v", res.Recaps)
	}
	dir := r.Hosts()[0].Vars["dir"].AsString()
	got, _ := os.ReadFile(filepath.Join(dir, "log"))
	// First flush (before the health check) sees only a; the second, at the
	// end of the play, sees a and b.
	if string(got) != "a\n---\na\nb\n---\n" {
		t.Errorf("handler log:\n%s", got)
	}
	var notifiers [][]string
	for _, e := range rec.events {
		if e.Type == report.EventHandler {
			notifiers = append(notifiers, e.NotifiedBy)
		}
	}
	if len(notifiers) != 2 || notifiers[0][0] != "file.a" || notifiers[1][0] != "file.b" || len(notifiers[1]) != 1 {
		t.Errorf("handler events notified by %v", notifiers)
	}
}
