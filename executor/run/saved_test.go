package run

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor/plan"
)

// A saved plan holds no secret: the sensitive content is neither in its
// diffs nor guessable from its fingerprints (an HMAC under the
// controller's key); apply of the plan writes it, and refuses a host
// whose state changed since, changing nothing there.
func TestSavedPlanRun(t *testing.T) {
	const secret = "hunter2-pw"
	pb := `
play "p" {
  hosts = ["all"]
  file "secret" {
    path      = "${host.vars.dir}/db.conf"
    content   = "password=` + secret + `\n"
    sensitive = true
  }
  file "plain" {
    path    = "${host.vars.dir}/app.conf"
    content = "workers=2\n"
  }
}
`
	dir := t.TempDir()
	key := plan.Key(strings.Repeat("k", 32))
	r, _ := setupIn(t, dir, []string{"a", "b"}, pb, ModePlan)
	r.opts.Saved = &SavedPlan{Key: key, Nonce: "n1"}
	r.recorder = &planRecorder{hosts: map[string]*plan.Host{}}
	res := r.Execute(context.Background())
	hosts := r.Planned(res)
	data, err := json.Marshal(hosts)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), secret) {
		t.Fatalf("the saved plan holds the secret:\n%s", data)
	}
	if len(hosts) != 2 || len(hosts[0].Tasks) != 2 || hosts[0].Tasks[0].Fingerprint == "" {
		t.Fatalf("planned: %s", data)
	}
	// Another key, another fingerprint: nobody can test a guess without it.
	if fingerprint(&SavedPlan{Key: plan.Key(strings.Repeat("x", 32))}, "a", "t", nil) == fingerprint(&SavedPlan{Key: key}, "a", "t", nil) {
		t.Error("the fingerprint does not depend on the key")
	}

	// Host b drifts; the plan applies on a and refuses b.
	if err := os.WriteFile(filepath.Join(dir, "b", "app.conf"), []byte("workers=9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	apply, _ := setupIn(t, dir, []string{"a", "b"}, pb, ModeApply)
	apply.opts.Saved = &SavedPlan{Key: key, Apply: &plan.File{Hosts: hosts, Nonce: "n1"}}
	res = apply.Execute(context.Background())
	a, b := res.Recaps[0], res.Recaps[1]
	if a.Failed != 0 || a.Changed != 2 {
		t.Errorf("a: %+v", a)
	}
	if b.Failed == 0 || !strings.Contains(b.Error, "changed since the plan: file.plain: planned exists") {
		t.Errorf("b: %+v", b)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "a", "db.conf")); string(got) != "password="+secret+"\n" {
		t.Errorf("a's secret file: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "b", "db.conf")); !os.IsNotExist(err) {
		t.Errorf("b was changed although it was refused: %v", err)
	}
}
