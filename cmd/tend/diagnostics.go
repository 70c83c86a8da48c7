package main

import (
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"
)

// printDiagnostics writes diagnostics as file:line:col with a source snippet.
// Sources are read back from disk by file name, so any package's
// diagnostics print the same way.
func printDiagnostics(w io.Writer, diags hcl.Diagnostics, color bool) {
	if len(diags) == 0 {
		return
	}
	files := map[string]*hcl.File{}
	for _, d := range diags {
		for _, r := range []*hcl.Range{d.Subject, d.Context} {
			if r == nil || r.Filename == "" {
				continue
			}
			if _, ok := files[r.Filename]; ok {
				continue
			}
			if src, err := os.ReadFile(r.Filename); err == nil {
				files[r.Filename] = &hcl.File{Bytes: src}
			}
		}
	}
	width := 100
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			width = cols
		}
	}
	wr := hcl.NewDiagnosticTextWriter(w, files, uint(width), color)
	_ = wr.WriteDiagnostics(diags)
}
