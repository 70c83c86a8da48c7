package executor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor/sshtest"
)

// A privileged write flushes the new file, renames it into place and then
// flushes the directory, so that the rename survives a crash.
func TestPrivilegedWriteSyncsDirectory(t *testing.T) {
	realSync, err := exec.LookPath("sync")
	if err != nil {
		t.Skipf("no sync(1): %v", err)
	}
	fake := installFakeSudo(t, "")
	fake.Setenv(t)
	log := filepath.Join(fake.Dir, "sync.log")
	dir := t.TempDir()
	path := filepath.Join(dir, "app.conf")
	// The shim records its arguments and whether path held the new data
	// when it was called, then does the real work.
	shim := "#!/bin/sh\nnew=no; [ \"$(cat " + ShellQuote(path) + " 2>/dev/null)\" = new ] && new=yes\n" +
		"printf '%s %s\\n' \"$new\" \"$*\" >> " + ShellQuote(log) + "\nexec " + ShellQuote(realSync) + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(fake.Bin, "sync"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := localAs(LocalOptions{Become: true})
	if err := c.WriteFile(context.Background(), path, []byte("new"), FileAttrs{Mode: 0o640, Become: true}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "new", 0o640, 0, 0)
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	calls := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(calls) != 2 || !strings.HasPrefix(calls[0], "no -- "+dir+"/.tend-") || calls[1] != "yes -- "+dir {
		t.Errorf("sync calls %q, want the temporary file before the rename, then %s after it", calls, dir)
	}
}

// Over SFTP, with a server that offers fsync@openssh.com (OpenSSH's
// sftp-server), the new file is flushed before the rename and the
// directory after it.
func TestSSHWriteFileSyncsDirectory(t *testing.T) {
	const server = "/usr/lib/openssh/sftp-server"
	if _, err := os.Stat(server); err != nil {
		t.Skipf("OpenSSH's sftp-server is not installed (%v)", err)
	}
	log := filepath.Join(t.TempDir(), "sftp-server.log")
	env := newSSHEnv(t, sshtest.Options{SFTPCommand: "exec " + server + " -e -l DEBUG3 2>>" + ShellQuote(log)})
	c := env.dial(t, env.config())
	dir := t.TempDir()
	path := filepath.Join(dir, "app.conf")
	if err := c.WriteFile(context.Background(), path, []byte("new"), FileAttrs{Mode: 0o640}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "new", 0o640, 0, 0)
	c.Close()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	// The server's log of the operations that matter, in order.
	var ops []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.ReplaceAll(l, dir, "DIR")
		switch {
		case strings.HasPrefix(l, "open "), strings.HasPrefix(l, "fsync "), strings.HasPrefix(l, "posix-rename "):
			ops = append(ops, regexp.MustCompile(`\.tend-[0-9a-f]+\.tmp`).ReplaceAllString(strings.TrimSpace(l), "TMP"))
		}
	}
	want := []string{
		`open "DIR/TMP" flags WRITE,CREATE,EXCL mode 0600`,
		`fsync "DIR/TMP"`,
		`posix-rename old "DIR/TMP" new "DIR/app.conf"`,
		`open "DIR" flags READ mode 0600`,
		`fsync "DIR"`,
	}
	if strings.Join(ops, "\n") != strings.Join(want, "\n") {
		t.Errorf("sftp-server did\n\t%s\nwant\n\t%s\n(log:\n%s)", strings.Join(ops, "\n\t"), strings.Join(want, "\n\t"), data)
	}
}
