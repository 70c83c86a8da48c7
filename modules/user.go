package modules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "user",
		Summary: "A local user account: uid, groups, home, shell, comment, password hash; or its absence",
		New:     func() Module { return &User{} },
		Config:  func() any { return &userConfig{} },
		Doc: `Manages one local user account, named by the task's label, with useradd, usermod and userdel (run as root: set become when the login is not root). Only the attributes written are managed; the others are left as they are.

A missing account is created: with the primary group when group is set, otherwise with the group of the user's name when one exists, otherwise with a new group of that name (useradd -U); with a home directory copied from /etc/skel unless create_home = false. groups sets exactly these supplementary groups (the others are removed; groups = [] removes all), or, with append = true, adds those missing and removes none (as in Ansible). A changed home only changes the account's entry: files are not moved. system only matters when the account is created.

password_hash is the crypt(3) hash (mkpasswd -m yescrypt, openssl passwd -6), never a clear-text password. It is a secret: the host's hash is compared on the host (tend reads only a salted digest of it), the new one goes to chpasswd -e on its standard input, and plans only say "(sensitive value changed)".

With state = "absent" the account is deleted (userdel); remove = true also deletes its home directory and mail spool (userdel -r).

A revert of a failed host deletes an account the run created (and its home only when the run created that directory), and changes a modified account back to what it was; a deleted account, or a changed password, stays done.`,
		Example: `user "deploy" {
  uid    = 1500
  group  = "deploy"
  groups = ["sudo", "docker"]
  shell  = "/bin/bash"
  home   = "/home/deploy"
}
`,
	})
}

var _ Module = (*User)(nil)
var _ Undoer = (*User)(nil)

// User manages one local user account.
type User struct {
	name       string
	uid        *int64
	group      string
	groups     []string
	hasGroups  bool
	append     bool
	home       string
	createHome bool
	shell      string
	hasShell   bool
	comment    string
	hasComment bool
	system     bool
	// password is the wanted crypt hash: a secret, kept out of every
	// script, message and diff.
	password string
	absent   bool
	remove   bool
}

type userConfig struct {
	UID          *int64    `hcl:"uid,optional" doc:"The user id; left as it is when not set (a new account gets the next free one). Changing it re-owns the files in the home directory (usermod -u)."`
	Group        *string   `hcl:"group,optional" doc:"The primary group's name; it must exist (a group task before this one can make it)."`
	Groups       *[]string `hcl:"groups,optional" type:"list of string" doc:"Supplementary groups: exactly these (the others are removed), or with append = true, at least these."`
	Append       *bool     `hcl:"append,optional" default:"false" doc:"Add the groups without removing the account's other supplementary groups."`
	Home         *string   `hcl:"home,optional" doc:"The home directory (absolute); a new account gets useradd's default (/home/NAME)."`
	CreateHome   *bool     `hcl:"create_home,optional" default:"true" doc:"Create the home directory (from /etc/skel) when the account is created."`
	Shell        *string   `hcl:"shell,optional" doc:"The login shell (absolute path), such as \"/bin/bash\" or \"/usr/sbin/nologin\"."`
	Comment      *string   `hcl:"comment,optional" doc:"The comment (GECOS) field, such as the user's full name."`
	System       *bool     `hcl:"system,optional" default:"false" doc:"Create a system account (uid from the system range, no aging). Only used when the account is created."`
	PasswordHash *string   `hcl:"password_hash,optional" sensitive:"ok" doc:"The password as a crypt(3) hash (\"$y$…\", \"$6$…\"), or \"!\" or \"*\" for no password login. Never shown; compared on the host."`
	State        *string   `hcl:"state,optional" enum:"present,absent" default:"present" doc:"\"absent\" deletes the account."`
	Remove       *bool     `hcl:"remove,optional" default:"false" doc:"With state = \"absent\": also delete the home directory and mail spool (userdel -r)."`
}

