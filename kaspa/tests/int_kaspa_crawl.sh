#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil kaspa crawl` and `vigil kaspa report` against kaspa/tests/simnet.js: one Node.js process
# serving a simulated Kaspa network of 50 @grpc/grpc-js peers, each on its own loopback address
# (127.0.0.2...) with its own id and user agent, answering RequestAddresses (gzipped, some
# addresses IPv4-mapped IPv6) from a deterministic graph with 12 "private" addresses nobody
# listens on and a sensor address gossiped by a known set of peers:
#   - the crawler finds every listening node (addresses, ids, user agents equal to the graph's),
#     marks every advertised non-listening address unreachable (refused), and stores exactly
#     the graph's edges and one address response per node;
#   - the same crawl of the same network into a real PostgreSQL stores the same nodes, edges and
#     responses;
#   - two crawls (fractions 0.3 and 0.5 of the peers gossiping the sensor, the second with two
#     rounds and --advertise, which every node sees as Version.address):
#     `vigil kaspa report --sensor --json` gives exactly the expected fraction of
#     responses, the number of distinct advertisers, the timeline, and --since narrows it;
#   - metrics while a dial hangs in the handshake (promtool-valid), then the timeout class, and
#     --duration stopping such a crawl;
#   - --max-nodes; a --seed name resolved (localhost);
#   - bad input: malformed --seed, unreachable seed, private seed without --allow-private, a DNS
#     seed that does not resolve, --store with --pg, empty store, missing store, bad --sensor.
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
SIMNET="$VIGIL_ROOT/kaspa/tests/simnet.js"
NODES=50

need_node_module @grpc/grpc-js

# simnet NAME ARGS...: a simulated network; sets SEED_<NAME> (its seed node) and writes
# $TMP/NAME.graph.json
simnet() {
	local name=$1 pid; shift
	node "$SIMNET" --nodes "${NODES}" --seed 11 --graph-out "$TMP/$name.graph.json" "$@" \
		>"$TMP/$name.sim.out" 2>"$TMP/$name.sim.err" &
	pid=$!
	on_exit "kill $pid; wait $pid"
	eval "PID_$name=$pid"
	wait_for 20 grep -q '"event":"ready"' "$TMP/$name.sim.out" || return 1
	eval "SEED_$name=$(jq -r 'select(.event == "ready") | .seed' "$TMP/$name.sim.out")"
}

SENSOR_PORT=$(free_port)
SENSOR="127.0.1.1:$SENSOR_PORT"
simnet a --extra "$SENSOR" --extra-fraction 0.3 ||
	{ fail simnet_start "$(cat "$TMP/a.sim.err")"; exit 1; }
G="$TMP/a.graph.json"

# ---- crawl into SQLite --------------------------------------------------------------------
DB="$TMP/crawl.db"
# (the time the crawl took goes to the log, for information only)
TIMEFORMAT="crawl of $NODES nodes: %R s wall, %U s user, %S s system CPU"
{ time "$VIGIL" kaspa crawl --seed "$SEED_a" --allow-private --gzip --store "$DB" --json \
	>"$TMP/c1.json" 2>"$TMP/c1.err"; } 2>"$TMP/c1.time"
rc=$?
cat "$TMP/c1.time"
check crawl_exit_0 test "$rc" -eq 0
C1=$(jq -r .crawl_id "$TMP/c1.json")
q() { sqlite3 "$DB" "$1"; }

jq -r '.nodes[] | select(.listening) | "\(.address) \(.id) \(.user_agent)"' "$G" | sort >"$TMP/want.reach"
q "SELECT address || ' ' || peer_id || ' ' || user_agent FROM kaspa_crawl_nodes
   WHERE crawl_id = '$C1' AND reachable = 1" | sort >"$TMP/got.reach"
check every_listening_node_found cmp "$TMP/want.reach" "$TMP/got.reach"
check reachable_count test "$(wc -l <"$TMP/got.reach")" -eq "$NODES"
jq -r '(.nodes[] | select(.listening | not) | .address), .extra[]' "$G" | sort >"$TMP/want.unreach"
q "SELECT address FROM kaspa_crawl_nodes WHERE crawl_id = '$C1' AND reachable = 0" | sort >"$TMP/got.unreach"
check private_addresses_unreachable cmp "$TMP/want.unreach" "$TMP/got.unreach"
check unreachable_are_refused test "$(q "SELECT count(*) FROM kaspa_crawl_nodes WHERE crawl_id = '$C1'
	AND reachable = 0 AND error_class = 'refused' AND last_seen_us IS NULL")" -eq "$(wc -l <"$TMP/want.unreach")"
