package playbooks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/modules"
)

// needKinds fails the test when a module kind it exercises is not
// registered: a renamed or dropped kind must break these tests, not turn
// them off.
func needKinds(t *testing.T, kinds ...string) {
	t.Helper()
	for _, k := range kinds {
		if _, ok := modules.Lookup(k); !ok {
			t.Fatalf("module kind %q is not registered (registered: %v); these tests exercise it", k, modules.Kinds())
		}
	}
}

func loadExample(t *testing.T, vars map[string]string) (*Playbook, *inventory.Inventory) {
	t.Helper()
	needKinds(t, "gunicorn_service", "health_check")
	inv, diags := inventory.Load("../examples/staffrota/inventory.hcl")
	if diags.HasErrors() {
		t.Fatal(diagsString(diags))
	}
	pb, diags := Load([]string{"../examples/staffrota/harden.hcl"}, vars)
	if diags.HasErrors() {
		t.Fatal(diagsString(diags))
	}
	return pb, inv
}

// TestExampleHarden parses the staff rota example and instantiates it for
// the example host, offline (nothing connects to it).
func TestExampleHarden(t *testing.T) {
	pb, inv := loadExample(t, nil)
	if d := pb.Validate(inv); len(d) != 0 {
		t.Errorf("Validate: %s", diagsString(d))
	}
	play := pb.Plays[0]
	hosts, err := inv.Select(play.HostPatterns)
	if err != nil || len(hosts) != 1 || hosts[0].Name != "therota-prod" {
		t.Fatalf("hosts = %v, %v", hosts, err)
	}
	plan, diags := pb.Instantiate(play, hosts[0])
	if diags.HasErrors() {
		t.Fatal(diagsString(diags))
	}
	// The example avoids the report's crash-loop trap (RestartSec=10, burst
	// 3 in 60 s): it must instantiate without any warning.
	if len(diags) != 0 {
		t.Errorf("the example should be clean; diagnostics: %s", diagsString(diags))
	}
	if len(plan.Tasks) != 2 || plan.Tasks[0].ID != "gunicorn_service.staffrota" || plan.Tasks[1].ID != "health_check.staffrota" {
		t.Fatalf("tasks = %+v", plan.Tasks)
	}
	if !plan.Become {
		t.Error("become from the inventory defaults is lost")
	}
	var unitProbe bool
	for _, p := range plan.Tasks[0].Module.Probes() {
		unitProbe = unitProbe || (p.Kind == executor.ProbeUnit && p.Unit == "staffrota.service")
	}
	if !unitProbe {
		t.Errorf("gunicorn_service probes = %+v, want the staffrota.service unit", plan.Tasks[0].Module.Probes())
	}
	hc, ok := plan.Tasks[1].Module.(interface{ Describe() string })
	if _, verifier := plan.Tasks[1].Module.(modules.Verifier); !ok || !verifier {
		t.Fatalf("health_check module %T is not a describable Verifier", plan.Tasks[1].Module)
	}
	if got := hc.Describe(); !strings.Contains(got, "unix:/home/staff-rota-system/staffrota.sock /health/") {
		t.Errorf("health check = %q", got)
	}
}

func TestExampleHardenVarOverride(t *testing.T) {
	pb, inv := loadExample(t, map[string]string{"app_dir": "/srv/rota"})
	plan, diags := pb.Instantiate(pb.Plays[0], inv.Host("therota-prod"))
	if diags.HasErrors() {
		t.Fatal(diagsString(diags))
	}
	hc := plan.Tasks[1].Module.(interface{ Describe() string })
	if got := hc.Describe(); !strings.Contains(got, "unix:/srv/rota/staffrota.sock") {
		t.Errorf("--var app_dir not applied: %q", got)
	}
}

// TestExampleHardenNeedsWorkers: a host without a workers var is reported
// at the expression, before any connection.
func TestExampleHardenNeedsWorkers(t *testing.T) {
	pb, _ := loadExample(t, nil)
	inv, diags := inventory.Parse([]byte(`group "web" {
  host "bare" {}
}
`), "inv.hcl")
	if diags.HasErrors() {
		t.Fatal(diagsString(diags))
	}
	_, diags = pb.Instantiate(pb.Plays[0], inv.Host("bare"))
	if len(diags) == 0 || diags[0].Summary != "Unknown host variable" {
		t.Fatalf("diagnostics = %s", diagsString(diags))
	}
	if s := diags[0].Subject; filepath.Base(s.Filename) != "harden.hcl" || !strings.Contains(string(s.SliceBytes(pb.Files[s.Filename].Bytes)), "host.vars.workers") {
		t.Errorf("diagnostic at %s, want the host.vars.workers expression", s)
	}
}

