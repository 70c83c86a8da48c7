package inventory

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// ParseAnsibleINI reads an Ansible INI inventory (filename is used in
// diagnostics) the way Ansible's ini inventory plugin does:
//
//	mail.example.com                  # before any section: ungrouped
//	[webservers]
//	web[01:20].example.com            # ranges: [01:20], [a:f], [0:10:2]
//	db.example.com:5309               # host:port
//	jumper ansible_port=5555 ansible_host=192.0.2.50
//	[webservers:vars]
//	ntp_server=ntp.example.com
//	[prod:children]
//	webservers
//
// Variables on a host line are Python literals where they parse as one
// (5 is a number, True a boolean, [1, 2] a list) and strings otherwise;
// :vars lines are read the same way, as Ansible's code does. Group names
// with characters other than letters, digits and _ are changed as Ansible
// changes them (web-servers is web_servers), with a warning. Variables
// merge as Ansible merges them: all < parent groups < child groups (groups
// of one depth by ansible_group_priority, then name) < host. The ansible_*
// variables become connection settings (ansible_host, ansible_port,
// ansible_user, ansible_ssh_private_key_file, ansible_become,
// ansible_become_user, ansible_connection, ansible_ssh_common_args and
// ansible_ssh_extra_args with -o ProxyJump= or -J); passwords are
// refused, unknown ansible_* variables warned about. The rest are the
// hosts' vars. Groups keep the order they first appear in, ungrouped
// (when it has hosts) included, all left out.
func ParseAnsibleINI(src []byte, filename string) (*Inventory, hcl.Diagnostics) {
	inv := &Inventory{Filename: filename, Files: map[string]*hcl.File{}}
	r := newAnsibleReader(filename)
	r.readINI(inv, src, filename)
	if !r.diags.HasErrors() {
		r.resolve(inv)
	}
	return inv, r.diags
}

// readINI adds the INI inventory src, read from filename, to r.
func (r *ansibleReader) readINI(inv *Inventory, src []byte, filename string) {
	inv.Files[filename] = &hcl.File{Bytes: src}
	r.filename = filename
	if !utf8.Valid(src) {
		r.errorf(hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}, "Invalid inventory", "The inventory is not UTF-8 text.")
		return
	}
	r.ini(src)
}

var (
	iniSectionRe = regexp.MustCompile(`^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$`)
	iniGroupRe   = regexp.MustCompile(`^([^:\]\s]+)\s*(?:[#;].*)?$`)
	invalidVarRe = regexp.MustCompile(`^[\d\W]|[^\w]`)
)

// lineRange is the range of bytes [from, to) of a line that starts at
// byte offset off.
func (r *ansibleReader) lineRange(line, off, from, to int) hcl.Range {
	return hcl.Range{Filename: r.filename,
		Start: hcl.Pos{Line: line, Column: from + 1, Byte: off + from},
		End:   hcl.Pos{Line: line, Column: to + 1, Byte: off + to}}
}

func (r *ansibleReader) ini(src []byte) {
	type pending struct {
		rng     hcl.Range
		state   string
		parents []string
	}
	declared := map[string]bool{"all": true, "ungrouped": true}
	var pendingOrder []string
	pend := map[string]*pending{}
	group, state := "ungrouped", "hosts"
	off := 0
	for i, raw := range strings.SplitAfter(string(src), "\n") {
		lineNo, lineOff := i+1, off
		off += len(raw)
		text := strings.TrimRight(raw, "\r\n")
		lead := len(text) - len(strings.TrimLeft(text, " \t"))
		line := strings.TrimSpace(text)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		whole := r.lineRange(lineNo, lineOff, lead, lead+len(line))
		if m := iniSectionRe.FindStringSubmatch(line); m != nil {
			name := m[1]
			if safe := invalidVarRe.ReplaceAllString(name, "_"); safe != name {
				r.warnf(whole, "Group name changed", "Ansible reads the group name %q as %q (only letters, digits and _, not first a digit); so does tend: use %q in playbooks and --limit.", name, safe, safe)
				name = safe
			}
			group, state = name, m[2]
			if state == "" {
				state = "hosts"
			}
			if state != "hosts" && state != "children" && state != "vars" {
				r.errorf(whole, "Unknown section type", "Section [%s] has unknown type %q: it must be [%s], [%s:children] or [%s:vars].", strings.Trim(line, "[]"), state, name, name, name)
				return
			}
			r.group(name, whole)
			if state != "vars" {
				declared[name] = true
			} else if !declared[name] && pend[name] == nil {
				pend[name] = &pending{rng: whole, state: "vars"}
				pendingOrder = append(pendingOrder, name)
			}
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			r.errorf(whole, "Invalid section", "%s is not a section header: write [group], [group:vars] or [group:children], without spaces.", line)
			return
		}
		switch state {
		case "hosts":
			if !r.iniHostLine(line, lineNo, lineOff+lead, group) {
				return
			}
		case "vars":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				r.errorf(whole, "Expected key=value", "A line of a [%s:vars] section sets one variable, name=value; got %q.", group, line)
				return
			}
			k = strings.TrimSpace(k)
			r.groups[group].vars[k] = aVar{val: pyValue(strings.TrimSpace(v)), rng: whole}
		case "children":
			m := iniGroupRe.FindStringSubmatch(line)
			if m == nil {
				r.errorf(whole, "Expected a group name", "A line of a [%s:children] section names one group; got %q.", group, line)
				return
			}
			child := invalidVarRe.ReplaceAllString(m[1], "_")
			if child == group {
				r.errorf(whole, "Group cycle", "Group %q lists itself as a child.", group)
				return
			}
			r.group(child, whole)
			r.child(group, child, whole)
			if !declared[child] {
				if p := pend[child]; p == nil || p.state == "vars" {
					if p == nil {
						pendingOrder = append(pendingOrder, child)
					}
					pend[child] = &pending{rng: whole, state: "children", parents: []string{group}}
				} else {
					p.parents = append(p.parents, group)
				}
			}
		}
	}
	for _, name := range pendingOrder {
		p := pend[name]
		if declared[name] {
			continue
		}
		if p.state == "vars" {
			r.errorf(p.rng, "Undefined group", "Section [%s:vars] sets variables of group %q, which no [%s] or [%s:children] section declares.", name, name, name, name)
		} else {
			r.errorf(p.rng, "Undefined group", "Section [%s:children] includes group %q, which no [%s] or [%s:children] section declares.", p.parents[len(p.parents)-1], name, name, name)
		}
	}
}

