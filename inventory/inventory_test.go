package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

const sample = `
defaults {
  user             = "deploy"
  port             = 22
  identity_file    = "~/.ssh/id_ed25519"
  become           = true
  connect_timeout  = 10
  command_timeout  = 300
  vars = { env = "prod", workers = 1 }
}

group "web" {
  vars = { workers = 2, role = "web" }
  user = "www"
  host "web1" { address = "203.0.113.10" }
  host "web2" {
    address = "203.0.113.11"
    vars    = { workers = 4 }
  }
}

host "db1" {
  address    = "203.0.113.20"
  connection = "ssh"
  port       = 2222
}

host "cache1" {
  become_user = upper("redis")
}

group "prod" {
  members  = ["db1"]
  children = ["web"]
  vars     = { role = "prod" }
  port     = 2200
}
`

func mustParse(t *testing.T, src string) *Inventory {
	t.Helper()
	inv, diags := Parse([]byte(src), "inv.hcl")
	if diags.HasErrors() {
		t.Fatalf("Parse: %s", diags.Error())
	}
	return inv
}

func TestParseResolves(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory:", err)
	}
	inv := mustParse(t, sample)

	var names []string
	for _, h := range inv.Hosts {
		names = append(names, h.Name)
	}
	if want := []string{"web1", "web2", "db1", "cache1"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("hosts = %v, want %v (declaration order)", names, want)
	}

	tests := []struct {
		host       string
		address    string
		user       string
		port       int
		becomeUser string
		groups     []string
		vars       map[string]cty.Value
	}{
		{"web1", "203.0.113.10", "www", 2200, "root", []string{"web", "prod"}, map[string]cty.Value{
			"env": cty.StringVal("prod"), "workers": cty.NumberIntVal(2), "role": cty.StringVal("prod")}},
		{"web2", "203.0.113.11", "www", 2200, "root", []string{"web", "prod"}, map[string]cty.Value{
			"env": cty.StringVal("prod"), "workers": cty.NumberIntVal(4), "role": cty.StringVal("prod")}},
		// Host settings beat group settings.
		{"db1", "203.0.113.20", "deploy", 2222, "root", []string{"prod"}, map[string]cty.Value{
			"env": cty.StringVal("prod"), "workers": cty.NumberIntVal(1), "role": cty.StringVal("prod")}},
		{"cache1", "cache1", "deploy", 22, "REDIS", nil, map[string]cty.Value{
			"env": cty.StringVal("prod"), "workers": cty.NumberIntVal(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			h := inv.Host(tt.host)
			if h == nil {
				t.Fatalf("Host(%q) = nil", tt.host)
			}
			if h.Address != tt.address || h.User != tt.user || h.Port != tt.port || h.BecomeUser != tt.becomeUser {
				t.Errorf("got address=%q user=%q port=%d become_user=%q, want %q %q %d %q",
					h.Address, h.User, h.Port, h.BecomeUser, tt.address, tt.user, tt.port, tt.becomeUser)
			}
			if !reflect.DeepEqual(h.Groups, tt.groups) {
				t.Errorf("groups = %v, want %v", h.Groups, tt.groups)
			}
			if len(h.Vars) != len(tt.vars) {
				t.Errorf("vars = %#v, want %#v", h.Vars, tt.vars)
			}
			for k, want := range tt.vars {
				if got, ok := h.Vars[k]; !ok || !got.RawEquals(want) {
					t.Errorf("vars[%q] = %#v, want %#v", k, got, want)
				}
			}
			if h.Connection != "ssh" || !h.Become || h.ConnectTimeout != 10 || h.CommandTimeout != 300 {
				t.Errorf("defaults not applied: %+v", h)
			}
			if want := filepath.Join(home, ".ssh/id_ed25519"); h.IdentityFile != want {
				t.Errorf("identity_file = %q, want %q", h.IdentityFile, want)
			}
		})
	}

	if g := inv.Group("prod"); g == nil || !reflect.DeepEqual(g.Hosts, []string{"web1", "web2", "db1"}) {
		t.Errorf("group prod = %+v, want hosts web1 web2 db1 (members and children, inventory order)", g)
	}
	if inv.Group("nope") != nil || inv.Host("nope") != nil {
		t.Error("lookups of unknown names must return nil")
	}
	if v := inv.Vars["env"]; !v.RawEquals(cty.StringVal("prod")) {
		t.Errorf("inventory vars env = %#v", v)
	}
	if inv.Files["inv.hcl"] == nil {
		t.Error("Files must hold the parsed source for diagnostics")
	}
}

