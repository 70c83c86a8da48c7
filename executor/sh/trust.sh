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
	tend_as=$(id -un)
	[ "$(id -u)" = 0 ] || return 0
	tend_as=root
	# Directories still to be made (by root, so root's) are not checked:
	# their nearest existing ancestor is.
	tend_start=$1
	while [ ! -e "$tend_start" ] && [ ! -L "$tend_start" ] && [ "$tend_start" != / ]; do
		tend_start=${tend_start%/*}
		[ -n "$tend_start" ] || tend_start=/
	done
	tend_real=$(readlink -f -- "$tend_start" 2>/dev/null) || tend_real=$tend_start
	for tend_path in "$tend_start" "$tend_real"; do
		tend_d=$tend_path
		while :; do
			if [ ! -d "$tend_d" ]; then
				printf 'tend-trust: %s is not a directory (or does not exist)\n' "$tend_d" >&2
				return 1
			fi
			# shellcheck disable=SC2046 # one line of four words
			set -- $(stat -L -c '%u %g %a %U' -- "$tend_d")
			tend_m=$((0$3))
			if [ "$1" = 0 ] && [ $((tend_m & 01000)) -ne 0 ]; then
				: # root's sticky directory: others cannot move what is not theirs
			elif [ $((tend_m & 02)) -ne 0 ] || { [ $((tend_m & 020)) -ne 0 ] && [ "$2" != 0 ]; }; then
				printf 'tend-trust: %s is writable by users other than its owner %s (mode %s)\n' "$tend_d" "$4" "$3" >&2
				return 1
			elif [ "$1" = 0 ]; then
				:
			elif [ -n "$tend_owner" ] && [ "$4" = "$tend_owner" ] && [ $((tend_m & 020)) -eq 0 ]; then
				tend_as=$4
			else
				printf 'tend-trust: %s belongs to %s\n' "$tend_d" "$4" >&2
				return 1
			fi
			[ "$tend_d" = / ] && break
			tend_d=${tend_d%/*}
			[ -n "$tend_d" ] || tend_d=/
		done
	done
	return 0
}
