package main

import (
	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/run"
)

func newApplyCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "apply PLAYBOOK...",
		Short: "Converge the hosts: change what differs, restart on change, check health",
		Long: `apply computes the same diff as plan and applies exactly that diff, host by
host in parallel. After each change it reads the state again and fails the
host if it still differs. Services are reloaded and restarted only when their
configuration changed; health checks run after notified restarts.

` + exitCodesHelp,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.execute(cmd, args, run.ModeApply)
		},
	}
}
