# tend_trust DIR OWNER decides who may safely work in DIR (or, while DIR
# does not exist yet, in its nearest existing ancestor) when tend runs as
# root. A hostile user who can create, rename or remove entries in DIR, or in
# any directory above it, could swap a file between two of root's steps (a
# symlink to /etc/shadow for a chmod, a file of their own for the rename).
# So root works only where nobody else can change entries along the way,
# both along DIR as written and along DIR with its symlinks resolved:
#
#   - a directory owned by root, writable only by root (or by the group
#     root), or with the sticky bit (like /tmp: others cannot move root's
#     entries), is safe;
#   - a directory owned by OWNER, writable by nobody else, is safe for
#     OWNER: tend_trust then sets tend_as=OWNER, and the caller does the
#     work as OWNER (who can only harm their own files);
#   - anything else is refused: tend_trust prints why on stderr and returns
#     1.
#
# On success tend_as is "root" or OWNER. When tend does not run as root,
# tend_as is the current user: it cannot harm anyone but itself.
tend_trust() {
	tend_owner=${2:-}
	tend_whoami
	if [ "$tend_uid" != 0 ]; then
		tend_as=$tend_user
		return 0
	fi
	tend_as=root
	# Directories still to be made (by root, so root's) are not checked:
	# their nearest existing ancestor is.
	tend_start=$1
	while [ ! -e "$tend_start" ] && [ ! -L "$tend_start" ] && [ "$tend_start" != / ]; do
		tend_start=${tend_start%/*}
		[ -n "$tend_start" ] || tend_start=/
	done
	tend_real=$(readlink -f -- "$tend_start" 2>/dev/null) || tend_real=$tend_start
	set --
	for tend_d in "$tend_start" "$tend_real"; do
		while :; do
			set -- "$@" "$tend_d"
			[ "$tend_d" = / ] && break
			tend_d=${tend_d%/*}
			[ -n "$tend_d" ] || tend_d=/
		done
	done
	tend_n=$#
	if ! tend_st=$(stat -L -c '%u|%g|%a|%U|%F|%n' -- "$@" 2>&1); then
		printf 'tend-trust: cannot check the directories above %s: %s\n' "$tend_start" "$tend_st" >&2
		return 1
	fi
	tend_seen=0
	while IFS='|' read -r tend_u tend_g tend_p tend_name tend_type tend_d; do
		tend_seen=$((tend_seen + 1))
		if [ "$tend_type" != directory ]; then
			printf 'tend-trust: %s is not a directory\n' "$tend_d" >&2
			return 1
		fi
		tend_m=$((0$tend_p))
		if [ "$tend_u" = 0 ] && [ $((tend_m & 01000)) -ne 0 ]; then
			: # root's sticky directory: others cannot move what is not theirs
		elif [ $((tend_m & 02)) -ne 0 ] || { [ $((tend_m & 020)) -ne 0 ] && [ "$tend_g" != 0 ]; }; then
			printf 'tend-trust: %s is writable by users other than its owner %s (mode %s)\n' "$tend_d" "$tend_name" "$tend_p" >&2
			return 1
		elif [ "$tend_u" = 0 ]; then
			:
		elif [ -n "$tend_owner" ] && [ "$tend_name" = "$tend_owner" ] && [ $((tend_m & 020)) -eq 0 ]; then
			tend_as=$tend_name
		else
			printf 'tend-trust: %s belongs to %s\n' "$tend_d" "$tend_name" >&2
			return 1
		fi
	done <<EOF
$tend_st
EOF
	if [ "$tend_seen" -ne "$tend_n" ]; then
		printf 'tend-trust: cannot check the directories above %s\n' "$tend_start" >&2
		return 1
	fi
	return 0
}
