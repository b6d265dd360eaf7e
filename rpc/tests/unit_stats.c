// SPDX-License-Identifier: GPL-2.0-only
/* Per-method statistics: the method cap, quantiles, and spike detection on a generated burst. */
#include "test.h"
#include "rpc/stats.h"

static const struct rpc_stats_cfg cfg = {
	.max_methods = 4, .spike_factor = 5, .spike_min_rate = 10, .error_delta = 0.2,
	.error_min_calls = 10, .warmup = 3, .alpha = 0.2,
};

static void add_calls(struct rpc_stats *st, const char *method, int n, int errors,
		      uint64_t latency_ns)
{
	struct rpc_call c = { .status = RPC_STATUS_OK, .batch_size = 1, .latency_ns = latency_ns,
			      .req_bytes = 100, .resp_bytes = 200 };
	int idx = rpc_stats_intern(st, method, strlen(method));

	for (int i = 0; i < n; i++) {
		c.status = i < errors ? RPC_STATUS_ERROR : RPC_STATUS_OK;
		rpc_stats_add(st, idx, &c);
	}
}

static void test_cap_folds_into_other(void)
{
	struct rpc_stats st;
	char name[32];

	if (!ASSERT_OK(rpc_stats_init(&st, &cfg), "init"))
		return;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "garbage_%d", i);
		add_calls(&st, name, 1, 0, 1000);
	}
	ASSERT_EQ(st.n, 5, "4 names + other");
	ASSERT_STREQ(st.m[4].name, "other", "fifth entry");
	ASSERT_EQ(st.m[4].calls, 96, "96 calls folded");
	ASSERT_EQ(st.folded, 96, "folded counter");
	ASSERT_EQ(rpc_stats_intern(&st, "garbage_2", 9), 2, "known names keep their entry");
	ASSERT_EQ(rpc_stats_intern(&st, "", 0), 4, "no method is 'unknown', folded too");
	rpc_stats_free(&st);
}

static void test_quantiles(void)
{
	struct rpc_stats st;
	uint64_t p50, p99;

	rpc_stats_init(&st, &cfg);
	add_calls(&st, "eth_call", 98, 0, 1000000);	/* 1 ms */
	add_calls(&st, "eth_call", 2, 0, 500000000);	/* 500 ms */
	p50 = rpc_stats_quantile(&st.m[0], 0.5);
	p99 = rpc_stats_quantile(&st.m[0], 0.99);
	ASSERT_GE(p50, 1000000, "p50 >= 1ms");
	ASSERT_LE(p50, 1190000, "p50 within one bucket (19%)");
	ASSERT_GE(p99, 500000000, "p99 >= 500ms");
	ASSERT_LE(p99, 595000000, "p99 within one bucket");
	ASSERT_EQ(st.m[0].resp_bytes, 20000, "bytes");
	rpc_stats_free(&st);
}

struct seen {
	int n;
	char method[64];
	char kind[16];
	double value;
};

static void on_anomaly(const struct rpc_anomaly *a, void *ctx)
{
	struct seen *s = ctx;

	s->n++;
	snprintf(s->method, sizeof(s->method), "%s", a->method);
	snprintf(s->kind, sizeof(s->kind), "%s", a->kind);
	s->value = a->value;
}

static void interval(struct rpc_stats *st, struct seen *s, int eth, int errs, int logs)
{
	add_calls(st, "eth_blockNumber", eth, errs, 1000000);
	add_calls(st, "eth_getLogs", logs, 0, 1000000);
	rpc_stats_tick(st, 1.0, on_anomaly, s);
	rpc_stats_reset_window(st);
}

static void test_rate_spike_reported_once(void)
{
	struct rpc_stats st;
	struct seen s = { 0 };

	rpc_stats_init(&st, &cfg);
	for (int i = 0; i < 6; i++)
		interval(&st, &s, 20, 0, 20);
	ASSERT_EQ(s.n, 0, "steady traffic: no anomaly");
	interval(&st, &s, 20, 0, 400); /* 20x the baseline */
	ASSERT_EQ(s.n, 1, "the burst: one anomaly");
	ASSERT_STREQ(s.method, "eth_getLogs", "method");
	ASSERT_STREQ(s.kind, "rate", "kind");
	ASSERT_TRUE(s.value == 400, "value is the burst rate");
	interval(&st, &s, 20, 0, 400);
	ASSERT_EQ(s.n, 1, "a continuing burst is not reported again");
	interval(&st, &s, 20, 0, 20);
	interval(&st, &s, 20, 0, 400);
	ASSERT_EQ(s.n, 2, "a new burst after calm is reported");
	rpc_stats_free(&st);
}

static void test_small_rates_and_warmup_are_quiet(void)
{
	struct rpc_stats st;
	struct seen s = { 0 };

	rpc_stats_init(&st, &cfg);
	interval(&st, &s, 1, 0, 0);
	interval(&st, &s, 1, 0, 500); /* during warm-up: baselines not trusted yet */
	ASSERT_EQ(s.n, 0, "warm-up");
	for (int i = 0; i < 5; i++)
		interval(&st, &s, 1, 0, 1);
	interval(&st, &s, 9, 0, 1); /* 9x but under the minimum rate of 10/s */
	ASSERT_EQ(s.n, 0, "below spike-min-rate");
	rpc_stats_free(&st);
}

static void test_error_ratio_spike(void)
{
	struct rpc_stats st;
	struct seen s = { 0 };

	rpc_stats_init(&st, &cfg);
	for (int i = 0; i < 6; i++)
		interval(&st, &s, 50, 1, 0); /* 2% errors */
	ASSERT_EQ(s.n, 0, "steady");
	interval(&st, &s, 50, 30, 0); /* 60% errors */
	ASSERT_EQ(s.n, 1, "one anomaly");
	ASSERT_STREQ(s.kind, "error_ratio", "kind");
	ASSERT_TRUE(s.value > 0.59 && s.value < 0.61, "ratio");
	rpc_stats_free(&st);
}

TESTS(T(test_cap_folds_into_other), T(test_quantiles), T(test_rate_spike_reported_once),
      T(test_small_rates_and_warmup_are_quiet), T(test_error_ratio_spike))
