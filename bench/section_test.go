package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSpliceSection(t *testing.T) {
	staff := "<!-- bench:staffrota:begin -->\nS1\n<!-- bench:staffrota:end -->\n"
	ssh := "<!-- bench:ssh-hardening:begin -->\nH1\n<!-- bench:ssh-hardening:end -->\n"
	tests := []struct {
		name, doc, section, body, want string
	}{
		{"empty file", "", "ssh-hardening", "H1", docTitle + ssh},
		{"append after the other", docTitle + staff, "ssh-hardening", "H1\n", docTitle + staff + "\n" + ssh},
		{"replace, keeping the other", docTitle + staff + "\n" + ssh, "ssh-hardening", "H2\n",
			docTitle + staff + "\n" + strings.Replace(ssh, "H1", "H2", 1)},
		{"replace the first, keeping the second", docTitle + staff + "\n" + ssh, "staffrota", "S2\n",
			docTitle + strings.Replace(staff, "S1", "S2", 1) + "\n" + ssh},
		{"a file from before the sections is the staffrota section", docTitle + "tend against Ansible...\n## Machine\n", "ssh-hardening", "H1\n",
			docTitle + "<!-- bench:staffrota:begin -->\ntend against Ansible...\n## Machine\n<!-- bench:staffrota:end -->\n\n" + ssh},
		{"and is replaced by the staffrota benchmark", docTitle + "old text\n", "staffrota", "S1\n", docTitle + staff},
	}
	for _, tc := range tests {
		got, err := spliceSection(tc.doc, tc.section, tc.body)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
	for name, doc := range map[string]string{
		"end before begin": docTitle + "<!-- bench:staffrota:end -->\n<!-- bench:staffrota:begin -->\n",
		"no end":           docTitle + "<!-- bench:staffrota:begin -->\nS1\n",
		"twice":            docTitle + staff + staff,
	} {
		if got, err := spliceSection(doc, "staffrota", "S2\n"); err == nil {
			t.Errorf("%s: spliced into broken markers:\n%s", name, got)
		}
	}
}

func TestWriteSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := writeSection(p, "ssh-hardening", "H1\n"); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(p, "staffrota", "S1\n"); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(p, "ssh-hardening", "H2\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := docTitle + "<!-- bench:ssh-hardening:begin -->\nH2\n<!-- bench:ssh-hardening:end -->\n\n<!-- bench:staffrota:begin -->\nS1\n<!-- bench:staffrota:end -->\n"
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}

// TestCommittedBenchmarksSections: the committed BENCHMARKS.md can take
// either scenario's section.
func TestCommittedBenchmarksSections(t *testing.T) {
	b, err := os.ReadFile("../BENCHMARKS.md")
	if err != nil {
		t.Skip(err)
	}
	for _, sc := range scenarios {
		doc, err := spliceSection(string(b), sc.name(), "X\n")
		if err != nil {
			t.Errorf("%s: %v", sc.name(), err)
			continue
		}
		if !strings.HasPrefix(doc, docTitle) {
			t.Errorf("%s: the title is gone", sc.name())
		}
	}
}
