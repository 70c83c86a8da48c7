package modules

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// Paths appear in plans, errors and the host's process list, and a file's
// mode, owner and group in plans: none of them may come from a sensitive
// value. Each is refused with an error at the attribute that holds it.
func TestSensitivePathRefused(t *testing.T) {
	tests := []struct {
		kind, src string
		at        string // line:col of the attribute
	}{
		{"file", "content = \"x\"\npath = \"/etc/${var.secret}.conf\"\n", "2:1"},
		{"file", "content = \"x\"\nmode = var.secret\n", "2:1"},
		{"file", "content = \"x\"\nowner = var.secret\n", "2:1"},
		{"file", "content = \"x\"\ngroup = var.secret\n", "2:1"},
		{"file", "path = var.secret\nstate = \"absent\"\n", "1:1"},
		{"directory", "path = \"/srv/${var.secret}\"\n", "1:1"},
		{"directory", "mode = var.secret\n", "1:1"},
		{"directory", "owner = var.secret\n", "1:1"},
		{"systemd_unit", "content = \"[Unit]\\n\"\npath = \"/etc/systemd/system/${var.secret}.service\"\n", "2:1"},
		{"gunicorn_service", gunicornBase + "unit_path = \"/etc/systemd/system/${var.secret}.service\"\n", "4:1"},
		{"gunicorn_service", "app = \"app.wsgi:application\"\nbind = \"127.0.0.1:8000\"\ngunicorn = \"/srv/${var.secret}/gunicorn\"\n", "3:1"},
		{"gunicorn_service", gunicornBase + "directory = \"/srv/${var.secret}\"\n", "4:1"},
		{"gunicorn_service", gunicornBase + "environment_file = \"/etc/${var.secret}.env\"\n", "4:1"},
		{"gunicorn_service", "gunicorn = \"/srv/venv/bin/gunicorn\"\napp = \"app.wsgi:application\"\nbind = \"unix:/run/${var.secret}.sock\"\n", "3:1"},
		{"gunicorn_service", gunicornBase + "extra_args = [\"--token\", var.secret]\n", "4:1"},
		{"gunicorn_service", gunicornBase + "workers = var.secret\n", "4:1"},
		{"command", "run = \"true\"\ncreates = \"/srv/${var.secret}\"\n", "2:1"},
		{"command", "run = \"true\"\nchdir = var.secret\n", "2:1"},
		// Settings that carry no secrets (decodeConfig's default).
		{"file", "content = \"x\"\nvalidate = \"check ${var.secret} %s\"\n", "2:1"},
		{"service", "enabled = true\nstate = var.secret\n", "2:1"},
		{"systemd_unit", "content = \"[Unit]\\n\"\nsettle = var.secret\n", "2:1"},
		{"gunicorn_service", gunicornBase + "state = var.secret\n", "4:1"},
		{"health_check", "url = \"http://x/\"\ntimeout = var.secret\n", "2:1"},
	}
	for _, tt := range tests {
		attr := strings.SplitN(strings.Split(strings.TrimSpace(tt.src), "\n")[lineOf(tt.at)-1], " ", 2)[0]
		t.Run(tt.kind+"/"+attr, func(t *testing.T) {
			label := "/srv/app"
			if strings.Contains(tt.kind, "unit") || strings.Contains(tt.kind, "service") {
				label = "app"
			}
			_, diags := decodeModule(t, tt.kind, label, tt.src, sensitiveCtx("p4th-s3cret"))
			var found *hcl.Diagnostic
			for _, d := range diags {
				if d.Severity == hcl.DiagError && strings.Contains(d.Summary, "Sensitive value") {
					found = d
					break
				}
			}
			if found == nil {
				t.Fatalf("want a sensitive-value error at %s, got %v", tt.at, diags)
			}
			if pos(found) != tt.at {
				t.Errorf("error at %s, want %s (the %s attribute)", pos(found), tt.at, attr)
			}
			if !strings.Contains(found.Summary+found.Detail, attr) {
				t.Errorf("the diagnostic should name %s: %s: %s", attr, found.Summary, found.Detail)
			}
			for _, d := range diags {
				if strings.Contains(d.Summary+d.Detail, "p4th-s3cret") {
					t.Errorf("a diagnostic quotes the secret: %s: %s", d.Summary, d.Detail)
				}
			}
		})
	}
}

func lineOf(at string) int {
	n := 0
	for _, c := range at {
		if c == ':' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// Unit files are world-readable and systemd shows their settings to every
// local user: a sensitive value in one is a warning at the attribute that
// holds it, recommending EnvironmentFile= or LoadCredential=.
func TestSensitiveUnitWarns(t *testing.T) {
	tests := []struct {
		name, kind, src string
		at              string
	}{
		{"content", "systemd_unit", "content = \"[Service]\\nEnvironment=TOKEN=${var.secret}\\nExecStart=/bin/true\\n\"\n", "1:1"},
		{"service block", "systemd_unit", "unit {\n  Description = \"x\"\n}\nservice {\n  ExecStart   = \"/bin/true\"\n  Environment = \"TOKEN=${var.secret}\"\n}\n", "6:3"},
		{"second service block", "systemd_unit", "service {\n  ExecStart = \"/bin/true\"\n}\nservice {\n  Environment = [\"A=1\", \"TOKEN=${var.secret}\"]\n}\n", "5:3"},
		{"gunicorn environment", "gunicorn_service", gunicornBase + "environment = { TOKEN = var.secret }\n", "4:1"},
		{"gunicorn description", "gunicorn_service", gunicornBase + "description = \"app ${var.secret}\"\n", "4:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decodeModule(t, tt.kind, "app", tt.src, sensitiveCtx("un1t-s3cret"))
			if diags.HasErrors() {
				t.Fatalf("want only a warning: %v", diags)
			}
			if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning {
				t.Fatalf("want one warning, got %v", diags)
			}
			d := diags[0]
			if pos(d) != tt.at {
				t.Errorf("warning at %s, want %s", pos(d), tt.at)
			}
			for _, want := range []string{"world-readable", "LoadCredential="} {
				if !strings.Contains(d.Detail, want) {
					t.Errorf("warning lacks %q: %s", want, d.Detail)
				}
			}
			if !strings.Contains(d.Detail, "EnvironmentFile=") && !strings.Contains(d.Detail, "environment_file") {
				t.Errorf("warning should recommend an environment file: %s", d.Detail)
			}
			if strings.Contains(d.Summary+d.Detail, "un1t-s3cret") {
				t.Errorf("warning quotes the secret: %s", d.Detail)
			}
		})
	}
	// No secret, no warning.
	if _, diags := decodeModule(t, "systemd_unit", "app", "service {\n  ExecStart = \"/bin/true\"\n}\n", sensitiveCtx("x")); len(diags) != 0 {
		t.Errorf("plain unit: %v", diags)
	}
}
