package modules

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "file",
		Summary: "A regular file: content (inline, from a local file, or an HCL template), mode, owner, group; or its absence",
		New:     func() Module { return &File{} },
		Config:  func() any { return &fileConfig{} },
		Doc: `Manages one regular file on the host: its content, mode, owner and group, or its absence. With state = "present" the file takes exactly one of content, source or template. The new content is written atomically (a temporary file beside it, renamed into place), checked by validate first when given; a change of mode or owner only does not rewrite the file.

Relative source and template paths are resolved against the directory of the playbook file that holds the attribute, and read when the playbook is decoded, before any connection. A template is rendered like templatefile(template, vars): it sees the keys of vars as variables and the playbook's functions, nothing else.

The parent directory must exist: a file task does not create directories (use a directory task). Content that comes from sensitive values, or any content when sensitive = true, is never shown in diffs, and a new file holding it is created 0600 unless mode says otherwise (an existing file keeps its mode). The path, mode, owner and group cannot come from sensitive values.`,
		Example: `file "/etc/ssh/sshd_config.d/50-hardening.conf" {
  content  = <<-EOT
    PasswordAuthentication no
    PermitRootLogin prohibit-password
  EOT
  mode     = "0644"
  owner    = "root"
  group    = "root"
  validate = "/usr/sbin/sshd -t -f %s"
  backup   = true
}
`,
	})
}

var (
	_ Module      = (*File)(nil)
	_ SecretFiler = (*File)(nil)
)

// SecretFiles implements SecretFiler.
func (m *File) SecretFiles() []string { return m.spec.secretFiles() }

// File manages one regular file on the host (its registry entry and the
// tags of fileConfig document it).
type File struct {
	spec   fileSpec
	absent bool
}

type fileConfig struct {
	Path      *string   `hcl:"path,optional" sensitive:"path" doc:"The file's absolute path; the task's label when not set."`
	Content   *string   `hcl:"content,optional" sensitive:"ok" doc:"The file's whole content, as a string."`
	Source    *string   `hcl:"source,optional" sensitive:"ok" doc:"A file on the controller whose content the file gets (relative to the playbook file)."`
	Template  *string   `hcl:"template,optional" sensitive:"ok" doc:"An HCL template on the controller (relative to the playbook file), rendered with vars."`
	Vars      cty.Value `hcl:"vars,optional" sensitive:"ok" type:"object" doc:"The template's variables, such as { port = 8000 }; only with template."`
	Mode      *string   `hcl:"mode,optional" doc:"Permission bits as a string of octal digits, such as \"0640\" (a number such as mode = 644 is refused: HCL numbers are decimal); left as it is when not set (a new file gets 0644, or 0600 when its content is sensitive)."`
	Owner     *string   `hcl:"owner,optional" doc:"The owning user, by name (not a numeric id); left as it is when not set."`
	Group     *string   `hcl:"group,optional" doc:"The owning group, by name (not a numeric id); left as it is when not set."`
	Sensitive *bool     `hcl:"sensitive,optional" sensitive:"ok" default:"false" doc:"Treat the content as secret even when it does not come from a sensitive value: never shown in diffs or JSON, and a new file is created 0600."`
	State     *string   `hcl:"state,optional" enum:"present,absent" default:"present" doc:"\"absent\" removes the file (never a directory)."`
	Validate  *string   `hcl:"validate,optional"`
	Backup    *bool     `hcl:"backup,optional"`
}

// Decode reads and validates the file task. An attribute whose value is not
// known (validation for no particular host) is checked no further, and the
// checks that depend on it are skipped.
func (m *File) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg fileConfig
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
		if err == nil && strings.HasSuffix(p, "/") {
			// Ansible's copy to "dir/" copies into the directory; a
			// file task is the file itself.
			name := "app.conf"
			if cfg.Source != nil && !dec.unknown["source"] {
				name = filepath.Base(*cfg.Source)
			}
			err = fmt.Errorf("%q ends with \"/\", like a directory: a file task manages one file, at its full path, such as %q", p, path.Join(clean, name))
		}
		if err != nil {
			diags = append(diags, pathErrAt(body, pathAttr, "Invalid file path", err.Error()))
		}
		m.spec.Path = clean
	}
	m.spec.DefaultMode = defaultFileMode

	own, odiags := decodeOwnership(body, dec, cfg.Mode, cfg.Owner, cfg.Group)
	diags = append(diags, odiags...)
	m.spec.ownership = own

	// An unknown (or refused) state: whether the file needs content
	// depends on the state meant.
	stateKnown := !dec.unknown["state"]
	m.absent = cfg.State != nil && *cfg.State == "absent"
	// Content read from a local file named by a sensitive value is as
	// sensitive as file(var.secret_path) would be.
	m.spec.Sensitive = (cfg.Sensitive != nil && *cfg.Sensitive) || dec.marked["content"] || dec.marked["vars"] || dec.marked["source"] || dec.marked["template"]
	if m.spec.Sensitive && !m.spec.HasMode {
		// A secret is never created world-readable by default.
		m.spec.DefaultMode = sensitiveFileMode
	}

	var sources []string
	if dec.given("content", cfg.Content != nil) {
		sources = append(sources, "content")
	}
	if dec.given("source", cfg.Source != nil) {
		sources = append(sources, "source")
	}
	if dec.given("template", cfg.Template != nil) {
		sources = append(sources, "template")
	}
	if dec.given("vars", isSet(cfg.Vars)) && !dec.given("template", cfg.Template != nil) {
		diags = append(diags, errAt(body, "vars", "vars without template", "vars are only used to render a template; set template or remove vars."))
	}
	if m.absent {
		for _, s := range sources {
			diags = append(diags, errAt(body, s, "Content for an absent file", fmt.Sprintf("%s has no meaning with state = \"absent\".", s)))
		}
		for _, a := range []struct {
			name string
			set  bool
		}{{"mode", cfg.Mode != nil}, {"owner", cfg.Owner != nil}, {"group", cfg.Group != nil}, {"validate", cfg.Validate != nil}, {"backup", cfg.Backup != nil}} {
			if dec.given(a.name, a.set) {
				diags = append(diags, errAt(body, a.name, "Attribute for an absent file", fmt.Sprintf("%s has no meaning with state = \"absent\".", a.name)))
			}
		}
		return diags
	}
	diags = append(diags, m.spec.decodeWriteOptions(body, dec, cfg.Validate, cfg.Backup)...)
	switch len(sources) {
	case 0:
		if stateKnown {
			diags = append(diags, errAt(body, "", "Missing file content", "A file needs exactly one of content, source or template."))
		}
		return diags
	case 1:
	default:
		diags = append(diags, errAt(body, sources[1], "Conflicting file content", fmt.Sprintf("Give exactly one of content, source or template, not both %s and %s.", sources[0], sources[1])))
		return diags
	}
	switch {
	case cfg.Content != nil:
		m.spec.Content = []byte(*cfg.Content)
	case cfg.Source != nil:
		data, err := os.ReadFile(localPath(body, "source", *cfg.Source))
		if err != nil {
			diags = append(diags, errAt(body, "source", "Cannot read source", err.Error()))
			return diags
		}
		m.spec.Content = data
	case cfg.Template != nil:
		out, tdiags := renderTemplate(body, ctx, *cfg.Template, cfg.Vars, dec.unknown["vars"])
		diags = append(diags, tdiags...)
		m.spec.Content = out
	}
	return diags
}

