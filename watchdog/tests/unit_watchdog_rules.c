// SPDX-License-Identifier: GPL-2.0-only
/*
 * Watchdog rules: the syscall table, groups, the rules-file grammar, and every kind of bad input
 * the issue names (zero, negative, overflowing limits and windows, unknown syscalls, duplicate
 * rules), each of which must be an error naming the line.
 */
#include "test.h"
#include "watchdog/wd.h"

static int parse(const char *text, struct wd_rules *r, char *err, size_t n)
{
	return wd_rules_parse(text, strlen(text), "t.rules", r, err, n);
}

static void test_syscall_table(void)
{
	ASSERT_EQ(wd_syscall_nr("read"), 0, "read");
	ASSERT_EQ(wd_syscall_nr("pread64"), 17, "pread64");
	ASSERT_EQ(wd_syscall_nr("getppid"), 110, "getppid");
	ASSERT_EQ(wd_syscall_nr("reed"), -ENOENT, "unknown");
	ASSERT_STREQ(wd_syscall_name(257), "openat", "openat");
	ASSERT_EQ(wd_syscall_hooks(0), WD_HOOK_FILE, "read has the file hook");
	ASSERT_EQ(wd_syscall_hooks(wd_syscall_nr("connect")), WD_HOOK_SOCK, "connect: socket");
	ASSERT_EQ(wd_syscall_hooks(wd_syscall_nr("getppid")), 0, "getppid: no hook");
	ASSERT_STREQ(wd_action(WD_MODE_LSM, 0, true), "eperm", "read in lsm");
	ASSERT_STREQ(wd_action(WD_MODE_LSM, 110, true), "monitor", "getppid in lsm");
	ASSERT_STREQ(wd_action(WD_MODE_THROTTLE, 110, true), "throttle", "throttle");
	ASSERT_EQ(wd_mode_parse("auto"), -1, "auto");
	ASSERT_EQ(wd_mode_parse("fmod_ret"), WD_MODE_FMOD_RET, "fmod_ret");
	ASSERT_EQ(wd_mode_parse("lsmx"), -EINVAL, "bad mode");
}

static void test_good_file(void)
{
	const char *text = "# watchdog rules\n"
			   "scope process\n"
			   "rule read,pread64 100/500ms   # the default\n"
			   "rule net 1000/2s\r\n"
			   "\n"
			   "allow comm geth\n"
			   "allow pid 1\n"
			   "allow uid root\n"
			   "allow exe /usr/bin/geth\n"
			   "allow cgroup /sys/fs/cgroup/system.slice\n";
	struct wd_rules r;
	char err[256] = "";

	if (!ASSERT_OK(parse(text, &r, err, sizeof(err)), err))
		return;
	ASSERT_EQ(r.nrules, 2, "rules");
	ASSERT_EQ(r.rules[0].limit, 100, "limit");
	ASSERT_EQ(r.rules[0].window_ns, 500000000ull, "window");
	ASSERT_EQ(r.rules[0].line, 3, "line");
	ASSERT_EQ(r.rules[0].sc[0] + r.rules[0].sc[17], 2, "read and pread64");
	ASSERT_EQ(r.rules[0].sc[1], 0, "not write");
	ASSERT_EQ(r.rules[1].sc[wd_syscall_nr("connect")], 1, "net has connect");
	ASSERT_EQ(r.rules[1].sc[wd_syscall_nr("recvfrom")], 1, "net has recvfrom");
	ASSERT_EQ(r.rules[1].window_ns, 2000000000ull, "2s");
	ASSERT_EQ(r.nallow, 5, "allowlist");
	ASSERT_EQ(r.allow[0].kind, WD_AL_COMM, "comm");
	ASSERT_STREQ(r.allow[0].value, "geth", "comm value");
	ASSERT_EQ(r.allow[0].line, 6, "allow line");
	ASSERT_EQ(r.scope, WD_SCOPE_PROCESS, "scope");
	wd_rules_free(&r);
}

static void test_groups(void)
{
	struct wd_rules r;
	char err[256] = "";
	int n = 0;

	if (!ASSERT_OK(parse("rule all 5/1s\n", &r, err, sizeof(err)), err))
		return;
	for (int i = 0; i < WD_MAX_SYSCALLS; i++)
		n += r.rules[0].sc[i];
	ASSERT_GE(n, 360, "all covers the table");
	wd_rules_free(&r);
	if (!ASSERT_OK(parse("rule file-read 5/1s\nrule file-write 5/1s\nscope cgroup\n", &r, err,
			     sizeof(err)), err))
		return;
	ASSERT_EQ(r.rules[0].sc[wd_syscall_nr("preadv2")], 1, "file-read has preadv2");
	ASSERT_EQ(r.rules[1].sc[wd_syscall_nr("pwritev")], 1, "file-write has pwritev");
	ASSERT_EQ(r.scope, WD_SCOPE_CGROUP, "cgroup scope");
	wd_rules_free(&r);
}

