// SPDX-License-Identifier: GPL-2.0-only
/* WebSocket framing over captured bytes and gaps; see ws.h. */
#include <string.h>

#include "vigil/util.h"
#include "ws.h"

void rpc_ws_init(struct rpc_ws *w, bool is_request, size_t cap, const struct rpc_ws_ops *ops,
		 void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->is_request = is_request;
	w->cap = cap;
	w->ops = ops;
	w->ctx = ctx;
	w->state = RPC_WS_HDR;
	w->hdr_need = 2;
}

void rpc_ws_release(struct rpc_ws *w)
{
	vbuf_free(&w->msg);
}

static void desync(struct rpc_ws *w, uint64_t ts)
{
	w->stats.desyncs++;
	w->state = RPC_WS_RESYNC;
	w->in_msg = false;
	w->msg.len = 0;
	w->hdr_len = 0;
	w->hdr_need = 2;
	if (w->ops->desync)
		w->ops->desync(w->ctx, w->is_request, ts);
}

/* Header length a frame needs given its first two bytes. */
static uint8_t hdr_need(const uint8_t *h)
{
	uint8_t len7 = h[1] & 0x7f;

	return (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0));
}

static uint64_t payload_len(const uint8_t *h)
{
	uint8_t len7 = h[1] & 0x7f;
	uint64_t v = 0;

	if (len7 < 126)
		return len7;
	if (len7 == 126)
		return (uint64_t)h[2] << 8 | h[3];
	for (int i = 2; i < 10; i++)
		v = v << 8 | h[i];
	return v;
}

/*
 * Checks a complete frame header against the protocol and this direction. Returns 0 or -1.
 */
static int frame_check(bool is_request, const uint8_t *h)
{
	uint8_t op = h[0] & 0x0f;
	bool masked = h[1] & 0x80;

	if (masked != is_request || (h[0] & 0x30))
		return -1;
	if (op >= 3 && op <= 7)
		return -1;
	if (op >= 8 && (op > 10 || !(h[0] & 0x80) || (h[1] & 0x7f) > 125 || (h[0] & 0x40)))
		return -1;
	if ((h[1] & 0x7f) == 127 && (h[2] & 0x80))
		return -1;
	return 0;
}

static void msg_end(struct rpc_ws *w, uint64_t ts)
{
	w->m.ts_last = ts;
	w->m.data = w->msg.data;
	w->m.len = w->msg.len;
	w->in_msg = false;
	w->stats.messages++;
	if (w->m.truncated)
		w->stats.truncated++;
	if (w->m.compressed)
		w->stats.compressed++;
	w->ops->message(w->ctx, &w->m);
	if (w->msg.cap > 262144)
		vbuf_free(&w->msg);
}

/* A complete header is in w->hdr: set up the frame. Returns 0 or -1 (protocol error). */
static int frame_begin(struct rpc_ws *w)
{
	const uint8_t *h = w->hdr;
	uint8_t op = h[0] & 0x0f;

	if (frame_check(w->is_request, h))
		return -1;
	w->stats.frames++;
	w->opcode = op;
	w->fin = h[0] & 0x80;
	w->masked = h[1] & 0x80;
	w->remaining = payload_len(h);
	w->frame_off = 0;
	if (w->masked)
		memcpy(w->mask, h + w->hdr_len - 4, 4);
	w->control = op >= 8;
	if (w->control) {
		w->stats.control++;
		if (op == 8)
			w->stats.close_frames++;
	} else if (op == 0) {
		if (!w->in_msg)
			return -1; /* a continuation of a message whose start was lost */
		w->m.wire_bytes += w->hdr_len;
	} else {
		if (w->in_msg)
			return -1; /* a new message before the last one ended */
		memset(&w->m, 0, sizeof(w->m));
		w->m.is_request = w->is_request;
		w->m.text = op == 1;
		w->m.compressed = h[0] & 0x40;
		w->m.ts_first = w->frame_ts;
		w->m.wire_bytes = w->hdr_len;
		w->in_msg = true;
		w->msg_gap = false;
		w->msg.len = 0;
	}
	w->state = RPC_WS_PAYLOAD;
	return 0;
}

