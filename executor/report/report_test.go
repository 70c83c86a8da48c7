package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/plan"
)

var update = flag.Bool("update", false, "rewrite golden files")

const oldUnit = `[Unit]
Description=Staff rota (gunicorn)
After=network.target

[Service]
User=staffrota
ExecStart=/home/staff-rota-system/venv/bin/gunicorn --workers 1 --bind unix:/home/staff-rota-system/staffrota.sock rotasystems.wsgi:application

[Install]
WantedBy=multi-user.target
`

const newUnit = `[Unit]
Description=Staff rota (gunicorn)
After=network.target
StartLimitIntervalSec=60
StartLimitBurst=3

[Service]
User=staffrota
ExecStart=/home/staff-rota-system/venv/bin/gunicorn --workers 2 --timeout 60 --bind unix:/home/staff-rota-system/staffrota.sock rotasystems.wsgi:application
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
`

// planEvents is a plan run over three hosts: one with changes, one in sync,
// one unreachable.
func planEvents() []Event {
	unitDiff := &plan.Diff{
		Changes: []plan.Change{
			{Attr: "content", Path: "/etc/systemd/system/staffrota.service", OldContent: []byte(oldUnit), NewContent: []byte(newUnit)},
		},
		Effects: []executor.Effect{{Kind: executor.EffectDaemonReload}, {Kind: executor.EffectRestart, Unit: "staffrota.service"}},
	}
	return []Event{
		{Type: EventRunStart, Mode: "plan", Hosts: []string{"web1", "web2", "web-old"}},
		{Type: EventHostStart, Mode: "plan", Host: "web1"},
		{Type: EventTask, Mode: "plan", Host: "web1", Task: "gunicorn_service.staffrota", Kind: "gunicorn_service", Status: StatusChange, Diff: unitDiff},
		{Type: EventTask, Mode: "plan", Host: "web1", Task: "file./etc/app.env", Kind: "file", Status: StatusChange, Diff: &plan.Diff{Changes: []plan.Change{
			{Attr: "content", Path: "/etc/app.env", OldContent: []byte("A=1\n"), NewContent: []byte("A=2\n"), Sensitive: true},
			{Attr: "mode", Old: "0644", New: "0600"},
		}}},
		{Type: EventTask, Mode: "plan", Host: "web1", Task: "command.migrate", Kind: "command", Status: StatusWillRun, Diff: &plan.Diff{Unpreviewable: true, Run: "./manage.py migrate"}},
		{Type: EventTask, Mode: "plan", Host: "web1", Task: "health_check.staffrota", Kind: "health_check", Status: StatusSkipped, Message: "verified on apply: GET unix:/home/staff-rota-system/staffrota.sock /health/"},
		{Type: EventHandler, Mode: "plan", Host: "web1", Task: "service.staffrota", Kind: "service", Name: "restart-app", Status: StatusWillRun, Message: "notified", NotifiedBy: []string{"file./etc/app.env"}},
		{Type: EventHostDone, Mode: "plan", Host: "web1", Status: StatusChange, Recap: []HostRecap{{Host: "web1", Changed: 4, Skipped: 1}}},
		{Type: EventTask, Mode: "plan", Host: "web2", Task: "gunicorn_service.staffrota", Kind: "gunicorn_service", Status: StatusOK, Diff: &plan.Diff{}},
		{Type: EventHostDone, Mode: "plan", Host: "web2", Status: StatusOK, Recap: []HostRecap{{Host: "web2", OK: 1, Skipped: 1}}},
		{Type: EventHostDone, Mode: "plan", Host: "web-old", Status: StatusUnreachable, Message: "web-old (192.0.2.1:22): connect: i/o timeout", Recap: []HostRecap{{Host: "web-old", Unreachable: true}}},
		{Type: EventRecap, Mode: "plan", Recap: []HostRecap{
			{Host: "web1", Changed: 4, Skipped: 1},
			{Host: "web2", OK: 1, Skipped: 1},
			{Host: "web-old", Unreachable: true, Error: "web-old (192.0.2.1:22): connect: i/o timeout"},
		}},
	}
}

