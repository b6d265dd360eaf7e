// SPDX-License-Identifier: GPL-2.0-only
/* gRPC length-prefixed message framing and gzip/deflate, see grpc.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "grpc.h"

int kaspa_grpc_enc_parse(const char *s, size_t n, enum kaspa_grpc_enc *out)
{
	static const struct {
		const char *name;
		enum kaspa_grpc_enc enc;
	} encs[] = { { "identity", KASPA_GRPC_IDENTITY },
		     { "gzip", KASPA_GRPC_GZIP },
		     { "deflate", KASPA_GRPC_DEFLATE } };

	for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
		if (strlen(encs[i].name) == n && strncasecmp(s, encs[i].name, n) == 0) {
			*out = encs[i].enc;
			return 0;
		}
	}
	return -ENOTSUP;
}

const char *kaspa_grpc_enc_name(enum kaspa_grpc_enc enc)
{
	switch (enc) {
	case KASPA_GRPC_GZIP:
		return "gzip";
	case KASPA_GRPC_DEFLATE:
		return "deflate";
	default:
		return "identity";
	}
}

void kaspa_grpc_dec_init(struct kaspa_grpc_dec *d, size_t max_msg, enum kaspa_grpc_enc enc)
{
	memset(d, 0, sizeof(*d));
	d->max_msg = max_msg ? max_msg : KASPA_GRPC_DEFAULT_MAX_MSG;
	d->enc = enc;
}

void kaspa_grpc_dec_free(struct kaspa_grpc_dec *d)
{
	vbuf_free(&d->body);
}

bool kaspa_grpc_dec_idle(const struct kaspa_grpc_dec *d)
{
	return d->hdr_len == 0;
}

/* zlib window bits: 16+15 reads a gzip wrapper, 15 a zlib wrapper (grpc's "deflate"). */
static int enc_window_bits(enum kaspa_grpc_enc enc)
{
	return enc == KASPA_GRPC_GZIP ? 16 + MAX_WBITS : MAX_WBITS;
}

