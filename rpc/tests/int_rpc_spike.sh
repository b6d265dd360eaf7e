#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Spike detection with generated traffic on a real ganache (rpc_load.js spike): a steady rate for
# several intervals, a burst of eth_blockNumber far above it, steady again, a burst of failing
# eth_getBalance calls, steady again. Exactly one rate anomaly (eth_blockNumber) and one
# error-ratio anomaly (eth_getBalance) must appear on <app_id>.jsonrpc.anomalies.
. "$VIGIL_ROOT/tests/lib.sh"
. "$VIGIL_ROOT/rpc/tests/rpc_start.sh"

start_ganache || exit 1
start_tracer --spike-factor 5 \
	--spike-min-rate 10 --error-delta 0.2 --jsonl "$TMP/ev.jsonl" || exit 1
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
