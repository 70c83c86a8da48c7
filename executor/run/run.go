// Package run drives a tend run: it instantiates every play for every
// selected host (offline, before any connection), then works on the hosts in
// parallel — connect once, gather all state in one batch, Check each task,
// and in apply mode Apply the very Diff that Check returned, verify it, flush
// notified handlers and run health checks. It reports through events; it
// never prints.
package run

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/modules"
	"github.com/tend-sh/tend/playbooks"
)

// Mode says whether a run only plans or also applies.
type Mode string

// The run modes.
const (
	ModePlan  Mode = "plan"
	ModeApply Mode = "apply"
)

// DefaultForks is how many hosts are worked on at once unless told otherwise.
const DefaultForks = 20

// Dialer opens the connection to one host.
type Dialer func(ctx context.Context, h *inventory.Host) (executor.Conn, error)

// Options configure a run.
type Options struct {
	Mode      Mode
	Inventory *inventory.Inventory
	Playbook  *playbooks.Playbook
	// Limit restricts the run to hosts matching these patterns (--limit).
	Limit []string
	// Forks is how many hosts run in parallel; DefaultForks when zero.
	Forks int
	// Sink receives the events; nil discards them.
	Sink report.Sink
	// Dial connects to a host.
	Dial Dialer
	// Now returns the current time (tests pin it); time.Now when nil.
	Now func() time.Time
}

// Run is a prepared run: every play instantiated for every host, validated,
// and ready to execute.
type Run struct {
	opts  Options
	hosts []*inventory.Host
	work  map[string][]hostPlay
}

// hostPlay is one play's tasks instantiated for one host.
type hostPlay struct {
	play *playbooks.Play
	plan *playbooks.HostPlan
}

// Prepare validates the playbook against the inventory and instantiates every
// play for every selected host. It makes no connection. Diagnostics are
// collected across all plays and hosts.
func Prepare(opts Options) (*Run, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	if opts.Inventory == nil || opts.Playbook == nil {
		return nil, diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Nothing to run", Detail: "A run needs an inventory and a playbook."})
	}
	if opts.Forks <= 0 {
		opts.Forks = DefaultForks
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	diags = append(diags, opts.Playbook.Validate(opts.Inventory)...)
	if diags.HasErrors() {
		return nil, diags
	}
	var limited map[string]bool
	if len(opts.Limit) > 0 {
		hosts, err := opts.Inventory.Select(opts.Limit)
		if err != nil {
			return nil, diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid --limit", Detail: err.Error()})
		}
		limited = map[string]bool{}
		for _, h := range hosts {
			limited[h.Name] = true
		}
	}
	r := &Run{opts: opts, work: map[string][]hostPlay{}}
	seen := map[string]bool{}
	for _, play := range opts.Playbook.Plays {
		hosts, err := opts.Inventory.Select(play.HostPatterns)
		if err != nil {
			diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid hosts pattern", Detail: err.Error(), Subject: play.Range.Ptr()})
			continue
		}
		for _, h := range hosts {
			if limited != nil && !limited[h.Name] {
				continue
			}
			plan, d := opts.Playbook.Instantiate(play, h)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			r.work[h.Name] = append(r.work[h.Name], hostPlay{play: play, plan: plan})
			seen[h.Name] = true
		}
	}
	// Hosts in inventory order.
	for _, h := range opts.Inventory.Hosts {
		if seen[h.Name] {
			r.hosts = append(r.hosts, h)
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return r, diags
}

// Hosts returns the hosts the run will work on, in inventory order.
func (r *Run) Hosts() []*inventory.Host { return r.hosts }

// Result summarises a finished run.
type Result struct {
	Mode   Mode
	Recaps []report.HostRecap
}

// Pending reports whether a plan found changes (or commands that will run).
func (res Result) Pending() bool {
	for _, h := range res.Recaps {
		if h.Changed > 0 {
			return true
		}
	}
	return false
}

// Failed counts hosts with a failed task.
func (res Result) Failed() int {
	n := 0
	for _, h := range res.Recaps {
		if h.Failed > 0 && !h.Unreachable {
			n++
		}
	}
	return n
}

// Unreachable counts hosts that could not be reached.
func (res Result) Unreachable() int {
	n := 0
	for _, h := range res.Recaps {
		if h.Unreachable {
			n++
		}
	}
	return n
}

// Execute works on every host, at most Forks at once, and returns when all
// are done. One host's failure never stops the others.
func (r *Run) Execute(ctx context.Context) Result {
	names := make([]string, len(r.hosts))
	for i, h := range r.hosts {
		names[i] = h.Name
	}
	r.emit(report.Event{Type: report.EventRunStart, Hosts: names})
	recaps := make([]report.HostRecap, len(r.hosts))
	sem := make(chan struct{}, r.opts.Forks)
	var wg sync.WaitGroup
	for i, h := range r.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				recaps[i] = report.HostRecap{Host: h.Name, Failed: 1, Error: "interrupted before start"}
				r.emit(report.Event{Type: report.EventHostDone, Host: h.Name, Status: report.StatusFailed, Message: recaps[i].Error, Recap: []report.HostRecap{recaps[i]}})
				return
			}
			defer func() { <-sem }()
			recaps[i] = r.runHost(ctx, h)
		}()
	}
	wg.Wait()
	res := Result{Mode: r.opts.Mode, Recaps: recaps}
	r.emit(report.Event{Type: report.EventRecap, Recap: recaps})
	return res
}

