#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil rpc --exe` against a real anvil (npm @foundry-rs/anvil: Foundry's node, compiled Rust, a
# multi-threaded hyper server that answers with writev) started after vigil: vigil picks the node
# up at its exec, and the per-method counts, statuses and error codes (-32601 unknown method,
# -32602 invalid params, 3 execution reverted, batches) of 8 keep-alive connections at once and of
# a WebSocket session (subscription, pushes, calls) equal the client's own, in the JSON Lines
# events and on --metrics, which the real `promtool check metrics` accepts; a body that is not
# JSON is one call with anvil's -32600. RPC_HOOK=socket|syscall picks the kernel hooks
# (int_rpc_anvil_syscall.sh runs it with the syscall ones); by default the tracer's own choice.
. "$VIGIL_ROOT/tests/lib.sh"
. "$VIGIL_ROOT/rpc/tests/rpc_start.sh"
anvil_find || exit 1

port=$(free_port)
mport=$(free_port)
tracer_launch --exe "$ANVIL" --ports "$port" --jsonl "$TMP/ev.jsonl" --metrics "127.0.0.1:$mport" \
	${RPC_HOOK:+--hook "$RPC_HOOK"} || exit 1
check hooks-${RPC_HOOK:-auto} grep -q "hooks: ${RPC_HOOK:-socket}" "$TMP/vigil.err"
"$ANVIL" --host 127.0.0.1 --port "$port" --silent >"$TMP/anvil.log" 2>&1 &
apid=$!
on_exit "kill $apid; wait $apid"
check exec-followed wait_for 30 grep -q "tracing process $apid " "$TMP/vigil.err"
# connect without sending anything: a probe must not be a call
if ! wait_for 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"; then
	fail start "anvil did not serve RPC on $port: $(tail -n 3 "$TMP/anvil.log")"
	exit 1
fi

cat >"$TMP/bodies" <<'EOF'
{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}
{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":[]}
{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["0x1111111111111111111111111111111111111111","latest"]}
{"jsonrpc":"2.0","id":4,"method":"eth_getBlockByNumber","params":["latest",true]}
{"jsonrpc":"2.0","id":5,"method":"eth_gasPrice","params":[]}
{"jsonrpc":"2.0","id":"six","method":"web3_clientVersion","params":[]}
{"jsonrpc":"2.0","id":7,"method":"vigil_noSuchMethod","params":[]}
{"jsonrpc":"2.0","id":8,"method":"eth_getBalance","params":[]}
{"jsonrpc":"2.0","id":9,"method":"eth_call","params":[{"data":"0x60006000fd"},"latest"]}
[{"jsonrpc":"2.0","id":10,"method":"eth_blockNumber","params":[]},{"jsonrpc":"2.0","id":11,"method":"vigil_noSuchMethod","params":[]},{"jsonrpc":"2.0","id":12,"method":"eth_chainId","params":[]}]
EOF
node "$HERE/rpc_load.js" "$port" "$TMP/client.json" bodies 30 "$TMP/bodies" 8 ||
	fail client "rpc_load.js bodies failed"
# WebSocket on the same port (anvil's own server: axum and tungstenite): a newHeads subscription,
# 6 blocks mined and pushed, plain calls
node "$HERE/rpc_load.js" "$port" "$TMP/ws.json" ws 6 >"$TMP/ws.out" || fail client "ws session"
check ws-pushes test "$(cat "$TMP/ws.out")" = "pushes 6"
# the codes the node itself gave, so the checks below compare like with like
for code in -32601 -32602 3; do
	check "node-answered-$code" grep -q -- "|error|$code|" "$TMP/client.json"
done
sleep 1
curl -s "http://127.0.0.1:$mport/metrics" >"$TMP/metrics.txt"
# not JSON: anvil answers HTTP 200 with error -32600 and id null
curl -s -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":9,"method":' \
	"http://127.0.0.1:$port/" >"$TMP/perr.json"
check node-answered-32600 test "$(jq -c '[.id, .error.code]' "$TMP/perr.json")" = '[null,-32600]'
sleep 1
kill -INT "$vpid"
wait "$vpid"
check vigil-exit-status test $? = 0

ev=$TMP/ev.jsonl
jq -c 'select(.subject == "vigil.jsonrpc.requests") | .event | select(.method == null) |
	[.status, .error_code, .http_status, .batch_size]' "$ev" >"$TMP/perr.ev"
check parse-error-reported test "$(cat "$TMP/perr.ev")" = '["error",-32600,200,1]'
jq -c 'select(.subject == "vigil.jsonrpc.requests") | select(.event.method != null)' "$ev" \
	>"$TMP/ev-named.jsonl"
check counts-equal-client python3 "$HERE/rpc_expect.py" "$TMP/ev-named.jsonl" "$TMP/client.json" \
	"$TMP/ws.json"
python3 "$HERE/rpc_expect.py" "$TMP/ev-named.jsonl" "$TMP/client.json" "$TMP/ws.json"
# 30 x 12 over HTTP; over WebSocket a subscribe, 6 evm_mine, 6 pushes, 5 calls, an unsubscribe
check calls-counted test "$(wc -l <"$TMP/ev-named.jsonl")" = $((30 * 12 + 19))
check every-call-from-anvil test "$(jq -r 'select(.event.pid != '"$apid"') | 1' \
	"$TMP/ev-named.jsonl" | wc -l)" = 0
check promtool-check-metrics promtool check metrics <"$TMP/metrics.txt"
check metrics-equal-client python3 "$HERE/rpc_metrics_check.py" "$TMP/metrics.txt" \
	"$TMP/client.json" "$TMP/ws.json"
python3 "$HERE/rpc_metrics_check.py" "$TMP/metrics.txt" "$TMP/client.json" "$TMP/ws.json"
exit "$T_FAILED"
