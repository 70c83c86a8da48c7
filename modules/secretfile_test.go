package modules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// A new file holding sensitive content and no explicit mode is created 0600,
// and the plan says so; an explicit mode wins; ordinary files keep 0644; an
// existing file keeps its mode (tend changes only what was asked).
func TestSensitiveFileDefaultMode(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tpl"), []byte("PW=${pw}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, []byte("KEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, src   string
		ctx         *hcl.EvalContext
		wantChanges string
		wantMode    os.FileMode
	}{
		{"sensitive variable", "content = var.secret\n", sensitiveCtx("pw-1"),
			"exists:absent->present content:->(sensitive content changed) mode:->0600", 0o600},
		{"sensitive = true", "content = \"pw-2\"\nsensitive = true\n", nil,
			"exists:absent->present content:->(sensitive content changed) mode:->0600", 0o600},
		{"template vars", "template = \"tpl\"\nvars = { pw = var.secret }\n", sensitiveCtx("pw-3"),
			"exists:absent->present content:->(sensitive content changed) mode:->0600", 0o600},
		{"source named by a sensitive value", "source = var.secret\n", sensitiveCtx(keyFile),
			"exists:absent->present content:->(sensitive content changed) mode:->0600", 0o600},
		{"explicit mode", "content = var.secret\nmode = \"0640\"\n", sensitiveCtx("pw-4"),
			"exists:absent->present content:->(sensitive content changed) mode:->0640", 0o640},
		{"not sensitive", "content = \"hello\"\n", nil,
			"exists:absent->present content:->", 0o644},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "f"+string(rune('a'+i)))
			body := parseBody(t, filepath.Join(dir, "site.hcl"), "path = \""+p+"\"\n"+tt.src)
			m := &File{}
			if diags := m.Decode("x", body, tt.ctx); diags.HasErrors() {
				t.Fatal(diags)
			}
			d := converge(t, m)
			if got := changeList(d); got != tt.wantChanges {
				t.Errorf("changes %q, want %q", got, tt.wantChanges)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.wantMode {
				t.Errorf("created %o, want %o", fi.Mode().Perm(), tt.wantMode)
			}
		})
	}

	// An existing 0644 file that becomes sensitive keeps its mode: the
	// default is for new files only, and the mode was not asked for.
	p := filepath.Join(dir, "existing")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, diags := decodeModule(t, "file", p, "content = var.secret\n", sensitiveCtx("pw-5"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	d := converge(t, m)
	if got := changeList(d); got != "content:->(sensitive content changed)" {
		t.Errorf("existing file changes %q", got)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("existing file mode changed to %o", fi.Mode().Perm())
	}
}
