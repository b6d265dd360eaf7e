#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil peers` as a user runs it, against the stand-in node (peers_server.py serving the
# recorded geth, Prysm and -32601 answers over HTTP and a geth-style IPC socket):
#   - --once in every format (JSON, CSV, table), over HTTP and IPC, both sides at once;
#   - the admin API disabled (-32601): a clear line, exit 3, and in watch mode up 0 with retries;
#   - the live /metrics of the watch mode against deploy/METRICS.md (deploy_check.py scrape),
#     promtool's linter, and every vigil metric and label the peers dashboard queries;
#   - a slow node does not stall /metrics (fetches run on the worker thread);
#   - bad input: one clear line and a non-zero exit.
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
PY=/usr/bin/python3
CHECK="$VIGIL_ROOT/tests/integration/deploy_check.py"
DASH="$VIGIL_ROOT/deploy/grafana/dashboards/vigil-peers.json"

. "$VIGIL_ROOT/peers/tests/peers_start.sh"
start_peers_server || exit 1
N_EXEC=$(jq '.result | length' "$FIX/geth_admin_peers.json")
N_CONS=$(jq '[.data[] | select(.state == "connected")] | length' "$FIX/prysm_peers.json")

# ---- --once -------------------------------------------------------------------------------
out=$("$VIGIL" peers --exec "$URL" --beacon "$URL" --once --json 2>"$TMP/once.err"); rc=$?
check once_json_exit_0 test "$rc" -eq 0
check once_json_both_up jqe '.execution.up and .consensus.up' <<<"$out"
check once_json_exec_peers jqe --argjson n "$N_EXEC" \
	'[.peers[] | select(.side == "execution")] | length == $n' <<<"$out"
check once_json_cons_peers jqe --argjson n "$N_CONS" \
	'[.peers[] | select(.side == "consensus")] | length == $n' <<<"$out"
check once_json_one_line test "$(printf '%s\n' "$out" | wc -l)" -eq 1
check once_quiet test ! -s "$TMP/once.err"

out=$("$VIGIL" peers --exec "$TMP/geth.ipc" --once --json); rc=$?
check once_ipc jqe --argjson n "$N_EXEC" '.execution.up and (.peers | length == $n)' <<<"$out"

out=$("$VIGIL" peers --exec "$URL" --once --csv)
check once_csv_header test "$(head -n 1 <<<"$out" | tr -d '\r' | cut -d, -f1-3)" = "side,id,client"
check once_csv_rows test "$(wc -l <<<"$out")" -eq $((N_EXEC + 1))

out=$("$VIGIL" peers --exec "$URL" --beacon "$URL" --once)
check once_table_headers bash -c 'grep -q "^execution  peers '"$N_EXEC"' " <<<"$1" &&
	grep -q "^consensus  peers '"$N_CONS"' " <<<"$1" && grep -q "^ID  *SIDE  *CLIENT" <<<"$1"' _ "$out"
check once_table_no_escapes bash -c '! grep -q $'"'"'\033'"'"' <<<"$1"' _ "$out"

# ---- admin API disabled (-32601) ----------------------------------------------------------
out=$("$VIGIL" peers --exec "$URL/admin-off" --once --json 2>"$TMP/admin.err"); rc=$?
check admin_off_exit_3 test "$rc" -eq 3
check admin_off_json jqe '.execution.up == false and .execution.admin_disabled == true' <<<"$out"
check admin_off_one_line test "$(wc -l <"$TMP/admin.err")" -eq 1
check admin_off_message grep -q -- "-32601.*enable the admin API" "$TMP/admin.err"
# the other side still reported: exit 3 only when admin is the only failure
"$VIGIL" peers --exec "$URL/admin-off" --beacon "$URL" --once --json >"$TMP/admin2.json" 2>/dev/null
rc=$?
check admin_off_with_beacon_exit_3 test "$rc" -eq 3
check admin_off_beacon_up jqe '.consensus.up' <"$TMP/admin2.json"

mport=$(free_port)
"$VIGIL" peers --exec "$URL/admin-off" --interval 200ms --json --metrics "127.0.0.1:$mport" \
	>"$TMP/admin_watch.out" 2>"$TMP/admin_watch.err" &
W=$!
on_exit "kill $W"
scrape_errors() {
	curl -sf "http://127.0.0.1:$mport/metrics" |
		sed -n 's/^vigil_peers_scrape_errors_total{side="execution"} //p'
}
retried_3() { [ "$(scrape_errors)" -ge 3 ] 2>/dev/null; }
# backoff: 200ms, 400ms, 800ms... three failed polls take about 1.4 s
wait_for 30 retried_3
check admin_watch_retries test "$(scrape_errors)" -ge 3
check admin_watch_up_0 bash -c "curl -sf http://127.0.0.1:$mport/metrics |
	grep -qx 'vigil_peers_up{side=\"execution\"} 0'"
