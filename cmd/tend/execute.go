package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/plan"
	"github.com/tend-sh/tend/executor/run"
)

// execute prepares and runs a plan or apply and maps the result to an exit
// code.
func (g *globalFlags) execute(cmd *cobra.Command, files []string, mode run.Mode) error {
	if mode == run.ModePlan && g.planOut != "" {
		key, err := plan.LoadKey(true)
		if err != nil {
			return exitWith(ExitInvalid, "--out: %v", err)
		}
		g.saved = &run.SavedPlan{Key: key}
	}
	p, err := g.prepare(cmd, files, mode)
	if err != nil {
		return err
	}
	r := p.run
	dial, err := g.dialer(cmd, r.Hosts(), p.becoming)
	if err != nil {
		return err
	}
	r.SetDialer(dial)
	r.SetSink(g.sink(cmd.OutOrStdout()))
	res := r.Execute(cmd.Context())
	if mode == run.ModePlan && g.planOut != "" {
		if err := g.savePlan(files, r, res); err != nil {
			return exitWith(ExitInternal, "--out %s: %v", g.planOut, err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "Saved the plan to %s: review it with `tend show %s`, apply exactly it with `tend apply %s`.\n", g.planOut, g.planOut, g.planOut)
	}
	switch {
	case res.Internal():
		return &exitError{code: ExitInternal, msg: "internal error (a bug in tend): see the recap"}
	case res.Interrupted():
		return &exitError{code: ExitInterrupted}
	case res.Failed() > 0 || res.NotStarted() > 0:
		return &exitError{code: ExitFailed}
	case res.Unreachable() > 0:
		return &exitError{code: ExitUnreachable}
	case mode == run.ModePlan && res.Pending():
		return &exitError{code: ExitChanges}
	}
	return nil
}

// savePlan writes the plan of r (its result res) to --out.
func (g *globalFlags) savePlan(files []string, r *run.Run, res run.Result) error {
	f := &plan.File{Tend: planVersion(), Created: time.Now().UTC(), Limit: g.limit, KeyID: g.saved.Key.ID(), Hosts: r.Planned(res)}
	for _, p := range files {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		f.PlaybookArgs = append(f.PlaybookArgs, abs)
	}
	var err error
	if f.Playbook, err = plan.Sources(f.PlaybookArgs); err != nil {
		return err
	}
	if g.inventory != "" {
		if f.InventoryArg, err = filepath.Abs(g.inventory); err != nil {
			return err
		}
		if f.Inventory, err = plan.Sources([]string{f.InventoryArg}); err != nil {
			return err
		}
	}
	return f.Write(g.planOut)
}

// useSavedPlan makes apply apply the saved plan at path: it checks that
// this tend, the controller key and the plan's sources are the ones it was
// made with, takes its inventory and limit, and returns its playbook
// arguments.
func (g *globalFlags) useSavedPlan(path string) ([]string, error) {
	f, err := plan.Read(path)
	if err != nil {
		return nil, exitWith(ExitInvalid, "%v", err)
	}
	if g.inventory != "" || len(g.limit) > 0 {
		return nil, exitWith(ExitInvalid, "%s is a saved plan: it names its inventory and limit; apply it without -i and --limit", path)
	}
	if v := planVersion(); v != f.Tend {
		return nil, exitWith(ExitInvalid, "%s was made by tend %s; this is tend %s: make a new plan", path, f.Tend, v)
	}
	key, err := plan.LoadKey(false)
	if err != nil {
		return nil, exitWith(ExitInvalid, "%s: %v (a saved plan is applied on the controller that made it, or with its key in TEND_PLAN_KEY_FILE)", path, err)
	}
	if key.ID() != f.KeyID {
		return nil, exitWith(ExitInvalid, "%s was made with another controller key (%s, this one is %s): apply it where it was made, or with its key in TEND_PLAN_KEY_FILE", path, f.KeyID, key.ID())
	}
	if err := plan.CheckSources(f.Playbook, "playbook"); err != nil {
		return nil, exitWith(ExitInvalid, "%s: %v: make a new plan", path, err)
	}
	if err := plan.CheckSources(f.Inventory, "inventory"); err != nil {
		return nil, exitWith(ExitInvalid, "%s: %v: make a new plan", path, err)
	}
	now, err := plan.Sources(f.PlaybookArgs)
	if err != nil || len(now) != len(f.Playbook) {
		return nil, exitWith(ExitInvalid, "%s: the playbook's files are not the ones the plan was made from (a file was added or removed): make a new plan", path)
	}
	g.inventory = f.InventoryArg
	for _, h := range f.Hosts {
		g.limit = append(g.limit, h.Name)
	}
	if len(g.limit) == 0 {
		return nil, exitWith(ExitInvalid, "%s plans no host", path)
	}
	g.saved = &run.SavedPlan{Key: key, Apply: f}
	return f.PlaybookArgs, nil
}
