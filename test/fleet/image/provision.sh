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

# --- image hygiene ---------------------------------------------------------
# Every host gets its own host keys and machine id at boot time.
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/*.log /var/log/apt/* /tmp/* /var/tmp/*
