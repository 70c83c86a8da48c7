// Package modules holds tend's resource modules (file, directory,
// systemd_unit, gunicorn_service, service, command, health_check) and the one
// registry they are listed in.
//
// Every module has a read-only Check that returns a typed Diff; `tend plan`
// renders that Diff and `tend apply` hands the very same Diff to Apply, then
// runs Check again and fails the host if it still differs. Dry-run is not a
// separate code path.
package modules

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
)

// Module is one configured resource of one task, for one host.
type Module interface {
	// Decode reads the task's block body, already evaluated for one host
	// (ctx carries var, local, host and the functions), and validates it.
	// It runs before any connection is made: every problem it finds must be
	// reported here, as diagnostics with source ranges.
	//
	// Decode also runs once per task with host.* and each.* unknown, to
	// check the task for no particular host (validate without hosts, tasks
	// whose when is false everywhere). Then values may be unknown: Decode
	// must check what is known and raise no error or warning that depends
	// on an unknown value. decodeBody turns unknown values into null and
	// says which they were.
	Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics

	// Probes lists the remote state Check needs. The executor gathers the
	// probes of all tasks of a host in one round trip.
	Probes() []executor.Probe

	// Check compares the desired state with t.State and returns what Apply
	// would change. It must not change anything on the host. An empty Diff
	// means in sync.
	Check(ctx context.Context, t *Target) (*Diff, error)

	// Apply makes exactly the changes d describes (d came from Check on the
	// same target).
	Apply(ctx context.Context, t *Target, d *Diff) error
}

// Verifier is implemented by read-only modules (health_check) whose work is
// to verify the host after changes. Verify runs on apply, after pending
// notifications were flushed; it never counts as a change.
type Verifier interface {
	Verify(ctx context.Context, t *Target) error
}

// Undoer is implemented by modules whose change the engine cannot put back
// by itself (commands, and diffs marked Beyond: packages, accounts, live
// settings): Undo returns the command that undoes it, or false. It is
// called before Apply, with the state Check saw, so the command can name
// what was there before.
type Undoer interface {
	Undo(t *Target) (executor.Command, bool)
}

// ChangeReporter is implemented by modules that learn only when Apply ran
// whether it changed anything (a command's changed_when): Changed, after
// Apply, false reports the task as ok, and the handlers it would notify
// are not.
type ChangeReporter interface {
	Changed() bool
}

// SecretFiler is implemented by modules that write files whose content is
// secret (sensitive = true, or content from a sensitive value). Every
// content change another task of the host shows for one of these files is
// hidden too (HideSecretFiles): a line_in_file that edits a file holding a
// secret must not show the secret in its diff's context.
type SecretFiler interface {
	// SecretFiles returns the paths of the files whose content is secret.
	SecretFiles() []string
}

// HideSecretFiles hides, in d, the content of every change to a file in
// secret: its old content is dropped (it is never shown or kept), its new
// content stays for Apply but is not shown. It returns d.
func HideSecretFiles(d *Diff, secret map[string]bool) *Diff {
	if d == nil || len(secret) == 0 {
		return d
	}
	for i := range d.Changes {
		c := &d.Changes[i]
		if c.Attr != "content" || c.Sensitive || !secret[c.Path] {
			continue
		}
		c.Sensitive, c.OldContent, c.Old, c.New = true, nil, "", "(sensitive content changed)"
	}
	return d
}

// Target is the host a module works on.
type Target struct {
	// Host is the inventory name of the host, for messages.
	Host string
	// Address is the address tend connects to (used by health checks that
	// run from the controller).
	Address string
	Conn    executor.Conn
	// State holds the answers to the module's probes.
	State *executor.State
	// Become is the inventory's become setting for this host.
	Become bool
}

// Info describes a module kind for the registry.
type Info struct {
	// Kind is the HCL block type, e.g. "gunicorn_service".
	Kind string
	// Summary is a one-line description for `tend modules` and docs.
	Summary string
	// New returns a fresh, unconfigured module.
	New func() Module
	// Config returns a new config struct of the kind, whose field tags
	// declare its attributes (see schema.go); nil for a kind that does not
	// declare them yet.
	Config func() any
	// Doc is the help text: what the module does, in full sentences.
	Doc string
	// Example is a task of the kind, as a playbook would hold it; tests
	// decode it.
	Example string
	// ResultAttrs name the attributes evaluated after Apply with result in
	// scope (a command's changed_when, failed_when): the playbook lets
	// them refer to result.*, and the module checks those references.
	ResultAttrs []string
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Info{}
)

// Register adds a module kind to the registry. It panics on a duplicate kind:
// that is a programming error caught by any test.
func Register(info Info) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if info.Kind == "" || info.New == nil {
		panic("modules: Register needs Kind and New")
	}
	if _, dup := registry[info.Kind]; dup {
		panic(fmt.Sprintf("modules: kind %q registered twice", info.Kind))
	}
	registry[info.Kind] = info
}

// Lookup returns the registered module kind.
func Lookup(kind string) (Info, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	info, ok := registry[kind]
	return info, ok
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	kinds := make([]string, 0, len(registry))
	for k := range registry {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// UnitRunner is implemented by modules that manage a systemd unit: tend
// check (and the restart drill) read the state of the units they keep
// running.
type UnitRunner interface {
	// RunningUnit names the unit the task keeps running, or "" when it
	// does not (state "stopped", or a state left as it is).
	RunningUnit() string
}

// WorkerCounter is implemented by modules whose unit runs a known number
// of worker processes besides its main one (gunicorn's workers): a restart
// drill of the unit without its own workers setting expects that many.
type WorkerCounter interface {
	// WorkerProcesses returns the number of worker processes, and false
	// when the module does not know it for this host.
	WorkerProcesses() (int, bool)
}

var _ WorkerCounter = (*GunicornService)(nil)

var (
	_ UnitRunner = (*Service)(nil)
	_ UnitRunner = (*SystemdUnit)(nil)
	_ UnitRunner = (*GunicornService)(nil)
)
