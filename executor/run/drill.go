package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/drill"
	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/executor/rollout"
	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/modules"
	"github.com/tend-sh/tend/playbooks"
)

// ModeDrill runs the plays' restart drills only: no task is checked or
// applied (tend drill).
const ModeDrill Mode = "drill"

// drillPolicy is how drills reach the hosts: one host at a time, the first
// one a canary, halting at the first host that fails.
var drillPolicy = rollout.Policy{Canary: 1, Batch: rollout.Count(1), MaxFailures: rollout.Count(0)}

// prepareDrills checks the drills offline, once the plays are instantiated:
// a drill of a unit that a task of its play renders without a restart
// policy is refused, and in drill mode the run keeps only the hosts that
// have drills.
func (r *Run) prepareDrills(diags hcl.Diagnostics) hcl.Diagnostics {
	refused := map[*playbooks.Drill]bool{}
	for _, h := range r.hosts {
		for _, hp := range r.work[h.Name] {
			for _, d := range hp.play.Drills {
				if refused[d] {
					continue
				}
				for _, t := range hp.plan.Tasks {
					rp, ok := t.Module.(modules.RestartPolicer)
					if !ok || t.Skip {
						continue
					}
					unit, restart, known := rp.RestartPolicy()
					if unit == d.Unit && known && (restart == "" || restart == "no") {
						refused[d] = true
						diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Drill of a unit without a restart policy",
							Detail: fmt.Sprintf("refuse: no restart policy: task %s renders %s with Restart=%s, so systemd would not bring it back after the kill. Set a restart policy (restart = \"always\", or Restart= in [Service]) or drop the drill.",
								t.ID, d.Unit, orNo(restart)),
							Subject: d.Range.Ptr()})
					}
				}
			}
		}
	}
	if r.opts.Mode != ModeDrill {
		return diags
	}
	var hosts []*inventory.Host
	for _, h := range r.hosts {
		for _, hp := range r.work[h.Name] {
			if len(hp.play.Drills) > 0 {
				hosts = append(hosts, h)
				break
			}
		}
	}
	if len(hosts) == 0 && len(r.hosts) > 0 {
		diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Nothing to drill",
			Detail: "No play of the selected hosts has a restart_drill block: tend drill runs only those."})
	}
	r.hosts = hosts
	return diags
}

func orNo(s string) string {
	if s == "" {
		return "no"
	}
	return s
}

// drillHost runs the drills of the host's plays, one after the other,
// under the run lock; it stops at the first that fails.
func (r *Run) drillHost(ctx context.Context, h *inventory.Host, conn executor.Conn, plays []hostPlay, recap *report.HostRecap) (*executor.Held, error) {
	lock, _, err := executor.Lock(ctx, conn, executor.Request{Become: plays[0].become()}, r.holder())
	if err != nil {
		var locked *executor.LockedError
		if !errors.As(err, &locked) {
			err = fmt.Errorf("taking the run lock: %w", err)
		}
		return nil, err
	}
	for _, hp := range plays {
		for _, d := range hp.play.Drills {
			w := &hostWork{run: r, host: h, conn: conn, lock: lock, play: hp.play, plan: hp.plan, recap: recap}
			if err := w.drill(ctx, d); err != nil {
				return lock, err
			}
		}
	}
	return lock, nil
}

// drill runs one restart drill on the host and reports it as a task of
// kind restart_drill.
func (w *hostWork) drill(ctx context.Context, d *playbooks.Drill) error {
	start := time.Now()
	id := "restart_drill." + d.Unit
	m := &report.Drill{Unit: d.Unit, Processes: -1}
	emit := func(st report.Status, msg string) {
		w.run.emit(report.Event{Type: report.EventTask, Play: w.play.Name, Host: w.host.Name, Task: id, Kind: "restart_drill",
			Status: st, Message: msg, Duration: time.Since(start), Drill: m})
	}
	fail := func(err error) error {
		w.recap.Failed++
		emit(report.StatusFailed, err.Error())
		return fmt.Errorf("%s: %w", id, err)
	}
	w.recap.Drilled++
	u, err := drill.Read(ctx, w.conn, d.Unit, w.become())
	if err != nil {
		return fail(err)
	}
	m.OldPID, m.NRestarts, m.Result = u.MainPID, u.NRestarts, u.Result
	if err := u.Refuse(); err != nil {
		return fail(err)
	}
	opts := drill.Options{Workers: d.Workers, Margin: d.Margin, Become: w.become()}
	if opts.Workers < 0 {
		opts.Workers = workersOf(w.plan, d.Unit)
	}
	o, err := drill.Kill(ctx, w.conn, u, opts)
	if err != nil {
		return fail(err)
	}
	back := time.Now()
	m.NewPID, m.NRestarts, m.Processes, m.Result, m.StartLimitHit = o.NewPID, o.NRestarts, o.Processes, o.Result, o.StartLimitHit()
	if !o.Recovered {
		return fail(errors.New(o.Explain(u, opts)))
	}
	m.Recovery = o.Recovery
	for _, t := range w.plan.Tasks {
		v, ok := t.Module.(modules.Verifier)
		if !ok || t.Skip {
			continue
		}
		if err := v.Verify(ctx, w.target(w.conn, nil)); err != nil {
			return fail(fmt.Errorf("%s came back in %s (MainPID %d → %d) but %s failed: %w", d.Unit, span(o.Recovery), u.MainPID, o.NewPID, t.ID, err))
		}
	}
	m.Healthy = o.Ended + time.Since(back)
	w.recap.OK++
	w.recap.Recovery = max(w.recap.Recovery, o.Recovery)
	msg := fmt.Sprintf("recovered in %s (MainPID %d → %d, %d processes, NRestarts %d → %d)", span(o.Recovery), u.MainPID, o.NewPID, o.Processes, u.NRestarts, o.NRestarts)
	if m.Healthy > 0 && hasVerifier(w.plan) {
		msg += fmt.Sprintf(", healthy in %s", span(m.Healthy))
	}
	emit(report.StatusOK, msg)
	return nil
}

func hasVerifier(p *playbooks.HostPlan) bool {
	for _, t := range p.Tasks {
		if _, ok := t.Module.(modules.Verifier); ok && !t.Skip {
			return true
		}
	}
	return false
}

func span(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }

// workersOf is the number of worker processes a task of p that keeps unit
// running says the unit runs (modules.WorkerCounter: a gunicorn_service's
// workers, per host), or -1 (not checked) when no task knows it.
func workersOf(p *playbooks.HostPlan, unit string) int {
	for _, t := range p.Tasks {
		if t.Skip {
			continue
		}
		u, ok := t.Module.(modules.UnitRunner)
		if !ok || u.RunningUnit() != unit {
			continue
		}
		if wc, ok := t.Module.(modules.WorkerCounter); ok {
			if n, known := wc.WorkerProcesses(); known {
				return n
			}
		}
	}
	return -1
}
