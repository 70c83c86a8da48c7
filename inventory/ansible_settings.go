package inventory

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// AnsibleIgnoredVars are the ansible_* variables tend reads without a
// warning and without effect: they concern how Ansible runs its Python
// modules, which tend does not use (and ansible_group_priority, which
// orders the merge of group variables).
var AnsibleIgnoredVars = []string{
	"ansible_python_interpreter",
	"ansible_shell_type",
	"ansible_shell_executable",
	"ansible_pipelining",
	"ansible_ssh_pipelining",
	"ansible_group_priority",
	"ansible_ssh_retries",
	"ansible_ssh_transfer_method",
	"ansible_sftp_batch_mode",
	"ansible_scp_if_ssh",
}

// ansibleSecretVars are refused: tend never reads a secret from an
// inventory file.
var ansibleSecretVars = map[string]bool{
	"ansible_password":        true,
	"ansible_ssh_pass":        true,
	"ansible_ssh_password":    true,
	"ansible_become_password": true,
	"ansible_become_pass":     true,
	"ansible_sudo_pass":       true,
	"ansible_sudo_password":   true,
}

// isAnsibleSecret reports whether the variable name holds a secret: one of
// ansibleSecretVars, or any other ansible_ variable named for a password
// or passphrase (ansible_su_pass, ansible_ssh_private_key_passphrase...),
// whose value must not be echoed even in a warning.
func isAnsibleSecret(name string) bool {
	return ansibleSecretVars[name] || (strings.HasPrefix(name, "ansible_") && strings.Contains(name, "_pass"))
}

// ansibleSettings maps the ansible_* variables of each host to its
// connection settings, collecting each problem once per place with the
// hosts it concerns.
type ansibleSettings struct {
	r     *ansibleReader
	found map[string]*ansibleFinding
	order []string
	// secret names the variable of the error being reported when its
	// value is a secret, to be redacted in snippets.
	secret string
}

type ansibleFinding struct {
	diag  *hcl.Diagnostic
	hosts []string
}

func newAnsibleSettings(r *ansibleReader) *ansibleSettings {
	return &ansibleSettings{r: r, found: map[string]*ansibleFinding{}}
}

func (s *ansibleSettings) report(sev hcl.DiagnosticSeverity, host string, rng hcl.Range, summary, format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	key := fmt.Sprintf("%d|%s|%s|%s", sev, summary, detail, rng)
	f, ok := s.found[key]
	if !ok {
		r := rng
		f = &ansibleFinding{diag: &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: &r}}
		if s.secret != "" {
			f.diag.Extra = RedactedSource{Text: s.secret + "=(redacted)"}
		}
		s.found[key] = f
		s.order = append(s.order, key)
	}
	if !slices.Contains(f.hosts, host) {
		f.hosts = append(f.hosts, host)
	}
}

// diagnostics returns the findings, a warning naming the hosts it
// concerns.
func (s *ansibleSettings) diagnostics() hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, k := range s.order {
		f := s.found[k]
		d := *f.diag
		if d.Severity == hcl.DiagWarning {
			d.Detail += fmt.Sprintf(" Hosts: %s.", strings.Join(f.hosts, ", "))
		}
		out = append(out, &d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Subject.Start.Byte < out[j].Subject.Start.Byte
	})
	return out
}

func (s *ansibleSettings) errorf(host string, rng hcl.Range, summary, format string, args ...any) {
	s.report(hcl.DiagError, host, rng, summary, format, args...)
	s.secret = ""
}

// RedactedSource, as a diagnostic's Extra, says that the source its
// Subject covers holds a secret: a printer shows Text in its place
// instead of the line as written.
type RedactedSource struct {
	Text string
}

func (s *ansibleSettings) warnf(host string, rng hcl.Range, summary, format string, args ...any) {
	s.report(hcl.DiagWarning, host, rng, summary, format, args...)
}

