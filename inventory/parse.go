package inventory

import (
	"fmt"
	"math/big"
	"net"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Default connection settings, applied when neither defaults, groups nor the
// host set them.
const (
	DefaultPort       = 22
	DefaultConnection = "ssh"
	DefaultBecomeUser = "root"
)

// Load reads and parses the inventory file filename, in the format
// DetectFormat tells: tend's HCL (Parse) or an Ansible INI or YAML
// inventory, with the group_vars/ and host_vars/ beside it; a directory is
// an Ansible inventory directory (LoadAnsible).
func Load(filename string) (*Inventory, hcl.Diagnostics) {
	if st, err := os.Stat(filename); err == nil && st.IsDir() {
		return LoadAnsible(filename)
	}
	src, err := os.ReadFile(filename)
	if err != nil {
		return &Inventory{Filename: filename, Files: map[string]*hcl.File{}}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read inventory",
			Detail:   fmt.Sprintf("Cannot read inventory %s: %s.", filename, err),
		}}
	}
	if DetectFormat(filename, src) != FormatHCL {
		return LoadAnsible(filename)
	}
	return Parse(src, filename)
}

// Parse parses an inventory from src; filename is used in diagnostics.
//
// The language has three block types, in any order:
//
//	defaults { user = "deploy"  port = 22  become = true  vars = { ... } }
//	group "web" {
//	  vars = { workers = 2 }              # plus any connection attribute
//	  host "web1" { address = "203.0.113.10" }
//	  members  = ["db1"]                  # hosts declared elsewhere
//	  children = ["other-group"]          # their hosts join this group
//	}
//	host "db1" { address = "203.0.113.20"  vars = { role = "db" } }
//
// Connection attributes (defaults, group or host): user, port,
// connection ("ssh" or "local"), identity_file, known_hosts_file (both "~"
// expanded), become, become_user, become_password_env (the name of an
// environment variable holding the sudo password), become_password_prompt,
// connect_timeout and command_timeout (seconds; commands default to 600),
// keepalive_interval (seconds, default 5; 0 turns keepalives and command
// heartbeats off) and keepalive_count (unanswered keepalives that end the
// connection, default 3), state_dir (tend's directory on the host for the
// run lock and pending records), ssh_config (the OpenSSH client
// configuration consulted, "~" expanded; default ~/.ssh/config, "none" for
// none) and jump (the jump hosts, first hop first: a string, comma-separated
// like ProxyJump, or a list of strings, each an inventory host name or
// "[user@]host[:port]"; "none" for none, overriding ssh_config's ProxyJump).
// A host also has address (default: its name, then looked up in the
// ssh_config file like `ssh NAME`). Settings and vars (merged by key) apply in the order
// defaults < groups, in declaration order < host. Expressions may call the
// functions of Functions, among them env("NAME") and env("NAME", "default").
//
// A var may be secret: sensitive(value) marks it (and everything a playbook
// computes from it) Sensitive, and the mark survives the merge. Connection
// settings, addresses and group lists are shown everywhere and cannot be
// sensitive.
//
// All problems are collected and returned together, each with the source
// range it concerns. The returned Inventory is never nil, so its Files can be
// used to print the diagnostics; when the diagnostics hold errors the rest of
// it must not be used.
func Parse(src []byte, filename string) (*Inventory, hcl.Diagnostics) {
	inv := &Inventory{Filename: filename, Files: map[string]*hcl.File{}}
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if file != nil {
		// The source only: the syntax tree is dropped once the inventory
		// is made (for a 10,000-host inventory, some 17 MiB that a run
		// would otherwise hold, and the collector scan, to its end).
		inv.Files[filename] = &hcl.File{Bytes: file.Bytes}
	}
	if diags.HasErrors() {
		return inv, diags
	}
	p := &parser{ctx: &hcl.EvalContext{Functions: Functions()}}
	p.parse(file.Body)
	p.resolve(inv)
	return inv, append(diags, p.diags...)
}

// Localhost returns the implicit inventory used when no inventory is given:
// one host "localhost", reached with the local connection, without become.
func Localhost() *Inventory {
	return &Inventory{
		Hosts: []*Host{{
			Name:       "localhost",
			Address:    "localhost",
			Connection: "local",
			BecomeUser: DefaultBecomeUser,
			Vars:       map[string]cty.Value{},
		}},
		Vars:  map[string]cty.Value{},
		Files: map[string]*hcl.File{},
	}
}

