package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/executor/rollout"
	"github.com/tend-sh/tend/playbooks"
)

// rolloutPlaybook writes a file on every host, then fails on the hosts
// named in fail; each host appends its name to a shared log when it starts
// its command, so the test sees the order.
func rolloutPlaybook(block, fail string) string {
	return `
play "p" {
  hosts = ["all"]
` + block + `
  file "marker" {
    path    = "${host.vars.dir}/marker"
    content = "x\n"
  }
  command "maybe-fail" {
    run = "echo ${host.name} >> ${host.vars.dir}/../order; case ' ` + fail + ` ' in *' ${host.name} '*) exit 1;; esac"
  }
}
`
}

func TestRollout(t *testing.T) {
	hosts := []string{"a", "b", "c", "d", "e"}
	one := 1
	tests := []struct {
		name  string
		block string
		flags RolloutFlags
		fail  string
		// want is each host's outcome: ok, failed, not started.
		want map[string]string
		// order is the log of started commands, groups separated by "|"
		// (within a group any order).
		order string
	}{
		{
			name:  "canary fails: nothing else is touched",
			block: "rollout {\n canary = 1\n}",
			fail:  "a",
			want:  map[string]string{"a": "failed", "b": "not started", "c": "not started", "d": "not started", "e": "not started"},
			order: "a",
		},
		{
			name:  "canary then batches halt after the batch with a failure",
			block: "rollout {\n canary = 1\n batch = 2\n}",
			fail:  "c",
			want:  map[string]string{"a": "ok", "b": "ok", "c": "failed", "d": "not started", "e": "not started"},
			order: "a|b c",
		},
		{
			name:  "max_failures tolerates one",
			block: "rollout {\n batch = 1\n max_failures = 1\n}",
			fail:  "b d",
			want:  map[string]string{"a": "ok", "b": "failed", "c": "ok", "d": "failed", "e": "not started"},
			order: "a|b|c|d",
		},
		{
			name:  "a share of the hosts",
			block: "rollout {\n batch = \"40%\"\n}",
			fail:  "a",
			want:  map[string]string{"a": "failed", "b": "ok", "c": "not started", "d": "not started", "e": "not started"},
			order: "a b",
		},
		{
			name:  "no rollout: every host runs",
			fail:  "a c",
			want:  map[string]string{"a": "failed", "b": "ok", "c": "failed", "d": "ok", "e": "ok"},
			order: "a b c d e",
		},
		{
			name:  "the command line wins over the block",
			block: "rollout {\n canary = 3\n}",
			flags: RolloutFlags{Canary: &one},
			fail:  "a",
			want:  map[string]string{"a": "failed", "b": "not started", "c": "not started", "d": "not started", "e": "not started"},
			order: "a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r, rec := setupIn(t, dir, hosts, rolloutPlaybook(tt.block, tt.fail), ModeApply)
			r.opts.Rollout = tt.flags
			r.policy, _ = rolloutPolicy(r.opts, nil)
			res := r.Execute(context.Background())
			for _, rc := range res.Recaps {
				got := "ok"
				switch {
				case rc.NotStarted:
					got = "not started"
				case rc.Failed > 0:
					got = "failed"
				}
				if got != tt.want[rc.Host] {
					t.Errorf("%s: %s, want %s (%+v)", rc.Host, got, tt.want[rc.Host], rc)
				}
				// Hosts not started are not touched; failed ones are put back.
				_, err := os.Stat(filepath.Join(dir, rc.Host, "marker"))
				if (got == "ok") != (err == nil) || (got == "failed" && !rc.Reverted) {
					t.Errorf("%s: %s (reverted %v), its marker: %v", rc.Host, got, rc.Reverted, err)
				}
				if rc.NotStarted && !strings.HasPrefix(rc.Error, "not started: rollout halted after ") {
					t.Errorf("%s: %q", rc.Host, rc.Error)
				}
			}
			log, _ := os.ReadFile(filepath.Join(dir, "order"))
			if got := groupsOf(strings.Fields(string(log)), tt.order); got != tt.order {
				t.Errorf("started %q, want groups %q", log, tt.order)
			}
			if tt.want["e"] == "not started" && res.NotStarted() == 0 {
				t.Error("Result.NotStarted() = 0")
			}
			for _, e := range rec.events {
				if e.Type == report.EventHostDone && e.Recap[0].NotStarted && e.Status != report.StatusNotStarted {
					t.Errorf("%s: host_done status %s", e.Host, e.Status)
				}
			}
		})
	}
}

// groupsOf renders the started hosts with the group boundaries of want,
// each group sorted as in want when it holds the same hosts.
func groupsOf(started []string, want string) string {
	var out []string
	i := 0
	for _, g := range strings.Split(want, "|") {
		n := len(strings.Fields(g))
		if i+n > len(started) {
			return strings.Join(started, " ")
		}
		got := map[string]bool{}
		for _, h := range started[i : i+n] {
			got[h] = true
		}
		same := true
		for _, h := range strings.Fields(g) {
			same = same && got[h]
		}
		if !same {
			return strings.Join(started, " ")
		}
		out = append(out, g)
		i += n
	}
	if i != len(started) {
		return strings.Join(started, " ")
	}
	return strings.Join(out, "|")
}

func TestConflictingRolloutBlocks(t *testing.T) {
	two := func(c1, c2 int) string {
		return fmt.Sprintf("play \"p\" {\n hosts = [\"all\"]\n rollout {\n canary = %d\n }\n}\nplay \"q\" {\n hosts = [\"all\"]\n rollout {\n canary = %d\n }\n}\n", c1, c2)
	}
	r, _ := setup(t, []string{"a"}, two(1, 1), ModeApply)
	if p := r.Policy(); p.Canary != 1 || !p.Revert {
		t.Errorf("policy %+v", p)
	}
	r.opts.Rollout = RolloutFlags{NoRevert: true, Batch: ptr(rollout.Count(3))}
	if p, _ := rolloutPolicy(r.opts, nil); p.Revert || p.Batch.Hosts(10) != 3 || p.Canary != 1 {
		t.Errorf("flags not applied: %+v", p)
	}

	dir := t.TempDir()
	pbPath := filepath.Join(dir, "pb.hcl")
	if err := os.WriteFile(pbPath, []byte(two(1, 2)), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, diags := playbooks.Load([]string{pbPath}, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, d := rolloutPolicy(Options{Playbook: pb}, nil); !d.HasErrors() || !strings.Contains(d.Error(), "Conflicting rollout blocks") {
		t.Errorf("diags: %v", d)
	}
}

func ptr[T any](v T) *T { return &v }
