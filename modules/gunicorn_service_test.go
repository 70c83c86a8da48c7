package modules

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// seedGunicorn is the staffrota service of the seed's outage report, with
// the seed's restart settings.
const seedGunicorn = `
gunicorn             = "/home/staff-rota-system/venv/bin/gunicorn"
app                  = "rotasystems.wsgi:application"
directory            = "/home/staff-rota-system"
user                 = "staffrota"
group                = "staffrota"
bind                 = "unix:/home/staff-rota-system/staffrota.sock"
workers              = 2
timeout              = 60
restart              = "always"
restart_sec          = 10
start_limit_interval = 60
start_limit_burst    = 3
`

const richGunicorn = `
gunicorn            = "/srv/rota app/venv/bin/gunicorn"
app                 = "rotasystems.wsgi:application"
description         = "Staff rota: 100% uptime"
directory           = "/srv/rota app"
user                = "staffrota"
group               = "www-data"
type                = "exec"
bind                = ["unix:/run/staffrota/app.sock", "127.0.0.1:8000", "[::1]:8001"]
workers             = "auto"
threads             = 4
worker_class        = "gthread"
timeout             = 60
graceful_timeout    = 30
keep_alive          = 5
max_requests        = 1000
max_requests_jitter = 50
environment = {
  DJANGO_SETTINGS_MODULE = "rotasystems.settings"
  GREETING               = "hello \"world\" 100%"
  LITERAL_DOLLAR         = "$HOME\\n"
}
environment_file     = "-/etc/staffrota/env"
extra_args           = ["--access-logfile", "-", "--name", "staff rota $HOME 50%", "it's"]
restart              = "on-failure"
restart_sec          = "2500ms"
start_limit_interval = 10
start_limit_burst    = 5
start_limit_action   = "none"
after                = ["network-online.target", "postgresql.service"]
wanted_by            = "multi-user.target"
unit_path            = "/etc/systemd/system/staffrota.service"
`

