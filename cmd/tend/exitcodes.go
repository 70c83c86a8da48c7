package main

import (
	"fmt"

	"github.com/tend-sh/tend/executor/run"
)

// Exit codes. They are documented in the README and in `tend --help`; scripts
// rely on them, so they never change meaning. When several apply, the most
// severe wins: internal error (a bug, output that could not be written),
// invalid input, interrupted, then host failed, then unreachable, then
// changes pending.
const (
	// ExitOK: success; for plan, every host is in sync.
	ExitOK = 0
	// ExitInternal: tend itself failed (a bug, or output could not be written).
	ExitInternal = 1
	// ExitChanges: plan found changes pending (or commands that will run).
	ExitChanges = 2
	// ExitFailed: at least one host failed a task.
	ExitFailed = 3
	// ExitUnreachable: at least one host could not be reached (and none failed).
	ExitUnreachable = 4
	// ExitInvalid: invalid input (playbook, inventory, flags); no connection was made.
	ExitInvalid = 5
	// ExitInterrupted: the run was interrupted (Ctrl-C, SIGTERM); the
	// commands running on the hosts were stopped there.
	ExitInterrupted = 130
)

const exitCodesHelp = `Exit codes:
  0  success; for plan: all hosts in sync
  1  internal error, or the output could not be written
  2  plan: changes pending
  3  a host failed, or the rollout halted (hosts not started)
  4  a host was unreachable (none failed)
  5  invalid input: nothing was connected to
  130  interrupted (Ctrl-C, SIGTERM): running commands were stopped on the hosts`

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }

func exitWith(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// resultError maps the result of a run (or of its shards, merged) to its
// exit code, the most severe first; nil is success.
func resultError(res run.Result) error {
	switch {
	case res.Internal():
		return &exitError{code: ExitInternal, msg: "internal error (a bug in tend): see the recap"}
	case res.Interrupted():
		return &exitError{code: ExitInterrupted}
	case res.Failed() > 0 || res.NotStarted() > 0:
		return &exitError{code: ExitFailed}
	case res.Unreachable() > 0:
		return &exitError{code: ExitUnreachable}
	case res.Mode == run.ModePlan && res.Pending():
		return &exitError{code: ExitChanges}
	}
	return nil
}
