/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A pull reader for JSON, for the two hot parsers (admin_peers, /eth/v1/node/peers): it walks a
 * body once without building a document, so a refresh of 1,000 peers costs a pass over the
 * bytes instead of jansson's tree of ~25 allocations per peer. It accepts exactly what jansson
 * accepts (RFC 8259, UTF-8 checked, no \u0000, integers that fit in long long, finite reals,
 * nesting up to 2048) but says nothing about why it failed: on any failure the caller re-parses
 * with jansson, which gives the message. Strings without escapes point into the input (not
 * NUL-terminated); others are decoded into a scratch buffer valid until the next string.
 *
 * Usage: jp_init(); jp_type() tells the next value's type; jp_obj_begin() then jp_obj_next()
 * (1: a key was read and its value follows, 0: the object ended) or jp_arr_begin() then
 * jp_arr_next() (1: an element follows, 0: ended); jp_str/jp_num/jp_bool/jp_null/jp_skip read
 * one value; jp_end() checks that only white space is left. Every call returns < 0 on error.
 */
#ifndef VIGIL_PEERS_JPULL_H
#define VIGIL_PEERS_JPULL_H

#include <stdbool.h>
#include <stddef.h>

#include "vigil/buf.h"

#define JP_MAX_DEPTH 2048

enum jp_type { JP_OBJECT, JP_ARRAY, JP_STRING, JP_NUMBER, JP_TRUE, JP_FALSE, JP_NULL };

struct jp {
	const unsigned char *p, *end;
	int depth;
	bool first;	   /* the next member/element is the first of the open container */
	struct vbuf s, k;  /* decoded value and key strings */
};

void jp_init(struct jp *j, const char *buf, size_t len);
void jp_free(struct jp *j);
int jp_type(struct jp *j, enum jp_type *t);
int jp_obj_begin(struct jp *j);
int jp_obj_next(struct jp *j, const char **key, size_t *klen);
int jp_arr_begin(struct jp *j);
int jp_arr_next(struct jp *j);
int jp_str(struct jp *j, const char **s, size_t *n);
/* Reads a number; *is_int tells whether it was integer-form (then *iv holds it). */
int jp_num(struct jp *j, bool *is_int, long long *iv);
int jp_lit(struct jp *j); /* true, false or null */
int jp_skip(struct jp *j);
int jp_end(struct jp *j);

static inline bool jp_key_is(const char *k, size_t n, const char *lit)
{
	size_t l = __builtin_strlen(lit);

	return n == l && __builtin_memcmp(k, lit, n) == 0;
}

#endif
