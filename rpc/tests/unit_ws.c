// SPDX-License-Identifier: GPL-2.0-only
/*
 * WebSocket through struct rpc_conn: the upgrade, masked and fragmented requests, control frames
 * between fragments, pairing by id out of order, subscriptions and their notifications, large
 * frames under a capture limit, permessage-deflate, garbage and resync, a connection first seen
 * after its upgrade.
 */
#include "test.h"
#include "rpc_test.h"

static const char upgrade_req[] =
	"GET / HTTP/1.1\r\nHost: 127.0.0.1:8546\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
static const char upgrade_resp[] =
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

static struct rpc_conn *upgraded(struct rec *r)
{
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, r);

	feed_str(c, RPC_DIR_REQUEST, 1, upgrade_req);
	feed_str(c, RPC_DIR_RESPONSE, 2, upgrade_resp);
	return c;
}

static void test_upgrade_and_fragmented_masked_request(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = upgraded(&r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;
	const char *msg = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"eth_getBlockByNumber\","
			  "\"params\":[\"latest\",false]}";
	size_t n = strlen(msg);

	ASSERT_TRUE(rpc_conn_is_ws(c), "switched to WebSocket");
	/* three fragments with a ping between the second and the third */
	ws_frame(&q, 1, false, true, msg, 10);
	ws_frame(&q, 0, false, true, msg + 10, 30);
	ws_frame(&q, 9, true, true, "hi", 2);
	ws_frame(&q, 0, true, true, msg + 40, n - 40);
	uint64_t ts = 100;
	feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 5, 5);
	ws_frame(&s, 10, true, false, "hi", 2); /* pong */
	ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"number\":\"0x1\"}}");
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 500, s.data, s.len, s.len);
	if (!ASSERT_EQ(r.n, 1, "one call"))
		goto out;
	ASSERT_EQ(r.v[0].transport, RPC_TRANSPORT_WS, "transport");
	ASSERT_STREQ(r.v[0].method, "eth_getBlockByNumber", "method");
	ASSERT_STREQ(r.v[0].id, "7", "id");
	ASSERT_EQ(r.v[0].status, RPC_STATUS_OK, "status");
	ASSERT_EQ(r.v[0].latency_ns, 400, "latency from the first fragment");
	ASSERT_EQ(r.v[0].req_bytes, q.len - 8, "request frames without the ping");
	ASSERT_EQ(r.v[0].http_status, 0, "no http status");
	ASSERT_EQ(rpc_conn_stats(c)->ws_control, 2, "ping and pong counted");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&r);
}

static void test_out_of_order_and_batch(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = upgraded(&r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;

	ws_text(&q, true, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_call\"}");
	ws_text(&q, true, "{\"jsonrpc\":\"2.0\",\"id\":\"two\",\"method\":\"eth_estimateGas\"}");
	ws_text(&q, true, "[{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"a\"},"
			  "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"b\"},"
			  "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"c\"}]");
	feed_str(c, RPC_DIR_REQUEST, 10, "");
	rpc_conn_feed(c, RPC_DIR_REQUEST, 10, q.data, q.len, q.len);
	ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"id\":\"two\",\"error\":{\"code\":3,"
			   "\"message\":\"execution reverted\"}}");
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 20, s.data, s.len, s.len);
	vbuf_reset(&s);
	ws_text(&s, false, "[{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":\"0x\"},"
			   "{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":\"0x\"},"
			   "{\"jsonrpc\":\"2.0\",\"id\":11,\"error\":{\"code\":-32602,\"message\":\"x\"}}]");
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 30, s.data, s.len, s.len);
	vbuf_reset(&s);
	ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x01\"}");
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 40, s.data, s.len, s.len);
	if (!ASSERT_EQ(r.n, 5, "calls"))
		goto out;
	ASSERT_STREQ(r.v[0].method, "eth_estimateGas", "paired by string id");
	ASSERT_EQ(r.v[0].error_code, 3, "reverted");
	ASSERT_STREQ(r.v[1].method, "c", "batch item by id");
	ASSERT_EQ(r.v[1].batch_index, 2, "index");
	ASSERT_EQ(r.v[1].batch_size, 3, "size");
	ASSERT_STREQ(r.v[2].method, "a", "a");
	ASSERT_EQ(r.v[2].batch_index, 0, "index a");
	ASSERT_STREQ(r.v[3].method, "b", "b");
	ASSERT_EQ(r.v[3].status, RPC_STATUS_ERROR, "b failed");
	ASSERT_EQ(r.v[3].error_code, -32602, "b code");
	ASSERT_STREQ(r.v[4].method, "eth_call", "last");
	ASSERT_EQ(r.v[4].latency_ns, 30, "latency");
	ASSERT_EQ(rpc_conn_stats(c)->batches, 1, "one batch");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&r);
}

