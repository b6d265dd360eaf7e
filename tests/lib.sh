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

# jqe <jq args...>: jq -e on stdin that also fails on empty input (jq 1.6 exits 0 when it reads
# nothing at all)
jqe() { local in; in=$(cat); [ -n "$in" ] && jq -e "$@" <<<"$in"; }

# need_node_module <package>: skips the whole test (and exits) unless node runs and scripts/deps
# installed <package> into .cache/npm
need_node_module() {
	if ! node --version >/dev/null 2>&1 || [ ! -d "$VIGIL_ROOT/.cache/npm/node_modules/$1" ]; then
		skip all "node or $1 missing (run scripts/deps)"
		exit 0
	fi
}

# start_nats <port> <dir>: a real nats-server with JetStream on loopback; sets NATS_PID
start_nats() {
	nats-server -a 127.0.0.1 -p "$1" -js -sd "$2" >"$2.log" 2>&1 &
	NATS_PID=$!
	on_exit "kill $NATS_PID; wait $NATS_PID"
	wait_for 10 bash -c "echo > /dev/tcp/127.0.0.1/$1"
}

# start_postgres: a real PostgreSQL (initdb + pg_ctl as the postgres user, trust auth) on a free
# loopback port with its data under $TMP/pg, stopped on exit, and a database "vigil". Sets PG_DSN,
# PG_PORT, PG_BIN and defines pg_restart_server; or returns 1 with the reason in PG_SKIP (no
# server binaries, not root) or PG_FAIL (it did not start; the reason is a failure).
start_postgres() {
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	PG_SKIP= PG_FAIL=
	if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
		PG_SKIP="no PostgreSQL server binaries under /usr/lib/postgresql"; return 1
	fi
	if [ "$(id -u)" -ne 0 ] || ! id postgres >/dev/null 2>&1; then
		PG_SKIP="PostgreSQL refuses to run as root and this test needs root to switch to the postgres user"
		return 1
	fi
	chmod 755 "$TMP"
	mkdir -p "$TMP/pg" && chown postgres "$TMP/pg"
	if ! runuser -u postgres -- "$PG_BIN/initdb" -D "$TMP/pg/data" -A trust -U postgres \
		>"$TMP/pg/initdb.log" 2>&1; then
		PG_FAIL="initdb: $(tail -n 3 "$TMP/pg/initdb.log" | tr '\n' ' ')"; return 1
	fi
	PG_PORT=$(free_port)
	pg_restart_server || { PG_FAIL="pg_ctl start: $(tail -n 3 "$TMP/pg/server.log" | tr '\n' ' ')"; return 1; }
	on_exit "runuser -u postgres -- '$PG_BIN/pg_ctl' -D '$TMP/pg/data' -m immediate stop"
	runuser -u postgres -- "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" vigil ||
		{ PG_FAIL="createdb failed"; return 1; }
	PG_DSN="postgresql://postgres@127.0.0.1:$PG_PORT/vigil"
}
# pg_restart_server: (re)starts the server start_postgres set up, waiting until it accepts
pg_restart_server() {
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/server.log" -w -t 30 \
		-o "-p $PG_PORT -k $TMP/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
}
