// SPDX-License-Identifier: GPL-2.0-only
/*
 * Request parameters (--capture-params): where the scanner finds them, what a connection hands
 * to the call, and how rpc_call_to_json() shows them.
 */
#include <jansson.h>

#include "test.h"
#include "../jsonrpc.h"
#include "rpc_test.h"

struct spans {
	const char *in;
	uint32_t n;
	struct rpc_jitem v[8];
};

static int grab(void *ctx, uint32_t index, const struct rpc_jitem *it)
{
	struct spans *s = ctx;

	if (index < 8)
		s->v[index] = *it;
	s->n = index + 1;
	return 0;
}

static struct rpc_jscan scan(const char *json, size_t n, struct spans *out)
{
	struct rpc_jscan js;

	memset(out, 0, sizeof(*out));
	out->in = json;
	rpc_json_scan(json, n, grab, out, &js);
	return js;
}

/* The params text of item @i as a NUL-terminated copy in @buf. */
static const char *span(const struct spans *s, uint32_t i, char *buf, size_t n)
{
	const struct rpc_jitem *it = &s->v[i];
	size_t len = it->params_len < n - 1 ? it->params_len : n - 1;

	memcpy(buf, s->in + it->params_off, len);
	buf[len] = 0;
	return buf;
}

static void test_scan_params_spans(void)
{
	char buf[256];
	struct spans s;
	const char *one = "{\"jsonrpc\":\"2.0\",\"method\":\"eth_getBalance\",\"params\" : "
			  "[\"0xabc\", {\"k\":\"}]\\\"\"}] ,\"id\":1}";
	const char *batch = "[{\"method\":\"a\",\"params\":{\"x\":[1,2]},\"id\":1},"
			    "{\"id\":2,\"method\":\"b\"},"
			    "{\"params\":\"str\",\"method\":\"c\",\"id\":3},"
			    "{\"method\":\"d\",\"params\":42,\"id\":4},"
			    "{\"method\":\"e\",\"params\":null}]";

	scan(one, strlen(one), &s);
	ASSERT_TRUE(s.v[0].has_params, "params seen");
	ASSERT_FALSE(s.v[0].params_cut, "not cut");
	ASSERT_STREQ(span(&s, 0, buf, sizeof(buf)), "[\"0xabc\", {\"k\":\"}]\\\"\"}]", "span");
	ASSERT_STREQ(s.v[0].id, "1", "id after params");

	scan(batch, strlen(batch), &s);
	ASSERT_EQ(s.n, 5, "five items");
	ASSERT_STREQ(span(&s, 0, buf, sizeof(buf)), "{\"x\":[1,2]}", "object");
	ASSERT_FALSE(s.v[1].has_params, "no params");
	ASSERT_EQ(s.v[1].params_len, 0, "no span");
	ASSERT_STREQ(span(&s, 2, buf, sizeof(buf)), "\"str\"", "string, before method");
	ASSERT_STREQ(s.v[2].method, "c", "method after params");
	ASSERT_STREQ(span(&s, 3, buf, sizeof(buf)), "42", "number");
	ASSERT_STREQ(span(&s, 4, buf, sizeof(buf)), "null", "null");
	/* "params" as a value or inside another member is not the item's params */
	const char *v = "{\"method\":\"params\",\"x\":{\"params\":[1]},\"id\":\"params\"}";
	scan(v, strlen(v), &s);
	ASSERT_FALSE(s.v[0].has_params, "key only at the item level");
	/* the last of two "params" wins, as in the servers' decoders */
	const char *d = "{\"params\":[1],\"method\":\"m\",\"params\":[22]}";
	scan(d, strlen(d), &s);
	ASSERT_STREQ(span(&s, 0, buf, sizeof(buf)), "[22]", "last wins");
}

