package run

import (
	"context"
	"os"
	"path/filepath"
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
