// SPDX-License-Identifier: GPL-2.0-only
/*
 * Watchdog rules: the syscall table, groups, and the rules-file parser. Pure user space (no BPF,
 * no file system access besides wd_rules_load), so unit tests and the fuzzer use it directly.
 * Resolving users, cgroups and executables happens when the daemon applies the rules.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/opt.h"
#include "watchdog/wd.h"

struct wd_syscall_name {
	const char *name;
	unsigned nr;
};

#include "watchdog/syscalls_x86_64.h"
#include "vigil/util.h"

#define N_SYSCALLS (sizeof(wd_syscall_table) / sizeof(wd_syscall_table[0]))

int wd_syscall_nr(const char *name)
{
	for (size_t i = 0; i < N_SYSCALLS; i++)
		if (strcmp(wd_syscall_table[i].name, name) == 0)
			return (int)wd_syscall_table[i].nr;
	return -ENOENT;
}

const char *wd_syscall_name(unsigned nr)
{
	for (size_t i = 0; i < N_SYSCALLS; i++)
		if (wd_syscall_table[i].nr == nr)
			return wd_syscall_table[i].name;
	return NULL;
}

/* Which security hook sees each syscall: the kernel calls security_file_permission from
 * rw_verify_area (read/write family, sendfile) and iterate_dir (getdents), security_file_open
 * from do_dentry_open, and the security_socket_* hooks from the socket calls. */
static const struct {
	const char *name;
	unsigned hooks;
} hook_table[] = {
	{ "read", WD_HOOK_FILE },     { "pread64", WD_HOOK_FILE },    { "readv", WD_HOOK_FILE },
	{ "preadv", WD_HOOK_FILE },   { "preadv2", WD_HOOK_FILE },    { "write", WD_HOOK_FILE },
	{ "pwrite64", WD_HOOK_FILE }, { "writev", WD_HOOK_FILE },     { "pwritev", WD_HOOK_FILE },
	{ "pwritev2", WD_HOOK_FILE }, { "getdents", WD_HOOK_FILE },   { "getdents64", WD_HOOK_FILE },
	{ "sendfile", WD_HOOK_FILE }, { "open", WD_HOOK_OPEN },	      { "openat", WD_HOOK_OPEN },
	{ "openat2", WD_HOOK_OPEN },  { "creat", WD_HOOK_OPEN },      { "socket", WD_HOOK_SOCK },
	{ "bind", WD_HOOK_SOCK },     { "connect", WD_HOOK_SOCK },    { "listen", WD_HOOK_SOCK },
	{ "accept", WD_HOOK_SOCK },   { "accept4", WD_HOOK_SOCK },    { "sendto", WD_HOOK_SOCK },
	{ "sendmsg", WD_HOOK_SOCK },  { "sendmmsg", WD_HOOK_SOCK },   { "recvfrom", WD_HOOK_SOCK },
	{ "recvmsg", WD_HOOK_SOCK },  { "recvmmsg", WD_HOOK_SOCK },
};

unsigned wd_syscall_hooks(unsigned nr)
{
	const char *name = wd_syscall_name(nr);

	if (!name)
		return 0;
	for (size_t i = 0; i < sizeof(hook_table) / sizeof(hook_table[0]); i++)
		if (strcmp(hook_table[i].name, name) == 0)
			return hook_table[i].hooks;
	return 0;
}

static const struct {
	const char *name;
	const char *members;
} groups[] = {
	{ "file-read", "read,pread64,readv,preadv,preadv2" },
	{ "file-write", "write,pwrite64,writev,pwritev,pwritev2" },
	{ "file-open", "open,openat,openat2,creat" },
	{ "net", "socket,connect,accept,accept4,bind,listen,sendto,recvfrom,sendmsg,recvmsg,"
		 "sendmmsg,recvmmsg" },
};

