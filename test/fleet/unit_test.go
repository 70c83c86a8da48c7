package fleet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRecipeHash(t *testing.T) {
	a, err := RecipeHash()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RecipeHash()
	if a != b || len(a) != 64 {
		t.Fatalf("unstable or malformed hash %q %q", a, b)
	}
	saved := Packages
	defer func() { Packages = saved }()
	Packages = append(append([]string(nil), saved...), "vim")
	if c, _ := RecipeHash(); c == a {
		t.Error("hash ignores the package list")
	}
	// The app files are in the hash too (embedded, so check they are there).
	for _, p := range []string{"image/provision.sh", "image/rootfs/home/staff-rota-system/rotasystems/__init__.py",
		"image/rootfs/home/staff-rota-system/rotasystems/wsgi.py", "image/rootfs/etc/systemd/system/staffrota.service"} {
		if _, err := image.ReadFile(p); err != nil {
			t.Errorf("%s is not embedded: %v", p, err)
		}
	}
}

func TestMirrorFrom(t *testing.T) {
	dir := t.TempDir()
	deb822 := filepath.Join(dir, "debian.sources")
	os.WriteFile(deb822, []byte(`Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
# comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
`), 0o644)
	if got := mirrorFrom(deb822); got != "http://mirror.example/debian" {
		t.Errorf("deb822: got %q", got)
	}
	list := filepath.Join(dir, "sources.list")
	os.WriteFile(list, []byte("deb [arch=amd64 signed-by=/x.gpg] http://other.example/debian bookworm-updates main\n"+
		"deb [arch=amd64] http://one.example/debian bookworm main\n"), 0o644)
	if got := mirrorFrom(list); got != "http://one.example/debian" {
		t.Errorf("one-line: got %q", got)
	}
}

func TestHCLString(t *testing.T) {
	if got := hclString(`a"b\c${x}`); got != `"a\"b\\c$${x}"` {
		t.Errorf("got %s", got)
	}
}

func TestWriteInventories(t *testing.T) {
	f := &Fleet{Name: "tfx", ClientKey: "/k/client_key", KnownHosts: "/k/known_hosts", SudoPassword: "pw",
		Hosts: []*Host{{Name: "h1", Address: "10.213.0.2"}, {Name: "h2", Address: "10.213.0.6"}}}
	dir := t.TempDir()
	if err := f.WriteTendInventory(filepath.Join(dir, "i.hcl"), "deploy"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "i.hcl"))
	want := `defaults {
  user             = "deploy"
  port             = 22
  identity_file    = "/k/client_key"
  known_hosts_file = "/k/known_hosts"
  become           = true
}

group "web" {
  vars = { workers = 2 }
  host "h1" { address = "10.213.0.2" }
  host "h2" { address = "10.213.0.6" }
}
`
	if !strings.HasSuffix(string(got), want) {
		t.Errorf("inventory.hcl:\n%s\nwant:\n%s", got, want)
	}
	if err := f.WriteAnsibleInventory(filepath.Join(dir, "a.ini"), "deploy"); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(filepath.Join(dir, "a.ini"))
	for _, w := range []string{"[web]\nh1 ansible_host=10.213.0.2\nh2 ansible_host=10.213.0.6\n", "ansible_user=deploy\n",
		"ansible_ssh_private_key_file=/k/client_key\n", "-o UserKnownHostsFile=/k/known_hosts", "ansible_become=true\n"} {
		if !strings.Contains(string(got), w) {
			t.Errorf("ansible.ini lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(string(got), "become_password") {
		t.Error("deploy needs no become password")
	}
}

func TestNames(t *testing.T) {
	n := defaultName()
	if !nameRE.MatchString(n) || len(n)+len("-h16") > 15 {
		t.Errorf("default name %q is unusable", n)
	}
	if defaultName() == n {
		t.Error("default names repeat")
	}
	if m := objectRE.FindStringSubmatch(n + "-h12"); m == nil || m[1] != n || m[2] != "h12" {
		t.Errorf("object name of %q does not parse: %v", n, m)
	}
	if ipString(netBase+2) != "10.213.0.2" || ipString(netBase+slotSize*3+4*15+2) != "10.213.0.254" {
		t.Error("address arithmetic")
	}
}

func TestCheckBehind(t *testing.T) {
	for _, tc := range []struct {
		behind map[string]string
		ok     bool
	}{
		{nil, true},
		{map[string]string{"h2": "h1", "h3": "h1"}, true},
		{map[string]string{"h2": "h2"}, false},
		{map[string]string{"h4": "h1"}, false},
		{map[string]string{"h2": "web"}, false},
		{map[string]string{"h2": "h1", "h1": "h3"}, false},
		{map[string]string{"h02": "h1"}, false},
	} {
		if err := checkBehind(3, tc.behind); (err == nil) != tc.ok {
			t.Errorf("checkBehind(3, %v) = %v, want ok %v", tc.behind, err, tc.ok)
		}
	}
}
