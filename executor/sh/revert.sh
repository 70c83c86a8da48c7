# tend's revert: puts back every path a run kept (keep.sh) in
# $tend_sd/revert/$tend_run, newest change first. Run after these
# assignments, as the user the run worked as (root with become):
#
#   tend_run  the id of the run whose changes are put back
#
# For each path it prints "revert ok KEY" or "revert fail KEY: WHY" (KEY:
# the kept entry's name; the path itself is printed after "@@path " on the
# line before, as it is, so that no path can pass for a line of output). A
# file comes back through the write primitive (tend_write, the same trust
# rules as any write) with its bytes, mode, owner and group; attributes
# alone are changed back in place; a path that did not exist is removed (a
# directory only when empty); a directory is made again, with its mode,
# owner and group; a symbolic link comes back as it was. An entry whose
# path does not hash to its name is not trusted, nor acted on.
tend_revert() {
	tend_state_dir || { echo 'revert none'; return 0; }
	tr_d=$tend_sd/revert/$tend_run
	[ -d "$tr_d" ] || { echo 'revert none'; return 0; }
	# Newest first: a directory made in this run is removed after the
	# files made in it.
	set --
	for tr_m in "$tr_d"/*.meta; do
		[ -e "$tr_m" ] && set -- "$tr_m" "$@"
	done
	for tr_m in "$@"; do
		tr_k=${tr_m%.meta}
		tr_key=${tr_k##*/}
		IFS=' ' read -r tr_kind tr_a tr_b tr_c _ <"$tr_m" || tr_kind=''
		tr_path=$(cat -- "$tr_k.path" && echo x) || tr_path=x
		tr_path=${tr_path%x}
		tr_h=$(printf '%s' "$tr_path" | sha256sum)
		case $tr_path in *'
'*) tr_path='(a path with a newline)' ;; esac
		printf '@@path %s\n' "$tr_path"
		if [ "${tr_key#*-}" != "${tr_h%% *}" ]; then
			printf 'revert fail %s: the kept entry does not name its path\n' "$tr_key"
			continue
		fi
		tr_dir=${tr_path%/*}
		[ -n "$tr_dir" ] || tr_dir=/
		if tr_err=$(tend_revert_one 2>&1); then
			printf 'revert ok %s\n' "$tr_key"
		else
			printf 'revert fail %s: %s\n' "$tr_key" "$(printf '%s' "$tr_err" | tr '\n' ' ')"
		fi
	done
}

# tend_name_of UID prints the user's name, or UID when it has none.
tend_name_of() {
	id -nu "$1" 2>/dev/null || echo "$1"
}

# tend_revert_one puts back tr_path as tr_kind (tr_a tr_b tr_c) says.
tend_revert_one() {
	case $tr_kind in
	file)
		(
			tend_dest=$tr_path tend_mode=0$tr_a tend_group=$tr_c
			tend_owner=$(tend_name_of "$tr_b")
			tend_src=$tr_k.data
			tend_size=$(stat -c %s -- "$tend_src") || exit 1
			tend_sum=$(sha256sum <"$tend_src") || exit 1
			tend_sum=${tend_sum%% *}
			tend_write
		)
		;;
	attrs)
		tend_trust "$tr_dir" '' "$tr_path" && [ "$tend_as" = "$tend_user" ] || {
			echo "its directory is not one only root can change"
			return 1
		}
		[ -f "$tr_path" ] && [ ! -L "$tr_path" ] || {
			echo "it is no longer a regular file"
			return 1
		}
		chown -- "$tr_b:$tr_c" "$tr_path" && chmod -- "0$tr_a" "$tr_path"
		;;
	absent)
		if [ -L "$tr_path" ] || [ -e "$tr_path" ]; then
			tr_owner=$(stat -c %U -- "$tr_path") || return 1
			tend_trust "$tr_dir" "$tr_owner" || return 1
			tr_as=''
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
			echo "its directory is not one only root can change"
			return 1
		}
		if [ ! -e "$tr_path" ] && [ ! -L "$tr_path" ]; then
			(umask 077 && mkdir -- "$tr_path") || return 1
		fi
		[ -d "$tr_path" ] && [ ! -L "$tr_path" ] || {
			echo "it is no longer a directory"
			return 1
		}
		chown -- "$tr_b:$tr_c" "$tr_path" && chmod -- "0$tr_a" "$tr_path"
		;;
	link)
		tend_trust "$tr_dir" '' && [ "$tend_as" = "$tend_user" ] || {
			echo "its directory is not one only root can change"
			return 1
		}
		tr_tmp=$(mktemp -u "$tr_dir/.tend-XXXXXXXXXXXX.tmp") || return 1
		cp -P -T -- "$tr_k.lnk" "$tr_tmp" && mv -f -T -- "$tr_tmp" "$tr_path" || {
			rm -f -- "$tr_tmp"
			return 1
		}
		;;
	unkept)
		echo "it was not kept before the change: $(cut -d' ' -f2- -- "$tr_m")"
		return 1
		;;
	*)
		echo "unknown kept state: $tr_kind"
		return 1
		;;
	esac
}
