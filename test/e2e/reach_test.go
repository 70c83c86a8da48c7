//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

// TestBastionAndSSHConfig: two hosts of the fleet reachable only through a
// third (a direct connection fails), named in the inventory by ssh_config
// aliases alone (Host app-* with User, IdentityFile, IdentitiesOnly,
// ProxyJump, UserKnownHostsFile; HostName per alias); a playbook applied
// through the bastion, then a plan with no changes; one connection to the
// bastion for the whole run; the hidden hosts' host keys verified; and the
// inventory's own form, jump = "bastion".
func TestBastionAndSSHConfig(t *testing.T) {
	requireFleet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var log bytes.Buffer
	f, err := fleet.Up(ctx, fleet.Options{Hosts: 3, Name: "fbastion", Log: &log,
		Behind: map[string]string{"h2": "h1", "h3": "h1"}})
	if err != nil {
		t.Fatalf("booting the fleet: %v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		if err := f.Down(); err != nil {
			t.Errorf("tearing down fleet: %v", err)
		}
	})
	bastion, app1, app2 := f.Hosts[0], f.Hosts[1], f.Hosts[2]

	// The hidden hosts: no direct connection, but through the bastion.
	for _, h := range []*fleet.Host{app1, app2} {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(h.Address, "22"), 3*time.Second); err == nil {
			c.Close()
			t.Fatalf("%s (%s) is reachable directly", h.Name, h.Address)
		} else {
			t.Logf("%s directly: %v", h.Name, err)
		}
		if got := sh(t, h, "hostname"); got != h.Name {
			t.Fatalf("%s through the bastion: hostname %q", h.Name, got)
		}
	}

	dir := t.TempDir()
	sshConfig := writeFile(t, filepath.Join(dir, "ssh_config"), fmt.Sprintf(`
Host app-*
  User deploy
  IdentityFile %[1]s
  IdentitiesOnly yes
  ProxyJump bastion
  UserKnownHostsFile %[2]s
Host app-1
  HostName %[3]s
Host app-2
  HostName %[4]s
Host bastion
  HostName %[5]s
  User deploy
  IdentityFile %[1]s
  UserKnownHostsFile %[2]s
`, f.ClientKey, f.KnownHosts, app1.Address, app2.Address, bastion.Address))
	inv := writeFile(t, filepath.Join(dir, "inventory.hcl"), fmt.Sprintf(`
defaults {
  ssh_config = %q
  become     = true
}
group "app" {
  host "app-1" {}
  host "app-2" {}
}
`, sshConfig))
	pb := writeFile(t, filepath.Join(dir, "site.hcl"), `
play "site" {
  hosts = ["app"]
  file "marker" {
    path    = "/etc/tend-bastion.txt"
    content = "reached ${host.name} through the bastion\n"
    mode    = "0644"
  }
}
`)

	shown := tend(t, nil, "inventory", "-i", inv)
	shown.wantExit(t, 0)
	if want := fmt.Sprintf("app-1  (ssh deploy@%s:22 via deploy@%s:22)", app1.Address, bastion.Address); !strings.Contains(shown.stdout, want) {
		t.Errorf("tend inventory: want %q in:\n%s", want, shown.stdout)
	}

	// The bastion's sshd logs each login; tend logs in there as deploy,
	// the fleet's helper as root.
	logins := func() int {
		out := sh(t, bastion, "journalctl --no-pager -q -u ssh.service -o cat | grep -c 'Accepted publickey for deploy ' || true")
		n, err := strconv.Atoi(out)
		if err != nil {
			t.Fatalf("counting the bastion's logins: %q", out)
		}
		return n
	}
	before := logins()
	t.Logf("the bastion saw %d logins as deploy before the run", before)
	apply := tend(t, nil, "apply", pb, "-i", inv)
	apply.wantExit(t, 0)
	if n := logins() - before; n != 1 {
		t.Errorf("the bastion saw %d logins from tend for one run of two hosts, want 1\n%s", n, apply)
	}
	for _, h := range []*fleet.Host{app1, app2} {
		want := map[string]string{"h2": "reached app-1 through the bastion", "h3": "reached app-2 through the bastion"}[h.Name]
		if got := sh(t, h, "cat /etc/tend-bastion.txt"); got != want {
			t.Errorf("%s: /etc/tend-bastion.txt = %q, want %q", h.Name, got, want)
		}
	}
	tend(t, nil, "plan", pb, "-i", inv).wantExit(t, 0)

	// The inventory's own form: the bastion an inventory host, the others
	// behind it with jump = "bastion"; no ssh_config.
	inv2 := writeFile(t, filepath.Join(dir, "inventory2.hcl"), fmt.Sprintf(`
defaults {
  user             = "deploy"
  identity_file    = %q
  known_hosts_file = %q
  ssh_config       = "none"
  become           = true
}
host "bastion" { address = %q }
group "app" {
  jump = "bastion"
  host "app-1" { address = %q }
  host "app-2" { address = %q }
}
`, f.ClientKey, f.KnownHosts, bastion.Address, app1.Address, app2.Address))
	before = logins()
	tend(t, nil, "plan", pb, "-i", inv2).wantExit(t, 0)
	if n := logins() - before; n != 1 {
		t.Errorf("jump = \"bastion\": the bastion saw %d logins, want 1", n)
	}

	// A hidden host's key is verified as any host's: a wrong key known for
	// app-1 (app-2's) makes it unreachable with a host key error.
	known, err := os.ReadFile(f.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	var wrong []string
	for _, line := range strings.Split(strings.TrimSpace(string(known)), "\n") {
		switch {
		case strings.HasPrefix(line, app1.Address+" "):
		case strings.HasPrefix(line, app2.Address+" "):
			wrong = append(wrong, line, app1.Address+strings.TrimPrefix(line, app2.Address))
		default:
			wrong = append(wrong, line)
		}
	}
	badKnown := writeFile(t, filepath.Join(dir, "known_hosts.wrong"), strings.Join(wrong, "\n")+"\n")
	inv3 := writeFile(t, filepath.Join(dir, "inventory3.hcl"), strings.Replace(readFile(t, inv2), f.KnownHosts, badKnown, 1))
	bad := tend(t, nil, "plan", pb, "-i", inv3)
	bad.wantExit(t, 4)
	if !strings.Contains(bad.stdout, "app-1  UNREACHABLE") || !strings.Contains(bad.stdout, "host key") || strings.Contains(bad.stdout, "app-2  UNREACHABLE") {
		t.Errorf("a wrong host key for the hidden app-1 must make it (alone) unreachable with a host key error:\n%s", bad)
	}
}
