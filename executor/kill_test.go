package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor/sshtest"
)

// becomeConns returns an SSH and a local connection that run become
// commands through the fake sudo.
func becomeConns(t *testing.T, fake *fakeSudo) map[string]Conn {
	t.Helper()
	env := newSSHEnv(t, sshtest.Options{Env: append(fake.Env(), "FAKESUDO_LOGIN=deploy")})
	cfg := env.config()
	cfg.User, cfg.Become = "deploy", true
	fake.Setenv(t)
	return map[string]Conn{
		"ssh":   env.dial(t, cfg),
		"local": localAs(LocalOptions{Become: true}),
	}
}

// A timed-out become command is stopped, not only sudo: the command runs as
// another user, the login user's SIGKILL reaches sudo alone, and only a
// signal sudo relays (SIGTERM) reaches the command.
func TestTimeoutStopsBecomeCommand(t *testing.T) {
	for _, name := range []string{"ssh", "local"} {
		t.Run(name, func(t *testing.T) {
			fake := installFakeSudo(t, "")
			fake.Relay(t)
			c := becomeConns(t, fake)[name]
			late := filepath.Join(t.TempDir(), "late")
			start := time.Now()
			_, err := c.Run(context.Background(), Command{
				Script:  "sleep 1; touch " + ShellQuote(late),
				Become:  true,
				Timeout: 300 * time.Millisecond,
			})
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("Run took %s after a 300ms timeout", d)
			}
			// The command would have touched the file 1s after it started.
			for time.Since(start) < 1800*time.Millisecond {
				if _, err := os.Stat(late); err == nil {
					t.Fatal("the timed-out command kept running as the become user")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// A command that ignores SIGTERM is killed after a bounded grace.
func TestTimeoutKillsAfterGrace(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	conns := map[string]Conn{"ssh": env.dial(t, env.config()), "local": NewLocal(LocalOptions{})}
	for _, name := range []string{"ssh", "local"} {
		t.Run(name, func(t *testing.T) {
			late := filepath.Join(t.TempDir(), "late")
			start := time.Now()
			_, err := conns[name].Run(context.Background(), Command{
				Script:  "trap '' TERM; sleep 3; touch " + ShellQuote(late),
				Timeout: 300 * time.Millisecond,
			})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if d := time.Since(start); d < killGrace || d > killGrace+2*time.Second {
				t.Errorf("Run took %s after a 300ms timeout, want the %s grace and then a kill", d, killGrace)
			}
			for time.Since(start) < 3600*time.Millisecond {
				if _, err := os.Stat(late); err == nil {
					t.Fatal("the timed-out command survived the kill")
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
