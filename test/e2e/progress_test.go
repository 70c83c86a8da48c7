//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal of cols columns: its master and slave.
func openPTY(t *testing.T, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	ioctl := func(f *os.File, req uintptr, arg unsafe.Pointer) {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg)); e != 0 {
			t.Fatalf("pseudo-terminal: ioctl %#x: %v", req, e)
		}
	}
	var n uint32
	var unlock int32
	ioctl(m, syscall.TIOCGPTN, unsafe.Pointer(&n))
	ioctl(m, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock))
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("pseudo-terminal: %v", err)
	}
	ws := struct{ Row, Col, X, Y uint16 }{24, cols, 0, 0}
	ioctl(s, syscall.TIOCSWINSZ, unsafe.Pointer(&ws))
	return m, s
}

// terminal collects what a pseudo-terminal's master reads.
type terminal struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func (tm *terminal) String() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	// The terminal turns "\n" into "\r\n".
	return strings.ReplaceAll(tm.buf.String(), "\r\n", "\n")
}

// TestProgressFleet runs tend plan on two real hosts with stdout and
// stderr on a terminal. h1, first in the inventory, reads its state
// through a guard that waits until the test releases it — once h2's block
// and the progress line ("[1/2 hosts]", after two seconds) are on the
// terminal, and h1's block is not. Then: h2's block came first, the recap
// lists h1 then h2, and the line is gone before the recap.
func TestProgressFleet(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "fprog", 2, "deploy")
	slow, fast := f.Hosts[0].Name, f.Hosts[1].Name
	pb := writeFile(t, filepath.Join(dir, "progress.hcl"), fmt.Sprintf(`
play "progress" {
  hosts = ["web"]
  file "marker" {
    path    = "/tmp/tend-progress-${host.name}"
    content = "x\n"
  }
  command "gate" {
    run    = "true"
    unless = host.name == %q ? "i=0; while [ ! -e /tmp/tend-release ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; false" : "false"
  }
}
`, slow))
	master, slave := openPTY(t, 120)
	defer master.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tendBin, "plan", pb, "-i", inv)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "SSH_AUTH_SOCK=", "TERM=xterm")
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	term := &terminal{done: make(chan struct{})}
	go func() {
		defer close(term.done)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			term.mu.Lock()
			term.buf.Write(b[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	start := time.Now()
	for {
		out := term.String()
		if strings.Contains(out, "\n"+fast+" ") && strings.Contains(out, "[1/2 hosts]") {
			if strings.Contains(out, "\n"+slow+" ") {
				t.Fatalf("%s's block is there before it was released:\n%q", slow, out)
			}
			break
		}
		if time.Since(start) > 60*time.Second {
			cmd.Process.Kill()
			t.Fatalf("no block of %s and progress line within 60s:\n%q", fast, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sh(t, f.Hosts[0], "touch /tmp/tend-release")
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("tend plan: %v, want exit 2 (changes)\n%q", err, term.String())
	}
	select {
	case <-term.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal's output did not end")
	}
	out := term.String()
	t.Logf("terminal:\n%q", out)
	recap := strings.Index(out, "\nRECAP\n")
	if recap < 0 {
		t.Fatalf("no recap:\n%q", out)
	}
	if i, j := strings.Index(out, "\n"+fast+" "), strings.Index(out, "\n"+slow+" "); i < 0 || j < 0 || i > j || j > recap {
		t.Errorf("want %s's block, then %s's, then the recap:\n%q", fast, slow, out)
	}
	table := out[recap:]
	if i, j := strings.Index(table, "\n"+slow+" "), strings.Index(table, "\n"+fast+" "); i < 0 || j < 0 || i > j {
		t.Errorf("the recap is not in inventory order (%s, %s):\n%s", slow, fast, table)
	}
	if i := strings.LastIndex(out, "\r\x1b[K"); i < 0 || i > recap || strings.Contains(table, "hosts]") {
		t.Errorf("the line is not gone before the recap:\n%q", out)
	}
	if strings.Contains(out, "00:00\r") || strings.Contains(out, "00:01\r") {
		t.Errorf("the line was drawn before the run lasted two seconds:\n%q", out)
	}
}
