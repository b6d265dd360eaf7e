// SPDX-License-Identifier: GPL-2.0-only
/* Per-connection reassembly and request/response pairing; see conn.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/opt.h"
#include "vigil/util.h"
#include "conn.h"
#include "http1.h"
#include "jsonrpc.h"
#include "ws.h"

const struct vopt rpc_conn_vopts[] = {
	VOPT_SIZE("rpc-body-cap", 0, struct rpc_conn_opts, body_cap, "256KiB", 1024, 64 << 20,
		  "captured body bytes kept per message for finding methods, ids and errors"),
	VOPT_SIZE("rpc-inflate-cap", 0, struct rpc_conn_opts, inflate_cap, "1MiB", 1024, 64 << 20,
		  "most bytes one gzip response body is inflated to"),
	VOPT_INT("rpc-max-pending", 0, struct rpc_conn_opts, max_pending, "1024", "N", 1, 1 << 20,
		 "requests awaiting a response per connection before the oldest is given up"),
	VOPT_INT("rpc-max-batch", 0, struct rpc_conn_opts, max_batch, "1024", "N", 1, 1 << 20,
		 "batch items reported per message (the rest are counted as dropped)"),
	VOPT_END
};

/* What a request item leaves behind until its response comes. */
struct req_item {
	uint16_t method_len;
	bool method_truncated;
	bool has_method;
	bool has_params, params_truncated;
	enum rpc_id_kind id_kind;
	uint8_t id_len;
	uint32_t params_len;
	char *params; /* owned (capture_params only); freed by req_item_release() */
	char method[RPC_METHOD_MAX + 1];
	char id[RPC_ID_MAX + 1];
};

/* An HTTP request awaiting its response (FIFO: HTTP/1.1 answers in order). */
struct http_pend {
	uint64_t ts_first, req_bytes;
	uint32_t n_items, batch_size;
	bool truncated, batch, upgrade, other, head;
	struct req_item *items; /* NULL: the single item is in @one */
	struct req_item one;
};

/* A WebSocket request item awaiting the response with its id. */
struct ws_pend {
	uint64_t ts_first, req_bytes;
	uint32_t batch_index, batch_size;
	bool truncated;
	struct req_item it;
};

enum conn_mode { MODE_AUTO, MODE_HTTP, MODE_WS };

struct rpc_conn {
	enum conn_mode mode;
	bool closed;
	struct rpc_conn_opts opts;
	rpc_call_fn cb;
	void *ctx;
	struct rpc_http http[2];
	struct rpc_ws ws[2];
	/* HTTP pending ring; hp_cap is a power of two (4, doubled), so indexes wrap with a mask */
	struct http_pend *hp;
	size_t hp_cap, hp_head, hp_len;
	/* WebSocket pending list, oldest first */
	struct ws_pend *wp;
	size_t wp_cap, wp_len;
	/* scratch: response items of the message being paired */
	struct rpc_jitem *ri;
	bool *ri_used;
	size_t ri_cap, ri_len;
	struct rpc_conn_stats stats;
};

/* ---- calls ---- */

static void call_init(struct rpc_call *k, enum rpc_transport t)
{
	memset(k, 0, offsetof(struct rpc_call, method));
	k->transport = t;
	k->batch_size = 1;
	k->method[0] = k->id[0] = k->error_message[0] = 0;
}

static void call_req(struct rpc_call *k, const struct req_item *ri)
{
	k->method_len = ri->method_len;
	k->method_truncated = ri->method_truncated;
	memcpy(k->method, ri->method, ri->method_len + 1u);
	k->id_kind = ri->id_kind;
	k->id_len = ri->id_len;
	memcpy(k->id, ri->id, ri->id_len + 1u);
	k->has_params = ri->has_params;
	k->params_truncated = ri->params_truncated;
	k->params_len = ri->params_len;
	k->params = ri->params;
	if (ri->method_len == 13 && !memcmp(ri->method, "eth_subscribe", 13))
		k->kind = RPC_KIND_SUBSCRIBE;
}

