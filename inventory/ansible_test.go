package inventory

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ansible")

// describe renders everything a resolved inventory says about its hosts
// and groups, one fact a line, for comparisons and golden files.
func describe(inv *Inventory, sortGroups bool) string {
	var b strings.Builder
	for _, h := range inv.Hosts {
		ka := "default"
		if h.KeepAliveInterval != nil {
			ka = fmt.Sprint(*h.KeepAliveInterval)
		}
		groups := append([]string(nil), h.Groups...)
		if sortGroups {
			sort.Strings(groups)
		}
		fmt.Fprintf(&b, "host %s address=%s set=%v port=%d user=%q connection=%s identity_file=%q known_hosts_file=%q become=%v become_user=%s connect_timeout=%d keepalive=%s/%d jump=%q\n",
			h.Name, h.Address, h.AddressSet, h.Port, h.User, h.Connection, h.IdentityFile, h.KnownHostsFile,
			h.Become, h.BecomeUser, h.ConnectTimeout, ka, h.KeepAliveCount, h.Jump)
		fmt.Fprintf(&b, "  groups %s\n", strings.Join(groups, ","))
		b.WriteString(describeVars("  var", h.Vars))
	}
	groups := append([]*Group(nil), inv.Groups...)
	if sortGroups {
		sort.Slice(groups, func(i, j int) bool { return groups[i].Name < groups[j].Name })
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "group %s: %s\n", g.Name, strings.Join(g.Hosts, ","))
		b.WriteString(describeVars("  var", g.Vars))
	}
	b.WriteString(describeVars("all var", inv.Vars))
	return b.String()
}

func describeVars(prefix string, vars map[string]cty.Value) string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := vars[k]
		text := strings.Join(strings.Fields(string(hclwrite.TokensForValue(v).Bytes())), " ")
		fmt.Fprintf(&b, "%s %s = %s (%s)\n", prefix, k, text, v.Type().FriendlyName())
	}
	return b.String()
}

