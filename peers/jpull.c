// SPDX-License-Identifier: GPL-2.0-only
/* Pull JSON reader for the hot peer-list parsers; see jpull.h for what it accepts. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jpull.h"

#define BAD (-EBADMSG)

void jp_init(struct jp *j, const char *buf, size_t len)
{
	memset(j, 0, sizeof(*j));
	j->p = (const unsigned char *)buf;
	j->end = j->p + len;
}

void jp_free(struct jp *j)
{
	vbuf_free(&j->s);
	vbuf_free(&j->k);
}

static inline void ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

int jp_type(struct jp *j, enum jp_type *t)
{
	ws(j);
	if (j->p >= j->end)
		return BAD;
	switch (*j->p) {
	case '{': *t = JP_OBJECT; return 0;
	case '[': *t = JP_ARRAY; return 0;
	case '"': *t = JP_STRING; return 0;
	case 't': *t = JP_TRUE; return 0;
	case 'f': *t = JP_FALSE; return 0;
	case 'n': *t = JP_NULL; return 0;
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
			*t = JP_NUMBER;
			return 0;
		}
		return BAD;
	}
}

static int open_container(struct jp *j, unsigned char ch)
{
	ws(j);
	if (j->p >= j->end || *j->p != ch || j->depth >= JP_MAX_DEPTH)
		return BAD;
	j->p++;
	j->depth++;
	j->first = true;
	return 0;
}

int jp_obj_begin(struct jp *j)
{
	return open_container(j, '{');
}

int jp_arr_begin(struct jp *j)
{
	return open_container(j, '[');
}

/* Length of a valid UTF-8 sequence at @s (at most @n bytes), 0 if invalid; as jansson checks:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int hex4(const unsigned char *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return BAD;
	}
	*out = v;
	return 0;
}

static int put_utf8(struct vbuf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return vbuf_append(b, u, n);
}

/* Reads a string at j->p (which is at '"'); decoded into @scratch only when it has escapes. */
static int read_string(struct jp *j, struct vbuf *scratch, const char **s, size_t *n)
{
	const unsigned char *p = j->p + 1, *start = p;

	/* fast path: plain ASCII up to the closing quote */
	while (p < j->end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
		p++;
	if (p < j->end && *p == '"') {
		*s = (const char *)start;
		*n = (size_t)(p - start);
		j->p = p + 1;
		return 0;
	}
	vbuf_reset(scratch);
	if (vbuf_append(scratch, start, (size_t)(p - start)))
		return -ENOMEM;
	while (p < j->end) {
		unsigned c = *p;

		if (c == '"') {
			*s = vbuf_cstr(scratch);
			*n = scratch->len;
			j->p = p + 1;
			return 0;
		}
		if (c < 0x20)
			return BAD;
		if (c >= 0x80) {
			size_t l = utf8_len(p, (size_t)(j->end - p));

			if (!l || vbuf_append(scratch, p, l))
				return BAD;
			p += l;
			continue;
		}
		if (c != '\\') {
			if (vbuf_putc(scratch, (char)c))
				return -ENOMEM;
			p++;
			continue;
		}
		if (++p >= j->end)
			return BAD;
		switch (*p) {
		case '"': c = '"'; break;
		case '\\': c = '\\'; break;
		case '/': c = '/'; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u': {
			uint32_t cp, lo;

			if (j->end - p < 5 || hex4(p + 1, &cp))
				return BAD;
			p += 5;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (j->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff)
					return BAD;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
				return BAD;
			}
			if (put_utf8(scratch, cp))
				return -ENOMEM;
			continue;
		}
		default: return BAD;
		}
		if (vbuf_putc(scratch, (char)c))
			return -ENOMEM;
		p++;
	}
	return BAD;
}

int jp_obj_next(struct jp *j, const char **key, size_t *klen)
{
	int rc;

	ws(j);
	if (j->p >= j->end)
		return BAD;
	if (*j->p == '}') {
		j->p++;
		j->depth--;
		j->first = false;
		return 0;
	}
	if (!j->first) {
		if (*j->p != ',')
			return BAD;
		j->p++;
		ws(j);
	}
	if (j->p >= j->end || *j->p != '"')
		return BAD;
	if ((rc = read_string(j, &j->k, key, klen)))
		return rc;
	ws(j);
	if (j->p >= j->end || *j->p != ':')
		return BAD;
	j->p++;
	j->first = false;
	return 1;
}

