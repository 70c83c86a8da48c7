package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIs(t *testing.T) {
	for in, want := range map[string]bool{
		`{"tend_plan": 1}`:         true,
		"{\n  \"tend_plan\": 1\n}": true,
		"  {\"tend_plan\":1":       true,
		`play "x" {}`:              false,
		`{"hosts": []}`:            false,
		``:                         false,
	} {
		if got := Is([]byte(in)); got != want {
			t.Errorf("Is(%q) = %v", in, got)
		}
	}
}

func TestWriteReadAndSources(t *testing.T) {
	dir := t.TempDir()
	pb := filepath.Join(dir, "pb")
	if err := os.MkdirAll(filepath.Join(pb, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"pb/site.hcl": "play {}", "pb/templates/a.tpl": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A directory stands for its *.hcl files, as the loader reads it (the
	// templates' content is in the fingerprints); a link is followed.
	if err := os.Symlink(filepath.Join(pb, "site.hcl"), filepath.Join(dir, "current.hcl")); err != nil {
		t.Fatal(err)
	}
	src, err := Sources([]string{pb, filepath.Join(dir, "current.hcl")})
	if err != nil || len(src) != 2 || !strings.HasSuffix(src[0].Path, "current.hcl") || src[0].SHA256 != src[1].SHA256 {
		t.Fatalf("sources %+v, %v", src, err)
	}
	if _, err := Sources([]string{filepath.Join(pb, "templates")}); err == nil {
		t.Error("a directory without *.hcl files gave sources")
	}
	k := Key(strings.Repeat("k", 32))
	f := &File{Tend: "v1", Created: time.Unix(0, 0), Playbook: src, KeyID: "k", Hosts: []Host{{Name: "h", Tasks: []Task{{ID: "p/file.x", Status: "change", Fingerprint: "f"}}}}}
	path := filepath.Join(dir, "out.plan")
	if err := f.Seal(k); err != nil {
		t.Fatal(err)
	}
	if err := f.Write(path); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if !IsFile(path) || IsFile(filepath.Join(pb, "site.hcl")) {
		t.Error("IsFile")
	}
	got, err := Read(path)
	if err != nil || got.Changes() != 1 || got.Hosts[0].Tasks[0].Fingerprint != "f" {
		t.Fatalf("read %+v, %v", got, err)
	}
	if err := CheckSources(got.Playbook, "playbook"); err != nil {
		t.Fatal(err)
	}
	if !got.Verify(k) {
		t.Error("the sealed plan does not verify")
	}
	got.Hosts[0].Tasks[0].Status = "ok"
	if got.Verify(k) {
		t.Error("an edited plan verifies")
	}
	got.Hosts[0].Tasks[0].Status = "change"
	if err := os.WriteFile(filepath.Join(pb, "site.hcl"), []byte("play { }"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckSources(got.Playbook, "playbook"); err == nil || !strings.Contains(err.Error(), "changed since the plan was made") {
		t.Errorf("a changed playbook file (through its link too): %v", err)
	}
	if _, err := Read(filepath.Join(pb, "site.hcl")); err == nil {
		t.Error("a playbook read as a plan")
	}
}

func TestKey(t *testing.T) {
	t.Setenv("TEND_PLAN_KEY_FILE", filepath.Join(t.TempDir(), "sub", "plan.key"))
	if _, err := LoadKey(false); err == nil {
		t.Fatal("no key, and none to be made: want an error")
	}
	k, err := LoadKey(true)
	if err != nil || len(k) != 32 {
		t.Fatalf("%v %d", err, len(k))
	}
	p, _ := KeyPath()
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(false); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("a world-readable key: %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", fi.Mode())
	}
	again, err := LoadKey(true)
	if err != nil || again.ID() != k.ID() || again.Fingerprint([]byte("x")) != k.Fingerprint([]byte("x")) {
		t.Error("the key changed between loads")
	}
}
