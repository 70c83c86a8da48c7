package modules

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor"
)

// cmdConn records every command, input included.
type cmdConn struct {
	*fakeConn
	cmds []executor.Command
}

func (c *cmdConn) Run(ctx context.Context, cmd executor.Command) (executor.Result, error) {
	c.cmds = append(c.cmds, cmd)
	return c.fakeConn.Run(ctx, cmd)
}

// accountState is a gathered state, as root, holding the given facts.
func accountState(values map[string]any) *executor.State {
	return &executor.State{Facts: executor.Facts{User: "deploy", EffectiveUser: "root"}, Values: values}
}

// existingDeploy is deploy as the host has it.
func existingDeploy() *userInfo {
	return &userInfo{Exists: true, Name: "deploy", UID: 1001, GID: 1001, Home: "/home/deploy", Shell: "/bin/sh",
		Primary: "deploy", Groups: []string{"sudo"}, Shadow: shadowDigest("$6$old$hash"), ShadowRead: true}
}

func userTarget(u *userInfo, groupExists, homeExists bool) *Target {
	g := &groupInfo{Name: u.Name}
	if groupExists {
		g = &groupInfo{Exists: true, Name: u.Name, GID: 1234}
	}
	return &Target{Host: "h", Conn: &cmdConn{fakeConn: &fakeConn{}}, Become: true, State: accountState(map[string]any{
		"user:" + u.Name:       u,
		"group:" + u.Name:      g,
		"home:" + u.Name + ":": &homeInfo{Path: "/home/" + u.Name, Exists: homeExists},
	})}
}

// changes renders a diff's changes as "attr: old → new" lines.
func changes(d *Diff) string {
	var b strings.Builder
	for _, c := range d.Changes {
		b.WriteString(c.Attr + ": " + c.Old + " → " + c.New + "\n")
	}
	return b.String()
}

