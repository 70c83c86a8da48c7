package main

import (
	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/run"
)

func newDrillCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "drill PLAYBOOK...",
		Short: "Run the plays' restart drills: kill each unit's main process, time its recovery",
		Long: `drill runs only the restart_drill blocks of the playbook's plays; it applies
no task. On one host at a time (the first one a canary; the first host that
fails halts the drill and the rest are not started) it reads the unit's
restart policy, refuses a unit with Restart=no or one that is not running,
kills its main process with SIGKILL, and waits on the host until systemd has
it active again with a new main process and the expected number of processes
in its cgroup, at most RestartSec plus the drill's margin. Then the play's
health checks must pass. Each host reports the time from the kill to the
recovery (the host's clock) and to healthy; a host where the unit did not
come back fails with the tail of its journal, and says start-limit-hit when
systemd's start rate limit made it give up.

A drill is never run by plan or apply: it kills a production process on
purpose. A play with a drill must also have a health_check, unless the drill
sets allow_without_health_check = true.

` + exitCodesHelp,
		Args: needArgs("a playbook (files or directories of .hcl files)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.execute(cmd, args, run.ModeDrill)
		},
	}
}