// TestRealModules runs the other registered kinds through playbook
// decoding, with meta-arguments and handlers.
func TestRealModules(t *testing.T) {
	needKinds(t, "file", "directory", "command", "service")
	dir := writeFiles(t, map[string]string{
		"site.hcl": `variable "root" { default = "/srv/site" }
play "site" {
  hosts = ["web"]

  directory "dirs" {
    for_each = toset(["logs", "run"])
    path     = "${var.root}/${each.key}"
    mode     = "0755"
  }
  file "config" {
    path    = "${var.root}/app.conf"
    content = templatefile("app.conf.tpl", { workers = host.vars.workers })
    notify  = ["restart"]
  }
  command "migrate" {
    run     = "echo migrate"
    creates = "${var.root}/migrated"
    when    = host.name == "web1"
  }
  handler "restart" {
    service "staffrota" { state = "restarted" }
  }
}
`,
		"app.conf.tpl": "workers = ${workers}\n",
	})
	pb := mustLoad(t, []string{filepath.Join(dir, "site.hcl")}, nil)
	inv := testInv(t)
	if d := pb.Validate(inv); d.HasErrors() {
		t.Fatal(diagsString(d))
	}
	for _, host := range []string{"web1", "web2"} {
		plan, diags := pb.Instantiate(pb.Plays[0], inv.Host(host))
		if diags.HasErrors() {
			t.Fatalf("%s: %s", host, diagsString(diags))
		}
		var ids []string
		for _, task := range plan.Tasks {
			ids = append(ids, task.ID)
		}
		want := `directory.dirs["logs"] directory.dirs["run"] file.config command.migrate`
		if strings.Join(ids, " ") != want {
			t.Errorf("%s: tasks %v, want %s", host, ids, want)
		}
		if skip := plan.Tasks[3].Skip; skip != (host != "web1") {
			t.Errorf("%s: command skip = %v", host, skip)
		}
		probes := plan.Tasks[0].Module.Probes()
		if len(probes) == 0 || probes[0].Path != "/srv/site/logs" {
			t.Errorf("%s: directory probes = %+v", host, probes)
		}
		if h := plan.Handlers["restart"]; h == nil || h.Module == nil || h.Kind != "service" {
			t.Errorf("%s: handler = %+v", host, h)
		}
	}

	// A real module's own diagnostic comes back with its position.
	bad := writeFiles(t, map[string]string{"bad.hcl": `play "p" {
  hosts = ["web1"]
  file "relative/path" {
    content = "x"
  }
}
`})
	pb = mustLoad(t, []string{filepath.Join(bad, "bad.hcl")}, nil)
	_, diags := pb.Instantiate(pb.Plays[0], inv.Host("web1"))
	if !diags.HasErrors() {
		t.Fatal("a relative file path must be rejected")
	}
	if s := diags[0].Subject; s == nil || s.Start.Line != 3 {
		t.Errorf("diagnostic %s at %v, want line 3", diags[0].Summary, s)
	}
}

// A module's validation message that quotes a rejected sensitive value is
// redacted before it reaches the user.
func TestSensitiveValueRedactedInDiagnostics(t *testing.T) {
	dir := t.TempDir()
	pbPath := filepath.Join(dir, "pb.hcl")
	if err := os.WriteFile(pbPath, []byte(`
variable "tok" {
  default   = "hunter3-secret"
  sensitive = true
}
play "p" {
  hosts = ["all"]
  file "/etc/x" {
    content = "x"
    mode    = var.tok
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, diags := Load([]string{pbPath}, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	inv := inventory.Localhost()
	_, diags = pb.Instantiate(pb.Plays[0], inv.Hosts[0])
	if !diags.HasErrors() {
		t.Fatal("want an invalid mode diagnostic")
	}
	for _, d := range diags {
		if strings.Contains(d.Summary+d.Detail, "hunter3") {
			t.Errorf("sensitive value in a diagnostic: %s: %s", d.Summary, d.Detail)
		}
	}
}

// TestLabelMistakesAtTheLabel: a path or unit name written as a task's
// label and refused by its module is reported at the label, for no
// particular host (CheckTasks) and for each host (Instantiate), also in a
// handler; a mistake in the body stays at its attribute.
func TestLabelMistakesAtTheLabel(t *testing.T) {
	needKinds(t, "file", "directory", "systemd_unit", "service", "gunicorn_service")
	dir := writeFiles(t, map[string]string{"main.hcl": `play "p" {
  hosts = ["web1"]
  file "etc/motd" { content = "hi" }
  directory "srv/app" {}
  systemd_unit "app.servcie" { content = "[Service]\nExecStart=/bin/true\n" }
  gunicorn_service "my app" {
    gunicorn = "/venv/bin/gunicorn"
    app      = "a.wsgi:application"
    bind     = "unix:/run/a.sock"
  }
  file "motd" {
    path    = "etc/motd"
    content = "hi"
    notify  = ["h"]
  }
  handler "h" {
    service "ng inx" { state = "reloaded" }
  }
}
`})
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
	want := map[string]bool{ // summary@line:col
		"Invalid file path@3:8":       true,
		"Invalid directory path@4:13": true,
		"Invalid unit name@5:16":      true,
		"Invalid service name@6:20":   true,
		"Invalid file path@12:5":      true,
		"Invalid unit name@17:13":     true,
	}
	_, idiags := pb.Instantiate(pb.Plays[0], testInv(t).Host("web1"))
	for name, diags := range map[string][]*hcl.Diagnostic{"CheckTasks": pb.CheckTasks(), "Instantiate": idiags} {
		got := map[string]bool{}
		for _, d := range diags {
			got[fmt.Sprintf("%s@%d:%d", d.Summary, d.Subject.Start.Line, d.Subject.Start.Column)] = true
		}
		for w := range want {
			if !got[w] {
				t.Errorf("%s: no %s; got %s", name, w, diagsString(diags))
			}
		}
		if len(diags) != len(want) {
			t.Errorf("%s: %d diagnostics, want %d: %s", name, len(diags), len(want), diagsString(diags))
		}
	}
}
