# SPDX-License-Identifier: GPL-2.0-only
# Helpers for shell tests (integration tier). Source it, then report each check with
# pass/fail/skip; everything else a test prints goes to its log. Cleanup registered with
# on_exit runs however the test ends.
#
#   . "$VIGIL_ROOT/tests/lib.sh"
#   on_exit 'kill $pid'
#   port=$(free_port)
#   check "name" test "$a" = "$b"

T_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
T_CLEANUP=()
T_FAILED=0
VIGIL=${VIGIL_BUILD:-build}/vigil
TMP=$(mktemp -d "/tmp/vigil-$T_NAME.XXXXXX")

pass() { echo "PASS $T_NAME/$1"; }
fail() { echo "FAIL $T_NAME/$1: ${2:-}"; T_FAILED=1; }
skip() { echo "SKIP $T_NAME/$1: $2"; }

# check <name> <command...>: PASS when the command succeeds, FAIL with its output otherwise
check() {
	local name=$1 out; shift
	if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(echo "$out" | tail -n 3 | tr '\n' ' ')"; fi
}

on_exit() { T_CLEANUP+=("$1"); }
_t_cleanup() {
	local i
	for ((i = ${#T_CLEANUP[@]} - 1; i >= 0; i--)); do eval "${T_CLEANUP[$i]}" >/dev/null 2>&1; done
	rm -rf "$TMP"
}
trap _t_cleanup EXIT
trap 'exit 130' INT TERM

# free_port: a TCP port nobody listens on right now, from the ephemeral range
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for <seconds> <command...>: retry the command until it succeeds or time runs out
wait_for() {
	local deadline=$(($(date +%s) + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# start_nats <port> <dir>: a real nats-server with JetStream on loopback; sets NATS_PID
start_nats() {
	nats-server -a 127.0.0.1 -p "$1" -js -sd "$2" >"$2.log" 2>&1 &
	NATS_PID=$!
	on_exit "kill $NATS_PID; wait $NATS_PID"
	wait_for 10 bash -c "echo > /dev/tcp/127.0.0.1/$1"
}
