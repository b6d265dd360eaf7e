#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil peers` against two real execution nodes: @ethereumjs/client (npm, scripts/deps) A and B
# on loopback, B bootstrapped from A's enode, discovery off. A monitor watches A from before B
# exists, so it sees B join; `--once --json` on each node shows exactly the other one, client
# EthereumJS; B stops and the monitor reports B leaving, on the bus (--jsonl) and in
# vigil_peers_churn_total. Takes about a minute; every wait is generous (nodes take seconds to
# start, to peer and to exit).
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
EJS="$VIGIL_ROOT/.cache/npm/node_modules/.bin/ethereumjs"

if [ ! -x "$EJS" ]; then
	skip ethereumjs "no $EJS: run scripts/deps (npm @ethereumjs/client)"
	exit 0
fi

rpc() { # rpc <port> <method>: the JSON-RPC result; fails when there is none
	local body
	body=$(curl -sf --max-time 5 -H 'Content-Type: application/json' \
		-d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":[]}" \
		"http://127.0.0.1:$1") && [ -n "$body" ] && jq -ce '.result // empty' <<<"$body" | grep .
}

# start_node <name> <p2p port> <rpc port> [bootnode]: sets PID_<name>
start_node() {
	local extra=()
	[ -n "${4:-}" ] && extra=(--bootnodes "$4")
	setsid "$EJS" --dataDir "$TMP/$1" --port "$2" --rpc --rpcAddr 127.0.0.1 --rpcPort "$3" \
		--discDns=false --discV4=false --extIP 127.0.0.1 "${extra[@]}" >"$TMP/$1.log" 2>&1 &
	eval "PID_$1=$!"
	on_exit "kill -KILL -$!"
}

P2P_A=$(free_port) RPC_A=$(free_port) P2P_B=$(free_port) RPC_B=$(free_port)
start_node A "$P2P_A" "$RPC_A"
if ! wait_for 90 rpc "$RPC_A" admin_nodeInfo; then
	fail node_a_start "no admin_nodeInfo on 127.0.0.1:$RPC_A: $(tail -n 3 "$TMP/A.log")"
	exit 1
fi
ENODE_A=$(rpc "$RPC_A" admin_nodeInfo | jq -r .enode)
ID_A=$(rpc "$RPC_A" admin_nodeInfo | jq -r .id)
check node_a_enode test -n "$ENODE_A" -a -n "$ID_A" || exit 1

# the monitor on A, before B exists: its first look sees no peers
mport=$(free_port)
"$VIGIL" peers --exec "http://127.0.0.1:$RPC_A" --interval 1s --json --jsonl "$TMP/events.jsonl" \
	--metrics "127.0.0.1:$mport" >"$TMP/watch.out" 2>"$TMP/watch.err" &
W=$!
on_exit "kill $W"
# two more without a bus sink but with --events: the table's footer, and JSON Lines on stdout
"$VIGIL" peers --exec "http://127.0.0.1:$RPC_A" --interval 1s --events >"$TMP/table.out" 2>&1 &
W2=$!
on_exit "kill $W2"
"$VIGIL" peers --exec "http://127.0.0.1:$RPC_A" --interval 1s --events --json >"$TMP/json.out" \
	2>"$TMP/json.err" &
W3=$!
on_exit "kill $W3"
first_look() { [ -s "$TMP/watch.out" ] && [ -s "$TMP/table.out" ] && [ -s "$TMP/json.out" ]; }
wait_for 30 first_look
check monitor_first_look_no_peers jq -e -s '.[0].execution.up and (.[0].peers | length == 0)' \
	"$TMP/watch.out"

start_node B "$P2P_B" "$RPC_B" "$ENODE_A"
if ! wait_for 90 rpc "$RPC_B" admin_nodeInfo; then
	fail node_b_start "no admin_nodeInfo on 127.0.0.1:$RPC_B: $(tail -n 3 "$TMP/B.log")"
	exit 1
fi
ID_B=$(rpc "$RPC_B" admin_nodeInfo | jq -r .id)

