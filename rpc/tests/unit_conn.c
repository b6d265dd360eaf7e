// SPDX-License-Identifier: GPL-2.0-only
/*
 * struct rpc_conn as the tracer uses it: argument checks, batches over HTTP (every item one
 * call), requests cut by the capture limit, flushing at close, the pending limit, the same
 * stream cut at random places giving the same calls, and every call rendering as valid JSON.
 */
#include <jansson.h>

#include "test.h"
#include "rpc_test.h"

static void test_bad_arguments(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c;

	errno = 0;
	ASSERT_TRUE(rpc_conn_new(NULL, NULL, NULL) == NULL && errno == EINVAL, "no callback");
	c = rpc_conn_new(NULL, rec_cb, &r);
	if (!ASSERT_NOT_NULL(c, "new"))
		return;
	ASSERT_EQ(rpc_conn_feed(c, RPC_DIR_REQUEST, 1, "abc", 3, 2), -EINVAL, "captured > total");
	ASSERT_EQ(rpc_conn_feed(c, (enum rpc_dir)7, 1, "abc", 3, 3), -EINVAL, "bad direction");
	ASSERT_EQ(rpc_conn_feed(c, RPC_DIR_REQUEST, 1, NULL, 0, 100), 0, "all missing is fine");
	ASSERT_EQ(rpc_conn_stats(c)->bad_input, 2, "counted");
	rpc_conn_free(c);
	rpc_conn_free(NULL);
}

/* A batch of 3 over HTTP, one item failing: 3 calls, paired by id within the batch. */
static void test_http_batch_of_three(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;

	http_req(&q, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_blockNumber\"},"
		     "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_foo\"},"
		     "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"eth_getBalance\",\"params\":[1]}]");
	http_resp(&s, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x2\"},"
		      "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32602,\"message\":"
		      "\"invalid argument 0: json: cannot unmarshal\"}},"
		      "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32601,\"message\":"
		      "\"the method eth_foo does not exist/is not available\"}}]");
	feed_str(c, RPC_DIR_REQUEST, 1, q.data);
	feed_str(c, RPC_DIR_RESPONSE, 5, s.data);
	if (!ASSERT_EQ(r.n, 3, "three calls"))
		goto out;
	for (uint32_t i = 0; i < 3; i++) {
		ASSERT_EQ(r.v[i].batch_index, i, "index");
		ASSERT_EQ(r.v[i].batch_size, 3, "size");
		ASSERT_EQ(r.v[i].req_bytes, q.len, "batch request bytes");
		ASSERT_EQ(r.v[i].resp_bytes, s.len, "batch response bytes");
		ASSERT_EQ(r.v[i].latency_ns, 4, "latency");
	}
	ASSERT_EQ(r.v[0].status, RPC_STATUS_OK, "0 ok");
	ASSERT_STREQ(r.v[1].method, "eth_foo", "1 method");
	ASSERT_EQ(r.v[1].error_code, -32601, "1 code");
	ASSERT_STREQ(r.v[2].method, "eth_getBalance", "2 method");
	ASSERT_EQ(r.v[2].error_code, -32602, "2 code");
	ASSERT_EQ(rpc_conn_stats(c)->batches, 1, "batches");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&r);
}

/* A whole batch refused with one error; a notification inside a batch gets no answer. */
static void test_batch_refused_and_notifications(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;

	http_req(&q, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"id\":2,"
		     "\"method\":\"b\"}]");
	http_resp(&s, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":"
		      "\"batch too large\"}}");
	http_req(&q, "[{\"jsonrpc\":\"2.0\",\"method\":\"notify_me\"},{\"jsonrpc\":\"2.0\",\"id\":3,"
		     "\"method\":\"c\"}]");
	http_resp(&s, "[{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":1}]");
	feed_str(c, RPC_DIR_REQUEST, 1, q.data);
	feed_str(c, RPC_DIR_RESPONSE, 2, s.data);
	if (!ASSERT_EQ(r.n, 4, "calls"))
		goto out;
	ASSERT_EQ(r.v[0].error_code, -32600, "a refused");
	ASSERT_EQ(r.v[1].error_code, -32600, "b refused");
	ASSERT_STREQ(r.v[2].method, "notify_me", "notification");
	ASSERT_EQ(r.v[2].status, RPC_STATUS_OK, "notification needs no answer");
	ASSERT_EQ(r.v[2].id_kind, RPC_ID_NONE, "no id");
	ASSERT_EQ(r.v[3].status, RPC_STATUS_OK, "c ok");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&r);
}

