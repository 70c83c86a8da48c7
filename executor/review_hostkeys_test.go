package executor

import (
	"net"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/tend-sh/tend/executor/sshtest"
)

// TestReview_AcceptNewOneKeyPerHost: with --accept-new-host-keys, two
// connections of one run to the same new address that are shown different
// keys (a man in the middle on one of them) must not both be accepted:
// the first key recorded is the host's, the other a mismatch. The check
// of the recorded key and the recording must be one step.
func TestReview_AcceptNewOneKeyPerHost(t *testing.T) {
	const conns = 32
	for round := range 20 {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		keys := make([]ssh.PublicKey, conns)
		for i := range keys {
			s, _, err := sshtest.NewKey()
			if err != nil {
				t.Fatal(err)
			}
			keys[i] = s.PublicKey()
		}
		addr := "192.0.2.7:22"
		remote := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 22}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := 0
		for i := range conns {
			c, err := newHostKeyChecker([]string{kh}, true)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if c.check("web1", addr, addr, remote, keys[i]) == nil {
					mu.Lock()
					accepted++
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		if accepted != 1 {
			t.Fatalf("round %d: %d different keys accepted for %s in one run, want 1", round, accepted, addr)
		}
	}
}
