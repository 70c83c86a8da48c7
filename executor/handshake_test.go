package executor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor/sshtest"
)

// TestSSHHandshakeBound: no more than MaxHandshakes connections are opened
// at once; one more waits for a slot, within its connect timeout.
func TestSSHHandshakeBound(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	var releases []func()
	for range MaxHandshakes {
		r, err := acquireHandshake(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	cfg := env.config()
	cfg.ConnectTimeout = 300 * time.Millisecond
	if _, err := DialSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "handshakes in progress") {
		t.Fatalf("DialSSH with every slot taken = %v, want a wait that times out", err)
	}
	if env.srv.Stats().Connections != 0 {
		t.Errorf("a connection was made without a slot")
	}
	done := make(chan error, 1)
	cfg.ConnectTimeout = 5 * time.Second
	go func() {
		c, err := DialSSH(context.Background(), cfg)
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	releases[0]()
	releases[0]() // twice: frees one slot only
	if err := <-done; err != nil {
		t.Fatalf("DialSSH once a slot is free: %v", err)
	}
	for _, r := range releases[1:] {
		r()
	}
	if len(handshakes) != 0 {
		t.Errorf("%d slots still taken", len(handshakes))
	}
}
