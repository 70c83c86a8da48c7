package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/executor/run"
)

func newReportCommand(g *globalFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "report",
		Short: "Work with the --json event streams of runs",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(&cobra.Command{
		Use:   "merge FILE...",
		Short: "Merge the --json streams of the shards of one run into one recap",
		Long: `merge reads the --json event streams of the shards of one run (tend plan or
apply --shard I/N --json, one file per shard) and prints one recap for the
whole run, with the exit code the run would have had on one machine.

The streams must be of one run: the same mode, the same playbook and
inventory (by their files' digests, which every stream's run_start
carries), shards of the same N, each shard once, no host twice. A shard
whose stream ends before its recap (the shard was killed, its output cut)
or for which no stream was given has an unknown outcome: the merged recap
says so, and the exit code is 1, never success. "-" reads standard input.

` + exitCodesHelp,
		Args: needArgs("the --json streams of the shards, one file each"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var streams []*report.Stream
			for _, name := range args {
				s, err := readStream(cmd, name)
				if err != nil {
					return exitWith(ExitInvalid, "%v", err)
				}
				streams = append(streams, s)
			}
			m, err := report.Merge(streams)
			if err != nil {
				return exitWith(ExitInvalid, "%v", err)
			}
			out := cmd.OutOrStdout()
			m.Emit(g.sink(out), time.Now())
			if len(m.Unknown) > 0 {
				if !g.json {
					fmt.Fprintf(out, "The outcome of %d part(s) of the run is unknown (see above): the run is not known to have succeeded.\n", len(m.Unknown))
				}
				return exitWith(ExitInternal, "the outcome of %d part(s) of the run is unknown", len(m.Unknown))
			}
			return resultError(run.Result{Mode: run.Mode(m.Mode), Recaps: m.Recaps})
		},
	})
	return c
}

// readStream reads one --json stream, "-" being standard input.
func readStream(cmd *cobra.Command, name string) (*report.Stream, error) {
	if name == "-" {
		return report.ReadStream("standard input", cmd.InOrStdin())
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return report.ReadStream(name, f)
}
