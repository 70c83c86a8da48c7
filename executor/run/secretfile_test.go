package run

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor/report"
)

// TestSecretFileHiddenFromOtherTasks: a file whose content one task
// declares sensitive is never shown by another task of the host that edits
// it — not in the first run (where both change it), not in a later plan
// (where only the non-sensitive edit changes it, the secret already on the
// host), and not when the sensitive task is in another play. Apply still
// writes what it must.
func TestSecretFileHiddenFromOtherTasks(t *testing.T) {
	const secret = "API_KEY=s3cr3t-value"
	pb := `
play "edit" {
  hosts = ["all"]
  line_in_file "debug" {
    path   = "${host.vars.dir}/app.env"
    line   = "DEBUG=${var.debug}"
    regexp = "^DEBUG="
  }
}
play "secret" {
  hosts = ["all"]
  file "env" {
    path      = "${host.vars.dir}/app.env"
    content   = "` + secret + `\nDEBUG=0\n"
    sensitive = true
  }
}
variable "debug" { default = "1" }
`
	dir := t.TempDir()
	// leaks is what of the secret the run's events show people and
	// machines, or "".
	leaks := func(rec *recorder) string {
		t.Helper()
		out, oldContent := rendered(rec)
		if strings.Contains(oldContent, "s3cr3t") {
			return "an event's diff carries the old content"
		}
		if strings.Contains(out, "s3cr3t") {
			return out
		}
		return ""
	}
	// A host where the file already holds the secret (an earlier run).
	secretOnHost(t, dir, "a", secret)
	for _, mode := range []Mode{ModePlan, ModeApply} {
		r, rec := setupIn(t, dir, []string{"a"}, pb, mode)
		res := r.Execute(context.Background())
		if res.Failed() != 0 {
			t.Fatalf("%s: %+v", mode, res.Recaps)
		}
		e := rec.find("a", "line_in_file.debug")
		if e == nil || e.Diff.Empty() {
			t.Fatalf("%s: the line_in_file task shows no change: %+v", mode, e)
		}
		if leak := leaks(rec); leak != "" {
			t.Fatalf("%s: the secret file's content is shown: %s", mode, leak)
		}
	}
	got, err := os.ReadFile(filepath.Join(dir, "a", "app.env"))
	if err != nil {
		t.Fatal(err)
	}
	// The line was set, then the file task put its whole content back.
	if string(got) != secret+"\nDEBUG=0\n" {
		t.Fatalf("app.env = %q", got)
	}
}

// TestSecretFileOfFactsPlayHiddenFromEarlierPlay: the sensitive file task
// is in a play that refers to host.facts (made only once the facts are
// read); an earlier play's line_in_file on the same file must not show the
// secret already on the host.
func TestSecretFileOfFactsPlayHiddenFromEarlierPlay(t *testing.T) {
	const secret = "API_KEY=s3cr3t-value"
	pb := `
play "edit" {
  hosts = ["all"]
  line_in_file "debug" {
    path   = "${host.vars.dir}/app.env"
    line   = "DEBUG=1"
    regexp = "^DEBUG="
  }
}
play "secret" {
  hosts = ["all"]
  file "env" {
    path      = "${host.vars.dir}/app.env"
    content   = "` + secret + `\nDEBUG=0\n# ${host.facts.arch}\n"
    sensitive = true
  }
}
`
	dir := t.TempDir()
	secretOnHost(t, dir, "a", secret)
	r, rec := setupIn(t, dir, []string{"a"}, pb, ModePlan)
	if res := r.Execute(context.Background()); res.Failed() != 0 {
		t.Fatalf("%+v", res.Recaps)
	}
	e := rec.find("a", "line_in_file.debug")
	if e == nil || e.Diff.Empty() {
		t.Fatalf("the line_in_file task shows no change: %+v", e)
	}
	if out, oldContent := rendered(rec); strings.Contains(out+oldContent, "s3cr3t") {
		t.Fatalf("the secret file's content is shown by the earlier play:\n%s", out)
	}
}

// TestSecretFileValidateOutputHidden: a line_in_file (not itself
// sensitive) whose validate command rejects a file another task declares
// secret must not show what the command printed: it may print the file.
func TestSecretFileValidateOutputHidden(t *testing.T) {
	const secret = "API_KEY=s3cr3t-value"
	pb := `
play "edit" {
  hosts = ["all"]
  line_in_file "debug" {
    path     = "${host.vars.dir}/app.env"
    line     = "DEBUG=1"
    regexp   = "^DEBUG="
    validate = "cat %s; false"
  }
  file "env" {
    path      = "${host.vars.dir}/app.env"
    content   = "` + secret + `\nDEBUG=0\n"
    sensitive = true
  }
}
`
	dir := t.TempDir()
	secretOnHost(t, dir, "a", secret)
	r, rec := setupIn(t, dir, []string{"a"}, pb, ModeApply)
	res := r.Execute(context.Background())
	if res.Failed() == 0 {
		t.Fatalf("the validate command did not fail the task: %+v", res.Recaps)
	}
	for _, rc := range res.Recaps {
		if strings.Contains(rc.Error, "s3cr3t") {
			t.Fatalf("the recap shows the secret: %s", rc.Error)
		}
	}
	if out, _ := rendered(rec); strings.Contains(out, "s3cr3t") {
		t.Fatalf("the validate command's output shows the secret:\n%s", out)
	}
}

// secretOnHost gives local host the file app.env holding secret, as an
// earlier run left it.
func secretOnHost(t *testing.T, dir, host, secret string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, host), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, host, "app.env"), []byte(secret+"\nDEBUG=0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// rendered is what the run's events show, as people (human sink) and
// machines (JSON sink) see them, and the old contents their diffs carry.
func rendered(rec *recorder) (out, oldContent string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var human, machine, old bytes.Buffer
	hs, js := report.NewHumanSink(&human, false), report.NewJSONSink(&machine)
	for _, e := range rec.events {
		hs.Emit(e)
		js.Emit(e)
		if e.Diff != nil {
			for _, c := range e.Diff.Changes {
				old.Write(c.OldContent)
			}
		}
	}
	return human.String() + machine.String(), old.String()
}
