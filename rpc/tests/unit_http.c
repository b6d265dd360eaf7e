// SPDX-License-Identifier: GPL-2.0-only
/*
 * HTTP/1.1 through struct rpc_conn: pipelining, keep-alive, chunked and gzip responses, large
 * responses captured 4 KiB per syscall, status codes, garbage and loss of sync.
 */
#include "test.h"
#include "rpc_test.h"

#define REQ(method, id) "{\"jsonrpc\":\"2.0\",\"method\":\"" method "\",\"params\":[],\"id\":" #id "}"
#define OK(id, result)	"{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"result\":" result "}"

static void test_pipelined_requests(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;

	http_req(&q, REQ("eth_blockNumber", 1));
	http_req(&q, REQ("eth_chainId", 2));
	http_req(&q, REQ("net_version", 3));
	http_resp(&s, OK(1, "\"0x10\""));
	http_resp(&s, OK(2, "\"0x1\""));
	http_resp(&s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32601,\"message\":\"nope\"}}");
	ASSERT_OK(rpc_conn_feed(c, RPC_DIR_REQUEST, 1000, q.data, q.len, q.len), "feed requests");
	/* responses arrive in two writes that split the second one's headers */
	size_t cut = (size_t)(strstr(s.data + 10, "HTTP/1.1") - s.data) + 20;
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 2000, s.data, cut, cut);
	ASSERT_EQ(r.n, 1, "one response complete");
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 3000, s.data + cut, s.len - cut, s.len - cut);
	if (!ASSERT_EQ(r.n, 3, "calls"))
		goto out;
	ASSERT_STREQ(r.v[0].method, "eth_blockNumber", "first method");
	ASSERT_STREQ(r.v[1].method, "eth_chainId", "second");
	ASSERT_STREQ(r.v[2].method, "net_version", "third");
	ASSERT_STREQ(r.v[2].id, "3", "third id");
	ASSERT_EQ(r.v[0].status, RPC_STATUS_OK, "ok");
	ASSERT_EQ(r.v[2].status, RPC_STATUS_ERROR, "error");
	ASSERT_EQ(r.v[2].error_code, -32601, "code");
	ASSERT_EQ(r.v[0].latency_ns, 1000, "latency of the first");
	ASSERT_EQ(r.v[2].latency_ns, 2000, "latency of the last");
	ASSERT_EQ(r.v[0].http_status, 200, "http status");
	ASSERT_EQ(r.v[0].transport, RPC_TRANSPORT_HTTP, "transport");
	/* sizes are whole messages on the wire */
	struct vbuf one = VBUF_INIT;
	http_req(&one, REQ("eth_blockNumber", 1));
	ASSERT_EQ(r.v[0].req_bytes, one.len, "req bytes");
	vbuf_reset(&one);
	http_resp(&one, OK(1, "\"0x10\""));
	ASSERT_EQ(r.v[0].resp_bytes, one.len, "resp bytes");
	vbuf_free(&one);
	ASSERT_EQ(rpc_conn_stats(c)->desyncs, 0, "no desync");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&r);
}

/* Hundreds of calls on one keep-alive connection, fed one byte per syscall and whole. */
static void test_keepalive_bytewise(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;
	uint64_t ts = 1;
	char body[128];

	for (int i = 0; i < 300; i++) {
		vbuf_reset(&q);
		vbuf_reset(&s);
		snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"m%d\"}", i, i % 7);
		http_req(&q, body);
		snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":%d}", i, i);
		http_resp(&s, body);
		if (i % 3 == 0) {
			feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 1, 1);
			feed_split(c, RPC_DIR_RESPONSE, &ts, s.data, s.len, 1, 1);
		} else {
			feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 4096, 4096);
			feed_split(c, RPC_DIR_RESPONSE, &ts, s.data, s.len, 4096, 4096);
		}
	}
	if (!ASSERT_EQ(r.n, 300, "calls"))
		goto out;
	for (int i = 0; i < 300; i++) {
		char id[16], m[8];
		snprintf(id, sizeof(id), "%d", i);
		snprintf(m, sizeof(m), "m%d", i % 7);
		if (!ASSERT_STREQ(r.v[i].id, id, "id") || !ASSERT_STREQ(r.v[i].method, m, "method") ||
		    !ASSERT_EQ(r.v[i].status, RPC_STATUS_OK, "status"))
			break;
	}
	ASSERT_EQ(rpc_conn_stats(c)->desyncs, 0, "no desync");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&r);
}

