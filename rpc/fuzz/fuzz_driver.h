/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Drives struct rpc_conn from a fuzz input the way the tracer does: the input is a sequence of
 * records, each one syscall:
 *
 *   ctl (1 byte)  bit 0: direction (0 request, 1 response); bits 1-3: uncaptured tail size class
 *   len (2 bytes, little endian), then len captured bytes (fewer if the input ends)
 *
 * The tail classes are 0, 1, 2, 5, 64, 4096, 65536 and 1 MiB bytes that the syscall moved but the
 * capture did not keep. The first input byte picks the limits (a tiny body cap sometimes, params
 * capture with the default or an 8-byte params_max), and
 * every call is rendered with rpc_call_to_json().
 */
#ifndef VIGIL_RPC_FUZZ_DRIVER_H
#define VIGIL_RPC_FUZZ_DRIVER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/buf.h"
#include "../call.h"
#include "../conn.h"

static struct vbuf fuzz_out;

static void fuzz_cb(const struct rpc_call *c, void *ctx)
{
	struct rpc_call_meta m = { .ts_real_ns = c->ts_ns, .app_id = "fuzz", .pid = 1,
				   .comm = "fuzz", .client = "127.0.0.1:1", .server_port = 8545 };
	uint64_t *n = ctx;

	if (c->method_len > RPC_METHOD_MAX || c->id_len > RPC_ID_MAX ||
	    c->error_message_len > RPC_ERRMSG_MAX || c->batch_index >= c->batch_size)
		abort();
	if (strlen(c->method) > c->method_len || strlen(c->id) > c->id_len)
		abort(); /* NUL-terminated within the length */
	if (c->has_params != (c->params != NULL) || c->params_len > RPC_CONN_PARAMS_LIMIT)
		abort();
	if (c->params) {
		/* every byte readable (ASan), none of it past params_max */
		volatile char sum = 0;
		for (uint32_t i = 0; i < c->params_len; i++)
			sum ^= c->params[i];
		(void)sum;
	}
	fuzz_out.len = 0;
	if (rpc_call_to_json(c, &m, &fuzz_out))
		abort();
	(*n)++;
}

static void fuzz_drive(const uint8_t *data, size_t size, const char *prefix_req,
		       const char *prefix_resp)
{
	static const uint64_t tails[8] = { 0, 1, 2, 5, 64, 4096, 65536, 1 << 20 };
	struct rpc_conn_opts o = { 0 };
	struct rpc_conn *c;
	uint64_t calls = 0, ts = 1;
	size_t i = 0;

	if (size < 1)
		return;
	if (data[0] & 1)
		o.body_cap = 1024 + (data[0] >> 1) * 7;
	if (data[0] & 2)
		o.max_pending = 1 + (data[0] >> 4);
	if (data[0] & 4)
		o.max_batch = 1 + (data[0] >> 5);
	if (data[0] & 8)
		o.inflate_cap = 1024;
	if (data[0] & 16) {
		o.capture_params = true;
		o.params_max = data[0] & 32 ? 8 : 0;
	}
	i = 1;
	c = rpc_conn_new(&o, fuzz_cb, &calls);
	if (!c)
		abort();
	if (prefix_req)
		rpc_conn_feed(c, RPC_DIR_REQUEST, ts++, prefix_req, strlen(prefix_req),
			      strlen(prefix_req));
	if (prefix_resp)
		rpc_conn_feed(c, RPC_DIR_RESPONSE, ts++, prefix_resp, strlen(prefix_resp),
			      strlen(prefix_resp));
	while (i + 3 <= size) {
		uint8_t ctl = data[i];
		size_t len = data[i + 1] | (size_t)data[i + 2] << 8;

		i += 3;
		if (len > size - i)
			len = size - i;
		if (rpc_conn_feed(c, (enum rpc_dir)(ctl & 1), ts++, data + i, len,
				  len + tails[(ctl >> 1) & 7]))
			abort();
		i += len;
	}
	if (rpc_conn_stats(c)->calls != calls)
		abort();
	rpc_conn_close(c, ts);
	rpc_conn_free(c);
}

#endif
