package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fatih/color"
	"github.com/hashicorp/hcl/v2"
)

// printDiagnostics writes each diagnostic as "file:line:col: severity:
// summary", then the source line with the range underlined, then the detail.
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
	for _, d := range diags {
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
		b.WriteString("\n")
		w.Write(b.Bytes())
	}
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
