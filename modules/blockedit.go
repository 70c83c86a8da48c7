package modules

import (
	"regexp"
	"strings"
)

// blockEdit is what a block_in_file task does to a file, decoded. Its apply
// method is pure: the whole new content from the old one.
//
// It follows Ansible's blockinfile.py (main(), ansible-core 2.18); where
// tend differs, the comment says so.
type blockEdit struct {
	// Begin and End are the marker lines, without line endings.
	Begin, End string
	// Block is the text between the markers; empty (or Absent) removes the
	// block and its markers.
	Block  string
	Absent bool
	// InsertAfter and InsertBefore are "" (not set), "EOF" (after) or "BOF"
	// (before), or a regular expression (InsertRe), which Multiline
	// matches against the whole file, once, rather than line by line.
	InsertAfter  string
	InsertBefore string
	InsertRe     *regexp.Regexp
	Multiline    bool
	// PrependNewline and AppendNewline put a blank line before and after a
	// new block, where the file has none and is not at its start or end.
	PrependNewline bool
	AppendNewline  bool
}

// blockLines are the block's lines with its markers. The markers, and the
// lines of a block written with LF line endings, end with the file's line
// ending eol; a block written with CRLF keeps its own (as Ansible keeps
// every block's), and its last line gets eol when it has no line ending.
func (e *blockEdit) blockLines(eol string) []string {
	if e.Absent || e.Block == "" {
		return nil
	}
	out := []string{e.Begin + eol}
	if strings.Contains(e.Block, "\r\n") {
		out = append(out, splitLines([]byte(e.Block))...)
		endLast(out, eol)
	} else {
		for _, l := range strings.Split(strings.TrimSuffix(e.Block, "\n"), "\n") {
			out = append(out, l+eol)
		}
	}
	return append(out, e.End+eol)
}

// apply returns the new content of a file that holds old, and whether it
// differs.
func (e *blockEdit) apply(old []byte) ([]byte, bool) {
	lines := splitLines(old)
	eol := fileEOL(lines)
	block := e.blockLines(eol)

	// The last line equal to each marker. Ansible compares the marker with
	// its "\n": a CRLF file's markers are never found, and the block is
	// added again on every run; tend compares the lines' text.
	n0, n1 := -1, -1
	for i, l := range lines {
		switch lineText(l) {
		case e.Begin:
			n0 = i
		case e.End:
			n1 = i
		}
	}
	switch {
	case n0 == -1 || n1 == -1:
		if block == nil {
			// Nothing to remove. (Ansible would still end a last line
			// that has no newline.)
			return old, false
		}
		n0 = e.insertAt(old, lines)
	case n0 < n1:
		lines = append(lines[:n0:n0], lines[n1+1:]...)
	default:
		lines = append(lines[:n1:n1], lines[n0+1:]...)
		n0 = n1
	}
	if n0 > 0 && block != nil {
		endLast(lines[:n0], eol)
	}
	if block != nil && e.PrependNewline && n0 != 0 && lineText(lines[n0-1]) != "" {
		lines = insertLines(lines, n0, eol)
		n0++
	}
	lines = insertLines(lines, n0, block...)
	if after := n0 + len(block); block != nil && e.AppendNewline && after < len(lines) && lineText(lines[after]) != "" {
		lines = insertLines(lines, after, eol)
	}
	out := []byte(strings.Join(lines, ""))
	return out, string(out) != string(old)
}

// insertAt is where a block whose markers are not in the file goes.
func (e *blockEdit) insertAt(old []byte, lines []string) int {
	switch {
	case e.InsertRe != nil:
		n0 := -1
		if e.Multiline {
			// One search of the whole file; the line where the match
			// ends (after) or starts (before), counted in "\n"s.
			if m := e.InsertRe.FindIndex(old); m != nil {
				if e.InsertAfter != "" {
					n0 = strings.Count(string(old[:m[1]]), "\n")
				} else {
					n0 = strings.Count(string(old[:m[0]]), "\n")
				}
			}
		} else {
			for i, l := range lines {
				if e.InsertRe.MatchString(lineText(l)) {
					n0 = i
				}
			}
		}
		switch {
		case n0 == -1:
			return len(lines)
		case e.InsertAfter != "":
			return min(n0+1, len(lines))
		}
		return n0
	case e.InsertBefore == "BOF":
		return 0
	}
	return len(lines)
}

// insertLines inserts add into lines at i.
func insertLines(lines []string, i int, add ...string) []string {
	out := make([]string, 0, len(lines)+len(add))
	out = append(out, lines[:i]...)
	out = append(out, add...)
	return append(out, lines[i:]...)
}