// sensitiveFileMode is the mode of a new file with sensitive content whose
// mode was not given: readable by its owner only.
const sensitiveFileMode = 0o600

// localPath resolves a controller-side path: relative paths are taken from
// the directory of the file that holds the attribute.
func localPath(body hcl.Body, attr, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	if fn := attrRange(body, attr).Filename; fn != "" {
		return filepath.Join(filepath.Dir(fn), p)
	}
	return p
}

// renderTemplate reads the template file named by the template attribute and
// renders it with vars as top-level variables. When vars is not known
// (varsUnknown), the template is read and parsed but not rendered.
func renderTemplate(body hcl.Body, ctx *hcl.EvalContext, name string, vars cty.Value, varsUnknown bool) ([]byte, hcl.Diagnostics) {
	fn := localPath(body, "template", name)
	src, err := os.ReadFile(fn)
	if err != nil {
		return nil, hcl.Diagnostics{errAt(body, "template", "Cannot read template", err.Error())}
	}
	expr, diags := hclsyntax.ParseTemplate(src, fn, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() || varsUnknown {
		return nil, diags
	}
	// Like templatefile(): the template sees the functions and vars, and
	// nothing else of the playbook.
	child := &hcl.EvalContext{Variables: map[string]cty.Value{}}
	if ctx != nil {
		child.Functions = ctx.Functions
	}
	if isSet(vars) {
		if !vars.IsKnown() || !(vars.Type().IsObjectType() || vars.Type().IsMapType()) {
			return nil, hcl.Diagnostics{errAt(body, "vars", "Invalid vars", "vars must be an object or map, such as { port = 8000 }.")}
		}
		for k, v := range vars.AsValueMap() {
			if !hclsyntax.ValidIdentifier(k) {
				return nil, hcl.Diagnostics{errAt(body, "vars", "Invalid vars", fmt.Sprintf("%q is not a valid variable name for a template.", k))}
			}
			child.Variables[k] = v
		}
	}
	val, vdiags := expr.Value(child)
	diags = append(diags, vdiags...)
	if vdiags.HasErrors() {
		return nil, diags
	}
	val, _ = val.UnmarkDeep()
	sv, err := convert.Convert(val, cty.String)
	if err != nil || sv.IsNull() || !sv.IsKnown() {
		return nil, append(diags, errAt(body, "template", "Invalid template result", "The template did not render to a known string."))
	}
	return []byte(sv.AsString()), diags
}

// Probes reads the file.
func (m *File) Probes() []executor.Probe {
	return []executor.Probe{{Kind: executor.ProbeFile, Path: m.spec.Path, Become: true}}
}

// Check compares the file with the gathered state.
func (m *File) Check(ctx context.Context, t *Target) (*Diff, error) {
	cur := t.State.File(m.spec.Path)
	d := &Diff{}
	if m.absent {
		if cur == nil {
			return nil, fmt.Errorf("%s: the file's state was not gathered", m.spec.Path)
		}
		if !cur.Exists {
			return d, nil
		}
		if cur.Type == "directory" {
			return nil, fmt.Errorf("%s is a directory, not a file: a file task with state = \"absent\" does not remove directories", m.spec.Path)
		}
		return d.Add(Change{Attr: "exists", Old: "present", New: "absent", Path: m.spec.Path}), nil
	}
	if _, err := m.spec.check(cur, d); err != nil {
		return nil, err
	}
	return d, nil
}

// Apply writes, re-owns or removes the file as d says.
func (m *File) Apply(ctx context.Context, t *Target, d *Diff) error {
	if c := d.Change("exists"); c != nil && c.New == "absent" {
		return runTrusted(ctx, t, "remove "+m.spec.Path, path.Dir(m.spec.Path), "", keepFirst(m.spec.Path, "rm -f -- "+executor.ShellQuote(m.spec.Path)), "")
	}
	return m.spec.apply(ctx, t, t.State.File(m.spec.Path), d)
}
