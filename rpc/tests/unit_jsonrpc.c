// SPDX-License-Identifier: GPL-2.0-only
/* The tolerant JSON-RPC scanner and the per-call JSON event. */
#include <jansson.h>

#include "test.h"
#include "../jsonrpc.h"
#include "rpc_test.h"

struct items {
	struct rpc_jitem v[16];
	uint32_t n;
};

static int grab(void *ctx, uint32_t index, const struct rpc_jitem *it)
{
	struct items *s = ctx;

	if (index < 16)
		s->v[index] = *it;
	s->n = index + 1;
	return 0;
}

static struct rpc_jscan scan(const char *json, size_t n, struct items *out)
{
	struct rpc_jscan js;

	memset(out, 0, sizeof(*out));
	rpc_json_scan(json, n, grab, out, &js);
	return js;
}

static void test_single_request(void)
{
	struct items it;
	const char *s = "{\"jsonrpc\":\"2.0\",\"method\":\"eth_getBalance\",\"params\":[\"0xabc\","
			"{\"k\":[1,2,{\"x\":\"}]\\\"\"}]}],\"id\":42}";
	struct rpc_jscan js = scan(s, strlen(s), &it);

	ASSERT_EQ(js.shape, RPC_JSON_SINGLE, "shape");
	ASSERT_EQ(js.items, 1, "items");
	ASSERT_FALSE(js.cut, "not cut");
	ASSERT_TRUE(it.v[0].complete, "complete");
	ASSERT_STREQ(it.v[0].method, "eth_getBalance", "method");
	ASSERT_EQ(it.v[0].id_kind, RPC_ID_NUMBER, "id kind");
	ASSERT_STREQ(it.v[0].id, "42", "id");
}

static void test_string_id_and_whitespace(void)
{
	struct items it;
	const char *s = " \r\n{ \"id\" : \"req-\\\"7\\\"\" ,\n\t\"method\" : \"net_version\" } ";

	scan(s, strlen(s), &it);
	ASSERT_EQ(it.v[0].id_kind, RPC_ID_STRING, "id kind");
	ASSERT_STREQ(it.v[0].id, "req-\"7\"", "id unescaped");
	ASSERT_STREQ(it.v[0].method, "net_version", "method");
}

static void test_batch_of_three_with_error(void)
{
	struct items it;
	const char *s = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\"},"
			"{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32601,"
			"\"message\":\"the method eth_foo does not exist/is not available\"}},"
			"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":null}]";
	struct rpc_jscan js = scan(s, strlen(s), &it);

	ASSERT_EQ(js.shape, RPC_JSON_BATCH, "shape");
	ASSERT_EQ(js.items, 3, "items");
	ASSERT_TRUE(it.v[0].has_result && !it.v[0].has_error, "item 0 ok");
	ASSERT_TRUE(it.v[1].has_error && it.v[1].has_error_code, "item 1 error");
	ASSERT_EQ(it.v[1].error_code, -32601, "item 1 code");
	ASSERT_STRCONTAINS(it.v[1].error_message, "does not exist", "item 1 message");
	ASSERT_TRUE(it.v[2].has_result, "null result is a result");
	ASSERT_STREQ(it.v[2].id, "3", "item 2 id");
}

static void test_error_codes(void)
{
	static const struct {
		const char *json;
		long long code;
		const char *msg;
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}",
		  -32601, "Method not found" },
		{ "{\"id\":1,\"jsonrpc\":\"2.0\",\"error\":{\"message\":\"invalid argument 0\",\"code\":-32602}}",
		  -32602, "invalid argument 0" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}",
		  -32700, "Parse error" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":3,\"message\":\"execution reverted: "
		  "nope\",\"data\":\"0x08c379a0\"}}",
		  3, "execution reverted: nope" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct items it;

		scan(cases[i].json, strlen(cases[i].json), &it);
		if (!ASSERT_TRUE(it.v[0].has_error && it.v[0].has_error_code, cases[i].json))
			return;
		ASSERT_EQ(it.v[0].error_code, cases[i].code, "code");
		ASSERT_STREQ(it.v[0].error_message, cases[i].msg, "message");
	}
}