// settings are the connection attributes and vars one defaults, group or host
// block sets; nil means not set at that level.
type settings struct {
	user, identityFile, knownHostsFile, connection *string
	becomeUser, becomePasswordEnv                  *string
	stateDir, sshConfig                            *string
	// jump is nil when not set here.
	jump                                 []string
	port, connectTimeout, commandTimeout *int
	keepaliveInterval, keepaliveCount    *int
	become, becomePasswordPrompt         *bool
	vars                                 map[string]cty.Value
	// ranges holds where each connection attribute's value is written.
	ranges map[string]hcl.Range
}

var settingAttrs = []hcl.AttributeSchema{
	{Name: "user"},
	{Name: "port"},
	{Name: "connection"},
	{Name: "identity_file"},
	{Name: "known_hosts_file"},
	{Name: "become"},
	{Name: "become_user"},
	{Name: "become_password_env"},
	{Name: "become_password_prompt"},
	{Name: "connect_timeout"},
	{Name: "command_timeout"},
	{Name: "keepalive_interval"},
	{Name: "keepalive_count"},
	{Name: "state_dir"},
	{Name: "ssh_config"},
	{Name: "jump"},
	{Name: "vars"},
}

func withAttrs(names ...string) []hcl.AttributeSchema {
	attrs := append([]hcl.AttributeSchema(nil), settingAttrs...)
	for _, n := range names {
		attrs = append(attrs, hcl.AttributeSchema{Name: n})
	}
	return attrs
}

var (
	rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "defaults"},
		{Type: "group", LabelNames: []string{"name"}},
		{Type: "host", LabelNames: []string{"name"}},
	}}
	defaultsSchema = &hcl.BodySchema{Attributes: settingAttrs}
	groupSchema    = &hcl.BodySchema{
		Attributes: withAttrs("members", "children"),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "host", LabelNames: []string{"name"}}},
	}
	hostSchema = &hcl.BodySchema{Attributes: withAttrs("address")}
)

// nameRef is a host or group name written somewhere, with where.
type nameRef struct {
	name string
	rng  hcl.Range
}

type hostDecl struct {
	name    string
	address string
	// addressSet: the address was written, not taken from the name.
	addressSet bool
	set        settings
	defRange   hcl.Range
	// group is the group the host block is nested in, or "".
	group string
}

type groupDecl struct {
	name     string
	set      settings
	nested   []string
	members  []nameRef
	children []nameRef
	defRange hcl.Range
}

type parser struct {
	ctx      *hcl.EvalContext
	diags    hcl.Diagnostics
	defaults settings
	hosts    []*hostDecl
	groups   []*groupDecl
}

func (p *parser) errorf(rng hcl.Range, summary, format string, args ...any) {
	r := rng
	p.diags = append(p.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  &r,
	})
}

func (p *parser) parse(body hcl.Body) {
	content, diags := body.Content(rootSchema)
	p.diags = append(p.diags, diags...)
	var defaultsRange *hcl.Range
	for _, b := range content.Blocks {
		switch b.Type {
		case "defaults":
			if defaultsRange != nil {
				p.errorf(b.DefRange, "Duplicate defaults block",
					"Only one defaults block is allowed; the first is at %s.", defaultsRange)
				continue
			}
			r := b.DefRange
			defaultsRange = &r
			c, diags := b.Body.Content(defaultsSchema)
			p.diags = append(p.diags, diags...)
			p.defaults = p.settings(c)
		case "group":
			p.group(b)
		case "host":
			p.host(b, "")
		}
	}
}

func (p *parser) group(b *hcl.Block) {
	g := &groupDecl{name: b.Labels[0], defRange: b.DefRange}
	p.checkName("group", b)
	c, diags := b.Body.Content(groupSchema)
	p.diags = append(p.diags, diags...)
	g.set = p.settings(c)
	if a, ok := c.Attributes["members"]; ok {
		g.members = p.nameList(a)
	}
	if a, ok := c.Attributes["children"]; ok {
		g.children = p.nameList(a)
	}
	p.groups = append(p.groups, g)
	for _, hb := range c.Blocks {
		g.nested = append(g.nested, hb.Labels[0])
		p.host(hb, g.name)
	}
}

