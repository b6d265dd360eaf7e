#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil kaspa sensor --webhook` against a real HTTP receiver (kaspa/tests/webhook_receiver.py,
# Python's http.server) while peers (peer.js on @grpc/grpc-js, peer_grpcio.py) handshake:
#   - the receiver answers the first three POSTs with 503, keeps the events of the fourth but
#     closes the connection without an answer (a lost answer: that batch is sent again), answers
#     later ones with 200: those events arrive after the retries, some twice;
#   - the receiver is stopped while more peers come, and the sensor is restarted meanwhile (same
#     store): the backlog metric counts the waiting events, --retention prunes the store's
#     tables but keeps every undelivered event;
#   - the receiver comes back answering one 401 (logged as an error naming the status, then
#     retried) and one 429 with Retry-After: 2: the next POST waits 2 s;
#   - in the end every event the sensor logged (its JSON Lines) arrived, equal to the logged
#     object, in the logged order once duplicates are dropped by event_id, in batches of at most
#     --webhook-batch, with the --webhook-token-file bearer token; the cursor is at the end;
#   - /metrics (vigil_kaspa_webhook_*) against deploy/METRICS.md and promtool, with counts equal
#     to what the receiver saw;
#   - a bad --webhook URL, --webhook without --store and a malformed --webhook-header are clear
#     start-up errors.
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
PEER="$VIGIL_ROOT/kaspa/tests/peer.js"
PEER_PY="$VIGIL_ROOT/kaspa/tests/peer_grpcio.py"
RECV="$VIGIL_ROOT/kaspa/tests/webhook_receiver.py"
CHECK="$VIGIL_ROOT/tests/integration/deploy_check.py"
export PEER_JS_LIMIT_MS=20000

need_node_module @grpc/grpc-js

# ---- start-up errors ----------------------------------------------------------------------
# bad_start NAME PATTERN ARGS...: the sensor refuses to start and says PATTERN on stderr
bad_start() {
	local name=$1 pat=$2 rc; shift 2
	timeout 10 "$VIGIL" kaspa sensor --listen "127.0.0.1:$(free_port)" --probe off "$@" \
		>"$TMP/bad.out" 2>"$TMP/bad.err"
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q -- "$pat" "$TMP/bad.err"; then
		pass "$name"
	else
		fail "$name" "exit $rc: $(head -c 300 "$TMP/bad.err")"
	fi
}
bad_start bad_url_scheme "scheme must be http or https" --webhook "ftp://127.0.0.1/x" --store "$TMP/x.db"
bad_start bad_url_garbage "is not a URL" --webhook "not a url" --store "$TMP/x.db"
bad_start bad_url_no_store "needs --store" --webhook "http://127.0.0.1:9/ingest"
bad_start bad_header "is not a header" --webhook "http://127.0.0.1:9/ingest" --store "$TMP/x.db" \
	--webhook-header "no colon here"
bad_start bad_token_file "cannot read --webhook-token-file" --webhook "http://127.0.0.1:9/ingest" \
	--store "$TMP/x.db" --webhook-token-file "$TMP/missing-token"

