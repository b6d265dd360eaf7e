/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP/1.x framing for one direction of a traced connection (requests the server read, or
 * responses it wrote). Input comes as captured bytes plus gaps: runs of bytes whose count is known
 * but whose content was not captured. Framing (Content-Length, chunked, read-until-close) keeps
 * counting through gaps in a body, which only marks that body truncated. A gap in a start line,
 * the headers or a chunk-size line loses sync: the parser reports it and searches the following
 * captured bytes for the next plausible start line.
 *
 * Complete messages are handed to a callback with the captured prefix of the body, de-chunked
 * and, for Content-Encoding: gzip, inflated (output capped).
 */
#ifndef VIGIL_RPC_HTTP1_H
#define VIGIL_RPC_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buf.h"

struct rpc_http_msg {
	bool is_request;
	bool upgrade_ws; /* request: Upgrade: websocket; response: 101 Switching Protocols */
	bool gzip;	 /* Content-Encoding: gzip or deflate (body below is the inflated text) */
	bool chunked;
	bool truncated;	     /* body bytes are missing: a gap, the body cap or bad gzip */
	bool body_complete;  /* framing reached the end of the body (not cut by loss of sync) */
	int status;	     /* responses: the status code */
	char verb[8];	     /* requests: "POST", ... (truncated to 7 bytes) */
	uint64_t wire_bytes; /* start line to the last body byte, gaps included */
	uint64_t ts_first, ts_last;
	const char *body; /* captured, decoded prefix of the body; valid during the callback */
	size_t body_len;
};

enum rpc_http_state {
	RPC_HTTP_IDLE,
	RPC_HTTP_HEAD,
	RPC_HTTP_BODY_CL,
	RPC_HTTP_CHUNK_LINE,
	RPC_HTTP_CHUNK_DATA,
	RPC_HTTP_CHUNK_CRLF,
	RPC_HTTP_TRAILER,
	RPC_HTTP_BODY_EOF,
	RPC_HTTP_RESYNC,
	RPC_HTTP_STOPPED, /* the connection switched protocols */
};

struct rpc_http_ops {
	void (*message)(void *ctx, const struct rpc_http_msg *m);
	/* Sync was lost. @lost_msg: a message whose end (or start) was not seen was in the gap. */
	void (*desync)(void *ctx, bool is_request, bool lost_msg, uint64_t ts);
	/* Responses: true when the response now starting has no body whatever its headers say
	 * (it answers a HEAD request). May be NULL. */
	bool (*no_body)(void *ctx);
};

struct rpc_http_stats {
	uint64_t messages, desyncs, resyncs, truncated, gzip_errors, head_too_long;
};

struct rpc_http {
	bool is_request;
	bool in_msg; /* a start line was seen and the message not yet handed out */
	bool body_gap;
	bool emitted; /* handed out early by rpc_http_flush(); the end is only consumed */
	enum rpc_http_state state;
	uint8_t crlf_left;
	uint16_t line_len;
	uint64_t remaining;
	size_t body_cap, inflate_cap;
	struct rpc_http_msg m;
	struct vbuf head, body, infl;
	void *zs; /* z_stream, created on the first gzip body */
	const struct rpc_http_ops *ops;
	void *ctx;
	struct rpc_http_stats stats;
	char line[80];
};

void rpc_http_init(struct rpc_http *h, bool is_request, size_t body_cap, size_t inflate_cap,
		   const struct rpc_http_ops *ops, void *ctx);
void rpc_http_release(struct rpc_http *h);
/*
 * Feeds @n captured bytes seen at @ts. Returns how many were consumed: all of them, unless the
 * parser stopped (a 101 response ended, or rpc_http_stop() was called from a callback); the
 * rest then belongs to the next protocol.
 */
size_t rpc_http_feed(struct rpc_http *h, uint64_t ts, const uint8_t *p, size_t n);
/* @n bytes were there but not captured. */
void rpc_http_gap(struct rpc_http *h, uint64_t ts, uint64_t n);
/* The connection closed: ends a read-until-close body. */
void rpc_http_eof(struct rpc_http *h, uint64_t ts);
void rpc_http_stop(struct rpc_http *h);
/*
 * Hands out the message in progress now, as truncated, if its headers are complete (a server
 * answered before it read the whole request, e.g. 413). The rest of its body is still consumed,
 * without a second callback. Returns true when a message was handed out.
 */
bool rpc_http_flush(struct rpc_http *h, uint64_t ts);

#endif
