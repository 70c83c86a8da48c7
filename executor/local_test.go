package executor

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLocalRun(t *testing.T) {
	c := NewLocal(LocalOptions{Host: "me"})
	defer c.Close()
	ctx := context.Background()
	tests := []struct {
		name       string
		cmd        Command
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"echo", Command{Script: "echo hello"}, 0, "hello\n", ""},
		{"stderr and exit", Command{Script: "echo oops >&2; exit 3"}, 3, "", "oops\n"},
		{"stdin", Command{Script: "tr a-z A-Z", Input: []byte("abc")}, 0, "ABC", ""},
		{"no stdin is EOF", Command{Script: "cat; echo done"}, 0, "done\n", ""},
		{"posix sh", Command{Script: `x='a b'; printf '%s|' $x`}, 0, "a|b|", ""},
		{"killed by signal", Command{Script: "kill -TERM $$"}, 128 + 15, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Run(ctx, tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != tt.wantCode || string(res.Stdout) != tt.wantStdout || string(res.Stderr) != tt.wantStderr {
				t.Errorf("got (%d, %q, %q), want (%d, %q, %q)", res.ExitCode, res.Stdout, res.Stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
	if st := c.Stats(); st.Commands != len(tests) || st.RoundTrips != len(tests) {
		t.Errorf("stats = %+v, want %d commands and round trips", st, len(tests))
	}
}

// A script with a NUL byte is refused: a shell would drop the byte and run
// another script than the one given.
func TestScriptWithNULIsNotRun(t *testing.T) {
	c := NewLocal(LocalOptions{})
	defer c.Close()
	marker := filepath.Join(t.TempDir(), "ran")
	_, err := c.Run(context.Background(), Command{Script: "touch " + ShellQuote(marker) + "\x00"})
	if err == nil || !strings.Contains(err.Error(), "NUL byte") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the script ran")
	}
}

func TestLocalRunTimeout(t *testing.T) {
	c := NewLocal(LocalOptions{CommandTimeout: 5 * time.Second})
	start := time.Now()
	// The background child keeps stdout open: the timeout must still win.
	_, err := c.Run(context.Background(), Command{Script: "sleep 30 & sleep 30", Timeout: 200 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if err.Error() != "timed out after 200ms; the command was stopped on the host" {
		t.Errorf("error %q does not say it timed out and was stopped", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Run took %s after a 200ms timeout", d)
	}
}

// litter returns the names in dir that look like tend's temporary files.
func litter(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tend-") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestLocalWriteFile(t *testing.T) {
	c := NewLocal(LocalOptions{})
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.conf")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(ctx, c, path, []byte("new\n"), FileAttrs{Mode: 0o640, Owner: "root", Group: "daemon"}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "new\n", 0o640, 0, groupID(t, "daemon"))
	if l := litter(t, dir); len(l) != 0 {
		t.Errorf("temporary files left behind: %v", l)
	}

	// Setuid bits in either convention, applied after the chown.
	if err := WriteFile(ctx, c, path, []byte("x"), FileAttrs{Mode: 0o4755, Owner: "daemon"}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "x", 0o4755, userID(t, "daemon"), 0)
	if err := WriteFile(ctx, c, path, []byte("y"), FileAttrs{Mode: os.ModeSetgid | 0o750}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "y", 0o2750, 0, 0)
}

func TestLocalWriteFileFailureLeavesOldFile(t *testing.T) {
	c := NewLocal(LocalOptions{})
	ctx := context.Background()
	dir := t.TempDir()
	// The target is a directory: the rename must fail.
	target := filepath.Join(dir, "conf")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "keep"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(ctx, c, target, []byte("new"), FileAttrs{Mode: 0o644}); err == nil {
		t.Fatal("WriteFile over a directory succeeded")
	}
	if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
		t.Fatalf("target changed: %v %v", fi, err)
	}
	if l := litter(t, dir); len(l) != 0 {
		t.Errorf("temporary files left behind: %v", l)
	}
	// An unknown owner fails before the rename, leaving the old file.
	path := filepath.Join(dir, "file")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(ctx, c, path, []byte("new"), FileAttrs{Owner: "no-such-user-tend"})
	if err == nil || !strings.Contains(err.Error(), "no-such-user-tend") {
		t.Fatalf("err = %v, want an unknown owner error", err)
	}
	checkFile(t, path, "old", 0o644, -1, -1)
	if l := litter(t, dir); len(l) != 0 {
		t.Errorf("temporary files left behind: %v", l)
	}
}

func TestLocalDialUnix(t *testing.T) {
	sock := serveHTTPOnUnix(t, "local says hi")
	c := NewLocal(LocalOptions{})
	conn, err := c.DialUnix(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	if got := httpGetOver(t, conn); got != "local says hi" {
		t.Errorf("body = %q", got)
	}
}

// serveHTTPOnUnix serves body over HTTP on a new unix socket and returns its
// path.
func serveHTTPOnUnix(t *testing.T, body string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

// httpGetOver sends one GET over conn and returns the body.
func httpGetOver(t *testing.T, conn net.Conn) string {
	t.Helper()
	tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := client.Get("http://unix/health/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkFile(t *testing.T, path, content string, perm uint32, uid, gid int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != content {
		t.Errorf("%s: content %q, want %q", path, data, content)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if got := st.Mode & 0o7777; got != perm {
		t.Errorf("%s: mode %o, want %o", path, got, perm)
	}
	if uid >= 0 && int(st.Uid) != uid {
		t.Errorf("%s: uid %d, want %d", path, st.Uid, uid)
	}
	if gid >= 0 && int(st.Gid) != gid {
		t.Errorf("%s: gid %d, want %d", path, st.Gid, gid)
	}
}

func userID(t *testing.T, name string) int {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.Atoi(u.Uid)
	return id
}

func groupID(t *testing.T, name string) int {
	t.Helper()
	g, err := user.LookupGroup(name)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.Atoi(g.Gid)
	return id
}