/* A gzip body sent chunked, in pieces that cut chunk-size lines and CRLFs. */
static void test_chunked_gzip_response(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT, body = VBUF_INIT, gz = VBUF_INIT;
	uint64_t ts = 10;

	http_req(&q, "[" REQ("eth_getLogs", 1) "," REQ("eth_call", 2) "]");
	vbuf_puts(&body, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[");
	for (int i = 0; i < 2000; i++)
		vbuf_printf(&body, "%s{\"logIndex\":\"0x%x\",\"data\":\"0x%064x\"}", i ? "," : "", i, i);
	vbuf_puts(&body, "]},{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":3,"
			 "\"message\":\"execution reverted\",\"data\":\"0x\"}}]");
	if (!ASSERT_OK(gzip_buf(body.data, body.len, &gz), "gzip"))
		goto out;
	vbuf_puts(&s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		      "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (size_t off = 0; off < gz.len; off += 1000) {
		size_t n = gz.len - off < 1000 ? gz.len - off : 1000;
		vbuf_printf(&s, "%zx;ext=1\r\n", n);
		vbuf_append(&s, gz.data + off, n);
		vbuf_puts(&s, "\r\n");
	}
	vbuf_puts(&s, "0\r\nX-Trailer: 1\r\n\r\n");
	feed_str(c, RPC_DIR_REQUEST, ts, q.data);
	feed_split(c, RPC_DIR_RESPONSE, &ts, s.data, s.len, 7, 7);
	if (!ASSERT_EQ(r.n, 2, "two calls from the batch"))
		goto out;
	ASSERT_STREQ(r.v[0].method, "eth_getLogs", "method 0");
	ASSERT_EQ(r.v[0].status, RPC_STATUS_OK, "status 0");
	ASSERT_EQ(r.v[0].batch_index, 0, "index 0");
	ASSERT_EQ(r.v[0].batch_size, 2, "size");
	ASSERT_STREQ(r.v[1].method, "eth_call", "method 1");
	ASSERT_EQ(r.v[1].status, RPC_STATUS_ERROR, "status 1");
	ASSERT_EQ(r.v[1].error_code, 3, "code 1");
	ASSERT_STREQ(r.v[1].error_message, "execution reverted", "message 1");
	ASSERT_EQ(r.v[1].resp_bytes, s.len, "resp bytes: the compressed, chunked wire size");
	ASSERT_FALSE(r.v[1].resp_truncated, "complete");
	ASSERT_EQ(rpc_conn_stats(c)->gzip_errors, 0, "gzip errors");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	vbuf_free(&body);
	vbuf_free(&gz);
	rec_free(&r);
}

/* A response of several MB written 64 KiB per syscall, 4 KiB of each captured. */
static void test_large_response_capture_limit(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT, body = VBUF_INIT;
	uint64_t ts = 100;

	http_req(&q, "{\"jsonrpc\":\"2.0\",\"method\":\"debug_traceBlockByNumber\",\"id\":\"big\"}");
	vbuf_puts(&body, "{\"jsonrpc\":\"2.0\",\"id\":\"big\",\"result\":[");
	while (body.len < 6 * 1024 * 1024)
		vbuf_puts(&body, "{\"gas\":\"0x5208\",\"failed\":false,\"returnValue\":\"\"},");
	vbuf_puts(&body, "{}]}");
	http_resp(&s, body.data);
	feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 65536, 4096);
	feed_split(c, RPC_DIR_RESPONSE, &ts, s.data, s.len, 65536, 4096);
	/* then an ordinary call on the same connection still pairs */
	vbuf_reset(&q);
	vbuf_reset(&s);
	http_req(&q, REQ("eth_gasPrice", 2));
	http_resp(&s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32602,\"message\":\"bad\"}}");
	feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 65536, 4096);
	feed_split(c, RPC_DIR_RESPONSE, &ts, s.data, s.len, 65536, 4096);
	if (!ASSERT_EQ(r.n, 2, "calls"))
		goto out;
	ASSERT_STREQ(r.v[0].method, "debug_traceBlockByNumber", "method");
	ASSERT_STREQ(r.v[0].id, "big", "string id");
	ASSERT_EQ(r.v[0].id_kind, RPC_ID_STRING, "id kind");
	ASSERT_EQ(r.v[0].status, RPC_STATUS_OK, "status from the head");
	ASSERT_TRUE(r.v[0].resp_truncated, "truncated");
	ASSERT_GE(r.v[0].resp_bytes, 6 * 1024 * 1024, "full length");
	struct vbuf tmp = VBUF_INIT;
	http_resp(&tmp, body.data);
	ASSERT_EQ(r.v[0].resp_bytes, tmp.len, "exact length");
	vbuf_free(&tmp);
	ASSERT_EQ(r.v[1].error_code, -32602, "next call's code");
	ASSERT_EQ(rpc_conn_stats(c)->desyncs, 0, "no desync");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	vbuf_free(&body);
	rec_free(&r);
}

/*
 * A large chunked response whose every chunk is one syscall (the way Node.js writes): the
 * uncaptured tail of each chunk, CRLF included, is a gap; framing must hold.
 */