func TestLaterGroupWins(t *testing.T) {
	inv := mustParse(t, `
host "a" {}
group "g1" {
  members = ["a"]
  user    = "one"
  vars    = { x = 1, y = 1 }
}
group "g2" {
  members = ["a"]
  user    = "two"
  vars    = { x = 2 }
}
`)
	h := inv.Host("a")
	if h.User != "two" || !h.Vars["x"].RawEquals(cty.NumberIntVal(2)) || !h.Vars["y"].RawEquals(cty.NumberIntVal(1)) {
		t.Errorf("got user %q vars %#v; want the later group's value, merged by key", h.User, h.Vars)
	}
}

func TestEnvFunction(t *testing.T) {
	t.Setenv("TEND_TEST_ADDR", "192.0.2.7")
	inv := mustParse(t, `
host "a" { address = env("TEND_TEST_ADDR") }
host "b" { address = env("TEND_TEST_UNSET_VARIABLE", "192.0.2.8") }
`)
	if got := inv.Host("a").Address; got != "192.0.2.7" {
		t.Errorf("env: address = %q", got)
	}
	if got := inv.Host("b").Address; got != "192.0.2.8" {
		t.Errorf("env default: address = %q", got)
	}
}

func TestLocalhost(t *testing.T) {
	inv := Localhost()
	if len(inv.Hosts) != 1 {
		t.Fatalf("hosts = %d", len(inv.Hosts))
	}
	h := inv.Hosts[0]
	if h.Name != "localhost" || h.Connection != "local" || h.Become || h.Vars == nil {
		t.Errorf("Localhost() host = %+v", h)
	}
	if sel, err := inv.Select([]string{"all"}); err != nil || len(sel) != 1 {
		t.Errorf("Select(all) = %v, %v", sel, err)
	}
}

