// SPDX-License-Identifier: GPL-2.0-only
/* The tolerant JSON-RPC scanner; see jsonrpc.h. */
#include <stddef.h>
#include <string.h>

#include "jsonrpc.h"

enum { S_OK = 0, S_CUT = 1, S_BAD = 2 };

#define MIN_ID(x) ((x) < RPC_ID_MAX ? (x) : RPC_ID_MAX)

struct scan {
	const unsigned char *p;
	size_t n, i;
	bool answer; /* stop an item at its outcome (rpc_json_scan_answer) */
};

static inline void skip_ws(struct scan *s)
{
	while (s->i < s->n) {
		unsigned char c = s->p[s->i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		s->i++;
	}
}

static inline bool is_delim(unsigned char c)
{
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == ':';
}

/* At an opening quote: moves past the closing quote. */
static int skip_string(struct scan *s)
{
	const unsigned char *p = s->p;
	size_t i = s->i + 1, n = s->n;

	while (i < n) {
		const unsigned char *q = memchr(p + i, '"', n - i);
		size_t bs = 0;

		if (!q)
			break;
		/* a quote preceded by an odd number of backslashes is escaped */
		for (const unsigned char *b = q; b > p + i && b[-1] == '\\'; b--)
			bs++;
		i = (size_t)(q - p) + 1;
		if (!(bs & 1)) {
			s->i = i;
			return S_OK;
		}
	}
	s->i = n;
	return S_CUT;
}

/*
 * At an opening quote: copies the string's text into @dst (at most @cap bytes, NUL-terminated),
 * decoding the one-character escapes; \uXXXX is kept as written. *@trunc is set when the text is
 * longer than @cap or the input ends inside it (S_CUT).
 */
static int read_string(struct scan *s, char *dst, size_t cap, size_t *len, bool *trunc)
{
	const unsigned char *p = s->p;
	size_t i = s->i + 1, o = 0, n = s->n;

	*trunc = false;
	while (i < n) {
		size_t j = i, run, k;
		unsigned char c;

		/* plain bytes up to the next quote or backslash are copied in one go */
		while (j < n && p[j] != '"' && p[j] != '\\')
			j++;
		run = j - i;
		k = run < cap - o ? run : cap - o;
		memcpy(dst + o, p + i, k);
		o += k;
		if (k < run)
			*trunc = true;
		i = j;
		if (i >= n)
			break;
		if (p[i++] == '"') {
			dst[o] = 0;
			*len = o;
			s->i = i;
			return S_OK;
		}
		/* a backslash */
		if (i >= n)
			break;
		c = p[i++];
		switch (c) {
		case 'n': c = '\n'; break;
		case 't': c = '\t'; break;
		case 'r': c = '\r'; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'u': /* keep the escape as text */
			if (o < cap)
				dst[o++] = '\\';
			else
				*trunc = true;
			break;
		default: break; /* '"', '\\', '/' and anything else: the character itself */
		}
		if (o < cap)
			dst[o++] = (char)c;
		else
			*trunc = true;
	}
	dst[o] = 0;
	*len = o;
	*trunc = true;
	s->i = n;
	return S_CUT;
}

/* A bare token (number, true, false, null): [start, end) once a delimiter follows it. */
static int read_token(struct scan *s, size_t *start, size_t *end)
{
	size_t i = s->i;

	*start = i;
	while (i < s->n && !is_delim(s->p[i]) && s->p[i] != '"' && s->p[i] != '{' && s->p[i] != '[')
		i++;
	if (i >= s->n) {
		s->i = s->n;
		return S_CUT;
	}
	*end = i;
	s->i = i;
	return i > *start ? S_OK : S_BAD;
}

/* Skips one value of any kind; nesting is counted, not recursed into. */
static int skip_value(struct scan *s)
{
	size_t depth = 0, a, b;

	for (;;) {
		int r;

		skip_ws(s);
		if (s->i >= s->n)
			return S_CUT;
		unsigned char c = s->p[s->i];
		switch (c) {
		case '"':
			r = skip_string(s);
			if (r)
				return r;
			break;
		case '{':
		case '[':
			depth++;
			s->i++;
			continue;
		case '}':
		case ']':
			if (!depth)
				return S_BAD;
			depth--;
			s->i++;
			break;
		case ',':
		case ':':
			if (!depth)
				return S_BAD;
			s->i++;
			continue;
		default:
			r = read_token(s, &a, &b);
			if (r)
				return r;
			break;
		}
		if (!depth)
			return S_OK;
	}
}

/* Integer value of a number token (fraction and exponent ignored); false when it has no digit. */
static bool token_int(const unsigned char *p, size_t n, long long *out)
{
	size_t i = 0, digits = 0;
	bool neg = false;
	long long v = 0;

	if (i < n && p[i] == '-')
		neg = true, i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++)
		if (digits < 18)
			v = v * 10 + (p[i] - '0');
	if (!digits)
		return false;
	*out = neg ? -v : v;
	return true;
}

