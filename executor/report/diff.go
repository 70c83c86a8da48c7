package report

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/tend-sh/tend/executor/plan"
)

// MaxDiffBytes is the largest old+new content shown as a unified diff.
const MaxDiffBytes = 1 << 20

// UnifiedDiff renders a content change as a unified diff. Sensitive and
// binary contents are never shown; a one-line note stands in for them.
func UnifiedDiff(c plan.Change) string {
	if c.Sensitive {
		return "(sensitive content changed; not shown)\n"
	}
	if c.OldContent == nil && c.Old != "" {
		// The old content was too large to read back: only its digest is known.
		return fmt.Sprintf("(content changed: %s → %s; the old file is too large to diff)\n", c.Old, orDash(c.New))
	}
	if isBinary(c.OldContent) || isBinary(c.NewContent) {
		return "(binary content changed; not shown)\n"
	}
	if len(c.OldContent)+len(c.NewContent) > MaxDiffBytes {
		return fmt.Sprintf("(content changed: %d → %d bytes; too large to show as a diff)\n", len(c.OldContent), len(c.NewContent))
	}
	oldLabel, newLabel := c.Path, c.Path
	if c.OldContent == nil {
		oldLabel = "/dev/null"
	}
	if c.NewContent == nil && c.Old != "" {
		newLabel = "/dev/null"
	}
	out := udiff.Unified(oldLabel, newLabel, string(c.OldContent), string(c.NewContent))
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}

func isBinary(b []byte) bool {
	return bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(b)
}

func orDash(s string) string {
	if s == "" {
		return "new content"
	}
	return s
}