func TestUserCheckApply(t *testing.T) {
	const secret = "$6$newsalt$NEWHASHVALUE"
	tests := []struct {
		name        string
		src         string
		cur         *userInfo
		wantChanges string
		// wantScript are substrings of the command Apply runs ("" when
		// nothing runs).
		wantScript []string
		wantInput  string
	}{
		{"in sync", "uid = 1001\ngroups = [\"sudo\"]\nshell = \"/bin/sh\"\npassword_hash = \"$6$old$hash\"\n", existingDeploy(), "", nil, ""},
		{"primary group in groups is not supplementary", "groups = [\"deploy\", \"sudo\"]\n", existingDeploy(), "", nil, ""},
		{"new account",
			"uid = 1500\ngroups = [\"sudo\", \"docker\"]\nshell = \"/bin/bash\"\ncomment = \"CI's user\"\npassword_hash = \"" + secret + "\"\n",
			&userInfo{Name: "deploy"},
			"exists: absent → present\nuid:  → 1500\ngroups:  → [sudo, docker]\nhome:  → /home/deploy\nshell:  → /bin/bash\ncomment:  → CI's user\npassword_hash:  → (sensitive value changed)\n",
			[]string{"then useradd -g deploy -u 1500 -G sudo,docker -d /home/deploy -m -s /bin/bash -c 'CI'\\''s user' -- deploy </dev/null; else useradd -U -u 1500", "&&\nchpasswd -e"},
			"deploy:" + secret + "\n"},
		{"new account in a given group, no home", "group = \"staff\"\ncreate_home = false\nsystem = true\n", &userInfo{Name: "deploy"},
			"exists: absent → present\ngroup:  → staff\nhome:  → /home/deploy\nsystem:  → true\n",
			[]string{"useradd -g staff -d /home/deploy -M -r -- deploy </dev/null"}, ""},
		{"exact groups", "groups = [\"sudo\", \"docker\"]\n", existingDeploy(),
			"groups: [sudo] → [sudo, docker]\n", []string{"usermod -G sudo,docker -- deploy"}, ""},
		{"exact groups, none", "groups = []\n", existingDeploy(),
			"groups: [sudo] → []\n", []string{"usermod -G '' -- deploy"}, ""},
		{"append groups", "groups = [\"docker\"]\nappend = true\n", existingDeploy(),
			"groups: [sudo] → [sudo, docker]\n", []string{"usermod -a -G docker -- deploy"}, ""},
		{"append, already in", "groups = [\"sudo\"]\nappend = true\n", existingDeploy(), "", nil, ""},
		{"uid, shell, comment, home", "uid = 1500\nshell = \"/bin/bash\"\ncomment = \"\"\nhome = \"/srv/deploy\"\n",
			func() *userInfo { u := existingDeploy(); u.Comment = "Old"; return u }(),
			"uid: 1001 → 1500\nhome: /home/deploy → /srv/deploy\nshell: /bin/sh → /bin/bash\ncomment: Old → \"\"\n",
			[]string{"usermod -u 1500 -d /srv/deploy -s /bin/bash -c '' -- deploy </dev/null"}, ""},
		{"primary group", "group = \"staff\"\n", existingDeploy(), "group: deploy → staff\n", []string{"usermod -g staff -- deploy"}, ""},
		{"password only", "password_hash = \"" + secret + "\"\n", existingDeploy(),
			"password_hash:  → (sensitive value changed)\n", []string{"chpasswd -e"}, "deploy:" + secret + "\n"},
		{"delete", "state = \"absent\"\nremove = true\n", existingDeploy(), "exists: present → absent\n", []string{"userdel -r -- deploy"}, ""},
		{"delete, gone", "state = \"absent\"\n", &userInfo{Name: "deploy"}, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustDecode(t, "user", "deploy", tt.src)
			tgt := userTarget(tt.cur, true, false)
			d, err := m.Check(context.Background(), tgt)
			if err != nil {
				t.Fatal(err)
			}
			if got := changes(d); got != tt.wantChanges {
				t.Fatalf("changes:\n%s\nwant:\n%s", got, tt.wantChanges)
			}
			if !d.Empty() && !d.Beyond {
				t.Error("an account change must be marked Beyond")
			}
			for _, c := range d.Changes {
				if strings.Contains(c.Old+c.New+c.Digest, "NEWHASH") || strings.Contains(c.Old+c.New, "$6$") {
					t.Errorf("the hash shows in the diff: %+v", c)
				}
			}
			if err := m.Apply(context.Background(), tgt, d); err != nil {
				t.Fatal(err)
			}
			conn := tgt.Conn.(*cmdConn)
			if tt.wantScript == nil {
				if len(conn.cmds) != 0 {
					t.Fatalf("ran %q", conn.cmds[0].Script)
				}
				return
			}
			if len(conn.cmds) != 1 {
				t.Fatalf("%d commands, want 1", len(conn.cmds))
			}
			cmd := conn.cmds[0]
			for _, w := range tt.wantScript {
				if !strings.Contains(cmd.Script, w) {
					t.Errorf("script lacks %q:\n%s", w, cmd.Script)
				}
			}
			if strings.Contains(cmd.Script, "NEWHASH") {
				t.Errorf("the hash is in the script (argv on the host):\n%s", cmd.Script)
			}
			if string(cmd.Input) != tt.wantInput {
				t.Errorf("input %q, want %q", cmd.Input, tt.wantInput)
			}
			if !cmd.Become {
				t.Error("not run with become")
			}
		})
	}
}

func TestUserNeedsRoot(t *testing.T) {
	m := mustDecode(t, "user", "deploy", "shell = \"/bin/bash\"\n")
	tgt := userTarget(existingDeploy(), true, false)
	tgt.State.Facts.EffectiveUser = "deploy"
	if _, err := m.Check(context.Background(), tgt); err == nil || !strings.Contains(err.Error(), "become") {
		t.Fatalf("err = %v", err)
	}
	// Nothing to change: no root needed.
	m = mustDecode(t, "user", "deploy", "shell = \"/bin/sh\"\n")
	if d, err := m.Check(context.Background(), tgt); err != nil || !d.Empty() {
		t.Fatalf("%v %v", d, err)
	}
	// A password cannot be compared without the shadow entry.
	u := existingDeploy()
	u.ShadowRead, u.Shadow = false, ""
	m = mustDecode(t, "user", "deploy", "password_hash = \"$6$a$b\"\n")
	if _, err := m.Check(context.Background(), userTarget(u, true, false)); err == nil || !strings.Contains(err.Error(), "shadow") {
		t.Fatalf("err = %v", err)
	}
}

