# SPDX-License-Identifier: GPL-2.0-only
# `make demo` as a user runs it, non-interactively: scripts/demo --seconds 15 with top's --json
# output (DEMO_JSON=1). The table must show every method the ethers generator sends with
# non-zero calls (never more than the generator's own count), the unknown method as errors, no
# lost events, and the node and generator must be gone afterwards.
. "$VIGIL_ROOT/tests/lib.sh"

if [ "$(id -u)" -ne 0 ]; then skip demo "needs root to load eBPF programs"; exit 0; fi
if [ ! -x "$VIGIL_ROOT/.cache/npm/node_modules/.bin/ganache" ]; then
	skip demo "ganache not installed in .cache/npm (run scripts/deps)"
	exit 0
fi

out=$TMP/top.jsonl
counts=$TMP/counts.json
rc=0
DEMO_JSON=1 DEMO_COUNTS=$counts VIGIL_BUILD=${VIGIL_BUILD:-$VIGIL_ROOT/build} \
	"$VIGIL_ROOT/scripts/demo" --seconds 15 >"$out" 2>"$TMP/demo.err" || rc=$?
cat "$TMP/demo.err"
check exits_zero test "$rc" -eq 0
check intro_line grep -q '^vigil demo: ganache (PID [0-9]*) serves JSON-RPC on 127.0.0.1:' \
	"$TMP/demo.err"
check fifteen_refreshes test "$(wc -l <"$out")" -eq 15
check every_line_json jq -e 'has("methods") and has("calls")' "$out"

last=$(tail -n 1 "$out")
for m in eth_blockNumber eth_getBalance eth_call eth_chainId eth_gasPrice net_version \
	vigil_noSuchMethod eth_sendRawTransaction; do
	traced=$(jq -r --arg m "$m" '[.methods[] | select(.method == $m) | .total_calls] | add // 0' \
		<<<"$last")
	sent=$(jq -r --arg m "$m" '.[$m] // 0' "$counts" 2>/dev/null || echo 0)
	if [ "$traced" -gt 0 ] && [ "$traced" -le "$sent" ]; then
		pass "method_$m"
	else
		fail "method_$m" "vigil rpc top counted $traced calls, the generator sent $sent"
	fi
done
errs=$(jq -r '[.methods[] | select(.method == "vigil_noSuchMethod") | .total_errors] | add // 0' \
	<<<"$last")
check unknown_method_errors test "$errs" -gt 0
check no_events_lost jq -es 'all(.[]; .events_lost == 0)' "$out"

# everything the demo started is gone
node=$(sed -n 's/^vigil demo: ganache (PID \([0-9]*\)).*/\1/p' "$TMP/demo.err")
gen=$(sed -n 's/.*an ethers client (PID \([0-9]*\)).*/\1/p' "$TMP/demo.err")
check node_stopped bash -c "[ -n '$node' ] && ! kill -0 '$node' 2>/dev/null"
check generator_stopped bash -c "[ -n '$gen' ] && ! kill -0 '$gen' 2>/dev/null"
exit $T_FAILED
