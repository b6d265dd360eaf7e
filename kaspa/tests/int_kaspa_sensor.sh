#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil kaspa sensor` as a user runs it, against independent peers on loopback:
#   - kaspa/tests/peer.js (@grpc/grpc-js, every message gzipped) dials the sensor advertising a
#     port where a second peer.js listens: logged with every field, classified public; it got
#     an empty Addresses answer and its Pong;
#   - advertising a port nobody listens on: classified private, error class refused;
#   - kaspa/tests/peer_grpcio.py (python3-grpcio, gRPC's C core) dials: logged;
#   - wrong network, low version, missing Ready, garbage instead of HTTP/2: a failed handshake
#     event with the right reason, and the sensor keeps running;
#   - /metrics against deploy/METRICS.md (deploy_check.py scrape) and promtool, with counts
#     equal to the events; the SQLite store holds every event; event ids are unique;
#   - --probe handshake: the same id is public, another node on the port is id-mismatch;
#   - "[::]" takes IPv4 peers (logged as plain IPv4); without --allow-private loopback is not
#     probed.
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
PEER="$VIGIL_ROOT/kaspa/tests/peer.js"
PEER_PY="$VIGIL_ROOT/kaspa/tests/peer_grpcio.py"
CHECK="$VIGIL_ROOT/tests/integration/deploy_check.py"
ID_A=0102030405060708090a0b0c0d0e0f10
ID_B=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf
export PEER_JS_LIMIT_MS=20000

need_node_module @grpc/grpc-js

. "$VIGIL_ROOT/kaspa/tests/kaspa_start.sh"

# events FILE SUBJECT: the events of one subject, one per line
events() { jq -c --arg s "$1" 'select(.subject == "vigil." + $s) | .event' "$2"; }
# hs_for FILE USER_AGENT_OR_PEERPORT: the handshake event whose user agent is given
hs_by_ua() { events kaspa.handshakes "$1" | jq -c --arg u "$2" 'select(.user_agent == $u)'; }
cl_for() { events kaspa.classifications "$1" | jq -c --arg h "$2" 'select(.handshake_event_id == $h)'; }
# wait_events FILE N: until FILE holds at least N events
wait_events() { wait_for 15 bash -c "[ \$(wc -l <'$1' 2>/dev/null || echo 0) -ge $2 ]"; }

start_sensor a --allow-private --probe-interval 0 || { fail sensor_start "$(cat "$TMP/a.err")"; exit 1; }
peer_server pub --id "$ID_A"
[ -n "$SPORT_pub" ] || { fail peer_server_start "$(cat "$TMP/srv-pub.out")"; exit 1; }
DEAD=$(free_port)

# ---- a public peer ------------------------------------------------------------------------
node "$PEER" --mode client --port "$PORT_a" --id "$ID_A" --user-agent "/kaspad:2.0.1/public/" \
	--advertise "127.0.0.1:$SPORT_pub" --request-addresses --ping >"$TMP/c1.out" 2>"$TMP/c1.err"
wait_events "$TMP/a.jsonl" 2
hs=$(hs_by_ua "$TMP/a.jsonl" "/kaspad:2.0.1/public/")
check public_logged jqe --arg id "$ID_A" --arg adv "127.0.0.1:$SPORT_pub" \
	'.result == "ok" and .reason == "none" and .peer_id == $id and .advertised_address == $adv
	 and .network == "kaspa-mainnet" and .protocol_version == 10 and .direction == "inbound"
	 and .sensor_id == "sensor-a" and .peer_ip == "127.0.0.1" and .peer_port > 0
	 and .services == 0 and (.event_id | test("^[0-9a-f]{32}$"))' <<<"$hs"
check public_time_us jqe '.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$")' <<<"$hs"
HS1=$(jq -r .event_id <<<"$hs")
wait_events "$TMP/a.jsonl" 2
check public_classified jqe --argjson p "$SPORT_pub" \
	'.class == "public" and .error_class == "" and .probe_port == $p and .probed and
	 .probe_mode == "tcp" and .probe_duration_ms >= 0' <<<"$(cl_for "$TMP/a.jsonl" "$HS1")"
