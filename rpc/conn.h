/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-connection reassembly of JSON-RPC traffic seen from the server's side: the tracer feeds
 * each read-like syscall's bytes as RPC_DIR_REQUEST and each write-like one as RPC_DIR_RESPONSE,
 * with the captured prefix and the syscall's full length. The connection speaks HTTP/1.1
 * (keep-alive, pipelining, chunked, gzip) until an Upgrade: websocket is answered with 101, then
 * WebSocket. Requests and responses are paired (HTTP: in order; WebSocket: by JSON-RPC id), every
 * item of a batch becomes one struct rpc_call, and each call goes to the callback given at
 * creation, synchronously, from inside rpc_conn_feed() or rpc_conn_close().
 *
 * A connection whose first bytes are not HTTP but WebSocket frames (one opened before tracing
 * started) is taken as WebSocket from the start. Lost bytes inside headers or frame headers lose
 * sync; the parsers count it and recover at the next plausible start line or frame.
 */
#ifndef VIGIL_RPC_CONN_H
#define VIGIL_RPC_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/opt.h"
#include "call.h"

enum rpc_dir {
	RPC_DIR_REQUEST,  /* bytes the server read from the client */
	RPC_DIR_RESPONSE, /* bytes the server wrote to the client */
};

/* Limits; the fields are the types vopt writes (see rpc_conn_vopts). */
struct rpc_conn_opts {
	uint64_t body_cap;    /* captured body bytes kept per message for scanning */
	uint64_t inflate_cap; /* output of inflating one gzip body */
	long long max_pending; /* requests awaiting a response, per connection */
	long long max_batch;   /* batch items reported per message; the rest are counted */
	bool capture_params;   /* keep each request item's params for its call (off: no copy) */
	uint64_t params_max;   /* bytes of params kept per item, at most RPC_CONN_PARAMS_LIMIT */
};

#define RPC_CONN_BODY_CAP_DEFAULT    262144
#define RPC_CONN_INFLATE_CAP_DEFAULT 1048576
#define RPC_CONN_MAX_PENDING_DEFAULT 1024
#define RPC_CONN_MAX_BATCH_DEFAULT   1024
#define RPC_CONN_PARAMS_MAX_DEFAULT  1024
#define RPC_CONN_PARAMS_LIMIT	     16384

/* Option table for the limits above (--rpc-body-cap, ...), filling a struct rpc_conn_opts. */
extern const struct vopt rpc_conn_vopts[];

struct rpc_conn_stats {
	uint64_t calls;		/* every call delivered, whatever its kind */
	uint64_t subscribes;	/* of which eth_subscribe calls */
	uint64_t notifications; /* of which server pushes without id */
	uint64_t batches;	/* batch requests */
	uint64_t http_requests, http_responses, ws_messages;
	uint64_t http_other;	      /* requests that carry no JSON-RPC (GET /, upgrade) */
	uint64_t desyncs, resyncs;    /* sync lost (bytes missing in headers) / regained */
	uint64_t truncated;	      /* messages with missing bytes */
	uint64_t unpaired_responses;  /* responses with no request to pair: method unknown */
	uint64_t unanswered;	      /* requests flushed without a response (status unknown) */
	uint64_t dropped_items;	      /* batch items beyond max_batch */
	uint64_t evicted;	      /* WebSocket requests pushed out of a full pending table */
	uint64_t gzip_errors;
	uint64_t ws_compressed;	      /* permessage-deflate messages, not parsed */
	uint64_t ws_control;	      /* ping/pong/close frames */
	uint64_t method_truncated;
	uint64_t bad_input;	      /* captured length above the total, and such */
};

typedef void (*rpc_call_fn)(const struct rpc_call *call, void *ctx);

struct rpc_conn;

/*
 * A connection's parser state. @opts may be NULL for the defaults. @cb receives each call (the
 * call, and the params it points to with opts->capture_params, is only valid during the
 * callback). Returns NULL with errno set (ENOMEM, EINVAL).
 */
struct rpc_conn *rpc_conn_new(const struct rpc_conn_opts *opts, rpc_call_fn cb, void *ctx);
/*
 * One syscall's data: @captured_len bytes at @data, out of @total_len the syscall moved (the
 * rest was not captured but is accounted for). @ts_ns is the caller's clock (latencies are
 * differences of it). Returns 0, or -EINVAL when captured_len > total_len (then nothing is fed).
 */
int rpc_conn_feed(struct rpc_conn *c, enum rpc_dir dir, uint64_t ts_ns, const void *data,
		  size_t captured_len, uint64_t total_len);
/*
 * The connection closed: ends a read-until-close response and delivers every request still
 * waiting for a response with status unknown. Further feeds are ignored.
 */
void rpc_conn_close(struct rpc_conn *c, uint64_t ts_ns);
/* Frees everything; calls not yet delivered are dropped (call rpc_conn_close() first). */
void rpc_conn_free(struct rpc_conn *c);
const struct rpc_conn_stats *rpc_conn_stats(const struct rpc_conn *c);
/* true once the connection speaks WebSocket. */
bool rpc_conn_is_ws(const struct rpc_conn *c);

#endif
