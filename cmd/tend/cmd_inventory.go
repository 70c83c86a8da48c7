package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/tend-sh/tend/inventory"
)

func newInventoryCommand(g *globalFlags) *cobra.Command {
	var toHCL bool
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Show the resolved inventory: hosts, connection settings, groups and merged vars",
		Long: `inventory prints the inventory as tend resolves it: defaults applied, groups
expanded and variables merged (defaults < group < host). --limit selects hosts.
Sensitive vars (sensitive(...)) are shown as "(sensitive)". The SSH address,
port, user and jump hosts are shown as tend resolves them, with the host's
ssh_config file (which settings came from it is said). It never connects to
a host.

-i also reads Ansible INI and YAML inventories; --to-hcl prints the
inventory as a tend HCL inventory that resolves to the same hosts, groups,
settings and vars (all hosts: --limit does not apply).

` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			inv, diags := g.loadInventory()
			printDiagnostics(stderr, diags, g.useColor(stderr))
			if diags.HasErrors() {
				return exitWith(ExitInvalid, "invalid inventory")
			}
			if toHCL {
				_, err := cmd.OutOrStdout().Write(inventory.WriteHCL(inv))
				return err
			}
			hosts := inv.Hosts
			if len(g.limit) > 0 {
				var err error
				if hosts, err = inv.Select(g.limit); err != nil {
					return exitWith(ExitInvalid, "--limit: %v", err)
				}
			}
			ssh := newSSHResolver(inv)
			if g.json {
				return writeInventoryJSON(cmd.OutOrStdout(), inv, hosts, ssh)
			}
			writeInventoryText(cmd.OutOrStdout(), inv, hosts, ssh)
			return nil
		},
	}
	cmd.Flags().BoolVar(&toHCL, "to-hcl", false, "print the inventory (an Ansible one too) as a tend HCL inventory")
	return cmd
}

// inventoryHostJSON is the JSON form of a resolved host.
type inventoryHostJSON struct {
	Name           string `json:"name"`
	Address        string `json:"address"`
	Port           int    `json:"port"`
	User           string `json:"user,omitempty"`
	Connection     string `json:"connection"`
	IdentityFile   string `json:"identity_file,omitempty"`
	KnownHostsFile string `json:"known_hosts_file,omitempty"`
	Become         bool   `json:"become"`
	BecomeUser     string `json:"become_user,omitempty"`
	// Jump lists the jump hosts, first hop first, as "user@address:port".
	Jump []string `json:"jump,omitempty"`
	// FromSSHConfig names the settings taken from the ssh_config file.
	FromSSHConfig []string `json:"from_ssh_config,omitempty"`
	// SSHError says why the SSH settings could not be resolved.
	SSHError string          `json:"ssh_error,omitempty"`
	Groups   []string        `json:"groups"`
	Vars     json.RawMessage `json:"vars"`
}

// resolvedSSH returns the host's SSH settings as resolved (address, port,
// user, identity file, jump hosts), with h's own when it is not reached
// over SSH or they cannot be resolved (then err says why).
func resolvedSSH(h *inventory.Host, ssh *sshResolver) (addr string, port int, user, identity string, jump, from []string, err error) {
	addr, port, user, identity = h.Address, h.Port, h.User, h.IdentityFile
	if h.Connection != "ssh" {
		return
	}
	t, err := ssh.resolve(h)
	if err != nil {
		return
	}
	addr, port, user = t.cfg.Address, t.cfg.Port, t.cfg.User
	if len(t.cfg.IdentityFiles) > 0 {
		identity = t.cfg.IdentityFiles[0]
	}
	for _, j := range t.cfg.Jump {
		u := j.User
		if u != "" {
			u += "@"
		}
		jump = append(jump, fmt.Sprintf("%s%s:%d", u, j.Address, j.Port))
	}
	return addr, port, user, identity, jump, t.fromConfig, nil
}

func writeInventoryJSON(w io.Writer, inv *inventory.Inventory, hosts []*inventory.Host, ssh *sshResolver) error {
	out := struct {
		Hosts  []inventoryHostJSON `json:"hosts"`
		Groups map[string][]string `json:"groups"`
	}{Groups: map[string][]string{}}
	for _, h := range hosts {
		vars, err := varsJSON(h.Vars)
		if err != nil {
			return exitWith(ExitInternal, "host %s vars: %v", h.Name, err)
		}
		groups := h.Groups
		if groups == nil {
			groups = []string{}
		}
		addr, port, user, identity, jump, from, sshErr := resolvedSSH(h, ssh)
		hj := inventoryHostJSON{
			Name: h.Name, Address: addr, Port: port, User: user, Connection: h.Connection,
			IdentityFile: identity, KnownHostsFile: h.KnownHostsFile, Become: h.Become, BecomeUser: h.BecomeUser,
			Jump: jump, FromSSHConfig: from, Groups: groups, Vars: vars,
		}
		if sshErr != nil {
			hj.SSHError = sshErr.Error()
		}
		out.Hosts = append(out.Hosts, hj)
	}
	for _, gr := range inv.Groups {
		out.Groups[gr.Name] = append([]string{}, gr.Hosts...)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// varsJSON encodes vars, each sensitive value as "(sensitive)".
func varsJSON(vars map[string]cty.Value) (json.RawMessage, error) {
	if len(vars) == 0 {
		return json.RawMessage("{}"), nil
	}
	obj := inventory.Redacted(cty.ObjectVal(vars))
	b, err := ctyjson.Marshal(obj, obj.Type())
	return json.RawMessage(b), err
}

func writeInventoryText(w io.Writer, inv *inventory.Inventory, hosts []*inventory.Host, ssh *sshResolver) {
	for _, h := range hosts {
		conn := h.Connection
		addr, port, user, _, jump, from, sshErr := resolvedSSH(h, ssh)
		if conn == "ssh" {
			if user != "" {
				user += "@"
			}
			conn = fmt.Sprintf("ssh %s%s:%d", user, addr, port)
			if len(jump) > 0 {
				conn += " via " + strings.Join(jump, ", ")
			}
		}
		become := ""
		if h.Become {
			bu := h.BecomeUser
			if bu == "" {
				bu = "root"
			}
			become = "  become " + bu
		}
		fmt.Fprintf(w, "%s  (%s)%s\n", h.Name, conn, become)
		if len(from) > 0 {
			fmt.Fprintf(w, "  from ssh_config: %s\n", strings.Join(from, ", "))
		}
		if sshErr != nil {
			fmt.Fprintf(w, "  ssh settings: %v\n", sshErr)
		}
		if len(h.Groups) > 0 {
			fmt.Fprintf(w, "  groups: %s\n", strings.Join(h.Groups, ", "))
		}
		keys := make([]string, 0, len(h.Vars))
		for k := range h.Vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := h.Vars[k]
			text := "(sensitive)"
			if !v.IsMarked() {
				// Sensitive parts of a structured var print as "(sensitive)".
				text = strings.TrimSpace(string(hclwrite.TokensForValue(inventory.Redacted(v)).Bytes()))
			}
			fmt.Fprintf(w, "  var %s = %s\n", k, text)
		}
	}
	if len(inv.Groups) > 0 {
		fmt.Fprintln(w)
		for _, gr := range inv.Groups {
			fmt.Fprintf(w, "group %s: %s\n", gr.Name, strings.Join(gr.Hosts, ", "))
		}
	}
}
