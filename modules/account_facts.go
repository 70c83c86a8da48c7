package modules

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tend-sh/tend/executor"
)

// The state of accounts is read with getent (passwd, group, shadow) and
// id(1), one Fact per account. The shadow field is never printed: the fact
// prints the SHA-256 of it salted with shadowSalt, a random value of this
// tend process, and Check compares that with the same digest of the wanted
// hash. The salt is not secret (it travels in the state script); it keeps
// the digest from being compared across runs or hosts.

// shadowSalt salts the digests of shadow password fields, per process: two
// tasks of the same account share one fact, and so one salt.
var shadowSalt = func() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("modules: no randomness for the shadow salt: " + err.Error())
	}
	return hex.EncodeToString(b)
}()

// shadowDigest is the digest the user fact prints for a shadow field.
func shadowDigest(field string) string {
	sum := sha256.Sum256([]byte(shadowSalt + ":" + field))
	return hex.EncodeToString(sum[:])
}

// userInfo is what the user fact read of one account.
type userInfo struct {
	Exists  bool
	Name    string
	UID     int64
	GID     int64
	Comment string
	Home    string
	Shell   string
	// Primary is the name of the primary group, or its number when the
	// group has no name.
	Primary string
	// Groups are the supplementary groups (id -Gn without the primary
	// group), in the order id prints them.
	Groups []string
	// Shadow is the salted digest of the shadow password field
	// (shadowDigest), or "" when ShadowRead is false.
	Shadow     string
	ShadowRead bool
}

// userFact reads one account: its passwd entry, primary group, groups and
// the salted digest of its shadow password field.
type userFact struct{ name string }

var _ executor.Fact = userFact{}

func (f userFact) Key() string { return "user:" + f.name }

// Script prints "absent", or the passwd line, the primary group's name,
// the groups and the shadow digest (or why there is none). The shadow
// field only goes through the shell's own variables and printf (a builtin)
// into sha256sum's standard input: it is in no process's arguments.
func (f userFact) Script() string {
	q := executor.ShellQuote(f.name)
	return `tu_p=$(getent passwd -- ` + q + `)
case $? in
0) ;;
2) echo absent; exit 0 ;;
*) echo 'error getent passwd failed'; exit 0 ;;
esac
printf 'passwd %s\n' "$tu_p"
tu_g=${tu_p#*:*:*:}
tu_g=${tu_g%%:*}
if tu_r=$(getent group -- "$tu_g"); then printf 'primary %s\n' "${tu_r%%:*}"; else printf 'primary %s\n' "$tu_g"; fi
# id exits 1 when a group has no name, and prints its number for it.
tu_i=$(id -Gn -- ` + q + `)
if [ -n "$tu_i" ]; then printf 'groups %s\n' "$tu_i"; else echo 'error id -Gn failed'; fi
tu_s=$(getent shadow -- ` + q + `)
case $? in
0)
	tu_s=${tu_s#*:}
	tu_s=${tu_s%%:*}
	tu_d=$(printf '%s:%s' ` + shadowSalt + ` "$tu_s" | sha256sum)
	printf 'shadow %s\n' "${tu_d%% *}"
	;;
2) echo 'shadow none' ;;
*) echo 'shadow unreadable' ;;
esac
`
}

// Parse reads the script's output; anything it does not expect is an
// error.
func (f userFact) Parse(out []byte, exitCode int) (any, error) {
	return parseUserFact(f.name, out, exitCode)
}

