package sshtest

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

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

	if ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil || ok {
		t.Errorf("keepalive: %v %v (OpenSSH answers with failure)", ok, err)
	}
	want := Stats{Connections: 1, Channels: 1, Execs: 1, KeepAlives: 1}
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

// Like OpenSSH for a root login, the server refuses "signal" requests; and
// like sshd, a closed connection kills nothing: the command only sees its
// standard input close.
func TestServerRefusesSignalsAndKillsNothing(t *testing.T) {
	key, _, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := New(t, Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	c := dial(t, s, key)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "finished")
	if err := sess.Start(`echo ready; sleep 0.5; touch ` + marker); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if err := sess.Signal(ssh.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ok, err := sess.SendRequest("signal", true, ssh.Marshal(struct{ Signal string }{"KILL"}))
	if err != nil || ok {
		t.Errorf("signal request: %v, %v; want refused", ok, err)
	}
	s.CloseConnections()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(marker); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the command was killed: it never finished after its connection closed")
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
