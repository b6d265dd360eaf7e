/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A tolerant JSON-RPC 2.0 scanner. It does not build a document: it walks the bytes once and
 * pulls out, per item of a single message or a batch, the method, the id (as text), whether a
 * result or an error is present, error.code and error.message, and where the "params" value lies
 * in the input (it is not copied: the caller decides whether to keep it). The input may be cut
 * anywhere (capture limit, lost bytes): everything that precedes the cut is reported, a value the cut runs
 * through is not (a number cut in the middle is not reported as a shorter number). It never
 * allocates and never recurses, so hostile nesting costs nothing but time linear in the input.
 */
#ifndef VIGIL_RPC_JSONRPC_H
#define VIGIL_RPC_JSONRPC_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"

struct rpc_jitem {
	bool has_method;       /* "method" with a string value */
	bool method_truncated; /* longer than RPC_METHOD_MAX, or cut by the end of input */
	bool has_result;       /* "result" key seen (any value) */
	bool has_error;	       /* "error" key with an object value */
	bool has_error_code;   /* error.code, an integer, complete before the cut */
	bool complete;	       /* the item's closing brace was seen */
	bool has_params;       /* "params" key seen with its colon (any value, possibly cut) */
	bool params_cut;       /* the params value runs past the end of input */
	enum rpc_id_kind id_kind;
	size_t params_off;     /* params value: offset of its first byte in the scanned input */
	size_t params_len;     /* ... and its length (up to the end of input when cut) */
	uint16_t method_len;
	uint8_t id_len;
	uint16_t error_message_len;
	long long error_code;
	char method[RPC_METHOD_MAX + 1];
	char id[RPC_ID_MAX + 1];
	char error_message[RPC_ERRMSG_MAX + 1];
};

enum rpc_jshape {
	RPC_JSON_INVALID, /* neither an object nor an array at the top */
	RPC_JSON_SINGLE,
	RPC_JSON_BATCH,
};

struct rpc_jscan {
	enum rpc_jshape shape;
	uint32_t items; /* items reported through the callback */
	bool cut;	/* the input ended before the top-level value did */
	bool bad;	/* a syntax error stopped the scan */
	size_t end;	/* where the scan stopped: the bytes it read (n when it ran to the end) */
};

/* Called once per item in order; a non-zero return stops the scan and is returned. */
typedef int (*rpc_jitem_fn)(void *ctx, uint32_t index, const struct rpc_jitem *it);

/*
 * Scans @n bytes at @p. Reports each object of a batch (and each non-object batch element, as an
 * empty item, since a server answers those with an error) to @cb, then fills @out. Returns 0 or
 * the callback's non-zero value. The item passed to @cb lives on the scanner's stack.
 */
int rpc_json_scan(const char *p, size_t n, rpc_jitem_fn cb, void *ctx, struct rpc_jscan *out);

/*
 * rpc_json_scan() for the answer to one HTTP request, where answers pair with calls in order: a
 * single object is read only up to its outcome, the "result" key or the whole "error" object
 * (JSON-RPC 2.0 has one of the two; the first one seen decides), and then reported as not
 * complete with out->cut and out->bad false. Its id and whatever follows are not read: a large
 * result is not walked. A batch is scanned whole (its answers pair by id).
 */
int rpc_json_scan_answer(const char *p, size_t n, rpc_jitem_fn cb, void *ctx,
			 struct rpc_jscan *out);

#endif