func TestGunicornGolden(t *testing.T) {
	tests := []struct {
		name, label, src string
		cpus             int
	}{
		{"gunicorn_seed", "staffrota", seedGunicorn, 4},
		{"gunicorn_rich", "staffrota", richGunicorn, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, diags := decodeModule(t, "gunicorn_service", tc.label, tc.src, nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			g := m.(*GunicornService)
			got, err := g.g.render(tc.cpus)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./modules/ -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("rendered unit differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestGunicornSeedExecStart pins the seed's ExecStart line exactly.
func TestGunicornSeedExecStart(t *testing.T) {
	m, diags := decodeModule(t, "gunicorn_service", "staffrota", seedGunicorn, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	unit, err := m.(*GunicornService).g.render(1)
	if err != nil {
		t.Fatal(err)
	}
	want := "ExecStart=/home/staff-rota-system/venv/bin/gunicorn --workers 2 --timeout 60 --bind unix:/home/staff-rota-system/staffrota.sock rotasystems.wsgi:application\n"
	if !strings.Contains(string(unit), want) {
		t.Fatalf("unit lacks %q:\n%s", want, unit)
	}
	// The start limit belongs in [Unit], under its modern name.
	unitSection, service, _ := strings.Cut(string(unit), "[Service]")
	for _, l := range []string{"StartLimitIntervalSec=60\n", "StartLimitBurst=3\n"} {
		if !strings.Contains(unitSection, l) || strings.Contains(service, l) {
			t.Errorf("%q must be in [Unit] only:\n%s", l, unit)
		}
	}
	if strings.Contains(string(unit), "StartLimitInterval=") {
		t.Errorf("deprecated StartLimitInterval= rendered:\n%s", unit)
	}
}

func TestGunicornWorkersAuto(t *testing.T) {
	m, diags := decodeModule(t, "gunicorn_service", "app", gunicornBase+"workers = \"auto\"\n", nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	g := m.(*GunicornService)
	for cpus, want := range map[int]string{1: "--workers 3 ", 2: "--workers 5 ", 8: "--workers 17 "} {
		unit, err := g.g.render(cpus)
		if err != nil || !strings.Contains(string(unit), want) {
			t.Errorf("cpus %d: want %q in\n%s (err %v)", cpus, want, unit, err)
		}
	}
	if _, err := g.g.render(0); err == nil || !strings.Contains(err.Error(), "CPU count") {
		t.Errorf("unknown CPU count: err %v", err)
	}
}

// TestStartLimitWarning checks the warning for the seed's trap: with
// RestartSec=r and StartLimitBurst=b, start b+1 of a crash loop comes b×r
// after the first, and if that is within StartLimitIntervalSec the unit is
// failed for good.
func TestStartLimitWarning(t *testing.T) {
	tests := []struct {
		name string
		src  string
		pos  string // "" = no warning
	}{
		{"seed trap", seedGunicorn, "12:1"},
		{"boundary equal", gunicornBase + "restart_sec = 20\nstart_limit_burst = 3\nstart_limit_interval = 60\n", "6:1"},
		{"safe interval", gunicornBase + "restart_sec = 10\nstart_limit_burst = 3\nstart_limit_interval = 20\n", ""},
		{"limit disabled", gunicornBase + "restart_sec = 10\nstart_limit_burst = 3\nstart_limit_interval = 0\n", ""},
		{"defaults", gunicornBase, ""},
		{"systemd default restart_sec", gunicornBase + "restart_sec = 0.1\n", "4:1"},
		{"burst only", gunicornBase + "start_limit_burst = 1\nrestart_sec = 10\n", "4:1"},
		{"no restart", gunicornBase + "restart = \"no\"\nstart_limit_interval = 600\n", ""},
		{"limit action", gunicornBase + "restart_sec = 10\nstart_limit_burst = 3\nstart_limit_interval = 60\nstart_limit_action = \"reboot\"\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := decodeModule(t, "gunicorn_service", "app", tc.src, nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			var warn *hcl.Diagnostic
			for _, d := range diags {
				if d.Severity == hcl.DiagWarning {
					warn = d
				}
			}
			if tc.pos == "" {
				if warn != nil {
					t.Fatalf("unexpected warning: %s: %s", warn.Summary, warn.Detail)
				}
				return
			}
			if warn == nil {
				t.Fatal("no warning")
			}
			if pos(warn) != tc.pos {
				t.Errorf("warning at %s, want %s", pos(warn), tc.pos)
			}
			if !strings.Contains(warn.Detail, "start_limit_interval") || !strings.Contains(warn.Detail, "start-limit-hit") {
				t.Errorf("warning does not explain the fix: %s", warn.Detail)
			}
		})
	}
	_, diags := decodeModule(t, "gunicorn_service", "staffrota", seedGunicorn, nil)
	if d := diags[0].Detail; !strings.Contains(d, "4th time 30s after the first") || !strings.Contains(d, "start_limit_interval = 15") {
		t.Errorf("seed warning detail: %s", d)
	}
}

func TestSystemdQuoting(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/bin/gunicorn", "/usr/bin/gunicorn"},
		{"unix:/run/a.sock", "unix:/run/a.sock"},
		{"", `""`},
		{"a b", `"a b"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"100%", "100%%"},
		{"$HOME", "$$HOME"},
		{"${X} y", `"$${X} y"`},
		{"it's", `"it's"`},
		{"tab\there", `"tab\there"`},
		{";", `\;`},
	}
	for _, tc := range tests {
		if got := systemdExecArg(tc.in); got != tc.want {
			t.Errorf("systemdExecArg(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got, want := systemdEnvAssignment("A", `x "y" 5% $Z`), `"A=x \"y\" 5%% $Z"`; got != want {
		t.Errorf("systemdEnvAssignment = %s, want %s", got, want)
	}
}
