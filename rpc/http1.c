// SPDX-License-Identifier: GPL-2.0-only
/* HTTP/1.x framing over captured bytes and gaps; see http1.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "vigil/util.h"
#include "http1.h"

#define HEAD_MAX  16384 /* a longer header block is not an Ethereum JSON-RPC exchange */
#define LINE_SCAN 8192	/* how far a resync looks for the end of a candidate start line */

void rpc_http_init(struct rpc_http *h, bool is_request, size_t body_cap, size_t inflate_cap,
		   const struct rpc_http_ops *ops, void *ctx)
{
	memset(h, 0, sizeof(*h));
	h->is_request = is_request;
	h->body_cap = body_cap;
	h->inflate_cap = inflate_cap;
	h->ops = ops;
	h->ctx = ctx;
	h->state = RPC_HTTP_IDLE;
}

void rpc_http_release(struct rpc_http *h)
{
	vbuf_free(&h->head);
	vbuf_free(&h->body);
	vbuf_free(&h->infl);
	if (h->zs) {
		inflateEnd(h->zs);
		free(h->zs);
		h->zs = NULL;
	}
}

void rpc_http_stop(struct rpc_http *h)
{
	h->state = RPC_HTTP_STOPPED;
	h->in_msg = false;
}

static void msg_begin(struct rpc_http *h, uint64_t ts)
{
	memset(&h->m, 0, sizeof(h->m));
	h->m.is_request = h->is_request;
	h->m.ts_first = ts;
	h->in_msg = true;
	h->emitted = false;
	h->body_gap = false;
	h->body.len = 0;
	h->head.len = 0;
}

static void desync(struct rpc_http *h, uint64_t ts, bool lost_msg)
{
	h->stats.desyncs++;
	h->state = RPC_HTTP_RESYNC;
	h->in_msg = false;
	h->head.len = 0;
	h->body.len = 0;
	if (h->ops->desync)
		h->ops->desync(h->ctx, h->is_request, lost_msg, ts);
}

static void body_append(struct rpc_http *h, const uint8_t *p, size_t n)
{
	size_t room;

	if (h->body_gap || !n)
		return;
	room = h->body_cap > h->body.len ? h->body_cap - h->body.len : 0;
	if (n > room) {
		n = room;
		h->m.truncated = true;
		h->body_gap = true;
	}
	if (n && vbuf_append(&h->body, p, n)) {
		h->m.truncated = true;
		h->body_gap = true;
	}
}

/*
 * Inflates the captured gzip body (@n bytes at @body) into h->infl, at most inflate_cap bytes. A
 * body cut short inflates as far as it goes and is marked truncated.
 */
static void inflate_body(struct rpc_http *h, const uint8_t *body, size_t n)
{
	z_stream *zs = h->zs;
	int ret = Z_OK;

	h->infl.len = 0;
	if (!zs) {
		zs = calloc(1, sizeof(*zs));
		/* 32: gzip or zlib, told apart by the header */
		if (!zs || inflateInit2(zs, 32 + MAX_WBITS) != Z_OK) {
			free(zs);
			h->stats.gzip_errors++;
			h->m.truncated = true;
			h->m.body_len = 0;
			return;
		}
		h->zs = zs;
	} else {
		inflateReset(zs);
	}
	zs->next_in = (Bytef *)body;
	zs->avail_in = (uInt)n;
	while (h->infl.len < h->inflate_cap) {
		size_t want = MIN((size_t)16384, h->inflate_cap - h->infl.len);

		if (vbuf_reserve(&h->infl, want))
			break;
		zs->next_out = (Bytef *)h->infl.data + h->infl.len;
		zs->avail_out = (uInt)want;
		ret = inflate(zs, Z_NO_FLUSH);
		h->infl.len += want - zs->avail_out;
		if (ret != Z_OK)
			break;
		if (zs->avail_in == 0 && zs->avail_out != 0)
			break;
	}
	if (h->infl.data)
		h->infl.data[h->infl.len] = 0;
	if (ret != Z_STREAM_END) {
		if (ret != Z_OK && ret != Z_BUF_ERROR && !h->m.truncated)
			h->stats.gzip_errors++;
		h->m.truncated = true;
	}
	h->m.body = h->infl.data;
	h->m.body_len = h->infl.len;
}

