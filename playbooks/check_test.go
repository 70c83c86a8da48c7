package playbooks

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestCheckTasksFindsWhatNoHostRuns: every task body is checked against its
// module's schema without any host — tasks of plays that select no host,
// tasks whose when is false, for_each over nothing, handlers — and each
// mistake is reported at its place in the file.
func TestCheckTasksFindsWhatNoHostRuns(t *testing.T) {
	tests := []struct {
		name, body string
		summary    string // a diagnostic with this summary (or detail part)
		line, col  int
	}{
		{"misspelt attribute", `file "/etc/a" {
    contnet = "x"
  }`, "Unsupported argument", 4, 5},
		{"bad mode", `file "/etc/a" {
    content = "x"
    mode    = "0999"
  }`, "Invalid mode", 5, 5},
		{"numeric mode", `directory "/srv/a" {
    mode = 755
  }`, `Write mode = "0755".`, 4, 5},
		{"bad workers", `gunicorn_service "app" {
    gunicorn = "/venv/bin/gunicorn"
    app      = "a.wsgi:application"
    bind     = "unix:/run/a.sock"
    workers  = 0
  }`, "Invalid workers", 7, 5},
		{"missing template", `file "/etc/a" {
    template = "nope.tpl"
    vars     = { w = host.vars.workers }
  }`, "Cannot read template", 4, 5},
		{"missing templatefile", `file "/etc/a" {
    content = templatefile("nope.tpl", host.vars)
  }`, "no file exists", 4, 15},
		{"when false", `file "/etc/a" {
    content = "x"
    mode    = "0999"
    when    = false
  }`, "Invalid mode", 5, 5},
		{"when false on every host so far", `file "/etc/a" {
    content = "x"
    mode    = "0999"
    when    = host.name == "canary"
  }`, "Invalid mode", 5, 5},
		{"for_each over nothing", `file "conf" {
    for_each = toset([])
    path     = "/etc/${each.key}"
    content  = "x"
    mode     = "0999"
  }`, "Invalid mode", 7, 5},
		{"for_each from the host", `file "conf" {
    for_each = host.vars.files
    path     = "/etc/${each.key}"
    content  = each.value
    mode     = "0999"
  }`, "Invalid mode", 7, 5},
		{"for_each element", `file "conf" {
    for_each = { a = "0644", b = "0999" }
    path     = "/etc/${each.key}"
    content  = "x"
    mode     = each.value
  }`, `"0999" is not an octal file mode`, 7, 5},
		{"when not a bool", `file "/etc/a" {
    content = "x"
    when    = "yes"
  }`, "Invalid when condition", 5, 15},
		{"handler", `file "/etc/a" {
    content = "x"
    notify  = ["r"]
  }
  handler "r" {
    service "app" { state = "restart" }
  }`, "Invalid state", 8, 21},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf("play \"p\" {\n  hosts = [\"nowhere\"]\n  %s\n}\n", tc.body)
			dir := writeFiles(t, map[string]string{"main.hcl": src})
			pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
			diags := pb.CheckTasks()
			var found *hcl.Diagnostic
			for _, d := range diags {
				if d.Severity == hcl.DiagError && strings.Contains(d.Summary+": "+d.Detail, tc.summary) {
					found = d
				}
			}
			if found == nil {
				t.Fatalf("no error %q; got: %s", tc.summary, diagsString(diags))
			}
			if s := found.Subject; s == nil || filepath.Base(s.Filename) != "main.hcl" || s.Start.Line != tc.line || s.Start.Column != tc.col {
				t.Errorf("at %v, want main.hcl:%d:%d", found.Subject, tc.line, tc.col)
			}
			if h := DiagnosticHost(found); h != "" {
				t.Errorf("a host-independent diagnostic names host %q", h)
			}
			for _, d := range diags {
				if d != found && d.Severity == hcl.DiagError {
					t.Errorf("extra error: %s: %s", d.Summary, d.Detail)
				}
			}
		})
	}
}

