package modules

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testPubKey returns a fresh ed25519 public key as "ssh-ed25519 AAAA…"
// (no comment, no newline).
func testPubKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(sp)), "\n")
}

func mustAuthKey(t *testing.T, key, options string) authKey {
	t.Helper()
	k, err := parseAuthKey(key, options)
	if err != nil {
		t.Fatalf("parseAuthKey(%q, %q): %v", key, options, err)
	}
	return k
}

func TestParseAuthKey(t *testing.T) {
	k := testPubKey(t)
	tests := []struct {
		name, key, options string
		wantLine           string
		wantErr            string
	}{
		{"plain", k, "", k, ""},
		{"comment", k + " ci@example", "", k + " ci@example", ""},
		{"comment with spaces", k + " CI runner 3", "", k + " CI runner 3", ""},
		{"surrounding blanks", "  " + k + " c \n", "", k + " c", ""},
		{"options", k + " c", `from="10.0.0.0/8",no-pty`, `from="10.0.0.0/8",no-pty ` + k + " c", ""},
		{"options in the key", `no-pty ` + k, "", `no-pty ` + k, ""},
		{"options twice", `no-pty ` + k, "no-agent-forwarding", "", "options of its own"},
		{"empty", "", "", "", "empty"},
		{"not a key", "hello world", "", "", "not an SSH public key"},
		{"truncated blob", k[:40], "", "", "not an SSH public key"},
		{"two keys", k + "\n" + k, "", "", "one line"},
		{"newline in options", k, "no-pty\nssh-ed25519 AAAA", "", "one line"},
		{"bad options", k, `from="10.0.0.0/8`, "", "not valid authorized_keys options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAuthKey(tt.key, tt.options)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.line != tt.wantLine {
				t.Errorf("line = %q, want %q", got.line, tt.wantLine)
			}
			if got.id != k {
				t.Errorf("id = %q, want %q", got.id, k)
			}
		})
	}
}

func TestEditAuthorizedKeys(t *testing.T) {
	mine, other, third := testPubKey(t), testPubKey(t), testPubKey(t)
	k := mustAuthKey(t, mine+" ci", `from="10.0.0.0/8"`)
	want := `from="10.0.0.0/8" ` + mine + " ci"
	tests := []struct {
		name      string
		old       string
		nilOld    bool
		absent    bool
		exclusive bool
		want      string
	}{
		{name: "no file", nilOld: true, want: want + "\n"},
		{name: "empty file", old: "", want: want + "\n"},
		{name: "appended, others kept byte for byte",
			old:  "# tend's login key\n" + other + " tend\n\n  " + third + "   spaced  \n",
			want: "# tend's login key\n" + other + " tend\n\n  " + third + "   spaced  \n" + want + "\n"},
		{name: "no trailing newline", old: other + " x", want: other + " x\n" + want + "\n"},
		{name: "already there", old: other + "\n" + want + "\n", want: other + "\n" + want + "\n"},
		{name: "other options replaced in place",
			old:  other + "\nno-pty " + mine + " old comment\n" + third + "\n",
			want: other + "\n" + want + "\n" + third + "\n"},
		{name: "other comment replaced", old: mine + " laptop\n", want: want + "\n"},
		{name: "duplicates removed", old: mine + "\n" + other + "\n" + mine + " again\n", want: want + "\n" + other + "\n"},
		{name: "CRLF kept, appended with CRLF", old: other + "\r\n# c\r\n", want: other + "\r\n# c\r\n" + want + "\r\n"},
		{name: "CRLF line replaced keeps its ending", old: mine + "\r\n" + other + "\r\n", want: want + "\r\n" + other + "\r\n"},
		{name: "replaced last line without newline", old: other + "\n" + mine, want: other + "\n" + want},
		{name: "unparsable lines kept", old: "ssh-rsa NOTBASE64 x\ngarbage\n", want: "ssh-rsa NOTBASE64 x\ngarbage\n" + want + "\n"},
		{name: "a commented-out copy is not the key", old: "# " + mine + "\n", want: "# " + mine + "\n" + want + "\n"},
		{name: "absent: removed, every copy", absent: true, old: mine + "\n" + other + "\nno-pty " + mine + " x\n", want: other + "\n"},
		{name: "absent: not there", absent: true, old: "# c\n" + other, want: "# c\n" + other},
		{name: "absent: no file", absent: true, nilOld: true, want: ""},
		{name: "exclusive: only the key stays", exclusive: true, old: "# c\n" + other + "\n" + third + "\n", want: want + "\n"},
		{name: "exclusive: in place", exclusive: true, old: other + "\n" + mine + "\n", want: want + "\n"},
		{name: "exclusive: already alone", exclusive: true, old: want + "\n", want: want + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var old []byte
			if !tt.nilOld {
				old = []byte(tt.old)
			}
			got := string(editAuthorizedKeys(old, k, tt.absent, tt.exclusive))
			if got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			// Editing again changes nothing.
			if again := string(editAuthorizedKeys([]byte(got), k, tt.absent, tt.exclusive)); again != got {
				t.Errorf("not idempotent:\n%q\n%q", got, again)
			}
		})
	}
}
