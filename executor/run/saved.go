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
}

// planRecorder collects, in a plan that is saved, each host's tasks.
type planRecorder struct {
	mu    sync.Mutex
	hosts map[string]*plan.Host
}

// fingerprint is the HMAC under key of what d would do: every change with
// the digests of the old and new contents, the unit actions, the command.
// Two diffs have the same fingerprint when apply would do the same thing
// from the same state.
func fingerprint(key plan.Key, d *modules.Diff) string {
	type change struct {
		Attr, Old, New, Path string
		OldSum, NewSum       string
		Sensitive            bool
	}
	var c struct {
		Changes       []change
		Effects       []string
		Run           string
		Unpreviewable bool
	}
	if d != nil {
		for _, ch := range d.Changes {
			x := change{Attr: ch.Attr, Old: ch.Old, New: ch.New, Path: ch.Path, Sensitive: ch.Sensitive}
			if ch.OldContent != nil {
				s := sha256.Sum256(ch.OldContent)
				x.OldSum = hex.EncodeToString(s[:])
			}
			if ch.NewContent != nil {
				s := sha256.Sum256(ch.NewContent)
				x.NewSum = hex.EncodeToString(s[:])
			}
			c.Changes = append(c.Changes, x)
		}
		c.Effects = d.Actions()
		c.Run, c.Unpreviewable = d.Run, d.Unpreviewable
	}
	data, _ := json.Marshal(c)
	return key.Fingerprint(data)
}

// planKey names a task of a play in a saved plan.
func planKey(play, task string) string { return play + "/" + task }

// recordPlanned notes a task's planned outcome when the plan is saved.
func (w *hostWork) recordPlanned(t *playbooks.Task, status report.Status, d *modules.Diff) {
	r := w.run
	if r.recorder == nil || r.opts.Mode != ModePlan {
		return
	}
	pt := plan.Task{ID: planKey(w.play.Name, t.ID), Status: string(status), Fingerprint: fingerprint(r.opts.Saved.Key, d)}
	if !d.Empty() {
		pt.Summary = summarize(d)
		if jd := report.ToJSON(report.Event{Diff: d}).Diff; jd != nil {
			pt.Diff, _ = json.Marshal(jd)
		}
	}
	rec := r.recorder
	rec.mu.Lock()
	defer rec.mu.Unlock()
	h := rec.hosts[w.host.Name]
	if h == nil {
		h = &plan.Host{Name: w.host.Name}
		rec.hosts[w.host.Name] = h
	}
	h.Tasks = append(h.Tasks, pt)
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
			ph.Tasks = rh.Tasks
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
	var host *plan.Host
	for i := range saved.Apply.Hosts {
		if saved.Apply.Hosts[i].Name == w.host.Name {
			host = &saved.Apply.Hosts[i]
		}
	}
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
		d, err := t.Module.Check(ctx, w.target(w.conn, w.state))
		if err != nil {
			drift = append(drift, t.ID+": check: "+err.Error())
			continue
		}
		w.withPending(t, d)
		if fingerprint(saved.Key, d) != p.Fingerprint {
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
		return fmt.Errorf("changed since the plan: %s; nothing was changed on this host, make a new plan", strings.Join(drift, "; "))
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
