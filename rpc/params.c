// SPDX-License-Identifier: GPL-2.0-only
/* Sampling and redaction of captured request parameters; see params.h. */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/log.h"
#include "params.h"

#define ITEM_MAX 255

/* ---- lists ---- */

/* Appends the items of a comma-separated list to *@v (growing it); 0, -EINVAL or -ENOMEM. */
static int add_list(char ***v, size_t *nv, const char *list, const char *what)
{
	const char *p = list;

	while (p && *p) {
		const char *e = strchr(p, ','), *a = p, *b;
		char **nvv, *item;

		if (!e)
			e = p + strlen(p);
		b = e;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		p = *e ? e + 1 : e;
		if (a == b)
			continue;
		if (b - a > ITEM_MAX) {
			log_error("rpc", "invalid %s item '%.*s...': longer than %d bytes", what, 40,
				  a, ITEM_MAX);
			return -EINVAL;
		}
		item = strndup(a, (size_t)(b - a));
		nvv = realloc(*v, (*nv + 1) * sizeof(**v));
		if (!item || !nvv) {
			free(item);
			if (nvv)
				*v = nvv;
			return -ENOMEM;
		}
		*v = nvv;
		(*v)[(*nv)++] = item;
	}
	return 0;
}

int rpc_redact_init(struct rpc_redact *r, const char *keys, const char *methods)
{
	int err;

	memset(r, 0, sizeof(*r));
	err = add_list(&r->keys, &r->nkeys, keys, "--redact-keys");
	if (!err)
		err = add_list(&r->methods, &r->nmethods, RPC_REDACT_METHODS_BUILTIN, "built-in");
	if (!err)
		err = add_list(&r->methods, &r->nmethods, methods, "--redact-methods");
	if (!err && r->nkeys) {
		r->key_len = malloc(r->nkeys * sizeof(*r->key_len));
		if (!r->key_len)
			err = -ENOMEM;
	}
	if (err) {
		rpc_redact_free(r);
		return err;
	}
	for (size_t i = 0; i < r->nkeys; i++) {
		r->key_len[i] = strlen(r->keys[i]);
		if (r->key_len[i] > r->key_max)
			r->key_max = r->key_len[i];
	}
	return 0;
}

void rpc_redact_free(struct rpc_redact *r)
{
	for (size_t i = 0; i < r->nkeys; i++)
		free(r->keys[i]);
	for (size_t i = 0; i < r->nmethods; i++)
		free(r->methods[i]);
	free(r->keys);
	free(r->key_len);
	free(r->methods);
	memset(r, 0, sizeof(*r));
}

bool rpc_redact_method(const struct rpc_redact *r, const char *method, size_t len, bool truncated)
{
	/* a method we cannot read whole, or with a NUL inside, cannot be cleared */
	if (!len || truncated || strnlen(method, len + 1) != len)
		return true;
	for (size_t i = 0; i < r->nmethods; i++)
		if (fnmatch(r->methods[i], method, FNM_CASEFOLD) == 0)
			return true;
	return false;
}

/* ---- the JSON walk ---- */

enum { R_OK, R_CUT, R_BAD };
enum expect { E_VALUE, E_VALUE_OR_END, E_KEY, E_KEY_OR_END, E_COLON, E_COMMA_OR_END, E_DONE };

struct walk {
	const struct rpc_redact *r;
	const unsigned char *p;
	size_t n, i;
	size_t copied; /* input before this offset is in @out (or replaced) */
	struct vbuf *out;
	size_t depth;
	uint8_t is_obj[RPC_REDACT_DEPTH / 8];
	bool err;
};

static bool top_is_obj(const struct walk *w)
{
	size_t d = w->depth - 1;

	return w->is_obj[d / 8] & (1u << (d % 8));
}

static void put(struct walk *w, const void *p, size_t n)
{
	if (vbuf_append(w->out, p, n))
		w->err = true;
}

