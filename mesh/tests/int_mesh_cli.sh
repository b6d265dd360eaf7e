# SPDX-License-Identifier: GPL-2.0-only
# `vigil mesh coordinator` as a process and the admin commands against it, as an admin meets
# them: identities, policy apply (text and JSON files) and show, nodes, status, node removal,
# --json output, change events (--jsonl), /metrics, clear errors and exit codes for bad files, tokens and addresses, and a restart
# on the same database keeping the revision.
. "$VIGIL_ROOT/tests/lib.sh"

echo "admin-token-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TMP/admin.tok"
echo "join-token-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TMP/join.tok"
port=$(free_port)
url="http://127.0.0.1:$port"
export VIGIL_COORDINATOR=$url VIGIL_TOKEN_FILE=$TMP/admin.tok
JOIN=$(cat "$TMP/join.tok")

start_coord() {
	"$VIGIL" mesh coordinator --listen "127.0.0.1:$port" --db "$TMP/mesh.db" \
		--cidr 10.77.0.0/24 --admin-token-file "$TMP/admin.tok" \
		--join-token-file "$TMP/join.tok" --jsonl "$TMP/events.jsonl" >>"$TMP/coord.log" 2>&1 &
	COORD=$!
	on_exit "kill $COORD"
	wait_for 10 curl -sf "$url/readyz"
}

