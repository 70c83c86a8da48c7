package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// This file turns common command-line mistakes into one clear message
// each, instead of the generic error they would otherwise give.

// needArgs requires at least one argument, naming what is missing.
func needArgs(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return exitWith(ExitInvalid, "%s needs %s; usage: %s", subcommand(cmd), what, cmd.UseLine())
		}
		return nil
	}
}

// oneArg requires exactly one argument, naming it.
func oneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return exitWith(ExitInvalid, "%s needs exactly one argument, %s, not %d; usage: %s", subcommand(cmd), what, len(args), cmd.UseLine())
		}
		return nil
	}
}

// subcommand is the command's path without "tend ", for messages that
// runCLI prefixes with "tend:".
func subcommand(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// rootArgs handles arguments without a command: a file where the command
// should be (tend site.hcl), or a misspelt command, with suggestions.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	arg := args[0]
	if _, err := os.Stat(arg); err == nil || strings.HasSuffix(arg, ".hcl") {
		return exitWith(ExitInvalid, "%q is not a command: give the command first, as in `tend plan %s` or `tend validate %s`", arg, arg, arg)
	}
	msg := fmt.Sprintf("unknown command %q", arg)
	if s := cmd.SuggestionsFor(arg); len(s) > 0 {
		msg += fmt.Sprintf(": did you mean %s?", strings.Join(s, " or "))
	} else {
		msg += ": see 'tend --help' for the commands"
	}
	return exitWith(ExitInvalid, "%s", msg)
}

// checkFlagValues refuses a string flag whose value looks like another
// flag: `tend plan site.hcl --out --no-color` would otherwise save the
// plan to a file named "--no-color".
func checkFlagValues(cmd *cobra.Command) error {
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if err == nil && f.Value.Type() == "string" && strings.HasPrefix(f.Value.String(), "-") && len(f.Value.String()) > 1 {
			err = exitWith(ExitInvalid, "--%s %s: the value looks like a flag: give --%s its value (a file whose name starts with - as ./%s)", f.Name, f.Value, f.Name, f.Value)
		}
	})
	return err
}

// unsupportedBlock reads the block type of hcl's "Unsupported block type"
// error.
var unsupportedBlock = regexp.MustCompile(`^Blocks of type "([a-z_]+)" are not expected here`)

// misplacedFiles replaces the errors of a file given in the wrong place —
// a playbook given as the inventory (-i), an inventory given as the
// playbook — with one error that says so. A file is misplaced when it has
// a top-level block of the other kind.
func misplacedFiles(diags hcl.Diagnostics, asInventory bool) hcl.Diagnostics {
	foreign := map[string]bool{"play": true, "variable": true, "locals": true}
	what, is, fix := "the inventory (-i)", "a playbook", "give it as an argument, and the inventory with -i"
	if !asInventory {
		foreign = map[string]bool{"host": true, "group": true, "defaults": true}
		what, is, fix = "a playbook", "an inventory", "give it with -i, and the playbook as an argument"
	}
	wrong := map[string]string{}
	for _, d := range diags {
		if d.Severity != hcl.DiagError || d.Summary != "Unsupported block type" || d.Subject == nil {
			continue
		}
		if m := unsupportedBlock.FindStringSubmatch(d.Detail); m != nil && foreign[m[1]] {
			if _, seen := wrong[d.Subject.Filename]; !seen {
				wrong[d.Subject.Filename] = m[1]
			}
		}
	}
	if len(wrong) == 0 {
		return diags
	}
	var out hcl.Diagnostics
	named := map[string]bool{}
	for _, d := range diags {
		if d.Subject == nil {
			out = append(out, d)
			continue
		}
		file := d.Subject.Filename
		block, ok := wrong[file]
		if !ok {
			out = append(out, d)
			continue
		}
		if named[file] || d.Summary != "Unsupported block type" {
			continue
		}
		named[file] = true
		out = append(out, &hcl.Diagnostic{Severity: hcl.DiagError, Subject: d.Subject,
			Summary: fmt.Sprintf("%s is %s, given as %s", file, is, what),
			Detail:  fmt.Sprintf("It has %s blocks, which belong in %s: %s.", block, is, fix)})
	}
	return out
}