static void test_subscriptions(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = upgraded(&r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;
	const struct rpc_conn_stats *st;

	ws_text(&q, true, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_subscribe\","
			  "\"params\":[\"newHeads\"]}");
	rpc_conn_feed(c, RPC_DIR_REQUEST, 10, q.data, q.len, q.len);
	ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0xcd0c3e8af590364c09d0fa6a1210faf5\"}");
	for (int i = 0; i < 5; i++)
		ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":"
				   "{\"subscription\":\"0xcd0c3e8af590364c09d0fa6a1210faf5\","
				   "\"result\":{\"number\":\"0x1b4\"}}}");
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 20, s.data, s.len, s.len);
	vbuf_reset(&q);
	ws_text(&q, true, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_unsubscribe\","
			  "\"params\":[\"0xcd0c3e8af590364c09d0fa6a1210faf5\"]}");
	ws_frame(&q, 8, true, true, "\x03\xe8", 2); /* close */
	rpc_conn_feed(c, RPC_DIR_REQUEST, 30, q.data, q.len, q.len);
	vbuf_reset(&s);
	ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":true}");
	ws_frame(&s, 8, true, false, "\x03\xe8", 2);
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 40, s.data, s.len, s.len);
	st = rpc_conn_stats(c);
	if (!ASSERT_EQ(r.n, 7, "calls"))
		goto out;
	ASSERT_EQ(r.v[0].kind, RPC_KIND_SUBSCRIBE, "subscribe kind");
	ASSERT_EQ(r.v[0].status, RPC_STATUS_OK, "subscribe ok");
	for (int i = 1; i <= 5; i++) {
		ASSERT_EQ(r.v[i].kind, RPC_KIND_NOTIFICATION, "notification kind");
		ASSERT_STREQ(r.v[i].method, "eth_subscription", "notification method");
	}
	ASSERT_EQ(r.v[6].kind, RPC_KIND_CALL, "unsubscribe is a plain call");
	ASSERT_EQ(st->subscribes, 1, "subscribes");
	ASSERT_EQ(st->notifications, 5, "notifications");
	ASSERT_EQ(st->calls, 7, "all");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&r);
}

/* A 3 MB response in a 64-bit length frame, 64 KiB per write with 4 KiB captured. */
static void test_large_frames_capture_limit(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = upgraded(&r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT, body = VBUF_INIT;
	uint64_t ts = 100;

	vbuf_puts(&body, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"eth_sendRawTransaction\","
			 "\"params\":[\"0x");
	while (body.len < 70000)
		vbuf_puts(&body, "f86c808504a817c800825208943535353535353535353535353535353535353535");
	vbuf_puts(&body, "\"]}");
	ws_text(&q, true, body.data); /* 16-bit? no: > 65535, a 64-bit length */
	feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 65536, 4096);
	vbuf_reset(&body);
	vbuf_puts(&body, "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32000,\"message\":"
			 "\"insufficient funds\",\"data\":\"");
	while (body.len < 3 * 1024 * 1024)
		vbuf_puts(&body, "0123456789abcdef0123456789abcdef");
	vbuf_puts(&body, "\"}}");
	ws_text(&s, false, body.data);
	vbuf_reset(&body);
	vbuf_puts(&body, "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":\"0x1\"}");
	ws_text(&s, false, body.data);
	feed_split(c, RPC_DIR_RESPONSE, &ts, s.data, s.len, 65536, 4096);
	vbuf_reset(&q);
	ws_text(&q, true, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"eth_chainId\"}");
	feed_split(c, RPC_DIR_REQUEST, &ts, q.data, q.len, 65536, 4096);
	if (!ASSERT_EQ(r.n, 2, "calls"))
		goto out;
	ASSERT_STREQ(r.v[0].method, "eth_sendRawTransaction", "method");
	ASSERT_EQ(r.v[0].status, RPC_STATUS_ERROR, "error from the head");
	ASSERT_EQ(r.v[0].error_code, -32000, "code");
	ASSERT_GE(r.v[0].resp_bytes, 3 * 1024 * 1024, "full length");
	ASSERT_TRUE(r.v[0].resp_truncated && r.v[0].req_truncated, "both truncated");
	/* the response to id 4 came before its request was seen: unpaired */
	ASSERT_EQ(r.v[1].method_len, 0, "unpaired response");
	ASSERT_EQ(rpc_conn_stats(c)->unpaired_responses, 1, "counted");
	ASSERT_EQ(rpc_conn_stats(c)->desyncs, 0, "no desync");
	rpc_conn_close(c, ts);
	ASSERT_EQ(r.n, 3, "the unanswered request is flushed at close");
	ASSERT_EQ(r.v[2].status, RPC_STATUS_UNKNOWN, "unknown");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	vbuf_free(&body);
	rec_free(&r);
}