func (p *parser) host(b *hcl.Block, group string) {
	h := &hostDecl{name: b.Labels[0], address: b.Labels[0], defRange: b.DefRange, group: group}
	p.checkName("host", b)
	c, diags := b.Body.Content(hostSchema)
	p.diags = append(p.diags, diags...)
	h.set = p.settings(c)
	if a, ok := c.Attributes["address"]; ok {
		if s, ok := p.str(a); ok {
			switch problem := addressProblem(s); {
			case strings.TrimSpace(s) == "":
				p.errorf(a.Expr.Range(), "Invalid address", "The address must not be empty; leave it out to use the host name.")
			case problem != "":
				p.errorf(a.Expr.Range(), "Invalid address", "%s", problem)
			default:
				h.address = s
				h.addressSet = true
			}
		}
	}
	p.hosts = append(p.hosts, h)
}

// addressProblem says what is wrong with a host's address, or "" when it
// is a host name or an IP address: the login and the port, which people
// write into it as for ssh, have attributes of their own.
func addressProblem(s string) string {
	ip := s
	if i := strings.IndexByte(ip, '%'); i >= 0 {
		ip = ip[:i] // an IPv6 zone, fe80::1%eth0
	}
	if net.ParseIP(ip) != nil {
		return ""
	}
	if user, host, ok := strings.Cut(s, "@"); ok && !strings.Contains(host, "@") {
		return fmt.Sprintf("The address %q holds a login: write address = %q and user = %q.", s, host, user)
	}
	if strings.Contains(s, "://") {
		return fmt.Sprintf("The address %q is a URL: write the host name or IP address alone, and the port, if not 22, in port.", s)
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if _, err := strconv.Atoi(port); err == nil {
			return fmt.Sprintf("The address %q holds a port: write address = %q and port = %s.", s, host, port)
		}
		return fmt.Sprintf("The address %q holds a port: write address = %q and the port number in port.", s, host)
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") && net.ParseIP(s[1:len(s)-1]) != nil {
		return fmt.Sprintf("Write an IPv6 address without brackets: address = %q.", s[1:len(s)-1])
	}
	if strings.ContainsAny(s, ":/@[] \t\r\n") {
		return fmt.Sprintf("The address %q is neither a host name nor an IP address.", s)
	}
	return ""
}

