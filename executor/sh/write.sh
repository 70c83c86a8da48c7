# tend's one write primitive. Run as the supervised command of WriteFile, with
# the file's bytes as its standard input, after these assignments:
#
#   tend_dest   absolute path of the file to replace
#   tend_mode   octal mode, e.g. 0644
#   tend_owner  owner name or "" (keep the writer's)
#   tend_group  group name or "" (keep the writer's)
#   tend_size   number of bytes on standard input
#   tend_sum    their SHA-256, hex
#   tend_validate (optional) a command run on the new file before the
#               rename; it sees the file as "$1"; non-zero leaves the old
#               file
#   tend_backup (optional) "yes": the file being replaced stays as
#               DEST.YYYY-MM-DD@HH:MM:SS~ (a hard link made just before the
#               rename: the very inode, with its owner and mode); the name
#               is kept as absent, so a revert removes the link
#   tend_src    (optional) a file to read the bytes from instead of
#               standard input (a revert's kept copy)
#
# The data goes straight from tend into a temporary file created private
# (umask 077, O_EXCL, random name) in the destination's directory by the
# user who writes; it is checked (size and SHA-256), given its owner, group
# and mode, flushed, and renamed over the destination (one rename(2) in one
# directory: readers see the old or the new file, never a mix); then the
# directory is flushed. As root, tend works only where nobody else can swap
# entries (tend_trust); where the file's own owner can, the work is done as
# that owner. Any failure before the rename leaves the old file as it was
# and removes the temporary file; errors are printed as
# "tend-write-error: STEP: DETAIL" lines.
tend_dir=${tend_dest%/*}
[ -n "$tend_dir" ] || tend_dir=/
if ! tend_trust "$tend_dir" "$tend_owner"; then
	printf 'tend-write-error: trust: %s\n' "$tend_dest" >&2
	exit 1
fi
if ! tend_keep "$tend_dest"; then
	printf 'tend-write-error: keep: what %s was could not be kept for a revert\n' "$tend_dest" >&2
	exit 1
fi
# The backup's name is chosen here, and kept as absent: a revert removes the
# link the write makes (the inner body makes it, just before the rename).
tend_bak=
if [ "${tend_backup:-}" = yes ] && [ -f "$tend_dest" ] && [ ! -L "$tend_dest" ]; then
	tend_bak=$tend_dest.$(date +%Y-%m-%d@%H:%M:%S)~
	tend_n=0
	while [ -e "$tend_bak" ] || [ -L "$tend_bak" ]; do
		tend_n=$((tend_n + 1))
		if [ "$tend_n" -gt 9 ]; then
			printf 'tend-write-error: backup: %s exists\n' "$tend_bak" >&2
			exit 1
		fi
		tend_bak=$tend_dest.$(date +%Y-%m-%d@%H:%M:%S).$tend_n~
	done
	if ! tend_keep "$tend_bak"; then
		printf 'tend-write-error: keep: what %s was could not be kept for a revert\n' "$tend_bak" >&2
		exit 1
	fi
fi
# Temporary files of this primitive that a run which died left here: the
# current run holds the lock (its holder file is written when it is taken),
# so ours that are older than it are stale.
for tend_f in "$tend_dir"/.tend-????????????.tmp; do
	[ -e "$tend_f" ] || break
	if tend_state_dir && [ -f "$tend_sd/lock.info" ]; then
		find "$tend_dir" -maxdepth 1 -type f -name '.tend-????????????.tmp' -user "$tend_as" ! -newer "$tend_sd/lock.info" -exec rm -f -- {} + 2>/dev/null
	fi
	break
done
# shellcheck disable=SC2016 # expanded by the inner shell
tend_body='
dest=$1 dir=$2 mode=$3 owner=$4 group=$5 size=$6 sum=$7 validate=$8 backup=$9
fail() { printf "tend-write-error: %s: %s\n" "$1" "$2" >&2; exit 1; }
umask 077
tmp=$(mktemp "$dir/.tend-XXXXXXXXXXXX.tmp" 2>&1) || fail create "$tmp"
trap '"'"'rm -f -- "$tmp"'"'"' EXIT
trap '"'"'exit 143'"'"' TERM HUP INT
err=$(head -c "$size" 2>&1 >"$tmp") || fail write "$err"
got=$(sha256sum <"$tmp") || fail verify "sha256sum failed"
[ "${got%% *}" = "$sum" ] || fail verify "the data did not arrive whole (its SHA-256 differs: $size bytes were sent)"
if [ -n "$owner" ] && [ -n "$group" ]; then
	err=$(chown -- "$owner:$group" "$tmp" 2>&1) || fail owner "$err"
elif [ -n "$owner" ]; then
	err=$(chown -- "$owner" "$tmp" 2>&1) || fail owner "$err"
elif [ -n "$group" ]; then
	err=$(chgrp -- "$group" "$tmp" 2>&1) || fail group "$err"
fi
err=$(chmod -- "$mode" "$tmp" 2>&1) || fail mode "$err"
if [ -n "$validate" ]; then
	err=$(cd -- "$dir" && /bin/sh -c "$validate" tend-validate "$tmp" </dev/null 2>&1) || fail validate "$(printf "%s" "$err" | tail -c 2000 | tr "\n" " ")"
fi
sync -- "$tmp" 2>/dev/null || sync
if [ -n "$backup" ] && [ -f "$dest" ] && [ ! -L "$dest" ]; then
	err=$(ln -- "$dest" "$backup" 2>&1) || fail backup "$err"
	printf "tend-backup: %s\n" "$backup"
fi
err=$(mv -f -T -- "$tmp" "$dest" 2>&1) || fail rename "$err"
trap - EXIT
sync -- "$dir" 2>/dev/null || :
'
# A revert's kept copy is opened here, by the user who runs the write
# (root): the owner it may write as cannot read tend's state directory.
if [ -n "${tend_src:-}" ]; then
	exec 3<"$tend_src" || exit 1
else
	exec 3<&0
fi
if [ "$tend_as" = "$tend_user" ]; then
	/bin/sh -c "$tend_body" tend-write "$tend_dest" "$tend_dir" "$tend_mode" "$tend_owner" "$tend_group" "$tend_size" "$tend_sum" "${tend_validate:-}" "$tend_bak" <&3 3<&-
else
	# The directory is the owner's own: write as the owner, who needs no
	# chown (and cannot do one).
	runuser -u "$tend_as" -- /bin/sh -c "$tend_body" tend-write "$tend_dest" "$tend_dir" "$tend_mode" "" "$tend_group" "$tend_size" "$tend_sum" "${tend_validate:-}" "$tend_bak" <&3 3<&-
fi
