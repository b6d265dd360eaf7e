// SPDX-License-Identifier: GPL-2.0-only
/* The per-call event as JSON; see call.h. */
#include <errno.h>
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

int rpc_call_to_json(const struct rpc_call *c, const struct rpc_call_meta *m, struct vbuf *out)
{
	struct vjw w;
	char ts[VTIME_BUFLEN];

	vjw_init(&w, out);
	vjw_obj(&w);
	vjw_kstr(&w, "ts", ts_text(m->ts_real_ns, ts, sizeof(ts)));
	vjw_kstr(&w, "app_id", m->app_id);
	vjw_kuint(&w, "pid", m->pid);
	vjw_kstr(&w, "comm", m->comm);
	vjw_kstr(&w, "client", m->client);
	vjw_kuint(&w, "server_port", m->server_port);
	vjw_kstr(&w, "transport", rpc_transport_str(c->transport));
	vjw_kstr(&w, "kind", rpc_kind_str(c->kind));
	vjw_key(&w, "method");
	if (c->method_len)
		vjw_strn(&w, c->method, c->method_len);
	else
		vjw_null(&w);
	vjw_kbool(&w, "method_truncated", c->method_truncated);
	vjw_key(&w, "id");
	if (c->id_kind == RPC_ID_STRING || c->id_kind == RPC_ID_NUMBER)
		vjw_strn(&w, c->id, c->id_len);
	else
		vjw_null(&w);
	vjw_kuint(&w, "batch_index", c->batch_index);
	vjw_kuint(&w, "batch_size", c->batch_size);
	vjw_kuint(&w, "req_bytes", c->req_bytes);
	vjw_kuint(&w, "resp_bytes", c->resp_bytes);
	vjw_kuint(&w, "latency_ns", c->latency_ns);
	vjw_kstr(&w, "status", rpc_status_str(c->status));
	vjw_key(&w, "error_code");
	if (c->has_error_code)
		vjw_int(&w, c->error_code);
	else
		vjw_null(&w);
	vjw_key(&w, "error_message");
	if (c->status == RPC_STATUS_ERROR && c->error_message_len)
		vjw_strn(&w, c->error_message, c->error_message_len);
	else
		vjw_null(&w);
	vjw_key(&w, "http_status");
	if (c->transport == RPC_TRANSPORT_HTTP && c->http_status)
		vjw_int(&w, c->http_status);
	else
		vjw_null(&w);
	vjw_end(&w);
	return w.err ? -w.err : 0;
}