// checkName rejects names that host patterns could not address.
func (p *parser) checkName(kind string, b *hcl.Block) {
	name := b.Labels[0]
	rng := b.LabelRanges[0]
	switch {
	case name == "":
		p.errorf(rng, "Invalid "+kind+" name", "A %s name must not be empty.", kind)
	case name == "all":
		p.errorf(rng, "Invalid "+kind+" name", `"all" is reserved: the pattern all selects every host.`)
	case strings.ContainsAny(name, ",!&*?[] \t\n"):
		p.errorf(rng, "Invalid "+kind+" name",
			"The %s name %q contains a character used by host patterns (one of , ! & * ? [ ] or a space).", kind, name)
	}
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// settings decodes the connection attributes and vars present in c.
func (p *parser) settings(c *hcl.BodyContent) settings {
	s := settings{ranges: map[string]hcl.Range{}}
	for _, a := range SortedAttrs(c.Attributes) {
		name := a.Name
		if name != "vars" {
			s.ranges[name] = a.Expr.Range()
		}
		switch name {
		case "user", "become_user":
			if v, ok := p.str(a); ok {
				if v == "" {
					p.errorf(a.Expr.Range(), "Invalid "+name, "The %s must not be empty.", name)
					continue
				}
				if name == "user" {
					s.user = &v
				} else {
					s.becomeUser = &v
				}
			}
		case "connection":
			if v, ok := p.str(a); ok {
				if v != "ssh" && v != "local" {
					p.errorf(a.Expr.Range(), "Invalid connection", `The connection must be "ssh" or "local", not %q.`, v)
					continue
				}
				s.connection = &v
			}
		case "ssh_config":
			if v, ok := p.str(a); ok {
				if v == "" {
					p.errorf(a.Expr.Range(), "Invalid ssh_config", `ssh_config is the path of an OpenSSH client configuration file, or "none"; it must not be empty.`)
					continue
				}
				exp := v
				if v != "none" {
					var err error
					if exp, err = expandHome(v); err != nil {
						p.errorf(a.Expr.Range(), "Invalid ssh_config", "Cannot expand %q: %s.", v, err)
						continue
					}
				}
				s.sshConfig = &exp
			}
		case "jump":
			if hops, ok := p.jump(a); ok {
				s.jump = hops
			}
		case "identity_file", "known_hosts_file":
			if v, ok := p.str(a); ok {
				exp, err := expandHome(v)
				if err != nil {
					p.errorf(a.Expr.Range(), "Invalid "+name, "Cannot expand %q: %s.", v, err)
					continue
				}
				if name == "identity_file" {
					s.identityFile = &exp
				} else {
					s.knownHostsFile = &exp
				}
			}
		case "become_password_env":
			if v, ok := p.str(a); ok {
				if !envNameRe.MatchString(v) {
					p.errorf(a.Expr.Range(), "Invalid become_password_env",
						"become_password_env names the environment variable that holds the sudo password (like \"TEND_SUDO_PASSWORD\"); %q is not a variable name. Never write the password itself here.", redactIfLong(v))
					continue
				}
				s.becomePasswordEnv = &v
			}
		case "port":
			if v, ok := p.integer(a); ok {
				if v < 1 || v > 65535 {
					p.errorf(a.Expr.Range(), "Invalid port", "The port must be between 1 and 65535, not %d.", v)
					continue
				}
				s.port = &v
			}
		case "state_dir":
			if v, ok := p.str(a); ok {
				if !strings.HasPrefix(v, "/") || path.Clean(v) != v || v == "/" || strings.ContainsAny(v, "\n") {
					p.errorf(a.Expr.Range(), "Invalid state_dir", "state_dir must be an absolute, clean path such as \"/var/lib/tend\", not %q.", v)
					continue
				}
				s.stateDir = &v
			}
		case "keepalive_interval", "keepalive_count":
			if v, ok := p.integer(a); ok {
				if name == "keepalive_count" && (v < 1 || v > 100) {
					p.errorf(a.Expr.Range(), "Invalid keepalive_count", "keepalive_count is how many unanswered keepalives end the connection, from 1 to 100, not %d.", v)
					continue
				}
				if name == "keepalive_interval" && (v < 0 || v > 3600) {
					p.errorf(a.Expr.Range(), "Invalid keepalive_interval", "keepalive_interval is a number of seconds from 1 to 3600 (0 turns keepalives and heartbeats off), not %d.", v)
					continue
				}
				if name == "keepalive_count" {
					s.keepaliveCount = &v
				} else {
					s.keepaliveInterval = &v
				}
			}
		case "connect_timeout", "command_timeout":
			if v, ok := p.integer(a); ok {
				if v < 0 {
					p.errorf(a.Expr.Range(), "Invalid "+name, "The %s is a number of seconds and must not be negative.", name)
					continue
				}
				if name == "connect_timeout" {
					s.connectTimeout = &v
				} else {
					s.commandTimeout = &v
				}
			}
		case "become", "become_password_prompt":
			if v, ok := p.boolean(a); ok {
				if name == "become" {
					s.become = &v
				} else {
					s.becomePasswordPrompt = &v
				}
			}
		case "vars":
			s.vars = p.vars(a)
		}
	}
	return s
}

// jump decodes a jump attribute: a string (hops separated by commas, as
// ProxyJump) or a list of strings, each hop checked by ParseJump; "none"
// alone means no jump host.
func (p *parser) jump(a *hcl.Attribute) ([]string, bool) {
	v, diags := a.Expr.Value(p.ctx)
	p.diags = append(p.diags, diags...)
	if diags.HasErrors() || !p.notSensitive(a.Name, a.Expr.Range(), v) || v.IsNull() {
		return nil, false
	}
	var hops []string
	if sv, err := convert.Convert(v, cty.String); err == nil && !sv.IsNull() {
		hops = strings.Split(sv.AsString(), ",")
	} else if lv, err := convert.Convert(v, cty.List(cty.String)); err == nil && !lv.IsNull() && lv.IsWhollyKnown() {
		for _, ev := range lv.AsValueSlice() {
			if ev.IsNull() {
				hops = append(hops, "")
				continue
			}
			hops = append(hops, ev.AsString())
		}
	} else {
		p.errorf(a.Expr.Range(), "Incorrect attribute value type",
			`Inappropriate value for attribute "jump": a string ("bastion", "admin@bastion:2222", "hop1,hop2" or "none") or a list of strings is required.`)
		return nil, false
	}
	for i := range hops {
		hops[i] = strings.TrimSpace(hops[i])
	}
	if len(hops) == 1 && hops[0] == "none" {
		return hops, true
	}
	ok := len(hops) > 0
	if !ok {
		p.errorf(a.Expr.Range(), "Invalid jump", `jump lists no host; write jump = "none" for no jump host.`)
	}
	for _, h := range hops {
		if h == "none" {
			p.errorf(a.Expr.Range(), "Invalid jump", `"none" cannot be one hop among others: write jump = "none" alone for no jump host.`)
			ok = false
			continue
		}
		if _, err := ParseJump(h); err != nil {
			p.errorf(a.Expr.Range(), "Invalid jump", "%s.", err)
			ok = false
		}
	}
	return hops, ok
}

// Hop is one jump host written as "[user@]host[:port]".
type Hop struct {
	// User and Port are zero when not written.
	User string
	Host string
	Port int
}

// ParseJump parses one hop of a jump chain, "[user@]host[:port]" (an IPv6
// address in brackets when it has a port), as ssh -J and ProxyJump take
// it; an ssh:// URL is accepted too.
func ParseJump(s string) (Hop, error) {
	var h Hop
	orig := s
	s = strings.TrimPrefix(s, "ssh://")
	if s == "" {
		return h, fmt.Errorf("a jump host must not be empty")
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		h.User, s = s[:i], s[i+1:]
		if h.User == "" {
			return h, fmt.Errorf("the jump host %q has an empty login before @", orig)
		}
	}
	host := s
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		hh, port, err := net.SplitHostPort(s)
		if err != nil {
			return h, fmt.Errorf("the jump host %q is not [user@]host[:port]", orig)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return h, fmt.Errorf("the jump host %q has an invalid port %q (1 to 65535)", orig, port)
		}
		host, h.Port = hh, n
	}
	if host == "" || strings.ContainsAny(host, "/@[] \t\r\n,") {
		return h, fmt.Errorf("the jump host %q is not [user@]host[:port]", orig)
	}
	h.Host = host
	return h, nil
}