enum key { K_OTHER, K_METHOD, K_ID, K_RESULT, K_ERROR, K_CODE, K_MESSAGE, K_PARAMS };

/* Which key @k (@len bytes) is. */
static enum key key_of(const char *k, size_t len)
{
	switch (len) {
	case 2: return memcmp(k, "id", 2) ? K_OTHER : K_ID;
	case 4: return memcmp(k, "code", 4) ? K_OTHER : K_CODE;
	case 5: return memcmp(k, "error", 5) ? K_OTHER : K_ERROR;
	case 6:
		if (!memcmp(k, "method", 6))
			return K_METHOD;
		if (!memcmp(k, "result", 6))
			return K_RESULT;
		return memcmp(k, "params", 6) ? K_OTHER : K_PARAMS;
	case 7: return memcmp(k, "message", 7) ? K_OTHER : K_MESSAGE;
	}
	return K_OTHER;
}

/*
 * At the opening quote of a key. A key without escapes whose closing quote is in the input is
 * compared where it lies; any other goes through read_string() (escapes decoded, a cut seen).
 */
static enum key read_key(struct scan *s, int *r)
{
	const unsigned char *p = s->p;
	size_t i = s->i + 1, n = s->n;
	char k[16];
	size_t len;
	bool trunc;

	while (i < n && p[i] != '"' && p[i] != '\\')
		i++;
	if (i < n && p[i] == '"') {
		len = i - s->i - 1;
		*r = S_OK;
		s->i = i + 1;
		return len < sizeof(k) ? key_of((const char *)p + i - len, len) : K_OTHER;
	}
	*r = read_string(s, k, sizeof(k) - 1, &len, &trunc);
	if (*r || trunc)
		return K_OTHER;
	return key_of(k, len);
}

/*
 * Moves past `"key" :` to the value; S_CUT when the input ends first. *@colon (if given) tells
 * whether the colon was seen.
 */
static int after_colon(struct scan *s, bool *colon)
{
	skip_ws(s);
	if (s->i >= s->n)
		return S_CUT;
	if (s->p[s->i] != ':')
		return S_BAD;
	s->i++;
	if (colon)
		*colon = true;
	skip_ws(s);
	return s->i >= s->n ? S_CUT : S_OK;
}

/* At '{' of an error object: code and message. */
static int scan_error(struct scan *s, struct rpc_jitem *it)
{
	s->i++;
	for (;;) {
		enum key k;
		size_t a, b, len;
		bool trunc;
		int r;

		skip_ws(s);
		if (s->i >= s->n)
			return S_CUT;
		if (s->p[s->i] == '}') {
			s->i++;
			return S_OK;
		}
		if (s->p[s->i] == ',') {
			s->i++;
			continue;
		}
		if (s->p[s->i] != '"')
			return S_BAD;
		k = read_key(s, &r);
		if (r || (r = after_colon(s, NULL)))
			return r;
		if (k == K_CODE && s->p[s->i] != '"' && s->p[s->i] != '{' && s->p[s->i] != '[') {
			r = read_token(s, &a, &b);
			if (r)
				return r;
			it->has_error_code = token_int(s->p + a, b - a, &it->error_code);
		} else if (k == K_MESSAGE && s->p[s->i] == '"') {
			r = read_string(s, it->error_message, RPC_ERRMSG_MAX, &len, &trunc);
			it->error_message_len = (uint16_t)len;
			if (r)
				return r;
		} else if ((r = skip_value(s))) {
			return r;
		}
	}
}

