package modules

import (
	"slices"
	"testing"
)

// TestUnitModulesDeclareSecretFiles: the modules that render a unit file
// sensitive (a sensitive value in it) declare that file secret, so that
// another task of the host editing it (a line_in_file) does not show it.
func TestUnitModulesDeclareSecretFiles(t *testing.T) {
	tests := []struct{ kind, label, src, path string }{
		{"systemd_unit", "app.service", "content = \"[Service]\\nEnvironment=TOKEN=${var.secret}\\n\"\n", "/etc/systemd/system/app.service"},
		{"systemd_dropin", "app", "content = \"[Service]\\nEnvironment=TOKEN=${var.secret}\\n\"\n", "/etc/systemd/system/app.service.d/50-tend.conf"},
		{"gunicorn_service", "app", "gunicorn = \"/srv/venv/bin/gunicorn\"\napp = \"app.wsgi:application\"\nbind = \"127.0.0.1:8000\"\nenvironment = { TOKEN = var.secret }\n", "/etc/systemd/system/app.service"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			m, diags := decodeModule(t, tt.kind, tt.label, tt.src, sensitiveCtx("hunter2"))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			s, ok := m.(SecretFiler)
			if !ok {
				t.Fatalf("%T does not declare its secret file", m)
			}
			if got := s.SecretFiles(); !slices.Equal(got, []string{tt.path}) {
				t.Errorf("SecretFiles() = %q, want %q", got, tt.path)
			}
		})
	}
}
