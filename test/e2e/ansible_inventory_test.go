//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestAnsibleInventories drives the staffrota example on real hosts from
// Ansible inventories: the INI one the benchmark gives ansible-playbook
// (fleet.WriteAnsibleInventory: ansible_host, ansible_user,
// ansible_ssh_private_key_file, ansible_ssh_common_args with
// UserKnownHostsFile, ansible_become and workers in [web:vars]) applies
// the playbook, and then it and a YAML inventory of the same hosts plan no
// change on the same hosts.
func TestAnsibleInventories(t *testing.T) {
	f := bootFleet(t, "ans", 2)
	dir := t.TempDir()
	ini := filepath.Join(dir, "hosts.ini")
	if err := f.WriteAnsibleInventory(ini, "deploy"); err != nil {
		t.Fatal(err)
	}
	var y strings.Builder
	y.WriteString("# The fleet as an Ansible YAML inventory.\nall:\n  children:\n    prod:\n      children:\n        web:\n          hosts:\n")
	for _, h := range f.Hosts {
		fmt.Fprintf(&y, "            %s:\n              ansible_host: %s\n", h.Name, h.Address)
	}
	fmt.Fprintf(&y, `          vars:
            workers: 2
      vars:
        ansible_user: deploy
        ansible_port: 22
        ansible_ssh_private_key_file: %s
        ansible_ssh_common_args: -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes
        ansible_become: yes
        ansible_python_interpreter: /usr/bin/python3
`, f.ClientKey, f.KnownHosts)
	yml := filepath.Join(dir, "hosts.yml")
	if err := os.WriteFile(yml, []byte(y.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(ini)
	t.Logf("hosts.ini:\n%s\nhosts.yml:\n%s", src, y.String())

	want := make([]string, 0, len(f.Hosts))
	for _, h := range f.Hosts {
		want = append(want, h.Name)
	}
	recapHosts := func(t *testing.T, evs []event) string {
		var names []string
		for name := range recap(evs) {
			names = append(names, name)
		}
		sort.Strings(names)
		return strings.Join(names, ",")
	}

	t.Run("the INI inventory reads without a warning", func(t *testing.T) {
		r := tend(t, nil, "inventory", "-i", ini)
		r.wantExit(t, 0)
		if r.stderr != "" {
			t.Errorf("warnings for the benchmark's Ansible inventory:\n%s", r.stderr)
		}
		for _, h := range f.Hosts {
			if !strings.Contains(r.stdout, fmt.Sprintf("%s  (ssh deploy@%s:22)  become root", h.Name, h.Address)) {
				t.Errorf("%s is not reached as deploy@%s with become:\n%s", h.Name, h.Address, r.stdout)
			}
		}
	})

	t.Run("apply with the INI inventory", func(t *testing.T) {
		r := tend(t, nil, "apply", playbook, "-i", ini, "--json")
		r.wantExit(t, 0)
		evs := r.events(t)
		if got := recapHosts(t, evs); got != strings.Join(want, ",") {
			t.Fatalf("applied to %s, want %s", got, strings.Join(want, ","))
		}
		for _, h := range f.Hosts {
			if e := task(t, evs, h.Name, "gunicorn_service.staffrota"); e.Status != "changed" {
				t.Errorf("%s: unit task %s, want changed: %s", h.Name, e.Status, e.Message)
			}
			if e := task(t, evs, h.Name, "health_check.staffrota"); e.Status != "ok" {
				t.Errorf("%s: health check %s: %s", h.Name, e.Status, e.Message)
			}
			// workers comes from [web:vars].
			if unit := sh(t, h, "cat "+unitPath); !strings.Contains(unit, "--workers 2") {
				t.Errorf("%s: unit lacks --workers 2:\n%s", h.Name, unit)
			}
			if got := sh(t, h, "systemctl show -p ActiveState --value staffrota"); got != "active" {
				t.Errorf("%s: staffrota is %s", h.Name, got)
			}
		}
	})

	for _, inv := range []string{ini, yml} {
		t.Run("plan with "+filepath.Base(inv)+" shows no changes", func(t *testing.T) {
			r := tend(t, nil, "plan", playbook, "-i", inv, "--json")
			r.wantExit(t, 0)
			evs := r.events(t)
			if got := recapHosts(t, evs); got != strings.Join(want, ",") {
				t.Errorf("planned %s, want %s", got, strings.Join(want, ","))
			}
			if tot := evs[len(evs)-1].Totals; tot == nil || tot.Changed != 0 || tot.Failed != 0 || tot.Unreachable != 0 || tot.Hosts != len(want) {
				t.Errorf("plan totals %+v, want %d hosts, nothing to change\n%s", tot, len(want), r)
			}
			human := tend(t, nil, "plan", playbook, "-i", inv)
			human.wantExit(t, 0)
			if !strings.Contains(human.stdout, "No changes") {
				t.Errorf("plan on converged hosts should say so:\n%s", human.stdout)
			}
		})
	}
}
