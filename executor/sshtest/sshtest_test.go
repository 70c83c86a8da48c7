package sshtest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func dial(t *testing.T, s *Server, key ssh.Signer) *ssh.Client {
	t.Helper()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(s.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cb, err := knownhosts.New(kh)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{User: "someone", Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, HostKeyCallback: cb})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServer(t *testing.T) {
	key, _, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := New(t, Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}, Dir: dir, Env: []string{"TEND_TEST=yes"}})
	c := dial(t, s, key)

	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output(`echo "$TEND_TEST $(pwd)"; exit 3`)
	var exitErr *ssh.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
		t.Fatalf("exit: %v", err)
	}
	if string(out) != "yes "+dir+"\n" {
		t.Errorf("output %q", out)
	}

	// pkg/sftp's server: posix-rename works, fsync@openssh.com is not
	// offered (clients must cope with "operation unsupported").
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	f, err := sc.OpenFile("a", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	var st *sftp.StatusError
	if err := f.Sync(); !errors.As(err, &st) || st.FxCode() != sftp.ErrSSHFxOpUnsupported {
		t.Errorf("Sync: %v, want operation unsupported", err)
	}
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, "b"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sc.PosixRename("a", "b"); err != nil {
		t.Fatalf("posix-rename over an existing file: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "b")); string(got) != "data" {
		t.Errorf("after rename: %q", got)
	}
	if wd, err := sc.Getwd(); err != nil || wd != dir {
		t.Errorf("Getwd = %q, %v; want %q", wd, err, dir)
	}

	if ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil || ok {
		t.Errorf("keepalive: %v %v (OpenSSH answers with failure)", ok, err)
	}
	want := Stats{Connections: 1, Channels: 2, Execs: 1, SFTPSessions: 1, KeepAlives: 1}
	if got := s.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if users := s.Users(); len(users) != 1 || users[0] != "someone" {
		t.Errorf("Users() = %v", users)
	}
}

func TestServerRefusesUnknownKeys(t *testing.T) {
	key, _, _ := NewKey()
	other, _, _ := NewKey()
	s := New(t, Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	_, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{User: "x", Auth: []ssh.AuthMethod{ssh.PublicKeys(other)}, HostKeyCallback: ssh.FixedHostKey(s.HostKey())})
	if err == nil {
		t.Fatal("unknown key accepted")
	}
}

// A "signal" request delivers the named signal to the command's process
// group (the command can trap it), as OpenSSH does.
func TestServerSignal(t *testing.T) {
	key, _, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	s := New(t, Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	c := dial(t, s, key)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(`trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if err := sess.Signal(ssh.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	rest, _ := io.ReadAll(r)
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the command did not end after SIGTERM")
	}
	var exitErr *ssh.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 7 || string(rest) != "got TERM\n" {
		t.Errorf("after SIGTERM: %v, output %q; want the trap's exit 7 and its output", err, rest)
	}
}

// Like sshd, the server forwards output until every process holding the
// command's stdout and stderr has closed them, even after the command
// exited: a session only ends when what the command left running is done
// with its output.
func TestServerOutputOutlivesCommand(t *testing.T) {
	key, _, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	s := New(t, Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	c := dial(t, s, key)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	start := time.Now()
	err = sess.Run(`(sleep 0.5; echo late; echo late-err >&2) & echo early; exit 3`)
	var exitErr *ssh.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
		t.Fatalf("exit: %v", err)
	}
	if stdout.String() != "early\nlate\n" || stderr.String() != "late-err\n" {
		t.Errorf("output %q and %q, want what the background process wrote too", stdout.String(), stderr.String())
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("the session ended after %s, before the background process was done with its output", d)
	}
}