static void test_deflate_garbage_resync(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = upgraded(&r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;
	const struct rpc_conn_stats *st;

	/* a permessage-deflate message: counted, not parsed */
	ws_frame(&q, 0x41, true, true, "\xaa\xbb\xcc", 3);
	rpc_conn_feed(c, RPC_DIR_REQUEST, 1, q.data, q.len, q.len);
	/* an unmasked client frame is a protocol error */
	vbuf_reset(&q);
	ws_text(&q, false, "{\"id\":1,\"method\":\"x\"}");
	rpc_conn_feed(c, RPC_DIR_REQUEST, 2, q.data, q.len, q.len);
	/* garbage, then a good frame in the same read */
	vbuf_reset(&q);
	vbuf_puts(&q, "\x13\x37garbage\xff\xfe");
	ws_text(&q, true, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"eth_accounts\"}");
	rpc_conn_feed(c, RPC_DIR_REQUEST, 3, q.data, q.len, q.len);
	/* a response whose frame header was lost, then one intact */
	ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":1}");
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 4, s.data, 1, s.len);
	vbuf_reset(&s);
	ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":[]}");
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 5, s.data, s.len, s.len);
	st = rpc_conn_stats(c);
	if (!ASSERT_EQ(r.n, 1, "calls"))
		goto out;
	ASSERT_STREQ(r.v[0].method, "eth_accounts", "method after resync");
	ASSERT_EQ(r.v[0].status, RPC_STATUS_OK, "status");
	ASSERT_EQ(st->ws_compressed, 1, "compressed counted");
	ASSERT_EQ(st->desyncs, 2, "desyncs");
	ASSERT_EQ(st->resyncs, 2, "resyncs");
out:
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&r);
}

/* A connection upgraded before tracing began: its first bytes are frames. */
static void test_seen_after_upgrade(void)
{
	struct rec r = { 0 };
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, &r);
	struct vbuf q = VBUF_INIT, s = VBUF_INIT;

	ws_text(&q, true, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_blockNumber\"}");
	rpc_conn_feed(c, RPC_DIR_REQUEST, 1, q.data, q.len, q.len);
	ws_text(&s, false, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x5\"}");
	rpc_conn_feed(c, RPC_DIR_RESPONSE, 2, s.data, s.len, s.len);
	ASSERT_TRUE(rpc_conn_is_ws(c), "taken as WebSocket");
	if (ASSERT_EQ(r.n, 1, "calls"))
		ASSERT_STREQ(r.v[0].method, "eth_blockNumber", "method");
	rpc_conn_free(c);
	vbuf_free(&q);
	vbuf_free(&s);
	rec_free(&r);
}

TESTS(T(test_upgrade_and_fragmented_masked_request), T(test_out_of_order_and_batch),
      T(test_subscriptions), T(test_large_frames_capture_limit), T(test_deflate_garbage_resync),
      T(test_seen_after_upgrade))
