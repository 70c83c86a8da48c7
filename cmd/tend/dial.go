package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/run"
	"github.com/tend-sh/tend/inventory"
)

// dialer returns how the run connects to its hosts. Everything that can be
// wrong with connection settings — a password variable that is not set, a
// prompt without a terminal — is found here, before the first connection.
func (g *globalFlags) dialer(cmd *cobra.Command, inv *inventory.Inventory, hosts []*inventory.Host) (run.Dialer, error) {
	passwords := map[string]func() (string, error){}
	var prompted *string
	for _, h := range hosts {
		if !h.Become {
			continue
		}
		switch {
		case h.BecomePasswordEnv != "":
			name := h.BecomePasswordEnv
			if v, ok := os.LookupEnv(name); !ok || v == "" {
				return nil, exitWith(ExitInvalid, "host %s: become_password_env names %s, which is not set (or empty); no host was contacted", h.Name, name)
			}
			passwords[h.Name] = func() (string, error) { return os.Getenv(name), nil }
		case h.BecomePasswordPrompt:
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
	return func(ctx context.Context, h *inventory.Host) (executor.Conn, error) {
		cmdTimeout := time.Duration(h.CommandTimeout) * time.Second
		if h.Connection == "local" {
			return executor.NewLocal(executor.LocalOptions{
				Host: h.Name, Become: h.Become, BecomeUser: h.BecomeUser,
				BecomePassword: passwords[h.Name], CommandTimeout: cmdTimeout,
			}), nil
		}
		cfg := executor.SSHConfig{
			Host: h.Name, Address: h.Address, Port: h.Port, User: h.User,
			AcceptNewHostKeys: accept,
			Become:            h.Become, BecomeUser: h.BecomeUser, BecomePassword: passwords[h.Name],
			ConnectTimeout: time.Duration(h.ConnectTimeout) * time.Second,
			CommandTimeout: cmdTimeout,
		}
		if h.IdentityFile != "" {
			cfg.IdentityFiles = []string{h.IdentityFile}
		}
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