func TestExampleInventory(t *testing.T) {
	inv, diags := Load("../examples/staffrota/inventory.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	h := inv.Host("therota-prod")
	if h == nil || h.Address != "159.65.18.80" || h.User != "deploy" || !h.Become ||
		!reflect.DeepEqual(h.Groups, []string{"web"}) || !h.Vars["workers"].RawEquals(cty.NumberIntVal(2)) {
		t.Errorf("example host = %+v", h)
	}
}

func TestLoadMissingFile(t *testing.T) {
	inv, diags := Load(filepath.Join(t.TempDir(), "nope.hcl"))
	if !diags.HasErrors() || inv == nil || diags[0].Summary != "Failed to read inventory" {
		t.Errorf("Load(missing) = %v, %v", inv, diags)
	}
}

// TestBadInventories checks that each mistake is reported with its summary
// and at the right place.
func TestBadInventories(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		summary   string
		line, col int
		detail    string // substring of the detail, optional
	}{
		{"syntax error", "host \"a\" {\n  address = \n}\n", "Invalid expression", 2, 13, ""},
		{"unknown attribute", "host \"a\" {\n  adress = \"x\"\n}\n", "Unsupported argument", 2, 3, `Did you mean "address"?`},
		{"unknown block", "hots \"a\" {}\n", "Unsupported block type", 1, 1, `Did you mean "host"?`},
		{"address in defaults", "defaults {\n  address = \"x\"\n}\n", "Unsupported argument", 2, 3, ""},
		{"duplicate host", "host \"a\" {}\ngroup \"g\" {\n  host \"a\" {}\n}\n", "Duplicate host", 3, 3, "inv.hcl:1,1-9"},
		{"duplicate group", "group \"g\" {}\ngroup \"g\" {}\n", "Duplicate group", 2, 1, ""},
		{"group named like host", "host \"a\" {}\ngroup \"a\" {}\n", "Group name clashes with a host", 2, 1, ""},
		{"port too big", "defaults {\n  port = 70000\n}\n", "Invalid port", 2, 10, "70000"},
		{"port zero", "host \"a\" {\n  port = 0\n}\n", "Invalid port", 2, 10, ""},
		{"port not whole", "host \"a\" {\n  port = 22.5\n}\n", "Incorrect attribute value type", 2, 10, "whole number"},
		{"port wrong type", "host \"a\" {\n  port = \"ssh\"\n}\n", "Incorrect attribute value type", 2, 10, "a number"},
		{"bad connection", "host \"a\" {\n  connection = \"winrm\"\n}\n", "Invalid connection", 2, 16, `"winrm"`},
		{"become not bool", "group \"g\" {\n  become = \"maybe\"\n}\n", "Incorrect attribute value type", 2, 12, "a bool"},
		{"negative timeout", "defaults {\n  command_timeout = -1\n}\n", "Invalid command_timeout", 2, 21, ""},
		{"password in env attr", "defaults {\n  become_password_env = \"hunter2 secret\"\n}\n", "Invalid become_password_env", 2, 25, "Never write the password"},
		{"vars not object", "host \"a\" {\n  vars = [1, 2]\n}\n", "Incorrect attribute value type", 2, 10, "object"},
		{"unknown child group", "group \"web\" {}\ngroup \"prod\" {\n  children = [\"web\", \"wbe\"]\n}\n", "Unknown group", 3, 22, `Did you mean "web"?`},
		{"unknown member", "host \"db1\" {}\ngroup \"g\" {\n  members = [\"db2\"]\n}\n", "Unknown host", 3, 14, `Did you mean "db1"?`},
		{"group as member", "group \"web\" {}\ngroup \"g\" {\n  members = [\"web\"]\n}\n", "Group listed as a member", 3, 14, "children"},
		{"group cycle", "group \"a\" {\n  children = [\"b\"]\n}\ngroup \"b\" {\n  children = [\"a\"]\n}\n", "Group cycle", 5, 15, "a → b → a"},
		{"reserved name", "host \"all\" {}\n", "Invalid host name", 1, 6, "reserved"},
		{"pattern char in name", "group \"web,db\" {}\n", "Invalid group name", 1, 7, ""},
		{"duplicate defaults", "defaults {}\ndefaults {}\n", "Duplicate defaults block", 2, 1, ""},
		{"env unset", "host \"a\" {\n  address = env(\"TEND_TEST_UNSET_VARIABLE\")\n}\n", "Error in function call", 2, 13, "is not set"},
		{"variables not allowed", "host \"a\" {\n  address = var.x\n}\n", "Variables not allowed", 2, 13, ""},
		{"empty address", "host \"a\" {\n  address = \"\"\n}\n", "Invalid address", 2, 13, ""},
		{"address with port", "host \"a\" {\n  address = \"203.0.113.10:2222\"\n}\n", "Invalid address", 2, 13, `write address = "203.0.113.10" and port = 2222.`},
		{"address with v6 port", "host \"a\" {\n  address = \"[2001:db8::1]:2222\"\n}\n", "Invalid address", 2, 13, `write address = "2001:db8::1" and port = 2222.`},
		{"address with login", "host \"a\" {\n  address = \"deploy@web1.example.com\"\n}\n", "Invalid address", 2, 13, `write address = "web1.example.com" and user = "deploy".`},
		{"address as URL", "host \"a\" {\n  address = \"ssh://web1.example.com\"\n}\n", "Invalid address", 2, 13, "is a URL"},
		{"address in brackets", "host \"a\" {\n  address = \"[2001:db8::1]\"\n}\n", "Invalid address", 2, 13, `without brackets: address = "2001:db8::1"`},
		{"address with a space", "host \"a\" {\n  address = \"web1 web2\"\n}\n", "Invalid address", 2, 13, "neither a host name nor an IP address"},
		{"empty ssh_config", "defaults {\n  ssh_config = \"\"\n}\n", "Invalid ssh_config", 2, 16, "must not be empty"},
		{"jump wrong type", "host \"a\" {\n  jump = { b = 1 }\n}\n", "Incorrect attribute value type", 2, 10, "a list of strings"},
		{"jump bad port", "host \"a\" {\n  jump = \"admin@b:99999\"\n}\n", "Invalid jump", 2, 10, `invalid port "99999"`},
		{"jump empty login", "host \"a\" {\n  jump = [\"@b\"]\n}\n", "Invalid jump", 2, 10, "empty login"},
		{"jump empty hop", "host \"a\" {\n  jump = \"b,,c\"\n}\n", "Invalid jump", 2, 10, "must not be empty"},
		{"jump none among hops", "host \"a\" {\n  jump = [\"b\", \"none\"]\n}\n", "Invalid jump", 2, 10, "alone"},
		{"jump through itself", "defaults {\n  jump = \"b\"\n}\nhost \"a\" {}\nhost \"b\" {}\n", "Jump host cycle", 2, 10, `set jump = "none"`},
		{"jump cycle", "host \"a\" {\n  jump = \"b\"\n}\nhost \"b\" {\n  jump = \"c\"\n}\nhost \"c\" {\n  jump = [\"x@y\", \"a\"]\n}\n", "Jump host cycle", 2, 10, "a → b → c → a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, diags := Parse([]byte(tt.src), "inv.hcl")
			if inv == nil {
				t.Fatal("Parse returned a nil inventory")
			}
			d := findDiag(diags, tt.summary)
			if d == nil {
				t.Fatalf("no %q diagnostic; got: %s", tt.summary, diagsString(diags))
			}
			if d.Severity != hcl.DiagError {
				t.Errorf("severity = %v, want error", d.Severity)
			}
			if d.Subject == nil {
				t.Fatalf("diagnostic %q has no subject", d.Summary)
			}
			if d.Subject.Filename != "inv.hcl" || d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
				t.Errorf("at %s:%d:%d, want inv.hcl:%d:%d (%s)", d.Subject.Filename,
					d.Subject.Start.Line, d.Subject.Start.Column, tt.line, tt.col, d.Detail)
			}
			if !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", d.Detail, tt.detail)
			}
		})
	}
}

