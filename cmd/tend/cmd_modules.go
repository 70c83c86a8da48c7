package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/modules"
)

func newModulesCommand() *cobra.Command {
	var markdown bool
	cmd := &cobra.Command{
		Use:   "modules [KIND]",
		Short: "List the module kinds a playbook can use, or show one kind's attributes",
		Long: "With no argument, modules lists every module kind with a one-line summary.\n" +
			"With a KIND, it prints the kind's help: what it does, each attribute (type,\n" +
			"required or default, allowed values, whether it may be sensitive) and an example.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if len(args) == 0 {
				if markdown {
					writeModuleTable(out)
					return nil
				}
				for _, kind := range modules.Kinds() {
					info, _ := modules.Lookup(kind)
					fmt.Fprintf(out, "%-18s %s\n", kind, info.Summary)
				}
				return nil
			}
			info, ok := modules.Lookup(args[0])
			if !ok {
				return exitWith(ExitInvalid, "there is no module kind %q; `tend modules` lists them", args[0])
			}
			writeModuleHelp(out, info)
			return nil
		},
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the module table as Markdown (the README's table)")
	return cmd
}

// writeModuleHelp prints one kind's help, from its registry entry and the
// tags of its config struct.
func writeModuleHelp(w io.Writer, info modules.Info) {
	fmt.Fprintf(w, "%s — %s\n", info.Kind, info.Summary)
	if info.Doc != "" {
		fmt.Fprintf(w, "\n%s\n", wrap(info.Doc, 78, ""))
	}
	if attrs := modules.Schema(info); len(attrs) > 0 {
		fmt.Fprintf(w, "\nAttributes:\n")
		for _, a := range attrs {
			var facts []string
			facts = append(facts, a.Type)
			if a.Required {
				facts = append(facts, "required")
			}
			if a.Default != "" {
				facts = append(facts, "default "+quoteDefault(a))
			}
			if a.Bounds != "" {
				facts = append(facts, a.Bounds)
			}
			if len(a.Enum) > 0 {
				facts = append(facts, "one of "+strings.Join(a.Enum, ", "))
			}
			switch a.Sensitive {
			case "ok":
				facts = append(facts, "may be sensitive")
			case "unit":
				facts = append(facts, "may be sensitive, with a warning: unit files are world-readable")
			}
			fmt.Fprintf(w, "  %s (%s)\n", a.Name, strings.Join(facts, "; "))
			if a.Doc != "" {
				fmt.Fprintf(w, "%s\n", wrap(a.Doc, 74, "      "))
			}
		}
	}
	if info.Example != "" {
		fmt.Fprintf(w, "\nExample:\n\n%s\n", indentLines(strings.TrimRight(info.Example, "\n"), "    "))
	}
}

// writeModuleTable prints the README's module table.
func writeModuleTable(w io.Writer) {
	fmt.Fprintln(w, "| module | what it manages | attributes |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, kind := range modules.Kinds() {
		info, _ := modules.Lookup(kind)
		var names []string
		for _, a := range modules.Schema(info) {
			n := "`" + a.Name + "`"
			if a.Block {
				n = "`" + a.Name + " {}`"
			}
			if a.Required {
				n += "*"
			}
			names = append(names, n)
		}
		fmt.Fprintf(w, "| `%s` | %s | %s |\n", kind, info.Summary, strings.Join(names, ", "))
	}
}

func quoteDefault(a modules.Attr) string {
	if a.Type == "string" {
		return fmt.Sprintf("%q", a.Default)
	}
	return a.Default
}

// wrap fills text to width columns, each line after prefix; blank lines
// separate paragraphs.
func wrap(text string, width int, prefix string) string {
	var out []string
	for _, para := range strings.Split(text, "\n\n") {
		line := prefix
		for _, word := range strings.Fields(para) {
			if len(line) > len(prefix) && len(line)+1+len(word) > width {
				out = append(out, line)
				line = prefix
			}
			if len(line) > len(prefix) {
				line += " "
			}
			line += word
		}
		out = append(out, line, "")
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n")
}

func indentLines(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
