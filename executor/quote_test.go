package executor

import (
	"os/exec"
	"strings"
	"testing"
)

func TestShellQuote(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "''"},
		{"plain", "plain"},
		{"/etc/staffrota/app.conf", "/etc/staffrota/app.conf"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"a=b", "'a=b'"},
		{"~root", "'~root'"},
	}
	for _, tt := range tests {
		if got := ShellQuote(tt.in); got != tt.want {
			t.Errorf("ShellQuote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestShellQuoteRoundTrip feeds hostile words through a real /bin/sh and
// checks that each comes back byte for byte.
func TestShellQuoteRoundTrip(t *testing.T) {
	words := []string{
		"", " ", "'", "''", `"`, `\`, "$(id)", "`id`", "a\nb", "*", "?", "[a]",
		"-n", "--", "a;b", "a|b", "a&b", "${x:-y}", "!", "#c", "~", "\t", "é ü",
		"'\"'\"'", "x'y'z", "\x01\x7f",
	}
	script := `for a in ` + ShellJoin(words...) + `; do printf '%s\0' "$a"; done`
	out, err := exec.Command("/bin/sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(words) {
		t.Fatalf("got %d words back, want %d: %q", len(got), len(words), got)
	}
	for i := range words {
		if got[i] != words[i] {
			t.Errorf("word %d: got %q, want %q", i, got[i], words[i])
		}
	}
}

// TestAppendShellQuoted: appendShellQuoted writes what ShellQuote returns
// for the concatenation of its parts, however the string is cut.
func TestAppendShellQuoted(t *testing.T) {
	for _, s := range []string{"", "plain-word", "two words", "it's", "''", "a'b'c", "\n$x`y`\\"} {
		want := "x=" + ShellQuote(s)
		if got := string(appendShellQuoted([]byte("x="), s)); got != want {
			t.Errorf("appendShellQuoted(%q) = %q, want %q", s, got, want)
		}
		for i := 0; i <= len(s); i++ {
			if got := string(appendShellQuoted([]byte("x="), s[:i], s[i:])); got != want {
				t.Errorf("appendShellQuoted(%q, %q) = %q, want %q", s[:i], s[i:], got, want)
			}
		}
	}
	if got := string(appendShellQuoted(nil, "safe", "")); got != "safe" {
		t.Errorf("two safe parts: %q", got)
	}
	if got := string(appendShellQuoted(nil, "", "")); got != "''" {
		t.Errorf("two empty parts: %q", got)
	}
}
