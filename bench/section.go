package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// BENCHMARKS.md holds one section per scenario, each between its own
// markers, so that each scenario's run rewrites only its own section:
//
//	# Benchmarks
//
//	<!-- bench:staffrota:begin -->
//	...
//	<!-- bench:staffrota:end -->
//
//	<!-- bench:ssh-hardening:begin -->
//	...
//	<!-- bench:ssh-hardening:end -->

// docTitle starts BENCHMARKS.md, before the sections.
const docTitle = "# Benchmarks\n\n"

func beginMarker(name string) string { return "<!-- bench:" + name + ":begin -->\n" }
func endMarker(name string) string   { return "<!-- bench:" + name + ":end -->\n" }

// spliceSection returns doc with the section of scenario name replaced by
// body, or, when doc has no such section, with it appended. A doc without
// any section markers was written whole by the staffrota benchmark before
// there were sections: it becomes the staffrota section (its title kept
// above it). It fails when the markers are broken.
func spliceSection(doc, name, body string) (string, error) {
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	if strings.TrimSpace(doc) == "" {
		doc = docTitle
	} else if !strings.Contains(doc, "<!-- bench:") {
		legacy := strings.TrimPrefix(doc, docTitle)
		if !strings.HasSuffix(legacy, "\n") {
			legacy += "\n"
		}
		doc = docTitle + beginMarker("staffrota") + legacy + endMarker("staffrota")
	}
	begin, end := beginMarker(name), endMarker(name)
	b, e := strings.Index(doc, begin), strings.Index(doc, end)
	switch {
	case b < 0 && e < 0:
		if !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		return doc + begin + body + end, nil
	case b < 0 || e < b || strings.Count(doc, begin) != 1 || strings.Count(doc, end) != 1:
		return "", fmt.Errorf("the %s section's markers (%q, %q) are broken: each must appear once, begin before end", name, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	return doc[:b] + begin + body + doc[e:], nil
}

// writeSection rewrites the section of scenario name in the file at path
// (created when missing), leaving the rest of it as it is.
func writeSection(path, name, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc, err := spliceSection(string(old), name, body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
