// Package inventory reads tend inventories (HCL) into resolved hosts: each
// host with its connection settings and its merged variables.
package inventory

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Inventory is a resolved inventory: defaults applied, groups expanded,
// variables merged (defaults < group < host).
type Inventory struct {
	// Hosts in declaration order.
	Hosts []*Host
	// Groups in declaration order.
	Groups []*Group
	// Vars are the inventory-wide vars (from defaults).
	Vars map[string]cty.Value
	// Filename is the file the inventory came from ("" for the implicit one).
	Filename string
	// Files holds the source, by filename, for printing diagnostics with
	// source snippets (hcl.NewDiagnosticTextWriter); not its syntax tree.
	Files map[string]*hcl.File
}

// Group is a named set of hosts.
type Group struct {
	Name  string
	Hosts []string // host names, in order
	// Children are the groups whose hosts are in this one (children =
	// [...], or Ansible's children), as written.
	Children []string
	Vars     map[string]cty.Value
	Range    hcl.Range
}

// Host is one target host with everything needed to reach it.
type Host struct {
	// Name is the inventory name; Address what tend connects to
	// (defaults to Name).
	Name    string
	Address string
	Port    int
	User    string
	// Connection is "ssh" or "local".
	Connection string
	// IdentityFile is a private key path, "~" expanded.
	IdentityFile string
	// KnownHostsFile is an extra known_hosts file consulted (and, with
	// --accept-new-host-keys, appended to) before ~/.ssh/known_hosts.
	KnownHostsFile string
	// Become escalates with sudo; BecomeUser defaults to root.
	Become     bool
	BecomeUser string
	// BecomePasswordEnv names an environment variable holding the sudo
	// password; BecomePasswordPrompt asks on the terminal instead.
	BecomePasswordEnv    string
	BecomePasswordPrompt bool
	// ConnectTimeout and CommandTimeout in seconds; zero means defaults
	// (command_timeout: 600).
	ConnectTimeout int
	CommandTimeout int
	// KeepAliveInterval is the keepalive and command heartbeat interval in
	// seconds (nil: the default, 5; 0: off); KeepAliveCount the unanswered
	// keepalives that end the connection (0: the default, 3).
	KeepAliveInterval *int
	KeepAliveCount    int
	// SSHConfigFile is the OpenSSH client configuration consulted for this
	// host ("" = ~/.ssh/config when it exists, "none" = none). Settings
	// written in the inventory win over it.
	SSHConfigFile string
	// AddressSet says the inventory gave the address; without it, Address
	// is the name and the name is looked up in the ssh_config file, like
	// `ssh NAME` does (HostName, Port, User, ProxyJump...).
	AddressSet bool
	// Jump is the chain of jump hosts (bastions) to go through, first hop
	// first: each an inventory host name or "[user@]host[:port]"; nil
	// means none set here (ssh_config's ProxyJump may apply), and a
	// single "none" means none at all.
	Jump []string
	// StateDir is tend's state directory on the host; "" for the default
	// (/var/lib/tend for root).
	StateDir string
	// Groups the host belongs to, in declaration order.
	Groups []string
	// Vars are the merged variables of the host.
	Vars map[string]cty.Value
	// Range is where the host was declared.
	Range hcl.Range
	// SettingRanges holds, by attribute name (identity_file,
	// become_password_env, ...), where the host's connection setting was
	// written: in defaults, a group or the host block.
	SettingRanges map[string]hcl.Range
}
