package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fatih/color"
	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/playbooks"
)

// printDiagnostics writes each distinct diagnostic once (see
// mergeDiagnostics), in source order, as "file:line:col: severity:
// summary", then the source line with the range underlined, then the
// detail, then the hosts it was found for when it is specific to hosts.
// Sources are read back from disk by file name, so every package's
// diagnostics print the same way.
func printDiagnostics(w io.Writer, diags hcl.Diagnostics, useColor bool) {
	sources := map[string][]byte{}
	c := func(attrs ...color.Attribute) *color.Color {
		col := color.New(attrs...)
		if useColor {
			col.EnableColor()
		} else {
			col.DisableColor()
		}
		return col
	}
	bold, red, yellow, cyan := c(color.Bold), c(color.FgRed, color.Bold), c(color.FgYellow, color.Bold), c(color.FgCyan)
	// A secret is hidden from every snippet of its file, not only from
	// its own diagnostic's: another mistake on the same line shows the
	// line too. The redactions keep the length of what they replace (but
	// for a range over several lines), so ranges stay valid.
	for _, d := range diags {
		if rs, ok := d.Extra.(inventory.RedactedSource); ok && d.Subject != nil && d.Subject.Filename != "" {
			src, ok := sources[d.Subject.Filename]
			if !ok {
				src, _ = os.ReadFile(d.Subject.Filename)
			}
			sources[d.Subject.Filename] = redactSource(src, d.Subject, rs.Text)
		}
	}
	for _, g := range mergeDiagnostics(diags) {
		d := g.diag
		var b bytes.Buffer
		sev := red.Sprint("error")
		if d.Severity == hcl.DiagWarning {
			sev = yellow.Sprint("warning")
		}
		if d.Subject != nil && d.Subject.Filename != "" {
			fmt.Fprintf(&b, "%s: %s: %s\n", bold.Sprint(location(d.Subject)), sev, bold.Sprint(d.Summary))
			src, ok := sources[d.Subject.Filename]
			if !ok {
				src, _ = os.ReadFile(d.Subject.Filename)
				sources[d.Subject.Filename] = src
			}
			snippet(&b, src, d.Subject, cyan)
		} else {
			fmt.Fprintf(&b, "%s: %s\n", sev, bold.Sprint(d.Summary))
		}
		if d.Detail != "" {
			for _, line := range strings.Split(strings.TrimRight(d.Detail, "\n"), "\n") {
				fmt.Fprintf(&b, "  %s\n", line)
			}
		}
		if len(g.hosts) > 0 {
			fmt.Fprintf(&b, "  %s\n", onHosts(g.hosts))
		}
		b.WriteString("\n")
		w.Write(b.Bytes())
	}
}

// diagGroup is one distinct diagnostic and the hosts it was found for;
// hosts is empty when the diagnostic does not depend on the host (it was
// also found for no particular host).
type diagGroup struct {
	diag  *hcl.Diagnostic
	hosts []string
}

// mergeDiagnostics folds diagnostics with the same severity, summary,
// detail and subject range into one — the same mistake found once per host
// and again for no particular host is one mistake — and orders them by
// place: those without a source first, then by file (in order of first
// appearance) and position.
func mergeDiagnostics(diags hcl.Diagnostics) []diagGroup {
	var out []*diagGroup
	byKey := map[string]*diagGroup{}
	hostless := map[*diagGroup]bool{}
	seenHost := map[*diagGroup]map[string]bool{}
	for _, d := range diags {
		key := fmt.Sprintf("%d\x00%s\x00%s", d.Severity, d.Summary, d.Detail)
		if d.Subject != nil {
			key += "\x00" + d.Subject.String()
		}
		g, ok := byKey[key]
		if !ok {
			g = &diagGroup{diag: d}
			byKey[key] = g
			seenHost[g] = map[string]bool{}
			out = append(out, g)
		}
		h := playbooks.DiagnosticHost(d)
		if h == "" {
			hostless[g] = true
			continue
		}
		if !seenHost[g][h] {
			seenHost[g][h] = true
			g.hosts = append(g.hosts, h)
		}
	}
	files := map[string]int{}
	for _, g := range out {
		if s := g.diag.Subject; s != nil {
			if _, ok := files[s.Filename]; !ok {
				files[s.Filename] = len(files)
			}
		}
	}
	order := func(g *diagGroup) (int, int) {
		if s := g.diag.Subject; s != nil {
			return files[s.Filename], s.Start.Byte
		}
		return -1, 0
	}
	sort.SliceStable(out, func(i, j int) bool {
		fi, bi := order(out[i])
		fj, bj := order(out[j])
		if fi != fj {
			return fi < fj
		}
		return bi < bj
	})
	groups := make([]diagGroup, len(out))
	for i, g := range out {
		if hostless[g] {
			g.hosts = nil
		}
		groups[i] = *g
	}
	return groups
}

