package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/plan"
	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/modules"
	"github.com/tend-sh/tend/playbooks"
)

// SavedPlan configures a run that saves its plan (Mode plan) or applies a
// saved one (Mode apply).
type SavedPlan struct {
	// Key is the controller's key of the fingerprints.
	Key plan.Key
	// Apply is the saved plan an apply must match, host by host.
	Apply *plan.File
	// Nonce is the new plan's nonce (plan mode).
	Nonce string
}

// planRecorder collects, in a plan that is saved, each host's tasks.
type planRecorder struct {
	mu    sync.Mutex
	hosts map[string]*plan.Host
}

// fingerprint is the HMAC under the saved plan's key of what d would do on
// host as task id: every change with the digests of the old and new
// contents and of the state it was computed from, the unit actions, the
// command in full. The plan's nonce, the host and the task are in it, so a
// fingerprint says nothing across plans, hosts or tasks. Two diffs have
// the same fingerprint when apply would do the same thing from the same
// state.
func fingerprint(s *SavedPlan, host, id string, d *modules.Diff) string {
	type change struct {
		Attr, Old, New, Path string
		OldSum, NewSum       string
		Digest               string
		Sensitive            bool
	}
	var c struct {
		Nonce, Host, Task string
		Changes           []change
		Effects           []string
		Run, Detail       string
		Unpreviewable     bool
	}
	c.Nonce, c.Host, c.Task = s.nonce(), host, id
	if d != nil {
		for _, ch := range d.Changes {
			x := change{Attr: ch.Attr, Old: ch.Old, New: ch.New, Path: ch.Path, Digest: ch.Digest, Sensitive: ch.Sensitive}
			if ch.OldContent != nil {
				sum := sha256.Sum256(ch.OldContent)
				x.OldSum = hex.EncodeToString(sum[:])
			}
			if ch.NewContent != nil {
				sum := sha256.Sum256(ch.NewContent)
				x.NewSum = hex.EncodeToString(sum[:])
			}
			c.Changes = append(c.Changes, x)
		}
		c.Effects = d.Actions()
		c.Run, c.Detail, c.Unpreviewable = d.Run, d.Detail, d.Unpreviewable
	}
	data, _ := json.Marshal(c)
	return s.Key.Fingerprint(data)
}

// host returns the saved plan's entry of the host named name, or nil.
func (s *SavedPlan) host(name string) *plan.Host {
	for i := range s.Apply.Hosts {
		if s.Apply.Hosts[i].Name == name {
			return &s.Apply.Hosts[i]
		}
	}
	return nil
}

// nonce is the plan's nonce: the saved one when applying, else the one
// made for this plan.
func (s *SavedPlan) nonce() string {
	if s.Apply != nil {
		return s.Apply.Nonce
	}
	return s.Nonce
}

// planKey names a task of a play in a saved plan.
func planKey(play, task string) string { return play + "/" + task }

// recordPlanned notes a task's planned outcome when the plan is saved.
func (w *hostWork) recordPlanned(t *playbooks.Task, status report.Status, d *modules.Diff) {
	r := w.run
	if r.recorder == nil || r.opts.Mode != ModePlan {
		return
	}
	r.recordTask(w.host.Name, planKey(w.play.Name, t.ID), status, d)
}

// recordTask notes one planned entry of a host: a task, a handler
// ("handler:NAME") or an effect an earlier run left ("pending:TASK").
func (r *Run) recordTask(host, id string, status report.Status, d *modules.Diff) {
	if r.recorder == nil || r.opts.Mode != ModePlan {
		return
	}
	pt := plan.Task{ID: id, Status: string(status), Fingerprint: fingerprint(r.opts.Saved, host, id, d)}
	if strings.Contains(id, "/handler:") && d != nil {
		pt.Summary = "notified by " + strings.Join(d.Notes, ", ")
	}
	if !d.Empty() {
		pt.Summary = summarize(d)
		if jd := report.ToJSON(report.Event{Diff: d}).Diff; jd != nil {
			pt.Diff, _ = json.Marshal(jd)
		}
	}
	rec := r.recorder
	rec.mu.Lock()
	defer rec.mu.Unlock()
	h := rec.host(host)
	h.Tasks = append(h.Tasks, pt)
}

// host returns the recorded host (the caller holds mu).
func (rec *planRecorder) host(name string) *plan.Host {
	h := rec.hosts[name]
	if h == nil {
		h = &plan.Host{Name: name}
		rec.hosts[name] = h
	}
	return h
}

// recordPending notes the records of earlier runs a plan found on a host.
func (r *Run) recordPending(host string, records []executor.Record) {
	if r.recorder == nil || r.opts.Mode != ModePlan {
		return
	}
	r.recorder.mu.Lock()
	defer r.recorder.mu.Unlock()
	h := r.recorder.host(host)
	h.Pending = pendingNames(records)
}

