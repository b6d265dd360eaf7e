// SPDX-License-Identifier: GPL-2.0-only
/* The metrics registry: exposition format, escaping, cardinality cap, concurrency, validation. */
#include <pthread.h>
#include "test.h"
#include "vigil/metrics.h"

/* Renders @reg and returns the text (caller frees), or NULL. */
static char *render(struct vmetrics *reg)
{
	struct vbuf b = VBUF_INIT;

	if (vmetrics_render(reg, &b)) {
		vbuf_free(&b);
		return NULL;
	}
	vbuf_cstr(&b);
	return b.data;
}

/* The text of everything after the registry's own overflow counter block. */
static const char *skip_overflow(const char *text)
{
	const char *p = strstr(text, "# TYPE vigil_metrics_label_overflow_total counter\n");

	return p ? p + strlen("# TYPE vigil_metrics_label_overflow_total counter\n") : text;
}

static void test_counter_and_gauge_exact(void)
{
	struct vmetrics *reg = vmetrics_new();
	struct vmetric *c, *g, *u;
	char *text = NULL;

	if (!ASSERT_NOT_NULL(reg, "vmetrics_new"))
		return;
	c = vmetrics_counter(reg, "vigil_rpc_calls_total", "RPC calls seen.", "method,status");
	g = vmetrics_gauge(reg, "vigil_rpc_inflight", "Calls in flight.", NULL);
	u = vmetrics_counter(reg, "vigil_test_bytes_total", "Help with \\ and\nnewline.", "");
	if (!ASSERT_NOT_NULL(c, "counter") || !ASSERT_NOT_NULL(g, "gauge") ||
	    !ASSERT_NOT_NULL(u, "unlabelled counter"))
		goto out;
	vmetric_inc(c, "eth_call", "ok");
	vmetric_add(c, 2, "eth_call", "ok");
	vmetric_add(c, 0.5, "eth_getBalance", "error");
	vmetric_add(c, -7, "eth_getBalance", "error"); /* ignored: counters only go up */
	vmetric_set(g, 3.25);
	vmetric_add(g, -1);
	vmetric_add(u, 1e20);
	text = render(reg);
	if (!ASSERT_NOT_NULL(text, "render"))
		goto out;
	ASSERT_STREQ(skip_overflow(text),
		     "# HELP vigil_rpc_calls_total RPC calls seen.\n"
		     "# TYPE vigil_rpc_calls_total counter\n"
		     "vigil_rpc_calls_total{method=\"eth_call\",status=\"ok\"} 3\n"
		     "vigil_rpc_calls_total{method=\"eth_getBalance\",status=\"error\"} 0.5\n"
		     "# HELP vigil_rpc_inflight Calls in flight.\n"
		     "# TYPE vigil_rpc_inflight gauge\n"
		     "vigil_rpc_inflight 2.25\n"
		     "# HELP vigil_test_bytes_total Help with \\\\ and\\nnewline.\n"
		     "# TYPE vigil_test_bytes_total counter\n"
		     "vigil_test_bytes_total 1e+20\n",
		     "exposition");
	ASSERT_TRUE(strncmp(text, "# HELP vigil_metrics_label_overflow_total ", 42) == 0,
		    "overflow counter comes first");
	ASSERT_EQ(vmetric_child_get(vmetric_child(c, (const char *[]){ "eth_call", "ok" })), 3,
		  "cached child reads back");
out:
	free(text);
	vmetrics_free(reg);
}

