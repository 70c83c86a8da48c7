// Package testenv is test support: it lets a test that needs root or a tool
// skip where those are missing — but never under CI=true, where the
// Makefile installs every tool and tests run as root, so a skip there would
// hide a failure.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// NeedRoot skips t unless the process is root; under CI=true it fails
// instead. why says what root is needed for.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but not root: this test needs root %s", why)
	}
	t.Skipf("needs root %s", why)
}

// NeedTool returns the path of the named program, or skips t; under
// CI=true it fails instead.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is missing (make deps installs it): %v", name, err)
	}
	t.Skipf("needs %s: %v", name, err)
	return ""
}