/* A large request cut at 4 KiB: the method ahead of the cut is found, one after it is not. */
static void test_request_cut_by_capture(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT, body = VBUF_INIT;
	uint64_t ts = 1000;

	vbuf_puts(&body, "{\"jsonrpc\":\"2.0\",\"method\":\"eth_sendRawTransaction\",\"id\":1,"
			 "\"params\":[\"0x");
	while (body.len < 20000)
		vbuf_puts(&body, "00ff");
	vbuf_puts(&body, "\"]}");
	http_req(&q, body.data);
	vbuf_reset(&body);
	vbuf_puts(&body, "{\"jsonrpc\":\"2.0\",\"id\":2,\"params\":[\"0x");
	while (body.len < 20000)
		vbuf_puts(&body, "00ff");
	vbuf_puts(&body, "\"],\"method\":\"eth_call\"}");
	http_req(&q, body.data);
	http_resp(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0xabc\"}");
	http_resp(&s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":3,\"message\":"
		      "\"execution reverted\"}}");
	/* the client's writes arrive as 8 KiB reads; 4 KiB of each captured */
	feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 8192, 4096);
	uint64_t t_req_end = ts;
	feed_split(c, RPC_DIR_RESPONSE, &ts, s.data, s.len, 65536, 4096);
	if (!ASSERT_EQ(r.n, 2, "calls"))
		goto out;
	ASSERT_STREQ(r.v[0].method, "eth_sendRawTransaction", "method before the cut");
	ASSERT_TRUE(r.v[0].req_truncated, "request truncated");
	ASSERT_EQ(r.v[0].ts_ns, 1000, "first byte ts");
	ASSERT_EQ(r.v[0].latency_ns, t_req_end - 1000, "latency");
	ASSERT_EQ(r.v[1].method_len, 0, "method after the cut is unknown");
	ASSERT_EQ(r.v[1].error_code, 3, "but the outcome is known");
	ASSERT_EQ(rpc_conn_stats(c)->desyncs, 0, "framing kept");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	vbuf_free(&body);
	rec_free(&r);
}

static void test_close_and_pending_limit(void)
{
	struct rec r = { 0 };
	struct rpc_conn_opts o = { .max_pending = 4 };
	struct rpc_conn *c = rpc_conn_new(&o, rec_cb, &r);
	struct vbuf q = VBUF_INIT;
	char body[96];

	for (int i = 0; i < 10; i++) {
		snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"m\"}", i);
		http_req(&q, body);
	}
	feed_str(c, RPC_DIR_REQUEST, 1, q.data);
	ASSERT_EQ(r.n, 6, "the oldest beyond the limit are given up");
	ASSERT_EQ(r.v[0].status, RPC_STATUS_UNKNOWN, "unknown");
	ASSERT_STREQ(r.v[0].id, "0", "oldest first");
	rpc_conn_close(c, 2);
	ASSERT_EQ(r.n, 10, "the rest at close");
	ASSERT_STREQ(r.v[9].id, "9", "last");
	ASSERT_EQ(rpc_conn_stats(c)->unanswered, 10, "unanswered");
	feed_str(c, RPC_DIR_REQUEST, 3, q.data);
	ASSERT_EQ(r.n, 10, "ignored after close");
	rpc_conn_free(c);
	vbuf_free(&q);
	rec_free(&r);
}

/* Builds a mixed HTTP stream; returns the request and response streams. */
static void mixed_stream(struct vbuf *q, struct vbuf *s)
{
	char body[256];

	for (int i = 0; i < 40; i++) {
		snprintf(body, sizeof(body),
			 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"eth_m%d\",\"params\":[\"a\\\"}\"]}",
			 i, i % 5);
		http_req(q, body);
		if (i % 4 == 3) {
			snprintf(body, sizeof(body),
				 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"error\":{\"code\":%d,\"message\":\"e%d\"}}",
				 i, -32000 - i, i);
			http_resp(s, body);
		} else if (i % 4 == 1) {
			snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":\"%0*d\"}",
				 i, 100 + i, i);
			vbuf_printf(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
				    strlen(body), body);
		} else {
			snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":%d}", i, i);
			http_resp(s, body);
		}
	}
}