func (r *Run) emit(e report.Event) {
	if r.opts.Sink == nil {
		return
	}
	e.Time = r.opts.Now()
	e.Mode = string(r.opts.Mode)
	r.opts.Sink.Emit(e)
}

// runHost connects to one host and runs its plays. It recovers from panics
// in modules so that one broken host never takes the run down.
func (r *Run) runHost(ctx context.Context, h *inventory.Host) (recap report.HostRecap) {
	start := time.Now()
	recap.Host = h.Name
	r.emit(report.Event{Type: report.EventHostStart, Host: h.Name})
	var conn executor.Conn
	defer func() {
		if p := recover(); p != nil {
			recap.Failed++
			recap.Error = fmt.Sprintf("internal error: %v", p)
		}
		if conn != nil {
			recap.RoundTrips = conn.Stats().RoundTrips
			conn.Close()
		}
		recap.Duration = time.Since(start)
		status := report.StatusOK
		switch {
		case recap.Unreachable:
			status = report.StatusUnreachable
		case recap.Failed > 0:
			status = report.StatusFailed
		case recap.Changed > 0:
			status = report.StatusChanged
		}
		r.emit(report.Event{Type: report.EventHostDone, Host: h.Name, Status: status, Message: recap.Error, Duration: recap.Duration, Recap: []report.HostRecap{recap}})
	}()

	var err error
	conn, err = r.opts.Dial(ctx, h)
	if err != nil {
		conn = nil
		if errors.Is(err, executor.ErrUnreachable) {
			recap.Unreachable = true
		} else {
			recap.Failed++
		}
		recap.Error = err.Error()
		return recap
	}
	for _, hp := range r.work[h.Name] {
		w := &hostWork{run: r, host: h, conn: conn, play: hp.play, plan: hp.plan, recap: &recap}
		if err := w.runPlay(ctx); err != nil {
			if recap.Error == "" {
				recap.Error = err.Error()
			}
			if errors.Is(err, executor.ErrUnreachable) {
				recap.Unreachable = true
			}
			break
		}
	}
	return recap
}

// hostWork runs one play on one host.
type hostWork struct {
	run   *Run
	host  *inventory.Host
	conn  executor.Conn
	play  *playbooks.Play
	plan  *playbooks.HostPlan
	recap *report.HostRecap

	// dirty is set once anything changed on the host in this play: later
	// tasks then re-read their state instead of trusting the first batch.
	dirty bool
	// pending holds the handlers notified since the last flush, in
	// notification order; notifiedBy the tasks that notified each. A
	// handler notified again after a flush runs again at the next one.
	pending    []string
	notifiedBy map[string][]string
}

func (w *hostWork) become() bool {
	if w.play.Become != nil {
		return *w.play.Become
	}
	return w.host.Become
}

func (w *hostWork) target(state *executor.State) *modules.Target {
	return &modules.Target{Host: w.host.Name, Address: w.host.Address, Conn: w.conn, State: state, Become: w.become()}
}

func (w *hostWork) emitTask(typ report.EventType, t *playbooks.Task, status report.Status, d *modules.Diff, msg string, dur time.Duration) {
	w.run.emit(report.Event{
		Type: typ, Play: w.play.Name, Host: w.host.Name, Task: t.ID, Kind: t.Kind, Name: t.Name,
		Status: status, Diff: d, Message: msg, Duration: dur,
	})
}

