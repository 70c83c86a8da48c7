package executor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nobodyDir makes a directory owned by the user nobody (mode 0755).
func nobodyDir(t *testing.T, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, userID(t, "nobody"), groupID(t, "nogroup")); err != nil {
		t.Fatal(err)
	}
	return d
}

// Finding the inventory's state directory (which runs its own trust check)
// leaves the verdict of the write's trust check alone: a file of nobody's
// in nobody's directory is still written as nobody, never as root.
func TestStateDirKeepsTheWritersVerdict(t *testing.T) {
	needRoot(t, "to check a directory of another user as root")
	base := t.TempDir()
	for d := base; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	theirs := nobodyDir(t, base, "theirs")
	state := filepath.Join(base, "state")
	c := NewLocal(LocalOptions{StateDir: state})
	script := stateScript + "tend_trust " + ShellQuote(theirs) + " nobody || exit 1\necho \"$tend_as\"\ntend_state_dir create || exit 1\necho \"$tend_as\"\n"
	res, err := c.Run(context.Background(), Command{Script: script})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "nobody\nnobody\n" {
		t.Errorf("the writer's verdict before and after the state directory: %q, want nobody twice (stderr %q)", got, res.Stderr)
	}
}

// As root, tend writes only where nobody else can swap entries: a
// directory another user owns (or can write) is refused before anything is
// written, unless that user is the file's owner, who then writes it.
func TestWriteFileTrust(t *testing.T) {
	needRoot(t, "to write as root into other users' directories")
	c := NewLocal(LocalOptions{})
	ctx := context.Background()
	base := t.TempDir()
	// nobody must be able to reach its directory.
	for d := base; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	theirs := nobodyDir(t, base, "theirs")
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	linked := filepath.Join(base, "linked")
	if err := os.Symlink(theirs, linked); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(theirs, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil { // root's, inside nobody's
		t.Fatal(err)
	}

	for _, tc := range []struct {
		path, why string
	}{
		{filepath.Join(theirs, "unit.service"), theirs + " belongs to nobody"},
		{filepath.Join(open, "unit.service"), open + " is writable by users other than its owner root (mode 777)"},
		{filepath.Join(linked, "unit.service"), theirs + " belongs to nobody"},
		{filepath.Join(sub, "unit.service"), theirs + " belongs to nobody"},
	} {
		err := WriteFile(ctx, c, tc.path, []byte("[Service]\n"), FileAttrs{Mode: 0o644})
		if err == nil || !errors.Is(err, ErrNotChanged) || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: err = %v, want refused: %s", tc.path, err, tc.why)
		}
		if _, err := os.Lstat(tc.path); !os.IsNotExist(err) {
			t.Errorf("%s was written", tc.path)
		}
	}
	if l := litter(t, theirs); len(l) != 0 {
		t.Errorf("litter in %s: %v", theirs, l)
	}

	// The directory's owner is the file's owner: written as that user.
	p := filepath.Join(theirs, "app.conf")
	if err := WriteFile(ctx, c, p, []byte("mine\n"), FileAttrs{Mode: 0o640, Owner: "nobody"}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, "mine\n", 0o640, userID(t, "nobody"), groupID(t, "nogroup"))
	// A symbolic link of another user on the way (in a sticky directory,
	// where anyone can make one) is refused, wherever it points.
	sticky0 := filepath.Join(base, "sticky0")
	os.Mkdir(sticky0, 0o777)
	syscall.Chmod(sticky0, 0o1777)
	etc := filepath.Join(base, "etc")
	os.Mkdir(etc, 0o755)
	link := filepath.Join(sticky0, "app")
	os.Symlink(etc, link)
	os.Lchown(link, userID(t, "nobody"), -1)
	if err := WriteFile(ctx, c, filepath.Join(link, "f"), []byte("x"), FileAttrs{}); err == nil || !strings.Contains(err.Error(), link+" is a symbolic link of nobody") {
		t.Errorf("through another user's symlink: %v", err)
	}
	// The same as a chmod in place (TrustedScript with an entry): an entry
	// of another user in a sticky directory, or a symlink, is refused.
	theirFile := filepath.Join(sticky0, "conf")
	os.WriteFile(theirFile, []byte("x"), 0o600)
	os.Chown(theirFile, userID(t, "nobody"), -1)
	for entry, why := range map[string]string{theirFile: "in a sticky directory where its owner can swap it", link: "is a symbolic link: tend changes no mode"} {
		res, err := c.Run(ctx, Command{Script: TrustedScript(sticky0, entry, "chmod 0644 "+ShellQuote(entry))})
		if err != nil || !strings.Contains(TrustRefusal(res), why) {
			t.Errorf("chmod of %s: %+v %v, want refused: %s", entry, res, err, why)
		}
	}
	if fi, _ := os.Stat(theirFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("the refused chmod changed %s", theirFile)
	}
	// A directory with an access control list: its mode says nothing.
	acl := filepath.Join(base, "acl")
	os.Mkdir(acl, 0o755)
	if out, err := exec.Command(needTool(t, "setfacl"), "-m", "u:nobody:rwx", acl).CombinedOutput(); err != nil {
		t.Fatalf("setfacl: %v %s", err, out)
	}
	if err := WriteFile(ctx, c, filepath.Join(acl, "f"), []byte("x"), FileAttrs{}); err == nil || !strings.Contains(err.Error(), "access control list") {
		t.Errorf("a directory with an ACL: %v", err)
	}
	// An ACL on the entry changed in place lets nobody swap it: not refused.
	aclFile := filepath.Join(base, "aclfile")
	os.WriteFile(aclFile, []byte("x"), 0o600)
	if out, err := exec.Command(needTool(t, "setfacl"), "-m", "u:nobody:rw", aclFile).CombinedOutput(); err != nil {
		t.Fatalf("setfacl: %v %s", err, out)
	}
	if res, err := c.Run(ctx, Command{Script: TrustedScript(base, aclFile, "chmod 0640 "+ShellQuote(aclFile))}); err != nil || res.ExitCode != 0 || TrustRefusal(res) != "" {
		t.Errorf("chmod of a file with an ACL: exit %d, stderr %q, %v", res.ExitCode, res.Stderr, err)
	}

	// A root directory with the sticky bit (like /tmp) is fine.
	sticky := filepath.Join(base, "sticky")

	os.Mkdir(sticky, 0o777)
	syscall.Chmod(sticky, 0o1777)
	if err := WriteFile(ctx, c, filepath.Join(sticky, "f"), []byte("x"), FileAttrs{}); err != nil {
		t.Errorf("sticky directory: %v", err)
	}
}

