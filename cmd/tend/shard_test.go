package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor/shard"
)

// fleetOfLocals writes an inventory of n hosts reached with the local
// connection, each with a state directory of its own, and a playbook that
// writes one file per host under root.
func fleetOfLocals(t *testing.T, n int) (inv, pb, root string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("group \"web\" {\n")
	for i := range n {
		fmt.Fprintf(&b, "  host \"web%02d\" {\n    connection = \"local\"\n    state_dir  = %q\n  }\n", i, filepath.Join(dir, "state", fmt.Sprint(i)))
	}
	b.WriteString("}\n")
	inv = writeTestFile(t, filepath.Join(dir, "inventory.hcl"), b.String())
	pb = writeTestFile(t, filepath.Join(dir, "site.hcl"), fmt.Sprintf(`variable "root" { default = %q }

play "site" {
  hosts = ["web"]

  file "conf" {
    path    = "${var.root}/${host.name}.conf"
    content = "name = ${host.name}\n"
  }
}
`, root))
	return inv, pb, root
}

// runStart returns the hosts and run ID of a --json stream's run_start.
func runStart(t *testing.T, stream string) (hosts []string, shardID string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(stream), "\n") {
		var e struct {
			Type  string
			Hosts []string
			Run   struct{ Shard string }
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if e.Type == "run_start" {
			return e.Hosts, e.Run.Shard
		}
	}
	t.Fatalf("no run_start in:\n%s", stream)
	return nil, ""
}

// --shard I/N splits the selected hosts (after --limit): every host in
// exactly one shard, the one shard.Of names, and each stream says its
// shard.
func TestShardSplitsTheSelectedHosts(t *testing.T) {
	inv, pb, _ := fleetOfLocals(t, 12)
	for _, tc := range []struct {
		name  string
		limit []string
		want  int
	}{
		{"all", nil, 12},
		{"limit", []string{"--limit", "web0*"}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 3
			var all []string
			for i := range n {
				args := append([]string{"plan", pb, "-i", inv, "--json", "--shard", fmt.Sprintf("%d/%d", i, n)}, tc.limit...)
				r := tend(t, args...)
				if r.code != ExitChanges && r.code != ExitOK {
					r.want(t, ExitChanges)
				}
				hosts, id := runStart(t, r.stdout)
				if id != fmt.Sprintf("%d/%d", i, n) {
					t.Errorf("shard %d/%d: run_start says shard %q", i, n, id)
				}
				for _, h := range hosts {
					if shard.Of(h, n) != i {
						t.Errorf("shard %d/%d ran %s, which belongs to shard %d", i, n, h, shard.Of(h, n))
					}
				}
				all = append(all, hosts...)
			}
			slices.Sort(all)
			if len(all) != tc.want || len(slices.Compact(slices.Clone(all))) != tc.want {
				t.Errorf("the shards ran %d hosts (%v), want each of %d once", len(all), all, tc.want)
			}
		})
	}
}

// An empty shard is not an error; a bad --shard is invalid input; a
// --limit selecting nothing is still an error under --shard.
func TestShardEdges(t *testing.T) {
	inv, pb, _ := fleetOfLocals(t, 2)
	// With 64 shards, two hosts leave most shards empty.
	empty := -1
	for i := range 64 {
		if shard.Of("web00", 64) != i && shard.Of("web01", 64) != i {
			empty = i
			break
		}
	}
	r := tend(t, "plan", pb, "-i", inv, "--no-color", "--shard", fmt.Sprintf("%d/64", empty))
	r.want(t, ExitOK)
	if !strings.Contains(r.stderr, fmt.Sprintf("no hosts in shard %d/64 (of 2 selected hosts)", empty)) || r.stdout != "" {
		t.Errorf("empty shard: stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	// In JSON the stream still starts and ends, for tend report merge.
	r = tend(t, "plan", pb, "-i", inv, "--json", "--shard", fmt.Sprintf("%d/64", empty))
	r.want(t, ExitOK)
	if !strings.Contains(r.stdout, `"type":"run_start"`) || !strings.Contains(r.stdout, `"type":"recap"`) {
		t.Errorf("empty shard in JSON:\n%s", r.stdout)
	}
	for _, bad := range []string{"4/4", "1", "-1/2", "0/0", "x/2"} {
		r := tend(t, "plan", pb, "-i", inv, "--shard", bad)
		r.want(t, ExitInvalid)
		if !strings.Contains(r.stderr, "tend: --shard") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("--shard %s: stderr:\n%s", bad, r.stderr)
		}
	}
	r = tend(t, "plan", pb, "-i", inv, "--no-color", "--limit", "nothing*", "--shard", "0/2")
	r.want(t, ExitInvalid)
	if !strings.Contains(r.stderr, "Invalid --limit") {
		t.Errorf("--limit selecting nothing under --shard: stderr:\n%s", r.stderr)
	}
}
