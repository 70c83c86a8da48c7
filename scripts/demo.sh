#!/usr/bin/env bash
# The demo: run by `make demo` inside a throwaway fleet (test/fleet), which
# exports TEND_FLEET_INVENTORY. It shows plan, apply and plan again on the
# staffrota example, then a canary rollout of a broken change that is put
# back on the canary and never reaches the other hosts, then the good change
# rolling out in batches, and ends with tend check, the fleet's health
# report; it fails loudly if an exit code is not the
# documented one.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
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

# A broken change: the app's callable is misspelt, so gunicorn's workers
# fail to boot. With a canary, one host gets it, fails, and is put back.
fixed=""
broken=$(mktemp /tmp/tend-demo-broken.XXXXXX.hcl)
trap 'rm -f "$broken" "$fixed"' EXIT
sed 's/rotasystems.wsgi:application/rotasystems.wsgi:aplication/' "$playbook" >"$broken"
step tend apply broken.hcl -i inventory.hcl --canary 1 "   # app = \"rotasystems.wsgi:aplication\""
$tend apply "$broken" -i "$inv" --canary 1 --var health_retries=3
expect 3 $? "tend apply of a broken change (the canary fails and is reverted; the rollout halts)"

step tend plan $playbook -i inventory.hcl
$tend plan "$playbook" -i "$inv"
expect 0 $? "tend plan (the canary was put back: every host in sync)"

# The good change, rolled out one host after another.
fixed=$(mktemp /tmp/tend-demo-fixed.XXXXXX.hcl)
sed 's/timeout     = 60/timeout     = 90/' "$playbook" >"$fixed"
step tend apply fixed.hcl -i inventory.hcl --canary 1 --batch 50% "   # timeout = 90"
$tend apply "$fixed" -i "$inv" --canary 1 --batch 50%
expect 0 $? "tend apply of a good change in a canary and batches"

# The fleet's health, read-only: the plays' health checks once each, the
# report's verification list (verify.hcl) and staffrota.service's state,
# with a Nagios exit code and a Prometheus textfile.
verify=examples/staffrota/verify.hcl
prom=$(mktemp /tmp/tend-demo-prom.XXXXXX)
state=$(mktemp -d /tmp/tend-demo-state.XXXXXX)
trap 'rm -rf "$broken" "$fixed" "$prom" "$state"' EXIT
step tend check $playbook $verify -i inventory.hcl --prometheus tend.prom
$tend check "$playbook" "$verify" -i "$inv" --prometheus "$prom" --state "$state/check.json"
expect 0 $? "tend check (every host healthy)"
grep '^tend_health_up' "$prom" | head -4

printf '\n\033[1;32mdemo: plan → apply → plan converged every host; a broken change was stopped at its canary and put back; the good one rolled out; tend check found every host healthy.\033[0m\n'
