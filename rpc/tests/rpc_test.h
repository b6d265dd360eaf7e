/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the rpc unit tests: a callback that records every call, builders for HTTP
 * messages, WebSocket frames and gzip bodies, and feeders that cut a byte stream into syscalls
 * with a capture limit the way the kernel side does.
 */
#ifndef VIGIL_RPC_TEST_H
#define VIGIL_RPC_TEST_H

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vigil/buf.h"
#include "vigil/util.h"
#include "../call.h"
#include "../conn.h"

struct rec {
	struct rpc_call *v;
	size_t n, cap;
};

static inline void rec_cb(const struct rpc_call *c, void *ctx)
{
	struct rec *r = ctx;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		if (!r->v)
			abort();
	}
	r->v[r->n++] = *c;
}

static inline void rec_free(struct rec *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* Whole stream as one fully captured syscall. */
static inline int feed_str(struct rpc_conn *c, enum rpc_dir d, uint64_t ts, const char *s)
{
	return rpc_conn_feed(c, d, ts, s, strlen(s), strlen(s));
}

/*
 * @len bytes as syscalls of @piece bytes, each capturing at most @cap of them; timestamps step
 * by 1 from *@ts.
 */
static inline void feed_split(struct rpc_conn *c, enum rpc_dir d, uint64_t *ts, const void *data,
			      size_t len, size_t piece, size_t cap)
{
	const char *p = data;

	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		rpc_conn_feed(c, d, (*ts)++, p + off, n < cap ? n : cap, n);
	}
}

static inline void http_req(struct vbuf *b, const char *body)
{
	vbuf_printf(b,
		    "POST / HTTP/1.1\r\nHost: 127.0.0.1:8545\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\n\r\n%s",
		    strlen(body), body);
}

static inline void http_resp(struct vbuf *b, const char *body)
{
	vbuf_printf(b,
		    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		    "Connection: keep-alive\r\n\r\n%s",
		    strlen(body), body);
}

static const uint8_t test_mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* One WebSocket frame; client frames (@mask) are masked with test_mask. */
static inline void ws_frame(struct vbuf *b, int opcode, bool fin, bool mask, const void *payload,
			    size_t n)
{
	uint8_t h[14];
	size_t hl = 2;

	h[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (n < 126) {
		h[1] = (uint8_t)n;
	} else if (n < 65536) {
		h[1] = 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	if (mask) {
		h[1] |= 0x80;
		memcpy(h + hl, test_mask, 4);
		hl += 4;
	}
	vbuf_append(b, h, hl);
	size_t old = b->len;
	vbuf_append(b, payload, n);
	if (mask)
		for (size_t i = 0; i < n; i++)
			b->data[old + i] ^= (char)test_mask[i & 3];
}

static inline void ws_text(struct vbuf *b, bool mask, const char *s)
{
	ws_frame(b, 1, true, mask, s, strlen(s));
}

/* gzip (RFC 1952) of @n bytes with zlib; returns 0 or -1. */
static inline int gzip_buf(const void *in, size_t n, struct vbuf *out)
{
	z_stream zs;
	int ret;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	if (vbuf_reserve(out, deflateBound(&zs, n)))
		return -1;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	zs.next_out = (Bytef *)out->data + out->len;
	zs.avail_out = (uInt)(out->cap - out->len - 1);
	ret = deflate(&zs, Z_FINISH);
	out->len += zs.total_out;
	deflateEnd(&zs);
	return ret == Z_STREAM_END ? 0 : -1;
}

static inline const char *call_method(const struct rpc_call *c)
{
	return c->method_len ? c->method : "(none)";
}

#endif
