#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `vigil rpc --sched`: by default the tracer's thread runs at SCHED_IDLE (it never preempts the
# node), with --sched normal at SCHED_OTHER; started under another policy (chrt) it keeps that
# one. Records that pile up in the ring buffer raise it to normal priority until they are
# drained: the tracer stopped (SIGSTOP) while a real anvil answers 800 calls (about 1.1 MiB of
# records), then let go with its loop thread starved (pinned beside a busy loop), finds over a
# quarter of its 2 MiB ring full: its pacer thread raises the loop thread
# (vigil_rpc_sched_raises_total), which loses nothing, counts every call, and goes back to
# SCHED_IDLE.
. "$VIGIL_ROOT/tests/lib.sh"
. "$VIGIL_ROOT/rpc/tests/rpc_start.sh"
# policy PID[/task/TID]: the scheduling policy of the process's main thread, or of thread TID
# (/proc/.../stat field 41:
# 0 SCHED_OTHER, 5 SCHED_IDLE); the fields are counted after the ")" that ends the name
policy() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $39}'; }
export -f policy
metric() {
	curl -sf "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 ~ "^"m"({|$)" { s += $2 }
		END { printf "%.0f\n", s }'
}

start_anvil || exit 1
mport=$(free_port)
tracer_launch --pid "$apid" --ports "$port" --sched normal --metrics "127.0.0.1:$mport" || exit 1
check normal-is-sched-other test "$(policy "$vpid")" = 0
check normal-says-so grep -q "CPU policy as started" "$TMP/vigil.err"
kill "$vpid"
wait "$vpid"
# started under another policy (chrt): kept
chrt -b -p 0 $$
tracer_launch --pid "$apid" --ports "$port" || exit 1
chrt -o -p 0 $$
check chrt-policy-kept test "$(policy "$vpid")" = 3
kill "$vpid"
wait "$vpid"

# a small ring (2 MiB) woken every 64 KiB: raised past 64 KiB + a quarter of the rest (560 KiB)
tracer_launch --pid "$apid" --ports "$port" --ringbuf 2MiB --wakeup 64KiB \
	--metrics "127.0.0.1:$mport" --jsonl "$TMP/ev.jsonl" || exit 1
check idle-by-default test "$(policy "$vpid")" = 5
# the pacer thread that raises it keeps the policy vigil started with
pacer=$(grep -lx vigil-rpc-pacer "/proc/$vpid/task/"*/comm | cut -d/ -f5)
check pacer-thread test -n "$pacer"
check pacer-sched-other test "$(policy "$vpid/task/$pacer")" = 0
check idle-says-so grep -q "CPU policy SCHED_IDLE" "$TMP/vigil.err"
check not-raised-yet test "$(metric vigil_rpc_sched_raises_total)" = 0

cat >"$TMP/bodies" <<'EOF2'
{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}
{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":["latest",true]}
EOF2
kill -STOP "$vpid"
node "$HERE/rpc_load.js" "$port" "$TMP/client.json" bodies 400 "$TMP/bodies" 8 ||
	fail client "rpc_load.js bodies failed"
# Starved, as on a saturated machine: the loop thread (the main one) shares CPU 0 with a busy
# SCHED_OTHER loop, so at SCHED_IDLE it gets next to nothing of it until the pacer (not pinned)
# raises it. Only stopped, it would run at once on an idle CPU after SIGCONT and could drain the
# ring below the mark before the pacer's next look (no raise needed, none made).
taskset -c 0 sh -c 'while :; do :; done' &
hog=$!
on_exit "kill $hog"
taskset -p -c 0 "$vpid" >/dev/null
sleep 0.2 # longer than the pacer's 50 ms period: it looks as soon as the process goes on
kill -CONT "$vpid"
check all-calls-counted wait_for 20 bash -c \
	"[ \"\$(grep -c jsonrpc.requests '$TMP/ev.jsonl')\" = 800 ]"
raises=$(metric vigil_rpc_sched_raises_total)
echo "the pacer raised the tracer $raises times"
check raised-once test "$raises" = 1
kill "$hog"
check nothing-lost test "$(metric vigil_rpc_events_lost_total)" = 0
check counts-equal-client python3 "$HERE/rpc_expect.py" "$TMP/ev.jsonl" "$TMP/client.json"
# drained: the next drains find the ring empty and lower the thread again
check idle-again wait_for 10 bash -c "[ \"\$(policy $vpid)\" = 5 ]"
kill -INT "$vpid"
wait "$vpid"
check vigil-exit-status test $? = 0
exit "$T_FAILED"
