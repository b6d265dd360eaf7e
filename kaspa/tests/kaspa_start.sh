# SPDX-License-Identifier: GPL-2.0-only
# `vigil kaspa sensor` and listening kaspa/tests/peer.js peers on loopback, for
# kaspa/tests/int_kaspa_sensor.sh and tests/integration/int_deploy_live.sh (sourced, after
# tests/lib.sh, with PEER set to peer.js; everything started is killed at exit).

# start_sensor NAME ARGS...: the sensor on a free loopback port (events in $TMP/NAME.jsonl,
# metrics on a free port); sets PORT_<NAME>, MPORT_<NAME>, PID_<NAME>; fails unless /readyz
# answers within 10 s
start_sensor() {
	local name=$1 port mport pid; shift
	port=$(free_port)
	mport=$(free_port)
	"$VIGIL" kaspa sensor --listen "${LISTEN_HOST:-127.0.0.1}:$port" --sensor-id "sensor-$name" \
		--jsonl "$TMP/$name.jsonl" --spool "$TMP/$name.spool.db" --store "$TMP/$name.db" \
		--metrics "127.0.0.1:$mport" --close-after 300ms --ready-timeout 1s "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" &
	pid=$!
	on_exit "kill $pid; wait $pid"
	eval "PORT_$name=$port MPORT_$name=$mport PID_$name=$pid"
	wait_for 10 curl -sf "http://127.0.0.1:$mport/readyz"
}

# peer_server NAME ARGS...: a listening peer.js; sets SPORT_<NAME>
peer_server() {
	local name=$1 pid port; shift
	# a listener stays for the whole test (peer.js leaves after PEER_JS_LIMIT_MS)
	PEER_JS_LIMIT_MS=300000 node "$PEER" --mode server --port 0 "$@" >"$TMP/srv-$name.out" 2>&1 &
	pid=$!
	on_exit "kill $pid; wait $pid"
	wait_for 15 grep -q listening "$TMP/srv-$name.out"
	port=$(jq -r 'select(.event == "listening") | .port' "$TMP/srv-$name.out")
	eval "SPORT_$name=$port"
}
