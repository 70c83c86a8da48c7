#!/bin/sh
# Runs once, chrooted into a fresh debootstrap root, after the files under
# rootfs/ were copied in. Everything here is part of the recipe hash.
set -eu

# --- users -----------------------------------------------------------------
# staffrota: system user owning the app; its home must be writable by it so
# gunicorn can create its unix socket there.
useradd --system --user-group --no-create-home \
	--home-dir /home/staff-rota-system --shell /usr/sbin/nologin staffrota
chown -R staffrota:staffrota /home/staff-rota-system
chmod 0755 /home/staff-rota-system /home/staff-rota-system/venv/bin/gunicorn
chmod 0750 /home/staff-rota-system/db

# deploy: passwordless sudo. ops: sudo needs a password, which is set per
# fleet at boot time. "*" (not "!") keeps key logins working for deploy.
useradd --create-home --user-group --shell /bin/bash deploy
usermod --password '*' deploy
useradd --create-home --user-group --shell /bin/bash ops
usermod --password '*' ops
chmod 0440 /etc/sudoers.d/deploy /etc/sudoers.d/ops
for u in root deploy ops; do
	home=$(getent passwd "$u" | cut -d: -f6)
	install -d -m 0700 -o "$u" -g "$u" "$home/.ssh"
done

# --- services --------------------------------------------------------------
systemctl enable staffrota.service ssh.service
# Nothing to wait for or to refresh in a throwaway container.
for unit in systemd-networkd-wait-online.service systemd-networkd.service \
	systemd-resolved.service systemd-timesyncd.service \
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
	e2scrub_all.timer e2scrub_reap.service fstrim.timer \
	systemd-tmpfiles-clean.timer man-db.timer \
	console-getty.service container-getty@.service \
	systemd-firstboot.service; do
	systemctl mask "$unit" >/dev/null
done

# --- local apt repository --------------------------------------------------
# The hosts have no network beyond the fleet: their only apt source is a
# flat repository in /srv/tend-apt, made here from the mirror debootstrap
# used (real packages, one with dependencies) and from two versions of a
# tiny package built on the spot (tend-probe: latest, pinning, downgrades,
# a conffile for remove versus purge).
repo=/srv/tend-apt
install -d -m 0755 "$repo"
apt-get -q update
(cd "$repo" && apt-get -q download tree jq libjq1 libonig5)
for v in 1.0-1 1.1-1; do
	pkg=$(mktemp -d)
	install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/share/tend-probe" "$pkg/etc/tend-probe"
	printf '%s\n' "$v" >"$pkg/usr/share/tend-probe/VERSION"
	printf 'greeting = hello\n' >"$pkg/etc/tend-probe/probe.conf"
	printf '/etc/tend-probe/probe.conf\n' >"$pkg/DEBIAN/conffiles"
	cat >"$pkg/DEBIAN/control" <<EOF
Package: tend-probe
Version: $v
Architecture: all
Maintainer: tend tests <tests@tend.invalid>
Section: misc
Priority: optional
Description: tend test package
 Installs /usr/share/tend-probe/VERSION, which holds its version, and a
 conffile, /etc/tend-probe/probe.conf.
EOF
	chmod -R u=rwX,go=rX "$pkg"
	SOURCE_DATE_EPOCH=1700000000 dpkg-deb --root-owner-group --build "$pkg" "$repo/tend-probe_${v}_all.deb" >/dev/null
	rm -rf "$pkg"
done
# The index: each package's control fields, then where it is and its digest
# (dpkg-scanpackages is in dpkg-dev, which is not installed).
(
	cd "$repo"
	for deb in *.deb; do
		dpkg-deb -f "$deb"
		printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$deb" \
			"$(stat -c %s "$deb")" "$(sha256sum "$deb" | cut -d' ' -f1)"
	done
) >"$repo/Packages"
chmod 0644 "$repo"/*
rm -rf /etc/apt/sources.list.d/*
printf 'deb [trusted=yes] file:/srv/tend-apt ./\n' >/etc/apt/sources.list
apt-get clean
rm -rf /var/lib/apt/lists/*
# The lists stay in the image: apt knows the local packages from the start.
apt-get -q update
apt-cache policy tend-probe | grep -q 'Candidate: 1.1-1'
apt-cache policy jq | grep -q 'Candidate: [0-9]'

# --- image hygiene ---------------------------------------------------------
# Every host gets its own host keys and machine id at boot time. The apt
# lists of the local repository stay (apt-get clean ran above).
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
rm -rf /var/log/*.log /var/log/apt/* /tmp/* /var/tmp/*
