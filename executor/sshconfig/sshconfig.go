// Package sshconfig reads an OpenSSH client configuration file (ssh_config)
// the way `ssh NAME` uses it, for the settings tend honours: HostName, Port,
// User, IdentityFile, IdentitiesOnly, ProxyJump, ConnectTimeout,
// UserKnownHostsFile, ServerAliveInterval and ServerAliveCountMax. It knows
// nothing of inventories: the caller decides what wins over it.
//
// The file is parsed by github.com/kevinburke/ssh_config, which does not
// evaluate every Match criterion (Match exec is refused as a parse error).
package sshconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// File is a parsed ssh_config file.
type File struct {
	// Path is where the file was read from.
	Path string
	cfg  *ssh_config.Config
}

// DefaultPath is ~/.ssh/config.
func DefaultPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".ssh", "config"), nil
}

// Load reads and parses the file at path. A missing file is an error that
// wraps fs.ErrNotExist.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ssh_config: %w", err)
	}
	cfg, err := ssh_config.Decode(bytes.NewReader(dropInertMatches(data)))
	if err != nil {
		return nil, fmt.Errorf("ssh_config %s: %w", path, err)
	}
	return &File{Path: path, cfg: cfg}, nil
}

// honoured are the keywords (lower case) whose values tend reads, and
// Include, which may bring more.
var honoured = map[string]bool{
	"hostname": true, "port": true, "user": true, "identityfile": true, "identitiesonly": true,
	"proxyjump": true, "connecttimeout": true, "userknownhostsfile": true,
	"serveraliveinterval": true, "serveralivecountmax": true, "include": true,
}

// keyword returns the keyword of an ssh_config line, lower case ("" for a
// blank line or a comment).
func keyword(line string) string {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return ""
	}
	end := strings.IndexAny(line, " \t=")
	if end < 0 {
		end = len(line)
	}
	return strings.ToLower(line[:end])
}

// dropInertMatches comments out the Match blocks that the parser cannot
// evaluate (any criterion but all and host: user, exec, localuser...)
// when they set nothing tend reads: whether they apply or not, tend
// would connect the same way, and a valid ~/.ssh/config must not stop
// every run. A block that sets something tend reads is kept, and refused
// by the parser.
func dropInertMatches(data []byte) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		if keyword(lines[i]) != "match" {
			continue
		}
		fields := strings.Fields(strings.ReplaceAll(strings.TrimSpace(lines[i]), "=", " "))
		if len(fields) < 2 {
			continue // no criterion: the parser says so
		}
		if c := strings.ToLower(fields[1]); c == "all" || c == "host" {
			continue
		}
		end, inert := i+1, true
		for ; end < len(lines); end++ {
			k := keyword(lines[end])
			if k == "host" || k == "match" {
				break
			}
			if honoured[k] {
				inert = false
			}
		}
		if !inert {
			continue
		}
		for j := i; j < end; j++ {
			lines[j] = "# " + lines[j]
		}
		i = end - 1
	}
	return []byte(strings.Join(lines, ""))
}

// Settings are what a file gives one host; each field is zero (nil) when
// the file does not set it.
type Settings struct {
	// HostName is the real host name or address, with %h and %% expanded.
	HostName string
	Port     int
	User     string
	// IdentityFiles are raw: tokens and "~" are expanded by ExpandPath once
	// the user and port are known.
	IdentityFiles  []string
	IdentitiesOnly bool
	// ProxyJump is the jump chain, first hop first; ["none"] means none.
	ProxyJump []string
	// ConnectTimeout is zero when not set.
	ConnectTimeout time.Duration
	// UserKnownHostsFiles are raw, like IdentityFiles.
	UserKnownHostsFiles []string
	// ServerAliveInterval is nil when not set; ServerAliveCountMax zero.
	ServerAliveInterval *time.Duration
	ServerAliveCountMax int
}

