#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Spike detection with generated traffic on a real ganache (rpc_load.js spike): a steady rate for
# several intervals, a burst of eth_blockNumber far above it, steady again, a burst of failing
# eth_getBalance calls, steady again. Exactly one rate anomaly (eth_blockNumber) and one
# error-ratio anomaly (eth_getBalance) must appear on <app_id>.jsonrpc.anomalies.
. "$VIGIL_ROOT/tests/lib.sh"
export NODE_PATH=$VIGIL_ROOT/.cache/npm/node_modules
HERE=$VIGIL_ROOT/rpc/tests
GANACHE=$NODE_PATH/.bin/ganache
[ -x "$GANACHE" ] || { fail setup "ganache missing in $NODE_PATH: run scripts/deps"; exit 1; }

port=$(free_port)
"$GANACHE" --server.host 127.0.0.1 --server.port "$port" --logging.quiet \
	--wallet.totalAccounts 1 >"$TMP/ganache.log" 2>&1 &
gpid=$!
on_exit "kill $gpid"
wait_for 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || { fail setup "ganache"; exit 1; }
"$VIGIL" rpc --pid "$gpid" --ports "$port" --interval 500ms --spike-factor 5 \
	--spike-min-rate 10 --error-delta 0.2 --jsonl "$TMP/ev.jsonl" 2>"$TMP/vigil.err" &
vpid=$!
on_exit "kill $vpid"
if ! wait_for 30 grep -q capturing "$TMP/vigil.err"; then
	fail start "vigil rpc did not start: $(tail -n 3 "$TMP/vigil.err")"
	exit 1
fi
node "$HERE/rpc_load.js" "$port" "$TMP/spike.json" spike || fail client "rpc_load.js"
sleep 1
kill -INT "$vpid"
wait "$vpid"
check vigil-exit-status test $? = 0

jq -c 'select(.subject == "vigil.jsonrpc.anomalies") | .event' "$TMP/ev.jsonl" | tee "$TMP/an"
check one-rate-anomaly test "$(jq -c 'select(.kind == "rate") | .method' "$TMP/an")" = \
	'"eth_blockNumber"'
check one-error-anomaly test "$(jq -c 'select(.kind == "error_ratio") | .method' "$TMP/an")" = \
	'"eth_getBalance"'
check no-other-anomaly test "$(wc -l <"$TMP/an")" = 2
check counts-equal-client python3 "$HERE/rpc_expect.py" "$TMP/ev.jsonl" "$TMP/spike.json"
exit "$T_FAILED"