/* The outcome of a call from its response item. */
static void call_resp(struct rpc_call *k, const struct rpc_jitem *j)
{
	if (j->has_error) {
		k->status = RPC_STATUS_ERROR;
		k->has_error_code = j->has_error_code;
		k->error_code = j->error_code;
		k->error_message_len = j->error_message_len;
		memcpy(k->error_message, j->error_message, j->error_message_len + 1u);
	} else if (j->has_result) {
		k->status = RPC_STATUS_OK;
	} else {
		k->status = RPC_STATUS_UNKNOWN;
	}
}

static void emit(struct rpc_conn *c, const struct rpc_call *k)
{
	c->stats.calls++;
	if (k->kind == RPC_KIND_SUBSCRIBE)
		c->stats.subscribes++;
	else if (k->kind == RPC_KIND_NOTIFICATION)
		c->stats.notifications++;
	if (k->method_truncated)
		c->stats.method_truncated++;
	c->cb(k, c->ctx);
}

static void req_item_from(struct req_item *r, const struct rpc_jitem *j)
{
	r->has_method = j->has_method;
	r->method_len = j->method_len;
	r->method_truncated = j->method_truncated;
	memcpy(r->method, j->method, j->method_len + 1u);
	r->id_kind = j->id_kind;
	r->id_len = j->id_len;
	memcpy(r->id, j->id, j->id_len + 1u);
	r->has_params = r->params_truncated = false;
	r->params_len = 0;
	r->params = NULL;
}

/*
 * With capture_params: the item keeps a copy of at most params_max bytes of its params value,
 * found by the scanner in @base (the bytes it scanned). Without it, or without memory, the item
 * has no params; nothing is copied or allocated when capture is off.
 */
static void req_item_params(struct rpc_conn *c, struct req_item *r, const struct rpc_jitem *j,
			    const char *base)
{
	size_t n;

	if (!c->opts.capture_params || !j->has_params)
		return;
	n = j->params_len < c->opts.params_max ? j->params_len : c->opts.params_max;
	r->params = malloc(n ? n : 1);
	if (!r->params)
		return;
	memcpy(r->params, base + j->params_off, n);
	r->params_len = (uint32_t)n;
	r->params_truncated = j->params_cut || j->params_len > n;
	r->has_params = true;
}

static void req_item_release(struct req_item *r)
{
	free(r->params);
	r->params = NULL;
	r->has_params = false;
}

static void req_item_none(struct req_item *r)
{
	memset(r, 0, offsetof(struct req_item, method));
	r->method[0] = r->id[0] = 0;
}

static bool same_id(enum rpc_id_kind ka, const char *a, size_t la, const struct rpc_jitem *j)
{
	return ka == j->id_kind && la == j->id_len && !memcmp(a, j->id, la);
}

/* ---- response item scratch ---- */

/* One item of a response into the connection's scratch vector (scanner callback). */
static int collect_resp(void *ctx, uint32_t index, const struct rpc_jitem *it)
{
	struct rpc_conn *c = ctx;

	if (index >= (uint64_t)c->opts.max_batch) {
		c->stats.dropped_items++;
		return 0;
	}
	if (c->ri_len == c->ri_cap) {
		size_t cap = c->ri_cap ? c->ri_cap * 2 : 4;
		struct rpc_jitem *ri = realloc(c->ri, cap * sizeof(*ri));
		bool *used;

		if (!ri)
			return -ENOMEM;
		c->ri = ri;
		used = realloc(c->ri_used, cap * sizeof(*used));
		if (!used)
			return -ENOMEM;
		c->ri_used = used;
		c->ri_cap = cap;
	}
	c->ri_used[c->ri_len] = false;
	/* copy only the used part of the strings */
	struct rpc_jitem *d = &c->ri[c->ri_len++];
	memcpy(d, it, offsetof(struct rpc_jitem, method));
	memcpy(d->method, it->method, it->method_len + 1u);
	memcpy(d->id, it->id, it->id_len + 1u);
	memcpy(d->error_message, it->error_message, it->error_message_len + 1u);
	return 0;
}

/* The answer's items into c->ri. @in_order: an HTTP answer, whose single item needs only its
 * outcome (rpc_json_scan_answer); a WebSocket answer pairs by id and is read whole. */