// Lookup returns the settings the file gives alias — the name as typed
// after ssh: Host patterns match it, not the HostName.
func (f *File) Lookup(alias string) (Settings, error) {
	var s Settings
	get := func(key string) (string, error) {
		v, err := f.cfg.Get(alias, key)
		if err != nil {
			return "", fmt.Errorf("ssh_config %s: host %s: %s: %w", f.Path, alias, key, err)
		}
		return strings.TrimSpace(v), nil
	}
	bad := func(key, v, want string) error {
		return fmt.Errorf("ssh_config %s: host %s: %s %q is not %s", f.Path, alias, key, v, want)
	}
	seconds := func(key string) (*time.Duration, error) {
		v, err := get(key)
		if err != nil || v == "" {
			return nil, err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, bad(key, v, "a number of seconds")
		}
		d := time.Duration(n) * time.Second
		return &d, nil
	}

	v, err := get("HostName")
	if err != nil {
		return s, err
	}
	if v != "" {
		if s.HostName, err = expandTokens(v, map[byte]string{'h': alias}); err != nil {
			return s, fmt.Errorf("ssh_config %s: host %s: HostName: %w", f.Path, alias, err)
		}
	}
	if v, err = get("Port"); err != nil {
		return s, err
	} else if v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return s, bad("Port", v, "a port number (1 to 65535)")
		}
		s.Port = n
	}
	if s.User, err = get("User"); err != nil {
		return s, err
	}
	if v, err = get("IdentitiesOnly"); err != nil {
		return s, err
	}
	switch strings.ToLower(v) {
	case "", "no":
	case "yes":
		s.IdentitiesOnly = true
	default:
		return s, bad("IdentitiesOnly", v, "yes or no")
	}
	if v, err = get("ProxyJump"); err != nil {
		return s, err
	} else if v != "" {
		for _, hop := range strings.Split(v, ",") {
			s.ProxyJump = append(s.ProxyJump, strings.TrimSpace(hop))
		}
	}
	if d, err := seconds("ConnectTimeout"); err != nil {
		return s, err
	} else if d != nil {
		s.ConnectTimeout = *d
	}
	if s.ServerAliveInterval, err = seconds("ServerAliveInterval"); err != nil {
		return s, err
	}
	if d, err := seconds("ServerAliveCountMax"); err != nil {
		return s, err
	} else if d != nil {
		s.ServerAliveCountMax = int(*d / time.Second)
	}
	ids, err := f.cfg.GetAll(alias, "IdentityFile")
	if err != nil {
		return s, fmt.Errorf("ssh_config %s: host %s: IdentityFile: %w", f.Path, alias, err)
	}
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" && !strings.EqualFold(id, "none") {
			s.IdentityFiles = append(s.IdentityFiles, id)
		}
	}
	if v, err = get("UserKnownHostsFile"); err != nil {
		return s, err
	}
	if v != "" {
		s.UserKnownHostsFiles = strings.Fields(v)
	}
	return s, nil
}

// Tokens are the values of the % tokens of a path: %h (HostName), %n (the
// name as typed), %p (port), %r (remote user); %u (local user), %d (local
// home directory) and %% are known without them.
type Tokens struct {
	Host, Alias, RemoteUser string
	Port                    int
}

// ExpandPath expands a leading "~" and the tokens of an IdentityFile or
// UserKnownHostsFile value. A token it does not know is an error.
func ExpandPath(p string, t Tokens) (string, error) {
	vals := map[byte]string{'h': t.Host, 'n': t.Alias, 'p': strconv.Itoa(t.Port), 'r': t.RemoteUser}
	if u, err := user.Current(); err == nil {
		vals['u'] = u.Username
	}
	home, err := os.UserHomeDir()
	if err == nil {
		vals['d'] = home
	}
	if strings.HasPrefix(p, "~") {
		switch {
		case home == "":
			return "", fmt.Errorf("%q: no home directory to expand ~ to", p)
		case p == "~":
			p = home
		case strings.HasPrefix(p, "~/"):
			p = filepath.Join(home, p[2:])
		default:
			return "", fmt.Errorf("%q: only ~/ is expanded, not ~user", p)
		}
	}
	return expandTokens(p, vals)
}

// expandTokens replaces %X by vals[X] and %% by %.
func expandTokens(s string, vals map[byte]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", errors.New("a lone % at the end of " + strconv.Quote(s))
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
			continue
		}
		v, ok := vals[s[i]]
		if !ok {
			return "", fmt.Errorf("the token %%%c in %q is not supported by tend (only %s)", s[i], s, known(vals))
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

func known(vals map[byte]string) string {
	var out []string
	for _, c := range "dhnpru" {
		if _, ok := vals[byte(c)]; ok {
			out = append(out, "%"+string(c))
		}
	}
	return strings.Join(append(out, "%%"), ", ")
}