static void test_large_chunked_capture_limit(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT, chunk = VBUF_INIT, data = VBUF_INIT;
	uint64_t ts = 1, total = 0;

	for (int round = 0; round < 2; round++) {
		http_req(&q, REQ("eth_getBlockByNumber", 1));
		feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 65536, 4096);
		vbuf_reset(&q);
		const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
		feed_str(c, RPC_DIR_RESPONSE, ts++, head);
		total = strlen(head);
		vbuf_reset(&data);
		vbuf_puts(&data, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"transactions\":[");
		for (int i = 0; i < 40; i++) {
			while (data.len < 60000)
				vbuf_puts(&data, "\"0x00112233445566778899aabbccddeeff\",");
			if (i == 39)
				vbuf_puts(&data, "\"0x\"]}}");
			vbuf_reset(&chunk);
			vbuf_printf(&chunk, "%zx\r\n", data.len);
			vbuf_append(&chunk, data.data, data.len);
			vbuf_puts(&chunk, "\r\n");
			rpc_conn_feed(c, RPC_DIR_RESPONSE, ts++, chunk.data, 4096, chunk.len);
			total += chunk.len;
			vbuf_reset(&data);
		}
		feed_str(c, RPC_DIR_RESPONSE, ts++, "0\r\n\r\n");
		total += 5;
	}
	if (!ASSERT_EQ(r.n, 2, "calls"))
		goto out;
	ASSERT_EQ(r.v[0].status, RPC_STATUS_OK, "status");
	ASSERT_EQ(r.v[1].status, RPC_STATUS_OK, "status of the second");
	ASSERT_EQ(r.v[1].resp_bytes, total, "full length");
	ASSERT_EQ(rpc_conn_stats(c)->desyncs, 0, "no desync");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&chunk);
	vbuf_free(&data);
	rec_free(&r);
}

