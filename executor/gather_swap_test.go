package executor

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestFileProbeSymlinkSwap: a user who owns the directory of a probed file
// swaps it, over and over, for a symlink to a root-only file. The probe
// (run as root) must never return that file's content as the path's: a
// module that edits the file would show it in plans and write it back
// where the user can read it. Each round runs tend_file once; the swaps
// hit the moment between its symlink check and its open often enough to
// have shown the hole (seven in 500 rounds, on average).
func TestFileProbeSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("SECRET-SHADOW\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "app.conf")
	if err := os.WriteFile(p, []byte("benign\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			_ = os.Symlink(secret, p+".l")
			_ = os.Rename(p+".l", p)
			_ = os.WriteFile(p+".f", []byte("benign\n"), 0o644)
			_ = os.Rename(p+".f", p)
		}
	}()
	defer func() { stop.Store(true); <-done }()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script := strings.Replace(scriptHead, "MAXCONTENT", "4096", 1) + `i=0; while [ $i -lt 500 ]; do tend_file "$1"; i=$((i + 1)); done`
	out, err := exec.CommandContext(ctx, "sh", "-c", script, "sh", p).Output()
	if err != nil && ctx.Err() != nil {
		t.Fatalf("the rounds did not finish in time: %v", err)
	}
	leak := "content " + base64.StdEncoding.EncodeToString([]byte("SECRET-SHADOW\n"))
	rounds, read := strings.Count(string(out), "stat "), strings.Count(string(out), "content ")
	if n := strings.Count(string(out), leak); n > 0 {
		t.Fatalf("the probe returned the root-only file through a swapped-in symlink %d times in %d rounds", n, rounds)
	}
	t.Logf("%d rounds, %d read the file", rounds, read)
}
