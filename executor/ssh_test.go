package executor

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tend-sh/tend/executor/sshtest"
)

// sshEnv is an in-process SSH server with a client key and a known_hosts
// file that trusts it.
type sshEnv struct {
	srv        *sshtest.Server
	key        ssh.Signer
	keyFile    string
	knownHosts string
	home       string // HOME of the test process (the client side)
	loginHome  string // the server's working directory (the login's home)
}

// newSSHEnv starts a server. HOME points to an empty temporary directory so
// the user's own keys and known_hosts never take part.
func newSSHEnv(t *testing.T, opts sshtest.Options) *sshEnv {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	signer, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeKeyFile(t, filepath.Join(t.TempDir(), "id_test"), priv, "")
	opts.AuthorizedKeys = append(opts.AuthorizedKeys, signer.PublicKey())
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	srv := sshtest.New(t, opts)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte("# tend tests\n"+srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &sshEnv{srv: srv, key: signer, keyFile: keyFile, knownHosts: kh, home: home, loginHome: opts.Dir}
}

// config returns an SSHConfig that reaches the server as root.
func (e *sshEnv) config() SSHConfig {
	return SSHConfig{
		Host:            "web1",
		Address:         e.srv.Host(),
		Port:            e.srv.Port(),
		User:            "root",
		IdentityFiles:   []string{e.keyFile},
		AgentSocket:     "none",
		KnownHostsFiles: []string{e.knownHosts},
		ConnectTimeout:  5 * time.Second,
	}
}

func (e *sshEnv) dial(t *testing.T, cfg SSHConfig) Conn {
	t.Helper()
	c, err := DialSSH(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// writeKeyFile writes key in OpenSSH format, encrypted when passphrase is
// not empty.
func writeKeyFile(t *testing.T, path string, key crypto.PrivateKey, passphrase string) string {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(key, "test key")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(key, "test key", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSSHRun(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	c := env.dial(t, env.config())
	ctx := context.Background()
	if c.Host() != "web1" {
		t.Errorf("Host() = %q", c.Host())
	}
	tests := []struct {
		cmd            Command
		code           int
		stdout, stderr string
	}{
		{Command{Script: "echo hello; echo err >&2"}, 0, "hello\n", "err\n"},
		{Command{Script: "exit 42"}, 42, "", ""},
		{Command{Script: "wc -c", Input: []byte(strings.Repeat("x", 100000))}, 0, "100000\n", ""},
		{Command{Script: "wc -c", Input: []byte{}}, 0, "0\n", ""},
		{Command{Script: "cat; echo end"}, 0, "end\n", ""},
		{Command{Script: "kill -KILL $$"}, 128 + 9, "", ""},
	}
	for _, tt := range tests {
		res, err := c.Run(ctx, tt.cmd)
		if err != nil {
			t.Fatalf("%q: %v", tt.cmd.Script, err)
		}
		if res.ExitCode != tt.code || strings.TrimSpace(string(res.Stdout)) != strings.TrimSpace(tt.stdout) || string(res.Stderr) != tt.stderr {
			t.Errorf("%q: got (%d, %q, %q), want (%d, %q, %q)", tt.cmd.Script, res.ExitCode, res.Stdout, res.Stderr, tt.code, tt.stdout, tt.stderr)
		}
	}
	st := env.srv.Stats()
	if st.Connections != 1 || st.Execs != len(tests) {
		t.Errorf("server saw %+v, want 1 connection and %d execs", st, len(tests))
	}
	if got := c.Stats(); got.Commands != len(tests) || got.RoundTrips != len(tests) {
		t.Errorf("Stats() = %+v, want %d", got, len(tests))
	}
}

func TestSSHHostKeyUnknownRefused(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	cfg := env.config()
	cfg.KnownHostsFiles = []string{filepath.Join(t.TempDir(), "ssh", "known_hosts")}
	_, err := DialSSH(context.Background(), cfg)
	if !errors.Is(err, ErrHostKey) || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrHostKey", err)
	}
	for _, want := range []string{"web1 (127.0.0.1:", "unknown host key", "--accept-new-host-keys", "ssh-keyscan -p " + strconv.Itoa(env.srv.Port()), ssh.FingerprintSHA256(env.srv.HostKey())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if env.srv.Stats().Execs != 0 || env.srv.Stats().Channels != 0 {
		t.Errorf("something ran on a refused host: %+v", env.srv.Stats())
	}
	if _, err := os.Stat(cfg.KnownHostsFiles[0]); !os.IsNotExist(err) {
		t.Errorf("known_hosts written without --accept-new-host-keys: %v", err)
	}
}

func TestSSHHostKeyAcceptNew(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	cfg := env.config()
	dir := filepath.Join(t.TempDir(), "fresh", ".ssh")
	kh := filepath.Join(dir, "known_hosts")
	cfg.KnownHostsFiles = []string{kh, env.knownHosts + ".absent"}
	cfg.AcceptNewHostKeys = true
	c := env.dial(t, cfg)
	if _, err := c.Run(context.Background(), Command{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	if want := env.srv.KnownHostsLine() + "\n"; string(data) != want {
		t.Errorf("known_hosts = %q, want %q", data, want)
	}
	if !strings.HasPrefix(string(data), "[127.0.0.1]:"+strconv.Itoa(env.srv.Port())+" ssh-ed25519 ") {
		t.Errorf("not OpenSSH format: %q", data)
	}
	for p, want := range map[string]os.FileMode{kh: 0o600, dir: 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode().Perm(), err, want)
		}
	}
	// The recorded key is trusted from now on, without the flag.
	cfg.AcceptNewHostKeys = false
	env.dial(t, cfg)
	// A file whose last line lacks a newline stays line-oriented.
	other := newSSHEnv(t, sshtest.Options{})
	kh2 := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh2, []byte(env.srv.KnownHostsLine()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg2 := other.config()
	cfg2.KnownHostsFiles = []string{kh2}
	cfg2.AcceptNewHostKeys = true
	other.dial(t, cfg2)
	data, _ = os.ReadFile(kh2)
	if want := env.srv.KnownHostsLine() + "\n" + other.srv.KnownHostsLine() + "\n"; string(data) != want {
		t.Errorf("known_hosts = %q, want %q", data, want)
	}
}

func TestSSHHostKeyMismatchRefused(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	impostor, _, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	content := "# line 1\n" + knownhosts.Line([]string{knownhosts.Normalize(env.srv.Addr())}, impostor.PublicKey()) + "\n"
	if err := os.WriteFile(kh, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := env.config()
	cfg.KnownHostsFiles = []string{kh}
	cfg.AcceptNewHostKeys = true // must not matter
	_, err = DialSSH(context.Background(), cfg)
	if !errors.Is(err, ErrHostKey) {
		t.Fatalf("err = %v, want ErrHostKey", err)
	}
	for _, want := range []string{"MISMATCH", kh + ":2", ssh.FingerprintSHA256(env.srv.HostKey()), ssh.FingerprintSHA256(impostor.PublicKey()), "ssh-keygen -R"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if data, _ := os.ReadFile(kh); string(data) != content {
		t.Errorf("known_hosts changed on a mismatch: %q", data)
	}
	if env.srv.Stats().Channels != 0 {
		t.Errorf("something ran on a refused host: %+v", env.srv.Stats())
	}
}

// TestSSHHostKeyAlgorithms: a server offering several host key types must
// be accepted by whichever type is known, even when the client library would
// prefer another one.
func TestSSHHostKeyAlgorithms(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaSigner, _ := ssh.NewSignerFromKey(rsaKey)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, _ := ssh.NewSignerFromKey(ecKey)
	edSigner, _, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	env := newSSHEnv(t, sshtest.Options{HostKey: edSigner, ExtraHostKeys: []ssh.Signer{rsaSigner, ecSigner}})
	for _, known := range []ssh.Signer{edSigner, rsaSigner, ecSigner} {
		t.Run(known.PublicKey().Type(), func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			line := knownhosts.Line([]string{knownhosts.Normalize(env.srv.Addr())}, known.PublicKey())
			if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := env.config()
			cfg.KnownHostsFiles = []string{kh}
			env.dial(t, cfg)
		})
	}
}

func TestSSHAgentAuth(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	_, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	agentSigner, _ := ssh.NewSignerFromKey(priv)
	// A second server that only knows the agent's key.
	env2 := newSSHEnv(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{agentSigner.PublicKey()}})
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := sshtest.ServeAgent(t, keyring)
	t.Setenv("SSH_AUTH_SOCK", sock)

	cfg := env2.config()
	cfg.IdentityFiles = nil // and HOME has no keys: only the agent can log in
	cfg.AgentSocket = ""
	c := env2.dial(t, cfg)
	if _, err := c.Run(context.Background(), Command{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	_ = env

	// Without the agent there is no key at all: a clear error.
	cfg.AgentSocket = "none"
	_, err = DialSSH(context.Background(), cfg)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "auth: no key to authenticate with") {
		t.Fatalf("err = %v", err)
	}
}

func TestSSHIdentityFiles(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		key  crypto.Signer
	}{{"id_rsa", rsaKey}, {"id_ecdsa", ecKey}, {"id_ed25519", edKey}} {
		t.Run(tt.name, func(t *testing.T) {
			signer, err := ssh.NewSignerFromKey(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			env := newSSHEnv(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
			// Configured explicitly.
			cfg := env.config()
			cfg.IdentityFiles = []string{writeKeyFile(t, filepath.Join(t.TempDir(), "k"), tt.key, "")}
			env.dial(t, cfg)
			// Found by default in ~/.ssh.
			if err := os.Mkdir(filepath.Join(env.home, ".ssh"), 0o700); err != nil {
				t.Fatal(err)
			}
			writeKeyFile(t, filepath.Join(env.home, ".ssh", tt.name), tt.key, "")
			cfg.IdentityFiles = nil
			env.dial(t, cfg)
		})
	}
}

func TestSSHEncryptedKey(t *testing.T) {
	_, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(priv)
	env := newSSHEnv(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	keyFile := writeKeyFile(t, filepath.Join(t.TempDir(), "id_locked"), priv, "open sesame")
	cfg := env.config()
	cfg.IdentityFiles = []string{keyFile}

	_, err = DialSSH(context.Background(), cfg)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "identity file "+keyFile+" is encrypted") || !strings.Contains(err.Error(), "ssh-agent") {
		t.Fatalf("err = %v, want a clear encrypted key error", err)
	}

	asked := 0
	cfg.PassphrasePrompt = func(file string) ([]byte, error) {
		asked++
		if file != keyFile {
			t.Errorf("prompted for %s", file)
		}
		return []byte("open sesame"), nil
	}
	env.dial(t, cfg)
	if asked != 1 {
		t.Errorf("asked %d times", asked)
	}

	cfg.PassphrasePrompt = func(string) ([]byte, error) { return []byte("wrong"), nil }
	_, err = DialSSH(context.Background(), cfg)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("err = %v, want a wrong passphrase error", err)
	}

	// The key in the agent: the encrypted file is skipped, no prompt.
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	cfg.AgentSocket = sshtest.ServeAgent(t, keyring)
	cfg.PassphrasePrompt = nil
	env.dial(t, cfg)
}

func TestSSHAuthRefused(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	_, other, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := env.config()
	cfg.IdentityFiles = []string{writeKeyFile(t, filepath.Join(t.TempDir(), "k"), other, "")}
	_, err = DialSSH(context.Background(), cfg)
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "): auth: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestSSHUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	t.Setenv("HOME", t.TempDir())
	_, key, _ := sshtest.NewKey()
	cfg := SSHConfig{Host: "web1", Address: "127.0.0.1", Port: port, AgentSocket: "none",
		IdentityFiles:   []string{writeKeyFile(t, filepath.Join(t.TempDir(), "k"), key, "")},
		KnownHostsFiles: []string{filepath.Join(t.TempDir(), "kh")}, ConnectTimeout: 5 * time.Second}
	start := time.Now()
	_, err = DialSSH(context.Background(), cfg)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "web1 (127.0.0.1:"+strconv.Itoa(port)+"): connect: ") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s to notice a closed port", d)
	}

	// A peer that accepts but never speaks SSH: the handshake times out.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cfg.Port = silent.Addr().(*net.TCPAddr).Port
	cfg.ConnectTimeout = 300 * time.Millisecond
	start = time.Now()
	_, err = DialSSH(context.Background(), cfg)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "handshake: timed out after 300ms") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("connect timeout of 300ms took %s", d)
	}
}

// A command tend gives up on is stopped on the host, although the server
// (like OpenSSH for a root login) refuses signal requests: the supervisor
// stops it when its standard input closes.
func TestSSHCommandTimeout(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	cfg := env.config()
	cfg.CommandTimeout = 300 * time.Millisecond
	c := env.dial(t, cfg)
	marker := filepath.Join(t.TempDir(), "finished")
	start := time.Now()
	_, err := c.Run(context.Background(), Command{Script: "sleep 2; touch " + ShellQuote(marker)})
	var stop *StopError
	if !errors.As(err, &stop) || !stop.Confirmed || stop.ByHost || !errors.Is(err, context.DeadlineExceeded) ||
		err.Error() != "timed out after 300ms; the command was stopped on the host" {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the stop took %s", d)
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the timed-out command went on and finished")
	}
	// The connection survives a timed-out command; a per-command timeout
	// overrides the default.
	res, err := c.Run(context.Background(), Command{Script: "sleep 0.5; echo late", Timeout: 10 * time.Second})
	if err != nil || string(res.Stdout) != "late\n" {
		t.Fatalf("after a timeout: %q, %v", res.Stdout, err)
	}
}

// Cancelling the context (Ctrl-C) stops the command on the host within
// the stop wait, and says so.
func TestSSHInterruptStopsCommand(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	c := env.dial(t, env.config())
	marker := filepath.Join(t.TempDir(), "finished")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Run(ctx, Command{Script: "trap '' TERM; sleep 3; touch " + ShellQuote(marker)})
	var stop *StopError
	if !errors.As(err, &stop) || !stop.Confirmed || !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "interrupted;") {
		t.Fatalf("err = %v", err)
	}
	// SIGTERM is ignored: SIGKILL follows a second later (and the race
	// detector slows everything down).
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the stop took %s", d)
	}
	time.Sleep(3500 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the interrupted command went on and finished")
	}
}

// A connection lost while a command runs is not a success: the outcome is
// unknown, the host unreachable; and the host stops the command (its input
// closed with the connection).
func TestSSHLostConnectionOutcomeUnknown(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	c := env.dial(t, env.config())
	marker := filepath.Join(t.TempDir(), "finished")
	time.AfterFunc(300*time.Millisecond, env.srv.CloseConnections)
	res, err := c.Run(context.Background(), Command{Script: "sleep 1.5; touch " + ShellQuote(marker) + "; exit 3"})
	if err == nil || !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "outcome unknown") {
		t.Fatalf("Run = %+v, %v; want outcome unknown", res, err)
	}
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command went on after its connection was lost")
	}
	// Through sudo, the same (and never "sudo failed").
	fake := installFakeSudo(t, "")
	env = newSSHEnv(t, sshtest.Options{Env: fake.Env()})
	cfg := env.config()
	cfg.User, cfg.Become = "deploy", true
	c = env.dial(t, cfg)
	time.AfterFunc(300*time.Millisecond, env.srv.CloseConnections)
	_, err = c.Run(context.Background(), Command{Script: "sleep 1.5", Become: true})
	if !errors.Is(err, ErrOutcomeUnknown) || strings.Contains(err.Error(), "sudo") {
		t.Fatalf("through sudo: %v", err)
	}
}

