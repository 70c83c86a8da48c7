package run

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor/report"
)

// A play that refers to host.facts is made once the facts were read: its
// when, for_each and values see this machine's facts, a task whose when is
// false on this host is skipped, and the rest converge; the run costs one
// round trip more than a play without facts.
func TestHostFactsInPlays(t *testing.T) {
	pb := `
play "p" {
  hosts = ["all"]
  file "facts" {
    path    = "${host.vars.dir}/facts"
    content = "${host.facts.os_id} ${host.facts.arch} ${host.facts.cpus > 0} ${host.facts.init}\n"
  }
  file "never" {
    path    = "${host.vars.dir}/never"
    content = "x"
    when    = host.facts.os_id == "plan9"
  }
  file "per_arch" {
    for_each = toset([host.facts.arch])
    path     = "${host.vars.dir}/arch-${each.key}"
    content  = each.key
  }
}
`
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		r, rec := setupIn(t, dir, []string{"a"}, pb, ModeApply)
		res := r.Execute(context.Background())
		if res.Failed() != 0 {
			t.Fatalf("run %d: %+v", i, res.Recaps)
		}
		if e := rec.find("a", "file.never"); e == nil || e.Status != report.StatusSkipped {
			t.Errorf("run %d: the task whose when is false: %+v", i, e)
		}
		if i == 1 && res.Recaps[0].Changed != 0 {
			t.Errorf("the second run changed %d task(s)", res.Recaps[0].Changed)
		}
	}
	got, err := os.ReadFile(filepath.Join(dir, "a", "facts"))
	if err != nil {
		t.Fatal(err)
	}
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if f := strings.Fields(string(got)); len(f) != 4 || f[0] == "" || (arch != "" && f[1] != arch) || f[2] != "true" {
		t.Errorf("facts file: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "arch-"+arch)); arch != "" && err != nil {
		t.Errorf("for_each over a fact: %v", err)
	}
}
