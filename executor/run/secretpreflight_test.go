package run

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/modules"
	"github.com/tend-sh/tend/playbooks"
)

// preflightModule's Check fails its preflight, with the diff it found
// all the same: a change to a file's content.
type preflightModule struct{ path, old string }

func (m *preflightModule) Decode(string, hcl.Body, *hcl.EvalContext) hcl.Diagnostics { return nil }
func (m *preflightModule) Probes() []executor.Probe                                  { return nil }
func (m *preflightModule) Apply(context.Context, *modules.Target, *modules.Diff) error {
	return nil
}
func (m *preflightModule) Check(context.Context, *modules.Target) (*modules.Diff, error) {
	d := (&modules.Diff{}).Add(modules.Change{Attr: "content", Path: m.path, OldContent: []byte(m.old), NewContent: []byte("new\n")})
	return nil, &modules.PreflightError{Diff: d, Unit: "app.service", Why: "user app does not exist"}
}

// TestSecretFileHiddenInPreflightDiff: the diff a failed preflight carries
// (shown in a plan where an earlier task changes the host) hides a secret
// file's content as the diff Check returns does.
func TestSecretFileHiddenInPreflightDiff(t *testing.T) {
	w := &hostWork{host: &inventory.Host{Name: "a"}, plan: &playbooks.HostPlan{}, secret: map[string]bool{"/etc/app.env": true}}
	_, err := w.check(context.Background(), &preflightModule{path: "/etc/app.env", old: "API_KEY=s3cr3t\n"}, &executor.State{})
	pre, ok := err.(*modules.PreflightError)
	if !ok || pre.Diff == nil {
		t.Fatalf("err = %v, want a preflight error with its diff", err)
	}
	c := pre.Diff.Change("content")
	if !c.Sensitive || strings.Contains(string(c.OldContent)+c.Old+c.New, "s3cr3t") {
		t.Errorf("the preflight's diff shows the secret file: %+v", c)
	}
}
