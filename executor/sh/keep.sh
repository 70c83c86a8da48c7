# tend_keep PATH keeps what PATH is before this run first changes it, so
# that a host the run fails on can be put back (see revert.sh). It does
# nothing unless the run set tend_run (its id: a run that reverts). In
# $tend_sd/revert/$tend_run/, KEY.meta holds two lines: what PATH was
# ("absent", "file MODE OWNER GROUP", "dir MODE OWNER GROUP" or
# "link TARGET") and PATH; KEY.data holds a file's bytes. KEY is the order
# of the change in the run and the SHA-256 of PATH. Only the first
# change of a path in a run is kept. The first keep of a run removes what
# an earlier run kept (the run lock makes this run the only one).
#
# The caller has checked PATH's directory with tend_trust: as root, a file
# is read as root only where nobody else can swap it, and as tend_as (its
# owner) in a directory of that owner.
tend_keep() {
	[ -n "${tend_run:-}" ] || return 0
	tend_state_dir create || return 1
	tk_d=$tend_sd/revert/$tend_run
	if [ ! -d "$tk_d" ]; then
		rm -rf -- "$tend_sd/revert" || return 1
		(umask 077 && mkdir -p -- "$tk_d") || return 1
	fi
	tk_h=$(printf '%s' "$1" | sha256sum) || return 1
	tk_h=${tk_h%% *}
	set -- "$1" "$tk_d"/*.meta
	for tk_f in "$@"; do
		case $tk_f in *-"$tk_h".meta) return 0 ;; esac
	done
	tk_n=$#
	[ -e "$2" ] || tk_n=1
	tk_k=$tk_d/$(printf '%06d' "$tk_n")-$tk_h
	if [ -L "$1" ]; then
		tk_m="link $(readlink -- "$1")" || return 1
	elif [ -f "$1" ]; then
		if [ "${tend_as:-$tend_user}" != "$tend_user" ]; then
			runuser -u "$tend_as" -- cat -- "$1" >"$tk_k.data" || return 1
		else
			cat -- "$1" >"$tk_k.data" || return 1
		fi
		tk_m="file $(stat -c '%a %U %G' -- "$1")" || return 1
	elif [ -d "$1" ]; then
		tk_m="dir $(stat -c '%a %U %G' -- "$1")" || return 1
	elif [ -e "$1" ]; then
		printf 'tend: %s is neither a file, a directory nor a symbolic link: it cannot be kept for a revert\n' "$1" >&2
		return 1
	else
		tk_m=absent
	fi
	printf '%s\n%s\n' "$tk_m" "$1" >"$tk_k.meta.tmp" && mv -f -- "$tk_k.meta.tmp" "$tk_k.meta"
}

# tend_keep_dirs PATH keeps PATH and each of its ancestors that does not
# exist yet (mkdir -p makes them all), outermost first: a revert removes
# them innermost first.
tend_keep_dirs() {
	[ -n "${tend_run:-}" ] || return 0
	tkd_p=$1 tkd_l=''
	while [ -n "$tkd_p" ] && [ ! -e "$tkd_p" ] && [ ! -L "$tkd_p" ]; do
		tkd_l="$tkd_p
$tkd_l"
		tkd_p=${tkd_p%/*}
	done
	[ -n "$tkd_l" ] || tkd_l=$1
	while IFS= read -r tkd_p; do
		[ -z "$tkd_p" ] || tend_keep "$tkd_p" || return 1
	done <<EOF2
$tkd_l
EOF2
}