func (s *ansibleSettings) set(h *Host, attr string, rng hcl.Range) {
	if h.SettingRanges == nil {
		h.SettingRanges = map[string]hcl.Range{}
	}
	h.SettingRanges[attr] = rng
}

// apply sets what the variable name (with value v) says about host h.
func (s *ansibleSettings) apply(h *Host, name string, v aVar) {
	str := func() (string, bool) {
		val, ok := ansibleString(v.val)
		if !ok {
			s.errorf(h.Name, v.rng, "Invalid "+name, "%s must be a string.", name)
		}
		return val, ok
	}
	switch name {
	case "ansible_host", "ansible_ssh_host":
		if a, ok := str(); ok {
			if problem := addressProblem(a); problem != "" || a == "" {
				if a == "" {
					problem = "The address must not be empty."
				}
				s.errorf(h.Name, v.rng, "Invalid "+name, "%s", problem)
				return
			}
			h.Address, h.AddressSet = a, true
		}
	case "ansible_port", "ansible_ssh_port":
		n, ok := ansibleInt(v.val)
		if !ok || n < 1 || n > 65535 {
			s.errorf(h.Name, v.rng, "Invalid "+name, "%s must be a port number from 1 to 65535.", name)
			return
		}
		h.Port = n
		s.set(h, "port", v.rng)
	case "ansible_user", "ansible_ssh_user":
		if u, ok := str(); ok {
			if u == "" {
				s.errorf(h.Name, v.rng, "Invalid "+name, "%s must not be empty.", name)
				return
			}
			h.User = u
			s.set(h, "user", v.rng)
		}
	case "ansible_ssh_private_key_file", "ansible_private_key_file":
		if p, ok := str(); ok {
			exp, err := expandHome(p)
			if err != nil {
				s.errorf(h.Name, v.rng, "Invalid "+name, "Cannot expand %q: %s.", p, err)
				return
			}
			h.IdentityFile = exp
			s.set(h, "identity_file", v.rng)
		}
	case "ansible_become", "ansible_sudo":
		b, ok := ansibleBool(v.val)
		if !ok {
			s.errorf(h.Name, v.rng, "Invalid "+name, "%s must be a boolean (true, false, yes, no).", name)
			return
		}
		h.Become = b
		s.set(h, "become", v.rng)
	case "ansible_become_user", "ansible_sudo_user":
		if u, ok := str(); ok {
			if u == "" {
				s.errorf(h.Name, v.rng, "Invalid "+name, "%s must not be empty.", name)
				return
			}
			h.BecomeUser = u
			s.set(h, "become_user", v.rng)
		}
	case "ansible_become_method":
		if m, _ := ansibleString(v.val); m != "sudo" {
			s.warnf(h.Name, v.rng, "Ignored ansible_become_method", "tend becomes another user with sudo only; ansible_become_method=%s is ignored.", m)
		}
	case "ansible_connection":
		c, ok := str()
		if !ok {
			return
		}
		switch c {
		case "ssh", "smart", "paramiko", "paramiko_ssh":
			h.Connection = "ssh"
		case "local":
			h.Connection = "local"
		default:
			s.errorf(h.Name, v.rng, "Unsupported ansible_connection", "tend connects over ssh or locally (ansible_connection=local), not with %q.", c)
			return
		}
		s.set(h, "connection", v.rng)
	case "ansible_timeout", "ansible_ssh_timeout":
		n, ok := ansibleInt(v.val)
		if !ok || n < 0 {
			s.errorf(h.Name, v.rng, "Invalid "+name, "%s is a number of seconds.", name)
			return
		}
		h.ConnectTimeout = n
		s.set(h, "connect_timeout", v.rng)
	case "ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_ssh_args":
		if a, ok := str(); ok {
			s.sshArgs(h, name, a, v.rng)
		}
	case "ansible_host_key_checking", "ansible_ssh_host_key_checking":
		if b, ok := ansibleBool(v.val); !ok || !b {
			s.warnf(h.Name, v.rng, "Ignored "+name, "tend always checks host keys (use --accept-new-host-keys to trust new ones); %s is ignored.", name)
		}
	default:
		switch {
		case isAnsibleSecret(name):
			s.secret = name
			s.errorf(h.Name, v.rng, "Secret in the inventory",
				"tend never takes passwords from inventory files. Remove %s, convert the inventory (tend inventory -i FILE --to-hcl) and give the sudo password with become_password_env = \"NAME\" (an environment variable that holds it) or become_password_prompt = true; SSH logins use keys or ssh-agent.", name)
		case slices.Contains(AnsibleIgnoredVars, name):
		default:
			s.warnf(h.Name, v.rng, "Unknown Ansible variable", "tend does not know %s and ignores it.", name)
		}
	}
}