static void frame_end(struct rpc_ws *w, uint64_t ts)
{
	w->state = RPC_WS_HDR;
	w->hdr_len = 0;
	w->hdr_need = 2;
	if (!w->control && w->fin)
		msg_end(w, ts);
}

static void payload(struct rpc_ws *w, const uint8_t *p, size_t n)
{
	size_t room, old;

	if (w->control)
		return;
	w->m.wire_bytes += n;
	if (w->msg_gap)
		return;
	room = w->cap > w->msg.len ? w->cap - w->msg.len : 0;
	if (n > room) {
		n = room;
		w->m.truncated = true;
		w->msg_gap = true;
	}
	old = w->msg.len;
	if (!n || vbuf_append(&w->msg, p, n)) {
		w->m.truncated = true;
		w->msg_gap = true;
		return;
	}
	if (w->masked) {
		uint8_t *d = (uint8_t *)w->msg.data + old, key[8];
		size_t i = 0;
		uint64_t k, v;

		/* eight bytes at a time with the mask turned to this offset, then the tail */
		for (int j = 0; j < 8; j++)
			key[j] = w->mask[(w->frame_off + (size_t)j) & 3];
		memcpy(&k, key, 8);
		for (; i + 8 <= n; i += 8) {
			memcpy(&v, d + i, 8);
			v ^= k;
			memcpy(d + i, &v, 8);
		}
		for (; i < n; i++)
			d[i] ^= w->mask[(w->frame_off + i) & 3];
	}
}

size_t rpc_ws_find_start(bool is_request, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 2 <= n; i++) {
		uint8_t b0 = p[i], op = b0 & 0x0f, need, first;

		if ((b0 & 0x70) || (op != 1 && op != 2))
			continue;
		if (!!(p[i + 1] & 0x80) != is_request)
			continue;
		need = hdr_need(p + i);
		if (i + need >= n || frame_check(is_request, p + i) || payload_len(p + i) == 0)
			continue;
		first = p[i + need];
		if (is_request)
			first ^= p[i + need - 4];
		if (first == '{' || first == '[')
			return i;
	}
	return n;
}

void rpc_ws_feed(struct rpc_ws *w, uint64_t ts, const uint8_t *p, size_t n)
{
	size_t i = 0, take;

	while (i < n) {
		switch (w->state) {
		case RPC_WS_RESYNC:
			take = rpc_ws_find_start(w->is_request, p + i, n - i);
			if (take == n - i)
				return;
			i += take;
			w->stats.resyncs++;
			w->state = RPC_WS_HDR;
			w->hdr_len = 0;
			w->hdr_need = 2;
			break;
		case RPC_WS_HDR:
			if (!w->hdr_len)
				w->frame_ts = ts;
			take = MIN(n - i, (size_t)(w->hdr_need - w->hdr_len));
			memcpy(w->hdr + w->hdr_len, p + i, take);
			w->hdr_len += (uint8_t)take;
			i += take;
			if (w->hdr_len < w->hdr_need)
				break;
			if (w->hdr_need == 2) {
				w->hdr_need = hdr_need(w->hdr);
				if (w->hdr_need > 2)
					break;
			}
			if (frame_begin(w)) {
				desync(w, ts);
				break;
			}
			if (!w->remaining)
				frame_end(w, ts);
			break;
		case RPC_WS_PAYLOAD:
			take = (size_t)MIN((uint64_t)(n - i), w->remaining);
			payload(w, p + i, take);
			w->frame_off += take;
			w->remaining -= take;
			i += take;
			if (!w->remaining)
				frame_end(w, ts);
			break;
		}
	}
}

void rpc_ws_gap(struct rpc_ws *w, uint64_t ts, uint64_t n)
{
	while (n) {
		uint64_t take;

		switch (w->state) {
		case RPC_WS_RESYNC:
			return;
		case RPC_WS_HDR:
			desync(w, ts);
			return;
		case RPC_WS_PAYLOAD:
			take = MIN(n, w->remaining);
			if (!w->control) {
				w->m.wire_bytes += take;
				w->m.truncated = true;
				w->msg_gap = true;
			}
			w->frame_off += take;
			w->remaining -= take;
			n -= take;
			if (!w->remaining)
				frame_end(w, ts);
			break;
		}
	}
}
