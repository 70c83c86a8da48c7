package executor

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor/sshtest"
)

// TestSSHJumpMiddleHopGone: in a chain of two bastions, when the first
// drops its connections, the shared connection to the second (tunnelled
// through it) is gone too: the next host through the chain opens both
// again, and once every user is closed no watch or keepalive goroutine is
// left.
func TestSSHJumpMiddleHopGone(t *testing.T) {
	hop1 := newSSHEnv(t, sshtest.Options{})
	hop2 := newSSHEnv(t, sshtest.Options{})
	first, second := newSSHEnv(t, sshtest.Options{}), newSSHEnv(t, sshtest.Options{})
	pool := NewJumpPool()
	base := runtime.NumGoroutine()
	through := func(target *sshEnv) SSHConfig {
		cfg := target.config()
		h2 := hop2.config()
		h2.Host = "bastion2"
		cfg.Jump = []SSHConfig{jumpConfig(hop1), h2}
		cfg.Jumps = pool
		return cfg
	}
	a := first.dial(t, through(first))
	hop1.srv.CloseConnections()
	if _, err := a.Run(context.Background(), Command{Script: "true"}); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("through the dropped first hop: err = %v, want unreachable", err)
	}
	// The second hop's entry goes once its tunnel is gone.
	deadline := time.Now().Add(5 * time.Second)
	for {
		pool.mu.Lock()
		n := len(pool.entries)
		pool.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dead entries still pooled", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := second.dial(t, through(second))
	if res, err := b.Run(context.Background(), Command{Script: "echo ok"}); err != nil || strings.TrimSpace(string(res.Stdout)) != "ok" {
		t.Fatalf("through the chain again: %v %q", err, res.Stdout)
	}
	if pool.Opened() != 4 {
		t.Errorf("pool opened %d hop connections, want 4", pool.Opened())
	}
	a.Close()
	b.Close()
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after every user closed, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
