package modules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "authorized_key",
		Summary: "One SSH public key in a user's authorized_keys: added, with its options, or removed",
		New:     func() Module { return &AuthorizedKey{} },
		Config:  func() any { return &authorizedKeyConfig{} },
		Doc: `Adds one public key to a user's authorized_keys file (~USER/.ssh/authorized_keys unless path is set), or removes it with state = "absent", without owning the file. A key is its type and base64 blob: when the same key is there with other options or another comment, that line is replaced in place (and later copies of the key are removed); every other line, comments included, is kept byte for byte. With exclusive = true only this task's key stays in the file: exclusive is per task (as in Ansible), so two exclusive tasks on one file fight each other — give one task the key that must be alone.

A missing ~/.ssh is created (mode 0700) and a missing file (mode 0600), both owned by the user. The plan shows the unified diff of the file.

The user's home and ~/.ssh belong to the user, who could point them elsewhere: tend reads the file as the user (as sshd does), refuses a ~/.ssh or authorized_keys that is a symbolic link, creates ~/.ssh as the user, and writes the file as the user (the write primitive does so in a directory of the file's owner), so nothing is read or written as root through a path the user controls.`,
		Example: `authorized_key "deploy-ci" {
  user    = "deploy"
  key     = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBrPuGMGr6/4CIA2gU4U1HvXbDBxzXBSxCP5V5VETnHC ci@example"
  options = "from=\"10.0.0.0/8\",no-pty"
}
`,
	})
}

var _ Module = (*AuthorizedKey)(nil)

// AuthorizedKey manages one key in one authorized_keys file.
type AuthorizedKey struct {
	user      string
	key       authKey
	path      string // "" means ~user/.ssh/authorized_keys
	absent    bool
	exclusive bool
	write     fileSpec // Validate and Backup only: the rest is per host
}

type authorizedKeyConfig struct {
	User      *string `hcl:"user,optional" required:"true" doc:"The user whose key file is edited; the file is read and written as this user."`
	Key       *string `hcl:"key,optional" required:"true" doc:"The public key, as one authorized_keys line: \"ssh-ed25519 AAAA… comment\"."`
	Options   *string `hcl:"options,optional" doc:"The key's options, comma-separated, such as \"from=\\\"10.0.0.0/8\\\",no-pty\" (they replace options written in key)."`
	Exclusive *bool   `hcl:"exclusive,optional" default:"false" doc:"Remove every other line of the file: only this task's key stays."`
	State     *string `hcl:"state,optional" enum:"present,absent" default:"present" doc:"\"absent\" removes the key (every line of it, whatever its options)."`
	Path      *string `hcl:"path,optional" sensitive:"path" doc:"The authorized_keys file, when it is not ~USER/.ssh/authorized_keys; its directory must exist."`
	Validate  *string `hcl:"validate,optional" doc:"A command that checks the new file before it replaces the old one, \"%s\" standing for the new file's path; a non-zero exit leaves the old file and fails the task."`
	Backup    *bool   `hcl:"backup,optional" doc:"Keep the file being replaced beside it, as PATH.YYYY-MM-DD@HH:MM:SS~ (a hard link: the old file as it was)."`
}

// Decode reads and validates the task.
func (m *AuthorizedKey) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg authorizedKeyConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok || diags.HasErrors() {
		return diags
	}
	if cfg.User != nil {
		if err := validAccountName("user", *cfg.User); err != nil {
			diags = append(diags, errAt(body, "user", "Invalid user", err.Error()+"."))
		}
		m.user = *cfg.User
	}
	if cfg.Key != nil && !dec.unknown["options"] {
		opts := ""
		if cfg.Options != nil {
			opts = *cfg.Options
		}
		k, err := parseAuthKey(*cfg.Key, opts)
		if err != nil {
			attr := "key"
			if cfg.Options != nil && opts != "" {
				if _, kerr := parseAuthKey(*cfg.Key, ""); kerr == nil {
					attr = "options"
				}
			}
			diags = append(diags, errAt(body, attr, "Invalid "+attr, err.Error()+"."))
		}
		m.key = k
	}
	if cfg.Path != nil {
		clean, err := cleanAbsPath(*cfg.Path)
		if err == nil && clean == "/" {
			err = fmt.Errorf("%q is not a file", *cfg.Path)
		}
		if err != nil {
			diags = append(diags, errAt(body, "path", "Invalid path", err.Error()))
		}
		m.path = clean
	}
	m.exclusive = cfg.Exclusive != nil && *cfg.Exclusive
	m.absent = cfg.State != nil && *cfg.State == "absent"
	if m.absent {
		for _, a := range []struct {
			name string
			set  bool
		}{{"exclusive", m.exclusive}, {"validate", cfg.Validate != nil}, {"backup", cfg.Backup != nil}} {
			if dec.given(a.name, a.set) {
				diags = append(diags, errAt(body, a.name, "Attribute for an absent key", fmt.Sprintf("%s has no meaning with state = \"absent\".", a.name)))
			}
		}
	}
	diags = append(diags, m.write.decodeWriteOptions(body, dec, cfg.Validate, cfg.Backup)...)
	return diags
}

// fact is the state this task reads.
func (m *AuthorizedKey) fact() authKeysFact { return authKeysFact{user: m.user, path: m.path} }

