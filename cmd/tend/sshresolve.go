package main

import (
	"github.com/hashicorp/hcl/v2"

	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/sshconfig"
	"github.com/tend-sh/tend/inventory"
)

// maxJumpDepth bounds jump chains (and the lookups that build them).
const maxJumpDepth = 16

// sshResolver works out how to reach an inventory host over SSH: the
// settings written in the inventory win over those of the host's ssh_config
// file, which win over the defaults; and the chain of jump hosts, from the
// inventory's jump or else ssh_config's ProxyJump. It reads each ssh_config
// file once. Not safe for concurrent use: resolve every host first.
type sshResolver struct {
	byName map[string]*inventory.Host
	files  map[string]*sshconfig.File
	errs   map[string]error
}

func newSSHResolver(inv *inventory.Inventory) *sshResolver {
	r := &sshResolver{byName: map[string]*inventory.Host{}, files: map[string]*sshconfig.File{}, errs: map[string]error{}}
	if inv != nil {
		for _, h := range inv.Hosts {
			r.byName[h.Name] = h
		}
	}
	return r
}

// sshTarget is a resolved host: its connection settings (without the run's
// own: become, passwords, the jump pool) and which of them came from
// ssh_config.
type sshTarget struct {
	cfg executor.SSHConfig
	// fromConfig names the settings taken from the ssh_config file
	// (address, port, user, identity_file, jump, ...), for `tend inventory`.
	fromConfig []string
}

// file returns the ssh_config file h consults, nil for none: the default
// ~/.ssh/config when it exists, the one the inventory names, which must.
func (r *sshResolver) file(h *inventory.Host) (*sshconfig.File, error) {
	path := h.SSHConfigFile
	if path == "none" {
		return nil, nil
	}
	explicit := path != ""
	if !explicit {
		p, err := sshconfig.DefaultPath()
		if err != nil {
			return nil, nil
		}
		path = p
	}
	f, ok := r.files[path]
	err := r.errs[path]
	if !ok && err == nil {
		f, err = sshconfig.Load(path)
		r.files[path], r.errs[path] = f, err
	}
	if errors.Is(err, fs.ErrNotExist) {
		if !explicit {
			return nil, nil
		}
		return nil, fmt.Errorf("ssh_config file %s does not exist", path)
	}
	return f, err
}

// resolve resolves an inventory host reached over SSH.
func (r *sshResolver) resolve(h *inventory.Host) (sshTarget, error) {
	return r.resolveHost(h, nil)
}

