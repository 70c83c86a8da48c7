//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func init() {
	// The tend the pty test starts (TEND_TEST_RUN_MAIN) shows its line at
	// once rather than after two seconds.
	if os.Getenv("TEND_TEST_PROGRESS_NOW") == "1" {
		progressDelay = -1
	}
}

// openPTY opens a pseudo-terminal of cols columns: its master and slave.
func openPTY(t *testing.T, cols uint16) (master, slave *os.File) {
	t.Helper()
	skip := func(err error) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no pseudo-terminal: %v", err)
		}
		t.Skipf("no pseudo-terminal: %v", err)
	}
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		skip(err)
	}
	ioctl := func(f *os.File, req uintptr, arg unsafe.Pointer) error {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg)); e != 0 {
			return e
		}
		return nil
	}
	var n uint32
	var unlock int32
	if err := ioctl(m, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		m.Close()
		skip(err)
	}
	if err := ioctl(m, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		m.Close()
		skip(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		skip(err)
	}
	ws := struct{ Row, Col, X, Y uint16 }{24, cols, 0, 0}
	if err := ioctl(s, syscall.TIOCSWINSZ, unsafe.Pointer(&ws)); err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestProgressOnARealTerminal starts tend with its stdout on a
// pseudo-terminal 50 columns wide: tend finds it is a terminal by itself,
// draws the line cut to 49 columns (it never wraps) and erases it before
// the recap; with TERM=dumb on the same terminal it draws nothing.
func TestProgressOnARealTerminal(t *testing.T) {
	h := newSSHHost(t)
	pb := h.playbook(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const full = "[0/1 hosts] ok 0 · to change 0 · failed 0 · unreachable 0 · 00:00"
	cut := string([]rune(full)[:49])
	for _, term := range []string{"xterm", "dumb"} {
		t.Run(term, func(t *testing.T) {
			master, slave := openPTY(t, 50)
			defer master.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, self, "plan", pb, "-i", h.inventory)
			cmd.Env = append(os.Environ(), "TEND_TEST_RUN_MAIN=1", "TEND_TEST_PROGRESS_NOW=1", "NO_COLOR=1", "TERM="+term)
			cmd.Stdout = slave
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			slave.Close()
			read := make(chan []byte)
			go func() {
				// The master reads EIO once the last slave is closed.
				data, _ := io.ReadAll(master)
				read <- data
			}()
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != ExitChanges {
				t.Fatalf("tend plan: %v, want exit %d; stderr:\n%s", err, ExitChanges, stderr.String())
			}
			var out string
			select {
			case data := <-read:
				// The terminal turns "\n" into "\r\n".
				out = strings.ReplaceAll(string(data), "\r\n", "\n")
			case <-time.After(10 * time.Second):
				t.Fatal("the terminal's output did not end")
			}
			recap := strings.Index(out, "\nRECAP\n")
			if recap < 0 {
				t.Fatalf("no recap:\n%q", out)
			}
			if term == "dumb" {
				if strings.Contains(out, "\x1b[K") || strings.Contains(out, "hosts]") {
					t.Fatalf("TERM=dumb: a progress line:\n%q", out)
				}
				return
			}
			if !strings.Contains(out, cut+"\r\x1b[K") || strings.Contains(out, full) {
				t.Fatalf("want the line cut to 49 columns (%q), then erased:\n%q", cut, out)
			}
			if i := strings.LastIndex(out, "\r\x1b[K"); i > recap || strings.Contains(out[recap:], "hosts]") {
				t.Errorf("the line is not gone before the recap:\n%q", out)
			}
		})
	}
}

// TestProgressInterruptOnARealTerminal: Ctrl-C's message on stderr, the
// same terminal, erases the line first (no stale copy stays above it),
// and the line is gone before the recap of the interrupted run.
func TestProgressInterruptOnARealTerminal(t *testing.T) {
	h := newSSHHost(t)
	pb := writeTestFile(t, t.TempDir()+"/slow.hcl", `
play "slow" {
  hosts = ["web"]
  command "gate" {
    run    = "true"
    unless = "i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; false"
  }
}
`)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	master, slave := openPTY(t, 200)
	defer master.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "plan", pb, "-i", h.inventory)
	cmd.Env = append(os.Environ(), "TEND_TEST_RUN_MAIN=1", "TEND_TEST_PROGRESS_NOW=1", "NO_COLOR=1", "TERM=xterm")
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	drawn := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		seen := false
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if !seen && strings.Contains(out.String(), "hosts]") {
				close(drawn)
				seen = true
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-drawn:
	case <-time.After(20 * time.Second):
		t.Fatal("the line was never drawn")
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != ExitInterrupted {
		t.Fatalf("tend plan, interrupted: %v, want exit %d", err, ExitInterrupted)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal's output did not end")
	}
	got := strings.ReplaceAll(out.String(), "\r\n", "\n")
	msg := strings.Index(got, "\ntend: interrupted")
	recap := strings.Index(got, "\nRECAP\n")
	if msg < 0 || recap < msg {
		t.Fatalf("want the interrupt message, then the recap:\n%q", got)
	}
	if !strings.HasSuffix(got[:msg], "\r\x1b[K") {
		t.Errorf("the line was not erased before the interrupt message:\n%q", got)
	}
	if i := strings.LastIndex(got, "\r\x1b[K"); i > recap || strings.Contains(got[recap:], "hosts]") {
		t.Errorf("the line is not gone before the recap:\n%q", got)
	}
}
