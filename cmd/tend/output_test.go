package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary run as tend itself (TEND_TEST_RUN_MAIN=1),
// so that a test can start the real command with its stdout wherever it
// likes.
func TestMain(m *testing.M) {
	if os.Getenv("TEND_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	// The user's ~/.ssh (config, keys, known_hosts) never takes part.
	home, err := os.MkdirTemp("", "tend-test-home")
	if err != nil {
		panic(err)
	}
	os.Setenv("HOME", home)
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

// failWriter fails every write, as a full disk does.
type failWriter struct{ writes int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.writes++
	return 0, errors.New("no space left on device")
}

// TestOutputWriteFailureExits1: when the output cannot be written, tend
// says so on stderr and exits 1 (internal error), whatever else happened:
// validate's summary, plan's report in text and JSON (which would be exit 2,
// changes pending), and --help.
func TestOutputWriteFailureExits1(t *testing.T) {
	h := newSSHHost(t)
	pb := h.playbook(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"validate", []string{"validate", pb, "-i", h.inventory}},
		{"plan", []string{"plan", pb, "-i", h.inventory, "--no-color"}},
		{"plan json", []string{"plan", pb, "-i", h.inventory, "--json"}},
		{"inventory", []string{"inventory", "-i", h.inventory}},
		{"help", []string{"--help"}},
	} {
		args := tc.args
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out := &failWriter{}
			var errOut bytes.Buffer
			code := runCLI(ctx, args, out, &errOut)
			if code != ExitInternal {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitInternal, errOut.String())
			}
			if out.writes == 0 || !strings.Contains(errOut.String(), "tend: cannot write the output: no space left on device") {
				t.Errorf("%d writes; stderr:\n%s", out.writes, errOut.String())
			}
		})
	}
}

// TestPlanToDevFull: `tend plan > /dev/full` exits 1 with a message, not 2.
func TestPlanToDevFull(t *testing.T) {
	if runtime.GOOS != "linux" && os.Getenv("CI") != "true" {
		t.Skip("/dev/full is Linux's")
	}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	h := newSSHHost(t)
	pb := h.playbook(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "plan", pb, "-i", h.inventory)
	cmd.Env = append(os.Environ(), "TEND_TEST_RUN_MAIN=1")
	cmd.Stdout = full
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != ExitInternal {
		t.Fatalf("tend plan > /dev/full: %v, want exit %d; stderr:\n%s", err, ExitInternal, stderr.String())
	}
	if !strings.Contains(stderr.String(), "tend: cannot write the output:") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}
