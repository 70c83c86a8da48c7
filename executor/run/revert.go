package run

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/modules"
	"github.com/tend-sh/tend/playbooks"
)

// defaultRevertSettle is how long a unit the revert restarts must stay up
// when the run's own restart of it set no settle time.
const defaultRevertSettle = 2 * time.Second

// hostChanges is what a run did on one host, across its plays, that a
// revert must undo: the host keeps the files (executor.Keeping); the
// engine remembers the unit actions and the commands.
type hostChanges struct {
	// changed is set once the run changed anything on the host.
	changed bool
	// effects are the unit actions carried out (or tried) on the host, in
	// order.
	effects []executor.Effect
	// commands are the tasks whose commands ran: a revert cannot undo them.
	commands []string
	// records are the pending records this run stored on the host (and
	// that were not there before it): a revert clears them, the changes
	// that promised them being undone.
	records []string
	// created holds the base names of files the run created: a unit whose
	// unit file is new is stopped and disabled before the file goes.
	created map[string]bool
	// checks are the health checks of the host's plays.
	checks []*playbooks.Task
	// baseline is "" once the health checks passed before the first
	// change, or why they did not; baselined says whether they ran.
	baseline   string
	baselined  bool
	baselineOK bool
}

// applied notes that Apply ran and may have changed the host (err is
// what it returned: a failure known to have changed nothing does not
// count).
func (c *hostChanges) applied(err error) {
	if c != nil && (err == nil || !errors.Is(err, executor.ErrNotChanged)) {
		c.changed = true
	}
}

// applying notes a change the run is about to make on the host: its
// unit actions (carried out or tried), the files it creates, and its
// command (taskID) when it runs one.
func (c *hostChanges) applying(taskID string, d *modules.Diff) {
	if c == nil || d == nil {
		return
	}
	c.effects = append(c.effects, d.Effects...)
	for _, ch := range d.Changes {
		if ch.Attr == "exists" && ch.Old == "absent" && ch.Path != "" {
			if c.created == nil {
				c.created = map[string]bool{}
			}
			c.created[path.Base(ch.Path)] = true
		}
	}
	if d.Run != "" || d.Unpreviewable {
		c.commands = append(c.commands, taskID)
	}
}

// checkBaseline runs the host's health checks once, before the run's first
// change on the host: a revert restores a healthy host, and a host that was
// not healthy before the change is not put back into that state.
func (w *hostWork) checkBaseline(ctx context.Context) {
	c := w.changes
	if c == nil || c.baselined {
		return
	}
	c.baselined = true
	c.baselineOK = true
	for _, t := range c.checks {
		v := t.Module.(modules.Verifier)
		if err := v.Verify(ctx, w.target(w.conn, w.state)); err != nil {
			c.baselineOK = false
			c.baseline = t.ID + ": " + err.Error()
			w.run.emit(report.Event{Type: report.EventHostNote, Play: w.play.Name, Host: w.host.Name, Message: "unhealthy before this run changed anything (" + c.baseline + "): if the run fails on this host, it is not put back into that state"})
			return
		}
	}
}

