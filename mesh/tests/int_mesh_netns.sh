# SPDX-License-Identifier: GPL-2.0-only
# A 3-node WireGuard mesh (wireguard-go) in network namespaces with the mesh TC programs on every
# node's interface, loaded through the datapath API (mesh_dp_tool), one policy on all nodes:
#
#   1 -> 2   icmp, tcp 5001, udp 5002, tcp 5201 (iperf3)    allow
#   1 -> 3   icmp                                           allow
#   2 -> 3   tcp 5001 deny; udp any port                    deny / allow
#   anything else                                           default deny
#
# Checks: ping/TCP/UDP allowed and denied as the policy says (replies of allowed flows pass);
# the drop reasons counted where the drop happened; per-identity byte counters against
# iperf3's bytes (within 1%; TCP's may exceed by its spurious retransmissions); a policy change
# takes effect without restarting anything; agent restarts (reopen pinned maps + atomic program
# replace) while a denied flow runs let none of it through; and, as a control, the same flow
# does get through with the programs detached.
. "$VIGIL_ROOT/tests/lib.sh"
. "$VIGIL_ROOT/mesh/tests/mesh_topo.sh"

PY="python3 $VIGIL_ROOT/mesh/tests/mesh_net.py"

if [ "$(id -u)" -ne 0 ]; then skip all "needs root (network namespaces, BPF)"; exit 0; fi
for t in wireguard-go iperf3 python3 nsenter; do
	command -v $t >/dev/null || { skip all "$t not installed (run scripts/deps)"; exit 0; }
done
[ -x "$MT_TOOL" ] || { fail build "$MT_TOOL missing (run make)"; exit 1; }

mt_setup 3 || { fail setup "could not build the mesh; see $TMP/wg*.log"; exit 1; }

RULES=(rule=1,2,icmp,0-0,allow rule=1,2,tcp,5001-5001,allow rule=1,2,udp,5002-5002,allow
       rule=1,2,tcp,5201-5201,allow rule=1,2,udp,5201-5201,allow rule=1,3,icmp,0-0,allow rule=2,3,tcp,5001-5001,deny
       rule=2,3,udp,0-0,allow)
IDENTS=(ident=10.77.0.1/32:1 ident=10.77.0.2/32:2 ident=10.77.0.3/32:3)
load() { # load <node> [extra args]
	local i=$1; shift
	mt_exec "$i" "$MT_TOOL" load "${MT_IF[$i]}" pin="$MT_PIN" "$@"
}
counters() { mt_exec "$1" "$MT_TOOL" counters "${MT_IF[$1]}" pin="$MT_PIN"; }
# field <node> <identity> <column> : one counter (columns: 2 bytes_in 3 packets_in 4 bytes_out
# 5 packets_out, or a reason name)
field() {
	counters "$1" | awk -v id="$2" -v col="$3" '$1 == id {
		if (col ~ /^[0-9]+$/) { print $col; exit }
		for (i = 6; i <= NF; i++) { split($i, kv, "="); if (kv[1] == col) print kv[2] } }'
}

# connectivity before any policy: the mesh itself works
check mesh_up_without_policy mt_exec 1 $PY ping 10.77.0.3 1

for i in 1 2 3; do
	load $i own=$i default=deny "${IDENTS[@]}" "${RULES[@]}" ||
		{ fail attach "node $i: load failed"; exit 1; }
done
check programs_attached bash -c "ip netns exec ${MT_NS[1]} tc filter show dev ${MT_IF[1]} ingress | grep -q tc_ingress"

for i in 2 3; do
	mt_bg $i $PY tcp-serve 5001
	mt_bg $i $PY tcp-serve 5003
	mt_bg $i $PY udp-serve 5002
	mt_bg $i $PY udp-serve 6000
done
mt_bg 1 $PY udp-serve 7000 "$TMP/recv7000"
sleep 0.5