# ---- receiver and sensor ------------------------------------------------------------------
WPORT=$(free_port)
RLOG="$TMP/received.jsonl"
# receiver SCRIPT: (re)starts the receiver on $WPORT; sets RPID
receiver() {
	/usr/bin/python3 "$RECV" --port "$WPORT" --log "$RLOG" --script "$1" >"$TMP/recv.out" 2>&1 &
	RPID=$!
	on_exit "kill $RPID; wait $RPID"
	wait_for 10 bash -c "echo > /dev/tcp/127.0.0.1/$WPORT"
}
echo s3cret-token >"$TMP/token"
PORT=$(free_port)
MPORT=$(free_port)
# sensor RUN: starts the sensor (log $TMP/RUN.jsonl), same port, store and options every time
sensor() {
	"$VIGIL" kaspa sensor --listen "127.0.0.1:$PORT" --sensor-id wh-1 --probe off \
		--jsonl "$TMP/$1.jsonl" --spool "$TMP/spool.db" --store "$TMP/store.db" \
		--metrics "127.0.0.1:$MPORT" --close-after 200ms --retention 2s \
		--webhook "http://127.0.0.1:$WPORT/ingest" --webhook-batch 3 --webhook-interval 200ms \
		--webhook-retry-max 400ms --webhook-timeout 2s --webhook-token-file "$TMP/token" \
		>"$TMP/$1.out" 2>"$TMP/$1.err" &
	SPID=$!
	on_exit "kill $SPID; wait $SPID"
	wait_for 10 curl -sf "http://127.0.0.1:$MPORT/readyz"
}
# peers N TAG: N grpc-js peers handshake one after the other
peers() {
	for i in $(seq "$1"); do
		node "$PEER" --mode client --port "$PORT" --user-agent "/kaspad:2.0.1/$2-$i/" \
			>/dev/null 2>&1
	done
}
logged() { cat "$TMP"/run*.jsonl 2>/dev/null | wc -l; }
# received: the unique event ids the receiver answered 2xx for
received() { jq -r 'select(.status == 200) | .events[].event_id' "$RLOG" 2>/dev/null | sort -u | wc -l; }
metric() { curl -sf "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

receiver "503,503,503,drop"
sensor run1 || { fail sensor_start "$(cat "$TMP/run1.err")"; exit 1; }

# phase 1: the receiver fails three times, then takes everything
peers 2 up
wait_for 10 bash -c "[ \$(cat '$TMP'/run*.jsonl | wc -l) -ge 4 ]"
check delivered_after_503 wait_for 20 bash -c "[ \$(jq -r 'select(.status == 200) | .events[].event_id' '$RLOG' 2>/dev/null | sort -u | wc -l) -ge $(logged) ]"
check three_503 test "$(jq -s 'map(select(.status == 503)) | length' "$RLOG")" = 3
check metric_5xx test "$(metric 'vigil_kaspa_webhook_errors_total{class="5xx"}')" = 3

# phase 2: the receiver is down; peers keep coming; the sensor restarts in the middle
kill "$RPID"; wait "$RPID" 2>/dev/null
n_up=$(logged)
peers 2 down
/usr/bin/python3 "$PEER_PY" --port "$PORT" --user-agent "/kaspad:2.0.1/grpcio-down/" >/dev/null 2>&1
wait_for 10 bash -c "[ \$(cat '$TMP'/run*.jsonl | wc -l) -ge $((n_up + 6)) ]"
check backlog_counted wait_for 10 bash -c "[ \"\$(curl -sf http://127.0.0.1:$MPORT/metrics | awk '\$1 == \"vigil_kaspa_webhook_backlog\" { print \$2 }')\" = $(($(logged) - n_up)) ]"
check metric_connect_errors wait_for 10 bash -c "curl -sf http://127.0.0.1:$MPORT/metrics | awk '\$1 == \"vigil_kaspa_webhook_errors_total{class=\\\"connect\\\"}\" && \$2 > 0 { ok = 1 } END { exit !ok }'"
check export_backlog_includes_webhook test "$(metric vigil_kaspa_export_backlog)" = "$(($(logged) - n_up))"
kill "$SPID"; wait "$SPID" 2>/dev/null
peers_down_logged=$(logged)
# past --retention (2 s; pruned at start and every 200 ms): the tables lose old rows, the
# outbox keeps every undelivered event
sleep 2.5
sensor run2 || { fail sensor_restart "$(cat "$TMP/run2.err")"; exit 1; }
check backlog_after_restart test "$(metric vigil_kaspa_webhook_backlog)" = "$((peers_down_logged - n_up))"
check retention_pruned_tables test "$(sqlite3 "$TMP/store.db" 'SELECT count(*) FROM handshakes')" = 0
check retention_kept_outbox test "$(sqlite3 "$TMP/store.db" "SELECT count(*) FROM outbox WHERE seq >
	(SELECT seq FROM export_cursor WHERE exporter = 'webhook')")" = "$((peers_down_logged - n_up))"
check retention_pruned_delivered test "$(sqlite3 "$TMP/store.db" "SELECT count(*) FROM outbox WHERE seq <=
	(SELECT seq FROM export_cursor WHERE exporter = 'webhook')")" = 0

# phase 3: the receiver returns with one 429 Retry-After: 2; one more peer
receiver "401,429:2"
peers 1 back
check all_delivered wait_for 30 bash -c "[ \$(jq -r 'select(.status == 200) | .events[].event_id' '$RLOG' | sort -u | wc -l) -ge \$(cat '$TMP'/run*.jsonl | wc -l) ]"

# ---- what arrived -------------------------------------------------------------------------
cat "$TMP"/run1.jsonl "$TMP"/run2.jsonl | jq -c .event >"$TMP/logged.jsonl"
# what the receiver kept: 2xx batches and the batch whose answer was lost
jq -c 'select(.status == 200 or .status == "drop") | .events[]' "$RLOG" >"$TMP/got.jsonl"
check every_event_arrived test "$(received)" = "$(wc -l <"$TMP/logged.jsonl")"
check events_equal_logged bash -c "diff <(jq -S -c . '$TMP/logged.jsonl' | sort) \
	<(jq -S -c . '$TMP/got.jsonl' | sort -u)"
check order_kept bash -c "diff <(jq -r .event_id '$TMP/logged.jsonl') \
	<(jq -r .event_id '$TMP/got.jsonl' | awk '!seen[\$0]++')"
check duplicates_after_lost_answer test "$(jq -r .event_id "$TMP/got.jsonl" | sort | uniq -d | wc -l)" -gt 0
check both_types jqe -s 'map(.type) | unique == ["classification", "handshake"]' <"$TMP/got.jsonl"
check grpcio_arrived jqe -s 'map(select(.user_agent == "/kaspad:2.0.1/grpcio-down/")) | length == 1' \
	<"$TMP/got.jsonl"
check batch_bounded jqe -s 'map(.events // [] | length) | max <= 3 and min >= 1' <"$RLOG"
check bearer_token jqe -s 'map(.auth) | unique == ["Bearer s3cret-token"]' <"$RLOG"
check content_type jqe -s 'map(.content_type) | unique == ["application/json"]' <"$RLOG"
check error_401_logged grep -q 'HTTP 401.*the receiver refuses the batch' "$TMP/run2.err"
check retry_after_429 jqe -s '(map(.status) | index(429)) as $i | $i != null and
	(.[$i + 1].t - .[$i].t) >= 1.9' <"$RLOG"
# (retention has pruned the delivered rows by now: compare with the AUTOINCREMENT high mark)
check cursor_at_end test "$(sqlite3 "$TMP/store.db" "SELECT c.seq = q.seq FROM export_cursor c,
	sqlite_sequence q WHERE c.exporter = 'webhook' AND q.name = 'outbox'")" = 1

# ---- metrics ------------------------------------------------------------------------------
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$TMP/metrics.txt"
check metrics_contract /usr/bin/python3 "$CHECK" scrape "$VIGIL_ROOT/deploy/METRICS.md" "kaspa sensor" "$TMP/metrics.txt"
check metrics_promtool bash -c "promtool check metrics <'$TMP/metrics.txt'"
m() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/metrics.txt"; }
# run 2 delivered the backlog and the new peer's events, each once
n_run2=$(($(wc -l <"$TMP/logged.jsonl") - n_up))
check metric_sent test "$(m vigil_kaspa_webhook_sent_total)" = "$n_run2"
check metric_backlog_zero test "$(m vigil_kaspa_webhook_backlog)" = 0
check metric_429 test "$(m 'vigil_kaspa_webhook_errors_total{class="429"}')" = 1
check metric_4xx test "$(m 'vigil_kaspa_webhook_errors_total{class="4xx"}')" = 1
check metric_last_success awk '$1 == "vigil_kaspa_webhook_last_success_timestamp_seconds" && $2 > 1.7e9 { ok = 1 } END { exit !ok }' "$TMP/metrics.txt"
check sensor_alive kill -0 "$SPID"
exit "$T_FAILED"