// A full file system fails the write with a clear message; the old file is
// untouched and no temporary file is left.
func TestWriteFileNoSpace(t *testing.T) {
	needRoot(t, "to mount a small tmpfs")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tend-test", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs: %v: %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	p := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := NewLocal(LocalOptions{})
	err := WriteFile(context.Background(), c, p, make([]byte, 1<<20), FileAttrs{})
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, ErrNotChanged) || !strings.Contains(err.Error(), "write "+p+": no space left on device in "+dir) || !strings.Contains(err.Error(), "the old file is untouched") {
		t.Fatalf("err = %v", err)
	}
	checkFile(t, p, "old", 0o644, -1, -1)
	if l := litter(t, dir); len(l) != 0 {
		t.Errorf("litter: %v", l)
	}
}

// tend's own temporary files that a run which died left in a directory are
// removed by the next write there, under the lock: only those (exact name
// pattern, owner) and only those older than the lock.
func TestWriteFileRemovesStaleTemporaries(t *testing.T) {
	needRoot(t, "for files of another owner")
	state := filepath.Join(t.TempDir(), "state")
	c := NewLocal(LocalOptions{StateDir: state})
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	mk := func(name string, uid int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chown(p, uid, -1)
		os.Chtimes(p, old, old)
		return p
	}
	stale := mk(".tend-AbCdEf012345.tmp", 0)
	otherOwner := mk(".tend-ZZZZZZZZZZZZ.tmp", userID(t, "nobody"))
	notOurs := mk(".tend-user-notes.tmp", 0)
	held, _, err := Lock(context.Background(), c, Request{}, LockHolder{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	if err := WriteFile(context.Background(), c, filepath.Join(dir, "f"), []byte("x"), FileAttrs{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the stale temporary file is still there")
	}
	for _, p := range []string{otherOwner, notOurs} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

// Only a failure the write primitive reported before its rename is known
// to have changed nothing; a write killed (or ended without saying why)
// may have renamed the file into place: its outcome is unknown.
func TestWriteResultOutcomes(t *testing.T) {
	for _, tc := range []struct {
		res       Result
		unchanged bool
	}{
		{Result{ExitCode: 1, Stderr: []byte("tend-write-error: verify: the data did not arrive whole\n")}, true},
		{Result{ExitCode: 1, Stderr: []byte("tend-write-error: rename: mv: cannot overwrite directory\n")}, true},
		{Result{ExitCode: 1, Stderr: []byte("tend-trust: /x belongs to nobody\ntend-write-error: trust: /x\n")}, true},
		{Result{ExitCode: 137}, false},
		{Result{ExitCode: 143, Stderr: []byte("tend-write-error: write: head: error\n")}, false},
		{Result{ExitCode: 1, Stderr: []byte("something else\n")}, false},
	} {
		err := WriteResult("/etc/x", FileAttrs{}, tc.res)
		if err == nil || errors.Is(err, ErrNotChanged) != tc.unchanged || errors.Is(err, ErrOutcomeUnknown) == tc.unchanged {
			t.Errorf("%+v: %v (unchanged %v)", tc.res, err, tc.unchanged)
		}
	}
}

// Backup keeps the replaced file beside it (the same inode: content, mode
// and owner as they were), a second backup in the same second gets a name
// of its own, and a new file has nothing to back up.
func TestWriteFileBackup(t *testing.T) {
	c := NewLocal(LocalOptions{})
	ctx := context.Background()
	dir := t.TempDir()
	dest := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(dest, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	for i, content := range []string{"new\n", "newer\n"} {
		if err := WriteFile(ctx, c, dest, []byte(content), FileAttrs{Mode: 0o600, Backup: true}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(dest); string(got) != content {
			t.Fatalf("write %d: dest holds %q", i, got)
		}
	}
	baks, _ := filepath.Glob(dest + ".*~")
	if len(baks) != 2 {
		t.Fatalf("backups: %v, want 2", baks)
	}
	var contents []string
	for _, b := range baks {
		data, _ := os.ReadFile(b)
		contents = append(contents, string(data))
		if fi, _ := os.Stat(b); fi.Name() == "" || !strings.HasPrefix(fi.Name(), "sshd_config.") {
			t.Errorf("backup name %s", b)
		}
	}
	if !(contents[0] == "old\n" && contents[1] == "new\n") && !(contents[0] == "new\n" && contents[1] == "old\n") {
		t.Errorf("backups hold %q, want the old and the new content", contents)
	}
	for _, b := range baks {
		if data, _ := os.ReadFile(b); string(data) == "old\n" {
			if fi, _ := os.Stat(b); fi.Mode().Perm() != 0o640 {
				t.Errorf("the backup of the first file has mode %v, want its own 0640", fi.Mode().Perm())
			}
		}
	}
	fresh := filepath.Join(dir, "fresh")
	if err := WriteFile(ctx, c, fresh, []byte("x"), FileAttrs{Backup: true}); err != nil {
		t.Fatal(err)
	}
	if baks, _ := filepath.Glob(fresh + ".*~"); len(baks) != 0 {
		t.Errorf("a new file was backed up: %v", baks)
	}
}
