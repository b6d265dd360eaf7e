// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vigil rpc` (the tracer daemon: events to the bus, metrics over HTTP) and `vigil rpc top` (a
 * live per-method table of the same data). Both run the tracer on one event loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/bus.h"
#include "vigil/cmd.h"
#include "vigil/http.h"
#include "vigil/log.h"
#include "vigil/loop.h"
#include "vigil/metrics.h"
#include "vigil/util.h"
#include "rpc/cmd.h"
#include "rpc/tracer.h"

static struct rpc_tracer_cfg tracer_cfg;
static struct vbus_cfg bus_cfg;
static struct vhttp_cfg http_cfg;

struct top_cfg {
	uint64_t refresh;
	long long count;
	long long rows;
};
static struct top_cfg top_cfg;

static const struct vopt top_opts[] = {
	VOPT_DURATION("refresh", 0, struct top_cfg, refresh, "1s", 100000000LL, 3600000000000LL,
		      "redraw the table every DURATION"),
	VOPT_INT("count", 'n', struct top_cfg, count, "0", "N", 0, 1000000000,
		 "stop after N refreshes (0: run until interrupted)"),
	VOPT_INT("rows", 0, struct top_cfg, rows, "20", "N", 1, 10000, "methods shown (busiest first)"),
	VOPT_END
};

const struct vopt_set rpc_sets[] = {
	{ rpc_tracer_opts, &tracer_cfg }, { vbus_opts, &bus_cfg }, { vhttp_opts, &http_cfg },
	{ NULL, NULL }
};
static const struct vopt_set top_sets[] = {
	{ top_opts, &top_cfg },	    { rpc_tracer_opts, &tracer_cfg }, { vbus_opts, &bus_cfg },
	{ vhttp_opts, &http_cfg }, { NULL, NULL }
};

struct daemon {
	struct vloop *loop;
	struct vmetrics *reg;
	struct vhttp *http;
	struct vbus *bus;
	struct rpc_tracer *tracer;
};

static void daemon_close(struct daemon *d)
{
	rpc_tracer_free(d->tracer); /* delivers pending calls before the bus closes */
	if (d->bus) {
		vbus_flush(d->bus, 2000);
		vbus_close(d->bus);
	}
	vhttp_free(d->http);
	vmetrics_free(d->reg);
	vloop_free(d->loop);
}

static int daemon_open(struct daemon *d, const char *prog, bool want_bus)
{
	memset(d, 0, sizeof(*d));
	d->loop = vloop_new();
	d->reg = vmetrics_new();
	if (!d->loop || !d->reg) {
		fprintf(stderr, "%s: %s\n", prog, strerror(errno));
		return -1;
	}
	if (want_bus) {
		d->bus = vbus_open(&bus_cfg, d->loop);
		if (!d->bus || vbus_metrics_register(d->bus, d->reg))
			return -1;
	}
	if (http_cfg.metrics) {
		d->http = vhttp_new(d->loop, http_cfg.metrics, d->reg);
		if (!d->http)
			return -1;
	}
	d->tracer = rpc_tracer_new(&tracer_cfg, bus_cfg.app_id, d->loop, d->reg, d->bus);
	if (!d->tracer)
		return -1;
	if (d->http)
		vhttp_set_ready(d->http, true);
	return 0;
}

int rpc_run(int argc, char **argv)
{
	struct daemon d;
	int rc = 0;

	if (argc > 1) {
		fprintf(stderr, "%s: unexpected argument '%s' (see '%s --help')\n", argv[0], argv[1],
			argv[0]);
		return 2;
	}
	/* with no sink configured, the calls go to stdout as JSON Lines */
	vbus_cfg_default_stdout(&bus_cfg);
	if (daemon_open(&d, argv[0], true) == 0) {
		if (vloop_run(d.loop))
			rc = 1;
	} else {
		rc = 1;
	}
	daemon_close(&d);
	return rc;
}

/* ---- top ---- */

struct row {
	const struct rpc_method_stats *m;
};

static int by_calls(const void *a, const void *b)
{
	const struct rpc_method_stats *x = ((const struct row *)a)->m, *y = ((const struct row *)b)->m;

	if (x->calls != y->calls)
		return x->calls < y->calls ? 1 : -1;
	if (x->total_calls != y->total_calls)
		return x->total_calls < y->total_calls ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void fmt_ns(char *buf, size_t n, uint64_t ns)
{
	if (!ns)
		snprintf(buf, n, "-");
	else if (ns < 1000000)
		snprintf(buf, n, "%.0fus", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, n, "%.1fms", (double)ns / 1e6);
	else
		snprintf(buf, n, "%.2fs", (double)ns / 1e9);
}

static void fmt_bytes(char *buf, size_t n, double b)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(buf, n, i ? "%.1f%s" : "%.0f%s", b, u[i]);
}

struct top {
	long long ticks;
	bool tty;
	struct vloop *loop;
};

