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

// shardStreams runs cmd (plan or apply) once per shard of n with --json
// and writes each stream to a file; it returns the files.
func shardStreams(t *testing.T, cmd, inv, pb string, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for i := range n {
		r := tend(t, cmd, pb, "-i", inv, "--json", "--shard", fmt.Sprintf("%d/%d", i, n))
		if r.code != ExitOK && r.code != ExitChanges {
			r.want(t, ExitOK)
		}
		files = append(files, writeTestFile(t, filepath.Join(dir, fmt.Sprintf("shard-%d.jsonl", i)), r.stdout))
	}
	return files
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "merge", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run with -update to accept):\n%s", name, path, got)
	}
}

// tend report merge of the shards' real --json streams: one recap, the
// exit code of the whole run; a stream cut before its recap, or a shard
// missing, is an unknown outcome (exit 1), never success; streams of
// different runs are refused.
func TestReportMerge(t *testing.T) {
	inv, pb, _ := fleetOfLocals(t, 9)
	plans := shardStreams(t, "plan", inv, pb, 3)

	r := tend(t, append([]string{"report", "merge", "--no-color"}, plans...)...)
	r.want(t, ExitChanges)
	checkGolden(t, "plan", r.stdout)

	// Merged JSON is a run of its own: run_start with every host, recap.
	r = tend(t, append([]string{"report", "merge", "--output", "json"}, plans...)...)
	r.want(t, ExitChanges)
	if hosts, _ := runStart(t, r.stdout); len(hosts) != 9 || !strings.Contains(r.stdout, `"totals":{"hosts":9,"ok":0,"changed":9`) {
		t.Errorf("merged JSON:\n%s", r.stdout)
	}

	// Shard 1 (six of the nine hosts) was killed mid-run: its stream ends
	// before its recap.
	data, err := os.ReadFile(plans[1])
	if err != nil {
		t.Fatal(err)
	}
	cut := data[:strings.Index(string(data), `{"type":"recap"`)+20]
	truncated := writeTestFile(t, filepath.Join(t.TempDir(), "shard-1.jsonl"), string(cut))
	r = tend(t, "report", "merge", "--no-color", plans[0], truncated, plans[2])
	r.want(t, ExitInternal)
	checkGolden(t, "truncated", strings.ReplaceAll(r.stdout, truncated, "shard-1.jsonl"))
	if !strings.Contains(r.stderr, "outcome of 1 part(s) of the run is unknown") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	// A shard not given at all.
	r = tend(t, "report", "merge", "--no-color", plans[0], plans[2])
	r.want(t, ExitInternal)
	if !strings.Contains(r.stdout, "outcome unknown: shard 1/3: no stream was given for it") {
		t.Errorf("missing shard:\n%s", r.stdout)
	}

	applies := shardStreams(t, "apply", inv, pb, 3)
	r = tend(t, append([]string{"report", "merge", "--no-color"}, applies...)...)
	r.want(t, ExitOK)
	checkGolden(t, "apply", r.stdout)

	// Refused: a shard twice, a plan with an apply, another playbook.
	_, pb2, _ := fleetOfLocals(t, 9)
	other := shardStreams(t, "plan", inv, pb2, 3)
	for _, tc := range []struct {
		name  string
		files []string
		want  string
	}{
		{"twice", []string{plans[0], plans[0], plans[1], plans[2]}, "are both shard 0/3"},
		{"modes", []string{plans[0], applies[1], plans[2]}, "ran tend apply, "},
		{"playbooks", []string{plans[0], other[1], plans[2]}, "ran another playbook than"},
		{"not json", []string{plans[0], pb}, "not a tend --json event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tend(t, append([]string{"report", "merge"}, tc.files...)...)
			r.want(t, ExitInvalid)
			if !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("stderr:\n%s\nstdout:\n%s", r.stderr, r.stdout)
			}
		})
	}
}
