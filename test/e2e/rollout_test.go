//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/test/fleet"
)

// recapOf returns host's entry in the final recap.
func recapOf(t *testing.T, evs []event, host string) struct {
	Failed               int
	NotStarted, Reverted bool
	RevertError, Error   string
} {
	t.Helper()
	for _, r := range evs[len(evs)-1].Recap {
		if r.Host == host {
			return struct {
				Failed               int
				NotStarted, Reverted bool
				RevertError, Error   string
			}{r.Failed, r.NotStarted, r.Reverted, r.RevertError, r.Error}
		}
	}
	t.Fatalf("no recap for %s", host)
	return struct {
		Failed               int
		NotStarted, Reverted bool
		RevertError, Error   string
	}{}
}

// serving checks that host serves the hardened app: the unit active, the
// pages and /health/ answering as the seed's verification list says.
func serving(t *testing.T, h *fleet.Host) {
	t.Helper()
	if got := sh(t, h, "systemctl show -p ActiveState --value staffrota"); got != "active" {
		t.Errorf("%s: staffrota is %s", h.Name, got)
	}
	for path, want := range map[string]string{"/": "200", "/health/": "200", "/dashboard/": "302"} {
		if got := httpCode(t, h, path); got != want {
			t.Errorf("%s: GET %s = %s, want %s", h.Name, path, got, want)
		}
	}
}