int jp_arr_next(struct jp *j)
{
	ws(j);
	if (j->p >= j->end)
		return BAD;
	if (*j->p == ']') {
		j->p++;
		j->depth--;
		j->first = false;
		return 0;
	}
	if (!j->first) {
		if (*j->p != ',')
			return BAD;
		j->p++;
	}
	j->first = false;
	return 1;
}

int jp_str(struct jp *j, const char **s, size_t *n)
{
	int rc;

	ws(j);
	if (j->p >= j->end || *j->p != '"' || j->depth >= JP_MAX_DEPTH)
		return BAD;
	rc = read_string(j, &j->s, s, n);
	j->first = false;
	return rc;
}

static bool digit(const unsigned char *p, const unsigned char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

int jp_num(struct jp *j, bool *is_int, long long *iv)
{
	const unsigned char *p, *start;
	char tmp[64], *copy = tmp, *endp;
	size_t n;
	int rc = 0;

	ws(j);
	if (j->depth >= JP_MAX_DEPTH) /* jansson counts scalars in its depth too */
		return BAD;
	p = start = j->p;
	*is_int = true;
	if (p < j->end && *p == '-')
		p++;
	if (!digit(p, j->end))
		return BAD;
	if (*p == '0') {
		p++;
		if (digit(p, j->end))
			return BAD;
	} else {
		while (digit(p, j->end))
			p++;
	}
	if (p < j->end && *p == '.') {
		*is_int = false;
		p++;
		if (!digit(p, j->end))
			return BAD;
		while (digit(p, j->end))
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		*is_int = false;
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (!digit(p, j->end))
			return BAD;
		while (digit(p, j->end))
			p++;
	}
	n = (size_t)(p - start);
	if (n >= sizeof(tmp)) {
		copy = malloc(n + 1);
		if (!copy)
			return -ENOMEM;
	}
	memcpy(copy, start, n);
	copy[n] = 0;
	errno = 0;
	if (*is_int) {
		long long v = strtoll(copy, &endp, 10);

		if (errno == ERANGE)
			rc = BAD; /* jansson: "too big integer" */
		else if (iv)
			*iv = v;
	} else {
		double d = strtod(copy, &endp);

		if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
			rc = BAD; /* jansson: "real number overflow" */
	}
	if (copy != tmp)
		free(copy);
	j->p = p;
	j->first = false;
	return rc;
}

int jp_lit(struct jp *j)
{
	static const char *const lits[] = { "true", "false", "null" };

	ws(j);
	if (j->depth >= JP_MAX_DEPTH)
		return BAD;
	for (int i = 0; i < 3; i++) {
		size_t l = strlen(lits[i]);

		if ((size_t)(j->end - j->p) >= l && memcmp(j->p, lits[i], l) == 0) {
			j->p += l;
			j->first = false;
			return 0;
		}
	}
	return BAD;
}

int jp_skip(struct jp *j)
{
	enum jp_type t;
	const char *s;
	size_t n;
	bool is_int;
	int rc;

	if ((rc = jp_type(j, &t)))
		return rc;
	switch (t) {
	case JP_OBJECT:
		if ((rc = jp_obj_begin(j)))
			return rc;
		while ((rc = jp_obj_next(j, &s, &n)) == 1)
			if ((rc = jp_skip(j)))
				return rc;
		return rc;
	case JP_ARRAY:
		if ((rc = jp_arr_begin(j)))
			return rc;
		while ((rc = jp_arr_next(j)) == 1)
			if ((rc = jp_skip(j)))
				return rc;
		return rc;
	case JP_STRING: return jp_str(j, &s, &n);
	case JP_NUMBER: return jp_num(j, &is_int, NULL);
	default: return jp_lit(j);
	}
}

int jp_end(struct jp *j)
{
	ws(j);
	return j->p == j->end && j->depth == 0 ? 0 : BAD;
}
