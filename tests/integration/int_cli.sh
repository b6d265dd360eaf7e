# SPDX-License-Identifier: GPL-2.0-only
# The CLI as a user meets it: help at every level, prefix matching, JSON, man pages, and one
# clear line plus a non-zero exit for every kind of bad input.
. "$VIGIL_ROOT/tests/lib.sh"

# expect_err <name> <exit code> <text in stderr> <args...>
expect_err() {
	local name=$1 code=$2 text=$3 out rc; shift 3
	out=$("$VIGIL" "$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne "$code" ]; then fail "$name" "exit $rc, expected $code: $out"; return; fi
	if [[ "$out" != *"$text"* ]]; then fail "$name" "stderr '$out' lacks '$text'"; return; fi
	if [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then fail "$name" "more than one line: $out"; return; fi
	pass "$name"
}

check version "$VIGIL" version
check version_prefix "$VIGIL" vers
out=$("$VIGIL" version --json)
check version_json_parses jq -e '.version and .libbpf' <<<"$out"
check help_top bash -c "'$VIGIL' help | grep -q '^Commands:'"
check help_command bash -c "'$VIGIL' help version | grep -q 'Usage: vigil version'"
check help_flag bash -c "'$VIGIL' version --help | grep -q 'Common options'"

expect_err unknown_command 2 "unknown command 'frobnicate' (see 'vigil help')" frobnicate
expect_err unknown_option 2 "unknown option '--jsn' (did you mean --json?)" version --jsn
expect_err bad_log_level 2 "invalid value 'loud' for --log-level (from --log-level)" version --log-level loud
VIGIL_LOG_LEVEL=chatty expect_err bad_env_value 2 "invalid value 'chatty' for --log-level (from VIGIL_LOG_LEVEL)" version
expect_err missing_config 2 "cannot read config file '$TMP/none.conf'" version --config "$TMP/none.conf"
printf 'log-level = debug\nnonsense = 1\n' >"$TMP/bad.conf"
expect_err config_unknown_key 2 "$TMP/bad.conf:2: unknown key 'nonsense'" version -c "$TMP/bad.conf"
expect_err option_before_command 2 "expected a command before '--json'" --json version
expect_err extra_argument 2 "takes no arguments" version extra

# man pages: one per command, generated from the same tables as --help
mkdir -p "$TMP/man"
"$VIGIL" __man "$TMP/man"
for cmd in $("$VIGIL" help | awk '/^Commands:/{on=1;next} on&&!NF{exit} on{print $1}' | grep -v '^help$'); do
	page="$TMP/man/vigil-$cmd.1"
	if grep -q '^\.TH vigil-' "$page" 2>/dev/null && grep -q '^\.SH NAME' "$page" &&
		grep -Eq '^\.SH (OPTIONS|COMMANDS)' "$page"; then
		pass "man_page_$cmd"
	else
		fail "man_page_$cmd" "no usable $TMP/man/vigil-$cmd.1"
	fi
done