# node_says FILE EVENT FILTER: the peer printed EVENT and FILTER holds for every such line
node_says() { grep '^{' "$1" | jqe -s --arg e "$2" "map(select(.event == \$e)) | length > 0 and all($3)"; }
check peer_got_empty_addresses node_says "$TMP/c1.out" addresses '.list == []'
check peer_got_pong node_says "$TMP/c1.out" pong '.match'
check peer_saw_sensor_agent node_says "$TMP/c1.out" version '.userAgent | startswith("/vigil-sensor:")'

# ---- a private peer: nobody on its advertised port ----------------------------------------
node "$PEER" --mode client --port "$PORT_a" --user-agent "/kaspad:2.0.1/private/" \
	--advertise "127.0.0.1:$DEAD" >"$TMP/c2.out" 2>&1
wait_events "$TMP/a.jsonl" 4
HS2=$(hs_by_ua "$TMP/a.jsonl" "/kaspad:2.0.1/private/" | jq -r .event_id)
check private_classified jqe --argjson p "$DEAD" \
	'.class == "private" and .error_class == "refused" and .probe_port == $p' \
	<<<"$(cl_for "$TMP/a.jsonl" "$HS2")"

# ---- python3-grpcio client ----------------------------------------------------------------
if /usr/bin/python3 -c 'import grpc' 2>/dev/null; then
	UA_PY="/kaspad:2.0.1/grpcio-sensor-test/"
	/usr/bin/python3 "$PEER_PY" --port "$PORT_a" --id "$ID_B" --user-agent "$UA_PY" >"$TMP/py.out" 2>&1
	wait_events "$TMP/a.jsonl" 6
	check grpcio_logged jqe --arg id "$ID_B" '.result == "ok" and .peer_id == $id' \
		<<<"$(hs_by_ua "$TMP/a.jsonl" "$UA_PY")"
	check grpcio_classified jqe '.class == "unknown" or .class == "private" or .class == "public"' \
		<<<"$(cl_for "$TMP/a.jsonl" "$(hs_by_ua "$TMP/a.jsonl" "$UA_PY" | jq -r .event_id)")"
else
	skip grpcio_logged "python3-grpcio is not installed (run scripts/deps)"
fi

# ---- failures -----------------------------------------------------------------------------
node "$PEER" --mode client --port "$PORT_a" --network kaspa-testnet-10 \
	--user-agent "/kaspad:2.0.1/wrongnet/" >/dev/null 2>&1
node "$PEER" --mode client --port "$PORT_a" --version 9 --min-version 6 \
	--user-agent "/kaspad:2.0.1/oldver/" >/dev/null 2>&1
node "$PEER" --mode client --port "$PORT_a" --no-ready --close-after-ms 2500 \
	--user-agent "/kaspad:2.0.1/noready/" >/dev/null 2>&1
# 5 MB of user agent, gzipped to a few KB: past --max-message-size once inflated
node "$PEER" --mode client --port "$PORT_a" --huge 5000000 >/dev/null 2>&1
# a gRPC frame holding bytes that are not a KaspadMessage
/usr/bin/python3 - "$PORT_a" <<'EOF2'
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def frame(typ, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([typ, flags]) + struct.pack(">I", sid) + payload
def lit(name, value):  # literal header field without indexing, new name
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
hdrs = (lit(b":method", b"POST") + lit(b":scheme", b"http") + lit(b":path", b"/protowire.P2P/MessageStream")
        + lit(b":authority", b"x") + lit(b"content-type", b"application/grpc") + lit(b"te", b"trailers"))
bad = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"  # a varint tag that never ends well
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 4, 1, hdrs)
          + frame(0, 0, 1, b"\x00" + struct.pack(">I", len(bad)) + bad))
time.sleep(1)
s.close()
EOF2
# garbage where the HTTP/2 preface belongs
/usr/bin/python3 - "$PORT_a" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)) * 4)
time.sleep(0.5)
try:
    s.recv(4096)