// Decode reads and validates the user task.
func (m *User) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg userConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok || diags.HasErrors() {
		return diags
	}
	written := func(name string) bool {
		_, ok := dec.types[name]
		return ok || dec.unknown[name]
	}
	m.name = label
	if err := validAccountName("user", label); err != nil {
		diags = append(diags, labelErrAt(body, "Invalid user name", err.Error()+"."))
	}
	if cfg.UID != nil {
		if err := validAccountID("uid", *cfg.UID); err != nil {
			diags = append(diags, errAt(body, "uid", "Invalid uid", err.Error()+"."))
		}
		m.uid = cfg.UID
	}
	if cfg.Group != nil {
		if err := validAccountName("group", *cfg.Group); err != nil {
			diags = append(diags, errAt(body, "group", "Invalid group", err.Error()+"."))
		}
		m.group = *cfg.Group
	}
	if cfg.Groups != nil {
		m.hasGroups = true
		seen := map[string]bool{}
		for _, g := range *cfg.Groups {
			if err := validAccountName("group", g); err != nil {
				diags = append(diags, errAt(body, "groups", "Invalid groups", err.Error()+"."))
				continue
			}
			if seen[g] {
				diags = append(diags, errAt(body, "groups", "Invalid groups", fmt.Sprintf("%q is listed twice.", g)))
				continue
			}
			seen[g] = true
			m.groups = append(m.groups, g)
		}
	}
	m.append = cfg.Append != nil && *cfg.Append
	if cfg.Home != nil {
		if err := validAccountPath("home directory", *cfg.Home); err != nil {
			diags = append(diags, errAt(body, "home", "Invalid home", err.Error()+"."))
		} else if *cfg.Home == "/" && label != "root" {
			diags = append(diags, errAt(body, "home", "Invalid home", "tend does not give an account the root directory as its home."))
		}
		m.home = *cfg.Home
	}
	m.createHome = cfg.CreateHome == nil || *cfg.CreateHome
	if cfg.Shell != nil {
		if err := validAccountPath("shell", *cfg.Shell); err != nil {
			diags = append(diags, errAt(body, "shell", "Invalid shell", err.Error()+"."))
		}
		m.shell, m.hasShell = *cfg.Shell, true
	}
	if cfg.Comment != nil {
		if err := validComment(*cfg.Comment); err != nil {
			diags = append(diags, errAt(body, "comment", "Invalid comment", err.Error()+"."))
		}
		m.comment, m.hasComment = *cfg.Comment, true
	}
	m.system = cfg.System != nil && *cfg.System
	if cfg.PasswordHash != nil {
		if err := validPasswordHash(*cfg.PasswordHash); err != nil {
			diags = append(diags, errAt(body, "password_hash", "Invalid password_hash", err.Error()+"."))
		}
		m.password = *cfg.PasswordHash
	}
	m.remove = cfg.Remove != nil && *cfg.Remove
	stateKnown := !dec.unknown["state"]
	m.absent = cfg.State != nil && *cfg.State == "absent"
	if m.absent {
		for _, a := range []string{"uid", "group", "groups", "append", "home", "create_home", "shell", "comment", "system", "password_hash"} {
			if written(a) {
				diags = append(diags, errAt(body, a, "Attribute for an absent user", fmt.Sprintf("%s has no meaning with state = \"absent\".", a)))
			}
		}
	} else if stateKnown && written("remove") && (cfg.Remove == nil || *cfg.Remove) {
		diags = append(diags, errAt(body, "remove", "remove without state = \"absent\"", "remove deletes the home directory of an account being deleted: it needs state = \"absent\"."))
	}
	if written("append") && !written("groups") && !m.absent {
		diags = append(diags, errAt(body, "append", "append without groups", "append says how groups are applied: set groups, or remove append."))
	}
	return diags
}

// Probes reads the account and, for one that may be created, the group of
// its name and its home path (a revert deletes only what the run made).
func (m *User) Probes() []executor.Probe {
	ps := []executor.Probe{{Kind: executor.ProbeFact, Fact: userFact{m.name}, Become: true}}
	if !m.absent {
		ps = append(ps,
			executor.Probe{Kind: executor.ProbeFact, Fact: groupFact{m.name}, Become: true},
			executor.Probe{Kind: executor.ProbeFact, Fact: homeFact{m.name, m.home}, Become: true})
	}
	return ps
}

