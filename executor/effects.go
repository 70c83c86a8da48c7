package executor

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tend-sh/tend/executor/plan"
)

// EffectKind, Effect and the effect kinds are the plan's (package plan:
// the typed value that plan renders and apply consumes); the executor runs
// them.
type (
	EffectKind = plan.EffectKind
	Effect     = plan.Effect
)

// The effect kinds.
const (
	EffectDaemonReload = plan.EffectDaemonReload
	EffectEnable       = plan.EffectEnable
	EffectDisable      = plan.EffectDisable
	EffectResetFailed  = plan.EffectResetFailed
	EffectStart        = plan.EffectStart
	EffectStop         = plan.EffectStop
	EffectRestart      = plan.EffectRestart
	EffectReload       = plan.EffectReload
)

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