func TestUserUndo(t *testing.T) {
	tests := []struct {
		name        string
		src         string
		cur         *userInfo
		groupExists bool
		homeExists  bool
		want        string // "" means no undo
	}{
		{"created with its home", "shell = \"/bin/bash\"\n", &userInfo{Name: "deploy"}, false, false, "userdel -r -- deploy </dev/null"},
		{"created in a home that was there", "shell = \"/bin/bash\"\n", &userInfo{Name: "deploy"}, false, true, "userdel -- deploy </dev/null"},
		{"created without a home", "create_home = false\n", &userInfo{Name: "deploy"}, false, false, "userdel -- deploy </dev/null"},
		{"created in the group of its name, which stays", "shell = \"/bin/bash\"\n", &userInfo{Name: "deploy"}, true, false,
			"userdel -r -- deploy </dev/null\ngetent group -- deploy >/dev/null || groupadd -g 1234 -- deploy </dev/null"},
		{"modified back", "uid = 1500\ngroups = [\"docker\"]\nappend = true\nshell = \"/bin/bash\"\ngroup = \"staff\"\n", existingDeploy(), true, true,
			"usermod -u 1001 -g deploy -G sudo -s /bin/sh -- deploy </dev/null"},
		{"password changed: stays done", "shell = \"/bin/bash\"\npassword_hash = \"$6$x$y\"\n", existingDeploy(), true, true, ""},
		{"deleted: stays done", "state = \"absent\"\n", existingDeploy(), true, true, ""},
		{"nothing changes", "shell = \"/bin/sh\"\n", existingDeploy(), true, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustDecode(t, "user", "deploy", tt.src).(*User)
			cmd, ok := m.Undo(userTarget(tt.cur, tt.groupExists, tt.homeExists))
			if tt.want == "" {
				if ok {
					t.Fatalf("undo %q, want none", cmd.Script)
				}
				return
			}
			if !ok || cmd.Script != tt.want || !cmd.Become {
				t.Fatalf("undo %q (ok %v, become %v), want %q", cmd.Script, ok, cmd.Become, tt.want)
			}
		})
	}
}

func groupTarget(g *groupInfo) *Target {
	return &Target{Host: "h", Conn: &cmdConn{fakeConn: &fakeConn{}}, Become: true, State: accountState(map[string]any{"group:deploy": g})}
}

func TestGroupCheckApplyUndo(t *testing.T) {
	existing := &groupInfo{Exists: true, Name: "deploy", GID: 1001}
	missing := &groupInfo{Name: "deploy"}
	tests := []struct {
		name        string
		src         string
		cur         *groupInfo
		wantChanges string
		wantScript  string
		wantUndo    string
	}{
		{"in sync", "gid = 1001\n", existing, "", "", ""},
		{"any gid", "", existing, "", "", ""},
		{"create", "gid = 1500\nsystem = true\n", missing, "exists: absent → present\ngid:  → 1500\nsystem:  → true\n", "groupadd -g 1500 -r -- deploy </dev/null", "groupdel -- deploy </dev/null"},
		{"new gid", "gid = 1500\n", existing, "gid: 1001 → 1500\n", "groupmod -g 1500 -- deploy </dev/null", "groupmod -g 1001 -- deploy </dev/null"},
		{"delete", "state = \"absent\"\n", existing, "exists: present → absent\n", "groupdel -- deploy </dev/null", ""},
		{"deleted already", "state = \"absent\"\n", missing, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustDecode(t, "group", "deploy", tt.src).(*Group)
			tgt := groupTarget(tt.cur)
			d, err := m.Check(context.Background(), tgt)
			if err != nil {
				t.Fatal(err)
			}
			if got := changes(d); got != tt.wantChanges {
				t.Fatalf("changes:\n%s\nwant:\n%s", got, tt.wantChanges)
			}
			undo, ok := m.Undo(tgt)
			if (tt.wantUndo == "") == ok || undo.Script != tt.wantUndo {
				t.Errorf("undo %q %v, want %q", undo.Script, ok, tt.wantUndo)
			}
			if err := m.Apply(context.Background(), tgt, d); err != nil {
				t.Fatal(err)
			}
			conn := tgt.Conn.(*cmdConn)
			switch {
			case tt.wantScript == "" && len(conn.cmds) > 0:
				t.Errorf("ran %q", conn.cmds[0].Script)
			case tt.wantScript != "" && (len(conn.cmds) != 1 || conn.cmds[0].Script != tt.wantScript):
				t.Errorf("ran %+v, want %q", conn.cmds, tt.wantScript)
			}
		})
	}
}

func akTarget(info *authKeysInfo) *Target {
	return &Target{Host: "h", Conn: &cmdConn{fakeConn: &fakeConn{}}, Become: true, State: accountState(map[string]any{"authorized_keys:deploy:": info})}
}