func TestSSHKeepAlive(t *testing.T) {
	t.Run("answered", func(t *testing.T) {
		env := newSSHEnv(t, sshtest.Options{})
		cfg := env.config()
		cfg.KeepAlive = 20 * time.Millisecond
		c := env.dial(t, cfg)
		time.Sleep(300 * time.Millisecond)
		if _, err := c.Run(context.Background(), Command{Script: "true"}); err != nil {
			t.Fatal(err)
		}
		if n := env.srv.Stats().KeepAlives; n < 3 {
			t.Errorf("server got %d keepalives in 300ms at 20ms intervals", n)
		}
	})
	t.Run("unanswered", func(t *testing.T) {
		env := newSSHEnv(t, sshtest.Options{IgnoreKeepAlives: true})
		cfg := env.config()
		cfg.KeepAlive = 30 * time.Millisecond
		c := env.dial(t, cfg)
		deadline := time.Now().Add(5 * time.Second)
		var err error
		for time.Now().Before(deadline) {
			if _, err = c.Run(context.Background(), Command{Script: "true"}); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "keepalives") {
			t.Fatalf("err = %v, want the connection closed after missed keepalives", err)
		}
	})
}

func TestSSHWriteFile(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	c := env.dial(t, env.config())
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "staffrota.service")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := env.srv.Stats().Execs
	if err := WriteFile(ctx, c, path, []byte("[Service]\nRestart=always\n"), FileAttrs{Mode: 0o640, Owner: "daemon", Group: "root"}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "[Service]\nRestart=always\n", 0o640, userID(t, "daemon"), 0)
	if err := WriteFile(ctx, c, path, []byte("v2"), FileAttrs{Mode: 0o4750, Group: "daemon"}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "v2", 0o4750, 0, groupID(t, "daemon"))
	binary := make([]byte, 256<<10)
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	if err := WriteFile(ctx, c, filepath.Join(dir, "blob"), binary, FileAttrs{}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(dir, "blob"), string(binary), 0o644, 0, 0)
	if err := WriteFile(ctx, c, filepath.Join(dir, "new"), nil, FileAttrs{}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(dir, "new"), "", 0o644, 0, 0)
	if l := litter(t, dir); len(l) != 0 {
		t.Errorf("temporary files left behind: %v", l)
	}
	if n := env.srv.Stats().Execs - before; n != 4 {
		t.Errorf("%d commands for four writes, want 4 (one each, whatever the owner)", n)
	}

	// A failing rename (the target is a directory) leaves it as it was.
	target := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(ctx, c, target, []byte("x"), FileAttrs{})
	if err == nil || !strings.HasPrefix(err.Error(), "write "+target+": rename:") || !errors.Is(err, ErrNotChanged) {
		t.Fatalf("err = %v", err)
	}
	if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
		t.Errorf("target changed: %v", err)
	}
	if l := litter(t, dir); len(l) != 0 {
		t.Errorf("temporary files left behind: %v", l)
	}
	// Unknown owner: nothing is changed.
	err = WriteFile(ctx, c, path, []byte("v3"), FileAttrs{Owner: "no-such-user-tend"})
	if err == nil || !strings.Contains(err.Error(), "owner:") || !strings.Contains(err.Error(), "no-such-user-tend") {
		t.Fatalf("err = %v", err)
	}
	checkFile(t, path, "v2", 0o4750, 0, groupID(t, "daemon"))
	if l := litter(t, dir); len(l) != 0 {
		t.Errorf("temporary files left behind: %v", l)
	}
	if err := WriteFile(ctx, c, "relative", nil, FileAttrs{}); err == nil {
		t.Error("relative path accepted")
	}
}

