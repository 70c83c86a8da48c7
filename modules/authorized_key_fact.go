package modules

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/tend-sh/tend/executor"
)

// maxAuthorizedKeys is the largest authorized_keys file tend edits.
const maxAuthorizedKeys = 1 << 20

// authKeysInfo is what the authorized_keys fact read: the user, the file's
// path, its directory and the file (lstat: links are not followed), and
// the file's content read as the user.
type authKeysInfo struct {
	NoUser bool
	UID    int64
	GID    int64
	// Group is the name of the user's primary group (its number when it
	// has no name).
	Group string
	Home  string
	Path  string
	Dir   authKeysStat
	File  authKeysStat
	// Content is the file's bytes, read as the user; ContentRead says it
	// was, Unreadable why not.
	Content     []byte
	ContentRead bool
	Unreadable  string
}

// authKeysStat is one lstat.
type authKeysStat struct {
	Exists bool
	// Type is "file", "directory", "symlink" or "other".
	Type  string
	Mode  fs.FileMode
	Owner string
	Group string
	Size  int64
}

// authKeysFact reads a user's authorized_keys file. Everything under the
// home is the user's to change, so the path is only lstat'ed as root, and
// the content is read by a process of the user (setpriv), as sshd reads
// it: a link the user plants to /etc/shadow reads as a file the user
// cannot read, not as its content.
type authKeysFact struct{ user, path string }

var _ executor.Fact = authKeysFact{}

func (f authKeysFact) Key() string { return "authorized_keys:" + f.user + ":" + f.path }

// Script prints "nouser", or the user, group, home and path lines, the
// lstat of the directory and the file, and the content (base64) or why it
// could not be read.
func (f authKeysFact) Script() string {
	file := `"$ak_home/.ssh/authorized_keys"`
	if f.path != "" {
		file = executor.ShellQuote(f.path)
	}
	return `ak_p=$(getent passwd -- ` + executor.ShellQuote(f.user) + `)
case $? in
0) ;;
2) echo nouser; exit 0 ;;
*) echo 'error getent passwd failed'; exit 0 ;;
esac
ak_r=${ak_p#*:*:}
ak_uid=${ak_r%%:*}
ak_r=${ak_r#*:}
ak_gid=${ak_r%%:*}
ak_home=${ak_p#*:*:*:*:*:}
ak_home=${ak_home%%:*}
printf 'user %s %s\n' "$ak_uid" "$ak_gid"
if ak_g=$(getent group -- "$ak_gid"); then printf 'group %s\n' "${ak_g%%:*}"; else printf 'group %s\n' "$ak_gid"; fi
printf 'home %s\n' "$ak_home"
ak_f=` + file + `
printf 'path %s\n' "$ak_f"
for ak_x in "${ak_f%/*}" "$ak_f"; do
	if [ -e "$ak_x" ] || [ -L "$ak_x" ]; then
		ak_s=$(stat -c '%F|%a|%U|%G|%s' -- "$ak_x") || { echo 'error stat failed'; exit 0; }
		printf 'stat %s\n' "$ak_s"
	else
		echo 'stat missing'
	fi
done
[ -f "$ak_f" ] && [ ! -L "$ak_f" ] || exit 0
# shellcheck disable=SC2016 # expanded by the user's shell
ak_read='exec 3<"$1" || exit 1; head -c ` + strconv.Itoa(maxAuthorizedKeys+1) + ` <&3 | base64 -w0'
if [ "$(id -u)" = 0 ] && [ "$ak_uid" != 0 ]; then
	ak_c=$(timeout 20 setpriv --reuid="$ak_uid" --regid="$ak_gid" --init-groups -- /bin/sh -c "$ak_read" ak "$ak_f" 2>/dev/null)
else
	ak_c=$(timeout 20 /bin/sh -c "$ak_read" ak "$ak_f" 2>/dev/null)
fi
ak_rc=$?
if [ "$ak_rc" = 0 ]; then printf 'content %s\n' "$ak_c"; else printf 'unreadable %s\n' "$ak_rc"; fi
`
}

// Parse reads the script's output.
func (f authKeysFact) Parse(out []byte, exitCode int) (any, error) {
	return parseAuthKeysFact(f.user, out, exitCode)
}