/* At '{' of an item. */
static int scan_item(struct scan *s, struct rpc_jitem *it)
{
	s->i++;
	for (;;) {
		enum key k;
		size_t a, b, len;
		bool trunc, colon;
		int r;
		unsigned char c;

		skip_ws(s);
		if (s->i >= s->n)
			return S_CUT;
		c = s->p[s->i];
		if (c == '}') {
			s->i++;
			it->complete = true;
			return S_OK;
		}
		if (c == ',') {
			s->i++;
			continue;
		}
		if (c != '"')
			return S_BAD;
		k = read_key(s, &r);
		if (r)
			return r;
		colon = false;
		r = after_colon(s, &colon);
		if (r == S_CUT && k == K_PARAMS && colon) {
			/* cut after the colon: params present, nothing of its value captured */
			it->has_params = it->params_cut = true;
			it->params_off = s->n;
			it->params_len = 0;
		}
		if (r)
			return r;
		c = s->p[s->i];
		switch (k) {
		case K_METHOD:
			if (c != '"')
				goto skip;
			it->has_method = true;
			r = read_string(s, it->method, RPC_METHOD_MAX, &len, &trunc);
			it->method_len = (uint16_t)len;
			it->method_truncated = trunc;
			if (r)
				return r;
			break;
		case K_ID:
			if (c == '"') {
				r = read_string(s, it->id, RPC_ID_MAX, &len, &trunc);
				if (r) {
					/* an id cut short is no id (even if an earlier one was) */
					it->id[0] = 0;
					it->id_len = 0;
					it->id_kind = RPC_ID_NONE;
					return r;
				}
				it->id_kind = RPC_ID_STRING;
				it->id_len = (uint8_t)len;
			} else if (c != '{' && c != '[') {
				r = read_token(s, &a, &b);
				if (r)
					return r;
				len = MIN_ID(b - a);
				memcpy(it->id, s->p + a, len);
				it->id[len] = 0;
				it->id_len = (uint8_t)len;
				it->id_kind = (b - a == 4 && !memcmp(s->p + a, "null", 4)) ? RPC_ID_NULL
											: RPC_ID_NUMBER;
			} else {
				goto skip;
			}
			break;
		case K_RESULT:
			it->has_result = true;
			if (s->answer)
				return S_OK; /* the outcome; the value is not needed */
			goto skip;
		case K_PARAMS:
			/* the last "params" wins, as in the servers' JSON decoders */
			a = s->i;
			r = skip_value(s);
			if (r == S_BAD) {
				/* no params, even if an earlier "params" had one (found by fuzz) */
				it->has_params = it->params_cut = false;
				it->params_off = it->params_len = 0;
				return r;
			}
			it->has_params = true;
			it->params_cut = r == S_CUT;
			it->params_off = a;
			it->params_len = (r == S_CUT ? s->n : s->i) - a;
			if (r)
				return r;
			break;
		case K_ERROR:
			if (c != '{')
				goto skip;
			it->has_error = true;
			if ((r = scan_error(s, it)))
				return r;
			if (s->answer)
				return S_OK;
			break;
		default:
skip:
			if ((r = skip_value(s)))
				return r;
		}
	}
}

static void item_init(struct rpc_jitem *it)
{
	memset(it, 0, offsetof(struct rpc_jitem, method));
	it->method[0] = it->id[0] = it->error_message[0] = 0;
}

static int scan_top(const char *p, size_t n, bool answer, rpc_jitem_fn cb, void *ctx,
		    struct rpc_jscan *out)
{
	struct scan s = { (const unsigned char *)p, n, 0, false };
	struct rpc_jitem it;
	int r = S_OK, cr;

	memset(out, 0, sizeof(*out));
	skip_ws(&s);
	if (s.i >= n)
		return 0;
	if (s.p[s.i] == '{') {
		out->shape = RPC_JSON_SINGLE;
		item_init(&it);
		s.answer = answer; /* a single answer only: a batch's are told apart by their ids */
		r = scan_item(&s, &it);
		out->items = 1;
		out->end = s.i;
		out->cut = r == S_CUT;
		out->bad = r == S_BAD;
		return cb ? cb(ctx, 0, &it) : 0;
	}
	if (s.p[s.i] != '[')
		return 0;
	out->shape = RPC_JSON_BATCH;
	s.i++;
	for (;;) {
		skip_ws(&s);
		if (s.i >= n) {
			r = S_CUT;
			break;
		}
		if (s.p[s.i] == ']')
			break;
		if (s.p[s.i] == ',') {
			s.i++;
			continue;
		}
		item_init(&it);
		if (s.p[s.i] == '{') {
			r = scan_item(&s, &it);
		} else {
			r = skip_value(&s);
			it.complete = r == S_OK;
		}
		cr = cb ? cb(ctx, out->items, &it) : 0;
		out->items++;
		out->end = s.i;
		if (cr)
			return cr;
		if (r)
			break;
	}
	out->end = s.i;
	out->cut = r == S_CUT;
	out->bad = r == S_BAD;
	return 0;
}

int rpc_json_scan(const char *p, size_t n, rpc_jitem_fn cb, void *ctx, struct rpc_jscan *out)
{
	return scan_top(p, n, false, cb, ctx, out);
}

int rpc_json_scan_answer(const char *p, size_t n, rpc_jitem_fn cb, void *ctx,
			 struct rpc_jscan *out)
{
	return scan_top(p, n, true, cb, ctx, out);
}
