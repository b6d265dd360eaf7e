#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Every dashboard (deploy/grafana/dashboards/*.json) and every alert rule queries only metrics
# that the real components export. Each Vigil component runs briefly with --metrics on a free
# loopback port, started the way its own tests start it, and does enough work for its metric
# families to appear:
#   peers     `vigil peers` polling the stand-in node (recorded geth and Prysm answers)
#   rpc       `vigil rpc` tracing a real ganache: successful calls and a failing one
#   watchdog  `vigil watchdog run --mode monitor` while a process calls getppid over its limit
#   kaspa     `vigil kaspa sensor`: a peer.js handshake advertising a listening peer.js (probed
#             and classified public) and one on the wrong network (failed)
#   mesh      two `vigil mesh agent`s and their coordinator in network namespaces: allowed
#             ICMP and denied TCP between them (agent 1 is scraped)
# Every component also publishes events (--jsonl), so each scrape holds the vigil_bus_* metrics.
# Then `deploy_check.py live` checks each query's metrics (recording rules expanded), labels and
# `label="value"` selections against the scrape of the component deploy/METRICS.md names, and
# each scrape against its component's contract. geth's and Prysm's metrics cannot be scraped
# here: they are checked against METRICS.md (whose table cites the clients' sources) by
# int_deploy_dashboards.sh and by the rules' promtool tests. Altered copies of a dashboard, the
# contract and the rules show the check failing for a metric, a label value and a recording
# rule that nothing exports.
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
cd "$VIGIL_ROOT" || exit 1
PY=/usr/bin/python3
CHECK=tests/integration/deploy_check.py
CONTRACT=deploy/METRICS.md
RULES=deploy/prometheus/alerts.rules.yml
PEER="$VIGIL_ROOT/kaspa/tests/peer.js"
NET="python3 $VIGIL_ROOT/mesh/tests/mesh_net.py"
dashboards=(deploy/grafana/dashboards/*.json)

if [ "$(id -u)" -ne 0 ]; then skip all "needs root (BPF, network namespaces)"; exit 0; fi
for t in node wireguard-go nsenter jq curl tc perl; do
	command -v $t >/dev/null || { skip all "$t not installed (run scripts/deps)"; exit 0; }
done
. "$VIGIL_ROOT/rpc/tests/rpc_start.sh"
. "$VIGIL_ROOT/kaspa/tests/kaspa_start.sh"
. "$VIGIL_ROOT/peers/tests/peers_start.sh"
ident=(x web db)
. "$VIGIL_ROOT/mesh/tests/mesh_agents.sh"

scrape() { # scrape <component> <url>: its /metrics into $TMP/<component>.prom
	curl -sf "$2/metrics" >"$TMP/$1.prom" && [ -s "$TMP/$1.prom" ]
}
has() { grep -q "^$2" "$TMP/$1.prom"; } # has <component> <series prefix>

# ---- ganache and the mesh first: they start while the others do ---------------------------
ganache_spawn || exit 1
ma_setup 2 || { fail setup "ip netns add"; exit 1; }
start_coord || { fail mesh_coordinator "$(tail -n 3 "$TMP/coord.log")"; exit 1; }
for n in web db; do admin identities add $n >/dev/null; done
echo 'allow web -> db icmp' >"$TMP/policy.txt"
admin policy apply -f "$TMP/policy.txt" >/dev/null || fail mesh_policy "$(admin policy show 2>&1)"
for i in 1 2; do
	start_agent $i
	wait_for 10 test -s "$TMP/state$i" || { fail "mesh_join_$i" "$(tail -n 5 "$TMP/agent$i.log")"; exit 1; }
done

# ---- the host's components ----------------------------------------------------------------
start_peers_server || exit 1
pport=$(free_port)
"$VIGIL" peers --exec "$URL" --beacon "$URL" --interval 300ms --json --jsonl "$TMP/peers.jsonl" \
	--metrics "127.0.0.1:$pport" >/dev/null 2>"$TMP/peers.err" &
on_exit "kill $!"

wport=$(free_port)
printf 'rule getppid 10/30s\n' >"$TMP/wd.rules"
"$VIGIL" watchdog run --mode monitor -r "$TMP/wd.rules" --metrics "127.0.0.1:$wport" \
	--jsonl "$TMP/wd.jsonl" 2>"$TMP/wd.err" &
on_exit "kill $!; wait $!"

start_sensor k --allow-private --probe-interval 0 || { fail kaspa_start "$(cat "$TMP/k.err")"; exit 1; }
peer_server pub
[ -n "$SPORT_pub" ] || { fail kaspa_peer_server "$(cat "$TMP/srv-pub.out")"; exit 1; }

ganache_wait || exit 1
rport=$(free_port)
start_tracer --metrics "127.0.0.1:$rport" --jsonl "$TMP/rpc.jsonl" || exit 1

# ---- activity -----------------------------------------------------------------------------
call() { curl -s -m 5 -H 'Content-Type: application/json' --data "$1" "http://127.0.0.1:$port/"; }
for m in eth_blockNumber eth_chainId eth_blockNumber; do
	call '{"jsonrpc":"2.0","id":1,"method":"'$m'","params":[]}' >/dev/null
done
call '{"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["0xnot-an-address","latest"]}' \
	>"$TMP/rpc_error.json"
check rpc_error_answered jq -e '.error.code' "$TMP/rpc_error.json"

wait_for 20 curl -sf "http://127.0.0.1:$wport/readyz" || fail watchdog_start "$(tail -n 3 "$TMP/wd.err")"
perl -e 'syscall(110) for 1..50'

node "$PEER" --mode client --port "$PORT_k" --user-agent "/kaspad:2.0.1/deploy-live/" \
	--advertise "127.0.0.1:$SPORT_pub" >/dev/null 2>&1
node "$PEER" --mode client --port "$PORT_k" --network kaspa-testnet-10 >/dev/null 2>&1

if wait_for 20 in_sync 2; then
	# the first packets wait for the WireGuard handshake
	wait_for 10 nx 1 $NET ping 10.78.0.2 1
	check mesh_icmp_allowed nx 1 $NET ping 10.78.0.2
	check mesh_tcp_denied bash -c "! nsenter --net=/run/netns/$P-1 $NET tcp-try 10.78.0.2 5001"
else
	fail mesh_in_sync "$(admin status 2>&1; tail -n 3 "$TMP"/agent*.log)"
fi

# ---- scrapes, once each component shows the families its activity creates ---------------
rpc_ready() { scrape rpc "http://127.0.0.1:$rport" && has rpc 'vigil_rpc_errors_total{'; }
peers_ready() { scrape peers "http://127.0.0.1:$pport" && has peers 'vigil_peers_connected{'; }
wd_ready() { scrape watchdog "http://127.0.0.1:$wport" && has watchdog 'vigil_watchdog_blocked_total{'; }
kaspa_ready() {
	scrape kaspa "http://127.0.0.1:$MPORT_k" && has kaspa 'vigil_kaspa_classifications_total{' &&
		has kaspa 'vigil_kaspa_handshakes_total{result="failed"'
}
mesh_ready() {
	nx 1 curl -sf http://127.0.0.1:9464/metrics >"$TMP/mesh.prom" && has mesh 'vigil_mesh_drops_total{' &&
		has mesh 'vigil_mesh_bytes_total{'
}
for c in rpc peers wd kaspa mesh; do
	check "scrape_$c" wait_for 15 ${c}_ready
done

args=(--scrape rpc="$TMP/rpc.prom" --scrape peers="$TMP/peers.prom" --scrape watchdog="$TMP/watchdog.prom"
	--scrape "kaspa sensor=$TMP/kaspa.prom" --scrape mesh="$TMP/mesh.prom")
"$PY" "$CHECK" live "$CONTRACT" "$RULES" "${dashboards[@]}" "${args[@]}" >"$TMP/live.out" 2>&1
rc=$?
cat "$TMP/live.out"
check dashboards_and_rules_live test "$rc" -eq 0
check every_component_checked test "$(grep -c '^vigil [a-z ]* (.*): [1-9][0-9]* queried metrics found live' \
	"$TMP/live.out")" -eq 5

# ---- the check fails when a query asks for what nothing exports ---------------------------
# expect_live_fail <name> <text in the output> <contract> <rules> <dashboard...>
expect_live_fail() {
	local name=$1 text=$2 out; shift 2
	if out=$("$PY" "$CHECK" live "$@" "${args[@]}" 2>&1); then
		fail "$name" "the check passed"
	elif [[ "$out" != *"$text"* ]]; then
		fail "$name" "output lacks '$text': $(tail -n 3 <<<"$out")"
	else
		pass "$name"
	fi
}
# a metric the dashboard and the contract agree on, but the exporter does not have
sed 's/vigil_rpc_events_lost_total/vigil_rpc_events_dropped_total/' deploy/grafana/dashboards/vigil-rpc.json \
	>"$TMP/rpc-altered.json"
sed 's/^| `vigil_rpc_events_lost_total` |/| `vigil_rpc_events_dropped_total` |/' "$CONTRACT" >"$TMP/METRICS.md"
check altered_copies_differ bash -c "! cmp -s '$TMP/rpc-altered.json' deploy/grafana/dashboards/vigil-rpc.json &&
	! cmp -s '$TMP/METRICS.md' '$CONTRACT'"
expect_live_fail rejects_unexported_metric \
	'vigil_rpc_events_dropped_total is not in the live scrape of vigil rpc' "$TMP/METRICS.md" "$TMP/rpc-altered.json"
# a label value the exporter never uses
sed 's/result=\\"ok\\"/result=\\"success\\"/' deploy/grafana/dashboards/vigil-kaspa.json >"$TMP/kaspa-altered.json"
expect_live_fail rejects_unexported_label_value 'vigil_kaspa_handshakes_total{result="success"} selects nothing' \
	"$CONTRACT" "$TMP/kaspa-altered.json"
# recording rules: a dashboard may use one whose expression uses exported metrics, and not one
# built on a metric nothing exports
cat >"$TMP/records.yml" <<'EOF'
groups:
  - name: records
    rules:
      - record: job:vigil_rpc_requests:rate5m
        expr: sum by (job) (rate(vigil_rpc_requests_total[5m]))
      - record: job:vigil_rpc_retries:rate5m
        expr: sum by (job) (rate(vigil_rpc_retries_total[5m]))
EOF
jq '.panels[0].targets[0].expr = "job:vigil_rpc_requests:rate5m"' deploy/grafana/dashboards/vigil-rpc.json \
	>"$TMP/rpc-record.json"
sed '/record: job:vigil_rpc_retries/,+1d' "$TMP/records.yml" >"$TMP/records-good.yml"
check accepts_recording_rule "$PY" "$CHECK" live "$CONTRACT" "$TMP/records-good.yml" "$TMP/rpc-record.json" \
	"${args[@]}"
sed 's/"job:vigil_rpc_requests:rate5m"/"job:vigil_rpc_retries:rate5m"/' "$TMP/rpc-record.json" \
	>"$TMP/rpc-record-bad.json"
expect_live_fail rejects_recording_rule_on_unexported \
	"rpc-record-bad.json panel 'Calls/s': metric vigil_rpc_retries_total is not in" \
	"$CONTRACT" "$TMP/records.yml" "$TMP/rpc-record-bad.json"
exit "$T_FAILED"
