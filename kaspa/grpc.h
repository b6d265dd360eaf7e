/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * gRPC message framing (the length-prefixed messages inside an HTTP/2 stream): each message is a
 * 1-byte compressed flag, a 4-byte big-endian length and that many bytes. The decoder takes bytes
 * in chunks of any size, rejects a message above its size limit before buffering it, and inflates
 * compressed messages (gzip or deflate, as named by the stream's grpc-encoding header) with the
 * same limit on the inflated size, so a small "zip bomb" cannot grow past it.
 */
#ifndef VIGIL_KASPA_GRPC_H
#define VIGIL_KASPA_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buf.h"

#define KASPA_GRPC_HDR_LEN 5
/* Default limit on one message, before and after decompression (the reference allows 1 GiB). */
#define KASPA_GRPC_DEFAULT_MAX_MSG (4u << 20)

enum kaspa_grpc_enc {
	KASPA_GRPC_IDENTITY,
	KASPA_GRPC_GZIP,
	KASPA_GRPC_DEFLATE,
};

/* Maps a grpc-encoding header value ("identity", "gzip", "deflate") to an encoding; -ENOTSUP for
 * anything else. */
int kaspa_grpc_enc_parse(const char *s, size_t n, enum kaspa_grpc_enc *out);
const char *kaspa_grpc_enc_name(enum kaspa_grpc_enc enc);

/* Called once per complete (decompressed) message; the bytes are valid only during the call.
 * A negative return stops the decoder and is returned by kaspa_grpc_dec_feed(). */
typedef int (*kaspa_grpc_msg_cb)(const uint8_t *msg, size_t len, void *ctx);

struct kaspa_grpc_dec {
	size_t max_msg;
	enum kaspa_grpc_enc enc;	/* what a compressed-flagged message is compressed with */
	uint8_t hdr[KASPA_GRPC_HDR_LEN];
	size_t hdr_len;
	bool compressed;
	uint32_t want;			/* length of the message being collected */
	struct vbuf body;
	int err;			/* sticky: the first error */
	uint64_t messages;		/* messages delivered */
	uint64_t compressed_messages;	/* of which arrived compressed */
};

/* @max_msg 0 means KASPA_GRPC_DEFAULT_MAX_MSG. The decoder owns its buffer; free it with
 * kaspa_grpc_dec_free(). */
void kaspa_grpc_dec_init(struct kaspa_grpc_dec *d, size_t max_msg, enum kaspa_grpc_enc enc);
void kaspa_grpc_dec_free(struct kaspa_grpc_dec *d);

/*
 * Feeds @n bytes and calls @cb for each message they complete. Returns 0, or a negative errno:
 * -EMSGSIZE (a message, or its inflated form, is larger than max_msg), -EPROTO (flag byte not 0 or
 * 1, a compressed message on an identity stream, or corrupt compressed data), -ENOMEM, or the
 * callback's own negative return. Errors are sticky: later calls return the same error.
 */
int kaspa_grpc_dec_feed(struct kaspa_grpc_dec *d, const uint8_t *p, size_t n, kaspa_grpc_msg_cb cb,
			void *ctx);
/* True when no partial message is buffered (the stream may end here cleanly). */
bool kaspa_grpc_dec_idle(const struct kaspa_grpc_dec *d);

/*
 * Inflates @n bytes of gzip (or zlib-wrapped deflate) into a buffer the caller frees. Stops with
 * -EMSGSIZE as soon as the output would exceed @max_out, -EPROTO for corrupt or truncated input,
 * -ENOMEM. Concatenated gzip members are accepted (gzip allows them).
 */
int kaspa_grpc_inflate(enum kaspa_grpc_enc enc, const uint8_t *in, size_t n, size_t max_out,
		       uint8_t **out, size_t *out_len);

/* Appends one framed message to @out, compressed with @enc (flag 1) or not (IDENTITY, flag 0).
 * 0, -EMSGSIZE (longer than 4 GiB - 1) or -ENOMEM. */
int kaspa_grpc_frame(struct vbuf *out, const uint8_t *msg, size_t len, enum kaspa_grpc_enc enc);

#endif