// Probes reads the user and the file (as the user).
func (m *AuthorizedKey) Probes() []executor.Probe {
	return []executor.Probe{{Kind: executor.ProbeFact, Fact: m.fact(), Become: true}}
}

// target is the file on this host and what Apply needs to write it.
type authKeysTarget struct {
	info *authKeysInfo
	spec fileSpec
	cur  *executor.FileState
	// mkdir is set when ~/.ssh must be made.
	mkdir bool
}

// resolve works out the file's path and state on this host.
func (m *AuthorizedKey) resolve(t *Target) (*authKeysTarget, error) {
	info, err := factValue[*authKeysInfo](t.State, m.fact())
	if err != nil {
		return nil, err
	}
	if info.NoUser {
		return &authKeysTarget{info: info}, nil
	}
	at := &authKeysTarget{info: info}
	dir := path.Dir(info.Path)
	switch {
	case info.Dir.Type == "symlink":
		return nil, fmt.Errorf("%s is a symbolic link: tend does not follow links in a user's files (they could point its write anywhere); replace it with a directory", dir)
	case !info.Dir.Exists && m.path != "":
		return nil, fmt.Errorf("%s does not exist: tend creates only ~/.ssh; add a directory task for it before this one", dir)
	case !info.Dir.Exists:
		at.mkdir = true
	case info.Dir.Type != "directory":
		return nil, fmt.Errorf("%s is a %s, not a directory", dir, info.Dir.Type)
	}
	switch {
	case info.File.Type == "symlink":
		return nil, fmt.Errorf("%s is a symbolic link: tend does not follow links in a user's files (it could point at any file); replace it with the file itself", info.Path)
	case info.File.Exists && info.File.Type != "file":
		return nil, fmt.Errorf("%s is a %s, not a regular file", info.Path, info.File.Type)
	case info.File.Exists && !info.ContentRead:
		return nil, fmt.Errorf("%s cannot be read as %s (as sshd reads it): %s", info.Path, m.user, info.Unreadable)
	}
	cur := &executor.FileState{Path: info.Path}
	if info.File.Exists {
		sum := sha256.Sum256(info.Content)
		cur.Exists, cur.Type, cur.Mode, cur.Owner, cur.Group = true, "file", info.File.Mode, info.File.Owner, info.File.Group
		cur.Content, cur.Size, cur.SHA256 = info.Content, int64(len(info.Content)), hex.EncodeToString(sum[:])
	}
	at.cur = cur
	at.spec = fileSpec{Path: info.Path, DefaultMode: 0o600, Validate: m.write.Validate, Backup: m.write.Backup}
	if !cur.Exists {
		at.spec.ownership = ownership{Mode: 0o600, HasMode: true, Owner: m.user, Group: info.Group}
	}
	at.spec.Content = editAuthorizedKeys(cur.Content, m.key, m.absent, m.exclusive)
	return at, nil
}

// Check compares the file with the key's wanted state.
func (m *AuthorizedKey) Check(ctx context.Context, t *Target) (*Diff, error) {
	at, err := m.resolve(t)
	if err != nil {
		return nil, err
	}
	d := &Diff{}
	if at.info.NoUser {
		if m.absent {
			return d, nil
		}
		// An earlier task may create the user: what the plan would do then.
		p := m.path
		if p == "" {
			p = "~" + m.user + "/.ssh/authorized_keys"
		}
		d.Add(Change{Attr: "content", Path: p, NewContent: editAuthorizedKeys(nil, m.key, false, false)})
		return nil, &PreflightError{Diff: d, Why: fmt.Sprintf("user %s does not exist on the host", m.user)}
	}
	if m.absent && !at.cur.Exists {
		return d, nil
	}
	if at.cur.Exists && string(at.spec.Content) == string(at.cur.Content) {
		return d, nil
	}
	if at.mkdir {
		d.Add(Change{Attr: "directory", New: path.Dir(at.info.Path) + " (0700, " + m.user + ")"})
	}
	if _, err := at.spec.check(at.cur, d); err != nil {
		return nil, err
	}
	if m.exclusive && at.cur.Exists {
		d.Notes = append(d.Notes, "exclusive: every other line of "+at.info.Path+" is removed")
	}
	return d, nil
}

// Apply makes ~/.ssh when it is missing (as the user) and writes the file
// (as the user, where the directory is the user's).
func (m *AuthorizedKey) Apply(ctx context.Context, t *Target, d *Diff) error {
	at, err := m.resolve(t)
	if err != nil {
		return err
	}
	if at.info.NoUser {
		return fmt.Errorf("user %s does not exist on the host", m.user)
	}
	if d.Change("directory") != nil {
		dir := executor.ShellQuote(path.Dir(at.info.Path))
		uid, gid := strconv.FormatInt(at.info.UID, 10), strconv.FormatInt(at.info.GID, 10)
		// As the user: root never makes an entry in a directory the user
		// can change.
		script := `if [ "$(id -u)" = 0 ] && [ ` + uid + ` != 0 ]; then setpriv --reuid=` + uid + ` --regid=` + gid + ` --init-groups -- mkdir -m 0700 -- ` + dir + `; else mkdir -m 0700 -- ` + dir + `; fi`
		if _, err := runScript(ctx, t, "create "+path.Dir(at.info.Path)+" as "+m.user, script, t.Become); err != nil {
			return err
		}
	}
	return at.spec.apply(ctx, t, at.cur, d)
}
