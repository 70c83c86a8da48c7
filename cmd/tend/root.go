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
	"github.com/tend-sh/tend/executor/shard"
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
	output            string
	noColor           bool
	acceptNewHostKeys bool
	// rollout holds apply's rollout flags.
	rollout rolloutFlags
	// planOut is plan's --out; saved the plan apply applies.
	planOut string
	saved   *run.SavedPlan
	// shardFlag is --shard I/N of plan and apply; shard is it parsed.
	shardFlag string
	shard     *shard.Shard
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
	pf.StringVarP(&g.inventory, "inventory", "i", "", "inventory: a tend HCL file (.hcl), an Ansible INI or YAML file (.ini, .yml, .yaml, hosts) or an Ansible inventory directory; without it the implicit localhost over a local connection")
	pf.StringSliceVarP(&g.limit, "limit", "l", nil, "only hosts matching these host or group names (globs, comma-separated, !exclude)")
	pf.StringArrayVar(&g.vars, "var", nil, "set a playbook variable: --var name=value (repeatable; visible in the process list: pass secrets with --var-file or TEND_VAR_name)")
	pf.StringArrayVar(&g.varFiles, "var-file", nil, "set playbook variables from an HCL file of name = value lines (repeatable; later files win, --var wins over all)")
	pf.IntVarP(&g.forks, "forks", "f", run.DefaultForks, "how many hosts to work on in parallel (the default suits real networks, where a host waits on round trips more than on the controller's CPU)")
	pf.StringVarP(&g.output, "output", "o", "human", "output format: human or json (one JSON event per line)")
	pf.BoolVar(&g.json, "json", false, "same as --output json")
	pf.BoolVar(&g.noColor, "no-color", false, "no colour (also when NO_COLOR is set or output is not a terminal)")
	pf.BoolVar(&g.acceptNewHostKeys, "accept-new-host-keys", false, "trust unknown host keys and append them to known_hosts (mismatches are always refused)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFlagValues(cmd); err != nil {
			return err
		}
		return g.resolveOutput(cmd)
	}
	root.Args = rootArgs
	root.SuggestionsMinimumDistance = 2
	root.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	root.Version = currentBuild().String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitWith(ExitInvalid, "%v\nSee '%s --help'.", err, c.CommandPath())
	})
	root.AddCommand(
		newValidateCommand(g),
		newPlanCommand(g),
		newApplyCommand(g),
		newDrillCommand(g),
		newShowCommand(g),
		newInventoryCommand(g),
		newModulesCommand(),
		newVersionCommand(g),
		newReportCommand(g),
		newFmtCommand(g),
		newCheckCommand(g),
	)
	return root
}

