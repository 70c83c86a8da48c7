# tend's command supervisor (POSIX sh). Every remote command tend runs is
# started by this script, as the login user or through sudo, so that the
# host itself stops the command when tend stops wanting it, whatever the
# login and whether or not sshd relays signals:
#
#   - tend closes the command's standard input (EOF): the command is
#     stopped (Ctrl-C, a timeout tend enforces, a run that gives up);
#   - the connection is gone (tend killed, link cut): sshd closes the
#     standard input too, or, if sshd has not noticed yet, tend's
#     heartbeats stop coming and the command is stopped after the
#     heartbeat timeout;
#   - the deadline passes: the command is stopped even if nobody asks.
#
# Stopping sends SIGTERM to the command's whole session (it runs under
# setsid), then SIGKILL one second later, and prints the stop line.
#
# It is run by sh/boot.sh, which read it from standard input, preceded by
# the command (a sh script) as tend_sc=... . Arguments: $1 token, $2
# deadline in seconds (0: none), $3 heartbeat timeout in seconds (0: none),
# $4 number of bytes of standard input that are the command's own data (-1:
# none; the command's standard input is then /dev/null).
#
# On standard error the supervisor prints "tend-stop-TOKEN REASON" when it
# stopped the command. Standard input carries the data (exactly $4 bytes),
# then one "h" per heartbeat, until EOF.
tend_tok=$1 tend_dl=$2 tend_hb=$3 tend_n=$4
exec 3<&0 </dev/null
tend_child='' tend_dog='' tend_tmp=''

# tend_quit ends the helpers and removes the private directory.
tend_quit() {
	if [ -n "$tend_dog" ]; then kill -KILL "$tend_dog" 2>/dev/null; fi
	if [ -n "$tend_tmp" ]; then rm -rf -- "$tend_tmp"; fi
}

# tend_end stops the command's session: SIGTERM to all of it, then, once it
# is gone (its processes may clean up after themselves), SIGKILL for
# whatever is left of it. A stop the watcher asked for is bounded by the
# watcher, which sends SIGKILL itself a second later; another one (SIGINT)
# by a killer of its own.
tend_end() {
	trap '' TERM HUP ALRM INT
	if [ -n "$tend_child" ]; then
		kill -TERM -"$tend_child" 2>/dev/null
		tend_killer=
		if [ "$1" = interrupt ]; then
			setsid /bin/sh -c 'sleep 1; kill -KILL -"$1"' tend-killer "$tend_child" </dev/null >/dev/null 2>&1 3<&- &
			tend_killer=$!
		fi
		wait "$tend_child" 2>/dev/null
		tend_i=0
		while [ "$tend_i" -lt 20 ] && kill -0 -"$tend_child" 2>/dev/null; do
			sleep 0.05
			tend_i=$((tend_i + 1))
		done
		kill -KILL -"$tend_child" 2>/dev/null
		if [ -n "$tend_killer" ]; then kill -KILL -"$tend_killer" 2>/dev/null; fi
	fi
	tend_quit
	printf '\ntend-stop-%s %s\n' "$tend_tok" "$1" >&2
	exit 124
}
trap 'tend_end stop' TERM
trap 'tend_end heartbeat' HUP
trap 'tend_end deadline' ALRM
trap 'tend_end interrupt' INT

tend_in=/dev/null
if [ "$tend_n" -ge 0 ]; then
	tend_tmp=$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/.tend-run.XXXXXXXXXX") || {
		printf 'tend: cannot make a private temporary directory in %s\n' "${TMPDIR:-/tmp}" >&2
		tend_quit
		exit 125
	}
	echo "$$" >"$tend_tmp/pid"
	tend_in=$tend_tmp/in
	if ! mkfifo -m 0600 "$tend_in"; then
		tend_quit
		exit 125
	fi
fi

# The command, in a session of its own; its input comes through a private
# FIFO (or is /dev/null).
setsid /bin/sh -c "$tend_sc" tend <"$tend_in" 3<&- &
tend_child=$!

# The watcher (a subshell: no program to start) owns standard input: it
# passes the data on to the command through the FIFO, then reads
# heartbeats until EOF or silence and asks the supervisor to stop the
# command — or stops it itself if the supervisor is gone; it also keeps the
# deadline. It is killed when the supervisor ends; a heartbeat read it
# leaves behind ends with the input (or its timeout).
(
	n=$tend_n in=$tend_in hb=$tend_hb p=$$ dl=$tend_dl child=$tend_child
	stop() {
		# The supervisor stops the session (SIGTERM) and ends this watcher when
		# it is done; if it is gone, or has not managed within a second, the
		# watcher does it.
		sig=$1
		# The supervisor is still there while it is this watcher's parent
		# (read from /proc: no process started, no pid reused).
		read -r l 2>/dev/null </proc/self/stat || l=
		set -- ${l##*) }
		if [ "${2:-}" = "$p" ] && kill -"$sig" "$p" 2>/dev/null; then
			sleep 1
		else
			kill -TERM -"$child" 2>/dev/null
			sleep 1
		fi
		kill -KILL -"$child" 2>/dev/null
		exit 0
	}
	read -r t0 _ </proc/uptime
	t0=${t0%.*}
	# bound sets w, the seconds the next read may wait, and why, the stop
	# if nothing comes by then: the heartbeat timeout (HUP), or what is
	# left of the deadline when that is no more (ALRM); w=0: no bound. With
	# no time left it stops the command.
	bound() {
		w=$hb why=HUP
		if [ "$dl" -gt 0 ]; then
			read -r now _ </proc/uptime
			rest=$((dl - ${now%.*} + t0))
			if [ "$rest" -le 0 ]; then stop ALRM; fi
			if [ "$w" -eq 0 ] || [ "$rest" -le "$w" ]; then w=$rest why=ALRM; fi
		fi
	}
	if [ "$n" -ge 0 ]; then
		# The data, a mebibyte at a time: each must come within the heartbeat
		# timeout (the data is the heartbeat while it flows) and the deadline.
		left=$n
		while [ "$left" -gt 0 ]; do
			c=1048576
			if [ "$left" -lt "$c" ]; then c=$left; fi
			bound
			if [ "$w" -gt 0 ]; then timeout --foreground "$w" head -c "$c"; r=$?; else head -c "$c"; r=$?; fi
			if [ "$r" -eq 124 ]; then stop "$why"; fi
			[ "$r" -eq 0 ] || break
			left=$((left - c))
		done >"$in"
	fi
	while :; do
		bound
		if [ "$w" -gt 0 ]; then c=$(timeout --foreground "$w" head -c 1); r=$?; else c=$(head -c 1); r=$?; fi
		if [ "$r" -eq 0 ] && [ -n "$c" ]; then continue; fi
		if [ "$r" -eq 124 ]; then
			if [ "$why" = HUP ]; then stop HUP; fi
			continue
		fi
		stop TERM
	done
) <&3 >/dev/null 2>&1 &
tend_dog=$!
wait "$tend_child" 2>/dev/null
tend_rc=$?
trap '' TERM HUP ALRM INT
tend_quit
exit "$tend_rc"
