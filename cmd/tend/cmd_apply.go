package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/plan"
	"github.com/tend-sh/tend/executor/rollout"
	"github.com/tend-sh/tend/executor/run"
)

func newApplyCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "apply PLAYBOOK... | apply PLANFILE",
		Short: "Converge the hosts: change what differs, restart on change, check health",
		Long: `apply computes the same diff as plan and applies exactly that diff, host by
host in parallel. After each change it reads the state again and fails the
host if it still differs. Services are reloaded and restarted only when their
configuration changed; health checks run after notified restarts.

A play's rollout block (or --canary, --batch, --max-failures) changes the
hosts in groups: the canary hosts first, alone, then batches, each group
finished before the next starts; once more hosts failed than tolerated, the
rest are not started. A host that fails after this run changed it is put
back (its files, units and restarts) unless revert = false or --no-revert.

Given a plan saved with "tend plan --out FILE", apply applies exactly it: the
same playbook, inventory and limit (refused if any of their files changed, or
if this is another tend), on the hosts it planned, refusing a host whose
state changed since the plan ("changed since the plan: ...") while applying
the others. Variables are given again as for plan (they are not in the file).

` + exitCodesHelp,
		Args: needArgs("a playbook (files or directories of .hcl files) or a saved plan"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.rollout.parse(cmd); err != nil {
				return err
			}
			if len(args) == 1 && plan.IsFile(args[0]) {
				files, err := g.useSavedPlan(args[0])
				if err != nil {
					return err
				}
				args = files
			}
			return g.execute(cmd, args, run.ModeApply)
		},
	}
	f := c.Flags()
	f.IntVar(&g.rollout.canary, "canary", 0, "change this many hosts first, alone; the rest only if they all end healthy")
	f.StringVar(&g.rollout.batch, "batch", "", "then change hosts in batches of N or P% (default: all at once, bounded by --forks)")
	f.StringVar(&g.rollout.maxFailures, "max-failures", "", "failed hosts (N or P%) tolerated before the rollout halts (default with a canary or batches: 0)")
	c.Flags().StringVar(&g.shardFlag, "shard", "", "work on shard I of N of the selected hosts (I/N, 0-based, e.g. $JOB_COMPLETION_INDEX/8); see tend report merge")
	f.BoolVar(&g.rollout.noRevert, "no-revert", false, "leave a host that fails as it is, for inspection, instead of putting back what this run changed")
	return c
}

// rolloutFlags are apply's rollout flags, as given.
type rolloutFlags struct {
	canary      int
	batch       string
	maxFailures string
	noRevert    bool
	parsed      run.RolloutFlags
}

// parse checks the rollout flags that were given.
func (f *rolloutFlags) parse(cmd *cobra.Command) error {
	fl := cmd.Flags()
	if fl.Changed("canary") {
		if f.canary < 0 {
			return exitWith(ExitInvalid, "--canary must be 0 or more, got %d", f.canary)
		}
		n := f.canary
		f.parsed.Canary = &n
	}
	if fl.Changed("batch") {
		s, err := rollout.ParseSize(f.batch)
		if err == nil && s.Hosts(1) == 0 && s.Percent == 0 {
			err = fmt.Errorf("a batch of 0 hosts would never finish")
		}
		if err != nil {
			return exitWith(ExitInvalid, "--batch: %v", err)
		}
		f.parsed.Batch = &s
	}
	if fl.Changed("max-failures") {
		s, err := rollout.ParseSize(f.maxFailures)
		if err != nil {
			return exitWith(ExitInvalid, "--max-failures: %v", err)
		}
		f.parsed.MaxFailures = &s
	}
	f.parsed.NoRevert = f.noRevert
	return nil
}