// redactIfLong avoids echoing what may be a pasted secret.
func redactIfLong(s string) string {
	if len(s) > 3 {
		return s[:1] + "…"
	}
	return s
}

// value evaluates a and converts it to ty; ok is false (with a diagnostic)
// on failure and false without one when the value is null.
func (p *parser) value(a *hcl.Attribute, ty cty.Type, what string) (cty.Value, bool) {
	v, diags := a.Expr.Value(p.ctx)
	p.diags = append(p.diags, diags...)
	if diags.HasErrors() || !p.notSensitive(a.Name, a.Expr.Range(), v) || v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		p.errorf(a.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s is required.", a.Name, what)
		return cty.NilVal, false
	}
	return cv, true
}

func (p *parser) str(a *hcl.Attribute) (string, bool) {
	v, ok := p.value(a, cty.String, "a string")
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

func (p *parser) boolean(a *hcl.Attribute) (bool, bool) {
	v, ok := p.value(a, cty.Bool, "a bool")
	if !ok {
		return false, false
	}
	return v.True(), true
}

func (p *parser) integer(a *hcl.Attribute) (int, bool) {
	v, ok := p.value(a, cty.Number, "a number")
	if !ok {
		return 0, false
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if acc != big.Exact || i < -1<<31 || i > 1<<31-1 {
		p.errorf(a.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: a whole number is required, not %s.", a.Name, bf.Text('g', -1))
		return 0, false
	}
	return int(i), true
}

// notSensitive reports whether v holds no sensitive value, adding an error
// at rng when it does: only vars may be secret.
func (p *parser) notSensitive(name string, rng hcl.Range, v cty.Value) bool {
	if !IsSensitive(v) {
		return true
	}
	p.errorf(rng, "Sensitive value in "+name,
		"%s is shown in plans, logs and `tend inventory`, so it cannot be sensitive. Only vars can hold secrets, like vars = { db_password = sensitive(env(\"DB_PASSWORD\")) }.", name)
	return false
}

// vars decodes a vars attribute: an object (or map) of arbitrary values.
// Each var keeps its marks; when the whole object is marked (vars =
// sensitive({...})), every var is.
func (p *parser) vars(a *hcl.Attribute) map[string]cty.Value {
	v, diags := a.Expr.Value(p.ctx)
	p.diags = append(p.diags, diags...)
	if diags.HasErrors() {
		return nil
	}
	v, marks := v.Unmark()
	if v.IsNull() {
		return nil
	}
	ty := v.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		p.errorf(a.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute \"vars\": an object is required, like vars = { workers = 2 }.")
		return nil
	}
	if !v.IsKnown() {
		p.errorf(a.Expr.Range(), "Invalid vars", "The value of vars is not known.")
		return nil
	}
	out := map[string]cty.Value{}
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		out[k.AsString()] = ev.WithMarks(marks)
	}
	return out
}

// nameList decodes a list of host or group names, keeping each element's
// range when the list is written literally.
func (p *parser) nameList(a *hcl.Attribute) []nameRef {
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		// Not a literal list: evaluate the whole expression.
		v, ok := p.value(a, cty.List(cty.String), "a list of names")
		if !ok {
			return nil
		}
		var out []nameRef
		for _, ev := range v.AsValueSlice() {
			if ev.IsNull() {
				p.errorf(a.Expr.Range(), "Invalid name", "The list of names must not contain null.")
				continue
			}
			out = append(out, nameRef{ev.AsString(), a.Expr.Range()})
		}
		return out
	}
	var out []nameRef
	for _, e := range exprs {
		v, diags := e.Value(p.ctx)
		p.diags = append(p.diags, diags...)
		if diags.HasErrors() || !p.notSensitive(a.Name, e.Range(), v) {
			continue
		}
		sv, err := convert.Convert(v, cty.String)
		if err != nil || sv.IsNull() {
			p.errorf(e.Range(), "Incorrect attribute value type",
				"Inappropriate value for attribute %q: each element must be a host or group name (a string).", a.Name)
			continue
		}
		out = append(out, nameRef{sv.AsString(), e.Range()})
	}
	return out
}