denied() { ! "$@"; }
check ping_1_to_2_allowed mt_exec 1 $PY ping 10.77.0.2
check ping_1_to_3_allowed mt_exec 1 $PY ping 10.77.0.3
check ping_3_to_1_denied denied mt_exec 3 $PY ping 10.77.0.1
check ping_2_to_3_denied denied mt_exec 2 $PY ping 10.77.0.3
check tcp_1_to_2_5001_allowed mt_exec 1 $PY tcp-try 10.77.0.2 5001
check tcp_1_to_2_5003_denied denied mt_exec 1 $PY tcp-try 10.77.0.2 5003
check tcp_2_to_3_5001_denied denied mt_exec 2 $PY tcp-try 10.77.0.3 5001
check tcp_1_to_3_5001_denied denied mt_exec 1 $PY tcp-try 10.77.0.3 5001
check udp_1_to_2_5002_allowed mt_exec 1 $PY udp-try 10.77.0.2 5002
check udp_2_to_3_6000_allowed mt_exec 2 $PY udp-try 10.77.0.3 6000
check udp_3_to_2_6000_denied denied mt_exec 3 $PY udp-try 10.77.0.2 6000
# where the drops were counted: the sender's egress program stops a denied flow first
d=$(field 2 3 policy_denied)
check drop_reason_policy_denied_on_2 test "${d:-0}" -ge 1
d=$(field 3 2 default_deny)
check drop_reason_default_deny_on_3 test "${d:-0}" -ge 1

# iperf3 bytes against the per-identity counters. The counters hold IP packet bytes, iperf3
# payload bytes, so the headers come off: 52 per TCP packet (IPv4 20 + TCP 20 + timestamps 12),
# 28 per UDP datagram. TCP is checked where it arrives (node 2's ingress): on the sending side a
# segment the TUN queue dropped is counted by the egress program and then retransmitted. UDP is
# checked where it leaves (node 1's egress): iperf3 counts what it sent, lost or not.
within() { # within <measured> <reference> [extra]: r - 1% <= m <= r + 1% + extra
	python3 -c "import sys; m, r, x = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]); sys.exit(0 if r > 0 and r - r / 100 <= m <= r + r / 100 + x else 1)" "$1" "$2" "${3:-0}"
}
iperf_run() { # iperf_run <name> <client args...>: result JSON in $TMP/<name>.json
	local name=$1; shift
	nsenter --net=/run/netns/"${MT_NS[2]}" iperf3 -s -1 -p 5201 -B 10.77.0.2 >/dev/null 2>&1 &
	local srv=$!
	on_exit "kill $srv"
	wait_for 5 mt_exec 2 bash -c "ss -ltn | grep -q 10.77.0.2:5201"
	mt_exec 1 iperf3 -c 10.77.0.2 -p 5201 -J "$@" >"$TMP/$name.json" 2>&1
	local rc=$?
	wait $srv
	return $rc
}
b0=$(field 2 1 2) p0=$(field 2 1 3)
if iperf_run tcp -t 3; then
	recv=$(jq '.end.sum_received.bytes' "$TMP/tcp.json")
	retr=$(jq '.end.sum_sent.retransmits // 0' "$TMP/tcp.json")
	b=$(($(field 2 1 2) - b0)) p=$(($(field 2 1 3) - p0))
	echo "TCP: iperf3 received $recv B ($retr segments retransmitted); node 2 counted $b B in" \
		"$p packets from identity 1"
	# a segment retransmitted because wireguard-go held its original past the timeout (a busy
	# machine) arrives twice: twice at node 2's ingress, once in iperf3's count. So the count
	# may exceed iperf3's by the retransmitted segments that were spurious (1368 payload bytes
	# at most under wireguard-go's 1420-byte MTU), which iperf3 cannot tell from the lost ones:
	# 0.4-1.1% here with 8,000-12,500 retransmissions in 3 s. Allowed: that many bytes, at most
	# 2% more; a shortfall of more than 1% fails as before
	extra=$((retr * 1368 < recv / 50 ? retr * 1368 : recv / 50))
	check iperf_tcp_bytes_in_within_1pct_plus_dups within $((b - 52 * p)) "$recv" "$extra"
