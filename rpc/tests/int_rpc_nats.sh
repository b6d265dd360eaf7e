#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil rpc --nats-url ... --jetstream RPC` on a real ganache and a real nats-server: a libnats
# subscriber (rpc_nats_sub) receives exactly curl's calls on <app_id>.jsonrpc.requests, exactly
# the failed ones on .jsonrpc.errors, and per-method aggregates on .jsonrpc.latency whose call
# counts add up to curl's.
. "$VIGIL_ROOT/tests/lib.sh"
. "$VIGIL_ROOT/rpc/tests/rpc_start.sh"
SUB=${VIGIL_BUILD:-build}/tests/rpc_nats_sub
[ -x "$SUB" ] || { fail setup "$SUB missing: run make"; exit 1; }

nport=$(free_port)
start_nats "$nport" "$TMP/nats" || { fail setup "nats-server did not start"; exit 1; }
start_ganache || exit 1

"$SUB" "nats://127.0.0.1:$nport" 'vtest.jsonrpc.>' >"$TMP/sub.out" 2>"$TMP/sub.err" &
spid=$!
on_exit "kill $spid"
wait_for 10 grep -q ready "$TMP/sub.err" || { fail setup "subscriber: $(cat "$TMP/sub.err")"; exit 1; }

start_tracer --app-id vtest --nats-url "nats://127.0.0.1:$nport" --jetstream RPC \
	--spool "$TMP/spool.db" || exit 1

: >"$TMP/curl.txt"
call() { # call <times> <request body>
	local i r
	for ((i = 0; i < $1; i++)); do
		r=$(curl -s --max-time 20 -H 'content-type: application/json' -d "$2" \
			"http://127.0.0.1:$port/")
		printf '%s\t%s\n' "$2" "${r//$'\n'/}" >>"$TMP/curl.txt"
	done
}
call 8 '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'
call 5 '{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":[]}'
call 3 '{"jsonrpc":"2.0","id":3,"method":"vigil_noSuchMethod","params":[]}'
call 2 '[{"jsonrpc":"2.0","id":4,"method":"net_version"},'\
'{"jsonrpc":"2.0","id":5,"method":"eth_getBalance","params":[]}]'
python3 "$HERE/rpc_tally.py" <"$TMP/curl.txt" >"$TMP/curl.json"

sleep 1.5 # one more interval: the aggregates of the last calls
kill -INT "$vpid"
wait "$vpid"
check vigil-exit-status test $? = 0
sleep 0.5
kill "$spid"
wait "$spid"

python3 -c '
import json, sys
for line in open(sys.argv[1]):
    subject, data = line.rstrip("\n").split("\t", 1)
    print(json.dumps({"subject": subject, "event": json.loads(data)}))' "$TMP/sub.out" >"$TMP/sub.jsonl"
echo "received: $(cut -f1 "$TMP/sub.out" | sort | uniq -c | tr '\n' ' ')"
check requests-equal-curl python3 "$HERE/rpc_expect.py" "$TMP/sub.jsonl" "$TMP/curl.json"
python3 "$HERE/rpc_expect.py" "$TMP/sub.jsonl" "$TMP/curl.json"
# errors: the same calls that failed, nothing else
jq -c 'select(.subject == "vtest.jsonrpc.errors") | .event | [.method, .error_code]' \
	"$TMP/sub.jsonl" | sort | uniq -c | awk '{print $2, $1}' >"$TMP/err.got"
jq -r 'to_entries[] | select(.key | split("|")[2] == "error") |
	"[\"\(.key | split("|")[0])\",\(.key | split("|")[3])] \(.value)"' "$TMP/curl.json" |
	sort | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort >"$TMP/err.want"
sort -o "$TMP/err.got" "$TMP/err.got"
check errors-subject-exact diff "$TMP/err.want" "$TMP/err.got"
check errors-subject-nonempty test -s "$TMP/err.got"
# latency: per-method aggregates whose calls add up to curl's counts
jq -r 'select(.subject == "vtest.jsonrpc.latency") | .event | "\(.method) \(.calls)"' \
	"$TMP/sub.jsonl" | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort >"$TMP/lat.got"
jq -r 'to_entries[] | "\(.key | split("|")[0]) \(.value)"' "$TMP/curl.json" |
	awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort >"$TMP/lat.want"
check latency-subject-sums diff "$TMP/lat.want" "$TMP/lat.got"
check latency-has-quantiles test "$(jq -c 'select(.subject == "vtest.jsonrpc.latency") |
	.event | select(.p50_ns > 0 and .p99_ns >= .p50_ns) | 1' "$TMP/sub.jsonl" | wc -l)" = \
	"$(grep -c '^vtest.jsonrpc.latency' "$TMP/sub.out")"
exit "$T_FAILED"
