// SPDX-License-Identifier: GPL-2.0-only
/* The per-call event as JSON; see call.h. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "vigil/util.h"
#include "call.h"

const char *rpc_status_str(enum rpc_status s)
{
	switch (s) {
	case RPC_STATUS_OK: return "ok";
	case RPC_STATUS_ERROR: return "error";
	default: return "unknown";
	}
}

const char *rpc_transport_str(enum rpc_transport t)
{
	return t == RPC_TRANSPORT_WS ? "ws" : "http";
}

const char *rpc_kind_str(enum rpc_kind k)
{
	switch (k) {
	case RPC_KIND_SUBSCRIBE: return "subscribe";
	case RPC_KIND_NOTIFICATION: return "notification";
	default: return "call";
	}
}

/*
 * ISO 8601 text of @ns (27 bytes, "YYYY-MM-DDTHH:MM:SS.uuuuuuZ") at @buf; returns its end.
 * Formatting the date is the costly part and calls arrive in bursts within the same second, so
 * each thread keeps the date and time of the last second it formatted.
 */
static char *put_ts(char *buf, uint64_t ns)
{
	static __thread time_t last_sec = -1;
	static __thread char last[VTIME_BUFLEN];
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	if (ts.tv_sec != last_sec) {
		vtime_utc_us(last, sizeof(last), &ts);
		last_sec = ts.tv_sec;
	}
	/* "YYYY-MM-DDTHH:MM:SS." is 20 bytes; the microseconds and 'Z' follow */
	memcpy(buf, last, 20);
	unsigned us = (unsigned)(ts.tv_nsec / 1000);
	for (int i = 25; i >= 20; i--, us /= 10)
		buf[i] = (char)('0' + us % 10);
	buf[26] = 'Z';
	return buf + 27;
}

/*
 * The event is written straight into @out: one reservation for the worst case (every string byte
 * escaped to six), then plain stores. Through the generic vjw writer, the per-value separator
 * logic, bounds checks and calls were half of the user-space cost of a call (bench_parse); the
 * output is the same bytes (rpc/tests/unit_calljson.c compares the two on odd inputs).
 */

/* Worst-case bytes of @n bytes escaped: an invalid byte becomes \ufffd (six bytes). */
#define ESC_MAX(n) ((n) * 6)

/*
 * Escapes @n bytes of @s into @d as vjson_escape() does (RFC 8259 escapes, \u00XX for other
 * control characters, invalid UTF-8 bytes as \ufffd); returns the end of the written text.
 */
static char *esc(char *d, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	/* 1: the byte needs more than a copy (control, quote, backslash, not ASCII) */
	static const unsigned char special[256] = {
		[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
	};
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t run = i, ul;

		while (i < n && !special[c = s[i]])
			i++;
		memcpy(d, s + run, i - run);
		d += i - run;
		if (i == n)
			break;
		if (c >= 0x80) {
			ul = vutf8_len(s + i, n - i);
			if (ul) {
				memcpy(d, s + i, ul);
				d += ul;
				i += ul;
			} else {
				memcpy(d, "\\ufffd", 6);
				d += 6;
				i++;
			}
			continue;
		}
		*d++ = '\\';
		switch (c) {
		case '"': *d++ = '"'; break;
		case '\\': *d++ = '\\'; break;
		case '\n': *d++ = 'n'; break;
		case '\r': *d++ = 'r'; break;
		case '\t': *d++ = 't'; break;
		case '\b': *d++ = 'b'; break;
		case '\f': *d++ = 'f'; break;
		default:
			memcpy(d, "u00", 3);
			d[3] = hex[c >> 4];
			d[4] = hex[c & 15];
			d += 5;
		}
		i++;
	}
	return d;
}

/* A JSON string, or null for a NULL @s (what vjw_str() writes). */
static char *put_str(char *d, const char *s, size_t n)
{
	if (!s) {
		memcpy(d, "null", 4);
		return d + 4;
	}
	*d++ = '"';
	d = esc(d, s, n);
	*d++ = '"';
	return d;
}

static char *put_lit(char *d, const char *s, size_t n)
{
	memcpy(d, s, n);
	return d + n;
}

#define LIT(d, s) put_lit(d, s, sizeof(s) - 1)

/*
 * Decimal digits of @v (no snprintf: it was a large part of an event's cost), written in place
 * once their number is known (digits gathered elsewhere and copied stall the copy's loads).
 */