except OSError:
    pass
s.close()
EOF
wait_for 15 bash -c "[ \$(jq -c 'select(.event.result == \"failed\")' '$TMP/a.jsonl' | wc -l) -ge 6 ]"
check fail_network jqe '.result == "failed" and .reason == "network" and .network == "kaspa-testnet-10"' \
	<<<"$(hs_by_ua "$TMP/a.jsonl" "/kaspad:2.0.1/wrongnet/")"
check fail_version jqe '.result == "failed" and .reason == "version" and .protocol_version == 9
	and (.error | test("9"))' <<<"$(hs_by_ua "$TMP/a.jsonl" "/kaspad:2.0.1/oldver/")"
check fail_no_ready jqe '.result == "failed" and .reason == "timeout" and .step == "ready"' \
	<<<"$(hs_by_ua "$TMP/a.jsonl" "/kaspad:2.0.1/noready/")"
check fail_oversized jqe '.result == "failed" and .reason == "malformed" and (.error | test("limit"))' \
	<<<"$(events kaspa.handshakes "$TMP/a.jsonl" | jq -c 'select(.error // "" | test("limit"))')"
check fail_malformed_three jqe -s 'map(select(.result == "failed" and .reason == "malformed" and
	.step == "version" and (.error | length > 0))) | length == 3' \
	<<<"$(events kaspa.handshakes "$TMP/a.jsonl")"
check failures_not_classified jqe -s --slurpfile c <(events kaspa.classifications "$TMP/a.jsonl") \
	'[.[] | select(.result == "failed") | .event_id] as $f |
	 [$c[] | select(.handshake_event_id as $h | $f | index($h))] | length == 0' \
	<<<"$(events kaspa.handshakes "$TMP/a.jsonl")"
check sensor_alive kill -0 "$PID_a"

# ---- metrics ------------------------------------------------------------------------------
curl -sf "http://127.0.0.1:$MPORT_a/metrics" >"$TMP/metrics.txt"
check metrics_contract /usr/bin/python3 "$CHECK" scrape "$VIGIL_ROOT/deploy/METRICS.md" "kaspa sensor" "$TMP/metrics.txt"
check metrics_promtool bash -c "promtool check metrics <'$TMP/metrics.txt'"
n_ok=$(events kaspa.handshakes "$TMP/a.jsonl" | jq -s 'map(select(.result == "ok")) | length')
n_fail=$(events kaspa.handshakes "$TMP/a.jsonl" | jq -s 'map(select(.result == "failed")) | length')
n_pub=$(events kaspa.classifications "$TMP/a.jsonl" | jq -s 'map(select(.class == "public")) | length')
n_priv=$(events kaspa.classifications "$TMP/a.jsonl" | jq -s 'map(select(.class == "private")) | length')
n_probed=$(events kaspa.classifications "$TMP/a.jsonl" | jq -s 'map(select(.probed)) | length')
metric() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/metrics.txt"; }
check metric_hs_ok test "$(metric 'vigil_kaspa_handshakes_total{result="ok",reason="none"}')" = "$n_ok"
check metric_hs_failed test "$(awk '$1 ~ /^vigil_kaspa_handshakes_total\{result="failed"/ { s += $2 } END { print s }' "$TMP/metrics.txt")" = "$n_fail"
check metric_hs_reasons bash -c 'for r in network:1 version:1 timeout:1 malformed:3; do
	grep -q "^vigil_kaspa_handshakes_total{result=\"failed\",reason=\"${r%:*}\"} ${r#*:}$" "$1" || exit 1; done' _ "$TMP/metrics.txt"
