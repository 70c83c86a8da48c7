package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/modules"
)

// This file is ARCHITECTURE's "add a module in one file", proved: a module
// kind that reads a kind of state the executor knows nothing about (a
// count of lines, through a Fact of its own: snippet + parser) and changes
// it, registered here and driven by the real engine — plan, apply, the
// re-check and a second run — with no edit outside this file.

// lineCount is the fact: how many lines a file has, -1 when it is missing.
type lineCount struct{ path string }

func (f lineCount) Key() string { return "test-lines:" + f.path }
func (f lineCount) Script() string {
	return "if [ -f " + executor.ShellQuote(f.path) + " ]; then wc -l < " + executor.ShellQuote(f.path) + "; else echo missing; fi"
}
func (f lineCount) Parse(out []byte, rc int) (any, error) {
	s := strings.TrimSpace(string(out))
	if rc != 0 {
		return nil, fmt.Errorf("exit %d", rc)
	}
	if s == "missing" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, fmt.Errorf("not a count: %q", s)
	}
	return n, nil
}

// atLeastLines is the module: the file has at least Lines lines (it
// appends empty ones).
type atLeastLines struct {
	Path  string `hcl:"path"`
	Lines int    `hcl:"lines"`
}

var _ modules.Module = (*atLeastLines)(nil)

func init() {
	modules.Register(modules.Info{Kind: "test_at_least_lines", Summary: "test only: a file with at least N lines", New: func() modules.Module { return new(atLeastLines) }})
}

func (m *atLeastLines) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	return gohcl.DecodeBody(body, ctx, m)
}

func (m *atLeastLines) Probes() []executor.Probe {
	return []executor.Probe{{Kind: executor.ProbeFact, Fact: lineCount{m.Path}}}
}

func (m *atLeastLines) Check(ctx context.Context, t *modules.Target) (*modules.Diff, error) {
	v, ok := t.State.Fact(lineCount{m.Path})
	if !ok {
		return nil, fmt.Errorf("%s: not gathered", m.Path)
	}
	n := v.(int)
	d := &modules.Diff{}
	if n < 0 {
		return nil, fmt.Errorf("%s does not exist", m.Path)
	}
	if n < m.Lines {
		d.Add(modules.Change{Attr: "lines", Old: strconv.Itoa(n), New: strconv.Itoa(m.Lines)})
	}
	return d, nil
}

func (m *atLeastLines) Apply(ctx context.Context, t *modules.Target, d *modules.Diff) error {
	c := d.Change("lines")
	old, _ := strconv.Atoi(c.Old)
	script := fmt.Sprintf("i=%d; while [ $i -lt %d ]; do echo >> %s; i=$((i + 1)); done", old, m.Lines, executor.ShellQuote(m.Path))
	res, err := t.Conn.Run(ctx, executor.Command{Script: script})
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("exit %d", res.ExitCode)
	}
	return err
}

func TestModuleInOneFile(t *testing.T) {
	dir := t.TempDir()
	pb := `
play "p" {
  hosts = ["all"]
  test_at_least_lines "log" {
    path  = "${host.vars.dir}/log"
    lines = 3
  }
}
`
	if err := os.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "log"), []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, rec := setupIn(t, dir, []string{"a"}, pb, ModePlan)
	r.Execute(context.Background())
	e := rec.find("a", "test_at_least_lines.log")
	if e == nil || e.Status != report.StatusChange || e.Diff.Change("lines").Old != "1" || e.Diff.Change("lines").New != "3" {
		t.Fatalf("plan: %+v", e)
	}
	for i, want := range []report.Status{report.StatusChanged, report.StatusOK} {
		r, rec := setupIn(t, dir, []string{"a"}, pb, ModeApply)
		if res := r.Execute(context.Background()); res.Failed() != 0 {
			t.Fatalf("apply %d: %+v", i, res.Recaps)
		}
		if e := rec.find("a", "test_at_least_lines.log"); e == nil || e.Status != want {
			t.Errorf("apply %d: %+v, want %s", i, e, want)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "a", "log")); string(data) != "one\n\n\n" {
		t.Errorf("the file holds %q", data)
	}
}
