/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Growable byte buffer and a streaming JSON writer on top of it. The writer is what every event
 * goes through on its way to the bus, so it never allocates per value and escapes strings per
 * RFC 8259 (control characters as \u00XX, invalid UTF-8 bytes replaced by U+FFFD so the output is
 * always valid JSON whatever bytes a traced process sent).
 */
#ifndef VIGIL_BUF_H
#define VIGIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vbuf {
	char *data; /* always NUL-terminated when len > 0 or after vbuf_cstr() */
	size_t len;
	size_t cap;
};

#define VBUF_INIT { NULL, 0, 0 }

void vbuf_free(struct vbuf *b);
static inline void vbuf_reset(struct vbuf *b) { b->len = 0; if (b->data) b->data[0] = 0; }
/* All return 0 or -ENOMEM. */
int vbuf_reserve(struct vbuf *b, size_t extra);
int vbuf_append(struct vbuf *b, const void *p, size_t n);
int vbuf_puts(struct vbuf *b, const char *s);
int vbuf_putc(struct vbuf *b, char c);
int vbuf_printf(struct vbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The contents as a C string ("" for an empty buffer). */
const char *vbuf_cstr(struct vbuf *b);

/* JSON writer: vjw_obj(w) ... vjw_end(w). Keys and values are comma-separated automatically.
 * Errors (ENOMEM, nesting deeper than VJW_MAX_DEPTH) are sticky in w->err. */
#define VJW_MAX_DEPTH 32
struct vjw {
	struct vbuf *b;
	int depth;
	int err;
	bool first[VJW_MAX_DEPTH];
	char closers[VJW_MAX_DEPTH];
	bool after_key;
};

void vjw_init(struct vjw *w, struct vbuf *b);
void vjw_obj(struct vjw *w);
void vjw_arr(struct vjw *w);
void vjw_end(struct vjw *w);
void vjw_key(struct vjw *w, const char *key);
void vjw_str(struct vjw *w, const char *s);
void vjw_strn(struct vjw *w, const char *s, size_t n);
void vjw_int(struct vjw *w, long long v);
void vjw_uint(struct vjw *w, unsigned long long v);
void vjw_double(struct vjw *w, double v);
void vjw_bool(struct vjw *w, bool v);
void vjw_null(struct vjw *w);
/* Appends already-encoded JSON as one value. */
void vjw_raw(struct vjw *w, const char *json, size_t n);
/* Length of the valid UTF-8 sequence at @s (at most @n bytes, @n >= 1): 1 to 4, or 0 when it is
 * not valid (overlong forms, surrogates and code points above U+10FFFF are invalid). */
size_t vutf8_len(const unsigned char *s, size_t n);
/* Escapes @n bytes of @s as the inside of a JSON string (no quotes) into @b. */
int vjson_escape(struct vbuf *b, const char *s, size_t n);

static inline void vjw_kstr(struct vjw *w, const char *k, const char *v) { vjw_key(w, k); vjw_str(w, v); }
static inline void vjw_kint(struct vjw *w, const char *k, long long v) { vjw_key(w, k); vjw_int(w, v); }
static inline void vjw_kuint(struct vjw *w, const char *k, unsigned long long v) { vjw_key(w, k); vjw_uint(w, v); }
static inline void vjw_kbool(struct vjw *w, const char *k, bool v) { vjw_key(w, k); vjw_bool(w, v); }
static inline void vjw_kdouble(struct vjw *w, const char *k, double v) { vjw_key(w, k); vjw_double(w, v); }

#endif