// TestAddressesAccepted: host names and IP addresses, IPv6 bare and with a
// zone, are addresses.
func TestAddressesAccepted(t *testing.T) {
	for _, a := range []string{"web1", "web1.example.com", "203.0.113.10", "2001:db8::1", "::1", "fe80::1%eth0", "xn--bcher-kva.example"} {
		inv := mustParse(t, fmt.Sprintf("host \"a\" {\n  address = %q\n}\n", a))
		if got := inv.Hosts[0].Address; got != a {
			t.Errorf("address %q became %q", a, got)
		}
	}
}

// TestAllErrorsCollected checks that parsing goes on after the first error.
func TestAllErrorsCollected(t *testing.T) {
	_, diags := Parse([]byte("host \"a\" {\n  port = 0\n  connection = \"x\"\n}\nhost \"b\" {\n  colour = 1\n}\nhost \"a\" {}\n"), "inv.hcl")
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary)
	}
	want := []string{"Invalid port", "Invalid connection", "Unsupported argument", "Duplicate host"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func findDiag(diags hcl.Diagnostics, summary string) *hcl.Diagnostic {
	for _, d := range diags {
		if d.Summary == summary {
			return d
		}
	}
	return nil
}

func diagsString(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("\n  " + d.Error())
	}
	return b.String()
}

// TestJumpAndSSHConfig: jump and ssh_config are settings like the others
// (defaults < group < host), with where they were written.
func TestJumpAndSSHConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	inv := mustParse(t, `
defaults {
  ssh_config = "~/ssh/config"
  jump       = "bastion"
}
host "bastion" {
  address = "192.0.2.1"
  jump    = "none"
}
group "far" {
  jump = ["admin@hop1:2222", "bastion"]
  host "app1" {}
}
host "app2" { ssh_config = "none" }
`)
	for _, tc := range []struct {
		host, cfg string
		jump      []string
	}{
		{"bastion", filepath.Join(home, "ssh/config"), []string{"none"}},
		{"app1", filepath.Join(home, "ssh/config"), []string{"admin@hop1:2222", "bastion"}},
		{"app2", "none", []string{"bastion"}},
	} {
		h := inv.Host(tc.host)
		if h.SSHConfigFile != tc.cfg || !reflect.DeepEqual(h.Jump, tc.jump) {
			t.Errorf("%s: ssh_config %q jump %q; want %q %q", tc.host, h.SSHConfigFile, h.Jump, tc.cfg, tc.jump)
		}
		if _, ok := h.SettingRanges["jump"]; !ok {
			t.Errorf("%s: no range for jump", tc.host)
		}
	}
	if h := inv.Host("app1"); h.AddressSet || h.Address != "app1" {
		t.Errorf("app1: address %q set %v", h.Address, h.AddressSet)
	}
	if _, ok := inv.Host("app1").SettingRanges["port"]; ok {
		t.Errorf("port was not written, yet has a range")
	}
}

func TestParseJump(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Hop
		err  bool
	}{
		{"bastion", Hop{Host: "bastion"}, false},
		{"admin@bastion", Hop{User: "admin", Host: "bastion"}, false},
		{"admin@bastion:2222", Hop{User: "admin", Host: "bastion", Port: 2222}, false},
		{"ssh://admin@192.0.2.1:22", Hop{User: "admin", Host: "192.0.2.1", Port: 22}, false},
		{"[2001:db8::1]:2200", Hop{Host: "2001:db8::1", Port: 2200}, false},
		{"2001:db8::1", Hop{Host: "2001:db8::1"}, false},
		{"b:0", Hop{}, true},
		{"b:ssh", Hop{}, true},
		{"", Hop{}, true},
		{"a b", Hop{}, true},
	} {
		got, err := ParseJump(tc.in)
		if (err != nil) != tc.err || !tc.err && got != tc.want {
			t.Errorf("ParseJump(%q) = %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestJumpMisspelt: a jump host that is no inventory host but looks like
// one is a warning, not an error: it may be a real host name.
func TestJumpMisspelt(t *testing.T) {
	_, diags := Parse([]byte("host \"bastion\" {}\nhost \"a\" {\n  jump = \"bastoin\"\n}\nhost \"b\" {\n  jump = \"gw.example.com\"\n}\n"), "inv.hcl")
	if diags.HasErrors() || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Detail, `Did you mean "bastion"?`) {
		t.Fatalf("want one warning suggesting bastion, got %s", diagsString(diags))
	}
}
