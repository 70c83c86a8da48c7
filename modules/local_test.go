package modules

import (
	"bytes"
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/testenv"
)

// These tests run the modules against this machine: the state comes from
// executor.Gather over executor.NewLocal, in temporary directories.

// gather reads the state m's probes ask for.
func gather(t *testing.T, conn executor.Conn, m Module) *Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := executor.Gather(ctx, conn, executor.Request{Probes: m.Probes()})
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return &Target{Host: "local", Address: "127.0.0.1", Conn: conn, State: st}
}

// converge checks m, applies the diff, gathers again and checks that
// nothing differs any more. It returns the first diff.
func converge(t *testing.T, m Module) *Diff {
	t.Helper()
	conn := executor.NewLocal(executor.LocalOptions{})
	ctx := context.Background()
	tgt := gather(t, conn, m)
	d, err := m.Check(ctx, tgt)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if d.Empty() {
		return d
	}
	if err := m.Apply(ctx, tgt, d); err != nil {
		t.Fatalf("apply: %v", err)
	}
	again, err := m.Check(ctx, gather(t, conn, m))
	if err != nil {
		t.Fatalf("re-check: %v", err)
	}
	if !again.Empty() {
		t.Fatalf("still differs after apply: %+v", again)
	}
	return d
}

// checkOnly returns the diff of m against the current state.
func checkOnly(t *testing.T, m Module) (*Diff, error) {
	t.Helper()
	conn := executor.NewLocal(executor.LocalOptions{})
	return m.Check(context.Background(), gather(t, conn, m))
}

func changeList(d *Diff) string {
	var s []string
	for _, c := range d.Changes {
		s = append(s, c.Attr+":"+c.Old+"->"+c.New)
	}
	return strings.Join(s, " ")
}

