package main

import (
	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/run"
)

func newPlanCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "plan PLAYBOOK...",
		Short: "Show, per host and task, what apply would change; change nothing",
		Long: `plan connects to every selected host, reads its state in one batch and shows
what apply would change: unified diffs for files, attribute changes, reloads
and restarts. It changes nothing on any host.

With --out FILE the plan is also saved: "tend show FILE" renders it and
"tend apply FILE" applies exactly it, refusing any host whose state changed
since. The file holds no secret: what each task would do is recorded as an
HMAC under a key of this controller (TEND_PLAN_KEY_FILE, default
~/.config/tend/plan.key, made on first use), which apply needs too.

` + exitCodesHelp,
		Args: needArgs("a playbook (files or directories of .hcl files)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.execute(cmd, args, run.ModePlan)
		},
	}
	c.Flags().StringVar(&g.shardFlag, "shard", "", "work on shard I of N of the selected hosts (I/N, 0-based, e.g. $JOB_COMPLETION_INDEX/8); see tend report merge")
	c.Flags().StringVar(&g.planOut, "out", "", "also save the plan to this file, for tend show and tend apply FILE")
	return c
}
