package modules

import (
	"context"
	"fmt"
	"path"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "directory",
		Summary: "A directory: mode, owner, group; or the absence of an empty directory",
		New:     func() Module { return &Directory{} },
		Config:  func() any { return &directoryConfig{} },
		Doc:     `Manages one directory on the host. A missing directory is created with its missing parents (mkdir -p; the parents get the default mode and the connection user's ownership). With state = "absent" it removes only an empty directory (rmdir): a directory with content makes apply fail rather than delete data. A path that exists but is not a directory is an error; tend never replaces it.`,
		Example: `directory "/srv/app/releases" {
  mode  = "0750"
  owner = "app"
  group = "app"
}
`,
	})
}

var _ Module = (*Directory)(nil)

// Directory manages one directory on the host (its registry entry and the
// tags of directoryConfig document it).
type Directory struct {
	path   string
	own    ownership
	absent bool
}

type directoryConfig struct {
	Path  *string `hcl:"path,optional" sensitive:"path" doc:"The directory's absolute path; the task's label when not set."`
	Mode  *string `hcl:"mode,optional" doc:"Permission bits as an octal string, such as \"0755\"; left as it is when not set (a new directory gets 0755)."`
	Owner *string `hcl:"owner,optional" doc:"The owning user, by name (not a numeric id); left as it is when not set."`
	Group *string `hcl:"group,optional" doc:"The owning group, by name (not a numeric id); left as it is when not set."`
	State *string `hcl:"state,optional" enum:"present,absent" default:"present" doc:"\"absent\" removes the directory if it is empty."`
}

// Decode reads and validates the directory task (an attribute whose value is
// not known is checked no further).
func (m *Directory) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg directoryConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok {
		return diags
	}
	p, pathAttr := label, ""
	if cfg.Path != nil {
		p, pathAttr = *cfg.Path, "path"
	}
	if !dec.unknown["path"] {
		clean, err := cleanAbsPath(p)
		if err != nil {
			diags = append(diags, pathErrAt(body, pathAttr, "Invalid directory path", err.Error()))
		} else if clean == "/" {
			diags = append(diags, pathErrAt(body, pathAttr, "Invalid directory path", "tend does not manage the root directory."))
		}
		m.path = clean
	}
	own, odiags := decodeOwnership(body, dec, cfg.Mode, cfg.Owner, cfg.Group)
	diags = append(diags, odiags...)
	m.own = own
	if cfg.State != nil {
		switch *cfg.State {
		case "absent":
			m.absent = true
			for _, a := range []struct {
				name string
				set  bool
			}{{"mode", cfg.Mode != nil}, {"owner", cfg.Owner != nil}, {"group", cfg.Group != nil}} {
				if dec.given(a.name, a.set) {
					diags = append(diags, errAt(body, a.name, "Attribute for an absent directory", fmt.Sprintf("%s has no meaning with state = \"absent\".", a.name)))
				}
			}
		}
	}
	return diags
}

// Probes reads the directory.
func (m *Directory) Probes() []executor.Probe {
	return []executor.Probe{{Kind: executor.ProbeFile, Path: m.path, Become: true}}
}

// Check compares the directory with the gathered state.
func (m *Directory) Check(ctx context.Context, t *Target) (*Diff, error) {
	cur := t.State.File(m.path)
	if cur == nil {
		return nil, fmt.Errorf("%s: the directory's state was not gathered", m.path)
	}
	if cur.Exists && cur.Type != "directory" {
		return nil, fmt.Errorf("%s exists but is a %s, not a directory; tend will not replace it", m.path, cur.Type)
	}
	d := &Diff{}
	if m.absent {
		if cur.Exists {
			d.Add(Change{Attr: "exists", Old: "present", New: "absent", Path: m.path})
		}
		return d, nil
	}
	if !cur.Exists {
		d.Add(Change{Attr: "exists", Old: "absent", New: "present", Path: m.path})
	}
	m.own.check(cur, d)
	return d, nil
}

// Apply creates, removes or re-owns the directory as d says.
func (m *Directory) Apply(ctx context.Context, t *Target, d *Diff) error {
	q := executor.ShellQuote(m.path)
	if c := d.Change("exists"); c != nil && c.New == "absent" {
		return runTrusted(ctx, t, "remove directory "+m.path, path.Dir(m.path), "", keepFirst(m.path, "rmdir -- "+q), "tend removes only empty directories")
	}
	var script string
	if c := d.Change("exists"); c != nil && c.New == "present" {
		script = "mkdir -p -- " + q
	}
	attrs, err := chownChmodScript(m.path, d, m.own)
	if err != nil {
		return err
	}
	if attrs != "" {
		if script != "" {
			script += " && "
		}
		script += attrs
	}
	if script == "" {
		return nil
	}
	// The directories mkdir -p makes are kept too: a revert removes them.
	keep := "tend_keep_dirs " + q + " || { echo 'tend: what the directory was could not be kept for a revert' >&2; exit 1; }\n"
	return runTrusted(ctx, t, "directory "+m.path, path.Dir(m.path), m.path, keep+script, "")
}
