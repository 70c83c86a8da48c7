package sshconfig

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const config = `
Host bastion
  HostName 192.0.2.1
  User jumper
  Port 2222

Host app-*
  HostName %h.internal.example
  User deploy
  IdentityFile ~/.ssh/app_%r_%p
  IdentityFile /keys/second
  IdentitiesOnly yes
  ProxyJump bastion,admin@hop2:2200
  ConnectTimeout 7
  UserKnownHostsFile ~/.ssh/kh_fleet /etc/ssh/kh_%h
  ServerAliveInterval 11
  ServerAliveCountMax 4

Host direct
  ProxyJump none

Host *
  User everyone
  Port 22
`

func load(t *testing.T, text string) *File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLookup(t *testing.T) {
	f := load(t, config)
	eleven := 11 * time.Second
	for _, tc := range []struct {
		alias string
		want  Settings
	}{
		// The first value wins: the Host * block comes after.
		{"bastion", Settings{HostName: "192.0.2.1", User: "jumper", Port: 2222}},
		{"app-1", Settings{
			HostName: "app-1.internal.example", User: "deploy", Port: 22,
			IdentityFiles: []string{"~/.ssh/app_%r_%p", "/keys/second"}, IdentitiesOnly: true,
			ProxyJump: []string{"bastion", "admin@hop2:2200"}, ConnectTimeout: 7 * time.Second,
			UserKnownHostsFiles: []string{"~/.ssh/kh_fleet", "/etc/ssh/kh_%h"},
			ServerAliveInterval: &eleven, ServerAliveCountMax: 4,
		}},
		{"direct", Settings{User: "everyone", Port: 22, ProxyJump: []string{"none"}}},
		// Patterns match the name typed, not the HostName it leads to.
		{"192.0.2.1", Settings{User: "everyone", Port: 22}},
		{"other", Settings{User: "everyone", Port: 22}},
	} {
		got, err := f.Lookup(tc.alias)
		if err != nil {
			t.Fatalf("%s: %v", tc.alias, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.alias, got, tc.want)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"bad port", "Host a\n  Port ssh\n", `Port "ssh" is not a port number`},
		{"bad timeout", "Host a\n  ConnectTimeout soon\n", `ConnectTimeout "soon" is not a number of seconds`},
		{"bad identities only", "Host a\n  IdentitiesOnly maybe\n", "yes or no"},
		{"unknown token in HostName", "Host a\n  HostName %C.example\n", "token %C"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := load(t, tc.text)
			_, err := f.Lookup("a")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), f.Path) {
				t.Fatalf("err = %v, want it to name the file and contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, []byte("Host a\n  Match exec \"true\"\n  User b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("malformed file: err = %v, want an error naming it", err)
	}
	// A Match the parser cannot evaluate that sets nothing tend reads is
	// left out; the blocks around it stay as they are.
	if err := os.WriteFile(p, []byte("Host a\n  User x\nMatch user alice exec \"true\"\n  ForwardAgent yes\nHost b\n  User y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p)
	if err != nil {
		t.Fatalf("inert Match: %v", err)
	}
	for host, want := range map[string]string{"a": "x", "b": "y"} {
		if s, err := f.Lookup(host); err != nil || s.User != want {
			t.Errorf("inert Match: host %s: user %q, %v; want %q", host, s.User, err, want)
		}
	}
}

func TestExpandPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	tok := Tokens{Host: "10.0.0.5", Alias: "app-1", RemoteUser: "deploy", Port: 2200}
	for _, tc := range []struct{ in, want, err string }{
		{"~/.ssh/id_%r", home + "/.ssh/id_deploy", ""},
		{"/k/%h_%p_%n_%%", "/k/10.0.0.5_2200_app-1_%", ""},
		{"%d/keys/%u", home + "/keys/" + me.Username, ""},
		{"/k/%C", "", "token %C"},
		{"/k/%", "", "lone %"},
		{"~root/.ssh/id", "", "only ~/"},
	} {
		got, err := ExpandPath(tc.in, tok)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
