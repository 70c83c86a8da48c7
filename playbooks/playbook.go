// Package playbooks reads tend playbooks (HCL) and evaluates them, per host,
// into configured modules. Everything here is offline: parse, evaluate,
// validate; no connection is made.
//
// A playbook is one or more .hcl files holding variable blocks, locals
// blocks and play blocks:
//
//	variable "app_dir" {
//	  type        = string                    # optional type constraint
//	  default     = "/home/staff-rota-system" # optional; else --var is required
//	  description = "Where the app lives."
//	  sensitive   = false                     # true marks the value secret
//	}
//	locals { unit = "staffrota.service" }
//
//	play "harden" {
//	  hosts  = ["web", "!web3"] # host patterns, as inventory.Select
//	  become = true             # optional, overrides the inventory
//
//	  file "/etc/app.conf" {    # module kind, then the task's label
//	    content = "workers = ${host.vars.workers}\n"
//	    notify  = ["restart-app"]  # meta-argument: handlers to notify
//	    when    = host.vars.workers > 1  # meta-argument: false skips the task
//	    name    = "app config"  # meta-argument: display name
//	  }
//	  command "migrate" {
//	    for_each = toset(["a", "b"]) # meta-argument: one task per key
//	    run      = "migrate ${each.key}"
//	  }
//	  handler "restart-app" {
//	    service "staffrota" { state = "restarted" }
//	  }
//	}
//
// Expressions see var.<name>, local.<name>, host.name, host.address,
// host.groups, host.vars, each.key and each.value (in for_each tasks), and
// the functions of inventory.Functions plus file and templatefile.
package playbooks

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/tend-sh/tend/executor/rollout"
	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/modules"
)

// Sensitive is the cty mark carried by the values of variables declared with
// sensitive = true, by the results of sensitive(value) (in the playbook or in
// inventory vars, reaching host.vars), and by everything computed from them.
// Modules strip it when decoding and keep such values out of diffs and logs.
// It is the inventory's mark: both languages share it.
const Sensitive = inventory.Sensitive

// Playbook is a loaded playbook: files parsed, variables resolved, plays
// checked. Instantiate evaluates a play for one host.
type Playbook struct {
	// Files holds every parsed file by name, for printing diagnostics with
	// source snippets: the playbook's files and the variable files. --var
	// values appear as files named "<--var NAME>", TEND_VAR_ values as
	// "<env TEND_VAR_NAME>".
	Files map[string]*hcl.File
	// Variables are the declared input variables, by name, with their
	// resolved values.
	Variables map[string]*Variable
	// Plays in declaration order (files in the order given, directories
	// sorted by file name).
	Plays []*Play
	// BaseDir is the directory of the first playbook file. file() and
	// templatefile() resolve relative paths against the directory of the
	// file that holds the call, which is BaseDir for single-directory
	// playbooks.
	BaseDir string

	locals []*local // in evaluation order
	vars   cty.Value
	// funcs are the functions per source file (file/templatefile bound to
	// the file's directory).
	funcs     map[string]map[string]function.Function
	baseFuncs map[string]function.Function
}

// Variable is one declared input variable.
type Variable struct {
	Name        string
	Description string
	// Type is the type constraint; cty.DynamicPseudoType when none (or
	// "any") was given.
	Type cty.Type
	// Default is the default value, or cty.NilVal when there is none.
	Default cty.Value
	// Value is the resolved value (the --var override or the default),
	// marked Sensitive when the variable is sensitive.
	Value     cty.Value
	Sensitive bool
	// Range is the variable block's definition range.
	Range hcl.Range

	defaults *typeexpr.Defaults // optional() attribute defaults of Type
}

// local is one named local value.
type local struct {
	name string
	attr *hcl.Attribute
	refs []hcl.Traversal
}

// Play is one play block.
type Play struct {
	Name string
	// HostPatterns select the hosts, as inventory.Select.
	HostPatterns []string
	// Become overrides the hosts' inventory become setting when not nil.
	Become *bool
	// Tasks in declaration order.
	Tasks []*TaskSpec
	// Handlers by name; each handler holds exactly one module block. A
	// handler's Range orders handlers (they run in declaration order).
	Handlers map[string]*TaskSpec
	// Rollout is the play's rollout block, or nil.
	Rollout *Rollout
	// Drills are the play's restart_drill blocks, in declaration order.
	// Only tend drill (or apply --drill) runs them.
	Drills []*Drill
	// Range is the play block's definition range.
	Range hcl.Range

	// hostRanges holds each HostPatterns element's source range.
	hostRanges []hcl.Range
}

