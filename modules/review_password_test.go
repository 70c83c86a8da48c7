package modules

import (
	"context"
	"strings"
	"testing"
)

// A saved plan's fingerprint must bind the password hash it was planned
// with: two plans of different hashes differ in what the fingerprint
// covers (the change's Digest), which holds neither hash.
func TestUserPasswordChangeBindsTheHash(t *testing.T) {
	digest := func(hash string) string {
		m := mustDecode(t, "user", "deploy", "password_hash = \""+hash+"\"\n")
		d, err := m.Check(context.Background(), userTarget(existingDeploy(), true, false))
		if err != nil {
			t.Fatal(err)
		}
		c := d.Change("password_hash")
		if c == nil {
			t.Fatalf("no password change: %+v", d.Changes)
		}
		if strings.Contains(c.Digest+c.Old+c.New, "HASH") {
			t.Fatalf("the hash shows in the change: %+v", c)
		}
		return c.Digest
	}
	a, b := digest("$6$salt$FIRSTHASH"), digest("$6$salt$OTHERHASH")
	if a == "" || a == b {
		t.Fatalf("the change does not tell two hashes apart (digests %q, %q): a saved plan would apply a hash it never planned", a, b)
	}
}