static void scan_resp(struct rpc_conn *c, const char *p, size_t n, bool in_order,
		      struct rpc_jscan *js)
{
	c->ri_len = 0;
	if ((in_order ? rpc_json_scan_answer : rpc_json_scan)(p, n, collect_resp, c, js))
		c->stats.dropped_items++;
}

/* ---- HTTP ---- */

static struct http_pend *hp_at(struct rpc_conn *c, size_t i)
{
	return &c->hp[(c->hp_head + i) & (c->hp_cap - 1)];
}

static struct req_item *hp_item(struct http_pend *p, uint32_t i)
{
	return p->items ? &p->items[i] : &p->one;
}

static void hp_release(struct http_pend *p)
{
	for (uint32_t i = 0; i < p->n_items; i++)
		if (hp_item(p, i)->params)
			req_item_release(hp_item(p, i));
	free(p->items);
	p->items = NULL;
}

/* Delivers every item of a request that got no (usable) response with status unknown. */
static void hp_flush_one(struct rpc_conn *c, struct http_pend *p)
{
	struct rpc_call k;

	if (!p->upgrade && !p->other) {
		c->stats.unanswered++;
		for (uint32_t i = 0; i < p->n_items; i++) {
			call_init(&k, RPC_TRANSPORT_HTTP);
			call_req(&k, hp_item(p, i));
			k.batch_index = p->batch ? i : 0;
			k.batch_size = p->batch_size;
			k.ts_ns = p->ts_first;
			k.req_bytes = p->req_bytes;
			k.req_truncated = p->truncated;
			emit(c, &k);
		}
	}
	hp_release(p);
}

/*
 * A new slot at the tail of the HTTP pending ring (zeroed up to the inline item). The ring grows
 * to max_pending; past that the oldest request is given up (delivered as unknown). NULL only on
 * ENOMEM.
 */
static struct http_pend *hp_push(struct rpc_conn *c)
{
	struct http_pend *p;

	if (c->hp_len == c->hp_cap) {
		if (c->hp_cap >= (size_t)c->opts.max_pending) {
			/* give up the oldest */
			hp_flush_one(c, hp_at(c, 0));
			c->hp_head = (c->hp_head + 1) & (c->hp_cap - 1);
			c->hp_len--;
		} else {
			size_t cap = c->hp_cap ? c->hp_cap * 2 : 4;
			struct http_pend *np = malloc(cap * sizeof(*np));

			if (!np)
				return NULL;
			for (size_t i = 0; i < c->hp_len; i++)
				np[i] = *hp_at(c, i);
			free(c->hp);
			c->hp = np;
			c->hp_cap = cap;
			c->hp_head = 0;
		}
	}
	p = hp_at(c, c->hp_len++);
	memset(p, 0, offsetof(struct http_pend, one));
	return p;
}

struct req_collect {
	struct rpc_conn *c;
	struct http_pend *p;
	const char *body; /* the scanned bytes, for params */
	uint32_t cap;
};

/* One item of an HTTP request into its pending slot (scanner callback). */
static int collect_req(void *ctx, uint32_t index, const struct rpc_jitem *it)
{
	struct req_collect *rc = ctx;
	struct http_pend *p = rc->p;

	if (index >= (uint64_t)rc->c->opts.max_batch) {
		rc->c->stats.dropped_items++;
		return 0;
	}
	if (index == 0) {
		req_item_from(&p->one, it);
		req_item_params(rc->c, &p->one, it, rc->body);
	} else {
		if (!p->items) {
			rc->cap = 8;
			p->items = malloc(rc->cap * sizeof(*p->items));
			if (!p->items)
				return -ENOMEM;
			p->items[0] = p->one;
		} else if (index >= rc->cap) {
			struct req_item *ni = realloc(p->items, rc->cap * 2 * sizeof(*ni));
			if (!ni)
				return -ENOMEM;
			p->items = ni;
			rc->cap *= 2;
		}
		req_item_from(&p->items[index], it);
		req_item_params(rc->c, &p->items[index], it, rc->body);
	}
	p->n_items = index + 1;
	return 0;
}

