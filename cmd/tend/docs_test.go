package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra/doc"
)

// docsDir holds a markdown page per command, generated from the commands'
// help by cobra/doc.
const docsDir = "../../docs/cli"

//go:generate go test . -run TestCLIDocs -update

// TestCLIDocs fails when docs/cli is not what the commands' help says.
// Regenerate it with `go generate ./cmd/tend` (that is, this test with
// -update).
func TestCLIDocs(t *testing.T) {
	tmp := t.TempDir()
	root := newRootCommand()
	root.DisableAutoGenTag = true // no date: the pages are reproducible
	if err := doc.GenMarkdownTree(root, tmp); err != nil {
		t.Fatal(err)
	}
	generated, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.RemoveAll(docsDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(docsDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, e := range generated {
		want[e.Name()] = true
		data, err := os.ReadFile(filepath.Join(tmp, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(docsDir, e.Name())
		if *update {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(path)
		if err != nil || string(have) != string(data) {
			t.Errorf("docs/cli/%s is stale or missing: regenerate docs/cli with `go generate ./cmd/tend`", e.Name())
		}
	}
	committed, _ := os.ReadDir(docsDir)
	for _, e := range committed {
		if !want[e.Name()] {
			t.Errorf("docs/cli/%s documents no command: regenerate docs/cli with `go generate ./cmd/tend`", e.Name())
		}
	}
}