static char *put_u64(char *d, unsigned long long v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
				    "31323334353637383940414243444546474849505152535455565758596061"
				    "62636465666768697071727374757677787980818283848586878889909192"
				    "93949596979899";
	unsigned long long t = v;
	int n = 1;

	for (; t >= 100; t /= 100)
		n += 2;
	n += t >= 10;
	d += n;
	/* two digits per division, from the end */
	for (; v >= 100; v /= 100) {
		d -= 2;
		memcpy(d, pairs + 2 * (v % 100), 2);
	}
	if (v >= 10) {
		d -= 2;
		memcpy(d, pairs + 2 * v, 2);
	} else {
		*--d = (char)('0' + v);
	}
	return d + n;
}

char *rpc_put_i64(char *d, long long v)
{
	if (v < 0) {
		*d++ = '-';
		return put_u64(d, 0ull - (unsigned long long)v);
	}
	return put_u64(d, (unsigned long long)v);
}

static char *put_bool(char *d, bool v)
{
	return v ? LIT(d, "true") : LIT(d, "false");
}

static size_t slen(const char *s)
{
	return s ? strlen(s) : 0;
}

int rpc_call_to_json(const struct rpc_call *c, const struct rpc_call_meta *m, struct vbuf *out)
{
	size_t app_len = slen(m->app_id), comm_len = slen(m->comm), client_len = slen(m->client);
	size_t params_len = m->params ? m->params_len : 0;
	const char *tr = rpc_transport_str(c->transport), *kind = rpc_kind_str(c->kind);
	const char *st = rpc_status_str(c->status);
	char *d;
	/* the fixed text (keys, numbers, literals) is under 1 KiB; strings escape to 6x */
	size_t bound = 1024 + ESC_MAX(app_len + comm_len + client_len + (size_t)c->method_len +
				     c->id_len + c->error_message_len + params_len);

	if (vbuf_reserve(out, bound))
		return -ENOMEM;
	d = out->data + out->len;
	d = LIT(d, "{\"ts\":\"");
	d = put_ts(d, m->ts_real_ns);
	d = LIT(d, "\",\"app_id\":");
	d = put_str(d, m->app_id, app_len);
	d = LIT(d, ",\"pid\":");
	d = put_u64(d, m->pid);
	d = LIT(d, ",\"comm\":");
	d = put_str(d, m->comm, comm_len);
	d = LIT(d, ",\"client\":");
	d = put_str(d, m->client, client_len);
	d = LIT(d, ",\"server_port\":");
	d = put_u64(d, m->server_port);
	d = LIT(d, ",\"transport\":\"");
	d = put_lit(d, tr, strlen(tr));
	d = LIT(d, "\",\"kind\":\"");
	d = put_lit(d, kind, strlen(kind));
	d = LIT(d, "\",\"method\":");
	d = c->method_len ? put_str(d, c->method, c->method_len) : LIT(d, "null");
	d = LIT(d, ",\"method_truncated\":");
	d = put_bool(d, c->method_truncated);
	d = LIT(d, ",\"id\":");
	d = c->id_kind == RPC_ID_STRING || c->id_kind == RPC_ID_NUMBER
		    ? put_str(d, c->id, c->id_len)
		    : LIT(d, "null");
	d = LIT(d, ",\"batch_index\":");
	d = put_u64(d, c->batch_index);
	d = LIT(d, ",\"batch_size\":");
	d = put_u64(d, c->batch_size);
	d = LIT(d, ",\"req_bytes\":");
	d = put_u64(d, c->req_bytes);
	d = LIT(d, ",\"resp_bytes\":");
	d = put_u64(d, c->resp_bytes);
	d = LIT(d, ",\"latency_ns\":");
	d = put_u64(d, c->latency_ns);
	d = LIT(d, ",\"status\":\"");
	d = put_lit(d, st, strlen(st));
	d = LIT(d, "\",\"error_code\":");
	d = c->has_error_code ? rpc_put_i64(d, c->error_code) : LIT(d, "null");
	d = LIT(d, ",\"error_message\":");
	d = c->status == RPC_STATUS_ERROR && c->error_message_len
		    ? put_str(d, c->error_message, c->error_message_len)
		    : LIT(d, "null");
	d = LIT(d, ",\"http_status\":");
	d = c->transport == RPC_TRANSPORT_HTTP && c->http_status ? rpc_put_i64(d, c->http_status)
								 : LIT(d, "null");
	if (m->params) {
		/* text, not raw JSON: a capture cut leaves it unbalanced */
		d = LIT(d, ",\"params\":");
		d = put_str(d, m->params, params_len);
		d = LIT(d, ",\"params_truncated\":");
		d = put_bool(d, m->params_truncated);
	}
	*d++ = '}';
	*d = 0;
	out->len = (size_t)(d - out->data);
	return 0;
}