else
	fail iperf_tcp "iperf3 failed: $(tail -c 300 "$TMP/tcp.json")"
fi
b0=$(field 1 2 4) p0=$(field 1 2 5)
if iperf_run udp -u -b 50M -l 1200 -t 2; then
	sent=$(jq '.end.sum.bytes' "$TMP/udp.json")
	b=$(($(field 1 2 4) - b0)) p=$(($(field 1 2 5) - p0))
	echo "UDP: iperf3 sent $sent B; node 1 counted $b B in $p packets to identity 2"
	# the control connection (TCP, a few kB) rides along: 52 bytes of header per packet
	# of it are over-subtracted at most, far below 1%
	check iperf_udp_bytes_out_within_1pct within $((b - 28 * p)) "$sent"
else
	fail iperf_udp "iperf3 failed: $(tail -c 300 "$TMP/udp.json")"
fi

# a policy change, no restart: deny 1 -> 2 tcp 5001 (more specific than nothing, so the
# explicit deny), then restore
NEW=("${RULES[@]/rule=1,2,tcp,5001-5001,allow/rule=1,2,tcp,5001-5001,deny}")
for i in 1 2 3; do mt_exec $i "$MT_TOOL" policy "${MT_IF[$i]}" pin="$MT_PIN" "${NEW[@]}"; done
check policy_change_denies_tcp denied mt_exec 1 $PY tcp-try 10.77.0.2 5001
check policy_change_keeps_udp mt_exec 1 $PY udp-try 10.77.0.2 5002
for i in 1 2 3; do mt_exec $i "$MT_TOOL" policy "${MT_IF[$i]}" pin="$MT_PIN" "${RULES[@]}"; done
check policy_restored_allows_tcp mt_exec 1 $PY tcp-try 10.77.0.2 5001

# agent restarts under a denied flow. Node 3 stops enforcing (programs detached), so only
# node 1's ingress stands between 3's UDP flood and node 1's port 7000 (3 -> 1 is denied).
mt_exec 3 "$MT_TOOL" detach "${MT_IF[3]}" pin="$MT_PIN"
mt_bg 3 $PY udp-flood 10.77.0.1 7000 300 10
flood=$MT_LAST
restarts=0
while kill -0 $flood 2>/dev/null; do
	load 1 own=1 default=deny "${IDENTS[@]}" "${RULES[@]}" && restarts=$((restarts + 1))
done
wait $flood
sleep 0.3
got=$(cat "$TMP/recv7000" 2>/dev/null || echo 0)
echo "agent restarts during the flood: $restarts; datagrams received: $got"
check restarts_happened test "$restarts" -ge 3
check denied_flow_stays_denied_across_restarts test "$got" -eq 0
check restarted_node_still_allows mt_exec 1 $PY ping 10.77.0.2 1
# control: without node 1's programs the same flow gets through, so the check above could fail
mt_exec 1 "$MT_TOOL" detach "${MT_IF[1]}" pin="$MT_PIN"
mt_exec 3 $PY udp-flood 10.77.0.1 7000 20 10
sleep 0.3
got=$(cat "$TMP/recv7000" 2>/dev/null || echo 0)
check control_flow_passes_when_detached test "$got" -gt 0

# handshakes as the agent reads them from the UAPI socket
hs=$(mt_exec 1 "$MT_TOOL" wgget "${MT_IF[1]}" | awk -v k="${MT_PUB[2]}" '$1 == k { print $2 }')
check wg_handshake_seen test "${hs:-0}" -gt 0

for i in 2 3; do mt_exec $i "$MT_TOOL" detach "${MT_IF[$i]}" pin="$MT_PIN" unpin=1; done
mt_exec 1 "$MT_TOOL" detach "${MT_IF[1]}" pin="$MT_PIN" unpin=1
exit $T_FAILED