static void test_histogram_cumulative(void)
{
	static const double bounds[] = { 0.1, 1, 10 };
	struct vmetrics *reg = vmetrics_new();
	struct vmetric *h, *d;
	char *text = NULL;

	if (!ASSERT_NOT_NULL(reg, "vmetrics_new"))
		return;
	h = vmetrics_histogram(reg, "vigil_rpc_latency_seconds", "Latency.", "method", bounds, 3);
	d = vmetrics_histogram(reg, "vigil_test_seconds", "Defaults.", NULL, NULL, 0);
	if (!ASSERT_NOT_NULL(h, "histogram") || !ASSERT_NOT_NULL(d, "default histogram"))
		goto out;
	vmetric_observe(h, 0.05, "eth_call");
	vmetric_observe(h, 0.1, "eth_call"); /* le is inclusive */
	vmetric_observe(h, 0.5, "eth_call");
	vmetric_observe(h, 5, "eth_call");
	vmetric_observe(h, 50, "eth_call");
	vmetric_observe(h, 0.0 / 0.0, "eth_call"); /* NaN dropped */
	vmetric_observe(d, 0.3);
	text = render(reg);
	if (!ASSERT_NOT_NULL(text, "render"))
		goto out;
	ASSERT_STREQ(skip_overflow(text),
		     "# HELP vigil_rpc_latency_seconds Latency.\n"
		     "# TYPE vigil_rpc_latency_seconds histogram\n"
		     "vigil_rpc_latency_seconds_bucket{method=\"eth_call\",le=\"0.1\"} 2\n"
		     "vigil_rpc_latency_seconds_bucket{method=\"eth_call\",le=\"1\"} 3\n"
		     "vigil_rpc_latency_seconds_bucket{method=\"eth_call\",le=\"10\"} 4\n"
		     "vigil_rpc_latency_seconds_bucket{method=\"eth_call\",le=\"+Inf\"} 5\n"
		     "vigil_rpc_latency_seconds_sum{method=\"eth_call\"} 55.65\n"
		     "vigil_rpc_latency_seconds_count{method=\"eth_call\"} 5\n"
		     "# HELP vigil_test_seconds Defaults.\n"
		     "# TYPE vigil_test_seconds histogram\n"
		     "vigil_test_seconds_bucket{le=\"0.005\"} 0\n"
		     "vigil_test_seconds_bucket{le=\"0.01\"} 0\n"
		     "vigil_test_seconds_bucket{le=\"0.025\"} 0\n"
		     "vigil_test_seconds_bucket{le=\"0.05\"} 0\n"
		     "vigil_test_seconds_bucket{le=\"0.1\"} 0\n"
		     "vigil_test_seconds_bucket{le=\"0.25\"} 0\n"
		     "vigil_test_seconds_bucket{le=\"0.5\"} 1\n"
		     "vigil_test_seconds_bucket{le=\"1\"} 1\n"
		     "vigil_test_seconds_bucket{le=\"2.5\"} 1\n"
		     "vigil_test_seconds_bucket{le=\"5\"} 1\n"
		     "vigil_test_seconds_bucket{le=\"10\"} 1\n"
		     "vigil_test_seconds_bucket{le=\"+Inf\"} 1\n"
		     "vigil_test_seconds_sum 0.3\n"
		     "vigil_test_seconds_count 1\n",
		     "histogram exposition");
out:
	free(text);
	vmetrics_free(reg);
}

static void test_label_value_escaping(void)
{
	struct vmetrics *reg = vmetrics_new();
	struct vmetric *g;
	char *text = NULL;

	if (!ASSERT_NOT_NULL(reg, "vmetrics_new"))
		return;
	g = vmetrics_gauge(reg, "vigil_test_info", "x", "v");
	if (!ASSERT_NOT_NULL(g, "gauge"))
		goto out;
	vmetric_set(g, 1, "a\\b\"c\nd");
	vmetric_set(g, 2, "bad\xff utf8 \xc3\xa9");
	vmetric_set(g, 3, NULL); /* NULL is "" */
	text = render(reg);
	if (!ASSERT_NOT_NULL(text, "render"))
		goto out;
	ASSERT_STREQ(skip_overflow(text),
		     "# HELP vigil_test_info x\n"
		     "# TYPE vigil_test_info gauge\n"
		     "vigil_test_info{v=\"a\\\\b\\\"c\\nd\"} 1\n"
		     "vigil_test_info{v=\"bad\xef\xbf\xbd utf8 \xc3\xa9\"} 2\n"
		     "vigil_test_info{v=\"\"} 3\n",
		     "escaped label values");
out:
	free(text);
	vmetrics_free(reg);
}

