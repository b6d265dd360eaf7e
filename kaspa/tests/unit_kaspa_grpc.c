// SPDX-License-Identifier: GPL-2.0-only
/*
 * gRPC framing: every split point of a stream of messages (plain, empty, gzip, deflate) gives
 * the same messages; oversized, corrupt and bomb-like input is refused with the right error.
 * Compressed input is produced here with zlib directly, not with the code under test.
 */
#include <zlib.h>

#include "test.h"
#include "../grpc.h"

struct got {
	int n;
	size_t len[16];
	uint8_t data[16][4096];
};

static int collect(const uint8_t *msg, size_t len, void *ctx)
{
	struct got *g = ctx;

	if (g->n >= 16 || len > sizeof(g->data[0]))
		return -E2BIG;
	memcpy(g->data[g->n], msg, len);
	g->len[g->n++] = len;
	return 0;
}

/* gzip (or zlib) of @n bytes with zlib itself; returns the compressed length. */
static size_t zlib_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap, bool gzip)
{
	z_stream zs = { 0 };
	size_t len;

	if (deflateInit2(&zs, 9, Z_DEFLATED, gzip ? 31 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		len = 0;
	else
		len = zs.total_out;
	deflateEnd(&zs);
	return len;
}

static size_t put_frame(uint8_t *out, uint8_t flag, const uint8_t *body, size_t n)
{
	out[0] = flag;
	out[1] = n >> 24;
	out[2] = n >> 16;
	out[3] = n >> 8;
	out[4] = n;
	memcpy(out + 5, body, n);
	return n + 5;
}

static uint8_t msg_a[300], msg_b[1000];

/* The stream: A plain, empty plain, B gzip-compressed, A again. */
static size_t build_stream(uint8_t *s, bool gzip)
{
	uint8_t z[2048];
	size_t n = 0, zl;

	for (size_t i = 0; i < sizeof(msg_a); i++)
		msg_a[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(msg_b); i++)
		msg_b[i] = (uint8_t)(i % 13);
	zl = zlib_compress(msg_b, sizeof(msg_b), z, sizeof(z), gzip);
	n += put_frame(s + n, 0, msg_a, sizeof(msg_a));
	n += put_frame(s + n, 0, NULL, 0);
	n += put_frame(s + n, 1, z, zl);
	n += put_frame(s + n, 0, msg_a, sizeof(msg_a));
	return n;
}

static bool check_got(const struct got *g, const char *what)
{
	return ASSERT_EQ(g->n, 4, what) && ASSERT_EQ(g->len[0], sizeof(msg_a), what) &&
	       ASSERT_TRUE(memcmp(g->data[0], msg_a, sizeof(msg_a)) == 0, what) &&
	       ASSERT_EQ(g->len[1], 0, what) && ASSERT_EQ(g->len[2], sizeof(msg_b), what) &&
	       ASSERT_TRUE(memcmp(g->data[2], msg_b, sizeof(msg_b)) == 0, what) &&
	       ASSERT_EQ(g->len[3], sizeof(msg_a), what);
}

static void test_every_split_point(void)
{
	static uint8_t s[4096];
	size_t n = build_stream(s, true);

	for (size_t cut = 0; cut <= n; cut++) {
		struct kaspa_grpc_dec d;
		static struct got g;
		char what[64];

		memset(&g, 0, sizeof(g));
		snprintf(what, sizeof(what), "split at %zu", cut);
		kaspa_grpc_dec_init(&d, 0, KASPA_GRPC_GZIP);
		ASSERT_OK(kaspa_grpc_dec_feed(&d, s, cut, collect, &g), what);
		ASSERT_OK(kaspa_grpc_dec_feed(&d, s + cut, n - cut, collect, &g), what);
		ASSERT_TRUE(kaspa_grpc_dec_idle(&d), "idle at the end");
		kaspa_grpc_dec_free(&d);
		if (!check_got(&g, what))
			return;
	}
}

static void test_byte_by_byte_and_three_way_splits(void)
{
	static uint8_t s[4096];
	static struct got g;
	size_t n = build_stream(s, false);
	struct kaspa_grpc_dec d;

	kaspa_grpc_dec_init(&d, 0, KASPA_GRPC_DEFLATE);
	for (size_t i = 0; i < n; i++)
		if (!ASSERT_OK(kaspa_grpc_dec_feed(&d, s + i, 1, collect, &g), "byte"))
			return;
	kaspa_grpc_dec_free(&d);
	if (!check_got(&g, "byte by byte, deflate"))
		return;
	/* every pair of cuts at a stride (the full n^2 is slow and adds nothing) */
	for (size_t c1 = 0; c1 <= n; c1 += 7) {
		for (size_t c2 = c1; c2 <= n; c2 += 11) {
			memset(&g, 0, sizeof(g));
			kaspa_grpc_dec_init(&d, 0, KASPA_GRPC_DEFLATE);
			kaspa_grpc_dec_feed(&d, s, c1, collect, &g);
			kaspa_grpc_dec_feed(&d, s + c1, c2 - c1, collect, &g);
			kaspa_grpc_dec_feed(&d, s + c2, n - c2, collect, &g);
			kaspa_grpc_dec_free(&d);
			if (!check_got(&g, "three chunks"))
				return;
		}
	}
}

static void test_oversize_rejected_before_body(void)
{
	uint8_t hdr[5] = { 0, 0, 0, 0x04, 0x01 }; /* 1025 bytes announced */
	struct kaspa_grpc_dec d;
	static struct got g;

	kaspa_grpc_dec_init(&d, 1024, KASPA_GRPC_IDENTITY);
	ASSERT_EQ(kaspa_grpc_dec_feed(&d, hdr, 5, collect, &g), -EMSGSIZE, "header alone refused");
	ASSERT_EQ(kaspa_grpc_dec_feed(&d, hdr, 1, collect, &g), -EMSGSIZE, "sticky");
	ASSERT_EQ(d.body.cap, 0, "nothing buffered");
	kaspa_grpc_dec_free(&d);

	/* exactly the limit is fine */
	static uint8_t s[1100], body[1024];
	size_t n = put_frame(s, 0, body, sizeof(body));

	kaspa_grpc_dec_init(&d, 1024, KASPA_GRPC_IDENTITY);
	ASSERT_OK(kaspa_grpc_dec_feed(&d, s, n, collect, &g), "1024 of 1024");
	kaspa_grpc_dec_free(&d);

	/* the default limit is 4 MiB */
	uint8_t big[5] = { 0, 0, 0x40, 0, 1 };

	kaspa_grpc_dec_init(&d, 0, KASPA_GRPC_IDENTITY);
	ASSERT_EQ(kaspa_grpc_dec_feed(&d, big, 5, collect, &g), -EMSGSIZE, "4 MiB + 1");
	kaspa_grpc_dec_free(&d);
}

static void test_gzip_bomb_capped(void)
{
	static uint8_t zeros[1 << 20], z[1 << 16], s[(1 << 16) + 5];
	static struct got g;
	struct kaspa_grpc_dec d;
	size_t zl = zlib_compress(zeros, sizeof(zeros), z, sizeof(z), true), n;
	uint8_t *out;
	size_t out_len;

	ASSERT_TRUE(zl > 0 && zl < 4096, "1 MiB of zeros compresses small");
	n = put_frame(s, 1, z, zl);
	kaspa_grpc_dec_init(&d, 65536, KASPA_GRPC_GZIP);
	ASSERT_EQ(kaspa_grpc_dec_feed(&d, s, n, collect, &g), -EMSGSIZE, "inflated size capped");
	ASSERT_EQ(g.n, 0, "nothing delivered");
	kaspa_grpc_dec_free(&d);

	ASSERT_OK(kaspa_grpc_inflate(KASPA_GRPC_GZIP, z, zl, sizeof(zeros), &out, &out_len),
		  "exactly the cap");
	ASSERT_EQ(out_len, sizeof(zeros), "inflated length");
	free(out);
	ASSERT_EQ(kaspa_grpc_inflate(KASPA_GRPC_GZIP, z, zl, sizeof(zeros) - 1, &out, &out_len),
		  -EMSGSIZE, "one below the cap");
}

static void test_bad_input(void)
{
	static struct got g;
	struct kaspa_grpc_dec d;
	uint8_t s[64], z[64], plain[20] = "hello hello hello";
	size_t zl = zlib_compress(plain, sizeof(plain), z, sizeof(z), true), n;

	/* flag 2 */
	n = put_frame(s, 2, plain, 3);
	kaspa_grpc_dec_init(&d, 0, KASPA_GRPC_GZIP);
	ASSERT_EQ(kaspa_grpc_dec_feed(&d, s, n, collect, &g), -EPROTO, "flag 2");
	kaspa_grpc_dec_free(&d);
	/* compressed flag on an identity stream */
	n = put_frame(s, 1, z, zl);
	kaspa_grpc_dec_init(&d, 0, KASPA_GRPC_IDENTITY);
	ASSERT_EQ(kaspa_grpc_dec_feed(&d, s, n, collect, &g), -EPROTO, "no grpc-encoding");
	kaspa_grpc_dec_free(&d);
	/* truncated gzip */
	n = put_frame(s, 1, z, zl - 6);
	kaspa_grpc_dec_init(&d, 0, KASPA_GRPC_GZIP);
	ASSERT_EQ(kaspa_grpc_dec_feed(&d, s, n, collect, &g), -EPROTO, "truncated gzip");
	kaspa_grpc_dec_free(&d);
	/* corrupt gzip */
	memcpy(s + 5, z, zl);
	s[5 + 12] ^= 0xff;
	s[5 + 13] ^= 0x55;
	kaspa_grpc_dec_init(&d, 0, KASPA_GRPC_GZIP);
	ASSERT_EQ(kaspa_grpc_dec_feed(&d, s, zl + 5, collect, &g), -EPROTO, "corrupt gzip");
	kaspa_grpc_dec_free(&d);
	/* deflate data on a gzip stream */
	zl = zlib_compress(plain, sizeof(plain), z, sizeof(z), false);
	n = put_frame(s, 1, z, zl);
	kaspa_grpc_dec_init(&d, 0, KASPA_GRPC_GZIP);
	ASSERT_EQ(kaspa_grpc_dec_feed(&d, s, n, collect, &g), -EPROTO, "zlib on gzip");
	kaspa_grpc_dec_free(&d);
	ASSERT_EQ(g.n, 0, "nothing delivered");
}

/* What we frame, zlib and our decoder read back; gzip output is a real gzip member. */
static void test_encode_round_trip(void)
{
	static struct got g;
	struct vbuf b = VBUF_INIT;
	struct kaspa_grpc_dec d;
	uint8_t msg[500], plain[600];
	z_stream zs = { 0 };

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i / 3);
	ASSERT_OK(kaspa_grpc_frame(&b, msg, sizeof(msg), KASPA_GRPC_IDENTITY), "plain");
	ASSERT_OK(kaspa_grpc_frame(&b, msg, sizeof(msg), KASPA_GRPC_GZIP), "gzip");
	ASSERT_EQ((uint8_t)b.data[0], 0, "flag 0");
	ASSERT_EQ((uint8_t)b.data[5 + sizeof(msg)], 1, "flag 1");
	ASSERT_EQ((uint8_t)b.data[5 + sizeof(msg) + 5], 0x1f, "gzip magic");
	/* zlib reads the gzip body independently */
	inflateInit2(&zs, 31);
	zs.next_in = (Bytef *)b.data + 2 * 5 + sizeof(msg);
	zs.avail_in = (uInt)(b.len - 2 * 5 - sizeof(msg));
	zs.next_out = plain;
	zs.avail_out = sizeof(plain);
	ASSERT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END, "zlib inflates our gzip");
	ASSERT_EQ(zs.total_out, sizeof(msg), "length");
	inflateEnd(&zs);
	kaspa_grpc_dec_init(&d, 0, KASPA_GRPC_GZIP);
	ASSERT_OK(kaspa_grpc_dec_feed(&d, (uint8_t *)b.data, b.len, collect, &g), "decode");
	ASSERT_EQ(g.n, 2, "two messages");
	ASSERT_TRUE(g.len[1] == sizeof(msg) && memcmp(g.data[1], msg, sizeof(msg)) == 0, "same");
	kaspa_grpc_dec_free(&d);
	vbuf_free(&b);
}

static void test_encoding_names(void)
{
	enum kaspa_grpc_enc e;

	ASSERT_OK(kaspa_grpc_enc_parse("gzip", 4, &e), "gzip");
	ASSERT_EQ(e, KASPA_GRPC_GZIP, "gzip");
	ASSERT_OK(kaspa_grpc_enc_parse("identity", 8, &e), "identity");
	ASSERT_EQ(kaspa_grpc_enc_parse("snappy", 6, &e), -ENOTSUP, "snappy");
	ASSERT_EQ(kaspa_grpc_enc_parse("gzipx", 4, &e), 0, "length bounded");
}

TESTS(T(test_every_split_point), T(test_byte_by_byte_and_three_way_splits),
      T(test_oversize_rejected_before_body), T(test_gzip_bomb_capped), T(test_bad_input),
      T(test_encode_round_trip), T(test_encoding_names))