// expandHome expands a leading "~" or "~user" in a path.
func expandHome(p string) (string, error) {
	if !strings.HasPrefix(p, "~") {
		return p, nil
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	var home string
	if name == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		home = h
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			return "", err
		}
		home = u.HomeDir
	}
	return filepath.Join(home, rest), nil
}

// resolve checks names and references, expands groups and builds the hosts.
func (p *parser) resolve(inv *Inventory) {
	hostIdx := map[string]*hostDecl{}
	for _, h := range p.hosts {
		if first, dup := hostIdx[h.name]; dup {
			p.errorf(h.defRange, "Duplicate host",
				"Host %q is declared twice; the first declaration is at %s. Put a host in more groups with the groups' members attribute.", h.name, first.defRange)
			continue
		}
		hostIdx[h.name] = h
	}
	groupIdx := map[string]*groupDecl{}
	for _, g := range p.groups {
		if first, dup := groupIdx[g.name]; dup {
			p.errorf(g.defRange, "Duplicate group",
				"Group %q is declared twice; the first declaration is at %s.", g.name, first.defRange)
			continue
		}
		if h, clash := hostIdx[g.name]; clash {
			p.errorf(g.defRange, "Group name clashes with a host",
				"%q names both this group and the host declared at %s; host patterns could not tell them apart.", g.name, h.defRange)
			continue
		}
		groupIdx[g.name] = g
	}
	hostNames := make([]string, 0, len(hostIdx))
	for _, h := range p.hosts {
		hostNames = append(hostNames, h.name)
	}
	groupNames := make([]string, 0, len(groupIdx))
	for _, g := range p.groups {
		groupNames = append(groupNames, g.name)
	}

	// Direct membership, with references checked.
	errsBefore := len(p.diags)
	direct := map[string]map[string]bool{}
	for _, g := range p.groups {
		if groupIdx[g.name] != g {
			continue
		}
		set := map[string]bool{}
		for _, n := range g.nested {
			set[n] = true
		}
		for _, m := range g.members {
			switch {
			case hostIdx[m.name] != nil:
				set[m.name] = true
			case groupIdx[m.name] != nil:
				p.errorf(m.rng, "Group listed as a member",
					"%q is a group; list groups in children, hosts in members.", m.name)
			default:
				p.errorf(m.rng, "Unknown host",
					"Group %q lists member %q, which is not declared.%s", g.name, m.name, Suggest(m.name, hostNames))
			}
		}
		for _, c := range g.children {
			switch {
			case groupIdx[c.name] != nil:
			case hostIdx[c.name] != nil:
				p.errorf(c.rng, "Host listed as a child group",
					"%q is a host; list hosts in members, groups in children.", c.name)
			default:
				p.errorf(c.rng, "Unknown group",
					"Group %q lists child group %q, which is not declared.%s", g.name, c.name, Suggest(c.name, groupNames))
			}
		}
		direct[g.name] = set
	}
	if len(p.diags) > errsBefore {
		return // unresolvable references: expanding groups would mislead
	}

	// Flatten children, detecting cycles.
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	flat := map[string]map[string]bool{}
	var visit func(g *groupDecl, path []string) bool
	visit = func(g *groupDecl, path []string) bool {
		if state[g.name] == done {
			return true
		}
		state[g.name] = visiting
		set := map[string]bool{}
		for n := range direct[g.name] {
			set[n] = true
		}
		for _, c := range g.children {
			if state[c.name] == visiting {
				cycle := path
				for i, n := range path {
					if n == c.name {
						cycle = path[i:]
						break
					}
				}
				p.errorf(c.rng, "Group cycle", "Groups contain each other: %s.",
					strings.Join(append(append([]string{}, cycle...), c.name), " → "))
				return false
			}
			if !visit(groupIdx[c.name], append(path, c.name)) {
				return false
			}
			for n := range flat[c.name] {
				set[n] = true
			}
		}
		state[g.name] = done
		flat[g.name] = set
		return true
	}
	for _, g := range p.groups {
		if groupIdx[g.name] == g && !visit(g, []string{g.name}) {
			return
		}
	}
	if p.diags.HasErrors() {
		return // the caller must not use the hosts anyway
	}

	// Build the inventory.
	inv.Vars = copyVars(p.defaults.vars)
	for _, g := range p.groups {
		grp := &Group{Name: g.name, Vars: copyVars(g.set.vars), Range: g.defRange}
		for _, c := range g.children {
			grp.Children = append(grp.Children, c.name)
		}
		for _, h := range p.hosts {
			if flat[g.name][h.name] {
				grp.Hosts = append(grp.Hosts, h.name)
			}
		}
		inv.Groups = append(inv.Groups, grp)
	}
	for _, h := range p.hosts {
		host := &Host{
			Name:       h.name,
			Address:    h.address,
			AddressSet: h.addressSet,
			Port:       DefaultPort,
			Connection: DefaultConnection,
			BecomeUser: DefaultBecomeUser,
			Vars:       map[string]cty.Value{},
			Range:      h.defRange,
		}
		apply(host, p.defaults)
		for _, g := range p.groups {
			if flat[g.name][h.name] {
				host.Groups = append(host.Groups, g.name)
				apply(host, g.set)
			}
		}
		apply(host, h.set)
		inv.Hosts = append(inv.Hosts, host)
	}
	p.checkJumps(inv)
}