/*
 * A complete (or truncated) HTTP request: its JSON-RPC items wait in the ring for the response.
 * Requests without JSON-RPC (GET, HEAD, the upgrade) wait too, so that pairing stays in order,
 * but yield no call.
 */
static void http_request(struct rpc_conn *c, const struct rpc_http_msg *m)
{
	struct http_pend *p;
	struct req_collect rc;
	struct rpc_jscan js;

	c->stats.http_requests++;
	if (m->truncated)
		c->stats.truncated++;
	p = hp_push(c);
	if (!p)
		return;
	p->ts_first = m->ts_first;
	p->req_bytes = m->wire_bytes;
	p->truncated = m->truncated;
	p->batch_size = 1;
	p->head = !strcmp(m->verb, "HEAD");
	if (m->upgrade_ws || (!m->body_len && !m->truncated)) {
		p->upgrade = m->upgrade_ws;
		p->other = !m->upgrade_ws;
		c->stats.http_other++;
		return;
	}
	rc = (struct req_collect){ c, p, m->body, 0 };
	if (rpc_json_scan(m->body, m->body_len, collect_req, &rc, &js))
		c->stats.dropped_items++;
	if (!p->n_items) {
		/* not JSON-RPC as far as we can see: still one call the server answers */
		req_item_none(&p->one);
		p->n_items = 1;
	} else if (js.shape == RPC_JSON_BATCH) {
		p->batch = true;
		p->batch_size = js.items;
		c->stats.batches++;
	}
}

static void switch_to_ws(struct rpc_conn *c)
{
	c->mode = MODE_WS;
	rpc_http_stop(&c->http[RPC_DIR_REQUEST]);
	rpc_http_stop(&c->http[RPC_DIR_RESPONSE]);
}

/* Pairs a response with the oldest request and delivers a call per request item. */
static void http_response(struct rpc_conn *c, const struct rpc_http_msg *m)
{
	struct http_pend pend, *p = &pend;
	struct rpc_jscan js;
	struct rpc_call k;
	bool single_resp, cut_batch;
	uint32_t batch_size;

	if (m->status >= 100 && m->status < 200 && m->status != 101)
		return; /* 100 Continue and friends precede the real response */
	c->stats.http_responses++;
	if (m->truncated)
		c->stats.truncated++;
	/* answered before the request was read whole (413 and such): hand the request out now */
	if (!c->hp_len)
		rpc_http_flush(&c->http[RPC_DIR_REQUEST], m->ts_first);
	if (c->hp_len) {
		pend = *hp_at(c, 0);
		c->hp_head = (c->hp_head + 1) & (c->hp_cap - 1);
		c->hp_len--;
	} else {
		/* a response to a request we did not see */
		c->stats.unpaired_responses++;
		memset(p, 0, offsetof(struct http_pend, one));
		req_item_none(&p->one);
		p->n_items = 1;
		p->batch_size = 1;
		p->ts_first = m->ts_first;
	}
	if (m->status == 101) {
		hp_release(p);
		switch_to_ws(c);
		return;
	}
	if (p->upgrade || p->other) {
		hp_release(p);
		return;
	}
	scan_resp(c, m->body, m->body_len, true, &js);
	single_resp = js.shape != RPC_JSON_BATCH;
	/* a batch request cut by the capture limit: the response says how many items it had */
	cut_batch = p->batch && p->truncated && !single_resp;
	batch_size = p->batch_size;
	if (cut_batch && c->ri_len > batch_size)
		batch_size = (uint32_t)c->ri_len;
	for (uint32_t i = 0; i < p->n_items; i++) {
		const struct req_item *ri = hp_item(p, i);
		const struct rpc_jitem *j = NULL;

		call_init(&k, RPC_TRANSPORT_HTTP);
		call_req(&k, ri);
		k.batch_index = p->batch ? i : 0;
		k.batch_size = batch_size;
		k.ts_ns = p->ts_first;
		k.latency_ns = m->ts_last > p->ts_first ? m->ts_last - p->ts_first : 0;
		k.req_bytes = p->req_bytes;
		k.resp_bytes = m->wire_bytes;
		k.req_truncated = p->truncated;
		k.resp_truncated = m->truncated;
		k.http_status = m->status;
		if (single_resp) {
			/* one answer: the call's own, or the one error for a whole bad batch */
			if (c->ri_len)
				j = &c->ri[0];
		} else {
			for (size_t r = 0; r < c->ri_len && !j; r++) {
				if (!c->ri_used[r] && same_id(ri->id_kind, ri->id, ri->id_len, &c->ri[r])) {
					c->ri_used[r] = true;
					j = &c->ri[r];
				}
			}
		}
		/* the item the cut went through lost its id: it owns the first answer left over */
		for (size_t r = 0; !j && cut_batch && i + 1 == p->n_items && ri->id_kind == RPC_ID_NONE &&
				   r < c->ri_len; r++) {
			if (!c->ri_used[r]) {
				c->ri_used[r] = true;
				j = &c->ri[r];
			}
		}
		if (j)
			call_resp(&k, j);
		else if (m->status >= 400)
			k.status = RPC_STATUS_ERROR;
		else if (!p->batch || ri->id_kind == RPC_ID_NONE)
			/* a notification gets no answer; a single call with an empty 2xx body */
			k.status = (ri->id_kind == RPC_ID_NONE && !m->truncated) ? RPC_STATUS_OK
										   : RPC_STATUS_UNKNOWN;
		emit(c, &k);
	}
	/* items past the cut: known only from their answers (method unknown); at most as many as
	 * the answer has beyond the items seen, so every index stays under batch_size */
	for (size_t r = 0, i = p->n_items; cut_batch && r < c->ri_len && i < c->ri_len; r++) {
		struct req_item none;

		if (c->ri_used[r])
			continue;
		req_item_none(&none);
		call_init(&k, RPC_TRANSPORT_HTTP);
		call_req(&k, &none);
		call_resp(&k, &c->ri[r]);
		k.batch_index = (uint32_t)i++;
		k.batch_size = batch_size;
		k.ts_ns = p->ts_first;
		k.latency_ns = m->ts_last > p->ts_first ? m->ts_last - p->ts_first : 0;
		k.req_bytes = p->req_bytes;
		k.resp_bytes = m->wire_bytes;
		k.req_truncated = true;
		k.resp_truncated = m->truncated;
		k.http_status = m->status;
		emit(c, &k);
	}
	hp_release(p);
}

