package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor/testenv"
)

// fakeSudoScript is a stand-in for sudo(8) used where the tests run as root
// on a machine without a second user: it speaks the same protocol as the real
// sudo with -S -p (prompt on stderr, password read from stdin one line at a
// time, "Sorry, try again." and a new prompt on a wrong one, failure on EOF)
// and with -n ("a password is required"), and records its argv, one argument
// per line, in $FAKESUDO_DIR/argv. By default it execs the command; in relay
// mode (fakeSudo.Relay) it runs it as a child out of reach of the caller's
// signals and relays SIGTERM, SIGINT and SIGHUP to it, as the real sudo
// does. The real sudo is exercised by the end-to-end suite on real hosts.
const fakeSudoScript = `#!/bin/sh
dir=$FAKESUDO_DIR
{ for a in "$@"; do printf '%s\n' "$a"; done; printf '%s\n' '--end--'; } >> "$dir/argv"
prompt='Password:'; nonint=no; user=root
while [ $# -gt 0 ]; do
	case "$1" in
	-H|-S) shift ;;
	-n) nonint=yes; shift ;;
	-p) prompt=$2; shift 2 ;;
	-u) user=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "fakesudo: unknown option $1" >&2; exit 1 ;;
	esac
done
printf '%s\n' "$user" > "$dir/user"
if [ -f "$dir/password" ] && [ ! -f "$dir/cached" ]; then
	want=$(cat "$dir/password")
	if [ $nonint = yes ]; then
		echo "sudo: a password is required" >&2
		exit 1
	fi
	tries=0
	while :; do
		printf '%s' "$prompt" >&2
		IFS= read -r got || { echo "sudo: no password was provided" >&2; exit 1; }
		[ "$got" = "$want" ] && break
		tries=$((tries + 1))
		if [ $tries -ge 3 ]; then
			echo "sudo: 3 incorrect password attempts" >&2
			exit 1
		fi
		echo "Sorry, try again." >&2
	done
fi
SUDO_USER=${FAKESUDO_LOGIN:-$(id -un)}
export SUDO_USER
if [ -f "$dir/relay" ]; then
	# Like the real sudo running a command as another user: the command is
	# a child the login user cannot signal (here: in a session of its own,
	# out of reach of signals sent to sudo's process group), and sudo
	# relays the signals it gets to it. SIGKILL kills sudo only.
	exec 3<&0
	setsid "$@" <&3 3<&- &
	child=$!
	exec 3<&-
	printf '%s\n' "$child" > "$dir/child"
	trap 'kill -TERM $child 2>/dev/null' TERM
	trap 'kill -INT $child 2>/dev/null' INT
	trap 'kill -HUP $child 2>/dev/null' HUP
	while :; do
		wait $child
		rc=$?
		kill -0 $child 2>/dev/null || exit $rc
	done
fi
exec "$@"
`

// fakeSudo is an installed fake sudo.
type fakeSudo struct {
	// Dir holds the fake's state: argv, user, password, cached.
	Dir string
	// Bin is the directory to put first on PATH.
	Bin string
}

// installFakeSudo writes the fake sudo into a temporary directory. A
// non-empty password makes it require that password.
func installFakeSudo(t *testing.T, password string) *fakeSudo {
	t.Helper()
	root := t.TempDir()
	fs := &fakeSudo{Dir: filepath.Join(root, "state"), Bin: filepath.Join(root, "bin")}
	for _, d := range []string{fs.Dir, fs.Bin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(fs.Bin, "sudo"), []byte(fakeSudoScript), 0o755); err != nil {
		t.Fatal(err)
	}
	if password != "" {
		if err := os.WriteFile(filepath.Join(fs.Dir, "password"), []byte(password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

// Relay switches the fake to relay mode: the command runs as a child in a
// session of its own (the login user's signals to sudo's process group do
// not reach it, as they do not reach a root command of the real sudo), and
// the fake relays SIGTERM, SIGINT and SIGHUP to it. Its pid is recorded in
// Dir/child.
func (f *fakeSudo) Relay(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.Dir, "relay"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Env returns the environment additions that make commands find the fake.
func (f *fakeSudo) Env() []string {
	return []string{"PATH=" + f.Bin + ":" + os.Getenv("PATH"), "FAKESUDO_DIR=" + f.Dir}
}

// Setenv installs the fake in this process's environment (for the local
// connection, whose commands inherit it).
func (f *fakeSudo) Setenv(t *testing.T) {
	t.Helper()
	for _, kv := range f.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Argv returns every recorded sudo invocation's arguments.
func (f *fakeSudo) Argv(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.Dir, "argv"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var calls [][]string
	var cur []string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "--end--" {
			calls = append(calls, cur)
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	return calls
}

// needRoot and needTool: see testenv.
func needRoot(t *testing.T, why string) { t.Helper(); testenv.NeedRoot(t, why) }

func needTool(t *testing.T, name string) string { t.Helper(); return testenv.NeedTool(t, name) }
