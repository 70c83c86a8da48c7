package modules

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tend-sh/tend/executor"
)

// These tests read this machine's accounts (nothing is changed in them) and
// edit authorized_keys files of nobody in temporary directories.

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// gatherFacts reads facts on this machine.
func gatherFacts(t *testing.T, facts ...executor.Fact) *executor.State {
	t.Helper()
	var ps []executor.Probe
	for _, f := range facts {
		ps = append(ps, executor.Probe{Kind: executor.ProbeFact, Fact: f})
	}
	st, err := executor.Gather(context.Background(), executor.NewLocal(executor.LocalOptions{}), executor.Request{Probes: ps})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAccountFactsLocal(t *testing.T) {
	requireRoot(t)
	st := gatherFacts(t, userFact{"root"}, groupFact{"root"}, userFact{"tend-no-such-user"}, groupFact{"tend-no-such-group"},
		homeFact{"tend-no-such-user", ""}, homeFact{"x", "/"})
	root, err := factValue[*userInfo](st, userFact{"root"})
	if err != nil {
		t.Fatal(err)
	}
	if !root.Exists || root.UID != 0 || root.GID != 0 || root.Primary != "root" || root.Home != "/root" || !root.ShadowRead {
		t.Fatalf("root: %+v", root)
	}
	// The digest the host computed is the one of the real shadow field.
	shadow, err := os.ReadFile("/etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(shadow), "\n") {
		if f := strings.Split(l, ":"); len(f) > 2 && f[0] == "root" {
			if root.Shadow != shadowDigest(f[1]) {
				t.Errorf("shadow digest %s differs from the digest of the field", root.Shadow)
			}
		}
	}
	if g, err := factValue[*groupInfo](st, groupFact{"root"}); err != nil || !g.Exists || g.GID != 0 {
		t.Errorf("group root: %+v %v", g, err)
	}
	if u, err := factValue[*userInfo](st, userFact{"tend-no-such-user"}); err != nil || u.Exists {
		t.Errorf("missing user: %+v %v", u, err)
	}
	if g, err := factValue[*groupInfo](st, groupFact{"tend-no-such-group"}); err != nil || g.Exists {
		t.Errorf("missing group: %+v %v", g, err)
	}
	if h, err := factValue[*homeInfo](st, homeFact{"tend-no-such-user", ""}); err != nil || h.Exists || h.Path != "/home/tend-no-such-user" {
		t.Errorf("default home: %+v %v", h, err)
	}
	if h, err := factValue[*homeInfo](st, homeFact{"x", "/"}); err != nil || !h.Exists || h.Path != "/" {
		t.Errorf("given home: %+v %v", h, err)
	}
}

// nobodyDir makes a directory of nobody's (0700) under a temporary
// directory nobody can reach, and returns it.
func nobodyDir(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	base := t.TempDir()
	for p := base; p != "/tmp" && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "nobody")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeOwned(t *testing.T, p, content string, uid int) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func TestAuthorizedKeyLocal(t *testing.T) {
	dir := nobodyDir(t)
	p := filepath.Join(dir, "authorized_keys")
	key, other := testPubKey(t), testPubKey(t)
	before := "# the login key\n" + other + " login\r\n"
	writeOwned(t, p, before, 65534)
	src := "user = \"nobody\"\nkey = \"" + key + " ci\"\noptions = \"no-pty\"\npath = \"" + p + "\"\n"

	d := converge(t, mustDecode(t, "authorized_key", "ci", src))
	c := d.Change("content")
	if c == nil || string(c.OldContent) != before {
		t.Fatalf("diff: %+v", d)
	}
	got, _ := os.ReadFile(p)
	if want := before + "no-pty " + key + " ci\r\n"; string(got) != want {
		t.Fatalf("file:\n%q\nwant\n%q", got, want)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 || owner(t, p) != 65534 {
		t.Errorf("mode %o owner %d", fi.Mode().Perm(), owner(t, p))
	}
	// Absent: the key goes, the rest stays.
	converge(t, mustDecode(t, "authorized_key", "ci", src+"state = \"absent\"\n"))
	if got, _ := os.ReadFile(p); string(got) != before {
		t.Fatalf("after absent:\n%q", got)
	}

	// A new file in nobody's directory is nobody's, 0600.
	q := filepath.Join(dir, "keys2")
	converge(t, mustDecode(t, "authorized_key", "ci", "user = \"nobody\"\nkey = \""+key+"\"\npath = \""+q+"\"\n"))
	if fi, err := os.Stat(q); err != nil || fi.Mode().Perm() != 0o600 || owner(t, q) != 65534 {
		t.Fatalf("new file: %v %v", fi, err)
	}
}

func owner(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// The user's file is read as the user: what the user points it at, root's
// secret, is neither read nor shown, and nothing is written.
func TestAuthorizedKeyLocalAttacks(t *testing.T) {
	dir := nobodyDir(t)
	secret := filepath.Join(filepath.Dir(dir), "secret")
	writeOwned(t, secret, "ROOT-SECRET-CONTENT\n", 0)
	key := testPubKey(t)
	p := filepath.Join(dir, "authorized_keys")
	src := "user = \"nobody\"\nkey = \"" + key + "\"\npath = \"" + p + "\"\n"

	for _, tc := range []struct {
		name  string
		plant func() error
		want  string
	}{
		{"symbolic link", func() error { return os.Symlink(secret, p) }, "symbolic link"},
		// A hard link (made here by root: protected_hardlinks keeps a user
		// from making one) is a regular file: read as nobody, it cannot be
		// opened.
		{"hard link", func() error { return os.Link(secret, p) }, "cannot be read as nobody"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(p)
			if err := tc.plant(); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(p)
			m := mustDecode(t, "authorized_key", "ci", src)
			conn := executor.NewLocal(executor.LocalOptions{})
			tgt := gather(t, conn, m)
			d, err := m.Check(context.Background(), tgt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("check: %v %+v, want %q", err, d, tc.want)
			}
			if strings.Contains(err.Error(), "ROOT-SECRET") {
				t.Fatalf("the secret leaked: %v", err)
			}
			info, _ := factValue[*authKeysInfo](tgt.State, authKeysFact{"nobody", p})
			if info != nil && strings.Contains(string(info.Content), "ROOT-SECRET") {
				t.Fatal("the secret was read into the state")
			}
			if got, _ := os.ReadFile(secret); string(got) != "ROOT-SECRET-CONTENT\n" {
				t.Fatalf("the secret changed: %q", got)
			}
		})
	}

	// ~/.ssh replaced by a link to a root directory: refused.
	home := filepath.Join(dir, "home")
	if err := os.Symlink(filepath.Dir(dir), home); err != nil {
		t.Fatal(err)
	}
	m := mustDecode(t, "authorized_key", "ci", "user = \"nobody\"\nkey = \""+key+"\"\npath = \""+filepath.Join(home, "secret")+"\"\n")
	if _, err := checkOnly(t, m); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("link as the directory: %v", err)
	}
}