func applyEvents() []Event {
	return []Event{
		{Type: EventRunStart, Mode: "apply", Hosts: []string{"web1", "web2"}},
		{Type: EventTask, Mode: "apply", Host: "web1", Task: "directory./srv/app", Kind: "directory", Status: StatusChanged, Diff: &plan.Diff{Changes: []plan.Change{{Attr: "exists", Old: "", New: "directory"}, {Attr: "owner", Old: "", New: "staffrota"}}}},
		{Type: EventTask, Mode: "apply", Host: "web1", Task: "health_check.staffrota", Kind: "health_check", Status: StatusFailed, Message: "attempt 10/10: GET /health/: status 503, want 200\n$.status: want \"ok\", got \"error\""},
		{Type: EventTask, Mode: "apply", Host: "web2", Task: "health_check.staffrota", Kind: "health_check", Status: StatusOK, Message: "passed: GET unix:/s.sock /health/"},
		{Type: EventRecap, Mode: "apply", Recap: []HostRecap{{Host: "web1", Changed: 1, Failed: 1}, {Host: "web2", OK: 1}}},
	}
}

func render(events []Event) string {
	var buf bytes.Buffer
	s := NewHumanSink(&buf, false)
	s.ShowDurations = false
	for _, e := range events {
		s.Emit(e)
	}
	return buf.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from rendered output:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func TestHumanGolden(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
	}{
		{"plan.golden", planEvents()},
		{"apply.golden", applyEvents()},
		{"drill.golden", drillEvents()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(tt.events)
			if strings.Contains(got, "\x1b[") {
				t.Fatal("colour escape codes in colourless output")
			}
			golden(t, tt.name, got)
		})
	}
}

func TestHumanColour(t *testing.T) {
	var buf bytes.Buffer
	s := NewHumanSink(&buf, true)
	for _, e := range planEvents() {
		s.Emit(e)
	}
	if !strings.Contains(buf.String(), "\x1b[") {
		t.Fatal("no colour with colour enabled")
	}
}

func TestSensitiveNeverRendered(t *testing.T) {
	d := &plan.Diff{Changes: []plan.Change{{Attr: "content", Path: "/etc/secret", OldContent: []byte("hunter2-old"), NewContent: []byte("hunter2-new"), Sensitive: true}}}
	e := Event{Type: EventTask, Mode: "plan", Host: "h", Task: "file./etc/secret", Status: StatusChange, Diff: d}
	var human, js bytes.Buffer
	NewHumanSink(&human, false).Emit(e)
	NewJSONSink(&js).Emit(e)
	for name, out := range map[string]string{"human": human.String(), "json": js.String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s output leaks sensitive content: %s", name, out)
		}
	}
}

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	s := NewJSONSink(&buf)
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, e := range planEvents() {
		e.Time = at
		s.Emit(e)
	}
	sc := bufio.NewScanner(&buf)
	var events []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line is not JSON: %q: %v", sc.Text(), err)
		}
		events = append(events, m)
	}
	if len(events) != len(planEvents()) {
		t.Fatalf("got %d lines, want %d", len(events), len(planEvents()))
	}
	unit := events[2]
	if unit["status"] != "change" || unit["host"] != "web1" || unit["task"] != "gunicorn_service.staffrota" {
		t.Errorf("task event fields: %v", unit)
	}
	diff := unit["diff"].(map[string]any)
	ch := diff["changes"].([]any)[0].(map[string]any)
	if !strings.Contains(ch["unified"].(string), "+Restart=always") {
		t.Errorf("unified diff missing the new line: %v", ch["unified"])
	}
	recap := events[len(events)-1]
	totals := recap["totals"].(map[string]any)
	if totals["changed"].(float64) != 4 || totals["unreachable"].(float64) != 1 || totals["hosts"].(float64) != 3 {
		t.Errorf("totals: %v", totals)
	}
}