static void test_truncated_payloads(void)
{
	struct items it;
	const char *s = "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32000,\"message\":\"header "
			"not found\"}}";
	const char *cut_at = strstr(s, "-32000") + 6; /* just after the code */
	struct rpc_jscan js;

	/* cut right after the number: a delimiter has not been seen, so the code is unknown */
	js = scan(s, (size_t)(cut_at - s), &it);
	ASSERT_TRUE(js.cut, "cut");
	ASSERT_TRUE(it.v[0].has_error, "error seen");
	ASSERT_FALSE(it.v[0].has_error_code, "code cut in the middle is not reported");
	/* cut inside the number */
	scan(s, (size_t)(cut_at - s) - 2, &it);
	ASSERT_FALSE(it.v[0].has_error_code, "partial number");
	/* cut after the comma following the code: found */
	js = scan(s, (size_t)(cut_at - s) + 1, &it);
	ASSERT_TRUE(js.cut, "cut");
	ASSERT_TRUE(it.v[0].has_error_code, "code before the cut");
	ASSERT_EQ(it.v[0].error_code, -32000, "code");
	/* cut inside the message: the part before the cut is kept */
	js = scan(s, (size_t)(strstr(s, "not found") - s), &it);
	ASSERT_STREQ(it.v[0].error_message, "header ", "partial message");
	/* cut inside a huge result: ok is known from the key */
	const char *r = "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"transactions\":[\"0xdeadbeef";
	js = scan(r, strlen(r), &it);
	ASSERT_TRUE(js.cut, "cut");
	ASSERT_TRUE(it.v[0].has_result, "result key before the cut");
	ASSERT_STREQ(it.v[0].id, "5", "id");
	/* a second "id" cut short undoes the first (found by fuzz_jsonrpc) */
	const char *d = "{\"id\":\"a-long-first-id\",\"method\":\"m\",\"id\":\"sec";
	scan(d, strlen(d), &it);
	ASSERT_EQ(it.v[0].id_kind, RPC_ID_NONE, "no id");
	ASSERT_EQ(it.v[0].id_len, 0, "no id text");
	/* a batch cut in its second item */
	const char *b = "[{\"id\":1,\"result\":\"0x1\"},{\"id\":2,\"error\":{\"code\":3,\"mess";
	js = scan(b, strlen(b), &it);
	ASSERT_EQ(js.items, 2, "two items seen");
	ASSERT_TRUE(it.v[0].complete && !it.v[1].complete, "completeness");
	ASSERT_EQ(it.v[1].error_code, 3, "code of the cut item");
}

static void test_long_method_names(void)
{
	char json[1024], name[300];
	struct items it;

	/* 64 bytes: kept whole */
	memset(name, 'm', 64);
	name[64] = 0;
	snprintf(json, sizeof(json), "{\"method\":\"%s\",\"id\":1}", name);
	scan(json, strlen(json), &it);
	ASSERT_EQ(it.v[0].method_len, 64, "64-byte name");
	ASSERT_FALSE(it.v[0].method_truncated, "not truncated");
	ASSERT_STREQ(it.v[0].method, name, "name");
	/* 200 bytes: the first RPC_METHOD_MAX kept and flagged */
	memset(name, 'x', 200);
	name[200] = 0;
	snprintf(json, sizeof(json), "{\"method\":\"%s\",\"id\":1}", name);
	scan(json, strlen(json), &it);
	ASSERT_EQ(it.v[0].method_len, RPC_METHOD_MAX, "kept");
	ASSERT_TRUE(it.v[0].method_truncated, "flagged");
	ASSERT_STREQ(it.v[0].id, "1", "id after a long method still found");
}

