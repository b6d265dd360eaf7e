// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_parse: the user-space half of `vigil rpc` alone. Replays a recorded-like stream of
 * syscall events (what the ring buffer delivers: direction, timestamp, captured bytes, full
 * length) for N calls spread over C connections through rpc_conn_feed(), and renders every call
 * with rpc_call_to_json() into a JSON Lines buffer, as the tracer does before publishing.
 *
 *   build/bench/bench_parse [calls (default 2000000)] [connections (default 64)] [nojson|tracer]
 *
 * "nojson" leaves out rpc_call_to_json() to show the parsers' share. "tracer" does per call what
 * the tracer's on_call() (rpc/tracer.c) does: per-method statistics, the Prometheus children
 * (requests, duration, size, errors by code), the JSON event and its vbus_publish() on a bus
 * writing JSON Lines to /dev/null (or to the file $BENCH_JSONL, to compare two builds' output).
 *
 * The mix: single HTTP calls of common methods (eth_blockNumber, eth_getBalance, eth_call,
 * eth_getTransactionReceipt) with realistic bodies, errors (-32601, -32602, 3), one batch of 3 in
 * 20, a 512 KiB eth_getLogs response captured 4 KiB per 64 KiB write in 1 in 100, and a quarter
 * of the connections on WebSocket (with subscription notifications). Prints calls/s and
 * events/s per CPU second (and the wall time, which a busy machine inflates).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/buf.h"
#include "vigil/bus.h"
#include "vigil/loop.h"
#include "vigil/metrics.h"
#include "../../rpc/call.h"
#include "../../rpc/callmetrics.h"
#include "../../rpc/conn.h"
#include "../../rpc/stats.h"

struct ev {
	uint32_t conn;
	uint8_t dir;
	uint32_t off; /* into the arena */
	uint32_t cap;
	uint64_t total;
	uint64_t ts;
};

struct evs {
	struct ev *v;
	size_t n, cap;
	struct vbuf arena;
	size_t calls;
};

static void push(struct evs *e, uint32_t conn, int dir, uint64_t ts, const void *p, size_t cap,
		 uint64_t total)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 4096;
		e->v = realloc(e->v, e->cap * sizeof(*e->v));
		if (!e->v)
			exit(1);
	}
	e->v[e->n++] = (struct ev){ conn, (uint8_t)dir, (uint32_t)e->arena.len, (uint32_t)cap,
				    total, ts };
	vbuf_append(&e->arena, p, cap);
}

static void http_pair(struct evs *e, uint32_t conn, uint64_t *ts, const char *req,
		      const char *resp, size_t ncalls)
{
	char buf[8192];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "POST / HTTP/1.1\r\nHost: 127.0.0.1:8545\r\nUser-Agent: ethers/6.13\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		     strlen(req), req);
	push(e, conn, RPC_DIR_REQUEST, (*ts)++, buf, (size_t)n, (size_t)n);
	n = snprintf(buf, sizeof(buf),
		     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nVary: Origin\r\n"
		     "Date: Sat, 21 Nov 2026 05:30:00 GMT\r\nContent-Length: %zu\r\n\r\n%s",
		     strlen(resp), resp);
	push(e, conn, RPC_DIR_RESPONSE, (*ts)++, buf, (size_t)n, (size_t)n);
	e->calls += ncalls;
}

static void ws_frame(struct vbuf *b, const char *s, int mask)
{
	static const uint8_t key[4] = { 1, 2, 3, 4 };
	size_t n = strlen(s), old;
	uint8_t h[8] = { 0x81 };
	size_t hl = 2;

	if (n < 126) {
		h[1] = (uint8_t)n;
	} else {
		h[1] = 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	}
	if (mask) {
		h[1] |= 0x80;
		memcpy(h + hl, key, 4);
		hl += 4;
	}
	vbuf_append(b, h, hl);
	old = b->len;
	vbuf_append(b, s, n);
	if (mask)
		for (size_t i = 0; i < n; i++)
			b->data[old + i] ^= (char)key[i & 3];
}

