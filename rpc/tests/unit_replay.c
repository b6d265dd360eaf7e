// SPDX-License-Identifier: GPL-2.0-only
/*
 * Real traffic: ganache (npm) recorded by rpc/tests/data/record_ganache.py as the server's
 * reads and writes, replayed through struct rpc_conn. The calls must match what the clients
 * themselves saw (method, id, status, error code, notifications), with everything captured and
 * with only the first 4 KiB of each syscall captured (a 4 MB eth_call response among them), and
 * with the WebSocket bytes arriving a few at a time.
 */
#include <jansson.h>
#include <zlib.h>

#include "test.h"
#include "rpc_test.h"

struct record {
	uint8_t dir;
	uint64_t ts;
	uint32_t len;
	uint8_t *data;
};

struct recording {
	struct record *v;
	size_t n;
	uint64_t resp_bytes;
};

static void recording_free(struct recording *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].data);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static char *data_path(char *buf, size_t n, const char *name)
{
	const char *root = getenv("VIGIL_ROOT");

	snprintf(buf, n, "%s/rpc/tests/data/%s", root ? root : ".", name);
	return buf;
}

static int load(const char *name, struct recording *r)
{
	char path[512];
	gzFile f = gzopen(data_path(path, sizeof(path), name), "rb");
	uint8_t h[13];

	memset(r, 0, sizeof(*r));
	if (!f)
		return -errno;
	while (gzread(f, h, sizeof(h)) == (int)sizeof(h)) {
		struct record *v = realloc(r->v, (r->n + 1) * sizeof(*v));
		struct record *x;

		if (!v)
			break;
		r->v = v;
		x = &r->v[r->n++];
		x->dir = h[0];
		memcpy(&x->ts, h + 1, 8);
		memcpy(&x->len, h + 9, 4);
		x->data = malloc(x->len ? x->len : 1);
		if (!x->data || gzread(f, x->data, x->len) != (int)x->len) {
			gzclose(f);
			return -EIO;
		}
		if (x->dir == RPC_DIR_RESPONSE)
			r->resp_bytes += x->len;
	}
	gzclose(f);
	return r->n ? 0 : -ENODATA;
}

/*
 * Replays with at most @cap bytes of each syscall captured; @split > 0 instead cuts every
 * syscall into reads of 1..@split bytes (fully captured). Returns the calls.
 */
static void replay(const struct recording *rec, size_t cap, size_t split, struct rec *out,
		   struct rpc_conn_stats *st)
{
	struct rpc_conn *c = rpc_conn_new(NULL, rec_cb, out);

	for (size_t i = 0; i < rec->n; i++) {
		const struct record *x = &rec->v[i];

		if (!split) {
			rpc_conn_feed(c, (enum rpc_dir)x->dir, x->ts, x->data,
				      MIN((size_t)x->len, cap), x->len);
			continue;
		}
		for (size_t off = 0, k = 0; off < x->len; k++) {
			size_t n = MIN((size_t)x->len - off, 1 + (k * 7 + i) % split);
			rpc_conn_feed(c, (enum rpc_dir)x->dir, x->ts, x->data + off, n, n);
			off += n;
		}
	}
	rpc_conn_close(c, rec->v[rec->n - 1].ts);
	*st = *rpc_conn_stats(c);
	rpc_conn_free(c);
}

