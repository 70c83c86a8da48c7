package executor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// A Record is a promise kept on the host, in tend's state directory
// (/var/lib/tend/pending for root): a change that notified a handler, or a
// change whose unit actions (daemon-reload, restart…) have not run yet. It
// is written in the same command as the change, before it, and removed
// only once what it promises ran, so a run that dies in between (Ctrl-C,
// SIGKILL, a lost connection, a later task failing) leaves it for the next
// run to see in plan and to carry out in apply.
type Record struct {
	// Name is the record's file name; derived from its identity.
	Name string `json:"-"`
	// Kind is "handler" or "effects".
	Kind string `json:"kind"`
	// Play is the play the record belongs to.
	Play string `json:"play"`
	// Handler is the notified handler (Kind "handler").
	Handler string `json:"handler,omitempty"`
	// Task is the task whose change made the promise.
	Task string `json:"task"`
	// Effects are the unit actions still owed (Kind "effects").
	Effects []Effect `json:"effects,omitempty"`
	// Since is when the promise was made, by the controller's clock.
	Since time.Time `json:"since"`
}

// HandlerRecord returns the record of a notified handler.
func HandlerRecord(play, handler, task string, now time.Time) Record {
	r := Record{Kind: "handler", Play: play, Handler: handler, Task: task, Since: now.UTC().Truncate(time.Second)}
	r.Name = recordName("h", play, handler)
	return r
}

// EffectsRecord returns the record of a task's owed unit actions.
func EffectsRecord(play, task string, effects []Effect, now time.Time) Record {
	r := Record{Kind: "effects", Play: play, Task: task, Effects: effects, Since: now.UTC().Truncate(time.Second)}
	r.Name = recordName("e", play, task)
	return r
}

func recordName(kind string, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return kind + "-" + hex.EncodeToString(sum[:10])
}

var recordNameRe = regexp.MustCompile(`^[he]-[0-9a-f]{20}$`)

// RecordScript returns the shell lines that store records durably (they
// need the functions of the state script).
func RecordScript(records []Record) (string, error) {
	var b strings.Builder
	for _, r := range records {
		data, err := json.Marshal(r)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "tend_record %s %s || { echo 'tend: cannot record what this change promises in the state directory' >&2; exit 1; }\n", r.Name, ShellQuote(string(data)))
	}
	return b.String(), nil
}

// WithRecords returns cmd with the records stored first, in the same
// command: the promise exists on the host before the change does.
func WithRecords(cmd Command, records []Record) (Command, error) {
	if len(records) == 0 {
		return cmd, nil
	}
	rs, err := RecordScript(records)
	if err != nil {
		return cmd, err
	}
	// Scripts of the write primitive carry the state functions already:
	// the records go right after them.
	if strings.Contains(cmd.Script, stateScript) {
		cmd.Script = strings.Replace(cmd.Script, stateScript, stateScript+rs, 1)
	} else {
		cmd.Script = stateScript + rs + cmd.Script
	}
	return cmd, nil
}

// parseRecord reads one stored record.
func parseRecord(name, line string) (Record, error) {
	var r Record
	if !recordNameRe.MatchString(name) {
		return r, fmt.Errorf("pending record %q: unexpected name", name)
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return r, fmt.Errorf("pending record %s: %w", name, err)
	}
	r.Name = name
	if r.Kind != "handler" && r.Kind != "effects" {
		return r, fmt.Errorf("pending record %s: unknown kind %q", name, r.Kind)
	}
	for _, e := range r.Effects {
		if err := e.Validate(); err != nil {
			return r, fmt.Errorf("pending record %s: %w", name, err)
		}
	}
	return r, nil
}

// Describe says in a few words what the record still owes.
func (r Record) Describe() string {
	if r.Kind == "handler" {
		return "handler " + r.Handler
	}
	parts := make([]string, len(r.Effects))
	for i, e := range r.Effects {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}