static void test_invalid_and_hostile(void)
{
	struct items it;
	struct rpc_jscan js;
	size_t n = 200000;
	char *deep = malloc(n);

	js = scan("hello", 5, &it);
	ASSERT_EQ(js.shape, RPC_JSON_INVALID, "not json");
	ASSERT_EQ(js.items, 0, "no items");
	js = scan("", 0, &it);
	ASSERT_EQ(js.shape, RPC_JSON_INVALID, "empty");
	/* an object nested 100000 deep inside params: skipped without recursion */
	if (!ASSERT_NOT_NULL(deep, "malloc"))
		return;
	size_t o = (size_t)sprintf(deep, "{\"id\":1,\"params\":");
	while (o < n / 2)
		deep[o++] = '[';
	js = scan(deep, o, &it);
	ASSERT_TRUE(js.cut, "cut inside the nesting");
	ASSERT_STREQ(it.v[0].id, "1", "id before it");
	/* a batch of non-objects: one empty item each (the server answers each with an error) */
	js = scan("[1,\"x\",null]", 12, &it);
	ASSERT_EQ(js.items, 3, "three items");
	ASSERT_FALSE(it.v[0].has_method, "no method");
	/* bad syntax inside an item stops the scan but keeps what was found */
	js = scan("{\"method\":\"eth_call\",\"id\":2 \"x\"}", 32, &it);
	ASSERT_TRUE(js.bad, "bad");
	ASSERT_STREQ(it.v[0].method, "eth_call", "method kept");
	free(deep);
}

static void test_call_to_json(void)
{
	struct rpc_call c;
	struct rpc_call_meta m = { .ts_real_ns = 1763702904123456789ull, .app_id = "mainnet-1",
				   .pid = 4242, .comm = "geth", .client = "127.0.0.1:51234",
				   .server_port = 8545 };
	struct vbuf b = VBUF_INIT;
	json_error_t jerr;
	json_t *doc;

	memset(&c, 0, sizeof(c));
	c.transport = RPC_TRANSPORT_HTTP;
	c.status = RPC_STATUS_ERROR;
	strcpy(c.method, "eth_call");
	c.method_len = 8;
	c.id_kind = RPC_ID_NUMBER;
	strcpy(c.id, "7");
	c.id_len = 1;
	c.batch_index = 2;
	c.batch_size = 3;
	c.req_bytes = 300;
	c.resp_bytes = 5000000;
	c.latency_ns = 1234567;
	c.has_error_code = true;
	c.error_code = 3;
	strcpy(c.error_message, "execution reverted \"x\"\n");
	c.error_message_len = (uint16_t)strlen(c.error_message);
	c.http_status = 200;
	if (!ASSERT_OK(rpc_call_to_json(&c, &m, &b), "to_json"))
		return;
	doc = json_loads(vbuf_cstr(&b), 0, &jerr);
	if (!ASSERT_NOT_NULL(doc, vbuf_cstr(&b)))
		return;
	ASSERT_STREQ(json_string_value(json_object_get(doc, "ts")), "2025-11-21T05:28:24.123456Z",
		     "ts");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "app_id")), "mainnet-1", "app_id");
	ASSERT_EQ(json_integer_value(json_object_get(doc, "pid")), 4242, "pid");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "comm")), "geth", "comm");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "client")), "127.0.0.1:51234", "client");
	ASSERT_EQ(json_integer_value(json_object_get(doc, "server_port")), 8545, "port");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "transport")), "http", "transport");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "method")), "eth_call", "method");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "id")), "7", "id");
	ASSERT_EQ(json_integer_value(json_object_get(doc, "batch_index")), 2, "batch_index");
	ASSERT_EQ(json_integer_value(json_object_get(doc, "batch_size")), 3, "batch_size");
	ASSERT_EQ(json_integer_value(json_object_get(doc, "req_bytes")), 300, "req_bytes");
	ASSERT_EQ(json_integer_value(json_object_get(doc, "resp_bytes")), 5000000, "resp_bytes");
	ASSERT_EQ(json_integer_value(json_object_get(doc, "latency_ns")), 1234567, "latency");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "status")), "error", "status");
	ASSERT_EQ(json_integer_value(json_object_get(doc, "error_code")), 3, "code");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "error_message")),
		     "execution reverted \"x\"\n", "message");
	ASSERT_EQ(json_integer_value(json_object_get(doc, "http_status")), 200, "http_status");
	json_decref(doc);

	/* WebSocket, no method, no id, no error: nulls */
	memset(&c, 0, sizeof(c));
	c.transport = RPC_TRANSPORT_WS;
	c.kind = RPC_KIND_NOTIFICATION;
	vbuf_reset(&b);
	ASSERT_OK(rpc_call_to_json(&c, &m, &b), "to_json ws");
	doc = json_loads(vbuf_cstr(&b), 0, &jerr);
	if (!ASSERT_NOT_NULL(doc, vbuf_cstr(&b)))
		return;
	ASSERT_TRUE(json_is_null(json_object_get(doc, "method")), "method null");
	ASSERT_TRUE(json_is_null(json_object_get(doc, "id")), "id null");
	ASSERT_TRUE(json_is_null(json_object_get(doc, "error_code")), "code null");
	ASSERT_TRUE(json_is_null(json_object_get(doc, "http_status")), "http_status null");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "kind")), "notification", "kind");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "status")), "unknown", "status");
	json_decref(doc);
	vbuf_free(&b);
}