/*
 * Hands out the message with the @n captured body bytes at @body: h->body, or the caller's
 * bytes when the whole body was in one feed (no copy).
 */
static void msg_end_body(struct rpc_http *h, uint64_t ts, bool complete, const uint8_t *body,
			 size_t n)
{
	struct rpc_http_msg *m = &h->m;

	if (h->emitted) {
		/* handed out already by rpc_http_flush() */
		h->in_msg = false;
		h->state = RPC_HTTP_IDLE;
		return;
	}
	m->ts_last = ts;
	m->body_complete = complete;
	if (!complete)
		m->truncated = true;
	m->body = (const char *)body;
	m->body_len = n;
	if (m->gzip && n)
		inflate_body(h, body, n);
	h->stats.messages++;
	if (m->truncated)
		h->stats.truncated++;
	h->in_msg = false;
	h->state = (!h->is_request && m->upgrade_ws) ? RPC_HTTP_STOPPED : RPC_HTTP_IDLE;
	h->ops->message(h->ctx, m);
	/* keep a moderate buffer for the next message, give a large one back */
	if (h->body.cap > 262144)
		vbuf_free(&h->body);
	if (h->infl.cap > 262144)
		vbuf_free(&h->infl);
}

static void msg_end(struct rpc_http *h, uint64_t ts, bool complete)
{
	msg_end_body(h, ts, complete, (const uint8_t *)h->body.data, h->body.len);
}

/* 1: looks like the start of a message, 0: does not, -1: too few bytes to say. */
static int start_plausible(bool req, const uint8_t *p, size_t n)
{
	if (req) {
		size_t i = 0;

		while (i < n && i < 8 && p[i] >= 'A' && p[i] <= 'Z')
			i++;
		if (i == n)
			return i < 8 ? -1 : 0;
		return i >= 3 && p[i] == ' ';
	}
	if (memcmp(p, "HTTP/1.", MIN(n, (size_t)7)))
		return 0;
	return n >= 7 ? 1 : -1;
}

static const char *const verbs[] = { "POST ", "GET ", "PUT ", "HEAD ", "OPTIONS ", "DELETE ",
				     "PATCH " };

/*
 * Offset of the first plausible start line in p[0..n), or n. A request line is a known verb
 * whose line holds " HTTP/1."; a status line is "HTTP/1.x ddd". A candidate that runs past the
 * end of the bytes is taken on trust (the head parser checks it once it is complete).
 */
static size_t find_start(bool req, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (req) {
			const uint8_t *nl, *line = p + i;
			size_t vl = 0, ll, rest = n - i;

			if (p[i] < 'D' || p[i] > 'P')
				continue;
			for (size_t v = 0; v < ARRAY_SIZE(verbs) && !vl; v++) {
				size_t l = strlen(verbs[v]);
				if (!memcmp(line, verbs[v], MIN(l, rest)))
					vl = l;
			}
			if (!vl)
				continue;
			if (rest <= vl)
				return i;
			ll = MIN(rest, (size_t)LINE_SCAN);
			nl = memchr(line, '\n', ll);
			if (!nl) {
				if (ll == rest)
					return i;
				continue;
			}
			if (memmem(line + vl, (size_t)(nl - line) - vl, " HTTP/1.", 8))
				return i;
		} else {
			const uint8_t *q = memchr(p + i, 'H', n - i);
			size_t rest;

			if (!q)
				return n;
			i = (size_t)(q - p);
			rest = n - i;
			if (memcmp(q, "HTTP/1.", MIN(rest, (size_t)7)))
				continue;
			if (rest < 13)
				return i;
			if ((q[7] == '0' || q[7] == '1') && q[8] == ' ' && q[9] >= '1' && q[9] <= '5' &&
			    q[10] >= '0' && q[10] <= '9' && q[11] >= '0' && q[11] <= '9')
				return i;
		}
	}
	return n;
}

