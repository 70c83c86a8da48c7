package executor

import "strings"

// ShellQuote returns s quoted for a POSIX shell: the result is one word that
// the shell reads back as exactly s, whatever bytes s holds. Words made only
// of safe characters are returned as they are.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		if !isShellSafe(s[i]) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	// Inside single quotes nothing is special but the single quote itself,
	// which is written as '\'' (close, escaped quote, reopen).
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// appendShellQuoted appends ShellQuote of the concatenation of parts to b,
// without making the concatenation.
func appendShellQuoted(b []byte, parts ...string) []byte {
	empty, safe := true, true
	for _, s := range parts {
		empty = empty && s == ""
		for i := 0; i < len(s) && safe; i++ {
			safe = isShellSafe(s[i])
		}
	}
	if empty {
		return append(b, "''"...)
	}
	if safe {
		for _, s := range parts {
			b = append(b, s...)
		}
		return b
	}
	b = append(b, '\'')
	for _, s := range parts {
		for {
			i := strings.IndexByte(s, '\'')
			if i < 0 {
				break
			}
			b = append(b, s[:i]...)
			b = append(b, `'\''`...)
			s = s[i+1:]
		}
		b = append(b, s...)
	}
	return append(b, '\'')
}

// ShellJoin quotes each word with ShellQuote and joins them with spaces, so
// the shell reads back exactly the given words.
func ShellJoin(words ...string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = ShellQuote(w)
	}
	return strings.Join(quoted, " ")
}

func isShellSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '/', ',', ':', '@', '%', '+':
		return true
	}
	return false
}
