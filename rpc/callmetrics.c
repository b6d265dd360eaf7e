// SPDX-License-Identifier: GPL-2.0-only
/* Per-call metric updates; see rpc/callmetrics.h. */
#include "rpc/callmetrics.h"

void rpc_method_children_get(struct rpc_method_children *mc, struct vmetric *requests,
			     struct vmetric *duration, struct vmetric *size,
			     struct vmetric *notifications, const char *method)
{
	mc->ok = vmetric_child(requests, (const char *[]){ method, "ok" });
	mc->error = vmetric_child(requests, (const char *[]){ method, "error" });
	mc->unknown = vmetric_child(requests, (const char *[]){ method, "unknown" });
	mc->duration = vmetric_child(duration, (const char *[]){ method });
	mc->size = vmetric_child(size, (const char *[]){ method });
	mc->notifications = vmetric_child(notifications, (const char *[]){ method });
}

void rpc_call_metrics(const struct rpc_method_children *mc, struct vmetric *errors,
		      const char *method, const struct rpc_call *call)
{
	if (call->kind == RPC_KIND_NOTIFICATION) {
		vmetric_child_inc(mc->notifications);
	} else {
		vmetric_child_inc(call->status == RPC_STATUS_OK	     ? mc->ok
				  : call->status == RPC_STATUS_ERROR ? mc->error
								     : mc->unknown);
		if (call->status != RPC_STATUS_UNKNOWN)
			vmetric_child_observe(mc->duration, (double)call->latency_ns / 1e9);
		vmetric_child_observe(mc->size, (double)call->resp_bytes /
						(call->batch_size ? call->batch_size : 1));
	}
	if (errors && call->status == RPC_STATUS_ERROR && call->has_error_code) {
		char code[24];

		*rpc_put_i64(code, call->error_code) = 0; /* what "%lld" writes, without snprintf */
		vmetric_inc(errors, method, code);
	}
}
