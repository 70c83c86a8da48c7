package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"
	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/plan"
)

func newShowCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show PLANFILE",
		Short: "Render a saved plan (tend plan --out) for review; change nothing",
		Long: `show renders a plan saved with "tend plan --out FILE": per host, the tasks
that would change and their diffs (sensitive content is never in the file),
and what it was made from. With --json it prints the file's hosts and tasks as
one JSON document, for review bots. It connects to nothing.`,
		Args: oneArg("a plan saved with tend plan --out"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := plan.Read(args[0])
			if err != nil {
				return exitWith(ExitInvalid, "%v", err)
			}
			w := cmd.OutOrStdout()
			// The plan is checked when this controller has its key.
			if key, err := plan.LoadKey(false); err == nil && key.ID() == f.KeyID && !f.Verify(key) {
				fmt.Fprintf(cmd.ErrOrStderr(), "tend: warning: %s was changed after it was made (its MAC does not match): do not trust what it shows; apply refuses it\n", args[0])
			}
			if g.json {
				enc := json.NewEncoder(w)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(f); err != nil {
					return exitWith(ExitInternal, "%v", err)
				}
				return nil
			}
			if err := renderPlan(w, f, g.useColor(w)); err != nil {
				return exitWith(ExitInternal, "%v", err)
			}
			return nil
		},
	}
}

// renderPlan writes a saved plan for people.
func renderPlan(w io.Writer, f *plan.File, useColor bool) error {
	bold, yellow, red, green := color.New(color.Bold), color.New(color.FgYellow), color.New(color.FgRed), color.New(color.FgGreen)
	for _, c := range []*color.Color{bold, yellow, red, green} {
		if useColor {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s made %s by tend %s\n", bold.Sprint("saved plan"), f.Created.UTC().Format("2006-01-02 15:04:05Z"), f.Tend)
	fmt.Fprintf(&b, "  playbook:  %s\n", strings.Join(f.PlaybookArgs, " "))
	if f.InventoryArg != "" {
		fmt.Fprintf(&b, "  inventory: %s\n", f.InventoryArg)
	}
	if len(f.Limit) > 0 {
		fmt.Fprintf(&b, "  limit:     %s\n", strings.Join(f.Limit, ","))
	}
	b.WriteString("\n")
	changed := 0
	for _, h := range f.Hosts {
		if h.Error != "" {
			fmt.Fprintf(&b, "%s  %s  %s\n", bold.Sprint(h.Name), red.Sprint("NOT PLANNED"), red.Sprint(firstLineOf(h.Error)))
			continue
		}
		n := 0
		for _, t := range h.Tasks {
			if t.Status != "change" && t.Status != "will_run" {
				continue
			}
			n++
			word := "change"
			if t.Status == "will_run" {
				word = "will run"
			}
			fmt.Fprintf(&b, "%s  %s  %s\n", bold.Sprint(h.Name), yellow.Sprintf("%-8s", word), t.ID)
			var d struct {
				Changes []struct {
					Attr, Old, New, Path, Unified string
					Sensitive                     bool
				}
				Actions []string
			}
			if len(t.Diff) > 0 {
				_ = json.Unmarshal(t.Diff, &d)
			} else if t.Summary != "" {
				fmt.Fprintf(&b, "      %s\n", t.Summary)
			}
			for _, c := range d.Changes {
				switch {
				case c.Unified != "":
					for _, l := range strings.Split(strings.TrimRight(c.Unified, "\n"), "\n") {
						switch {
						case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
							l = green.Sprint(l)
						case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
							l = red.Sprint(l)
						}
						b.WriteString("      " + l + "\n")
					}
				case c.Sensitive:
					fmt.Fprintf(&b, "      %s: (sensitive)\n", c.Attr)
				default:
					fmt.Fprintf(&b, "      %s: %s → %s\n", c.Attr, orNone(c.Old), orNone(c.New))
				}
			}
			if len(d.Actions) > 0 {
				fmt.Fprintf(&b, "      then: %s\n", strings.Join(d.Actions, ", "))
			}
		}
		if n == 0 {
			fmt.Fprintf(&b, "%s  %s\n", bold.Sprint(h.Name), green.Sprint("in sync"))
		}
		changed += n
	}
	fmt.Fprintf(&b, "\n%d change(s) on %d host(s). Apply exactly this with: tend apply PLANFILE\n", changed, len(f.Hosts))
	_, err := io.WriteString(w, printable(b.String()))
	return err
}

// printable drops control characters other than newline, tab and the
// colours' escapes tend itself wrote: content read from a host must not
// move the cursor or hide lines of the diff under review.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n' || c == '\t':
		case c == 0x1b && i+1 < len(s) && s[i+1] == '[' && colorSGR(s[i:]):
		case c < 0x20 || c == 0x7f:
			b.WriteString("?")
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// colorSGR reports whether s starts with a colour escape (ESC [ digits
// and semicolons m), the only kind fatih/color writes.
func colorSGR(s string) bool {
	for i := 2; i < len(s) && i < 16; i++ {
		switch c := s[i]; {
		case c == 'm':
			return true
		case c == ';' || (c >= '0' && c <= '9'):
		default:
			return false
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
