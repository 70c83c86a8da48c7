package run

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/playbooks"
)

// TestDrillWorkersFromTheService: a restart drill without its own workers
// setting expects, on each host, the workers of the play's gunicorn_service
// for that unit (here a host var, different per host); "auto", or no
// gunicorn_service for the unit, leaves the count unchecked.
func TestDrillWorkersFromTheService(t *testing.T) {
	dir := t.TempDir()
	inv, diags := inventory.Parse([]byte(`
host "two"  { vars = { workers = 2 } }
host "five" { vars = { workers = 5 } }
host "auto" { vars = { workers = "auto" } }
`), filepath.Join(dir, "inv.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pbPath := filepath.Join(dir, "pb.hcl")
	if err := os.WriteFile(pbPath, []byte(`
play "p" {
  hosts = ["all"]
  gunicorn_service "app" {
    gunicorn = "/srv/venv/bin/gunicorn"
    app      = "app.wsgi:application"
    bind     = "127.0.0.1:8000"
    workers  = host.vars.workers
  }
  restart_drill {
    unit                       = "app.service"
    allow_without_health_check = true
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, diags := playbooks.Load([]string{pbPath}, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	r, diags := Prepare(Options{Mode: ModeDrill, Inventory: inv, Playbook: pb})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for host, want := range map[string]int{"two": 2, "five": 5, "auto": -1} {
		plays := r.work[host]
		if len(plays) != 1 {
			t.Fatalf("%s: %d plays", host, len(plays))
		}
		if got := workersOf(plays[0].plan, "app.service"); got != want {
			t.Errorf("%s: drill expects %d workers, want %d", host, got, want)
		}
		if got := workersOf(plays[0].plan, "other.service"); got != -1 {
			t.Errorf("%s: a unit no task runs: %d workers, want -1", host, got)
		}
	}
}