// A broken change rolled out with a canary touches one host, is put back
// there byte for byte, and never reaches the others; batches halt as
// specified; --no-revert leaves the broken hosts for inspection; a failed
// health check and an unsettled unit are both reverted; a revert that
// cannot make the host healthy again (a command it cannot undo) says so.
func TestRolloutAndRevert(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "frollout", 4, "deploy")
	hosts := f.Hosts
	good := readFile(t, playbook)
	tend(t, nil, "apply", playbook, "-i", inv, "--json").wantExit(t, 0)
	converged := map[string]hostState{}
	for _, h := range hosts {
		converged[h.Name] = snapshot(t, h)
	}
	unchanged := func(t *testing.T, hs ...*fleet.Host) {
		t.Helper()
		for _, h := range hs {
			if now := snapshot(t, h); now != converged[h.Name] {
				t.Errorf("%s was touched:\nbefore %+v\nafter  %+v", h.Name, converged[h.Name], now)
			}
		}
	}
	// The app's callable does not exist (nothing a preflight can see):
	// gunicorn's workers fail to boot, it exits, and systemd loops
	// restarting it.
	broken := writeFile(t, filepath.Join(dir, "broken.hcl"),
		strings.Replace(good, `app         = "rotasystems.wsgi:application"`, `app         = "rotasystems.wsgi:no_such_app"`, 1))
	if broken == "" || readFile(t, broken) == good {
		t.Fatal("could not write the broken playbook")
	}

	t.Run("canary: one host changed and put back, the others untouched", func(t *testing.T) {
		r := tend(t, nil, "apply", broken, "-i", inv, "--json", "--canary", "1")
		r.wantExit(t, 3)
		evs := r.events(t)
		canary := hosts[0]
		// The restart's settle check sees the crash (with the journal's
		// ImportError) — or, on a loaded machine where the workers take
		// longer than the settle time to fail, the check after apply finds
		// the unit in its crash loop. Either way the task fails.
		e := task(t, evs, canary.Name, "gunicorn_service.staffrota")
		settled := (strings.Contains(e.Message, "did not stay up") || strings.Contains(e.Message, "restart staffrota.service failed")) && strings.Contains(e.Message, "no_such_app")
		if e.Status != "failed" || !(settled || strings.Contains(e.Message, "crash loop")) {
			t.Errorf("canary task: %s: %s", e.Status, e.Message)
		}
		if rc := recapOf(t, evs, canary.Name); !rc.Reverted || rc.RevertError != "" {
			t.Errorf("canary recap: %+v", rc)
		}
		if e := task(t, evs, canary.Name, "revert"); e.Status != "changed" || !strings.Contains(e.Message, "health checks pass") {
			t.Errorf("revert event: %s: %s", e.Status, e.Message)
		}
		now := snapshot(t, canary)
		if now.unitSum != converged[canary.Name].unitSum {
			t.Errorf("canary's unit is not the one it had: %s", sh(t, canary, "cat "+unitPath))
		}
		if now.listing != converged[canary.Name].listing {
			t.Errorf("canary's directories differ after the revert:\nbefore %s\nafter  %s", converged[canary.Name].listing, now.listing)
		}
		serving(t, canary)
		for _, h := range hosts[1:] {
			if rc := recapOf(t, evs, h.Name); !rc.NotStarted || !strings.Contains(rc.Error, "rollout halted after 1 failed host") {
				t.Errorf("%s: %+v", h.Name, rc)
			}
		}
		unchanged(t, hosts[1:]...)
		// plan still shows what the halted hosts would get.
		p := tend(t, nil, "plan", broken, "-i", inv, "--json")
		p.wantExit(t, 2)
		for _, h := range hosts {
			if e := task(t, p.events(t), h.Name, "gunicorn_service.staffrota"); e.Status != "change" {
				t.Errorf("plan after the halt: %s: %s", h.Name, e.Status)
			}
		}
	})

	t.Run("batches halt; --no-revert leaves the failed hosts broken", func(t *testing.T) {
		r := tend(t, nil, "apply", broken, "-i", inv, "--json", "--batch", "2", "--no-revert")
		r.wantExit(t, 3)
		evs := r.events(t)
		for _, h := range hosts[:2] {
			if rc := recapOf(t, evs, h.Name); rc.Failed == 0 || rc.Reverted || rc.NotStarted {
				t.Errorf("%s: %+v", h.Name, rc)
			}
			if !strings.Contains(sh(t, h, "cat "+unitPath), "no_such_app") {
				t.Errorf("%s: the broken unit should be left for inspection", h.Name)
			}
		}
		for _, h := range hosts[2:] {
			if rc := recapOf(t, evs, h.Name); !rc.NotStarted {
				t.Errorf("%s: %+v", h.Name, rc)
			}
		}
		unchanged(t, hosts[2:]...)
		// The good playbook repairs them (their baseline health check fails
		// fast: they are broken).
		tend(t, nil, "apply", playbook, "-i", inv, "--json", "--var", "health_retries=3").wantExit(t, 0)
		for _, h := range hosts[:2] {
			serving(t, h)
		}
	})

	t.Run("a failed health check is reverted", func(t *testing.T) {
		for _, h := range hosts {
			converged[h.Name] = snapshot(t, h)
		}
		// gunicorn runs and settles on another socket; the health check
		// asks the one the site uses, which is gone.
		moved := writeFile(t, filepath.Join(dir, "moved.hcl"),
			strings.Replace(good, `bind        = "unix:${var.app_dir}/staffrota.sock"`, `bind        = "unix:${var.app_dir}/moved.sock"`, 1))
		r := tend(t, nil, "apply", moved, "-i", inv, "--json", "--canary", "1", "--var", "health_retries=3")
		r.wantExit(t, 3)
		evs := r.events(t)
		if e := task(t, evs, hosts[0].Name, "gunicorn_service.staffrota"); e.Status != "changed" {
			t.Errorf("unit: %s: %s", e.Status, e.Message)
		}
		if e := task(t, evs, hosts[0].Name, "health_check.staffrota"); e.Status != "failed" {
			t.Errorf("health check: %s: %s", e.Status, e.Message)
		}
		if rc := recapOf(t, evs, hosts[0].Name); !rc.Reverted {
			t.Errorf("recap: %+v", rc)
		}
		if now := snapshot(t, hosts[0]); now.unitSum != converged[hosts[0].Name].unitSum {
			t.Errorf("unit not put back: %s", sh(t, hosts[0], "cat "+unitPath))
		}
		serving(t, hosts[0])
		unchanged(t, hosts[1:]...)
	})

	t.Run("a revert that cannot undo a command fails loudly", func(t *testing.T) {
		breakDB := writeFile(t, filepath.Join(dir, "breakdb.hcl"), strings.Replace(good, "  health_check \"staffrota\" {",
			"  command \"drop-db\" {\n    run = \"rm -f "+dbMarker+"\"\n  }\n\n  health_check \"staffrota\" {", 1))
		defer func() {
			for _, h := range hosts {
				sh(t, h, "touch "+dbMarker+" && chown staffrota: "+dbMarker)
			}
		}()
		r := tend(t, nil, "apply", breakDB, "-i", inv, "--json", "--canary", "1", "--var", "health_retries=2")
		r.wantExit(t, 3)
		evs := r.events(t)
		rc := recapOf(t, evs, hosts[0].Name)
		if rc.Reverted || !strings.Contains(rc.RevertError, "still fails") || !strings.Contains(rc.RevertError, "cannot be undone; these were made and stay done: command.drop-db") {
			t.Errorf("recap: %+v", rc)
		}
		e := task(t, evs, hosts[0].Name, "revert")
		if e.Status != "failed" || !strings.Contains(e.Message, "REVERT FAILED") {
			t.Errorf("revert event: %s: %s", e.Status, e.Message)
		}
		sh(t, hosts[0], "touch "+dbMarker+" && chown staffrota: "+dbMarker)
		r2 := tend(t, nil, "apply", breakDB, "-i", inv, "--canary", "1", "--var", "health_retries=2", "--no-color")
		if !strings.Contains(r2.stdout, "stay done: command.drop-db") || !strings.Contains(r2.stdout, "REVERT FAILED") {
			t.Errorf("the human output should name the command it could not undo:\n%s", r2.stdout)
		}
		t.Logf("human output:\n%s", r2.stdout)
	})
}

