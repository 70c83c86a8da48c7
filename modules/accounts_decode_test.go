package modules

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

func TestAccountDecode(t *testing.T) {
	key := testPubKey(t)
	tests := []struct {
		kind, label, src string
		// wantErr is a substring of the first error; line is where it
		// points (0: the label's diagnostic, on the body).
		wantErr string
		line    int
	}{
		{"group", "deploy", "gid = 1500\n", "", 0},
		{"group", "deploy", "state = \"absent\"\n", "", 0},
		{"group", "-deploy", "", "not a portable group name", 0},
		{"group", "12345", "", "all digits", 0},
		{"group", "deploy", "\ngid = -1\n", "out of range", 2},
		{"group", "deploy", "gid = 4294967295\n", "out of range", 1},
		{"group", "deploy", "gid = 65535\n", "reserved", 1},
		{"group", "deploy", "state = \"absent\"\ngid = 10\n", "no meaning with state", 2},
		{"group", "deploy", "state = \"gone\"\n", "must be", 1},

		{"user", "deploy", "uid = 1500\ngroups = [\"sudo\"]\nshell = \"/bin/bash\"\ncomment = \"Deploy\"\nhome = \"/home/deploy\"\npassword_hash = \"$6$abc$def\"\n", "", 0},
		{"user", "deploy", "groups = []\nappend = false\n", "", 0},
		{"user", "deploy", "state = \"absent\"\nremove = true\n", "", 0},
		{"user", "deploy", "password_hash = \"!\"\n", "", 0},
		{"user", "Bad Name", "", "not a portable user name", 0},
		{"user", "averyveryveryveryveryverylongname1", "", "longer than 32", 0},
		{"user", "deploy", "\n\nuid = 70000000000\n", "out of range", 3},
		{"user", "deploy", "group = \"a:b\"\n", "not a portable group name", 1},
		{"user", "deploy", "groups = [\"sudo\", \"sudo\"]\n", "listed twice", 1},
		{"user", "deploy", "groups = [\"sudo\", \"a,b\"]\n", "not a portable", 1},
		{"user", "deploy", "home = \"home/deploy\"\n", "not an absolute path", 1},
		{"user", "deploy", "home = \"/home/deploy/\"\n", "not a clean path", 1},
		{"user", "deploy", "shell = \"bash\"\n", "not an absolute path", 1},
		{"user", "deploy", "shell = \"/bin/ba:sh\"\n", "separates the fields", 1},
		{"user", "deploy", "comment = \"a\\nb\"\n", "control character", 1},
		{"user", "deploy", "comment = \"a:b\"\n", "separates the fields", 1},
		{"user", "deploy", "remove = true\n", "needs state = \"absent\"", 1},
		{"user", "deploy", "state = \"absent\"\nshell = \"/bin/sh\"\n", "no meaning with state", 2},
		{"user", "deploy", "append = true\n", "append without groups", 1},
		{"user", "deploy", "password_hash = \"hunter2\"\n", "crypt(3) hash", 1},
		{"user", "deploy", "password_hash = \"\"\n", "empty", 1},

		{"authorized_key", "ci", "user = \"deploy\"\nkey = \"" + key + " ci\"\n", "", 0},
		{"authorized_key", "ci", "user = \"deploy\"\nkey = \"" + key + "\"\noptions = \"from=\\\"10.0.0.0/8\\\",no-pty\"\nexclusive = true\n", "", 0},
		{"authorized_key", "ci", "user = \"deploy\"\nkey = \"" + key + "\"\nstate = \"absent\"\n", "", 0},
		{"authorized_key", "ci", "user = \"deploy\"\nkey = \"" + key + "\"\npath = \"/etc/ssh/keys/deploy\"\nbackup = true\n", "", 0},
		{"authorized_key", "ci", "key = \"" + key + "\"\n", "Missing required argument", 0},
		{"authorized_key", "ci", "user = \"deploy\"\n\nkey = \"ssh-ed25519 AAAAnotakey\"\n", "not an SSH public key", 3},
		{"authorized_key", "ci", "user = \"deploy\"\nkey = \"" + key + "\"\noptions = \"from=\\\"10.0.0.0/8\"\n", "not valid authorized_keys options", 3},
		{"authorized_key", "ci", "user = \"root:x\"\nkey = \"" + key + "\"\n", "not a portable user name", 1},
		{"authorized_key", "ci", "user = \"deploy\"\nkey = \"" + key + "\"\nstate = \"absent\"\nexclusive = true\n", "no meaning with state", 4},
		{"authorized_key", "ci", "user = \"deploy\"\nkey = \"" + key + "\"\npath = \"keys\"\n", "not an absolute path", 3},
		{"authorized_key", "ci", "user = \"deploy\"\nkey = \"" + key + "\"\nvalidate = \"true\"\n", "%s", 3},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.label+" "+strings.ReplaceAll(tt.src, "\n", ";"), func(t *testing.T) {
			_, diags := decodeModule(t, tt.kind, tt.label, tt.src, nil)
			if tt.wantErr == "" {
				if diags.HasErrors() {
					t.Fatalf("unexpected errors: %v", diags)
				}
				return
			}
			if !diags.HasErrors() {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			d := diags.Errs()[0].(*hcl.Diagnostic)
			if !strings.Contains(d.Summary+" "+d.Detail, tt.wantErr) {
				t.Fatalf("error %q, want %q", d.Summary+": "+d.Detail, tt.wantErr)
			}
			if d.Subject == nil || d.Subject.Filename != "test.hcl" {
				t.Fatalf("no source range: %+v", d.Subject)
			}
			if tt.line != 0 && d.Subject.Start.Line != tt.line {
				t.Errorf("points at line %d, want %d", d.Subject.Start.Line, tt.line)
			}
		})
	}
}

// A password hash is never quoted in a diagnostic, even a wrong one.
func TestPasswordHashNotInDiagnostics(t *testing.T) {
	_, diags := decodeModule(t, "user", "deploy", "password_hash = \"Sup3rSecretPlain\"\n", nil)
	if !diags.HasErrors() || strings.Contains(diags.Error(), "Sup3rSecretPlain") {
		t.Fatalf("diags = %v", diags)
	}
}

// A sensitive value is accepted for password_hash only.
func TestAccountSensitive(t *testing.T) {
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{
		"hash":  cty.StringVal("$6$abc$def").Mark("sensitive"),
		"shell": cty.StringVal("/bin/sh").Mark("sensitive"),
	})}}
	if _, diags := decodeModule(t, "user", "deploy", "password_hash = var.hash\n", ctx); diags.HasErrors() {
		t.Errorf("a sensitive password_hash is refused: %v", diags)
	}
	if _, diags := decodeModule(t, "user", "deploy", "shell = var.shell\n", ctx); !diags.HasErrors() {
		t.Error("a sensitive shell is accepted")
	}
}

// Unknown values (validation for no particular host) raise no error.
func TestAccountDecodeUnknown(t *testing.T) {
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"host": cty.UnknownVal(cty.Object(map[string]cty.Type{"name": cty.String}))}}
	for _, c := range []struct{ kind, src string }{
		{"user", "uid = host.name\ngroups = [host.name]\nshell = host.name\nstate = host.name\nremove = true\n"},
		{"group", "gid = host.name\nstate = host.name\n"},
		{"authorized_key", "user = host.name\nkey = host.name\noptions = host.name\npath = host.name\n"},
	} {
		if _, diags := decodeModule(t, c.kind, "x", c.src, ctx); diags.HasErrors() {
			t.Errorf("%s: %v", c.kind, diags)
		}
	}
}
