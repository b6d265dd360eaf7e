// SPDX-License-Identifier: GPL-2.0-only
/* Per-method statistics and spike detection for `vigil rpc`; see rpc/stats.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/stats.h"

static uint64_t hash_name(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

int rpc_stats_init(struct rpc_stats *st, const struct rpc_stats_cfg *cfg)
{
	memset(st, 0, sizeof(*st));
	st->cfg = *cfg;
	if (st->cfg.max_methods < 1)
		st->cfg.max_methods = 1;
	if (st->cfg.alpha <= 0 || st->cfg.alpha > 1)
		st->cfg.alpha = 0.2;
	/* one extra entry for "other"; slots at twice that, a power of two */
	st->cap = st->cfg.max_methods + 1;
	st->m = calloc(st->cap, sizeof(*st->m));
	for (st->nslots = 16; st->nslots < st->cap * 2; st->nslots *= 2)
		;
	st->slots = malloc(st->nslots * sizeof(int));
	if (!st->m || !st->slots) {
		rpc_stats_free(st);
		return -ENOMEM;
	}
	memset(st->slots, 0xff, st->nslots * sizeof(int));
	return 0;
}

void rpc_stats_free(struct rpc_stats *st)
{
	free(st->m);
	free(st->slots);
	st->m = NULL;
	st->slots = NULL;
}

static int lookup_or_add(struct rpc_stats *st, const char *name, size_t len, bool add)
{
	size_t mask = st->nslots - 1, i = hash_name(name, len) & mask;

	for (;; i = (i + 1) & mask) {
		int s = st->slots[i];
		if (s < 0)
			break;
		if (st->m[s].name_len == len && memcmp(st->m[s].name, name, len) == 0)
			return s;
	}
	if (!add)
		return -ENOENT;
	st->slots[i] = (int)st->n;
	memcpy(st->m[st->n].name, name, len);
	st->m[st->n].name[len] = 0;
	/* as a C string: a name holding a NUL byte never matches again, as with strlen() */
	st->m[st->n].name_len = strlen(st->m[st->n].name);
	return (int)st->n++;
}

int rpc_stats_intern(struct rpc_stats *st, const char *method, size_t len)
{
	int idx;

	if (!len) {
		method = "unknown";
		len = 7;
	}
	if (len > RPC_METHOD_MAX)
		len = RPC_METHOD_MAX;
	idx = lookup_or_add(st, method, len, false);
	if (idx >= 0)
		return idx;
	/* the last entry is reserved for "other" */
	if (st->n < st->cfg.max_methods)
		return lookup_or_add(st, method, len, true);
	st->folded++;
	idx = lookup_or_add(st, RPC_OTHER_METHOD, strlen(RPC_OTHER_METHOD), false);
	if (idx < 0)
		idx = lookup_or_add(st, RPC_OTHER_METHOD, strlen(RPC_OTHER_METHOD), true);
	return idx;
}

static unsigned lat_bucket(uint64_t ns)
{
	double us = (double)ns / 1000.0;
	int b;

	if (us <= 1.0)
		return 0;
	b = (int)ceil(log2(us) * 4.0);
	return b >= RPC_LAT_BUCKETS ? RPC_LAT_BUCKETS - 1 : (unsigned)b;
}

void rpc_stats_add(struct rpc_stats *st, int idx, const struct rpc_call *c)
{
	struct rpc_method_stats *m;

	if (idx < 0 || (size_t)idx >= st->n)
		return;
	m = &st->m[idx];
	m->calls++;
	m->total_calls++;
	if (c->status == RPC_STATUS_ERROR) {
		m->errors++;
		m->total_errors++;
	}
	/* a batch's bytes are shared evenly by its items, so totals match the wire */
	m->req_bytes += c->req_bytes / (c->batch_size ? c->batch_size : 1);
	m->resp_bytes += c->resp_bytes / (c->batch_size ? c->batch_size : 1);
	if (c->kind != RPC_KIND_NOTIFICATION)
		m->lat[lat_bucket(c->latency_ns)]++;
}

uint64_t rpc_stats_quantile(const struct rpc_method_stats *m, double q)
{
	uint64_t total = 0, seen = 0, want;

	for (unsigned i = 0; i < RPC_LAT_BUCKETS; i++)
		total += m->lat[i];
	if (!total)
		return 0;
	want = (uint64_t)ceil(q * (double)total);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < RPC_LAT_BUCKETS; i++) {
		seen += m->lat[i];
		if (seen >= want)
			return (uint64_t)(pow(2.0, (double)i / 4.0) * 1000.0);
	}
	return 0;
}

void rpc_stats_tick(struct rpc_stats *st, double secs,
		    void (*on_anomaly)(const struct rpc_anomaly *a, void *ctx), void *ctx)
{
	const struct rpc_stats_cfg *cfg = &st->cfg;

	if (secs <= 0)
		return;
	for (size_t i = 0; i < st->n; i++) {
		struct rpc_method_stats *m = &st->m[i];
		double rate = (double)m->calls / secs;
		double ratio = m->calls ? (double)m->errors / (double)m->calls : 0;
		bool warm = m->warm >= cfg->warmup;

		if (warm) {
			double thr = cfg->spike_factor * m->rate_base;
			bool spike = rate > thr && rate >= cfg->spike_min_rate;
			if (spike && !m->rate_alarm && on_anomaly) {
				struct rpc_anomaly a = { m->name, "rate", rate, m->rate_base, thr };
				on_anomaly(&a, ctx);
			}
			m->rate_alarm = spike;
			thr = m->err_base + cfg->error_delta;
			spike = m->calls >= cfg->error_min_calls && ratio > thr;
			if (spike && !m->err_alarm && on_anomaly) {
				struct rpc_anomaly a = { m->name, "error_ratio", ratio, m->err_base, thr };
				on_anomaly(&a, ctx);
			}
			m->err_alarm = spike;
		}
		/* a spike does not teach the baseline: it would hide the next one */
		if (!m->rate_alarm)
			m->rate_base = m->warm ? cfg->alpha * rate + (1 - cfg->alpha) * m->rate_base
					       : rate;
		if (!m->err_alarm && m->calls)
			m->err_base = m->warm ? cfg->alpha * ratio + (1 - cfg->alpha) * m->err_base
					      : ratio;
		m->warm++;
	}
}

void rpc_stats_reset_window(struct rpc_stats *st)
{
	for (size_t i = 0; i < st->n; i++) {
		struct rpc_method_stats *m = &st->m[i];
		m->calls = m->errors = m->req_bytes = m->resp_bytes = 0;
		memset(m->lat, 0, sizeof(m->lat));
	}
}
