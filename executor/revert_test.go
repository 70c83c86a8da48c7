package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A run that keeps what it changes can put every path back: a replaced
// file's bytes and mode, a new file removed, a removed file restored, a
// new directory removed after the file made in it; the first change of a
// path in a run is what counts; another run's kept state is dropped.
func TestKeepAndRevert(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(t.TempDir(), "state")
	conn := NewLocal(LocalOptions{Host: "h", StateDir: state})
	defer conn.Close()
	ctx := context.Background()
	p := func(name string) string { return filepath.Join(dir, name) }
	if err := os.WriteFile(p("a.conf"), []byte("old a\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("gone.conf"), []byte("keep me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(c Conn, script string) {
		t.Helper()
		res, err := c.Run(ctx, Command{Script: TrustedScript(dir, "", script)})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("%s: %v %d %s", script, err, res.ExitCode, res.Stderr)
		}
	}

	// An earlier run's kept state is dropped by the next run's first keep.
	old := Keeping(conn, "run-0")
	if err := WriteFile(ctx, old, p("b.conf"), []byte("run 0\n"), FileAttrs{}); err != nil {
		t.Fatal(err)
	}

	k := Keeping(conn, "run-1")
	for _, content := range []string{"new a\n", "newer a\n"} {
		if err := WriteFile(ctx, k, p("a.conf"), []byte(content), FileAttrs{Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
	}
	run(k, "tend_keep "+ShellQuote(p("sub"))+" && mkdir -- "+ShellQuote(p("sub")))
	if err := WriteFile(ctx, k, p("sub/new.conf"), []byte("new\n"), FileAttrs{}); err != nil {
		t.Fatal(err)
	}
	run(k, "tend_keep "+ShellQuote(p("gone.conf"))+" && rm -f -- "+ShellQuote(p("gone.conf")))
	if _, err := os.Stat(filepath.Join(state, "revert", "run-0")); !os.IsNotExist(err) {
		t.Errorf("run-0's kept state is still there: %v", err)
	}

	got, err := Revert(ctx, conn, "run-1", false)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range got {
		if r.Err != "" {
			t.Errorf("%s: %s", r.Path, r.Err)
		}
		paths = append(paths, strings.TrimPrefix(r.Path, dir+"/"))
	}
	// Newest change first.
	if strings.Join(paths, " ") != "gone.conf sub/new.conf sub a.conf" {
		t.Errorf("reverted %v", paths)
	}
	if b, err := os.ReadFile(p("a.conf")); err != nil || string(b) != "old a\n" {
		t.Errorf("a.conf = %q, %v", b, err)
	}
	if fi, err := os.Stat(p("a.conf")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("a.conf mode: %v %v", fi.Mode(), err)
	}
	if b, err := os.ReadFile(p("gone.conf")); err != nil || string(b) != "keep me\n" {
		t.Errorf("gone.conf = %q, %v", b, err)
	}
	if fi, err := os.Stat(p("gone.conf")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("gone.conf mode: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(p("sub")); !os.IsNotExist(err) {
		t.Errorf("sub should be gone: %v", err)
	}
	// b.conf was run-0's: this run does not touch it.
	if b, err := os.ReadFile(p("b.conf")); err != nil || string(b) != "run 0\n" {
		t.Errorf("b.conf = %q, %v", b, err)
	}

	// A path that cannot be put back is reported, the others still are.
	k2 := Keeping(conn, "run-2")
	if err := WriteFile(ctx, k2, p("a.conf"), []byte("x\n"), FileAttrs{}); err != nil {
		t.Fatal(err)
	}
	run(k2, "tend_keep "+ShellQuote(p("d"))+" && mkdir -- "+ShellQuote(p("d")))
	if err := os.WriteFile(p("d/someone-elses"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err = Revert(ctx, conn, "run-2", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Err == "" || got[1].Err != "" {
		t.Errorf("want d failed and a.conf put back: %+v", got)
	}
	if b, _ := os.ReadFile(p("a.conf")); string(b) != "old a\n" {
		t.Errorf("a.conf = %q", b)
	}
}

// A validate command sees the new file before it replaces the old one: a
// rejected file leaves the old one (and no temporary file), an accepted
// one is written.
func TestWriteFileValidate(t *testing.T) {
	dir := t.TempDir()
	conn := NewLocal(LocalOptions{Host: "h", StateDir: filepath.Join(t.TempDir(), "state")})
	defer conn.Close()
	ctx := context.Background()
	dest := filepath.Join(dir, "app.conf")
	if err := os.WriteFile(dest, []byte("good old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := FileAttrs{Validate: "grep -q '^good' %s && test \"$(pwd)\" = " + ShellQuote(dir)}
	err := WriteFile(ctx, conn, dest, []byte("bad\n"), check)
	if err == nil || !errors.Is(err, ErrNotChanged) || !strings.Contains(err.Error(), "rejected by its validate command") {
		t.Fatalf("bad content: %v", err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "good old\n" {
		t.Errorf("the old file changed: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("litter: %v", entries)
	}
	if err := WriteFile(ctx, conn, dest, []byte("good new\n"), check); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "good new\n" {
		t.Errorf("got %q", b)
	}
	if _, err := WriteScript(dest, nil, FileAttrs{Validate: "sshd -t"}); err == nil {
		t.Error("a validate command that does not name the file was accepted")
	}
}

// The reviewer's cases: a chmod is undone in place (what the application
// wrote since stays), a removed directory comes back, a path with a
// trailing blank is the path it is, a path with a newline is not kept, a
// file its owner cannot read is reported unkept, and the run's kept state
// goes when the run drops it.
func TestKeepAndRevertEdges(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(t.TempDir(), "state")
	conn := NewLocal(LocalOptions{Host: "h", StateDir: state})
	defer conn.Close()
	ctx := context.Background()
	p := func(name string) string { return filepath.Join(dir, name) }
	run := func(c Conn, script string) {
		t.Helper()
		res, err := c.Run(ctx, Command{Script: TrustedScript(dir, "", script)})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("%s: %v %d %s", script, err, res.ExitCode, res.Stderr)
		}
	}
	if err := os.WriteFile(p("log"), []byte("line 1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p("old-dir"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("app.conf"), []byte("plain\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := Keeping(conn, "run-e")
	run(k, "tend_keep "+ShellQuote(p("log"))+" attrs && chmod 0600 "+ShellQuote(p("log")))
	run(k, "tend_keep "+ShellQuote(p("old-dir"))+" && rmdir -- "+ShellQuote(p("old-dir")))
	if err := WriteFile(ctx, k, p("app.conf "), []byte("blank\n"), FileAttrs{}); err != nil {
		t.Fatal(err)
	}
	res, err := k.Run(ctx, Command{Script: TrustedScript(dir, "", "tend_keep "+ShellQuote(p("new\nline")))})
	if err != nil || res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "newline") {
		t.Errorf("a path with a newline was kept: %v %d %s", err, res.ExitCode, res.Stderr)
	}
	// The application writes on after the chmod.
	f, err := os.OpenFile(p("log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("line 2\n")
	f.Close()

	got, err := Revert(ctx, conn, "run-e", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.Err != "" {
			t.Errorf("%q: %s", r.Path, r.Err)
		}
	}
	if len(got) != 3 || got[0].Path != p("app.conf ") {
		t.Errorf("reverted %+v", got)
	}
	if b, _ := os.ReadFile(p("log")); string(b) != "line 1\nline 2\n" {
		t.Errorf("the chmod's revert rewrote the file: %q", b)
	}
	if fi, _ := os.Stat(p("log")); fi.Mode().Perm() != 0o640 {
		t.Errorf("log mode %v", fi.Mode())
	}
	if fi, err := os.Stat(p("old-dir")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Errorf("the removed directory is not back: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(p("app.conf")); string(b) != "plain\n" {
		t.Errorf("app.conf (without the blank) was touched: %q", b)
	}
	if _, err := os.Stat(p("app.conf ")); !os.IsNotExist(err) {
		t.Errorf("the new file with a blank is still there: %v", err)
	}

	// The run's end drops what it kept.
	if _, err := os.Stat(filepath.Join(state, "revert", "run-e")); err != nil {
		t.Fatalf("kept state: %v", err)
	}
	run(k, "tend_drop_kept")
	if _, err := os.Stat(filepath.Join(state, "revert", "run-e")); !os.IsNotExist(err) {
		t.Errorf("kept state after the drop: %v", err)
	}
}

// What a run kept goes when its run lock is released: secrets it replaced
// do not stay on the host.
func TestKeptStateEndsWithTheRun(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	dir := t.TempDir()
	conn := NewLocal(LocalOptions{StateDir: state})
	defer conn.Close()
	ctx := context.Background()
	k := Keeping(conn, "run-l")
	held, _, err := Lock(ctx, k, Request{}, LockHolder{Command: "tend apply"})
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "secret")
	if err := os.WriteFile(dest, []byte("old secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(ctx, k, dest, []byte("new secret\n"), FileAttrs{Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(state, "revert", "run-l")
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("nothing kept: %v", err)
	}
	start := time.Now()
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Errorf("the kept state outlived the run: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the release took %s", d)
	}
}

// A write with backup makes a link the revert removes: a reverted host has
// no file the run made, the backup included.
func TestRevertRemovesTheBackup(t *testing.T) {
	dir := t.TempDir()
	conn := NewLocal(LocalOptions{Host: "h", StateDir: filepath.Join(t.TempDir(), "state")})
	defer conn.Close()
	ctx := context.Background()
	dest := filepath.Join(dir, "sshd.conf")
	if err := os.WriteFile(dest, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := Keeping(conn, "run-b")
	if err := WriteFile(ctx, k, dest, []byte("new\n"), FileAttrs{Backup: true}); err != nil {
		t.Fatal(err)
	}
	if baks, _ := filepath.Glob(dest + ".*~"); len(baks) != 1 {
		t.Fatalf("backups after the write: %v", baks)
	}
	if _, err := Revert(ctx, conn, "run-b", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); string(got) != "old\n" {
		t.Errorf("reverted file holds %q", got)
	}
	if baks, _ := filepath.Glob(dest + ".*~"); len(baks) != 0 {
		t.Errorf("the revert left the backup the run made: %v", baks)
	}
}
