// Package health is the fleet health report of tend check: on every host of
// a prepared run, read-only and in parallel, it runs the plays' health
// checks once each and reads the state of the units the plays keep running
// (one systemctl show each, in one round trip), and grades each as Nagios
// and Icinga plugins do: OK, WARNING, CRITICAL, UNKNOWN. It takes no run
// lock and writes nothing on the hosts; the restart counts it saw are kept
// on the controller (Restarts) to report the restarts since the last check.
package health

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/run"
	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/modules"
)

// Status grades a check, a host or the fleet; its value is the Nagios
// plugin exit code.
type Status int

// The statuses, as the Nagios plugin API numbers them.
const (
	OK       Status = 0
	Warning  Status = 1
	Critical Status = 2
	Unknown  Status = 3
)

// String returns the Nagios name: "OK", "WARNING", "CRITICAL", "UNKNOWN".
func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Warning:
		return "WARNING"
	case Critical:
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// MarshalText implements encoding.TextMarshaler.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// rank orders statuses by how bad they are: a critical check outweighs one
// that could not be determined, which outweighs a warning.
func (s Status) rank() int {
	switch s {
	case OK:
		return 0
	case Warning:
		return 1
	case Unknown:
		return 2
	}
	return 3
}

// Worse returns the worse of s and o (CRITICAL > UNKNOWN > WARNING > OK).
func (s Status) Worse(o Status) Status {
	if o.rank() > s.rank() {
		return o
	}
	return s
}

// Kinds of rows.
const (
	KindConnection = "connection"
	KindHTTP       = "http"
	KindProcesses  = "processes"
	KindUnit       = "unit"
)

// Row is one check on one host.
type Row struct {
	Host string `json:"host"`
	// Check names it: "connection", "unit NAME", or the health_check
	// task's name (its ID, such as "health_check.staffrota", when it has
	// none).
	Check  string `json:"check"`
	Kind   string `json:"kind"`
	Status Status `json:"status"`
	// What describes a health check's request ("GET unix:/run/app.sock /").
	What string `json:"what,omitempty"`
	// Code is the HTTP status of the answer (0: none).
	Code int `json:"http_code,omitempty"`
	// Latency is how long the answer (or the connection) took.
	Latency time.Duration `json:"-"`
	// Processes counts a unit's processes, for a process-count check.
	Processes *int `json:"processes,omitempty"`
	// Unit rows: the unit's state, its restarts since the last check (nil:
	// first seen) and in all, and when its state last changed.
	Unit          string    `json:"unit,omitempty"`
	ActiveState   string    `json:"active_state,omitempty"`
	SubState      string    `json:"sub_state,omitempty"`
	Restarts      *int      `json:"restarts_since_last_check,omitempty"`
	RestartsTotal *int      `json:"restarts_total,omitempty"`
	LastChange    time.Time `json:"last_state_change,omitzero"`
	// Message says what is wrong ("" when OK).
	Message string `json:"message,omitempty"`
}

// Report is the fleet's health: every row, hosts in inventory order.
type Report struct {
	Time  time.Time
	Hosts []string
	Rows  []Row
}

// Status is the worst status of all rows (OK when there is none).
func (r Report) Status() Status {
	s := OK
	for _, row := range r.Rows {
		s = s.Worse(row.Status)
	}
	return s
}

// HostStatus is the worst status of a host's rows.
func (r Report) HostStatus(host string) Status {
	s := OK
	for _, row := range r.Rows {
		if row.Host == host {
			s = s.Worse(row.Status)
		}
	}
	return s
}