check metric_public test "$(metric 'vigil_kaspa_classifications_total{class="public"}')" = "$n_pub"
check metric_private test "$(metric 'vigil_kaspa_classifications_total{class="private"}')" = "$n_priv"
check metric_probe_count test "$(metric vigil_kaspa_probe_duration_seconds_count)" = "$n_probed"
check metric_outbound test "$(metric 'vigil_kaspa_connections_total{direction="outbound"}')" = "$n_probed"
check metric_inbound test "$(metric 'vigil_kaspa_connections_total{direction="inbound"}')" = "$((n_ok + n_fail))"
check metric_backlog test "$(metric vigil_kaspa_export_backlog)" = 0
check metric_bus grep -q '^vigil_bus_' "$TMP/metrics.txt"

# ---- store --------------------------------------------------------------------------------
check event_ids_unique test "$(jq -r .event.event_id "$TMP/a.jsonl" | sort | uniq -d | wc -l)" -eq 0
check store_wal test "$(sqlite3 "$TMP/a.db" 'PRAGMA journal_mode')" = wal
check store_handshakes test "$(sqlite3 "$TMP/a.db" 'SELECT count(*) FROM handshakes')" = "$((n_ok + n_fail))"
check store_classifications test "$(sqlite3 "$TMP/a.db" 'SELECT count(*) FROM classifications')" = \
	"$(events kaspa.classifications "$TMP/a.jsonl" | wc -l)"
check store_public_row test "$(sqlite3 "$TMP/a.db" "SELECT h.user_agent || '|' || h.peer_id || '|' || c.class
	FROM handshakes h JOIN classifications c ON c.handshake_event_id = h.event_id
	WHERE h.event_id = '$HS1'")" = "/kaspad:2.0.1/public/|$ID_A|public"
check store_private_row test "$(sqlite3 "$TMP/a.db" "SELECT error_class FROM classifications
	WHERE handshake_event_id = '$HS2'")" = refused
check store_failure_row test "$(sqlite3 "$TMP/a.db" "SELECT reason FROM handshakes
	WHERE user_agent = '/kaspad:2.0.1/wrongnet/'")" = network

# ---- polite goodbye, and --hold ------------------------------------------------------------
# the peer would stay 3 s: the sensor leaves after --close-after with Reject DUPLICATE_CONNECTION
node "$PEER" --mode client --port "$PORT_a" --close-after-ms 3000 >"$TMP/polite.out" 2>/dev/null
check polite_reject node_says "$TMP/polite.out" reject '.reason == "DUPLICATE_CONNECTION"'
start_sensor hold --hold --probe off
node "$PEER" --mode client --port "$PORT_hold" --close-after-ms 1500 --user-agent "/kaspad:2.0.1/held/" \
	>"$TMP/held.out" 2>/dev/null
check hold_logged jqe '.result == "ok"' <<<"$(hs_by_ua "$TMP/hold.jsonl" "/kaspad:2.0.1/held/")"
check hold_no_reject test "$(grep -c '"event":"reject"' "$TMP/held.out")" -eq 0
check hold_peer_stayed node_says "$TMP/held.out" ready 'true'
check probe_off_unknown jqe '.class == "unknown" and .error_class == "not-probed"' \
	<<<"$(events kaspa.classifications "$TMP/hold.jsonl")"

# ---- --probe handshake: ids compared ------------------------------------------------------
start_sensor h --allow-private --probe-interval 0 --probe handshake
node "$PEER" --mode client --port "$PORT_h" --id "$ID_A" --user-agent "/kaspad:2.0.1/same-id/" \
	--advertise "127.0.0.1:$SPORT_pub" >/dev/null 2>&1
node "$PEER" --mode client --port "$PORT_h" --id "$ID_B" --user-agent "/kaspad:2.0.1/other-id/" \
	--advertise "127.0.0.1:$SPORT_pub" >/dev/null 2>&1
wait_events "$TMP/h.jsonl" 4
check hs_probe_public jqe '.class == "public" and .probe_mode == "handshake"' <<<"$(cl_for "$TMP/h.jsonl" \
	"$(hs_by_ua "$TMP/h.jsonl" "/kaspad:2.0.1/same-id/" | jq -r .event_id)")"
check hs_probe_id_mismatch jqe '.class == "unknown" and .error_class == "id-mismatch"' <<<"$(cl_for "$TMP/h.jsonl" \
	"$(hs_by_ua "$TMP/h.jsonl" "/kaspad:2.0.1/other-id/" | jq -r .event_id)")"