jq -r '.nodes[] as $n | $n.advertises[] | "\($n.address) \(.)"' "$G" | sort >"$TMP/want.edges"
q "SELECT advertiser || ' ' || address FROM kaspa_crawl_edges WHERE crawl_id = '$C1'" | sort >"$TMP/got.edges"
check edges_equal_graph cmp "$TMP/want.edges" "$TMP/got.edges"
check edges_carry_ids test "$(q "SELECT count(*) FROM kaspa_crawl_edges e JOIN kaspa_crawl_nodes n
	ON n.crawl_id = e.crawl_id AND n.address = e.advertiser AND n.peer_id = e.advertiser_id
	WHERE e.crawl_id = '$C1'")" -eq "$(wc -l <"$TMP/want.edges")"
check one_response_per_node test "$(q "SELECT count(DISTINCT peer) || ' ' || count(*) || ' ' || sum(addresses)
	FROM kaspa_crawl_responses WHERE crawl_id = '$C1'")" = "$NODES $NODES $(wc -l <"$TMP/want.edges")"
check advertiser_counts test "$(q "SELECT sum(advertisers) FROM kaspa_crawl_nodes WHERE crawl_id = '$C1'")" \
	-eq "$(wc -l <"$TMP/want.edges")"
check node_facts test "$(q "SELECT count(*) FROM kaspa_crawl_nodes WHERE crawl_id = '$C1' AND reachable = 1
	AND protocol_version = 10 AND network = 'kaspa-mainnet' AND last_seen_us >= first_seen_us")" -eq "$NODES"
check summary_json jqe --argjson n "$NODES" --argjson e "$(wc -l <"$TMP/want.edges")" \
	--argjson u "$(wc -l <"$TMP/want.unreach")" \
	'.reachable == $n and .unreachable == $u and .edges == $e and .responses == $n
	 and .addresses == $n + $u and .by_class.refused == $u and .store_errors == 0' <"$TMP/c1.json"
check crawl_row test "$(q "SELECT nodes || ' ' || reachable || ' ' || responses || ' ' || edges ||
	' ' || (ended_us > started_us) || ' ' || user_agent FROM kaspa_crawls WHERE crawl_id = '$C1'")" = \
	"$((NODES + $(wc -l <"$TMP/want.unreach"))) $NODES $NODES $(wc -l <"$TMP/want.edges") 1 /vigil-crawler:$("$VIGIL" version | awk '{ print $2 }')/"
check wal_mode test "$(q 'PRAGMA journal_mode')" = wal

# ---- the same crawl into PostgreSQL -------------------------------------------------------
CRAWLS_A=1
if start_postgres; then
	CRAWLS_A=2
	"$VIGIL" kaspa crawl --seed "$SEED_a" --allow-private --gzip --pg "$PG_DSN" --json \
		>"$TMP/pg.json" 2>"$TMP/pg.err"
	check pg_crawl_exit_0 test $? -eq 0
	P1=$(jq -r .crawl_id "$TMP/pg.json")
	pq() { psql -X -A -t -q "$PG_DSN" -c "$1"; }
	pq "SELECT address || ' ' || peer_id || ' ' || user_agent FROM kaspa_crawl_nodes
	    WHERE crawl_id = '$P1' AND reachable = 1" | sort >"$TMP/pg.reach"
	check pg_same_nodes cmp "$TMP/got.reach" "$TMP/pg.reach"
	pq "SELECT advertiser || ' ' || address FROM kaspa_crawl_edges WHERE crawl_id = '$P1'" | sort >"$TMP/pg.edges"
	check pg_same_edges cmp "$TMP/got.edges" "$TMP/pg.edges"
	check pg_same_counts test "$(pq "SELECT (SELECT count(*) FROM kaspa_crawl_nodes WHERE reachable = 0)
		|| ' ' || (SELECT count(*) FROM kaspa_crawl_responses) || ' ' || (SELECT edges FROM kaspa_crawls)")" = \
		"$(q "SELECT (SELECT count(*) FROM kaspa_crawl_nodes WHERE reachable = 0)
		|| ' ' || (SELECT count(*) FROM kaspa_crawl_responses) || ' ' || (SELECT edges FROM kaspa_crawls)")"
	check pg_report jqe --argjson n "$NODES" --argjson g "$(jq '.extra_advertisers | length' "$G")" \
		'.responses == $n and .responses_with_sensor == $g and .unique_peers == $g' \
		< <("$VIGIL" kaspa report --sensor "$SENSOR" --pg "$PG_DSN" --json 2>"$TMP/pgr.err")
	# a second run over the same tables (CREATE ... IF NOT EXISTS): fails only for its seed
	"$VIGIL" kaspa crawl --seed "127.0.0.1:$(free_port)" --allow-private --pg "$PG_DSN" \
		>/dev/null 2>"$TMP/pg2.err"
	check pg_schema_idempotent test $? -eq 1 -a -z "$(grep -i "table\|postgres" "$TMP/pg2.err")"
	# a store that refuses every edge (a CHECK in a schema of its own): each peer's batch of
	# responses and edges is rolled back whole, the error is reported, the nodes still land
	pq "CREATE SCHEMA poison; CREATE TABLE poison.kaspa_crawl_edges (crawl_id TEXT NOT NULL,
	    advertiser TEXT NOT NULL, advertiser_id TEXT, address TEXT NOT NULL, address_ip TEXT NOT NULL,
	    address_port INTEGER NOT NULL, seen_us BIGINT NOT NULL, responses INTEGER NOT NULL CHECK (responses < 0),
	    PRIMARY KEY (crawl_id, advertiser, address))"
	CRAWLS_A=3
	"$VIGIL" kaspa crawl --seed "$SEED_a" --allow-private --pg "$PG_DSN?options=-csearch_path%3Dpoison" -j \
		>"$TMP/poison.json" 2>"$TMP/poison.err"
	check pg_store_error_exit_1 test $? -eq 1
	check pg_store_error_said grep -q "cannot write responses and edges.*kaspa_crawl_edges" "$TMP/poison.err"
	check pg_batches_rolled_back test "$(pq "SELECT (SELECT count(*) FROM poison.kaspa_crawl_responses)
		|| ' ' || (SELECT count(*) FROM poison.kaspa_crawl_edges)
		|| ' ' || (SELECT count(*) FROM poison.kaspa_crawl_nodes WHERE reachable = 1)")" = "0 0 $NODES"
