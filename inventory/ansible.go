package inventory

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Format is the language of an inventory file.
type Format int

// The inventory formats Load reads.
const (
	// FormatHCL is tend's own inventory language (Parse).
	FormatHCL Format = iota
	// FormatAnsibleINI is Ansible's INI inventory (ParseAnsibleINI).
	FormatAnsibleINI
	// FormatAnsibleYAML is Ansible's YAML inventory (ParseAnsibleYAML).
	FormatAnsibleYAML
)

func (f Format) String() string {
	switch f {
	case FormatAnsibleINI:
		return "Ansible INI"
	case FormatAnsibleYAML:
		return "Ansible YAML"
	}
	return "HCL"
}

var (
	hclShapeRe  = regexp.MustCompile(`(?m)^\s*(defaults\s*\{|(group|host)\s+"[^"]*"\s*\{)`)
	yamlShapeRe = regexp.MustCompile(`^(---|[A-Za-z0-9_.-]+:\s*(#.*)?$|[A-Za-z0-9_.-]+:\s*\{)`)
)

// DetectFormat tells the format of an inventory file from its name's
// extension: .hcl is tend's, .ini Ansible's INI, .yml and .yaml Ansible's
// YAML. Any other name is told by its content: tend's blocks (defaults {,
// group "x" {, host "x" {) make it HCL, a first line "---" or "name:" YAML,
// anything else INI, like Ansible's hosts files without an extension.
func DetectFormat(filename string, src []byte) Format {
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".hcl":
		return FormatHCL
	case ".ini":
		return FormatAnsibleINI
	case ".yml", ".yaml":
		return FormatAnsibleYAML
	}
	if hclShapeRe.Match(src) {
		return FormatHCL
	}
	for _, line := range bytes.Split(src, []byte("\n")) {
		l := bytes.TrimSpace(line)
		if len(l) == 0 || l[0] == '#' || l[0] == ';' {
			continue
		}
		if yamlShapeRe.Match(l) {
			return FormatAnsibleYAML
		}
		break
	}
	return FormatAnsibleINI
}

// aVar is an Ansible variable as written, with where.
type aVar struct {
	val cty.Value
	rng hcl.Range
}

// aGroup is an Ansible group as read: its own hosts, children and vars.
type aGroup struct {
	name     string
	hosts    []string
	children []string
	// childAt is where each child was listed.
	childAt map[string]hcl.Range
	parents []string
	vars    map[string]aVar
	// fileVars are the group's group_vars/ file's.
	fileVars map[string]aVar
	rng      hcl.Range
	// depth is Ansible's: all is 0, its children 1, theirs 2...
	depth    int
	priority int
}

// aHost is an Ansible host as read.
type aHost struct {
	name string
	vars map[string]aVar
	// fileVars are the host's host_vars/ file's.
	fileVars map[string]aVar
	rng      hcl.Range
	groups   []string // direct groups, in order
}

// ansibleReader collects an Ansible inventory, of either format, before
// it is resolved into an Inventory the way Ansible resolves it.
type ansibleReader struct {
	filename   string
	groups     map[string]*aGroup
	groupOrder []string
	hosts      map[string]*aHost
	hostOrder  []string
	diags      hcl.Diagnostics
}

func newAnsibleReader(filename string) *ansibleReader {
	r := &ansibleReader{filename: filename, groups: map[string]*aGroup{}, hosts: map[string]*aHost{}}
	r.group("all", hcl.Range{})
	r.group("ungrouped", hcl.Range{})
	return r
}

func (r *ansibleReader) errorf(rng hcl.Range, summary, format string, args ...any) {
	rr := rng
	r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
		Detail: fmt.Sprintf(format, args...), Subject: &rr})
}

func (r *ansibleReader) warnf(rng hcl.Range, summary, format string, args ...any) {
	rr := rng
	r.diags = append(r.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary,
		Detail: fmt.Sprintf(format, args...), Subject: &rr})
}

// group returns the group called name, adding it when new.
func (r *ansibleReader) group(name string, rng hcl.Range) *aGroup {
	if g, ok := r.groups[name]; ok {
		if g.rng.Filename == "" {
			g.rng = rng
		}
		return g
	}
	g := &aGroup{name: name, vars: map[string]aVar{}, childAt: map[string]hcl.Range{}, rng: rng, priority: 1}
	r.groups[name] = g
	r.groupOrder = append(r.groupOrder, name)
	return g
}

