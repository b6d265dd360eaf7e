# SPDX-License-Identifier: GPL-2.0-only
# `vigil mesh agent` end to end: a coordinator in an underlay namespace (bridge 192.168.78.254)
# and 3 agents in 3 namespaces (veths into the bridge) that join it, start wireguard-go
# themselves and enforce the policy applied with `vigil mesh policy apply`:
#
#   web (node 1) -> db  (node 2)   tcp/5001, udp/5002, icmp   allow
#   ops (node 3) -> *              icmp                   allow
#   ops (node 3) -> web (node 1)   tcp/5001               allow
#   anything else                                         default deny
#
# Checks: traffic allowed/denied as the policy says; a policy change reaches every node (its
# applied event) within 2 s (measured and printed); the coordinator stopped -> the policy keeps
# being enforced; restarted -> every agent reports the new revision; an agent restarted over and
# over under a denied UDP flood lets none of it through (control: detached, it does get
# through); a removed node disappears from every peer list; metrics and bus events.
. "$VIGIL_ROOT/tests/lib.sh"

PY="python3 $VIGIL_ROOT/mesh/tests/mesh_net.py"
if [ "$(id -u)" -ne 0 ]; then skip all "needs root (network namespaces, BPF)"; exit 0; fi
for t in wireguard-go python3 nsenter jq curl tc; do
	command -v $t >/dev/null || { skip all "$t not installed (run scripts/deps)"; exit 0; }
done

. "$VIGIL_ROOT/mesh/tests/mesh_agents.sh"
ma_setup 3 || { fail setup "ip netns add"; exit 1; }
if ! start_coord; then fail coordinator "$(tail -n 3 "$TMP/coord.log")"; exit 1; fi
for n in web db ops; do admin identities add $n >/dev/null; done
cat >"$TMP/p1.txt" <<'EOF'
allow web -> db tcp/5001
allow web -> db icmp
allow web -> db udp/5002
allow ops -> * icmp
allow ops -> web tcp/5001
EOF
check policy_applied admin policy apply -f "$TMP/p1.txt"

# one after the other, so node i gets 10.78.0.i
for i in 1 2 3; do
	start_agent $i
	wait_for 10 test -s "$TMP/state$i" || { fail "join_$i" "$(tail -n 5 "$TMP/agent$i.log")"; exit 1; }
done
if ! wait_for 20 in_sync 3; then
	fail agents_in_sync "$(admin status 2>&1; tail -n 5 "$TMP"/agent*.log)"
	exit 1
fi
pass agents_in_sync
check key_file_0600 test "$(stat -c %a "$TMP/key1")" = 600
check state_file_0600 test "$(stat -c %a "$TMP/state1")" = 600
check agent_started_wireguard_go grep -q "starting \`wireguard-go -f ${IF[1]}\`" "$TMP/agent1.log"
# --wg-backend auto (the default): on a kernel without WireGuard, wireguard-go and the reason;
# forced kernel: a clear error, before joining. Where the kernel has WireGuard, the VM test
# vm_mesh_agent_kwg covers the kernel backend instead.
if nx 1 ip link add "$P-kp" type wireguard 2>/dev/null; then
	nx 1 ip link del "$P-kp"
	skip backend_auto_fallback "this kernel has WireGuard: the agents use it"
	skip backend_kernel_forced_fails "this kernel has WireGuard"