// iniHostLine reads "pattern k=v ..." into group; off is the byte offset
// of line in the file.
func (r *ansibleReader) iniHostLine(line string, lineNo, off int, group string) bool {
	whole := r.lineRange(lineNo, off, 0, len(line))
	toks, err := shlexSplit(line)
	if err != nil {
		r.errorf(whole, "Invalid host line", "Cannot read the host line: %s.", err)
		return false
	}
	if len(toks) == 0 {
		return true
	}
	patRange := r.lineRange(lineNo, off, toks[0].from, toks[0].to)
	if toks[0].text == "---" {
		r.errorf(patRange, "Invalid host", "\"---\" starts a YAML document: name a YAML inventory .yml or .yaml.")
		return false
	}
	hosts, port, problem := expandHostPattern(toks[0].text)
	if problem != "" {
		r.errorf(patRange, "Invalid host pattern", "%s", problem)
		return false
	}
	vars := map[string]aVar{}
	var order []string
	for _, t := range toks[1:] {
		rng := r.lineRange(lineNo, off, t.from, t.to)
		k, v, ok := strings.Cut(t.text, "=")
		if !ok {
			r.errorf(rng, "Expected key=value", "After the host, a host line holds variables, name=value; got %q.", t.text)
			return false
		}
		if _, dup := vars[k]; !dup {
			order = append(order, k)
		}
		vars[k] = aVar{val: pyValue(v), rng: rng}
	}
	if port != "" {
		n, _ := atoi(port)
		vars["ansible_port"] = aVar{val: cty.NumberIntVal(int64(n)), rng: patRange}
	}
	for _, name := range hosts {
		h := r.host(name, group, patRange)
		for k, v := range vars {
			h.vars[k] = v
		}
	}
	return true
}

// shlexToken is a word of a host line and where it is.
type shlexToken struct {
	text     string
	from, to int
}

// shlexSplit splits a host line as Python's shlex.split(line,
// comments=True): words separated by blanks, '…' and "…" quoting, \
// escapes, # starting a comment.
func shlexSplit(line string) ([]shlexToken, error) {
	var toks []shlexToken
	var cur strings.Builder
	inWord, start := false, 0
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\'):
				i++
				cur.WriteByte(line[i])
			default:
				cur.WriteByte(c)
			}
		case c == ' ' || c == '\t':
			if inWord {
				toks = append(toks, shlexToken{cur.String(), start, i})
				cur.Reset()
				inWord = false
			}
		case c == '#':
			if inWord {
				toks = append(toks, shlexToken{cur.String(), start, i})
			}
			return toks, nil
		default:
			if !inWord {
				inWord, start = true, i
			}
			switch c {
			case '\'', '"':
				quote = c
			case '\\':
				if i+1 < len(line) {
					i++
					cur.WriteByte(line[i])
				}
			default:
				cur.WriteByte(c)
			}
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("no closing quotation")
	}
	if inWord {
		toks = append(toks, shlexToken{cur.String(), start, len(line)})
	}
	return toks, nil
}
