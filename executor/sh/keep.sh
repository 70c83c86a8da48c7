# tend_keep PATH [attrs] keeps what PATH is before this run first changes
# it, so that a host the run fails on can be put back (see revert.sh). It
# does nothing unless the run set tend_run (its id: a run that reverts).
# With "attrs" only the mode and ownership will change (chmod, chown): the
# content is not copied, and the revert changes them back in place.
#
# In $tend_sd/revert/$tend_run/ (private to its user, removed when the run
# ends), KEY is the order of the change in the run and the SHA-256 of PATH:
#
#   KEY.path  PATH itself, as bytes (paths with a newline are refused)
#   KEY.meta  one line: "absent", "file MODE UID GID", "attrs MODE UID GID",
#             "dir MODE UID GID", "link" or "unkept REASON"
#   KEY.data  a file's bytes; KEY.lnk a copy of a symbolic link
#
# Only the first change of a path in a run is kept (attributes first, then
# content: the content is added). The first keep of a run removes what an
# earlier run left (the run lock makes this run the only one).
#
# The caller has checked PATH's directory with tend_trust. A file's bytes are
# read as its owner unless that is root in a directory only root can change
# (or as tend_as, in a directory of that owner): a symbolic link swapped in
# for it could otherwise make root copy a file its owner may not read. A
# file that cannot be kept that way (too large, its owner cannot read it) is
# recorded "unkept": the change goes on, and a revert reports that path.
tend_keep() (
	[ -n "${tend_run:-}" ] || exit 0
	umask 077
	case $1 in *'
'*)
		printf 'tend: a path with a newline cannot be kept for a revert\n' >&2
		exit 1
		;;
	esac
	tend_state_dir create || exit 1
	tk_d=$tend_sd/revert/$tend_run
	if [ ! -d "$tk_d" ]; then
		rm -rf -- "$tend_sd/revert" && mkdir -p -- "$tk_d" || exit 1
	fi
	tk_h=$(printf '%s' "$1" | sha256sum) || exit 1
	tk_h=${tk_h%% *}
	tk_n=0 tk_k='' tk_was=''
	for tk_f in "$tk_d"/*.meta; do
		[ -e "$tk_f" ] || break
		tk_n=$((tk_n + 1))
		case $tk_f in *-"$tk_h".meta) tk_k=${tk_f%.meta} ;; esac
	done
	if [ -n "$tk_k" ]; then
		# Kept already: only its attributes, and now its content changes?
		read -r tk_kind tk_a tk_u tk_g _ <"$tk_k.meta" || exit 1
		[ "$tk_kind" = attrs ] && [ "${2:-}" != attrs ] || exit 0
		tk_was="$tk_a $tk_u $tk_g"
	else
		tk_k=$tk_d/$(printf '%06d' $((tk_n + 1)))-$tk_h
		printf '%s' "$1" >"$tk_k.path" || exit 1
	fi
	if [ -L "$1" ]; then
		cp -P -- "$1" "$tk_k.lnk" || exit 1
		tk_m='link'
	elif [ -d "$1" ]; then
		tk_m="dir $(stat -c '%a %u %g' -- "$1")" || exit 1
	elif [ -f "$1" ]; then
		tk_st=$(stat -c '%a %u %g %s' -- "$1") || exit 1
		# shellcheck disable=SC2086 # mode uid gid size: no blanks
		set -- "$1" "${2:-}" $tk_st
		tk_m="file $3 $4 $5"
		[ -z "$tk_was" ] || tk_m="file $tk_was"
		if [ "$2" = attrs ]; then
			tk_m="attrs $3 $4 $5"
		elif [ "$6" -gt 268435456 ]; then
			tk_m="unkept it is larger than 256 MiB"
		else
			tk_as=$tend_user
			if [ "${tend_as:-$tend_user}" != "$tend_user" ]; then
				tk_as=$tend_as
			elif [ "$4" != 0 ] && [ "$4" != "$tend_uid" ]; then
				tk_as="uid $4"
			fi
			case $tk_as in
			"$tend_user") cat -- "$1" >"$tk_k.data" 2>/dev/null ;;
			"uid $4") setpriv --reuid="$4" --regid="$5" --clear-groups -- cat -- "$1" >"$tk_k.data" 2>/dev/null ;;
			*) runuser -u "$tk_as" -- cat -- "$1" >"$tk_k.data" 2>/dev/null ;;
			esac || {
				rm -f -- "$tk_k.data"
				tk_m="unkept it could not be read as $tk_as (or the disk is full)"
			}
		fi
	elif [ -e "$1" ]; then
		printf 'tend: %s is neither a file, a directory nor a symbolic link: it cannot be kept for a revert\n' "$1" >&2
		exit 1
	else
		tk_m=absent
	fi
	printf '%s\n' "$tk_m" >"$tk_k.meta.tmp" && mv -f -- "$tk_k.meta.tmp" "$tk_k.meta"
)

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

# tend_drop_kept removes what the run kept: it ends with the run (secrets
# included, nothing of it stays on the host).
tend_drop_kept() {
	[ -n "${tend_run:-}" ] || return 0
	tend_state_dir || return 0
	rm -rf -- "$tend_sd/revert/$tend_run"
}
