// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: the tolerant JSON-RPC scanner on whole inputs and on a prefix (a capture cut), with
 * invariants on what it reports (lengths, terminators, the params span inside the input).
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
	if (size) {
		size_t cut = data[0] % size;
		n = 0;
		in_len = cut;
		rpc_json_scan(copy, cut, check, &n, &js);
		if (js.items != n)
			abort();
	}
	free(copy);
	return 0;
}
