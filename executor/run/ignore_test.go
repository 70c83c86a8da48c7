package run

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor/report"
)

// ignore_errors lets a failed task pass: it is reported as ignored and
// counted apart, the tasks after it run, and the host does not fail. The
// same task without it fails the host and stops it.
func TestIgnoreErrors(t *testing.T) {
	for _, ignore := range []bool{true, false} {
		meta := ""
		if ignore {
			meta = "ignore_errors = true"
		}
		r, rec := setup(t, []string{"a"}, `
play "p" {
  hosts = ["all"]
  command "fails" {
    run = "echo broken >&2; exit 4"
    `+meta+`
  }
  file "after" {
    path    = "${host.vars.dir}/after"
    content = "x"
  }
}
`, ModeApply)
		res := r.Execute(context.Background())
		rc := res.Recaps[0]
		e := rec.find("a", "command.fails")
		_, err := os.Stat(filepath.Join(r.Hosts()[0].Vars["dir"].AsString(), "after"))
		if ignore {
			if rc.Failed != 0 || rc.Ignored != 1 || rc.Changed != 1 || e == nil || e.Status != report.StatusIgnored || err != nil {
				t.Errorf("ignored: recap %+v, event %+v, the task after it: %v", rc, e, err)
			}
		} else if rc.Failed != 1 || rc.Ignored != 0 || e == nil || e.Status != report.StatusFailed || err == nil {
			t.Errorf("not ignored: recap %+v, event %+v, the task after it ran: %v", rc, e, err == nil)
		}
	}
}

// changed_when and failed_when see the command's result: a run that says
// it changed nothing is ok and notifies no handler (nothing is left
// pending on the host); failed_when replaces the exit status rule.
func TestChangedWhenFailedWhen(t *testing.T) {
	dir := t.TempDir()
	pb := `
play "p" {
  hosts = ["all"]
  command "idempotent" {
    run          = "echo 'already up to date'"
    changed_when = !strcontains(result.stdout, "already")
    notify       = ["h"]
  }
  command "grep" {
    run         = "exit 1"
    failed_when = result.exit_code > 1
  }
  command "changes" {
    run          = "echo 'updated 3 rows'; echo warn >&2"
    changed_when = strcontains(result.stdout, "updated") && result.stderr == "warn\n"
  }
  handler "h" {
    command "handled" { run = "echo x >> ${host.vars.dir}/handled" }
  }
}
`
	r, rec := setupIn(t, dir, []string{"a"}, pb, ModeApply)
	res := r.Execute(context.Background())
	rc := res.Recaps[0]
	if rc.Failed != 0 || rc.Changed != 2 || rc.OK != 1 {
		t.Errorf("recap %+v, want 2 changed (grep, changes), 1 ok", rc)
	}
	if e := rec.find("a", "command.idempotent"); e == nil || e.Status != report.StatusOK {
		t.Errorf("changed_when false: %+v", e)
	}
	if e := rec.find("a", "command.changes"); e == nil || e.Status != report.StatusChanged {
		t.Errorf("changed_when true: %+v", e)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "handled")); err == nil {
		t.Error("the handler ran for a command that changed nothing")
	}
	if recs := pendingRecords(t, filepath.Join(dir, "state-a")); len(recs) != 0 {
		t.Errorf("records left pending: %v", recs)
	}

	r, rec = setup(t, []string{"a"}, `
play "p" {
  hosts = ["all"]
  command "grep" {
    run         = "echo found; exit 2"
    failed_when = result.exit_code > 1
  }
}
`, ModeApply)
	res = r.Execute(context.Background())
	if e := rec.find("a", "command.grep"); res.Failed() != 1 || e == nil || !strings.Contains(e.Message, "failed_when is true (exit status 2)") {
		t.Errorf("failed_when true: %+v", e)
	}
}
