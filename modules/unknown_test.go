package modules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// unknownCtx is how a playbook is decoded for no particular host: u stands
// for host.* and each.* values, which are unknown then.
func unknownCtx() *hcl.EvalContext {
	return &hcl.EvalContext{Variables: map[string]cty.Value{
		"u":  cty.DynamicVal,
		"us": cty.UnknownVal(cty.String),
	}}
}

// TestDecodeUnknown: with host-dependent values unknown, every module
// validates what it can and raises no false error or warning about what it
// cannot know; the mistakes in known attributes are still found, at their
// attribute.
func TestDecodeUnknown(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.tpl"), []byte("workers = ${workers}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, kind, label, src string
		want, pos              string // "" = no diagnostic at all
	}{
		{"file all unknown", "file", "/etc/motd", "path = u\ncontent = u\nmode = u\nowner = u\ngroup = u\nstate = u\nsensitive = u\n", "", ""},
		{"file unknown path, relative label", "file", "motd", "path = \"/etc/${u}\"\ncontent = \"x\"\n", "", ""},
		{"file unknown state alone", "file", "/etc/motd", "state = u\n", "", ""},
		{"file unknown content", "file", "/etc/motd", "content = \"w=${us}\"\n", "", ""},
		{"file template, unknown vars", "file", "/etc/site", "template = \"site.tpl\"\nvars = { workers = u }\n", "", ""},
		{"file template missing, unknown vars", "file", "/etc/site", "template = \"nope.tpl\"\nvars = { workers = u }\n", "Cannot read template", "1:1"},
		{"file unknown template", "file", "/etc/site", "template = u\nvars = { workers = 1 }\n", "", ""},
		{"file bad mode, unknown content", "file", "/etc/motd", "content = u\nmode = \"0999\"\n", "not an octal file mode", "2:1"},
		{"file numeric mode, unknown path", "file", "/etc/motd", "path = u\ncontent = \"x\"\nmode = 644\n", `Write mode = "0644".`, "3:1"},
		{"file unknown content and source", "file", "/etc/motd", "content = u\nsource = \"x\"\n", "exactly one of content, source or template", "2:1"},
		{"file unknown vars without template", "file", "/etc/motd", "content = \"x\"\nvars = u\n", "vars are only used", "2:1"},
		{"file absent, unknown content", "file", "/etc/motd", "state = \"absent\"\ncontent = u\n", "no meaning with state", "2:1"},
		{"file unknown relative path still checked when known", "file", "/etc/motd", "path = \"etc/${\"x\"}\"\ncontent = u\n", "not an absolute path", "1:1"},

		{"dir all unknown", "directory", "/srv/app", "path = u\nmode = u\nowner = u\ngroup = u\nstate = u\n", "", ""},
		{"dir unknown path, root label", "directory", "/", "path = u\n", "", ""},
		{"dir absent, unknown owner", "directory", "/srv/app", "state = \"absent\"\nowner = u\n", "no meaning", "2:1"},

		{"command all unknown", "command", "x", "run = u\ncreates = u\nremoves = u\nunless = u\nonly_if = u\nchdir = u\nenvironment = u\ntimeout = u\nbecome = u\n", "", ""},
		{"command partly unknown environment", "command", "x", "run = \"true\"\nenvironment = { A = \"1\", B = u }\n", "", ""},
		{"command unknown run, bad timeout", "command", "x", "run = u\ntimeout = \"5\"\n", "not a duration", "2:1"},
		{"command run still required", "command", "x", "creates = u\n", "\"run\" is required", "1:1"},

		{"service unknown state", "service", "nginx", "state = u\n", "", ""},
		{"service unknown enabled", "service", "nginx", "enabled = u\n", "", ""},
		{"service bad state, unknown enabled", "service", "nginx", "enabled = u\nstate = \"running\"\n", "\"started\", \"stopped\"", "2:1"},

		{"unit unknown content, enabled", "systemd_unit", "app", "content = u\nenabled = true\nstate = u\n", "", ""},
		{"unit unknown install setting, enabled", "systemd_unit", "app", "service {\n  ExecStart = \"/bin/true\"\n}\ninstall {\n  WantedBy = u\n}\nenabled = true\n", "", ""},
		{"unit unknown content and blocks", "systemd_unit", "app", "content = u\nservice {\n  ExecStart = \"/bin/true\"\n}\n", "either content or unit/service/install", "1:1"},
		{"unit unknown setting, bad key", "systemd_unit", "app", "service {\n  ExecStart = u\n  _Bad = 1\n}\n", "not a systemd setting name", "3:3"},
		{"unit bad state, unknown content", "systemd_unit", "app", "content = u\nstate = \"running\"\n", "\"started\" or \"stopped\"", "2:1"},

		{"gunicorn all unknown", "gunicorn_service", "app", "gunicorn = u\napp = u\nbind = u\nworkers = u\nthreads = u\ntimeout = u\nuser = u\nenvironment = u\nextra_args = [\"--x\", u]\nrestart = u\nrestart_sec = u\nstart_limit_interval = u\nstart_limit_burst = u\nenabled = u\nwanted_by = u\nafter = u\nunit_path = u\n", "", ""},
		{"gunicorn bind list with unknown", "gunicorn_service", "app", "gunicorn = u\napp = \"a:b\"\nbind = [\"unix:/run/a.sock\", \"127.0.0.1:${u}\"]\n", "", ""},
		{"gunicorn jitter, unknown max_requests", "gunicorn_service", "app", gunicornBase + "max_requests = u\nmax_requests_jitter = 5\n", "", ""},
		{"gunicorn no wanted_by, unknown enabled", "gunicorn_service", "app", gunicornBase + "enabled = u\nwanted_by = []\n", "", ""},
		{"gunicorn start limits, unknown restart_sec", "gunicorn_service", "app", gunicornBase + "restart_sec = u\nstart_limit_interval = 60\nstart_limit_burst = 3\n", "", ""},
		{"gunicorn workers zero, rest unknown", "gunicorn_service", "app", "gunicorn = u\napp = u\nbind = u\n\nworkers = 0\n", "whole number from 1 to 1024", "5:1"},
		{"gunicorn bad app, unknown gunicorn", "gunicorn_service", "app", "gunicorn = u\napp = \"not an app\"\nbind = u\n", "not a WSGI application reference", "2:1"},

		{"health unknown url", "health_check", "app", "url = u\n", "", ""},
		{"health unknown socket and path", "health_check", "app", "unix_socket = u\npath = u\nexpect_status = u\nretries = u\n", "", ""},
		{"health unknown url and socket", "health_check", "app", "url = u\nunix_socket = \"/run/a.sock\"\n", "Give either url or unix_socket", "2:1"},
		{"health unknown url with path", "health_check", "app", "url = u\npath = \"/x\"\n", "path goes with unix_socket", "2:1"},
		{"health bad delay, unknown socket", "health_check", "app", "unix_socket = u\ndelay = \"soon\"\n", "not a duration", "2:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, _ := Lookup(tc.kind)
			m := info.New()
			diags := m.Decode(tc.label, parseBody(t, filepath.Join(dir, "test.hcl"), tc.src), unknownCtx())
			if tc.want == "" {
				if len(diags) > 0 {
					t.Fatalf("false diagnostics for unknown values: %v", diags)
				}
				return
			}
			for _, d := range diags {
				if d.Severity == hcl.DiagError && (strings.Contains(d.Summary, tc.want) || strings.Contains(d.Detail, tc.want)) {
					if got := pos(d); got != tc.pos {
						t.Errorf("diagnostic %q at %s, want %s", d.Summary, got, tc.pos)
					}
					return
				}
			}
			t.Fatalf("no error containing %q in %v", tc.want, diags)
		})
	}
}

