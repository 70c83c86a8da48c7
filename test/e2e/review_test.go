//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReviewRevertLeftovers: a host that fails after a write with backup
// and a live kernel value: the revert puts the file and the live value
// back, and says so. What it leaves (the backup link the run made, an
// open finding) is logged, so the report can be compared with the host.
func TestReviewRevertLeftovers(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "freview", 1, "root")
	h := f.Hosts[0]
	sh(t, h, "printf 'a = 1\\n' >/etc/review.conf && chmod 0644 /etc/review.conf")
	before := strings.TrimSpace(sh(t, h, "cat /proc/sys/net/ipv4/tcp_syncookies"))
	want := "0"
	if before == "0" {
		want = "1"
	}
	pb := writeFile(t, filepath.Join(dir, "failing.hcl"), `play "failing" {
  hosts = ["all"]

  line_in_file "review" {
    path   = "/etc/review.conf"
    line   = "b = 2"
    backup = true
  }

  sysctl "net.ipv4.tcp_syncookies" {
    value = "`+want+`"
    file  = "/etc/sysctl.d/90-review.conf"
  }

  command "boom" {
    run = "false"
  }
}
`)
	r := tend(t, nil, "apply", pb, "-i", inv, "--json")
	r.wantExit(t, 3)
	evs := r.events(t)
	rc := recapOf(t, evs, h.Name)
	e := task(t, evs, h.Name, "revert")
	t.Logf("revert: %s: %s; recap %+v", e.Status, e.Message, rc)
	if !rc.Reverted || rc.RevertError != "" {
		t.Fatalf("recap: %+v\n%s", rc, r)
	}
	if got := strings.TrimSpace(sh(t, h, "cat /etc/review.conf")); got != "a = 1" {
		t.Errorf("review.conf after the revert: %q", got)
	}
	if got := strings.TrimSpace(sh(t, h, "cat /proc/sys/net/ipv4/tcp_syncookies")); got != before {
		t.Errorf("the live value after the revert: %s, was %s (the revert says %q)", got, before, e.Message)
	}
	if got := sh(t, h, "ls /etc/sysctl.d/90-review.conf 2>/dev/null || true"); got != "" {
		t.Errorf("the sysctl file the run made stays: %q", got)
	}
	left := strings.TrimSpace(sh(t, h, "ls -1 /etc/ | grep '^review.conf\\..*~$' || true"))
	if left != "" {
		t.Errorf("the revert reports the host put back (%q), but the backup the run made stays: /etc/%s", e.Message, left)
	}
}
