#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# vigil rpc --capture-params against a real ganache driven by curl:
#  - with --capture-params --sample 1: eth_getBalance's params appear exactly as sent; the params
#    of eth_sendRawTransaction and personal_unlockAccount (single and in a batch) are
#    "[redacted]"; a listed key's value inside other params is "[redacted]"; none of the secret
#    strings sent appears anywhere in vigil's output (events and log);
#  - params longer than --params-max (1 KiB by default) are cut there and flagged;
#  - without the flag, the same traffic yields the same calls and no "params" field at all.
. "$VIGIL_ROOT/tests/lib.sh"

GANACHE=$VIGIL_ROOT/.cache/npm/node_modules/.bin/ganache
if [ "$(id -u)" != 0 ]; then
	skip setup "loading BPF programs needs root"
	exit 0
fi
if [ ! -x "$GANACHE" ] || ! command -v node >/dev/null || ! command -v curl >/dev/null; then
	skip setup "ganache (scripts/deps installs it into .cache/npm), node or curl missing"
	exit 0
fi
if [ ! -x "$VIGIL" ]; then
	fail setup "$VIGIL not built (make)"
	exit 1
fi

# Secrets: strings that occur only in what must be redacted.
RAW_TX=0xf86c0a8502540be40082520894c0ffee5ec7e7c0ffee5ec7e7c0ffee5ec7e7c0ff
RAW_TX=${RAW_TX}880de0b6b3a7640000801ca05ec7e75ec7e7
RAW_TX2=0xf86c0b8502540be400825208945ec7e70000000000000000000000000000000000
PASSWORD='hunter2-Sup3rS3cret'
PRIVKEY=0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318
ADDR=0x627306090abab3a6e1400e9345bc60c78a8bef57
DATA=0x$(printf 'ab%.0s' $(seq 1500))

port=$(free_port)
"$GANACHE" --server.host 127.0.0.1 --server.port "$port" --logging.quiet --wallet.deterministic \
	--chain.chainId 1337 >"$TMP/ganache.log" 2>&1 &
GPID=$!
on_exit "kill $GPID; wait $GPID"
rpc() { curl -s -m 10 -H 'Content-Type: application/json' --data "$1" "http://127.0.0.1:$port/"; }
if ! wait_for 60 rpc '{"jsonrpc":"2.0","id":0,"method":"eth_chainId","params":[]}'; then
	fail setup "ganache did not answer on port $port: $(tail -n 3 "$TMP/ganache.log")"
	exit 1
fi

# The traffic: 8 calls in 6 HTTP requests, 4 of them with secrets, 1 with 3 KB of params.
# (requests span lines between members; the params themselves are compact)
traffic() {
	rpc '{"jsonrpc":"2.0","id":1,"method":"eth_getBalance",
	      "params":["'$ADDR'","latest"]}'
	rpc '{"jsonrpc":"2.0","id":2,"method":"eth_sendRawTransaction","params":["'$RAW_TX'"]}'
	rpc '{"jsonrpc":"2.0","id":3,"method":"personal_unlockAccount",
	      "params":["'$ADDR'","'$PASSWORD'",60]}'
	rpc '{"jsonrpc":"2.0","id":4,"method":"eth_estimateGas",
	      "params":[{"from":"'$ADDR'","to":"'$ADDR'","privateKey":"'$PRIVKEY'"}]}'
	rpc '[{"jsonrpc":"2.0","id":5,"method":"eth_blockNumber"},
	      {"jsonrpc":"2.0","id":6,"method":"eth_sendRawTransaction","params":["'$RAW_TX2'"]},
	      {"jsonrpc":"2.0","id":7,"method":"eth_getBalance","params":["'$ADDR'","earliest"]}]'
	rpc '{"jsonrpc":"2.0","id":8,"method":"eth_call",
	      "params":[{"to":"'$ADDR'","data":"'$DATA'"},"latest"]}'
}

