package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"
)

// HumanSink renders events as text for people: one status line per task and
// host, unified diffs under changed files, and a recap table at the end.
// Each event is written as one block, so parallel hosts never interleave
// inside a block.
type HumanSink struct {
	mu    sync.Mutex
	w     io.Writer
	width int // host column width
	mode  string

	// Plan mode: each host's events, held until the host is done, then
	// rendered and written as one block.
	order      []string
	held       map[string][]Event
	failedLine map[string]bool
	// shown maps a task's rendered diff to the first host it was shown for.
	shown map[string]string
	// ShowOK prints in-sync tasks too (default true); ShowDurations adds
	// task durations (off in golden tests).
	ShowOK        bool
	ShowDurations bool

	bold, dim, green, yellow, red, cyan, magenta *color.Color
}

// NewHumanSink returns a sink writing to w; colour is used only when
// useColor is true (the caller decides from --no-color, NO_COLOR and
// whether w is a terminal).
func NewHumanSink(w io.Writer, useColor bool) *HumanSink {
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if useColor {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return &HumanSink{
		w: w, ShowOK: true, ShowDurations: true, failedLine: map[string]bool{},
		bold: mk(color.Bold), dim: mk(color.Faint), green: mk(color.FgGreen), yellow: mk(color.FgYellow),
		red: mk(color.FgRed, color.Bold), cyan: mk(color.FgCyan), magenta: mk(color.FgMagenta),
	}
}

// Emit renders one event.
//
// In plan mode each host's lines are held until the host is done, then
// written as one contiguous block: hosts appear as they finish, so a slow
// host never holds back the others, and no host's block is interleaved
// with another's. Hosts that never finished (an interrupted run) are
// written in inventory order before the recap, which lists every host in
// inventory order. In apply mode lines stream as tasks finish, to show
// progress.
func (s *HumanSink) Emit(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Type == EventRunStart {
		s.mode = e.Mode
		s.order = e.Hosts
		s.held = map[string][]Event{}
		s.failedLine = map[string]bool{}
		for _, h := range e.Hosts {
			s.width = max(s.width, len(h))
		}
	}
	if s.mode == "plan" && e.Host != "" && s.held != nil {
		s.held[e.Host] = append(s.held[e.Host], e)
		if e.Type == EventHostDone {
			s.writeHost(e.Host)
		}
		return
	}
	if e.Type == EventRecap {
		for _, h := range s.order {
			s.writeHost(h)
		}
	}
	var b bytes.Buffer
	s.render(&b, e)
	s.w.Write(b.Bytes())
}

// writeHost renders the events held for host h and writes them in one
// write.
func (s *HumanSink) writeHost(h string) {
	events, ok := s.held[h]
	if !ok {
		return
	}
	delete(s.held, h)
	var b bytes.Buffer
	for _, e := range events {
		s.render(&b, e)
	}
	s.w.Write(b.Bytes())
}

// render appends the text of one event to b.
func (s *HumanSink) render(b *bytes.Buffer, e Event) {
	switch e.Type {
	case EventRunStart:
		fmt.Fprintf(b, "%s %s\n\n", s.bold.Sprintf("tend %s:", e.Mode), hostList(e.Hosts))
	case EventTask, EventHandler:
		if e.Status == StatusFailed {
			s.failedLine[e.Host] = true
		}
		s.task(b, e)
	case EventRunNote:
		fmt.Fprintf(b, "%s %s\n", s.cyan.Sprint("==>"), e.Message)
	case EventHostNote:
		fmt.Fprintf(b, "%s  %s  %s\n", s.host(e.Host), s.yellow.Sprintf("%-11s", "note"), e.Message)
	case EventHostDone:
		r := first(e.Recap)
		switch {
		case r != nil && r.NotStarted:
			fmt.Fprintf(b, "%s  %s  %s\n", s.host(e.Host), s.status(StatusNotStarted), strings.TrimPrefix(e.Message, "not started: "))
		}
		if r != nil && !r.NotStarted && e.Message != "" && (r.Unreachable || (r.Failed > 0 && !s.failedLine[e.Host])) {
			// Connection-level failures have no task line of their own; a
			// host that became unreachable during a task says so after it.
			st := StatusFailed
			if r.Unreachable {
				st = StatusUnreachable
			}
			msg := s.red.Sprint(e.Message)
			if s.failedLine[e.Host] {
				msg = s.dim.Sprint("(the failed task above lost the connection)")
			}
			fmt.Fprintf(b, "%s  %s  %s\n", s.host(e.Host), s.status(st), msg)
		}
	case EventRecap:
		s.recap(b, e.Recap)
	}
}

func first(r []HostRecap) *HostRecap {
	if len(r) == 0 {
		return nil
	}
	return &r[0]
}

func hostList(hosts []string) string {
	switch len(hosts) {
	case 0:
		return "no hosts"
	case 1:
		return "1 host (" + hosts[0] + ")"
	}
	if len(hosts) <= 8 {
		return fmt.Sprintf("%d hosts (%s)", len(hosts), strings.Join(hosts, ", "))
	}
	return fmt.Sprintf("%d hosts (%s, …)", len(hosts), strings.Join(hosts[:8], ", "))
}

func (s *HumanSink) host(h string) string {
	return s.bold.Sprint(fmt.Sprintf("%-*s", s.width, h))
}

// statusWord is the fixed-width word shown for a status.
func statusWord(st Status) string {
	switch st {
	case StatusChange:
		return "change"
	case StatusWillRun:
		return "will run"
	case StatusUnreachable:
		return "UNREACHABLE"
	case StatusFailed:
		return "FAILED"
	case StatusNotStarted:
		return "not started"
	}
	return string(st)
}

func (s *HumanSink) status(st Status) string {
	word := fmt.Sprintf("%-11s", statusWord(st))
	switch st {
	case StatusOK:
		return s.green.Sprint(word)
	case StatusChange, StatusChanged:
		return s.yellow.Sprint(word)
	case StatusWillRun:
		return s.magenta.Sprint(word)
	case StatusSkipped:
		return s.cyan.Sprint(word)
	default:
		return s.red.Sprint(word)
	}
}

func (s *HumanSink) task(b *bytes.Buffer, e Event) {
	if e.Status == StatusOK && !s.ShowOK {
		return
	}
	title := e.Task
	if e.Type == EventHandler {
		title = "handler " + e.Name + " (" + e.Task + ")"
	} else if e.Name != "" {
		title += " (" + e.Name + ")"
	}
	line := fmt.Sprintf("%s  %s  %s", s.host(e.Host), s.status(e.Status), title)
	if e.Message != "" {
		msg := e.Message
		if e.Status == StatusFailed {
			msg = s.red.Sprint(msg)
		} else {
			msg = s.dim.Sprint(msg)
		}
		if strings.Contains(e.Message, "\n") {
			line += ":\n" + indent(msg, strings.Repeat(" ", s.width+4))
		} else {
			line += ": " + msg
		}
	}
	if e.Type == EventHandler && len(e.NotifiedBy) > 0 {
		line += s.dim.Sprintf(" ← %s", strings.Join(e.NotifiedBy, ", "))
	}
	if s.ShowDurations && e.Duration >= 100*time.Millisecond {
		line += s.dim.Sprintf(" (%s)", e.Duration.Round(10*time.Millisecond))
	}
	b.WriteString(strings.TrimRight(line, "\n") + "\n")
	if e.Diff == nil || (e.Status != StatusChange && e.Status != StatusChanged && e.Status != StatusFailed && e.Status != StatusWillRun) {
		return
	}
	pad := strings.Repeat(" ", s.width+4)
	var body bytes.Buffer
	s.diffBody(&body, e, pad)
	// Fleets are mostly alike: a diff already shown for another host is
	// named, not repeated. The key is the text itself, so any difference
	// (a path, one value) prints in full.
	key := e.Task + "\x00" + body.String()
	if first, seen := s.shown[key]; seen && first != e.Host {
		fmt.Fprintf(b, "%s%s\n", pad, s.dim.Sprintf("(same diff as %s)", first))
		return
	}
	if s.shown == nil {
		s.shown = map[string]string{}
	}
	s.shown[key] = e.Host
	b.Write(body.Bytes())
}

// diffBody renders a task's diff: content diffs, attribute changes and the
// actions that follow.
func (s *HumanSink) diffBody(b *bytes.Buffer, e Event, pad string) {
	for _, c := range e.Diff.Changes {
		if c.Attr == "content" {
			s.unified(b, pad, UnifiedDiff(c))
			continue
		}
		if c.Sensitive {
			fmt.Fprintf(b, "%s%s: %s\n", pad, c.Attr, s.dim.Sprint("(sensitive)"))
			continue
		}
		if c.Old == "" {
			// A new attribute (of a new file, say): just its value.
			fmt.Fprintf(b, "%s%s: %s\n", pad, c.Attr, s.green.Sprint(orAbsent(c.New)))
			continue
		}
		fmt.Fprintf(b, "%s%s: %s → %s\n", pad, c.Attr, s.red.Sprint(c.Old), s.green.Sprint(orAbsent(c.New)))
	}
	switch {
	case e.Diff.Unpreviewable && e.Status == StatusWillRun:
		fmt.Fprintf(b, "%s%s %s\n", pad, s.magenta.Sprint("cannot be previewed; will"), strings.Join(e.Diff.Actions(), ", "))
	case len(e.Diff.Actions()) > 0:
		fmt.Fprintf(b, "%s%s %s\n", pad, s.dim.Sprint("then:"), strings.Join(e.Diff.Actions(), ", "))
	}
}

func orAbsent(v string) string {
	if v == "" {
		return "(absent)"
	}
	return v
}

func (s *HumanSink) unified(b *bytes.Buffer, pad, diff string) {
	for _, l := range strings.SplitAfter(diff, "\n") {
		if l == "" {
			continue
		}
		text := strings.TrimRight(l, "\n")
		switch {
		case strings.HasPrefix(text, "+++"), strings.HasPrefix(text, "---"):
			text = s.bold.Sprint(text)
		case strings.HasPrefix(text, "@@"):
			text = s.cyan.Sprint(text)
		case strings.HasPrefix(text, "+"):
			text = s.green.Sprint(text)
		case strings.HasPrefix(text, "-"):
			text = s.red.Sprint(text)
		}
		b.WriteString(pad + text + "\n")
	}
}

func indent(text, pad string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	return strings.Join(lines, "\n")
}

func (s *HumanSink) recap(b *bytes.Buffer, recaps []HostRecap) {
	changedWord := "changed"
	if s.mode == "plan" {
		changedWord = "to change"
	}
	w := max(s.width, len("HOST"))
	fmt.Fprintf(b, "\n%s\n", s.bold.Sprint("RECAP"))
	outcome, ignored, drilled := false, false, false
	for _, r := range recaps {
		outcome = outcome || r.NotStarted || r.Reverted || r.RevertError != ""
		ignored = ignored || r.Ignored > 0
		drilled = drilled || r.Drilled > 0
	}
	header := fmt.Sprintf("%-*s  %4s  %9s  %6s  %7s  %s", w, "HOST", "ok", changedWord, "failed", "skipped", "unreachable")
	if ignored {
		header = fmt.Sprintf("%-*s  %4s  %9s  %6s  %7s  %7s  %s", w, "HOST", "ok", changedWord, "failed", "ignored", "skipped", "unreachable")
	}
	if drilled {
		header += "  recovery"
	}
	if outcome {
		header += "  outcome"
	}
	fmt.Fprintln(b, header)
	for _, r := range recaps {
		unreach := "-"
		if r.Unreachable {
			unreach = s.red.Sprint("yes")
		}
		if drilled {
			rec := "-"
			if r.Recovery > 0 && r.Failed == 0 {
				rec = r.Recovery.Round(10 * time.Millisecond).String()
			}
			if outcome {
				rec = fmt.Sprintf("%-8s", rec)
			}
			unreach = fmt.Sprintf("%-11s  %s", unreach, rec)
		}
		if outcome {
			unreach = fmt.Sprintf("%-11s", unreach)
			switch {
			case r.NotStarted:
				unreach += "  " + s.red.Sprint("not started")
			case r.Reverted:
				unreach += "  " + s.yellow.Sprint("failed, reverted")
			case r.RevertError != "":
				unreach += "  " + s.red.Sprint("failed, REVERT FAILED")
			}
		}
		ch := fmt.Sprintf("%9d", r.Changed)
		if r.Changed > 0 {
			ch = s.yellow.Sprint(ch)
		}
		fl := fmt.Sprintf("%6d", r.Failed)
		if r.Failed > 0 {
			fl = s.red.Sprint(fl)
		}
		if ignored {
			fl += fmt.Sprintf("  %7d", r.Ignored)
		}
		fmt.Fprintf(b, "%s  %4d  %s  %s  %7d  %s\n", s.bold.Sprintf("%-*s", w, r.Host), r.OK, ch, fl, r.Skipped, unreach)
	}
	t := Totals(recaps)
	fmt.Fprintln(b)
	interrupted, internal, notStarted := 0, 0, 0
	for _, r := range recaps {
		if r.NotStarted {
			notStarted++
		}
		if r.Interrupted {
			interrupted++
		}
		if r.Internal {
			internal++
		}
	}
	switch {
	case internal > 0:
		fmt.Fprintf(b, "%s\n", s.red.Sprintf("Internal error (a bug in tend) on %d of %s: see the host's message above.", internal, plural(t.Hosts, "host")))
	case interrupted > 0:
		fmt.Fprintf(b, "%s\n", s.red.Sprintf("Interrupted: %d of %s stopped before they were done; the commands running on them were stopped there.", interrupted, plural(t.Hosts, "host")))
	case t.Failed > 0 || t.Unreachable > 0 || notStarted > 0:
		failedHosts := 0
		for _, r := range recaps {
			if r.Failed > 0 && !r.Unreachable && !r.NotStarted {
				failedHosts++
			}
		}
		var parts []string
		if failedHosts > 0 {
			parts = append(parts, fmt.Sprintf("%d of %s failed", failedHosts, plural(t.Hosts, "host")))
		}
		if t.Reverted > 0 {
			parts = append(parts, fmt.Sprintf("%d reverted", t.Reverted))
		}
		if t.Unreachable > 0 {
			parts = append(parts, fmt.Sprintf("%d of %s unreachable", t.Unreachable, plural(t.Hosts, "host")))
		}
		if notStarted > 0 {
			parts = append(parts, fmt.Sprintf("%d not started (the rollout halted)", notStarted))
		}
		fmt.Fprintf(b, "%s\n", s.red.Sprint(strings.Join(parts, ", ")+"."))
	case s.mode == "plan" && t.Changed > 0:
		n := 0
		for _, r := range recaps {
			if r.Changed > 0 {
				n++
			}
		}
		fmt.Fprintf(b, "%s\n", s.yellow.Sprintf("Plan: %s pending on %d of %s. Run `tend apply` to converge.", plural(t.Changed, "change"), n, plural(t.Hosts, "host")))
	case s.mode == "plan":
		fmt.Fprintf(b, "%s\n", s.green.Sprintf("No changes: %s in sync.", plural(t.Hosts, "host")))
	case s.mode == "drill":
		var slowest time.Duration
		for _, r := range recaps {
			slowest = max(slowest, r.Recovery)
		}
		fmt.Fprintf(b, "%s\n", s.green.Sprintf("Drilled: %s recovered, the slowest in %s.", plural(t.Hosts, "host"), slowest.Round(10*time.Millisecond)))
	case t.Changed == 0:
		fmt.Fprintf(b, "%s\n", s.green.Sprintf("No changes: %s in sync, all ok.", plural(t.Hosts, "host")))
	default:
		n := 0
		for _, r := range recaps {
			if r.Changed > 0 {
				n++
			}
		}
		fmt.Fprintf(b, "%s\n", s.green.Sprintf("Applied: %s on %d of %s, all ok.", plural(t.Changed, "change"), n, plural(t.Hosts, "host")))
	}
}

// plural formats a count with its noun, "1 host" or "3 hosts".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
