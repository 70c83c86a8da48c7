package main

import (
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/tend-sh/tend/executor/sshtest"
)

// TestPlanThroughBastion: three hosts behind a bastion, two of them known
// only by ssh_config aliases (HostName, Port, ProxyJump naming the
// inventory's bastion), one with jump = "bastion" in the inventory; one
// connection to the bastion serves them all.
func TestPlanThroughBastion(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	signer, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ctl := t.TempDir()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := writeTestFile(t, filepath.Join(ctl, "id_ed25519"), string(pem.EncodeToMemory(block)))
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	opts := sshtest.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}}
	bastion := sshtest.New(t, opts)
	apps := []*sshtest.Server{sshtest.New(t, opts), sshtest.New(t, opts), sshtest.New(t, opts)}
	known := bastion.KnownHostsLine() + "\n"
	for _, a := range apps {
		known += a.KnownHostsLine() + "\n"
	}
	kh := writeTestFile(t, filepath.Join(ctl, "known_hosts"), known)
	cfg := writeTestFile(t, filepath.Join(ctl, "ssh_config"), fmt.Sprintf(`
Host app-1
  Port %d
Host app-2
  Port %d
Host app-*
  HostName 127.0.0.1
  ProxyJump bastion
`, apps[0].Port(), apps[1].Port()))
	inv := writeTestFile(t, filepath.Join(ctl, "inventory.hcl"), fmt.Sprintf(`
defaults {
  user             = "tester"
  identity_file    = %q
  known_hosts_file = %q
  ssh_config       = %q
  connect_timeout  = 5
}
host "bastion" {
  address = "127.0.0.1"
  port    = %d
}
group "app" {
  state_dir = "/nonexistent/tend-state"
  host "app-1" {}
  host "app-2" {}
  host "app-3" {
    address = "127.0.0.1"
    port    = %d
    jump    = "bastion"
  }
}
`, key, kh, cfg, bastion.Port(), apps[2].Port()))
	root := t.TempDir()
	pb := writeTestFile(t, filepath.Join(ctl, "site.hcl"), fmt.Sprintf(`
play "site" {
  hosts = ["app"]
  file "marker" {
    path    = "%s/${host.name}.txt"
    content = "hello\n"
  }
}
`, root))

	inventory := tend(t, "inventory", "-i", inv)
	inventory.want(t, ExitOK)
	if want := fmt.Sprintf("app-1  (ssh tester@127.0.0.1:%d via tester@127.0.0.1:%d)\n  from ssh_config: address, port, jump\n", apps[0].Port(), bastion.Port()); !strings.Contains(inventory.stdout, want) {
		t.Errorf("tend inventory does not show app-1 resolved with ssh_config (%q):\n%s", want, inventory.stdout)
	}
	plan := tend(t, "plan", pb, "-i", inv)
	plan.want(t, ExitChanges)
	for _, h := range []string{"app-1", "app-2", "app-3"} {
		if !strings.Contains(plan.stdout, h) {
			t.Errorf("the plan does not mention %s:\n%s", h, plan.stdout)
		}
	}
	st := bastion.Stats()
	if st.Connections != 1 || st.DirectTCPIPs != 3 || st.Execs != 0 {
		t.Errorf("bastion: %d connection(s), %d forwarding(s), %d command(s); want 1, 3, 0", st.Connections, st.DirectTCPIPs, st.Execs)
	}
	for i, a := range apps {
		if n := a.Stats().Connections; n != 1 {
			t.Errorf("app-%d: %d connections, want 1", i+1, n)
		}
	}

	// The bastion down: the hosts behind it are unreachable, and the
	// message names it.
	bastion.Close()
	down := tend(t, "plan", pb, "-i", inv)
	down.want(t, ExitUnreachable)
	if !strings.Contains(down.stdout+down.stderr, "jump host: bastion (127.0.0.1:") {
		t.Errorf("the failure does not name the bastion:\n%s\n%s", down.stdout, down.stderr)
	}
}