# run_vigil <name> [options...]: traces ganache while the traffic runs; events in $TMP/<name>.out
run_vigil() {
	local name=$1 vpid i
	shift
	"$VIGIL" rpc --pid "$GPID" --ports "$port" --interval 1h "$@" >"$TMP/$name.out" \
		2>"$TMP/$name.err" &
	vpid=$!
	if ! wait_for 30 grep -q "capturing" "$TMP/$name.err"; then
		kill "$vpid" 2>/dev/null
		wait "$vpid"
		return 1
	fi
	traffic >"$TMP/$name.client" 2>&1
	# the last response is in the ring buffer once curl has it; give the loop a moment to drain
	for i in $(seq 50); do
		[ "$(grep -c 'jsonrpc\.requests' "$TMP/$name.out")" -ge 8 ] && break
		sleep 0.1
	done
	kill -INT "$vpid"
	wait "$vpid"
}

if ! run_vigil on --capture-params --sample 1; then
	fail capture-on "vigil rpc did not start: $(tail -n 3 "$TMP/on.err")"
	exit 1
fi
echo "--- vigil output with --capture-params:"
cat "$TMP/on.out" "$TMP/on.err"
echo "--- client output:"
cat "$TMP/on.client"
echo

# check_events <file> <mode>: the checks on the requests subject's events, in Python
check_events() {
	python3 - "$1" "$2" "$ADDR" "$DATA" <<'EOF'
import json, sys
path, mode, addr, data = sys.argv[1:]
ev = []
for line in open(path):
    rec = json.loads(line)
    if rec["subject"].endswith(".jsonrpc.requests"):
        ev.append(rec["event"])
by_id = {e["id"]: e for e in ev}
ids = sorted(by_id, key=int)
assert ids == [str(i) for i in range(1, 9)], "calls seen: %s" % ids
assert len(ev) == 8, "%d events for 8 calls" % len(ev)
if mode == "off":
    bad = [e["id"] for e in ev if "params" in e or "params_truncated" in e]
    assert not bad, "params fields without --capture-params in calls %s" % bad
    sys.exit(0)
def p(i, truncated=False):
    e = by_id[str(i)]
    assert "params" in e, "call %d (%s) has no params" % (i, e["method"])
    assert e["params_truncated"] is truncated, "call %d params_truncated" % i
    return e["params"]
assert p(1) == '["%s","latest"]' % addr, "eth_getBalance params: %r" % p(1)
assert p(2) == "[redacted]", "eth_sendRawTransaction params: %r" % p(2)
assert p(3) == "[redacted]", "personal_unlockAccount params: %r" % p(3)
assert json.loads(p(4)) == [{"from": addr, "to": addr, "privateKey": "[redacted]"}], \
    "eth_estimateGas params: %r" % p(4)
assert "params" not in by_id["5"], "eth_blockNumber sent no params: %r" % by_id["5"]
assert p(6) == "[redacted]", "batch eth_sendRawTransaction params: %r" % p(6)
assert p(7) == '["%s","earliest"]' % addr, "batch eth_getBalance params: %r" % p(7)
sent = '[{"to":"%s","data":"%s"},"latest"]' % (addr, data)
assert p(8, True) == sent[:1024], "eth_call params: the first 1024 bytes, got %d" % len(p(8, True))
EOF
}

check capture-on-events check_events "$TMP/on.out" on
# leaked <name>: the secrets (and long pieces of them) found in vigil's output of run <name>
leaked() {
	local s found=
	for s in "$RAW_TX" "${RAW_TX:2:40}" "$RAW_TX2" "${RAW_TX2:30}" "$PASSWORD" "$PRIVKEY" \
		"${PRIVKEY:2:20}"; do
		grep -qiF -- "$s" "$TMP/$1.out" "$TMP/$1.err" && found="$found $s"
	done
	echo "$found"
}
check capture-on-no-secret test -z "$(leaked on)"

if ! run_vigil off; then
	fail capture-off "vigil rpc did not start: $(tail -n 3 "$TMP/off.err")"
	exit 1
fi
echo "--- vigil output without --capture-params:"
cat "$TMP/off.out" "$TMP/off.err"
check capture-off-events check_events "$TMP/off.out" off
check capture-off-no-params-field bash -c "! grep -q '\"params' '$TMP/off.out'"
check capture-off-no-secret test -z "$(leaked off)"
exit $T_FAILED