static void test_scan_params_cut(void)
{
	char buf[256];
	struct spans s;
	const char *full = "{\"method\":\"personal_unlockAccount\",\"params\":[\"0x1\",\"pw\\\"x\"],"
			   "\"id\":9}";
	const char *p = strstr(full, "[\"0x1\"");
	size_t at = (size_t)(p - full);
	struct rpc_jscan js;

	/* every cut inside the value: the span runs to the end of input and says so */
	for (size_t cut = at + 1; cut < at + strlen("[\"0x1\",\"pw\\\"x\"]"); cut++) {
		js = scan(full, cut, &s);
		if (!ASSERT_TRUE(js.cut && s.v[0].has_params && s.v[0].params_cut, "cut flagged"))
			return;
		ASSERT_EQ(s.v[0].params_off, at, "offset");
		ASSERT_EQ(s.v[0].params_len, cut - at, "length to the cut");
	}
	/* cut right after the closing bracket: complete value */
	scan(full, at + strlen("[\"0x1\",\"pw\\\"x\"]"), &s);
	ASSERT_FALSE(s.v[0].params_cut, "whole value before the cut");
	ASSERT_STREQ(span(&s, 0, buf, sizeof(buf)), "[\"0x1\",\"pw\\\"x\"]", "span");
	/* cut after the colon: present, empty, cut */
	scan(full, at, &s);
	ASSERT_TRUE(s.v[0].has_params && s.v[0].params_cut, "present and cut");
	ASSERT_EQ(s.v[0].params_len, 0, "nothing of it");
	/* cut inside the key or before the colon: not seen */
	scan(full, at - 3, &s);
	ASSERT_FALSE(s.v[0].has_params, "key cut");
	scan(full, at - 1, &s);
	ASSERT_FALSE(s.v[0].has_params, "colon cut");
	/* a number at the very end may go on: cut */
	const char *n = "{\"method\":\"m\",\"params\":12";
	scan(n, strlen(n), &s);
	ASSERT_TRUE(s.v[0].params_cut, "number at the end");
	/* bad syntax inside params: no params */
	const char *b = "{\"method\":\"m\",\"params\":]}";
	js = scan(b, strlen(b), &s);
	ASSERT_TRUE(js.bad, "bad");
	ASSERT_FALSE(s.v[0].has_params, "no params from bad syntax");
	/* ... even after good params (found by fuzz_jsonrpc) */
	const char *g = "{\"params\":[1],\"method\":\"m\",\"params\":,]}";
	scan(g, strlen(g), &s);
	ASSERT_TRUE(!s.v[0].has_params && !s.v[0].params_len && !s.v[0].params_cut, "undone");
}

/* Calls with a copy of their params (the call's pointer is only valid in the callback). */
struct prec {
	struct rec r;
	char params[16][2048];
};

static void prec_cb(const struct rpc_call *c, void *ctx)
{
	struct prec *p = ctx;
	size_t i = p->r.n;

	if (i < 16 && c->params) {
		memcpy(p->params[i], c->params, c->params_len < 2047 ? c->params_len : 2047);
		p->params[i][c->params_len < 2047 ? c->params_len : 2047] = 0;
	} else if (i < 16) {
		strcpy(p->params[i], "(none)");
	}
	rec_cb(c, &p->r);
}

static const char *secret_req =
	"[{\"jsonrpc\":\"2.0\",\"method\":\"eth_getBalance\",\"params\":[\"0xabc\",\"latest\"],"
	"\"id\":1},{\"jsonrpc\":\"2.0\",\"method\":\"personal_unlockAccount\",\"params\":[\"0x1\","
	"\"hunter2\",300],\"id\":2},{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\",\"id\":3}]";
static const char *secret_resp = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x0\"},"
				 "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":true},"
				 "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":\"0x5\"}]";

/* Default options: no params anywhere, whatever the request holds. */
static void test_conn_default_no_params(void)
{
	struct prec p = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, prec_cb, &p);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;

	http_req(&q, secret_req);
	http_resp(&s, secret_resp);
	feed_str(c, RPC_DIR_REQUEST, 1, q.data);
	feed_str(c, RPC_DIR_RESPONSE, 2, s.data);
	if (ASSERT_EQ(p.r.n, 3, "calls"))
		for (size_t i = 0; i < 3; i++)
			ASSERT_TRUE(!p.r.v[i].has_params && !p.r.v[i].params &&
					    !p.r.v[i].params_len,
				    "no params without capture_params");
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&p.r);
}

