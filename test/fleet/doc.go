// Package fleet boots fleets of real Debian hosts for tend's end-to-end
// tests, demos and benchmarks: systemd-nspawn containers running systemd
// 252 as PID 1 and OpenSSH, each in a network namespace of its own, reachable
// from the machine over SSH at an address of 10.213.0.0/16.
//
// # Requirements
//
// Root, and the Debian packages debootstrap, systemd-container,
// openssh-client and iproute2 (install-deps.sh installs them). The machine
// does not need to run systemd itself. The first Up builds the base root
// with debootstrap from the machine's Debian mirror (about a minute, 240 MB)
// and caches it under DefaultCacheDir, keyed by RecipeHash; later runs reuse
// it.
//
// # Use in tests
//
//	f, err := fleet.Up(ctx, fleet.Options{Hosts: 2, Log: os.Stderr})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { f.Down() })
//	out, err := f.Hosts[0].SSH(ctx, "deploy", "sudo -n systemctl is-active staffrota")
//
// Tests should skip when Check fails, unless CI=true. Up and Down install
// no signal handlers; the fleet command does.
//
// # The hosts
//
// Every host is an overlay on the shared base root, so changes stay on that
// host and vanish with Down. Each gets its own SSH host keys (ed25519 and
// ecdsa), machine id and hostname (h1, h2, ...); /etc/hosts names every host
// of the fleet. The hosts have no default route: they reach the machine's
// end of their link and nothing else. Options.Behind hides hosts behind
// another host of the fleet (a bastion): once booted, only the bastion
// reaches them; Host.SSH then goes through it.
//
// Users: root and deploy (passwordless sudo) and ops (sudo asks for
// Fleet.SudoPassword) all accept Fleet.ClientKey. sshd allows root logins
// by key, does no reverse DNS and allows 100 unauthenticated connections and
// 50 sessions per connection.
//
// The base carries "staffrota", a stand-in for the app of an outage report,
// in its pre-hardening state: a standard-library WSGI app in
// /home/staff-rota-system/rotasystems/wsgi.py served by Debian's gunicorn
// (through /home/staff-rota-system/venv/bin/gunicorn) as user staffrota from
// staffrota.service, enabled, with no --timeout and no Restart=. It listens
// on the unix socket AppSocket. GET / answers 200 with HTML; /health/ 200
// with {"status": "ok", "timestamp": ..., "checks": {"database": "ok"}}
// while AppDBMarker exists and 503 with status "error" once it is removed;
// /dashboard/ 302 to /login/?next=/dashboard/; anything else 404.
//
// # What a fleet makes, and cleaning up
//
// For fleet NAME and host hN: a network namespace, a veth link and an nspawn
// machine all named NAME-hN, cgroups tend-fleet/NAME-hN in every
// process-tracking cgroup hierarchy, an overlay mount under the fleet's
// directory (DefaultWorkRoot/NAME unless Options.WorkDir is set), and the
// lock files /run/tend-fleet/fleets/NAME.lock (which records all of this)
// and /run/tend-fleet/slots/N.lock (the fleet's block of addresses). Down
// removes all of it. If the owning process dies instead, its containers shut
// down by themselves (systemd-nspawn runs with a parent-death signal), and
// the rest is removed by the next Up or by Cleanup; fleets whose owner is
// alive are never touched.
package fleet
