// Package run drives a tend run: it instantiates every play for every
// selected host (offline, before any connection), then works on the hosts in
// parallel — connect once; in apply, take the host's run lock and read all
// state in the same round trip; Check each task, and in apply Apply the very
// Diff that Check returned, run its unit effects (recorded as pending on the
// host before the change, settle-checked after) together with the re-check,
// flush notified handlers and run health checks. It reports through
// events; it never prints.
package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/plan"
	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/executor/rollout"
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

// DefaultForks is how many hosts are worked on at once unless told
// otherwise. On real networks a host's run is bound by round trips (about
// ten to connect, authenticate, read the state under the run lock and check
// the service), not by the controller's CPU (about 3.5 ms per no-op host):
// at 100 ms per round trip a host takes about a second, so 20 at once leave
// a 2-CPU controller mostly idle (1,000 hosts: 6.8 s at 20 against 2.7 s at
// 100, measured in issue 9), while each host in flight costs about 0.3 MiB
// (test/simfleet: 59 MiB at 20, 84 MiB at 100, 118 MiB at 200 for 1,000
// hosts) and the controller's CPU per host does not grow up to 100. Above
// that CPU per host rises (memory traffic, scheduling), and executor bounds
// concurrent handshakes by itself (MaxHandshakes).
const DefaultForks = 100

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
	// Rollout holds the command line's rollout settings; they win over
	// the plays' rollout blocks.
	Rollout RolloutFlags
	// Saved, when set, makes a plan record what it finds for saving, or an
	// apply match a saved plan host by host.
	Saved *SavedPlan
}

// RolloutFlags are the command line's rollout settings; nil or false
// fields are not given.
type RolloutFlags struct {
	Canary      *int
	Batch       *rollout.Size
	MaxFailures *rollout.Size
	NoRevert    bool
}

// Run is a prepared run: every play instantiated for every host, validated,
// and ready to execute.
type Run struct {
	opts  Options
	hosts []*inventory.Host
	// work is each host's plays; Execute drops a host's entry once the
	// host is done (workMu guards it while hosts run).
	work   map[string][]hostPlay
	workMu sync.Mutex
	policy rollout.Policy
	// runID names the run on the hosts (what it kept for a revert).
	runID string
	// recorder collects a plan that is saved.
	recorder *planRecorder
}

// hostPlay is one play's tasks instantiated for one host.
type hostPlay struct {
	play *playbooks.Play
	plan *playbooks.HostPlan
	// dirty is set once the play changed something on the host.
	dirty bool
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
		if limited != nil {
			var kept []*inventory.Host
			for _, h := range hosts {
				if limited[h.Name] {
					kept = append(kept, h)
				}
			}
			hosts = kept
		}
		for i, inst := range instantiateAll(opts.Playbook, play, hosts) {
			diags = append(diags, inst.diags...)
			if inst.diags.HasErrors() {
				continue
			}
			h := hosts[i]
			r.work[h.Name] = append(r.work[h.Name], hostPlay{play: play, plan: inst.plan})
			seen[h.Name] = true
		}
	}
	// Hosts in inventory order.
	for _, h := range opts.Inventory.Hosts {
		if seen[h.Name] {
			r.hosts = append(r.hosts, h)
		}
	}
	r.policy, diags = rolloutPolicy(opts, diags)
	diags = r.prepareDrills(diags)
	if opts.Saved != nil && opts.Mode == ModePlan {
		r.recorder = &planRecorder{hosts: map[string]*plan.Host{}}
	}
	r.runID = fmt.Sprintf("%s-%d", opts.Now().UTC().Format("20060102T150405Z"), os.Getpid())
	if diags.HasErrors() {
		return nil, diags
	}
	return r, diags
}

// instantiation is one play instantiated for one host.
type instantiation struct {
	plan  *playbooks.HostPlan
	diags hcl.Diagnostics
}

// instantiateAll instantiates play for each of hosts, on all the CPUs the
// process may use (a large fleet's instantiation is most of Prepare's
// time, before any host is contacted), and returns the results in hosts'
// order, so that the diagnostics come in the same order whatever the
// scheduling. Instantiation is safe for concurrent use: hosts of a play
// that needs facts are instantiated while the run goes, in parallel.
func instantiateAll(pb *playbooks.Playbook, play *playbooks.Play, hosts []*inventory.Host) []instantiation {
	out := make([]instantiation, len(hosts))
	workers := min(runtime.GOMAXPROCS(0), len(hosts))
	if workers <= 1 {
		for i, h := range hosts {
			out[i].plan, out[i].diags = pb.Instantiate(play, h)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(hosts) {
					return
				}
				out[i].plan, out[i].diags = pb.Instantiate(play, hosts[i])
			}
		})
	}
	wg.Wait()
	return out
}

// rolloutPolicy merges the plays' rollout blocks (they must agree: a run
// rolls out once) and the command line's settings.
func rolloutPolicy(opts Options, diags hcl.Diagnostics) (rollout.Policy, hcl.Diagnostics) {
	p := rollout.Policy{Revert: true}
	var from *playbooks.Rollout
	var fromPlay string
	for _, play := range opts.Playbook.Plays {
		r := play.Rollout
		if r == nil {
			continue
		}
		if from != nil && !sameRollout(from, r) {
			diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Conflicting rollout blocks",
				Detail:  fmt.Sprintf("Play %q rolls out differently from play %q (at %s): a run changes its hosts in one rollout. Give the plays the same rollout block, or run them separately.", play.Name, fromPlay, from.Range),
				Subject: r.Range.Ptr()})
			continue
		}
		from, fromPlay = r, play.Name
	}
	if from != nil {
		if from.Canary != nil {
			p.Canary = *from.Canary
		}
		if from.Batch != nil {
			p.Batch = *from.Batch
		}
		if from.MaxFailures != nil {
			p.MaxFailures = *from.MaxFailures
		}
		if from.Revert != nil {
			p.Revert = *from.Revert
		}
	}
	f := opts.Rollout
	if f.Canary != nil {
		p.Canary = *f.Canary
	}
	if f.Batch != nil {
		p.Batch = *f.Batch
	}
	if f.MaxFailures != nil {
		p.MaxFailures = *f.MaxFailures
	}
	if f.NoRevert {
		p.Revert = false
	}
	return p, diags
}

