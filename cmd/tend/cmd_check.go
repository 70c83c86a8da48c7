package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/health"
	"github.com/tend-sh/tend/executor/run"

	"github.com/tend-sh/tend/executor/atomicfile"
)

// Exit codes of tend check: those of a Nagios/Icinga plugin.
const (
	CheckOK       = 0
	CheckWarning  = 1
	CheckCritical = 2
	CheckUnknown  = 3
)

const checkExitCodesHelp = `Exit codes (those of a Nagios or Icinga plugin):
  0  OK: every check of every host passed
  1  WARNING: a check with severity "warning" failed, a unit is starting or
     reloading, or systemd restarted a unit since the last check
  2  CRITICAL: a check failed, a unit is down, failed or crash-looping, or a
     host could not be reached
  3  UNKNOWN: invalid input (nothing was connected to), a host's answer was
     not understood, interrupted, tend failed or its output (or the
     --prometheus or --state file) could not be written`

// checkFlags are tend check's own flags.
type checkFlags struct {
	prometheus string
	state      string
	noState    bool
}

func newCheckCommand(g *globalFlags) *cobra.Command {
	var f checkFlags
	c := &cobra.Command{
		Use:   "check PLAYBOOK...",
		Short: "Report the fleet's health: the plays' health checks and unit states, read-only",
		Long: `check runs, on every selected host, only the plays' health_check tasks (one
attempt each, no retries) and reads the state of every unit the plays keep
running (gunicorn_service, service and systemd_unit tasks that start it): one
systemctl show each, all in one round trip. It changes nothing, takes no run
lock and writes nothing on the hosts. Hosts are checked in parallel (--forks).

The first line sums the fleet up, as a Nagios plugin's; a table follows (host,
check, status, HTTP code, latency, restarts, last state change), then what is
wrong. --json writes one JSON document instead. --prometheus FILE also writes
the metrics for node_exporter's textfile collector (tend_health_up,
tend_health_latency_seconds, tend_unit_restarts_total), atomically.

RESTARTS shows "+N (T)": systemd restarted the unit N times since the last
check of this controller and T times in all (NRestarts); "new (T)" when the
unit was not seen before. The counts are kept in --state (default
$XDG_STATE_HOME/tend/check-restarts.json, or ~/.local/state/tend/...): give
each monitoring job, or each --shard, its own file.

` + checkExitCodesHelp,
		Args: needArgs("a playbook (files or directories of .hcl files)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.check(cmd, args, f)
		},
	}
	c.Flags().StringVar(&f.prometheus, "prometheus", "", "also write the metrics to this file in the Prometheus text format (for node_exporter's textfile collector; written atomically)")
	c.Flags().StringVar(&f.state, "state", "", "where the restart counts of the last check are kept (default $XDG_STATE_HOME/tend/check-restarts.json)")
	c.Flags().BoolVar(&f.noState, "no-state", false, "neither read nor write the restart counts: RESTARTS shows the totals only")
	c.Flags().StringVar(&g.shardFlag, "shard", "", "check shard I of N of the selected hosts (I/N, 0-based)")
	return c
}

// checkError is the outcome of tend check: its exit code is final.
type checkError struct {
	code int
	msg  string
}

func (e *checkError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }

// checkExitCode maps what a check command ended with to a plugin exit
// code: tend check's own outcome as it is, success as 0, and everything
// else (invalid input, an internal error, output not written) as UNKNOWN.
func checkExitCode(code int, err error, outputFailed bool) int {
	var ce *checkError
	switch {
	case outputFailed:
		return CheckUnknown
	case errors.As(err, &ce):
		return ce.code
	case code == ExitOK:
		return CheckOK
	}
	return CheckUnknown
}

// defaultCheckState is where the restart counts are kept by default.
func defaultCheckState() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no $XDG_STATE_HOME and no home directory (%v): give --state or --no-state", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "tend", "check-restarts.json"), nil
}

// check prepares the run offline, checks every host and reports.
func (g *globalFlags) check(cmd *cobra.Command, files []string, f checkFlags) error {
	statePath := f.state
	if f.noState && statePath != "" {
		return exitWith(ExitInvalid, "--state and --no-state contradict each other: give one of them")
	}
	var prev health.Restarts
	if !f.noState {
		if statePath == "" {
			var err error
			if statePath, err = defaultCheckState(); err != nil {
				return exitWith(ExitInvalid, "%v", err)
			}
		}
		var err error
		if prev, err = health.LoadRestarts(statePath); err != nil {
			return exitWith(ExitInvalid, "--state: %v; no host was contacted", err)
		}
	}
	if f.prometheus != "" {
		if dir := filepath.Dir(f.prometheus); dir != "" {
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return exitWith(ExitInvalid, "--prometheus %s: its directory %s does not exist; no host was contacted", f.prometheus, dir)
			}
		}
	}
	p, err := g.prepare(cmd, files, run.ModePlan)
	if err != nil {
		return err
	}
	r := p.run
	dial, err := g.dialer(cmd, r.Hosts(), p.becoming, p.ssh)
	if err != nil {
		return err
	}
	rep, seen := health.Check(cmd.Context(), health.Options{Run: r, Dial: dial, Forks: g.forks, Previous: prev})
	out := cmd.OutOrStdout()
	if g.json {
		err = health.WriteJSON(out, rep)
	} else {
		err = health.WriteTable(out, rep, g.useColor(out))
	}
	if err != nil {
		return exitWith(ExitInternal, "writing the report: %v", err)
	}
	if f.prometheus != "" {
		if err := atomicfile.Write(f.prometheus, health.Prometheus(rep), 0o644); err != nil {
			return exitWith(ExitInternal, "--prometheus: %v", err)
		}
	}
	if !f.noState && cmd.Context().Err() == nil {
		if err := health.SaveRestarts(statePath, prev, seen); err != nil {
			return exitWith(ExitInternal, "--state: %v", err)
		}
	}
	if cmd.Context().Err() != nil {
		return &checkError{code: CheckUnknown, msg: "interrupted"}
	}
	if s := rep.Status(); s != health.OK {
		// The summary is on stdout already.
		return &checkError{code: int(s)}
	}
	return nil
}
