package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra/doc"
)

// docs/cli holds a markdown page per command and docs/man a man page per
// command, generated from the commands' help by cobra/doc.
const (
	docsDir = "../../docs/cli"
	manDir  = "../../docs/man"
)

//go:generate go test . -run TestCLIDocs -update

// TestCLIDocs fails when docs/cli or docs/man is not what the commands'
// help says. Regenerate them with `go generate ./cmd/tend` (that is, this
// test with -update).
func TestCLIDocs(t *testing.T) {
	md, man := t.TempDir(), t.TempDir()
	root := newRootCommand()
	root.DisableAutoGenTag = true // no date: the pages are reproducible
	if err := doc.GenMarkdownTree(root, md); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := doc.GenManTree(root, &doc.GenManHeader{Title: "TEND", Section: "1", Source: "tend", Manual: "tend manual", Date: &date}, man); err != nil {
		t.Fatal(err)
	}
	sameTree(t, md, docsDir)
	sameTree(t, man, manDir)
}

// sameTree compares the generated files to the committed ones, or with
// -update replaces the committed directory.
func sameTree(t *testing.T, generatedDir, committedDir string) {
	t.Helper()
	generated, err := os.ReadDir(generatedDir)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.RemoveAll(committedDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(committedDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rel := filepath.Base(committedDir)
	want := map[string]bool{}
	for _, e := range generated {
		want[e.Name()] = true
		data, err := os.ReadFile(filepath.Join(generatedDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(committedDir, e.Name())
		if *update {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(path)
		if err != nil || string(have) != string(data) {
			t.Errorf("docs/%s/%s is stale or missing: regenerate docs with `go generate ./cmd/tend`", rel, e.Name())
		}
	}
	committed, _ := os.ReadDir(committedDir)
	for _, e := range committed {
		if !want[e.Name()] {
			t.Errorf("docs/%s/%s documents no command: regenerate docs with `go generate ./cmd/tend`", rel, e.Name())
		}
	}
}