// TestDecodeKnownUnchanged: the same attributes known still produce the
// errors and warnings that depend on them (unknown tolerance must not turn
// checks off).
func TestDecodeKnownUnchanged(t *testing.T) {
	tests := []struct{ name, kind, label, src, want string }{
		{"start limit warning", "gunicorn_service", "app", gunicornBase + "restart_sec = 10\nstart_limit_interval = 60\nstart_limit_burst = 3\n", "start"},
		{"jitter without max_requests", "gunicorn_service", "app", gunicornBase + "max_requests_jitter = 5\n", "set max_requests too"},
		{"gunicorn null app", "gunicorn_service", "app", "gunicorn = \"/g\"\napp = null\nbind = \"unix:/a.sock\"\n", "app must not be null"},
		{"command missing run", "command", "x", "creates = \"/x\"\n", "\"run\" is required"},
		{"service nothing", "service", "nginx", "", "needs state, enabled or both"},
		{"unit neither", "systemd_unit", "app", "state = \"started\"\n", "needs content or unit/service/install"},
		{"unit not installable", "systemd_unit", "app", "service {\n  ExecStart = \"/bin/true\"\n}\nenabled = true\n", "cannot enable it"},
		{"file no content", "file", "/etc/motd", "mode = \"0644\"\n", "exactly one of content, source or template"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := decodeModule(t, tc.kind, tc.label, tc.src, unknownCtx())
			for _, d := range diags {
				if strings.Contains(d.Summary+" "+d.Detail, tc.want) {
					return
				}
			}
			t.Fatalf("no diagnostic containing %q in %v", tc.want, diags)
		})
	}
}