func TestSSHDialUnix(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	c := env.dial(t, env.config())
	sock := serveHTTPOnUnix(t, "healthy")
	conn, err := c.DialUnix(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	if got := httpGetOver(t, conn); got != "healthy" {
		t.Errorf("body = %q", got)
	}
	if env.srv.Stats().StreamLocals != 1 {
		t.Errorf("server stats %+v, want one streamlocal channel", env.srv.Stats())
	}
	if _, err := c.DialUnix(context.Background(), filepath.Join(t.TempDir(), "nothing.sock")); err == nil || !strings.Contains(err.Error(), "dial unix socket") {
		t.Errorf("dial to a missing socket: %v", err)
	}
}

// A run lock held a while over SSH is released at once: the channel closes
// only when nothing on the host holds the command's output any more (as
// sshd does), so nothing the holder left may keep it.
func TestSSHLockReleaseIsPrompt(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	cfg := env.config()
	cfg.StateDir = filepath.Join(t.TempDir(), "state")
	c := env.dial(t, cfg)
	held, _, err := Lock(context.Background(), c, Request{}, LockHolder{Command: "tend apply"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	start := time.Now()
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the release took %s", d)
	}
}

func TestSSHGatherOneRoundTrip(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	c := env.dial(t, env.config())
	dir := t.TempDir()
	var probes []Probe
	for i := 0; i < 7; i++ {
		p := filepath.Join(dir, "f"+strconv.Itoa(i))
		if i%2 == 0 {
			os.WriteFile(p, []byte(strconv.Itoa(i)), 0o644)
		}
		probes = append(probes, Probe{Kind: ProbeFile, Path: p})
	}
	probes = append(probes,
		Probe{Kind: ProbeGuard, Script: "exit 3"},
		Probe{Kind: ProbeGuard, Script: "true"},
		Probe{Kind: ProbeUnit, Unit: "staffrota.service"},
	)
	before := env.srv.Stats()
	st, err := Gather(context.Background(), c, Request{Probes: probes})
	if err != nil {
		t.Fatal(err)
	}
	after := env.srv.Stats()
	if after.Execs-before.Execs != 1 || after.Channels-before.Channels != 1 {
		t.Errorf("Gather of 10 probes: server saw %+v -> %+v, want exactly one command", before, after)
	}
	if got := c.Stats(); got.Commands != 1 || got.RoundTrips != 1 {
		t.Errorf("Stats() = %+v, want 1 command, 1 round trip", got)
	}
	if f := st.File(probes[2].Path); f == nil || string(f.Content) != "2" || st.File(probes[1].Path).Exists {
		t.Errorf("files: %+v %+v", f, st.File(probes[1].Path))
	}
	if rc, _ := st.Guard("exit 3"); rc != 3 {
		t.Errorf("guard rc %d", rc)
	}
}

func TestSSHBecomeWithPassword(t *testing.T) {
	const password = "Hunter2-sudo-Xy7"
	fake := installFakeSudo(t, password)
	env := newSSHEnv(t, sshtest.Options{Env: append(fake.Env(), "FAKESUDO_LOGIN=deploy")})
	cfg := env.config()
	cfg.User = "deploy"
	cfg.Become = true
	cfg.BecomePassword = func() (string, error) { return password, nil }
	c := env.dial(t, cfg)
	ctx := context.Background()
	dir := t.TempDir()
	out := filepath.Join(dir, "stdin-copy")

	// Watch every process's argv while the command runs.
	leaked := make(chan string, 1)
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-stop:
				return
			default:
			}
			procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, p := range procs {
				if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), password) {
					select {
					case leaked <- p + ": " + strings.ReplaceAll(string(b), "\x00", " "):
					default:
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	res, err := c.Run(ctx, Command{
		Script: "sleep 0.3; cat > " + ShellQuote(out) + "; id -un; echo done >&2",
		Input:  []byte("payload line\n"),
		Become: true,
	})
	close(stop)
	<-watched
	if err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-leaked:
		t.Errorf("password in a process's argv: %s", p)
	default:
	}
	if res.ExitCode != 0 || string(res.Stdout) != "root\n" || string(res.Stderr) != "done\n" {
		t.Errorf("result = %d %q %q (markers must be stripped)", res.ExitCode, res.Stdout, res.Stderr)
	}
	if got, _ := os.ReadFile(out); string(got) != "payload line\n" {
		t.Errorf("the command's stdin got %q, want only its own data", got)
	}
	for _, call := range fake.Argv(t) {
		for _, a := range call {
			if strings.Contains(a, password) {
				t.Errorf("sudo argv holds the password: %q", call)
			}
		}
	}
	for _, cmd := range env.srv.Commands() {
		if strings.Contains(cmd, password) {
			t.Errorf("exec request holds the password: %q", cmd)
		}
	}

	// Non-become commands do not go through sudo.
	calls := len(fake.Argv(t))
	if _, err := c.Run(ctx, Command{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	if len(fake.Argv(t)) != calls {
		t.Error("a command without become ran sudo")
	}

	// A privileged write: one sudo command, the data on its input straight
	// into the target directory, no litter anywhere.
	path := filepath.Join(dir, "app.conf")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := env.srv.Stats().Execs
	if err := WriteFile(ctx, c, path, []byte("secret=1\n"), FileAttrs{Mode: 0o600, Owner: "daemon", Group: "daemon", Become: true}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "secret=1\n", 0o600, userID(t, "daemon"), groupID(t, "daemon"))
	if n := env.srv.Stats().Execs - before; n != 1 {
		t.Errorf("privileged write ran %d commands, want 1", n)
	}
	// Failure: the target is a directory; it stays, nothing is left over.
	target := filepath.Join(dir, "d")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(ctx, c, target, []byte("x"), FileAttrs{Become: true}); err == nil {
		t.Fatal("privileged write over a directory succeeded")
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("write put files into the directory: %v", ents)
	}
	// Nothing is staged anywhere else, in the login's home (the server's
	// working directory) in particular.
	for _, d := range []string{dir, env.loginHome} {
		if l := litter(t, d); len(l) != 0 {
			t.Errorf("%s: temporary files left behind: %v", d, l)
		}
	}
}

// Without any timeout configured, a command is bounded all the same: by
// DefaultCommandTimeout, which the host enforces too (with a margin), and
// it gets heartbeats it must hear every four keepalive intervals. The
// command line holds only the small boot script: the supervisor and the
// command come on standard input, so that sudo does not copy them into the
// host's log.
func TestDefaultCommandTimeout(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	c := env.dial(t, env.config())
	res, err := c.Run(context.Background(), Command{Script: "echo distinct-$((6 * 7))"})
	if err != nil || string(res.Stdout) != "distinct-42\n" {
		t.Fatalf("%q, %v", res.Stdout, err)
	}
	cmds := env.srv.Commands()
	want := regexp.MustCompile(fmt.Sprintf(` tend-supervisor [0-9a-f]{24} %d %d -1 [0-9]+$`, int((DefaultCommandTimeout+deadlineMargin)/time.Second), int(DefaultKeepAlive*heartbeatMisses/time.Second)))
	if DefaultCommandTimeout != 10*time.Minute || len(cmds) != 1 || !want.MatchString(cmds[0]) {
		t.Fatalf("command line %q, want the supervisor with %s", cmds, want)
	}
	if strings.Contains(cmds[0], "distinct") || strings.Contains(cmds[0], "tend_dog") || strings.Contains(cmds[0], "#") || len(cmds[0]) > 1200 {
		t.Errorf("the command line (%d bytes) holds more than the boot script: %q", len(cmds[0]), cmds[0])
	}
}
