package executor

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/tend-sh/tend/executor/sshtest"
)

// jumpConfig is the bastion's SSHConfig, named "bastion".
func jumpConfig(e *sshEnv) SSHConfig {
	cfg := e.config()
	cfg.Host = "bastion"
	return cfg
}

func TestSSHJumpSharedConnection(t *testing.T) {
	bastion := newSSHEnv(t, sshtest.Options{})
	targets := []*sshEnv{newSSHEnv(t, sshtest.Options{}), newSSHEnv(t, sshtest.Options{}), newSSHEnv(t, sshtest.Options{})}
	pool := NewJumpPool()
	var conns []Conn
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, target := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := target.config()
			cfg.Jump = []SSHConfig{jumpConfig(bastion)}
			cfg.Jumps = pool
			c, err := DialSSH(context.Background(), cfg)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			res, err := c.Run(context.Background(), Command{Script: "echo ok"})
			if err != nil || strings.TrimSpace(string(res.Stdout)) != "ok" {
				t.Errorf("run through the bastion: %v %q", err, res.Stdout)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	st := bastion.srv.Stats()
	if st.Connections != 1 || st.DirectTCPIPs != len(targets) || pool.Opened() != 1 {
		t.Errorf("bastion: %d connection(s), %d forwarding(s), pool opened %d; want 1, %d, 1",
			st.Connections, st.DirectTCPIPs, pool.Opened(), len(targets))
	}
	for i, target := range targets {
		if n := target.srv.Stats().Connections; n != 1 {
			t.Errorf("target %d: %d connections", i, n)
		}
	}
	// The bastion's connection lives until its last user is closed.
	for _, c := range conns[:len(conns)-1] {
		c.Close()
	}
	if _, err := conns[len(conns)-1].Run(context.Background(), Command{Script: "true"}); err != nil {
		t.Fatalf("the last connection behind the bastion: %v", err)
	}
	conns[len(conns)-1].Close()
	pool.mu.Lock()
	left := len(pool.entries)
	pool.mu.Unlock()
	if left != 0 {
		t.Errorf("%d bastion connection(s) left open after the last user closed", left)
	}
	cfg := targets[0].config()
	cfg.Jump = []SSHConfig{jumpConfig(bastion)}
	cfg.Jumps = pool
	bastion.dial(t, cfg)
	if n := bastion.srv.Stats().Connections; n != 2 {
		t.Errorf("after all users closed, a new dial made %d bastion connections in all, want 2", n)
	}
}

func TestSSHJumpMultiHop(t *testing.T) {
	hop1 := newSSHEnv(t, sshtest.Options{})
	hop2 := newSSHEnv(t, sshtest.Options{})
	target := newSSHEnv(t, sshtest.Options{})
	cfg := target.config()
	h2 := hop2.config()
	h2.Host = "bastion2"
	cfg.Jump = []SSHConfig{jumpConfig(hop1), h2}
	c := target.dial(t, cfg)
	if _, err := c.Run(context.Background(), Command{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	if a, b := hop1.srv.Stats().DirectTCPIPs, hop2.srv.Stats().DirectTCPIPs; a != 1 || b != 1 {
		t.Errorf("forwardings: hop1 %d, hop2 %d; want 1 each", a, b)
	}
	if n := hop2.srv.Stats().Connections; n != 1 {
		t.Errorf("hop2: %d connections", n)
	}
}

func TestSSHJumpFailures(t *testing.T) {
	bastion := newSSHEnv(t, sshtest.Options{})
	target := newSSHEnv(t, sshtest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	unknown := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(unknown, []byte("# empty\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		bastion func(*SSHConfig)
		target  func(*SSHConfig)
		hostKey bool
		want    string
	}{
		{"bastion down", func(b *SSHConfig) { b.Port = closedPort }, nil, false, "jump host: bastion (127.0.0.1:"},
		{"bastion key unknown", func(b *SSHConfig) { b.KnownHostsFiles = []string{unknown} }, nil, true, "jump host: bastion (127.0.0.1:"},
		{"target key unknown", nil, func(c *SSHConfig) { c.KnownHostsFiles = []string{unknown} }, true, "web1 (127.0.0.1:"},
		{"target down behind the bastion", nil, func(c *SSHConfig) { c.Port = closedPort }, false, ": connect: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := jumpConfig(bastion)
			if tc.bastion != nil {
				tc.bastion(&b)
			}
			cfg := target.config()
			if tc.target != nil {
				tc.target(&cfg)
			}
			cfg.Jump = []SSHConfig{b}
			cfg.Jumps = NewJumpPool()
			_, err := DialSSH(context.Background(), cfg)
			if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrHostKey) != tc.hostKey || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want unreachable (host key: %v) containing %q", err, tc.hostKey, tc.want)
			}
			cfg.Jumps.mu.Lock()
			defer cfg.Jumps.mu.Unlock()
			if len(cfg.Jumps.entries) != 0 {
				t.Errorf("the failed chain stays in the pool")
			}
		})
	}
}

func TestSSHIdentitiesOnly(t *testing.T) {
	_, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	agentSigner, _ := ssh.NewSignerFromKey(priv)
	// The server knows only the agent's key; the identity file's key is
	// another one.
	env := newSSHEnv(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{agentSigner.PublicKey()}})
	other := newSSHEnv(t, sshtest.Options{})
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	cfg := env.config()
	cfg.AgentSocket = sshtest.ServeAgent(t, keyring)
	cfg.IdentityFiles = []string{other.keyFile}
	env.dial(t, cfg) // the agent's key logs in
	cfg.IdentitiesOnly = true
	_, err = DialSSH(context.Background(), cfg)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "1 key(s) offered") {
		t.Fatalf("with IdentitiesOnly, the agent's key was offered: err = %v", err)
	}
	// The agent still signs for the identity file's own key.
	encrypted := writeKeyFile(t, filepath.Join(t.TempDir(), "id_enc"), priv, "secret")
	cfg.IdentityFiles = []string{encrypted}
	env.dial(t, cfg)
}

