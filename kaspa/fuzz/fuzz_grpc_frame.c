// SPDX-License-Identifier: GPL-2.0-only
/*
 * gRPC framing decoder over arbitrary bytes and chunkings. The first byte picks the encoding and
 * the chunk size; the rest is the stream. Invariants: no crash, no leak, a delivered message is
 * never above the limit, and the same bytes fed whole or in chunks give the same messages.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../grpc.h"

#define LIMIT (64u << 10)

struct sum {
	uint64_t n, bytes, hash;
};

static int add(const uint8_t *msg, size_t len, void *ctx)
{
	struct sum *s = ctx;

	if (len > LIMIT)
		abort();
	s->n++;
	s->bytes += len;
	for (size_t i = 0; i < len; i++)
		s->hash = s->hash * 31 + msg[i];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kaspa_grpc_dec whole, chunked;
	struct sum a = { 0 }, b = { 0 };
	enum kaspa_grpc_enc enc;
	size_t chunk;
	int ea, eb = 0;

	if (size < 1)
		return 0;
	enc = (enum kaspa_grpc_enc)(data[0] % 3);
	chunk = (data[0] >> 2) + 1;
	data++;
	size--;
	kaspa_grpc_dec_init(&whole, LIMIT, enc);
	kaspa_grpc_dec_init(&chunked, LIMIT, enc);
	ea = kaspa_grpc_dec_feed(&whole, data, size, add, &a);
	for (size_t off = 0; off < size && !eb; off += chunk)
		eb = kaspa_grpc_dec_feed(&chunked, data + off, size - off < chunk ? size - off : chunk,
					 add, &b);
	if (ea != eb || a.n != b.n || a.bytes != b.bytes || a.hash != b.hash)
		abort();
	kaspa_grpc_dec_free(&whole);
	kaspa_grpc_dec_free(&chunked);

	/* framing what we got back decodes to itself */
	struct vbuf out = VBUF_INIT;
	struct sum c = { 0 };
	struct kaspa_grpc_dec d;
	size_t n = size < 4096 ? size : 4096;

	if (kaspa_grpc_frame(&out, data, n, enc) == 0) {
		kaspa_grpc_dec_init(&d, LIMIT, enc);
		if (kaspa_grpc_dec_feed(&d, (uint8_t *)out.data, out.len, add, &c) || c.n != 1 ||
		    c.bytes != n)
			abort();
		kaspa_grpc_dec_free(&d);
	}
	vbuf_free(&out);
	return 0;
}
