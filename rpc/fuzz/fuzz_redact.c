// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: the params redactor (rpc/params.h) on arbitrary bytes, whole and cut.
 *
 * Input: one byte choosing the key list, then the params text. Any input must not crash. When
 * jansson accepts the text as a JSON document (the case where "what is a key" has one answer),
 * two oracles apply:
 *  - the output parses and equals the document with every listed key's value replaced by
 *    "[redacted]" (computed independently on jansson's tree);
 *  - the output for any prefix of the text (a capture cut) is a prefix of the output for the
 *    whole text, so a cut never lets out a byte that the whole document's redaction hides.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/buf.h"
#include "../params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rpc_redact lists[2];
static bool ready;

static bool listed(const struct rpc_redact *r, const char *k)
{
	for (size_t i = 0; i < r->nkeys; i++)
		if (!strcasecmp(k, r->keys[i]) && strlen(k) == r->key_len[i])
			return true;
	return false;
}

/* The reference: a copy of @v with listed keys' values replaced; NULL past the walk's depth. */
static json_t *reference(const struct rpc_redact *r, json_t *v, int depth)
{
	json_t *out, *x;
	const char *k;
	size_t i;

	if (depth > RPC_REDACT_DEPTH)
		return NULL;
	if (json_is_object(v)) {
		out = json_object();
		json_object_foreach(v, k, x) {
			json_t *c = listed(r, k) ? json_string(RPC_REDACTED)
						 : reference(r, x, depth + 1);
			if (!c) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, k, c);
		}
		return out;
	}
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, x) {
			json_t *c = reference(r, x, depth + 1);
			if (!c) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, c);
		}
		return out;
	}
	return json_deep_copy(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vbuf whole = VBUF_INIT, part = VBUF_INIT;
	const struct rpc_redact *r;
	json_error_t jerr;
	json_t *doc, *want, *got;
	char *copy;

	if (!ready) {
		if (rpc_redact_init(&lists[0], RPC_REDACT_KEYS_DEFAULT, NULL) ||
		    rpc_redact_init(&lists[1], "a,b,\xc3\xa9,x", "m*"))
			abort();
		ready = true;
	}
	if (size < 1)
		return 0;
	r = &lists[data[0] & 1];
	data++;
	size--;
	/* an exact-size heap copy so ASan sees any read past the end */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (rpc_redact_json(r, copy, size, &whole))
		abort();
	doc = json_loadb(copy, size, JSON_DECODE_ANY, &jerr);
	if (doc) {
		want = reference(r, doc, 1);
		if (want) {
			got = json_loadb(whole.data ? whole.data : "", whole.len, JSON_DECODE_ANY,
					 &jerr);
			if (!got || !json_equal(got, want))
				abort();
			json_decref(got);
			/* every cut of small inputs, 256 spread over larger ones */
			size_t step = size <= 512 ? 1 : size / 256;
			for (size_t cut = 0; cut < size; cut += step) {
				vbuf_reset(&part);
				if (rpc_redact_json(r, copy, cut, &part))
					abort();
				if (part.len > whole.len ||
				    (part.len && memcmp(part.data, whole.data, part.len)))
					abort();
			}
			json_decref(want);
		}
		json_decref(doc);
	} else if (size) {
		/* not a document: still no crash on one cut */
		vbuf_reset(&part);
		rpc_redact_json(r, copy, data[0] % size, &part);
	}
	vbuf_free(&whole);
	vbuf_free(&part);
	free(copy);
	return 0;
}
