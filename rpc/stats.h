/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-method traffic statistics of `vigil rpc`: calls, errors, bytes and a latency histogram per
 * interval, moving baselines of rate and error ratio for spike detection, and the interning of
 * method names under a cap (past it, every new name is "other", so garbage method names never
 * grow memory, metric labels or the table). Pure computation: the tracer feeds calls and ticks.
 */
#ifndef VIGIL_RPC_STATS_H
#define VIGIL_RPC_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/call.h"

/* Latency histogram: 4 buckets per power of two from 1 us to ~1.2 h; quantiles are reported at
 * the bucket's upper bound, so they are at most 19% high. */
#define RPC_LAT_BUCKETS 128
#define RPC_OTHER_METHOD "other"

struct rpc_method_stats {
	char name[RPC_METHOD_MAX + 1];
	size_t name_len; /* strlen(name), kept for the lookup on every call */
	/* the current interval */
	uint64_t calls, errors, req_bytes, resp_bytes;
	uint32_t lat[RPC_LAT_BUCKETS];
	/* since start */
	uint64_t total_calls, total_errors;
	/* moving baselines (per second and ratio), valid once warm >= warmup intervals */
	double rate_base, err_base;
	unsigned warm;
	/* a spike is reported once until the method is back under its threshold */
	bool rate_alarm, err_alarm;
};

struct rpc_anomaly {
	const char *method;
	const char *kind; /* "rate" or "error_ratio" */
	double value;	  /* calls/s or error ratio in the interval */
	double baseline;
	double threshold;
};

struct rpc_stats_cfg {
	size_t max_methods;	  /* distinct names before "other" (>= 1) */
	double spike_factor;	  /* rate spike: rate > factor * baseline */
	double spike_min_rate;	  /* ... and rate >= this many calls/s */
	double error_delta;	  /* error spike: ratio > baseline + delta */
	unsigned error_min_calls; /* ... with at least this many calls in the interval */
	unsigned warmup;	  /* intervals before baselines are trusted */
	double alpha;		  /* EWMA weight of the newest interval */
};

struct rpc_stats {
	struct rpc_stats_cfg cfg;
	struct rpc_method_stats *m;
	size_t n, cap;
	int *slots; /* open addressing over m by name hash */
	size_t nslots;
	uint64_t folded; /* calls whose method became "other" because of the cap */
};

int rpc_stats_init(struct rpc_stats *st, const struct rpc_stats_cfg *cfg);
void rpc_stats_free(struct rpc_stats *st);
/* The index of @method's entry (creating it while under the cap; else the "other" entry), or
 * -ENOMEM. An empty name (unparsable request) is interned as "unknown". */
int rpc_stats_intern(struct rpc_stats *st, const char *method, size_t len);
void rpc_stats_add(struct rpc_stats *st, int idx, const struct rpc_call *c);
/* The @q quantile (0..1) of the interval's latencies in ns; 0 when there are none. */
uint64_t rpc_stats_quantile(const struct rpc_method_stats *m, double q);
/* Ends an interval of @secs seconds: updates baselines and calls @on_anomaly for each new spike.
 * Call it, read the interval figures in between if needed, then rpc_stats_reset_window(). */
void rpc_stats_tick(struct rpc_stats *st, double secs,
		    void (*on_anomaly)(const struct rpc_anomaly *a, void *ctx), void *ctx);
void rpc_stats_reset_window(struct rpc_stats *st);

#endif