// revertHost puts back what the run changed on a host that failed: unit
// actions the run started are undone (stopped, disabled), the kept files
// come back, systemd reloads, units the run restarted are restarted and
// must settle, and the health checks must pass again.
func (r *Run) revertHost(ctx context.Context, h *inventory.Host, conn executor.Conn, become bool, c *hostChanges, recap *report.HostRecap) {
	start := time.Now()
	emit := func(status report.Status, d *modules.Diff, msg string) {
		r.emit(report.Event{Type: report.EventTask, Host: h.Name, Task: "revert", Kind: "revert", Status: status, Diff: d, Message: msg, Duration: time.Since(start)})
	}
	if !c.baselineOK && c.baselined {
		recap.RevertError = "not reverted: the host was not healthy before this run changed it (" + c.baseline + ")"
		emit(report.StatusFailed, nil, recap.RevertError)
		return
	}
	var problems []string
	pre, post := revertEffects(c.effects, c.created)
	if len(pre) > 0 {
		st, err := executor.Gather(ctx, conn, executor.Request{Effects: pre, Become: become})
		if err == nil {
			if fe := st.FailedEffect(); fe != nil {
				err = errors.New(fe.Error())
			}
		}
		if err != nil {
			problems = append(problems, "undoing unit actions: "+err.Error())
		}
	}
	reverted, err := executor.Revert(ctx, conn, r.runID, become)
	if err != nil {
		problems = append(problems, err.Error())
	}
	d := &modules.Diff{}
	for _, p := range reverted {
		if p.Err != "" {
			problems = append(problems, p.Path+": "+p.Err)
			continue
		}
		d.Changes = append(d.Changes, modules.Change{Attr: "reverted", Path: p.Path, New: p.Path})
	}
	// Unit files may have come back: systemd reads them again when the run
	// acted on units at all.
	if len(c.effects) > 0 {
		post = append([]executor.Effect{{Kind: executor.EffectDaemonReload}}, post...)
	}
	d.Effects = append(pre, post...)
	if (len(post) > 0 || len(c.records) > 0) && err == nil {
		st, gerr := executor.Gather(ctx, conn, executor.Request{Effects: post, Clear: c.records, Become: become})
		if gerr == nil {
			if fe := st.FailedEffect(); fe != nil {
				gerr = errors.New(fe.Error())
			}
		}
		if gerr != nil {
			problems = append(problems, gerr.Error())
		}
	}
	if len(problems) == 0 {
		for _, t := range c.checks {
			v := t.Module.(modules.Verifier)
			st := &executor.State{}
			if err := v.Verify(ctx, &modules.Target{Host: h.Name, Address: h.Address, Conn: conn, State: st, Become: become}); err != nil {
				problems = append(problems, "after the revert, "+t.ID+" still fails: "+err.Error())
			}
		}
	}
	undone := ""
	if len(c.commands) > 0 {
		undone = "commands cannot be undone; these ran and stay done: " + strings.Join(c.commands, ", ")
		d.Notes = append(d.Notes, undone)
	}
	if len(problems) > 0 {
		if undone != "" {
			problems = append(problems, undone)
		}
		recap.RevertError = strings.Join(problems, "; ")
		emit(report.StatusFailed, d, "REVERT FAILED: "+recap.RevertError)
		return
	}
	recap.Reverted = true
	msg := fmt.Sprintf("put back %d path(s) this run changed", len(d.Changes))
	if len(c.checks) > 0 {
		msg += "; health checks pass"
	}
	if undone != "" {
		msg += "; " + undone
	}
	emit(report.StatusChanged, d, msg)
}

// revertEffects returns the unit actions that undo effects: pre run before
// the files come back (stop what the run started, disable what it
// enabled: their unit files may go), post after them and a daemon-reload
// (restart what the run restarted or reloaded, start what it stopped,
// enable what it disabled), each unit once, in the order the run first
// acted on it.
//
// A unit whose unit file the run created goes away with it: it is only
// stopped (when the run started or restarted it) and disabled (when the
// run enabled it).
func revertEffects(effects []executor.Effect, created map[string]bool) (pre, post []executor.Effect) {
	seen := map[string]bool{}
	for _, e := range effects {
		if e.Unit == "" {
			continue
		}
		if created[e.Unit] {
			switch e.Kind {
			case executor.EffectStart, executor.EffectRestart, executor.EffectReload:
				e = executor.Effect{Kind: executor.EffectStart, Unit: e.Unit}
			case executor.EffectEnable:
			default:
				continue
			}
		}
		key := string(e.Kind) + " " + e.Unit
		if seen[key] {
			continue
		}
		seen[key] = true
		settle := e.Settle
		if settle == 0 {
			settle = defaultRevertSettle
		}
		switch e.Kind {
		case executor.EffectStart:
			pre = append(pre, executor.Effect{Kind: executor.EffectStop, Unit: e.Unit})
		case executor.EffectEnable:
			pre = append(pre, executor.Effect{Kind: executor.EffectDisable, Unit: e.Unit})
		case executor.EffectDisable:
			post = append(post, executor.Effect{Kind: executor.EffectEnable, Unit: e.Unit})
		case executor.EffectStop:
			post = append(post, executor.Effect{Kind: executor.EffectResetFailed, Unit: e.Unit},
				executor.Effect{Kind: executor.EffectStart, Unit: e.Unit, Settle: settle})
		case executor.EffectRestart, executor.EffectReload:
			if seen["restart "+e.Unit] && seen["reload "+e.Unit] {
				continue
			}
			post = append(post, executor.Effect{Kind: executor.EffectResetFailed, Unit: e.Unit},
				executor.Effect{Kind: executor.EffectRestart, Unit: e.Unit, Settle: settle})
		}
	}
	// A unit the run started is stopped: it is not also restarted.
	stopped := map[string]bool{}
	for _, e := range pre {
		if e.Kind == executor.EffectStop {
			stopped[e.Unit] = true
		}
	}
	var keep []executor.Effect
	for _, e := range post {
		if !stopped[e.Unit] || e.Kind == executor.EffectEnable {
			keep = append(keep, e)
		}
	}
	return pre, keep
}
