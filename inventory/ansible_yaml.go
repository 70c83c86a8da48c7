package inventory

import (
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"
)

// ParseAnsibleYAML reads an Ansible YAML inventory (filename is used in
// diagnostics) the way Ansible's yaml inventory plugin does: top-level keys
// are groups (usually just all), each a mapping of hosts (host patterns,
// ranges and host:port included, each with its vars or null), children
// (groups, nested the same way) and vars; null anywhere means empty.
// Variables keep their YAML types (strings, numbers, booleans, lists,
// maps). The variables merge and the ansible_* variables map to connection
// settings as for ParseAnsibleINI.
func ParseAnsibleYAML(src []byte, filename string) (*Inventory, hcl.Diagnostics) {
	inv := &Inventory{Filename: filename, Files: map[string]*hcl.File{}}
	r := newAnsibleReader(filename)
	r.readYAML(inv, src, filename)
	if !r.diags.HasErrors() {
		r.resolve(inv)
	}
	return inv, r.diags
}

// readYAML adds the YAML inventory src, read from filename, to r.
func (r *ansibleReader) readYAML(inv *Inventory, src []byte, filename string) {
	inv.Files[filename] = &hcl.File{Bytes: src}
	r.filename = filename
	y := &yamlReader{r: r, lineOff: lineOffsets(src)}
	root, ok := y.document(src, "A YAML inventory is a mapping of groups, like all: {hosts: {web1: null}}.")
	if !ok {
		return
	}
	if keyed(root, "plugin") != nil {
		r.errorf(y.rng(root), "Inventory plugin configuration", "This file configures an Ansible inventory plugin; tend reads only static inventories (hosts, children, vars).")
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		y.group(root.Content[i], root.Content[i+1], "")
	}
}

// document parses src as one YAML mapping; what says what it should be.
func (y *yamlReader) document(src []byte, what string) (*yaml.Node, bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		y.r.errorf(y.errRange(err.Error()), "Invalid YAML", "%s.", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, false
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		y.r.errorf(hcl.Range{Filename: y.r.filename, Start: hcl.InitialPos, End: hcl.InitialPos}, "Invalid YAML", "%s", what)
		return nil, false
	}
	return doc.Content[0], true
}

type yamlReader struct {
	r       *ansibleReader
	lineOff []int
}

func lineOffsets(src []byte) []int {
	offs := []int{0}
	for i, c := range src {
		if c == '\n' {
			offs = append(offs, i+1)
		}
	}
	return offs
}

// rng is the range of a node: its line from its column to the end of a
// one-line scalar.
func (y *yamlReader) rng(n *yaml.Node) hcl.Range {
	line, col := n.Line, n.Column
	off := 0
	if line >= 1 && line <= len(y.lineOff) {
		off = y.lineOff[line-1]
	}
	width := 1
	if n.Kind == yaml.ScalarNode && !strings.Contains(n.Value, "\n") {
		width = max(1, len(n.Value))
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			width += 2
		}
	}
	return hcl.Range{Filename: y.r.filename,
		Start: hcl.Pos{Line: line, Column: col, Byte: off + col - 1},
		End:   hcl.Pos{Line: line, Column: col + width, Byte: off + col - 1 + width}}
}

// span is the range from key's start to the end of value when both are on
// one line, else key's.
func (y *yamlReader) span(key, value *yaml.Node) hcl.Range {
	k, v := y.rng(key), y.rng(value)
	if v.Start.Line == k.Start.Line && v.End.Byte > k.End.Byte && value.Kind == yaml.ScalarNode {
		k.End = v.End
	}
	return k
}

// errRange finds "line N" in a yaml.v3 error message.
func (y *yamlReader) errRange(msg string) hcl.Range {
	line := 1
	if i := strings.Index(msg, "line "); i >= 0 {
		j := i + 5
		for j < len(msg) && msg[j] >= '0' && msg[j] <= '9' {
			j++
		}
		if n, ok := atoi(msg[i+5 : j]); ok && n >= 1 && n <= len(y.lineOff) {
			line = n
		}
	}
	return y.rng(&yaml.Node{Line: line, Column: 1})
}

