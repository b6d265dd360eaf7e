#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil watchdog` as a user meets it on the host: bad rules refused with the line and nothing
# attached; the probe says BPF LSM is unavailable and picks throttle; --require-eperm and
# --mode lsm refused; a monitor daemon reports an episode with the exact count, serves metrics
# promtool accepts, reloads on SIGHUP (a bad file keeps the old rules); top reads its counters;
# --pin keeps counting after the daemon exits and `unpin` removes it.
# Rules watch getppid, which normal programs call rarely, and only monitor mode runs here.
. "$VIGIL_ROOT/tests/lib.sh"

attached() { bpftool prog show 2>/dev/null | grep -c 'name wd_sys_enter ' || true; }
base=$(attached)

# expect_run_err <name> <text> <rules file contents>
expect_run_err() {
	local name=$1 text=$2 out rc
	printf '%b' "$3" >"$TMP/$name.rules"
	out=$("$VIGIL" watchdog run --mode monitor -r "$TMP/$name.rules" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne 2 ]; then fail "$name" "exit $rc, expected 2: $out"; return; fi
	if [[ "$out" != *"$TMP/$name.rules:"*"$text"* ]]; then fail "$name" "'$out' lacks '$text'"; return; fi
	if [ "$(attached)" != "$base" ]; then fail "$name" "a program stayed attached"; return; fi
	pass "$name"
}

expect_run_err zero_limit 'limit 0 would refuse every call' 'rule read 0/1s\n'
expect_run_err negative_limit 'limit -3 is negative' '# c\nrule read -3/1s\n'
expect_run_err overflow_limit 'is too large' 'rule read 4294967296/1s\n'
expect_run_err zero_window 'window 0ms is zero' 'rule read 5/0ms\n'
expect_run_err overflow_window 'is too long' 'rule read 5/99999999999999999999999h\n'
expect_run_err unknown_syscall '2: unknown syscall "raed"' 'rule read 5/1s\nrule raed 5/1s\n'
expect_run_err duplicate_rule '3: syscall read is already limited by the rule on line 1' \
	'rule read 5/1s\nrule write 5/1s\nrule read 9/1s\n'

# A bad allowlist path passes the parser but fails before anything is attached.
printf 'rule getppid 5/1s\nallow exe /nonexistent/geth\n' >"$TMP/exe.rules"
out=$("$VIGIL" watchdog run --mode monitor -r "$TMP/exe.rules" 2>&1 >/dev/null); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"allow exe /nonexistent/geth"* ]] && [ "$(attached)" = "$base" ]; then
	pass missing_exe_nothing_attached
else
	fail missing_exe_nothing_attached "exit $rc: $out"
fi

out=$("$VIGIL" watchdog check --syscalls file-read,getppid --limit 7 --window 2s 2>&1)
check check_normalizes test "$out" = $'scope process\nrule read,pread64,readv,getppid,preadv,preadv2 7/2s'

probe=$("$VIGIL" watchdog probe --json 2>/dev/null)
if jq -e '.modes[] | select(.mode == "lsm") | .available' <<<"$probe" >/dev/null; then
	skip probe_lsm_unavailable "BPF LSM works on this kernel"
	skip require_eperm_refused "BPF LSM works on this kernel"
else
	check probe_lsm_unavailable jq -e '.auto == "throttle" and
		([.modes[] | select(.mode == "lsm")][0].missing[0] | test("BPF LSM"))' <<<"$probe"
	out=$("$VIGIL" watchdog probe 2>/dev/null)
	check probe_text_says_throttle grep -q '^auto picks: throttle (delays' <<<"$out"
	out=$("$VIGIL" watchdog run --require-eperm --syscalls read 2>&1); rc=$?
	if [ $rc -eq 1 ] && [[ "$out" == *"--require-eperm: this kernel"*"cannot make syscalls fail with EPERM"* ]]; then
		pass require_eperm_refused
	else
		fail require_eperm_refused "exit $rc: $out"
	fi
	out=$("$VIGIL" watchdog run --mode lsm 2>&1); rc=$?
	if [ $rc -eq 1 ] && [[ "$out" == *"--mode lsm is not possible"* ]]; then
		pass mode_lsm_refused
	else
		fail mode_lsm_refused "exit $rc: $out"
	fi
	check nothing_attached_after_refusals test "$(attached)" = "$base"
fi

# A monitor daemon with a rules file, metrics and JSON Lines.
port=$(free_port)
printf 'rule getppid 10/30s\n' >"$TMP/run.rules"
"$VIGIL" watchdog run --mode monitor -r "$TMP/run.rules" --metrics "127.0.0.1:$port" \
	--jsonl "$TMP/events.jsonl" 2>"$TMP/daemon.log" &
daemon=$!
on_exit "kill $daemon 2>/dev/null; wait $daemon 2>/dev/null"
if ! wait_for 20 curl -sf "http://127.0.0.1:$port/readyz"; then
	fail daemon_ready "$(tail -n 3 "$TMP/daemon.log")"