// The revert works for each login shape: root, a sudo user without a
// password, a sudo user with one. Without rollout settings every host
// gets the broken change at once, and every one is put back.
func TestRevertEveryLogin(t *testing.T) {
	f := bootFleet(t, "frevlogin", 3)
	dir := t.TempDir()
	inv := mixedInventory(t, f, dir, "")
	env := []string{"TEND_E2E_SUDO_PASSWORD=" + f.SudoPassword}
	good := readFile(t, playbook)
	tend(t, env, "apply", playbook, "-i", inv, "--json").wantExit(t, 0)
	before := map[string]hostState{}
	for _, h := range f.Hosts {
		before[h.Name] = snapshot(t, h)
	}
	broken := writeFile(t, filepath.Join(dir, "broken.hcl"),
		strings.Replace(good, `app         = "rotasystems.wsgi:application"`, `app         = "rotasystems.wsgi:no_such_app"`, 1))
	r := tend(t, env, "apply", broken, "-i", inv, "--json")
	r.wantExit(t, 3)
	evs := r.events(t)
	for i, h := range f.Hosts {
		if rc := recapOf(t, evs, h.Name); rc.Failed == 0 || !rc.Reverted {
			t.Errorf("%s (login %s): %+v", h.Name, logins[i], rc)
		}
		if now := snapshot(t, h); now.unitSum != before[h.Name].unitSum || now.listing != before[h.Name].listing {
			t.Errorf("%s (login %s) not put back:\nbefore %+v\nafter  %+v", h.Name, logins[i], before[h.Name], now)
		}
		serving(t, h)
	}
	// Nothing is left pending: the next apply of the good playbook is a
	// no-op.
	again := tend(t, env, "apply", playbook, "-i", inv, "--json")
	again.wantExit(t, 0)
	if tot := again.events(t)[len(again.events(t))-1].Totals; tot == nil || tot.Changed != 0 {
		t.Errorf("after the revert, the good playbook still changed something: %+v\n%s", tot, again)
	}
}