// TestSSHJumpReplacedWhenGone: when the shared connection to a bastion
// goes (the bastion dropped it), the connections through it fail as
// unreachable, and the next connection through the bastion opens a new
// one instead of failing on the dead one.
func TestSSHJumpReplacedWhenGone(t *testing.T) {
	bastion := newSSHEnv(t, sshtest.Options{})
	first, second := newSSHEnv(t, sshtest.Options{}), newSSHEnv(t, sshtest.Options{})
	pool := NewJumpPool()
	through := func(target *sshEnv) SSHConfig {
		cfg := target.config()
		cfg.Jump = []SSHConfig{jumpConfig(bastion)}
		cfg.Jumps = pool
		return cfg
	}
	a := first.dial(t, through(first))
	bastion.srv.CloseConnections()
	if _, err := a.Run(context.Background(), Command{Script: "true"}); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("a command through the dropped bastion: err = %v, want unreachable", err)
	}
	b := second.dial(t, through(second))
	if res, err := b.Run(context.Background(), Command{Script: "echo ok"}); err != nil || strings.TrimSpace(string(res.Stdout)) != "ok" {
		t.Fatalf("through the bastion again: %v %q", err, res.Stdout)
	}
	if n := bastion.srv.Stats().Connections; n != 2 || pool.Opened() != 2 {
		t.Errorf("bastion: %d connections, pool opened %d; want 2, 2", n, pool.Opened())
	}
}

// TestSSHJumpKeepAlive: a bastion that stops answering keepalives is
// dropped after the hop's keepalive misses (not only when the hosts behind
// it notice), and the next connection opens a new one.
func TestSSHJumpKeepAlive(t *testing.T) {
	bastion := newSSHEnv(t, sshtest.Options{IgnoreKeepAlives: true})
	target := newSSHEnv(t, sshtest.Options{})
	pool := NewJumpPool()
	cfg := target.config()
	hop := jumpConfig(bastion)
	hop.KeepAlive, hop.KeepAliveMisses = 50*time.Millisecond, 2
	cfg.Jump = []SSHConfig{hop}
	cfg.Jumps = pool
	cfg.KeepAlive = -1 // the target's own keepalives are not what is tested
	first := target.dial(t, cfg)
	deadline := time.Now().Add(5 * time.Second)
	for {
		pool.mu.Lock()
		n := len(pool.entries)
		pool.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bastion's connection is still pooled after 5s of unanswered keepalives (%d sent)", bastion.srv.Stats().KeepAlives)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err := first.Run(context.Background(), Command{Script: "true"})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "jump host bastion: no answer to keepalives") {
		t.Fatalf("through the dropped bastion: err = %v, want unreachable, saying why", err)
	}
	target.dial(t, cfg)
	if pool.Opened() != 2 {
		t.Errorf("pool opened %d bastion connections, want 2", pool.Opened())
	}
}

// TestChainKeyKeepAlive: hosts that ask a bastion for different keepalives
// do not share a connection to it (each gets what it asked for).
func TestChainKeyKeepAlive(t *testing.T) {
	a := SSHConfig{Host: "bastion", Address: "10.0.0.1", User: "ops", KeepAlive: 5 * time.Second, KeepAliveMisses: 3}
	b := a
	b.KeepAlive = 30 * time.Second
	if chainKey([]SSHConfig{a}) == chainKey([]SSHConfig{b}) {
		t.Error("different keepalives, one shared connection")
	}
	if chainKey([]SSHConfig{a}) != chainKey([]SSHConfig{a}) {
		t.Error("the same settings, different keys")
	}
}