check admin_watch_alive kill -0 $W
check admin_watch_warned_once test "$(grep -c 'warn  peers: .*-32601.*retrying in' "$TMP/admin_watch.err")" -eq 1
check admin_watch_backoff grep -q "still down after 3 tries; next in 0.8s" "$TMP/admin_watch.err"
kill -TERM $W
wait $W
check admin_watch_sigterm_exit_0 test $? -eq 0

# ---- live metrics against the contract and the dashboard ----------------------------------
mport=$(free_port)
"$VIGIL" peers --exec "$URL" --beacon "$URL" --interval 300ms --json --jsonl "$TMP/events.jsonl" \
	--metrics "127.0.0.1:$mport" >"$TMP/watch.out" 2>"$TMP/watch.err" &
W=$!
on_exit "kill $W"
has_connected() { curl -sf "http://127.0.0.1:$mport/metrics" | grep -q '^vigil_peers_connected{'; }
wait_for 20 has_connected
curl -sf "http://127.0.0.1:$mport/metrics" >"$TMP/metrics.prom"
check scrape_contract "$PY" "$CHECK" scrape "$VIGIL_ROOT/deploy/METRICS.md" peers "$TMP/metrics.prom"
if command -v promtool >/dev/null; then
	promtool check metrics <"$TMP/metrics.prom" >"$TMP/lint" 2>&1
	check scrape_promtool_lint test ! -s "$TMP/lint"
	[ -s "$TMP/lint" ] && cat "$TMP/lint"
else
	skip scrape_promtool_lint "promtool is not installed (scripts/deps installs prometheus)"
fi
# the connected series add up to what the snapshot lists, by side
for side in execution consensus; do
	want=$([ $side = execution ] && echo "$N_EXEC" || echo "$N_CONS")
	got=$(awk -v s="side=\"$side\"" 'index($0, "vigil_peers_connected{") == 1 && index($0, s) \
		{ n += $NF } END { print n + 0 }' "$TMP/metrics.prom")
	check "scrape_connected_sum_$side" test "$got" -eq "$want"
done
check scrape_no_peer_ids bash -c "! grep -E '^vigil_peers_connected\{.*client=\"[^\"]{40,}\"' '$TMP/metrics.prom'"
check scrape_bus_metrics grep -q '^vigil_bus_published_total ' "$TMP/metrics.prom"
# every vigil metric the peers dashboard queries is in this scrape, with the labels and label
# values it selects (tests/integration/int_deploy_live.sh does this for every dashboard)
check dashboard_metrics_live "$PY" "$CHECK" live "$VIGIL_ROOT/deploy/METRICS.md" "$DASH" \
	--scrape peers="$TMP/metrics.prom"
check watch_json_lines bash -c "[ \$(wc -l <'$TMP/watch.out') -ge 1 ] && jq -e -s 'all(.execution.up)' '$TMP/watch.out'"
check healthz curl -sf "http://127.0.0.1:$mport/healthz"
check readyz curl -sf "http://127.0.0.1:$mport/readyz"
# a real Prometheus scrapes the monitor as job vigil-peers; every dashboard query made of vigil
# metrics only returns data (Grafana's $__rate_interval and friends become 5m)
if command -v prometheus >/dev/null; then
	pport=$(free_port)
	cat >"$TMP/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: vigil-peers
    static_configs: [ { targets: ["127.0.0.1:$mport"] } ]
EOF
	prometheus --config.file "$TMP/prometheus.yml" --storage.tsdb.path "$TMP/prom" \
		--web.listen-address "127.0.0.1:$pport" >"$TMP/prometheus.log" 2>&1 &
	PROM=$!
	on_exit "kill $PROM; wait $PROM"
	three_scrapes() {
		local body
		body=$(curl -sf "http://127.0.0.1:$pport/api/v1/query" \
			--data-urlencode 'query=count_over_time(vigil_peers_up{job="vigil-peers"}[1m]) >= 3') &&
			[ -n "$body" ] && jq -e '.data.result | length > 0' <<<"$body"
	}
	wait_for 60 three_scrapes
	check prometheus_scraped three_scrapes
	check dashboard_queries_return_data "$PY" - "$VIGIL_ROOT/tests/integration" "$DASH" \
		"http://127.0.0.1:$pport" <<'EOF'
import json, sys, urllib.parse, urllib.request
sys.path.insert(0, sys.argv[1])
import deploy_check as dc
bad, n = [], 0
for where, expr, _ in dc.dashboard_queries(json.load(open(sys.argv[2])), "vigil-peers.json"):
    names = dc.metric_names(expr)
    if not names or not all(m.startswith("vigil_") for m in names):
        continue  # queries of geth's and Prysm's metrics
    q = dc.grafana_vars_to_promql(expr)
    url = sys.argv[3] + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=10) as r:
        res = json.load(r)
    n += 1
    if res.get("status") != "success" or not res["data"]["result"]:
        bad.append("%s: %s returned no data: %s" % (where, q, json.dumps(res)[:200]))
