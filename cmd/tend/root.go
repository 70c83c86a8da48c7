package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/executor/run"
	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/playbooks"
)

// globalFlags are the flags every command shares.
type globalFlags struct {
	inventory         string
	limit             []string
	vars              []string
	varFiles          []string
	forks             int
	json              bool
	noColor           bool
	acceptNewHostKeys bool
}

func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "tend",
		Short: "Keep a fleet of Linux servers in a declared state over SSH",
		Long: `tend keeps a fleet of Linux servers in a declared state over SSH.

Playbooks and inventories are HCL. "tend plan" reads every host's state and
shows, per host and task, what would change, without changing anything.
"tend apply" changes only what differs, reloads and restarts services only
when their configuration changed, verifies the result and runs health checks.

Playbook variables take their values from, each over the ones before it:
their defaults, TEND_VAR_<name> environment variables, --var-file files (in
order) and --var flags. --var values are visible in the process list; pass
secrets with TEND_VAR_<name> or --var-file.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.inventory, "inventory", "i", "", "inventory file (HCL); without it the implicit localhost over a local connection")
	pf.StringSliceVarP(&g.limit, "limit", "l", nil, "only hosts matching these host or group names (globs, comma-separated, !exclude)")
	pf.StringArrayVar(&g.vars, "var", nil, "set a playbook variable: --var name=value (repeatable; visible in the process list: pass secrets with --var-file or TEND_VAR_name)")
	pf.StringArrayVar(&g.varFiles, "var-file", nil, "set playbook variables from an HCL file of name = value lines (repeatable; later files win, --var wins over all)")
	pf.IntVarP(&g.forks, "forks", "f", run.DefaultForks, "how many hosts to work on in parallel")
	pf.BoolVar(&g.json, "json", false, "one JSON event per line instead of human output")
	pf.BoolVar(&g.noColor, "no-color", false, "no colour (also when NO_COLOR is set or output is not a terminal)")
	pf.BoolVar(&g.acceptNewHostKeys, "accept-new-host-keys", false, "trust unknown host keys and append them to known_hosts (mismatches are always refused)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitWith(ExitInvalid, "%v\nSee '%s --help'.", err, c.CommandPath())
	})
	root.AddCommand(
		newValidateCommand(g),
		newPlanCommand(g),
		newApplyCommand(g),
		newInventoryCommand(g),
		newModulesCommand(),
	)
	return root
}

// useColor decides whether output to w is coloured.
func (g *globalFlags) useColor(w io.Writer) bool {
	if g.noColor || g.json {
		return false
	}
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false
	}
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// sink returns where events go: JSON lines or human text on stdout.
func (g *globalFlags) sink(w io.Writer) report.Sink {
	if g.json {
		return report.NewJSONSink(w)
	}
	return report.NewHumanSink(w, g.useColor(w))
}

// parseVars turns --var name=value flags into a map.
func (g *globalFlags) parseVars() (map[string]string, error) {
	vars := map[string]string{}
	for _, v := range g.vars {
		name, value, ok := strings.Cut(v, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("--var %q: want name=value", v)
		}
		vars[name] = value
	}
	return vars, nil
}

// inputs gathers the playbook variables' values: TEND_VAR_name environment
// variables, then --var-file files in order, then --var flags, each source
// taking precedence over the ones before it.
func (g *globalFlags) inputs() (playbooks.Inputs, error) {
	flags, err := g.parseVars()
	if err != nil {
		return playbooks.Inputs{}, err
	}
	return playbooks.Inputs{Env: playbooks.EnvInputs(os.Environ()), Files: g.varFiles, Flags: flags}, nil
}

// loadInventory reads -i, or returns the implicit localhost inventory.
func (g *globalFlags) loadInventory() (*inventory.Inventory, hcl.Diagnostics) {
	if g.inventory == "" {
		return inventory.Localhost(), nil
	}
	return inventory.Load(g.inventory)
}

// prepare loads inventory and playbook and instantiates the run, all offline.
// Any error diagnostics end the command with ExitInvalid before a connection
// is made; warnings are printed and the run goes on.
func (g *globalFlags) prepare(cmd *cobra.Command, files []string, mode run.Mode) (*run.Run, error) {
	stderr := cmd.ErrOrStderr()
	inputs, err := g.inputs()
	if err != nil {
		return nil, exitWith(ExitInvalid, "%v", err)
	}
	if g.forks < 1 {
		return nil, exitWith(ExitInvalid, "--forks must be at least 1, got %d", g.forks)
	}
	inv, diags := g.loadInventory()
	if diags.HasErrors() {
		printDiagnostics(stderr, diags, g.useColor(stderr))
		return nil, exitWith(ExitInvalid, "invalid inventory: no host was contacted")
	}
	pb, pdiags := playbooks.LoadWith(files, inputs)
	diags = append(diags, pdiags...)
	if pdiags.HasErrors() {
		printDiagnostics(stderr, diags, g.useColor(stderr))
		return nil, exitWith(ExitInvalid, "invalid playbook: no host was contacted")
	}
	r, rdiags := run.Prepare(run.Options{
		Mode: mode, Inventory: inv, Playbook: pb, Limit: g.limit, Forks: g.forks,
	})
	diags = append(diags, rdiags...)
	printDiagnostics(stderr, diags, g.useColor(stderr))
	if diags.HasErrors() {
		return nil, exitWith(ExitInvalid, "invalid input: no host was contacted")
	}
	return r, nil
}
