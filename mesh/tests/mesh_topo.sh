# SPDX-License-Identifier: GPL-2.0-only
# A WireGuard mesh of N namespaces for the mesh tests and benchmarks (sourced, after
# tests/lib.sh). Underlay: namespace $MT_P-u holds a bridge; node i has a veth into it with
# 192.168.77.i/24. Overlay: wireguard-go interface $MT_P-w<i> with 10.77.0.i/24, peers with
# every other node (allowed IP 10.77.0.j/32), keys made by mesh_dp_tool genkey (our C code).
# Everything is named after $MT_P (unique per run: the UAPI socket directory is shared by all
# namespaces) and removed by mt_cleanup, which is registered with on_exit.
#
#   mt_setup N     build the mesh; sets MT_NS[i], MT_IF[i], MT_WGPID[i]
#   mt_exec i CMD  run CMD in node i's namespace (nsenter: keeps the host's /sys/fs/bpf)
#   mt_bg i CMD    the same in the background, killed at exit; MT_LAST is its PID (nsenter
#                  execs the command, so the PID is the command's own)

MT_P=${MT_P:-vm$$}
MT_TOOL=${VIGIL_BUILD:-build}/tests/mesh_dp_tool
MT_PIN=/sys/fs/bpf/vigil-test-$MT_P
declare -a MT_NS MT_IF MT_WGPID MT_PUB

mt_exec() {
	local i=$1; shift
	nsenter --net=/run/netns/"${MT_NS[$i]}" "$@"
}

mt_bg() {
	local i=$1; shift
	nsenter --net=/run/netns/"${MT_NS[$i]}" "$@" &
	MT_LAST=$!
	on_exit "kill $MT_LAST; wait $MT_LAST"
}

mt_cleanup() {
	local i
	for i in "${!MT_WGPID[@]}"; do
		kill "${MT_WGPID[$i]}" 2>/dev/null
	done
	for i in "${!MT_WGPID[@]}"; do
		wait "${MT_WGPID[$i]}" 2>/dev/null
	done
	for i in "${!MT_NS[@]}"; do
		ip netns del "${MT_NS[$i]}" 2>/dev/null
		rm -f /var/run/wireguard/"${MT_IF[$i]}".sock
	done
	ip netns del "$MT_P-u" 2>/dev/null
	rm -rf "$MT_PIN"
}

# mt_underlay N NET: namespace $MT_P-u with bridge br0, and N namespaces $MT_P-<i> with a veth
# into it holding NET.<i>/24; sets MT_NS[i] and the overlay interface names MT_IF[i]
mt_underlay() {
	local i
	ip netns add "$MT_P-u" || return 1
	ip -n "$MT_P-u" link set lo up
	ip -n "$MT_P-u" link add br0 type bridge
	ip -n "$MT_P-u" link set br0 up
	for ((i = 1; i <= $1; i++)); do
		MT_NS[$i]=$MT_P-$i
		MT_IF[$i]=$MT_P-w$i
		ip netns add "${MT_NS[$i]}" || return 1
		ip link add "$MT_P-v$i" netns "${MT_NS[$i]}" type veth peer name "p$i" netns "$MT_P-u"
		ip -n "$MT_P-u" link set "p$i" master br0 up
		ip -n "${MT_NS[$i]}" link set lo up
		ip -n "${MT_NS[$i]}" addr add "$2.$i/24" dev "$MT_P-v$i"
		ip -n "${MT_NS[$i]}" link set "$MT_P-v$i" up
	done
}

mt_setup() {
	local n=$1 i j peers
	on_exit mt_cleanup
	mt_underlay "$n" 192.168.77 || return 1
	for ((i = 1; i <= n; i++)); do
		"$MT_TOOL" genkey >"$TMP/key$i" && chmod 600 "$TMP/key$i"
		MT_PUB[$i]=$("$MT_TOOL" pubkey <"$TMP/key$i")
		ip netns exec "${MT_NS[$i]}" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
			wireguard-go -f "${MT_IF[$i]}" >"$TMP/wg$i.log" 2>&1 &
		MT_WGPID[$i]=$!
	done
	for ((i = 1; i <= n; i++)); do
		wait_for 10 test -S /var/run/wireguard/"${MT_IF[$i]}".sock || return 1
		peers=()
		for ((j = 1; j <= n; j++)); do
			[ $j -eq $i ] && continue
			peers+=("peer=${MT_PUB[$j]}@192.168.77.$j:51820@10.77.0.$j/32")
		done
		"$MT_TOOL" wgset "${MT_IF[$i]}" key="$TMP/key$i" port=51820 "${peers[@]}" || return 1
		ip -n "${MT_NS[$i]}" addr add 10.77.0.$i/24 dev "${MT_IF[$i]}"
		ip -n "${MT_NS[$i]}" link set "${MT_IF[$i]}" up
	done
}
