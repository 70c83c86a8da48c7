package modules

import (
	"fmt"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// This file holds the systemd unit file syntax helpers: quoting of command
// line arguments and values, and time spans.

// systemdExecArg quotes one argument of an Exec*= command line the way
// systemd.service(5) reads it back: "%" is written "%%" (specifiers) and
// "$" is written "$$" (variable expansion) everywhere; an argument holding
// white space, quotes or backslashes (or an empty one) is put in double
// quotes, inside which "\" and "\"" are backslash-escaped and control
// characters use C escapes. A lone ";" is written "\;".
func systemdExecArg(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	if s == ";" {
		return `\;`
	}
	if s != "" && !strings.ContainsAny(s, " \t\n\r\"'\\") && !hasControl(s) {
		return s
	}
	return `"` + cEscape(s) + `"`
}

// systemdExecLine quotes every argument of a command line.
func systemdExecLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = systemdExecArg(a)
	}
	return strings.Join(q, " ")
}

// systemdEnvAssignment renders one Environment= assignment: the whole
// "KEY=value" in double quotes with C escapes, "%" as "%%" (Environment=
// resolves specifiers but does not expand "$").
func systemdEnvAssignment(key, value string) string {
	return `"` + cEscape(strings.ReplaceAll(key+"="+value, "%", "%%")) + `"`
}

// systemdValue escapes a plain setting value (User=, WorkingDirectory=,
// Description=, ...): specifiers are resolved there, so "%" becomes "%%".
func systemdValue(s string) string {
	return strings.ReplaceAll(s, "%", "%%")
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// cEscape escapes backslashes, double quotes and control characters.
func cEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// systemdTimespan renders a duration as systemd reads it: whole seconds as a
// plain number, otherwise milliseconds ("500ms").
func systemdTimespan(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d", d/time.Second)
	}
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return fmt.Sprintf("%dus", d/time.Microsecond)
}

// secondsValue reads a time span given as a number of seconds (10, 0.5) or
// as a Go duration string ("10s", "1m30s"). Zero is allowed.
func secondsValue(v cty.Value) (time.Duration, error) {
	if !v.IsKnown() {
		return 0, fmt.Errorf("the value is not known before apply")
	}
	switch v.Type() {
	case cty.Number:
		f, _ := v.AsBigFloat().Float64()
		if f < 0 {
			return 0, fmt.Errorf("a time span cannot be negative")
		}
		if f > 1e9 {
			return 0, fmt.Errorf("%v seconds is too long", f)
		}
		return time.Duration(f * float64(time.Second)).Round(time.Microsecond), nil
	case cty.String:
		d, err := time.ParseDuration(v.AsString())
		if err != nil {
			return 0, fmt.Errorf("%q is not a time span: give seconds as a number (10) or a duration string (\"10s\", \"1m30s\")", v.AsString())
		}
		if d < 0 {
			return 0, fmt.Errorf("a time span cannot be negative")
		}
		return d, nil
	}
	return 0, fmt.Errorf("a number of seconds or a duration string is required, not %s", v.Type().FriendlyName())
}
