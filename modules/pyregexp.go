package modules

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// line_in_file and block_in_file take Ansible's attributes, whose regular
// expressions are Python's (re). tend matches with Go's regexp (RE2), which
// reads most Python patterns the same way. What RE2 lacks is refused when
// the task is decoded, with a diagnostic that says what to write instead;
// what both read differently and can be told apart is refused as well.

// regexpSyntaxDoc is the part of the modules' docs about regular expressions.
const regexpSyntaxDoc = `Regular expressions are Go's (RE2, https://pkg.go.dev/regexp/syntax), which read most of Python's (Ansible's) the same way; what RE2 lacks is refused when the playbook is read, before any connection: lookarounds ((?=…), (?!…), (?<=…), (?<!…)), backreferences inside a pattern (\1, (?P=name)), possessive and atomic groups, (?x), \Z (write \z) and {,n} (write {0,n}). Each line is matched without its line ending (LF or CRLF), so $ matches at the end of the line's text and a pattern cannot match \n. In an HCL string a backslash is written twice: "^\\s*PermitRootLogin".`

// compilePattern compiles a regular expression given in attr, explaining
// the Python-only syntax RE2 refuses or reads differently. A pattern
// matched line by line (all but wholeFile ones) must not hold a line feed.
func compilePattern(attr, src string, wholeFile bool) (*regexp.Regexp, error) {
	if why := pythonOnly(src); why != "" {
		return nil, fmt.Errorf("%s %q uses %s, which Go's regular expressions (RE2) do not have", attr, src, why)
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not a valid regular expression: %v", attr, src, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	if !wholeFile && matchesNewline(src) {
		return nil, fmt.Errorf("%s %q matches a line ending (\\n), but each line is matched without its line ending: remove the \\n (use $ for the end of the line)", attr, src)
	}
	return re, nil
}