static void test_cardinality_cap(void)
{
	struct vmetrics *reg = vmetrics_new();
	struct vmetric *c, *small;
	struct vmetric_child *first, *other;
	char *text = NULL, val[64], line[256];
	const char *vals[2];

	if (!ASSERT_NOT_NULL(reg, "vmetrics_new"))
		return;
	c = vmetrics_counter(reg, "vigil_rpc_calls_total", "calls", "method,status");
	small = vmetrics_counter(reg, "vigil_test_small_total", "small", "k");
	if (!ASSERT_NOT_NULL(c, "counter") || !ASSERT_NOT_NULL(small, "small"))
		goto out;
	ASSERT_OK(vmetric_set_max_children(small, 2), "set cap");
	ASSERT_ERR(vmetric_set_max_children(small, 0), "cap 0 refused");
	first = vmetric_child(c, (const char *[]){ "garbage-0", "ok" });
	for (int i = 0; i < 1000; i++) {
		snprintf(val, sizeof(val), "garbage-%d", i);
		vmetric_inc(c, val, "ok");
	}
	/* a long value is cut at VMETRIC_MAX_VALUE_LEN, so it costs no more memory than that */
	char *big = malloc(100000);
	if (!ASSERT_NOT_NULL(big, "malloc"))
		goto out;
	memset(big, 'x', 99999);
	big[99999] = 0;
	vmetric_inc(c, big, "ok");
	free(big);

	ASSERT_EQ(vmetric_children(c), 257, "256 label sets + other");
	vals[0] = "garbage-0";
	vals[1] = "ok";
	ASSERT_TRUE(vmetric_child(c, vals) == first, "existing set keeps its child");
	ASSERT_EQ(vmetric_child_get(first), 1, "existing set counted once");
	other = vmetric_child(c, (const char *[]){ VMETRIC_OTHER, VMETRIC_OTHER });
	ASSERT_EQ(vmetric_child_get(other), 745, "folded updates counted under other");
	vmetric_inc(small, "a");
	vmetric_inc(small, "b");
	vmetric_inc(small, "c");
	vmetric_inc(small, "a");
	text = render(reg);
	if (!ASSERT_NOT_NULL(text, "render"))
		goto out;
	ASSERT_STRCONTAINS(text, "vigil_metrics_label_overflow_total{metric=\"vigil_rpc_calls_total\"} 745\n",
			   "exact overflow count");
	ASSERT_STRCONTAINS(text, "vigil_metrics_label_overflow_total{metric=\"vigil_test_small_total\"} 1\n",
			   "overflow of the small metric");
	ASSERT_STRCONTAINS(text, "vigil_rpc_calls_total{method=\"other\",status=\"other\"} 745\n",
			   "other child rendered");
	ASSERT_STRCONTAINS(text, "vigil_test_small_total{k=\"a\"} 2\n", "a");
	ASSERT_STRCONTAINS(text, "vigil_test_small_total{k=\"other\"} 1\n", "c folded");
	/* raising the cap lets new sets in again */
	ASSERT_OK(vmetric_set_max_children(small, 10), "raise cap");
	vmetric_inc(small, "d");
	ASSERT_EQ(vmetric_child_get(vmetric_child(small, (const char *[]){ "d" })), 1, "d created");
	ASSERT_EQ(vmetric_children(small), 4, "a, b, other, d");
	snprintf(line, sizeof(line), "vigil_rpc_calls_total{method=\"garbage-255\",status=\"ok\"} 1\n");
	ASSERT_STRCONTAINS(text, line, "last set under the cap");
	ASSERT_TRUE(strstr(text, "garbage-256") == NULL, "first set over the cap is not rendered");
out:
	free(text);
	vmetrics_free(reg);
}

