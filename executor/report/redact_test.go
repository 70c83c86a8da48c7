package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/plan"
)

// The secrets below are what a module may still hold in a sensitive change
// (Apply needs NewContent; a careless module may fill in the rest). None of
// them may reach any output, whatever field carries them.
const (
	secretOldValue   = "OLDVALUE-s3cr3t-7f1c"
	secretNewValue   = "NEWVALUE-s3cr3t-9a2e"
	secretOldContent = "OLDCONTENT-s3cr3t-44b0"
	secretNewContent = "NEWCONTENT-s3cr3t-e5d3"
)

var allSecrets = []string{secretOldValue, secretNewValue, secretOldContent, secretNewContent}

// visible is a non-sensitive change shown alongside the sensitive one, so a
// test that finds no secret has proof the diff was rendered at all.
var visible = plan.Change{Attr: "owner", Old: "root", New: "visible-owner-marker"}

// TestRedactionTable feeds sensitive changes of every shape, in every status
// that renders a diff, to the human and the JSON sink, and asserts that no
// secret byte sequence reaches either output. Removing any one of the
// renderers' Sensitive checks (UnifiedDiff, HumanSink.diffBody, jsonDiff)
// makes a case here fail.
func TestRedactionTable(t *testing.T) {
	changes := []struct {
		name   string
		change plan.Change
	}{
		{"content edit", plan.Change{Attr: "content", Path: "/etc/app.env",
			OldContent: []byte("PASSWORD=" + secretOldContent + "\n"), NewContent: []byte("PASSWORD=" + secretNewContent + "\n"), Sensitive: true}},
		{"content of a new file", plan.Change{Attr: "content", Path: "/etc/app.env",
			NewContent: []byte("PASSWORD=" + secretNewContent + "\n"), Sensitive: true}},
		{"content with display values", plan.Change{Attr: "content", Path: "/etc/app.env",
			Old: secretOldValue, New: secretNewValue,
			OldContent: []byte(secretOldContent), NewContent: []byte(secretNewContent), Sensitive: true}},
		{"content too large to read back", plan.Change{Attr: "content", Path: "/etc/app.env",
			Old: secretOldValue, New: secretNewValue, NewContent: []byte(secretNewContent), Sensitive: true}},
		{"binary content", plan.Change{Attr: "content", Path: "/etc/app.key",
			OldContent: []byte("\x00" + secretOldContent), NewContent: []byte("\x00" + secretNewContent), Sensitive: true}},
		{"attribute change", plan.Change{Attr: "environment", Old: secretOldValue, New: secretNewValue, Sensitive: true}},
		{"new attribute", plan.Change{Attr: "environment", New: secretNewValue, Sensitive: true}},
		{"removed attribute", plan.Change{Attr: "environment", Old: secretOldValue, Sensitive: true}},
		{"attribute carrying contents", plan.Change{Attr: "token", Old: secretOldValue, New: secretNewValue,
			OldContent: []byte(secretOldContent), NewContent: []byte(secretNewContent), Sensitive: true}},
	}
	statuses := []struct {
		mode   string
		status Status
	}{
		{"plan", StatusChange},
		{"plan", StatusWillRun},
		{"apply", StatusChanged},
		{"apply", StatusFailed},
	}
	for _, c := range changes {
		for _, st := range statuses {
			t.Run(c.name+"/"+string(st.status), func(t *testing.T) {
				d := &plan.Diff{Changes: []plan.Change{c.change, visible}, Effects: []executor.Effect{{Kind: executor.EffectRestart, Unit: "app.service"}}}
				events := hostEvents(st.mode, st.status, d)
				human := renderHuman(events)
				js := renderJSON(t, events)
				for _, out := range []struct{ sink, text string }{{"human", human}, {"json", js}} {
					if !strings.Contains(out.text, visible.New) {
						t.Fatalf("%s sink did not render the diff at all:\n%s", out.sink, out.text)
					}
					for _, s := range allSecrets {
						if strings.Contains(out.text, s) {
							t.Errorf("%s sink leaks %q:\n%s", out.sink, s, out.text)
						}
					}
				}
				if !strings.Contains(human, "sensitive") {
					t.Errorf("human output should say a sensitive value changed:\n%s", human)
				}
				assertJSONSensitive(t, js, c.change.Attr)
			})
		}
	}
}

