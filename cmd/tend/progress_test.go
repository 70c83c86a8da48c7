package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// releaseWriter is tend's stdout in a test: it keeps the output and, once
// a line starting with prefix is written, creates the file release.
type releaseWriter struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	prefix   string
	release  string
	released bool
}

func (w *releaseWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.released && strings.Contains("\n"+w.buf.String(), "\n"+w.prefix) {
		w.released = true
		if err := os.WriteFile(w.release, nil, 0o644); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// TestPlanStreamsFastHostFirst: in plan, a host's block is printed as soon
// as the host is done, not behind a slower host that comes first in the
// inventory; the recap stays in inventory order. Two hosts of one
// in-process SSH server: "slow" (first in the inventory) reads its state
// through a guard that waits until the fast host's block reached stdout
// (bounded: 10s), so the order is decided by the output, not by timing.
func TestPlanStreamsFastHostFirst(t *testing.T) {
	h := newSSHHost(t)
	ctl := filepath.Dir(h.inventory)
	release := filepath.Join(t.TempDir(), "release")
	inv := writeTestFile(t, filepath.Join(ctl, "two.hcl"), fmt.Sprintf(`
defaults {
  user             = "tester"
  identity_file    = %q
  known_hosts_file = %q
  connect_timeout  = 5
}
group "web" {
  host "slow" {
    address   = "127.0.0.1"
    port      = %[3]d
    state_dir = %[4]q
    vars      = { wait = true }
  }
  host "fast" {
    address   = "127.0.0.1"
    port      = %[3]d
    state_dir = %[5]q
    vars      = { wait = false }
  }
}
`, filepath.Join(ctl, "id_ed25519"), filepath.Join(ctl, "known_hosts"), h.srv.Port(),
		filepath.Join(ctl, "state-slow"), filepath.Join(ctl, "state-fast")))
	pb := writeTestFile(t, filepath.Join(t.TempDir(), "site.hcl"), fmt.Sprintf(`
play "site" {
  hosts = ["web"]
  file "conf" {
    path    = "%s/${host.name}.conf"
    content = "x\n"
  }
  command "gate" {
    run    = "true"
    unless = host.vars.wait ? "i=0; while [ ! -e %s ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; false" : "false"
  }
}
`, h.dir, release))
	t.Setenv("NO_COLOR", "1")
	out := &releaseWriter{prefix: "fast ", release: release}
	var errOut bytes.Buffer
	code := runCLI(t.Context(), []string{"plan", pb, "-i", inv}, out, &errOut)
	got := out.buf.String()
	if code != ExitChanges {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitChanges, got, errOut.String())
	}
	fast, slow := strings.Index(got, "\nfast "), strings.Index(got, "\nslow ")
	recap := strings.Index(got, "\nRECAP\n")
	if fast < 0 || slow < 0 || recap < 0 || fast > slow {
		t.Fatalf("want the fast host's block first (it was done first):\n%s", got)
	}
	// Each block is in one piece: fast's lines, then slow's.
	body := got[strings.Index(got, "\n\n")+2 : recap]
	var hosts []string
	for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
		if f := strings.Fields(l); len(f) > 0 && (f[0] == "fast" || f[0] == "slow") {
			if len(hosts) == 0 || hosts[len(hosts)-1] != f[0] {
				hosts = append(hosts, f[0])
			}
		}
	}
	if strings.Join(hosts, ",") != "fast,slow" {
		t.Errorf("blocks %v, want fast then slow, each in one piece:\n%s", hosts, got)
	}
	table := got[recap:]
	if i, j := strings.Index(table, "\nslow "), strings.Index(table, "\nfast "); i < 0 || j < 0 || i > j {
		t.Errorf("the recap is not in inventory order (slow, fast):\n%s", table)
	}
}

// fakeTerminal makes tend take any stdout for a terminal, and shows the
// progress line at once, for the test.
func fakeTerminal(t *testing.T) {
	t.Helper()
	was, delay := terminalFile, progressDelay
	terminalFile = func(io.Writer) (*os.File, bool) { return nil, true }
	progressDelay = -1
	t.Cleanup(func() { terminalFile, progressDelay = was, delay })
}

// TestProgressLineOnlyOnATerminal: the live line (erase sequences and
// "[n/m hosts]") is drawn on a terminal, also with NO_COLOR, and erased
// before the recap; never with --json, TERM=dumb or a stdout that is not a
// terminal.
func TestProgressLineOnlyOnATerminal(t *testing.T) {
	h := newSSHHost(t)
	pb := h.playbook(t)
	tests := []struct {
		name     string
		terminal bool
		env      map[string]string
		args     []string
		want     bool
	}{
		{"terminal", true, map[string]string{"TERM": "xterm"}, nil, true},
		{"terminal NO_COLOR", true, map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, nil, true},
		{"terminal --no-color", true, map[string]string{"TERM": "xterm"}, []string{"--no-color"}, true},
		{"terminal --json", true, map[string]string{"TERM": "xterm"}, []string{"--json"}, false},
		{"terminal TERM=dumb", true, map[string]string{"TERM": "dumb"}, nil, false},
		{"not a terminal", false, map[string]string{"TERM": "xterm"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.terminal {
				fakeTerminal(t)
			} else {
				was := progressDelay
				progressDelay = -1
				t.Cleanup(func() { progressDelay = was })
			}
			t.Setenv("NO_COLOR", "")
			os.Unsetenv("NO_COLOR")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c := tend(t, append([]string{"plan", pb, "-i", h.inventory}, tt.args...)...)
			c.want(t, ExitChanges)
			drawn := strings.Contains(c.stdout, "\r\x1b[K") && strings.Contains(c.stdout, "[0/1 hosts] ok 0 · to change 0 · failed 0 · unreachable 0 · 00:00")
			if drawn != tt.want {
				t.Fatalf("progress line drawn: %v, want %v:\n%q", drawn, tt.want, c.stdout)
			}
			if !tt.want && strings.Contains(c.stdout, "\x1b[K") {
				t.Fatalf("an erase sequence without the line:\n%q", c.stdout)
			}
			if tt.want {
				i := strings.LastIndex(c.stdout, "\r\x1b[K")
				if j := strings.Index(c.stdout, "\nRECAP\n"); j < i {
					t.Errorf("the line is not erased before the recap:\n%q", c.stdout)
				}
				if strings.Contains(c.stdout[i:], "hosts]") {
					t.Errorf("the line is drawn again after the recap:\n%q", c.stdout)
				}
			}
			if tt.args != nil && tt.args[0] == "--json" {
				for _, l := range strings.Split(strings.TrimSpace(c.stdout), "\n") {
					var m map[string]any
					if err := json.Unmarshal([]byte(l), &m); err != nil {
						t.Fatalf("not a JSON line: %q", l)
					}
				}
			}
		})
	}
}