func TestAuthorizedKeyCheck(t *testing.T) {
	key := testPubKey(t)
	other := testPubKey(t)
	base := func() *authKeysInfo {
		return &authKeysInfo{UID: 1001, GID: 1001, Group: "deploy", Home: "/home/deploy", Path: "/home/deploy/.ssh/authorized_keys",
			Dir:     authKeysStat{Exists: true, Type: "directory", Mode: 0o700, Owner: "deploy", Group: "deploy"},
			File:    authKeysStat{Exists: true, Type: "file", Mode: 0o600, Owner: "deploy", Group: "deploy"},
			Content: []byte(other + " tend\n"), ContentRead: true}
	}
	src := "user = \"deploy\"\nkey = \"" + key + " ci\"\n"
	m := mustDecode(t, "authorized_key", "ci", src)

	// Added to the existing file, written as its owner, the rest kept.
	tgt := akTarget(base())
	d, err := m.Check(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Change("content")
	if c == nil || string(c.OldContent) != other+" tend\n" || string(c.NewContent) != other+" tend\n"+key+" ci\n" || c.Path != "/home/deploy/.ssh/authorized_keys" {
		t.Fatalf("diff: %+v", d)
	}
	if err := m.Apply(context.Background(), tgt, d); err != nil {
		t.Fatal(err)
	}
	w := tgt.Conn.(*cmdConn).writes
	if len(w) != 1 || w[0].Attrs.Owner != "deploy" || w[0].Attrs.Group != "deploy" || w[0].Attrs.Mode != 0o600 || w[0].Data != other+" tend\n"+key+" ci\n" {
		t.Fatalf("writes: %+v", w)
	}

	// In sync.
	in := base()
	in.Content = []byte(other + " tend\n" + key + " ci\n")
	if d, err := m.Check(context.Background(), akTarget(in)); err != nil || !d.Empty() {
		t.Fatalf("in sync: %+v %v", d, err)
	}

	// No ~/.ssh: made as the user, then the file, 0600, the user's.
	none := base()
	none.Dir, none.File, none.Content, none.ContentRead = authKeysStat{}, authKeysStat{}, nil, false
	tgt = akTarget(none)
	d, err = m.Check(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if got := changes(d); !strings.Contains(got, "directory:  → /home/deploy/.ssh (0700, deploy)\nexists: absent → present\ncontent:  → \nmode:  → 0600\nowner:  → deploy\ngroup:  → deploy\n") {
		t.Fatalf("changes:\n%s", got)
	}
	if err := m.Apply(context.Background(), tgt, d); err != nil {
		t.Fatal(err)
	}
	conn := tgt.Conn.(*cmdConn)
	if len(conn.scripts) != 1 || !strings.Contains(conn.scripts[0], "setpriv --reuid=1001 --regid=1001 --init-groups -- mkdir -m 0700 -- /home/deploy/.ssh") {
		t.Fatalf("scripts: %q", conn.scripts)
	}
	if len(conn.writes) != 1 || conn.writes[0].Attrs.Owner != "deploy" || conn.writes[0].Attrs.Mode != 0o600 {
		t.Fatalf("writes: %+v", conn.writes)
	}

	// What is refused.
	for _, tc := range []struct {
		name string
		edit func(*authKeysInfo)
		want string
	}{
		{"~/.ssh is a link", func(i *authKeysInfo) { i.Dir.Type = "symlink" }, "/home/deploy/.ssh is a symbolic link"},
		{"the file is a link", func(i *authKeysInfo) { i.File.Type, i.Content, i.ContentRead = "symlink", nil, false }, "authorized_keys is a symbolic link"},
		{"~/.ssh is a file", func(i *authKeysInfo) { i.Dir.Type = "file" }, "not a directory"},
		{"the file is a FIFO", func(i *authKeysInfo) { i.File.Type, i.Content, i.ContentRead = "other", nil, false }, "not a regular file"},
		{"unreadable as the user", func(i *authKeysInfo) { i.Content, i.ContentRead, i.Unreadable = nil, false, "permission denied" }, "cannot be read as deploy"},
	} {
		info := base()
		tc.edit(info)
		if _, err := m.Check(context.Background(), akTarget(info)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}

	// A user that does not exist yet: a preflight finding with a preview.
	_, err = m.Check(context.Background(), akTarget(&authKeysInfo{NoUser: true}))
	var pre *PreflightError
	if !errors.As(err, &pre) || pre.Diff == nil || pre.Diff.Change("content") == nil || !strings.Contains(pre.Error(), "user deploy does not exist") {
		t.Fatalf("err = %v", err)
	}
	absent := mustDecode(t, "authorized_key", "ci", src+"state = \"absent\"\n")
	if d, err := absent.Check(context.Background(), akTarget(&authKeysInfo{NoUser: true})); err != nil || !d.Empty() {
		t.Fatalf("absent key of a missing user: %v %v", d, err)
	}
}
