#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# End to end: `vigil kaspa sensor` -> NATS JetStream -> `vigil kaspa collect` -> PostgreSQL, with
# real nats-server and PostgreSQL on loopback and peer.js (@grpc/grpc-js) as the peers:
#   - NATS is stopped while peers keep arriving (the sensor spools) and restarted: every event the
#     sensor logged (its JSON Lines are the ground truth) reaches PostgreSQL, once;
#   - a second collector with a new durable consumer re-reads the whole stream: no duplicates;
#   - PostgreSQL stopped under the collector: nothing acknowledged, all stored once it is back.
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
PEER="$VIGIL_ROOT/kaspa/tests/peer.js"
export PEER_JS_LIMIT_MS=20000

need_node_module @grpc/grpc-js
if ! command -v nats-server >/dev/null; then skip all "nats-server missing (run scripts/deps)"; exit 0; fi

# ---- PostgreSQL and NATS ------------------------------------------------------------------
if ! start_postgres; then
	if [ -n "$PG_FAIL" ]; then fail pg_start "$PG_FAIL"; exit 1; fi
	skip all "$PG_SKIP"; exit 0
fi
DSN=$PG_DSN
psqlq() { psql -X -A -t -q "$DSN" -c "$1"; }

NPORT=$(free_port)
mkdir -p "$TMP/js"
start_nats "$NPORT" "$TMP/js" || { fail nats_start "$(cat "$TMP/js.log")"; exit 1; }
NATS_URL="nats://127.0.0.1:$NPORT"

# ---- the sensor ---------------------------------------------------------------------------
SPORT=$(free_port)
MPORT=$(free_port)
"$VIGIL" kaspa sensor --listen "127.0.0.1:$SPORT" --sensor-id e2e --allow-private --probe-interval 0 \
	--close-after 200ms --nats-url "$NATS_URL" --jetstream KASPA --nats-timeout 1s \
	--jsonl "$TMP/truth.jsonl" --spool "$TMP/spool.db" --metrics "127.0.0.1:$MPORT" \
	>"$TMP/sensor.out" 2>"$TMP/sensor.err" &
SENSOR=$!
on_exit "kill $SENSOR; wait $SENSOR"
wait_for 10 curl -sf "http://127.0.0.1:$MPORT/readyz" || { fail sensor_start "$(cat "$TMP/sensor.err")"; exit 1; }

peers() { # peers TAG N: N peer.js clients, one after the other
	for n in $(seq 1 "$2"); do
		node "$PEER" --mode client --port "$SPORT" --user-agent "/kaspad:2.0.1/$1-$n/" \
			--advertise "127.0.0.1:$(free_port)" >/dev/null 2>&1
	done
}
backlog() { curl -sf "http://127.0.0.1:$MPORT/metrics" | awk '$1 == "vigil_kaspa_export_backlog" { print $2 }'; }

peers before 3
kill "$NATS_PID"; wait "$NATS_PID" 2>/dev/null
peers down 3
wait_for 10 bash -c "[ \$(wc -l <'$TMP/truth.jsonl') -ge 12 ]"
check spooled_while_down bash -c '[ "$(curl -sf http://127.0.0.1:'"$MPORT"'/metrics |
	awk '"'"'$1 == "vigil_kaspa_export_backlog" { print $2 }'"'"')" -gt 0 ]'
start_nats "$NPORT" "$TMP/js" || { fail nats_restart "$(cat "$TMP/js.log")"; exit 1; }
peers after 2
check backlog_drained wait_for 30 bash -c '[ "$(curl -sf http://127.0.0.1:'"$MPORT"'/metrics |
	awk '"'"'$1 == "vigil_kaspa_export_backlog" { print $2 }'"'"')" = 0 ]'
N_HS=$(jq -c 'select(.subject == "vigil.kaspa.handshakes")' "$TMP/truth.jsonl" | wc -l)
N_CL=$(jq -c 'select(.subject == "vigil.kaspa.classifications")' "$TMP/truth.jsonl" | wc -l)
check ground_truth test "$N_HS" -eq 8 -a "$N_CL" -eq 8

# ---- collect ------------------------------------------------------------------------------
"$VIGIL" kaspa collect --nats-url "$NATS_URL" --jetstream KASPA --pg "$DSN" --exit-when-idle \
	>"$TMP/c1.out" 2>"$TMP/c1.err"
check collect_exit_0 test $? -eq 0
check pg_handshakes test "$(psqlq 'SELECT count(*) FROM kaspa_handshakes')" = "$N_HS"
check pg_classifications test "$(psqlq 'SELECT count(*) FROM kaspa_classifications')" = "$N_CL"
jq -r 'select(.subject == "vigil.kaspa.handshakes") | .event.event_id' "$TMP/truth.jsonl" | sort >"$TMP/ids.truth"
psqlq 'SELECT event_id FROM kaspa_handshakes ORDER BY 1' | sort >"$TMP/ids.pg"
check pg_same_ids cmp "$TMP/ids.truth" "$TMP/ids.pg"
check pg_fields test "$(psqlq "SELECT sensor_id || '|' || host(peer_ip) || '|' || result || '|' || network
	FROM kaspa_handshakes WHERE user_agent = '/kaspad:2.0.1/down-2/'")" = "e2e|127.0.0.1|ok|kaspa-mainnet"
check pg_private test "$(psqlq "SELECT count(*) FROM kaspa_classifications c JOIN kaspa_handshakes h
	ON h.event_id = c.handshake_event_id WHERE c.class = 'private' AND c.error_class = 'refused'")" = 8

# a second consumer re-reads everything: stored once
"$VIGIL" kaspa collect --nats-url "$NATS_URL" --jetstream KASPA --pg "$DSN" --durable again \
	--exit-when-idle >/dev/null 2>"$TMP/c2.err"
check dedupe_handshakes test "$(psqlq 'SELECT count(*) FROM kaspa_handshakes')" = "$N_HS"
check dedupe_reported grep -q "0 stored, $((N_HS + N_CL)) duplicates" "$TMP/c2.err"

# PostgreSQL down under a running collector: the events wait in the stream
"$VIGIL" kaspa collect --nats-url "$NATS_URL" --jetstream KASPA --pg "$DSN" >"$TMP/c3.out" 2>"$TMP/c3.err" &
COLL=$!
on_exit "kill $COLL; wait $COLL"
sleep 1
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TMP/pg/data" -m fast stop >/dev/null
peers pgdown 2
sleep 2
pg_restart_server || { fail pg_restart "$(tail -n 3 "$TMP/pg/server.log")"; exit 1; }
check pg_down_caught_up wait_for 30 bash -c "[ \"\$(psql -X -A -t -q '$DSN' -c 'SELECT count(*) FROM kaspa_handshakes')\" = $((N_HS + 2)) ]"
kill "$COLL"; wait "$COLL"
check collector_stops_cleanly test $? -eq 0
check pg_down_logged grep -q "PostgreSQL" "$TMP/c3.err"

exit $T_FAILED
