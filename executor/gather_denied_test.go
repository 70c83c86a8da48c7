package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// asNobody is a connection whose commands run as the user nobody (with
// setpriv), so that a test running as root sees what a login without
// privileges sees.
type asNobody struct{ Conn }

func (c asNobody) Run(ctx context.Context, cmd Command) (Result, error) {
	cmd.Script = "exec setpriv --reuid=nobody --regid=nogroup --clear-groups -- /bin/sh -c " + ShellQuote(cmd.Script)
	return c.Conn.Run(ctx, cmd)
}

// A file the login user cannot check (a directory on the way is not
// searchable) is not reported missing: Gather fails and says why.
func TestGatherPermissionDenied(t *testing.T) {
	needRoot(t, "to switch to the user nobody")
	needTool(t, "setpriv")
	// Not t.TempDir: nobody must be able to reach the test's directory.
	base, err := os.MkdirTemp("", "tend-gather-denied-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	mkdir := func(name string, mode os.FileMode) string {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write := func(name string) string {
		p := filepath.Join(base, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	mkdir("open", 0o755)
	present := write("open/present")
	plainFile := write("plain")
	mkdir("locked/sub", 0o755)
	write("locked/secret")
	write("locked/sub/deeper")
	mkdir("locked", 0o700)
	mkdir("listonly", 0o744) // readable, not searchable
	write("listonly/f")
	os.Chmod(filepath.Join(base, "listonly"), 0o744)

	c := asNobody{NewLocal(LocalOptions{})}
	ctx := context.Background()
	st, err := Gather(ctx, c, Request{Probes: []Probe{
		{Kind: ProbeFile, Path: present},
		{Kind: ProbeFile, Path: filepath.Join(base, "open/absent")},
		{Kind: ProbeFile, Path: filepath.Join(base, "absent-dir/absent")},
		{Kind: ProbeFile, Path: filepath.Join(plainFile, "under-a-file")},
		{Kind: ProbeFile, Path: "/"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Facts.EffectiveUser != "nobody" {
		t.Fatalf("the gather ran as %q, want nobody", st.Facts.EffectiveUser)
	}
	if f := st.File(present); f == nil || !f.Exists {
		t.Errorf("%s: %+v, want it present", present, f)
	}
	for _, p := range []string{"open/absent", "absent-dir/absent", "plain/under-a-file"} {
		if f := st.File(filepath.Join(base, p)); f == nil || f.Exists {
			t.Errorf("%s: %+v, want it missing", p, f)
		}
	}

	for _, p := range []string{"locked/secret", "locked/absent", "locked/sub/deeper", "listonly/f"} {
		path := filepath.Join(base, p)
		_, err := Gather(ctx, c, Request{Probes: []Probe{{Kind: ProbeFile, Path: present}, {Kind: ProbeFile, Path: path}}})
		want := "gather: cannot read " + path + " as nobody: permission denied; use become"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", p, err, want)
		}
	}
}