/* The same bytes cut at random places (fully captured) give the same calls. */
static void test_random_cuts_same_calls(void)
{
	struct rec whole = { 0 }, cut = { 0 };
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;
	struct rpc_conn *a = rpc_conn_new(NULL, rec_cb, &whole);

	mixed_stream(&q, &s);
	rpc_conn_feed(a, RPC_DIR_REQUEST, 1, q.data, q.len, q.len);
	rpc_conn_feed(a, RPC_DIR_RESPONSE, 2, s.data, s.len, s.len);
	if (!ASSERT_EQ(whole.n, 40, "calls"))
		goto out;
	srand(12345);
	for (int round = 0; round < 50; round++) {
		struct rpc_conn *b = rpc_conn_new(NULL, rec_cb, &cut);
		size_t qo = 0, so = 0;

		while (qo < q.len || so < s.len) {
			/* requests stay ahead of responses, as on a real connection */
			size_t n = 1 + (size_t)rand() % 300;
			if (qo < q.len) {
				n = MIN(n, q.len - qo);
				rpc_conn_feed(b, RPC_DIR_REQUEST, 1, q.data + qo, n, n);
				qo += n;
			} else {
				n = MIN(n, s.len - so);
				rpc_conn_feed(b, RPC_DIR_RESPONSE, 2, s.data + so, n, n);
				so += n;
			}
		}
		rpc_conn_free(b);
		if (!ASSERT_EQ(cut.n, whole.n, "same number of calls"))
			break;
		for (size_t i = 0; i < whole.n; i++) {
			const struct rpc_call *x = &whole.v[i], *y = &cut.v[i];
			if (!ASSERT_STREQ(y->method, x->method, "method") ||
			    !ASSERT_STREQ(y->id, x->id, "id") || !ASSERT_EQ(y->status, x->status, "status") ||
			    !ASSERT_EQ(y->error_code, x->error_code, "code") ||
			    !ASSERT_EQ(y->resp_bytes, x->resp_bytes, "resp bytes") ||
			    !ASSERT_EQ(y->req_bytes, x->req_bytes, "req bytes"))
				goto out;
		}
		cut.n = 0;
	}
	ASSERT_EQ(whole.v[3].error_code, -32003, "error item");
	ASSERT_EQ(whole.v[3].status, RPC_STATUS_ERROR, "error status");
	ASSERT_EQ(whole.v[5].status, RPC_STATUS_OK, "chunked ok");
out:
	rpc_conn_free(a);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&whole);
	rec_free(&cut);
}

/* Every call of a stream that mixes everything renders as JSON that jansson accepts. */
static void test_every_call_renders(void)
{
	struct rec r = { 0 };
	struct vbuf q = VBUF_INIT, s = VBUF_INIT, out = VBUF_INIT;
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct rpc_call_meta m = { .ts_real_ns = 1, .app_id = "app", .pid = 1, .comm = "node",
				   .client = "[::1]:4000", .server_port = 8545 };

	mixed_stream(&q, &s);
	/* and a method name with bytes that are not UTF-8 */
	http_req(&q, "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0000\",\"method\":\"bad\xff\xfe\x01\"}");
	http_resp(&s, "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0000\",\"error\":{\"code\":-1,\"message\":\"\x80\"}}");
	rpc_conn_feed(c, RPC_DIR_REQUEST, 1, q.data, q.len, q.len);
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 2, s.data, s.len, s.len);
	if (!ASSERT_EQ(r.n, 41, "calls"))
		goto out;
	for (size_t i = 0; i < r.n; i++) {
		json_error_t jerr;
		json_t *doc;

		vbuf_reset(&out);
		if (!ASSERT_OK(rpc_call_to_json(&r.v[i], &m, &out), "to_json"))
			break;
		doc = json_loads(vbuf_cstr(&out), 0, &jerr);
		if (!ASSERT_NOT_NULL(doc, vbuf_cstr(&out)))
			break;
		json_decref(doc);
	}
	ASSERT_STREQ(r.v[40].id, "\\u0000", "escape kept as text");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	vbuf_free(&out);
	rec_free(&r);
}

/* Every call rendered as JSON (with its params) the moment it comes out, one per line. */
static void render_cb(const struct rpc_call *c, void *ctx)
{
	struct rpc_call_meta m = { .ts_real_ns = 1, .app_id = "app", .pid = 1, .comm = "node",
				   .client = "127.0.0.1:4000", .server_port = 8545,
				   .params = c->params, .params_len = c->params_len,
				   .params_truncated = c->params_truncated };

	rpc_call_to_json(c, &m, ctx);
	vbuf_putc(ctx, '\n');
}