elif [ -n "$PG_FAIL" ]; then
	fail postgres_start "$PG_FAIL"
else
	skip postgres "$PG_SKIP"
fi
# the simnet saw one connection and one RequestAddresses per node and crawl
kill "$PID_a"; wait "$PID_a" 2>/dev/null
check one_dial_per_node_per_crawl jqe --argjson k "$CRAWLS_A" 'select(.event == "stats") | [.nodes[]]
	| all(.accepted == $k and .request_addresses == $k)' <"$TMP/a.sim.out"

# ---- the gossip report --------------------------------------------------------------------
simnet b --extra "$SENSOR" --extra-fraction 0.5 --verbose ||
	{ fail simnet_b_start "$(cat "$TMP/b.sim.err")"; exit 1; }
# this crawl also announces the sensor (--advertise: Version.address) to every node it reaches
"$VIGIL" kaspa crawl --seed "$SEED_b" --allow-private --rounds 2 --store "$DB" --advertise "$SENSOR" \
	-j >"$TMP/c2.json" 2>"$TMP/c2.err"
check second_crawl_exit_0 test $? -eq 0
check two_rounds jqe --argjson n "$NODES" '.responses == 2 * $n' <"$TMP/c2.json"
check advertise_sent test "$(jq -r --arg s "$SENSOR" 'select(.event == "version" and .address == $s
	and (.userAgent | startswith("/vigil-crawler:"))) | .node' "$TMP/b.sim.out" | sort -u | wc -l)" -eq "$NODES"
