# SPDX-License-Identifier: GPL-2.0-only
# A real ganache and `vigil rpc` tracing it (or any node: tracer_launch), for the rpc integration
# tests and tests/integration/int_deploy_live.sh (sourced, after tests/lib.sh; both killed at
# exit).
#
#   start_ganache          ganache (one account) on a free loopback port; sets port, gpid
#                          (= ganache_spawn, which returns at once, then ganache_wait)
#   tracer_launch OPT...   `vigil rpc --interval 500ms OPT...`, its stderr in $TMP/vigil.err;
#                          sets vpid; fails (and says so) unless it reports capturing within 30 s
#   start_tracer [OPT...]  tracer_launch --pid $gpid --ports $port OPT...
#   anvil_find             sets ANVIL, the anvil binary in .cache/npm (fails, saying so, without)
#   start_anvil            anvil on a free loopback port, serving; sets port, apid
export NODE_PATH=$VIGIL_ROOT/.cache/npm/node_modules
HERE=$VIGIL_ROOT/rpc/tests
GANACHE=$NODE_PATH/.bin/ganache

ganache_spawn() {
	[ -x "$GANACHE" ] || { fail setup "ganache missing in $NODE_PATH: run scripts/deps"; return 1; }
	port=$(free_port)
	"$GANACHE" --server.host 127.0.0.1 --server.port "$port" --logging.quiet \
		--wallet.totalAccounts 1 >"$TMP/ganache.log" 2>&1 &
	gpid=$!
	on_exit "kill $gpid"
}

ganache_wait() {
	# connect without sending anything: a probe must not be a call
	wait_for 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || { fail setup "ganache"; return 1; }
}

start_ganache() { ganache_spawn && ganache_wait; }

tracer_launch() {
	"$VIGIL" rpc --interval 500ms "$@" 2>"$TMP/vigil.err" &
	vpid=$!
	on_exit "kill $vpid"
	if ! wait_for 30 grep -q capturing "$TMP/vigil.err"; then
		fail start "vigil rpc did not start: $(tail -n 3 "$TMP/vigil.err")"
		return 1
	fi
}

start_tracer() { tracer_launch --pid "$gpid" --ports "$port" "$@"; }

anvil_find() {
	ANVIL=$(ls "$NODE_PATH"/@foundry-rs/anvil-linux-*/bin/anvil 2>/dev/null | head -1 || true)
	[ -x "$ANVIL" ] && return 0
	fail setup "anvil missing in $NODE_PATH/@foundry-rs: run scripts/deps"
	return 1
}

start_anvil() {
	anvil_find || return 1
	port=$(free_port)
	"$ANVIL" --host 127.0.0.1 --port "$port" --silent >"$TMP/anvil.log" 2>&1 &
	apid=$!
	on_exit "kill $apid; wait $apid"
	wait_for 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" && return 0
	fail start "anvil did not serve RPC on $port: $(tail -n 3 "$TMP/anvil.log")"
	return 1
}
