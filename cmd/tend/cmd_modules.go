package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/modules"
)

func newModulesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "modules",
		Short: "List the module kinds a playbook can use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, kind := range modules.Kinds() {
				info, _ := modules.Lookup(kind)
				fmt.Fprintf(cmd.OutOrStdout(), "%-18s %s\n", kind, info.Summary)
			}
			return nil
		},
	}
}