G1=$(jq '.extra_advertisers | length' "$TMP/a.graph.json")
G2=$(jq '.extra_advertisers | length' "$TMP/b.graph.json")
# advertisers by id: node i has the same id in both graphs (same --seed)
UNIQUE=$(jq -s '[.[] as $g | $g.extra_advertisers[] as $a | $g.nodes[] | select(.address == $a) | .id]
	| unique | length' "$TMP/a.graph.json" "$TMP/b.graph.json")
"$VIGIL" kaspa report --sensor "$SENSOR" --store "$DB" --json >"$TMP/r.json" 2>"$TMP/r.err"
check report_exit_0 test $? -eq 0
check report_fraction jqe --argjson n "$NODES" --argjson g1 "$G1" --argjson g2 "$G2" --argjson u "$UNIQUE" \
	'.crawls == 2 and .responses == 3 * $n and .responses_with_sensor == $g1 + 2 * $g2
	 and .percent == 100 * ($g1 + 2 * $g2) / (3 * $n) and .unique_peers == $u and .hours > 0' <"$TMP/r.json"
check report_timeline jqe --argjson n "$NODES" --argjson g1 "$G1" --argjson g2 "$G2" \
	'[.timeline[] | [.responses, .responses_with_sensor, .advertisers, .reachable]]
	 == [[$n, $g1, $g1, $n], [2 * $n, 2 * $g2, $g2, $n]]' <"$TMP/r.json"
check fractions_differ test "$G1" -ne "$G2"
"$VIGIL" kaspa report --sensor "$SENSOR" --store "$DB" --since "$(jq -r '.timeline[1].started' "$TMP/r.json")" \
	--json >"$TMP/r2.json" 2>>"$TMP/r.err"
check report_since jqe --argjson n "$NODES" --argjson g2 "$G2" \
	'.crawls == 1 and .responses == 2 * $n and .unique_peers == $g2 and .percent == 100 * $g2 / $n' <"$TMP/r2.json"
"$VIGIL" kaspa report --sensor "127.0.1.1" --store "$DB" -j >"$TMP/r3.json" 2>>"$TMP/r.err"
check report_any_port jqe --argjson u "$UNIQUE" '.sensor_port == 0 and .unique_peers == $u' <"$TMP/r3.json"
"$VIGIL" kaspa report --sensor "$SENSOR" --store "$DB" >"$TMP/r.md" 2>>"$TMP/r.err"
pct=$(jq -r '.percent' "$TMP/r.json" | xargs printf '%.2f')
check report_markdown grep -q "observed in \*\*$pct%\*\* of address responses" "$TMP/r.md"
check report_markdown_timeline test "$(grep -c '^| [0-9]\{8\}T' "$TMP/r.md")" -eq 2
# --max-nodes: the first 10 addresses (breadth-first) are dialled, the rest recorded as not dialled
"$VIGIL" kaspa crawl --seed "$SEED_b" --allow-private --max-nodes 10 --store "$TMP/max.db" -j >"$TMP/max.json" 2>"$TMP/max.err"
check max_nodes_exit_0 test $? -eq 0
check max_nodes_bound jqe '.dialled == 10 and .reachable + .unreachable == 10
	and .not_dialled == .addresses - 10 and .addresses > 10' <"$TMP/max.json"
check max_nodes_rows test "$(sqlite3 "$TMP/max.db" "SELECT count(*) FROM kaspa_crawl_nodes WHERE error_class = 'not-dialled'")" \
	= "$(jq .not_dialled "$TMP/max.json")"
kill "$PID_b"; wait "$PID_b" 2>/dev/null

# ---- a node that never answers RequestAddresses --------------------------------------------
# node 1 is mute: the crawl waits --round-timeout, leaves, and what only node 1 knew stays unknown
NODES=6 simnet c --private 0 --degree 0 --mute 1 || fail simnet_c_start "$(cat "$TMP/c.sim.err")"
"$VIGIL" kaspa crawl --seed "$SEED_c" --allow-private --round-timeout 300ms --store "$TMP/mute.db" -j \
	>"$TMP/mute.json" 2>"$TMP/mute.err"
mute_addr=$(jq -r '.nodes[1].address' "$TMP/c.graph.json")
# breadth-first over the graph from node 0, the mute node's edges left out: what a crawl can find
findable=$(python3 -c 'import json, sys
g = json.load(open(sys.argv[1])); adv = {n["address"]: n["advertises"] for n in g["nodes"]}
seen = [g["nodes"][0]["address"]]; queue = list(seen)
while queue:
    a = queue.pop(0)
    for b in ([] if a == sys.argv[2] else adv[a]):
        if b not in seen: seen.append(b); queue.append(b)
print(len(seen))' "$TMP/c.graph.json" "$mute_addr")
check mute_reachable test "$(sqlite3 "$TMP/mute.db" "SELECT reachable || ' ' || (error LIKE '%round timeout%')
	FROM kaspa_crawl_nodes WHERE address = '$mute_addr'")" = "1 1"
check mute_no_response jqe --argjson f "$findable" '.addresses == $f and .reachable == $f and .responses == $f - 1' \
	<"$TMP/mute.json"
check mute_hides_some test "$findable" -lt 6
kill "$PID_c"; wait "$PID_c" 2>/dev/null

# ---- metrics while a dial hangs, then the timeout class ------------------------------------
HOLE=$(free_port)
python3 -c 'import socket, sys, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); c = s.accept(); time.sleep(30)' "$HOLE" &
hole=$!
on_exit "kill $hole"
wait_for 5 bash -c "echo > /dev/tcp/127.0.0.1/$HOLE"
MPORT=$(free_port)
"$VIGIL" kaspa crawl --seed "127.0.0.1:$HOLE" --allow-private --version-timeout 2s \
	--metrics "127.0.0.1:$MPORT" -j >"$TMP/hole.json" 2>"$TMP/hole.err" &
crawl=$!
on_exit "kill $crawl"
wait_for 5 bash -c "curl -sf http://127.0.0.1:$MPORT/metrics | grep -q '^vigil_kaspa_crawl_dials_in_flight 1'"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$TMP/metrics.txt"
check metrics_in_flight grep -q '^vigil_kaspa_crawl_dials_in_flight 1$' "$TMP/metrics.txt"
check metrics_addresses grep -q '^vigil_kaspa_crawl_addresses 1$' "$TMP/metrics.txt"
if command -v promtool >/dev/null; then
	check metrics_promtool promtool check metrics <"$TMP/metrics.txt"
fi
check metrics_contract python3 "$VIGIL_ROOT/tests/integration/deploy_check.py" scrape \
	"$VIGIL_ROOT/deploy/METRICS.md" "kaspa crawl" "$TMP/metrics.txt"
wait "$crawl"
check hang_exit_1 test $? -eq 1
check hang_timeout_class jqe '.by_class.timeout == 1 and .reachable == 0' <"$TMP/hole.json"
# --duration ends a crawl whose dial hangs: recorded, not dialled to the end
"$VIGIL" kaspa crawl --seed "127.0.0.1:$HOLE" --allow-private --duration 300ms --store "$TMP/dur.db" \
	-j >"$TMP/dur.json" 2>"$TMP/dur.err"
check duration_exit_1 test $? -eq 1
check duration_stops grep -q "stopped (--duration" "$TMP/dur.err"
check duration_recorded test "$(sqlite3 "$TMP/dur.db" "SELECT error_class || ' ' || (ended_us - started_us < 2000000)
	FROM kaspa_crawl_nodes JOIN kaspa_crawls USING (crawl_id)")" = "not-dialled 1"

# ---- bad input ----------------------------------------------------------------------------
bad() { # bad NAME EXIT PATTERN ARGS...: exits with EXIT and stderr matches PATTERN
	local name=$1 code=$2 pat=$3 rc; shift 3
	"$VIGIL" kaspa "$@" >"$TMP/bad.out" 2>"$TMP/bad.err"
	rc=$?
	if [ "$rc" -eq "$code" ] && grep -q -- "$pat" "$TMP/bad.err"; then pass "$name"
	else fail "$name" "exit $rc: $(tail -n 2 "$TMP/bad.err" | tr '\n' ' ')"; fi
}
bad malformed_seed 2 "not HOST:PORT" crawl --seed 10.1.2 --store "$TMP/bad.db"
bad seed_port_too_big 2 "not HOST:PORT" crawl --seed 10.1.2.3:70000
bad no_seed 2 "give --seed" crawl --store "$TMP/bad.db"
bad unreachable_seed 1 "no node completed the handshake.*1 refused.*seeds are unreachable" crawl --seed "127.0.0.1:$(free_port)" \
	--allow-private --store "$TMP/bad.db"
bad private_seed 1 "allow-private" crawl --seed "127.0.0.1:$(free_port)"
np=$(free_port)
bad name_seed_resolved 1 "seeds .*127.0.0.1:$np" crawl --seed "localhost:$np" --allow-private
bad dns_seed_unresolved 1 "no seed address to crawl" crawl --dns-seed seed.vigil-test.invalid
check dns_seed_warns grep -q "does not resolve" "$TMP/bad.err"
bad bad_advertise 2 "give our public IP:PORT" crawl --seed 10.1.2.3:16111 --advertise 10.1.2.3
bad store_and_pg 2 "not both" crawl --seed 10.1.2.3:16111 --store x.db --pg postgresql://x
: >"$TMP/empty.db"
bad empty_store 1 "holds no crawl" report --sensor 127.0.1.1 --store "$TMP/empty.db"
bad missing_store 1 "cannot open the store" report --sensor 127.0.1.1 --store "$TMP/nonexistent.db"
bad malformed_sensor 2 "give the sensor's public IP" report --sensor 127.0.1 --store "$DB"
bad sensor_bad_port 2 "give the sensor's public IP" report --sensor 127.0.1.1:99999 --store "$DB"
bad bad_since 2 "not a time" report --sensor 127.0.1.1 --store "$DB" --since yesterday
bad since_after_all 1 "no crawl started since" report --sensor 127.0.1.1 --store "$DB" --since 4000000000
check bad_seed_no_crawl test "$(sqlite3 "$TMP/bad.db" 'SELECT count(*) FROM kaspa_crawls WHERE reachable > 0')" = 0

exit $T_FAILED
