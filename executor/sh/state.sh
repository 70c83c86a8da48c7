# tend's state directory on the host: the run lock, and the pending records
# of notifications and unit actions that a change promised but that have
# not run yet. /var/lib/tend for root, ~/.local/state/tend for other users,
# or the inventory's state_dir ($tend_state); private to its user (0700).

# tend_whoami sets tend_uid (the effective user id) and tend_user (its
# name), from /proc and /etc/passwd when it can (no process started), else
# from id(1).
tend_whoami() {
	[ -n "${tend_uid:-}" ] && return 0
	tend_uid='' tend_user=''
	while read -r tend_k _ tend_v _; do
		case $tend_k in Uid:)
			tend_uid=$tend_v
			break
			;;
		esac
	done </proc/self/status
	case $tend_uid in '' | *[!0-9]*) tend_uid=$(id -u) ;; esac
	while IFS=: read -r tend_k _ tend_v _; do
		if [ "$tend_v" = "$tend_uid" ]; then
			tend_user=$tend_k
			break
		fi
	done </etc/passwd
	[ -n "$tend_user" ] || tend_user=$(id -un 2>/dev/null) || tend_user=$tend_uid
}

# tend_state_dir sets tend_sd to the state directory. With "create" it
# makes it when missing; it returns 1 (and says why) when the directory is
# not a private directory of the current user.
tend_state_dir() {
	if [ -n "${tend_sd_ok:-}" ]; then return 0; fi
	tend_whoami
	if [ -n "${tend_state:-}" ]; then
		tend_sd=$tend_state
		# A state directory of the inventory's choosing: as root, nobody
		# else may be able to change entries above it (they could swap in
		# records of their own). Checked in a subshell: the caller's own
		# verdict (tend_as, of a write, say) stays as it was.
		if [ "$tend_uid" = 0 ] && ! (tend_trust "${tend_sd%/*}" '' && [ "$tend_as" = root ]); then
			printf 'tend: state_dir %s is refused: another user could change a directory above it\n' "$tend_sd" >&2
			return 1
		fi
	elif [ "$tend_uid" = 0 ]; then
		tend_sd=/var/lib/tend
	else
		tend_sd=${XDG_STATE_HOME:-$HOME/.local/state}/tend
	fi
	if [ ! -e "$tend_sd" ] && [ ! -L "$tend_sd" ]; then
		[ "${1:-}" = create ] || return 0
		(umask 077 && mkdir -p -- "$tend_sd/pending") || return 1
	fi
	if [ -L "$tend_sd" ] || [ ! -d "$tend_sd" ] || [ "$(stat -c '%u %a' -- "$tend_sd")" != "$tend_uid 700" ]; then
		printf 'tend: %s must be a directory of %s with mode 0700\n' "$tend_sd" "$tend_user" >&2
		return 1
	fi
	if [ ! -d "$tend_sd/pending" ]; then
		[ "${1:-}" = create ] || return 0
		mkdir -m 0700 -- "$tend_sd/pending" || return 1
	fi
	tend_sd_ok=1
	return 0
}

# tend_record NAME JSON stores one pending record, durably, before the
# change that promises it is made.
tend_record() {
	tend_state_dir create || return 1
	printf '%s\n' "$2" >"$tend_sd/pending/.$1.tmp" &&
		sync -- "$tend_sd/pending/.$1.tmp" 2>/dev/null
	mv -f -- "$tend_sd/pending/.$1.tmp" "$tend_sd/pending/$1" || return 1
	sync -- "$tend_sd/pending" 2>/dev/null || :
}

# tend_clear NAME... removes pending records once what they promised ran.
# The removal is not synced: a host that crashes before it reaches the disk
# runs what they promised once more (records are at least once).
tend_clear() {
	tend_state_dir || return 1
	[ -d "$tend_sd/pending" ] || return 0
	for tend_r in "$@"; do
		set -- "$@" "$tend_sd/pending/$tend_r"
		shift
	done
	rm -f -- "$@"
}

# tend_records prints the pending records, one "@@tend record NAME" line
# and one line of JSON each.
tend_records() {
	tend_state_dir || return 0
	[ -d "$tend_sd/pending" ] || return 0
	for tend_r in "$tend_sd"/pending/*; do
		[ -f "$tend_r" ] || continue
		printf '@@tend record %s\n' "${tend_r##*/}"
		head -n 1 -- "$tend_r"
	done
}

