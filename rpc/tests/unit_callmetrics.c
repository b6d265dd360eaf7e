// SPDX-License-Identifier: GPL-2.0-only
/* The per-call metric updates of rpc/callmetrics.c (on_call's, and bench_parse's "tracer" mode). */
#include <limits.h>

#include "test.h"
#include "vigil/metrics.h"
#include "../callmetrics.h"

static double child_value(struct vmetric *m, const char *a, const char *b)
{
	return vmetric_child_get(vmetric_child(m, (const char *[]){ a, b }));
}

/* Error codes are labelled as "%lld" writes them, extremes included. */
static void test_error_code_labels(void)
{
	static const long long codes[] = { 0,	  3,	-1,	   -32601,    -32700,	 9,	10,
					   99,	  100,	-100,	   LLONG_MIN, LLONG_MAX, -9,	1000000,
					   12345678901234LL };
	struct vmetrics *r = vmetrics_new();
	struct vmetric *e = vmetrics_counter(r, "vigil_rpc_errors_total", "errors", "method,code");
	struct rpc_method_children mc = { 0 };
	struct rpc_call c;

	memset(&c, 0, sizeof(c));
	c.status = RPC_STATUS_ERROR;
	c.has_error_code = true;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char want[32];

		c.error_code = codes[i];
		rpc_call_metrics(&mc, e, "eth_call", &c);
		rpc_call_metrics(&mc, e, "eth_call", &c);
		snprintf(want, sizeof(want), "%lld", codes[i]);
		if (!ASSERT_EQ(child_value(e, "eth_call", want), 2, want))
			break;
	}
	/* no code, or not an error: not counted by code */
	c.has_error_code = false;
	rpc_call_metrics(&mc, e, "eth_call", &c);
	c.has_error_code = true;
	c.status = RPC_STATUS_OK;
	rpc_call_metrics(&mc, e, "eth_call", &c);
	ASSERT_EQ(vmetric_children(e), sizeof(codes) / sizeof(codes[0]), "one child per code");
	vmetrics_free(r);
}

/* Status, latency, size per batch item and notifications go to the method's children. */
static void test_children_updated(void)
{
	static const double dur[] = { 0.001, 1 }, size[] = { 100, 1000 };
	struct vmetrics *r = vmetrics_new();
	struct vmetric *req = vmetrics_counter(r, "req_total", "r", "method,status");
	struct vmetric *d = vmetrics_histogram(r, "dur_seconds", "d", "method", dur, 2);
	struct vmetric *sz = vmetrics_histogram(r, "size_bytes", "s", "method", size, 2);
	struct vmetric *n = vmetrics_counter(r, "notif_total", "n", "method");
	struct rpc_method_children mc;
	struct rpc_call c;

	rpc_method_children_get(&mc, req, d, sz, n, "eth_x");
	memset(&c, 0, sizeof(c));
	c.status = RPC_STATUS_OK;
	c.latency_ns = 2000000;
	c.resp_bytes = 3000;
	c.batch_size = 3;
	rpc_call_metrics(&mc, NULL, "eth_x", &c);
	c.status = RPC_STATUS_UNKNOWN;
	rpc_call_metrics(&mc, NULL, "eth_x", &c);
	c.kind = RPC_KIND_NOTIFICATION;
	rpc_call_metrics(&mc, NULL, "eth_x", &c);
	ASSERT_EQ(child_value(req, "eth_x", "ok"), 1, "ok");
	ASSERT_EQ(child_value(req, "eth_x", "unknown"), 1, "unknown");
	ASSERT_EQ(child_value(req, "eth_x", "error"), 0, "error");
	ASSERT_EQ(vmetric_child_get(mc.duration), 1, "latency only when the outcome is known");
	ASSERT_EQ(vmetric_child_get(mc.size), 2, "size of both calls");
	ASSERT_EQ(vmetric_child_get(mc.notifications), 1, "notification");
	vmetrics_free(r);
}

TESTS(T(test_error_code_labels), T(test_children_updated))
