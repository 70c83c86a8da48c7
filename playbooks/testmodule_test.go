package playbooks

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/modules"
)

// echoKind is a test-only module kind: a real gohcl decoder into a struct,
// with its own validation, so tests see what a module receives.
const echoKind = "tendtest_echo"

func init() {
	modules.Register(modules.Info{
		Kind:    echoKind,
		Summary: "test module: records its decoded settings",
		New:     func() modules.Module { return &echo{} },
	})
}

type echoConfig struct {
	Path    *string           `hcl:"path,optional"`
	Message string            `hcl:"message"`
	Workers *int              `hcl:"workers,optional"`
	Tags    []string          `hcl:"tags,optional"`
	Env     map[string]string `hcl:"env,optional"`
	Secret  *string           `hcl:"secret,optional"`
}

type echo struct {
	label string
	path  string
	cfg   echoConfig
	// secretMarked records whether secret arrived marked Sensitive.
	secretMarked bool
}

func (e *echo) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	e.label, e.path = label, label
	// Look at secret's marks before gohcl (which cannot take marked values).
	content, rest, diags := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "secret"}}})
	if a, ok := content.Attributes["secret"]; ok {
		v, d := a.Expr.Value(ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			e.secretMarked = v.HasMark(Sensitive)
			uv, _ := v.Unmark()
			if uv.Type() == cty.String && !uv.IsNull() {
				s := uv.AsString()
				e.cfg.Secret = &s
			}
		}
	}
	diags = append(diags, gohcl.DecodeBody(rest, ctx, &e.cfg)...)
	if diags.HasErrors() {
		return diags
	}
	if e.cfg.Path != nil {
		e.path = *e.cfg.Path
	}
	if e.cfg.Workers != nil && *e.cfg.Workers < 1 {
		c, _, _ := rest.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "workers"}}})
		rng := c.Attributes["workers"].Expr.Range()
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid workers",
			Detail: fmt.Sprintf("workers must be at least 1, not %d.", *e.cfg.Workers), Subject: &rng})
	}
	return diags
}

func (e *echo) Probes() []executor.Probe {
	return []executor.Probe{{Kind: executor.ProbeFile, Path: e.path}}
}

func (e *echo) Check(ctx context.Context, t *modules.Target) (*modules.Diff, error) {
	return &modules.Diff{}, nil
}

func (e *echo) Apply(ctx context.Context, t *modules.Target, d *modules.Diff) error { return nil }
