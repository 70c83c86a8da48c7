package modules

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/tend-sh/tend/executor"
)

// parseBody parses src as the body of a task block, as if read from file.
func parseBody(t *testing.T, filename, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), filename, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	return f.Body
}

// decodeModule creates a module of kind and decodes src into it.
func decodeModule(t *testing.T, kind, label, src string, ctx *hcl.EvalContext) (Module, hcl.Diagnostics) {
	t.Helper()
	info, ok := Lookup(kind)
	if !ok {
		t.Fatalf("kind %q is not registered", kind)
	}
	m := info.New()
	return m, m.Decode(label, parseBody(t, "test.hcl", src), ctx)
}

// mustDecode decodes and fails the test on any error diagnostic.
func mustDecode(t *testing.T, kind, label, src string) Module {
	t.Helper()
	m, diags := decodeModule(t, kind, label, src, nil)
	if diags.HasErrors() {
		t.Fatalf("decode %s %q: %v", kind, label, diags)
	}
	return m
}

// fakeConn records what modules ask of a host. Run answers with the result
// of the first matching rule (a substring of the script), or exit 0.
type fakeConn struct {
	mu      sync.Mutex
	scripts []string
	writes  []fakeWrite
	rules   []fakeRule
	dial    func(ctx context.Context, path string) (net.Conn, error)
}

type fakeWrite struct {
	Path  string
	Data  string
	Attrs executor.FileAttrs
}

type fakeRule struct {
	contains string
	result   executor.Result
}

func (c *fakeConn) Run(ctx context.Context, cmd executor.Command) (executor.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scripts = append(c.scripts, cmd.Script)
	for _, r := range c.rules {
		if strings.Contains(cmd.Script, r.contains) {
			return r.result, nil
		}
	}
	return executor.Result{}, nil
}

func (c *fakeConn) WriteFile(ctx context.Context, path string, data []byte, attrs executor.FileAttrs) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, fakeWrite{Path: path, Data: string(data), Attrs: attrs})
	return nil
}

func (c *fakeConn) DialUnix(ctx context.Context, path string) (net.Conn, error) {
	if c.dial != nil {
		return c.dial(ctx, path)
	}
	return nil, fmt.Errorf("fakeConn: no unix sockets")
}

func (c *fakeConn) Host() string           { return "fake" }
func (c *fakeConn) Stats() executor.Stats  { return executor.Stats{} }
func (c *fakeConn) Close() error           { return nil }
func (c *fakeConn) calls() int             { return len(c.scripts) + len(c.writes) }
func (c *fakeConn) lastScript() (s string) { return c.scripts[len(c.scripts)-1] }

// pos formats a diagnostic's subject start as "line:col".
func pos(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return "?"
	}
	return fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)
}