func parseAuthKeysFact(user string, out []byte, exitCode int) (*authKeysInfo, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("authorized_keys of %s: "+format, append([]any{user}, a...)...)
	}
	if exitCode != 0 {
		return nil, bad("the state snippet exited %d", exitCode)
	}
	s, ok := strings.CutSuffix(string(out), "\n")
	if !ok {
		return nil, bad("the answer is cut short")
	}
	lines := strings.Split(s, "\n")
	if len(lines) == 1 && lines[0] == "nouser" {
		return &authKeysInfo{NoUser: true}, nil
	}
	for _, l := range lines {
		if msg, ok := strings.CutPrefix(l, "error "); ok {
			return nil, bad("%s", msg)
		}
	}
	if len(lines) < 6 || len(lines) > 7 {
		return nil, bad("unexpected answer of %d lines", len(lines))
	}
	info := &authKeysInfo{}
	ids, ok := strings.CutPrefix(lines[0], "user ")
	uid, gid, ok2 := strings.Cut(ids, " ")
	var err1, err2 error
	info.UID, err1 = strconv.ParseInt(uid, 10, 64)
	info.GID, err2 = strconv.ParseInt(gid, 10, 64)
	if !ok || !ok2 || err1 != nil || err2 != nil || info.UID < 0 || info.GID < 0 {
		return nil, bad("bad user line %q", lines[0])
	}
	if info.Group, ok = strings.CutPrefix(lines[1], "group "); !ok || info.Group == "" {
		return nil, bad("bad group line %q", lines[1])
	}
	if info.Home, ok = strings.CutPrefix(lines[2], "home "); !ok {
		return nil, bad("bad home line %q", lines[2])
	}
	if info.Path, ok = strings.CutPrefix(lines[3], "path "); !ok {
		return nil, bad("bad path line %q", lines[3])
	}
	if p, err := cleanAbsPath(info.Path); err != nil || p != info.Path {
		return nil, bad("the file's path %q is not absolute and clean (the home in the passwd entry is %q)", info.Path, info.Home)
	}
	var err error
	if info.Dir, err = parseAuthKeysStat(lines[4]); err != nil {
		return nil, bad("directory: %v", err)
	}
	if info.File, err = parseAuthKeysStat(lines[5]); err != nil {
		return nil, bad("file: %v", err)
	}
	readable := info.File.Type == "file"
	if len(lines) == 6 {
		if readable {
			return nil, bad("no content for a regular file")
		}
		return info, nil
	}
	if !readable {
		return nil, bad("content for a %s", info.File.Type)
	}
	if rc, ok := strings.CutPrefix(lines[6], "unreadable "); ok {
		n, err := strconv.Atoi(rc)
		switch {
		case err != nil:
			return nil, bad("unexpected line %q", lines[6])
		case n == 124:
			info.Unreadable = "reading it did not finish in 20 s (is it a FIFO?)"
		default:
			info.Unreadable = "it cannot be opened (permission denied, or it changed while tend read it)"
		}
		return info, nil
	}
	enc, ok := strings.CutPrefix(lines[6], "content ")
	if !ok && lines[6] != "content" {
		return nil, bad("unexpected line %q", lines[6])
	}
	data, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, bad("bad content encoding: %v", err)
	}
	if len(data) > maxAuthorizedKeys {
		return nil, bad("%s is larger than %d KiB: tend does not edit it", info.Path, maxAuthorizedKeys>>10)
	}
	if data == nil {
		data = []byte{}
	}
	info.Content, info.ContentRead = data, true
	return info, nil
}

// parseAuthKeysStat reads "stat missing" or "stat TYPE|MODE|OWNER|GROUP|SIZE".
func parseAuthKeysStat(l string) (authKeysStat, error) {
	v, ok := strings.CutPrefix(l, "stat ")
	if !ok {
		return authKeysStat{}, fmt.Errorf("expected a stat line, got %q", l)
	}
	if v == "missing" {
		return authKeysStat{}, nil
	}
	f := strings.Split(v, "|")
	if len(f) != 5 {
		return authKeysStat{}, fmt.Errorf("malformed stat line %q", l)
	}
	mode, err := strconv.ParseUint(f[1], 8, 32)
	if err != nil || mode > 0o7777 {
		return authKeysStat{}, fmt.Errorf("bad mode in %q", l)
	}
	size, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil || size < 0 {
		return authKeysStat{}, fmt.Errorf("bad size in %q", l)
	}
	st := authKeysStat{Exists: true, Mode: fs.FileMode(mode), Owner: f[2], Group: f[3], Size: size}
	switch f[0] {
	case "regular file", "regular empty file":
		st.Type = "file"
	case "directory":
		st.Type = "directory"
	case "symbolic link":
		st.Type = "symlink"
	default:
		st.Type = "other"
	}
	return st, nil
}