// Options configure a check of the fleet.
type Options struct {
	// Run is the prepared run: its hosts and their plays.
	Run *run.Run
	// Dial connects to a host.
	Dial run.Dialer
	// Forks is how many hosts are checked at once; run.DefaultForks when 0.
	Forks int
	// Previous holds the restart counts of the last check, for the
	// restarts since; nil when none.
	Previous Restarts
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// checker is what a health check offers tend check: one attempt and the
// severity of a failure (modules.HealthCheck).
type checker interface {
	Once(ctx context.Context, t *modules.Target) modules.HealthResult
	Severity() string
	CountsProcesses() bool
}

// Check checks every host of the run, at most Forks at once, and returns
// the report and the restart counts seen (to be saved for the next check).
func Check(ctx context.Context, opts Options) (Report, Restarts) {
	if opts.Forks <= 0 {
		opts.Forks = run.DefaultForks
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	hosts := opts.Run.Hosts()
	rep := Report{Time: opts.Now()}
	rows := make([][]Row, len(hosts))
	seen := Restarts{}
	var mu sync.Mutex
	sem := make(chan struct{}, opts.Forks)
	var wg sync.WaitGroup
	for i, h := range hosts {
		rep.Hosts = append(rep.Hosts, h.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
			}
			var counts map[string]int
			rows[i], counts = checkHost(ctx, opts, h)
			if counts != nil {
				mu.Lock()
				seen[h.Name] = counts
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, r := range rows {
		rep.Rows = append(rep.Rows, r...)
	}
	return rep, seen
}

// checkHost checks one host: its rows, and the restart counts of its units.
func checkHost(ctx context.Context, opts Options, h *inventory.Host) (rows []Row, counts map[string]int) {
	conn := Row{Host: h.Name, Check: "connection", Kind: KindConnection}
	defer func() {
		if p := recover(); p != nil {
			rows = append(rows, Row{Host: h.Name, Check: "internal", Kind: KindConnection, Status: Unknown,
				Message: fmt.Sprintf("internal error (a bug in tend): %v\n%s", p, debug.Stack())})
		}
	}()
	if ctx.Err() != nil {
		conn.Status, conn.Message = Unknown, "not checked: interrupted"
		return []Row{conn}, nil
	}
	start := time.Now()
	c, err := opts.Dial(ctx, h)
	if err != nil {
		conn.Status, conn.Message = Critical, err.Error()
		if ctx.Err() != nil {
			conn.Status = Unknown
		}
		return []Row{conn}, nil
	}
	defer c.Close()
	r := opts.Run
	var facts *executor.Facts
	if r.FactPlays(h.Name) > 0 {
		st, err := executor.Gather(ctx, c, executor.Request{})
		if err != nil {
			return []Row{connFailed(conn, ctx, err)}, nil
		}
		facts = &st.Facts
	}
	plays, err := r.Checks(h.Name, facts)
	if err != nil {
		conn.Status, conn.Message = Unknown, err.Error()
		return []Row{conn}, nil
	}
	var probes []executor.Probe
	var units []string
	have := map[string]bool{}
	for _, pc := range plays {
		for _, u := range pc.Units {
			if !have[u] {
				have[u] = true
				units = append(units, u)
				probes = append(probes, executor.Probe{Kind: executor.ProbeFact, Fact: modules.UnitHealthFact{Unit: u}})
			}
		}
	}
	st, err := executor.Gather(ctx, c, executor.Request{Probes: probes})
	if err != nil {
		return []Row{connFailed(conn, ctx, err)}, nil
	}
	conn.Latency = time.Since(start)
	rows = append(rows, conn)
	counts = map[string]int{}
	for _, u := range units {
		v, _ := st.Fact(modules.UnitHealthFact{Unit: u})
		uh, _ := v.(*modules.UnitHealth)
		if uh == nil {
			rows = append(rows, Row{Host: h.Name, Check: "unit " + u, Kind: KindUnit, Unit: u, Status: Unknown, Message: "no state read"})
			continue
		}
		counts[u] = uh.NRestarts
		rows = append(rows, unitRow(h.Name, uh, opts.Previous.since(h.Name, u, uh.NRestarts)))
	}
	// Check names are unique per host (a metric's labels must be): a name
	// another play, or a row of tend's own (connection, unit NAME), used
	// already gets its play's name in front, and a number if that is
	// taken too.
	used := map[string]bool{"connection": true, "internal": true}
	for _, u := range units {
		used["unit "+u] = true
	}
	for _, pc := range plays {
		for _, t := range pc.Checks {
			ch, ok := t.Module.(checker)
			if !ok {
				continue
			}
			name := t.Name
			if name == "" {
				name = t.ID
			}
			if used[name] {
				base := pc.Play + "/" + name
				name = base
				for n := 2; used[name]; n++ {
					name = fmt.Sprintf("%s #%d", base, n)
				}
			}
			used[name] = true
			row := Row{Host: h.Name, Check: name, Kind: KindHTTP}
			if d, ok := t.Module.(interface{ Describe() string }); ok {
				row.What = d.Describe()
			}
			res := ch.Once(ctx, &modules.Target{Host: h.Name, Address: h.Address, Conn: c, State: st, Become: pc.Become})
			row.Code, row.Latency = res.Code, res.Latency
			if ch.CountsProcesses() {
				row.Kind = KindProcesses
				if res.Processes >= 0 {
					n := res.Processes
					row.Processes = &n
				}
			}
			if res.Err != nil {
				row.Status, row.Message = Critical, res.Err.Error()
				if ch.Severity() == "warning" {
					row.Status = Warning
				}
				if ctx.Err() != nil {
					row.Status = Unknown
				}
			}
			rows = append(rows, row)
		}
	}
	return rows, counts
}

// connFailed grades a state read that failed: an unreachable host is
// critical; an answer tend did not understand is unknown.
func connFailed(conn Row, ctx context.Context, err error) Row {
	conn.Status, conn.Message = Unknown, "reading state: "+err.Error()
	if errors.Is(err, executor.ErrUnreachable) {
		conn.Status = Critical
	}
	if ctx.Err() != nil {
		conn.Status = Unknown
	}
	return conn
}

// unitRow grades a unit: not loaded, stopped, failed or waiting to be
// restarted after a crash is critical; starting or reloading is a warning,
// and so is a unit that systemd restarted since the last check.
func unitRow(host string, u *modules.UnitHealth, since *int) Row {
	total := u.NRestarts
	row := Row{Host: host, Check: "unit " + u.Unit, Kind: KindUnit, Unit: u.Unit, ActiveState: u.ActiveState, SubState: u.SubState,
		Restarts: since, RestartsTotal: &total, LastChange: u.StateChange}
	state := u.ActiveState + "/" + u.SubState
	switch {
	case u.LoadState != "loaded":
		row.Status, row.Message = Critical, fmt.Sprintf("%s is %s", u.Unit, u.LoadState)
	case u.CrashLooping():
		row.Status, row.Message = Critical, fmt.Sprintf("%s is down, waiting to be restarted after a crash (%s, %d restarts in all)", u.Unit, state, u.NRestarts)
	case u.ActiveState == "active":
		if since != nil && *since > 0 {
			row.Status, row.Message = Warning, fmt.Sprintf("%s was restarted by systemd %d time(s) since the last check", u.Unit, *since)
		}
	case u.ActiveState == "activating" || u.ActiveState == "reloading":
		row.Status, row.Message = Warning, fmt.Sprintf("%s is %s", u.Unit, state)
	default:
		row.Status, row.Message = Critical, fmt.Sprintf("%s is %s", u.Unit, state)
	}
	return row
}
