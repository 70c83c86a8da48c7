package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/run"
)

func newValidateCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "validate PLAYBOOK...",
		Short: "Parse, type-check and lint a playbook against an inventory, offline",
		Long: `validate parses the playbook and inventory, evaluates every task for every
selected host and validates every module's settings. It never connects to a host.

` + exitCodesHelp,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.prepare(cmd, args, run.ModePlan)
			if err != nil {
				return err
			}
			tasks := 0
			for _, h := range r.Hosts() {
				tasks += r.TaskCount(h.Name)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Valid: %d task instance(s) across %d host(s). No host was contacted.\n", tasks, len(r.Hosts()))
			return nil
		},
	}
}
