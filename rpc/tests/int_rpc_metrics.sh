#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil rpc --metrics` on a real ganache: 400 calls with distinct garbage method names under
# --max-methods 256 give at most 256 method labels plus "other", and the folded counter is exact;
# `promtool check metrics` accepts the page; every series equals the client's counts.
. "$VIGIL_ROOT/tests/lib.sh"
export NODE_PATH=$VIGIL_ROOT/.cache/npm/node_modules
HERE=$VIGIL_ROOT/rpc/tests
GANACHE=$NODE_PATH/.bin/ganache
[ -x "$GANACHE" ] || { fail setup "ganache missing in $NODE_PATH: run scripts/deps"; exit 1; }

port=$(free_port)
mport=$(free_port)
"$GANACHE" --server.host 127.0.0.1 --server.port "$port" --logging.quiet \
	--wallet.totalAccounts 1 >"$TMP/ganache.log" 2>&1 &
gpid=$!
on_exit "kill $gpid"
wait_for 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || { fail setup "ganache"; exit 1; }
"$VIGIL" rpc --pid "$gpid" --ports "$port" --interval 500ms --max-methods 256 \
	--metrics "127.0.0.1:$mport" --jsonl "$TMP/ev.jsonl" 2>"$TMP/vigil.err" &
vpid=$!
on_exit "kill $vpid"
if ! wait_for 30 grep -q capturing "$TMP/vigil.err"; then
	fail start "vigil rpc did not start: $(tail -n 3 "$TMP/vigil.err")"
	exit 1
fi
node "$HERE/rpc_load.js" "$port" "$TMP/garbage.json" garbage 400 || fail client "rpc_load.js"
sleep 1
curl -s "http://127.0.0.1:$mport/metrics" >"$TMP/metrics.txt"
kill -INT "$vpid"
wait "$vpid"
check vigil-exit-status test $? = 0

check promtool-check-metrics promtool check metrics <"$TMP/metrics.txt"
labels=$(grep '^vigil_rpc_requests_total{' "$TMP/metrics.txt" | sed 's/.*method="\([^"]*\)".*/\1/' |
	sort -u)
echo "method labels: $(echo "$labels" | wc -l)"
check method-labels-capped test "$(echo "$labels" | grep -vc '^other$')" = 256
check method-label-other test "$(echo "$labels" | grep -c '^other$')" = 1
folded=$(awk '$1 == "vigil_rpc_methods_folded_total" {print $2}' "$TMP/metrics.txt")
check folded-exact test "$folded" = 144
check other-counts-folded test "$(awk -F' ' '/^vigil_rpc_requests_total\{method="other"/ {s += $2}
	END {print s}' "$TMP/metrics.txt")" = 144
check errors-labels-capped test "$(grep '^vigil_rpc_errors_total{' "$TMP/metrics.txt" |
	sed 's/.*method="\([^"]*\)".*/\1/' | sort -u | grep -vc '^other$')" -le 256
# every call counted once, folded or not
check total-equal-client test "$(awk '/^vigil_rpc_requests_total\{/ {s += $2} END {print s}' \
	"$TMP/metrics.txt")" = "$(jq '[.[]] | add' "$TMP/garbage.json")"
check events-all-reported test "$(jq -c 'select(.subject == "vigil.jsonrpc.requests")' \
	"$TMP/ev.jsonl" | wc -l)" = 400
exit "$T_FAILED"