int kaspa_grpc_inflate(enum kaspa_grpc_enc enc, const uint8_t *in, size_t n, size_t max_out,
		       uint8_t **out, size_t *out_len)
{
	z_stream zs = { 0 };
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	int zr, err = 0;

	*out = NULL;
	*out_len = 0;
	if (enc == KASPA_GRPC_IDENTITY || n > UINT32_MAX)
		return -EINVAL;
	if (inflateInit2(&zs, enc_window_bits(enc)) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : (n * 4 < 4096 ? 4096 : n * 4);
			uint8_t *nb;

			/* one byte past the limit tells "exactly max_out" from "more" */
			if (ncap > max_out + 1)
				ncap = max_out + 1;
			if (ncap <= cap) {
				err = -EMSGSIZE;
				break;
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		zs.next_out = buf + len;
		zs.avail_out = (uInt)(cap - len);
		zr = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
		if (len > max_out) {
			err = -EMSGSIZE;
			break;
		}
		if (zr == Z_STREAM_END) {
			if (zs.avail_in == 0)
				break;
			/* another gzip member follows; deflate allows only one stream */
			if (enc != KASPA_GRPC_GZIP || inflateReset(&zs) != Z_OK) {
				err = -EPROTO;
				break;
			}
			continue;
		}
		if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
			err = -EPROTO; /* truncated */
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			err = zr == Z_MEM_ERROR ? -ENOMEM : -EPROTO;
			break;
		}
	}
	inflateEnd(&zs);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

/* Delivers the collected message (inflating it first when flagged) and resets for the next. */
static int deliver(struct kaspa_grpc_dec *d, const uint8_t *p, size_t n, kaspa_grpc_msg_cb cb,
		   void *ctx)
{
	int err;

	d->hdr_len = 0;
	if (d->compressed && n > 0) {
		uint8_t *plain;
		size_t plen;

		if (d->enc == KASPA_GRPC_IDENTITY)
			return -EPROTO;
		err = kaspa_grpc_inflate(d->enc, p, n, d->max_msg, &plain, &plen);
		if (err)
			return err;
		d->compressed_messages++;
		err = cb(plain, plen, ctx);
		free(plain);
	} else {
		err = cb(p, n, ctx);
	}
	d->messages++;
	return err < 0 ? err : 0;
}

/*
 * The decoder keeps at most one partial message. A message wholly inside the current chunk is
 * delivered from the caller's bytes without a copy; only one split across chunks is buffered.
 */
int kaspa_grpc_dec_feed(struct kaspa_grpc_dec *d, const uint8_t *p, size_t n, kaspa_grpc_msg_cb cb,
			void *ctx)
{
	int err;

	if (d->err)
		return d->err;
	while (n > 0) {
		if (d->hdr_len < KASPA_GRPC_HDR_LEN) {
			size_t take = KASPA_GRPC_HDR_LEN - d->hdr_len;

			if (take > n)
				take = n;
			memcpy(d->hdr + d->hdr_len, p, take);
			d->hdr_len += take;
			p += take;
			n -= take;
			if (d->hdr_len < KASPA_GRPC_HDR_LEN)
				break;
			if (d->hdr[0] > 1) {
				err = -EPROTO;
				goto fail;
			}
			d->compressed = d->hdr[0] == 1;
			d->want = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 |
				  (uint32_t)d->hdr[3] << 8 | d->hdr[4];
			if (d->want > d->max_msg) {
				err = -EMSGSIZE;
				goto fail;
			}
			vbuf_reset(&d->body);
			if (d->want == 0) {
				/* an empty message completes with its header */
				err = deliver(d, p, 0, cb, ctx);
				if (err)
					goto fail;
				continue;
			}
		}
		if (d->body.len == 0 && n >= d->want) {
			/* the whole message is in this chunk */
			size_t w = d->want;

			err = deliver(d, p, w, cb, ctx);
			if (err)
				goto fail;
			p += w;
			n -= w;
			continue;
		}
		size_t take = d->want - d->body.len;

		if (take > n)
			take = n;
		if (vbuf_append(&d->body, p, take)) {
			err = -ENOMEM;
			goto fail;
		}
		p += take;
		n -= take;
		if (d->body.len == d->want) {
			err = deliver(d, (const uint8_t *)d->body.data, d->body.len, cb, ctx);
			vbuf_free(&d->body); /* do not keep the largest message's buffer */
			if (err)
				goto fail;
		}
	}
	return 0;
fail:
	d->err = err;
	return err;
}

int kaspa_grpc_frame(struct vbuf *out, const uint8_t *msg, size_t len, enum kaspa_grpc_enc enc)
{
	uint8_t hdr[KASPA_GRPC_HDR_LEN];
	size_t start = out->len;
	uint32_t body;

	if (len > UINT32_MAX)
		return -EMSGSIZE;
	if (enc == KASPA_GRPC_IDENTITY) {
		body = (uint32_t)len;
		hdr[0] = 0;
		hdr[1] = body >> 24;
		hdr[2] = body >> 16;
		hdr[3] = body >> 8;
		hdr[4] = body;
		if (vbuf_append(out, hdr, sizeof(hdr)) || vbuf_append(out, msg, len))
			goto nomem;
		return 0;
	}

	z_stream zs = { 0 };
	uLong bound;
	int zr;

	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, enc_window_bits(enc), 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	bound = deflateBound(&zs, (uLong)len);
	if (vbuf_reserve(out, KASPA_GRPC_HDR_LEN + bound + 1)) {
		deflateEnd(&zs);
		goto nomem;
	}
	zs.next_in = (Bytef *)msg;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out->data + start + KASPA_GRPC_HDR_LEN;
	zs.avail_out = (uInt)bound;
	zr = deflate(&zs, Z_FINISH);
	body = (uint32_t)zs.total_out;
	deflateEnd(&zs);
	if (zr != Z_STREAM_END)
		return -ENOMEM;
	hdr[0] = 1;
	hdr[1] = body >> 24;
	hdr[2] = body >> 16;
	hdr[3] = body >> 8;
	hdr[4] = body;
	memcpy(out->data + start, hdr, sizeof(hdr));
	out->len = start + KASPA_GRPC_HDR_LEN + body;
	out->data[out->len] = 0;
	return 0;
nomem:
	out->len = start;
	return -ENOMEM;
}
