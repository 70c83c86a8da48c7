# tend's revert: puts back every path a run kept (keep.sh) in
# $tend_sd/revert/$tend_run, newest change first. Run after these
# assignments, as the user the run worked as (root with become):
#
#   tend_run  the id of the run whose changes are put back
#
# For each path it prints "revert ok PATH" or "revert fail PATH: WHY". A
# file comes back through the write primitive (tend_write, the same trust
# rules as any write) with its bytes, mode, owner and group; a path that
# did not exist is removed (a directory only when empty); a directory gets
# its mode, owner and group back; a symbolic link its target.
tend_revert() {
	tend_state_dir || return 0
	tr_d=$tend_sd/revert/$tend_run
	[ -d "$tr_d" ] || return 0
	# Newest first: a directory made in this run is removed after the
	# files made in it.
	set --
	for tr_m in "$tr_d"/*.meta; do
		[ -e "$tr_m" ] && set -- "$tr_m" "$@"
	done
	for tr_m in "$@"; do
		{
			read -r tr_line
			read -r tr_path
		} <"$tr_m"
		tr_kind=${tr_line%% *}
		# shellcheck disable=SC2086 # mode, owner, group
		set -- ${tr_line#"$tr_kind"} '' '' ''
		tr_a=$1 tr_b=$2 tr_c=$3
		tr_dir=${tr_path%/*}
		[ -n "$tr_dir" ] || tr_dir=/
		if tr_err=$(tend_revert_one 2>&1); then
			printf 'revert ok %s\n' "$tr_path"
		else
			printf 'revert fail %s: %s\n' "$tr_path" "$(printf '%s' "$tr_err" | tr '\n' ' ')"
		fi
	done
}

# tend_revert_one puts back tr_path as tr_kind (tr_a tr_b tr_c) says.
tend_revert_one() {
	case $tr_kind in
	file)
		(
			tend_dest=$tr_path tend_mode=0$tr_a tend_owner=$tr_b tend_group=$tr_c
			tend_src=${tr_m%.meta}.data
			tend_size=$(stat -c %s -- "$tend_src") || exit 1
			tend_sum=$(sha256sum <"$tend_src") || exit 1
			tend_sum=${tend_sum%% *}
			tend_write
		)
		;;
	absent)
		if [ -L "$tr_path" ] || [ -e "$tr_path" ]; then
			tr_owner=$(stat -c %U -- "$tr_path") || return 1
			tend_trust "$tr_dir" "$tr_owner" || return 1
			tr_as=
			[ "$tend_as" = "$tend_user" ] || tr_as="runuser -u $tend_as --"
			if [ -d "$tr_path" ] && [ ! -L "$tr_path" ]; then
				$tr_as rmdir -- "$tr_path" || return 1
			else
				$tr_as rm -f -- "$tr_path" || return 1
			fi
		fi
		;;
	dir)
		tend_trust "$tr_dir" '' "$tr_path" && [ "$tend_as" = "$tend_user" ] || {
			echo "the directory is not one only root can change"
			return 1
		}
		[ -d "$tr_path" ] && [ ! -L "$tr_path" ] || {
			echo "it is no longer a directory"
			return 1
		}
		chown -- "$tr_b:$tr_c" "$tr_path" && chmod -- "0$tr_a" "$tr_path"
		;;
	link)
		tend_trust "$tr_dir" '' && [ "$tend_as" = "$tend_user" ] || {
			echo "the directory is not one only root can change"
			return 1
		}
		tr_tmp=$tr_dir/.tend-link-$$.tmp
		ln -s -- "${tr_line#link }" "$tr_tmp" && mv -f -T -- "$tr_tmp" "$tr_path"
		;;
	*)
		echo "unknown kept state: $tr_kind"
		return 1
		;;
	esac
}