else
	check backend_auto_fallback grep -q "WireGuard backend: userspace (wg-backend auto: creating a link of type wireguard failed: Operation not supported" "$TMP/agent1.log"
	out=$(nx 1 "$VIGIL" mesh agent --wg-backend kernel --coordinator "$COORD_URL" --interface "$P-kx" \
		--key "$TMP/kx.key" --state "$TMP/kx.state" --identity web \
		--join-token-file "$TMP/join.tok" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && echo "$out" | grep -q -- "--wg-backend kernel: creating a link of type wireguard failed: Operation not supported.*use --wg-backend userspace"; then
		pass backend_kernel_forced_fails
	else
		fail backend_kernel_forced_fails "exit $rc: $out"
	fi
	check backend_kernel_forced_did_not_join test ! -e "$TMP/kx.state"
fi
check mesh_address nx 1 bash -c "ip -4 addr show dev ${IF[1]} | grep -q 'inet 10.78.0.1/24'"
check programs_attached bash -c "nsenter --net=/run/netns/$P-1 tc filter show dev ${IF[1]} ingress | grep -q tc_ingress"

for i in 1 2 3; do
	nx $i $PY tcp-serve 5001 & on_exit "kill $!"
	nx $i $PY tcp-serve 5003 & on_exit "kill $!"
done
nx 1 $PY udp-serve 7000 "$TMP/recv7000" & on_exit "kill $!"
nx 2 $PY udp-serve 5002 & on_exit "kill $!"
nx 2 $PY udp-serve 5004 & on_exit "kill $!"
sleep 0.5
denied() { ! "$@"; }
# the first packets to a peer wait for a WireGuard handshake: warm up allowed pairs
wait_for 10 nx 1 $PY ping 10.78.0.2 1
wait_for 10 nx 3 $PY ping 10.78.0.1 1
check ping_web_to_db_allowed nx 1 $PY ping 10.78.0.2
check tcp_web_to_db_5001_allowed nx 1 $PY tcp-try 10.78.0.2 5001
check tcp_web_to_db_5003_denied denied nx 1 $PY tcp-try 10.78.0.2 5003
check ping_db_to_web_denied denied nx 2 $PY ping 10.78.0.1
check tcp_db_to_ops_denied denied nx 2 $PY tcp-try 10.78.0.3 5001
check ping_ops_to_web_allowed nx 3 $PY ping 10.78.0.1
check tcp_ops_to_web_5001_allowed nx 3 $PY tcp-try 10.78.0.1 5001
check tcp_ops_to_db_5001_denied denied nx 3 $PY tcp-try 10.78.0.2 5001
check udp_web_to_db_5002_allowed nx 1 $PY udp-try 10.78.0.2 5002
check udp_web_to_db_5004_denied denied nx 1 $PY udp-try 10.78.0.2 5004
check udp_ops_to_db_5002_denied denied nx 3 $PY udp-try 10.78.0.2 5002

# metrics and bus events
r=$(rev)
check metric_revision test "$(metric 1 vigil_mesh_policy_revision)" = "$r"
check metric_peers test "$(metric 1 vigil_mesh_peers)" = 2
check metric_recent_handshake test "$(metric 1 vigil_mesh_peers_recent_handshake)" -ge 1
check metric_bytes_by_identity_name series 1 'vigil_mesh_bytes_total{identity="db",direction="out"}'
check metric_drops_by_identity_name series 3 'vigil_mesh_drops_total{identity="db",reason='
check policy_event bash -c "jq -e -s 'map(select(.subject == \"vigil.mesh.policy\")) | .[-1].event.revision == $r' '$TMP/events1.jsonl'"
check drop_event bash -c "jq -e -s 'map(select(.subject == \"vigil.mesh.drops\" and .event.remote_identity == \"db\" and .event.local_identity == \"ops\" and .event.dport == 5001)) | length >= 1' '$TMP/events3.jsonl'"

# a policy change: tcp web -> db 5001 becomes denied; time until every agent applied it
sed 's|allow web -> db tcp/5001|deny web -> db tcp/5001|' "$TMP/p1.txt" >"$TMP/p2.txt"
t0=$(date +%s.%N)
admin policy apply -f "$TMP/p2.txt" >/dev/null
r2=$(rev)
applied_all() {
	for i in 1 2 3; do
		jq -e -s "map(select(.subject == \"vigil.mesh.policy\" and .event.revision == $r2)) | length > 0" \
			"$TMP/events$i.jsonl" >/dev/null 2>&1 || return 1
	done
}
if wait_for 10 applied_all; then
	dt=$(python3 -c "import sys; print('%.3f' % (float(sys.argv[1]) - float(sys.argv[2])))" "$(date +%s.%N)" "$t0")
	echo "policy change applied on all 3 agents after ${dt}s (includes the CLI run and polling)"
	check propagation_under_2s python3 -c "import sys; sys.exit(float(sys.argv[1]) >= 2)" "$dt"
else
	fail propagation "revision $r2 not applied everywhere: $(tail -n 3 "$TMP"/agent*.log)"
fi
check policy_change_denies_tcp denied nx 1 $PY tcp-try 10.78.0.2 5001
check policy_change_keeps_icmp nx 1 $PY ping 10.78.0.2
wait_for 5 in_sync 3
check change_reported in_sync 3

# the coordinator stopped: agents keep enforcing
kill "$COORD"; wait "$COORD"; COORD=
sleep 1
check coordinator_down_logged_once test "$(grep -c 'cannot reach the coordinator' "$TMP/agent1.log")" -eq 1
check down_still_denies_tcp denied nx 1 $PY tcp-try 10.78.0.2 5001
check down_still_denies_ping denied nx 2 $PY ping 10.78.0.1
check down_still_allows_ping nx 1 $PY ping 10.78.0.2
check metric_coordinator_down test "$(metric 1 vigil_mesh_coordinator_up)" = 0
# an agent restarted while the coordinator is away starts from its state file and keeps the
# pinned policy
kill "${APID[2]}"; wait "${APID[2]}"
start_agent 2
check restart_without_coordinator wait_for 10 nx 2 curl -sf http://127.0.0.1:9464/readyz
check restart_without_coordinator_denies denied nx 2 $PY ping 10.78.0.1
check restart_without_coordinator_allows nx 1 $PY ping 10.78.0.2
sleep 1
# restarted, with a change made right away: every agent resyncs and reports it
if ! start_coord; then fail coordinator_restart "$(tail -n 3 "$TMP/coord.log")"; exit 1; fi
admin policy apply -f "$TMP/p1.txt" >/dev/null
r3=$(rev)
if wait_for 20 in_sync 3; then pass resync_after_restart; else fail resync_after_restart "$(admin status)"; fi
check resync_applied_revision test "$(metric 2 vigil_mesh_policy_revision)" = "$r3"
check resync_reconnect_logged grep -q "reachable again" "$TMP/agent1.log"
check resync_allows_tcp_again nx 1 $PY tcp-try 10.78.0.2 5001

# agent restarts under a denied flow (db -> web udp/7000). Node 2 stops enforcing (its
# programs removed by hand), so only node 1's ingress stands between the flood and port 7000.
nx 2 tc filter del dev "${IF[2]}" egress
nx 2 tc filter del dev "${IF[2]}" ingress
nx 2 $PY udp-flood 10.78.0.1 7000 400 10 &
flood=$!
restarts=0
while kill -0 $flood 2>/dev/null; do
	kill "${APID[1]}"; wait "${APID[1]}"
	start_agent 1
	wait_for 10 nx 1 curl -sf http://127.0.0.1:9464/readyz && restarts=$((restarts + 1))
done
wait $flood
sleep 0.3
got=$(cat "$TMP/recv7000" 2>/dev/null || echo 0)
echo "agent restarts during the flood: $restarts; datagrams received: $got"
check agent_restarts_happened test "$restarts" -ge 2
check restart_reuses_node test "$(grep -c 're-using node 1 ' "$TMP/agent1.log")" -ge 2
check denied_flow_stays_denied_across_restarts test "$got" -eq 0
check restarted_agent_allows nx 3 $PY ping 10.78.0.1
# control: without node 1's programs the same flow gets through, so the check above could fail
nx 1 tc filter del dev "${IF[1]}" ingress
nx 2 $PY udp-flood 10.78.0.1 7000 20 10
sleep 0.3
got=$(cat "$TMP/recv7000" 2>/dev/null || echo 0)
check control_flow_passes_when_detached test "$got" -gt 0
# a restart re-attaches the programs
kill "${APID[1]}"; wait "${APID[1]}"
start_agent 1
wait_for 10 nx 1 curl -sf http://127.0.0.1:9464/readyz
check restart_reattaches bash -c "nsenter --net=/run/netns/$P-1 tc filter show dev ${IF[1]} ingress | grep -q tc_ingress"

# a node removed: it leaves every peer list, its agent stops and drops its own peers
id3=$(admin nodes --json | jq -r '.nodes[] | select(.identity == "ops") | .id')
admin nodes rm "$id3" >/dev/null
peers_gone() { [ "$(metric 1 vigil_mesh_peers)" = 1 ] && [ "$(metric 2 vigil_mesh_peers)" = 1 ]; }
check removed_node_gone_from_peers wait_for 10 peers_gone
check removed_agent_exits wait_for 10 bash -c "! kill -0 ${APID[3]} 2>/dev/null"
check removed_agent_says_why grep -q "was removed from the mesh" "$TMP/agent3.log"
check removed_node_cannot_reach denied nx 3 $PY ping 10.78.0.1
APID[3]=

for i in 1 2 3; do [ -n "${APID[$i]}" ] && kill "${APID[$i]}" && wait "${APID[$i]}"; done
APID=()
exit $T_FAILED
