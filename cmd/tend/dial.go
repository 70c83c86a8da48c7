package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/run"
	"github.com/tend-sh/tend/inventory"
)

// dialer returns how the run connects to its hosts; becoming names the
// hosts that use become in some play. The connection settings that can be
// checked offline (identity files, password variables) were checked by
// prepare (checkConnections); what needs the terminal — the password
// prompt — is done here, before the first connection.
func (g *globalFlags) dialer(cmd *cobra.Command, hosts []*inventory.Host, becoming map[string]bool) (run.Dialer, error) {
	passwords := map[string]func() (string, error){}
	var prompted *string
	for _, h := range hosts {
		switch {
		case h.BecomePasswordEnv != "":
			// Also for hosts that become only in a task (command's
			// become): sudo asks for the password only when it needs it.
			name := h.BecomePasswordEnv
			passwords[h.Name] = func() (string, error) {
				if v := os.Getenv(name); v != "" {
					return v, nil
				}
				return "", fmt.Errorf("become_password_env names %s, which is not set (or empty)", name)
			}
		case h.BecomePasswordPrompt && becoming[h.Name]:
			if prompted == nil {
				pw, err := promptPassword(cmd)
				if err != nil {
					return nil, exitWith(ExitInvalid, "host %s: become_password_prompt: %v; no host was contacted", h.Name, err)
				}
				prompted = &pw
			}
			pw := prompted
			passwords[h.Name] = func() (string, error) { return *pw, nil }
		}
	}
	accept := g.acceptNewHostKeys
	passphrases := &passphraseCache{}
	return func(ctx context.Context, h *inventory.Host) (executor.Conn, error) {
		cmdTimeout := time.Duration(h.CommandTimeout) * time.Second
		// A play may become on a host whose inventory does not: the
		// connection must allow it (each command still asks for it).
		become := h.Become || becoming[h.Name]
		if h.Connection == "local" {
			return executor.NewLocal(executor.LocalOptions{
				Host: h.Name, Become: become, BecomeUser: h.BecomeUser,
				BecomePassword: passwords[h.Name], CommandTimeout: cmdTimeout,
				StateDir: h.StateDir,
			}), nil
		}
		cfg := executor.SSHConfig{
			Host: h.Name, Address: h.Address, Port: h.Port, User: h.User,
			AcceptNewHostKeys: accept,
			Become:            become, BecomeUser: h.BecomeUser, BecomePassword: passwords[h.Name],
			ConnectTimeout:  time.Duration(h.ConnectTimeout) * time.Second,
			CommandTimeout:  cmdTimeout,
			StateDir:        h.StateDir,
			KeepAliveMisses: h.KeepAliveCount,
		}
		if h.KeepAliveInterval != nil {
			cfg.KeepAlive = time.Duration(*h.KeepAliveInterval) * time.Second
			if *h.KeepAliveInterval == 0 {
				cfg.KeepAlive = -1
			}
		}
		if h.IdentityFile != "" {
			cfg.IdentityFiles = []string{h.IdentityFile}
		}
		cfg.PassphrasePrompt = passphrases.get
		// The inventory's known_hosts file comes first (new keys go there
		// with --accept-new-host-keys); ~/.ssh/known_hosts is consulted too.
		if h.KnownHostsFile != "" {
			cfg.KnownHostsFiles = []string{h.KnownHostsFile}
			if def, err := executor.DefaultKnownHostsFile(); err == nil && def != h.KnownHostsFile {
				cfg.KnownHostsFiles = append(cfg.KnownHostsFiles, def)
			}
		}
		return executor.DialSSH(ctx, cfg)
	}, nil
}

// promptPassword asks for the sudo password on the terminal, once per run.
func promptPassword(cmd *cobra.Command) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("no terminal to ask for the sudo password on")
	}
	defer tty.Close()
	fmt.Fprint(tty, "sudo password: ")
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return "", fmt.Errorf("reading the sudo password: %w", err)
	}
	return string(pw), nil
}

// passphraseCache asks for each encrypted identity file's passphrase once
// per run, on the terminal, however many hosts use the key. Without a
// terminal it fails, and the connection error says to use ssh-agent.
type passphraseCache struct {
	mu     sync.Mutex
	byFile map[string][]byte
}

func (p *passphraseCache) get(file string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pw, ok := p.byFile[file]; ok {
		return pw, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("identity file %s is encrypted and there is no terminal to ask for its passphrase; add it to ssh-agent", file)
	}
	defer tty.Close()
	fmt.Fprintf(tty, "passphrase for %s: ", file)
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("reading the passphrase of %s: %w", file, err)
	}
	if p.byFile == nil {
		p.byFile = map[string][]byte{}
	}
	p.byFile[file] = pw
	return pw, nil
}
