package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/playbooks"
)

// prepareDrill prepares playbook for hosts web1, web2 (group web) and db1
// in mode, returning the run and the diagnostics.
func prepareDrill(t *testing.T, playbook string, mode Mode) (*Run, hcl.Diagnostics) {
	t.Helper()
	dir := t.TempDir()
	inv, diags := inventory.Parse([]byte(`group "web" {
  host "web1" { connection = "local" }
  host "web2" { connection = "local" }
}
host "db1" { connection = "local" }
`), filepath.Join(dir, "inv.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pb, diags := playbooks.Load([]string{writeTemp(t, dir, "pb.hcl", playbook)}, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return Prepare(Options{Mode: mode, Inventory: inv, Playbook: pb})
}

func TestPrepareDrills(t *testing.T) {
	unit := func(service string) string {
		return `
play "web" {
  hosts = ["web"]
  restart_drill {
    unit = "app.service"
    allow_without_health_check = true
  }
  systemd_unit "app.service" {
    content = "[Service]\nExecStart=/bin/sleep infinity\n` + service + `"
  }
}
play "db" {
  hosts = ["db1"]
  file "/tmp/x" { content = "x" }
}
`
	}
	for _, tc := range []struct {
		name    string
		service string
		mode    Mode
		hosts   string // the run's hosts; "" when refused
		refusal string
	}{
		{"drill mode keeps the hosts with drills", `Restart=always\n`, ModeDrill, "web1 web2", ""},
		{"plan keeps every host", `Restart=always\n`, ModePlan, "web1 web2 db1", ""},
		{"no Restart= at all", ``, ModeDrill, "", "refuse: no restart policy: task systemd_unit.app.service renders app.service with Restart=no"},
		{"Restart=no", `Restart=no\n`, ModeDrill, "", "Restart=no"},
		{"the last Restart= wins", `Restart=always\nRestart=no\n`, ModeDrill, "", "Restart=no"},
		{"refused in plan too", `Restart=no\n`, ModePlan, "", "refuse: no restart policy"},
		{"Restart= of another section does not count", `[Unit]\nRestart=always\n`, ModeDrill, "", "refuse: no restart policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, diags := prepareDrill(t, unit(tc.service), tc.mode)
			if tc.refusal != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.refusal) {
					t.Fatalf("want %q, got %v", tc.refusal, diags)
				}
				if len(diags) != 1 || diags[0].Subject == nil || diags[0].Subject.Start.Line != 4 {
					t.Errorf("want one diagnostic at the restart_drill block (line 4): %v", diags)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			var names []string
			for _, h := range r.Hosts() {
				names = append(names, h.Name)
			}
			if got := strings.Join(names, " "); got != tc.hosts {
				t.Errorf("hosts %q, want %q", got, tc.hosts)
			}
		})
	}
	_, diags := prepareDrill(t, `play "db" {
  hosts = ["db1"]
  file "/tmp/x" { content = "x" }
}
`, ModeDrill)
	if !strings.Contains(diags.Error(), "No play of the selected hosts has a restart_drill block") {
		t.Errorf("a drill with no drills: %v", diags)
	}
}

func writeTemp(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