# tend_uptime sets tend_now to the host's uptime in hundredths of a second
# (no process started: it runs in every poll).
tend_uptime() {
	read -r tend_up _ </proc/uptime
	case $tend_up in *.*) ;; *) tend_up=$tend_up.0 ;; esac
	# The first two digits of the fraction, however many there are.
	tend_cs=${tend_up#*.}00
	tend_cs=${tend_cs%"${tend_cs#??}"}
	tend_now=$((${tend_up%.*} * 100 + ${tend_cs#0}))
}

# tend_pstate PID sets tend_ps to the start time of process PID (from
# /proc, no process started: with the PID it names one process for good),
# or returns 1 when there is none or it is a zombie.
tend_pstate() {
	tend_ps=
	case $1 in '' | 0 | *[!0-9]*) return 1 ;; esac
	read -r tend_l 2>/dev/null </proc/"$1"/stat || return 1
	# shellcheck disable=SC2086 # the fields after the command name
	set -- ${tend_l##*) }
	[ $# -ge 20 ] || return 1
	case $1 in Z | X | x) return 1 ;; esac
	tend_ps=${20}
}

# tend_settle UNIT CENTISECONDS: after tend started, restarted or reloaded
# UNIT, the unit must stay up that long: not failed, not waiting for an
# automatic restart (a crash loop), not restarted by systemd, not stopped
# (a oneshot unit that finished successfully is fine). It prints "settle
# ok" or "settle fail REASON". It fails as soon as the unit does: every
# 0.2 s it looks at the unit's main process in /proc, which starts no
# process; systemd itself is asked every half second, at the end, and at
# once when the main process is gone or replaced.
tend_settle() {
	tend_u=$1
	tend_uptime
	tend_t0=$tend_now tend_next=0
	tend_r0='' tend_pid='' tend_pst=''
	while :; do
		tend_uptime
		tend_el=$((tend_now - tend_t0))
		tend_ask=no
		if [ "$tend_el" -ge "$tend_next" ] || [ "$tend_el" -ge "$2" ]; then
			tend_ask=yes
		elif [ -n "$tend_pst" ] && { ! tend_pstate "$tend_pid" || [ "$tend_ps" != "$tend_pst" ]; }; then
			tend_ask=yes
		fi
		if [ "$tend_ask" = yes ]; then
			tend_st='' tend_sub='' tend_nr='' tend_res='' tend_ty='' tend_mp=''
			tend_props=$(systemctl show -p ActiveState,SubState,NRestarts,Result,Type,MainPID -- "$tend_u" 2>&1) || {
				echo "settle fail systemctl show failed: $tend_props"
				return 1
			}
			while IFS='=' read -r tend_k tend_v; do
				case $tend_k in
				ActiveState) tend_st=$tend_v ;;
				SubState) tend_sub=$tend_v ;;
				NRestarts) tend_nr=$tend_v ;;
				Result) tend_res=$tend_v ;;
				Type) tend_ty=$tend_v ;;
				MainPID) tend_mp=$tend_v ;;
				esac
			done <<EOF
$tend_props
EOF
			[ -n "$tend_r0" ] || tend_r0=$tend_nr
			if [ "$tend_sub" = auto-restart ]; then
				echo "settle fail its process exited (result: $tend_res) and systemd is waiting to restart it: a crash loop"
				return 1
			fi
			if [ "$tend_st" = failed ]; then
				echo "settle fail it failed (result: $tend_res)"
				return 1
			fi
			if [ "$tend_nr" != "$tend_r0" ]; then
				echo "settle fail systemd restarted it $((tend_nr - tend_r0)) time(s) since tend started it"
				return 1
			fi
			if [ "$tend_st" = inactive ]; then
				if [ "$tend_ty" = oneshot ] && [ "$tend_res" = success ]; then
					echo "settle ok"
					return 0
				fi
				echo "settle fail it stopped (result: $tend_res)"
				return 1
			fi
			if [ "$tend_el" -ge "$2" ]; then
				if [ "$tend_st" = active ]; then
					echo "settle ok"
					return 0
				fi
				echo "settle fail it is still $tend_st/$tend_sub after $(($2 / 100)).$(($2 / 10 % 10))s"
				return 1
			fi
			# Watch the main process systemd names. One that is gone while
			# systemd still names it keeps systemd being asked.
			if [ "$tend_mp" != "$tend_pid" ]; then
				tend_pid=$tend_mp tend_pst=''
				if tend_pstate "$tend_pid"; then tend_pst=$tend_ps; fi
			fi
			tend_next=$((tend_el + 50))
		fi
		sleep 0.2
	done
}
