#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Bad input for `vigil rpc` (issue point 10). On the command line: each bad value gives one clear
# error line and a non-zero exit, and leaves no BPF program behind. On the wire: random bytes,
# absurd lengths, broken chunked and WebSocket framing, a slowloris request and half-closed
# connections on a real ganache's traced port (rpc_badinput.py), with vigil under valgrind:
# no crash, no memory error, no leak, and the good calls afterwards are still counted exactly.
. "$VIGIL_ROOT/tests/lib.sh"
. "$VIGIL_ROOT/rpc/tests/rpc_start.sh"

# rpc programs loaded after the test began that no process holds (every program of a running
# vigil is an open fd of it, whose fdinfo names the prog_id; bpftool here shows no pids)
first=$(bpftool -j prog show 2>/dev/null | jq '[.[].id] | max // 0')
orphans() {
	local held
	held=$(cat /proc/[0-9]*/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" {print $2}' | sort -u |
		jq -s -c .)
	bpftool -j prog show 2>/dev/null | jq -r --argjson first "$first" --argjson held "$held" \
		'.[] | select(.id > $first and (.name // "" | test("^handle_"))) |
		select(.id as $i | $held | index($i) | (if $want_held then . else not end)) | .id' \
		--argjson want_held "${1:-false}"
}
# shellcheck disable=SC2317 # called through check
no_orphans() { # the kernel frees a closed program after an RCU grace period: allow a moment
	local i
	for i in $(seq 1 50); do [ -z "$(orphans)" ] && return 0; sleep 0.2; done
	orphans
	return 1
}
n=0
while read -r opt; do
	n=$((n + 1))
	# shellcheck disable=SC2086
	timeout 60 "$VIGIL" rpc $opt --jsonl /dev/null >"$TMP/cli.out" 2>"$TMP/cli.err"
	rc=$?
	lines=$(grep -vc ' info ' "$TMP/cli.err")
	msg=$(grep -v ' info ' "$TMP/cli.err" | head -n 1)
	echo "$opt -> rc $rc: $msg"
	check "cli-$n-exit-nonzero" test "$rc" -ne 0 -a "$rc" -ne 124
	check "cli-$n-one-line" test "$lines" = 1
	check "cli-$n-names-input" grep -q -- "${opt#* }" "$TMP/cli.err"
done <<'OPTS'
--ports 0
--ports 70000
--ports abc
--capture 1
--ringbuf 3MiB
--pid 999999
--comm abcdefghijklmnopqrst
--exe /nonexistent
--cgroup /nonexistent
OPTS
check cli-nothing-attached no_orphans

start_ganache || exit 1

valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--suppressions="$HERE/valgrind-libbpf.supp" --log-file="$TMP/valgrind.log" \
	"$VIGIL" rpc --pid "$gpid" --ports "$port" --interval 500ms --capture 16KiB \
	--jsonl "$TMP/ev.jsonl" 2>"$TMP/vigil.err" &
vpid=$!
on_exit "kill $vpid"
if ! wait_for 120 grep -q capturing "$TMP/vigil.err"; then
	fail start "vigil rpc did not start under valgrind: $(tail -n 3 "$TMP/vigil.err")"
	exit 1
fi
# the check above would see this vigil's programs: they are loaded and held
check programs-held-while-running test "$(orphans true | wc -l)" -gt 0
python3 "$HERE/rpc_badinput.py" "$port" 25 >"$TMP/bad.out" || fail traffic "rpc_badinput.py"
cat "$TMP/bad.out"
sleep 2
check vigil-alive kill -0 "$vpid"
kill -INT "$vpid"
wait "$vpid"
rc=$?
grep -E 'ERROR SUMMARY|definitely|indirectly' "$TMP/valgrind.log"
check valgrind-clean test "$rc" = 0
check valgrind-no-errors grep -q 'ERROR SUMMARY: 0 errors' "$TMP/valgrind.log"
req() { jq -c "select(.subject == \"vigil.jsonrpc.requests\") | .event | $1" "$TMP/ev.jsonl"; }
check good-calls-counted test "$(req 'select(.method == "eth_blockNumber" and .status == "ok")' |
	wc -l)" = "$(awk '$1 == "good" {print $2}' "$TMP/bad.out")"
check good-calls-answered test "$(awk '$1 == "good" {print $2}' "$TMP/bad.out")" = 25
check slowloris-call-counted test "$(req 'select(.method == "eth_chainId") | .status')" = '"ok"'
check slowloris-answered grep -q '^slow 1' "$TMP/bad.out"
check nothing-attached-after no_orphans
exit "$T_FAILED"