// Rollout is a play's rollout block: how a change reaches its hosts. Unset
// settings are nil (the command line or the defaults decide).
type Rollout struct {
	Canary      *int
	Batch       *rollout.Size
	MaxFailures *rollout.Size
	Revert      *bool
	// Range is the block's definition range.
	Range hcl.Range
}

// Drill is a play's restart_drill block: kill the unit's main process and
// verify that systemd brings it back.
type Drill struct {
	// Unit is the systemd unit, with its suffix ("staffrota.service").
	Unit string
	// Workers is the number of processes expected in the unit's cgroup
	// besides the main one; -1 when not given (not checked).
	Workers int
	// Margin is added to the unit's RestartSec to bound the wait.
	Margin time.Duration
	// AllowWithoutHealthCheck lets a play without a health_check drill.
	AllowWithoutHealthCheck bool
	// Range is the block's definition range.
	Range hcl.Range
}

// DefaultDrillMargin is a drill's margin when the block gives none.
const DefaultDrillMargin = 10 * time.Second

// TaskSpec is a task or handler as written, before evaluation for a host.
type TaskSpec struct {
	// ID is "kind.label"; for_each instances get ["key"] appended.
	ID string
	// Kind is the module kind (block type), Label the block's label.
	Kind, Label string
	// Handler is the handler's name, for handlers; "" for tasks.
	Handler string
	// Name is the display name when the name meta-argument is a constant
	// (a name computed per host is only known after Instantiate).
	Name string
	// Notify lists the handlers the task notifies when it changes something.
	Notify []string
	// ForEach reports whether the task has a for_each meta-argument.
	ForEach bool
	// IgnoreErrors is the ignore_errors meta-argument: a failure of the
	// task is reported and counted as ignored, and the host goes on.
	IgnoreErrors bool
	// Range is the module block's definition range (for handlers, the
	// handler block's).
	Range hcl.Range

	file       string
	block      *hclsyntax.Block // the module block
	body       hcl.Body         // the module block body without meta-arguments
	forEach    hcl.Expression
	when       hcl.Expression
	name       hcl.Expression
	notifyRngs []hcl.Range
	// References made by the meta-arguments and by the module body.
	forEachRefs, whenRefs, nameRefs, bodyRefs []hcl.Traversal
}

// HostPlan is a play evaluated for one host.
type HostPlan struct {
	Play *Play
	Host *inventory.Host
	// Become is the play's become, or else the host's.
	Become bool
	// Tasks in order, for_each instances expanded in key order.
	Tasks []*Task
	// Handlers by handler name.
	Handlers map[string]*Task
	// NeedsFacts is set when the play refers to host.facts and was only
	// checked: it has no tasks until InstantiateWithFacts.
	NeedsFacts bool
}

// Task is one task (or handler) instance configured for one host.
type Task struct {
	// ID is e.g. `gunicorn_service.staffrota` or `command.migrate["a"]`;
	// for handlers the ID of the handler's module block.
	ID string
	// Kind and Label are the module block's type and label.
	Kind, Label string
	// Name is the display name ("" when the task has none; the handler's
	// name for handlers).
	Name string
	// Module is the decoded module; nil when Skip.
	Module modules.Module
	// Skip is set when the task's when condition is false.
	Skip bool
	// Notify names the handlers to notify when the task changes something.
	Notify []string
	// EachKey is the for_each key of the instance ("" without for_each).
	EachKey string
	// IgnoreErrors: see TaskSpec.IgnoreErrors.
	IgnoreErrors bool
	// Range is the module block's definition range (for handlers, the
	// handler block's).
	Range hcl.Range

	renew func() (modules.Module, hcl.Diagnostics)
}

// Renew returns a freshly decoded module for the task, as Instantiate made
// it: modules keep what they applied (so the check after Apply can pass),
// and a handler that runs a second time in a play needs a clean one.
func (t *Task) Renew() (modules.Module, error) {
	if t.renew == nil {
		return t.Module, nil
	}
	m, diags := t.renew()
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: decoding again: %s", t.ID, diags.Error())
	}
	return m, nil
}
