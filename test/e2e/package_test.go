//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/test/fleet"
)

// pkgInventory writes an inventory whose hosts log in as users[i] (ops
// with its sudo password from TEND_E2E_SUDO_PASSWORD), with become as
// given.
func pkgInventory(t *testing.T, f *fleet.Fleet, dir, name string, become bool, users ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "defaults {\n  identity_file = %q\n  known_hosts_file = %q\n  become = %t\n}\n", f.ClientKey, f.KnownHosts, become)
	b.WriteString("group \"web\" {\n")
	for i, h := range f.Hosts {
		fmt.Fprintf(&b, "  host %q {\n    address = %q\n    user = %q\n", h.Name, h.Address, users[i])
		if users[i] == "ops" {
			b.WriteString("    become_password_env = \"TEND_E2E_SUDO_PASSWORD\"\n")
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return writeFile(t, filepath.Join(dir, name), b.String())
}

// pkgStatus returns "STATUS VERSION" of each package on h, as dpkg knows
// it ("absent" for a package dpkg does not know or knows as not
// installed).
func pkgStatus(t *testing.T, h *fleet.Host, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		s := sh(t, h, "dpkg-query -W -f='${db:Status-Status} ${Version}' "+n+" 2>/dev/null || echo absent")
		if strings.HasPrefix(s, "not-installed") {
			s = "absent"
		}
		out[n] = s
	}
	return out
}

// pkgWant fails unless every package's status on h starts as wanted.
func pkgWant(t *testing.T, h *fleet.Host, want map[string]string) {
	t.Helper()
	var names []string
	for n := range want {
		names = append(names, n)
	}
	got := pkgStatus(t, h, names...)
	for n, w := range want {
		if !strings.HasPrefix(got[n], w) {
			t.Errorf("%s: package %s is %q, want %q", h.Name, n, got[n], w)
		}
	}
}

// pkgChanges returns a task's changes as "attr: old → new" lines.
func pkgChanges(e event) string {
	if e.Diff == nil {
		return ""
	}
	var lines []string
	for _, c := range e.Diff.Changes {
		lines = append(lines, c.Attr+": "+c.Old+" → "+c.New)
	}
	return strings.Join(lines, "\n")
}

// pkgNoChange fails unless apply then plan of pb report nothing to do.
func pkgNoChange(t *testing.T, env []string, pb, inv string) {
	t.Helper()
	r := tend(t, env, "apply", pb, "-i", inv, "--json")
	r.wantExit(t, 0)
	evs := r.events(t)
	if tot := evs[len(evs)-1].Totals; tot == nil || tot.Changed != 0 || tot.Failed != 0 {
		t.Errorf("a second apply changed something: %+v\n%s", tot, r)
	}
	tend(t, env, "plan", pb, "-i", inv).wantExit(t, 0)
}

