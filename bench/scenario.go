package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// A scenario is one example the benchmark measures: a tend playbook, the
// Ansible playbook that does the same, the state both must leave on every
// host, and how to put a host back into the state before them. The driver
// (Bench) is the same for every scenario.
type scenario interface {
	// name is the -scenario value and the name of the scenario's section
	// of BENCHMARKS.md.
	name() string
	// tools are the tools the scenario measures, in report order.
	tools() []string
	// tendPlaybook is the tend playbook, relative to the repository root.
	tendPlaybook() string
	// tendVars are the arguments tool (a tend variant) adds to `tend apply`.
	tendVars(tool string) []string
	// ansiblePlaybook is the Ansible playbook's file name in bench/ansible.
	ansiblePlaybook() string
	// init reads what the scenario needs from the booted hosts (the
	// originals of the files it changes) and installs what a tool needs
	// on them that their image lacks. It runs once, before any tool.
	init(ctx context.Context, b *Bench) error
	// stateScript is a POSIX sh script, run as root, that prints a host's
	// state as "KEY VALUE" lines, "active" and "marker" among them (see
	// HostState).
	stateScript() string
	// pristine is host i's state before any tool ran (its Values), which
	// every reset must restore.
	pristine(i int) map[string]string
	// want is host i's state after a converge by tool (its Values).
	want(i int, tool string) map[string]string
	// resetScript puts host i back into its pristine state; it runs as
	// root, untimed, before every cold run.
	resetScript(i int) string
	// noopReference is the command of the plain OpenSSH no-op reference on
	// host i (run with sudo by the login user) and what it must print,
	// given the host's current state.
	noopReference(i int, st HostState) (command, output string)
	// coldReference is the script of the plain OpenSSH cold reference on
	// host i (run by `sudo sh -c`): the host-side work of a converge.
	coldReference(i int) string
	// ratios are the ratios of medians the report shows, with their targets.
	ratios(noop, cold map[string]*Series) []Ratio
	// section renders the scenario's section of BENCHMARKS.md.
	section(r *Report) string
}

// scenarios are the scenarios by name; the first is the default.
var scenarios = []scenario{&staffrota{}, &sshHardening{}}

// scenarioNames lists the scenarios' names.
func scenarioNames() []string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.name())
	}
	return out
}

// findScenario returns the scenario called name.
func findScenario(name string) (scenario, error) {
	for _, s := range scenarios {
		if s.name() == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("-scenario: unknown scenario %q (want %s)", name, strings.Join(scenarioNames(), " or "))
}

// hasTool reports whether sc measures tool.
func hasTool(sc scenario, tool string) bool { return slices.Contains(sc.tools(), tool) }

// fileState is sh that prints "KEY OWNER:GROUP:MODE SHA256" for the file at
// path, or "KEY absent" when there is none (fileValue renders the same).
func fileState(key, path string) string {
	q := shellQuote(path)
	return fmt.Sprintf(`if [ -e %[2]s ]; then printf '%%s %%s %%s\n' %[1]s "$(stat -c %%U:%%G:%%a %[2]s)" "$(sha256sum < %[2]s | cut -d' ' -f1)"; else echo %[1]s absent; fi`,
		shellQuote(key), q)
}

// fileValue is what fileState prints for a file with owner (USER:GROUP),
// octal mode (as stat prints it: "644") and content.
func fileValue(owner, mode string, content []byte) string {
	return owner + ":" + mode + " " + sha256Hex(content)
}

// absent is the value fileState prints for a missing file.
const absent = "absent"