/* The exchanges of test_split_anywhere: bodies under, at and over the body cap; gzip. */
static void cap_stream(struct vbuf *q, struct vbuf *s, size_t body_cap)
{
	struct vbuf body = VBUF_INIT, gz = VBUF_INIT;
	const char *gz_body;

	http_req(q, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_call\","
		    "\"params\":[{\"to\":\"0x6b\"},\"latest\"]}");
	http_resp(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x01\"}");
	/* what tells the calls apart (the id, the error) is in the last bytes: a cut loses it */
	for (size_t want = body_cap - 1; want <= body_cap + 2; want++) {
		char tail[128];

		vbuf_reset(&body);
		vbuf_printf(&body, "{\"jsonrpc\":\"2.0\",\"method\":\"m%zu\",\"params\":[\"", want);
		snprintf(tail, sizeof(tail), "\"],\"id\":%zu}", want);
		while (body.len + strlen(tail) < want)
			vbuf_putc(&body, 'a');
		vbuf_puts(&body, tail);
		http_req(q, body.data);
		vbuf_reset(&body);
		vbuf_puts(&body, "{\"jsonrpc\":\"2.0\",\"x\":\"");
		snprintf(tail, sizeof(tail),
			 "\",\"id\":%zu,\"error\":{\"message\":\"e\",\"code\":-%zu}}", want, want);
		while (body.len + strlen(tail) < want)
			vbuf_putc(&body, 'e');
		vbuf_puts(&body, tail);
		http_resp(s, body.data);
	}
	http_req(q, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"eth_gz\"}");
	gz_body = "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":[1,2,3]}";
	gzip_buf(gz_body, strlen(gz_body), &gz);
	vbuf_printf(s, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
		    gz.len);
	vbuf_append(s, gz.data, gz.len);
	vbuf_free(&body);
	vbuf_free(&gz);
}

/*
 * A body whole in one syscall is handed out where it lies, others are gathered: the same bytes
 * cut into two syscalls at every offset of either direction give the same events as one
 * syscall each, params and all, at the body cap's edge and with gzip.
 */
static void test_split_anywhere(void)
{
	struct rpc_conn_opts o = { .body_cap = 1024, .capture_params = true };
	struct vbuf q = VBUF_INIT, s = VBUF_INIT, whole = VBUF_INIT, cut = VBUF_INIT;
	struct rpc_conn *c = rpc_conn_new(&o, render_cb, &whole);

	cap_stream(&q, &s, o.body_cap);
	rpc_conn_feed(c, RPC_DIR_REQUEST, 1, q.data, q.len, q.len);
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 2, s.data, s.len, s.len);
	rpc_conn_free(c);
	if (!ASSERT_TRUE(strstr(whole.data, "\"error_code\":-1024,"), "the call at the cap") ||
	    !ASSERT_FALSE(strstr(whole.data, "\"error_code\":-1026,"), "the call over it cut") ||
	    !ASSERT_FALSE(strstr(whole.data, "\"id\":\"1025\""), "the request over it cut") ||
	    !ASSERT_TRUE(strstr(whole.data, "\"method\":\"eth_gz\"") &&
			 strstr(strstr(whole.data, "\"method\":\"eth_gz\""), "\"status\":\"ok\""),
			 "gzip answer read"))
		goto out;
	for (int d = 0; d < 2; d++) {
		const struct vbuf *x = d ? &s : &q;

		for (size_t k = 0; k <= x->len; k++) {
			enum rpc_dir dir = d ? RPC_DIR_RESPONSE : RPC_DIR_REQUEST;

			c = rpc_conn_new(&o, render_cb, &cut);
			vbuf_reset(&cut);
			/* the requests first, as on a real connection */
			if (d)
				rpc_conn_feed(c, RPC_DIR_REQUEST, 1, q.data, q.len, q.len);
			rpc_conn_feed(c, dir, 1 + (uint64_t)d, x->data, k, k);
			rpc_conn_feed(c, dir, 1 + (uint64_t)d, x->data + k, x->len - k, x->len - k);
			if (!d)
				rpc_conn_feed(c, RPC_DIR_RESPONSE, 2, s.data, s.len, s.len);
			rpc_conn_free(c);
			if (!ASSERT_EQ(cut.len, whole.len, "length") ||
			    !ASSERT_TRUE(!memcmp(cut.data, whole.data, whole.len), "same events")) {
				fprintf(stderr, "  cut at %zu of the %s\n", k, d ? "responses" : "requests");
				goto out;
			}
		}
	}
out:
	vbuf_free(&q);
	vbuf_free(&s);
	vbuf_free(&whole);
	vbuf_free(&cut);
}

TESTS(T(test_bad_arguments), T(test_http_batch_of_three), T(test_batch_refused_and_notifications),
      T(test_request_cut_by_capture), T(test_close_and_pending_limit),
      T(test_random_cuts_same_calls), T(test_every_call_renders), T(test_split_anywhere))