// TestCheckTasksNoFalseErrors: playbooks whose values depend on the host
// check clean without any host.
func TestCheckTasksNoFalseErrors(t *testing.T) {
	pb, _ := loadExample(t, nil)
	if d := pb.CheckTasks(); len(d) != 0 {
		t.Errorf("staffrota example: %s", diagsString(d))
	}
	dir := writeFiles(t, map[string]string{
		"site.hcl": `variable "root" { default = "/srv/site" }
locals {
  conf = "${var.root}/${host.name}.conf"
  sock = "unix:/run/${host.vars.app}.sock"
}
play "site" {
  hosts = ["web"]
  directory "dirs" {
    for_each = toset(host.vars.dirs)
    path     = "${var.root}/${each.key}"
    owner    = each.value
    mode     = "0755"
  }
  file "config" {
    path    = local.conf
    content = templatefile("app.conf.tpl", { workers = host.vars.workers })
    mode    = host.vars.mode
    notify  = ["restart"]
    name    = "config of ${host.name}"
    when    = contains(host.groups, "web") && length(host.vars.dirs) > 0
  }
  file "page" {
    path     = "/var/www/${host.address}/index.html"
    template = "page.tpl"
    vars     = host.vars
  }
  gunicorn_service "app" {
    gunicorn    = "${var.root}/venv/bin/gunicorn"
    app         = host.vars.wsgi
    bind        = [local.sock, "127.0.0.1:${host.vars.port}"]
    workers     = host.vars.workers
    restart_sec = host.vars.restart_sec
    start_limit_interval = 60
    start_limit_burst    = 3
    enabled     = host.vars.enabled
    wanted_by   = []
  }
  command "migrate" {
    run     = "migrate ${host.name}"
    creates = host.vars.marker
  }
  health_check "app" {
    url = "http://${host.address}:${host.vars.port}/health"
  }
  handler "restart" {
    service "app" { state = host.vars.restart_state }
  }
}
`,
		"app.conf.tpl": "workers = ${workers}\n",
		"page.tpl":     "hello ${name}\n",
	})
	pb = mustLoad(t, []string{filepath.Join(dir, "site.hcl")}, nil)
	if d := pb.CheckTasks(); len(d) != 0 {
		t.Errorf("host-dependent playbook: %s", diagsString(d))
	}
}

// TestCheckTasksRedacts: a sensitive value quoted by a module's message
// is redacted, as in Instantiate.
func TestCheckTasksRedacts(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `variable "tok" {
  default   = "hunter3-secret"
  sensitive = true
}
play "p" {
  hosts = ["nowhere"]
  file "/etc/x" {
    content = "x"
    mode    = var.tok
  }
}
`})
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
	diags := pb.CheckTasks()
	if !diags.HasErrors() {
		t.Fatal("want an invalid mode")
	}
	if strings.Contains(diagsString(diags), "hunter3") {
		t.Errorf("sensitive value in a diagnostic: %s", diagsString(diags))
	}
}

// TestInstantiateAndCheckTasksAgree: a mistake that does not depend on the
// host is the same diagnostic from CheckTasks and from Instantiate (only
// the host mark differs), so it can be reported once.
func TestInstantiateAndCheckTasksAgree(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `play "p" {
  hosts = ["web"]
  file "/etc/a" {
    content = "x"
    mode    = "0999"
  }
}
`})
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
	check := pb.CheckTasks()
	_, inst := pb.Instantiate(pb.Plays[0], testInv(t).Host("web1"))
	if len(check) != 1 || len(inst) != 1 {
		t.Fatalf("CheckTasks: %s\nInstantiate: %s", diagsString(check), diagsString(inst))
	}
	a, b := check[0], inst[0]
	if a.Summary != b.Summary || a.Detail != b.Detail || a.Severity != b.Severity || a.Subject.String() != b.Subject.String() {
		t.Errorf("differ:\n%s — %s\n%s — %s", a.Error(), a.Detail, b.Error(), b.Detail)
	}
	if DiagnosticHost(b) != "web1" || DiagnosticHost(a) != "" {
		t.Errorf("hosts %q, %q", DiagnosticHost(a), DiagnosticHost(b))
	}
}

// TestForEachEmptySet: toset([]) is an empty set of dynamic values; it
// makes no instances instead of an error about the element type.
func TestForEachEmptySet(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `play "p" {
  hosts = ["web"]
  file "conf" {
    for_each = toset([])
    path     = "/etc/${each.key}"
    content  = "x"
  }
}
`})
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
	plan, diags := pb.Instantiate(pb.Plays[0], testInv(t).Host("web1"))
	if len(diags) != 0 || len(plan.Tasks) != 0 {
		t.Errorf("tasks %v, diagnostics: %s", plan.Tasks, diagsString(diags))
	}
}
