package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tend-sh/tend/executor/sshtest"
)

// TestReview_JumpPoolVerifiesBastionPerConfig: two hosts behind the same
// bastion (same user, address, port) but with different bastion settings
// must not share a bastion connection that the second host's own settings
// would refuse: its known_hosts holds another key for the bastion (a
// mismatch, to be refused), or its key is not authorised on the bastion.
func TestReview_JumpPoolVerifiesBastionPerConfig(t *testing.T) {
	bastion := newSSHEnv(t, sshtest.Options{})
	targetA := newSSHEnv(t, sshtest.Options{})
	targetB := newSSHEnv(t, sshtest.Options{})
	other, _, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(bastion.srv.Addr())}, other.PublicKey())
	if err := os.WriteFile(wrong, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stranger := newSSHEnv(t, sshtest.Options{}) // its key is not authorised on the bastion

	for _, tc := range []struct {
		name   string
		modify func(*SSHConfig)
		want   error
	}{
		{"bastion key mismatch in the second host's known_hosts", func(b *SSHConfig) { b.KnownHostsFiles = []string{wrong} }, ErrHostKey},
		{"second host's bastion key not authorised", func(b *SSHConfig) { b.IdentityFiles = []string{stranger.keyFile} }, ErrUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewJumpPool()
			a := targetA.config()
			a.Jump = []SSHConfig{jumpConfig(bastion)}
			a.Jumps = pool
			targetA.dial(t, a) // stays open: the bastion connection is in the pool

			b := targetB.config()
			hop := jumpConfig(bastion)
			tc.modify(&hop)
			b.Jump = []SSHConfig{hop}
			b.Jumps = pool
			c, err := DialSSH(context.Background(), b)
			if err == nil {
				c.Close()
				t.Fatalf("host B connected through a bastion connection its own settings refuse (pool opened %d)", pool.Opened())
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