// checkJumps refuses jump chains through inventory hosts that lead back to
// where they started, and hosts that jump through themselves.
func (p *parser) checkJumps(inv *Inventory) {
	byName := map[string]*Host{}
	for _, h := range inv.Hosts {
		byName[h.Name] = h
	}
	// next returns the inventory hosts h's jumps name.
	next := func(h *Host) []*Host {
		var out []*Host
		for _, j := range h.Jump {
			if n := byName[j]; n != nil {
				out = append(out, n)
			}
		}
		return out
	}
	names := make([]string, 0, len(inv.Hosts))
	for _, h := range inv.Hosts {
		names = append(names, h.Name)
	}
	// A jump host that is not an inventory host is a host name for ssh
	// (and ssh_config); one that looks like a misspelt inventory host is
	// worth a warning.
	warned := map[string]bool{}
	for _, h := range inv.Hosts {
		for _, j := range h.Jump {
			hop, err := ParseJump(j)
			if err != nil || j == "none" || byName[j] != nil || hop.User != "" || hop.Port != 0 || warned[j] {
				continue
			}
			if hint := Suggest(j, names); hint != "" {
				warned[j] = true
				rng := h.Range
				if r, ok := h.SettingRanges["jump"]; ok {
					rng = r
				}
				p.diags = append(p.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Jump host not in the inventory",
					Detail:  fmt.Sprintf("The jump host %q is no inventory host, so it is taken as a host name (looked up in ssh_config).%s", j, hint),
					Subject: &rng})
			}
		}
	}
	reported := map[string]bool{}
	for _, h := range inv.Hosts {
		// Depth-first from h: a path that comes back to h is a cycle.
		var walk func(cur *Host, path []string) []string
		walk = func(cur *Host, path []string) []string {
			for _, n := range next(cur) {
				if n == h {
					return append(path, n.Name)
				}
				if len(path) > len(inv.Hosts) || slices.Contains(path, n.Name) {
					continue
				}
				if c := walk(n, append(path, n.Name)); c != nil {
					return c
				}
			}
			return nil
		}
		cycle := walk(h, []string{h.Name})
		if cycle == nil || reported[h.Name] {
			continue
		}
		for _, n := range cycle {
			reported[n] = true
		}
		rng := h.Range
		if r, ok := h.SettingRanges["jump"]; ok {
			rng = r
		}
		if len(cycle) == 2 {
			p.errorf(rng, "Jump host cycle", "Host %q jumps through itself; a jump set in defaults or a group applies to the bastion too: set jump = \"none\" in its host block.", h.Name)
			continue
		}
		p.errorf(rng, "Jump host cycle", "Jump hosts lead back to where they started: %s.", strings.Join(cycle, " → "))
	}
}

