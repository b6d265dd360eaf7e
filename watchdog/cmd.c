// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vigil watchdog`: run (the daemon), probe (which modes this kernel allows), top (the busiest
 * processes, live), check (validate rules), unpin (remove a --pin'ed watchdog). Kept apart from
 * the library half because it reads the CLI's option structs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "vigil/bpf.h"
#include "vigil/bus.h"
#include "vigil/http.h"
#include "vigil/log.h"
#include "watchdog/wd.h"

#define COMP "watchdog"

struct wd_cli {
	char *syscalls;
	long long limit;
	uint64_t window;
	char *scope;
	char *rules;
	char *allow_pid, *allow_uid, *allow_comm, *allow_cgroup, *allow_exe;
	char *mode;
	bool require_eperm;
	bool pin;
	long long max_keys;
	uint64_t interval;
	long long count;
	long long top_n;
};

static struct wd_cli cli;
static struct vhttp_cfg http_cfg;
static struct vbus_cfg bus_cfg;

#define RULE_OPTS                                                                                 \
	VOPT_STRING("syscalls", 's', struct wd_cli, syscalls, WD_DEFAULT_SYSCALLS, "LIST",        \
		    "syscalls to limit: names and groups (file-read, file-write, file-open, net, "  \
		    "all), comma-separated"),                                                     \
	VOPT_INT("limit", 'l', struct wd_cli, limit, "100", "N", 1, WD_MAX_LIMIT,                  \
		 "calls allowed per window; call N+1 is over the limit"),                         \
	VOPT_DURATION("window", 'w', struct wd_cli, window, WD_DEFAULT_WINDOW, 1000000,            \
		      86400000000000LL, "length of the counting window"),                         \
	VOPT_ENUM("scope", 0, struct wd_cli, scope, "process", "process|cgroup",                   \
		  "who shares a budget: the threads of a process, or the processes of a cgroup"),  \
	VOPT_STRING("rules", 'r', struct wd_cli, rules, NULL, "FILE",                              \
		    "rules file (rule/allow/scope lines); replaces --syscalls/--limit/--window, "   \
		    "SIGHUP re-reads it"),                                                        \
	VOPT_STRING("allow-pid", 0, struct wd_cli, allow_pid, NULL, "PIDS",                       \
		    "never limit these processes (comma-separated)"),                             \
	VOPT_STRING("allow-uid", 0, struct wd_cli, allow_uid, NULL, "UIDS",                       \
		    "never limit processes of these users (numbers or names)"),                   \
	VOPT_STRING("allow-comm", 0, struct wd_cli, allow_comm, NULL, "NAMES",                    \
		    "never limit processes with these command names"),                            \
	VOPT_STRING("allow-cgroup", 0, struct wd_cli, allow_cgroup, NULL, "PATHS",                \
		    "never limit processes in these cgroup v2 directories"),                      \
	VOPT_STRING("allow-exe", 0, struct wd_cli, allow_exe, NULL, "PATHS",                      \
		    "never limit processes running these executables")

static const struct vopt run_opts[] = {
	RULE_OPTS,
	VOPT_ENUM("mode", 'm', struct wd_cli, mode, "auto", "auto|lsm|fmod_ret|kprobe|throttle|monitor",
		  "enforcement: auto picks the best the kernel allows"),
	VOPT_BOOL("require-eperm", 0, struct wd_cli, require_eperm,
		  "exit with an error unless over-limit calls can be refused with EPERM"),
	VOPT_BOOL("pin", 0, struct wd_cli, pin,
		  "pin programs and maps under " WD_PIN_DIR " so enforcement and counters survive "
		  "vigil stopping (remove with `vigil watchdog unpin`)"),
	VOPT_INT("max-keys", 0, struct wd_cli, max_keys, "16384", "N", 64, 1 << 22,
		 "capacity of the counters hash (LRU beyond): cgroups with --scope cgroup, "
		 "processes on kernels without task-local storage"),
	VOPT_END
};

static const struct vopt check_opts[] = { RULE_OPTS, VOPT_END };

static const struct vopt top_opts[] = {
	RULE_OPTS,
	VOPT_DURATION("interval", 'i', struct wd_cli, interval, "1s", 10000000, 3600000000000LL,
		      "time between two tables"),
	VOPT_INT("count", 'n', struct wd_cli, count, "0", "N", 0, 1000000,
		 "stop after N tables (0: until interrupted)"),
	VOPT_INT("top", 0, struct wd_cli, top_n, "20", "N", 1, 10000, "processes per table"),
	VOPT_END
};

static const struct vopt_set run_sets[] = { { run_opts, &cli }, { vbus_opts, &bus_cfg },
					    { vhttp_opts, &http_cfg }, { NULL, NULL } };
static const struct vopt_set check_sets[] = { { check_opts, &cli }, { NULL, NULL } };
static const struct vopt_set top_sets[] = { { top_opts, &cli }, { NULL, NULL } };

/* Adds the comma-separated @list to the allowlist as @kind. */
static int add_allow_list(struct wd_rules *r, enum wd_allow_kind kind, const char *list,
			  const char *flag, char *err, size_t n)
{
	char *buf, *save = NULL;
	int e = 0;

	if (!list)
		return 0;
	buf = strdup(list);
	if (!buf)
		return -ENOMEM;
	for (char *t = strtok_r(buf, ",", &save); t && !e; t = strtok_r(NULL, ",", &save))
		e = wd_rules_add_allow(r, kind, t, flag, err, n);
	free(buf);
	return e;
}

/* The rules from --rules FILE or from the flags, plus the flags' allowlists. */
static int build_rules(struct wd_rules *r, char *err, size_t n)
{
	int e;

	memset(r, 0, sizeof(*r));
	if (cli.rules) {
		e = wd_rules_load(cli.rules, r, err, n);
		if (e)
			return e;
	} else {
		snprintf(r->origin, sizeof(r->origin), "flags");
		r->scope = cli.scope && strcmp(cli.scope, "cgroup") == 0 ? WD_SCOPE_CGROUP
									 : WD_SCOPE_PROCESS;
		e = wd_rules_add_rule(r, cli.syscalls, cli.limit, cli.window, "--syscalls", err, n);
		if (e)
			return e;
	}
	e = add_allow_list(r, WD_AL_PID, cli.allow_pid, "--allow-pid", err, n);
	if (!e)
		e = add_allow_list(r, WD_AL_UID, cli.allow_uid, "--allow-uid", err, n);
	if (!e)
		e = add_allow_list(r, WD_AL_COMM, cli.allow_comm, "--allow-comm", err, n);
	if (!e)
		e = add_allow_list(r, WD_AL_CGROUP, cli.allow_cgroup, "--allow-cgroup", err, n);
	if (!e)
		e = add_allow_list(r, WD_AL_EXE, cli.allow_exe, "--allow-exe", err, n);
	if (e)
		wd_rules_free(r);
	return e;
}

struct run_ctx {
	struct wd *d;
};

/* SIGHUP: re-read the rules; a bad file is logged and the running rules stay. */
static void on_hup(struct vloop *loop, int signo, void *ctx)
{
	struct run_ctx *rc = ctx;
	struct wd_rules r;
	char err[512];

	(void)loop;
	(void)signo;
	if (build_rules(&r, err, sizeof(err))) {
		log_error(COMP, "reload: %s; the previous rules stay in force", err);
		return;
	}
	wd_reload(rc->d, &r);
	wd_rules_free(&r);
}

static int run_run(int argc, char **argv)
{
	struct wd_params p = { 0 };
	struct run_ctx rc = { 0 };
	struct vmetrics *reg = NULL;
	struct vhttp *http = NULL;
	struct vloop *loop = NULL;
	struct wd_rules r;
	struct vbus *bus = NULL;
	char err[512];
	int ret = 1;

	if (argc > 1) {
		fprintf(stderr, "%s: unexpected argument %s\n", argv[0], argv[1]);
		return 2;
	}
	if (build_rules(&r, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		return 2;
	}
	p.mode = wd_mode_parse(cli.mode);
	p.require_eperm = cli.require_eperm;
	p.pin = cli.pin;
	p.max_keys = (uint32_t)cli.max_keys;
	/* with no sink configured, episodes go to stdout as JSON Lines */
	vbus_cfg_default_stdout(&bus_cfg);
	loop = vloop_new();
	reg = vmetrics_new();
	if (!loop || !reg) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		goto out;
	}
	bus = vbus_open(&bus_cfg, loop);
	if (!bus || vbus_metrics_register(bus, reg))
		goto out;
	p.bus = bus;
	p.metrics = reg;
	rc.d = wd_new(loop, &r, &p);
	if (!rc.d)
		goto out;
	if (http_cfg.metrics) {
		http = vhttp_new(loop, http_cfg.metrics, reg);
		if (!http)
			goto out;
		vhttp_set_ready(http, true);
	}
	if (cli.rules)
		vloop_on_signal(loop, SIGHUP, on_hup, &rc);
	ret = vloop_run(loop) ? 1 : 0;
out:
	vhttp_free(http);
	wd_free(rc.d); /* reports open episodes before the bus closes */
	if (bus) {
		vbus_flush(bus, 2000);
		vbus_close(bus);
	}
	vmetrics_free(reg);
	vloop_free(loop);
	wd_rules_free(&r);
	return ret;
}

static int run_check(int argc, char **argv)
{
	struct wd_rules r;
	char err[512];

	(void)argc;
	if (build_rules(&r, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		return 2;
	}
	wd_rules_print(stdout, &r);
	wd_rules_free(&r);
	return 0;
}

/* `vigil watchdog probe`: every mode with whether this kernel allows it, and the pick. */
static int run_probe(int argc, char **argv)
{
	struct vprobe_report r = { 0 };
	uint64_t all = 0;
	char line[256];
	int pick = -1;

	(void)argc;
	(void)argv;
	vbpf_init();
	for (int m = 0; m < WD_MODE__COUNT; m++)
		all |= wd_mode_needs(m);
	if (vprobe_run_mask(&r, all)) {
		log_error(COMP, "cannot probe kernel features");
		return 1;
	}
	for (int m = 0; m < WD_MODE__COUNT && pick < 0; m++) {
		bool ok = true;

		for (int id = 0; id < VPROBE__COUNT; id++)
			if (wd_mode_needs(m) & VPROBE_BIT(id))
				ok &= r.f[id].ok;
		if (ok)
			pick = m;
	}
	if (vopt_common.json) {
		struct vbuf b = VBUF_INIT;
		struct vjw w;

		vjw_init(&w, &b);
		vjw_obj(&w);
		vjw_kstr(&w, "kernel", r.kernel);
		vjw_key(&w, "modes");
		vjw_arr(&w);
		for (int m = 0; m < WD_MODE__COUNT; m++) {
			vjw_obj(&w);
			vjw_kstr(&w, "mode", wd_mode_name(m));
			vjw_kbool(&w, "eperm", wd_mode_eperm(m));
			bool ok = true;

			vjw_key(&w, "missing");
			vjw_arr(&w);
			for (int id = 0; id < VPROBE__COUNT; id++) {
				if ((wd_mode_needs(m) & VPROBE_BIT(id)) && !r.f[id].ok) {
					ok = false;
					vjw_str(&w, vprobe_line(&r, id, line, sizeof(line)));
				}
			}
			vjw_end(&w);
			vjw_kbool(&w, "available", ok);
			vjw_end(&w);
		}
		vjw_end(&w);
		vjw_kstr(&w, "auto", pick >= 0 ? wd_mode_name(pick) : "none");
		vjw_end(&w);
		printf("%s\n", vbuf_cstr(&b));
		vbuf_free(&b);
	} else {
		printf("kernel %s\n", r.kernel);
		for (int m = 0; m < WD_MODE__COUNT; m++) {
			bool ok = true;
			struct vbuf why = VBUF_INIT;

			for (int id = 0; id < VPROBE__COUNT; id++) {
				if ((wd_mode_needs(m) & VPROBE_BIT(id)) && !r.f[id].ok) {
					ok = false;
					vbuf_printf(&why, "%s%s", why.len ? "; " : "",
						    vprobe_line(&r, id, line, sizeof(line)));
				}
			}
			printf("%-9s %s%s%s%s\n", wd_mode_name(m), ok ? "available" : "unavailable",
			       ok ? "" : " (", vbuf_cstr(&why), ok ? "" : ")");
			vbuf_free(&why);
		}
		printf("auto picks: %s%s\n", pick >= 0 ? wd_mode_name(pick) : "none",
		       pick == WD_MODE_THROTTLE ? " (delays over-limit processes, does not fail "
						  "their calls)"
		       : pick == WD_MODE_MONITOR ? " (counts and reports only)"
						 : "");
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static int run_unpin(int argc, char **argv)
{
	int err;

	(void)argc;
	err = wd_unpin(WD_PIN_DIR);
	if (err) {
		fprintf(stderr, "%s: cannot remove %s: %s\n", argv[0], WD_PIN_DIR, strerror(-err));
		return 1;
	}
	return 0;
}

/* ---- top ------------------------------------------------------------------------------------ */

struct top_row {
	uint64_t key;
	uint32_t tgid;
	char comm[WD_COMM_LEN];
	uint64_t total, delta;
	bool over;
};

struct top_ctx {
	struct wd_stores s;
	bool pinned; /* s holds fds of the pins, ours to close */
	struct top_row *prev, *cur;
	size_t nprev, ncur, cap;
	double interval_s;
	long long shown;
	struct vloop *loop;
	bool tty;
};

static int by_delta(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	return x->delta < y->delta ? 1 : x->delta > y->delta ? -1 : (x->key > y->key) - (x->key < y->key);
}

/* One row per counters entry (wd_entries_walk callback): calls since the last table. */
static void top_row(uint64_t key, const struct wd_entry *e, void *ctx)
{
	struct top_ctx *t = ctx;
	struct top_row *r;

	if (e->allowed)
		return;
	if (t->ncur == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 256;
		struct top_row *a = realloc(t->cur, nc * sizeof(*a)), *b = NULL;

		if (a)
			t->cur = a;
		b = a ? realloc(t->prev, nc * sizeof(*b)) : NULL;
		if (!b)
			return;
		t->prev = b;
		t->cap = nc;
	}
	r = &t->cur[t->ncur++];
	r->key = key;
	r->tgid = e->tgid;
	memcpy(r->comm, e->comm, sizeof(r->comm));
	r->comm[WD_COMM_LEN - 1] = 0;
	r->total = e->total;
	r->delta = e->total;
	r->over = false;
	for (int i = 0; i < WD_MAX_RULES; i++)
		r->over |= e->w[i].reported != 0;
	for (size_t j = 0; j < t->nprev; j++)
		if (t->prev[j].key == key) {
			r->delta = e->total >= t->prev[j].total ? e->total - t->prev[j].total : 0;
			break;
		}
}

/* One table: reads every counters entry (hash and task-local), busiest first. */
static void top_tick(struct vloop *loop, void *ctx)
{
	struct top_ctx *t = ctx;

	t->ncur = 0;
	wd_entries_walk(&t->s, top_row, t);
	qsort(t->cur, t->ncur, sizeof(*t->cur), by_delta);
	size_t n = t->ncur < (size_t)cli.top_n ? t->ncur : (size_t)cli.top_n;

	if (vopt_common.json) {
		struct vbuf b = VBUF_INIT;
		struct vjw w;

		vjw_init(&w, &b);
		vjw_obj(&w);
		vjw_kuint(&w, "ts_ns", vloop_now_ns());
		vjw_kuint(&w, "processes", t->ncur);
		vjw_key(&w, "top");
		vjw_arr(&w);
		for (size_t i = 0; i < n; i++) {
			vjw_obj(&w);
			vjw_kuint(&w, "pid", t->cur[i].tgid);
			vjw_kstr(&w, "comm", t->cur[i].comm);
			vjw_kdouble(&w, "calls_per_s", t->cur[i].delta / t->interval_s);
			vjw_kuint(&w, "total", t->cur[i].total);
			vjw_kbool(&w, "over_limit", t->cur[i].over);
			vjw_end(&w);
		}
		vjw_end(&w);
		vjw_end(&w);
		printf("%s\n", vbuf_cstr(&b));
		vbuf_free(&b);
	} else {
		if (t->tty)
			printf("\033[H\033[J");
		printf("%-8s %-16s %12s %14s %s\n", "PID", "COMM", "CALLS/s", "TOTAL", "OVER");
		for (size_t i = 0; i < n; i++)
			printf("%-8u %-16s %12.0f %14llu %s\n", t->cur[i].tgid, t->cur[i].comm,
			       t->cur[i].delta / t->interval_s, (unsigned long long)t->cur[i].total,
			       t->cur[i].over ? "yes" : "");
		if (!t->tty)
			printf("\n");
	}
	fflush(stdout);
	struct top_row *sw = t->prev;

	t->prev = t->cur;
	t->cur = sw;
	t->nprev = t->ncur;
	if (cli.count && ++t->shown >= cli.count)
		vloop_stop(loop);
}

/*
 * `vigil watchdog top`: reads the counters of a pinned watchdog when one runs (--pin), else
 * loads its own in monitor mode for --syscalls (a limit nobody reaches) and shows the processes
 * making the most watched calls, one table per --interval. PIDs appear in this table only, never
 * as metric labels.
 */
static int run_top(int argc, char **argv)
{
	struct top_ctx t = { 0 };
	struct wd_params p = { 0 };
	struct wd *d = NULL;
	struct wd_rules r = { 0 };
	struct vloop *loop = NULL;
	struct vloop_timer *tm = NULL;
	char err[512];
	int ret = 1;

	(void)argc;
	t.pinned = wd_stores_pinned(NULL, &t.s) == 0;
	loop = vloop_new();
	if (!loop)
		goto out;
	if (!t.pinned) {
		snprintf(r.origin, sizeof(r.origin), "flags");
		if (wd_rules_add_rule(&r, cli.syscalls, WD_MAX_LIMIT, WD_MAX_WINDOW_NS, "--syscalls",
				      err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", argv[0], err);
			ret = 2;
			goto out;
		}
		p.mode = WD_MODE_MONITOR;
		d = wd_new(loop, &r, &p);
		if (!d)
			goto out;
		t.s = wd_stores(d);
	}
	t.interval_s = cli.interval / 1e9;
	t.tty = isatty(STDOUT_FILENO) && !vopt_common.json;
	t.loop = loop;
	tm = vloop_timer_add(loop, cli.interval, cli.interval, top_tick, &t);
	if (!tm)
		goto out;
	ret = vloop_run(loop) ? 1 : 0;
out:
	if (tm)
		vloop_timer_del(tm);
	wd_free(d);
	if (t.pinned) {
		close(t.s.hash);
		if (t.s.slots >= 0)
			close(t.s.slots);
		if (t.s.task >= 0)
			close(t.s.task);
	}
	wd_rules_free(&r);
	vloop_free(loop);
	free(t.cur);
	free(t.prev);
	return ret;
}

const struct vcmd watchdog_cmds[] = {
	{ .name = "run", .summary = "limit syscall rates (the daemon)", .run = run_run,
	  .sets = run_sets,
	  .description = "Counts the watched syscalls of every process in the kernel per window and "
			 "acts on processes over the limit: EPERM (BPF LSM, fmod_ret, kprobe), "
			 "throttle (SIGSTOP until the window ends) or monitor, best first. "
			 "Episodes are written as JSON Lines; SIGHUP re-reads --rules." },
	{ .name = "probe", .summary = "show which enforcement modes this kernel allows",
	  .run = run_probe, .usage = "[--json]" },
	{ .name = "top", .summary = "show the processes making the most watched calls",
	  .run = run_top, .sets = top_sets, .usage = "[--json] [--interval 1s] [--syscalls LIST]" },
	{ .name = "check", .summary = "validate rules and print them normalized", .run = run_check,
	  .sets = check_sets },
	{ .name = "unpin", .summary = "remove a pinned watchdog (" WD_PIN_DIR ")",
	  .run = run_unpin },
	{ 0 }
};