static bool hname(const char *name, size_t len, const char *want)
{
	size_t wl = strlen(want);

	return len == wl && !strncasecmp(name, want, wl);
}

static bool hvalue_has(const char *v, size_t len, const char *want)
{
	size_t wl = strlen(want);

	for (size_t i = 0; i + wl <= len; i++)
		if (!strncasecmp(v + i, want, wl))
			return true;
	return false;
}

/* Where the '\n' of a header block are, when a walk over it found them already. */
struct nl_list {
	uint16_t off[64]; /* every '\n' of the block in order (offsets fit: HEAD_MAX) */
	size_t n, next;
};

/* The next '\n' in [from, end): from the list when there is one, else by memchr. */
static const char *next_nl(const char *p, const char *from, const char *end, struct nl_list *nls)
{
	if (nls)
		return nls->next < nls->n ? p + nls->off[nls->next++] : NULL;
	return memchr(from, '\n', (size_t)(end - from));
}

/*
 * Parses a complete header block (start line to the blank line) into h->m and picks the body
 * framing. @nls: NULL, or every '\n' of the block. Returns 0, or -1 when the block is not
 * HTTP/1.x.
 */
static int parse_head(struct rpc_http *h, const char *p, size_t n, struct nl_list *nls)
{
	struct rpc_http_msg *m = &h->m;
	const char *end = p + n, *nl = next_nl(p, p, end, nls), *line;
	size_t ll;
	bool has_cl = false;
	uint64_t cl = 0;

	if (!nl)
		return -1;
	ll = (size_t)(nl - p);
	if (ll && p[ll - 1] == '\r')
		ll--;
	if (h->is_request) {
		const char *sp = memchr(p, ' ', ll);
		size_t vl = sp ? (size_t)(sp - p) : 0;

		if (!vl || vl > 16 || ll < vl + 10 || memcmp(p + ll - 8, "HTTP/1.", 7))
			return -1;
		memcpy(m->verb, p, MIN(vl, sizeof(m->verb) - 1));
		m->verb[MIN(vl, sizeof(m->verb) - 1)] = 0;
	} else {
		if (ll < 12 || memcmp(p, "HTTP/1.", 7) || p[8] != ' ')
			return -1;
		for (int i = 9; i < 12; i++) {
			if (p[i] < '0' || p[i] > '9')
				return -1;
			m->status = m->status * 10 + (p[i] - '0');
		}
	}
	for (line = nl + 1; line < end; line = nl + 1) {
		const char *colon, *v, *ve;

		nl = next_nl(p, line, end, nls);
		if (!nl)
			break;
		ve = nl;
		if (ve > line && ve[-1] == '\r')
			ve--;
		if (ve == line)
			break; /* the blank line */
		colon = memchr(line, ':', (size_t)(ve - line));
		if (!colon)
			return -1;
		for (v = colon + 1; v < ve && (*v == ' ' || *v == '\t'); v++)
			;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		size_t nlen = (size_t)(colon - line), vlen = (size_t)(ve - v);
		switch (nlen) {
		case 7:
			if (hname(line, nlen, "upgrade") && hvalue_has(v, vlen, "websocket"))
				m->upgrade_ws = h->is_request;
			break;
		case 14:
			if (hname(line, nlen, "content-length")) {
				if (!vlen || vlen > 15)
					return -1;
				cl = 0;
				for (size_t i = 0; i < vlen; i++) {
					if (v[i] < '0' || v[i] > '9')
						return -1;
					cl = cl * 10 + (uint64_t)(v[i] - '0');
				}
				has_cl = true;
			}
			break;
		case 16:
			if (hname(line, nlen, "content-encoding"))
				m->gzip = hvalue_has(v, vlen, "gzip") || hvalue_has(v, vlen, "deflate");
			break;
		case 17:
			if (hname(line, nlen, "transfer-encoding"))
				m->chunked = hvalue_has(v, vlen, "chunked");
			break;
		}
	}
	if (!h->is_request && m->status == 101)
		m->upgrade_ws = true;
	if (!h->is_request && (m->status < 200 || m->status == 204 || m->status == 304 ||
				(h->ops->no_body && h->ops->no_body(h->ctx))))
		h->state = RPC_HTTP_IDLE; /* no body */
	else if (m->chunked)
		h->state = RPC_HTTP_CHUNK_LINE;
	else if (has_cl && cl)
		h->state = RPC_HTTP_BODY_CL;
	else if (has_cl || h->is_request)
		h->state = RPC_HTTP_IDLE;
	else
		h->state = RPC_HTTP_BODY_EOF;
	h->remaining = cl;
	h->line_len = 0;
	return 0;
}