func copyVars(m map[string]cty.Value) map[string]cty.Value {
	out := make(map[string]cty.Value, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// apply layers the settings s over h.
func apply(h *Host, s settings) {
	setStr := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	setStr(&h.User, s.user)
	setStr(&h.IdentityFile, s.identityFile)
	setStr(&h.KnownHostsFile, s.knownHostsFile)
	setStr(&h.Connection, s.connection)
	setStr(&h.BecomeUser, s.becomeUser)
	setStr(&h.BecomePasswordEnv, s.becomePasswordEnv)
	setStr(&h.StateDir, s.stateDir)
	setStr(&h.SSHConfigFile, s.sshConfig)
	if s.jump != nil {
		h.Jump = append([]string(nil), s.jump...)
	}
	if s.keepaliveInterval != nil {
		v := *s.keepaliveInterval
		h.KeepAliveInterval = &v
	}
	for k, r := range s.ranges {
		if h.SettingRanges == nil {
			h.SettingRanges = map[string]hcl.Range{}
		}
		h.SettingRanges[k] = r
	}
	for _, pair := range []struct {
		dst *int
		src *int
	}{{&h.Port, s.port}, {&h.ConnectTimeout, s.connectTimeout}, {&h.CommandTimeout, s.commandTimeout},
		{&h.KeepAliveCount, s.keepaliveCount}} {
		if pair.src != nil {
			*pair.dst = *pair.src
		}
	}
	if s.become != nil {
		h.Become = *s.become
	}
	if s.becomePasswordPrompt != nil {
		h.BecomePasswordPrompt = *s.becomePasswordPrompt
	}
	for k, v := range s.vars {
		h.Vars[k] = v
	}
}

// SortedAttrs returns attrs in source order (by file, then position), so
// that diagnostics and what is built from the attributes come out in a
// stable order. The playbook and the modules use it too: inventory imports
// none of tend's packages, so any of them may import it.
func SortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Range.Filename != out[j].Range.Filename {
			return out[i].Range.Filename < out[j].Range.Filename
		}
		return out[i].Range.Start.Byte < out[j].Range.Start.Byte
	})
	return out
}
