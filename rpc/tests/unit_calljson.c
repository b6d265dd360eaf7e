// SPDX-License-Identifier: GPL-2.0-only
/*
 * rpc_call_to_json() writes the event straight into its buffer for speed. These tests hold it to
 * the bytes the generic JSON writer (vjw, lib/buf.c) produced for the same call before that
 * change: ref_to_json() below is that earlier implementation, fed random calls whose strings
 * hold every kind of byte (quotes, backslashes, control characters, valid and invalid UTF-8).
 */
#include <limits.h>
#include <time.h>

#include "test.h"
#include "vigil/util.h"
#include "../call.h"

/* ---- the reference: rpc_call_to_json() as it was, through vjw ---- */

static void ref_key(struct vjw *w, const char *k)
{
	char tmp[64];
	int n = snprintf(tmp, sizeof(tmp), "\"%s\":", k);

	vjw_raw(w, tmp, (size_t)n);
	w->after_key = true;
}

static void ref_strraw(struct vjw *w, const char *s)
{
	char tmp[48];
	int n = snprintf(tmp, sizeof(tmp), "\"%s\"", s);

	vjw_raw(w, tmp, (size_t)n);
}

static int ref_to_json(const struct rpc_call *c, const struct rpc_call_meta *m, struct vbuf *out)
{
	struct timespec tsp = { .tv_sec = (time_t)(m->ts_real_ns / 1000000000ull),
				.tv_nsec = (long)(m->ts_real_ns % 1000000000ull) };
	char ts[VTIME_BUFLEN];
	struct vjw w;

	vjw_init(&w, out);
	vjw_obj(&w);
	ref_key(&w, "ts");
	ref_strraw(&w, vtime_utc_us(ts, sizeof(ts), &tsp));
	ref_key(&w, "app_id");
	vjw_str(&w, m->app_id);
	ref_key(&w, "pid");
	vjw_uint(&w, m->pid);
	ref_key(&w, "comm");
	vjw_str(&w, m->comm);
	ref_key(&w, "client");
	vjw_str(&w, m->client);
	ref_key(&w, "server_port");
	vjw_uint(&w, m->server_port);
	ref_key(&w, "transport");
	ref_strraw(&w, rpc_transport_str(c->transport));
	ref_key(&w, "kind");
	ref_strraw(&w, rpc_kind_str(c->kind));
	ref_key(&w, "method");
	if (c->method_len)
		vjw_strn(&w, c->method, c->method_len);
	else
		vjw_null(&w);
	ref_key(&w, "method_truncated");
	vjw_bool(&w, c->method_truncated);
	ref_key(&w, "id");
	if (c->id_kind == RPC_ID_STRING || c->id_kind == RPC_ID_NUMBER)
		vjw_strn(&w, c->id, c->id_len);
	else
		vjw_null(&w);
	ref_key(&w, "batch_index");
	vjw_uint(&w, c->batch_index);
	ref_key(&w, "batch_size");
	vjw_uint(&w, c->batch_size);
	ref_key(&w, "req_bytes");
	vjw_uint(&w, c->req_bytes);
	ref_key(&w, "resp_bytes");
	vjw_uint(&w, c->resp_bytes);
	ref_key(&w, "latency_ns");
	vjw_uint(&w, c->latency_ns);
	ref_key(&w, "status");
	ref_strraw(&w, rpc_status_str(c->status));
	ref_key(&w, "error_code");
	if (c->has_error_code)
		vjw_int(&w, c->error_code);
	else
		vjw_null(&w);
	ref_key(&w, "error_message");
	if (c->status == RPC_STATUS_ERROR && c->error_message_len)
		vjw_strn(&w, c->error_message, c->error_message_len);
	else
		vjw_null(&w);
	ref_key(&w, "http_status");
	if (c->transport == RPC_TRANSPORT_HTTP && c->http_status)
		vjw_int(&w, c->http_status);
	else
		vjw_null(&w);
	if (m->params) {
		ref_key(&w, "params");
		vjw_strn(&w, m->params, m->params_len);
		ref_key(&w, "params_truncated");
		vjw_bool(&w, m->params_truncated);
	}
	vjw_end(&w);
	return w.err ? -w.err : 0;
}

/* ---- random calls ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Bytes drawn to hit every branch of the escaper: plain text, escapes, UTF-8 good and bad. */
static size_t rnd_text(char *dst, size_t max)
{
	static const char *const bits[] = {
		"eth_call", "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x01", "\x1f", "\x7f",
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3", "\xe2\x82", "\xff",
		"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "/", " ", "0x1"
	};
	size_t n = 0, want = rnd() % (max + 1);

	while (n < want) {
		const char *b = bits[rnd() % ARRAY_SIZE(bits)];
		size_t l = strlen(b);

		if (rnd() % 4 == 0) {
			dst[n++] = (char)(rnd() & 0xff);
			continue;
		}
		if (n + l > want)
			l = want - n;
		memcpy(dst + n, b, l);
		n += l;
	}
	dst[n] = 0;
	return n;
}

static uint64_t rnd_num(void)
{
	switch (rnd() % 4) {
	case 0: return 0;
	case 1: return rnd() % 1000;
	case 2: return UINT64_MAX - rnd() % 3;
	default: return rnd();
	}
}