/* Parses the line in h->line as a chunk size; -1 when it is none. */
static int chunk_size(struct rpc_http *h, uint64_t *size)
{
	size_t i = 0, digits = 0;
	uint64_t v = 0;

	while (i < h->line_len && h->line[i] == ' ')
		i++;
	for (; i < h->line_len; i++, digits++) {
		char c = h->line[i];
		int d = c >= '0' && c <= '9' ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			break;
		if (digits >= 15)
			return -1;
		v = v * 16 + (uint64_t)d;
	}
	if (!digits)
		return -1;
	if (i < h->line_len && h->line[i] != ';' && h->line[i] != '\r' && h->line[i] != ' ' &&
	    h->line[i] != '\t')
		return -1;
	*size = v;
	return 0;
}

/* Ends the message in progress as cut short and loses sync. */
static void cut_and_desync(struct rpc_http *h, uint64_t ts)
{
	msg_end(h, ts, false);
	if (h->state != RPC_HTTP_STOPPED)
		desync(h, ts, false);
}

/*
 * Offset of the first "\r\n\r\n" in p[0..n), or n: what memmem() finds, by looking at each '\n'
 * (glibc's memmem is a general two-way search, several times slower on a header block).
 */
static size_t find_blank_line(const uint8_t *p, size_t n)
{
	const uint8_t *q = p + 1, *end = p + n;

	if (n < 4)
		return n;
	while (q + 2 < end && (q = memchr(q, '\n', (size_t)(end - 2 - q)))) {
		if (q[-1] == '\r' && q[1] == '\r' && q[2] == '\n')
			return (size_t)(q - 1 - p);
		q++;
	}
	return n;
}

/*
 * find_blank_line() for a header block whole in @p, noting every '\n' up to the blank line's
 * end in @nls for parse_head() (one walk over the lines instead of two): the offset of the first
 * "\r\n\r\n", found at its second '\n'. n when there is none, or when more lines than @nls
 * holds come first (then the caller takes the general path).
 */
static size_t find_head_lines(const uint8_t *p, size_t n, struct nl_list *nls)
{
	const uint8_t *q = p, *end = p + n;

	nls->n = nls->next = 0;
	while (q < end && (q = memchr(q, '\n', (size_t)(end - q)))) {
		if (nls->n == ARRAY_SIZE(nls->off))
			return n;
		nls->off[nls->n++] = (uint16_t)(q - p);
		if (q - p >= 3 && q[-1] == '\r' && q[-2] == '\n' && q[-3] == '\r')
			return (size_t)(q - 3 - p);
		q++;
	}
	return n;
}

/*
 * The header block: taken straight from the input when it is whole there, else gathered in
 * h->head across feeds. Returns the bytes consumed.
 */
