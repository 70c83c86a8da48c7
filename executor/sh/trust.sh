# tend_trust DIR OWNER [ENTRY] decides who may safely work in DIR (or, while
# DIR does not exist yet, in its nearest existing ancestor) when tend runs
# as root. A hostile user who can create, rename or remove entries in DIR,
# or in any directory above it, could swap a file between two of root's
# steps (a symlink to /etc/shadow for a chmod, a file of their own for the
# rename). So root works only where nobody else can change entries along
# the way, along DIR as written (each component as it is, symlinks not
# followed) and along DIR with its symlinks resolved:
#
#   - a directory owned by root, writable only by root (or by the group
#     root), or with the sticky bit (like /tmp: others cannot move root's
#     entries), is safe;
#   - a directory owned by OWNER, writable by nobody else, is safe for
#     OWNER: tend_trust then sets tend_as=OWNER, and the caller does the
#     work as OWNER (who can only harm their own files);
#   - a symbolic link on the way must be root's (or OWNER's): anyone else's
#     (in a sticky directory, say) could point anywhere;
#   - a directory with an access control list is refused: its mode bits do
#     not say who may write it;
#   - ENTRY, when given, is the file or directory root will change in place
#     (chmod, chown): it must not be a symbolic link, and in a sticky
#     directory it must be root's (or OWNER's), or its owner could swap it;
#   - anything else is refused: tend_trust prints why on stderr and returns
#     1.
#
# On success tend_as is "root" or OWNER. When tend does not run as root,
# tend_as is the current user: it cannot harm anyone but itself.
tend_trust() {
	tt_owner=${2:-}
	tt_entry=${3:-}
	tend_whoami
	if [ "$tend_uid" != 0 ]; then
		tend_as=$tend_user
		return 0
	fi
	tend_as=root
	# Directories still to be made (by root, so root's) are not checked:
	# their nearest existing ancestor is.
	tt_start=$1
	while [ ! -e "$tt_start" ] && [ ! -L "$tt_start" ] && [ "$tt_start" != / ]; do
		tt_start=${tt_start%/*}
		[ -n "$tt_start" ] || tt_start=/
	done
	# Resolved, when a component is a symbolic link (found without
	# starting a process).
	tt_real=$tt_start
	tt_d=$tt_start
	while [ "$tt_d" != / ] && [ -n "$tt_d" ]; do
		if [ -L "$tt_d" ]; then
			tt_real=$(readlink -f -- "$tt_start" 2>/dev/null) || tt_real=$tt_start
			break
		fi
		tt_d=${tt_d%/*}
	done
	set --
	for tt_d in "$tt_real" "$tt_start"; do
		# DIR as written is walked too only when it differs.
		if [ $# -gt 0 ] && [ "$tt_d" = "$tt_real" ]; then break; fi
		while :; do
			set -- "$@" "$tt_d"
			[ "$tt_d" = / ] && break
			tt_d=${tt_d%/*}
			[ -n "$tt_d" ] || tt_d=/
		done
	done
	tt_has_entry=no
	if [ -n "$tt_entry" ] && { [ -e "$tt_entry" ] || [ -L "$tt_entry" ]; }; then
		set -- "$@" "$tt_entry"
		tt_has_entry=yes
	fi
	tt_n=$#
	if ! tt_st=$(stat -c '%u|%g|%a|%U|%F|%n' -- "$@" 2>&1) || ! tt_ls=$(ls -ldU -- "$@" 2>&1); then
		printf 'tend-trust: cannot check the directories above %s: %s\n' "$tt_start" "$tt_st" >&2
		return 1
	fi
	tt_seen=0
	while read -r tt_lsmode _; do
		tt_seen=$((tt_seen + 1))
		# An ACL on ENTRY itself lets nobody swap it.
		if [ "$tt_has_entry" = yes ] && [ "$tt_seen" -eq "$tt_n" ]; then break; fi
		case $tt_lsmode in
		*+)
			printf 'tend-trust: a directory above %s has an access control list (ACL): its mode does not say who may write it\n' "$tt_start" >&2
			return 1
			;;
		esac
	done <<EOF
$tt_ls
EOF
	tt_seen=0
	tt_sticky=no
	while IFS='|' read -r tt_u tt_g tt_p tt_name tt_type tt_d; do
		tt_seen=$((tt_seen + 1))
		tt_m=$((0$tt_p))
		if [ "$tt_has_entry" = yes ] && [ "$tt_seen" -eq "$tt_n" ]; then
			# The entry root changes in place.
			if [ "$tt_type" = "symbolic link" ]; then
				printf 'tend-trust: %s is a symbolic link: tend changes no mode or owner through a link\n' "$tt_d" >&2
				return 1
			fi
			if [ "$tt_sticky" = yes ] && [ "$tt_u" != 0 ] && [ "$tt_name" != "$tt_owner" ]; then
				printf 'tend-trust: %s belongs to %s, in a sticky directory where its owner can swap it\n' "$tt_d" "$tt_name" >&2
				return 1
			fi
			continue
		fi
		case $tt_type in
		"symbolic link")
			if [ "$tt_u" != 0 ] && { [ -z "$tt_owner" ] || [ "$tt_name" != "$tt_owner" ]; }; then
				printf 'tend-trust: %s is a symbolic link of %s\n' "$tt_d" "$tt_name" >&2
				return 1
			fi
			continue
			;;
		directory) ;;
		*)
			printf 'tend-trust: %s is not a directory\n' "$tt_d" >&2
			return 1
			;;
		esac
		if [ "$tt_seen" -eq 1 ]; then
			# The directory itself, resolved: is it sticky?
			if [ $((tt_m & 01000)) -ne 0 ]; then tt_sticky=yes; fi
		fi
		if [ "$tt_u" = 0 ] && [ $((tt_m & 01000)) -ne 0 ]; then
			: # root's sticky directory: others cannot move what is not theirs
		elif [ $((tt_m & 02)) -ne 0 ] || { [ $((tt_m & 020)) -ne 0 ] && [ "$tt_g" != 0 ]; }; then
			printf 'tend-trust: %s is writable by users other than its owner %s (mode %s)\n' "$tt_d" "$tt_name" "$tt_p" >&2
			return 1
		elif [ "$tt_u" = 0 ]; then
			:
		elif [ -n "$tt_owner" ] && [ "$tt_name" = "$tt_owner" ] && [ $((tt_m & 020)) -eq 0 ]; then
			tend_as=$tt_name
		else
			printf 'tend-trust: %s belongs to %s\n' "$tt_d" "$tt_name" >&2
			return 1
		fi
	done <<EOF
$tt_st
EOF
	if [ "$tt_seen" -ne "$tt_n" ]; then
		printf 'tend-trust: cannot check the directories above %s\n' "$tt_start" >&2
		return 1
	fi
	return 0
}
