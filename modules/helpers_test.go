package modules

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"strconv"
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

// Run records the script, or, for executor.WriteFile's command, the write.
func (c *fakeConn) Run(ctx context.Context, cmd executor.Command) (executor.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := parseWrite(cmd); ok {
		c.writes = append(c.writes, w)
		return executor.Result{}, nil
	}
	c.scripts = append(c.scripts, cmd.Script)
	for _, r := range c.rules {
		if strings.Contains(cmd.Script, r.contains) {
			return r.result, nil
		}
	}
	return executor.Result{}, nil
}

// parseWrite recognises the command executor.WriteFile runs by comparing it
// with the one executor.WriteScript makes for the same assignments.
func parseWrite(cmd executor.Command) (fakeWrite, bool) {
	first, _, _ := strings.Cut(cmd.Script, "\n")
	if !strings.HasPrefix(first, "tend_dest=") {
		return fakeWrite{}, false
	}
	var w fakeWrite
	w.Data = string(cmd.Input)
	w.Attrs.Become = cmd.Become
	args, err := shellwords(first)
	if err != nil {
		return fakeWrite{}, false
	}
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "tend_dest":
			w.Path = v
		case "tend_mode":
			m, _ := strconv.ParseUint(v, 8, 32)
			w.Attrs.Mode = fs.FileMode(m)
		case "tend_owner":
			w.Attrs.Owner = v
		case "tend_group":
			w.Attrs.Group = v
		case "tend_validate":
			w.Attrs.Validate = strings.ReplaceAll(v, `"$1"`, "%s")
		}
	}
	want, err := executor.WriteScript(w.Path, cmd.Input, w.Attrs)
	if err != nil || want.Script != cmd.Script {
		return fakeWrite{}, false
	}
	return w, true
}

// shellwords splits the assignments line of a write script (words quoted
// by executor.ShellQuote).
func shellwords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in := false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case in && ch == '\'':
			in = false
		case !in && ch == '\'':
			in = true
		case !in && ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case !in && ch == ' ':
			words = append(words, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	if in {
		return nil, fmt.Errorf("unterminated quote")
	}
	return append(words, cur.String()), nil
}

func (c *fakeConn) Hold(ctx context.Context, cmd executor.Command, ready string) (*executor.Held, []byte, error) {
	return nil, nil, fmt.Errorf("fakeConn: no held commands")
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

// actions returns the display strings of a diff's effects and run.
func actions(d *Diff) []string { return d.Actions() }

// pos formats a diagnostic's subject start as "line:col".
func pos(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return "?"
	}
	return fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)
}
