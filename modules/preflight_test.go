package modules

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor"
)

// The preflight runs on this machine, in the state read: each missing
// piece is named, the first one found wins, and a host that has it all
// passes.
func TestPreflightLocal(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "gunicorn")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(dir, "not-exec")
	if err := os.WriteFile(notExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "app.sock")
	tests := []struct {
		name                   string
		user, group, wdir, bin string
		socks                  []string
		want                   string
	}{
		{name: "all there", user: "root", group: "root", wdir: dir, bin: prog, socks: []string{sock}},
		{name: "no such user", user: "tend-no-such-user", group: "root", wdir: dir, bin: prog, want: "User=tend-no-such-user does not exist"},
		{name: "no such group", user: "root", group: "tend-no-such-group", wdir: dir, bin: prog, want: "Group=tend-no-such-group does not exist"},
		{name: "no working directory", user: "root", wdir: filepath.Join(dir, "missing"), bin: prog, want: "WorkingDirectory=" + dir + "/missing does not exist"},
		{name: "program not executable", bin: notExec, want: "the program " + notExec + " does not exist or root cannot run it"},
		// As root, test -x passes anywhere: the checks run as the unit's user.
		{name: "a directory root can enter but the user cannot", user: "nobody", wdir: dir, bin: "/bin/true", want: "WorkingDirectory=" + dir + " does not exist on the host, or nobody cannot enter it"},
		{name: "the user's own view, all there", user: "nobody", wdir: "/", bin: "/bin/true"},
		{name: "socket directory missing", bin: prog, socks: []string{filepath.Join(dir, "run", "app.sock")}, want: "root cannot create its socket " + dir + "/run/app.sock"},
		{name: "first missing piece wins", user: "tend-no-such-user", wdir: filepath.Join(dir, "missing"), want: "User=tend-no-such-user"},
	}
	conn := executor.NewLocal(executor.LocalOptions{})
	defer conn.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := unitNeeds(tt.user, tt.group, tt.wdir, tt.bin, tt.socks)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// Become is for SSH hosts; locally the test runs as it is.
			probes := p.probe()
			for i := range probes {
				probes[i].Become = false
			}
			st, err := executor.Gather(ctx, conn, executor.Request{Probes: probes})
			if err != nil {
				t.Fatal(err)
			}
			err = p.check(st)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("want no finding, got %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("want %q, got %v", tt.want, err)
			}
		})
	}
	// Not read (a host whose state read failed): no finding.
	if err := unitNeeds("x", "", "", "", nil).check(&executor.State{}); err != nil {
		t.Errorf("an unread preflight: %v", err)
	}
}

func TestUnitFileNeeds(t *testing.T) {
	tests := []struct {
		name, unit string
		want       []string // the checks' reasons, in order
	}{
		{"all of it", "[Unit]\nDescription=x\n[Service]\nUser=app\nGroup=app\nWorkingDirectory=/srv/app\nExecStart=/srv/app/bin/run --port 80\n",
			[]string{"User=app", "Group=app", "WorkingDirectory=/srv/app", "the program /srv/app/bin/run"}},
		{"last assignment wins, first ExecStart", "[Service]\nUser=a\nUser=b\nExecStart=-/bin/true\nExecStart=/bin/false\n",
			[]string{"User=b", "the program /bin/true"}},
		{"specifiers, relative programs and optional directories are not checked", "[Service]\nUser=%i\nWorkingDirectory=-/srv/x\nExecStart=python3 -m http.server\n", nil},
		{"DynamicUser", "[Service]\nDynamicUser=yes\nUser=app\n", nil},
		{"other sections", "[Unit]\nUser=x\n[Install]\nWantedBy=multi-user.target\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := unitFileNeeds([]byte(tt.unit))
			var got []string
			for _, c := range p.checks {
				got = append(got, c.why)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("checks %q, want %q", got, tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("check %d: %q, want %q…", i, got[i], tt.want[i])
				}
			}
		})
	}
}
