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
 * ISO 8601 text of @ns. Formatting the date is the costly part and calls arrive in bursts within
 * the same second, so each thread keeps the date and time of the last second it formatted.
 */
static const char *ts_text(uint64_t ns, char *buf, size_t n)
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
	buf[27] = 0;
	(void)n;
	return buf;
}

/*
 * A key known to need no escaping: vjw_raw() writes the separator a new member needs, and
 * after_key tells the writer the value follows (what vjw_key() does, without escaping the key
 * byte by byte; keys were a fifth of an event's cost in bench_parse).
 */
#define KEY(w, k) key_raw(w, "\"" k "\":", sizeof("\"" k "\":") - 1)
static void key_raw(struct vjw *w, const char *k, size_t n)
{
	vjw_raw(w, k, n);
	w->after_key = true;
}

/* A value known to need no escaping (our own enum names, the timestamp). */
static void str_raw(struct vjw *w, const char *s, size_t n)
{
	char tmp[48];

	if (n + 2 > sizeof(tmp)) {
		vjw_strn(w, s, n);
		return;
	}
	tmp[0] = '"';
	memcpy(tmp + 1, s, n);
	tmp[n + 1] = '"';
	vjw_raw(w, tmp, n + 2);
}

/*
 * Integers through vjw_raw(): vjw_int() formats with snprintf, which was half the cost of an
 * event in bench_parse.
 */
static void put_uint(struct vjw *w, const char *key, unsigned long long v, bool neg)
{
	char tmp[24];
	int i = (int)sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		tmp[--i] = '-';
	key_raw(w, key, strlen(key));
	vjw_raw(w, tmp + i, sizeof(tmp) - (size_t)i);
}

static void put_int(struct vjw *w, const char *key, long long v)
{
	put_uint(w, key, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, v < 0);
}

int rpc_call_to_json(const struct rpc_call *c, const struct rpc_call_meta *m, struct vbuf *out)
{
	struct vjw w;
	char ts[VTIME_BUFLEN];

	vjw_init(&w, out);
	vjw_obj(&w);
	KEY(&w, "ts");
	str_raw(&w, ts_text(m->ts_real_ns, ts, sizeof(ts)), 27);
	KEY(&w, "app_id");
	vjw_str(&w, m->app_id);
	put_uint(&w, "\"pid\":", m->pid, false);
	KEY(&w, "comm");
	vjw_str(&w, m->comm);
	KEY(&w, "client");
	vjw_str(&w, m->client);
	put_uint(&w, "\"server_port\":", m->server_port, false);
	KEY(&w, "transport");
	str_raw(&w, rpc_transport_str(c->transport), strlen(rpc_transport_str(c->transport)));
	KEY(&w, "kind");
	str_raw(&w, rpc_kind_str(c->kind), strlen(rpc_kind_str(c->kind)));
	KEY(&w, "method");
	if (c->method_len)
		vjw_strn(&w, c->method, c->method_len);
	else
		vjw_null(&w);
	KEY(&w, "method_truncated");
	vjw_bool(&w, c->method_truncated);
	KEY(&w, "id");
	if (c->id_kind == RPC_ID_STRING || c->id_kind == RPC_ID_NUMBER)
		vjw_strn(&w, c->id, c->id_len);
	else
		vjw_null(&w);
	put_uint(&w, "\"batch_index\":", c->batch_index, false);
	put_uint(&w, "\"batch_size\":", c->batch_size, false);
	put_uint(&w, "\"req_bytes\":", c->req_bytes, false);
	put_uint(&w, "\"resp_bytes\":", c->resp_bytes, false);
	put_uint(&w, "\"latency_ns\":", c->latency_ns, false);
	KEY(&w, "status");
	str_raw(&w, rpc_status_str(c->status), strlen(rpc_status_str(c->status)));
	if (c->has_error_code) {
		put_int(&w, "\"error_code\":", c->error_code);
	} else {
		KEY(&w, "error_code");
		vjw_null(&w);
	}
	KEY(&w, "error_message");
	if (c->status == RPC_STATUS_ERROR && c->error_message_len)
		vjw_strn(&w, c->error_message, c->error_message_len);
	else
		vjw_null(&w);
	if (c->transport == RPC_TRANSPORT_HTTP && c->http_status) {
		put_int(&w, "\"http_status\":", c->http_status);
	} else {
		KEY(&w, "http_status");
		vjw_null(&w);
	}
	if (m->params) {
		/* text, not raw JSON: a capture cut leaves it unbalanced */
		KEY(&w, "params");
		vjw_strn(&w, m->params, m->params_len);
		KEY(&w, "params_truncated");
		vjw_bool(&w, m->params_truncated);
	}
	vjw_end(&w);
	return w.err ? -w.err : 0;
}
