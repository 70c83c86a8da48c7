//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run fanned out with --shard over real hosts, one tend process per
// shard as a batch engine would start them, and merged with tend report
// merge: every host changed once, by its shard; the merged recap has the
// exit code of the whole run — 0 after apply, 0 for a plan in sync, 4 when
// a shard had an unreachable host — and a shard whose stream was cut is
// never a success.
func TestShardMerge(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "fshard", 4, "deploy")
	pb := writeFile(t, filepath.Join(dir, "site.hcl"), `play "mark" {
  hosts = ["web"]

  file "/etc/tend-shard" {
    content = "${host.name}\n"
    mode    = "0644"
  }
}
`)
	const n = 2
	run := func(cmd, inv string) []string {
		t.Helper()
		var files []string
		for i := range n {
			r := tend(t, nil, cmd, pb, "-i", inv, "--json", "--shard", fmt.Sprintf("%d/%d", i, n))
			if r.code != 0 && r.code != 2 && r.code != 4 {
				t.Fatalf("shard %d/%d: %s", i, n, r)
			}
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.jsonl", cmd, i))
			writeFile(t, path, r.stdout)
			files = append(files, path)
		}
		return files
	}
	merge := func(files ...string) result {
		return tend(t, nil, append([]string{"report", "merge", "--no-color"}, files...)...)
	}

	applies := run("apply", inv)
	r := merge(applies...)
	r.wantExit(t, 0)
	if !strings.Contains(r.stdout, "Applied: 4 changes on 4 of 4 hosts, all ok.") {
		t.Errorf("merged apply:\n%s", r)
	}
	for _, h := range f.Hosts {
		if got := sh(t, h, "cat /etc/tend-shard"); got != h.Name {
			t.Errorf("%s: /etc/tend-shard = %q", h.Name, got)
		}
	}
	r = merge(run("plan", inv)...)
	r.wantExit(t, 0)
	if !strings.Contains(r.stdout, "No changes: 4 hosts in sync.") {
		t.Errorf("merged plan:\n%s", r)
	}

	// A stream cut before its recap: the outcome is unknown, exit 1.
	data, err := os.ReadFile(applies[1])
	if err != nil {
		t.Fatal(err)
	}
	cut := writeFile(t, filepath.Join(dir, "cut.jsonl"), string(data[:strings.LastIndex(string(data), `{"type":"recap"`)]))
	r = merge(applies[0], cut)
	r.wantExit(t, 1)
	if !strings.Contains(r.stdout, "outcome unknown: "+cut) {
		t.Errorf("cut stream:\n%s", r)
	}

	// A host nobody answers for (a closed port on loopback), in whichever
	// shard it falls: the merged run is unreachable, exit 4.
	ghost := writeFile(t, filepath.Join(dir, "ghost.hcl"), strings.Replace(readFile(t, inv), "group \"web\" {\n", "group \"web\" {\n  host \"ghost\" {\n    address = \"127.0.0.1\"\n    port    = 1\n  }\n", 1))
	r = merge(run("plan", ghost)...)
	r.wantExit(t, 4)
	if !strings.Contains(r.stdout, "1 of 5 hosts unreachable") {
		t.Errorf("merged plan with an unreachable host:\n%s", r)
	}
}