func TestUnifiedDiffCases(t *testing.T) {
	big := bytes.Repeat([]byte("x\n"), MaxDiffBytes)
	tests := []struct {
		name   string
		change plan.Change
		want   string
	}{
		{"new file", plan.Change{Attr: "content", Path: "/a", NewContent: []byte("hi\n")}, "--- /dev/null\n+++ /a\n@@ -0,0 +1 @@\n+hi\n"},
		{"edit", plan.Change{Attr: "content", Path: "/a", OldContent: []byte("a\nb\n"), NewContent: []byte("a\nc\n")}, "--- /a\n+++ /a\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"},
		{"sensitive", plan.Change{Attr: "content", Path: "/a", OldContent: []byte("s1"), NewContent: []byte("s2"), Sensitive: true}, "(sensitive content changed; not shown)\n"},
		{"binary", plan.Change{Attr: "content", Path: "/a", OldContent: []byte{0, 1}, NewContent: []byte{0, 2}}, "(binary content changed; not shown)\n"},
		{"old too large to read", plan.Change{Attr: "content", Path: "/a", Old: "sha256:abc", NewContent: []byte("x")}, "(content changed: sha256:abc → new content; the old file is too large to diff)\n"},
		{"too large to show", plan.Change{Attr: "content", Path: "/a", OldContent: []byte("a"), NewContent: big}, fmt.Sprintf("(content changed: 1 → %d bytes; too large to show as a diff)\n", len(big))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnifiedDiff(tt.change); got != tt.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

// TestPlanStreamsHostsAsTheyFinish: in plan, a host's block is written as
// soon as the host is done (b, done first, before a), in one piece (a's two
// tasks together although b's events came between them), a diff is named
// "same as" only after it was shown, and the recap stays in inventory order.
func TestPlanStreamsHostsAsTheyFinish(t *testing.T) {
	d := &plan.Diff{Changes: []plan.Change{{Attr: "content", Path: "/u", OldContent: []byte("w=1\n"), NewContent: []byte("w=2\n")}}}
	events := []Event{
		{Type: EventRunStart, Mode: "plan", Hosts: []string{"a", "b", "c"}},
		{Type: EventTask, Mode: "plan", Host: "a", Task: "file.u", Status: StatusChange, Diff: d},
		{Type: EventTask, Mode: "plan", Host: "b", Task: "file.u", Status: StatusChange, Diff: d},
		{Type: EventTask, Mode: "plan", Host: "c", Task: "file.x", Status: StatusOK},
		{Type: EventHostDone, Mode: "plan", Host: "b", Recap: []HostRecap{{Host: "b", Changed: 1}}},
		{Type: EventTask, Mode: "plan", Host: "a", Task: "file.x", Status: StatusFailed, Message: "boom"},
		{Type: EventHostDone, Mode: "plan", Host: "a", Message: "file.x: boom", Recap: []HostRecap{{Host: "a", Changed: 1, Failed: 1, Error: "file.x: boom"}}},
		// c never finishes (an interrupted run): written before the recap.
		{Type: EventRecap, Mode: "plan", Recap: []HostRecap{{Host: "a", Changed: 1, Failed: 1}, {Host: "b", Changed: 1}, {Host: "c", OK: 1, Interrupted: true}}},
	}
	var writes []string
	s := NewHumanSink(writerFunc(func(p []byte) { writes = append(writes, string(p)) }), false)
	s.ShowDurations = false
	for i, e := range events {
		n := len(writes)
		s.Emit(e)
		if e.Type == EventHostDone && e.Host == "b" && (len(writes) != n+1 || !strings.HasPrefix(writes[n], "b  change")) {
			t.Fatalf("event %d: b's block is not written, in one write, when b is done: %q", i, writes[n:])
		}
	}
	out := strings.Join(writes, "")
	want := `tend plan: 3 hosts (a, b, c)

b  change       file.u
     --- /u
     +++ /u
     @@ -1 +1 @@
     -w=1
     +w=2
a  change       file.u
     (same diff as b)
a  FAILED       file.x: boom
c  ok           file.x

RECAP
HOST    ok  to change  failed  skipped  unreachable
a        0          1       1        0  -
b        0          1       0        0  -
c        1          0       0        0  -
`
	if !strings.HasPrefix(out, want) {
		t.Fatalf("got:\n%s\nwant (prefix):\n%s", out, want)
	}
	if strings.Count(out, "boom") != 1 {
		t.Errorf("a failed task must be reported once, not again as a host line:\n%s", out)
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func TestSameDiffNamedNotRepeated(t *testing.T) {
	d := func(workers string) *plan.Diff {
		return &plan.Diff{Changes: []plan.Change{{Attr: "content", Path: "/u", OldContent: []byte("w=1\n"), NewContent: []byte("w=" + workers + "\n")}}}
	}
	out := render([]Event{
		{Type: EventRunStart, Mode: "apply", Hosts: []string{"a", "b", "c"}},
		{Type: EventTask, Mode: "apply", Host: "a", Task: "file.u", Status: StatusChanged, Diff: d("2")},
		{Type: EventTask, Mode: "apply", Host: "b", Task: "file.u", Status: StatusChanged, Diff: d("2")},
		{Type: EventTask, Mode: "apply", Host: "c", Task: "file.u", Status: StatusChanged, Diff: d("4")},
	})
	if strings.Count(out, "+w=2") != 1 || !strings.Contains(out, "(same diff as a)") || !strings.Contains(out, "+w=4") {
		t.Errorf("identical diffs should be shown once, different ones in full:\n%s", out)
	}
}

// drillEvents is a restart drill over three hosts: the canary recovers,
// the next one hits the start limit, the last is not started.
func drillEvents() []Event {
	ok := &Drill{Unit: "staffrota.service", OldPID: 386, NewPID: 667, NRestarts: 2, Processes: 3, Recovery: 11220 * time.Millisecond, Healthy: 12540 * time.Millisecond, Result: "success"}
	hit := &Drill{Unit: "staffrota.service", OldPID: 157, NRestarts: 3, Processes: -1, Result: "exit-code", StartLimitHit: true}
	okRecap := HostRecap{Host: "web1", OK: 1, Drilled: 1, Recovery: ok.Recovery}
	hitRecap := HostRecap{Host: "web2", Failed: 1, Drilled: 1, Error: "restart_drill.staffrota.service: start-limit-hit: …"}
	halted := HostRecap{Host: "web3", NotStarted: true, Error: "not started: rollout halted after 1 failed host"}
	return []Event{
		{Type: EventRunStart, Mode: "drill", Hosts: []string{"web1", "web2", "web3"}},
		{Type: EventRunNote, Mode: "drill", Message: "rollout: one host at a time, halt at the first failed host"},
		{Type: EventHostStart, Mode: "drill", Host: "web1"},
		{Type: EventTask, Mode: "drill", Host: "web1", Task: "restart_drill.staffrota.service", Kind: "restart_drill", Status: StatusOK, Drill: ok, Duration: 13 * time.Second,
			Message: "recovered in 11.22s (MainPID 386 → 667, 3 processes, NRestarts 1 → 2), healthy in 12.54s"},
		{Type: EventHostDone, Mode: "drill", Host: "web1", Status: StatusOK, Recap: []HostRecap{okRecap}},
		{Type: EventTask, Mode: "drill", Host: "web2", Task: "restart_drill.staffrota.service", Kind: "restart_drill", Status: StatusFailed, Drill: hit, Duration: 4 * time.Second,
			Message: "start-limit-hit: systemd gave up restarting staffrota.service (StartLimitBurst=3 in StartLimitIntervalSec=1min)\njournalctl -u staffrota.service -n 20:\nstaffrota.service: Start request repeated too quickly."},
		{Type: EventHostDone, Mode: "drill", Host: "web2", Status: StatusFailed, Message: hitRecap.Error, Recap: []HostRecap{hitRecap}},
		{Type: EventHostDone, Mode: "drill", Host: "web3", Status: StatusNotStarted, Message: halted.Error, Recap: []HostRecap{halted}},
		{Type: EventRecap, Mode: "drill", Recap: []HostRecap{okRecap, hitRecap, halted}},
	}
}

func TestDrillJSON(t *testing.T) {
	var b bytes.Buffer
	s := NewJSONSink(&b)
	for _, e := range drillEvents() {
		s.Emit(e)
	}
	out := b.String()
	for _, want := range []string{
		`"drill":{"unit":"staffrota.service","old_pid":386,"new_pid":667,"n_restarts":2,"processes":3,"recovery_ms":11220,"healthy_ms":12540,"result":"success"}`,
		`"drill":{"unit":"staffrota.service","old_pid":157,"n_restarts":3,"processes":-1,"result":"exit-code","start_limit_hit":true}`,
		`"drilled":1,"recovery_ms":11220`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %s:\n%s", want, out)
		}
	}
}