func (w *hostWork) gather(ctx context.Context, tasks ...*playbooks.Task) (*executor.State, error) {
	var probes []executor.Probe
	for _, t := range tasks {
		if t.Skip {
			continue
		}
		probes = append(probes, t.Module.Probes()...)
	}
	st, err := executor.Gather(ctx, w.conn, probes, w.become())
	if err != nil {
		return nil, fmt.Errorf("%s: reading state: %w", w.host.Name, err)
	}
	return st, nil
}

func (w *hostWork) notify(t *playbooks.Task) {
	if w.notifiedBy == nil {
		w.notifiedBy = map[string][]string{}
	}
	for _, name := range t.Notify {
		if len(w.notifiedBy[name]) == 0 {
			w.pending = append(w.pending, name)
		}
		w.notifiedBy[name] = append(w.notifiedBy[name], t.ID)
	}
}

// runPlay runs the play's tasks on the host. It returns an error when the
// host must stop (a failed task or a lost connection).
func (w *hostWork) runPlay(ctx context.Context) error {
	state, err := w.gather(ctx, w.plan.Tasks...)
	if err != nil {
		w.recap.Failed++
		return err
	}
	apply := w.run.opts.Mode == ModeApply
	for _, t := range w.plan.Tasks {
		if err := ctx.Err(); err != nil {
			w.recap.Failed++
			return fmt.Errorf("interrupted before %s: %w", t.ID, err)
		}
		if t.Skip {
			w.recap.Skipped++
			w.emitTask(report.EventTask, t, report.StatusSkipped, nil, "when condition is false", 0)
			continue
		}
		if err := w.runTask(ctx, t, &state, apply); err != nil {
			w.dropHandlers(apply)
			return err
		}
	}
	return w.flushHandlers(ctx, apply)
}

// dropHandlers reports the handlers still pending when the host stopped.
// The changes that notified them are applied, so a later run will not
// notify them again: the message says so, loudly.
func (w *hostWork) dropHandlers(apply bool) {
	if !apply {
		return
	}
	for _, name := range w.pending {
		h := w.plan.Handlers[name]
		if h == nil {
			continue
		}
		w.recap.Skipped++
		w.run.emit(report.Event{
			Type: report.EventHandler, Play: w.play.Name, Host: w.host.Name, Task: h.ID, Kind: h.Kind, Name: name,
			Status: report.StatusSkipped, NotifiedBy: w.notifiedBy[name],
			Message: "NOT RUN: the host failed first; the changes that notified it are already applied, so the next run will not notify it again — run it by hand",
		})
	}
	w.pending = nil
}

func (w *hostWork) runTask(ctx context.Context, t *playbooks.Task, state **executor.State, apply bool) error {
	start := time.Now()
	fail := func(d *modules.Diff, err error) error {
		w.recap.Failed++
		w.emitTask(report.EventTask, t, report.StatusFailed, d, err.Error(), time.Since(start))
		return fmt.Errorf("%s: %w", t.ID, err)
	}

	if v, ok := t.Module.(modules.Verifier); ok {
		if !apply {
			w.recap.Skipped++
			w.emitTask(report.EventTask, t, report.StatusSkipped, nil, "verified on apply: "+describe(t.Module), 0)
			return nil
		}
		// Verify what the host runs after notified restarts.
		if err := w.flushHandlers(ctx, apply); err != nil {
			return err
		}
		if err := v.Verify(ctx, w.target(*state)); err != nil {
			return fail(nil, err)
		}
		w.recap.OK++
		w.emitTask(report.EventTask, t, report.StatusOK, nil, "passed: "+describe(t.Module), time.Since(start))
		return nil
	}

	if apply && w.dirty && len(t.Module.Probes()) > 0 {
		st, err := w.gather(ctx, t)
		if err != nil {
			return fail(nil, err)
		}
		*state = st
	}
	d, err := t.Module.Check(ctx, w.target(*state))
	if err != nil {
		return fail(nil, fmt.Errorf("check: %w", err))
	}
	if d.Empty() {
		w.recap.OK++
		w.emitTask(report.EventTask, t, report.StatusOK, d, noteLine(d), time.Since(start))
		return nil
	}
	if !apply {
		w.recap.Changed++
		status := report.StatusChange
		if d.Unpreviewable {
			status = report.StatusWillRun
		}
		w.notify(t)
		w.emitTask(report.EventTask, t, status, d, noteLine(d), time.Since(start))
		return nil
	}

	w.dirty = true
	if err := t.Module.Apply(ctx, w.target(*state), d); err != nil {
		return fail(d, fmt.Errorf("apply: %w", err))
	}
	if !d.Unpreviewable {
		// Check again: the host must now be in the declared state.
		st, err := w.gather(ctx, t)
		if err != nil {
			return fail(d, err)
		}
		*state = st
		again, err := t.Module.Check(ctx, w.target(st))
		if err != nil {
			return fail(d, fmt.Errorf("check after apply: %w", err))
		}
		if !again.Empty() {
			return fail(again, fmt.Errorf("host still differs after apply: %s", summarize(again)))
		}
	}
	w.recap.Changed++
	w.notify(t)
	w.emitTask(report.EventTask, t, report.StatusChanged, d, noteLine(d), time.Since(start))
	return nil
}

