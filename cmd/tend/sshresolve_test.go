package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/inventory"
)

// hop is what a test checks of a resolved host or jump host.
type hop struct {
	Host, Address string
	Port          int
	User          string
}

func hopsOf(cfg executor.SSHConfig) (hop, []hop) {
	var jumps []hop
	for _, j := range cfg.Jump {
		jumps = append(jumps, hop{j.Host, j.Address, j.Port, j.User})
	}
	return hop{cfg.Host, cfg.Address, cfg.Port, cfg.User}, jumps
}

func TestSSHResolve(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"app_deploy_2200", "bastion"} {
		if err := os.WriteFile(filepath.Join(keys, k), []byte("key"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgFile := filepath.Join(dir, "ssh_config")
	writeTestFile(t, cfgFile, `
Host bastion
  HostName 192.0.2.1
  User jumper
  IdentityFile `+keys+`/bastion

Host app-*
  HostName 10.0.0.%h
  User deploy
  Port 2200
  IdentityFile `+keys+`/app_%r_%p
  IdentityFile `+keys+`/missing_is_skipped
  IdentitiesOnly yes
  ProxyJump bastion
  ConnectTimeout 7
  ServerAliveInterval 11
  UserKnownHostsFile `+dir+`/kh_%n

Host loop-a
  ProxyJump loop-b
Host loop-b
  ProxyJump loop-a

Host far
  ProxyJump admin@hop1:2222,bastion
`)
	inv, diags := inventory.Parse([]byte(`
defaults {
  ssh_config = "`+cfgFile+`"
}
host "app-1" {}
host "app-2" {
  user = "root"
  port = 22
  identity_file = "/inv/key"
  connect_timeout = 3
  jump = "none"
}
host "app-3" {
  address = "app-3.example"
}
host "gw" {
  address = "192.0.2.9"
  user = "gwuser"
}
host "inner" {
  address = "10.9.9.9"
  jump = "gw"
}
host "deep" {
  address = "10.9.9.10"
  jump = "inner, admin@hop2"
}
host "no-config" {
  ssh_config = "none"
}
host "far" {}
`), "inv.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	r := newSSHResolver(inv)
	for _, tc := range []struct {
		host  string
		want  hop
		jumps []hop
		from  []string
	}{
		{"app-1", hop{"app-1", "10.0.0.app-1", 2200, "deploy"}, []hop{{"bastion", "192.0.2.1", 22, "jumper"}},
			[]string{"address", "port", "user", "identity_file", "known_hosts_file", "connect_timeout", "keepalive_interval", "jump"}},
		// Everything written in the inventory wins.
		{"app-2", hop{"app-2", "10.0.0.app-2", 22, "root"}, nil, []string{"address", "known_hosts_file", "keepalive_interval"}},
		// An address is looked up like the name would be, and kept.
		{"app-3", hop{"app-3", "app-3.example", 2200, "deploy"}, []hop{{"bastion", "192.0.2.1", 22, "jumper"}},
			[]string{"port", "user", "identity_file", "known_hosts_file", "connect_timeout", "keepalive_interval", "jump"}},
		// An inventory host as a jump host, with its own settings and its
		// own jump host before it.
		{"inner", hop{"inner", "10.9.9.9", 22, ""}, []hop{{"gw", "192.0.2.9", 22, "gwuser"}}, nil},
		{"deep", hop{"deep", "10.9.9.10", 22, ""}, []hop{{"gw", "192.0.2.9", 22, "gwuser"}, {"inner", "10.9.9.9", 22, ""}, {"hop2", "hop2", 22, "admin"}}, nil},
		{"no-config", hop{"no-config", "no-config", 22, ""}, nil, nil},
		{"far", hop{"far", "far", 22, ""}, []hop{{"hop1", "hop1", 2222, "admin"}, {"bastion", "192.0.2.1", 22, "jumper"}}, []string{"jump"}},
	} {
		tgt, err := r.resolve(inv.Host(tc.host))
		if err != nil {
			t.Errorf("%s: %v", tc.host, err)
			continue
		}
		got, jumps := hopsOf(tgt.cfg)
		if got != tc.want || !reflect.DeepEqual(jumps, tc.jumps) || !reflect.DeepEqual(tgt.fromConfig, tc.from) {
			t.Errorf("%s:\n got %+v via %+v (from ssh_config %v)\nwant %+v via %+v (%v)", tc.host, got, jumps, tgt.fromConfig, tc.want, tc.jumps, tc.from)
		}
	}

	app1, _ := r.resolve(inv.Host("app-1"))
	c := app1.cfg
	if want := []string{keys + "/app_deploy_2200"}; !reflect.DeepEqual(c.IdentityFiles, want) || !c.IdentitiesOnly {
		t.Errorf("app-1 identity %v only %v, want %v (tokens expanded, missing skipped) only", c.IdentityFiles, c.IdentitiesOnly, want)
	}
	if c.ConnectTimeout != 7*time.Second || c.KeepAlive != 11*time.Second {
		t.Errorf("app-1 timeouts %s %s", c.ConnectTimeout, c.KeepAlive)
	}
	if want := []string{dir + "/kh_app-1"}; !reflect.DeepEqual(c.KnownHostsFiles, want) {
		t.Errorf("app-1 known hosts %v, want %v", c.KnownHostsFiles, want)
	}
	if want := []string{keys + "/bastion"}; !reflect.DeepEqual(c.Jump[0].IdentityFiles, want) {
		t.Errorf("bastion identity %v, want %v", c.Jump[0].IdentityFiles, want)
	}
	app2, _ := r.resolve(inv.Host("app-2"))
	if c := app2.cfg; !reflect.DeepEqual(c.IdentityFiles, []string{"/inv/key"}) || c.ConnectTimeout != 3*time.Second {
		t.Errorf("app-2: identity %v timeout %s: the inventory's must win", c.IdentityFiles, c.ConnectTimeout)
	}
	if c := func() executor.SSHConfig { t, _ := r.resolve(inv.Host("no-config")); return t.cfg }(); !reflect.DeepEqual(c.KnownHostsFiles, []string{home + "/.ssh/known_hosts"}) {
		t.Errorf("no-config known hosts %v", c.KnownHostsFiles)
	}
}

func TestSSHResolveErrors(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	writeTestFile(t, good, "Host loop-a\n  ProxyJump loop-b\nHost loop-b\n  ProxyJump loop-a\nHost tok\n  IdentityFile /k/%C\n")
	bad := filepath.Join(dir, "bad")
	writeTestFile(t, bad, "Host a\n  Port twenty\n")
	for _, tc := range []struct{ name, inv, want string }{
		{"missing file named", `host "a" { ssh_config = "` + dir + `/nope" }`, "does not exist"},
		{"malformed value", `host "a" { ssh_config = "` + bad + `" }`, `Port "twenty"`},
		{"ProxyJump cycle", `host "loop-a" { ssh_config = "` + good + `" }`, "loop-a → loop-b → loop-a"},
		{"unsupported token", `host "tok" { ssh_config = "` + good + `" }`, "token %C"},
		{"local jump host", `host "a" { jump = "me" }` + "\n" + `host "me" { connection = "local" }`, `its connection is "local"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, diags := inventory.Parse([]byte(tc.inv), "inv.hcl")
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			d := checkConnections(inv.Hosts[:1], nil, newSSHResolver(inv))
			if !d.HasErrors() || !strings.Contains(d[0].Detail, tc.want) || d[0].Subject == nil {
				t.Fatalf("diagnostics %v, want an error at a setting containing %q", d, tc.want)
			}
		})
	}
	// The default ~/.ssh/config may be missing.
	inv, _ := inventory.Parse([]byte(`host "a" {}`), "inv.hcl")
	if d := checkConnections(inv.Hosts, nil, newSSHResolver(inv)); d.HasErrors() {
		t.Errorf("no ~/.ssh/config: %v", d)
	}
}

// TestValidateSSHConfigErrors: tend validate refuses an ssh_config file
// that does not exist or a jump cycle through ssh_config, with a
// diagnostic at the inventory's setting, before any connection.
func TestValidateSSHConfigErrors(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	dir := t.TempDir()
	cfg := writeTestFile(t, filepath.Join(dir, "ssh_config"), "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n")
	pb := writeTestFile(t, filepath.Join(dir, "site.hcl"), `play "p" {
  hosts = ["all"]
  command "x" { run = "true" }
}
`)
	for _, tc := range []struct{ name, inv, want string }{
		{"missing", "host \"a\" {\n  ssh_config = \"" + dir + "/nope\"\n}\n", "inv.hcl:2:16: error: Unusable SSH settings"},
		{"cycle", "host \"a\" {\n  ssh_config = \"" + cfg + "\"\n}\n", "a → b → a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := writeTestFile(t, filepath.Join(dir, "inv.hcl"), tc.inv)
			r := tend(t, "validate", pb, "-i", inv)
			r.want(t, ExitInvalid)
			if !strings.Contains(r.stderr, "Unusable SSH settings") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr does not hold %q:\n%s", tc.want, r.stderr)
			}
		})
	}
}
