#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil rpc --comm node` against a real ganache driven by ethers, the ws package, curl and raw
# HTTP clients (rpc_ganache_client.js, rpc_preconn.js), plus a gzip-answering node HTTP server.
# Every per-method count, status and error code vigil reports must equal the clients' own counts.
# RPC_HOOK=socket|syscall picks the kernel hooks (int_rpc_ganache_syscall.sh runs it with the
# syscall ones); by default the tracer's own choice, which on this kernel is socket.
. "$VIGIL_ROOT/tests/lib.sh"
export NODE_PATH=$VIGIL_ROOT/.cache/npm/node_modules
HERE=$VIGIL_ROOT/rpc/tests
GANACHE=$NODE_PATH/.bin/ganache
if [ ! -x "$GANACHE" ] || [ ! -d "$NODE_PATH/ethers" ]; then
	fail setup "ganache/ethers missing in $NODE_PATH: run scripts/deps"
	exit 1
fi
ulimit -n 8192

port=$(free_port)
gzport=$(free_port)
mport=$(free_port)
start_ganache() {
	"$GANACHE" --server.host 127.0.0.1 --server.port "$port" --logging.quiet \
		--wallet.totalAccounts 2 --chain.allowUnlimitedContractSize \
		--miner.callGasLimit 0x7fffffff --miner.blockGasLimit 0x7fffffff >>"$TMP/ganache.log" 2>&1 &
	GPID=$!
	on_exit "kill $GPID"
	# connect without sending anything: a probe must not be a call
	wait_for 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
}
start_ganache
node "$HERE/rpc_gzip_server.js" "$gzport" &
on_exit "kill $!"
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$gzport" || { fail setup "gzip server"; exit 1; }

# a keep-alive connection opened (and used) before vigil starts
mkfifo "$TMP/pre.out"
node "$HERE/rpc_preconn.js" "$port" "$TMP/go" 20 "$TMP/preconn.json" >"$TMP/pre.out" &
prepid=$!
read -r _ preclient <"$TMP/pre.out"

"$VIGIL" rpc --comm node --ports "$port,$gzport" --interval 500ms --capture 16KiB \
	${RPC_HOOK:+--hook "$RPC_HOOK"} --metrics "127.0.0.1:$mport" --jsonl "$TMP/ev.jsonl" \
	2>"$TMP/vigil.err" &
vpid=$!
on_exit "kill $vpid"
if ! wait_for 30 grep -q capturing "$TMP/vigil.err"; then
	fail start "vigil rpc did not start: $(tail -n 3 "$TMP/vigil.err")"
	exit 1
fi
echo "$(date +%T) vigil started"
check hooks-${RPC_HOOK:-auto} grep -q "hooks: ${RPC_HOOK:-socket}" "$TMP/vigil.err"
touch "$TMP/go"
wait $prepid || fail preconn "client failed"

node "$HERE/rpc_ganache_client.js" "$port" "$gzport" "$TMP" >"$TMP/client.log" 2>&1 ||
	fail client "$(tail -n 5 "$TMP/client.log")"

echo "$(date +%T) client done"
# curl: single calls, batches with errors, and 300 calls on one keep-alive connection
: >"$TMP/curl.txt"
rpc() { curl -s --max-time 20 -H 'content-type: application/json' "$@"; }
# record <request> <response>: kept as a pair; tally.py turns the pairs into the client's counts
record() { printf '%s\t%s\n' "${1//$'\n'/}" "${2//$'\n'/}" >>"$TMP/curl.txt"; }
for i in $(seq 1 10); do
	q='{"jsonrpc":"2.0","id":'$i',"method":"web3_clientVersion"}'
	record "$q" "$(rpc -d "$q" "http://127.0.0.1:$port/")"
done
batch='[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},'\
'{"jsonrpc":"2.0","id":2,"method":"vigil_noSuchMethod"},'\
'{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":[]},'\
'{"jsonrpc":"2.0","id":4,"method":"net_version"}]'
for i in 1 2 3; do record "$batch" "$(rpc -d "$batch" "http://127.0.0.1:$port/")"; done
q='{"jsonrpc":"2.0","id":9,"method":"eth_hashrate"}'
urls=$(for i in $(seq 1 300); do echo "http://127.0.0.1:$port/"; done)
# shellcheck disable=SC2086
{ rpc -d "$q" $urls; echo; } | sed 's/}{/}\n{/g' >"$TMP/ka.out"
while read -r r; do record "$q" "$r"; done <"$TMP/ka.out"
check curl-keepalive-answers test "$(wc -l <"$TMP/ka.out")" = 300