static void rnd_call(struct rpc_call *c, struct rpc_call_meta *m, char *strs, char *params)
{
	static const long long codes[] = { 0, 3, -32601, -32700, LLONG_MIN, LLONG_MAX, -1 };

	memset(c, 0, sizeof(*c));
	c->transport = (enum rpc_transport)(rnd() % 2);
	c->kind = (enum rpc_kind)(rnd() % 3);
	c->status = (enum rpc_status)(rnd() % 3);
	c->id_kind = (enum rpc_id_kind)(rnd() % 4);
	c->method_len = (uint16_t)rnd_text(c->method, RPC_METHOD_MAX);
	c->method_truncated = rnd() % 2;
	c->id_len = (uint8_t)rnd_text(c->id, RPC_ID_MAX);
	c->has_error_code = rnd() % 2;
	c->error_code = rnd() % 2 ? codes[rnd() % ARRAY_SIZE(codes)] : (long long)rnd();
	c->error_message_len = (uint16_t)rnd_text(c->error_message, RPC_ERRMSG_MAX);
	c->batch_index = (uint32_t)rnd_num();
	c->batch_size = (uint32_t)rnd_num();
	c->http_status = rnd() % 2 ? (int)(rnd() % 600) : (int)rnd();
	c->req_bytes = rnd_num();
	c->resp_bytes = rnd_num();
	c->latency_ns = rnd_num();
	memset(m, 0, sizeof(*m));
	/* from 1970 to 2262, nanoseconds and all */
	m->ts_real_ns = rnd() % 2 ? rnd() : 1763702904000000000ull + rnd() % 4000000000ull;
	m->pid = (uint32_t)rnd();
	m->server_port = (uint16_t)rnd();
	m->app_id = rnd() % 8 ? strs : NULL;
	rnd_text(strs, 40);
	m->comm = rnd() % 8 ? strs + 64 : NULL;
	rnd_text(strs + 64, 15);
	m->client = rnd() % 8 ? strs + 128 : NULL;
	rnd_text(strs + 128, 60);
	if (rnd() % 2) {
		m->params_len = rnd_text(params, 2048);
		m->params = params;
		m->params_truncated = rnd() % 2;
	}
}

/* Random calls: the same bytes as the vjw writer, appended after what the buffer held. */
static void test_same_bytes_as_vjw(void)
{
	static char strs[256], params[4096];
	struct vbuf a = VBUF_INIT, b = VBUF_INIT;
	struct rpc_call c;
	struct rpc_call_meta m;

	for (int i = 0; i < 20000; i++) {
		rnd_call(&c, &m, strs, params);
		/* sometimes append to what is there, as the tracer's and the bench's buffers do */
		if (rnd() % 4 == 0) {
			vbuf_reset(&a);
			vbuf_reset(&b);
		}
		if (!ASSERT_OK(ref_to_json(&c, &m, &a), "reference") ||
		    !ASSERT_OK(rpc_call_to_json(&c, &m, &b), "to_json"))
			break;
		if (!ASSERT_EQ(a.len, b.len, "length") ||
		    !ASSERT_TRUE(!memcmp(a.data, b.data, a.len), "bytes") ||
		    !ASSERT_EQ(b.data[b.len], 0, "NUL-terminated")) {
			fprintf(stderr, "  call %d:\n  want %s\n  got  %s\n", i, a.data, b.data);
			break;
		}
	}
	vbuf_free(&a);
	vbuf_free(&b);
}

/* The longest strings every field can hold, all escaped six-fold, in a buffer that starts empty. */
static void test_worst_case_escapes(void)
{
	static char params[16384];
	struct vbuf a = VBUF_INIT, b = VBUF_INIT;
	struct rpc_call c;
	char app[300], comm[16], client[64];
	struct rpc_call_meta m = { .ts_real_ns = 1, .app_id = app, .comm = comm, .client = client,
				   .params = params, .params_len = sizeof(params) };

	memset(&c, 0, sizeof(c));
	c.status = RPC_STATUS_ERROR;
	c.id_kind = RPC_ID_STRING;
	c.has_error_code = true;
	c.error_code = LLONG_MIN;
	c.http_status = INT_MIN;
	c.req_bytes = c.resp_bytes = c.latency_ns = UINT64_MAX;
	c.batch_index = c.batch_size = UINT32_MAX;
	memset(c.method, 0xff, RPC_METHOD_MAX);
	c.method_len = RPC_METHOD_MAX;
	memset(c.id, 0x01, RPC_ID_MAX);
	c.id_len = RPC_ID_MAX;
	memset(c.error_message, 0x80, RPC_ERRMSG_MAX);
	c.error_message_len = RPC_ERRMSG_MAX;
	memset(app, 0xfe, sizeof(app) - 1);
	app[sizeof(app) - 1] = 0;
	memset(comm, 0x1f, sizeof(comm) - 1);
	comm[sizeof(comm) - 1] = 0;
	memset(client, 0xc0, sizeof(client) - 1);
	client[sizeof(client) - 1] = 0;
	memset(params, 0xf5, sizeof(params));
	ASSERT_OK(ref_to_json(&c, &m, &a), "reference");
	ASSERT_OK(rpc_call_to_json(&c, &m, &b), "to_json");
	ASSERT_EQ(a.len, b.len, "length");
	ASSERT_TRUE(a.len == b.len && !memcmp(a.data, b.data, a.len), "bytes");
	vbuf_free(&a);
	vbuf_free(&b);
}

TESTS(T(test_same_bytes_as_vjw), T(test_worst_case_escapes))