struct worker {
	struct vmetric *c, *g, *h;
	int id;
};

#define ITERS 200000

static void *hammer(void *arg)
{
	struct worker *w = arg;
	struct vmetric_child *cached = vmetric_child(w->c, (const char *[]){ "cached" });
	char v[16];

	for (int i = 0; i < ITERS; i++) {
		snprintf(v, sizeof(v), "k%d", i % 50); /* children created by both threads at once */
		vmetric_inc(w->c, v);
		vmetric_child_inc(cached);
		vmetric_add(w->g, 0.5);
		vmetric_observe(w->h, (double)(i % 4));
	}
	return NULL;
}

static void test_concurrent_updates_sum_exactly(void)
{
	static const double bounds[] = { 0.5, 1.5, 2.5 };
	struct vmetrics *reg = vmetrics_new();
	struct worker w[2];
	pthread_t th[2];
	double total = 0;
	char *text = NULL;

	if (!ASSERT_NOT_NULL(reg, "vmetrics_new"))
		return;
	w[0].c = vmetrics_counter(reg, "vigil_test_events_total", "events", "k");
	w[0].g = vmetrics_gauge(reg, "vigil_test_level", "level", NULL);
	w[0].h = vmetrics_histogram(reg, "vigil_test_value", "values", NULL, bounds, 3);
	if (!ASSERT_NOT_NULL(w[0].c, "counter") || !ASSERT_NOT_NULL(w[0].h, "histogram"))
		goto out;
	w[1] = w[0];
	for (int i = 0; i < 2; i++)
		if (!ASSERT_OK(pthread_create(&th[i], NULL, hammer, &w[i]), "pthread_create"))
			goto out;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(vmetric_children(w[0].c), 51, "50 keys + cached, no duplicates");
	for (int i = 0; i < 50; i++) {
		char v[16];
		snprintf(v, sizeof(v), "k%d", i);
		total += vmetric_child_get(vmetric_child(w[0].c, (const char *[]){ v }));
	}
	ASSERT_EQ(total, 2 * ITERS, "sum over children");
	ASSERT_EQ(vmetric_child_get(vmetric_child(w[0].c, (const char *[]){ "cached" })), 2 * ITERS,
		  "cached child");
	ASSERT_EQ(vmetric_child_get(vmetric_child(w[0].g, NULL)), ITERS, "gauge CAS adds");
	text = render(reg);
	if (!ASSERT_NOT_NULL(text, "render"))
		goto out;
	ASSERT_STRCONTAINS(text, "vigil_test_value_bucket{le=\"0.5\"} 100000\n", "bucket 0");
	ASSERT_STRCONTAINS(text, "vigil_test_value_bucket{le=\"2.5\"} 300000\n", "bucket 2");
	ASSERT_STRCONTAINS(text, "vigil_test_value_count 400000\n", "count");
	ASSERT_STRCONTAINS(text, "vigil_test_value_sum 600000\n", "sum");
out:
	free(text);
	vmetrics_free(reg);
}