// resolveOutput settles --output and its alias --json: an unknown format,
// or --json given with --output human, is an error.
func (g *globalFlags) resolveOutput(cmd *cobra.Command) error {
	switch g.output {
	case "human", "json":
	default:
		return exitWith(ExitInvalid, "--output %q: want human or json", g.output)
	}
	fl := cmd.Flags()
	if g.json && fl.Changed("output") && g.output != "json" {
		return exitWith(ExitInvalid, "--json and --output %s contradict each other: give one of them", g.output)
	}
	g.json = g.json || g.output == "json"
	if g.json {
		g.output = "json"
	}
	return nil
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
	if o, ok := w.(*outputWriter); ok {
		w = o.w
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

// prepared is what prepare made: the run, the playbook it came from, and
// which of its hosts use become.
type prepared struct {
	run *run.Run
	// ssh resolves the hosts' SSH settings (ssh_config, jump hosts).
	ssh      *sshResolver
	playbook *playbooks.Playbook
	becoming map[string]bool
	// selected counts the hosts selected before --shard took its part.
	selected int
}

// prepare loads inventory and playbook and instantiates the run, all
// offline. Every check runs and every problem is reported, each once: the
// inventory's, the playbook's, every task against its module's schema for
// no particular host (playbooks.CheckTasks: also the tasks no host runs),
// the plays' host patterns, every task for every selected host, and the
// selected hosts' connection settings (checkConnections). Any error ends
// the command with ExitInvalid before a connection is made; warnings are
// printed and the run goes on.
//
// A play whose hosts match nothing is an error, except for validate
// without -i (mode ""): that checks the playbook without an inventory, as
// the plays' hosts name an inventory it was not given, so it warns.
func (g *globalFlags) prepare(cmd *cobra.Command, files []string, mode run.Mode) (*prepared, error) {
	stderr := cmd.ErrOrStderr()
	inputs, err := g.inputs()
	if err != nil {
		return nil, exitWith(ExitInvalid, "%v", err)
	}
	if g.forks < 1 {
		return nil, exitWith(ExitInvalid, "--forks must be at least 1, got %d", g.forks)
	}
	if g.shardFlag != "" {
		s, err := shard.Parse(g.shardFlag)
		if err != nil {
			return nil, exitWith(ExitInvalid, "--shard %v", err)
		}
		g.shard = &s
	}
	fail := func(diags hcl.Diagnostics, what string) error {
		printDiagnostics(stderr, diags, g.useColor(stderr))
		return exitWith(ExitInvalid, "%s: no host was contacted", what)
	}
	inv, diags := g.loadInventory()
	diags = misplacedFiles(diags, true)
	invalidInventory := diags.HasErrors()
	pb, pdiags := playbooks.LoadWith(files, inputs)
	pdiags = misplacedFiles(pdiags, false)
	diags = append(diags, pdiags...)
	switch {
	case pdiags.HasErrors() && invalidInventory:
		return nil, fail(diags, "invalid inventory and playbook")
	case pdiags.HasErrors():
		return nil, fail(diags, "invalid playbook")
	}
	diags = append(diags, pb.CheckTasks()...)
	if invalidInventory {
		return nil, fail(diags, "invalid inventory")
	}

	// Plays whose hosts match nothing are reported once, here; the run is
	// prepared with the others, so their problems are reported too.
	var unmatched []string
	for _, d := range pb.Validate(inv) {
		if play, ok := playbooks.UnmatchedPlay(d); ok {
			unmatched = append(unmatched, play)
			if mode == modeValidate && g.inventory == "" {
				c := *d
				c.Severity = hcl.DiagWarning
				c.Detail += " Without -i, validate checks the playbook on its own, for no particular host; give the inventory with -i to check the plays' hosts and the host vars too."
				d = &c
			}
		}
		diags = append(diags, d)
	}
	runMode := mode
	if mode == modeValidate {
		runMode = run.ModePlan
	}
	r, rdiags := run.Prepare(run.Options{
		Mode: runMode, Inventory: inv, Playbook: pb.WithoutPlays(unmatched...), Limit: g.limit, Forks: g.forks,
		Rollout: g.rollout.parsed, Saved: g.saved,
	})
	diags = append(diags, rdiags...)
	if r != nil && len(g.limit) > 0 && len(r.Hosts()) == 0 && !rdiags.HasErrors() {
		// A plan that checks nothing must not read as "in sync".
		diags = diags.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid --limit",
			Detail: fmt.Sprintf("--limit %s selects no host that a play of the playbook runs on.", strings.Join(g.limit, ","))})
	}
	selected := 0
	if r != nil {
		selected = len(r.Hosts())
		if g.shard != nil {
			// After --limit: a shard is a part of the hosts this run
			// selected, and a limit selecting nothing is still an error.
			r.Only(g.shard.Has)
		}
	}
	var becoming map[string]bool
	resolver := newSSHResolver(inv)
	if r != nil {
		becoming = becomingHosts(pb, inv, r.Hosts())
		diags = append(diags, checkConnections(r.Hosts(), becoming, resolver)...)
	}
	printDiagnostics(stderr, diags, g.useColor(stderr))
	if diags.HasErrors() {
		return nil, exitWith(ExitInvalid, "invalid input: no host was contacted")
	}
	return &prepared{run: r, playbook: pb, becoming: becoming, ssh: resolver, selected: selected}, nil
}

// modeValidate is prepare's mode for validate: as plan, never connecting.
const modeValidate run.Mode = ""
