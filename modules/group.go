package modules

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "group",
		Summary: "A local group: its gid; or its absence",
		New:     func() Module { return &Group{} },
		Config:  func() any { return &groupConfig{} },
		Doc: `Manages one local group, named by the task's label, with groupadd, groupmod and groupdel (run as root: set become when the login is not root). A missing group is created (with gid when given, as a system group with system = true); an existing group whose gid differs is given the new gid (files owned by the old gid keep it, as with groupmod). With state = "absent" the group is deleted: groupdel refuses the primary group of a user.

A revert of a failed host deletes a group the run created and gives a changed group its old gid back; a deleted group stays deleted.`,
		Example: `group "deploy" {
  gid = 1500
}
`,
	})
}

var _ Module = (*Group)(nil)
var _ Undoer = (*Group)(nil)

// Group manages one local group.
type Group struct {
	name   string
	gid    *int64
	system bool
	absent bool
}

type groupConfig struct {
	GID    *int64  `hcl:"gid,optional" doc:"The group id; left as it is when not set (a new group gets the next free one)."`
	System *bool   `hcl:"system,optional" default:"false" doc:"Create the group as a system group (its gid from the system range). Only used when the group is created."`
	State  *string `hcl:"state,optional" enum:"present,absent" default:"present" doc:"\"absent\" deletes the group."`
}

// Decode reads and validates the group task.
func (m *Group) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg groupConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok || diags.HasErrors() {
		return diags
	}
	m.name = label
	if err := validAccountName("group", label); err != nil {
		diags = append(diags, labelErrAt(body, "Invalid group name", err.Error()+"."))
	}
	if cfg.GID != nil {
		if err := validAccountID("gid", *cfg.GID); err != nil {
			diags = append(diags, errAt(body, "gid", "Invalid gid", err.Error()+"."))
		}
		m.gid = cfg.GID
	}
	m.system = cfg.System != nil && *cfg.System
	m.absent = cfg.State != nil && *cfg.State == "absent"
	if m.absent {
		for _, a := range []struct {
			name string
			set  bool
		}{{"gid", cfg.GID != nil}, {"system", m.system}} {
			if dec.given(a.name, a.set) {
				diags = append(diags, errAt(body, a.name, "Attribute for an absent group", fmt.Sprintf("%s has no meaning with state = \"absent\".", a.name)))
			}
		}
	}
	return diags
}

// Probes reads the group.
func (m *Group) Probes() []executor.Probe {
	return []executor.Probe{{Kind: executor.ProbeFact, Fact: groupFact{m.name}, Become: true}}
}

// Check compares the group with the host's.
func (m *Group) Check(ctx context.Context, t *Target) (*Diff, error) {
	cur, err := factValue[*groupInfo](t.State, groupFact{m.name})
	if err != nil {
		return nil, err
	}
	d := &Diff{}
	switch {
	case m.absent:
		if cur.Exists {
			d.Add(Change{Attr: "exists", Old: "present", New: "absent"})
		}
	case !cur.Exists:
		d.Add(Change{Attr: "exists", Old: "absent", New: "present"})
		if m.gid != nil {
			d.Add(Change{Attr: "gid", New: strconv.FormatInt(*m.gid, 10)})
		}
		if m.system {
			d.Add(Change{Attr: "system", New: "true"})
		}
	case m.gid != nil && cur.GID != *m.gid:
		d.Add(Change{Attr: "gid", Old: strconv.FormatInt(cur.GID, 10), New: strconv.FormatInt(*m.gid, 10)})
		d.Notes = append(d.Notes, fmt.Sprintf("files owned by gid %d keep that gid", cur.GID))
	}
	if !d.Empty() {
		d.Beyond = true
		if err := needRoot(t, "group "+m.name); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Apply creates, changes or deletes the group as d says.
func (m *Group) Apply(ctx context.Context, t *Target, d *Diff) error {
	q := executor.ShellQuote
	var script string
	switch c := d.Change("exists"); {
	case c != nil && c.New == "absent":
		script = "groupdel -- " + q(m.name)
	case c != nil:
		script = "groupadd"
		if m.gid != nil {
			script += " -g " + strconv.FormatInt(*m.gid, 10)
		}
		if m.system {
			script += " -r"
		}
		script += " -- " + q(m.name)
	case d.Change("gid") != nil:
		script = "groupmod -g " + strconv.FormatInt(*m.gid, 10) + " -- " + q(m.name)
	default:
		return nil
	}
	_, err := runScript(ctx, t, "group "+m.name, script+" </dev/null", t.Become)
	return err
}

// Undo deletes a group the run creates and gives a changed group its old
// gid back; a deletion cannot be undone.
func (m *Group) Undo(t *Target) (executor.Command, bool) {
	d, err := m.Check(context.Background(), t)
	if err != nil || d.Empty() {
		return executor.Command{}, false
	}
	q := executor.ShellQuote
	if c := d.Change("exists"); c != nil {
		if c.New == "absent" {
			return executor.Command{}, false
		}
		return executor.Command{Script: "groupdel -- " + q(m.name) + " </dev/null", Become: t.Become}, true
	}
	if c := d.Change("gid"); c != nil {
		return executor.Command{Script: "groupmod -g " + c.Old + " -- " + q(m.name) + " </dev/null", Become: t.Become}, true
	}
	return executor.Command{}, false
}

// needRoot refuses a change of accounts when the state was not read as
// root: useradd and its kin need root, and so would Apply.
func needRoot(t *Target, what string) error {
	if t.State == nil || t.State.Facts.EffectiveUser == "root" {
		return nil
	}
	return fmt.Errorf("%s: changing accounts needs root, and tend works as %s on this host: set become = true (in the inventory or the play)", what, t.State.Facts.EffectiveUser)
}
