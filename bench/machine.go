package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// This file reads what the report says about the hosts and the tools'
// settings from the fleet and the configuration files, so that the text
// states what was measured rather than what was expected.

// hostOS is the first host's PRETTY_NAME, or "".
func hostOS(ctx context.Context, s *Setup) string {
	if len(s.Fleet.Hosts) == 0 {
		return ""
	}
	out, err := s.Fleet.Hosts[0].SSH(ctx, "root", `. /etc/os-release && printf '%s' "$PRETTY_NAME"`)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// opensshKex is the key exchange plain ssh with its defaults (the ToolRef
// options) negotiates with the first host, from its debug output, or "".
func opensshKex(ctx context.Context, s *Setup) string {
	if len(s.Fleet.Hosts) == 0 {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	args := append(referenceArgs(s, ToolRef), "-v", "-n", "-l", s.User, s.Fleet.Hosts[0].Address, "--", "true")
	out, _ := exec.CommandContext(ctx, "/usr/bin/ssh", args...).CombinedOutput()
	return kexFromDebug(string(out))
}

// kexFromDebug finds "kex: algorithm: NAME" in ssh -v output.
func kexFromDebug(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if _, v, ok := strings.Cut(l, "kex: algorithm: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// errGotKex ends libraryKex's handshake once the algorithms are known.
var errGotKex = errors.New("key exchange negotiated")

// libraryKex is the key exchange golang.org/x/crypto/ssh negotiates with
// the first host when, like tend, it leaves the algorithms at the library's
// defaults, or "". It stops before authenticating.
func libraryKex(ctx context.Context, s *Setup) string {
	if len(s.Fleet.Hosts) == 0 {
		return ""
	}
	hostKeys, err := knownhosts.New(s.Fleet.KnownHosts)
	if err != nil {
		return ""
	}
	var kex string
	cfg := &ssh.ClientConfig{
		User:            s.User,
		HostKeyCallback: hostKeys,
		Timeout:         10 * time.Second,
		AuthCallback: func(c *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			kex = c.Algorithms.KeyExchange
			return nil, errGotKex
		},
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(s.Fleet.Hosts[0].Address, "22"))
	if err != nil {
		return ""
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if c, _, _, err := ssh.NewClientConn(conn, s.Fleet.Hosts[0].Address, cfg); err == nil {
		c.Close()
	}
	return kex
}

// iniValue returns key's value in [section] of an INI file such as
// ansible.cfg, or "".
func iniValue(text, section, key string) string {
	in := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			in = l[1:len(l)-1] == section
			continue
		}
		if k, v, ok := strings.Cut(l, "="); in && ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// yamlPlayValue returns the value of a play-level key ("  key: value") of
// a one-play Ansible playbook, or "".
func yamlPlayValue(text, key string) string {
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "- ") {
			t = strings.TrimSpace(t[2:])
		}
		if k, v, ok := strings.Cut(t, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