func parseUserFact(name string, out []byte, exitCode int) (*userInfo, error) {
	if exitCode != 0 {
		return nil, fmt.Errorf("user %s: the state snippet exited %d", name, exitCode)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "absent" {
		return &userInfo{Name: name}, nil
	}
	u := &userInfo{Exists: true}
	seen := map[string]bool{}
	for _, l := range lines {
		key, value, _ := strings.Cut(l, " ")
		if seen[key] {
			return nil, fmt.Errorf("user %s: %s given twice", name, key)
		}
		seen[key] = true
		switch key {
		case "error":
			return nil, fmt.Errorf("user %s: %s", name, value)
		case "passwd":
			if err := parsePasswd(value, u); err != nil {
				return nil, fmt.Errorf("user %s: %w", name, err)
			}
		case "primary":
			if value == "" {
				return nil, fmt.Errorf("user %s: empty primary group", name)
			}
			u.Primary = value
		case "groups":
			u.Groups = strings.Fields(value)
		case "shadow":
			switch value {
			case "unreadable":
			case "none":
				u.ShadowRead = true
			default:
				if b, err := hex.DecodeString(value); err != nil || len(b) != sha256.Size {
					return nil, fmt.Errorf("user %s: bad shadow digest", name)
				}
				u.Shadow, u.ShadowRead = value, true
			}
		default:
			return nil, fmt.Errorf("user %s: unexpected line %q", name, l)
		}
	}
	for _, k := range []string{"passwd", "primary", "groups", "shadow"} {
		if !seen[k] {
			return nil, fmt.Errorf("user %s: no %s line in the answer", name, k)
		}
	}
	if u.Name != name {
		return nil, fmt.Errorf("user %s: getent answered for %q", name, u.Name)
	}
	// id -Gn lists the primary group first; the rest are supplementary.
	var supp []string
	dropped := false
	for _, g := range u.Groups {
		if g == u.Primary && !dropped {
			dropped = true
			continue
		}
		supp = append(supp, g)
	}
	u.Groups = supp
	return u, nil
}

// parsePasswd reads one passwd(5) line into u.
func parsePasswd(line string, u *userInfo) error {
	f := strings.Split(line, ":")
	if len(f) != 7 {
		return fmt.Errorf("malformed passwd entry (%d fields)", len(f))
	}
	uid, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || uid < 0 {
		return fmt.Errorf("bad uid %q in the passwd entry", f[2])
	}
	gid, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil || gid < 0 {
		return fmt.Errorf("bad gid %q in the passwd entry", f[3])
	}
	u.Name, u.UID, u.GID, u.Comment, u.Home, u.Shell = f[0], uid, gid, f[4], f[5], f[6]
	return nil
}

// groupInfo is what the group fact read of one group.
type groupInfo struct {
	Exists  bool
	Name    string
	GID     int64
	Members []string
}

// groupFact reads one group (getent group).
type groupFact struct{ name string }

var _ executor.Fact = groupFact{}

func (f groupFact) Key() string { return "group:" + f.name }

// Script prints "absent" or the group line.
func (f groupFact) Script() string {
	return `tg_r=$(getent group -- ` + executor.ShellQuote(f.name) + `)
case $? in
0) printf 'group %s\n' "$tg_r" ;;
2) echo absent ;;
*) echo 'error getent group failed' ;;
esac
`
}

// Parse reads the script's output.
func (f groupFact) Parse(out []byte, exitCode int) (any, error) {
	return parseGroupFact(f.name, out, exitCode)
}

func parseGroupFact(name string, out []byte, exitCode int) (*groupInfo, error) {
	if exitCode != 0 {
		return nil, fmt.Errorf("group %s: the state snippet exited %d", name, exitCode)
	}
	s := string(out)
	if s == "absent\n" {
		return &groupInfo{Name: name}, nil
	}
	line, ok := strings.CutPrefix(s, "group ")
	if !ok || !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		if msg, isErr := strings.CutPrefix(s, "error "); isErr {
			return nil, fmt.Errorf("group %s: %s", name, strings.TrimSpace(msg))
		}
		return nil, fmt.Errorf("group %s: unexpected answer %q", name, s)
	}
	f := strings.Split(strings.TrimSuffix(line, "\n"), ":")
	if len(f) != 4 {
		return nil, fmt.Errorf("group %s: malformed group entry (%d fields)", name, len(f))
	}
	gid, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || gid < 0 {
		return nil, fmt.Errorf("group %s: bad gid %q", name, f[2])
	}
	if f[0] != name {
		return nil, fmt.Errorf("group %s: getent answered for %q", name, f[0])
	}
	g := &groupInfo{Exists: true, Name: f[0], GID: gid}
	if f[3] != "" {
		g.Members = strings.Split(f[3], ",")
	}
	return g, nil
}

// homeInfo is where a new account's home directory would be, and whether
// something is there already.
type homeInfo struct {
	Path   string
	Exists bool
}

// homeFact reads where useradd would put an account's home (home, or
// useradd's default base directory and the name) and whether that path
// exists (lstat: a symbolic link exists). A revert removes a home only
// when the run created it.
type homeFact struct{ name, home string }

var _ executor.Fact = homeFact{}

func (f homeFact) Key() string { return "home:" + f.name + ":" + f.home }

func (f homeFact) Script() string {
	return `th_h=` + executor.ShellQuote(f.home) + `
if [ -z "$th_h" ]; then
	th_b=/home
	th_d=$(useradd -D 2>/dev/null) || th_d=
	while IFS='=' read -r th_k th_v; do
		if [ "$th_k" = HOME ] && [ -n "$th_v" ]; then th_b=$th_v; fi
	done <<EOF
$th_d
EOF
	th_h=${th_b%/}/` + executor.ShellQuote(f.name) + `
fi
if [ -e "$th_h" ] || [ -L "$th_h" ]; then printf 'yes %s\n' "$th_h"; else printf 'no %s\n' "$th_h"; fi
`
}

func (f homeFact) Parse(out []byte, exitCode int) (any, error) {
	return parseHomeFact(f.name, out, exitCode)
}

func parseHomeFact(name string, out []byte, exitCode int) (*homeInfo, error) {
	s, ok := strings.CutSuffix(string(out), "\n")
	if exitCode != 0 || !ok || strings.Contains(s, "\n") {
		return nil, fmt.Errorf("home of %s: unexpected answer %q (exit %d)", name, out, exitCode)
	}
	word, p, _ := strings.Cut(s, " ")
	if (word != "yes" && word != "no") || validAccountPath("home", p) != nil {
		return nil, fmt.Errorf("home of %s: unexpected answer %q", name, out)
	}
	return &homeInfo{Path: p, Exists: word == "yes"}, nil
}

// factValue returns the parsed value of f from st, of type T.
func factValue[T any](st *executor.State, f executor.Fact) (T, error) {
	var zero T
	v, ok := st.Fact(f)
	if !ok {
		return zero, errors.New(f.Key() + ": the state was not gathered")
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("%s: unexpected value %T", f.Key(), v)
	}
	return t, nil
}
