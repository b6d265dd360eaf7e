# SPDX-License-Identifier: GPL-2.0-only
# The stand-in node of the peers tests (peers_server.py serving the recorded geth, Prysm and
# -32601 answers over HTTP and a geth-style IPC socket at $TMP/geth.ipc), for
# peers/tests/int_peers_cmd.sh and tests/integration/int_deploy_live.sh (sourced, after
# tests/lib.sh; killed at exit).
#
#   start_peers_server   sets SERVER (its PID), PORT and URL; fails unless it says READY

FIX="$VIGIL_ROOT/peers/tests/fixtures"

start_peers_server() {
	python3 "$VIGIL_ROOT/peers/tests/peers_server.py" "$FIX" "$TMP/geth.ipc" >"$TMP/server.out" 2>&1 &
	SERVER=$!
	on_exit "kill $SERVER; wait $SERVER"
	wait_for 20 grep -q READY "$TMP/server.out" || { fail server_start "$(cat "$TMP/server.out")"; return 1; }
	PORT=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$TMP/server.out")
	URL="http://127.0.0.1:$PORT"
}