func keyed(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// group reads group key: value, a child of parent when parent is set.
func (y *yamlReader) group(key, value *yaml.Node, parent string) {
	r := y.r
	if value.Kind == yaml.AliasNode {
		value = value.Alias
	}
	if key.Kind != yaml.ScalarNode {
		r.errorf(y.rng(key), "Invalid group", "A group name must be a string.")
		return
	}
	if !isNull(value) && value.Kind != yaml.MappingNode {
		r.warnf(y.rng(key), "Skipped group", "%q is not a valid group definition (a mapping of hosts, children and vars), so Ansible and tend skip it.", key.Value)
		return
	}
	name := key.Value
	r.group(name, y.rng(key))
	if parent != "" {
		if name == parent {
			r.errorf(y.rng(key), "Group cycle", "Group %q lists itself as a child.", name)
			return
		}
		r.child(parent, name, y.rng(key))
	}
	if isNull(value) {
		return
	}
	for i := 0; i+1 < len(value.Content); i += 2 {
		k, v := value.Content[i], value.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		section := k.Value
		if section != "hosts" && section != "children" && section != "vars" {
			r.warnf(y.rng(k), "Skipped key", "Group %q has the key %q; only hosts, children and vars are read, as by Ansible.", name, section)
			continue
		}
		if isNull(v) {
			continue
		}
		if v.Kind == yaml.ScalarNode {
			// A string stands for a mapping of that one key to null.
			v = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{v, {Kind: yaml.ScalarNode, Tag: "!!null", Line: v.Line, Column: v.Column}}}
		}
		if v.Kind != yaml.MappingNode {
			r.errorf(y.rng(k), "Invalid "+section, "The %s of group %q must be a mapping, like %s: {name: ...}.", section, name, section)
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			ek, ev := v.Content[j], v.Content[j+1]
			if ev.Kind == yaml.AliasNode {
				ev = ev.Alias
			}
			switch section {
			case "vars":
				val, ok := y.value(ev)
				if ok {
					r.groups[name].vars[ek.Value] = aVar{val: val, rng: y.span(ek, ev)}
				}
			case "children":
				y.group(ek, ev, name)
			case "hosts":
				y.host(ek, ev, name)
			}
		}
	}
}

func (y *yamlReader) host(key, value *yaml.Node, group string) {
	r := y.r
	if key.Kind != yaml.ScalarNode || key.ShortTag() != "!!str" {
		r.errorf(y.rng(key), "Invalid host", "The host %s must be a string: quote it.", key.Value)
		return
	}
	hosts, port, problem := expandHostPattern(key.Value)
	if problem != "" {
		r.errorf(y.rng(key), "Invalid host pattern", "%s", problem)
		return
	}
	vars := map[string]aVar{}
	if port != "" {
		n, _ := atoi(port)
		vars["ansible_port"] = aVar{val: cty.NumberIntVal(int64(n)), rng: y.rng(key)}
	}
	switch {
	case isNull(value):
	case value.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(value.Content); i += 2 {
			k, v := value.Content[i], value.Content[i+1]
			if val, ok := y.value(v); ok {
				vars[k.Value] = aVar{val: val, rng: y.span(k, v)}
			}
		}
	default:
		r.errorf(y.rng(value), "Invalid host vars", "The vars of host %s must be a mapping of name: value (or nothing).", key.Value)
		return
	}
	for _, name := range hosts {
		h := r.host(name, group, y.rng(key))
		for k, v := range vars {
			h.vars[k] = v
		}
	}
}

// value converts a YAML node to a cty value: sequences are tuples and
// mappings objects, as HCL's [..] and {..} are.
func (y *yamlReader) value(n *yaml.Node) (cty.Value, bool) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!vault" {
		y.r.warnf(y.rng(n), "Vaulted value not read", "This value is encrypted with ansible-vault; tend does not read it. Give secrets to tend through the environment (become_password_env, env() in an HCL inventory).")
		return cty.NilVal, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return cty.NullVal(cty.DynamicPseudoType), true
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err == nil {
				return cty.BoolVal(b), true
			}
		case "!!int", "!!float":
			var f float64
			if err := n.Decode(&f); err == nil {
				if bf, _, err := big.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 0, 512, big.ToNearestEven); err == nil {
					return cty.NumberVal(bf), true
				}
				return cty.NumberFloatVal(f), true
			}
		case "!!str":
			// Ansible's PyYAML reads YAML 1.1, where plain yes, no, on
			// and off are booleans too.
			if n.Style == 0 {
				switch n.Value {
				case "yes", "Yes", "YES", "on", "On", "ON":
					return cty.True, true
				case "no", "No", "NO", "off", "Off", "OFF":
					return cty.False, true
				}
			}
			return cty.StringVal(n.Value), true
		}
		return cty.StringVal(n.Value), true
	case yaml.SequenceNode:
		var elems []cty.Value
		for _, c := range n.Content {
			v, ok := y.value(c)
			if !ok {
				return cty.NilVal, false
			}
			elems = append(elems, v)
		}
		return cty.TupleVal(elems), true
	case yaml.MappingNode:
		attrs := map[string]cty.Value{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "<<" {
				y.r.errorf(y.rng(n.Content[i]), "Unsupported merge key", "YAML merge keys (<<) are not read; write the keys out.")
				return cty.NilVal, false
			}
			v, ok := y.value(n.Content[i+1])
			if !ok {
				return cty.NilVal, false
			}
			attrs[n.Content[i].Value] = v
		}
		return cty.ObjectVal(attrs), true
	}
	y.r.errorf(y.rng(n), "Invalid value", "This YAML value cannot be read.")
	return cty.NilVal, false
}
