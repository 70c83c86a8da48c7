package hclfmt

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteFileKeepsOwner: run as root, tend fmt gives the rewritten file
// back to its owner and group (the temporary file is root's).
func TestWriteFileKeepsOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file away")
	}
	p := filepath.Join(t.TempDir(), "site.hcl")
	if err := os.WriteFile(p, []byte("a=1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 4321, 4322); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("a=1\n"), []byte("a = 1\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 4321 || st.Gid != 4322 || fi.Mode().Perm() != 0o640 {
		t.Errorf("rewritten as %d:%d %04o, want 4321:4322 0640", st.Uid, st.Gid, fi.Mode().Perm())
	}
}

// TestWriteFileKeepsSpecialBits: the setgid (and setuid, sticky) bits of a
// file survive its rewrite.
func TestWriteFileKeepsSpecialBits(t *testing.T) {
	p := filepath.Join(t.TempDir(), "site.hcl")
	if err := os.WriteFile(p, []byte("a=1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("a=1\n"), []byte("a = 1\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSetgid == 0 || fi.Mode().Perm() != 0o640 {
		t.Errorf("rewritten with mode %v, want setgid and 0640", fi.Mode())
	}
}
