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
Sensitive vars (sensitive(...)) are shown as "(sensitive)". It never
connects to a host.

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
			if g.json {
				return writeInventoryJSON(cmd.OutOrStdout(), inv, hosts)
			}
			writeInventoryText(cmd.OutOrStdout(), inv, hosts)
			return nil
		},
	}
	cmd.Flags().BoolVar(&toHCL, "to-hcl", false, "print the inventory (an Ansible one too) as a tend HCL inventory")
	return cmd
}

// inventoryHostJSON is the JSON form of a resolved host.
type inventoryHostJSON struct {
	Name           string          `json:"name"`
	Address        string          `json:"address"`
	Port           int             `json:"port"`
	User           string          `json:"user,omitempty"`
	Connection     string          `json:"connection"`
	IdentityFile   string          `json:"identity_file,omitempty"`
	KnownHostsFile string          `json:"known_hosts_file,omitempty"`
	Become         bool            `json:"become"`
	BecomeUser     string          `json:"become_user,omitempty"`
	Groups         []string        `json:"groups"`
	Vars           json.RawMessage `json:"vars"`
}

func writeInventoryJSON(w io.Writer, inv *inventory.Inventory, hosts []*inventory.Host) error {
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
		out.Hosts = append(out.Hosts, inventoryHostJSON{
			Name: h.Name, Address: h.Address, Port: h.Port, User: h.User, Connection: h.Connection,
			IdentityFile: h.IdentityFile, KnownHostsFile: h.KnownHostsFile, Become: h.Become, BecomeUser: h.BecomeUser,
			Groups: groups, Vars: vars,
		})
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

func writeInventoryText(w io.Writer, inv *inventory.Inventory, hosts []*inventory.Host) {
	for _, h := range hosts {
		conn := h.Connection
		if conn == "ssh" {
			user := h.User
			if user != "" {
				user += "@"
			}
			conn = fmt.Sprintf("ssh %s%s:%d", user, h.Address, h.Port)
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
