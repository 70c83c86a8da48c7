package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/tend-sh/tend/executor/sshtest"
)

// TestIdentitiesReadOncePerRun: with a run's Identities, an encrypted
// identity file is read and decrypted once, its passphrase asked once,
// however many connections (here 8 at once) use it; the file changing or
// going away after that changes nothing for the run.
func TestIdentitiesReadOncePerRun(t *testing.T) {
	_, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(priv)
	env := newSSHEnv(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	keyFile := writeKeyFile(t, filepath.Join(t.TempDir(), "id_locked"), priv, "open sesame")
	var asked atomic.Int32
	cfg := env.config()
	cfg.IdentityFiles = []string{keyFile}
	cfg.Identities = NewIdentities()
	cfg.PassphrasePrompt = func(string) ([]byte, error) {
		asked.Add(1)
		// What a prompt hands over is wiped after use.
		return []byte("open sesame"), nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			c, err := DialSSH(context.Background(), cfg)
			if err != nil {
				errs <- err
				return
			}
			c.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the passphrase was asked %d times for 8 connections, want 1", n)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	env.dial(t, cfg) // from what the run read

	// Without Identities, each connection reads the file: it is gone.
	cfg.Identities = nil
	if _, err := DialSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("err = %v, want the file read again and missing", err)
	}
}

// TestIdentitiesKeepFailures: a wrong passphrase fails every connection of
// the run without asking again; a file that is missing stays missing for
// the run; an encrypted file without a prompt is not a failure kept (a
// later connection with a prompt decrypts it).
func TestIdentitiesKeepFailures(t *testing.T) {
	_, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := writeKeyFile(t, filepath.Join(dir, "id_locked"), priv, "right")
	never := func(ssh.PublicKey) bool { return false }
	ids := NewIdentities()

	if _, err := ids.load(keyFile, nil, never); !errors.As(err, new(*encryptedKeyError)) {
		t.Fatalf("no prompt: err = %v, want an encrypted key error", err)
	}
	asked := 0
	wrong := func(string) ([]byte, error) { asked++; return []byte("wrong"), nil }
	for range 3 {
		if _, err := ids.load(keyFile, wrong, never); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
			t.Fatalf("err = %v, want a wrong passphrase", err)
		}
	}
	if asked != 1 {
		t.Errorf("asked %d times, want once", asked)
	}

	missing := filepath.Join(dir, "id_missing")
	if _, err := ids.load(missing, nil, never); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want the file missing", err)
	}
	writeKeyFile(t, missing, priv, "")
	if _, err := ids.load(missing, nil, never); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want the run to keep what it found", err)
	}
	// A new run reads it.
	if s, err := NewIdentities().load(missing, nil, never); err != nil || s == nil {
		t.Fatalf("a new run: %v", err)
	}
}

// TestIdentitiesAgentBeforeKeptFailure: an encrypted file whose key the
// agent holds is errKeyInAgent for a connection that reaches the agent, as
// loadIdentityFile says, even after another connection (whose agent was
// unreachable, say) failed to decrypt it: the run's kept failure must not
// turn a key the agent signs with into a failed connection.
func TestIdentitiesAgentBeforeKeptFailure(t *testing.T) {
	_, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeKeyFile(t, filepath.Join(t.TempDir(), "id_locked"), priv, "right")
	never := func(ssh.PublicKey) bool { return false }
	always := func(ssh.PublicKey) bool { return true }
	noTerminal := func(string) ([]byte, error) { return nil, errors.New("no terminal") }
	right := func(string) ([]byte, error) { return []byte("right"), nil }

	ids := NewIdentities()
	if _, err := ids.load(keyFile, noTerminal, never); err == nil {
		t.Fatal("no terminal and no agent: want an error")
	}
	if _, err := loadIdentityFile(keyFile, noTerminal, always); !errors.Is(err, errKeyInAgent) {
		t.Fatalf("loadIdentityFile: err = %v, want errKeyInAgent", err)
	}
	if _, err := ids.load(keyFile, noTerminal, always); !errors.Is(err, errKeyInAgent) {
		t.Errorf("after a failure kept: err = %v, want errKeyInAgent (the agent holds the key)", err)
	}

	// Decrypted by one connection: another that finds the key in its
	// agent uses the agent's, as without Identities.
	ids = NewIdentities()
	if s, err := ids.load(keyFile, right, never); err != nil || s == nil {
		t.Fatalf("decrypt: %v", err)
	}
	if _, err := ids.load(keyFile, right, always); !errors.Is(err, errKeyInAgent) {
		t.Errorf("after decrypting: err = %v, want errKeyInAgent", err)
	}
}

// TestIdentitiesRetryReadErrors: a read error that may pass (here the path
// is a directory for a moment; in a large run, too many open files) is not
// kept: the next connection reads the file again.
func TestIdentitiesRetryReadErrors(t *testing.T) {
	_, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "id")
	if err := os.Mkdir(file, 0o700); err != nil {
		t.Fatal(err)
	}
	never := func(ssh.PublicKey) bool { return false }
	ids := NewIdentities()
	if _, err := ids.load(file, nil, never); err == nil {
		t.Fatal("a directory read as a key")
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	writeKeyFile(t, file, priv, "")
	if s, err := ids.load(file, nil, never); err != nil || s == nil {
		t.Fatalf("the file read again: %v", err)
	}
}

// TestPublicKeyIdentityFile: as with OpenSSH, an identity file may be a
// public key whose private key the agent holds: with IdentitiesOnly only
// that key is offered, the agent signing; without the agent holding it,
// the error says so. With and without a run's Identities.
func TestPublicKeyIdentityFile(t *testing.T) {
	for _, cached := range []bool{false, true} {
		signer, priv, err := sshtest.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		_, other, err := sshtest.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		env := newSSHEnv(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
		pub := filepath.Join(t.TempDir(), "token.pub")
		if err := os.WriteFile(pub, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
			t.Fatal(err)
		}
		keyring := agent.NewKeyring()
		if err := keyring.Add(agent.AddedKey{PrivateKey: other}); err != nil {
			t.Fatal(err)
		}
		cfg := env.config()
		cfg.AgentSocket = sshtest.ServeAgent(t, keyring)
		cfg.IdentityFiles = []string{pub}
		cfg.IdentitiesOnly = true
		if cached {
			cfg.Identities = NewIdentities()
		}
		if _, err := DialSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "is a public key") || !strings.Contains(err.Error(), "does not hold its private key") {
			t.Fatalf("cached=%t, the agent without the key: err = %v", cached, err)
		}
		if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
			t.Fatal(err)
		}
		env.dial(t, cfg)
	}
}