/* HTTP batch: every item gets its own params; an item without params gets none. */
static void test_conn_http_params(void)
{
	struct rpc_conn_opts o = { .capture_params = true };
	struct prec p = { 0 };
	struct rpc_conn *c = rpc_conn_new(&o, prec_cb, &p);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;
	uint64_t ts = 1;

	http_req(&q, secret_req);
	http_resp(&s, secret_resp);
	/* in small reads, so that the body is reassembled from pieces */
	feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 7, 7);
	feed_split(c, RPC_DIR_RESPONSE, &ts, s.data, s.len, 5, 5);
	if (!ASSERT_EQ(p.r.n, 3, "calls"))
		goto out;
	ASSERT_STREQ(p.params[0], "[\"0xabc\",\"latest\"]", "item 0");
	ASSERT_FALSE(p.r.v[0].params_truncated, "whole");
	ASSERT_STREQ(p.params[1], "[\"0x1\",\"hunter2\",300]", "item 1 (raw: redaction is the "
							      "tracer's job)");
	ASSERT_FALSE(p.r.v[2].has_params, "item 2 has none");
	ASSERT_STREQ(p.params[2], "(none)", "item 2");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&p.r);
}

/* params_max and the capture limit both cut params, and say so. */
static void test_conn_params_limits(void)
{
	struct rpc_conn_opts o = { .capture_params = true, .params_max = 16 };
	struct prec p = { 0 };
	struct rpc_conn *c = rpc_conn_new(&o, prec_cb, &p);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT, body = VBUF_INIT;
	uint64_t ts = 1;

	http_req(&q, "{\"jsonrpc\":\"2.0\",\"method\":\"eth_call\",\"params\":[{\"to\":\"0x1234\","
		     "\"data\":\"0xabcdef\"},\"latest\"],\"id\":1}");
	http_resp(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x\"}");
	feed_str(c, RPC_DIR_REQUEST, ts++, q.data);
	feed_str(c, RPC_DIR_RESPONSE, ts++, s.data);
	if (ASSERT_EQ(p.r.n, 1, "call")) {
		ASSERT_EQ(p.r.v[0].params_len, 16, "params_max bytes");
		ASSERT_STREQ(p.params[0], "[{\"to\":\"0x1234\",", "prefix");
		ASSERT_TRUE(p.r.v[0].params_truncated, "truncated by params_max");
	}
	rpc_conn_free(c);

	/* 1 KiB default; the capture keeps 4 KiB of a 20 KB request: params cut by the capture */
	p.r.n = 0;
	o.params_max = 0;
	c = rpc_conn_new(&o, prec_cb, &p);
	vbuf_reset(&q);
	vbuf_puts(&body, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_call\",\"params\":[\"");
	while (body.len < 900)
		vbuf_puts(&body, "ab");
	vbuf_puts(&body, "\"]}");
	http_req(&q, body.data);
	feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 8192, 4096);
	feed_str(c, RPC_DIR_RESPONSE, ts++, s.data);
	if (ASSERT_EQ(p.r.n, 1, "call")) {
		ASSERT_FALSE(p.r.v[0].params_truncated, "under 1 KiB: whole");
		ASSERT_EQ(p.r.v[0].params_len, strstr(body.data, "]}") + 1 -
						       strstr(body.data, "[\""),
			  "length");
	}
	vbuf_reset(&q);
	vbuf_reset(&body);
	vbuf_puts(&body, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"eth_call\",\"params\":[\"");
	while (body.len < 20000)
		vbuf_puts(&body, "ab");
	vbuf_puts(&body, "\"]}");
	http_req(&q, body.data);
	/* a 20 KB read of which 600 bytes are captured */
	feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 65536, 600);
	feed_str(c, RPC_DIR_RESPONSE, ts++, s.data);
	if (ASSERT_EQ(p.r.n, 2, "second call")) {
		ASSERT_TRUE(p.r.v[1].params_truncated, "cut by the capture");
		ASSERT_LE(p.r.v[1].params_len, 600, "at most what was captured");
		ASSERT_TRUE(p.r.v[1].params_len > 400, "most of it");
	}
	rpc_conn_close(c, ts);
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	vbuf_free(&body);
	rec_free(&p.r);
}