static void on_http_msg(void *ctx, const struct rpc_http_msg *m)
{
	struct rpc_conn *c = ctx;

	if (m->is_request)
		http_request(c, m);
	else
		http_response(c, m);
}

/*
 * Sync lost in one direction. A request lost in the gap keeps a place in the pairing order (a
 * call with the method unknown); a response lost in the gap answers the oldest request, which is
 * delivered with status unknown.
 */
static void on_http_desync(void *ctx, bool is_request, bool lost_msg, uint64_t ts)
{
	struct rpc_conn *c = ctx;
	struct http_pend *p;

	c->stats.desyncs++;
	if (!lost_msg)
		return;
	if (is_request) {
		/* a request was in the lost bytes: keep its place in the pairing order */
		p = hp_push(c);
		if (!p)
			return;
		req_item_none(&p->one);
		p->n_items = 1;
		p->batch_size = 1;
		p->ts_first = ts;
		p->truncated = true;
	} else if (c->hp_len) {
		/* the oldest request's response was in the lost bytes */
		hp_flush_one(c, hp_at(c, 0));
		c->hp_head = (c->hp_head + 1) & (c->hp_cap - 1);
		c->hp_len--;
	}
}

static bool on_http_no_body(void *ctx)
{
	struct rpc_conn *c = ctx;

	return c->hp_len && hp_at(c, 0)->head;
}

static const struct rpc_http_ops http_ops = { on_http_msg, on_http_desync, on_http_no_body };

/* ---- WebSocket ---- */

static void wp_remove(struct rpc_conn *c, size_t i)
{
	memmove(&c->wp[i], &c->wp[i + 1], (c->wp_len - i - 1) * sizeof(*c->wp));
	c->wp_len--;
}