/* An HTTP answer is read up to its outcome: a large result is not walked, its id not needed. */
static void test_answer_stops_at_outcome(void)
{
	struct items it;
	struct rpc_jscan js;
	char big[9000];
	int n;

	/* a result the input cuts short, then a well-formed one: both "ok", neither walked */
	n = snprintf(big, sizeof(big), "{\"jsonrpc\":\"2.0\",\"result\":{\"logs\":[\"%0*d", 8000, 0);
	memset(&it, 0, sizeof(it));
	rpc_json_scan_answer(big, (size_t)n, grab, &it, &js);
	ASSERT_EQ(js.shape, RPC_JSON_SINGLE, "shape");
	ASSERT_EQ(js.items, 1, "items");
	ASSERT_TRUE(it.v[0].has_result, "result seen");
	ASSERT_FALSE(it.v[0].has_error, "no error");
	ASSERT_FALSE(js.cut, "stopped before the cut");
	ASSERT_FALSE(it.v[0].complete, "not read to its end");
	/* the full scan reads to the cut */
	js = scan(big, (size_t)n, &it);
	ASSERT_TRUE(js.cut && it.v[0].has_result, "full scan: cut, result");

	/* an error object is read whole, code and message, and ends the scan */
	const char *e = "{\"id\":7,\"error\":{\"code\":3,\"message\":\"execution reverted\","
			"\"data\":\"0x08c379a0\"},\"result\":1,\"jsonrpc\":\"2.0\"}";
	memset(&it, 0, sizeof(it));
	rpc_json_scan_answer(e, strlen(e), grab, &it, &js);
	ASSERT_TRUE(it.v[0].has_error && it.v[0].has_error_code, "error with code");
	ASSERT_EQ(it.v[0].error_code, 3, "code");
	ASSERT_STREQ(it.v[0].error_message, "execution reverted", "message");
	ASSERT_FALSE(it.v[0].has_result, "the error came first");
	ASSERT_STREQ(it.v[0].id, "7", "an id before the outcome is kept");

	/* "error" that is not an object is no outcome: the scan goes on to the result */
	const char *o = "{\"error\":null,\"result\":\"0x1\"}";
	memset(&it, 0, sizeof(it));
	rpc_json_scan_answer(o, strlen(o), grab, &it, &js);
	ASSERT_TRUE(it.v[0].has_result && !it.v[0].has_error, "null error skipped");

	/* a batch is read whole: every answer with its id */
	const char *b = "[{\"id\":1,\"result\":[1,2]},{\"result\":\"x\",\"id\":2},"
			"{\"error\":{\"code\":-32601,\"message\":\"m\"},\"id\":3}]";
	memset(&it, 0, sizeof(it));
	rpc_json_scan_answer(b, strlen(b), grab, &it, &js);
	ASSERT_EQ(js.shape, RPC_JSON_BATCH, "batch");
	ASSERT_EQ(js.items, 3, "three answers");
	ASSERT_STREQ(it.v[1].id, "2", "id after the result");
	ASSERT_TRUE(it.v[2].complete && it.v[2].error_code == -32601, "third");
}

TESTS(T(test_single_request), T(test_string_id_and_whitespace), T(test_batch_of_three_with_error),
      T(test_error_codes), T(test_truncated_payloads), T(test_long_method_names),
      T(test_invalid_and_hostile), T(test_call_to_json),
      T(test_answer_stops_at_outcome))