/* WebSocket: params travel with the pending request until its (out of order) response. */
static void test_conn_ws_params(void)
{
	static const char up_req[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
				     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				     "Sec-WebSocket-Version: 13\r\n\r\n";
	static const char up_resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				      "Connection: Upgrade\r\n\r\n";
	struct rpc_conn_opts o = { .capture_params = true };
	struct prec p = { 0 };
	struct rpc_conn *c = rpc_conn_new(&o, prec_cb, &p);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;

	feed_str(c, RPC_DIR_REQUEST, 1, up_req);
	feed_str(c, RPC_DIR_RESPONSE, 2, up_resp);
	ws_text(&q, true, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"eth_subscribe\","
			  "\"params\":[\"newHeads\"]}");
	ws_text(&q, true, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"eth_getCode\","
			  "\"params\":[\"0xdead\",\"latest\"]}");
	ws_text(&q, true, "{\"jsonrpc\":\"2.0\",\"method\":\"client_note\",\"params\":{\"a\":1}}");
	ws_text(&q, true, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"eth_chainId\"}");
	ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":\"0x\"}");
	ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":"
			   "{\"subscription\":\"0x1\",\"result\":{}}}");
	ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"0x1\"}");
	rpc_conn_feed(c, RPC_DIR_REQUEST, 3, q.data, q.len, q.len);
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 4, s.data, s.len, s.len);
	/* id 9 stays pending: delivered at close, with its (absent) params */
	rpc_conn_close(c, 5);
	if (!ASSERT_EQ(p.r.n, 5, "calls"))
		goto out;
	ASSERT_STREQ(p.r.v[0].method, "client_note", "client notification first");
	ASSERT_STREQ(p.params[0], "{\"a\":1}", "its params");
	ASSERT_STREQ(p.r.v[1].method, "eth_getCode", "id 8");
	ASSERT_STREQ(p.params[1], "[\"0xdead\",\"latest\"]", "id 8 params");
	ASSERT_EQ(p.r.v[2].kind, RPC_KIND_NOTIFICATION, "server push");
	ASSERT_FALSE(p.r.v[2].has_params, "a push's params are not request params");
	ASSERT_STREQ(p.params[3], "[\"newHeads\"]", "id 7 params");
	ASSERT_STREQ(p.r.v[4].method, "eth_chainId", "pending one");
	ASSERT_FALSE(p.r.v[4].has_params, "none");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&p.r);
}

/*
 * With no params to export, the event is byte for byte what it was before params existed (the
 * expected text is the output of rpc_call_to_json() at commit c23854f for the same call), even
 * when the call carries raw params.
 */
static void test_json_default_unchanged(void)
{
	static const char before[] =
		"{\"ts\":\"2025-11-21T05:28:24.123456Z\",\"app_id\":\"mainnet-1\",\"pid\":4242,"
		"\"comm\":\"geth\",\"client\":\"127.0.0.1:51234\",\"server_port\":8545,"
		"\"transport\":\"http\",\"kind\":\"call\",\"method\":\"personal_unlockAccount\","
		"\"method_truncated\":false,\"id\":\"2\",\"batch_index\":1,\"batch_size\":3,"
		"\"req_bytes\":321,\"resp_bytes\":123,\"latency_ns\":1000,\"status\":\"ok\","
		"\"error_code\":null,\"error_message\":null,\"http_status\":200}";
	struct rpc_call_meta m = { .ts_real_ns = 1763702904123456789ull, .app_id = "mainnet-1",
				   .pid = 4242, .comm = "geth", .client = "127.0.0.1:51234",
				   .server_port = 8545 };
	struct vbuf b = VBUF_INIT;
	struct rpc_call c;

	memset(&c, 0, sizeof(c));
	c.transport = RPC_TRANSPORT_HTTP;
	c.status = RPC_STATUS_OK;
	strcpy(c.method, "personal_unlockAccount");
	c.method_len = 22;
	c.id_kind = RPC_ID_NUMBER;
	strcpy(c.id, "2");
	c.id_len = 1;
	c.batch_index = 1;
	c.batch_size = 3;
	c.req_bytes = 321;
	c.resp_bytes = 123;
	c.latency_ns = 1000;
	c.http_status = 200;
	ASSERT_OK(rpc_call_to_json(&c, &m, &b), "json");
	ASSERT_STREQ(vbuf_cstr(&b), before, "no params");
	c.has_params = true;
	c.params = "[\"0x1\",\"hunter2\",300]";
	c.params_len = (uint32_t)strlen(c.params);
	vbuf_reset(&b);
	ASSERT_OK(rpc_call_to_json(&c, &m, &b), "json");
	ASSERT_STREQ(vbuf_cstr(&b), before, "raw params never written");
	vbuf_free(&b);
}

