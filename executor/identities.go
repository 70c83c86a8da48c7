package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Identities holds the identity files of a run, each read, parsed and —
// when it is encrypted — decrypted once, however many connections use it.
// Without it every connection reads and parses its files again (for an
// encrypted key, a bcrypt key derivation each time: tens of milliseconds a
// host). A decrypted key stays in the process's memory until the run ends,
// as it would in ssh-agent; its passphrase is not kept.
//
// A failure is kept too: a file that is missing, unreadable or holds no
// key, or whose passphrase was wrong, fails every connection of the run
// the same way and is never asked for again. But a connection whose agent
// holds the key of an encrypted file uses the agent's, as without
// Identities. The zero value is not usable; use NewIdentities.
type Identities struct {
	mu    sync.Mutex
	files map[string]*identity
}

// NewIdentities returns an empty set of identity files for one run.
func NewIdentities() *Identities {
	return &Identities{files: map[string]*identity{}}
}

// identity is one identity file as read.
type identity struct {
	mu     sync.Mutex
	read   bool
	signer ssh.Signer // a key that needed no passphrase, or decrypted
	err    error      // reading, parsing or decrypting failed
	// An encrypted key not decrypted yet: its file and public key.
	pem []byte
	pub ssh.PublicKey
	// public: the file holds only a public key (pub), whose private key
	// is the agent's.
	public bool
}

// load returns the signer of file as loadIdentityFile does, from what the
// run has read of it so far.
func (ids *Identities) load(file string, prompt func(string) ([]byte, error), inAgent func(ssh.PublicKey) bool) (ssh.Signer, error) {
	ids.mu.Lock()
	id := ids.files[file]
	if id == nil {
		id = &identity{}
		ids.files[file] = id
	}
	ids.mu.Unlock()

	// One connection at a time reads, parses or asks for a passphrase;
	// the others wait for its result.
	id.mu.Lock()
	defer id.mu.Unlock()
	if !id.read {
		if err := id.readFile(file); err != nil {
			return nil, err
		}
	}
	// An encrypted key the agent holds is the agent's, as loadIdentityFile
	// says, whatever another connection (whose agent lacked it, or could
	// not be reached) made of the file.
	if id.pub != nil && inAgent(id.pub) {
		return nil, errKeyInAgent
	}
	if id.public {
		return nil, agentIdentity(file, id.pub, inAgent)
	}
	if id.signer != nil || id.err != nil {
		return id.signer, id.err
	}
	// Encrypted: whether the agent holds the key, and the prompt, are
	// the connection's.
	signer, err := decryptIdentity(file, id.pem, id.pub, prompt, inAgent)
	var encrypted *encryptedKeyError
	switch {
	case err == nil:
		id.signer, id.pem = signer, nil
	case errors.Is(err, errKeyInAgent), errors.As(err, &encrypted):
		// Nothing asked: another connection may have a prompt.
	default:
		id.err, id.pem = err, nil
	}
	return signer, err
}

// readFile reads and parses file into id. A failure to read it that may
// pass (too many open files while many connections open at once) is
// returned and not kept: the next connection reads the file again. A
// missing or unreadable file, or one that holds no key, is kept.
func (id *identity) readFile(file string) error {
	pem, err := os.ReadFile(file)
	if err != nil {
		err = fmt.Errorf("identity file: %w", err)
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
			return err
		}
		id.read, id.err = true, err
		return nil
	}
	id.read = true
	if id.signer, err = ssh.ParsePrivateKey(pem); err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			id.pem, id.pub = pem, missing.PublicKey
		} else if pub, ok := publicIdentity(pem); ok {
			id.pub, id.public = pub, true
		} else {
			id.err = fmt.Errorf("identity file %s: %w", file, err)
		}
	}
	return nil
}