// Two hosts with different secrets in the same task: the second host's diff
// must not be printed in full either (the "same diff" shortcut compares
// rendered text, which is redacted).
func TestRedactionAcrossHosts(t *testing.T) {
	d := func(secret string) *plan.Diff {
		return &plan.Diff{Changes: []plan.Change{{Attr: "content", Path: "/etc/app.env",
			OldContent: []byte("x"), NewContent: []byte(secret), Sensitive: true}}}
	}
	events := []Event{
		{Type: EventRunStart, Mode: "plan", Hosts: []string{"a", "b"}},
		{Type: EventTask, Mode: "plan", Host: "a", Task: "file.env", Status: StatusChange, Diff: d(secretNewContent)},
		{Type: EventHostDone, Mode: "plan", Host: "a", Recap: []HostRecap{{Host: "a", Changed: 1}}},
		{Type: EventTask, Mode: "plan", Host: "b", Task: "file.env", Status: StatusChange, Diff: d(secretOldContent)},
		{Type: EventHostDone, Mode: "plan", Host: "b", Recap: []HostRecap{{Host: "b", Changed: 1}}},
		{Type: EventRecap, Mode: "plan", Recap: []HostRecap{{Host: "a", Changed: 1}, {Host: "b", Changed: 1}}},
	}
	for name, out := range map[string]string{"human": renderHuman(events), "json": renderJSON(t, events)} {
		for _, s := range allSecrets {
			if strings.Contains(out, s) {
				t.Errorf("%s sink leaks %q:\n%s", name, s, out)
			}
		}
	}
}

// hostEvents is a whole one-host run whose only task has diff d.
func hostEvents(mode string, st Status, d *plan.Diff) []Event {
	recap := []HostRecap{{Host: "web1", Changed: 1}}
	if st == StatusFailed {
		recap = []HostRecap{{Host: "web1", Failed: 1, Error: "file.env: write failed"}}
	}
	return []Event{
		{Type: EventRunStart, Mode: mode, Hosts: []string{"web1"}},
		{Type: EventHostStart, Mode: mode, Host: "web1"},
		{Type: EventTask, Mode: mode, Host: "web1", Task: "file.env", Kind: "file", Status: st, Diff: d},
		{Type: EventHostDone, Mode: mode, Host: "web1", Recap: recap},
		{Type: EventRecap, Mode: mode, Recap: recap},
	}
}

func renderHuman(events []Event) string {
	var buf bytes.Buffer
	s := NewHumanSink(&buf, false)
	s.ShowDurations = false
	for _, e := range events {
		s.Emit(e)
	}
	return buf.String()
}

// renderJSON returns the JSON lines, and also every string they hold once
// decoded (so an escaped form of a secret would be caught too).
func renderJSON(t *testing.T, events []Event) string {
	t.Helper()
	var buf bytes.Buffer
	s := NewJSONSink(&buf)
	for _, e := range events {
		s.Emit(e)
	}
	out := buf.String()
	var decoded strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		collectStrings(&decoded, v)
	}
	return out + "\n" + decoded.String()
}

func collectStrings(b *strings.Builder, v any) {
	switch v := v.(type) {
	case string:
		b.WriteString(v + "\n")
	case []any:
		for _, e := range v {
			collectStrings(b, e)
		}
	case map[string]any:
		for k, e := range v {
			b.WriteString(k + "\n")
			collectStrings(b, e)
		}
	}
}

// assertJSONSensitive checks that the JSON task event flags the change to
// attr as sensitive and carries no old or new value for it.
func assertJSONSensitive(t *testing.T, js, attr string) {
	t.Helper()
	for _, line := range strings.Split(js, "\n") {
		var ev JSONEvent
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Type != EventTask || ev.Diff == nil {
			continue
		}
		for _, c := range ev.Diff.Changes {
			if c.Attr != attr {
				continue
			}
			if !c.Sensitive || c.Old != "" || c.New != "" {
				t.Errorf("JSON change %q: sensitive=%v old=%q new=%q", attr, c.Sensitive, c.Old, c.New)
			}
			return
		}
	}
	t.Errorf("no JSON change for %q", attr)
}