func sameRollout(a, b *playbooks.Rollout) bool {
	eqInt := func(x, y *int) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	eqSize := func(x, y *rollout.Size) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	eqBool := func(x, y *bool) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eqInt(a.Canary, b.Canary) && eqSize(a.Batch, b.Batch) && eqSize(a.MaxFailures, b.MaxFailures) && eqBool(a.Revert, b.Revert)
}

// Policy returns how the run rolls out (apply) its changes.
func (r *Run) Policy() rollout.Policy { return r.policy }

// Hosts returns the hosts the run will work on, in inventory order.
func (r *Run) Hosts() []*inventory.Host { return r.hosts }

// Only narrows the run to the hosts for which keep is true (a shard of
// them, --shard). Rollout groups are made at Execute, from the hosts left.
func (r *Run) Only(keep func(name string) bool) {
	var hosts []*inventory.Host
	for _, h := range r.hosts {
		if keep(h.Name) {
			hosts = append(hosts, h)
			continue
		}
		delete(r.work, h.Name)
	}
	r.hosts = hosts
}

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

// NotStarted counts hosts the rollout never started (it halted).
func (res Result) NotStarted() int {
	n := 0
	for _, h := range res.Recaps {
		if h.NotStarted {
			n++
		}
	}
	return n
}

// Interrupted reports whether the run was interrupted (Ctrl-C, SIGTERM).
func (res Result) Interrupted() bool {
	for _, h := range res.Recaps {
		if h.Interrupted {
			return true
		}
	}
	return false
}

// Internal reports whether tend itself failed on a host (a bug).
func (res Result) Internal() bool {
	for _, h := range res.Recaps {
		if h.Internal {
			return true
		}
	}
	return false
}