// sshArgs reads the ssh options tend understands from an ansible_ssh_*
// args string: -o ProxyJump=a,b and -J a,b (the jump hosts),
// -o UserKnownHostsFile=, -o ConnectTimeout=, -o ServerAliveInterval= and
// -o ServerAliveCountMax=. Options that tend does by itself are ignored;
// others are warned about.
func (s *ansibleSettings) sshArgs(h *Host, name, args string, rng hcl.Range) {
	words, err := shellWords(args)
	if err != nil {
		s.errorf(h.Name, rng, "Invalid "+name, "Cannot split %s into words: %s.", name, err)
		return
	}
	var opts [][2]string
	for i := 0; i < len(words); i++ {
		w := words[i]
		arg := func(flag string) (string, bool) {
			if len(w) > len(flag) {
				return w[len(flag):], true
			}
			if i+1 < len(words) {
				i++
				return words[i], true
			}
			s.errorf(h.Name, rng, "Invalid "+name, "%s ends in %s without its argument.", name, flag)
			return "", false
		}
		switch {
		case strings.HasPrefix(w, "-o"):
			o, ok := arg("-o")
			if !ok {
				return
			}
			k, val, found := strings.Cut(o, "=")
			if !found {
				k, val, _ = strings.Cut(strings.TrimSpace(o), " ")
			}
			opts = append(opts, [2]string{strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(val)})
		case strings.HasPrefix(w, "-J"):
			j, ok := arg("-J")
			if !ok {
				return
			}
			opts = append(opts, [2]string{"proxyjump", j})
		default:
			s.warnf(h.Name, rng, "Ignored ssh option", "tend does not pass arguments to ssh; %q in %s is ignored (tend reads -o ProxyJump, -J, -o UserKnownHostsFile, -o ConnectTimeout, -o ServerAliveInterval and -o ServerAliveCountMax).", w, name)
		}
	}
	for _, o := range opts {
		k, val := o[0], o[1]
		switch k {
		case "proxyjump":
			if val == "" {
				s.errorf(h.Name, rng, "Invalid ProxyJump", "ProxyJump in %s names no host.", name)
				continue
			}
			var jump []string
			for _, j := range strings.Split(val, ",") {
				if j = strings.TrimSpace(j); j != "" {
					jump = append(jump, j)
				}
			}
			h.Jump = jump
			s.set(h, "jump", rng)
		case "userknownhostsfile":
			f := strings.Fields(val)
			if len(f) == 0 {
				continue
			}
			if len(f) > 1 {
				s.warnf(h.Name, rng, "Ignored known hosts files", "tend reads one extra known_hosts file; %s are ignored.", strings.Join(f[1:], " "))
			}
			if f[0] == "/dev/null" {
				s.warnf(h.Name, rng, "Ignored UserKnownHostsFile", "tend always checks host keys; UserKnownHostsFile=/dev/null is ignored.")
				continue
			}
			exp, err := expandHome(f[0])
			if err != nil {
				s.errorf(h.Name, rng, "Invalid UserKnownHostsFile", "Cannot expand %q: %s.", f[0], err)
				continue
			}
			h.KnownHostsFile = exp
			s.set(h, "known_hosts_file", rng)
		case "connecttimeout", "serveralivecountmax", "serveraliveinterval":
			n, ok := atoi(val)
			if !ok {
				s.errorf(h.Name, rng, "Invalid ssh option", "The %s option in %s must be a whole number, not %q.", k, name, val)
				continue
			}
			switch k {
			case "connecttimeout":
				h.ConnectTimeout = n
				s.set(h, "connect_timeout", rng)
			case "serveraliveinterval":
				h.KeepAliveInterval = &n
				s.set(h, "keepalive_interval", rng)
			default:
				if n < 1 {
					n = 1
				}
				h.KeepAliveCount = n
				s.set(h, "keepalive_count", rng)
			}
		case "stricthostkeychecking":
			if v := strings.ToLower(val); v == "no" || v == "off" {
				s.warnf(h.Name, rng, "Ignored StrictHostKeyChecking", "tend always checks host keys (use --accept-new-host-keys to trust new ones); StrictHostKeyChecking=%s is ignored.", val)
			}
		case "globalknownhostsfile", "identitiesonly", "controlmaster", "controlpersist", "controlpath",
			"preferredauthentications", "passwordauthentication", "pubkeyauthentication", "forwardagent":
			// What tend does by itself, or SSH multiplexing it does not use.
		case "proxycommand":
			s.warnf(h.Name, rng, "Ignored ProxyCommand", "tend does not run a ProxyCommand; write -o ProxyJump=[user@]host[:port] instead.")
		default:
			s.warnf(h.Name, rng, "Ignored ssh option", "tend does not pass options to ssh; %s in %s is ignored.", k, name)
		}
	}
}