static void wp_flush_one(struct rpc_conn *c, size_t i)
{
	struct ws_pend *w = &c->wp[i];
	struct rpc_call k;

	c->stats.unanswered++;
	call_init(&k, RPC_TRANSPORT_WS);
	call_req(&k, &w->it);
	k.batch_index = w->batch_index;
	k.batch_size = w->batch_size;
	k.ts_ns = w->ts_first;
	k.req_bytes = w->req_bytes;
	k.req_truncated = w->truncated;
	emit(c, &k);
	req_item_release(&w->it);
	wp_remove(c, i);
}

struct ws_req_ctx {
	struct rpc_conn *c;
	const struct rpc_ws_msg *m;
	uint32_t batch_size;
};

/* One item of a client message (scanner callback). */
static int ws_req_item(void *ctx, uint32_t index, const struct rpc_jitem *it)
{
	struct ws_req_ctx *wc = ctx;
	struct rpc_conn *c = wc->c;
	struct ws_pend *w;

	if (index >= (uint64_t)c->opts.max_batch) {
		c->stats.dropped_items++;
		return 0;
	}
	if (it->has_method && it->id_kind == RPC_ID_NONE) {
		/* a client notification: nothing will answer it */
		struct rpc_call k;
		struct req_item ri;

		req_item_from(&ri, it);
		req_item_params(c, &ri, it, wc->m->data);
		call_init(&k, RPC_TRANSPORT_WS);
		call_req(&k, &ri);
		k.batch_index = index;
		k.batch_size = wc->batch_size;
		k.ts_ns = wc->m->ts_first;
		k.req_bytes = wc->m->wire_bytes;
		k.req_truncated = wc->m->truncated;
		k.status = RPC_STATUS_OK;
		emit(c, &k);
		req_item_release(&ri);
		return 0;
	}
	if (c->wp_len >= (size_t)c->opts.max_pending) {
		c->stats.evicted++;
		wp_flush_one(c, 0);
	}
	if (c->wp_len == c->wp_cap) {
		size_t cap = c->wp_cap ? c->wp_cap * 2 : 8;
		struct ws_pend *np = realloc(c->wp, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		c->wp = np;
		c->wp_cap = cap;
	}
	w = &c->wp[c->wp_len++];
	w->ts_first = wc->m->ts_first;
	w->req_bytes = wc->m->wire_bytes;
	w->batch_index = index;
	w->batch_size = wc->batch_size;
	w->truncated = wc->m->truncated;
	req_item_from(&w->it, it);
	req_item_params(c, &w->it, it, wc->m->data);
	return 0;
}

/*
 * A WebSocket message from the client: each item with an id waits for the response with that
 * id; items without one (client notifications) are delivered at once.
 */
static void ws_request(struct rpc_conn *c, const struct rpc_ws_msg *m)
{
	struct ws_req_ctx wc = { c, m, 1 };
	struct rpc_jscan js;
	size_t i = 0;

	if (m->compressed)
		return;
	while (i < m->len && (m->data[i] == ' ' || m->data[i] == '\t' || m->data[i] == '\r' ||
			      m->data[i] == '\n'))
		i++;
	if (i < m->len && m->data[i] == '[') {
		/* a batch: its size first, so that every item is delivered knowing it */
		rpc_json_scan(m->data, m->len, NULL, NULL, &js);
		wc.batch_size = js.items ? js.items : 1;
		c->stats.batches++;
	}
	if (rpc_json_scan(m->data, m->len, ws_req_item, &wc, &js))
		c->stats.dropped_items++;
	if (js.items == 0) {
		/* not JSON-RPC: the server answers with an error whose id is null */
		struct rpc_jitem none;

		memset(&none, 0, sizeof(none));
		none.id_kind = RPC_ID_NULL;
		ws_req_item(&wc, 0, &none);
	}
}

/*
 * A WebSocket message from the server: responses are paired by id with the oldest request
 * holding it; pushes without id (eth_subscription) are notifications; a response nobody asked
 * for (its request was lost) is still a call, with the method unknown.
 */
static void ws_response(struct rpc_conn *c, const struct rpc_ws_msg *m)
{
	struct rpc_jscan js;
	struct rpc_call k;

	if (m->compressed)
		return;
	scan_resp(c, m->data, m->len, false, &js);
	for (size_t r = 0; r < c->ri_len; r++) {
		const struct rpc_jitem *j = &c->ri[r];
		char *req_params = NULL; /* the paired request's, freed once the call is out */
		size_t i;

		call_init(&k, RPC_TRANSPORT_WS);
		k.resp_bytes = m->wire_bytes;
		k.resp_truncated = m->truncated;
		if (j->has_method && (j->id_kind == RPC_ID_NONE || j->id_kind == RPC_ID_NULL)) {
			/* a server push: eth_subscription */
			struct req_item ri;

			req_item_from(&ri, j);
			call_req(&k, &ri);
			k.kind = RPC_KIND_NOTIFICATION;
			k.ts_ns = m->ts_first;
			k.status = RPC_STATUS_OK;
			emit(c, &k);
			continue;
		}
		for (i = 0; i < c->wp_len; i++)
			if (same_id(c->wp[i].it.id_kind, c->wp[i].it.id, c->wp[i].it.id_len, j))
				break;
		if (i < c->wp_len) {
			struct ws_pend *w = &c->wp[i];

			call_req(&k, &w->it);
			k.batch_index = w->batch_index;
			k.batch_size = w->batch_size;
			k.ts_ns = w->ts_first;
			k.latency_ns = m->ts_last > w->ts_first ? m->ts_last - w->ts_first : 0;
			k.req_bytes = w->req_bytes;
			k.req_truncated = w->truncated;
			req_params = w->it.params;
			wp_remove(c, i);
		} else {
			c->stats.unpaired_responses++;
			k.id_kind = j->id_kind;
			k.id_len = j->id_len;
			memcpy(k.id, j->id, j->id_len + 1u);
			k.ts_ns = m->ts_first;
		}
		call_resp(&k, j);
		emit(c, &k);
		free(req_params);
	}
}

static void on_ws_msg(void *ctx, const struct rpc_ws_msg *m)
{
	struct rpc_conn *c = ctx;

	c->stats.ws_messages++;
	if (m->truncated)
		c->stats.truncated++;
	if (m->compressed)
		c->stats.ws_compressed++;
	if (m->is_request)
		ws_request(c, m);
	else
		ws_response(c, m);
}

static void on_ws_desync(void *ctx, bool is_request, uint64_t ts)
{
	struct rpc_conn *c = ctx;

	(void)is_request;
	(void)ts;
	c->stats.desyncs++;
}

static const struct rpc_ws_ops ws_ops = { on_ws_msg, on_ws_desync };

/* ---- the connection ---- */

struct rpc_conn *rpc_conn_new(const struct rpc_conn_opts *opts, rpc_call_fn cb, void *ctx)
{
	struct rpc_conn *c;

	if (!cb) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->opts = (struct rpc_conn_opts){ RPC_CONN_BODY_CAP_DEFAULT, RPC_CONN_INFLATE_CAP_DEFAULT,
					  RPC_CONN_MAX_PENDING_DEFAULT, RPC_CONN_MAX_BATCH_DEFAULT,
					  false, RPC_CONN_PARAMS_MAX_DEFAULT };
	if (opts) {
		if (opts->body_cap)
			c->opts.body_cap = opts->body_cap;
		if (opts->inflate_cap)
			c->opts.inflate_cap = opts->inflate_cap;
		if (opts->max_pending > 0)
			c->opts.max_pending = opts->max_pending;
		if (opts->max_batch > 0)
			c->opts.max_batch = opts->max_batch;
		c->opts.capture_params = opts->capture_params;
		if (opts->params_max)
			c->opts.params_max = opts->params_max < RPC_CONN_PARAMS_LIMIT
						     ? opts->params_max
						     : RPC_CONN_PARAMS_LIMIT;
	}
	c->cb = cb;
	c->ctx = ctx;
	for (int d = 0; d < 2; d++) {
		rpc_http_init(&c->http[d], d == RPC_DIR_REQUEST, c->opts.body_cap, c->opts.inflate_cap,
			      &http_ops, c);
		rpc_ws_init(&c->ws[d], d == RPC_DIR_REQUEST, c->opts.body_cap, &ws_ops, c);
	}
	return c;
}

/*
 * A connection seen from its first captured bytes on: HTTP if they start like HTTP, WebSocket
 * if they are a plausible frame (a connection upgraded before tracing began).
 */
static void pick_mode(struct rpc_conn *c, enum rpc_dir dir, const uint8_t *p, size_t n)
{
	bool req = dir == RPC_DIR_REQUEST;

	if (!n)
		return;
	if ((req && p[0] >= 'A' && p[0] <= 'Z') || (!req && p[0] == 'H'))
		c->mode = MODE_HTTP;
	else if (rpc_ws_find_start(req, p, n) == 0)
		c->mode = MODE_WS;
	else
		c->mode = MODE_HTTP;
	if (c->mode == MODE_WS)
		switch_to_ws(c);
}

int rpc_conn_feed(struct rpc_conn *c, enum rpc_dir dir, uint64_t ts_ns, const void *data,
		  size_t captured_len, uint64_t total_len)
{
	const uint8_t *p = data;
	uint64_t gap;
	size_t used;

	if (captured_len > total_len || (dir != RPC_DIR_REQUEST && dir != RPC_DIR_RESPONSE) ||
	    (captured_len && !data)) {
		c->stats.bad_input++;
		return -EINVAL;
	}
	if (c->closed)
		return 0;
	gap = total_len - captured_len;
	if (c->mode == MODE_AUTO)
		pick_mode(c, dir, p, captured_len);
	if (c->mode == MODE_AUTO)
		return 0; /* nothing captured yet to tell */
	if (c->mode == MODE_HTTP) {
		used = rpc_http_feed(&c->http[dir], ts_ns, p, captured_len);
		if (c->mode == MODE_HTTP) {
			if (gap)
				rpc_http_gap(&c->http[dir], ts_ns, gap);
			return 0;
		}
		/* switched to WebSocket in the middle of these bytes */
		p += used;
		captured_len -= used;
	}
	rpc_ws_feed(&c->ws[dir], ts_ns, p, captured_len);
	if (gap)
		rpc_ws_gap(&c->ws[dir], ts_ns, gap);
	return 0;
}

void rpc_conn_close(struct rpc_conn *c, uint64_t ts_ns)
{
	if (c->closed)
		return;
	if (c->mode == MODE_HTTP) {
		rpc_http_eof(&c->http[RPC_DIR_REQUEST], ts_ns);
		rpc_http_eof(&c->http[RPC_DIR_RESPONSE], ts_ns);
	}
	c->closed = true;
	while (c->hp_len) {
		struct http_pend *p = hp_at(c, 0);

		c->hp_head = (c->hp_head + 1) & (c->hp_cap - 1);
		c->hp_len--;
		hp_flush_one(c, p);
	}
	while (c->wp_len)
		wp_flush_one(c, 0);
}

const struct rpc_conn_stats *rpc_conn_stats(const struct rpc_conn *c)
{
	struct rpc_conn *m = (struct rpc_conn *)c;

	/* parser-level counters are folded in on demand */
	m->stats.resyncs = c->http[0].stats.resyncs + c->http[1].stats.resyncs +
			   c->ws[0].stats.resyncs + c->ws[1].stats.resyncs;
	m->stats.gzip_errors = c->http[1].stats.gzip_errors + c->http[0].stats.gzip_errors;
	m->stats.ws_control = c->ws[0].stats.control + c->ws[1].stats.control;
	return &c->stats;
}

bool rpc_conn_is_ws(const struct rpc_conn *c)
{
	return c->mode == MODE_WS;
}

void rpc_conn_free(struct rpc_conn *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->hp_len; i++)
		hp_release(hp_at(c, i));
	for (size_t i = 0; i < c->wp_len; i++)
		req_item_release(&c->wp[i].it);
	for (int d = 0; d < 2; d++) {
		rpc_http_release(&c->http[d]);
		rpc_ws_release(&c->ws[d]);
	}
	free(c->hp);
	free(c->wp);
	free(c->ri);
	free(c->ri_used);
	free(c);
}