static void test_status_codes_and_continue(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT;

	/* Expect: 100-continue, then the body; the server sends 100 then 413 with plain text */
	const char *b = "{\"jsonrpc\":\"2.0\",\"method\":\"eth_x\",\"id\":10}";
	vbuf_printf(&q, "POST / HTTP/1.1\r\nContent-Length: %zu\r\nExpect: 100-continue\r\n\r\n",
		    strlen(b));
	feed_str(c, RPC_DIR_REQUEST, 1, q.data);
	feed_str(c, RPC_DIR_RESPONSE, 2, "HTTP/1.1 100 Continue\r\n\r\n");
	feed_str(c, RPC_DIR_REQUEST, 3, b);
	vbuf_reset(&q);
	feed_str(c, RPC_DIR_RESPONSE, 4,
		 "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n\r\ntoo large");
	/* a GET health check is not a call */
	feed_str(c, RPC_DIR_REQUEST, 5, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
	feed_str(c, RPC_DIR_RESPONSE, 6, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	/* not JSON at all: the server answers -32700 with id null */
	http_req(&q, "{not json");
	feed_str(c, RPC_DIR_REQUEST, 7, q.data);
	feed_str(c, RPC_DIR_RESPONSE, 9,
		 "HTTP/1.1 200 OK\r\nContent-Length: 75\r\n\r\n"
		 "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}");
	if (!ASSERT_EQ(r.n, 2, "calls"))
		goto out;
	ASSERT_STREQ(r.v[0].method, "eth_x", "method");
	ASSERT_EQ(r.v[0].http_status, 413, "http status");
	ASSERT_EQ(r.v[0].status, RPC_STATUS_ERROR, "error by http status");
	ASSERT_FALSE(r.v[0].has_error_code, "no json-rpc code");
	ASSERT_EQ(r.v[0].latency_ns, 3, "latency from the headers");
	ASSERT_EQ(r.v[1].method_len, 0, "no method");
	ASSERT_EQ(r.v[1].error_code, -32700, "parse error code");
	ASSERT_EQ(r.v[1].latency_ns, 2, "latency");
	ASSERT_EQ(rpc_conn_stats(c)->http_other, 1, "health check counted apart");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	rec_free(&r);
}

/* Garbage on the port, then lost bytes inside headers: sync is lost and found again. */
static void test_garbage_and_resync(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;
	const struct rpc_conn_stats *st;
	uint8_t junk[300];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	/* an HTTP connection first */
	http_req(&q, REQ("eth_chainId", 1));
	http_resp(&s, OK(1, "\"0x1\""));
	feed_str(c, RPC_DIR_REQUEST, 1, q.data);
	feed_str(c, RPC_DIR_RESPONSE, 2, s.data);
	/* junk, then a request glued to the junk's end */
	rpc_conn_feed(c, RPC_DIR_REQUEST, 3, junk, sizeof(junk), sizeof(junk));
	feed_str(c, RPC_DIR_REQUEST, 4, q.data);
	feed_str(c, RPC_DIR_RESPONSE, 5, s.data);
	/* a request whose headers were only partly captured: its place is kept */
	rpc_conn_feed(c, RPC_DIR_REQUEST, 6, q.data, 20, q.len);
	feed_str(c, RPC_DIR_RESPONSE, 7, s.data);
	/* the next complete request resyncs */
	vbuf_reset(&q);
	http_req(&q, REQ("eth_syncing", 2));
	feed_str(c, RPC_DIR_REQUEST, 8, q.data);
	vbuf_reset(&s);
	http_resp(&s, OK(2, "false"));
	feed_str(c, RPC_DIR_RESPONSE, 9, s.data);
	st = rpc_conn_stats(c);
	if (!ASSERT_EQ(r.n, 4, "calls"))
		goto out;
	ASSERT_STREQ(r.v[0].method, "eth_chainId", "first");
	ASSERT_STREQ(r.v[1].method, "eth_chainId", "after junk");
	ASSERT_EQ(r.v[2].method_len, 0, "lost request: no method");
	ASSERT_EQ(r.v[2].status, RPC_STATUS_OK, "but its response is seen");
	ASSERT_STREQ(r.v[3].method, "eth_syncing", "after resync");
	ASSERT_STREQ(r.v[3].id, "2", "id after resync");
	ASSERT_GE(st->desyncs, 2, "desyncs counted");
	ASSERT_GE(st->resyncs, 2, "resyncs counted");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&r);
}

/* A response without Content-Length ends with the connection. */
static void test_read_until_close(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT;

	http_req(&q, REQ("web3_clientVersion", 1));
	feed_str(c, RPC_DIR_REQUEST, 1, q.data);
	feed_str(c, RPC_DIR_RESPONSE, 2, "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n{\"id\":1,");
	feed_str(c, RPC_DIR_RESPONSE, 3, "\"result\":\"Geth/v1\"}");
	ASSERT_EQ(r.n, 0, "not ended yet");
	rpc_conn_close(c, 4);
	if (ASSERT_EQ(r.n, 1, "ended by close")) {
		ASSERT_EQ(r.v[0].status, RPC_STATUS_OK, "status");
		ASSERT_EQ(r.v[0].latency_ns, 3, "latency to the last byte");
	}
	rpc_conn_free(c);
	vbuf_free(&q);
	rec_free(&r);
}

/* HEAD has no response body; a 413 may come before the request body is read; zlib deflate. */
static void test_head_early_answer_deflate(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT, z = VBUF_INIT;
	const char *body = "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32601,\"message\":\"x\"}}";
	uLongf zl;

	feed_str(c, RPC_DIR_REQUEST, 1, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
	feed_str(c, RPC_DIR_RESPONSE, 2, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
	/* a 10 MB request refused after its first bytes */
	const char *start = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"eth_sendRawTransaction\"";
	feed_str(c, RPC_DIR_REQUEST, 3, "POST / HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n");
	feed_str(c, RPC_DIR_REQUEST, 3, start);
	feed_str(c, RPC_DIR_RESPONSE, 4, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\n\r\n");
	rpc_conn_feed(c, RPC_DIR_REQUEST, 5, NULL, 0, 10000000 - strlen(start));
	/* a deflate (zlib) response */
	http_req(&q, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"eth_x\"}");
	feed_str(c, RPC_DIR_REQUEST, 6, q.data);
	zl = compressBound(strlen(body));
	if (vbuf_reserve(&z, zl) || compress((Bytef *)z.data, &zl, (const Bytef *)body, strlen(body)) != Z_OK)
		goto out;
	vbuf_printf(&s, "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %lu\r\n\r\n", zl);
	vbuf_append(&s, z.data, zl);
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 7, s.data, s.len, s.len);
	if (!ASSERT_EQ(r.n, 2, "calls"))
		goto out;
	ASSERT_STREQ(r.v[0].method, "eth_sendRawTransaction", "refused call");
	ASSERT_EQ(r.v[0].http_status, 413, "413");
	ASSERT_EQ(r.v[0].status, RPC_STATUS_ERROR, "error");
	ASSERT_STREQ(r.v[1].method, "eth_x", "call after");
	ASSERT_EQ(r.v[1].error_code, -32601, "code from the deflated body");
	ASSERT_EQ(rpc_conn_stats(c)->desyncs, 0, "no desync");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	vbuf_free(&z);
	rec_free(&r);
}

TESTS(T(test_pipelined_requests), T(test_keepalive_bytewise), T(test_chunked_gzip_response),
      T(test_large_response_capture_limit), T(test_large_chunked_capture_limit),
      T(test_status_codes_and_continue), T(test_garbage_and_resync), T(test_read_until_close),
      T(test_head_early_answer_deflate))
