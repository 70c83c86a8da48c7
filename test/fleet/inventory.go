package fleet

import (
	"fmt"
	"os"
	"strings"
)

// WriteTendInventory writes an HCL inventory for tend to path: a defaults
// block that logs in as user with the fleet's key and known_hosts file and
// becomes root, and one group "web" (vars: workers = 2) holding every host
// by name and address.
func (f *Fleet) WriteTendInventory(path, user string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# tend test fleet %s, written by test/fleet.\n", f.Name)
	b.WriteString("defaults {\n")
	fmt.Fprintf(&b, "  user             = %s\n", hclString(user))
	b.WriteString("  port             = 22\n")
	fmt.Fprintf(&b, "  identity_file    = %s\n", hclString(f.ClientKey))
	fmt.Fprintf(&b, "  known_hosts_file = %s\n", hclString(f.KnownHosts))
	b.WriteString("  become           = true\n")
	b.WriteString("}\n\n")
	b.WriteString("group \"web\" {\n")
	b.WriteString("  vars = { workers = 2 }\n")
	for _, h := range f.Hosts {
		fmt.Fprintf(&b, "  host %s { address = %s }\n", hclString(h.Name), hclString(h.Address))
	}
	b.WriteString("}\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// WriteAnsibleInventory writes an INI inventory for ansible-playbook to
// path: group "web" with every host's ansible_host, and group variables that
// log in as user with the fleet's key, check host keys strictly against the
// fleet's known_hosts file and become root (with the sudo password when user
// is ops).
func (f *Fleet) WriteAnsibleInventory(path, user string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# tend test fleet %s, written by test/fleet.\n", f.Name)
	b.WriteString("[web]\n")
	for _, h := range f.Hosts {
		fmt.Fprintf(&b, "%s ansible_host=%s\n", h.Name, h.Address)
	}
	b.WriteString("\n[web:vars]\n")
	fmt.Fprintf(&b, "ansible_user=%s\n", user)
	b.WriteString("ansible_port=22\n")
	fmt.Fprintf(&b, "ansible_ssh_private_key_file=%s\n", f.ClientKey)
	fmt.Fprintf(&b, "ansible_ssh_common_args='-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'\n", f.KnownHosts)
	b.WriteString("ansible_become=true\n")
	if user == "ops" {
		fmt.Fprintf(&b, "ansible_become_password=%s\n", f.SudoPassword)
	}
	b.WriteString("ansible_python_interpreter=/usr/bin/python3\n")
	b.WriteString("workers=2\n")
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// hclString quotes s as an HCL string literal.
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}