// Execute works on every host, at most Forks at once, and returns when all
// are done. In apply, hosts start in the rollout's groups (a canary group,
// then batches), each group finishing before the next starts; once more
// hosts failed than the rollout tolerates, no host is started any more and
// those left are reported "not started". Otherwise one host's failure
// never stops the others. When ctx ends (Ctrl-C), no host is started any
// more, running commands are stopped on their hosts, and every host
// reports where it stopped. A Run executes once: each host's work is
// released when the host is done.
func (r *Run) Execute(ctx context.Context) Result {
	names := make([]string, len(r.hosts))
	for i, h := range r.hosts {
		names[i] = h.Name
	}
	r.emit(report.Event{Type: report.EventRunStart, Hosts: names})
	recaps := make([]report.HostRecap, len(r.hosts))
	groups := [][]int{make([]int, len(r.hosts))}
	for i := range r.hosts {
		groups[0][i] = i
	}
	policy := r.policy
	if r.opts.Mode == ModeDrill {
		policy = drillPolicy
	}
	if r.opts.Mode != ModePlan {
		groups = policy.Groups(len(r.hosts))
		if policy.Staged() || policy.MaxFailures.IsSet() {
			desc := policy.Describe(len(r.hosts))
			if r.opts.Mode == ModeDrill {
				desc = "one host at a time, " + strings.TrimSuffix(strings.TrimPrefix(desc, "canary 1, batches of 1, "), ", no revert")
			}
			r.emit(report.Event{Type: report.EventRunNote, Message: "rollout: " + desc})
		}
	}
	sem := make(chan struct{}, r.opts.Forks)
	var mu sync.Mutex
	failed := 0
	halted := ""
	notStarted := func(i int, why string) {
		h := r.hosts[i]
		recaps[i] = report.HostRecap{Host: h.Name, NotStarted: true, Error: why}
		r.emit(report.Event{Type: report.EventHostDone, Host: h.Name, Status: report.StatusNotStarted, Message: why, Recap: []report.HostRecap{recaps[i]}})
	}
	for gi, group := range groups {
		if halted != "" {
			for _, i := range group {
				notStarted(i, halted)
			}
			continue
		}
		if len(groups) > 1 {
			what := "batch"
			if gi == 0 && r.policy.Canary > 0 {
				what = "canary"
			}
			hosts := make([]string, len(group))
			for j, i := range group {
				hosts[j] = r.hosts[i].Name
			}
			r.emit(report.Event{Type: report.EventRunNote, Message: fmt.Sprintf("rollout %s %d of %d: %s", what, gi+1, len(groups), strings.Join(hosts, ", "))})
		}
		var wg sync.WaitGroup
		for _, i := range group {
			h := r.hosts[i]
			// A host's goroutine starts only once it holds its fork: at
			// most --forks of them exist at a time, whatever the fleet's
			// size (a goroutine waiting for its turn costs a stack).
			acquired := false
			select {
			case sem <- struct{}{}:
				acquired = true
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				// Only the fork this loop took is given back: taking
				// any token would steal a running host's.
				if acquired {
					<-sem
				}
				recaps[i] = report.HostRecap{Host: h.Name, Failed: 1, Interrupted: true, Error: "not started: the run was interrupted"}
				r.emit(report.Event{Type: report.EventHostDone, Host: h.Name, Status: report.StatusFailed, Message: recaps[i].Error, Recap: []report.HostRecap{recaps[i]}})
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				mu.Lock()
				why := halted
				mu.Unlock()
				if why != "" {
					notStarted(i, why)
					return
				}
				recaps[i] = r.runHost(ctx, h)
				r.releaseWork(h.Name)
				if r.opts.Mode != ModePlan && (recaps[i].Failed > 0 || recaps[i].Unreachable) {
					mu.Lock()
					failed++
					if halted == "" && policy.Halts(failed, len(r.hosts)) {
						halted = fmt.Sprintf("not started: rollout halted after %s", plural(failed, "failed host"))
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if halted != "" {
			// The count as it stood when the group ended.
			halted = fmt.Sprintf("not started: rollout halted after %s", plural(failed, "failed host"))
		}
	}
	res := Result{Mode: r.opts.Mode, Recaps: recaps}
	r.emit(report.Event{Type: report.EventRecap, Recap: recaps})
	return res
}

// releaseWork drops what the run holds for a host that is done (its task
// instances, probes and rendered content: several KiB a host), so that a
// large fleet's memory, and the collector's work, shrink as the run goes
// instead of staying at their size after Prepare until the end.
func (r *Run) releaseWork(host string) {
	r.workMu.Lock()
	delete(r.work, host)
	r.workMu.Unlock()
}

// plural formats a count with its noun, "1 host" or "3 hosts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (r *Run) emit(e report.Event) {
	if r.opts.Sink == nil {
		return
	}
	e.Time = r.opts.Now()
	e.Mode = string(r.opts.Mode)
	r.opts.Sink.Emit(e)
}

// holder describes this run for a host's run lock.
func (r *Run) holder() executor.LockHolder {
	h := executor.LockHolder{PID: os.Getpid(), Started: r.opts.Now(), Command: "tend " + string(r.opts.Mode)}
	if name, err := os.Hostname(); err == nil {
		h.Controller = name
	}
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	}
	return h
}

// runHost connects to one host and runs its plays. It recovers from panics
// in modules so that one broken host never takes the run down; such a host
// is an internal error.
func (r *Run) runHost(ctx context.Context, h *inventory.Host) (recap report.HostRecap) {
	start := time.Now()
	recap.Host = h.Name
	r.emit(report.Event{Type: report.EventHostStart, Host: h.Name})
	var conn executor.Conn
	var lock *executor.Held
	defer func() {
		if p := recover(); p != nil {
			recap.Failed++
			recap.Internal = true
			recap.Error = fmt.Sprintf("internal error (a bug in tend): %v\n%s", p, debug.Stack())
		}
		if lock != nil {
			if err := lock.Release(); err != nil && recap.Error == "" {
				r.emit(report.Event{Type: report.EventHostNote, Host: h.Name, Message: "the run lock's release was not confirmed: " + err.Error()})
			}
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
	fail := func(err error) report.HostRecap {
		if errors.Is(err, executor.ErrUnreachable) {
			recap.Unreachable = true
		} else {
			recap.Failed++
		}
		if ctx.Err() != nil {
			recap.Interrupted = true
		}
		recap.Error = err.Error()
		return recap
	}

	var err error
	conn, err = r.opts.Dial(ctx, h)
	if err != nil {
		conn = nil
		return fail(err)
	}
	r.workMu.Lock()
	plays := r.work[h.Name]
	r.workMu.Unlock()
	if len(plays) == 0 {
		return recap
	}
	if r.opts.Mode == ModeDrill {
		if lock, err = r.drillHost(ctx, h, conn, plays, &recap); err != nil && recap.Failed == 0 {
			return fail(err)
		} else if err != nil {
			recap.Error = err.Error()
		}
		return recap
	}
	// A run that reverts keeps, on the host, what each path it changes
	// was before.
	var changes *hostChanges
	if r.opts.Mode == ModeApply && r.policy.Revert {
		changes = &hostChanges{}
		for _, hp := range plays {
			for _, t := range hp.plan.Tasks {
				if _, ok := t.Module.(modules.Verifier); ok && !t.Skip {
					changes.checks = append(changes.checks, t)
				}
			}
		}
		conn = executor.Keeping(conn, r.runID)
	}
	// One round trip reads the state of every play that uses the host's
	// become, the pending records and (apply) takes the run lock.
	become := plays[0].become()
	var probes []executor.Probe
	for _, hp := range plays {
		if hp.become() == become {
			probes = append(probes, hp.probes()...)
		}
	}
	req := executor.Request{Probes: probes, Become: become, Records: true}
	var st *executor.State
	if r.opts.Mode == ModeApply {
		lock, st, err = executor.Lock(ctx, conn, req, r.holder())
	} else {
		st, err = executor.Gather(ctx, conn, req)
	}
	if err != nil {
		var locked *executor.LockedError
		if !errors.As(err, &locked) {
			err = fmt.Errorf("reading state: %w", err)
		}
		return fail(err)
	}
	if st.Lock.Held {
		r.emit(report.Event{Type: report.EventHostNote, Host: h.Name, Message: "an apply is in progress on this host (" + st.Lock.Holder + "): this plan may be out of date when it ends"})
	}
	r.noteForeignRecords(h, plays, st.Records)
	r.recordPending(h.Name, st.Records)

	// The plays that refer to host.facts are made now (the facts are
	// read): a secret file of a later play is hidden from the plays
	// before it too.
	secret := map[string]bool{}
	made := make([]*playbooks.HostPlan, len(plays))
	madeErr := make([]error, len(plays))
	for i, hp := range plays {
		p := hp.plan
		if p.NeedsFacts {
			made[i], madeErr[i] = r.withFacts(hp, h, st.Facts, changes)
			p = made[i]
		}
		if madeErr[i] == nil {
			addSecretFiles(secret, p)
		}
	}
	for i, hp := range plays {
		w := &hostWork{run: r, host: h, conn: conn, lock: lock, play: hp.play, plan: hp.plan, recap: &recap, records: st.Records, changes: changes, secret: secret}
		if i == 0 || (hp.become() == become && !dirtyAny(plays[:i])) {
			w.state = st
		}
		var err error
		if hp.plan.NeedsFacts {
			// The play refers to host.facts: it was made above, once they
			// were known, and its state is read in a round trip of its own.
			w.plan, err = made[i], madeErr[i]
			plays[i].plan, w.state = w.plan, nil
			if err != nil {
				recap.Failed++
			}
		}
		if err == nil {
			err = w.runPlay(ctx)
		}
		plays[i].dirty = w.dirty
		if err != nil {
			if recap.Error == "" {
				recap.Error = err.Error()
			}
			if errors.Is(err, executor.ErrUnreachable) {
				recap.Unreachable = true
			}
			if ctx.Err() != nil {
				recap.Interrupted = true
			}
			var locked *executor.LockedError
			if errors.As(err, &locked) {
				recap.Error = err.Error()
			}
			if changes != nil && changes.changed && !recap.Unreachable && ctx.Err() == nil {
				if lock != nil && lock.Err() != nil {
					recap.RevertError = "not reverted: the run lock was lost (" + lock.Err().Error() + "): another run may have changed the host since"
				} else {
					r.revertHost(ctx, h, conn, hp.become(), changes, &recap)
				}
			}
			break
		}
	}
	return recap
}

// noteForeignRecords tells about pending records of plays this run does not
// have: they are left for a run of those plays.
func (r *Run) noteForeignRecords(h *inventory.Host, plays []hostPlay, records []executor.Record) {
	names := map[string]bool{}
	for _, hp := range plays {
		names[hp.play.Name] = true
	}
	for _, rec := range records {
		if !names[rec.Play] {
			r.emit(report.Event{Type: report.EventHostNote, Host: h.Name, Message: fmt.Sprintf(
				"pending from an earlier run of play %q (not in this run; left for a run of that play): %s, promised by %s at %s",
				rec.Play, rec.Describe(), rec.Task, rec.Since.Format(time.RFC3339))})
		}
	}
}

func (hp *hostPlay) become() bool { return hp.plan.Become }

// withFacts instantiates a play that needs the host's facts, and adds its
// health checks to those a revert runs.
func (r *Run) withFacts(hp hostPlay, h *inventory.Host, f executor.Facts, changes *hostChanges) (*playbooks.HostPlan, error) {
	plan, diags := r.opts.Playbook.InstantiateWithFacts(hp.play, h, playbooks.Facts{
		OSID: f.OS, OSVersion: f.OSVersion, Arch: f.Arch, Kernel: f.Kernel, Virtualization: f.Virtualization,
		Init: f.Init, Hostname: f.Hostname, CPUs: f.CPUs,
	})
	if diags.HasErrors() {
		return hp.plan, playbooks.FactsError(diags)
	}
	if changes != nil {
		for _, t := range plan.Tasks {
			if _, ok := t.Module.(modules.Verifier); ok && !t.Skip {
				changes.checks = append(changes.checks, t)
			}
		}
	}
	return plan, nil
}

func (hp *hostPlay) probes() []executor.Probe {
	var probes []executor.Probe
	for _, t := range hp.plan.Tasks {
		if !t.Skip {
			probes = append(probes, t.Module.Probes()...)
		}
	}
	return probes
}

func dirtyAny(plays []hostPlay) bool {
	for _, hp := range plays {
		if hp.dirty {
			return true
		}
	}
	return false
}

// hostWork runs one play on one host.
type hostWork struct {
	run   *Run
	host  *inventory.Host
	conn  executor.Conn
	lock  *executor.Held
	play  *playbooks.Play
	plan  *playbooks.HostPlan
	recap *report.HostRecap
	// state is the latest state read (nil: read it first).
	state *executor.State
	// records are the pending records found on the host.
	records []executor.Record

	// dirty is set once anything changed on the host in this play: later
	// tasks then re-read their state instead of trusting the first batch.
	dirty bool
	// pending holds the handlers notified since the last flush, in
	// notification order; notifiedBy the tasks that notified each (or
	// "an earlier run"); handlerRecords the records each one clears.
	pending        []string
	notifiedBy     map[string][]string
	handlerRecords map[string][]string

	// changes is what the run did on the host, for a revert (nil: the run
	// does not revert).
	changes *hostChanges
	// plannedChange is set in a plan once a task of the play changes
	// something.
	plannedChange bool
	// secret holds the paths of the host's files whose content a task of
	// any of its plays declares secret (modules.SecretFiler): no task
	// shows their content.
	secret map[string]bool
}

// earlierRun names a notification that a run which stopped before its
// handler left on the host.
const earlierRun = "(an earlier run)"

func (w *hostWork) become() bool { return w.plan.Become }

// check is m.Check on state st, with the content of the host's secret
// files hidden, whichever task shows it.
func (w *hostWork) check(ctx context.Context, m modules.Module, st *executor.State) (*plan.Diff, error) {
	d, err := m.Check(ctx, w.target(w.conn, st))
	var pre *modules.PreflightError
	if errors.As(err, &pre) {
		// Its diff is shown too, in a plan where an earlier task changes
		// the host.
		modules.HideSecretFiles(pre.Diff, w.secret)
	}
	return modules.HideSecretFiles(d, w.secret), err
}

// addSecretFiles adds to secret the files whose content the tasks and
// handlers of p declare secret.
func addSecretFiles(secret map[string]bool, p *playbooks.HostPlan) {
	add := func(t *playbooks.Task) {
		if s, ok := t.Module.(modules.SecretFiler); ok {
			for _, f := range s.SecretFiles() {
				secret[f] = true
			}
		}
	}
	for _, t := range p.Tasks {
		add(t)
	}
	for _, t := range p.Handlers {
		add(t)
	}
}

func (w *hostWork) target(conn executor.Conn, state *executor.State) *modules.Target {
	return &modules.Target{Host: w.host.Name, Address: w.host.Address, Conn: conn, State: state, Become: w.become()}
}

func (w *hostWork) emitTask(typ report.EventType, t *playbooks.Task, status report.Status, d *modules.Diff, msg string, dur time.Duration) {
	if typ == report.EventTask {
		w.recordPlanned(t, status, d)
	}
	w.run.emit(report.Event{
		Type: typ, Play: w.play.Name, Host: w.host.Name, Task: t.ID, Kind: t.Kind, Name: t.Name,
		Status: status, Diff: d, Message: msg, Duration: dur,
	})
}

// gather reads the state of tasks, after running effects (and clearing
// records) when the request says so.
func (w *hostWork) gather(ctx context.Context, req executor.Request, tasks ...*playbooks.Task) (*executor.State, error) {
	for _, t := range tasks {
		if !t.Skip {
			req.Probes = append(req.Probes, t.Module.Probes()...)
		}
	}
	req.Become = w.become()
	st, err := executor.Gather(ctx, w.conn, req)
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	return st, nil
}

func (w *hostWork) notify(t *playbooks.Task, names ...string) {
	if w.notifiedBy == nil {
		w.notifiedBy = map[string][]string{}
	}
	for _, name := range names {
		if len(w.notifiedBy[name]) == 0 {
			w.pending = append(w.pending, name)
		}
		id := earlierRun
		if t != nil {
			id = t.ID
		}
		w.notifiedBy[name] = append(w.notifiedBy[name], id)
	}
}

// runPlay runs the play's tasks on the host. It returns an error when the
// host must stop (a failed task or a lost connection).
func (w *hostWork) runPlay(ctx context.Context) error {
	if w.state == nil {
		st, err := w.gather(ctx, executor.Request{Records: true}, w.plan.Tasks...)
		if err != nil {
			w.recap.Failed++
			return err
		}
		w.state, w.records = st, st.Records
	}
	apply := w.run.opts.Mode == ModeApply
	// Handlers an earlier run promised and never ran are due again.
	for _, rec := range w.records {
		if rec.Play != w.play.Name || rec.Kind != "handler" {
			continue
		}
		if _, ok := w.plan.Handlers[rec.Handler]; !ok {
			w.run.emit(report.Event{Type: report.EventHostNote, Play: w.play.Name, Host: w.host.Name, Message: fmt.Sprintf(
				"an earlier run left handler %q pending (notified by %s), but play %q has no such handler any more: it will not run; the record is dropped", rec.Handler, rec.Task, w.play.Name)})
			if apply {
				if _, err := w.gather(ctx, executor.Request{Clear: []string{rec.Name}}); err != nil {
					w.recap.Failed++
					return err
				}
			}
			continue
		}
		w.notify(nil, rec.Handler)
		if w.handlerRecords == nil {
			w.handlerRecords = map[string][]string{}
		}
		w.handlerRecords[rec.Handler] = append(w.handlerRecords[rec.Handler], rec.Name)
	}
	if err := w.dropRecordsOwingNothing(ctx, apply); err != nil {
		w.recap.Failed++
		return err
	}
	if err := w.verifySaved(ctx); err != nil {
		w.recap.Failed++
		return err
	}
	for _, t := range w.plan.Tasks {
		if err := ctx.Err(); err != nil {
			w.recap.Failed++
			w.dropHandlers(apply)
			return fmt.Errorf("interrupted before %s: %w", t.ID, err)
		}
		if t.Skip {
			w.recap.Skipped++
			w.emitTask(report.EventTask, t, report.StatusSkipped, nil, "when condition is false", 0)
			continue
		}
		if err := w.runTask(ctx, t, apply); err != nil {
			if ignored, ok := err.(ignoredError); ok {
				w.run.emit(report.Event{Type: report.EventHostNote, Play: w.play.Name, Host: w.host.Name, Message: string(ignored)})
				continue
			}
			w.dropHandlers(apply)
			return err
		}
	}
	if err := w.runOrphanEffects(ctx, apply); err != nil {
		w.dropHandlers(apply)
		return err
	}
	if err := w.flushHandlers(ctx, apply); err != nil {
		w.dropHandlers(apply)
		return err
	}
	return nil
}

// dropHandlers reports the handlers still pending when the host stopped.
// They stay recorded on the host, so the next run runs them.
func (w *hostWork) dropHandlers(apply bool) {
	if !apply {
		return
	}
	msg := "not run: the host stopped first; it stays pending on the host, and the next apply runs it"
	if w.changes != nil && w.changes.changed {
		msg = "not run: the host stopped first; a revert undoes the changes that notified it (if the revert fails, it stays pending on the host, and the next apply runs it)"
	}
	for _, name := range w.pending {
		h := w.plan.Handlers[name]
		if h == nil {
			continue
		}
		w.recap.Skipped++
		w.run.emit(report.Event{
			Type: report.EventHandler, Play: w.play.Name, Host: w.host.Name, Task: h.ID, Kind: h.Kind, Name: name,
			Status: report.StatusSkipped, NotifiedBy: w.notifiedBy[name], Message: msg,
		})
	}
	w.pending = nil
}

// pendingEffects returns the effects an earlier run of this play promised
// for task id and did not carry out, with the records that hold them.
// Only refreshes are owed: daemon-reload, restart, reload — what the state
// cannot show. Whether a unit should run or be enabled is decided afresh
// from the state by the task's Check.
func (w *hostWork) pendingEffects(id string) ([]executor.Effect, []string) {
	var effects []executor.Effect
	var names []string
	for _, rec := range w.records {
		if rec.Play == w.play.Name && rec.Kind == "effects" && rec.Task == id {
			effects = append(effects, refreshes(rec.Effects)...)
			names = append(names, rec.Name)
		}
	}
	return effects, names
}

// dropRecordsOwingNothing forgets the play's effect records that hold no
// refresh (only a start or an enable, which Check decides afresh): nothing
// is owed, so they are not shown, and apply clears them from the host.
func (w *hostWork) dropRecordsOwingNothing(ctx context.Context, apply bool) error {
	var names []string
	kept := w.records[:0:0]
	for _, rec := range w.records {
		if rec.Play == w.play.Name && rec.Kind == "effects" && len(refreshes(rec.Effects)) == 0 {
			names = append(names, rec.Name)
			continue
		}
		kept = append(kept, rec)
	}
	if len(names) == 0 {
		return nil
	}
	w.records = kept
	if !apply {
		return nil
	}
	_, err := w.gather(ctx, executor.Request{Clear: names})
	return err
}

// refreshes keeps the effects a state read cannot show to be owed.
func refreshes(effects []executor.Effect) []executor.Effect {
	var out []executor.Effect
	for _, e := range effects {
		switch e.Kind {
		case executor.EffectDaemonReload, executor.EffectRestart, executor.EffectReload:
			out = append(out, e)
		}
	}
	return out
}

// withPending adds to d the effects an earlier run left pending for the
// task, and returns the records they come from.
func (w *hostWork) withPending(t *playbooks.Task, d *modules.Diff) []string {
	effects, names := w.pendingEffects(t.ID)
	added := false
	for _, e := range effects {
		if !d.HasEffect(e.Kind, e.Unit) {
			d.Effects = append(d.Effects, e)
			added = true
		}
	}
	if added {
		d.Notes = append(d.Notes, "pending from an earlier run that stopped before it: "+effectList(effects))
		d.Effects = sortEffects(d.Effects)
		// A restart starts the unit too: a start before it is dropped.
		var keep []executor.Effect
		for _, e := range d.Effects {
			if e.Kind != executor.EffectStart || !d.HasEffect(executor.EffectRestart, e.Unit) {
				keep = append(keep, e)
			}
		}
		d.Effects = keep
	}
	return names
}

// sortEffects returns effects without duplicates, daemon-reload first: the
// other effects must see the reloaded units.
func sortEffects(effects []executor.Effect) []executor.Effect {
	var out []executor.Effect
	seen := map[string]bool{}
	for _, first := range []bool{true, false} {
		for _, e := range effects {
			if (e.Kind == executor.EffectDaemonReload) != first || seen[e.String()] {
				continue
			}
			seen[e.String()] = true
			out = append(out, e)
		}
	}
	return out
}

// ignoredError is what runTask returns for a failure its ignore_errors
// lets pass: the play goes on.
type ignoredError string

func (e ignoredError) Error() string { return string(e) }

// ignorable reports whether ignore_errors may let err pass: a task that
// failed, but not a host that is gone, an outcome that is unknown, a lost
// run lock or an interrupted run — those stop the host whatever the task
// says.
func ignorable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, executor.ErrUnreachable) || errors.Is(err, executor.ErrOutcomeUnknown) {
		return false
	}
	var stop *executor.StopError
	var lost *executor.LostError
	return !errors.As(err, &stop) && !errors.As(err, &lost) && !errors.Is(err, errLockLost)
}

// errLockLost marks a change during which the run lock ended.
var errLockLost = errors.New("the run lock was lost")

func effectList(effects []executor.Effect) string {
	s := ""
	for i, e := range effects {
		if i > 0 {
			s += ", "
		}
		s += e.String()
	}
	return s
}

func (w *hostWork) runTask(ctx context.Context, t *playbooks.Task, apply bool) error {
	start := time.Now()
	fail := func(d *modules.Diff, err error) error {
		if t.IgnoreErrors && ignorable(ctx, err) {
			w.recap.Ignored++
			w.emitTask(report.EventTask, t, report.StatusIgnored, d, err.Error(), time.Since(start))
			return ignoredError(t.ID + " failed; ignore_errors is set, so the host goes on")
		}
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
		if err := v.Verify(ctx, w.target(w.conn, w.state)); err != nil {
			return fail(nil, err)
		}
		w.recap.OK++
		w.emitTask(report.EventTask, t, report.StatusOK, nil, "passed: "+describe(t.Module), time.Since(start))
		return nil
	}

	if apply && w.dirty && len(t.Module.Probes()) > 0 {
		st, err := w.gather(ctx, executor.Request{}, t)
		if err != nil {
			return fail(nil, err)
		}
		w.state = st
	}
	d, err := w.check(ctx, t.Module, w.state)
	var pre *modules.PreflightError
	if errors.As(err, &pre) && !apply && w.plannedChange && pre.Diff != nil {
		// An earlier task of this plan changes the host and may make what
		// the unit lacks: shown, with the finding; apply checks again.
		d, err = pre.Diff, nil
		d.Notes = append(d.Notes, pre.Error()+" (now; an earlier task of this plan changes the host, and apply checks again after it)")
	}
	if err != nil {
		return fail(nil, fmt.Errorf("check: %w", err))
	}
	pendingRecords := w.withPending(t, d)
	if d.Empty() {
		w.recap.OK++
		w.emitTask(report.EventTask, t, report.StatusOK, d, noteLine(d), time.Since(start))
		return nil
	}
	if !apply {
		w.plannedChange = true
		w.state = afterPlanned(w.state, d)
		w.recap.Changed++
		status := report.StatusChange
		if d.Unpreviewable {
			status = report.StatusWillRun
		}
		w.notify(t, t.Notify...)
		w.emitTask(report.EventTask, t, status, d, noteLine(d), time.Since(start))
		return nil
	}
	if err := w.lockLost(); err != nil {
		return fail(d, err)
	}
	if err := w.matchesSaved(t, d); err != nil {
		return fail(d, err)
	}

	w.checkBaseline(ctx)
	w.changes.applying(t.ID, d)
	w.changes.undoable(t.ID, t.Module, w.target(w.conn, w.state))

	// What the change promises is recorded on the host in the change's own
	// command, before the change: the effects it owes, and the handlers it
	// notifies.
	w.dirty = true
	now := w.run.opts.Now()
	var records []executor.Record
	effectsRecord := ""
	if len(d.Effects) > 0 {
		rec := executor.EffectsRecord(w.play.Name, t.ID, d.Effects, now)
		records = append(records, rec)
		effectsRecord = rec.Name
	}
	for _, n := range t.Notify {
		records = append(records, executor.HandlerRecord(w.play.Name, n, t.ID, now))
	}
	if w.changes != nil {
		for _, rec := range records {
			if !w.hadRecord(rec.Name) {
				w.changes.records = append(w.changes.records, rec.Name)
			}
		}
	}
	rc := &recordingConn{Conn: w.conn, records: records, become: w.become()}
	if d.Changed() {
		err := t.Module.Apply(ctx, w.target(rc, w.state), d)
		w.changes.applied(w.become(), err)
		if err != nil {
			if rc.stored && errors.Is(err, executor.ErrNotChanged) {
				// Nothing changed: nothing is owed by this change — but a
				// record of the same name an earlier run left stays.
				var names []string
				for _, r := range records {
					if !w.hadRecord(r.Name) {
						names = append(names, r.Name)
					}
				}
				if len(names) > 0 {
					if _, cerr := w.gather(ctx, executor.Request{Clear: names}); cerr != nil {
						err = fmt.Errorf("%w (and clearing what it would have promised failed: %v)", err, cerr)
					}
				}
			}
			return fail(d, fmt.Errorf("apply: %w", err))
		}
	}
	if rc.err != nil {
		return fail(d, fmt.Errorf("apply: %w", rc.err))
	}
	if d.Unpreviewable && len(d.Effects) == 0 {
		// A command: nothing to re-check. Its notifications were recorded
		// by its own command.
		if err := w.lockLost(); err != nil {
			return fail(d, err)
		}
		if cr, ok := t.Module.(modules.ChangeReporter); ok && !cr.Changed() {
			// changed_when: the run changed nothing, and owes nothing.
			var names []string
			for _, r := range records {
				if !w.hadRecord(r.Name) {
					names = append(names, r.Name)
				}
			}
			if len(names) > 0 && rc.stored {
				if _, err := w.gather(ctx, executor.Request{Clear: names}); err != nil {
					return fail(d, fmt.Errorf("clearing what it would have promised: %w", err))
				}
			}
			w.recap.OK++
			w.emitTask(report.EventTask, t, report.StatusOK, d, "ran; changed_when says it changed nothing", time.Since(start))
			return nil
		}
		w.recap.Changed++
		w.notify(t, t.Notify...)
		w.emitTask(report.EventTask, t, report.StatusChanged, d, noteLine(d), time.Since(start))
		return nil
	}
	// The effects, their settle checks and the re-check: one round trip.
	req := executor.Request{Effects: d.Effects}
	if !rc.stored {
		req.Store = records
	}
	if len(d.Effects) > 0 {
		req.Clear = append(pendingRecords, effectsRecord)
	}
	st, err := w.gather(ctx, req, t)
	if err != nil {
		var stop *executor.StopError
		if errors.As(err, &stop) && len(req.Effects) > 0 && !stop.NotStarted {
			err = fmt.Errorf("%w (systemd may still carry out the unit actions it had queued; they stay recorded as pending for the next run)", err)
		}
		return fail(d, err)
	}
	w.state = st
	if fe := st.FailedEffect(); fe != nil {
		return fail(d, errors.New(fe.Error()))
	}
	again, err := w.check(ctx, t.Module, st)
	if err != nil {
		return fail(d, fmt.Errorf("check after apply: %w", err))
	}
	// An effect is an action, not a state: the one just carried out is not
	// asked for again.
	again.Effects = withoutDone(again.Effects, d.Effects)
	if !again.Empty() {
		return fail(again, fmt.Errorf("host still differs after apply: %s", summarize(again)))
	}
	if err := w.lockLost(); err != nil {
		return fail(d, err)
	}
	w.recap.Changed++
	w.notify(t, t.Notify...)
	w.emitTask(report.EventTask, t, report.StatusChanged, d, noteLine(d), time.Since(start))
	return nil
}

// effectsError is err, or, when the read that ran effects succeeded, the
// failure of the first effect that failed.
func effectsError(st *executor.State, err error) error {
	if err == nil {
		if fe := st.FailedEffect(); fe != nil {
			return errors.New(fe.Error())
		}
	}
	return err
}

// lockLost says whether the run lock ended while the host was being
// changed (the host stopped its holder: tend's heartbeats did not come):
// another run may then have changed the host meanwhile.
func (w *hostWork) lockLost() error {
	if w.lock == nil {
		return nil
	}
	if err := w.lock.Err(); err != nil {
		return fmt.Errorf("%w during this change (%v): another run may have changed the host meanwhile; not changing anything more on this host", errLockLost, err)
	}
	return nil
}

// hadRecord reports whether the host held a record of that name when the
// run began.
func (w *hostWork) hadRecord(name string) bool {
	for _, r := range w.records {
		if r.Name == name {
			return true
		}
	}
	return false
}

// withoutDone returns effects minus those in done.
func withoutDone(effects, done []executor.Effect) []executor.Effect {
	var out []executor.Effect
	for _, e := range effects {
		found := false
		for _, x := range done {
			if x.Kind == e.Kind && x.Unit == e.Unit {
				found = true
			}
		}
		if !found {
			out = append(out, e)
		}
	}
	return out
}

// runOrphanEffects carries out effects an earlier run of this play
// promised for tasks the play no longer has (renamed, removed): the unit
// actions themselves stand alone.
func (w *hostWork) runOrphanEffects(ctx context.Context, apply bool) error {
	// Tasks that run now carry their own pending effects; those of a task
	// the play no longer has, or skips now, are carried out here.
	ids := map[string]bool{}
	for _, t := range w.plan.Tasks {
		if !t.Skip {
			ids[t.ID] = true
		}
	}
	for _, rec := range w.records {
		if rec.Play != w.play.Name || rec.Kind != "effects" || ids[rec.Task] {
			continue
		}
		effects := refreshes(rec.Effects)
		why := "pending from an earlier run of task " + rec.Task + ", which the play no longer runs"
		if strings.HasPrefix(rec.Task, "handler:") {
			why = "pending from an earlier run of " + strings.Replace(rec.Task, ":", " ", 1)
		}
		d := &modules.Diff{Effects: effects, Notes: []string{why}}
		ev := func(status report.Status, msg string) {
			w.run.emit(report.Event{Type: report.EventTask, Play: w.play.Name, Host: w.host.Name, Task: rec.Task, Kind: "pending", Status: status, Diff: d, Message: msg})
		}
		if !apply {
			w.recap.Changed++
			ev(report.StatusChange, d.Notes[0])
			w.run.recordTask(w.host.Name, planKey(w.play.Name, "pending:"+rec.Task), report.StatusChange, d)
			continue
		}
		w.checkBaseline(ctx)
		w.changes.applying(rec.Task, d)
		st, err := w.gather(ctx, executor.Request{Effects: effects, Clear: []string{rec.Name}})
		if err := effectsError(st, err); err != nil {
			w.recap.Failed++
			ev(report.StatusFailed, err.Error())
			return err
		}
		w.dirty = true
		w.recap.Changed++
		ev(report.StatusChanged, d.Notes[0])
	}
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
			w.run.recordTask(w.host.Name, planKey(w.play.Name, "handler:"+name), report.StatusWillRun, &modules.Diff{Notes: notified})
			continue
		}
		// The records that promised this handler: the ones of this run's
		// notifications (same name) and of earlier runs.
		clear := append([]string{executor.HandlerRecord(w.play.Name, name, "", time.Time{}).Name}, w.handlerRecords[name]...)
		delete(w.handlerRecords, name)
		// A handler may run more than once per play (notified again after
		// a flush): each run gets a freshly decoded module.
		m, err := h.Renew()
		if err != nil {
			w.recap.Failed++
			ev(report.StatusFailed, nil, err.Error())
			return err
		}
		st, err := w.gather(ctx, executor.Request{}, h)
		if err != nil {
			w.recap.Failed++
			ev(report.StatusFailed, nil, err.Error())
			return err
		}
		d, err := w.check(ctx, m, st)
		if err == nil && !d.Empty() {
			w.checkBaseline(ctx)
			w.changes.applying(h.ID, d)
		}
		if err == nil && d.Changed() {
			rec := []executor.Record(nil)
			if len(d.Effects) > 0 {
				// "handler:NAME" is no task's ID.
				rec = append(rec, executor.EffectsRecord(w.play.Name, "handler:"+name, d.Effects, w.run.opts.Now()))
			}
			if w.changes != nil {
				for _, x := range rec {
					w.changes.records = append(w.changes.records, x.Name)
				}
			}
			rc := &recordingConn{Conn: w.conn, records: rec, become: w.become()}
			err = m.Apply(ctx, w.target(rc, st), d)
			w.changes.applied(w.become(), err)
			if err == nil {
				err = rc.err
			}
			if len(d.Effects) > 0 {
				clear = append(clear, rec[0].Name)
			}
		}
		if err == nil {
			// The handler's effects, the end of its promise, and the state
			// after it: one round trip.
			after, gerr := w.gather(ctx, executor.Request{Effects: d.Effects, Clear: clear}, h)
			err = effectsError(after, gerr)
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

// recordingConn stores a task's records on the host in the first command
// the task's Apply runs with the engine's become (the change's own
// command, before the change), so the promise exists before the change
// does. A first command with another become gets a command of its own
// before it.
type recordingConn struct {
	executor.Conn
	records []executor.Record
	become  bool

	mu     sync.Mutex
	stored bool
	err    error
}

// Run implements executor.Conn.
func (c *recordingConn) Run(ctx context.Context, cmd executor.Command) (executor.Result, error) {
	c.mu.Lock()
	if !c.stored && len(c.records) > 0 {
		c.stored = true
		if cmd.Become == c.become {
			var err error
			if cmd, err = executor.WithRecords(cmd, c.records); err != nil {
				c.err = err
				c.mu.Unlock()
				return executor.Result{}, err
			}
		} else {
			store, err := executor.WithRecords(executor.Command{Script: ":", Become: c.become}, c.records)
			if err == nil {
				var res executor.Result
				res, err = c.Conn.Run(ctx, store)
				if err == nil && res.ExitCode != 0 {
					err = fmt.Errorf("recording what the change promises failed (exit %d): %s", res.ExitCode, res.Stderr)
				}
			}
			if err != nil {
				c.err = err
				c.mu.Unlock()
				return executor.Result{}, err
			}
		}
	}
	c.mu.Unlock()
	return c.Conn.Run(ctx, cmd)
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

// summarize names the attributes and effects a diff still holds.
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
	for _, a := range d.Actions() {
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

// FactPlays returns how many plays of a host wait for its facts to be
// made (they have no task instances before the run connects).
func (r *Run) FactPlays(host string) int {
	n := 0
	for _, hp := range r.work[host] {
		if hp.plan.NeedsFacts {
			n++
		}
	}
	return n
}

// TaskCount returns how many task instances (handlers included) the run holds
// for a host.
func (r *Run) TaskCount(host string) int {
	n := 0
	for _, hp := range r.work[host] {
		n += len(hp.plan.Tasks) + len(hp.plan.Handlers)
	}
	return n
}