static const char *const mode_names[WD_MODE__COUNT] = {
	[WD_MODE_LSM] = "lsm",		 [WD_MODE_FMOD_RET] = "fmod_ret",
	[WD_MODE_KPROBE] = "kprobe",	 [WD_MODE_THROTTLE] = "throttle",
	[WD_MODE_MONITOR] = "monitor",
};

const char *wd_mode_name(enum wd_mode m)
{
	return (unsigned)m < WD_MODE__COUNT ? mode_names[m] : "unknown";
}

int wd_mode_parse(const char *s)
{
	if (!s || strcmp(s, "auto") == 0)
		return -1;
	for (int i = 0; i < WD_MODE__COUNT; i++)
		if (strcmp(s, mode_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *wd_action(enum wd_mode mode, unsigned nr, bool enforce)
{
	if (!enforce)
		return "monitor";
	switch (mode) {
	case WD_MODE_LSM:
	case WD_MODE_FMOD_RET:
		return wd_syscall_hooks(nr) ? "eperm" : "monitor";
	case WD_MODE_KPROBE:
		return "eperm";
	case WD_MODE_THROTTLE:
		return "throttle";
	default:
		return "monitor";
	}
}

/* every validation failure here is -EINVAL */
#define fail(err, n, ...) verrf(err, n, -EINVAL, __VA_ARGS__)

/* Marks one name (syscall or group) in @sc. */
static int mark_name(const char *name, uint8_t *sc, const char *where, char *err, size_t n)
{
	int nr;

	if (strcmp(name, "all") == 0) {
		for (size_t i = 0; i < N_SYSCALLS; i++)
			if (wd_syscall_table[i].nr < WD_MAX_SYSCALLS)
				sc[wd_syscall_table[i].nr] = 1;
		return 0;
	}
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		if (strcmp(name, groups[g].name) == 0) {
			char buf[256], *save = NULL;

			snprintf(buf, sizeof(buf), "%s", groups[g].members);
			for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
				sc[wd_syscall_nr(t)] = 1; /* members are in the table */
			return 0;
		}
	}
	nr = wd_syscall_nr(name);
	if (nr < 0)
		return fail(err, n,
			    "%s: unknown syscall \"%s\" (x86_64 syscall names such as read, pread64, "
			    "openat, or the groups file-read, file-write, file-open, net, all)",
			    where, name);
	if (nr >= WD_MAX_SYSCALLS)
		return fail(err, n, "%s: syscall \"%s\" (%d) is beyond the %d the watchdog can watch",
			    where, name, nr, WD_MAX_SYSCALLS);
	sc[nr] = 1;
	return 0;
}

int wd_rules_add_rule(struct wd_rules *r, const char *syscalls, long long limit,
		      uint64_t window_ns, const char *where, char *err, size_t errlen)
{
	struct wd_rule_spec *s;
	char buf[1024], *save = NULL;
	int err2;

	if (r->nrules >= WD_MAX_RULES)
		return fail(err, errlen, "%s: too many rules (at most %d)", where, WD_MAX_RULES);
	if (limit <= 0 || limit > WD_MAX_LIMIT)
		return fail(err, errlen, "%s: limit %lld is out of range (1..%u calls per window)",
			    where, limit, WD_MAX_LIMIT);
	if (window_ns < WD_MIN_WINDOW_NS || window_ns > WD_MAX_WINDOW_NS)
		return fail(err, errlen,
			    "%s: window of %llu ns is out of range (1ms..24h, e.g. 500ms or 2s)",
			    where, (unsigned long long)window_ns);
	if (!syscalls || !*syscalls)
		return fail(err, errlen, "%s: no syscalls named (e.g. read,pread64 or file-read)",
			    where);
	if (strlen(syscalls) >= sizeof(buf))
		return fail(err, errlen, "%s: syscall list too long", where);
	s = &r->rules[r->nrules];
	memset(s, 0, sizeof(*s));
	snprintf(buf, sizeof(buf), "%s", syscalls);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		err2 = mark_name(t, s->sc, where, err, errlen);
		if (err2)
			return err2;
	}
	for (int i = 0; i < r->nrules; i++) {
		for (int nr = 0; nr < WD_MAX_SYSCALLS; nr++) {
			if (!s->sc[nr] || !r->rules[i].sc[nr])
				continue;
			if (r->rules[i].line)
				return fail(err, errlen,
					    "%s: syscall %s is already limited by the rule on line %d "
					    "(each syscall may be in one rule only)",
					    where, wd_syscall_name(nr), r->rules[i].line);
			return fail(err, errlen,
				    "%s: syscall %s is already limited by another rule (each syscall "
				    "may be in one rule only)",
				    where, wd_syscall_name(nr));
		}
	}
	s->limit = (uint32_t)limit;
	s->window_ns = window_ns;
	snprintf(s->text, sizeof(s->text), "%s", syscalls);
	r->nrules++;
	return 0;
}

static const char *const allow_names[] = {
	[WD_AL_PID] = "pid", [WD_AL_UID] = "uid", [WD_AL_COMM] = "comm",
	[WD_AL_CGROUP] = "cgroup", [WD_AL_EXE] = "exe",
};

int wd_rules_add_allow(struct wd_rules *r, enum wd_allow_kind kind, const char *value,
		       const char *where, char *err, size_t errlen)
{
	struct wd_allow *a;
	char *end;

	if (!value || !*value)
		return fail(err, errlen, "%s: allow %s needs a value", where, allow_names[kind]);
	if (strlen(value) >= sizeof(a->value))
		return fail(err, errlen, "%s: allow %s value too long", where, allow_names[kind]);
	switch (kind) {
	case WD_AL_PID: {
		unsigned long v;

		errno = 0;
		v = strtoul(value, &end, 10);
		if (!isdigit((unsigned char)*value) || *end || errno || v == 0 || v > 4194304)
			return fail(err, errlen, "%s: allow pid \"%s\" is not a process id (1..4194304)",
				    where, value);
		break;
	}
	case WD_AL_UID:
		/* A number or a user name; names are resolved when the rules are applied. */
		for (const char *p = value; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("._-$", *p))
				return fail(err, errlen, "%s: allow uid \"%s\" is neither a number "
					    "nor a user name", where, value);
		if (isdigit((unsigned char)*value)) {
			errno = 0;
			unsigned long long v = strtoull(value, &end, 10);

			if (*end || errno || v >= 0xffffffffull)
				return fail(err, errlen, "%s: allow uid \"%s\" is out of range",
					    where, value);
		}
		break;
	case WD_AL_COMM:
		if (strlen(value) >= WD_COMM_LEN)
			return fail(err, errlen, "%s: allow comm \"%s\" is longer than the kernel's "
				    "%d-character comm: name the first %d characters or use allow exe",
				    where, value, WD_COMM_LEN - 1, WD_COMM_LEN - 1);
		break;
	case WD_AL_CGROUP:
	case WD_AL_EXE:
		if (value[0] != '/')
			return fail(err, errlen, "%s: allow %s \"%s\" must be an absolute path", where,
				    allow_names[kind], value);
		break;
	default:
		return fail(err, errlen, "%s: unknown allowlist kind", where);
	}
	for (int i = 0; i < r->nallow; i++)
		if (r->allow[i].kind == kind && strcmp(r->allow[i].value, value) == 0)
			return fail(err, errlen, "%s: duplicate allow %s %s (first given %s%d)", where,
				    allow_names[kind], value, r->allow[i].line ? "on line " : "",
				    r->allow[i].line);
	a = realloc(r->allow, sizeof(*a) * (r->nallow + 1));
	if (!a)
		return fail(err, errlen, "%s: out of memory", where);
	r->allow = a;
	a = &r->allow[r->nallow++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	snprintf(a->value, sizeof(a->value), "%s", value);
	return 0;
}

void wd_rules_free(struct wd_rules *r)
{
	free(r->allow);
	memset(r, 0, sizeof(*r));
}

/* Splits @line into at most @max whitespace-separated words in place; returns the count, or
 * max + 1 when there are more. */
static int split(char *line, char **w, int max)
{
	int n = 0;

	for (char *p = line;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return max + 1;
		w[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = 0;
	}
}

/* "100/500ms" into a limit and a window. */
static int parse_budget(const char *s, long long *limit, uint64_t *window, const char *where,
			char *err, size_t n)
{
	const char *slash = strchr(s, '/');
	char num[32], *end;
	int e;

	if (!slash || slash == s || (size_t)(slash - s) >= sizeof(num))
		return fail(err, n, "%s: expected LIMIT/WINDOW such as 100/500ms, got \"%s\"", where,
			    s);
	memcpy(num, s, slash - s);
	num[slash - s] = 0;
	if (num[0] == '-')
		return fail(err, n, "%s: limit %s is negative: give a positive number of calls",
			    where, num);
	errno = 0;
	*limit = strtoll(num, &end, 10);
	if (!isdigit((unsigned char)num[0]) || *end)
		return fail(err, n, "%s: limit \"%s\" is not a number of calls", where, num);
	if (errno == ERANGE || *limit > WD_MAX_LIMIT)
		return fail(err, n, "%s: limit %s is too large (at most %u calls per window)", where,
			    num, WD_MAX_LIMIT);
	if (*limit == 0)
		return fail(err, n, "%s: limit 0 would refuse every call: give at least 1", where);
	if (slash[1] == '-')
		return fail(err, n, "%s: window %s is negative", where, slash + 1);
	e = vopt_parse_duration(slash + 1, window);
	if (e == -ERANGE)
		return fail(err, n, "%s: window %s is too long (at most 24h)", where, slash + 1);
	if (e)
		return fail(err, n, "%s: window \"%s\" is not a duration (e.g. 500ms, 2s, 1m)", where,
			    slash + 1);
	if (*window == 0)
		return fail(err, n, "%s: window %s is zero: give at least 1ms", where, slash + 1);
	return 0;
}

/* One line of a rules file (already NUL-terminated, comment stripped). */
static int parse_line(struct wd_rules *r, char *line, int lineno, const char *where, char *err,
		      size_t n)
{
	char *w[4];
	int nw = split(line, w, 3), e;

	if (nw == 0)
		return 0;
	if (strcmp(w[0], "scope") == 0) {
		if (nw != 2)
			return fail(err, n, "%s: expected \"scope process\" or \"scope cgroup\"", where);
		if (strcmp(w[1], "process") == 0)
			r->scope = WD_SCOPE_PROCESS;
		else if (strcmp(w[1], "cgroup") == 0)
			r->scope = WD_SCOPE_CGROUP;
		else
			return fail(err, n, "%s: unknown scope \"%s\" (process or cgroup)", where,
				    w[1]);
		return 0;
	}
	if (strcmp(w[0], "rule") == 0) {
		long long limit = 0;
		uint64_t window = 0;

		if (nw != 3)
			return fail(err, n, "%s: expected \"rule SYSCALLS LIMIT/WINDOW\", e.g. "
				    "\"rule read,pread64 100/500ms\"", where);
		e = parse_budget(w[2], &limit, &window, where, err, n);
		if (e)
			return e;
		e = wd_rules_add_rule(r, w[1], limit, window, where, err, n);
		if (!e)
			r->rules[r->nrules - 1].line = lineno;
		return e;
	}
	if (strcmp(w[0], "allow") == 0) {
		if (nw != 3)
			return fail(err, n, "%s: expected \"allow pid|uid|comm|cgroup|exe VALUE\"",
				    where);
		for (int k = 0; k < (int)(sizeof(allow_names) / sizeof(allow_names[0])); k++) {
			if (strcmp(w[1], allow_names[k]) == 0) {
				e = wd_rules_add_allow(r, k, w[2], where, err, n);
				if (!e)
					r->allow[r->nallow - 1].line = lineno;
				return e;
			}
		}
		return fail(err, n, "%s: unknown allowlist kind \"%s\" (pid, uid, comm, cgroup, exe)",
			    where, w[1]);
	}
	return fail(err, n, "%s: unknown keyword \"%s\" (rule, allow, scope)", where, w[0]);
}

int wd_rules_parse(const char *text, size_t len, const char *origin, struct wd_rules *out,
		   char *err, size_t errlen)
{
	struct wd_rules r = { 0 };
	char line[1024], where[320];
	size_t pos = 0;
	int lineno = 0, e = 0;

	snprintf(r.origin, sizeof(r.origin), "%s", origin ? origin : "rules");
	while (pos < len) {
		size_t end = pos, ll;
		char *hash;

		while (end < len && text[end] != '\n')
			end++;
		lineno++;
		snprintf(where, sizeof(where), "%s:%d", r.origin, lineno);
		ll = end - pos;
		if (ll >= sizeof(line)) {
			e = fail(err, errlen, "%s: line longer than %zu bytes", where, sizeof(line) - 1);
			goto out;
		}
		memcpy(line, text + pos, ll);
		line[ll] = 0;
		if (memchr(line, 0, ll)) {
			e = fail(err, errlen, "%s: NUL byte in the line", where);
			goto out;
		}
		if (ll && line[ll - 1] == '\r')
			line[ll - 1] = 0;
		hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		e = parse_line(&r, line, lineno, where, err, errlen);
		if (e)
			goto out;
		pos = end + 1;
	}
	if (r.nrules == 0) {
		e = fail(err, errlen, "%s: no rule (add e.g. \"rule read 100/500ms\")", r.origin);
		goto out;
	}
out:
	if (e) {
		wd_rules_free(&r);
		return e;
	}
	*out = r;
	return 0;
}

int wd_rules_load(const char *path, struct wd_rules *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int e;

	if (!f) {
		e = errno;
		snprintf(err, errlen, "cannot read rules file %s: %s", path, strerror(e));
		return -e;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *nb;

			if (cap > (1u << 20)) {
				fclose(f);
				free(buf);
				snprintf(err, errlen, "rules file %s is larger than 1 MiB", path);
				return -EFBIG;
			}
			nb = realloc(buf, cap + 65536);
			if (!nb) {
				fclose(f);
				free(buf);
				snprintf(err, errlen, "cannot read rules file %s: out of memory", path);
				return -ENOMEM;
			}
			buf = nb;
			cap += 65536;
		}
		size_t got = fread(buf + len, 1, cap - len, f);

		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fclose(f);
		free(buf);
		snprintf(err, errlen, "cannot read rules file %s: read error", path);
		return -EIO;
	}
	fclose(f);
	e = wd_rules_parse(buf, len, path, out, err, errlen);
	free(buf);
	return e;
}

void wd_rules_print(FILE *f, const struct wd_rules *r)
{
	fprintf(f, "scope %s\n", r->scope == WD_SCOPE_CGROUP ? "cgroup" : "process");
	for (int i = 0; i < r->nrules; i++) {
		const struct wd_rule_spec *s = &r->rules[i];
		int n = 0;

		fprintf(f, "rule ");
		for (int nr = 0; nr < WD_MAX_SYSCALLS; nr++)
			if (s->sc[nr])
				fprintf(f, "%s%s", n++ ? "," : "", wd_syscall_name(nr));
		if (s->window_ns % 1000000000ull == 0)
			fprintf(f, " %u/%llus\n", s->limit,
				(unsigned long long)(s->window_ns / 1000000000ull));
		else if (s->window_ns % 1000000ull == 0)
			fprintf(f, " %u/%llums\n", s->limit,
				(unsigned long long)(s->window_ns / 1000000ull));
		else
			fprintf(f, " %u/%lluns\n", s->limit, (unsigned long long)s->window_ns);
	}
	for (int i = 0; i < r->nallow; i++)
		fprintf(f, "allow %s %s\n", allow_names[r->allow[i].kind], r->allow[i].value);
}