func mustLoad(t *testing.T, path string) *Inventory {
	t.Helper()
	inv, diags := Load(path)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", path, diags.Error())
	}
	return inv
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs:\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// TestAnsibleGolden: every Ansible inventory of testdata/ansible resolves
// as its .resolved golden file says, converts (WriteHCL) as its .hcl
// golden file says, and the conversion, read back by tend's HCL parser,
// resolves to the same hosts, settings, groups and vars (the jump hosts
// aside: the HCL inventory has no attribute for them yet).
func TestAnsibleGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/ansible/*")
	n := 0
	for _, path := range files {
		ext := filepath.Ext(path)
		if ext != ".ini" && ext != ".yml" && ext != ".yaml" {
			continue
		}
		n++
		t.Run(filepath.Base(path), func(t *testing.T) {
			inv, diags := Load(path)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			var warnings strings.Builder
			for _, d := range diags {
				fmt.Fprintf(&warnings, "warning %d:%d: %s: %s\n", d.Subject.Start.Line, d.Subject.Start.Column, d.Summary, d.Detail)
			}
			golden(t, path+".resolved", warnings.String()+describe(inv, false))
			out := WriteHCL(inv)
			golden(t, path+".hcl", string(out))
			back, diags := Parse(out, "converted.hcl")
			if diags.HasErrors() {
				t.Fatalf("the conversion does not parse: %s\n%s", diags.Error(), out)
			}
			if got, want := describe(back, false), describe(inv, false); got != want {
				t.Errorf("converted and read back:\n%s\nread directly:\n%s", got, want)
			}
		})
	}
	if n < 5 {
		t.Fatalf("only %d inventories in testdata/ansible", n)
	}
}

// TestAnsibleINIAndYAMLAgree: the guide's inventory written in INI and in
// YAML resolves to the same hosts, settings, groups and vars.
func TestAnsibleINIAndYAMLAgree(t *testing.T) {
	ini := mustLoad(t, "testdata/ansible/hosts.ini")
	yml := mustLoad(t, "testdata/ansible/hosts.yml")
	if a, b := describe(ini, true), describe(yml, true); a != b {
		t.Errorf("INI:\n%s\nYAML:\n%s", a, b)
	}
}

// TestAnsibleSemantics pins what the golden files hold on the points
// where Ansible's rules are easy to get wrong.
func TestAnsibleSemantics(t *testing.T) {
	guide := mustLoad(t, "testdata/ansible/hosts.ini")
	prio := mustLoad(t, "testdata/ansible/priority.ini")
	nulls := mustLoad(t, "testdata/ansible/nulls.yaml")
	crlf := mustLoad(t, "testdata/ansible/crlf.ini")
	complexInv := mustLoad(t, "testdata/ansible/complex.ini")
	sshArgs := mustLoad(t, "testdata/ansible/ssh_args.ini")
	str := func(inv *Inventory, host, v string) string {
		h := inv.Host(host)
		if h == nil {
			return "(no host)"
		}
		val, ok := h.Vars[v]
		if !ok {
			return "(unset)"
		}
		return strings.TrimSpace(string(hclwrite.TokensForValue(val).Bytes()))
	}
	for _, tc := range []struct {
		name, got, want string
	}{
		{"range with leading zeros", strings.Join(guide.Group("webservers").Hosts, ","), "foo.example.com,bar.example.com,www01.example.com,www02.example.com,www03.example.com"},
		{"host:port", fmt.Sprintf("%v %v", guide.Host("db.example.com").Port, guide.Host("db.example.com").Address), "5309 db.example.com"},
		{"alias with ansible_host and ansible_port", fmt.Sprintf("%v %v %v", guide.Host("jumper").Address, guide.Host("jumper").Port, guide.Host("jumper").AddressSet), "192.0.2.50 5555 true"},
		{"host line number", str(guide, "bar.example.com", "http_port"), "8080"},
		{"quoted string in :vars", str(guide, "mail.example.com", "region"), `"eu"`},
		{"before any section: ungrouped", strings.Join(guide.Host("mail.example.com").Groups, ","), "ungrouped"},
		{"child group beats parent (depth)", str(guide, "foo.example.com", "role"), `"east"`},
		{"children depth 3 reach the top group", strings.Join(guide.Group("datacenter").Hosts, ","), "foo.example.com,bar.example.com,one.example.com,two.example.com"},
		{"group settings reach hosts of children", fmt.Sprintf("%v %v %v", guide.Host("two.example.com").User, guide.Host("two.example.com").Become, guide.Host("two.example.com").IdentityFile), "deploy true /keys/deploy"},
		{"ProxyJump list", fmt.Sprintf("%q", guide.Host("one.example.com").Jump), `["bastion@192.0.2.1:2222" "jumper"]`},
		{"no jump where not set", fmt.Sprint(guide.Host("jumper").Jump == nil), "true"},
		{"deepest group wins", str(prio, "h1", "level"), `"a"`},
		{"child < parent < grandparent by depth", str(prio, "h1", "depth_var"), `"child"`},
		{"ansible_group_priority orders groups of one depth", str(prio, "h2", "level"), `"b"`},
		{"host beats groups", str(prio, "h3", "level"), `"host"`},
		{"all reaches every host", str(prio, "h3", "only_all"), "1"},
		{"YAML null host", strings.Join(nulls.Host("lonely").Groups, ","), "ungrouped"},
		{"YAML hosts as a string", strings.Join(nulls.Group("web").Hosts, ","), "web1"},
		{"YAML 1.1 no", str(nulls, "db1", "replica"), "false"},
		{"YAML quoted no", str(nulls, "db1", "quoted_no"), `"no"`},
		{"YAML quoted number", str(nulls, "db1", "version"), `"15"`},
		{"YAML child group vars win", str(nulls, "db2", "replica"), "true"},
		{"YAML null var", str(nulls, "db1", "nothing"), "null"},
		{"YAML empty group kept", fmt.Sprint(nulls.Group("empty_group") != nil), "true"},
		{"quoted value with a blank", str(crlf, "web1", "motd"), `"hello world"`},
		{"Python True", str(crlf, "web1", "flag"), "true"},
		{"lower-case true stays a string", str(crlf, "web1", "lower"), `"true"`},
		{"Python list", str(crlf, "web1", "list"), `[1, "a"]`},
		{"comment after a host line", str(crlf, "web1", "path"), `"/srv/x"`},
		{"-J jump host", fmt.Sprintf("%q", crlf.Host("web1").Jump), `["bastion.example.com"]`},
		{"CRLF user", crlf.Host("web1").User, "admin"},
		{"UserKnownHostsFile", sshArgs.Host("app1").KnownHostsFile, "/etc/tend/known_hosts"},
		{"ssh options", fmt.Sprintf("%d %d %d", sshArgs.Host("app1").ConnectTimeout, *sshArgs.Host("app1").KeepAliveInterval, sshArgs.Host("app1").KeepAliveCount), "7 10 4"},
		{"host's ansible_timeout beats the group's ConnectTimeout", fmt.Sprint(sshArgs.Host("app2").ConnectTimeout), "15"},
		{"old aliases", fmt.Sprintf("%s %d %s", sshArgs.Host("app1").Address, sshArgs.Host("app1").Port, sshArgs.Host("app1").User), "198.51.100.7 2200 ops"},
		{"ansible_connection=local", sshArgs.Host("localhost").Connection, "local"},
		{"[all] hosts are ungrouped", strings.Join(complexInv.Group("ungrouped").Hosts, ","), "ihavenogroup,hostinall"},
		{"all:vars connection", complexInv.Host("test6").Connection, "local"},
		{"a host in several groups", strings.Join(complexInv.Host("test2").Groups, ","), "test_group1,test_group3,parent_1,parent_2,parent_3"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, tc.got, tc.want)
		}
	}
	// A host listed before any section and again in a group leaves
	// ungrouped, as in Ansible.
	early := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(early, []byte("early\nalone\n[web]\nearly\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inv := mustLoad(t, early)
	if got := strings.Join(inv.Host("early").Groups, ",") + " / " + strings.Join(inv.Group("ungrouped").Hosts, ","); got != "web / alone" {
		t.Errorf("groups of early / ungrouped hosts: %s, want web / alone", got)
	}
	if r := guide.Host("foo.example.com").SettingRanges["user"]; r.Start.Line != 35 || !strings.HasSuffix(r.Filename, "hosts.ini") {
		t.Errorf("user of foo.example.com written at %v, want hosts.ini line 35", r)
	}
}

// TestExpandHostPattern covers Ansible's host patterns: ranges (numbers
// with and without leading zeros, letters, steps, several), ports and
// IPv6 addresses.
func TestExpandHostPattern(t *testing.T) {
	for _, tc := range []struct {
		in, hosts, port, problem string
	}{
		{"web[01:03].example.com", "web01.example.com web02.example.com web03.example.com", "", ""},
		{"web[1:3]", "web1 web2 web3", "", ""},
		{"db-[a:c]-node", "db-a-node db-b-node db-c-node", "", ""},
		{"n[0:10:4]", "n0 n4 n8", "", ""},
		{"n[:2]", "n0 n1 n2", "", ""},
		{"r[1:2]c[a:b]", "r1ca r1cb r2ca r2cb", "", ""},
		{"web[08:10]:2222", "web08 web09 web10", "2222", ""},
		{"db.example.com:5309", "db.example.com", "5309", ""},
		{"192.0.2.1:22", "192.0.2.1", "22", ""},
		{"2001:db8::1", "2001:db8::1", "", ""},
		{"[2001:db8::1]:2222", "2001:db8::1", "2222", ""},
		{"host:", "", "", "reserved for a port"},
		{"web[1:3", "", "", "no closing"},
		{"web[01:100]", "", "", "same width"},
		{"web[3:1:x]", "", "", "step"},
		{"web[c:a]", "", "", "begin <= end"},
		{"web[1]", "", "", "begin:end"},
	} {
		hosts, port, problem := expandHostPattern(tc.in)
		if strings.Join(hosts, " ") != tc.hosts || port != tc.port || (tc.problem == "") != (problem == "") || !strings.Contains(problem, tc.problem) {
			t.Errorf("%s: got %q port %q problem %q; want %q port %q problem ~%q", tc.in, hosts, port, problem, tc.hosts, tc.port, tc.problem)
		}
	}
}

// TestPyValue: INI values are Python literals where they parse as one.
func TestPyValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"5", "5"},
		{"-1.5", "-1.5"},
		{"1e3", "1000"},
		{"010", `"010"`},
		{"True", "true"},
		{"False", "false"},
		{"true", `"true"`},
		{"yes", `"yes"`},
		{"None", "null"},
		{"'single'", `"single"`},
		{`"double"`, `"double"`},
		{"[1, 'a', [True]]", `[1, "a", [true]]`},
		{"(1, 2)", "[1, 2]"},
		{"{'a': 1, 'b': 'x'}", `{ a = 1 b = "x" }`},
		{"/usr/bin/python3", `"/usr/bin/python3"`},
		{"192.0.2.1", `"192.0.2.1"`},
		{"1.2.3", `"1.2.3"`},
		{"[1, 2", `"[1, 2"`},
		{"'unclosed", `"'unclosed"`},
		{"", `""`},
	} {
		got := strings.Join(strings.Fields(string(hclwrite.TokensForValue(pyValue(tc.in)).Bytes())), " ")
		if got != tc.want {
			t.Errorf("pyValue(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestDetectFormat: the extension decides; without one, the content.
func TestDetectFormat(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      Format
	}{
		{"inv.hcl", "[web]\nx\n", FormatHCL},
		{"hosts.ini", "all:\n", FormatAnsibleINI},
		{"hosts.yml", "[web]\n", FormatAnsibleYAML},
		{"hosts.YAML", "", FormatAnsibleYAML},
		{"hosts", "# comment\n[web]\nweb1\n", FormatAnsibleINI},
		{"hosts", "web1\nweb2\n", FormatAnsibleINI},
		{"hosts", "# comment\n---\nall:\n  hosts:\n", FormatAnsibleYAML},
		{"hosts", "all:\n  hosts: {}\n", FormatAnsibleYAML},
		{"inventory", "defaults {\n  user = \"x\"\n}\n", FormatHCL},
		{"inventory", "# x\ngroup \"web\" {\n}\n", FormatHCL},
	} {
		if got := DetectFormat(tc.name, []byte(tc.src)); got != tc.want {
			t.Errorf("%s %q: %s, want %s", tc.name, tc.src, got, tc.want)
		}
	}
}

// TestAnsibleDiagnostics: mistakes are errors at their file:line:col,
// what tend cannot honour a warning naming the variable and the hosts,
// and the harmless ansible_* variables pass silently.
func TestAnsibleDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, file, src string
		sev             hcl.DiagnosticSeverity // 0: no diagnostic at all
		at, phrase      string
	}{
		{"become password", "h.ini", "[web]\nweb1\n[web:vars]\nansible_become_password=hunter2\n", hcl.DiagError, "4:1", "become_password_env"},
		{"ssh password on a host line", "h.ini", "web1 ansible_host=10.0.0.1 ansible_ssh_pass=x\n", hcl.DiagError, "1:28", "never takes passwords"},
		{"password in YAML", "h.yml", "all:\n  hosts:\n    web1:\n      ansible_password: x\n", hcl.DiagError, "4:7", "ansible_password"},
		{"unknown ansible var", "h.ini", "[web]\nweb1\nweb2\n[web:vars]\nansible_winrm_transport=ntlm\n", hcl.DiagWarning, "5:1", "ansible_winrm_transport and ignores it. Hosts: web1, web2."},
		{"python interpreter is silent", "h.ini", "web1 ansible_python_interpreter=/usr/bin/python3 ansible_shell_type=sh\n", 0, "", ""},
		{"unknown section type", "h.ini", "[web:host]\nweb1\n", hcl.DiagError, "1:1", "unknown type"},
		{"section with a space", "h.ini", "[web servers]\nweb1\n", hcl.DiagError, "1:1", "without spaces"},
		{"vars of an undeclared group", "h.ini", "web1\n[db:vars]\nx=1\n", hcl.DiagError, "2:1", "no [db] or [db:children]"},
		{"child never declared", "h.ini", "[prod:children]\nweb\n", hcl.DiagError, "2:1", "includes group \"web\""},
		{"children declared later are fine", "h.ini", "[prod:children]\nweb\n[web]\nweb1\n", 0, "", ""},
		{"host var without =", "h.ini", "[web]\nweb1 become\n", hcl.DiagError, "2:6", "name=value"},
		{"bad range", "h.ini", "[web]\nweb[01:100]\n", hcl.DiagError, "2:1", "same width"},
		{"unclosed quote", "h.ini", "web1 motd='hi\n", hcl.DiagError, "1:1", "no closing quotation"},
		{"YAML document in an INI", "hosts", "web1\n---\n", hcl.DiagError, "2:1", "YAML"},
		{"connection docker", "h.ini", "web1 ansible_connection=docker\n", hcl.DiagError, "1:6", "not with \"docker\""},
		{"port out of range", "h.yml", "all:\n  hosts:\n    web1:\n      ansible_port: 70000\n", hcl.DiagError, "4:7", "1 to 65535"},
		{"address with a login", "h.ini", "web1 ansible_host=root@10.0.0.1\n", hcl.DiagError, "1:6", "holds a login"},
		{"ProxyCommand", "h.ini", "web1 ansible_ssh_common_args='-o ProxyCommand=\"ssh -W %h:%p b\"'\n", hcl.DiagWarning, "1:6", "ProxyJump"},
		{"StrictHostKeyChecking=no", "h.ini", "web1 ansible_ssh_common_args='-o StrictHostKeyChecking=no'\n", hcl.DiagWarning, "1:6", "always checks host keys"},
		{"group name changed", "h.ini", "[web-servers]\nweb1\n", hcl.DiagWarning, "1:1", `"web_servers"`},
		{"group cycle", "h.yml", "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n", hcl.DiagError, "7:13", "a → b → a"},
		{"YAML syntax", "h.yml", "all:\n  hosts:\n    web1: {\n", hcl.DiagError, "", "Invalid YAML"},
		{"YAML list at the top", "h.yml", "- web1\n", hcl.DiagError, "1:1", "mapping of groups"},
		{"plugin configuration", "h.yml", "plugin: aws_ec2\nregions: [eu-west-1]\n", hcl.DiagError, "1:1", "inventory plugin"},
		{"host name that is a number", "h.yml", "all:\n  hosts:\n    42:\n", hcl.DiagError, "3:5", "quote it"},
		{"host and group of one name", "h.ini", "[web]\nweb\n", hcl.DiagError, "2:1", "both a host and a group"},
		{"unexpected key in a YAML group", "h.yml", "all:\n  host:\n    web1:\n", hcl.DiagWarning, "2:3", "only hosts, children and vars"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, diags := Load(path)
			if tc.sev == 0 {
				if len(diags) != 0 {
					t.Fatalf("want no diagnostic, got %s", diags.Error())
				}
				return
			}
			if len(diags) != 1 {
				t.Fatalf("want one diagnostic, got %d: %s", len(diags), diags.Error())
			}
			d := diags[0]
			if d.Severity != tc.sev || !strings.Contains(d.Summary+": "+d.Detail, tc.phrase) {
				t.Errorf("got %v %s: %s; want severity %v with %q", d.Severity, d.Summary, d.Detail, tc.sev, tc.phrase)
			}
			if d.Subject == nil || d.Subject.Filename != path {
				t.Fatalf("diagnostic without a place in %s: %+v", path, d.Subject)
			}
			if at := fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column); tc.at != "" && at != tc.at {
				t.Errorf("at %s, want %s", at, tc.at)
			}
		})
	}
}

// TestWriteHCLRoundTripsHCL: an HCL inventory with every connection
// setting, written by WriteHCL and read back, resolves the same.
func TestWriteHCLRoundTripsHCL(t *testing.T) {
	inv, diags := Parse([]byte(`defaults {
  user = "deploy"
  become = true
  command_timeout = 300
  vars = { region = "eu", workers = 1 }
}
group "web" {
  become_password_env = "SUDO_PW"
  keepalive_interval = 0
  vars = { workers = 2 }
  host "web1" { address = "203.0.113.10" }
  host "web2" {
    address = "203.0.113.11"
    port = 2222
    known_hosts_file = "/etc/kh"
    vars = { workers = 4, tags = ["a", "b"] }
  }
}
group "prod" {
  children = ["web"]
  members = ["db1"]
  become_password_prompt = true
}
host "db1" {
  connect_timeout = 3
  keepalive_count = 5
  state_dir = "/var/lib/tend-db"
  become_user = "postgres"
  identity_file = "/keys/db"
}
host "ctl" { connection = "local" }
`), "in.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	out := WriteHCL(inv)
	back, diags := Parse(out, "out.hcl")
	if diags.HasErrors() {
		t.Fatalf("%s\n%s", diags.Error(), out)
	}
	if got, want := describe(back, false), describe(inv, false); got != want {
		t.Errorf("read back:\n%s\nwant:\n%s\nfrom:\n%s", got, want, out)
	}
	for _, h := range []string{"web1", "web2", "db1", "ctl"} {
		a, b := inv.Host(h), back.Host(h)
		if a.CommandTimeout != b.CommandTimeout || a.StateDir != b.StateDir || a.BecomePasswordEnv != b.BecomePasswordEnv || a.BecomePasswordPrompt != b.BecomePasswordPrompt {
			t.Errorf("%s: settings differ after the round trip:\n%+v\n%+v", h, a, b)
		}
	}
}

// TestAnsibleDirectory: a directory inventory is its files (README.md
// skipped) with group_vars/ and host_vars/ (files and directories of
// files), in Ansible's precedence; vaulted files and values are warned
// about and skipped. A single file gets the group_vars/ beside it too.
func TestAnsibleDirectory(t *testing.T) {
	inv, diags := Load("testdata/ansible/dir")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var warnings []string
	for _, d := range diags {
		warnings = append(warnings, fmt.Sprintf("%s:%d %s", filepath.Base(d.Subject.Filename), d.Subject.Start.Line, d.Summary))
	}
	if got, want := strings.Join(warnings, "; "), "prod.yaml:2 Vaulted value not read; vault.yml:1 Vaulted file not read"; got != want {
		t.Errorf("warnings %q, want %q", got, want)
	}
	str := func(host, v string) string {
		val, ok := inv.Host(host).Vars[v]
		if !ok {
			return "(unset)"
		}
		return strings.TrimSpace(string(hclwrite.TokensForValue(val).Bytes()))
	}
	names := make([]string, 0, len(inv.Hosts))
	for _, h := range inv.Hosts {
		names = append(names, h.Name)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"files in name order, README.md skipped", strings.Join(names, ","), "ctl,web1,web2,db1"},
		{"group_vars/all reaches every host", inv.Host("ctl").User + " " + inv.Host("db1").User, "deploy deploy"},
		{"group_vars/ beat the inventory's group vars, a parent's too", str("web1", "role"), `"prod-file"`},
		{"group_vars/all beats the inventory's child group vars", str("ctl", "role"), `"all-file"`},
		{"group_vars/web/ directory", str("web1", "workers"), "2"},
		{"host_vars/ beat group_vars/", str("web2", "workers"), "4"},
		{"host_vars connection setting", inv.Host("web2").Address, "10.0.0.2"},
		{"host_vars without an extension (JSON)", fmt.Sprintf("%d %s", inv.Host("db1").Port, str("db1", "tags")), `2222 ["primary"]`},
		{"vaulted value skipped", str("db1", "db_password"), "(unset)"},
		{"second source's host", inv.Host("ctl").Connection, "local"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, tc.got, tc.want)
		}
	}
	back, diags := Parse(WriteHCL(inv), "converted.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got, want := describe(back, false), describe(inv, false); got != want {
		t.Errorf("converted and read back:\n%s\nread directly:\n%s", got, want)
	}

	single := mustLoad(t, "testdata/ansible/dir/hosts.ini")
	if single.Host("ctl") != nil || single.Host("web1").User != "deploy" {
		t.Errorf("hosts.ini alone: want its group_vars/ and not extra.yml, got ctl=%v user=%q", single.Host("ctl") != nil, single.Host("web1").User)
	}
}