// pythonOnly names the Python-only construct in a pattern, or "". It scans
// the pattern once, skipping escaped characters and bracket expressions.
func pythonOnly(src string) string {
	inClass := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		rest := src[i:]
		switch {
		case c == '\\' && i+1 < len(src):
			n := src[i+1]
			i++
			if inClass {
				continue
			}
			switch {
			case n >= '1' && n <= '9':
				return `a backreference \` + string(n) + ` (RE2 cannot refer back to a group inside the pattern)`
			case n == 'Z':
				return `\Z (write \z for the end of the text)`
			}
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			// A ']' right after '[' or '[^' is a literal.
			if strings.HasPrefix(src[i+1:], "^]") {
				i += 2
			} else if strings.HasPrefix(src[i+1:], "]") {
				i++
			}
		case strings.HasPrefix(rest, "(?="), strings.HasPrefix(rest, "(?!"):
			return "a lookahead " + rest[:3] + "…)"
		case strings.HasPrefix(rest, "(?<="), strings.HasPrefix(rest, "(?<!"):
			return "a lookbehind " + rest[:4] + "…)"
		case strings.HasPrefix(rest, "(?P="):
			return "a named backreference (?P=name)"
		case strings.HasPrefix(rest, "(?>"):
			return "an atomic group (?>…)"
		case strings.HasPrefix(rest, "(?#"):
			return "a comment group (?#…)"
		case strings.HasPrefix(rest, "(?("):
			return "a conditional group (?(id)yes|no)"
		case c == '(' && strings.HasPrefix(rest, "(?") && flagGroupHas(rest, 'x'):
			return "verbose mode (?x)"
		case (c == '*' || c == '+' || c == '?' || c == '}') && i+1 < len(src) && src[i+1] == '+' && i > 0:
			return "a possessive quantifier " + src[i:i+2]
		case c == '{' && isEmptyMinRepeat(rest):
			return "{,n} (write {0,n}: RE2 would read {,n} as text)"
		}
	}
	return ""
}

// flagGroupHas reports whether s starts with an inline flag group, (?flags)
// or (?flags:, that sets flag.
func flagGroupHas(s string, flag byte) bool {
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case c == ')' || c == ':':
			return false
		case c == flag:
			return true
		case c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		default:
			return false
		}
	}
	return false
}

var emptyMinRepeat = regexp.MustCompile(`^\{,[0-9]+\}`)

func isEmptyMinRepeat(s string) bool { return emptyMinRepeat.MatchString(s) }

// matchesNewline reports whether a pattern holds a literal line feed (an
// escaped \n or a raw one), which never matches a line read without its
// line ending.
func matchesNewline(src string) bool {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return false
	}
	var walk func(*syntax.Regexp) bool
	walk = func(r *syntax.Regexp) bool {
		if r.Op == syntax.OpLiteral && strings.ContainsRune(string(r.Rune), '\n') {
			return true
		}
		for _, s := range r.Sub {
			if walk(s) {
				return true
			}
		}
		return false
	}
	return walk(re)
}

// isMultiline reports whether a pattern starts with Python's (?m) flag,
// which block_in_file's insert_after/insert_before read as a search of the
// whole file rather than of each line.
func isMultiline(src string) bool {
	return strings.HasPrefix(src, "(?") && flagGroupHas(src, 'm') && !strings.HasPrefix(src, "(?-")
}

// backrefTemplate is a line with Python's backreferences (\1, \g<1>,
// \g<name>), parsed: literal text and group numbers, in order.
type backrefTemplate struct {
	parts []templatePart
}

type templatePart struct {
	text  string
	group int // > 0 (or the whole match, 0, when ref) for a reference
	ref   bool
}

// parseBackrefs reads line as Python's re.Match.expand template for re:
// \1 to \99 and \g<n> or \g<name> refer to groups, \\ is a backslash, \t,
// \r, \a, \f, \v are those characters, and any other backslash is kept as
// it is (Python refuses a backslash before an ASCII letter; so does this).
// A reference to a group the pattern does not have is an error, as in
// Python; a line ending (\n) is refused, since a line holds none.
func parseBackrefs(line string, re *regexp.Regexp) (backrefTemplate, error) {
	var t backrefTemplate
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, templatePart{text: lit.String()})
			lit.Reset()
		}
	}
	ref := func(n int, as string) error {
		if n > re.NumSubexp() {
			return fmt.Errorf("%s refers to group %d, but the regexp has %d", as, n, re.NumSubexp())
		}
		flush()
		t.parts = append(t.parts, templatePart{group: n, ref: true})
		return nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != '\\' || i+1 == len(line) {
			lit.WriteByte(c)
			continue
		}
		n := line[i+1]
		switch {
		case n == 'g':
			end := strings.IndexByte(line[i:], '>')
			if !strings.HasPrefix(line[i:], `\g<`) || end < 0 {
				return t, fmt.Errorf(`%q: \g must be followed by <number> or <name>`, line[i:min(len(line), i+8)])
			}
			name := line[i+3 : i+end]
			as := line[i : i+end+1]
			if num, err := strconv.Atoi(name); err == nil && num >= 0 {
				if err := ref(num, as); err != nil {
					return t, err
				}
			} else {
				idx := re.SubexpIndex(name)
				if idx < 0 {
					return t, fmt.Errorf("%s names no group of the regexp", as)
				}
				if err := ref(idx, as); err != nil {
					return t, err
				}
			}
			i += end
		case n >= '1' && n <= '9':
			j := i + 2
			if j < len(line) && line[j] >= '0' && line[j] <= '9' {
				j++
			}
			num, _ := strconv.Atoi(line[i+1 : j])
			if err := ref(num, line[i:j]); err != nil {
				return t, err
			}
			i = j - 1
		case n == '0':
			return t, fmt.Errorf(`\0 is not a group: write \g<0> for the whole match`)
		case n == '\\':
			lit.WriteByte('\\')
			i++
		case n == 'n':
			return t, fmt.Errorf(`\n would put a line ending in the line: a line_in_file line is one line (use block_in_file for several)`)
		case n == 't' || n == 'r' || n == 'a' || n == 'f' || n == 'v':
			lit.WriteByte(map[byte]byte{'t': '\t', 'r': '\r', 'a': '\a', 'f': '\f', 'v': '\v'}[n])
			i++
		case (n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z'):
			return t, fmt.Errorf(`\%c is not a backreference or an escape Python knows (write \\%c for a backslash)`, n, n)
		default:
			lit.WriteByte('\\')
		}
	}
	flush()
	return t, nil
}

// expand builds the line from the submatch indices of a match in s. A group
// that did not take part in the match expands to nothing (as in Python 3.5+).
func (t backrefTemplate) expand(s string, loc []int) string {
	var b strings.Builder
	for _, p := range t.parts {
		if !p.ref {
			b.WriteString(p.text)
			continue
		}
		if 2*p.group+1 < len(loc) && loc[2*p.group] >= 0 {
			b.WriteString(s[loc[2*p.group]:loc[2*p.group+1]])
		}
	}
	return b.String()
}