static void test_invalid_names_rejected(void)
{
	static const double bad_bounds[] = { 1, 1 };
	struct vmetrics *reg = vmetrics_new();

	if (!ASSERT_NOT_NULL(reg, "vmetrics_new"))
		return;
	static const char *const bad_names[] = { "", "1abc", "a-b", "a b", "é", "a{b}" };
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		errno = 0;
		ASSERT_TRUE(vmetrics_counter(reg, bad_names[i], "h", NULL) == NULL, bad_names[i]);
		ASSERT_EQ(errno, EINVAL, bad_names[i]);
	}
	static const char *const bad_labels[] = { "a,", ",a", "a,a", "__x", "a-b", "1a", "a:b",
						  "a,b,c,d,e,f,g,h,i" };
	for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++) {
		errno = 0;
		ASSERT_TRUE(vmetrics_gauge(reg, "vigil_ok", "h", bad_labels[i]) == NULL,
			    bad_labels[i]);
		ASSERT_EQ(errno, EINVAL, bad_labels[i]);
	}
	errno = 0;
	ASSERT_TRUE(vmetrics_histogram(reg, "vigil_h", "h", "le", NULL, 0) == NULL, "le label");
	ASSERT_EQ(errno, EINVAL, "le label");
	errno = 0;
	ASSERT_TRUE(vmetrics_histogram(reg, "vigil_h", "h", NULL, bad_bounds, 2) == NULL,
		    "non-increasing bounds");
	ASSERT_EQ(errno, EINVAL, "bounds");
	ASSERT_NOT_NULL(vmetrics_counter(reg, "vigil:ok_total", "h", "a,b_2,_c"), "valid names");
	ASSERT_NOT_NULL(vmetrics_gauge(reg, "vigil_g", "h", "le"), "le is fine outside histograms");
	errno = 0;
	ASSERT_TRUE(vmetrics_gauge(reg, "vigil_g", "h", NULL) == NULL, "duplicate");
	ASSERT_EQ(errno, EEXIST, "duplicate name");
	errno = 0;
	ASSERT_TRUE(vmetrics_gauge(reg, "vigil_metrics_label_overflow_total", "h", NULL) == NULL,
		    "reserved self-metric");
	ASSERT_EQ(errno, EEXIST, "self-metric name taken");
	vmetrics_free(reg);
}

static void test_wrong_label_count_is_dropped(void)
{
	struct vmetrics *reg = vmetrics_new();
	struct vmetric *c;

	if (!ASSERT_NOT_NULL(reg, "vmetrics_new"))
		return;
	c = vmetrics_counter(reg, "vigil_test_total", "h", "a,b");
	if (ASSERT_NOT_NULL(c, "counter")) {
		vmetric_inc(c, "only-one");
		vmetric_inc(c);
		ASSERT_EQ(vmetric_children(c), 0, "nothing created");
		ASSERT_TRUE(VMETRIC__CHILD(c, "x") == NULL, "NULL child");
	}
	vmetrics_free(reg);
}

static int collected;

static void collect(struct vmetrics *reg, void *ctx)
{
	collected++;
	vmetric_set(ctx, 1000 + collected, "cpu0");
	/* a collector may create metrics (e.g. one per map it discovers) */
	if (collected == 1)
		vmetrics_gauge(reg, "vigil_test_late", "created by a collector", NULL);
}

static void test_collect_callback_runs_before_render(void)
{
	struct vmetrics *reg = vmetrics_new();
	struct vmetric *c;
	char *text = NULL;

	if (!ASSERT_NOT_NULL(reg, "vmetrics_new"))
		return;
	c = vmetrics_counter(reg, "vigil_test_map_total", "copied from a BPF map", "cpu");
	if (!ASSERT_NOT_NULL(c, "counter") || !ASSERT_OK(vmetrics_on_collect(reg, collect, c), "on_collect"))
		goto out;
	free(render(reg));
	text = render(reg);
	ASSERT_EQ(collected, 2, "one call per render");
	ASSERT_STRCONTAINS(text, "vigil_test_map_total{cpu=\"cpu0\"} 1002\n", "set by collector");
	ASSERT_STRCONTAINS(text, "\nvigil_test_late 0\n", "metric created by a collector");
out:
	free(text);
	vmetrics_free(reg);
}

TESTS(T(test_counter_and_gauge_exact), T(test_histogram_cumulative), T(test_label_value_escaping),
      T(test_cardinality_cap), T(test_concurrent_updates_sum_exactly),
      T(test_invalid_names_rejected), T(test_wrong_label_count_is_dropped),
      T(test_collect_callback_runs_before_render))
