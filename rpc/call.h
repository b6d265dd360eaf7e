/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One JSON-RPC call as `vigil rpc` reports it: a request item paired with its response item
 * (HTTP: in order, WebSocket: by id), with the sizes, latency and outcome. Calls come out of
 * struct rpc_conn (conn.h) through a callback; rpc_call_to_json() turns one into the issue's
 * per-call event.
 *
 * Sizes are full wire lengths (headers and framing included) of the whole request and response
 * message, not the captured bytes. Every item of a batch carries the sizes of the whole batch
 * message: divide by batch_size for a per-item share.
 */
#ifndef VIGIL_RPC_CALL_H
#define VIGIL_RPC_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/buf.h"

#define RPC_METHOD_MAX 128 /* bytes of a method name kept; longer names are flagged truncated */
#define RPC_ID_MAX     64  /* bytes of an id kept as text */
#define RPC_ERRMSG_MAX 128 /* bytes of error.message kept */

enum rpc_transport { RPC_TRANSPORT_HTTP, RPC_TRANSPORT_WS };
enum rpc_status { RPC_STATUS_UNKNOWN, RPC_STATUS_OK, RPC_STATUS_ERROR };
enum rpc_kind {
	RPC_KIND_CALL,	       /* a request and its response */
	RPC_KIND_SUBSCRIBE,    /* an eth_subscribe call (counted apart from plain calls) */
	RPC_KIND_NOTIFICATION, /* a server push without id (eth_subscription) */
};
enum rpc_id_kind { RPC_ID_NONE, RPC_ID_NULL, RPC_ID_NUMBER, RPC_ID_STRING };

struct rpc_call {
	enum rpc_transport transport;
	enum rpc_kind kind;
	enum rpc_status status;
	enum rpc_id_kind id_kind;
	uint16_t method_len; /* 0: no method seen (unparsable or cut request) */
	uint8_t id_len;
	bool method_truncated;
	bool req_truncated;  /* request bytes were missing (capture limit or lost data) */
	bool resp_truncated; /* response bytes were missing */
	bool has_error_code;
	uint16_t error_message_len;
	uint32_t batch_index; /* 0 for a single call */
	uint32_t batch_size;  /* 1 for a single call */
	int http_status;      /* 0 for WebSocket */
	long long error_code;
	uint64_t ts_ns;	     /* timestamp of the first request byte (the caller's clock) */
	uint64_t latency_ns; /* first request byte read -> last response byte written */
	uint64_t req_bytes;
	uint64_t resp_bytes;
	/*
	 * With rpc_conn_opts.capture_params only: a prefix of the request item's raw "params"
	 * text as captured (never redacted here), valid during the callback only.
	 */
	bool has_params;
	bool params_truncated; /* cut by the capture or by params_max */
	uint32_t params_len;
	const char *params;
	char method[RPC_METHOD_MAX + 1];
	char id[RPC_ID_MAX + 1];
	char error_message[RPC_ERRMSG_MAX + 1];
};

/* Who served the call; filled by the tracer from its connection table. */
struct rpc_call_meta {
	uint64_t ts_real_ns; /* wall clock of the first request byte, ns since the epoch */
	const char *app_id;
	uint32_t pid;
	const char *comm;
	const char *client; /* "ip:port" */
	uint16_t server_port;
	/*
	 * The parameters to export with this call, already sampled and redacted by the caller
	 * (rpc_params_export(), rpc/params.h); NULL (the default): the event has no params fields.
	 */
	const char *params;
	size_t params_len;
	bool params_truncated;
};

const char *rpc_status_str(enum rpc_status s);
const char *rpc_transport_str(enum rpc_transport t);
const char *rpc_kind_str(enum rpc_kind k);

/* Writes @v in decimal (what "%lld" writes, no terminator) at @d (21 bytes at most); returns
 * the end. */
char *rpc_put_i64(char *d, long long v);

/*
 * Appends one JSON object (no newline) with the per-call event fields: ts, app_id, pid, comm,
 * client, server_port, transport, kind, method, method_truncated, id, batch_index, batch_size,
 * req_bytes, resp_bytes, latency_ns, status, error_code, error_message, http_status. Absent
 * values (no method, no id, no error, WebSocket http_status) are null. Only when @m->params is
 * set, "params" (that text as a JSON string: it may be cut, so it is not embedded as JSON) and
 * "params_truncated" follow; a call's own raw params are never written. Returns 0 or -ENOMEM;
 * on error @out may hold a partial object.
 */
int rpc_call_to_json(const struct rpc_call *c, const struct rpc_call_meta *m, struct vbuf *out);

#endif