// flushHandlers runs the notified handlers once each, in declaration order.
// In plan mode it reports them as "will run".
func (w *hostWork) flushHandlers(ctx context.Context, apply bool) error {
	if len(w.pending) == 0 {
		return nil
	}
	names := append([]string(nil), w.pending...)
	w.pending = nil
	sort.SliceStable(names, func(i, j int) bool {
		return handlerOrder(w.plan, names[i]) < handlerOrder(w.plan, names[j])
	})
	for _, name := range names {
		h := w.plan.Handlers[name]
		notified := w.notifiedBy[name]
		delete(w.notifiedBy, name)
		if h == nil || h.Module == nil {
			continue
		}
		start := time.Now()
		ev := func(status report.Status, d *modules.Diff, msg string) {
			w.run.emit(report.Event{
				Type: report.EventHandler, Play: w.play.Name, Host: w.host.Name, Task: h.ID, Kind: h.Kind, Name: name,
				Status: status, Diff: d, Message: msg, Duration: time.Since(start), NotifiedBy: notified,
			})
		}
		if !apply {
			w.recap.Changed++
			ev(report.StatusWillRun, nil, "notified")
			continue
		}
		// A handler may run more than once per play (notified again after
		// a flush): each run gets a freshly decoded module.
		m, err := h.Renew()
		if err != nil {
			w.recap.Failed++
			ev(report.StatusFailed, nil, err.Error())
			return err
		}
		st, err := w.gather(ctx, h)
		if err != nil {
			w.recap.Failed++
			ev(report.StatusFailed, nil, err.Error())
			return err
		}
		d, err := m.Check(ctx, w.target(st))
		if err == nil && !d.Empty() {
			err = m.Apply(ctx, w.target(st), d)
		}
		if err != nil {
			w.recap.Failed++
			ev(report.StatusFailed, d, err.Error())
			return fmt.Errorf("handler %s: %w", name, err)
		}
		if d.Empty() {
			w.recap.OK++
			ev(report.StatusOK, d, "")
			continue
		}
		w.dirty = true
		w.recap.Changed++
		ev(report.StatusChanged, d, "")
	}
	return nil
}

func handlerOrder(p *playbooks.HostPlan, name string) int {
	h := p.Handlers[name]
	if h == nil {
		return 1 << 30
	}
	return h.Range.Start.Byte
}

// describer is implemented by modules that can say in a few words what
// they do (health checks).
type describer interface{ Describe() string }

func describe(m modules.Module) string {
	if d, ok := m.(describer); ok {
		return d.Describe()
	}
	return ""
}

func noteLine(d *modules.Diff) string {
	if d == nil || len(d.Notes) == 0 {
		return ""
	}
	return d.Notes[0]
}

// summarize names the attributes and actions a diff still holds.
func summarize(d *modules.Diff) string {
	s := ""
	for _, c := range d.Changes {
		if s != "" {
			s += ", "
		}
		s += c.Attr
		if !c.Sensitive && c.Attr != "content" {
			s += fmt.Sprintf(" %q → %q", c.Old, c.New)
		}
	}
	for _, a := range d.Actions {
		if s != "" {
			s += ", "
		}
		s += a
	}
	return s
}

// SetDialer sets how hosts are connected to (after Prepare, which needs none).
func (r *Run) SetDialer(d Dialer) { r.opts.Dial = d }

// SetSink sets where events go.
func (r *Run) SetSink(s report.Sink) { r.opts.Sink = s }

// TaskCount returns how many task instances (handlers included) the run holds
// for a host.
func (r *Run) TaskCount(host string) int {
	n := 0
	for _, hp := range r.work[host] {
		n += len(hp.plan.Tasks) + len(hp.plan.Handlers)
	}
	return n
}