// shellWords splits s like a POSIX shell would (quotes and backslashes,
// no expansion).
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, c := range s {
		switch {
		case escaped:
			cur.WriteRune(c)
			escaped = false
		case quote != 0:
			switch {
			case c == quote:
				quote = 0
			case c == '\\' && quote == '"':
				escaped = true
			default:
				cur.WriteRune(c)
			}
		case c == '\\':
			escaped, inWord = true, true
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c quote", quote)
	}
	if escaped {
		return nil, fmt.Errorf("trailing backslash")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// ansibleString returns v as Ansible would template it into a string:
// strings as they are, numbers and booleans written out.
func ansibleString(v cty.Value) (string, bool) {
	if v.IsNull() || !v.IsKnown() {
		return "", false
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), true
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), true
	case cty.Bool:
		if v.True() {
			return "True", true
		}
		return "False", true
	}
	return "", false
}

// ansibleInt reads a whole number from a number or a numeric string.
func ansibleInt(v cty.Value) (int, bool) {
	if v.IsNull() || !v.IsKnown() {
		return 0, false
	}
	switch v.Type() {
	case cty.Number:
		i, acc := v.AsBigFloat().Int64()
		if acc != big.Exact || i < -1<<31 || i > 1<<31-1 {
			return 0, false
		}
		return int(i), true
	case cty.String:
		s := strings.TrimSpace(v.AsString())
		neg := strings.HasPrefix(s, "-")
		n, ok := atoi(strings.TrimPrefix(s, "-"))
		if neg {
			n = -n
		}
		return n, ok
	}
	return 0, false
}

// ansibleBool reads a boolean as Ansible's boolean filter does: true,
// yes, on, 1 (any case) and their opposites.
func ansibleBool(v cty.Value) (bool, bool) {
	if v.IsNull() || !v.IsKnown() {
		return false, false
	}
	switch v.Type() {
	case cty.Bool:
		return v.True(), true
	case cty.Number:
		if n, ok := ansibleInt(v); ok && (n == 0 || n == 1) {
			return n == 1, true
		}
	case cty.String:
		switch strings.ToLower(strings.TrimSpace(v.AsString())) {
		case "true", "yes", "on", "1", "y", "t":
			return true, true
		case "false", "no", "off", "0", "n", "f":
			return false, true
		}
	}
	return false, false
}
