package executor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// authSigners collects the keys tend offers: the ssh-agent's first, then
// the identity files'. notes says which identity files were skipped and
// why, for the error message when authentication fails.
type authSigners struct {
	signers []ssh.Signer
	notes   []string
	agent   io.Closer
}

func (a *authSigners) close() {
	if a.agent != nil {
		a.agent.Close()
	}
}

// defaultIdentityFiles are tried, when they exist, if none is configured.
var defaultIdentityFiles = []string{"id_ed25519", "id_ecdsa", "id_rsa"}

// loadSigners gathers the agent's keys and the identity files' keys.
func loadSigners(cfg *SSHConfig) (*authSigners, error) {
	a := &authSigners{}
	sock := cfg.AgentSocket
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	var agentKeys [][]byte
	var agentSigners []ssh.Signer
	if sock != "" && sock != "none" {
		conn, err := net.DialTimeout("unix", sock, 5*time.Second)
		if err != nil {
			a.notes = append(a.notes, fmt.Sprintf("ssh-agent at %s: %v", sock, err))
		} else {
			ag := agent.NewClient(conn)
			signers, err := ag.Signers()
			if err != nil {
				conn.Close()
				a.notes = append(a.notes, fmt.Sprintf("ssh-agent at %s: %v", sock, err))
			} else {
				a.agent = conn
				if !cfg.IdentitiesOnly {
					a.signers = append(a.signers, signers...)
				}
				agentSigners = signers
				for _, s := range signers {
					agentKeys = append(agentKeys, s.PublicKey().Marshal())
				}
			}
		}
	}

	files := cfg.IdentityFiles
	explicit := len(files) > 0
	if !explicit {
		home, err := os.UserHomeDir()
		if err == nil {
			for _, name := range defaultIdentityFiles {
				p := filepath.Join(home, ".ssh", name)
				if _, err := os.Stat(p); err == nil {
					files = append(files, p)
				}
			}
		}
	}
	// inAgentAt is the agent's signer for the last key inAgent found.
	inAgentAt := -1
	inAgent := func(pub ssh.PublicKey) bool {
		if pub == nil {
			return false
		}
		for i, k := range agentKeys {
			if bytes.Equal(k, pub.Marshal()) {
				inAgentAt = i
				return true
			}
		}
		return false
	}
	for _, file := range files {
		var signer ssh.Signer
		var err error
		if cfg.Identities != nil {
			signer, err = cfg.Identities.load(file, cfg.PassphrasePrompt, inAgent)
		} else {
			signer, err = loadIdentityFile(file, cfg.PassphrasePrompt, inAgent)
		}
		if errors.Is(err, errKeyInAgent) {
			if cfg.IdentitiesOnly && inAgentAt >= 0 {
				// Only this file's key is offered: the agent signs.
				a.signers = append(a.signers, agentSigners[inAgentAt])
			}
			continue
		}
		if err != nil {
			var encrypted *encryptedKeyError
			if explicit && !errors.As(err, &encrypted) {
				a.close()
				return nil, err
			}
			a.notes = append(a.notes, err.Error())
			continue
		}
		a.signers = append(a.signers, signer)
	}
	if len(a.signers) == 0 {
		a.close()
		if len(a.notes) > 0 {
			return nil, errors.New(strings.Join(a.notes, "; ") + "; no other key to authenticate with")
		}
		msg := "no key to authenticate with: no ssh-agent keys (SSH_AUTH_SOCK) and no identity file"
		if !explicit {
			msg += " (none of ~/.ssh/id_ed25519, id_ecdsa, id_rsa exists)"
		}
		return nil, errors.New(msg)
	}
	return a, nil
}

// errKeyInAgent says an encrypted identity file need not be decrypted: the
// agent holds its key.
var errKeyInAgent = errors.New("key is in the agent")

// encryptedKeyError is an encrypted identity file that could not be used.
type encryptedKeyError struct{ file string }

func (e *encryptedKeyError) Error() string {
	return fmt.Sprintf("identity file %s is encrypted; load it into ssh-agent (ssh-add %s) or run tend from a terminal so it can ask for the passphrase", e.file, e.file)
}

// loadIdentityFile parses a private key file, asking for its passphrase
// with prompt when it is encrypted (and not already in the agent).
func loadIdentityFile(file string, prompt func(string) ([]byte, error), inAgent func(ssh.PublicKey) bool) (ssh.Signer, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err == nil {
		return signer, nil
	}
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		if pub, ok := publicIdentity(pem); ok {
			return nil, agentIdentity(file, pub, inAgent)
		}
		return nil, fmt.Errorf("identity file %s: %w", file, err)
	}
	return decryptIdentity(file, pem, missing.PublicKey, prompt, inAgent)
}

// publicIdentity reads an identity file that holds a public key (a .pub,
// as OpenSSH allows for a key that lives in the agent or on a token).
func publicIdentity(data []byte) (ssh.PublicKey, bool) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	return pub, err == nil
}

// agentIdentity is what a public-key identity file comes to: the agent's
// key when the agent holds it (errKeyInAgent), otherwise an error saying so.
func agentIdentity(file string, pub ssh.PublicKey, inAgent func(ssh.PublicKey) bool) error {
	if inAgent(pub) {
		return errKeyInAgent
	}
	return fmt.Errorf("identity file %s is a public key (%s), and the ssh-agent does not hold its private key; load the key into the agent, or name the private key", file, ssh.FingerprintSHA256(pub))
}

// decryptIdentity decrypts the encrypted key pem of file with the
// passphrase prompt gives, unless the agent holds its public key pub
// (errKeyInAgent) or there is no prompt (*encryptedKeyError).
func decryptIdentity(file string, pem []byte, pub ssh.PublicKey, prompt func(string) ([]byte, error), inAgent func(ssh.PublicKey) bool) (ssh.Signer, error) {
	if inAgent(pub) {
		return nil, errKeyInAgent
	}
	if prompt == nil {
		return nil, &encryptedKeyError{file}
	}
	pass, err := prompt(file)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: passphrase: %w", file, err)
	}
	signer, err := ssh.ParsePrivateKeyWithPassphrase(pem, pass)
	for i := range pass {
		pass[i] = 0
	}
	if err != nil {
		return nil, fmt.Errorf("identity file %s: wrong passphrase or unreadable key: %w", file, err)
	}
	return signer, nil
}
