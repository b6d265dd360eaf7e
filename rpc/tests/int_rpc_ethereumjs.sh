#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil rpc --pid` against a real @ethereumjs/client node driven by curl: per-method counts and
# error codes (-32601 unknown method, -32602 invalid params, 3 execution reverted, -32700 parse
# error) equal curl's own, in the JSON Lines events and in vigil_rpc_requests_total /
# vigil_rpc_errors_total on --metrics, which the real `promtool check metrics` accepts.
. "$VIGIL_ROOT/tests/lib.sh"
. "$VIGIL_ROOT/rpc/tests/rpc_start.sh"
EJS=$NODE_PATH/.bin/ethereumjs
if [ ! -x "$EJS" ]; then
	fail setup "@ethereumjs/client missing in $NODE_PATH: run scripts/deps"
	exit 1
fi

port=$(free_port)
p2p=$(free_port)
"$EJS" --dataDir "$TMP/data" --port "$p2p" --rpc --rpcAddr 127.0.0.1 --rpcPort "$port" \
	--discDns=false --discV4=false --extIP 127.0.0.1 >"$TMP/node.log" 2>&1 &
npid=$!
on_exit "kill $npid; wait $npid"
if ! wait_for 90 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"; then
	fail start "ethereumjs did not serve RPC on $port: $(tail -n 3 "$TMP/node.log")"
	exit 1
fi

# picked only now: the node takes half a minute to start, time enough for another process to
# be given a port picked before it (a run failed with "Address already in use" that way)
mport=$(free_port)
tracer_launch --pid "$npid" --ports "$port" --jsonl "$TMP/ev.jsonl" --metrics "127.0.0.1:$mport" ||
	exit 1

: >"$TMP/curl.txt"
call() { # call <times> <request body>: curl it, keep request and response for rpc_tally.py
	local i r
	for ((i = 0; i < $1; i++)); do
		r=$(curl -s --max-time 20 -H 'content-type: application/json' -d "$2" \
			"http://127.0.0.1:$port/")
		printf '%s\t%s\n' "$2" "$r" >>"$TMP/curl.txt"
	done
}
call 5 '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'
call 4 '{"jsonrpc":"2.0","id":2,"method":"net_peerCount","params":[]}'
call 3 '{"jsonrpc":"2.0","id":3,"method":"web3_clientVersion","params":[]}'
call 3 '{"jsonrpc":"2.0","id":4,"method":"vigil_noSuchMethod","params":[]}'
call 2 '{"jsonrpc":"2.0","id":5,"method":"eth_getBalance","params":[]}'
call 2 '{"jsonrpc":"2.0","id":6,"method":"eth_call","params":[{"data":"0x60006000fd"},"latest"]}'
call 1 '[{"jsonrpc":"2.0","id":7,"method":"eth_blockNumber","params":[]},'\
'{"jsonrpc":"2.0","id":8,"method":"vigil_noSuchMethod","params":[]}]'
python3 "$HERE/rpc_tally.py" <"$TMP/curl.txt" >"$TMP/curl.json"
# the codes the node itself gave, so the check below compares like with like
for code in -32601 -32602 3; do
	check "node-answered-$code" grep -q -- "|error|$code|" "$TMP/curl.json"
done
# a body that is not JSON: this node answers HTTP 400 (an HTML page, no JSON-RPC error object)
curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
	-d '{"jsonrpc":"2.0","id":9,"method":' "http://127.0.0.1:$port/" >"$TMP/perr.code"
check node-answered-400 test "$(cat "$TMP/perr.code")" = 400

sleep 1
curl -s "http://127.0.0.1:$mport/metrics" >"$TMP/metrics.txt"
# a batch of 80 whose request (4.7 KB) is cut by the default 4 KiB capture while its answer
# (3 KB) is whole: the answer tells the items past the cut
big=$(python3 -c 'import json; print(json.dumps([{"jsonrpc": "2.0", "id": i,
	"method": "eth_blockNumber", "params": []} for i in range(80)]))')
answered=$(curl -s -H 'content-type: application/json' -d "$big" "http://127.0.0.1:$port/" |
	jq '[.[] | select(.result)] | length')
check cut-batch-answered test "$answered" = 80
sleep 1
kill -INT "$vpid"
wait "$vpid"
check vigil-exit-status test $? = 0

ev=$TMP/ev.jsonl
# the unparsable request: one call, no method, status error from the HTTP status
jq -c 'select(.subject == "vigil.jsonrpc.requests") | .event |
	select(.method == null and .batch_size == 1) |
	[.status, .http_status, .batch_size]' "$ev" >"$TMP/perr.ev"
check parse-error-reported test "$(cat "$TMP/perr.ev")" = '["error",400,1]'
jq -c 'select(.subject == "vigil.jsonrpc.requests") | .event | select(.batch_size == 80) |
	[.status, .batch_index]' "$ev" >"$TMP/cut.ev"
check cut-batch-every-item test "$(sort -u "$TMP/cut.ev" | wc -l)" = 80
check cut-batch-all-ok test "$(grep -c '^\["ok",' "$TMP/cut.ev")" = 80
check cut-batch-indexes test "$(jq -s 'map(.[1]) | sort == [range(80)]' "$TMP/cut.ev")" = true
jq -c 'select(.subject == "vigil.jsonrpc.requests") |
	select(.event.method != null and .event.batch_size != 80)' "$ev" >"$TMP/ev-named.jsonl"
check counts-equal-curl python3 "$HERE/rpc_expect.py" "$TMP/ev-named.jsonl" "$TMP/curl.json"
python3 "$HERE/rpc_expect.py" "$TMP/ev-named.jsonl" "$TMP/curl.json"
check promtool-check-metrics promtool check metrics <"$TMP/metrics.txt"
check metrics-equal-curl python3 "$HERE/rpc_metrics_check.py" "$TMP/metrics.txt" "$TMP/curl.json" \
	--extra 'unknown|error'
python3 "$HERE/rpc_metrics_check.py" "$TMP/metrics.txt" "$TMP/curl.json" --extra 'unknown|error'
exit "$T_FAILED"
