# tend's bootstrap (POSIX sh): the only script on the command line of a
# remote command (and so the only one sudo writes to the host's log). It
# says it runs ("tend-ok-TOKEN" on standard error, once sudo has handed
# over), reads the supervisor and the command from standard input
# ($5 bytes, within the heartbeat timeout, or the deadline), and runs them
# with the deadline less the time that took.
# Arguments: $1 token, $2 deadline, $3 heartbeat timeout, $4 data bytes,
# $5 bytes of supervisor and command (see sh/supervisor.sh). Comment lines
# are left out of the command line.
printf 'tend-ok-%s\n' "$1" >&2
for tend_tool in setsid mkfifo mktemp head timeout; do
	if ! command -v "$tend_tool" >/dev/null 2>&1; then
		printf 'tend: this host lacks %s, which tend needs (util-linux, coreutils)\n' "$tend_tool" >&2
		exit 125
	fi
done
read -r tend_u0 _ </proc/uptime
tend_w=$3 tend_why=heartbeat
if [ "$tend_w" -le 0 ]; then tend_w=$2 tend_why=deadline; fi
if [ "$tend_w" -gt 0 ]; then
	tend_b=$(timeout --foreground "$tend_w" head -c "$5")
else
	tend_b=$(head -c "$5")
fi
tend_r=$?
case $tend_b in
*": tend-end-$1") ;;
*)
	# Not whole: nothing started. Silence (the link died) or EOF (tend
	# stopped).
	[ "$tend_r" -eq 124 ] || tend_why=stop
	printf '\ntend-stop-%s %s\n' "$1" "$tend_why" >&2
	exit 124
	;;
esac
tend_dl=$2
if [ "$tend_dl" -gt 0 ]; then
	read -r tend_u1 _ </proc/uptime
	tend_dl=$((tend_dl - ${tend_u1%.*} + ${tend_u0%.*}))
	if [ "$tend_dl" -le 0 ]; then
		printf '\ntend-stop-%s deadline\n' "$1" >&2
		exit 124
	fi
fi
set -- "$1" "$tend_dl" "$3" "$4"
eval "$tend_b"