event() { # event <join|leave> <node id>: the monitor published it
	[ -s "$TMP/events.jsonl" ] && jq -e -s --arg k "$1" --arg id "$2" \
		'any(.[]; .subject == "vigil.peers.events" and .event.event == $k and .event.id == $id)' \
		"$TMP/events.jsonl"
}
peered() { # both nodes list one peer
	[ "$(rpc "$RPC_A" admin_peers | jq length)" = 1 ] && [ "$(rpc "$RPC_B" admin_peers | jq length)" = 1 ]
}
if ! wait_for 90 peered; then
	fail nodes_peered "A and B did not peer within 90 s: $(tail -n 3 "$TMP/B.log")"
	exit 1
fi
wait_for 30 event join "$ID_B"
check join_event event join "$ID_B"
check join_event_client jq -e -s --arg id "$ID_B" \
	'any(.[]; .event.event == "join" and .event.id == $id and .event.client == "EthereumJS")' \
	"$TMP/events.jsonl"

# --once --json on each node: exactly one peer, the other node, client EthereumJS
for pair in "A $RPC_A $ID_B" "B $RPC_B $ID_A"; do
	set -- $pair
	out=$("$VIGIL" peers --exec "http://127.0.0.1:$2" --once --json 2>"$TMP/once_$1.err")
	rc=$?
	check "once_$1_exit_0" test $rc -eq 0
	check "once_$1_one_peer" jqe '.execution.up and (.peers | length == 1) and .execution.peers == 1' <<<"$out"
	check "once_$1_client_ethereumjs" jqe '.peers[0].client == "EthereumJS" and .execution.clients.EthereumJS == 1' <<<"$out"
	check "once_$1_peer_is_other_node" jqe --arg id "$3" '.peers[0].id == $id' <<<"$out"
	check "once_$1_version" jqe '.execution.version | startswith("EthereumJS/")' <<<"$out"
done

# metrics while peered
metric() { curl -sf "http://127.0.0.1:$mport/metrics" | grep -F "$1 " | awk '{ print $NF }'; }
connected_1() { [ "$(metric 'vigil_peers_connected{side="execution",direction="unknown",client="EthereumJS"}')" = 1 ]; }
wait_for 10 connected_1
check metric_connected_ethereumjs connected_1
check metric_up test "$(metric 'vigil_peers_up{side="execution"}')" = 1
check metric_churn_join test "$(metric 'vigil_peers_churn_total{side="execution",event="join"}')" = 1

# B stops: A drops it, the monitor says so
kill -TERM "$PID_B"
wait_for 90 event leave "$ID_B"
check leave_event event leave "$ID_B"
check leave_event_duration jq -e -s --arg id "$ID_B" \
	'any(.[]; .event.event == "leave" and .event.id == $id and .event.since_exact == true and
	 (.event.connected_seconds | type == "number"))' "$TMP/events.jsonl"
left() { [ "$(metric 'vigil_peers_churn_total{side="execution",event="leave"}')" = 1 ]; }
wait_for 10 left
check metric_churn_leave left
check metric_connected_0 test "$(metric 'vigil_peers_connected{side="execution",direction="unknown",client="EthereumJS"}')" = 0
check monitor_alive kill -0 $W
kill -TERM $W
wait $W
check monitor_exit_0 test $? -eq 0
# the table's last footer lists both events under "recent events"
short=${ID_B:0:8}
last_footer() { awk '/^recent events/ { s = "" } { s = s $0 "\n" } END { printf "%s", s }' "$TMP/table.out"; }
footer_has() { last_footer | grep -Eq "$1"; }
wait_for 15 footer_has "  leave +execution +$short"
json_has_leave() { grep -q '"event":"leave"' "$TMP/json.out"; }
wait_for 15 json_has_leave
kill -TERM $W2 $W3
wait $W2 $W3
check table_footer_join footer_has "  join +execution +$short"
check table_footer_leave footer_has "  leave +execution +$short"
check json_events_on_stdout jq -e -s --arg id "$ID_B" \
	'any(.[]; .event.event == "join" and .event.id == $id) and
	 any(.[]; .event.event == "leave" and .event.id == $id) and any(.[]; has("peers"))' \
	"$TMP/json.out"
check monitor_no_errors bash -c "! grep -E ' (error|warn) ' '$TMP/watch.err'"
exit $T_FAILED