for b in bad:
    print(b)
print("%d dashboard queries evaluated" % n)
sys.exit(1 if bad or not n else 0)
EOF
else
	skip dashboard_queries_return_data "prometheus is not installed (scripts/deps)"
fi
kill -INT $W
wait $W
check watch_sigint_exit_0 test $? -eq 0

# ---- the Kubernetes Deployment's command line works as written ----------------------------
# its args, with the cluster's Service names pointed at the stand-in node and a free port
mport=$(free_port)
mapfile -t kargs < <("$PY" - "$VIGIL_ROOT/deploy/kubernetes/base/ethereum/vigil-peers.yaml" <<'EOF'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "Deployment":
        for a in d["spec"]["template"]["spec"]["containers"][0]["args"]:
            print(a)
EOF
)
kargs=("${kargs[@]//http:\/\/geth:8545/$URL}")
kargs=("${kargs[@]//http:\/\/prysm:3500/$URL}")
kargs=("${kargs[@]//0.0.0.0:9103/127.0.0.1:$mport}")
check k8s_args_read test "${kargs[0]:-}" = peers
"$VIGIL" "${kargs[@]}" >/dev/null 2>"$TMP/k8s.err" &
W=$!
on_exit "kill $W"
both_up() {
	curl -sf "http://127.0.0.1:$mport/metrics" | grep -c '^vigil_peers_up{side="[a-z]*"} 1' | grep -qx 2
}
wait_for 20 both_up
check k8s_args_both_sides_up both_up
kill -TERM $W
wait $W
check k8s_args_exit_0 test $? -eq 0

# ---- a slow node does not stall the loop ---------------------------------------------------
# /slow answers every request after 3 s; a refresh asks 4 questions. /metrics must still answer
# while the worker waits.
mport=$(free_port)
"$VIGIL" peers --exec "$URL/slow" --timeout 10s --json --metrics "127.0.0.1:$mport" \
	>/dev/null 2>"$TMP/slow.err" &
W=$!
on_exit "kill $W"
wait_for 10 curl -sf "http://127.0.0.1:$mport/healthz"
sleep 1 # the first refresh is now waiting on the node
check slow_node_metrics_answer curl -sf --max-time 2 "http://127.0.0.1:$mport/metrics" -o /dev/null
kill -TERM $W
wait $W
check slow_node_exit_0 test $? -eq 0

# ---- bad input: one clear line, non-zero exit ----------------------------------------------
# expect_err <name> <exit code> <text in stderr> <args...>
expect_err() {
	local name=$1 code=$2 text=$3 out rc; shift 3
	out=$("$VIGIL" peers "$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne "$code" ]; then fail "$name" "exit $rc, expected $code: $out"; return; fi
	if [[ "$out" != *"$text"* ]]; then fail "$name" "stderr '$out' lacks '$text'"; return; fi
	if [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then fail "$name" "more than one line: $out"; return; fi
	pass "$name"
}
dead=$(free_port)
expect_err bad_url_scheme 2 'endpoint "htp://127.0.0.1:8545": not an http:// or https:// URL' \
	--exec htp://127.0.0.1:8545 --once
expect_err bad_url_word 2 'endpoint "localhost:8545": not an http://' --exec localhost:8545 --once
expect_err interval_zero 2 "invalid value '0' for --interval" --exec "$URL" --interval 0
expect_err no_endpoint 2 "no endpoint: give --exec" --once
expect_err beacon_ipc 2 "the beacon API is HTTP" --beacon "$TMP/geth.ipc" --once
expect_err csv_and_json 2 "--csv and --json exclude each other" --exec "$URL" --csv --json --once
expect_err extra_argument 2 "unexpected argument 'http://x'" http://x
expect_err once_metrics 2 "--metrics serves a running monitor" --exec "$URL" --once --metrics 127.0.0.1:0
expect_err unreachable_once 1 "execution: http://127.0.0.1:$dead: cannot connect: Connection refused" \
	--exec "http://127.0.0.1:$dead" --once
expect_err unreachable_once_json 1 "Connection refused" --exec "http://127.0.0.1:$dead" --once --json
expect_err html_502_once 1 "HTTP 502 with text/html body, not JSON" --exec "$URL/html502" --once
expect_err timeout_once 1 "no complete answer to admin_peers within 500 ms" --exec "$URL/slow" --timeout 500ms --once
expect_err missing_ipc_once 1 "$TMP/none.ipc" --exec "$TMP/none.ipc" --once
exit $T_FAILED