# expect_err <name> <exit code> <text in stderr> <args...>
expect_err() {
	local name=$1 code=$2 text=$3 out rc; shift 3
	out=$("$VIGIL" "$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne "$code" ]; then fail "$name" "exit $rc, expected $code: $out"; return; fi
	if [[ "$out" != *"$text"* ]]; then fail "$name" "stderr '$out' lacks '$text'"; return; fi
	pass "$name"
}

join() { # join <pubkey> <identity>
	curl -sf -X POST -H "Authorization: Bearer $JOIN" \
		-d "{\"public_key\":\"$1\",\"identity\":\"$2\",\"endpoint\":\"192.0.2.1:51820\"}" \
		"$url/api/v1/join"
}

if ! start_coord; then fail start "$(tail -n 3 "$TMP/coord.log")"; exit 1; fi
pass start

check identity_add "$VIGIL" mesh identities add web 10
check identity_add_auto bash -c "'$VIGIL' mesh identities add db | grep -q 'tag 11'"
check identities_json bash -c "'$VIGIL' mesh identities --json | jq -e '.identities | length == 2'"

printf '# the policy\nallow web -> db tcp/5432\nallow * -> * icmp\ndeny * -> * any\n' >"$TMP/p.txt"
check policy_apply_text bash -c "'$VIGIL' mesh policy apply -f '$TMP/p.txt' | grep -q 'applied: 3 rules, revision 3'"
check policy_apply_again_unchanged bash -c "'$VIGIL' mesh policy apply -f '$TMP/p.txt' --json | jq -e '.changed == false and .revision == 3'"
check policy_show bash -c "'$VIGIL' mesh policy show | grep -qx 'allow web -> db tcp/5432'"
cat >"$TMP/p.json" <<'JSON'
{"rules": [{"src": "web", "dst": "db", "proto": "tcp", "port": "5432-5433", "action": "allow"}]}
JSON
check policy_apply_json bash -c "'$VIGIL' mesh policy apply -f '$TMP/p.json' --json | jq -e '.changed and .rules == 1 and .revision == 4'"

printf 'allow web -> db tcp/5432\nallow web => db tcp\n' >"$TMP/bad.txt"
expect_err policy_bad_file 1 "line 2" mesh policy apply -f "$TMP/bad.txt"
printf 'allow web -> nosuch tcp/1\n' >"$TMP/unknown.txt"
expect_err policy_unknown_identity 1 "unknown identity \"nosuch\"" mesh policy apply -f "$TMP/unknown.txt"
expect_err policy_missing_file 1 "cannot read $TMP/none" mesh policy apply -f "$TMP/none"
expect_err policy_no_file 2 "-f FILE" mesh policy apply
check revision_unchanged_by_bad_input bash -c "'$VIGIL' mesh status --json | jq -e '.revision == 4'"

k1=xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
k2=hbH9Pl4Aq+BBwTSXDBpTCuDrqcKvs7FykuKAz9s5jGo=
cred1=$(join "$k1" web | jq -r .credential)
join "$k2" db >/dev/null
check nodes_json bash -c "'$VIGIL' mesh nodes --json | jq -e '.nodes | length == 2 and .[0].address == \"10.77.0.1\" and .[1].address == \"10.77.0.2\"'"
check nodes_table bash -c "'$VIGIL' mesh nodes | grep -q '10.77.0.2 .*$k2'"
curl -sf -X POST -H "Authorization: Bearer $cred1" -d '{"revision":6}' "$url/api/v1/nodes/1/status" >/dev/null
check status_in_sync bash -c "'$VIGIL' mesh status --json | jq -e '.nodes[0].applied_revision == 6 and .nodes[0].in_sync and (.nodes[1].in_sync | not)'"
check status_table bash -c "'$VIGIL' mesh status | grep -q '^revision 6, 2 nodes'"

VIGIL_TOKEN=wrong-token-0000000000 expect_err wrong_token 1 "HTTP 401" mesh status
VIGIL_TOKEN_FILE='' expect_err no_token 2 "no admin token" mesh nodes
expect_err unreachable 1 "cannot reach the coordinator" mesh status --coordinator "http://127.0.0.1:$(free_port)"
expect_err node_rm_unknown 1 "no node 99" mesh nodes rm 99
check node_rm bash -c "'$VIGIL' mesh nodes rm 2 | grep -q 'removed node 2, revision 7'"
check nodes_after_rm bash -c "'$VIGIL' mesh nodes --json | jq -e '.nodes | length == 1'"

kill -TERM "$COORD"
if wait "$COORD"; then pass sigterm_exit_0; else fail sigterm_exit_0 "exit $?"; fi
if ! start_coord; then fail restart "$(tail -n 3 "$TMP/coord.log")"; exit 1; fi
check restart_keeps_revision bash -c "'$VIGIL' mesh status --json | jq -e '.revision == 7 and (.nodes | length == 1)'"
check change_events bash -c "jq -e -s 'length == 7 and (map(.revision) == [1,2,3,4,5,6,7]) and .[6].action == \"node.remove\" and .[0].type == \"mesh.change\"' '$TMP/events.jsonl'"
check metrics bash -c "curl -sf '$url/metrics' | grep -qx 'vigil_mesh_coordinator_revision 7'"
check restart_keeps_policy bash -c "'$VIGIL' mesh policy show | grep -qx 'allow web -> db tcp/5432-5433'"

expect_err coord_bad_cidr 1 "--cidr" mesh coordinator --listen 127.0.0.1:0 --db "$TMP/x.db" --cidr 10.0.0.1/8 --admin-token-file "$TMP/admin.tok"
expect_err coord_no_admin 1 "no admin token" mesh coordinator --listen 127.0.0.1:0 --db "$TMP/x.db"
echo short >"$TMP/short.tok"
expect_err coord_short_token 1 "at least 16" mesh coordinator --listen 127.0.0.1:0 --db "$TMP/x.db" --admin-token-file "$TMP/short.tok"
echo "admin-token-aaaaaaaaaaaaaaaaaaaa web" >"$TMP/two.tok"
expect_err coord_admin_token_one_word 1 "one word" mesh coordinator --listen 127.0.0.1:0 --db "$TMP/x.db" --admin-token-file "$TMP/two.tok"
expect_err coord_port_in_use 1 "127.0.0.1:$port" mesh coordinator --listen "127.0.0.1:$port" --db "$TMP/x.db" --admin-token-file "$TMP/admin.tok"
exit $T_FAILED
