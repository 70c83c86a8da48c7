# tend's bootstrap (POSIX sh): the only script on the command line of a
# remote command (and so the only one sudo writes to the host's log). It
# says it runs ("tend-ok-TOKEN" on standard error, once sudo has handed
# over), reads the supervisor and the command from standard input
# ($5 bytes, within the heartbeat timeout, or the deadline), and runs them.
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
tend_w=$3
[ "$tend_w" -gt 0 ] || tend_w=$2
if [ "$tend_w" -gt 0 ]; then
	tend_b=$(timeout --foreground "$tend_w" head -c "$5")
else
	tend_b=$(head -c "$5")
fi
case $tend_b in
*": tend-end-$1") ;;
*)
	# Cut short (tend stopped, the link died): nothing started.
	printf '\ntend-stop-%s stop\n' "$1" >&2
	exit 124
	;;
esac
set -- "$1" "$2" "$3" "$4"
eval "$tend_b"