static size_t feed_head(struct rpc_http *h, uint64_t ts, const uint8_t *p, size_t n)
{
	struct nl_list nls, *lines = NULL;
	const char *hp;
	size_t used, hl;

	if (!h->head.len) {
		size_t lim = MIN(n, (size_t)HEAD_MAX), e = find_head_lines(p, lim, &nls);
		if (e < lim) {
			hl = used = e + 4;
			hp = (const char *)p;
			lines = &nls;
			goto parsed;
		}
	}
	size_t old = h->head.len, take = MIN(n, (size_t)HEAD_MAX + 4 - old);
	if (vbuf_append(&h->head, p, take)) {
		desync(h, ts, true);
		return take;
	}
	size_t from = old >= 3 ? old - 3 : 0;
	size_t e = from + find_blank_line((const uint8_t *)h->head.data + from,
					  h->head.len - from);
	if (e == h->head.len) {
		h->m.wire_bytes += take;
		if (h->head.len >= HEAD_MAX) {
			h->stats.head_too_long++;
			desync(h, ts, true);
		}
		return take;
	}
	hl = e + 4;
	used = hl - old;
	hp = h->head.data;
parsed:
	h->m.wire_bytes += used;
	if (parse_head(h, hp, hl, lines)) {
		desync(h, ts, false);
		return used;
	}
	h->head.len = 0;
	if (h->state == RPC_HTTP_IDLE)
		msg_end(h, ts, true);
	return used;
}

size_t rpc_http_feed(struct rpc_http *h, uint64_t ts, const uint8_t *p, size_t n)
{
	size_t i = 0, take;
	uint64_t size;

	while (i < n) {
		switch (h->state) {
		case RPC_HTTP_STOPPED:
			return i;
		case RPC_HTTP_RESYNC:
			take = find_start(h->is_request, p + i, n - i);
			if (take == n - i)
				return n;
			i += take;
			h->state = RPC_HTTP_IDLE;
			h->stats.resyncs++;
			break;
		case RPC_HTTP_IDLE: {
			if (p[i] == '\r' || p[i] == '\n') {
				i++;
				break;
			}
			if (!start_plausible(h->is_request, p + i, n - i)) {
				desync(h, ts, false);
				i++;
				break;
			}
			msg_begin(h, ts);
			h->state = RPC_HTTP_HEAD;
			break;
		}
		case RPC_HTTP_HEAD:
			i += feed_head(h, ts, p + i, n - i);
			break;
		case RPC_HTTP_BODY_CL:
		case RPC_HTTP_CHUNK_DATA:
			take = (size_t)MIN((uint64_t)(n - i), h->remaining);
			if (h->state == RPC_HTTP_BODY_CL && take == h->remaining && !h->body.len &&
			    !h->body_gap && take <= h->body_cap) {
				/* the whole body is in these bytes: handed out where it lies */
				i += take;
				h->remaining = 0;
				h->m.wire_bytes += take;
				msg_end_body(h, ts, true, p + i - take, take);
				break;
			}
			body_append(h, p + i, take);
			i += take;
			h->remaining -= take;
			h->m.wire_bytes += take;
			if (h->remaining)
				break;
			if (h->state == RPC_HTTP_BODY_CL) {
				msg_end(h, ts, true);
			} else {
				h->state = RPC_HTTP_CHUNK_CRLF;
				h->crlf_left = 2;
			}
			break;
		case RPC_HTTP_CHUNK_CRLF:
			if (p[i] == '\r' && h->crlf_left == 2) {
				h->crlf_left = 1;
			} else if (p[i] == '\n') {
				h->state = RPC_HTTP_CHUNK_LINE;
				h->line_len = 0;
			} else {
				cut_and_desync(h, ts);
				break;
			}
			i++;
			h->m.wire_bytes++;
			break;
		case RPC_HTTP_CHUNK_LINE:
		case RPC_HTTP_TRAILER: {
			const uint8_t *nl = memchr(p + i, '\n', n - i);
			size_t ll = nl ? (size_t)(nl - (p + i)) : n - i;
			size_t keep = MIN(ll, sizeof(h->line) - 1 - h->line_len);

			memcpy(h->line + h->line_len, p + i, keep);
			h->line_len += (uint16_t)keep;
			if (ll > keep && h->state == RPC_HTTP_CHUNK_LINE && h->line_len > 64) {
				/* no chunk-size line is this long */
				cut_and_desync(h, ts);
				i += ll;
				break;
			}
			i += ll;
			h->m.wire_bytes += ll;
			if (!nl)
				break;
			i++;
			h->m.wire_bytes++;
			if (h->line_len && h->line[h->line_len - 1] == '\r')
				h->line_len--;
			if (h->state == RPC_HTTP_TRAILER) {
				if (!h->line_len)
					msg_end(h, ts, true);
				h->line_len = 0;
				break;
			}
			if (chunk_size(h, &size)) {
				cut_and_desync(h, ts);
				break;
			}
			h->line_len = 0;
			if (size) {
				h->state = RPC_HTTP_CHUNK_DATA;
				h->remaining = size;
			} else {
				h->state = RPC_HTTP_TRAILER;
			}
			break;
		}
		case RPC_HTTP_BODY_EOF:
			body_append(h, p + i, n - i);
			h->m.wire_bytes += n - i;
			i = n;
			break;
		}
	}
	return n;
}

