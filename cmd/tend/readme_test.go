package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// The README's module table is derived from the registry: between its
// markers stands exactly what `tend modules --markdown` prints. Regenerate
// it with the command the failure message gives.
const (
	modulesBegin = "<!-- modules:begin -->"
	modulesEnd   = "<!-- modules:end -->"
)

func TestReadmeModuleTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, hasBegin := strings.Cut(string(readme), modulesBegin)
	table, _, hasEnd := strings.Cut(rest, modulesEnd)
	if !hasBegin || !hasEnd {
		t.Skipf("README.md has no %s … %s markers around its module table yet", modulesBegin, modulesEnd)
	}
	var out, errOut bytes.Buffer
	if code := runCLI(context.Background(), []string{"modules", "--markdown"}, &out, &errOut); code != ExitOK {
		t.Fatalf("tend modules --markdown: exit %d: %s", code, errOut.String())
	}
	if got, want := strings.TrimSpace(table), strings.TrimSpace(out.String()); got != want {
		t.Errorf("README.md's module table is not what `tend modules --markdown` prints; regenerate it with\n\n%s\n\nREADME has:\n%s\n\ntend prints:\n%s", regenerateReadme, got, want)
	}
}

// regenerateReadme replaces the table between the markers of README.md
// with the output of `tend modules --markdown` (run from the repository).
const regenerateReadme = `go run ./cmd/tend modules --markdown > /tmp/modules.md &&
  awk -v t=/tmp/modules.md '/<!-- modules:end -->/ {skip=0} !skip {print} /<!-- modules:begin -->/ {while ((getline l < t) > 0) print l; skip=1}' README.md > README.md.new &&
  mv README.md.new README.md`
