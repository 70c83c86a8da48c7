package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
	"github.com/fatih/color"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/hclfmt"
)

func newFmtCommand(g *globalFlags) *cobra.Command {
	var check, diff bool
	c := &cobra.Command{
		Use:   "fmt [PATH...]",
		Short: "Rewrite playbooks, inventories and var files in the canonical HCL layout",
		Long: `fmt rewrites HCL files in the canonical layout (hclwrite's, as terraform fmt):
indentation, aligned equals signs, spacing. It changes nothing but layout.

A PATH that is a file is formatted whatever its name; a directory, by
default the current one, stands for its .hcl files at any depth, except in
hidden directories (.git, ...) and testdata directories: name those
explicitly. "-" formats standard input to standard output.

A file that does not parse is reported (file:line:col) and left as it is;
the other files are still formatted. Files are replaced atomically, keeping
their mode (and owner, as root); a read-only file, or one edited while tend
formatted it, is reported and left as it is.

  --check  write nothing; list the files that need formatting
  --diff   show what changes, as unified diffs

Exit codes: 0 all formatted (or, with --check, nothing to format); 2 with
--check: files need formatting; 5 a file does not parse, cannot be read or was left as it is.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := &formatter{out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), check: check, diff: diff, g: g}
			if len(args) == 0 {
				args = []string{"."}
			}
			if len(args) == 1 && args[0] == "-" {
				return f.stdin(cmd.InOrStdin())
			}
			for _, a := range args {
				if a == "-" {
					return exitWith(ExitInvalid, `"-" (standard input) cannot be mixed with paths`)
				}
			}
			files, err := hclfmt.Files(args)
			if err != nil {
				return exitWith(ExitInvalid, "%v", err)
			}
			for _, name := range files {
				f.file(name)
			}
			switch {
			case f.invalid > 0:
				return exitWith(ExitInvalid, "files that could not be formatted: %d (left as they are)", f.invalid)
			case check && f.changed > 0:
				return exitWith(ExitChanges, "files that need formatting: %d", f.changed)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&check, "check", false, "write nothing; list the files that need formatting and exit 2 if any")
	c.Flags().BoolVar(&diff, "diff", false, "show the changes as unified diffs")
	return c
}

// formatter formats files one by one and counts the outcomes.
type formatter struct {
	out, errOut      io.Writer
	check, diff      bool
	g                *globalFlags
	changed, invalid int
}

// file formats one file: it reports, shows, or writes the change.
func (f *formatter) file(name string) {
	src, err := os.ReadFile(name)
	if err != nil {
		fmt.Fprintf(f.errOut, "tend: %v\n", err)
		f.invalid++
		return
	}
	out, diags := hclfmt.Format(name, src)
	if diags.HasErrors() {
		f.report(diags)
		return
	}
	if bytes.Equal(src, out) {
		return
	}
	f.changed++
	if f.diff {
		f.showDiff(name, src, out)
	} else {
		fmt.Fprintln(f.out, name)
	}
	if f.check {
		return
	}
	if err := hclfmt.WriteFile(name, src, out); err != nil {
		fmt.Fprintf(f.errOut, "tend: %s: %v\n", name, err)
		f.invalid++
	}
}

// stdin formats standard input to standard output.
func (f *formatter) stdin(r io.Reader) error {
	src, err := io.ReadAll(r)
	if err != nil {
		return exitWith(ExitInvalid, "standard input: %v", err)
	}
	out, diags := hclfmt.Format("<stdin>", src)
	if diags.HasErrors() {
		f.report(diags)
		return exitWith(ExitInvalid, "standard input could not be formatted")
	}
	switch {
	case f.diff:
		f.showDiff("<stdin>", src, out)
	case !f.check:
		f.out.Write(out)
	}
	if f.check && !bytes.Equal(src, out) {
		return exitWith(ExitChanges, "standard input needs formatting")
	}
	return nil
}

func (f *formatter) report(diags hcl.Diagnostics) {
	printDiagnostics(f.errOut, diags, f.g.useColor(f.errOut))
	f.invalid++
}

// showDiff prints the change as a unified diff, coloured as plan's.
func (f *formatter) showDiff(name string, src, out []byte) {
	useColor := f.g.useColor(f.out)
	c := func(attrs ...color.Attribute) *color.Color {
		col := color.New(attrs...)
		if useColor {
			col.EnableColor()
		} else {
			col.DisableColor()
		}
		return col
	}
	bold, cyan, green, red := c(color.Bold), c(color.FgCyan), c(color.FgGreen), c(color.FgRed)
	var b strings.Builder
	for _, l := range strings.SplitAfter(udiff.Unified(name, name, string(src), string(out)), "\n") {
		text := strings.TrimRight(l, "\n")
		switch {
		case l == "":
			continue
		case strings.HasPrefix(text, "+++"), strings.HasPrefix(text, "---"):
			text = bold.Sprint(text)
		case strings.HasPrefix(text, "@@"):
			text = cyan.Sprint(text)
		case strings.HasPrefix(text, "+"):
			text = green.Sprint(text)
		case strings.HasPrefix(text, "-"):
			text = red.Sprint(text)
		}
		b.WriteString(text + "\n")
	}
	io.WriteString(f.out, b.String())
}