else
	pass daemon_ready
	check log_says_mode grep -q 'using mode monitor' "$TMP/daemon.log"
	perl -e 'syscall(110) for 1..50' &
	ppid_pid=$!
	wait $ppid_pid
	if wait_for 10 grep -q "\"pid\":$ppid_pid," "$TMP/events.jsonl"; then
		ev=$(grep "\"pid\":$ppid_pid," "$TMP/events.jsonl" | head -n 1)
		check episode_exact jq -e '.subject == "vigil.watchdog.events" and (.event | .syscall == "getppid" and .count == 50 and .limit == 10 and
			.over == 40 and .action == "monitor" and .mode == "monitor" and .comm == "perl")' <<<"$ev"
	else
		fail episode_exact "no episode for pid $ppid_pid in $(cat "$TMP/events.jsonl")"
	fi
	curl -s "http://127.0.0.1:$port/metrics" >"$TMP/metrics.txt"
	check metrics_promtool promtool check metrics <"$TMP/metrics.txt"
	check metrics_mode grep -q '^vigil_watchdog_mode{mode="monitor"} 1' "$TMP/metrics.txt"
	check metrics_blocked awk '/^vigil_watchdog_blocked_total\{syscall="getppid",action="monitor"\}/ { exit !($2 >= 40) }' "$TMP/metrics.txt"
	check metrics_fullness grep -q '^vigil_watchdog_map_fullness_ratio ' "$TMP/metrics.txt"
	check metrics_slot_taken grep -q '^vigil_watchdog_slot_taken_calls_total ' "$TMP/metrics.txt"
	check metrics_no_pid_labels bash -c "! grep -q 'pid=' '$TMP/metrics.txt'"

	# SIGHUP: a bad file is refused and the daemon keeps running with the old rules.
	printf 'rule getppid 0/1s\n' >"$TMP/run.rules"
	kill -HUP $daemon
	wait_for 5 grep -q 'reload: .*limit 0' "$TMP/daemon.log"
	check reload_bad_keeps_running bash -c "kill -0 $daemon && grep -q 'previous rules stay in force' '$TMP/daemon.log'"
	printf 'rule getppid 1000/30s\n' >"$TMP/run.rules"
	kill -HUP $daemon
	check reload_good wait_for 5 grep -q 'reloaded 1 rule (counters kept)' "$TMP/daemon.log"
	kill -INT $daemon
	wait $daemon
	check daemon_exit_zero test $? -eq 0
fi

# --pin: the programs keep counting after the daemon exits; top reads the pinned counters.
pin=/sys/fs/bpf/vigil/watchdog
if [ -e "$pin" ]; then
	skip pin_keeps_counting "$pin exists already (another watchdog is pinned)"
else
	on_exit "'$VIGIL' watchdog unpin"
	"$VIGIL" watchdog run --mode monitor --syscalls getppid --limit 1000 --window 60s --pin \
		>/dev/null 2>"$TMP/pin.log" &
	pd=$!
	wait_for 20 test -e "$pin/link_wd_sys_enter"
	kill -INT $pd
	wait $pd
	perl -e 'syscall(110) for 1..77; sleep 5' &
	pp=$!
	on_exit "kill $pp 2>/dev/null"
	sleep 0.5
	top=$("$VIGIL" watchdog top --json --count 1 --interval 100ms 2>"$TMP/top.log")
	check pin_keeps_counting jq -e --argjson p "$pp" '.top[] | select(.pid == $p) | .total == 77' <<<"$top"
	# A restart with --pin takes the pinned maps over: the counts survive.
	"$VIGIL" watchdog run --mode monitor --syscalls getppid --limit 1000 --window 60s --pin \
		>/dev/null 2>"$TMP/pin2.log" &
	pd=$!
	wait_for 20 grep -q 'watching 1 rule' "$TMP/pin2.log"
	top=$("$VIGIL" watchdog top --json --count 1 --interval 100ms 2>>"$TMP/top.log")
	check pin_restart_keeps_counters jq -e --argjson p "$pp" '.top[] | select(.pid == $p) | .total == 77' <<<"$top"
	check pin_restart_one_program test "$(bpftool prog show | grep -c 'name wd_sys_enter ')" -eq $((base + 1))
	kill -INT $pd
	wait $pd
	"$VIGIL" watchdog unpin
	# Programs are freed after an RCU grace period: give it a moment.
	unpinned() { [ "$(attached)" = "$base" ] && [ ! -e "$pin" ]; }
	check unpin_detaches wait_for 5 unpinned
fi

# top without a pinned watchdog loads its own (monitor) and prints JSON Lines.
out=$("$VIGIL" watchdog top --json --count 2 --interval 200ms --syscalls getppid 2>/dev/null)
check top_json test "$(jq -s 'length == 2 and (.[0] | has("top"))' <<<"$out")" = true
exit $T_FAILED
