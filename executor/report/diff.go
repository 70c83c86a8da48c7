package report

import (
	"bytes"
	"strings"
	"unicode/utf8"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/tend-sh/tend/modules"
)

// UnifiedDiff renders a content change as a unified diff. Sensitive and
// binary contents are never shown; a one-line note stands in for them.
func UnifiedDiff(c modules.Change) string {
	if c.Sensitive {
		return "(sensitive content changed; not shown)\n"
	}
	if isBinary(c.OldContent) || isBinary(c.NewContent) {
		return "(binary content changed; not shown)\n"
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
