package main

import (
	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/run"
)

// execute prepares and runs a plan or apply and maps the result to an exit
// code.
func (g *globalFlags) execute(cmd *cobra.Command, files []string, mode run.Mode) error {
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