static void top_tick(struct rpc_tracer *t, const struct rpc_stats *st, double secs, void *ctx)
{
	struct top *tp = ctx;
	struct row *rows = calloc(st->n ? st->n : 1, sizeof(*rows));
	struct rpc_tracer_counters c;
	char ts[VTIME_BUFLEN];
	uint64_t calls = 0, errors = 0;
	size_t n = 0;

	if (!rows)
		return;
	for (size_t i = 0; i < st->n; i++) {
		calls += st->m[i].calls;
		errors += st->m[i].errors;
		if (st->m[i].total_calls)
			rows[n++].m = &st->m[i];
	}
	qsort(rows, n, sizeof(*rows), by_calls);
	rpc_tracer_counters(t, &c);
	vtime_utc_now(ts, sizeof(ts));
	if (vopt_common.json) {
		struct vbuf b = VBUF_INIT;
		struct vjw w;

		vjw_init(&w, &b);
		vjw_obj(&w);
		vjw_kstr(&w, "ts", ts);
		vjw_kdouble(&w, "interval_s", secs);
		vjw_kuint(&w, "calls", calls);
		vjw_kuint(&w, "errors", errors);
		vjw_kuint(&w, "events_lost", c.lost);
		vjw_key(&w, "methods");
		vjw_arr(&w);
		for (size_t i = 0; i < n; i++) {
			const struct rpc_method_stats *m = rows[i].m;
			vjw_obj(&w);
			vjw_kstr(&w, "method", m->name);
			vjw_kuint(&w, "calls", m->calls);
			vjw_kdouble(&w, "rate", (double)m->calls / secs);
			vjw_kuint(&w, "errors", m->errors);
			vjw_kuint(&w, "p50_ns", rpc_stats_quantile(m, 0.5));
			vjw_kuint(&w, "p99_ns", rpc_stats_quantile(m, 0.99));
			vjw_kuint(&w, "req_bytes", m->req_bytes);
			vjw_kuint(&w, "resp_bytes", m->resp_bytes);
			vjw_kuint(&w, "total_calls", m->total_calls);
			vjw_kuint(&w, "total_errors", m->total_errors);
			vjw_end(&w);
		}
		vjw_end(&w);
		vjw_end(&w);
		printf("%s\n", vbuf_cstr(&b));
		vbuf_free(&b);
	} else {
		if (tp->tty)
			printf("\033[H\033[2J");
		printf("vigil rpc top - %s  %.0f calls/s  %.0f errors/s  lost %llu\n\n", ts,
		       (double)calls / secs, (double)errors / secs, (unsigned long long)c.lost);
		printf("%-32s %9s %9s %9s %8s %10s %10s %10s\n", "METHOD", "CALLS/S", "P50", "P99",
		       "ERRORS", "REQ/S", "RESP/S", "TOTAL");
		for (size_t i = 0; i < n && (long long)i < top_cfg.rows; i++) {
			const struct rpc_method_stats *m = rows[i].m;
			char p50[16], p99[16], rq[16], rs[16];

			fmt_ns(p50, sizeof(p50), rpc_stats_quantile(m, 0.5));
			fmt_ns(p99, sizeof(p99), rpc_stats_quantile(m, 0.99));
			fmt_bytes(rq, sizeof(rq), (double)m->req_bytes / secs);
			fmt_bytes(rs, sizeof(rs), (double)m->resp_bytes / secs);
			printf("%-32.32s %9.1f %9s %9s %8llu %10s %10s %10llu\n", m->name,
			       (double)m->calls / secs, p50, p99, (unsigned long long)m->errors, rq,
			       rs, (unsigned long long)m->total_calls);
		}
		if (!tp->tty)
			printf("\n");
	}
	fflush(stdout);
	free(rows);
	if (top_cfg.count && ++tp->ticks >= top_cfg.count)
		vloop_stop(tp->loop);
}

static int top_run(int argc, char **argv)
{
	struct daemon d;
	struct top tp = { .tty = isatty(STDOUT_FILENO) };
	bool want_bus = (bus_cfg.nats_url && *bus_cfg.nats_url) || (bus_cfg.jsonl && *bus_cfg.jsonl);
	int rc = 0;

	if (argc > 1) {
		fprintf(stderr, "%s: unexpected argument '%s' (see '%s --help')\n", argv[0], argv[1],
			argv[0]);
		return 2;
	}
	tracer_cfg.interval = top_cfg.refresh;
	if (daemon_open(&d, argv[0], want_bus) == 0) {
		tp.loop = d.loop;
		rpc_tracer_on_tick(d.tracer, top_tick, &tp);
		if (vloop_run(d.loop))
			rc = 1;
	} else {
		rc = 1;
	}
	daemon_close(&d);
	return rc;
}

const struct vcmd rpc_subs[] = {
	{ .name = "top", .summary = "live per-method table: calls/s, p50/p99 latency, errors, bytes",
	  .run = top_run, .sets = top_sets,
	  .description = "Traces like 'vigil rpc' and redraws a table of the busiest JSON-RPC "
			 "methods every --refresh. With --json, prints one JSON object per "
			 "refresh instead." },
	{ 0 }
};

