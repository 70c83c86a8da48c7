package main

import (
	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/run"
)

func newPlanCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "plan PLAYBOOK...",
		Short: "Show, per host and task, what apply would change; change nothing",
		Long: `plan connects to every selected host, reads its state in one batch and shows
what apply would change: unified diffs for files, attribute changes, reloads
and restarts. It changes nothing on any host.

` + exitCodesHelp,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.execute(cmd, args, run.ModePlan)
		},
	}
}