void rpc_http_gap(struct rpc_http *h, uint64_t ts, uint64_t n)
{
	while (n) {
		uint64_t take;

		switch (h->state) {
		case RPC_HTTP_STOPPED:
		case RPC_HTTP_RESYNC:
			return;
		case RPC_HTTP_IDLE:
		case RPC_HTTP_HEAD:
			desync(h, ts, true);
			return;
		case RPC_HTTP_BODY_CL:
		case RPC_HTTP_CHUNK_DATA:
			take = MIN(n, h->remaining);
			h->remaining -= take;
			h->m.wire_bytes += take;
			h->m.truncated = true;
			h->body_gap = true;
			n -= take;
			if (h->remaining)
				break;
			if (h->state == RPC_HTTP_BODY_CL) {
				msg_end(h, ts, true);
			} else {
				h->state = RPC_HTTP_CHUNK_CRLF;
				h->crlf_left = 2;
			}
			break;
		case RPC_HTTP_CHUNK_CRLF:
			/* the CRLF after chunk data is assumed to be in the gap */
			take = MIN(n, (uint64_t)h->crlf_left);
			h->m.wire_bytes += take;
			n -= take;
			h->crlf_left -= (uint8_t)take;
			if (!h->crlf_left) {
				h->state = RPC_HTTP_CHUNK_LINE;
				h->line_len = 0;
			}
			break;
		case RPC_HTTP_CHUNK_LINE:
		case RPC_HTTP_TRAILER:
			h->m.wire_bytes += n;
			cut_and_desync(h, ts);
			return;
		case RPC_HTTP_BODY_EOF:
			h->m.wire_bytes += n;
			h->m.truncated = true;
			h->body_gap = true;
			return;
		}
	}
}

bool rpc_http_flush(struct rpc_http *h, uint64_t ts)
{
	if (!h->in_msg || h->emitted || h->state == RPC_HTTP_HEAD || h->state == RPC_HTTP_IDLE ||
	    h->state == RPC_HTTP_RESYNC || h->state == RPC_HTTP_STOPPED)
		return false;
	h->m.truncated = true;
	h->m.ts_last = ts;
	h->m.body = h->body.data;
	h->m.body_len = h->body.len;
	h->stats.messages++;
	h->stats.truncated++;
	h->emitted = true;
	h->ops->message(h->ctx, &h->m);
	return true;
}

void rpc_http_eof(struct rpc_http *h, uint64_t ts)
{
	if (h->state == RPC_HTTP_BODY_EOF)
		msg_end(h, ts, true);
	else if (h->in_msg && h->state != RPC_HTTP_HEAD)
		msg_end(h, ts, false);
}
