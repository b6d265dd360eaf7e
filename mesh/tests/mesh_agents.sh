# SPDX-License-Identifier: GPL-2.0-only
# A coordinator and agents of `vigil mesh` in network namespaces, for mesh/tests/int_mesh_agent.sh
# and tests/integration/int_deploy_live.sh (sourced, after tests/lib.sh). The underlay namespace
# $P-u holds a bridge with 192.168.78.254/24, where the coordinator listens; node i is namespace
# $P-i with a veth into the bridge (192.168.78.i/24). Agents join with identity ${ident[i]}, start
# wireguard-go themselves (interface $P-w<i>, 10.78.0.i in join order) and serve metrics on
# 127.0.0.1:9464 inside their namespace. ma_cleanup (registered by ma_setup) kills everything
# and, when a check failed, keeps $TMP under build/test-logs/<test>.d.
#
#   ma_setup N            the namespaces and the tokens; sets NS[i], IF[i]
#   start_coord           the coordinator; sets COORD; fails when /readyz does not answer
#   start_agent I [OPT]   agent I (options appended); sets APID[I]
#   nx I CMD              CMD in namespace $P-I (I may be u)
#   admin ARGS            `vigil mesh ARGS` as the admin, against the coordinator
#   metric I SERIES       the value of a series of agent I (SERIES literally, labels included)
#   series I PREFIX       succeeds when a series of agent I starts with PREFIX
#   rev, in_sync N        the policy revision; all N nodes joined and in sync

P=${P:-ma$$}
PIN=/sys/fs/bpf/vigil-test-$P
# the namespaces are mesh_topo.sh's (mt_underlay, mt_cleanup) without its WireGuard set-up
MT_P=$P
. "$VIGIL_ROOT/mesh/tests/mesh_topo.sh"
CPORT=$(free_port)
COORD_URL=http://192.168.78.254:$CPORT
declare -a NS IF APID
[ ${#ident[@]} -gt 0 ] || ident=(x web db ops)

ma_cleanup() {
	local i p
	# on failure keep the logs next to the runner's
	if [ "$T_FAILED" = 1 ]; then
		rm -rf "${VIGIL_BUILD:-build}/test-logs/$T_NAME.d"
		cp -r "$TMP" "${VIGIL_BUILD:-build}/test-logs/$T_NAME.d"
	fi
	for p in "${APID[@]}" $COORD; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	# only ours: the test's other children are stopped by their own on_exit, after this one
	for p in "${APID[@]}" $COORD; do [ -n "$p" ] && wait "$p" 2>/dev/null; done
	# the agents started wireguard-go detached: whatever still runs in our namespaces
	for i in "${!NS[@]}" u; do
		for p in $(ip netns pids "$P-$i" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	sleep 0.2
	mt_cleanup
}

ma_setup() {
	local i
	on_exit ma_cleanup
	echo "admin-token-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TMP/admin.tok"
	echo "join-token-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TMP/join.tok"
	mt_underlay "$1" 192.168.78 || return 1
	ip -n "$P-u" addr add 192.168.78.254/24 dev br0
	for ((i = 1; i <= $1; i++)); do
		NS[$i]=${MT_NS[$i]} IF[$i]=${MT_IF[$i]}
	done
}

nx() { local i=$1; shift; nsenter --net=/run/netns/"$P-$i" "$@"; }
admin() { nx u env VIGIL_COORDINATOR="$COORD_URL" VIGIL_TOKEN_FILE="$TMP/admin.tok" "$VIGIL" mesh "$@"; }

start_coord() {
	# nsenter directly (not through nx): it execs, so $! is the coordinator's own PID
	nsenter --net=/run/netns/"$P-u" "$VIGIL" mesh coordinator --listen "192.168.78.254:$CPORT" --db "$TMP/mesh.db" \
		--cidr 10.78.0.0/24 --admin-token-file "$TMP/admin.tok" \
		--join-token-file "$TMP/join.tok" --debounce 50ms >>"$TMP/coord.log" 2>&1 &
	COORD=$!
	wait_for 10 nx u curl -sf "$COORD_URL/readyz"
}
start_agent() { # start_agent <i> [extra options]
	local i=$1; shift
	nsenter --net=/run/netns/"$P-$i" "$VIGIL" mesh agent --coordinator "$COORD_URL" --join-token-file "$TMP/join.tok" \
		--identity "${ident[$i]}" --endpoint "192.168.78.$i:51820" --key "$TMP/key$i" \
		--state "$TMP/state$i" --interface "${IF[$i]}" --pin-root "$PIN" \
		--metrics 127.0.0.1:9464 --jsonl "$TMP/events$i.jsonl" --spool "$TMP/spool$i.db" \
		--drop-sample 1 --log-level info "$@" >>"$TMP/agent$i.log" 2>&1 &
	APID[$i]=$!
}
metric() { # metric <i> <series, literally>: its value
	nx "$1" curl -sf http://127.0.0.1:9464/metrics | awk -v s="$2 " 'index($0, s) == 1 { print $NF }'
}
series() { # series <i> <prefix>: succeeds when a series starts with it
	nx "$1" curl -sf http://127.0.0.1:9464/metrics | grep -qF "$2"
}
rev() { admin status --json | jq -r .revision; }
in_sync() { # (jq 1.6 exits 0 on empty input: an unreachable coordinator must not pass)
	local st
	st=$(admin status --json) && [ -n "$st" ] &&
		jq -e "(.nodes | length == $1) and (.nodes | all(.in_sync))" <<<"$st" >/dev/null
}
