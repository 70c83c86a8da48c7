package modules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// TestDecode runs every module's Decode over good and bad bodies. A bad body
// must produce a diagnostic whose summary or detail holds want, at pos.
func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		kind  string
		label string
		src   string
		want  string // "" = no errors expected
		pos   string // line:col of the diagnostic subject
	}{
		// file
		{"file content", "file", "/etc/motd", "content = \"hi\"\nmode = \"0644\"\nowner = \"root\"\ngroup = \"root\"\n", "", ""},
		{"file path attr", "file", "motd", "path = \"/etc/motd\"\ncontent = \"hi\"\n", "", ""},
		{"file mode as number", "file", "/etc/motd", "content = \"hi\"\nmode = 644\n", `a mode must be a string of octal digits, in quotes. Write mode = "0644".`, "2:1"},
		{"file mode as number 0755", "file", "/etc/motd", "content = \"hi\"\nmode = 0755\n", `mode = 755 is a number`, "2:1"},
		{"file mode as decimal number", "file", "/etc/motd", "content = \"hi\"\nmode = 420\n", `Write mode = "0420".`, "2:1"},
		{"file mode as non-octal number", "file", "/etc/motd", "content = \"hi\"\nmode = 999\n", `Write mode = "0644".`, "2:1"},
		{"dir mode as number", "directory", "/srv/app", "\nmode = 750\n", `Write mode = "0750".`, "2:1"},
		{"file absent", "file", "/etc/motd", "state = \"absent\"\n", "", ""},
		{"file bad mode", "file", "/etc/motd", "content = \"x\"\n\nmode = \"0999\"\n", "not an octal file mode", "3:1"},
		{"file mode too long", "file", "/etc/motd", "content = \"x\"\nmode = \"100644\"\n", "not an octal file mode", "2:1"},
		{"file relative path", "file", "/etc/motd", "content = \"x\"\n  path = \"etc/motd\"\n", "not an absolute path", "2:3"},
		{"file relative label", "file", "etc/motd", "content = \"x\"\n", "not an absolute path", "1:1"},
		{"file two sources", "file", "/etc/motd", "content = \"x\"\nsource = \"y\"\n", "exactly one of content, source or template", "2:1"},
		{"file no content", "file", "/etc/motd", "mode = \"0644\"\n", "exactly one of content, source or template", "1:1"},
		{"file bad state", "file", "/etc/motd", "content = \"x\"\nstate = \"gone\"\n", "\"present\" or \"absent\"", "2:1"},
		{"file vars without template", "file", "/etc/motd", "content = \"x\"\nvars = { a = 1 }\n", "vars are only used", "2:1"},
		{"file absent with content", "file", "/etc/motd", "state = \"absent\"\ncontent = \"x\"\n", "no meaning with state", "2:1"},
		{"file absent with mode", "file", "/etc/motd", "state = \"absent\"\nmode = \"0600\"\n", "no meaning with state", "2:1"},
		{"file numeric owner", "file", "/etc/motd", "content = \"x\"\nowner = \"0\"\n", "numeric id", "2:1"},
		{"file bad owner", "file", "/etc/motd", "content = \"x\"\ngroup = \"a b\"\n", "not a valid user or group", "2:1"},
		{"file unknown attribute", "file", "/etc/motd", "content = \"x\"\ncolour = \"red\"\n", "Unsupported argument", "2:1"},
		{"file missing source", "file", "/etc/motd", "source = \"does-not-exist.txt\"\n", "no such file", "1:1"},
		{"file wrong type", "file", "/etc/motd", "content = [\"x\"]\n", "string required", "1:11"},

		// directory
		{"dir ok", "directory", "/srv/app", "mode = \"0750\"\nowner = \"www-data\"\n", "", ""},
		{"dir absent", "directory", "/srv/app", "state = \"absent\"\n", "", ""},
		{"dir root", "directory", "/", "mode = \"0755\"\n", "root directory", "1:1"},
		{"dir bad mode", "directory", "/srv/app", "\nmode = \"rwx\"\n", "not an octal file mode", "2:1"},
		{"dir absent with owner", "directory", "/srv/app", "state = \"absent\"\nowner = \"root\"\n", "no meaning", "2:1"},
		{"dir bad state", "directory", "/srv/app", "state = \"full\"\n", "\"present\" or \"absent\"", "1:1"},

		// systemd_unit
		{"unit content", "systemd_unit", "foo", "content = \"[Service]\\nExecStart=/bin/true\\n[Install]\\nWantedBy=multi-user.target\\n\"\nenabled = true\nstate = \"started\"\n", "", ""},
		{"unit blocks", "systemd_unit", "foo.timer", "timer {\n  OnCalendar = \"daily\"\n}\ninstall {\n  WantedBy = \"timers.target\"\n}\nenabled = true\n", "", ""},
		{"unit both", "systemd_unit", "foo", "content = \"x\"\nservice {\n  ExecStart = \"/bin/true\"\n}\n", "either content or unit/service/install", "1:1"},
		{"unit neither", "systemd_unit", "foo", "enabled = false\n", "needs content or unit/service/install", "1:1"},
		{"unit bad name", "systemd_unit", "foo bar", "content = \"x\"\n", "not a valid systemd unit name", "1:1"},
		{"unit bad state", "systemd_unit", "foo", "content = \"x\"\nstate = \"running\"\n", "\"started\" or \"stopped\"", "2:1"},
		{"unit not installable", "systemd_unit", "foo", "content = \"[Service]\\nExecStart=/bin/true\\n\"\n\nenabled = true\n", "cannot enable it", "3:1"},
		{"unit multi-line value", "systemd_unit", "foo", "service {\n  ExecStart = \"/bin/true\"\n  Description = \"a\\nb\"\n}\n", "cannot span lines", "3:3"},
		{"unit object value", "systemd_unit", "foo", "service {\n  Environment = { a = 1 }\n}\n", "string, number, bool or list", "2:3"},
		{"unit relative path", "systemd_unit", "foo", "content = \"x\"\npath = \"foo.service\"\n", "not an absolute path", "2:1"},

		// gunicorn_service
		{"gunicorn minimal", "gunicorn_service", "app", gunicornBase, "", ""},
		{"gunicorn tcp bind", "gunicorn_service", "app", strings.Replace(gunicornBase, "unix:/run/app.sock", "127.0.0.1:8000", 1), "", ""},
		{"gunicorn v6 bind", "gunicorn_service", "app", strings.Replace(gunicornBase, "unix:/run/app.sock", "[::1]:8000", 1), "", ""},
		{"gunicorn fd bind", "gunicorn_service", "app", strings.Replace(gunicornBase, "unix:/run/app.sock", "fd://3", 1), "", ""},
		{"gunicorn bind list", "gunicorn_service", "app", strings.Replace(gunicornBase, "\"unix:/run/app.sock\"", "[\"unix:/run/app.sock\", \"0.0.0.0:80\"]", 1), "", ""},
		{"gunicorn workers string", "gunicorn_service", "app", gunicornBase + "workers = \"3\"\n", "", ""},
		{"gunicorn workers auto", "gunicorn_service", "app", gunicornBase + "workers = \"auto\"\n", "", ""},
		{"gunicorn bind no port", "gunicorn_service", "app", strings.Replace(gunicornBase, "unix:/run/app.sock", "localhost", 1), "is not an address", "3:1"},
		{"gunicorn bind bad port", "gunicorn_service", "app", strings.Replace(gunicornBase, "unix:/run/app.sock", "127.0.0.1:70000", 1), "from 1 to 65535", "3:1"},
		{"gunicorn bind port 0", "gunicorn_service", "app", strings.Replace(gunicornBase, "unix:/run/app.sock", "127.0.0.1:0", 1), "from 1 to 65535", "3:1"},
		{"gunicorn bind relative socket", "gunicorn_service", "app", strings.Replace(gunicornBase, "unix:/run/app.sock", "unix:app.sock", 1), "must be absolute", "3:1"},
		{"gunicorn bind v4 in brackets", "gunicorn_service", "app", strings.Replace(gunicornBase, "unix:/run/app.sock", "[127.0.0.1]:80", 1), "not an IPv6 address", "3:1"},
		{"gunicorn bind v6 bare", "gunicorn_service", "app", strings.Replace(gunicornBase, "unix:/run/app.sock", "::1:80", 1), "is not an address", "3:1"},
		{"gunicorn bind fd", "gunicorn_service", "app", strings.Replace(gunicornBase, "unix:/run/app.sock", "fd://x", 1), "file descriptor number", "3:1"},
		{"gunicorn missing bind", "gunicorn_service", "app", "gunicorn = \"/venv/bin/gunicorn\"\napp = \"a.wsgi:application\"\n", "\"bind\" is required", "1:1"},
		{"gunicorn relative exe", "gunicorn_service", "app", strings.Replace(gunicornBase, "/venv/bin/gunicorn", "venv/bin/gunicorn", 1), "absolute path of the gunicorn executable", "1:1"},
		{"gunicorn bad app", "gunicorn_service", "app", strings.Replace(gunicornBase, "a.wsgi:application", "a wsgi", 1), "module:callable", "2:1"},
		{"gunicorn workers zero", "gunicorn_service", "app", gunicornBase + "workers = 0\n", "from 1 to 1024", "4:1"},
		{"gunicorn workers fraction", "gunicorn_service", "app", gunicornBase + "workers = 2.5\n", "from 1 to 1024", "4:1"},
		{"gunicorn workers word", "gunicorn_service", "app", gunicornBase + "workers = \"many\"\n", "or \"auto\"", "4:1"},
		{"gunicorn timeout zero", "gunicorn_service", "app", gunicornBase + "timeout = 0\n", "at least 1", "4:1"},
		{"gunicorn timeout fraction", "gunicorn_service", "app", gunicornBase + "timeout = 1.5\n", "whole number", "4:11"},
		{"gunicorn jitter alone", "gunicorn_service", "app", gunicornBase + "max_requests_jitter = 50\n", "set max_requests too", "4:1"},
		{"gunicorn bad restart", "gunicorn_service", "app", gunicornBase + "restart = \"sometimes\"\n", "restart must be one of", "4:1"},
		{"gunicorn bad restart_sec", "gunicorn_service", "app", gunicornBase + "restart_sec = \"ten\"\n", "not a time span", "4:1"},
		{"gunicorn negative restart_sec", "gunicorn_service", "app", gunicornBase + "restart_sec = -1\n", "cannot be negative", "4:1"},
		{"gunicorn bad env key", "gunicorn_service", "app", gunicornBase + "environment = { \"A-B\" = \"x\" }\n", "not an environment variable name", "4:1"},
		{"gunicorn bad worker class", "gunicorn_service", "app", gunicornBase + "worker_class = \"a b\"\n", "not a gunicorn worker class", "4:1"},
		{"gunicorn bad user", "gunicorn_service", "app", gunicornBase + "user = \"a:b\"\n", "not a valid user", "4:1"},
		{"gunicorn empty user", "gunicorn_service", "app", gunicornBase + "user = \"\"\n", "not a valid user", "4:1"},
		{"gunicorn zero threads", "gunicorn_service", "app", gunicornBase + "threads = 0\n", "threads must be at least 1, not 0", "4:1"},
		{"gunicorn negative jitter", "gunicorn_service", "app", gunicornBase + "max_requests = 10\nmax_requests_jitter = -1\n", "max_requests_jitter must be at least 0", "5:1"},
		{"gunicorn zero burst", "gunicorn_service", "app", gunicornBase + "start_limit_burst = 0\n", "start_limit_burst must be at least 1", "4:1"},
		{"gunicorn relative directory", "gunicorn_service", "app", gunicornBase + "directory = \"srv\"\n", "not an absolute path", "4:1"},
		{"gunicorn bad state", "gunicorn_service", "app", gunicornBase + "state = \"restarted\"\n", "\"started\" or \"stopped\"", "4:1"},
		{"gunicorn bad type", "gunicorn_service", "app", gunicornBase + "type = \"forking\"\n", "type must be", "4:1"},
		{"gunicorn bad after", "gunicorn_service", "app", gunicornBase + "after = [\"network target\"]\n", "not a unit name", "4:1"},
		{"gunicorn bad limit action", "gunicorn_service", "app", gunicornBase + "start_limit_action = \"panic\"\n", "start_limit_action must be", "4:1"},
		{"gunicorn no wanted_by", "gunicorn_service", "app", gunicornBase + "wanted_by = []\n", "at least one wanted_by", "4:1"},

		// service
		{"service started", "service", "nginx", "state = \"started\"\nenabled = true\n", "", ""},
		{"service restarted", "service", "nginx.service", "state = \"restarted\"\n", "", ""},
		{"service bad state", "service", "nginx", "enabled = true\nstate = \"up\"\n", "\"started\", \"stopped\", \"restarted\" or \"reloaded\"", "2:1"},
		{"service nothing", "service", "nginx", "", "needs state, enabled or both", "1:1"},
		{"service bad name", "service", "ng/inx", "state = \"started\"\n", "not a valid systemd unit name", "1:1"},

		// command
		{"command guards", "command", "migrate", "run = \"./manage.py migrate\"\nchdir = \"/srv/app\"\ncreates = \"/srv/app/.done\"\nunless = \"test -f /x\"\nonly_if = \"true\"\nenvironment = { DJANGO_SETTINGS_MODULE = \"x.settings\" }\ntimeout = \"10m\"\nbecome = false\n", "", ""},
		{"command missing run", "command", "x", "creates = \"/x\"\n", "\"run\" is required", "1:1"},
		{"command empty run", "command", "x", "run = \"  \"\n", "run must hold a shell script", "1:1"},
		{"command relative creates", "command", "x", "run = \"true\"\ncreates = \"x\"\n", "not an absolute path", "2:1"},
		{"command relative chdir", "command", "x", "run = \"true\"\n\nchdir = \"srv\"\n", "not an absolute path", "3:1"},
		{"command bad timeout", "command", "x", "run = \"true\"\ntimeout = \"10\"\n", "not a duration", "2:1"},
		{"command zero timeout", "command", "x", "run = \"true\"\ntimeout = \"0s\"\n", "longer than zero", "2:1"},
		{"command bad env", "command", "x", "run = \"true\"\nenvironment = { \"1A\" = \"x\" }\n", "not an environment variable name", "2:1"},
		{"command empty guard", "command", "x", "run = \"true\"\nunless = \"\"\n", "must hold a shell command", "2:1"},

		// health_check
		{"health socket", "health_check", "app", "unix_socket = \"/run/app.sock\"\npath = \"/health/\"\nexpect_json = { status = \"ok\", checks = { database = \"ok\" } }\nretries = 5\ndelay = \"2s\"\ntimeout = \"3s\"\nmax_response_time = \"500ms\"\nheaders = { Host = \"example.com\", \"X-Probe\" = \"tend\" }\n", "", ""},
		{"health url", "health_check", "app", "url = \"https://example.com/health/\"\nexpect_status = 204\nexpect_body = \"ok\"\nmethod = \"HEAD\"\n", "", ""},
		{"health both", "health_check", "app", "url = \"http://x/\"\nunix_socket = \"/run/app.sock\"\n", "either url or unix_socket", "2:1"},
		{"health none", "health_check", "app", "expect_status = 200\n", "needs url, unix_socket and path, or unit", "1:1"},
		{"health location", "health_check", "app", "unix_socket = \"/run/app.sock\"\npath = \"/dashboard/\"\nexpect_status = 302\nexpect_location = \"/login/\"\nexpect_header = { \"Cache-Control\" = \"no-store\" }\nseverity = \"warning\"\n", "", ""},
		{"health location twice", "health_check", "app", "url = \"http://x/\"\nexpect_location = \"/a\"\nexpect_header = { location = \"/b\" }\n", "Location in expect_location only", "2:1"},
		{"health bad header", "health_check", "app", "url = \"http://x/\"\nexpect_header = { \"a b\" = \"x\" }\n", "not a valid header", "2:1"},
		{"health severity", "health_check", "app", "url = \"http://x/\"\nseverity = \"fatal\"\n", "severity", "2:1"},
		{"health processes", "health_check", "app", "unit = \"staffrota\"\nexpect_processes = 3\n", "", ""},
		{"health processes missing", "health_check", "app", "unit = \"staffrota.service\"\n", "give expect_processes", "1:1"},
		{"health processes zero", "health_check", "app", "unit = \"staffrota.service\"\nexpect_processes = 0\n", "expect_processes", "2:1"},
		{"health processes with socket", "health_check", "app", "unit = \"a.service\"\nunix_socket = \"/run/app.sock\"\nexpect_processes = 1\n", "Give one of url, unix_socket and unit", "1:1"},
		{"health processes with path", "health_check", "app", "unit = \"a.service\"\nexpect_processes = 1\npath = \"/x\"\n", "belongs to an HTTP check", "3:1"},
		{"health processes without unit", "health_check", "app", "url = \"http://x/\"\nexpect_processes = 1\n", "give unit too", "2:1"},
		{"health bad unit", "health_check", "app", "unit = \"a b\"\nexpect_processes = 1\n", "not a valid systemd unit name", "1:1"},
		{"health ftp", "health_check", "app", "url = \"ftp://x/\"\n", "not an http:// or https:// URL", "1:1"},
		{"health path with url", "health_check", "app", "url = \"http://x/\"\npath = \"/health\"\n", "path goes with unix_socket", "2:1"},
		{"health bad path", "health_check", "app", "unix_socket = \"/run/app.sock\"\npath = \"health\"\n", "not an HTTP request path", "2:1"},
		{"health relative socket", "health_check", "app", "unix_socket = \"app.sock\"\n", "not an absolute path", "1:1"},
		{"health bad status", "health_check", "app", "url = \"http://x/\"\nexpect_status = 42\n", "not an HTTP status code", "2:1"},
		{"health bad timeout", "health_check", "app", "url = \"http://x/\"\ntimeout = \"5\"\n", "not a duration", "2:1"},
		{"health bad delay", "health_check", "app", "url = \"http://x/\"\ndelay = \"-1s\"\n", "longer than zero", "2:1"},
		{"health negative retries", "health_check", "app", "url = \"http://x/\"\nretries = -1\n", "0 to 100", "2:1"},
		{"health json not object", "health_check", "app", "url = \"http://x/\"\nexpect_json = \"ok\"\n", "must be an object", "2:1"},
		{"health bad method", "health_check", "app", "url = \"http://x/\"\nmethod = \"get\"\n", "not an HTTP method", "2:1"},
		{"health bad header", "health_check", "app", "url = \"http://x/\"\nheaders = { \"Bad Header\" = \"x\" }\n", "not a valid header", "2:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := decodeModule(t, tc.kind, tc.label, tc.src, nil)
			if tc.want == "" {
				if diags.HasErrors() {
					t.Fatalf("unexpected errors: %v", diags)
				}
				return
			}
			if !diags.HasErrors() {
				t.Fatalf("no error; want one containing %q (diags: %v)", tc.want, diags)
			}
			for _, d := range diags {
				if d.Severity == hcl.DiagError && (strings.Contains(d.Summary, tc.want) || strings.Contains(d.Detail, tc.want)) {
					if got := pos(d); got != tc.pos {
						t.Errorf("diagnostic %q at %s, want %s", d.Summary, got, tc.pos)
					}
					if d.Subject.Filename != "test.hcl" {
						t.Errorf("diagnostic file %q, want test.hcl", d.Subject.Filename)
					}
					return
				}
			}
			t.Fatalf("no error containing %q in %v", tc.want, diags)
		})
	}
}

