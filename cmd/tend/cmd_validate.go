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
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.prepare(cmd, args, modeValidate)
			if err != nil {
				return err
			}
			specs := 0
			for _, play := range p.playbook.Plays {
				specs += len(play.Tasks) + len(play.Handlers)
			}
			instances := 0
			for _, h := range p.run.Hosts() {
				instances += p.run.TaskCount(h.Name)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Valid: %d task(s) and handler(s) checked for any host; %d task instance(s) across %d host(s). No host was contacted.\n",
				specs, instances, len(p.run.Hosts()))
			return nil
		},
	}
}
