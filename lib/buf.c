// SPDX-License-Identifier: GPL-2.0-only
/* Growable buffer and streaming JSON writer; see include/vigil/buf.h. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/buf.h"

void vbuf_free(struct vbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int vbuf_reserve(struct vbuf *b, size_t extra)
{
	size_t need = b->len + extra + 1, cap;
	char *p;

	if (need < b->len)
		return -ENOMEM;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int vbuf_append(struct vbuf *b, const void *p, size_t n)
{
	if (vbuf_reserve(b, n))
		return -ENOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int vbuf_puts(struct vbuf *b, const char *s)
{
	return vbuf_append(b, s, strlen(s));
}

int vbuf_putc(struct vbuf *b, char c)
{
	if (b->len + 1 < b->cap) {
		b->data[b->len++] = c;
		b->data[b->len] = 0;
		return 0;
	}
	return vbuf_append(b, &c, 1);
}

int vbuf_printf(struct vbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || vbuf_reserve(b, (size_t)n))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *vbuf_cstr(struct vbuf *b)
{
	return b->data ? b->data : "";
}

size_t vutf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

int vjson_escape(struct vbuf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	if (vbuf_reserve(b, n + 2))
		return -ENOMEM;
	while (i < n) {
		unsigned char c = s[i];
		size_t ul;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			run++;
			i++;
			continue;
		}
		if (run && vbuf_append(b, s + i - run, run))
			return -ENOMEM;
		run = 0;
		if (c >= 0x80) {
			ul = vutf8_len(s + i, n - i);
			if (ul) {
				if (vbuf_append(b, s + i, ul))
					return -ENOMEM;
				i += ul;
			} else {
				if (vbuf_append(b, "\\ufffd", 6))
					return -ENOMEM;
				i++;
			}
			continue;
		}
		char esc[7] = { '\\', 0 };
		size_t el = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			el = 6;
		}
		if (vbuf_append(b, esc, el))
			return -ENOMEM;
		i++;
	}
	if (run && vbuf_append(b, s + i - run, run))
		return -ENOMEM;
	return 0;
}

void vjw_init(struct vjw *w, struct vbuf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->first[0] = true;
}

/* Writes the separator a new value needs at the current position. */
static void sep(struct vjw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (!w->first[w->depth] && vbuf_putc(w->b, ','))
		w->err = ENOMEM;
	w->first[w->depth] = false;
}

static void open(struct vjw *w, char c, char closer)
{
	sep(w);
	if (w->depth + 1 >= VJW_MAX_DEPTH) {
		w->err = E2BIG;
		return;
	}
	if (vbuf_putc(w->b, c))
		w->err = ENOMEM;
	w->closers[w->depth] = closer;
	w->first[++w->depth] = true;
}

void vjw_obj(struct vjw *w)
{
	open(w, '{', '}');
}

void vjw_arr(struct vjw *w)
{
	open(w, '[', ']');
}

void vjw_end(struct vjw *w)
{
	if (w->depth == 0) {
		w->err = EINVAL;
		return;
	}
	w->depth--;
	if (vbuf_putc(w->b, w->closers[w->depth]))
		w->err = ENOMEM;
}

void vjw_key(struct vjw *w, const char *key)
{
	sep(w);
	if (vbuf_putc(w->b, '"') || vjson_escape(w->b, key, strlen(key)) ||
	    vbuf_append(w->b, "\":", 2))
		w->err = ENOMEM;
	w->after_key = true;
}

void vjw_strn(struct vjw *w, const char *s, size_t n)
{
	sep(w);
	if (vbuf_putc(w->b, '"') || vjson_escape(w->b, s, n) || vbuf_putc(w->b, '"'))
		w->err = ENOMEM;
}

void vjw_str(struct vjw *w, const char *s)
{
	if (!s) {
		vjw_null(w);
		return;
	}
	vjw_strn(w, s, strlen(s));
}

void vjw_raw(struct vjw *w, const char *json, size_t n)
{
	sep(w);
	if (vbuf_append(w->b, json, n))
		w->err = ENOMEM;
}

void vjw_int(struct vjw *w, long long v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lld", v);

	vjw_raw(w, tmp, (size_t)n);
}

void vjw_uint(struct vjw *w, unsigned long long v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", v);

	vjw_raw(w, tmp, (size_t)n);
}

/* JSON has no NaN or infinity: those become null. */
void vjw_double(struct vjw *w, double v)
{
	char tmp[32];
	int n;

	if (!isfinite(v)) {
		vjw_null(w);
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	/* prefer the shortest form that round-trips */
	for (int prec = 6; prec < 17; prec++) {
		char t2[32];
		int n2 = snprintf(t2, sizeof(t2), "%.*g", prec, v);
		if (strtod(t2, NULL) == v) {
			memcpy(tmp, t2, (size_t)n2 + 1);
			n = n2;
			break;
		}
	}
	vjw_raw(w, tmp, (size_t)n);
}

void vjw_bool(struct vjw *w, bool v)
{
	vjw_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void vjw_null(struct vjw *w)
{
	vjw_raw(w, "null", 4);
}