echo "$(date +%T) curl done"
# the node restarted under tracing: a new process on the same port is traced (--comm)
kill "$GPID"
wait "$GPID" 2>/dev/null
start_ganache || fail restart "ganache did not come back"
for i in $(seq 1 10); do
	q='{"jsonrpc":"2.0","id":'$i',"method":"net_listening"}'
	record "$q" "$(rpc -d "$q" "http://127.0.0.1:$port/")"
done
python3 "$HERE/rpc_tally.py" <"$TMP/curl.txt" >"$TMP/curl.json"

echo "$(date +%T) restart done"
sleep 1
curl -s "http://127.0.0.1:$mport/metrics" >"$TMP/metrics.txt"
kill -INT "$vpid"
wait "$vpid"
check vigil-exit-status test $? = 0

ev=$TMP/ev.jsonl
req() { jq -c "select(.subject == \"vigil.jsonrpc.requests\") | .event | $1" "$ev"; }
check counts-equal-clients python3 "$HERE/rpc_expect.py" "$ev" "$TMP/expected.json" \
	"$TMP/preconn.json" "$TMP/curl.json"
python3 "$HERE/rpc_expect.py" "$ev" "$TMP/expected.json" "$TMP/preconn.json" "$TMP/curl.json"

# a response of several MB: resp_bytes is every byte the server wrote for it
big=$(jq .big_resp_bytes "$TMP/facts.json")
bigq=$(jq .big_req_bytes "$TMP/facts.json")
check big-response-several-mb test "$big" -gt 4000000
check big-response-bytes test "$(req "select(.method == \"eth_call\" and .status == \"ok\") |
	[.req_bytes, .resp_bytes]")" = "[$bigq,$big]"
check gzip-served test "$(jq -r .gzip_encoding "$TMP/facts.json")" = gzip
check ws-pushes test "$(jq .ws_pushes "$TMP/facts.json")" = 6
check ethers-ws-blocks test "$(jq .ethers_ws_blocks "$TMP/facts.json")" = 3
# one connection for each keep-alive run, 1,000 for the concurrent calls
check keepalive-one-connection test "$(req 'select(.method == "eth_gasPrice") | .client' |
	sort -u)" = "\"$(jq -r .keepalive_client "$TMP/facts.json")\""
check pipelined-one-connection test "$(req 'select(.method == "web3_sha3") | .client' |
	sort -u)" = "\"$(jq -r .pipelined_client "$TMP/facts.json")\""
check curl-keepalive-one-connection test "$(req 'select(.method == "eth_hashrate") | .client' |
	sort -u | wc -l)" = 1
check preconn-same-connection test "$(req 'select(.method == "eth_mining") | .client' |
	sort -u)" = "\"$preclient\""
check thousand-connections test "$(req 'select(.method == "eth_coinbase") | .client' |
	sort -u | wc -l)" = "$(jq .thousand_ports "$TMP/facts.json")"
check thousand-ports-1000 test "$(jq .thousand_ports "$TMP/facts.json")" = 1000
check restarted-node-pid test "$(req 'select(.method == "net_listening") | .pid' | sort -u)" = "$GPID"
check no-events-lost grep -qx 'vigil_rpc_events_lost_total 0' "$TMP/metrics.txt"
check promtool-check-metrics promtool check metrics <"$TMP/metrics.txt"
check metrics-equal-clients python3 "$HERE/rpc_metrics_check.py" "$TMP/metrics.txt" \
	"$TMP/expected.json" "$TMP/preconn.json" "$TMP/curl.json"
pushes=$(jq '.ws_pushes + .ethers_ws_blocks' "$TMP/facts.json")
check notifications-metric grep -qx \
	"vigil_rpc_notifications_total{method=\"eth_subscription\"} $pushes" "$TMP/metrics.txt"
exit "$T_FAILED"