/* Writes the input up to @upto verbatim, then the marker; the input up to @resume is consumed. */
static void replace(struct walk *w, size_t upto, size_t resume, const char *marker)
{
	put(w, w->p + w->copied, upto - w->copied);
	put(w, marker, strlen(marker));
	w->copied = resume;
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool ends_token(unsigned char c)
{
	return is_ws(c) || c == ',' || c == ':' || c == '}' || c == ']' || c == '"' || c == '{' ||
	       c == '[';
}

/* At an opening quote: past the closing one (a quote after an odd run of backslashes is text). */
static int skip_string(struct walk *w)
{
	size_t i = w->i + 1;

	while (i < w->n) {
		unsigned char c = w->p[i++];

		if (c == '\\') {
			if (i >= w->n)
				break;
			i++;
		} else if (c == '"') {
			w->i = i;
			return R_OK;
		}
	}
	w->i = w->n;
	return R_CUT;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Appends @n bytes to the key being decoded, or marks it too long to be listed. */
static void key_put(char *k, size_t *o, bool *too_long, size_t cap, const void *s, size_t n)
{
	if (*too_long || *o + n > cap) {
		*too_long = true;
		return;
	}
	memcpy(k + *o, s, n);
	*o += n;
}

/*
 * At the opening quote of a key: past its closing quote, and whether the key (unescaped:
 * \uXXXX as UTF-8, a lone surrogate as its 3 bytes) is on the list. Decoding stops once the key
 * is longer than the longest listed one.
 */
static int read_key(struct walk *w, bool *listed)
{
	char k[ITEM_MAX + 1];
	size_t o = 0, i = w->i + 1, cap = w->r->key_max;
	bool too_long = false;

	*listed = false;
	while (i < w->n) {
		unsigned char c = w->p[i++], u[3];
		unsigned cp = 0;

		if (c == '"') {
			w->i = i;
			for (size_t j = 0; j < w->r->nkeys && !too_long; j++)
				if (w->r->key_len[j] == o && !strncasecmp(k, w->r->keys[j], o))
					*listed = true;
			return R_OK;
		}
		if (c == '\\') {
			if (i >= w->n)
				break;
			c = w->p[i++];
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				/* only hex digits are taken: a quote always ends the string */
				for (int h = 0; h < 4; h++, i++) {
					int v = i < w->n ? hexval(w->p[i]) : -1;
					if (v < 0) {
						cp = 0xfffd;
						break;
					}
					cp = cp << 4 | (unsigned)v;
				}
				if (cp < 0x80) {
					u[0] = (unsigned char)cp;
					key_put(k, &o, &too_long, cap, u, 1);
				} else if (cp < 0x800) {
					u[0] = (unsigned char)(0xc0 | cp >> 6);
					u[1] = (unsigned char)(0x80 | (cp & 0x3f));
					key_put(k, &o, &too_long, cap, u, 2);
				} else {
					u[0] = (unsigned char)(0xe0 | cp >> 12);
					u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
					u[2] = (unsigned char)(0x80 | (cp & 0x3f));
					key_put(k, &o, &too_long, cap, u, 3);
				}
				continue;
			default: break; /* '"', '\\', '/' and anything else: the character itself */
			}
		}
		key_put(k, &o, &too_long, cap, &c, 1);
	}
	w->i = w->n;
	return R_CUT;
}

/* Skips one value of any kind; nesting is counted (any bracket closes any), not recursed. */
static int skip_value(struct walk *w)
{
	size_t depth = 0;

	for (;;) {
		unsigned char c;

		while (w->i < w->n && is_ws(w->p[w->i]))
			w->i++;
		if (w->i >= w->n)
			return R_CUT;
		c = w->p[w->i];
		if (c == '"') {
			if (skip_string(w))
				return R_CUT;
		} else if (c == '{' || c == '[') {
			depth++;
			w->i++;
			continue;
		} else if (c == '}' || c == ']') {
			if (!depth)
				return R_BAD;
			depth--;
			w->i++;
		} else if (c == ',' || c == ':') {
			if (!depth)
				return R_BAD;
			w->i++;
			continue;
		} else {
			while (w->i < w->n && !ends_token(w->p[w->i]))
				w->i++;
			if (w->i >= w->n)
				return R_CUT;
		}
		if (!depth)
			return R_OK;
	}
}

static enum expect after_value(const struct walk *w)
{
	return w->depth ? E_COMMA_OR_END : E_DONE;
}

/*
 * The walk: a state machine over the tokens with a bit stack of the open containers (object or
 * array), so that it knows whether a string is a key. Returns R_OK (the input ended, cut or
 * not: everything is in @out) or R_BAD (what follows w->i was replaced by one marker).
 */
static int walk(struct walk *w)
{
	enum expect e = E_VALUE;
	bool redact_next = false, listed = false;

	for (;;) {
		unsigned char c;

		while (w->i < w->n && is_ws(w->p[w->i]))
			w->i++;
		if (w->i >= w->n)
			return R_OK;
		c = w->p[w->i];
		switch (e) {
		case E_VALUE_OR_END:
			if (c == ']') {
				w->depth--;
				w->i++;
				e = after_value(w);
				break;
			}
			/* fall through */
		case E_VALUE:
			if (redact_next) {
				size_t start = w->i;
				int r = skip_value(w);

				redact_next = false;
				if (r != R_OK) {
					/* cut or unreadable: none of it, nor what follows */
					replace(w, start, w->n, "\"" RPC_REDACTED "\"");
					return R_OK;
				}
				replace(w, start, w->i, "\"" RPC_REDACTED "\"");
				e = after_value(w);
			} else if (c == '{' || c == '[') {
				if (w->depth >= RPC_REDACT_DEPTH)
					return R_BAD;
				if (c == '{')
					w->is_obj[w->depth / 8] |= (uint8_t)(1u << (w->depth % 8));
				else
					w->is_obj[w->depth / 8] &= (uint8_t)~(1u << (w->depth % 8));
				w->depth++;
				w->i++;
				e = c == '{' ? E_KEY_OR_END : E_VALUE_OR_END;
			} else if (c == '"') {
				if (skip_string(w))
					return R_OK;
				e = after_value(w);
			} else if (c == '}' || c == ']' || c == ',' || c == ':') {
				return R_BAD;
			} else {
				while (w->i < w->n && !ends_token(w->p[w->i]))
					w->i++;
				e = after_value(w);
			}
			break;
		case E_KEY_OR_END:
			if (c == '}') {
				w->depth--;
				w->i++;
				e = after_value(w);
				break;
			}
			/* fall through */
		case E_KEY:
			if (c != '"')
				return R_BAD;
			if (read_key(w, &listed))
				return R_OK;
			e = E_COLON;
			break;
		case E_COLON:
			if (c != ':')
				return R_BAD;
			w->i++;
			redact_next = listed;
			e = E_VALUE;
			break;
		case E_COMMA_OR_END:
			if (c == ',') {
				w->i++;
				e = top_is_obj(w) ? E_KEY : E_VALUE;
			} else if (c == (top_is_obj(w) ? '}' : ']')) {
				w->depth--;
				w->i++;
				e = after_value(w);
			} else {
				return R_BAD;
			}
			break;
		case E_DONE:
			return R_BAD;
		}
	}
}

int rpc_redact_json(const struct rpc_redact *r, const char *in, size_t n, struct vbuf *out)
{
	struct walk w = { .r = r, .p = (const unsigned char *)in, .n = n, .out = out };

	if (walk(&w) == R_BAD)
		replace(&w, w.i, w.n, "\"" RPC_REDACTED "\"");
	else
		put(&w, w.p + w.copied, w.n - w.copied);
	return w.err ? -ENOMEM : 0;
}

int rpc_params_export(const struct rpc_redact *r, const struct rpc_call *c, struct vbuf *out)
{
	if (rpc_redact_method(r, c->method, c->method_len, c->method_truncated))
		return vbuf_append(out, RPC_REDACTED, sizeof(RPC_REDACTED) - 1) ? -ENOMEM : 0;
	return rpc_redact_json(r, c->params, c->params_len, out);
}

/* ---- sampling ---- */

/* splitmix64's finalizer: a bijection that spreads every input bit over the output. */
static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

bool rpc_params_sampled(double rate, uint64_t seed, uint64_t conn, uint64_t seq)
{
	uint64_t h;

	if (rate >= 1)
		return true;
	if (!(rate > 0))
		return false;
	h = mix64(mix64(mix64(seed) ^ conn) ^ seq);
	return (double)(h >> 11) * 0x1.0p-53 < rate;
}
