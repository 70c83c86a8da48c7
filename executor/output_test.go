package executor

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor/sshtest"
)

// A command that leaves a process holding its output open (a daemon
// started by a script, "run = sleep 25 &") returns once it exits, with the
// output it wrote, after at most outputGrace for the leftover's output.
// Output that arrives after the exit but before EOF is kept.
func TestRunLeftoverProcessHoldingOutput(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	conns := map[string]Conn{"ssh": env.dial(t, env.config()), "local": NewLocal(LocalOptions{})}
	tests := []struct {
		script         string
		stdout, stderr string
		min, max       time.Duration
	}{
		{"sleep 30 & echo done", "done\n", "", 0, outputGrace + 2*time.Second},
		{"sleep 30 >&2 & echo done; exit 4", "done\n", "", 0, outputGrace + 2*time.Second},
		{"(sleep 0.5; echo late; echo late-err >&2) & echo early", "early\nlate\n", "late-err\n", 500 * time.Millisecond, outputGrace},
	}
	// The leftover processes are not the connection's to kill (a script
	// may start a daemon on purpose); the test kills them when it is done.
	pids := filepath.Join(t.TempDir(), "pids")
	t.Cleanup(func() {
		data, _ := os.ReadFile(pids)
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	for _, name := range []string{"ssh", "local"} {
		for _, tt := range tests {
			start := time.Now()
			script := strings.Replace(tt.script, " & ", " & echo $! >> "+ShellQuote(pids)+"; ", 1)
			res, err := conns[name].Run(context.Background(), Command{Script: script, Timeout: 10 * time.Second})
			d := time.Since(start)
			if err != nil {
				t.Errorf("%s: %q: %v (after %s)", name, tt.script, err, d)
				continue
			}
			code := 0
			if strings.HasSuffix(tt.script, "exit 4") {
				code = 4
			}
			if res.ExitCode != code || string(res.Stdout) != tt.stdout || string(res.Stderr) != tt.stderr {
				t.Errorf("%s: %q: got (%d, %q, %q), want (%d, %q, %q)", name, tt.script, res.ExitCode, res.Stdout, res.Stderr, code, tt.stdout, tt.stderr)
			}
			if d < tt.min || d > tt.max {
				t.Errorf("%s: %q took %s, want between %s and %s", name, tt.script, d, tt.min, tt.max)
			}
		}
	}
}

// All the output of a command that writes a lot and exits arrives, even
// though the server may send the exit status before the last of it.
func TestSSHRunLargeOutput(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	c := env.dial(t, env.config())
	const size = 1 << 20
	mib := "dd if=/dev/zero bs=65536 count=16 2>/dev/null | tr '\\000' x"
	for i := 0; i < 5; i++ {
		res, err := c.Run(context.Background(), Command{Script: mib + "; " + mib + " >&2; printf end; printf end >&2", Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for stream, out := range map[string][]byte{"stdout": res.Stdout, "stderr": res.Stderr} {
			if len(out) != size+3 || strings.Count(string(out), "x") != size || !strings.HasSuffix(string(out), "end") {
				t.Fatalf("run %d: %s has %d bytes (%d x, ends %q), want %d x and \"end\"", i, stream, len(out), strings.Count(string(out), "x"), out[max(0, len(out)-10):], size)
			}
		}
	}
}