static void build(struct evs *e, size_t want, uint32_t nconn)
{
	static const char *const upg_req =
		"GET / HTTP/1.1\r\nHost: 127.0.0.1:8546\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 13\r\n\r\n";
	static const char *const upg_resp =
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	struct vbuf big = VBUF_INIT, b = VBUF_INIT;
	char req[2048], resp[2048];
	uint64_t ts = 1;
	size_t i = 0;

	vbuf_puts(&big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[");
	while (big.len < 512 * 1024)
		vbuf_puts(&big, "{\"address\":\"0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2\",\"topics\":"
				"[\"0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef\"],"
				"\"data\":\"0x00000000000000000000000000000000000000000000000000000000000003e8\"},");
	vbuf_puts(&big, "{}]}");
	for (uint32_t c = 0; c < nconn; c++)
		if (c % 4 == 3) {
			push(e, c, RPC_DIR_REQUEST, ts++, upg_req, strlen(upg_req), strlen(upg_req));
			push(e, c, RPC_DIR_RESPONSE, ts++, upg_resp, strlen(upg_resp), strlen(upg_resp));
		}
	while (e->calls < want) {
		uint32_t c = (uint32_t)(i % nconn);
		unsigned k = (unsigned)(i % 100);

		if (c % 4 == 3) {
			/* WebSocket: a call, and a notification every 4th */
			vbuf_reset(&b);
			snprintf(req, sizeof(req),
				 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"eth_getBlockByNumber\","
				 "\"params\":[\"latest\",false]}", i);
			ws_frame(&b, req, 1);
			push(e, c, RPC_DIR_REQUEST, ts++, b.data, b.len, b.len);
			vbuf_reset(&b);
			snprintf(resp, sizeof(resp),
				 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"result\":{\"number\":\"0x1b4\","
				 "\"hash\":\"0xdc0818cf78f21a8e70579cb46a43643f78291264dda342ae31049421c82d21ae\","
				 "\"gasUsed\":\"0x9f759\",\"timestamp\":\"0x55ba467c\"}}", i);
			ws_frame(&b, resp, 0);
			if (i % 4 == 0)
				ws_frame(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":"
					     "{\"subscription\":\"0xcd0c3e8af590364c09d0fa6a1210faf5\","
					     "\"result\":{\"number\":\"0x1b5\"}}}", 0);
			push(e, c, RPC_DIR_RESPONSE, ts++, b.data, b.len, b.len);
			e->calls += i % 4 == 0 ? 2 : 1;
		} else if (k == 7) {
			/* a large response: 64 KiB writes, 4 KiB captured each */
			snprintf(req, sizeof(req),
				 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getLogs\",\"params\":"
				 "[{\"fromBlock\":\"0x1\",\"toBlock\":\"0x2710\"}]}");
			int n = snprintf(resp, sizeof(resp),
					 "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
					 "Content-Length: %zu\r\n\r\n%s", strlen(req), req);
			push(e, c, RPC_DIR_REQUEST, ts++, resp, (size_t)n, (size_t)n);
			vbuf_reset(&b);
			vbuf_printf(&b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					"Content-Length: %zu\r\n\r\n", big.len);
			vbuf_append(&b, big.data, big.len);
			for (size_t off = 0; off < b.len; off += 65536) {
				size_t len = b.len - off < 65536 ? b.len - off : 65536;
				push(e, c, RPC_DIR_RESPONSE, ts++, b.data + off, len < 4096 ? len : 4096,
				     len);
			}
			e->calls++;
		} else if (k % 20 == 5) {
			http_pair(e, c, &ts,
				  "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_blockNumber\",\"params\":[]},"
				  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_chainId\",\"params\":[]},"
				  "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"eth_foo\",\"params\":[]}]",
				  "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x12a05f2\"},"
				  "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"0x1\"},"
				  "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32601,\"message\":"
				  "\"the method eth_foo does not exist/is not available\"}}]", 3);
		} else if (k % 10 == 3) {
			snprintf(req, sizeof(req),
				 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"eth_call\",\"params\":[{"
				 "\"to\":\"0x6b175474e89094c44da98b954eedeac495271d0f\",\"data\":"
				 "\"0x70a08231000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266\"},"
				 "\"latest\"]}", i);
			snprintf(resp, sizeof(resp),
				 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"error\":{\"code\":3,\"message\":"
				 "\"execution reverted: Dai/insufficient-balance\",\"data\":\"0x08c379a0\"}}", i);
			http_pair(e, c, &ts, req, resp, 1);
		} else if (k % 10 == 1) {
			snprintf(req, sizeof(req),
				 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"eth_getTransactionReceipt\","
				 "\"params\":[\"0x85d995eba9763907fdf35cd2034144dd9d53ce32cbec21349d4b12823c6860c5\"]}", i);
			snprintf(resp, sizeof(resp),
				 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"result\":{\"blockHash\":"
				 "\"0xa957d47df264a31badc3ae823e10ac1d444b098d9b73d204c40426e57f47e8c3\","
				 "\"blockNumber\":\"0xeff35f\",\"status\":\"0x1\",\"gasUsed\":\"0x5208\","
				 "\"logs\":[],\"logsBloom\":\"0x%0512d\"}}", i, 0);
			http_pair(e, c, &ts, req, resp, 1);
		} else {
			snprintf(req, sizeof(req),
				 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"eth_getBalance\",\"params\":"
				 "[\"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266\",\"latest\"]}", i);
			snprintf(resp, sizeof(resp),
				 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"result\":\"0x21e19e0c9bab2400000\"}", i);
			http_pair(e, c, &ts, req, resp, 1);
		}
		i++;
	}
	vbuf_free(&big);
	vbuf_free(&b);
}

/* What the tracer keeps for its per-call work (the "tracer" mode). */
struct tracer_like {
	struct rpc_stats st;
	struct rpc_method_children *mm; /* parallel to st.m */
	struct vmetrics *reg;
	struct vmetric *m_req, *m_dur, *m_size, *m_err, *m_notif;
	struct vloop *loop;
	struct vbus *bus;
};

struct sink {
	bool no_json;
	struct tracer_like *t; /* "tracer" mode */
	struct vbuf out;
	struct rpc_call_meta meta;
	uint64_t calls, bytes;
};

static int tracer_like_init(struct tracer_like *t)
{
	static const double dur[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				      0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
	static const double size[] = { 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
				       4194304, 16777216 };
	struct rpc_stats_cfg scfg = { .max_methods = 256, .spike_factor = 5, .spike_min_rate = 10,
				      .error_delta = 0.2, .error_min_calls = 10, .warmup = 3,
				      .alpha = 0.2 };
	struct vbus_cfg bcfg = { .app_id = "bench", .jsonl = getenv("BENCH_JSONL") };

	if (!bcfg.jsonl)
		bcfg.jsonl = "/dev/null";
	if (rpc_stats_init(&t->st, &scfg))
		return -1;
	t->mm = calloc(t->st.cap, sizeof(*t->mm));
	t->reg = vmetrics_new();
	t->loop = vloop_new();
	if (!t->mm || !t->reg || !t->loop)
		return -1;
	t->m_req = vmetrics_counter(t->reg, "vigil_rpc_requests_total", "calls", "method,status");
	t->m_dur = vmetrics_histogram(t->reg, "vigil_rpc_request_duration_seconds", "latency",
				      "method", dur, sizeof(dur) / sizeof(dur[0]));
	t->m_size = vmetrics_histogram(t->reg, "vigil_rpc_response_size_bytes", "size", "method",
				       size, sizeof(size) / sizeof(size[0]));
	t->m_err = vmetrics_counter(t->reg, "vigil_rpc_errors_total", "errors", "method,code");
	t->m_notif = vmetrics_counter(t->reg, "vigil_rpc_notifications_total", "pushes", "method");
	t->bus = vbus_open(&bcfg, t->loop);
	return t->bus ? 0 : -1;
}

static void tracer_like_free(struct tracer_like *t)
{
	vbus_close(t->bus);
	vloop_free(t->loop);
	vmetrics_free(t->reg);
	free(t->mm);
	rpc_stats_free(&t->st);
}

/* The statistics and metrics part of on_call() in rpc/tracer.c. */
static void tracer_like_call(struct tracer_like *t, const struct rpc_call *call)
{
	int idx = rpc_stats_intern(&t->st, call->method, call->method_len);
	struct rpc_method_children *mm;
	const char *name;

	if (idx < 0)
		return;
	rpc_stats_add(&t->st, idx, call);
	mm = &t->mm[idx];
	name = t->st.m[idx].name;
	if (!mm->ok)
		rpc_method_children_get(mm, t->m_req, t->m_dur, t->m_size, t->m_notif, name);
	rpc_call_metrics(mm, t->m_err, name, call);
}

static void on_call(const struct rpc_call *c, void *ctx)
{
	struct sink *s = ctx;

	s->calls++;
	if (s->no_json)
		return;
	if (s->t) {
		/* one event per call, as the tracer publishes it */
		tracer_like_call(s->t, c);
		s->meta.ts_real_ns = 1763702904000000000ull + c->ts_ns;
		s->out.len = 0;
		rpc_call_to_json(c, &s->meta, &s->out);
		s->bytes += s->out.len + 1;
		vbus_publish(s->t->bus, "jsonrpc.requests", s->out.data, s->out.len);
		if (c->status == RPC_STATUS_ERROR)
			vbus_publish(s->t->bus, "jsonrpc.errors", s->out.data, s->out.len);
		return;
	}
	s->meta.ts_real_ns = 1763702904000000000ull + c->ts_ns;
	rpc_call_to_json(c, &s->meta, &s->out);
	vbuf_putc(&s->out, '\n');
	if (s->out.len > 1 << 20) {
		s->bytes += s->out.len;
		s->out.len = 0;
	}
}

static double clock_s(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t want = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
	uint32_t nconn = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 64;
	struct evs e = { 0 };
	struct tracer_like tl = { 0 };
	struct sink s = { .meta = { .app_id = "bench", .pid = 4242, .comm = "geth",
				    .client = "127.0.0.1:51234", .server_port = 8545 } };
	struct rpc_conn **conns;
	double t0, t1, c0, c1;
	uint64_t expect;

	s.no_json = argc > 3 && !strcmp(argv[3], "nojson");
	if (!want || !nconn || (argc > 3 && !s.no_json && strcmp(argv[3], "tracer"))) {
		fprintf(stderr, "usage: bench_parse [calls] [connections] [nojson|tracer]\n");
		return 2;
	}
	if (argc > 3 && !strcmp(argv[3], "tracer")) {
		if (tracer_like_init(&tl)) {
			fprintf(stderr, "bench_parse: cannot set up statistics, metrics, bus\n");
			return 1;
		}
		s.t = &tl;
	}
	build(&e, want, nconn);
	expect = e.calls;
	conns = calloc(nconn, sizeof(*conns));
	for (uint32_t c = 0; c < nconn; c++)
		conns[c] = rpc_conn_new(NULL, on_call, &s);
	t0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (size_t i = 0; i < e.n; i++) {
		const struct ev *v = &e.v[i];
		rpc_conn_feed(conns[v->conn], (enum rpc_dir)v->dir, v->ts, e.arena.data + v->off,
			      v->cap, v->total);
	}
	c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	t1 = clock_s(CLOCK_MONOTONIC);
	for (uint32_t c = 0; c < nconn; c++) {
		rpc_conn_close(conns[c], 0);
		rpc_conn_free(conns[c]);
	}
	s.bytes += s.out.len;
	printf("bench_parse: %zu events (%.1f MB captured) over %u connections -> %llu calls "
	       "(expected %llu), %.1f MB of JSON\n",
	       e.n, (double)e.arena.len / 1e6, nconn, (unsigned long long)s.calls,
	       (unsigned long long)expect, (double)s.bytes / 1e6);
	/* CPU time is the figure that holds on a shared machine; wall time is shown beside it */
	printf("bench_parse: %.3f s CPU (%.3f s wall): %.0f calls/s, %.0f events/s, %.0f ns/call "
	       "(%s, per CPU second)\n",
	       c1 - c0, t1 - t0, (double)s.calls / (c1 - c0), (double)e.n / (c1 - c0),
	       (c1 - c0) * 1e9 / (double)s.calls,
	       s.no_json ? "parse + pair"
	       : s.t	 ? "parse + pair + stats + metrics + JSON + publish"
			 : "parse + pair + JSON");
	if (s.t)
		tracer_like_free(&tl);
	free(conns);
	free(e.v);
	vbuf_free(&e.arena);
	vbuf_free(&s.out);
	return s.calls == expect ? 0 : 1;
}
