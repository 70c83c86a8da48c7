package modules

import (
	"regexp"
	"strings"
)

// lineEdit is what a line_in_file task does to a file's lines, decoded. Its
// apply method is pure: the whole new content from the old one.
//
// It follows Ansible's lineinfile.py (present() and absent(), ansible-core
// 2.18) step by step; where tend differs, the comment says so. Lines are
// the file's bytes split after each "\n", each keeping its line ending, as
// Python's readlines() does.
type lineEdit struct {
	// Regexp and Search (when HasSearch) find the line to replace or
	// remove; at most one of them is set.
	Regexp    *regexp.Regexp
	Search    string
	HasSearch bool
	// Line is the wanted line, without a line ending.
	Line   string
	Absent bool
	// InsertAfter and InsertBefore are "" (not set), "EOF"/"BOF" or a
	// regular expression (InsertRe); at most one of them is set. When
	// neither is, the line goes at EOF.
	InsertAfter  string
	InsertBefore string
	InsertRe     *regexp.Regexp
	// Backrefs expands Template with Regexp's groups, and leaves the file
	// as it is when Regexp matches no line.
	Backrefs   bool
	Template   backrefTemplate
	Firstmatch bool
}

// splitLines splits content after each "\n", like Python's readlines().
func splitLines(content []byte) []string {
	s := string(content)
	var lines []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// lineText is a line without its line ending ("\n" or "\r\n"): what
// regular expressions and search strings are matched against.
func lineText(l string) string {
	l = strings.TrimSuffix(l, "\n")
	return strings.TrimSuffix(l, "\r")
}

// sameLine is Python's `line == cur.rstrip(b'\r\n')`.
func sameLine(cur, line string) bool {
	return strings.TrimRight(cur, "\r\n") == line
}

// fileEOL is the line ending tend writes in a file: "\r\n" when its first
// line ends so, "\n" otherwise. (Ansible writes os.linesep, "\n", into
// CRLF files too.)
func fileEOL(lines []string) string {
	if len(lines) > 0 && strings.HasSuffix(lines[0], "\r\n") {
		return "\r\n"
	}
	return "\n"
}

// eolOf is the line ending of l, or eol when l has none (the last line of
// a file that does not end with a newline).
func eolOf(l, eol string) string {
	switch {
	case strings.HasSuffix(l, "\r\n"):
		return "\r\n"
	case strings.HasSuffix(l, "\n"):
		return "\n"
	}
	return eol
}

// endLast gives the last line a line ending when it has none, so that
// nothing is ever glued to it.
func endLast(lines []string, eol string) {
	if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
		lines[n-1] += eol
	}
}

// apply returns the new content of a file that holds old, and whether it
// differs.
func (e *lineEdit) apply(old []byte) ([]byte, bool) {
	lines := splitLines(old)
	var changed bool
	if e.Absent {
		lines, changed = e.remove(lines)
	} else {
		lines, changed = e.present(lines)
	}
	if !changed {
		return old, false
	}
	return []byte(strings.Join(lines, "")), true
}

// remove is absent(): every line that matches the regexp, holds the search
// string, or (with neither) is the line, goes.
func (e *lineEdit) remove(lines []string) ([]string, bool) {
	kept := lines[:0:0]
	for _, l := range lines {
		var match bool
		switch {
		case e.Regexp != nil:
			match = e.Regexp.MatchString(lineText(l))
		case e.HasSearch:
			match = strings.Contains(lineText(l), e.Search)
		default:
			match = sameLine(l, e.Line)
		}
		if !match {
			kept = append(kept, l)
		}
	}
	return kept, len(kept) != len(lines)
}

// present is present(): replace the last (first with firstmatch) line the
// regexp or search string finds; else, when the line is nowhere, insert it
// per insert_after / insert_before.
func (e *lineEdit) present(lines []string) ([]string, bool) {
	eol := fileEOL(lines)
	// index[0] is the line found (by regexp, search string or as the very
	// line); index[1] where insert_after/insert_before puts a new one.
	found, insertAt := -1, -1
	var loc []int
	matched := false
	if e.Regexp != nil {
		for i, l := range lines {
			if m := e.Regexp.FindStringSubmatchIndex(lineText(l)); m != nil {
				found, loc, matched = i, m, true
				if e.Firstmatch {
					break
				}
			}
		}
	}
	if e.HasSearch {
		for i, l := range lines {
			if strings.Contains(lineText(l), e.Search) {
				found, matched = i, true
				if e.Firstmatch {
					break
				}
			}
		}
	}
	if !matched {
		for i, l := range lines {
			if sameLine(l, e.Line) {
				found = i
			} else if e.InsertRe != nil && e.InsertRe.MatchString(lineText(l)) {
				if e.InsertAfter != "" {
					insertAt = i + 1
				} else {
					insertAt = i
				}
				if e.Firstmatch {
					break
				}
			}
		}
	}

	insert := func(at int) ([]string, bool) {
		out := make([]string, 0, len(lines)+1)
		out = append(out, lines[:at]...)
		out = append(out, e.Line+eol)
		return append(out, lines[at:]...), true
	}

	switch {
	case found != -1:
		// The line found is replaced (when it differs, line ending
		// included; tend keeps a CRLF line's ending).
		want := e.Line
		if e.Backrefs && loc != nil {
			want = e.Template.expand(lineText(lines[found]), loc)
		}
		want += eolOf(lines[found], eol)
		if lines[found] == want {
			return lines, false
		}
		lines[found] = want
		return lines, true
	case e.Backrefs:
		// Nothing to fill the backreferences with: no change.
		return lines, false
	case e.InsertBefore == "BOF" || e.InsertAfter == "BOF":
		return insert(0)
	case e.InsertAfter == "EOF" || insertAt == -1:
		endLast(lines, eol)
		return insert(len(lines))
	case e.InsertAfter != "":
		// Not when the line already follows the match (firstmatch stops
		// the search for the line at the first match).
		if insertAt == len(lines) {
			if sameLine(lines[insertAt-1], e.Line) {
				return lines, false
			}
			// Ansible glues the line to a last line without a newline
			// here; tend ends that line first.
			endLast(lines, eol)
			return insert(len(lines))
		}
		if sameLine(lines[insertAt], e.Line) {
			return lines, false
		}
		return insert(insertAt)
	default:
		return insert(insertAt)
	}
}
