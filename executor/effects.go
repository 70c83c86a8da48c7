package executor

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// EffectKind names a side effect on a host's systemd that tend performs
// after a change: the engine runs effects, not the modules, so that they
// can be recorded as pending before the change, batched with the re-check
// in one round trip, and settle-checked.
type EffectKind string

// The effect kinds.
const (
	EffectDaemonReload EffectKind = "daemon-reload"
	EffectEnable       EffectKind = "enable"
	EffectDisable      EffectKind = "disable"
	EffectResetFailed  EffectKind = "reset-failed"
	EffectStart        EffectKind = "start"
	EffectStop         EffectKind = "stop"
	EffectRestart      EffectKind = "restart"
	EffectReload       EffectKind = "reload"
)

// Effect is one systemctl action.
type Effect struct {
	Kind EffectKind `json:"kind"`
	// Unit is the unit acted on; empty for daemon-reload.
	Unit string `json:"unit,omitempty"`
	// Settle is how long the unit must stay up after a start, restart or
	// reload (zero: not checked).
	Settle time.Duration `json:"settle,omitempty"`
}

// String is how plans show the effect: "daemon-reload", "restart
// staffrota.service".
func (e Effect) String() string {
	if e.Unit == "" {
		return string(e.Kind)
	}
	return string(e.Kind) + " " + e.Unit
}

// Settles reports whether the effect (re)starts the unit, so that a settle
// check applies.
func (e Effect) Settles() bool {
	return e.Settle > 0 && (e.Kind == EffectStart || e.Kind == EffectRestart || e.Kind == EffectReload)
}

var effectUnitRe = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+$`)

// Validate checks that the effect can be turned into a command.
func (e Effect) Validate() error {
	switch e.Kind {
	case EffectDaemonReload:
		if e.Unit != "" {
			return fmt.Errorf("daemon-reload takes no unit")
		}
		return nil
	case EffectEnable, EffectDisable, EffectResetFailed, EffectStart, EffectStop, EffectRestart, EffectReload:
	default:
		return fmt.Errorf("unknown effect %q", e.Kind)
	}
	if e.Unit == "" || strings.HasPrefix(e.Unit, "-") || !effectUnitRe.MatchString(e.Unit) {
		return fmt.Errorf("%s: invalid unit name %q", e.Kind, e.Unit)
	}
	return nil
}

// EffectResult is what one effect did on the host.
type EffectResult struct {
	Effect Effect
	// Ran is false when an earlier effect failed and this one was skipped.
	Ran bool
	// ExitCode and Output are systemctl's.
	ExitCode int
	Output   string
	// Settle is "" (not checked), "ok", or why the unit did not settle.
	Settle string
	// Journal is the unit's status and journal tail when the effect or its
	// settle check failed.
	Journal string
}

// Failed reports whether the effect failed or its unit did not settle.
func (r EffectResult) Failed() bool {
	return r.Ran && (r.ExitCode != 0 || (r.Settle != "" && r.Settle != "ok"))
}

// Error describes a failed effect, with the journal tail.
func (r EffectResult) Error() string {
	var msg string
	if r.ExitCode != 0 {
		msg = fmt.Sprintf("%s failed (systemctl exit status %d)", r.Effect, r.ExitCode)
		if out := strings.TrimSpace(r.Output); out != "" {
			msg += ": " + out
		}
	} else {
		msg = fmt.Sprintf("%s: the unit did not stay up for %s: %s", r.Effect, r.Effect.Settle, r.Settle)
	}
	if j := strings.TrimSpace(condenseJournal(r.Journal)); j != "" {
		msg += "\nsystemctl status / journal of " + r.Effect.Unit + ":\n  " + strings.ReplaceAll(j, "\n", "\n  ")
	}
	return msg
}

// journalWindow is how many journal lines a failed effect reads back;
// journalTail of them are shown as they are, and error lines among the
// others are shown above them.
const (
	journalWindow = 120
	journalTail   = 20
	journalErrors = 6
)

// errorLine matches journal lines that name a cause: a crashing app's
// first error is often far above the tail, buried under the traceback of
// its supervisor shutting down.
var errorLine = regexp.MustCompile(`(?i)error|exception|fatal|failed to|denied|not found|no such|cannot|can't|unable|refused|invalid`)

// condenseJournal turns what a failed effect read back (systemctl status,
// the @@journal marker, the journal window) into status, the distinct error
// lines above the tail, and the tail.
func condenseJournal(raw string) string {
	status, journal, found := strings.Cut(raw, "@@journal\n")
	if !found {
		return raw
	}
	lines := strings.Split(strings.TrimRight(journal, "\n"), "\n")
	cut := max(len(lines)-journalTail, 0)
	var earlier []string
	seen := map[string]bool{}
	for _, l := range lines[:cut] {
		key := journalMessage(l)
		if errorLine.MatchString(key) && !seen[key] {
			seen[key] = true
			earlier = append(earlier, l)
		}
	}
	if len(earlier) > journalErrors {
		earlier = earlier[len(earlier)-journalErrors:]
	}
	var b strings.Builder
	b.WriteString(status)
	if len(earlier) > 0 {
		fmt.Fprintf(&b, "errors earlier in the journal (%d lines above the tail):\n", cut)
		for _, l := range earlier {
			b.WriteString("  " + l + "\n")
		}
		b.WriteString("journal tail:\n")
	}
	b.WriteString(strings.Join(lines[cut:], "\n"))
	return b.String()
}

// journalMessage is a journal line without its "Mon DD HH:MM:SS host
// ident[pid]: " prefix, so the same message of another crash counts once.
func journalMessage(line string) string {
	if _, msg, ok := strings.Cut(line, "]: "); ok {
		return msg
	}
	return line
}

// effectScript returns the shell lines that run effect i, unless an
// earlier one failed, and print its framed result.
func effectScript(i int, e Effect) string {
	var b strings.Builder
	cmd := "systemctl daemon-reload"
	if e.Unit != "" {
		cmd = "systemctl " + string(e.Kind) + " -- " + ShellQuote(e.Unit)
	}
	fmt.Fprintf(&b, "printf '@@tend effect %d\\n'\n", i)
	b.WriteString("if [ \"$tend_failed\" = no ]; then\n")
	fmt.Fprintf(&b, "\ttend_out=$(%s 2>&1); tend_rc=$?\n", cmd)
	b.WriteString("\tprintf 'rc %d\\n' \"$tend_rc\"\n")
	b.WriteString("\tprintf 'out '; if [ -n \"$tend_out\" ]; then printf '%s' \"$tend_out\" | base64 -w0; fi; echo\n")
	b.WriteString("\tif [ \"$tend_rc\" -ne 0 ]; then tend_failed=yes; fi\n")
	if e.Settles() {
		cs := int(e.Settle / (10 * time.Millisecond))
		fmt.Fprintf(&b, "\tif [ \"$tend_failed\" = no ]; then tend_settle %s %d || tend_failed=yes; fi\n", ShellQuote(e.Unit), max(cs, 1))
	}
	if e.Unit != "" {
		q := ShellQuote(e.Unit)
		b.WriteString("\tif [ \"$tend_failed\" = yes ]; then\n")
		fmt.Fprintf(&b, "\t\tprintf 'journal '; { systemctl status --no-pager --full --lines=0 -- %s; echo '@@journal'; journalctl -u %s -n %d --no-pager -q; } 2>&1 | base64 -w0; echo\n", q, q, journalWindow)
		b.WriteString("\tfi\n")
	}
	b.WriteString("else\n\techo skipped\nfi\n")
	return b.String()
}
