#!/usr/bin/env bash
# The demo: run by `make demo` inside a throwaway fleet (test/fleet), which
# exports TEND_FLEET_INVENTORY. It shows plan, apply and plan again on the
# staffrota example, and fails loudly if an exit code is not the documented one.
set -uo pipefail
cd "$(dirname "$0")/.."
tend=./bin/tend
playbook=examples/staffrota/harden.hcl
inv=${TEND_FLEET_INVENTORY:?run me through: make demo}

step() {
	printf '\n\033[1;34m$ %s\033[0m\n' "$*"
}

expect() { # expect WANT GOT WHAT
	if [ "$1" != "$2" ]; then
		printf '\n\033[1;31mdemo: %s exited %s, expected %s\033[0m\n' "$3" "$2" "$1"
		exit 1
	fi
}

echo "A throwaway fleet of real Debian hosts (systemd-nspawn) is up; its inventory:"
step tend inventory -i inventory.hcl
$tend inventory -i "$inv"

step tend validate $playbook -i inventory.hcl
$tend validate "$playbook" -i "$inv"
expect 0 $? "tend validate"

step tend plan $playbook -i inventory.hcl
$tend plan "$playbook" -i "$inv"
expect 2 $? "tend plan (fresh hosts: changes pending)"

step tend apply $playbook -i inventory.hcl
$tend apply "$playbook" -i "$inv"
expect 0 $? "tend apply"

step tend plan $playbook -i inventory.hcl
$tend plan "$playbook" -i "$inv"
expect 0 $? "tend plan (converged: in sync)"

printf '\n\033[1;32mdemo: plan → apply → plan converged every host; the second plan found nothing to change.\033[0m\n'
