package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/playbooks"
)

// becomingHosts returns the names of the hosts that use become in at least
// one play of pb that selects them: the inventory's become, unless the play
// sets its own.
func becomingHosts(pb *playbooks.Playbook, inv *inventory.Inventory, hosts []*inventory.Host) map[string]bool {
	out := map[string]bool{}
	for _, play := range pb.Plays {
		selected, err := inv.Select(play.HostPatterns)
		if err != nil {
			continue
		}
		in := map[string]bool{}
		for _, h := range selected {
			in[h.Name] = true
		}
		for _, h := range hosts {
			if !in[h.Name] {
				continue
			}
			if play.Become != nil && *play.Become || play.Become == nil && h.Become {
				out[h.Name] = true
			}
		}
	}
	return out
}

// checkConnections checks the connection settings of the hosts a run works
// on, offline, so that validate, plan and apply refuse the same mistakes
// before any connection: an identity_file must be a readable file, and a
// host that uses become with become_password_env needs that environment
// variable set and not empty. Each problem is a diagnostic at the setting
// in the inventory, marked with its host, so that a setting shared by many
// hosts is reported once, naming them. The SSH settings of each host are
// resolved with ssh (its ssh_config file read and its jump chain built):
// a malformed ssh_config file, one the inventory names that does not exist,
// an unsupported token or a jump cycle is an error here too.
func checkConnections(hosts []*inventory.Host, becoming map[string]bool, ssh *sshResolver) hcl.Diagnostics {
	var diags hcl.Diagnostics
	add := func(h *inventory.Host, attr, summary, detail string) {
		rng := h.Range
		if r, ok := h.SettingRanges[attr]; ok {
			rng = r
		}
		diags = append(diags, playbooks.WithHost(&hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng,
		}, h.Name))
	}
	keyProblems := map[string]error{}
	for _, h := range hosts {
		if h.Connection == "ssh" && ssh != nil {
			if _, err := ssh.resolve(h); err != nil {
				attr := "ssh_config"
				if _, ok := h.SettingRanges[attr]; !ok || strings.Contains(err.Error(), "jump") {
					attr = "jump"
				}
				add(h, attr, "Unusable SSH settings", fmt.Sprintf(
					"%v. tend could not connect to this host as ssh would; fix the ssh_config file or the inventory's ssh_config and jump settings.", err))
			}
		}
		if h.Connection != "local" && h.IdentityFile != "" {
			err, seen := keyProblems[h.IdentityFile]
			if !seen {
				// Each file once: a fleet shares a few keys.
				if err = readableFile(h.IdentityFile); err == nil {
					err = privateKeyProblem(h.IdentityFile)
				}
				keyProblems[h.IdentityFile] = err
			}
			if err != nil {
				add(h, "identity_file", "Unusable identity file", fmt.Sprintf(
					"identity_file: %v. tend would fail to log in with it; fix the path, or remove identity_file to use the keys of ssh-agent and ~/.ssh.", err))
			}
		}
		if becoming[h.Name] && h.BecomePasswordEnv != "" {
			if v, ok := os.LookupEnv(h.BecomePasswordEnv); !ok || v == "" {
				add(h, "become_password_env", "Sudo password variable not set", fmt.Sprintf(
					"become_password_env names %s, which is not set (or is empty) in tend's environment. Set it to the sudo password, or use become_password_prompt.", h.BecomePasswordEnv))
			}
		}
	}
	return diags
}

// readableFile says why p is not a regular file tend can read.
func readableFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%s does not exist", p)
		}
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	return nil
}

// privateKeyProblem says why the readable file p holds no private key the
// SSH login could use, parsed as the login parses it (an encrypted key is
// fine: its passphrase is asked for when connecting), or returns nil.
func privateKeyProblem(p string) error {
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if pub, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
		// As with OpenSSH, a public key stands for the agent's key (one
		// that lives on a token, or in a password manager's agent).
		if agentHolds(pub) {
			return nil
		}
		hint := ""
		if priv := strings.TrimSuffix(p, ".pub"); priv != p {
			hint = fmt.Sprintf(" (probably %s)", priv)
		}
		return fmt.Errorf("%s is a public key, and the ssh-agent (SSH_AUTH_SOCK) does not hold its private key; identity_file names the private key%s, or a public key whose private key the agent holds", p, hint)
	}
	_, err = ssh.ParsePrivateKey(data)
	var encrypted *ssh.PassphraseMissingError
	if err == nil || errors.As(err, &encrypted) {
		return nil
	}
	return fmt.Errorf("%s holds no private key: %v", p, err)
}

// agentHolds reports whether the ssh-agent of SSH_AUTH_SOCK holds the
// private key of pub. The agent is local: asking it contacts no host.
func agentHolds(pub ssh.PublicKey) bool {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return false
	}
	conn, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	keys, err := agent.NewClient(conn).List()
	if err != nil {
		return false
	}
	want := pub.Marshal()
	for _, k := range keys {
		if bytes.Equal(k.Marshal(), want) {
			return true
		}
	}
	return false
}
