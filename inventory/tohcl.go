package inventory

import (
	"sort"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// WriteHCL writes inv as a tend HCL inventory that Parse reads back into
// the same hosts (addresses, connection settings, groups, merged vars) and
// groups. A connection setting all hosts share goes into defaults, others
// into the hosts; the inventory-wide vars into defaults, each group's own
// vars into the group, and into a host only the vars whose merged value
// tend's order (defaults < groups in order < host) would not give. Groups
// list their own hosts as members and their child groups as children.
// The jump hosts (Host.Jump) go into each host's jump attribute.
// Sensitive vars are written redacted.
func WriteHCL(inv *Inventory) []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()

	// Connection settings: shared ones in defaults.
	type setting struct {
		name  string
		value func(h *Host) cty.Value // cty.NilVal: the default
	}
	str := func(get func(*Host) string, def string) func(*Host) cty.Value {
		return func(h *Host) cty.Value {
			if s := get(h); s != def {
				return cty.StringVal(s)
			}
			return cty.NilVal
		}
	}
	settings := []setting{
		{"user", str(func(h *Host) string { return h.User }, "")},
		{"port", func(h *Host) cty.Value {
			if h.Port != DefaultPort && h.Port != 0 {
				return cty.NumberIntVal(int64(h.Port))
			}
			return cty.NilVal
		}},
		{"connection", str(func(h *Host) string { return h.Connection }, DefaultConnection)},
		{"identity_file", str(func(h *Host) string { return h.IdentityFile }, "")},
		{"known_hosts_file", str(func(h *Host) string { return h.KnownHostsFile }, "")},
		{"become", func(h *Host) cty.Value {
			if h.Become {
				return cty.True
			}
			return cty.NilVal
		}},
		{"become_user", str(func(h *Host) string { return h.BecomeUser }, DefaultBecomeUser)},
		{"become_password_env", str(func(h *Host) string { return h.BecomePasswordEnv }, "")},
		{"become_password_prompt", func(h *Host) cty.Value {
			if h.BecomePasswordPrompt {
				return cty.True
			}
			return cty.NilVal
		}},
		{"connect_timeout", func(h *Host) cty.Value {
			if h.ConnectTimeout != 0 {
				return cty.NumberIntVal(int64(h.ConnectTimeout))
			}
			return cty.NilVal
		}},
		{"command_timeout", func(h *Host) cty.Value {
			if h.CommandTimeout != 0 {
				return cty.NumberIntVal(int64(h.CommandTimeout))
			}
			return cty.NilVal
		}},
		{"keepalive_interval", func(h *Host) cty.Value {
			if h.KeepAliveInterval != nil {
				return cty.NumberIntVal(int64(*h.KeepAliveInterval))
			}
			return cty.NilVal
		}},
		{"keepalive_count", func(h *Host) cty.Value {
			if h.KeepAliveCount != 0 {
				return cty.NumberIntVal(int64(h.KeepAliveCount))
			}
			return cty.NilVal
		}},
		{"state_dir", str(func(h *Host) string { return h.StateDir }, "")},
	}
	shared := map[string]cty.Value{}
	for _, s := range settings {
		if len(inv.Hosts) == 0 {
			break
		}
		first := s.value(inv.Hosts[0])
		same := first != cty.NilVal
		for _, h := range inv.Hosts[1:] {
			if v := s.value(h); v == cty.NilVal || !v.RawEquals(first) {
				same = false
				break
			}
		}
		if same {
			shared[s.name] = first
		}
	}
	if len(shared) > 0 || len(inv.Vars) > 0 {
		d := body.AppendNewBlock("defaults", nil).Body()
		for _, s := range settings {
			if v, ok := shared[s.name]; ok {
				d.SetAttributeValue(s.name, v)
			}
		}
		if len(inv.Vars) > 0 {
			d.SetAttributeValue("vars", varsObject(inv.Vars))
		}
		body.AppendNewline()
	}

	groupsOf := map[string][]*Group{}
	for _, g := range inv.Groups {
		for _, h := range g.Hosts {
			groupsOf[h] = append(groupsOf[h], g)
		}
	}
	for _, h := range inv.Hosts {
		b := body.AppendNewBlock("host", []string{h.Name}).Body()
		if h.AddressSet {
			b.SetAttributeValue("address", cty.StringVal(h.Address))
		}
		for _, s := range settings {
			if _, ok := shared[s.name]; ok {
				continue
			}
			if v := s.value(h); v != cty.NilVal {
				b.SetAttributeValue(s.name, v)
			}
		}
		if len(h.Jump) > 0 {
			b.SetAttributeValue("jump", stringTuple(h.Jump))
		}
		// The vars tend's own merge would not give.
		merged := copyVars(inv.Vars)
		for _, g := range groupsOf[h.Name] {
			for k, v := range g.Vars {
				merged[k] = v
			}
		}
		own := map[string]cty.Value{}
		for k, v := range h.Vars {
			if m, ok := merged[k]; !ok || !m.RawEquals(v) {
				own[k] = v
			}
		}
		if len(own) > 0 {
			b.SetAttributeValue("vars", varsObject(own))
		}
	}
	for _, g := range inv.Groups {
		body.AppendNewline()
		b := body.AppendNewBlock("group", []string{g.Name}).Body()
		viaChildren := map[string]bool{}
		for _, c := range g.Children {
			if cg := inv.Group(c); cg != nil {
				for _, h := range cg.Hosts {
					viaChildren[h] = true
				}
			}
		}
		var members []string
		for _, h := range g.Hosts {
			if !viaChildren[h] {
				members = append(members, h)
			}
		}
		if len(members) > 0 {
			b.SetAttributeValue("members", stringTuple(members))
		}
		if len(g.Children) > 0 {
			b.SetAttributeValue("children", stringTuple(g.Children))
		}
		if len(g.Vars) > 0 {
			b.SetAttributeValue("vars", varsObject(g.Vars))
		}
	}
	return f.Bytes()
}

func stringTuple(list []string) cty.Value {
	vals := make([]cty.Value, len(list))
	for i, s := range list {
		vals[i] = cty.StringVal(s)
	}
	return cty.TupleVal(vals)
}

// varsObject is vars as an object, sensitive values redacted.
func varsObject(vars map[string]cty.Value) cty.Value {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]cty.Value, len(vars))
	for _, k := range keys {
		out[k] = Redacted(vars[k])
	}
	return cty.ObjectVal(out)
}