/* Each bad input: an error, naming the line, saying what is wrong; nothing returned. */
static void test_bad_input(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "rule read 0/1s\n", "t.rules:1: limit 0" },
		{ "\nrule read -5/1s\n", "t.rules:2: limit -5 is negative" },
		{ "rule read 99999999999999999999999/1s\n", "t.rules:1: limit 99999999999999999999999 is too large" },
		{ "rule read 1000000001/1s\n", "too large" },
		{ "rule read 10/0s\n", "t.rules:1: window 0s is zero" },
		{ "rule read 10/-1s\n", "window -1s is negative" },
		{ "rule read 10/99999999999999999999999999h\n", "window 99999999999999999999999999h is too long" },
		{ "rule read 10/2d\n", "out of range" },
		{ "rule read 10/fast\n", "window \"fast\" is not a duration" },
		{ "rule read 10\n", "expected LIMIT/WINDOW" },
		{ "rule reed 10/1s\n", "t.rules:1: unknown syscall \"reed\"" },
		{ "rule read,,bogus 10/1s\n", "unknown syscall \"bogus\"" },
		{ "rule read 10/1s\nrule read 20/1s\n", "t.rules:2: syscall read is already limited by the rule on line 1" },
		{ "rule file-read 10/1s\nrule pread64 20/1s\n", "already limited by the rule on line 1" },
		{ "rule read 10/1s\nallow comm geth\nallow comm geth\n", "t.rules:3: duplicate allow comm geth" },
		{ "rule read 10/1s\nallow comm averyveryverylongname\n", "longer than the kernel's" },
		{ "rule read 10/1s\nallow pid 0\n", "is not a process id" },
		{ "rule read 10/1s\nallow pid 12x\n", "is not a process id" },
		{ "rule read 10/1s\nallow exe geth\n", "must be an absolute path" },
		{ "rule read 10/1s\nallow gid 5\n", "unknown allowlist kind \"gid\"" },
		{ "rule read 10/1s\nallow uid 99999999999\n", "out of range" },
		{ "scope host\nrule read 10/1s\n", "t.rules:1: unknown scope" },
		{ "limit read 10/1s\n", "unknown keyword \"limit\"" },
		{ "rule read 10/1s extra\n", "expected \"rule SYSCALLS LIMIT/WINDOW\"" },
		{ "# nothing\n", "no rule" },
		{ "rule read 1/1s\nrule write 1/1s\nrule openat 1/1s\nrule close 1/1s\n"
		  "rule getpid 1/1s\nrule getppid 1/1s\nrule uname 1/1s\nrule dup 1/1s\n"
		  "rule dup2 1/1s\n", "t.rules:9: too many rules" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wd_rules r = { 0 };
		char err[512] = "";

		if (!ASSERT_EQ(parse(cases[i].text, &r, err, sizeof(err)), -EINVAL, cases[i].text))
			continue;
		ASSERT_STRCONTAINS(err, cases[i].want, cases[i].text);
		ASSERT_EQ(r.nrules, 0, "nothing returned");
		ASSERT_TRUE(r.allow == NULL, "nothing allocated");
	}
}

static void test_flags_rules(void)
{
	struct wd_rules r = { 0 };
	char err[256] = "";

	ASSERT_OK(wd_rules_add_rule(&r, "read,pread64,readv", 100, 500000000ull, "--syscalls", err,
				    sizeof(err)), err);
	ASSERT_EQ(wd_rules_add_rule(&r, "readv", 1, 1000000000ull, "--syscalls", err, sizeof(err)),
		  -EINVAL, "overlap");
	ASSERT_STRCONTAINS(err, "readv is already limited", "overlap message");
	ASSERT_EQ(wd_rules_add_rule(&r, "write", 0, 1000000000ull, "--limit", err, sizeof(err)),
		  -EINVAL, "zero limit");
	ASSERT_EQ(wd_rules_add_rule(&r, "write", 1, 0, "--window", err, sizeof(err)), -EINVAL,
		  "zero window");
	ASSERT_EQ(r.nrules, 1, "one rule");
	wd_rules_free(&r);
}

static void test_load_names_file(void)
{
	char path[] = "/tmp/wd_rules.XXXXXX", err[512] = "";
	int fd = mkstemp(path);
	struct wd_rules r;

	if (!ASSERT_GE(fd, 0, "mkstemp"))
		return;
	ASSERT_EQ(write(fd, "rule read 5/1s\nrule bogus 5/1s\n", 31), 31, "write");
	close(fd);
	ASSERT_EQ(wd_rules_load(path, &r, err, sizeof(err)), -EINVAL, "load");
	ASSERT_STRCONTAINS(err, path, "names the file");
	ASSERT_STRCONTAINS(err, ":2: unknown syscall \"bogus\"", "names the line");
	unlink(path);
	ASSERT_EQ(wd_rules_load(path, &r, err, sizeof(err)), -ENOENT, "missing file");
	ASSERT_STRCONTAINS(err, "cannot read rules file", "says so");
}

TESTS(T(test_syscall_table), T(test_good_file), T(test_groups), T(test_bad_input),
      T(test_flags_rules), T(test_load_names_file))