// formatGroups shows a list of groups as plans print it: [a, b].
func formatGroups(gs []string) string {
	return "[" + strings.Join(gs, ", ") + "]"
}

// wantedGroups are the supplementary groups to set: the declared ones
// without the primary group (an account is always in it).
func (m *User) wantedGroups(primary string) []string {
	var out []string
	for _, g := range m.groups {
		if g != primary {
			out = append(out, g)
		}
	}
	return out
}

// sameSet reports whether a and b hold the same names.
func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// missingGroups returns the groups of want that have is lacking.
func missingGroups(want, have []string) []string {
	var out []string
	for _, g := range want {
		if !slices.Contains(have, g) {
			out = append(out, g)
		}
	}
	return out
}

// passwordChange is the change of a password hash to hash: never its
// value. Its Digest (never shown; a saved plan's keyed fingerprint covers
// it) identifies the hash, so that a saved plan applies only the hash it
// was planned with (a password_hash read with file() is not among the
// plan's sources).
func passwordChange(hash string) Change {
	sum := sha256.Sum256([]byte("password_hash:" + hash))
	return Change{Attr: "password_hash", New: "(sensitive value changed)", Digest: "sha256:" + hex.EncodeToString(sum[:])}
}

// Check compares the account with the host's.
func (m *User) Check(ctx context.Context, t *Target) (*Diff, error) {
	cur, err := factValue[*userInfo](t.State, userFact{m.name})
	if err != nil {
		return nil, err
	}
	d := &Diff{}
	switch {
	case m.absent:
		if cur.Exists {
			d.Add(Change{Attr: "exists", Old: "present", New: "absent"})
			if m.remove {
				d.Notes = append(d.Notes, fmt.Sprintf("userdel -r also deletes the home directory %s and the mail spool", cur.Home))
			}
		}
	case !cur.Exists:
		if err := m.checkNew(t, d); err != nil {
			return nil, err
		}
	default:
		if err := m.checkExisting(cur, d); err != nil {
			return nil, err
		}
	}
	if !d.Empty() {
		d.Beyond = true
		if err := needRoot(t, "user "+m.name); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// checkNew lists what a new account gets.
func (m *User) checkNew(t *Target, d *Diff) error {
	home, err := factValue[*homeInfo](t.State, homeFact{m.name, m.home})
	if err != nil {
		return err
	}
	d.Add(Change{Attr: "exists", Old: "absent", New: "present"})
	if m.uid != nil {
		d.Add(Change{Attr: "uid", New: strconv.FormatInt(*m.uid, 10)})
	}
	primary := m.group
	if m.group != "" {
		d.Add(Change{Attr: "group", New: m.group})
	} else {
		primary = m.name
	}
	if m.hasGroups {
		d.Add(Change{Attr: "groups", New: formatGroups(m.wantedGroups(primary))})
	}
	d.Add(Change{Attr: "home", New: home.Path})
	if m.createHome && home.Exists {
		d.Notes = append(d.Notes, fmt.Sprintf("%s exists already: it becomes the home as it is (nothing is copied from /etc/skel)", home.Path))
	}
	if m.hasShell {
		d.Add(Change{Attr: "shell", New: m.shell})
	}
	if m.hasComment {
		d.Add(Change{Attr: "comment", New: m.comment})
	}
	if m.system {
		d.Add(Change{Attr: "system", New: "true"})
	}
	if m.password != "" {
		d.Add(passwordChange(m.password))
	}
	return nil
}

// checkExisting lists what differs on an existing account.
func (m *User) checkExisting(cur *userInfo, d *Diff) error {
	if m.uid != nil && cur.UID != *m.uid {
		d.Add(Change{Attr: "uid", Old: strconv.FormatInt(cur.UID, 10), New: strconv.FormatInt(*m.uid, 10)})
	}
	primary := cur.Primary
	if m.group != "" && cur.Primary != m.group {
		d.Add(Change{Attr: "group", Old: cur.Primary, New: m.group})
		primary = m.group
	}
	if m.hasGroups {
		want := m.wantedGroups(primary)
		have := cur.Groups
		if primary != cur.Primary {
			// The new primary group stops counting as supplementary.
			have = slices.DeleteFunc(slices.Clone(have), func(g string) bool { return g == primary })
		}
		if m.append {
			if miss := missingGroups(want, have); len(miss) > 0 {
				d.Add(Change{Attr: "groups", Old: formatGroups(cur.Groups), New: formatGroups(append(slices.Clone(have), miss...))})
			}
		} else if !sameSet(want, have) {
			d.Add(Change{Attr: "groups", Old: formatGroups(cur.Groups), New: formatGroups(want)})
		}
	}
	if m.home != "" && cur.Home != m.home {
		d.Add(Change{Attr: "home", Old: cur.Home, New: m.home})
		d.Notes = append(d.Notes, fmt.Sprintf("the files in %s are not moved to %s", cur.Home, m.home))
	}
	if m.hasShell && cur.Shell != m.shell {
		d.Add(Change{Attr: "shell", Old: cur.Shell, New: m.shell})
	}
	if m.hasComment && cur.Comment != m.comment {
		d.Add(Change{Attr: "comment", Old: orQuoted(cur.Comment), New: orQuoted(m.comment)})
	}
	if m.password != "" {
		if !cur.ShadowRead {
			return fmt.Errorf("user %s: the password hash cannot be compared: the shadow entry is readable only by root (set become = true)", m.name)
		}
		if cur.Shadow != shadowDigest(m.password) {
			d.Add(passwordChange(m.password))
		}
	}
	return nil
}

// orQuoted shows an empty comment as "" rather than as absent.
func orQuoted(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// Apply creates, changes or deletes the account as d says.
func (m *User) Apply(ctx context.Context, t *Target, d *Diff) error {
	cur, err := factValue[*userInfo](t.State, userFact{m.name})
	if err != nil {
		return err
	}
	var script string
	switch c := d.Change("exists"); {
	case c != nil && c.New == "absent":
		script = "userdel"
		if m.remove {
			script += " -r"
		}
		script += " -- " + executor.ShellQuote(m.name) + " </dev/null"
	case c != nil:
		home, err := factValue[*homeInfo](t.State, homeFact{m.name, m.home})
		if err != nil {
			return err
		}
		script = m.useradd(home.Path)
	default:
		script = m.usermod(cur, d)
	}
	cmd := executor.Command{Script: script, Become: t.Become}
	if d.Change("password_hash") != nil {
		// The hash goes to chpasswd on its standard input: never in a
		// command's arguments.
		if script != "" {
			cmd.Script += " &&\n"
		}
		cmd.Script += "chpasswd -e"
		cmd.Input = []byte(m.name + ":" + m.password + "\n")
	}
	if cmd.Script == "" {
		return nil
	}
	res, err := t.Conn.Run(ctx, cmd)
	if err != nil {
		return fmt.Errorf("user %s: %w", m.name, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("user %s: exit status %d%s", m.name, res.ExitCode, outputTail(res))
	}
	return nil
}

// useradd is the command that creates the account, with home as its home.
func (m *User) useradd(home string) string {
	q := executor.ShellQuote
	var args []string
	if m.uid != nil {
		args = append(args, "-u", strconv.FormatInt(*m.uid, 10))
	}
	if m.hasGroups {
		primary := m.group
		if primary == "" {
			primary = m.name
		}
		if want := m.wantedGroups(primary); len(want) > 0 {
			args = append(args, "-G", q(strings.Join(want, ",")))
		}
	}
	args = append(args, "-d", q(home))
	if m.createHome {
		args = append(args, "-m")
	} else {
		args = append(args, "-M")
	}
	if m.hasShell {
		args = append(args, "-s", q(m.shell))
	}
	if m.hasComment {
		args = append(args, "-c", q(m.comment))
	}
	if m.system {
		args = append(args, "-r")
	}
	rest := strings.Join(args, " ") + " -- " + q(m.name) + " </dev/null"
	if m.group != "" {
		return "useradd -g " + q(m.group) + " " + rest
	}
	// The group of the user's name, or a new one of that name.
	return "if getent group -- " + q(m.name) + " >/dev/null; then useradd -g " + q(m.name) + " " + rest + "; else useradd -U " + rest + "; fi"
}

// usermod is the command that makes d's changes to the existing account
// (cur), or "" when only the password changes.
func (m *User) usermod(cur *userInfo, d *Diff) string {
	q := executor.ShellQuote
	var args []string
	if d.Change("uid") != nil {
		args = append(args, "-u", strconv.FormatInt(*m.uid, 10))
	}
	primary := cur.Primary
	if d.Change("group") != nil {
		args = append(args, "-g", q(m.group))
		primary = m.group
	}
	if d.Change("groups") != nil {
		want := m.wantedGroups(primary)
		if m.append {
			args = append(args, "-a", "-G", q(strings.Join(missingGroups(want, cur.Groups), ",")))
		} else {
			args = append(args, "-G", q(strings.Join(want, ",")))
		}
	}
	if d.Change("home") != nil {
		args = append(args, "-d", q(m.home))
	}
	if d.Change("shell") != nil {
		args = append(args, "-s", q(m.shell))
	}
	if d.Change("comment") != nil {
		args = append(args, "-c", q(m.comment))
	}
	if len(args) == 0 {
		return ""
	}
	return "usermod " + strings.Join(args, " ") + " -- " + q(m.name) + " </dev/null"
}

// Undo deletes an account the run creates (its home too when the run
// creates that directory), and changes a modified account back to what it
// was. A deleted account cannot be made again as it was, and the old
// password hash is never read off the host: those stay done.
func (m *User) Undo(t *Target) (executor.Command, bool) {
	d, err := m.Check(context.Background(), t)
	if err != nil || d.Empty() {
		return executor.Command{}, false
	}
	cur, err := factValue[*userInfo](t.State, userFact{m.name})
	if err != nil {
		return executor.Command{}, false
	}
	q := executor.ShellQuote
	if c := d.Change("exists"); c != nil {
		if c.New == "absent" {
			return executor.Command{}, false
		}
		home, err := factValue[*homeInfo](t.State, homeFact{m.name, m.home})
		if err != nil {
			return executor.Command{}, false
		}
		grp, err := factValue[*groupInfo](t.State, groupFact{m.name})
		if err != nil {
			return executor.Command{}, false
		}
		script := "userdel "
		if m.createHome && !home.Exists {
			// The home is the run's own (made from /etc/skel just now).
			script += "-r "
		}
		script += "-- " + q(m.name) + " </dev/null"
		if grp.Exists {
			// userdel deletes the group of the user's name with the user;
			// it was there before the run.
			script += "\ngetent group -- " + q(m.name) + " >/dev/null || groupadd -g " + strconv.FormatInt(grp.GID, 10) + " -- " + q(m.name) + " </dev/null"
		}
		return executor.Command{Script: script, Become: t.Become}, true
	}
	if d.Change("password_hash") != nil {
		return executor.Command{}, false
	}
	var args []string
	if d.Change("uid") != nil {
		args = append(args, "-u", strconv.FormatInt(cur.UID, 10))
	}
	if d.Change("group") != nil {
		args = append(args, "-g", q(cur.Primary))
	}
	if d.Change("groups") != nil {
		args = append(args, "-G", q(strings.Join(cur.Groups, ",")))
	}
	if d.Change("home") != nil {
		args = append(args, "-d", q(cur.Home))
	}
	if d.Change("shell") != nil {
		args = append(args, "-s", q(cur.Shell))
	}
	if d.Change("comment") != nil {
		args = append(args, "-c", q(cur.Comment))
	}
	if len(args) == 0 {
		return executor.Command{}, false
	}
	return executor.Command{Script: "usermod " + strings.Join(args, " ") + " -- " + q(m.name) + " </dev/null", Become: t.Become}, true
}