/* Compares the calls with the clients' ground truth, item by item. */
static bool match(const struct rec *got, json_t *want, const char *what)
{
	if (!ASSERT_EQ(got->n, json_array_size(want), what))
		return false;
	for (size_t i = 0; i < got->n; i++) {
		const struct rpc_call *c = &got->v[i];
		json_t *w = json_array_get(want, i);
		const char *m = json_string_value(json_object_get(w, "method"));
		const char *id = json_string_value(json_object_get(w, "id"));
		const char *st = json_string_value(json_object_get(w, "status"));
		const char *kind = json_string_value(json_object_get(w, "kind"));
		json_t *code = json_object_get(w, "code");
		char where[64];

		snprintf(where, sizeof(where), "%s: call %zu", what, i);
		if (m ? !ASSERT_STREQ(c->method, m, where) : !ASSERT_EQ(c->method_len, 0, where))
			return false;
		if (id ? !ASSERT_STREQ(c->id, id, where) : !ASSERT_EQ(c->id_len, 0, where))
			return false;
		if (!ASSERT_STREQ(rpc_status_str(c->status), st, where))
			return false;
		if (json_is_integer(code) && (!ASSERT_TRUE(c->has_error_code, where) ||
					      !ASSERT_EQ(c->error_code, json_integer_value(code), where)))
			return false;
		if (!json_is_integer(code) && !ASSERT_FALSE(c->has_error_code, where))
			return false;
		if (!ASSERT_STREQ(rpc_kind_str(c->kind), kind ? kind : !strcmp(c->method, "eth_subscribe")
							   ? "subscribe" : "call", where))
			return false;
	}
	return true;
}

static json_t *load_truth(const char *name)
{
	char path[512];
	json_error_t jerr;

	return json_load_file(data_path(path, sizeof(path), name), 0, &jerr);
}

static void test_ganache_http(void)
{
	struct recording rec;
	struct rec full = { 0 }, cut = { 0 };
	struct rpc_conn_stats st;
	json_t *want = load_truth("ganache_http.json");
	uint64_t resp = 0;

	if (!ASSERT_NOT_NULL(want, "ground truth") || !ASSERT_OK(load("ganache_http.rec.gz", &rec),
								  "recording"))
		return;
	replay(&rec, SIZE_MAX, 0, &full, &st);
	if (match(&full, want, "full capture")) {
		for (size_t i = 0; i < full.n; i++)
			if (full.v[i].batch_index == 0)
				resp += full.v[i].resp_bytes;
		ASSERT_EQ(resp, rec.resp_bytes, "every response byte accounted to one call");
		ASSERT_EQ(st.desyncs, 0, "no desync");
		ASSERT_EQ(st.unpaired_responses + st.unanswered, 0, "all paired");
	}
	replay(&rec, 4096, 0, &cut, &st);
	if (match(&cut, want, "4 KiB capture")) {
		for (size_t i = 0; i < cut.n; i++) {
			ASSERT_EQ(cut.v[i].resp_bytes, full.v[i].resp_bytes, "lengths despite the cut");
			ASSERT_EQ(cut.v[i].latency_ns, full.v[i].latency_ns, "latency despite the cut");
		}
		ASSERT_EQ(st.desyncs, 0, "no desync");
		ASSERT_GE(st.truncated, 1, "the 4 MB response was cut");
	}
	json_decref(want);
	recording_free(&rec);
	rec_free(&full);
	rec_free(&cut);
}

static void test_ganache_ws(void)
{
	struct recording rec;
	struct rec full = { 0 }, cut = { 0 };
	struct rpc_conn_stats st;
	json_t *want = load_truth("ganache_ws.json");

	if (!ASSERT_NOT_NULL(want, "ground truth") || !ASSERT_OK(load("ganache_ws.rec.gz", &rec),
								  "recording"))
		return;
	replay(&rec, SIZE_MAX, 0, &full, &st);
	if (match(&full, want, "full capture")) {
		ASSERT_EQ(st.notifications, 3, "newHeads after three evm_mine");
		ASSERT_EQ(st.subscribes, 1, "one eth_subscribe");
		ASSERT_EQ(st.batches, 1, "one batch");
		ASSERT_EQ(st.desyncs, 0, "no desync");
	}
	replay(&rec, SIZE_MAX, 5, &cut, &st);
	match(&cut, want, "read 1 to 5 bytes at a time");
	json_decref(want);
	recording_free(&rec);
	rec_free(&full);
	rec_free(&cut);
}

TESTS(T(test_ganache_http), T(test_ganache_ws))