const gunicornBase = "gunicorn = \"/venv/bin/gunicorn\"\napp = \"a.wsgi:application\"\nbind = \"unix:/run/app.sock\"\n"

func TestRegistryKinds(t *testing.T) {
	want := []string{"command", "directory", "file", "gunicorn_service", "health_check", "service", "systemd_unit"}
	got := Kinds()
	for _, k := range want {
		found := false
		for _, g := range got {
			found = found || g == k
		}
		if !found {
			t.Errorf("kind %q not registered (have %v)", k, got)
		}
		info, _ := Lookup(k)
		if info.Summary == "" {
			t.Errorf("kind %q has no summary", k)
		}
	}
}

func TestFileSourceRelativeToPlaybook(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "motd.txt"), []byte("welcome\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &File{}
	body := parseBody(t, filepath.Join(dir, "site.hcl"), "source = \"motd.txt\"\n")
	if diags := m.Decode("/etc/motd", body, nil); diags.HasErrors() {
		t.Fatal(diags)
	}
	if string(m.spec.Content) != "welcome\n" {
		t.Fatalf("content %q", m.spec.Content)
	}
}

func TestFileTemplate(t *testing.T) {
	dir := t.TempDir()
	tmpl := "listen ${port}\n%{ for h in hosts ~}\nserver ${h}\n%{ endfor ~}\nenv ${upper(env)}\n"
	if err := os.WriteFile(filepath.Join(dir, "app.conf.tmpl"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := &hcl.EvalContext{Functions: map[string]function.Function{"upper": stdlib.UpperFunc}}
	m := &File{}
	body := parseBody(t, filepath.Join(dir, "site.hcl"), "template = \"app.conf.tmpl\"\nvars = { port = 8000, hosts = [\"a\", \"b\"], env = \"prod\" }\n")
	if diags := m.Decode("/etc/app.conf", body, ctx); diags.HasErrors() {
		t.Fatal(diags)
	}
	want := "listen 8000\nserver a\nserver b\nenv PROD\n"
	if string(m.spec.Content) != want {
		t.Fatalf("rendered %q, want %q", m.spec.Content, want)
	}

	// An undefined variable is reported in the template file.
	if err := os.WriteFile(filepath.Join(dir, "bad.tmpl"), []byte("a\n${nope}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body = parseBody(t, filepath.Join(dir, "site.hcl"), "template = \"bad.tmpl\"\n")
	diags := (&File{}).Decode("/etc/app.conf", body, nil)
	if !diags.HasErrors() {
		t.Fatal("undefined template variable: no error")
	}
	if d := diags[0]; d.Subject == nil || !strings.HasSuffix(d.Subject.Filename, "bad.tmpl") || d.Subject.Start.Line != 2 {
		t.Fatalf("diagnostic %v not at bad.tmpl:2", d)
	}
}

// TestSensitiveMarks checks that marked (sensitive) values are accepted, make
// file content sensitive, and are refused in commands.
func TestSensitiveMarks(t *testing.T) {
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{"secret": cty.StringVal("hunter2").Mark("sensitive")}),
	}}
	m, diags := decodeModule(t, "file", "/etc/app/secret", "content = var.secret\nmode = \"0600\"\n", ctx)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	f := m.(*File)
	if !f.spec.Sensitive || string(f.spec.Content) != "hunter2" {
		t.Fatalf("sensitive=%v content=%q", f.spec.Sensitive, f.spec.Content)
	}
	_, diags = decodeModule(t, "command", "x", "run = \"echo ${var.secret}\"\n", ctx)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "process list") || pos(diags[0]) != "1:1" {
		t.Fatalf("sensitive run: %v", diags)
	}
	_, diags = decodeModule(t, "gunicorn_service", "app", gunicornBase+"environment = { SECRET = var.secret }\n", ctx)
	if diags.HasErrors() || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Detail, "environment_file") {
		t.Fatalf("sensitive environment: %v", diags)
	}
}

