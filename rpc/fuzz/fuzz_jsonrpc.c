// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: the tolerant JSON-RPC scanner on whole inputs and on a prefix (a capture cut), with
 * invariants on what it reports (lengths, terminators, the params span inside the input); and
 * the answer scan (rpc_json_scan_answer) of both against the full scan (answer_agrees()).
 */
#include <stdlib.h>
#include <string.h>

#include "../jsonrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t in_len; /* the length being scanned */

static int check(void *ctx, uint32_t index, const struct rpc_jitem *it)
{
	uint32_t *n = ctx;

	/* the params span lies inside the input, and a cut span runs to its end */
	if (it->has_params &&
	    (it->params_off > in_len || it->params_len > in_len - it->params_off ||
	     (it->params_cut && it->params_off + it->params_len != in_len)))
		abort();
	if (!it->has_params && (it->params_len || it->params_cut))
		abort();
	if (index != *n || it->method_len > RPC_METHOD_MAX || it->id_len > RPC_ID_MAX ||
	    it->error_message_len > RPC_ERRMSG_MAX || it->method[it->method_len] ||
	    it->id[it->id_len] || it->error_message[it->error_message_len] ||
	    (it->has_error_code && !it->has_error))
		abort();
	(*n)++;
	return 0;
}

static struct rpc_jitem first; /* the first item of the last scan through check_keep */

static int check_keep(void *ctx, uint32_t index, const struct rpc_jitem *it)
{
	if (index == 0)
		first = *it;
	return check(ctx, index, it);
}

/*
 * The answer scan of @p[0..n) against the full one (@full, the caller's scan of the same bytes):
 * the same shape and items; and the outcome it stopped at (it read ans.end bytes) is what the
 * full scan reports for the input up to there and one byte on (so that the value after
 * "result": has begun). With one outcome in the input, that is the full scan's own.
 */
static void answer_agrees(const char *p, size_t n, const struct rpc_jscan *full)
{
	struct rpc_jscan ans, pre;
	struct rpc_jitem a;
	uint32_t k = 0;

	in_len = n;
	memset(&first, 0, sizeof(first));
	rpc_json_scan_answer(p, n, check_keep, &k, &ans);
	if (ans.items != k || ans.shape != full->shape || ans.items != full->items || ans.end > n)
		abort();
	if (ans.shape != RPC_JSON_SINGLE)
		return;
	a = first;
	/* an error outcome is its whole object */
	if (a.has_error && !ans.cut && !ans.bad && !a.complete && (!ans.end || p[ans.end - 1] != '}'))
		abort();
	k = 0;
	memset(&first, 0, sizeof(first));
	in_len = ans.end < n ? ans.end + 1 : n;
	rpc_json_scan(p, in_len, check_keep, &k, &pre);
	if (a.has_result != first.has_result || a.has_error != first.has_error ||
	    a.has_error_code != first.has_error_code ||
	    (a.has_error_code && a.error_code != first.error_code) ||
	    a.error_message_len != first.error_message_len ||
	    memcmp(a.error_message, first.error_message, a.error_message_len) ||
	    (a.has_result && a.has_error))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_jscan js;
	uint32_t n = 0;
	char *copy;

	/* an exact-size heap copy so ASan sees any read past the end */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	in_len = size;
	rpc_json_scan(copy, size, check, &n, &js);
	if (js.items != n)
		abort();
	answer_agrees(copy, size, &js);
	if (size) {
		size_t cut = data[0] % size;
		n = 0;
		in_len = cut;
		rpc_json_scan(copy, cut, check, &n, &js);
		if (js.items != n)
			abort();
		answer_agrees(copy, cut, &js);
	}
	free(copy);
	return 0;
}
