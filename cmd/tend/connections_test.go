package main

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/tend-sh/tend/executor/sshtest"
)

// TestIdentityFileHoldsAPrivateKey: validate refuses, offline, an
// identity_file that the login could not use: a public key (the .pub next
// to the key) or a file that holds no key; a private key, encrypted or
// not, is fine.
func TestIdentityFileHoldsAPrivateKey(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	dir := t.TempDir()
	signer, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"id_ed25519":     pem.EncodeToMemory(plain),
		"id_encrypted":   pem.EncodeToMemory(encrypted),
		"id_ed25519.pub": ssh.MarshalAuthorizedKey(signer.PublicKey()),
		"notes.txt":      []byte("the deploy key is in the vault\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{
		"id_ed25519":     "",
		"id_encrypted":   "",
		"id_ed25519.pub": "id_ed25519.pub is a public key, and the ssh-agent (SSH_AUTH_SOCK) does not hold its private key; identity_file names the private key (probably " + filepath.Join(dir, "id_ed25519") + ")",
		"notes.txt":      "notes.txt holds no private key",
	} {
		err := privateKeyProblem(filepath.Join(dir, name))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}

	pb := writeTestFile(t, filepath.Join(dir, "site.hcl"), "play \"p\" {\n  hosts = [\"all\"]\n  file \"/tmp/x\" { content = \"x\" }\n}\n")
	inv := writeTestFile(t, filepath.Join(dir, "inv.hcl"), "defaults {\n  identity_file = \""+filepath.Join(dir, "id_ed25519.pub")+"\"\n}\nhost \"a\" {}\n")
	r := tend(t, "validate", pb, "-i", inv, "--no-color")
	r.want(t, ExitInvalid)
	if !strings.Contains(r.stderr, "inv.hcl:2:19: error: Unusable identity file") || !strings.Contains(r.stderr, "is a public key") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// TestIdentityFilePublicKeyInAgent: as with OpenSSH, identity_file may
// name a public key whose private key the ssh-agent holds (a key on a
// token, or in a password manager's agent); validate accepts it then.
func TestIdentityFilePublicKeyInAgent(t *testing.T) {
	dir := t.TempDir()
	signer, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	pub := writeTestFile(t, filepath.Join(dir, "token.pub"), string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	keyring := agent.NewKeyring()
	sock := sshtest.ServeAgent(t, keyring)
	t.Setenv("SSH_AUTH_SOCK", sock)
	if err := privateKeyProblem(pub); err == nil || !strings.Contains(err.Error(), "does not hold its private key") {
		t.Fatalf("the agent holds no key yet: %v", err)
	}
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	if err := privateKeyProblem(pub); err != nil {
		t.Fatalf("the agent holds the key: %v", err)
	}
}