struct render {
	struct vbuf out;
	size_t n;
};

static void render_cb(const struct rpc_call *c, void *ctx)
{
	struct render *r = ctx;
	struct rpc_call_meta m = { .ts_real_ns = c->ts_ns, .app_id = "a", .pid = 1, .comm = "c",
				   .client = "127.0.0.1:1", .server_port = 8545 };

	rpc_call_to_json(c, &m, &r->out);
	vbuf_putc(&r->out, '\n');
	r->n++;
}

/* The same traffic with and without capture_params renders the same events. */
static void test_json_capture_on_same_events(void)
{
	struct render off = { VBUF_INIT, 0 }, on = { VBUF_INIT, 0 };
	struct rpc_conn_opts o = { .capture_params = true, .params_max = 8 };
	struct rpc_conn *a = rpc_conn_new(NULL, render_cb, &off);
	struct rpc_conn *b = rpc_conn_new(&o, render_cb, &on);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;
	uint64_t ta = 1, tb = 1;

	for (int i = 0; i < 3; i++) {
		http_req(&q, secret_req);
		http_resp(&s, secret_resp);
	}
	feed_split(a, RPC_DIR_REQUEST, &ta, q.data, q.len, 100, 60);
	feed_split(b, RPC_DIR_REQUEST, &tb, q.data, q.len, 100, 60);
	feed_split(a, RPC_DIR_RESPONSE, &ta, s.data, s.len, 50, 50);
	feed_split(b, RPC_DIR_RESPONSE, &tb, s.data, s.len, 50, 50);
	rpc_conn_close(a, ta);
	rpc_conn_close(b, tb);
	ASSERT_EQ(on.n, off.n, "same calls");
	ASSERT_TRUE(on.n >= 3, "some calls");
	ASSERT_STREQ(vbuf_cstr(&on.out), vbuf_cstr(&off.out), "same bytes");
	ASSERT_TRUE(!strstr(vbuf_cstr(&on.out), "params"), "no params field");
	rpc_conn_free(a);
	rpc_conn_free(b);
	vbuf_free(&q);
	vbuf_free(&s);
	vbuf_free(&on.out);
	vbuf_free(&off.out);
}

/* Params the caller exports: a JSON string (it may be cut) and its truncation flag. */
static void test_json_with_params(void)
{
	struct rpc_call_meta m = { .ts_real_ns = 1, .app_id = "a", .pid = 1, .comm = "c",
				   .client = "127.0.0.1:1", .server_port = 8545 };
	struct vbuf b = VBUF_INIT;
	struct rpc_call c;
	json_error_t jerr;
	json_t *doc;

	memset(&c, 0, sizeof(c));
	c.batch_size = 1;
	m.params = "[{\"to\":\"0x1\",\"data\":\"0x\\\"ab";
	m.params_len = strlen(m.params);
	m.params_truncated = true;
	ASSERT_OK(rpc_call_to_json(&c, &m, &b), "json");
	doc = json_loads(vbuf_cstr(&b), 0, &jerr);
	if (!ASSERT_NOT_NULL(doc, vbuf_cstr(&b)))
		goto out;
	ASSERT_STREQ(json_string_value(json_object_get(doc, "params")), m.params, "text");
	ASSERT_TRUE(json_is_true(json_object_get(doc, "params_truncated")), "truncated");
	json_decref(doc);
	m.params = "";
	m.params_len = 0;
	m.params_truncated = false;
	vbuf_reset(&b);
	ASSERT_OK(rpc_call_to_json(&c, &m, &b), "json");
	doc = json_loads(vbuf_cstr(&b), 0, &jerr);
	if (!ASSERT_NOT_NULL(doc, vbuf_cstr(&b)))
		goto out;
	ASSERT_STREQ(json_string_value(json_object_get(doc, "params")), "", "empty text");
	ASSERT_TRUE(json_is_false(json_object_get(doc, "params_truncated")), "whole");
	json_decref(doc);
out:
	vbuf_free(&b);
}

TESTS(T(test_scan_params_spans), T(test_scan_params_cut), T(test_conn_default_no_params),
      T(test_conn_http_params), T(test_conn_params_limits), T(test_conn_ws_params),
      T(test_json_default_unchanged), T(test_json_capture_on_same_events), T(test_json_with_params))
