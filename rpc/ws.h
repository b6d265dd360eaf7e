/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * WebSocket (RFC 6455) framing for one direction of a traced connection, after the HTTP
 * upgrade. Client frames (requests the server read) must be masked, server frames must not be.
 * Fragmented messages are reassembled (control frames may come between fragments and are only
 * counted); text and binary messages are handed to a callback with the captured, unmasked prefix
 * of their payload. A gap inside a payload marks the message truncated; a gap or a protocol error
 * in a frame header loses sync, and the parser then looks for the next plausible data frame whose
 * payload starts a JSON value. permessage-deflate messages (RSV1) are counted, not inflated.
 */
#ifndef VIGIL_RPC_WS_H
#define VIGIL_RPC_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buf.h"

struct rpc_ws_msg {
	bool is_request;
	bool text;
	bool truncated;	 /* payload bytes missing (gap or cap) */
	bool compressed; /* RSV1: permessage-deflate; data is the compressed bytes */
	uint64_t wire_bytes; /* frame headers and payloads of the message's frames */
	uint64_t ts_first, ts_last;
	const char *data;
	size_t len;
};

struct rpc_ws_ops {
	void (*message)(void *ctx, const struct rpc_ws_msg *m);
	void (*desync)(void *ctx, bool is_request, uint64_t ts);
};

struct rpc_ws_stats {
	uint64_t frames, messages, control, compressed, desyncs, resyncs, truncated, close_frames;
};

enum rpc_ws_state { RPC_WS_HDR, RPC_WS_PAYLOAD, RPC_WS_RESYNC };

struct rpc_ws {
	bool is_request;
	enum rpc_ws_state state;
	uint8_t hdr[14];
	uint8_t hdr_len, hdr_need;
	/* the frame in progress */
	uint8_t opcode;
	bool fin, masked, control;
	uint8_t mask[4];
	uint64_t remaining, frame_off;
	uint64_t frame_ts; /* when the frame's first byte came */
	/* the message in progress */
	bool in_msg, msg_gap;
	size_t cap;
	struct rpc_ws_msg m;
	struct vbuf msg;
	const struct rpc_ws_ops *ops;
	void *ctx;
	struct rpc_ws_stats stats;
};

void rpc_ws_init(struct rpc_ws *w, bool is_request, size_t cap, const struct rpc_ws_ops *ops,
		 void *ctx);
void rpc_ws_release(struct rpc_ws *w);
void rpc_ws_feed(struct rpc_ws *w, uint64_t ts, const uint8_t *p, size_t n);
void rpc_ws_gap(struct rpc_ws *w, uint64_t ts, uint64_t n);
/*
 * Offset of the first plausible data frame in p[0..n) for the direction (masked or not, header
 * complete, payload starting with '{' or '['), or n.
 */
size_t rpc_ws_find_start(bool is_request, const uint8_t *p, size_t n);

#endif