// Check before you swap. A validate command keeps a bad sshd drop-in out:
// the new file is checked in place (sshd -t -f) before it replaces
// anything, and sshd keeps running with what it had; a good one goes in.
// plan's preflight finds what a unit needs and the host lacks (its User=,
// its socket directory) before apply touches anything.
func TestCheckBeforeSwap(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "fvalidate", 1, "deploy")
	h := f.Hosts[0]
	const dropIn = "/etc/ssh/sshd_config.d/50-tend.conf"
	pb := func(content string) string {
		return writeFile(t, filepath.Join(dir, "ssh.hcl"), `
play "ssh" {
  hosts = ["all"]
  file "`+dropIn+`" {
    content  = "`+content+`"
    validate = "/usr/sbin/sshd -t -f %s"
  }
}
`)
	}
	r := tend(t, nil, "apply", pb(`PermitRootLogin maybe\n`), "-i", inv, "--json")
	r.wantExit(t, 3)
	e := task(t, r.events(t), h.Name, "file."+dropIn)
	if e.Status != "failed" || !strings.Contains(e.Message, "rejected by its validate command") || !strings.Contains(e.Message, `unsupported option "maybe"`) {
		t.Errorf("bad drop-in: %s: %s", e.Status, e.Message)
	}
	if got := sh(t, h, "ls -A /etc/ssh/sshd_config.d/ | grep -c -e 50-tend -e .tend- || true"); got != "0" {
		t.Errorf("the bad drop-in or its temporary file is on the host: %s", sh(t, h, "ls -A /etc/ssh/sshd_config.d/"))
	}
	good := tend(t, nil, "apply", pb(`PermitRootLogin prohibit-password\n`), "-i", inv, "--json")
	good.wantExit(t, 0)
	if got := sh(t, h, "cat "+dropIn); got != "PermitRootLogin prohibit-password" {
		t.Errorf("good drop-in: %q", got)
	}

	// A unit file systemd would run without one of its lines (a misspelt
	// key) is kept out by systemd-analyze verify, before the rename.
	typo := writeFile(t, filepath.Join(dir, "typo.hcl"), `
play "typo" {
  hosts = ["all"]
  systemd_unit "tend-e2e-typo.service" {
    content = "[Service]\nExecStart=/bin/sleep infinity\nRestrt=always\n"
    state   = "started"
  }
}
`)
	tr := tend(t, nil, "apply", typo, "-i", inv, "--json")
	tr.wantExit(t, 3)
	if e := task(t, tr.events(t), h.Name, "systemd_unit.tend-e2e-typo.service"); e.Status != "failed" || !strings.Contains(e.Message, "Unknown key 'Restrt'") {
		t.Errorf("a unit with a misspelt key: %s: %s", e.Status, e.Message)
	}
	if got := sh(t, h, "ls -A /etc/systemd/system | grep -c -e tend-e2e-typo -e .tend- || true"); got != "0" {
		t.Errorf("the unit or its temporary file is on the host")
	}

	harden := readFile(t, playbook)
	for _, tc := range []struct{ from, to, want string }{
		{`user        = "staffrota"`, `user        = "staffrot"`, "preflight: User=staffrot does not exist on the host"},
		{`bind        = "unix:${var.app_dir}/staffrota.sock"`, `bind        = "unix:/root/staffrota.sock"`, "preflight: staffrota cannot create its socket /root/staffrota.sock"},
	} {
		before := snapshot(t, h)
		pb := writeFile(t, filepath.Join(dir, "preflight.hcl"), strings.Replace(harden, tc.from, tc.to, 1))
		if readFile(t, pb) == harden {
			t.Fatalf("could not change %s", tc.from)
		}
		r := tend(t, nil, "plan", pb, "-i", inv, "--json")
		r.wantExit(t, 3)
		if e := task(t, r.events(t), h.Name, "gunicorn_service.staffrota"); e.Status != "failed" || !strings.Contains(e.Message, tc.want) {
			t.Errorf("plan: %s: %s, want %q", e.Status, e.Message, tc.want)
		}
		a := tend(t, nil, "apply", pb, "-i", inv, "--json")
		a.wantExit(t, 3)
		if after := snapshot(t, h); after != before {
			t.Errorf("apply changed the host although the preflight failed:\nbefore %+v\nafter  %+v", before, after)
		}
	}
}

