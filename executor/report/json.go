package report

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/tend-sh/tend/executor/plan"
)

// JSONSink writes one JSON object per event and line. Field names are
// stable; new fields may be added, existing ones keep their meaning.
type JSONSink struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSONSink returns a sink writing JSON lines to w.
func NewJSONSink(w io.Writer) *JSONSink {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONSink{enc: enc}
}

// JSONEvent is the wire form of an Event.
type JSONEvent struct {
	Type       EventType   `json:"type"`
	Time       time.Time   `json:"time"`
	Mode       string      `json:"mode"`
	Play       string      `json:"play,omitempty"`
	Hosts      []string    `json:"hosts,omitempty"`
	Host       string      `json:"host,omitempty"`
	Task       string      `json:"task,omitempty"`
	Kind       string      `json:"kind,omitempty"`
	Name       string      `json:"name,omitempty"`
	Status     Status      `json:"status,omitempty"`
	Message    string      `json:"message,omitempty"`
	DurationMS int64       `json:"duration_ms,omitempty"`
	NotifiedBy []string    `json:"notified_by,omitempty"`
	Diff       *JSONDiff   `json:"diff,omitempty"`
	Recap      []JSONRecap `json:"recap,omitempty"`
	Totals     *JSONTotals `json:"totals,omitempty"`
	Run        *RunID      `json:"run,omitempty"`
	Drill      *JSONDrill  `json:"drill,omitempty"`
}

// JSONDiff is the wire form of a plan.Diff.
type JSONDiff struct {
	Changes       []JSONChange `json:"changes,omitempty"`
	Actions       []string     `json:"actions,omitempty"`
	Unpreviewable bool         `json:"unpreviewable,omitempty"`
	Notes         []string     `json:"notes,omitempty"`
}

// JSONChange is one changed attribute; content changes carry a unified diff.
type JSONChange struct {
	Attr      string `json:"attr"`
	Old       string `json:"old,omitempty"`
	New       string `json:"new,omitempty"`
	Path      string `json:"path,omitempty"`
	Unified   string `json:"unified,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// JSONRecap is one host's counts.
type JSONRecap struct {
	Host        string `json:"host"`
	OK          int    `json:"ok"`
	Changed     int    `json:"changed"`
	Failed      int    `json:"failed"`
	Skipped     int    `json:"skipped"`
	Ignored     int    `json:"ignored,omitempty"`
	Unreachable bool   `json:"unreachable"`
	Interrupted bool   `json:"interrupted,omitempty"`
	Internal    bool   `json:"internal_error,omitempty"`
	NotStarted  bool   `json:"not_started,omitempty"`
	Reverted    bool   `json:"reverted,omitempty"`
	RevertError string `json:"revert_error,omitempty"`
	Error       string `json:"error,omitempty"`
	DurationMS  int64  `json:"duration_ms"`
	RoundTrips  int    `json:"round_trips"`
	Drilled     int    `json:"drilled,omitempty"`
	RecoveryMS  int64  `json:"recovery_ms,omitempty"`
}

// JSONDrill is a restart drill's measurement.
type JSONDrill struct {
	Unit          string `json:"unit"`
	OldPID        int    `json:"old_pid"`
	NewPID        int    `json:"new_pid,omitempty"`
	NRestarts     int    `json:"n_restarts"`
	Processes     int    `json:"processes"`
	RecoveryMS    int64  `json:"recovery_ms,omitempty"`
	HealthyMS     int64  `json:"healthy_ms,omitempty"`
	Result        string `json:"result,omitempty"`
	StartLimitHit bool   `json:"start_limit_hit,omitempty"`
}

// JSONTotals sums a recap over hosts.
type JSONTotals struct {
	Hosts       int `json:"hosts"`
	OK          int `json:"ok"`
	Changed     int `json:"changed"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	Ignored     int `json:"ignored,omitempty"`
	Unreachable int `json:"unreachable"`
	NotStarted  int `json:"not_started,omitempty"`
	Reverted    int `json:"reverted,omitempty"`
}

// Emit writes e as one line.
func (s *JSONSink) Emit(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.enc.Encode(ToJSON(e))
}

// ToJSON converts an event to its wire form.
func ToJSON(e Event) JSONEvent {
	j := JSONEvent{
		Type: e.Type, Time: e.Time.UTC(), Mode: e.Mode, Play: e.Play, Hosts: e.Hosts, Host: e.Host,
		Task: e.Task, Kind: e.Kind, Name: e.Name, Status: e.Status, Message: e.Message,
		DurationMS: e.Duration.Milliseconds(), NotifiedBy: e.NotifiedBy, Diff: jsonDiff(e.Diff), Run: e.Run,
	}
	if d := e.Drill; d != nil {
		j.Drill = &JSONDrill{Unit: d.Unit, OldPID: d.OldPID, NewPID: d.NewPID, NRestarts: d.NRestarts, Processes: d.Processes,
			RecoveryMS: d.Recovery.Milliseconds(), HealthyMS: d.Healthy.Milliseconds(), Result: d.Result, StartLimitHit: d.StartLimitHit}
	}
	if len(e.Recap) > 0 {
		t := Totals(e.Recap)
		for _, r := range e.Recap {
			j.Recap = append(j.Recap, JSONRecap{
				Host: r.Host, OK: r.OK, Changed: r.Changed, Failed: r.Failed, Skipped: r.Skipped, Ignored: r.Ignored,
				Unreachable: r.Unreachable, Interrupted: r.Interrupted, Internal: r.Internal,
				NotStarted: r.NotStarted, Reverted: r.Reverted, RevertError: r.RevertError, Error: r.Error, DurationMS: r.Duration.Milliseconds(), RoundTrips: r.RoundTrips,
				Drilled: r.Drilled, RecoveryMS: r.Recovery.Milliseconds(),
			})
		}
		if e.Type == EventRecap {
			j.Totals = &t
		}
	}
	return j
}

// Totals sums recaps.
func Totals(recaps []HostRecap) JSONTotals {
	t := JSONTotals{Hosts: len(recaps)}
	for _, r := range recaps {
		t.OK += r.OK
		t.Changed += r.Changed
		t.Failed += r.Failed
		t.Skipped += r.Skipped
		t.Ignored += r.Ignored
		if r.Unreachable {
			t.Unreachable++
		}
		if r.NotStarted {
			t.NotStarted++
		}
		if r.Reverted {
			t.Reverted++
		}
	}
	return t
}

func jsonDiff(d *plan.Diff) *JSONDiff {
	if d == nil || (d.Empty() && len(d.Notes) == 0) {
		return nil
	}
	jd := &JSONDiff{Actions: d.Actions(), Unpreviewable: d.Unpreviewable, Notes: d.Notes}
	for _, c := range d.Changes {
		jc := JSONChange{Attr: c.Attr, Path: c.Path, Sensitive: c.Sensitive}
		if !c.Sensitive {
			jc.Old, jc.New = c.Old, c.New
		}
		if c.Attr == "content" {
			jc.Unified = UnifiedDiff(c)
		}
		jd.Changes = append(jd.Changes, jc)
	}
	return jd
}