func TestUnitName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"staffrota", "staffrota.service"},
		{"staffrota.service", "staffrota.service"},
		{"backup.timer", "backup.timer"},
		{"getty@tty1", "getty@tty1.service"},
		{"my.app", "my.app.service"},
		{"foo bar", ""},
		{"", ""},
		{"-x", ""},
		{".service", ""},
	}
	for _, tc := range tests {
		got, err := unitName(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("unitName(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("unitName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestFileBadStateIsOneError: a file whose state is invalid gets that
// error only, not also "Missing file content" (state = "deleted" meant a
// file to remove, which needs none).
func TestFileBadStateIsOneError(t *testing.T) {
	_, diags := decodeModule(t, "file", "/etc/cron.d/old", "state = \"deleted\"\n", nil)
	if len(diags) != 1 || diags[0].Summary != "Invalid state" || pos(diags[0]) != "1:1" {
		t.Errorf("diagnostics = %v, want Invalid state at 1:1 only", diags)
	}
}

// TestGunicornBindNotAString: bind and the unit lists take a string or a
// list of strings; a number or a bool is refused saying so, and a number
// as bind (a port alone) with the address to write.
func TestGunicornBindNotAString(t *testing.T) {
	for _, tc := range []struct{ src, want, pos string }{
		{strings.Replace(gunicornBase, `"unix:/run/app.sock"`, "8000", 1), `bind = 8000 is a number; an address is a string: write bind = "127.0.0.1:8000"`, "3:1"},
		{strings.Replace(gunicornBase, `"unix:/run/app.sock"`, "true", 1), "a string or a list of strings is required, not bool", "3:1"},
		{gunicornBase + "after = 42\n", "a string or a list of strings is required, not number", "4:1"},
	} {
		_, diags := decodeModule(t, "gunicorn_service", "app", tc.src, nil)
		if len(diags) != 1 || !strings.Contains(diags[0].Detail, tc.want) || pos(diags[0]) != tc.pos {
			t.Errorf("%q: diagnostics = %v, want one with %q at %s", tc.src, diags, tc.want, tc.pos)
		}
	}
}

// TestFilePathLikeADirectory: a file path ending in "/" (Ansible's copy
// into a directory) is refused, with the full path to write.
func TestFilePathLikeADirectory(t *testing.T) {
	for _, tc := range []struct{ label, src, want, pos string }{
		{"nginx", "path = \"/etc/nginx/conf.d/\"\nsource = \"testdata/gunicorn_seed.golden\"\n", `such as "/etc/nginx/conf.d/gunicorn_seed.golden"`, "1:1"},
		{"/etc/motd/", "content = \"hi\"\n", `"/etc/motd/" ends with "/", like a directory`, "1:1"},
	} {
		_, diags := decodeModule(t, "file", tc.label, tc.src, nil)
		if len(diags) != 1 || !strings.Contains(diags[0].Detail, tc.want) || pos(diags[0]) != tc.pos {
			t.Errorf("%s: diagnostics = %v, want one with %q at %s", tc.label, diags, tc.want, tc.pos)
		}
	}
	mustDecode(t, "directory", "/srv/app/", "mode = \"0755\"\n")
}

// TestUnitNameMisspeltType: a unit name whose suffix is a misspelt unit
// type is refused, saying what to write; names that merely have a dot
// keep getting ".service", and the full name is the way out.
func TestUnitNameMisspeltType(t *testing.T) {
	for name, want := range map[string]string{
		"app.servcie":   `write "app.service", or "app.servcie.service"`,
		"app.Service":   `looks like a misspelt ".service"`,
		"app.sevice":    `".service"`,
		"app.sock":      `".socket"`,
		"backup.timmer": `".timer"`,
		"data.mnt":      "",
	} {
		got, err := unitName(name)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %q, %v; want an error with %q", name, got, err, want)
		}
	}
	for _, name := range []string{"php8.2-fpm", "node.js", "celery.beat", "app.worker", "app.wsgi", "app.main", "app.live",
		"app.task", "app.web", "app.daemon", "app.dev", "app.prod", "app.stage", "app.api", "redis.server.service"} {
		if _, err := unitName(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestLabelDiagnostics: mistakes in a path or unit name given as the label
// are marked for the playbook to point at the label; the same mistake in
// an attribute is not.
func TestLabelDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		kind, label, src string
		inLabel          bool
	}{
		{"file", "etc/motd", "content = \"x\"\n", true},
		{"file", "motd", "path = \"etc/motd\"\ncontent = \"x\"\n", false},
		{"directory", "srv", "", true},
		{"directory", "/", "", true},
		{"systemd_unit", "a b", "content = \"x\"\n", true},
		{"service", "a b", "state = \"started\"\n", true},
		{"gunicorn_service", "a b", gunicornBase, true},
		{"service", "nginx", "state = \"up\"\n", false},
	} {
		_, diags := decodeModule(t, tc.kind, tc.label, tc.src, nil)
		if len(diags) != 1 || IsLabelDiagnostic(diags[0]) != tc.inLabel {
			t.Errorf("%s %q: diagnostics = %v, want one, about the label: %v", tc.kind, tc.label, diags, tc.inLabel)
		}
	}
}