// TestPackage installs, upgrades, downgrades, removes and purges packages
// from the hosts' local apt repository through every login shape, and
// reverts the package changes of a host that fails later in the play.
func TestPackage(t *testing.T) {
	f := bootFleet(t, "fpkg", 2)
	h0, h1 := f.Hosts[0], f.Hosts[1]
	dir := t.TempDir()
	env := []string{"TEND_E2E_SUDO_PASSWORD=" + f.SudoPassword}
	// ops: sudo with a password; root: no sudo at all; deploy: sudo
	// without one.
	invOpsRoot := pkgInventory(t, f, dir, "ops-root.hcl", true, "ops", "root")
	invDeployOps := pkgInventory(t, f, dir, "deploy-ops.hcl", true, "deploy", "ops")
	all := []*fleet.Host{h0, h1}

	t.Run("bad attributes are diagnostics before any connection", func(t *testing.T) {
		// An inventory whose host cannot be reached: a connection would
		// make the host unreachable (exit 4) instead.
		ghost := writeFile(t, filepath.Join(dir, "ghost.hcl"), "group \"web\" {\n  host \"ghost\" { address = \"192.0.2.1\" }\n}\n")
		pb := writeFile(t, filepath.Join(dir, "bad.hcl"), `play "bad" {
  hosts = ["all"]

  package "Nginx" {}

  package "tend-probe" {
    state   = "absent"
    version = "1.0 1"
  }
}
`)
		r := tend(t, nil, "plan", pb, "-i", ghost)
		r.wantExit(t, 5)
		for _, want := range []string{pb + ":4:11: error: Invalid package name", pb + ":8:5: error: Invalid version", pb + ":8:5: error: Version with state = \"absent\""} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("diagnostics lack %q:\n%s", want, r)
			}
		}
		if strings.Contains(r.stdout+r.stderr, "unreachable") {
			t.Errorf("a connection was tried:\n%s", r)
		}
	})

	install := writeFile(t, filepath.Join(dir, "install.hcl"), `play "packages" {
  hosts = ["all"]

  package "tree" {}

  package "jq" {
    state = "present"
  }

  package "probe" {
    package = "tend-probe"
    version = "1.0-1"
  }
}
`)
	t.Run("plan shows installed and wanted versions, changes nothing", func(t *testing.T) {
		r := tend(t, env, "plan", install, "-i", invOpsRoot, "--json")
		r.wantExit(t, 2)
		evs := r.events(t)
		jq := sh(t, h0, "apt-cache policy jq | sed -n 's/^  Candidate: //p'")
		onig := sh(t, h0, "apt-cache policy libonig5 | sed -n 's/^  Candidate: //p'")
		for _, h := range all {
			if got := pkgChanges(task(t, evs, h.Name, "package.tree")); got != "version: (absent) → 2.1.0-1 (candidate)" {
				t.Errorf("%s: tree: %q", h.Name, got)
			}
			got := pkgChanges(task(t, evs, h.Name, "package.jq"))
			for _, want := range []string{"version: (absent) → " + jq + " (candidate)", "also libjq1: (absent) → " + jq, "also libonig5: (absent) → " + onig} {
				if !strings.Contains(got, want) {
					t.Errorf("%s: jq's plan lacks %q:\n%s", h.Name, want, got)
				}
			}
			if got := pkgChanges(task(t, evs, h.Name, "package.probe")); got != "version: (absent) → 1.0-1" {
				t.Errorf("%s: tend-probe: %q", h.Name, got)
			}
			pkgWant(t, h, map[string]string{"tree": "absent", "jq": "absent", "libjq1": "absent", "tend-probe": "absent"})
		}
		human := tend(t, env, "plan", install, "-i", invOpsRoot, "--limit", h0.Name)
		human.wantExit(t, 2)
		t.Logf("human plan:\n%s", human.stdout)
	})

	t.Run("apply installs, as ops with a sudo password and as root", func(t *testing.T) {
		r := tend(t, env, "apply", install, "-i", invOpsRoot, "--json")
		r.wantExit(t, 0)
		for _, h := range all {
			pkgWant(t, h, map[string]string{"tree": "installed 2.1.0-1", "jq": "installed", "libjq1": "installed", "libonig5": "installed", "tend-probe": "installed 1.0-1"})
			if got := sh(t, h, "cat /usr/share/tend-probe/VERSION; jq -n 1+1"); got != "1.0-1\n2" {
				t.Errorf("%s: installed files: %q", h.Name, got)
			}
		}
		pkgNoChange(t, env, install, invOpsRoot)
	})

	t.Run("without root the plan says what is missing", func(t *testing.T) {
		noBecome := pkgInventory(t, f, dir, "nobecome.hcl", false, "deploy", "deploy")
		latest := writeFile(t, filepath.Join(dir, "latest-nobecome.hcl"), "play \"p\" {\n  hosts = [\"all\"]\n  package \"tend-probe\" {\n    state = \"latest\"\n  }\n}\n")
		r := tend(t, nil, "plan", latest, "-i", noBecome, "--json")
		if r.code == 0 || r.code == 2 {
			t.Fatalf("want a failed plan:\n%s", r)
		}
		if e := task(t, r.events(t), h0.Name, "package.tend-probe"); !strings.Contains(e.Message, "changing packages needs root") || !strings.Contains(e.Message, "become = true") {
			t.Errorf("message: %s", e.Message)
		}
		// Nothing to change needs no root.
		tend(t, nil, "plan", install, "-i", noBecome).wantExit(t, 0)
	})

	t.Run("latest upgrades, a pinned version downgrades", func(t *testing.T) {
		latest := writeFile(t, filepath.Join(dir, "latest.hcl"), "play \"p\" {\n  hosts = [\"all\"]\n  package \"tend-probe\" {\n    state = \"latest\"\n  }\n}\n")
		p := tend(t, env, "plan", latest, "-i", invDeployOps, "--json")
		p.wantExit(t, 2)
		for _, h := range all {
			if got := pkgChanges(task(t, p.events(t), h.Name, "package.tend-probe")); got != "version: 1.0-1 → 1.1-1 (candidate)" {
				t.Errorf("%s: %q", h.Name, got)
			}
		}
		tend(t, env, "apply", latest, "-i", invDeployOps).wantExit(t, 0)
		for _, h := range all {
			pkgWant(t, h, map[string]string{"tend-probe": "installed 1.1-1"})
		}
		pkgNoChange(t, env, latest, invDeployOps)

		p = tend(t, env, "plan", install, "-i", invDeployOps, "--json")
		p.wantExit(t, 2)
		if got := pkgChanges(task(t, p.events(t), h0.Name, "package.probe")); got != "version: 1.1-1 → 1.0-1" {
			t.Errorf("downgrade plan: %q", got)
		}
		tend(t, env, "apply", install, "-i", invDeployOps).wantExit(t, 0)
		for _, h := range all {
			pkgWant(t, h, map[string]string{"tend-probe": "installed 1.0-1"})
		}
	})

	t.Run("absent removes, purge deletes the configuration", func(t *testing.T) {
		absent := writeFile(t, filepath.Join(dir, "absent.hcl"), "play \"p\" {\n  hosts = [\"all\"]\n  package \"tend-probe\" {\n    state = \"absent\"\n  }\n}\n")
		p := tend(t, env, "plan", absent, "-i", invOpsRoot, "--json")
		p.wantExit(t, 2)
		if got := pkgChanges(task(t, p.events(t), h0.Name, "package.tend-probe")); got != "version: 1.0-1 → " {
			t.Errorf("removal plan: %q", got)
		}
		tend(t, env, "apply", absent, "-i", invOpsRoot).wantExit(t, 0)
		for _, h := range all {
			pkgWant(t, h, map[string]string{"tend-probe": "config-files"})
			if got := sh(t, h, "cat /etc/tend-probe/probe.conf"); got != "greeting = hello" {
				t.Errorf("%s: the conffile should stay: %q", h.Name, got)
			}
		}
		pkgNoChange(t, env, absent, invOpsRoot)

		purge := writeFile(t, filepath.Join(dir, "purge.hcl"), "play \"p\" {\n  hosts = [\"all\"]\n  package \"tend-probe\" {\n    state = \"absent\"\n    purge = true\n  }\n}\n")
		p = tend(t, env, "plan", purge, "-i", invOpsRoot, "--json")
		p.wantExit(t, 2)
		if got := pkgChanges(task(t, p.events(t), h1.Name, "package.tend-probe")); got != "version: (config files) → (purged)" {
			t.Errorf("purge plan: %q", got)
		}
		tend(t, env, "apply", purge, "-i", invOpsRoot).wantExit(t, 0)
		for _, h := range all {
			pkgWant(t, h, map[string]string{"tend-probe": "absent"})
			if got := sh(t, h, "test -e /etc/tend-probe/probe.conf && echo there || echo gone"); got != "gone" {
				t.Errorf("%s: purge left the conffile", h.Name)
			}
		}
		pkgNoChange(t, env, purge, invOpsRoot)
	})

	t.Run("removing a library removes what depends on it, and says so", func(t *testing.T) {
		gone := writeFile(t, filepath.Join(dir, "gone.hcl"), "play \"p\" {\n  hosts = [\"all\"]\n  package \"libonig5\" {\n    state = \"absent\"\n    purge = true\n  }\n}\n")
		p := tend(t, env, "plan", gone, "-i", invOpsRoot, "--json")
		p.wantExit(t, 2)
		got := pkgChanges(task(t, p.events(t), h0.Name, "package.libonig5"))
		for _, want := range []string{"version: ", " → (purged)", "also jq: ", "also libjq1: "} {
			if !strings.Contains(got, want) {
				t.Errorf("plan lacks %q:\n%s", want, got)
			}
		}
		tend(t, env, "apply", gone, "-i", invOpsRoot).wantExit(t, 0)
		for _, h := range all {
			pkgWant(t, h, map[string]string{"jq": "absent", "libjq1": "absent", "libonig5": "absent", "tree": "installed"})
		}
	})

	t.Run("a failed host's revert undoes its package changes", func(t *testing.T) {
		// jq (with the two libraries it needs) goes in, tree goes out,
		// then a task fails: the revert removes what went in and puts
		// back what went out.
		failing := writeFile(t, filepath.Join(dir, "failing.hcl"), `play "failing" {
  hosts = ["all"]

  package "jq" {}

  package "tree" {
    state = "absent"
  }

  command "boom" {
    run = "false"
  }
}
`)
		r := tend(t, env, "apply", failing, "-i", invDeployOps, "--json")
		r.wantExit(t, 3)
		evs := r.events(t)
		for _, h := range all {
			if e := task(t, evs, h.Name, "package.jq"); e.Status != "changed" {
				t.Errorf("%s: jq: %s %s", h.Name, e.Status, e.Message)
			}
			if rc := recapOf(t, evs, h.Name); rc.Failed == 0 || !rc.Reverted || rc.RevertError != "" {
				t.Errorf("%s: recap %+v", h.Name, rc)
			}
			e := task(t, evs, h.Name, "revert")
			t.Logf("%s: revert: %s: %s", h.Name, e.Status, e.Message)
			pkgWant(t, h, map[string]string{"jq": "absent", "libjq1": "absent", "libonig5": "absent", "tree": "installed 2.1.0-1"})
		}
	})

	t.Run("update_cache refreshes the lists before installing", func(t *testing.T) {
		// Lists that do not know tend-probe: only update_cache lets
		// apply find it.
		for _, h := range all {
			sh(t, h, "rm -f /var/lib/apt/lists/*Packages* && apt-get -q update >/dev/null 2>&1 || true; mv /etc/apt/sources.list /etc/apt/sources.list.off && apt-get -q update >/dev/null 2>&1; mv /etc/apt/sources.list.off /etc/apt/sources.list")
		}
		plain := writeFile(t, filepath.Join(dir, "plain.hcl"), "play \"p\" {\n  hosts = [\"all\"]\n  package \"tend-probe\" {}\n}\n")
		r := tend(t, env, "plan", plain, "-i", invOpsRoot, "--json")
		r.wantExit(t, 3)
		if e := task(t, r.events(t), h0.Name, "package.tend-probe"); !strings.Contains(e.Message, "not available from the host's apt sources: run apt-get update or add update_cache = true") {
			t.Errorf("message: %s", e.Message)
		}
		refresh := writeFile(t, filepath.Join(dir, "refresh.hcl"), "play \"p\" {\n  hosts = [\"all\"]\n  package \"tend-probe\" {\n    update_cache = true\n  }\n}\n")
		p := tend(t, env, "plan", refresh, "-i", invOpsRoot, "--json")
		p.wantExit(t, 2)
		if got := pkgChanges(task(t, p.events(t), h0.Name, "package.tend-probe")); got != "version: (absent) → (candidate after apt-get update)" {
			t.Errorf("plan: %q", got)
		}
		tend(t, env, "apply", refresh, "-i", invOpsRoot).wantExit(t, 0)
		for _, h := range all {
			pkgWant(t, h, map[string]string{"tend-probe": "installed 1.1-1"})
		}
		pkgNoChange(t, env, refresh, invOpsRoot)
	})
}
