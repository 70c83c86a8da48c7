package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReview_CheckPrometheusSeriesUnique: a health check whose name is
// that of a row tend makes itself ("connection") must not give the
// --prometheus file two tend_health_up series with the same labels:
// node_exporter's textfile collector refuses the whole file then.
func TestReview_CheckPrometheusSeriesUnique(t *testing.T) {
	h := newSSHHost(t)
	pb := writeTestFile(t, filepath.Join(t.TempDir(), "dup.hcl"), fmt.Sprintf(`
play "one" {
  hosts = ["web"]
  health_check "app" {
    name        = "connection"
    unix_socket = %[1]q
    path        = "/health/"
  }
}
`, h.socket))
	prom := filepath.Join(t.TempDir(), "tend.prom")
	c := tend(t, "check", pb, "-i", h.inventory, "--no-state", "--prometheus", prom)
	c.want(t, CheckOK)
	data, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		series, _, _ := strings.Cut(line, "} ")
		if seen[series] {
			t.Errorf("series %s} twice in:\n%s", series, data)
		}
		seen[series] = true
	}
}
