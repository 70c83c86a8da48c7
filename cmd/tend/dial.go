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
//
// The SSH settings come from ssh (the inventory over ssh_config, and the
// jump hosts); the connections to jump hosts are shared by all the hosts
// behind them for the run (executor.JumpPool), each closed with the last
// connection through it.
func (g *globalFlags) dialer(cmd *cobra.Command, hosts []*inventory.Host, becoming map[string]bool, ssh *sshResolver) (run.Dialer, error) {
	if ssh == nil {
		ssh = newSSHResolver(nil)
	}
	targets := map[string]executor.SSHConfig{}
	for _, h := range hosts {
		if h.Connection != "ssh" {
			continue
		}
		t, err := ssh.resolve(h)
		if err != nil {
			return nil, exitWith(ExitInvalid, "host %s: %v; no host was contacted", h.Name, err)
		}
		targets[h.Name] = t.cfg
	}
	jumps := executor.NewJumpPool()
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
	passphrases := &passphrasePrompt{}
	identities := executor.NewIdentities()
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
		cfg, ok := targets[h.Name]
		if !ok {
			return nil, fmt.Errorf("host %s: no SSH settings resolved for it (a bug in tend)", h.Name)
		}
		cfg.AcceptNewHostKeys = accept
		cfg.Become, cfg.BecomeUser, cfg.BecomePassword = become, h.BecomeUser, passwords[h.Name]
		cfg.CommandTimeout = cmdTimeout
		cfg.StateDir = h.StateDir
		cfg.PassphrasePrompt = passphrases.get
		cfg.Identities = identities
		cfg.Jumps = jumps
		if len(cfg.Jump) > 0 {
			cfg.Jump = append([]executor.SSHConfig(nil), cfg.Jump...)
			for i := range cfg.Jump {
				cfg.Jump[i].AcceptNewHostKeys = accept
				cfg.Jump[i].PassphrasePrompt = passphrases.get
				cfg.Jump[i].Identities = identities
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

// passphrasePrompt asks for an encrypted identity file's passphrase on the
// terminal, one prompt at a time. It keeps nothing: the run's
// executor.Identities asks once per file and keeps the decrypted key, not
// the passphrase. Without a terminal it fails, and the connection error
// says to use ssh-agent.
type passphrasePrompt struct {
	mu sync.Mutex
}

func (p *passphrasePrompt) get(file string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
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
	return pw, nil
}