// pendingNames returns the records' names, sorted.
func pendingNames(records []executor.Record) []string {
	var names []string
	for _, rec := range records {
		names = append(names, rec.Name)
	}
	sort.Strings(names)
	return names
}

// Planned returns the hosts of a plan that was saved, in inventory order
// (nil unless the run saves its plan). A host that failed or could not be
// read carries its error: apply refuses it.
func (r *Run) Planned(res Result) []plan.Host {
	if r.recorder == nil {
		return nil
	}
	errs := map[string]string{}
	for _, rc := range res.Recaps {
		if rc.Failed > 0 || rc.Unreachable {
			errs[rc.Host] = rc.Error
			if errs[rc.Host] == "" {
				errs[rc.Host] = "a task failed in the plan"
			}
		}
	}
	var out []plan.Host
	for _, h := range r.hosts {
		ph := plan.Host{Name: h.Name, Error: errs[h.Name]}
		if rh := r.recorder.hosts[h.Name]; rh != nil {
			ph.Tasks, ph.Pending = rh.Tasks, rh.Pending
		}
		out = append(out, ph)
	}
	return out
}

// verifySaved checks, before the play changes anything on the host, that
// each of its tasks would do exactly what the saved plan said, from the
// state just read; a host whose state changed since the plan is refused.
func (w *hostWork) verifySaved(ctx context.Context) error {
	saved := w.run.opts.Saved
	if saved == nil || saved.Apply == nil || w.run.opts.Mode != ModeApply {
		return nil
	}
	host := saved.host(w.host.Name)
	if host == nil {
		return fmt.Errorf("the saved plan has no host %s", w.host.Name)
	}
	if host.Error != "" {
		return fmt.Errorf("the saved plan could not plan this host (%s): refused; make a new plan", firstLine(host.Error))
	}
	want := map[string]plan.Task{}
	for _, t := range host.Tasks {
		want[t.ID] = t
	}
	var drift []string
	// What earlier runs left owed (handlers, restarts) is part of what
	// apply does: the same records, or the host is refused.
	if now := pendingNames(w.records); strings.Join(now, " ") != strings.Join(host.Pending, " ") {
		drift = append(drift, fmt.Sprintf("the records of earlier runs on the host (owed handlers and restarts) are not the ones the plan saw: planned %d, now %d", len(host.Pending), len(now)))
	}
	st := w.state
	for _, t := range w.plan.Tasks {
		id := planKey(w.play.Name, t.ID)
		p, ok := want[id]
		if !ok {
			drift = append(drift, t.ID+": not in the plan")
			continue
		}
		if t.Skip {
			if p.Status != string(report.StatusSkipped) {
				drift = append(drift, t.ID+": skipped now, planned "+p.Status)
			}
			continue
		}
		if _, ok := t.Module.(modules.Verifier); ok {
			continue
		}
		d, err := w.check(ctx, t.Module, st)
		if err != nil {
			drift = append(drift, t.ID+": check: "+err.Error())
			continue
		}
		// As in the plan, a later task sees the files as the earlier
		// ones leave them.
		st = afterPlanned(st, d)
		w.withPending(t, d)
		if fingerprint(saved, w.host.Name, id, d) != p.Fingerprint {
			now := "nothing to do"
			if !d.Empty() {
				now = summarize(d)
			}
			was := p.Summary
			if was == "" {
				was = "nothing to do"
			}
			if was == now {
				drift = append(drift, fmt.Sprintf("%s: planned %s, from a state of the host that has changed since", t.ID, was))
			} else {
				drift = append(drift, fmt.Sprintf("%s: planned %s; now %s", t.ID, was, now))
			}
		}
	}
	if len(drift) > 0 {
		sort.Strings(drift)
		msg := "nothing was changed on this host"
		if w.changes != nil && w.changes.changed {
			msg = "nothing more was changed on this host (an earlier play of the run changed it)"
		}
		return fmt.Errorf("changed since the plan: %s; %s, make a new plan", strings.Join(drift, "; "), msg)
	}
	return nil
}

// matchesSaved checks, in an apply of a saved plan, that the diff about
// to be applied is the one the plan holds for the task (the state may have
// been read again after earlier changes): anything else is not applied.
func (w *hostWork) matchesSaved(t *playbooks.Task, d *modules.Diff) error {
	saved := w.run.opts.Saved
	if saved == nil || saved.Apply == nil || w.run.opts.Mode != ModeApply {
		return nil
	}
	id := planKey(w.play.Name, t.ID)
	if h := saved.host(w.host.Name); h != nil {
		for _, p := range h.Tasks {
			if p.ID == id {
				if fingerprint(saved, w.host.Name, id, d) == p.Fingerprint {
					return nil
				}
				return fmt.Errorf("changed since the plan: %s would now do %s, which the plan did not show; not applied", t.ID, summarize(d))
			}
		}
	}
	return fmt.Errorf("changed since the plan: %s is not in the plan; not applied", t.ID)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