check hs_probe_server_saw_us node_says "$TMP/srv-pub.out" version '.userAgent | startswith("/vigil-sensor:")'

# ---- dual stack, interval, private ranges -------------------------------------------------
LISTEN_HOST="[::]" start_sensor d --probe-interval 1h
node "$PEER" --mode client --port "$PORT_d" --user-agent "/kaspad:2.0.1/v4-on-v6/" \
	--advertise "127.0.0.1:$SPORT_pub" >/dev/null 2>&1
wait_events "$TMP/d.jsonl" 2
check dual_stack_v4 jqe '.result == "ok" and .peer_ip == "127.0.0.1"' \
	<<<"$(hs_by_ua "$TMP/d.jsonl" "/kaspad:2.0.1/v4-on-v6/")"
check private_range_skipped jqe '.class == "unknown" and .error_class == "private-range" and (.probed | not)' \
	<<<"$(events kaspa.classifications "$TMP/d.jsonl")"
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
	node "$PEER" --mode client --host "[::1]" --port "$PORT_d" --user-agent "/kaspad:2.0.1/v6/" >/dev/null 2>&1
	wait_events "$TMP/d.jsonl" 4
	check ipv6_peer jqe '.result == "ok" and .peer_ip == "::1"' <<<"$(hs_by_ua "$TMP/d.jsonl" "/kaspad:2.0.1/v6/")"
else
	skip ipv6_peer "no IPv6 loopback here"
fi

# the per-IP interval: a second peer from the same IP and port reuses the first probe
start_sensor i --allow-private --probe-interval 1h
for n in 1 2; do
	node "$PEER" --mode client --port "$PORT_i" --user-agent "/kaspad:2.0.1/again-$n/" \
		--advertise "127.0.0.1:$SPORT_pub" >/dev/null 2>&1
done
wait_events "$TMP/i.jsonl" 4
check interval_first_probed jqe '.class == "public" and .probed and (.cached | not)' <<<"$(cl_for "$TMP/i.jsonl" \
	"$(hs_by_ua "$TMP/i.jsonl" "/kaspad:2.0.1/again-1/" | jq -r .event_id)")"
check interval_second_cached jqe '.class == "public" and (.probed | not) and .cached' <<<"$(cl_for "$TMP/i.jsonl" \
	"$(hs_by_ua "$TMP/i.jsonl" "/kaspad:2.0.1/again-2/" | jq -r .event_id)")"

# ---- retention: rows older than --retention leave the store --------------------------------
start_sensor r --probe off --retention 3s
node "$PEER" --mode client --port "$PORT_r" >/dev/null 2>&1
wait_events "$TMP/r.jsonl" 2
check retention_stored test "$(sqlite3 "$TMP/r.db" 'SELECT count(*) FROM handshakes')" = 1
check retention_pruned wait_for 15 bash -c "[ \"\$(sqlite3 '$TMP/r.db' 'SELECT count(*) FROM handshakes')\" = 0 ]"
check retention_pruned_cl test "$(sqlite3 "$TMP/r.db" 'SELECT count(*) FROM classifications')" = 0

# ---- bad options --------------------------------------------------------------------------
out=$("$VIGIL" kaspa sensor --listen "127.0.0.1:$PORT_a" --jsonl /dev/null --spool "$TMP/x.db" 2>&1); rc=$?
check listen_in_use bash -c '[ "$1" -ne 0 ] && grep -q "cannot listen on 127.0.0.1:$2: Address already in use" <<<"$3"' \
	_ "$rc" "$PORT_a" "$out"
out=$("$VIGIL" kaspa sensor --listen nonsense --jsonl /dev/null --spool "$TMP/x.db" 2>&1); rc=$?
check listen_bad bash -c '[ "$1" -ne 0 ] && grep -q "cannot listen on nonsense" <<<"$2"' _ "$rc" "$out"

exit $T_FAILED
