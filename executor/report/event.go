// Package report turns the events of a run into output: coloured human text
// with unified diffs and a recap, or one JSON object per line for machines.
// Computing a diff (modules) is separate from rendering it (here).
package report

import (
	"time"

	"github.com/tend-sh/tend/executor/plan"
)

// EventType names the kinds of events a run emits, in the order they occur.
type EventType string

// The event types. Their string values are part of the JSON output and are
// stable.
const (
	EventRunStart  EventType = "run_start"
	EventPlayStart EventType = "play_start"
	EventHostStart EventType = "host_start"
	EventTask      EventType = "task"
	EventHandler   EventType = "handler"
	// EventHostNote is something worth knowing about a host that is not a
	// task: an apply in progress there, records an earlier run left.
	EventHostNote EventType = "host_note"
	// EventRunNote is about the run as a whole: its rollout and its
	// groups as they start.
	EventRunNote  EventType = "run_note"
	EventHostDone EventType = "host_done"
	EventRecap    EventType = "recap"
)

// Status is the outcome of one task on one host.
type Status string

// Task statuses. In plan, "change" and "will_run" say what apply would do;
// in apply, "changed" says what it did.
const (
	StatusOK          Status = "ok"
	StatusChange      Status = "change"   // plan: would change
	StatusWillRun     Status = "will_run" // plan: command not settled by its guards
	StatusChanged     Status = "changed"  // apply: changed
	StatusFailed      Status = "failed"
	StatusSkipped     Status = "skipped"
	StatusUnreachable Status = "unreachable"
	StatusNotStarted  Status = "not_started" // the rollout halted before the host
	StatusIgnored     Status = "ignored"     // failed, and its ignore_errors let the host go on
)

// Event is one thing that happened during a run.
type Event struct {
	Type EventType
	Time time.Time
	// Mode is "plan" or "apply".
	Mode string
	Play string
	// Hosts lists the hosts of a play (play_start) or of the run (run_start).
	Hosts []string
	Host  string
	// Task is the task ID, e.g. "gunicorn_service.staffrota".
	Task string
	// Kind is the module kind of the task.
	Kind string
	// Name is the task's display name when it has one.
	Name   string
	Status Status
	Diff   *plan.Diff
	// Message is a short human line: why skipped, what was verified, the
	// error of a failure.
	Message  string
	Duration time.Duration
	// NotifiedBy lists the tasks that triggered a handler.
	NotifiedBy []string
	// Recap holds the per-host counts (recap and host_done events).
	Recap []HostRecap
	// Drill is the measurement of a restart drill (task events of kind
	// restart_drill).
	Drill *Drill
	// Run identifies the run (run_start only): what it ran, and which
	// shard of the hosts it worked on, so that the streams of the shards
	// of one run can be checked and merged (tend report merge).
	Run *RunID
}

// RunID says what a run ran: digests of its playbook's and inventory's
// HCL files (their contents, not their paths), and its shard, "I/N", when
// it ran one shard of the selected hosts. Empty fields are unknown.
type RunID struct {
	Playbook  string `json:"playbook_sha256,omitempty"`
	Inventory string `json:"inventory_sha256,omitempty"`
	Shard     string `json:"shard,omitempty"`
}

// Drill is what a restart drill measured on one host: the unit's main
// process was killed with SIGKILL and systemd was expected to start it
// again.
type Drill struct {
	Unit string
	// OldPID is the main process killed; NewPID the one systemd started
	// (0 when none).
	OldPID, NewPID int
	// NRestarts is systemd's restart count of the unit after the drill.
	NRestarts int
	// Processes counts the processes in the unit's cgroup at the end (-1:
	// not readable).
	Processes int
	// Recovery is the time from the kill to the unit active again with a
	// new main process (and the expected processes), on the host's clock;
	// zero when it did not come back.
	Recovery time.Duration
	// Healthy is the time from the kill to the play's health checks
	// passing: the host's wait (which ends once the unit stayed up for a
	// second) plus the checks as the controller timed them; zero when they
	// did not pass.
	Healthy time.Duration
	// Result is systemd's Result= of the unit at the end ("success",
	// "start-limit-hit"...).
	Result string
	// StartLimitHit: systemd refused to restart the unit for its start
	// rate limit (Result= may still say the crash's "exit-code").
	StartLimitHit bool
}

// HostRecap counts one host's task outcomes.
type HostRecap struct {
	Host    string
	OK      int
	Changed int
	Failed  int
	Skipped int
	// Ignored counts the tasks that failed with ignore_errors set.
	Ignored     int
	Unreachable bool
	// Interrupted is set when the run was interrupted (Ctrl-C, SIGTERM)
	// before the host was done.
	Interrupted bool
	// Internal is set when tend itself failed on the host (a bug).
	Internal bool
	// NotStarted is set for a host the rollout never started: it halted
	// after too many hosts failed. Nothing was done on the host.
	NotStarted bool
	// Reverted is set when the host failed after this run changed it and
	// tend put back what it had changed; RevertError says what a revert
	// that did not succeed left changed.
	Reverted    bool
	RevertError string
	// Error is why the host failed or was unreachable.
	Error    string
	Duration time.Duration
	// RoundTrips is what the run cost on this host's connection.
	RoundTrips int
	// Recovery is the slowest recovery of the host's restart drills (tend
	// drill), zero when none recovered; Drilled counts the drills run.
	Recovery time.Duration
	Drilled  int
}

// Sink receives the events of a run. Implementations must be safe for
// concurrent use: hosts run in parallel.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Emit calls f(e).
func (f SinkFunc) Emit(e Event) { f(e) }
