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
	// changed is set once the run changed anything on the host; contexts
	// holds the become settings of the plays that did (each keeps what it
	// changes in the state directory of the user it works as).
	changed  bool
	contexts []bool
	// effects are the unit actions carried out (or tried) on the host, in
	// order.
	effects []executor.Effect
	// commands are the tasks whose commands ran, in order; undos the
	// commands that undo them (by task ID), for those that declare one.
	commands []string
	undos    map[string]executor.Command
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

// unitDirs are where unit files live: a new file there is a new unit.
var unitDirs = map[string]bool{
	"/etc/systemd/system": true, "/run/systemd/system": true,
	"/usr/lib/systemd/system": true, "/lib/systemd/system": true, "/usr/local/lib/systemd/system": true,
}

// applied notes that Apply ran and may have changed the host (err is
// what it returned: a failure known to have changed nothing does not
// count).
func (c *hostChanges) applied(become bool, err error) {
	if c == nil || (err != nil && errors.Is(err, executor.ErrNotChanged)) {
		return
	}
	c.changed = true
	for _, b := range c.contexts {
		if b == become {
			return
		}
	}
	c.contexts = append(c.contexts, become)
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
		if ch.Attr == "exists" && ch.Old == "absent" && unitDirs[path.Dir(ch.Path)] {
			if c.created == nil {
				c.created = map[string]bool{}
			}
			c.created[path.Base(ch.Path)] = true
		}
	}
	if d.Run != "" || d.Unpreviewable || d.Beyond {
		c.commands = append(c.commands, taskID)
	}
}

// undoable notes the command that undoes task taskID's command.
func (c *hostChanges) undoable(taskID string, m modules.Module, t *modules.Target) {
	if c == nil {
		return
	}
	if u, ok := m.(modules.Undoer); ok {
		if cmd, ok := u.Undo(t); ok {
			if c.undos == nil {
				c.undos = map[string]executor.Command{}
			}
			c.undos[taskID] = cmd
		}
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
	// Unit actions need the privileges the run had for any of its changes.
	for _, b := range c.contexts {
		become = become || b
	}
	if len(pre) > 0 {
		st, err := executor.Gather(ctx, conn, executor.Request{Effects: pre, Become: become})
		if err := effectsError(st, err); err != nil {
			problems = append(problems, "undoing unit actions: "+err.Error())
		}
	}
	// Commands that declare an undo are undone first, newest first; the
	// others stay done, and the revert says so.
	var stayDone []string
	for i := len(c.commands) - 1; i >= 0; i-- {
		id := c.commands[i]
		cmd, ok := c.undos[id]
		if !ok {
			stayDone = append([]string{id}, stayDone...)
			continue
		}
		res, err := conn.Run(ctx, cmd)
		switch {
		case err != nil:
			problems = append(problems, "undo of "+id+": "+err.Error())
		case res.ExitCode != 0:
			problems = append(problems, fmt.Sprintf("undo of %s exited with status %d: %s", id, res.ExitCode, strings.TrimSpace(string(res.Stderr))))
		}
	}

	// Each context the run changed the host in kept its own paths: the
	// last one to change first.
	d := &modules.Diff{}
	var err error
	for i := len(c.contexts) - 1; i >= 0; i-- {
		reverted, rerr := executor.Revert(ctx, conn, r.runID, c.contexts[i])
		if rerr != nil {
			problems = append(problems, rerr.Error())
			err = rerr
		}
		for _, p := range reverted {
			if p.Err != "" {
				problems = append(problems, p.Path+": "+p.Err)
				continue
			}
			d.Changes = append(d.Changes, modules.Change{Attr: "reverted", Path: p.Path, New: p.Path})
		}
	}
	// What the undone changes promised is owed no more — once every path
	// is back.
	clearRecords := c.records
	if len(problems) > 0 {
		clearRecords = nil
	}
	// Unit files may have come back: systemd reads them again when the run
	// acted on units at all.
	if len(c.effects) > 0 {
		post = append([]executor.Effect{{Kind: executor.EffectDaemonReload}}, post...)
	}
	d.Effects = append(pre, post...)
	if (len(post) > 0 || len(clearRecords) > 0) && err == nil {
		st, gerr := executor.Gather(ctx, conn, executor.Request{Effects: post, Clear: clearRecords, Become: become})
		if gerr := effectsError(st, gerr); gerr != nil {
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
	if len(stayDone) > 0 {
		undone = "changes without an undo cannot be undone; these were made and stay done: " + strings.Join(stayDone, ", ")
		d.Notes = append(d.Notes, undone)
	}
	if n := len(c.commands) - len(stayDone); n > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("%d change(s) undone by their undo", n))
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
// enable what it disabled). What a unit was before the run is told by the
// first action the run took on it: of start, stop, restart and reload the
// first, of enable and disable the first. Units are undone in the order
// the run first acted on them.
//
// A unit whose unit file the run created goes away with it: it is only
// stopped (when the run started or restarted it) and disabled (when the
// run enabled it).
func revertEffects(effects []executor.Effect, created map[string]bool) (pre, post []executor.Effect) {
	type firsts struct{ run, enable *executor.Effect }
	var order []string
	units := map[string]*firsts{}
	for i := range effects {
		e := &effects[i]
		if e.Unit == "" {
			continue
		}
		f := units[e.Unit]
		if f == nil {
			f = &firsts{}
			units[e.Unit] = f
			order = append(order, e.Unit)
		}
		switch e.Kind {
		case executor.EffectStart, executor.EffectStop, executor.EffectRestart, executor.EffectReload:
			if f.run == nil {
				f.run = e
			}
		case executor.EffectEnable, executor.EffectDisable:
			if f.enable == nil {
				f.enable = e
			}
		}
	}
	for _, u := range order {
		f := units[u]
		settle := defaultRevertSettle
		if f.run != nil && f.run.Settle > 0 {
			settle = f.run.Settle
		}
		if created[u] {
			if f.enable != nil && f.enable.Kind == executor.EffectEnable {
				pre = append(pre, executor.Effect{Kind: executor.EffectDisable, Unit: u})
			}
			if f.run != nil && f.run.Kind != executor.EffectStop {
				pre = append(pre, executor.Effect{Kind: executor.EffectStop, Unit: u})
			}
			continue
		}
		if f.enable != nil {
			if f.enable.Kind == executor.EffectEnable {
				pre = append(pre, executor.Effect{Kind: executor.EffectDisable, Unit: u})
			} else {
				post = append(post, executor.Effect{Kind: executor.EffectEnable, Unit: u})
			}
		}
		if f.run != nil {
			switch f.run.Kind {
			case executor.EffectStart:
				pre = append(pre, executor.Effect{Kind: executor.EffectStop, Unit: u})
			default: // stop, restart, reload: it ran before the run
				post = append(post, executor.Effect{Kind: executor.EffectResetFailed, Unit: u},
					executor.Effect{Kind: executor.EffectRestart, Unit: u, Settle: settle})
			}
		}
	}
	return pre, post
}
