/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Prometheus side of one call, shared by the tracer's on_call() (rpc/tracer.c) and the
 * benchmark that measures it (bench/rpc/bench_parse.c): the caller keeps a method's children
 * (looked up once per method), this updates them and the errors-by-code counter per call.
 */
#ifndef VIGIL_RPC_CALLMETRICS_H
#define VIGIL_RPC_CALLMETRICS_H

#include "vigil/metrics.h"
#include "rpc/call.h"

struct rpc_method_children {
	struct vmetric_child *ok, *error, *unknown; /* vigil_rpc_requests_total{method,status} */
	struct vmetric_child *duration;		     /* vigil_rpc_request_duration_seconds */
	struct vmetric_child *size;		     /* vigil_rpc_response_size_bytes */
	struct vmetric_child *notifications;	     /* vigil_rpc_notifications_total */
};

/* The children of @method in the four per-method metrics. */
void rpc_method_children_get(struct rpc_method_children *mc, struct vmetric *requests,
			     struct vmetric *duration, struct vmetric *size,
			     struct vmetric *notifications, const char *method);

/*
 * Counts @call under @method: status, latency (when known), response size per batch item, or a
 * notification; an error with a code also goes to @errors{method,code} (NULL: not counted).
 */
void rpc_call_metrics(const struct rpc_method_children *mc, struct vmetric *errors,
		      const char *method, const struct rpc_call *call);

#endif
