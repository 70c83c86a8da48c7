//go:build e2e

package e2e

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tend-sh/tend/test/fleet"
)

// The account modules on a real host: user and group converge and show
// old → new; authorized_key adds a key beside tend's own login key (which
// must keep working) and the new key logs in; a password hash is never in
// tend's output nor in any process's arguments; a failed host's accounts
// are put back; a hostile user's links are refused with nothing written;
// every login shape creates an account; bad attributes are diagnostics.

// acctHash is a password hash (not a real password's: chpasswd -e takes
// it as it is); acctHash2 replaces it.
const (
	acctHash  = "$6$tendE2Esalt$AcctHashOneXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX1"
	acctHash2 = "$6$tendE2Esalt$AcctHashTwoYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY2"
)

// acctKey is a fresh ed25519 key pair: the private key written to a file
// (for ssh -i) and the public half as an authorized_keys line.
func acctKey(t *testing.T, dir, name string) (keyFile, pub string) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(sk, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, name)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return keyFile, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}

// acctSSH logs in to h as user with keyFile only and runs command.
func acctSSH(t *testing.T, f *fleet.Fleet, h *fleet.Host, keyFile, user, command string) (string, error) {
	t.Helper()
	args := f.SSHArgs()
	for i := range args {
		if args[i] == f.ClientKey {
			args[i] = keyFile
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/ssh", append(args, "-n", "-l", user, h.Address, "--", command)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// acctChanges returns the task's changes as "attr: old → new" lines.
func acctChanges(e event) string {
	if e.Diff == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range e.Diff.Changes {
		fmt.Fprintf(&b, "%s: %s → %s\n", c.Attr, c.Old, c.New)
	}
	return b.String()
}

// acctUnchanged asserts that an apply changed nothing and a plan is clean.
func acctUnchanged(t *testing.T, env []string, pb, inv string, extra ...string) {
	t.Helper()
	r := tend(t, env, append([]string{"apply", pb, "-i", inv, "--json"}, extra...)...)
	r.wantExit(t, 0)
	if tot := r.events(t)[len(r.events(t))-1].Totals; tot == nil || tot.Changed != 0 {
		t.Fatalf("a second apply changed something: %+v\n%s", tot, r)
	}
	tend(t, env, append([]string{"plan", pb, "-i", inv}, extra...)...).wantExit(t, 0)
}

func acctSet(s string) string {
	f := strings.Fields(s)
	sort.Strings(f)
	return strings.Join(f, " ")
}

func TestAccounts(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "faccounts", 1, "deploy")
	h := f.Hosts[0]
	env := []string{"TEND_VAR_pw=" + acctHash}
	loginKeys := sh(t, h, "cat /home/deploy/.ssh/authorized_keys")

	accounts := func(shell, groups string) string {
		return writeFile(t, filepath.Join(dir, "accounts.hcl"), `
variable "pw" { sensitive = true }
play "accounts" {
  hosts = ["all"]
  group "ci-team" { gid = 1600 }
  user "ci" {
    uid           = 1600
    group         = "ci-team"
    groups        = `+groups+`
    shell         = "`+shell+`"
    home          = "/srv/ci"
    comment       = "CI runner"
    password_hash = var.pw
  }
}
`)
	}

	t.Run("create", func(t *testing.T) {
		pb := accounts("/bin/sh", `["sudo"]`)
		r := tend(t, env, "plan", pb, "-i", inv, "--json")
		r.wantExit(t, 2)
		evs := r.events(t)
		if got := acctChanges(task(t, evs, h.Name, "group.ci-team")); got != "exists: absent → present\ngid:  → 1600\n" {
			t.Errorf("group plan:\n%s", got)
		}
		want := "exists: absent → present\nuid:  → 1600\ngroup:  → ci-team\ngroups:  → [sudo]\nhome:  → /srv/ci\nshell:  → /bin/sh\ncomment:  → CI runner\npassword_hash:  → (sensitive value changed)\n"
		if got := acctChanges(task(t, evs, h.Name, "user.ci")); got != want {
			t.Errorf("user plan:\n%s\nwant:\n%s", got, want)
		}
		r = tend(t, env, "apply", pb, "-i", inv)
		r.wantExit(t, 0)
		if strings.Contains(r.stdout+r.stderr, "AcctHash") {
			t.Fatalf("the hash is in tend's output:\n%s", r)
		}
		if got := sh(t, h, "getent passwd ci; id -Gn ci; getent shadow ci | cut -d: -f2; stat -c '%U %G' /srv/ci; test -f /srv/ci/.bashrc && echo skel"); got != "ci:x:1600:1600:CI runner:/srv/ci:/bin/sh\nci-team sudo\n"+acctHash+"\nci ci-team\nskel" {
			t.Fatalf("on the host:\n%s", got)
		}
		acctUnchanged(t, env, pb, inv)
	})

	t.Run("change", func(t *testing.T) {
		pb := accounts("/bin/bash", `["sudo", "adm"]`)
		r := tend(t, env, "plan", pb, "-i", inv, "--json")
		r.wantExit(t, 2)
		if got := acctChanges(task(t, r.events(t), h.Name, "user.ci")); got != "groups: [sudo] → [sudo, adm]\nshell: /bin/sh → /bin/bash\n" {
			t.Errorf("plan:\n%s", got)
		}
		tend(t, env, "apply", pb, "-i", inv).wantExit(t, 0)
		if got := sh(t, h, "id -Gn ci; getent passwd ci | cut -d: -f7"); acctSet(got) != acctSet("ci-team sudo adm /bin/bash") {
			t.Fatalf("on the host: %q", got)
		}
		acctUnchanged(t, env, pb, inv)
	})

	t.Run("password never in argv or output", func(t *testing.T) {
		// mallory, without sudo, records every process's arguments while
		// tend changes the password.
		sh(t, h, `id mallory >/dev/null 2>&1 || useradd -m -s /bin/bash mallory
cat > /home/mallory/ps.sh <<'EOF'
end=$(( $(date +%s) + 40 ))
while [ "$(date +%s)" -lt "$end" ] && [ ! -e /home/mallory/stop ]; do ps -eo args >> /home/mallory/ps.log; done
EOF
chown mallory: /home/mallory/ps.sh; rm -f /home/mallory/stop /home/mallory/ps.log
su mallory -s /bin/sh -c 'nohup sh /home/mallory/ps.sh >/dev/null 2>&1 &'; sleep 0.5; pgrep -u mallory -f ps.sh >/dev/null`)
		pb := accounts("/bin/bash", `["sudo", "adm"]`)
		env2 := []string{"TEND_VAR_pw=" + acctHash2}
		r := tend(t, env2, "plan", pb, "-i", inv, "--json")
		r.wantExit(t, 2)
		if got := acctChanges(task(t, r.events(t), h.Name, "user.ci")); got != "password_hash:  → (sensitive value changed)\n" {
			t.Errorf("plan:\n%s", got)
		}
		r = tend(t, env2, "apply", pb, "-i", inv, "--json")
		r.wantExit(t, 0)
		sh(t, h, "touch /home/mallory/stop; sleep 1")
		if strings.Contains(r.stdout+r.stderr, "AcctHash") {
			t.Fatalf("the hash is in tend's output:\n%s", r)
		}
		if got := sh(t, h, "getent shadow ci | cut -d: -f2"); got != acctHash2 {
			t.Fatalf("shadow: %q", got)
		}
		n := sh(t, h, "grep -c . /home/mallory/ps.log")
		if n == "0" {
			t.Fatal("the watcher saw nothing: this proves nothing")
		}
		t.Logf("mallory recorded %s lines of process arguments during the apply", n)
		if got := sh(t, h, "grep -c AcctHash /home/mallory/ps.log || true"); got != "0" {
			t.Fatalf("a process's arguments held the hash (%s lines)", got)
		}
		acctUnchanged(t, env2, pb, inv)
	})

	keyFile, pub := acctKey(t, dir, "ci_key")
	t.Run("authorized_key beside the login key", func(t *testing.T) {
		pb := writeFile(t, filepath.Join(dir, "key.hcl"), `
play "keys" {
  hosts = ["all"]
  authorized_key "deploy-ci" {
    user    = "deploy"
    key     = "`+pub+` e2e-ci"
    options = "no-agent-forwarding"
  }
}
`)
		r := tend(t, nil, "plan", pb, "-i", inv, "--json")
		r.wantExit(t, 2)
		e := task(t, r.events(t), h.Name, "authorized_key.deploy-ci")
		if e.Diff == nil || len(e.Diff.Changes) != 1 || !strings.Contains(e.Diff.Changes[0].Unified, "+no-agent-forwarding "+pub+" e2e-ci") ||
			!strings.Contains(e.Diff.Changes[0].Unified, " "+strings.TrimSpace(loginKeys)) {
			t.Fatalf("plan: %+v", e.Diff)
		}
		tend(t, nil, "apply", pb, "-i", inv).wantExit(t, 0)
		if got := sh(t, h, "cat /home/deploy/.ssh/authorized_keys"); got != loginKeys+"\nno-agent-forwarding "+pub+" e2e-ci" {
			t.Fatalf("authorized_keys:\n%s", got)
		}
		if got := sh(t, h, "stat -c '%U %G %a' /home/deploy/.ssh/authorized_keys"); got != "deploy deploy 600" {
			t.Errorf("file: %s", got)
		}
		if out, err := acctSSH(t, f, h, keyFile, "deploy", "id -un"); err != nil || out != "deploy" {
			t.Fatalf("login with the new key: %q %v", out, err)
		}
		// tend's own login key still works: the second run logs in with it.
		acctUnchanged(t, nil, pb, inv)
	})

	t.Run("exclusive, and ~/.ssh made", func(t *testing.T) {
		pb := writeFile(t, filepath.Join(dir, "ci-key.hcl"), `
play "keys" {
  hosts = ["all"]
  authorized_key "ci-only" {
    user      = "ci"
    key       = "`+pub+`"
    exclusive = true
  }
}
`)
		tend(t, nil, "apply", pb, "-i", inv).wantExit(t, 0)
		if got := sh(t, h, "stat -c '%U %G %a' /srv/ci/.ssh /srv/ci/.ssh/authorized_keys"); got != "ci ci-team 700\nci ci-team 600" {
			t.Fatalf("made: %s", got)
		}
		_, other := acctKey(t, dir, "other_key")
		sh(t, h, "su ci -s /bin/sh -c 'printf \"# added by hand\\n"+other+" other\\n\" >> /srv/ci/.ssh/authorized_keys'")
		r := tend(t, nil, "apply", pb, "-i", inv, "--json")
		r.wantExit(t, 0)
		if got := sh(t, h, "cat /srv/ci/.ssh/authorized_keys"); got != pub {
			t.Fatalf("exclusive left:\n%s", got)
		}
		if out, err := acctSSH(t, f, h, keyFile, "ci", "id -un"); err != nil || out != "ci" {
			t.Fatalf("login as ci: %q %v", out, err)
		}
		acctUnchanged(t, nil, pb, inv)
	})

	t.Run("revert", func(t *testing.T) {
		pb := writeFile(t, filepath.Join(dir, "broken.hcl"), `
play "broken" {
  hosts = ["all"]
  user "tmpacct" { shell = "/bin/sh" }
  user "ci" { shell = "/bin/dash" }
  command "boom" { run = "exit 1" }
}
`)
		r := tend(t, nil, "apply", pb, "-i", inv, "--json")
		r.wantExit(t, 3)
		if rc := recapOf(t, r.events(t), h.Name); !rc.Reverted {
			t.Fatalf("not reverted: %+v\n%s", rc, r)
		}
		if got := sh(t, h, "getent passwd tmpacct || echo gone; test -e /home/tmpacct && echo home || echo nohome; getent group tmpacct || echo nogroup; getent passwd ci | cut -d: -f7"); got != "gone\nnohome\nnogroup\n/bin/bash" {
			t.Fatalf("after the revert:\n%s", got)
		}
	})

	t.Run("delete", func(t *testing.T) {
		pb := writeFile(t, filepath.Join(dir, "delete.hcl"), `
play "delete" {
  hosts = ["all"]
  user "ci" {
    state  = "absent"
    remove = true
  }
  group "ci-team" { state = "absent" }
}
`)
		r := tend(t, nil, "plan", pb, "-i", inv, "--json")
		r.wantExit(t, 2)
		evs := r.events(t)
		if got := acctChanges(task(t, evs, h.Name, "user.ci")) + acctChanges(task(t, evs, h.Name, "group.ci-team")); got != "exists: present → absent\nexists: present → absent\n" {
			t.Errorf("plan:\n%s", got)
		}
		tend(t, nil, "apply", pb, "-i", inv).wantExit(t, 0)
		if got := sh(t, h, "getent passwd ci || echo nouser; getent group ci-team || echo nogroup; test -e /srv/ci && echo home || echo nohome"); got != "nouser\nnogroup\nnohome" {
			t.Fatalf("after the deletion:\n%s", got)
		}
		acctUnchanged(t, nil, pb, inv)
	})

	t.Run("hostile links refused", func(t *testing.T) {
		sh(t, h, "id mallory >/dev/null 2>&1 || useradd -m -s /bin/bash mallory")
		shadowRoot := sh(t, h, "getent shadow root")
		before := sh(t, h, "sha256sum /root/.ssh/authorized_keys /etc/shadow; stat -c '%U %G %a' /etc/shadow; ls -A /root/.ssh /etc | sha256sum")
		pb := writeFile(t, filepath.Join(dir, "mallory.hcl"), `
variable "n" { default = "0" }
play "mallory" {
  hosts = ["all"]
  authorized_key "mallory" {
    user = "mallory"
    key  = "`+pub+` run-${var.n}"
  }
}
`)
		for _, trap := range []struct{ name, plant, want string }{
			{"~/.ssh to /root/.ssh", "rm -rf ~/.ssh; ln -s /root/.ssh ~/.ssh", ".ssh is a symbolic link"},
			{"~/.ssh to /etc", "rm -rf ~/.ssh; ln -s /etc ~/.ssh", ".ssh is a symbolic link"},
			{"authorized_keys to /etc/shadow", "rm -rf ~/.ssh; mkdir -m 700 ~/.ssh; ln -s /etc/shadow ~/.ssh/authorized_keys", "authorized_keys is a symbolic link"},
		} {
			sh(t, h, "su mallory -s /bin/sh -c "+shellQuote("cd && "+trap.plant))
			for _, verb := range []string{"plan", "apply"} {
				r := tend(t, nil, verb, pb, "-i", inv, "--json")
				r.wantExit(t, 3)
				if e := task(t, r.events(t), h.Name, "authorized_key.mallory"); e.Status != "failed" || !strings.Contains(e.Message, trap.want) {
					t.Errorf("%s: %s: %s %q", trap.name, verb, e.Status, e.Message)
				}
				if strings.Contains(r.stdout+r.stderr, shadowRoot) {
					t.Errorf("%s: %s: the output shows /etc/shadow:\n%s", trap.name, verb, r)
				}
			}
		}
		// The race: mallory swaps ~/.ssh between a directory of its own
		// (most of the time, so that tend gets past its check) and a link
		// to /root/.ssh, while tend writes.
		sh(t, h, `cat > /home/mallory/swap.sh <<'EOF'
end=$(( $(date +%s) + 30 ))
cd
while [ "$(date +%s)" -lt "$end" ] && [ ! -e stop ]; do
	rm -rf .ssh; mkdir .ssh; sleep 0.2; rm -rf .ssh; ln -s /root/.ssh .ssh; echo x >> swaps
done
EOF
chown mallory: /home/mallory/swap.sh; rm -f /home/mallory/stop /home/mallory/swaps
su mallory -s /bin/sh -c 'nohup sh /home/mallory/swap.sh >/dev/null 2>&1 &'; sleep 0.5; pgrep -u mallory -f swap.sh >/dev/null`)
		outcomes := map[int]int{}
		for i := 1; i <= 8; i++ {
			r := tend(t, nil, "apply", pb, "-i", inv, "--json", "--var", fmt.Sprintf("n=%d", i))
			if r.code != 0 && r.code != 3 {
				t.Fatalf("run %d: %s", i, r)
			}
			outcomes[r.code]++
			// A failed run failed in the task, or in the state read (an
			// entry mallory removed while it was read).
			evs := r.events(t)
			for _, e := range evs {
				if e.Type == "task" && e.Task == "authorized_key.mallory" && e.Status == "failed" {
					t.Logf("run %d: %s", i, e.Message)
				}
			}
			if rc := recap(evs)[h.Name]; rc.Failed > 0 && rc.Error != "" && !strings.Contains(rc.Error, "authorized_key.mallory") {
				t.Logf("run %d: %s", i, rc.Error)
			}
		}
		sh(t, h, "touch /home/mallory/stop; sleep 1")
		n := sh(t, h, "wc -l < /home/mallory/swaps")
		if n == "0" {
			t.Fatal("the swapper did not run")
		}
		t.Logf("%s swaps by mallory; tend's applies by exit code: %v", n, outcomes)
		if after := sh(t, h, "sha256sum /root/.ssh/authorized_keys /etc/shadow; stat -c '%U %G %a' /etc/shadow; ls -A /root/.ssh /etc | sha256sum"); after != before {
			t.Fatalf("root's files changed:\nbefore %s\nafter  %s", before, after)
		}
		if got := sh(t, h, "find /root /etc -newer /home/mallory/swap.sh \\( -user mallory -o -name 'authorized_keys*' \\) 2>/dev/null | grep -v '^/etc/\\(shadow\\|passwd\\|group\\|gshadow\\|subuid\\|subgid\\)' | head"); got != "" {
			t.Fatalf("written where mallory pointed: %s", got)
		}
	})
}

// One account, with a password and a key, for each login shape: root,
// deploy (sudo without a password), ops (sudo with one). Bad attributes
// are diagnostics before any connection.
func TestAccountsLogins(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "facclogin", 1, "deploy")
	h := f.Hosts[0]

	bad := writeFile(t, filepath.Join(dir, "bad.hcl"), `play "bad" {
  hosts = ["all"]
  user "Bad Name" {
    shell = "bash"
  }
  authorized_key "k" {
    user = "deploy"
    key  = "ssh-ed25519 AAAAnotakey"
  }
}
`)
	r := tend(t, nil, "plan", bad, "-i", inv)
	r.wantExit(t, 5)
	out := r.stdout + r.stderr
	for _, want := range []string{"bad.hcl:3:8", "not a portable user name", "bad.hcl:4:5", "not an absolute path", "bad.hcl:8:5", "not an SSH public key"} {
		if !strings.Contains(out, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, out)
		}
	}

	keyFile, pub := acctKey(t, dir, "shape_key")
	for _, login := range logins {
		t.Run(login, func(t *testing.T) {
			shapeInv := readFile(t, inv)
			env := []string{"TEND_VAR_pw=" + acctHash, "TEND_E2E_SUDO_PASSWORD=" + f.SudoPassword}
			shapeInv = strings.Replace(shapeInv, `user             = "deploy"`, `user             = "`+login+`"`, 1)
			if login == "ops" {
				shapeInv = strings.Replace(shapeInv, "  become           = true\n", "  become           = true\n  become_password_env = \"TEND_E2E_SUDO_PASSWORD\"\n", 1)
			}
			i := writeFile(t, filepath.Join(dir, "inv-"+login+".hcl"), shapeInv)
			name := "shape-" + login
			pb := writeFile(t, filepath.Join(dir, "shape-"+login+".hcl"), `
variable "pw" { sensitive = true }
play "shape" {
  hosts = ["all"]
  group "`+name+`" {}
  user "`+name+`" {
    group         = "`+name+`"
    groups        = ["adm"]
    shell         = "/bin/bash"
    password_hash = var.pw
  }
  authorized_key "`+name+`" {
    user = "`+name+`"
    key  = "`+pub+`"
  }
}
`)
			r := tend(t, env, "plan", pb, "-i", i)
			r.wantExit(t, 2)
			r = tend(t, env, "apply", pb, "-i", i)
			r.wantExit(t, 0)
			if strings.Contains(r.stdout+r.stderr, "AcctHash") {
				t.Fatalf("the hash is in tend's output:\n%s", r)
			}
			if got := sh(t, h, "id -Gn "+name+"; getent shadow "+name+" | cut -d: -f2; stat -c '%U %a' /home/"+name+"/.ssh /home/"+name+"/.ssh/authorized_keys"); acctSet(got) != acctSet(name+" adm "+acctHash+" "+name+" 700 "+name+" 600") {
				t.Fatalf("on the host:\n%s", got)
			}
			if out, err := acctSSH(t, f, h, keyFile, name, "id -un"); err != nil || out != name {
				t.Fatalf("login: %q %v", out, err)
			}
			acctUnchanged(t, env, pb, i)
		})
	}
}