func (r *sshResolver) resolveHost(h *inventory.Host, path []string) (sshTarget, error) {
	var t sshTarget
	for _, p := range path {
		if p == h.Name {
			return t, fmt.Errorf("jump hosts lead back to where they started: %s", strings.Join(append(path, h.Name), " → "))
		}
	}
	if len(path) >= maxJumpDepth {
		return t, fmt.Errorf("more than %d jump hosts: %s", maxJumpDepth, strings.Join(path, " → "))
	}
	path = append(path, h.Name)
	var s sshconfig.Settings
	f, err := r.file(h)
	if err != nil {
		return t, err
	}
	if f != nil {
		// Looked up as `ssh ADDRESS`: the name when no address is set.
		if s, err = f.Lookup(h.Address); err != nil {
			return t, err
		}
	}
	from := func(setting string) { t.fromConfig = append(t.fromConfig, setting) }
	written := func(attr string) bool { _, ok := h.SettingRanges[attr]; return ok }

	cfg := executor.SSHConfig{Host: h.Name, Address: h.Address, Port: h.Port, User: h.User}
	if !h.AddressSet && s.HostName != "" && s.HostName != h.Address {
		cfg.Address = s.HostName
		from("address")
	}
	if !written("port") && s.Port != 0 && s.Port != cfg.Port {
		cfg.Port = s.Port
		from("port")
	}
	if cfg.Port == 0 {
		cfg.Port = executor.DefaultSSHPort
	}
	if h.User == "" && s.User != "" {
		cfg.User = s.User
		from("user")
	}
	remoteUser := cfg.User
	if remoteUser == "" {
		if u, err := user.Current(); err == nil {
			remoteUser = u.Username
		}
	}
	tokens := sshconfig.Tokens{Host: cfg.Address, Alias: h.Address, RemoteUser: remoteUser, Port: cfg.Port}
	expand := func(key string, paths []string) ([]string, error) {
		var out []string
		for _, p := range paths {
			e, err := sshconfig.ExpandPath(p, tokens)
			if err != nil {
				return nil, fmt.Errorf("ssh_config %s: host %s: %s: %w", f.Path, h.Address, key, err)
			}
			out = append(out, e)
		}
		return out, nil
	}
	if h.IdentityFile != "" {
		cfg.IdentityFiles = []string{h.IdentityFile}
	} else if len(s.IdentityFiles) > 0 {
		files, err := expand("IdentityFile", s.IdentityFiles)
		if err != nil {
			return t, err
		}
		// As ssh, an IdentityFile of ssh_config that does not exist is
		// skipped.
		for _, p := range files {
			if _, err := os.Stat(p); err == nil {
				cfg.IdentityFiles = append(cfg.IdentityFiles, p)
			}
		}
		if len(cfg.IdentityFiles) > 0 {
			from("identity_file")
		}
	}
	cfg.IdentitiesOnly = s.IdentitiesOnly
	// The inventory's known_hosts file comes first (new keys go there with
	// --accept-new-host-keys); then ssh_config's UserKnownHostsFile, or
	// ~/.ssh/known_hosts.
	if h.KnownHostsFile != "" {
		cfg.KnownHostsFiles = []string{h.KnownHostsFile}
	}
	if len(s.UserKnownHostsFiles) > 0 {
		files, err := expand("UserKnownHostsFile", s.UserKnownHostsFiles)
		if err != nil {
			return t, err
		}
		cfg.KnownHostsFiles = append(cfg.KnownHostsFiles, files...)
		from("known_hosts_file")
	} else if def, err := executor.DefaultKnownHostsFile(); err == nil && def != h.KnownHostsFile {
		cfg.KnownHostsFiles = append(cfg.KnownHostsFiles, def)
	}
	cfg.ConnectTimeout = time.Duration(h.ConnectTimeout) * time.Second
	if !written("connect_timeout") && s.ConnectTimeout > 0 {
		cfg.ConnectTimeout = s.ConnectTimeout
		from("connect_timeout")
	}
	cfg.KeepAliveMisses = h.KeepAliveCount
	if h.KeepAliveInterval != nil {
		cfg.KeepAlive = time.Duration(*h.KeepAliveInterval) * time.Second
		if *h.KeepAliveInterval == 0 {
			cfg.KeepAlive = -1
		}
	} else if s.ServerAliveInterval != nil && *s.ServerAliveInterval > 0 {
		cfg.KeepAlive = *s.ServerAliveInterval
		from("keepalive_interval")
	}
	if !written("keepalive_count") && s.ServerAliveCountMax > 0 {
		cfg.KeepAliveMisses = s.ServerAliveCountMax
		from("keepalive_count")
	}

	hops := h.Jump
	if hops == nil && s.ProxyJump != nil {
		hops = s.ProxyJump
		if !(len(hops) == 1 && hops[0] == "none") {
			from("jump")
		}
	}
	if len(hops) == 1 && hops[0] == "none" {
		hops = nil
	}
	for i, spec := range hops {
		hop, err := r.resolveHop(spec, h, path)
		if err != nil {
			return t, err
		}
		// As ssh -J: the first hop is reached as ssh would reach it
		// (through its own jump hosts); each later hop through the one
		// before it.
		if i == 0 {
			cfg.Jump = append(cfg.Jump, hop.cfg.Jump...)
		}
		hc := hop.cfg
		hc.Jump = nil
		cfg.Jump = append(cfg.Jump, hc)
	}
	if len(cfg.Jump) > maxJumpDepth {
		return t, fmt.Errorf("host %s: more than %d jump hosts", h.Name, maxJumpDepth)
	}
	t.cfg = cfg
	return t, nil
}

// resolveHop resolves one hop of the jump chain of from: an inventory host
// with its own settings, or "[user@]host[:port]" looked up in from's
// ssh_config file, with from's identity_file and known_hosts_file.
func (r *sshResolver) resolveHop(spec string, from *inventory.Host, path []string) (sshTarget, error) {
	if h := r.byName[spec]; h != nil {
		if h.Connection != "ssh" {
			return sshTarget{}, fmt.Errorf("jump host %s: its connection is %q, not ssh", spec, h.Connection)
		}
		t, err := r.resolveHost(h, path)
		if err != nil {
			return t, fmt.Errorf("jump host %s: %w", spec, err)
		}
		return t, nil
	}
	hop, err := inventory.ParseJump(spec)
	if err != nil {
		return sshTarget{}, fmt.Errorf("host %s: %w", from.Name, err)
	}
	pseudo := &inventory.Host{
		Name: hop.Host, Address: hop.Host, Port: hop.Port, User: hop.User, Connection: "ssh",
		SSHConfigFile: from.SSHConfigFile, IdentityFile: from.IdentityFile, KnownHostsFile: from.KnownHostsFile,
		SettingRanges: map[string]hcl.Range{},
	}
	if hop.Port != 0 {
		pseudo.SettingRanges["port"] = hcl.Range{}
	}
	if r, ok := from.SettingRanges["identity_file"]; ok {
		pseudo.SettingRanges["identity_file"] = r
	}
	t, err := r.resolveHost(pseudo, path)
	if err != nil {
		return t, fmt.Errorf("jump host %s: %w", spec, err)
	}
	return t, nil
}