// host adds (or finds) host name and puts it in group.
func (r *ansibleReader) host(name, group string, rng hcl.Range) *aHost {
	h, ok := r.hosts[name]
	if !ok {
		h = &aHost{name: name, vars: map[string]aVar{}, rng: rng}
		r.hosts[name] = h
		r.hostOrder = append(r.hostOrder, name)
	}
	g := r.group(group, rng)
	if !slices.Contains(g.hosts, name) {
		g.hosts = append(g.hosts, name)
		h.groups = append(h.groups, group)
	}
	return h
}

// child makes child a child group of parent, listed at rng.
func (r *ansibleReader) child(parent, child string, rng hcl.Range) {
	p, c := r.groups[parent], r.groups[child]
	if !slices.Contains(p.children, child) {
		p.childAt[child] = rng
		p.children = append(p.children, child)
		c.parents = append(c.parents, parent)
	}
}

// resolve builds the Inventory: Ansible's implicit groups, group depths,
// and each host's variables merged the way Ansible merges them (all <
// groups by depth, then ansible_group_priority, then name < host), with
// the ansible_* connection variables turned into tend's settings.
func (r *ansibleReader) resolve(inv *Inventory) {
	// Every group but all and ungrouped without a parent is a child of all.
	for _, name := range r.groupOrder {
		if g := r.groups[name]; name != "all" && len(g.parents) == 0 {
			r.child("all", name, hcl.Range{})
		}
	}
	if r.depths() {
		return
	}
	// Ansible's reconciliation: a host in a group of its own leaves
	// ungrouped; a host only in all joins it.
	ungrouped := r.groups["ungrouped"]
	for _, name := range r.hostOrder {
		h := r.hosts[name]
		own := false
		for _, g := range h.groups {
			if g != "all" && g != "ungrouped" {
				own = true
			}
		}
		if own && slices.Contains(h.groups, "ungrouped") {
			ungrouped.hosts = remove(ungrouped.hosts, name)
			h.groups = remove(h.groups, "ungrouped")
		} else if !own && !slices.Contains(h.groups, "ungrouped") {
			ungrouped.hosts = append(ungrouped.hosts, name)
			h.groups = append(h.groups, "ungrouped")
		}
	}
	for _, name := range r.groupOrder {
		g := r.groups[name]
		if v, ok := g.vars["ansible_group_priority"]; ok {
			if n, ok := ansibleInt(v.val); ok {
				g.priority = n
			} else {
				r.errorf(v.rng, "Invalid ansible_group_priority", "ansible_group_priority must be a whole number.")
			}
		}
	}
	for _, name := range r.hostOrder {
		if g, clash := r.groups[name]; clash && name != "all" {
			r.errorf(r.hosts[name].rng, "Group name clashes with a host",
				"%q names both a host and a group (declared at %s); host patterns could not tell them apart.", name, g.rng)
		}
	}
	if r.diags.HasErrors() {
		return
	}

	// The hosts under each group, its descendants' included.
	under := map[string]map[string]bool{}
	var collect func(g *aGroup) map[string]bool
	collect = func(g *aGroup) map[string]bool {
		if s, ok := under[g.name]; ok {
			return s
		}
		s := map[string]bool{}
		for _, h := range g.hosts {
			s[h] = true
		}
		for _, c := range g.children {
			for h := range collect(r.groups[c]) {
				s[h] = true
			}
		}
		under[g.name] = s
		return s
	}
	for _, name := range r.groupOrder {
		collect(r.groups[name])
	}

	split := func(vars map[string]aVar) map[string]cty.Value {
		out := map[string]cty.Value{}
		for k, v := range vars {
			if !strings.HasPrefix(k, "ansible_") {
				out[k] = v.val
			}
		}
		return out
	}
	withFiles := func(g *aGroup) map[string]aVar {
		out := map[string]aVar{}
		for k, v := range g.vars {
			out[k] = v
		}
		for k, v := range g.fileVars {
			out[k] = v
		}
		return out
	}
	inv.Vars = split(withFiles(r.groups["all"]))
	for _, name := range r.groupOrder {
		g := r.groups[name]
		if name == "all" || (name == "ungrouped" && len(g.hosts) == 0) {
			continue
		}
		grp := &Group{Name: name, Vars: split(withFiles(g)), Range: g.rng, Children: append([]string(nil), g.children...)}
		for _, h := range r.hostOrder {
			if under[name][h] {
				grp.Hosts = append(grp.Hosts, h)
			}
		}
		inv.Groups = append(inv.Groups, grp)
	}

	conn := newAnsibleSettings(r)
	for _, name := range r.hostOrder {
		h := r.hosts[name]
		var groups []*aGroup
		for _, gn := range r.groupOrder {
			if under[gn][name] {
				groups = append(groups, r.groups[gn])
			}
		}
		host := &Host{Name: name, Address: name, Port: DefaultPort, Connection: DefaultConnection,
			BecomeUser: DefaultBecomeUser, Vars: map[string]cty.Value{}, Range: h.rng}
		for _, g := range groups {
			if g.name != "all" {
				host.Groups = append(host.Groups, g.name)
			}
		}
		sort.SliceStable(groups, func(i, j int) bool {
			a, b := groups[i], groups[j]
			if a.depth != b.depth {
				return a.depth < b.depth
			}
			if a.priority != b.priority {
				return a.priority < b.priority
			}
			return a.name < b.name
		})
		// Ansible's precedence: inventory group vars < group_vars/all <
		// group_vars/ of the other groups < inventory host vars <
		// host_vars/, groups by depth, priority and name each time. level
		// is where each var's value was merged from, so that of two
		// variables for one setting (ansible_timeout and ConnectTimeout in
		// ansible_ssh_common_args) the more specific one wins, and by name
		// between variables of one level.
		merged, level := map[string]aVar{}, map[string]int{}
		layer := func(vars map[string]aVar, lvl int) {
			for k, v := range vars {
				merged[k], level[k] = v, lvl
			}
		}
		for i, g := range groups {
			layer(g.vars, i)
		}
		layer(r.groups["all"].fileVars, len(groups))
		for i, g := range groups {
			if g.name != "all" {
				layer(g.fileVars, len(groups)+1+i)
			}
		}
		layer(h.vars, 2*len(groups)+1)
		layer(h.fileVars, 2*len(groups)+2)
		keys := make([]string, 0, len(merged))
		for k := range merged {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if level[keys[i]] != level[keys[j]] {
				return level[keys[i]] < level[keys[j]]
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			if strings.HasPrefix(k, "ansible_") {
				conn.apply(host, k, merged[k])
			} else {
				host.Vars[k] = merged[k].val
			}
		}
		inv.Hosts = append(inv.Hosts, host)
	}
	r.diags = append(r.diags, conn.diagnostics()...)
}

// depths sets each group's depth as Ansible does (the longest path from
// all), reporting a cycle of children; it returns true on a cycle.
func (r *ansibleReader) depths() bool {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var visit func(g *aGroup, path []string) bool
	visit = func(g *aGroup, path []string) bool {
		state[g.name] = visiting
		for _, c := range g.children {
			switch state[c] {
			case visiting:
				i := 0
				for i < len(path) && path[i] != c {
					i++
				}
				r.errorf(g.childAt[c], "Group cycle", "Groups contain each other: %s.",
					strings.Join(append(append([]string{}, path[i:]...), c), " → "))
				return true
			case 0:
				if visit(r.groups[c], append(path, c)) {
					return true
				}
			}
		}
		state[g.name] = done
		return false
	}
	for _, name := range r.groupOrder {
		if state[name] == 0 && visit(r.groups[name], []string{name}) {
			return true
		}
	}
	memo := map[string]int{"all": 0}
	var depth func(g *aGroup) int
	depth = func(g *aGroup) int {
		if d, ok := memo[g.name]; ok {
			return d
		}
		d := 0
		for _, p := range g.parents {
			d = max(d, depth(r.groups[p])+1)
		}
		memo[g.name] = d
		return d
	}
	for _, name := range r.groupOrder {
		r.groups[name].depth = depth(r.groups[name])
	}
	return false
}

func remove(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// expandHostPattern splits an Ansible host pattern into host names and a
// port: "db.example.com:5309", "[2001:db8::1]:2222", "web[01:20].example.com",
// "db-[a:f]", "node[0:10:2]" (begin:end:step; leading zeros are kept, and
// then begin and end must have the same width). It returns a problem when
// the pattern is malformed.
func expandHostPattern(pattern string) (hosts []string, port string, problem string) {
	p := pattern
	switch {
	case strings.HasPrefix(p, "[") && strings.Contains(p, "]:") && !strings.Contains(p[1:strings.Index(p, "]")], "[") && strings.Count(p, ":") > 2:
		// [ipv6]:port
		i := strings.Index(p, "]:")
		p, port = p[1:i], p[i+2:]
	case strings.HasPrefix(p, "[") && strings.HasSuffix(p, "]") && strings.Count(p, ":") > 2 && !strings.Contains(p[1:len(p)-1], "["):
		p = p[1 : len(p)-1]
	default:
		// One colon outside brackets separates a port; more make an
		// IPv6 address.
		depth, colons, last := 0, 0, -1
		for i, c := range p {
			switch c {
			case '[':
				depth++
			case ']':
				depth--
			case ':':
				if depth == 0 {
					colons++
					last = i
				}
			}
		}
		switch {
		case colons > 1:
			return []string{p}, "", ""
		case colons == 1:
			p, port = p[:last], p[last+1:]
			if port == "" {
				return nil, "", fmt.Sprintf("The host pattern %q ends in \":\", which is reserved for a port.", pattern)
			}
		}
	}
	if port != "" {
		for _, c := range port {
			if c < '0' || c > '9' {
				return nil, "", fmt.Sprintf("The port of %q is not a number.", pattern)
			}
		}
	}
	if !strings.Contains(p, "[") {
		return []string{p}, port, ""
	}
	budget := maxRangeHosts
	hosts, problem = expandRanges(p, &budget)
	return hosts, port, problem
}

// maxRangeHosts bounds the names one host pattern expands to, all its
// ranges together.
const maxRangeHosts = 100000

const asciiLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// expandRanges expands the [begin:end(:step)] ranges of a host name, as
// Ansible's expand_hostname_range does.
// budget is how many more names may be made.
func expandRanges(p string, budget *int) ([]string, string) {
	open := strings.IndexByte(p, '[')
	if open < 0 {
		if *budget--; *budget < 0 {
			return nil, fmt.Sprintf("The host pattern expands to more than %d hosts.", maxRangeHosts)
		}
		return []string{p}, ""
	}
	end := strings.IndexByte(p[open:], ']')
	if end < 0 {
		return nil, fmt.Sprintf("The host range in %q has no closing \"]\".", p)
	}
	end += open
	head, spec, tail := p[:open], p[open+1:end], p[end+1:]
	bounds := strings.Split(spec, ":")
	if len(bounds) != 2 && len(bounds) != 3 {
		return nil, fmt.Sprintf("The host range [%s] must be [begin:end] or [begin:end:step].", spec)
	}
	beg, last, step := bounds[0], bounds[1], 1
	if beg == "" {
		beg = "0"
	}
	if last == "" {
		return nil, fmt.Sprintf("The host range [%s] has no end.", spec)
	}
	if len(bounds) == 3 {
		n, ok := atoi(bounds[2])
		if !ok || n < 1 {
			return nil, fmt.Sprintf("The step of the host range [%s] must be a positive whole number.", spec)
		}
		step = n
	}
	var items []string
	bi, ei := strings.Index(asciiLetters, beg), strings.Index(asciiLetters, last)
	if len(beg) == 1 && len(last) == 1 && bi >= 0 && ei >= 0 {
		if bi > ei {
			return nil, fmt.Sprintf("The host range [%s] must have begin <= end.", spec)
		}
		for i := bi; i <= ei; i += step {
			items = append(items, asciiLetters[i:i+1])
		}
	} else {
		b, ok1 := atoi(beg)
		e, ok2 := atoi(last)
		if !ok1 || !ok2 {
			return nil, fmt.Sprintf("The host range [%s] must be numbers or single letters.", spec)
		}
		width := 0
		if beg[0] == '0' && len(beg) > 1 {
			if len(beg) != len(last) {
				return nil, fmt.Sprintf("The host range [%s] must have begin and end of the same width, as its leading zeros are kept.", spec)
			}
			width = len(beg)
		}
		if e-b > 100000 {
			return nil, fmt.Sprintf("The host range [%s] is too large.", spec)
		}
		for i := b; i <= e; i += step {
			items = append(items, fmt.Sprintf("%0*d", width, i))
		}
	}
	var out []string
	for _, it := range items {
		more, problem := expandRanges(head+it+tail, budget)
		if problem != "" {
			return nil, problem
		}
		out = append(out, more...)
	}
	return out, ""
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