// A saved plan is applied exactly: after one host drifted, apply of the
// plan changes the others and refuses that one, untouched; show renders
// the plan, for people and as JSON; a changed playbook voids the plan.
func TestSavedPlan(t *testing.T) {
	f, dir, inv := fleetWithInventory(t, "fsaved", 3, "deploy")
	env := []string{"TEND_PLAN_KEY_FILE=" + filepath.Join(dir, "plan.key")}
	tend(t, env, "apply", playbook, "-i", inv, "--json").wantExit(t, 0)
	pb := writeFile(t, filepath.Join(dir, "timeout.hcl"), strings.Replace(readFile(t, playbook), "timeout     = 60", "timeout     = 90", 1))
	saved := filepath.Join(dir, "timeout.plan")
	p := tend(t, env, "plan", pb, "-i", inv, "--out", saved, "--json")
	p.wantExit(t, 2)
	if strings.Contains(readFile(t, saved), "--timeout 60") == false {
		t.Errorf("the saved plan should show the diff:\n%s", readFile(t, saved))
	}
	show := tend(t, env, "show", saved, "--no-color")
	show.wantExit(t, 0)
	if !strings.Contains(show.stdout, "+ExecStart="+appDir+"/venv/bin/gunicorn --workers 2 --timeout 90") {
		t.Errorf("show:\n%s", show.stdout)
	}
	if js := tend(t, env, "show", saved, "--json"); js.code != 0 || !strings.Contains(js.stdout, `"tend_plan": 1`) {
		t.Errorf("show --json:\n%s", js)
	}

	// Other variables than the plan's: refused before any connection.
	vars := tend(t, env, "apply", saved, "--var", "settle=5s")
	vars.wantExit(t, 5)
	if !strings.Contains(vars.stderr, "made with other variables") {
		t.Errorf("other variables:\n%s", vars)
	}

	drifted := f.Hosts[1]
	sh(t, drifted, "sed -i 's/--workers 2/--workers 3/' "+unitPath)
	before := snapshot(t, drifted)
	r := tend(t, env, "apply", saved, "--json")
	r.wantExit(t, 3)
	evs := r.events(t)
	for _, h := range f.Hosts {
		rc := recapOf(t, evs, h.Name)
		if h == drifted {
			if rc.Failed == 0 || !strings.Contains(rc.Error, "changed since the plan: gunicorn_service.staffrota") {
				t.Errorf("%s: %+v", h.Name, rc)
			}
			continue
		}
		if rc.Failed != 0 {
			t.Errorf("%s: %+v", h.Name, rc)
		}
		if !strings.Contains(sh(t, h, "cat "+unitPath), "--timeout 90") {
			t.Errorf("%s: the plan was not applied", h.Name)
		}
	}
	if after := snapshot(t, drifted); after != before {
		t.Errorf("the drifted host was touched:\nbefore %+v\nafter  %+v", before, after)
	}

	// The playbook changed: the plan is void, nothing is contacted.
	writeFile(t, pb, readFile(t, pb)+"\n# edited\n")
	void := tend(t, env, "apply", saved)
	void.wantExit(t, 5)
	if !strings.Contains(void.stderr, "changed since the plan was made") {
		t.Errorf("a changed playbook:\n%s", void)
	}
	// Another controller key cannot apply it.
	other := tend(t, []string{"TEND_PLAN_KEY_FILE=" + filepath.Join(dir, "other.key")}, "apply", saved)
	other.wantExit(t, 5)
}
