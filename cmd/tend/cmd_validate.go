package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "validate PLAYBOOK...",
		Short: "Parse, type-check and lint a playbook against an inventory, offline",
		Long: `validate parses the playbook and inventory, checks every task's module
settings for any host (also tasks no host runs: when false, empty for_each,
plays that match no host), then evaluates every task for every selected host.
It never connects to a host. Without -i it checks the playbook on its own: a
play whose hosts match nothing in the implicit inventory (localhost) is a
warning, not an error.

` + exitCodesHelp,
		Args: needArgs("a playbook (files or directories of .hcl files)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.prepare(cmd, args, modeValidate)
			if err != nil {
				return err
			}
			tasks, handlers := 0, 0
			for _, play := range p.playbook.Plays {
				tasks += len(play.Tasks)
				handlers += len(play.Handlers)
			}
			checked := count(tasks, "task")
			if handlers > 0 {
				checked += " and " + count(handlers, "handler")
			}
			instances, deferred := 0, 0
			for _, h := range p.run.Hosts() {
				instances += p.run.TaskCount(h.Name)
				deferred += p.run.FactPlays(h.Name)
			}
			later := ""
			if deferred > 0 {
				later = fmt.Sprintf(" (%s that use host.facts, checked for each host with the facts unknown: made when tend connects)", count(deferred, "play instance"))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Valid: %s checked for any host; %s across %s%s. No host was contacted.\n",
				checked, count(instances, "task instance"), count(len(p.run.Hosts()), "host"), later)
			return nil
		},
	}
}

// count is "1 task", "2 tasks".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