func currentUser(t *testing.T) (string, string) {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return u.Username, g.Name
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestFileLocal(t *testing.T) {
	dir := t.TempDir()
	owner, group := currentUser(t)
	p := filepath.Join(dir, "app.conf")
	src := "content = \"port = 8000\\n\"\nmode = \"0640\"\nowner = \"" + owner + "\"\ngroup = \"" + group + "\"\n"

	// Create.
	d := converge(t, mustDecode(t, "file", p, src))
	if got, want := changeList(d), "exists:absent->present content:-> mode:->0640 owner:->"+owner+" group:->"+group; got != want {
		t.Errorf("create changes %q, want %q", got, want)
	}
	if c := d.Change("content"); c.OldContent != nil || string(c.NewContent) != "port = 8000\n" || c.Path != p {
		t.Errorf("create content change %+v", c)
	}
	if b, _ := os.ReadFile(p); string(b) != "port = 8000\n" {
		t.Errorf("file holds %q", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %o", fi.Mode().Perm())
	}

	// In sync: an empty diff.
	if d, err := checkOnly(t, mustDecode(t, "file", p, src)); err != nil || !d.Empty() {
		t.Fatalf("in sync: %+v, %v", d, err)
	}

	// Modify the content: the old content is in the diff; the mode is kept.
	d = converge(t, mustDecode(t, "file", p, "content = \"port = 9000\\n\"\n"))
	if c := d.Change("content"); c == nil || string(c.OldContent) != "port = 8000\n" || string(c.NewContent) != "port = 9000\n" || len(d.Changes) != 1 {
		t.Errorf("modify: %+v", d)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("rewrite did not keep the mode: %o", fi.Mode().Perm())
	}

	// Mode only: chmod in place, no rewrite.
	ino := inode(t, p)
	d = converge(t, mustDecode(t, "file", p, "content = \"port = 9000\\n\"\nmode = \"0600\"\n"))
	if got := changeList(d); got != "mode:0640->0600" {
		t.Errorf("mode change %q", got)
	}
	if inode(t, p) != ino {
		t.Error("a mode change rewrote the file")
	}

	// Owner and group: as root, hand the file to nobody first.
	if os.Geteuid() == 0 {
		if nobody, err := user.Lookup("nobody"); err == nil {
			uid, _ := strconv.Atoi(nobody.Uid)
			gid, _ := strconv.Atoi(nobody.Gid)
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
			ngroup, _ := user.LookupGroupId(nobody.Gid)
			ino = inode(t, p)
			d = converge(t, mustDecode(t, "file", p, "content = \"port = 9000\\n\"\nowner = \""+owner+"\"\ngroup = \""+group+"\"\n"))
			if got, want := changeList(d), "owner:nobody->"+owner+" group:"+ngroup.Name+"->"+group; got != want {
				t.Errorf("owner change %q, want %q", got, want)
			}
			if inode(t, p) != ino {
				t.Error("an owner change rewrote the file")
			}
		}
	}

	// Sensitive content: no old content, values hidden.
	d = converge(t, mustDecode(t, "file", p, "content = \"secret\"\nsensitive = true\n"))
	if c := d.Change("content"); c == nil || !c.Sensitive || c.OldContent != nil || bytes.Contains([]byte(c.Old+c.New), []byte("secret")) {
		t.Errorf("sensitive change %+v", c)
	}

	// Absent.
	d = converge(t, mustDecode(t, "file", p, "state = \"absent\"\n"))
	if got := changeList(d); got != "exists:present->absent" {
		t.Errorf("absent %q", got)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("file still there: %v", err)
	}
	if d, err := checkOnly(t, mustDecode(t, "file", p, "state = \"absent\"\n")); err != nil || !d.Empty() {
		t.Errorf("absent in sync: %+v, %v", d, err)
	}
}

func TestFileLocalErrors(t *testing.T) {
	dir := t.TempDir()

	// The path is a directory.
	if _, err := checkOnly(t, mustDecode(t, "file", dir, "content = \"x\"\n")); err == nil || !strings.Contains(err.Error(), "is a directory, not a regular file") {
		t.Errorf("directory: %v", err)
	}
	if _, err := checkOnly(t, mustDecode(t, "file", dir, "state = \"absent\"\n")); err == nil || !strings.Contains(err.Error(), "does not remove directories") {
		t.Errorf("absent directory: %v", err)
	}

	// The parent directory is missing: apply fails clearly, creates nothing.
	p := filepath.Join(dir, "missing", "app.conf")
	m := mustDecode(t, "file", p, "content = \"x\"\n")
	conn := executor.NewLocal(executor.LocalOptions{})
	tgt := gather(t, conn, m)
	d, err := m.Check(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	err = m.Apply(context.Background(), tgt, d)
	if err == nil || !strings.Contains(err.Error(), "parent directory "+filepath.Join(dir, "missing")+" does not exist") {
		t.Errorf("missing parent: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(p)); !os.IsNotExist(err) {
		t.Error("the parent directory was created")
	}
}

// TestFileLocalLarge covers files above MaxProbeContent, compared by SHA-256.
func TestFileLocalLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2 × 4 MiB")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "big")
	big := bytes.Repeat([]byte("a"), executor.MaxProbeContent+1)
	if err := os.WriteFile(p, big, 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "big.src")
	big[0] = 'b'
	if err := os.WriteFile(src, big, 0o644); err != nil {
		t.Fatal(err)
	}
	d := converge(t, mustDecode(t, "file", p, "source = \""+src+"\"\n"))
	if c := d.Change("content"); c == nil || !strings.HasPrefix(c.Old, "sha256:") || len(d.Notes) != 1 {
		t.Errorf("large file diff %+v", d)
	}
}

func TestDirectoryLocal(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "srv", "app")

	d := converge(t, mustDecode(t, "directory", p, "mode = \"0750\"\n"))
	if got := changeList(d); got != "exists:absent->present mode:->0750" {
		t.Errorf("create %q", got)
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Errorf("created %v, %v", fi, err)
	}

	d = converge(t, mustDecode(t, "directory", p, "mode = \"0755\"\n"))
	if got := changeList(d); got != "mode:0750->0755" {
		t.Errorf("mode %q", got)
	}

	// absent removes only an empty directory.
	if err := os.WriteFile(filepath.Join(p, "data"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := mustDecode(t, "directory", p, "state = \"absent\"\n")
	conn := executor.NewLocal(executor.LocalOptions{})
	tgt := gather(t, conn, m)
	d, err := m.Check(context.Background(), tgt)
	if err != nil || changeList(d) != "exists:present->absent" {
		t.Fatalf("absent: %+v, %v", d, err)
	}
	if err := m.Apply(context.Background(), tgt, d); err == nil || !strings.Contains(err.Error(), "only empty directories") {
		t.Errorf("non-empty rmdir: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(p, "data")); string(b) != "keep" {
		t.Error("data lost")
	}
	os.Remove(filepath.Join(p, "data"))
	converge(t, m)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("directory still there: %v", err)
	}

	// A file where a directory should be.
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := checkOnly(t, mustDecode(t, "directory", f, "")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file in the way: %v", err)
	}
}

func TestCommandLocal(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	q := func(s string) string { return quoteHCL(s) }
	ctx := context.Background()

	tests := []struct {
		name    string
		src     string
		setup   func()
		skip    string // a note for a skipped command; "" = it runs
		creates bool   // running it creates the marker
	}{
		{"no guard runs", "run = " + q("touch "+marker), nil, "", true},
		{"creates exists", "run = \"false\"\ncreates = " + q(marker), func() { os.WriteFile(marker, nil, 0o644) }, "skipped: " + marker + " exists (creates)", false},
		{"creates missing", "run = " + q("touch "+marker) + "\ncreates = " + q(marker), nil, "", true},
		{"removes missing", "run = \"false\"\nremoves = " + q(marker), nil, "skipped: " + marker + " does not exist (removes)", false},
		{"removes exists", "run = " + q("rm "+marker) + "\nremoves = " + q(marker), func() { os.WriteFile(marker, nil, 0o644) }, "", false},
		{"unless succeeds", "run = \"false\"\nunless = " + q("test -d "+dir), nil, "skipped: unless guard succeeded (test -d " + dir + ")", false},
		{"unless fails", "run = " + q("touch "+marker) + "\nunless = " + q("test -e "+marker), nil, "", true},
		{"only_if fails", "run = \"false\"\nonly_if = \"exit 3\"", nil, "skipped: only_if guard exited 3 (exit 3)", false},
		{"only_if succeeds", "run = " + q("touch "+marker) + "\nonly_if = \"true\"", nil, "", true},
		{"guard sees chdir and environment", "run = " + q("touch "+marker) + "\nchdir = " + q(dir) + "\nenvironment = { WANT = \"yes\" }\nonly_if = " + q("[ \"$WANT\" = yes ] && [ \"$PWD\" = "+dir+" ]"), nil, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(marker)
			if tc.setup != nil {
				tc.setup()
			}
			m := mustDecode(t, "command", "x", tc.src)
			conn := executor.NewLocal(executor.LocalOptions{})
			tgt := gather(t, conn, m)
			d, err := m.Check(ctx, tgt)
			if err != nil {
				t.Fatal(err)
			}
			if tc.skip != "" {
				if !d.Empty() || len(d.Notes) != 1 || d.Notes[0] != tc.skip {
					t.Fatalf("want skipped %q, got %+v", tc.skip, d)
				}
				return
			}
			if !d.Unpreviewable || len(d.Actions()) != 1 || !strings.HasPrefix(d.Actions()[0], "run: ") {
				t.Fatalf("want a run, got %+v", d)
			}
			if err := m.Apply(ctx, tgt, d); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(marker); (err == nil) != tc.creates {
				t.Errorf("marker exists = %v, want %v", err == nil, tc.creates)
			}
			// The re-check on the same module after apply.
			again, err := m.Check(ctx, gather(t, conn, m))
			if err != nil || !again.Empty() {
				t.Errorf("re-check after run: %+v, %v", again, err)
			}
		})
	}
}

func TestCommandLocalRunDetails(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	conn := executor.NewLocal(executor.LocalOptions{})
	run := func(src string) error {
		m := mustDecode(t, "command", "x", src)
		tgt := gather(t, conn, m)
		d, err := m.Check(ctx, tgt)
		if err != nil {
			t.Fatal(err)
		}
		return m.Apply(ctx, tgt, d)
	}

	// chdir and environment, with a value that needs quoting.
	out := filepath.Join(dir, "out")
	if err := run("run = " + quoteHCL("printf '%s|%s' \"$PWD\" \"$GREETING\" > "+out) + "\nchdir = " + quoteHCL(dir) + "\nenvironment = { GREETING = \"it's $HOME `x`\" }\n"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != dir+"|it's $HOME `x`" {
		t.Errorf("output %q", b)
	}

	// A failure reports the exit status and the output's tail.
	err := run("run = \"echo starting; echo 'migration 0042 failed' >&2; exit 3\"\n")
	if err == nil || !strings.Contains(err.Error(), "exited with status 3") || !strings.Contains(err.Error(), "migration 0042 failed") || !strings.Contains(err.Error(), "starting") {
		t.Errorf("failure: %v", err)
	}

	// The timeout bounds the run.
	start := time.Now()
	err = run("run = \"sleep 10\"\ntimeout = \"200ms\"\n")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("timeout: %v after %s", err, time.Since(start))
	}

	// A command whose creates guard is still unmet after it ran is reported
	// again: it would run on every apply.
	m := mustDecode(t, "command", "x", "run = \"true\"\ncreates = "+quoteHCL(filepath.Join(dir, "never"))+"\n")
	tgt := gather(t, conn, m)
	d, _ := m.Check(ctx, tgt)
	if err := m.Apply(ctx, tgt, d); err != nil {
		t.Fatal(err)
	}
	if again, err := m.Check(ctx, gather(t, conn, m)); err != nil || again.Empty() {
		t.Errorf("unmet creates after run: %+v, %v", again, err)
	}
}

// chown clears set-id bits: an owner-only change must restore the declared
// setuid mode, or the re-check fails.
func TestFileOwnerChangeKeepsSetuid(t *testing.T) {
	testenv.NeedRoot(t, "to chown")
	dir := t.TempDir()
	p := filepath.Join(dir, "tool")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o4755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	m := mustDecode(t, "file", p, "content = \"#!/bin/sh\\n\"\nmode = \"4755\"\nowner = \"nobody\"\n")
	d := converge(t, m)
	if changeList(d) != "owner:root->nobody" {
		t.Fatalf("want an owner-only change, got %s", changeList(d))
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("setuid bit lost: %v", fi.Mode())
	}
}