// onHosts says which hosts a diagnostic was found for, naming at most five.
func onHosts(hosts []string) string {
	if len(hosts) == 1 {
		return "(on host " + hosts[0] + ")"
	}
	const show = 5
	names := strings.Join(hosts[:min(show, len(hosts))], ", ")
	if len(hosts) > show {
		names += fmt.Sprintf(" and %d more", len(hosts)-show)
	}
	return fmt.Sprintf("(on %d hosts: %s)", len(hosts), names)
}

// location is "file:line:col", the file relative to the working directory
// when it lies below it.
func location(r *hcl.Range) string {
	name := r.Filename
	if wd, err := os.Getwd(); err == nil && filepath.IsAbs(name) {
		if rel, err := filepath.Rel(wd, name); err == nil && !strings.HasPrefix(rel, "..") {
			name = rel
		}
	}
	return fmt.Sprintf("%s:%d:%d", name, r.Start.Line, r.Start.Column)
}

// snippet prints the first line of r with the range underlined.
func snippet(b *bytes.Buffer, src []byte, r *hcl.Range, mark *color.Color) {
	lines := strings.Split(string(src), "\n")
	if r.Start.Line < 1 || r.Start.Line > len(lines) {
		return
	}
	line := strings.TrimRight(lines[r.Start.Line-1], "\r")
	num := fmt.Sprintf("%d", r.Start.Line)
	fmt.Fprintf(b, " %s | %s\n", num, line)
	start := r.Start.Column - 1
	end := r.End.Column - 1
	if r.End.Line != r.Start.Line || end > len(line) {
		end = len(line)
	}
	if start < 0 || start > len(line) {
		return
	}
	width := max(1, len([]rune(line[start:max(start, end)])))
	// Keep tabs so the caret lines up under the source.
	prefix := []rune(line[:start])
	for i, ch := range prefix {
		if ch != '\t' {
			prefix[i] = ' '
		}
	}
	fmt.Fprintf(b, " %s | %s%s\n", strings.Repeat(" ", len(num)), string(prefix), mark.Sprint(strings.Repeat("^", width)))
}

// redactSource returns src with the one-line range r replaced by text
// (padded or cut to r's width, so that the caret still lines up): the
// source there holds a secret that must not reach the terminal or a log.
func redactSource(src []byte, r *hcl.Range, text string) []byte {
	if r.Start.Line != r.End.Line || r.Start.Byte < 0 || r.End.Byte > len(src) || r.Start.Byte > r.End.Byte {
		// Hide the whole line rather than risk showing the secret.
		lines := strings.Split(string(src), "\n")
		if r.Start.Line >= 1 && r.Start.Line <= len(lines) {
			lines[r.Start.Line-1] = text
		}
		return []byte(strings.Join(lines, "\n"))
	}
	width := r.End.Byte - r.Start.Byte
	if len(text) > width {
		text = text[:width]
	}
	text += strings.Repeat(" ", width-len(text))
	out := append([]byte{}, src[:r.Start.Byte]...)
	out = append(out, text...)
	return append(out, src[r.End.Byte:]...)
}
