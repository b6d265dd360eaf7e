#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil rpc --metrics` on a real ganache: 400 calls with distinct garbage method names under
# --max-methods 256 give at most 256 method labels plus "other", and the folded counter is exact;
# `promtool check metrics` accepts the page; every series equals the client's counts.
. "$VIGIL_ROOT/tests/lib.sh"
. "$VIGIL_ROOT/rpc/tests/rpc_start.sh"

mport=$(free_port)
start_ganache || exit 1
start_tracer --max-methods 256 --metrics "127.0.0.1:$mport" --jsonl "$TMP/ev.jsonl" || exit 1
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
