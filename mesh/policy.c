// SPDX-License-Identifier: GPL-2.0-only
/*
 * Validators and parsers for the mesh coordinator's vocabulary; see policy.h. The JSON documents
 * go through jansson (duplicate keys rejected); the text policy format is hand-parsed here and
 * fuzzed with the rest (mesh/fuzz/fuzz_mesh_api.c).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mesh/policy.h"
#include "vigil/util.h"

#define MAX_RULES 200000

/* every validation failure here is -EINVAL */
#define fail(err, n, ...) verrf(err, n, -EINVAL, __VA_ARGS__)

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* A WireGuard key is standard base64 of exactly 32 bytes: 43 symbols and one '=', and the last
 * symbol's two low bits zero (so one key has one spelling). */
int mesh_pubkey_check(const char *s, char *err, size_t n)
{
	size_t len = s ? strlen(s) : 0;

	if (len != MESH_PUBKEY_LEN || s[43] != '=')
		return fail(err, n, "public_key: expected the base64 of 32 bytes (44 characters "
			    "ending in '=', as `wg pubkey` prints), got %zu characters", len);
	for (int i = 0; i < 43; i++)
		if (b64val((unsigned char)s[i]) < 0)
			return fail(err, n, "public_key: character %d is not base64", i + 1);
	if (b64val((unsigned char)s[42]) & 3)
		return fail(err, n, "public_key: not a canonical base64 encoding of 32 bytes");
	return 0;
}

static bool host_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* host:port with an IPv4 address, a DNS name or a bracketed IPv6 address; port 1..65535. */
int mesh_endpoint_check(const char *s, char *err, size_t n)
{
	const char *colon;
	char host[256];
	size_t hl;
	char *end;
	long port;

	if (!s || !*s)
		return 0;
	if (strlen(s) >= MESH_ENDPOINT_MAX)
		return fail(err, n, "endpoint: longer than %d characters", MESH_ENDPOINT_MAX - 1);
	colon = strrchr(s, ':');
	if (!colon || colon == s)
		return fail(err, n, "endpoint: \"%s\" is not host:port (e.g. "
			    "203.0.113.5:51820)", s);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 1 || port > 65535)
		return fail(err, n, "endpoint: port in \"%s\" is not 1..65535", s);
	hl = colon - s;
	if (s[0] == '[') {
		struct in6_addr a6;

		if (hl < 3 || s[hl - 1] != ']' || hl - 2 >= sizeof(host))
			return fail(err, n, "endpoint: \"%s\": IPv6 needs [addr]:port", s);
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = 0;
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return fail(err, n, "endpoint: \"%s\" is not an IPv6 address", host);
		return 0;
	}
	if (hl >= sizeof(host) || hl > 253)
		return fail(err, n, "endpoint: host longer than 253 characters");
	for (size_t i = 0; i < hl; i++)
		if (!host_char((unsigned char)s[i]))
			return fail(err, n, "endpoint: host of \"%s\" has a character that is not "
				    "allowed in an address or DNS name (IPv6 goes in brackets)", s);
	return 0;
}

int mesh_name_check(const char *what, const char *s, bool wildcard_ok, char *err, size_t n)
{
	size_t len = s ? strlen(s) : 0;

	if (wildcard_ok && s && strcmp(s, "*") == 0)
		return 0;
	if (len == 0 || len >= MESH_NAME_MAX)
		return fail(err, n, "%s: expected a name of 1..%d characters", what,
			    MESH_NAME_MAX - 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return fail(err, n, "%s: \"%s\" may use only letters, digits, '-', '_', "
				    "'.'%s", what, s, wildcard_ok ? " (or be \"*\")" : "");
	}
	if (!isalnum((unsigned char)s[0]))
		return fail(err, n, "%s: \"%s\" must start with a letter or digit", what, s);
	return 0;
}

int mesh_cidr_parse(const char *s, struct mesh_cidr *c, char *err, size_t n)
{
	char buf[MESH_CIDR_STR_MAX];
	const char *slash;
	size_t alen;
	int max, bytes;

	memset(c, 0, sizeof(*c));
	if (!s || !*s || strlen(s) >= sizeof(buf))
		return fail(err, n, "\"%s\" is not a CIDR (e.g. 10.77.0.0/16 or fd00::/64)",
			    s ? s : "");
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	memcpy(buf, s, alen);
	buf[alen] = 0;
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET, max = 32, bytes = 4;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6, max = 128, bytes = 16;
	} else {
		return fail(err, n, "\"%s\" is not a CIDR: \"%s\" is not an IP address", s, buf);
	}
	if (slash) {
		char *end;
		long p;

		errno = 0;
		p = strtol(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || errno || p < 0 || p > max)
			return fail(err, n, "\"%s\": prefix length must be 0..%d", s, max);
		c->plen = (uint8_t)p;
	} else {
		c->plen = (uint8_t)max;
	}
	for (int i = 0; i < bytes; i++) {
		int keep = c->plen - i * 8;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		if (c->addr[i] & ~mask)
			return fail(err, n, "\"%s\" has host bits set (did you mean %s/%d with the "
				    "host part zero?)", s, buf, c->plen);
	}
	return 0;
}

const char *mesh_cidr_str(const struct mesh_cidr *c, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, n, "%s/%u", a, c->plen);
	return buf;
}

bool mesh_cidr_overlap(const struct mesh_cidr *a, const struct mesh_cidr *b)
{
	int plen = a->plen < b->plen ? a->plen : b->plen;

	if (a->family != b->family)
		return false;
	for (int i = 0; plen > 0; i++, plen -= 8) {
		uint8_t mask = plen >= 8 ? 0xff : (uint8_t)(0xff << (8 - plen));

		if ((a->addr[i] ^ b->addr[i]) & mask)
			return false;
	}
	return true;
}

int mesh_proto_parse(const char *s, uint8_t *proto)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "tcp"))
		*proto = MESH_PROTO_TCP;
	else if (!strcmp(s, "udp"))
		*proto = MESH_PROTO_UDP;
	else if (!strcmp(s, "icmp"))
		*proto = MESH_PROTO_ICMP;
	else if (!strcmp(s, "any") || !strcmp(s, "*"))
		*proto = MESH_PROTO_ANY;
	else
		return -EINVAL;
	return 0;
}

const char *mesh_proto_str(uint8_t proto)
{
	switch (proto) {
	case MESH_PROTO_TCP: return "tcp";
	case MESH_PROTO_UDP: return "udp";
	case MESH_PROTO_ICMP: return "icmp";
	default: return "any";
	}
}

static int port_num(const char *s, size_t len, uint16_t *out)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int mesh_ports_parse(const char *s, uint16_t *lo, uint16_t *hi)
{
	const char *dash;

	if (!s || !*s || !strcmp(s, "*")) {
		*lo = 0, *hi = 65535;
		return 0;
	}
	dash = strchr(s, '-');
	if (!dash) {
		if (port_num(s, strlen(s), lo))
			return -EINVAL;
		*hi = *lo;
		return 0;
	}
	if (port_num(s, dash - s, lo) || port_num(dash + 1, strlen(dash + 1), hi) || *lo > *hi)
		return -EINVAL;
	return 0;
}

const char *mesh_ports_str(uint16_t lo, uint16_t hi, char *buf, size_t n)
{
	if (lo == 0 && hi == 65535)
		snprintf(buf, n, "*");
	else if (lo == hi)
		snprintf(buf, n, "%u", lo);
	else
		snprintf(buf, n, "%u-%u", lo, hi);
	return buf;
}

/* Checks that every key of @o is one of @allowed (NULL-terminated). */
static int known_keys(json_t *o, const char *what, const char *const *allowed, char *err,
		      size_t n)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		bool ok = false;

		for (const char *const *a = allowed; *a; a++)
			ok |= strcmp(*a, key) == 0;
		if (!ok) {
			char list[160] = "";

			for (const char *const *a = allowed; *a; a++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 a == allowed ? "" : ", ", *a);
			return fail(err, n, "%s: unknown field \"%.64s\" (known: %s)", what, key,
				    list);
		}
	}
	return 0;
}

static int load_object(const char *buf, size_t len, json_t **out, char *err, size_t n)
{
	json_error_t je;
	json_t *root;

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return fail(err, n, "malformed JSON at line %d column %d: %s", je.line, je.column,
			    je.text);
	*out = root;
	return 0;
}

/* A string field: absent is "" when optional, an error otherwise. */
static int get_str(json_t *o, const char *ctx, const char *key, bool required, char *dst,
		   size_t dn, char *err, size_t n)
{
	json_t *v = json_object_get(o, key);

	dst[0] = 0;
	if (!v || json_is_null(v)) {
		if (required)
			return fail(err, n, "%s%s: required field is missing", ctx, key);
		return 0;
	}
	if (!json_is_string(v))
		return fail(err, n, "%s%s: expected a string", ctx, key);
	if (json_string_length(v) >= dn)
		return fail(err, n, "%s%s: longer than %zu characters", ctx, key, dn - 1);
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int rule_from_json(json_t *o, size_t idx, struct mesh_rule *r, char *err, size_t n)
{
	static const char *const keys[] = { "src", "dst", "proto", "port", "action", "comment",
					    NULL };
	char ctx[32], what[48], buf[32];
	json_t *port;

	snprintf(ctx, sizeof(ctx), "rules[%zu].", idx);
	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return fail(err, n, "rules[%zu]: expected an object", idx);
	if (known_keys(o, ctx, keys, err, n) ||
	    get_str(o, ctx, "src", true, r->src, sizeof(r->src), err, n) ||
	    get_str(o, ctx, "dst", true, r->dst, sizeof(r->dst), err, n))
		return -EINVAL;
	snprintf(what, sizeof(what), "%ssrc", ctx);
	if (mesh_name_check(what, r->src, true, err, n))
		return -EINVAL;
	snprintf(what, sizeof(what), "%sdst", ctx);
	if (mesh_name_check(what, r->dst, true, err, n))
		return -EINVAL;
	if (get_str(o, ctx, "proto", false, buf, sizeof(buf), err, n))
		return -EINVAL;
	if (mesh_proto_parse(buf[0] ? buf : "any", &r->proto))
		return fail(err, n, "%sproto: \"%s\" is not one of tcp, udp, icmp, any", ctx, buf);
	port = json_object_get(o, "port");
	if (json_is_integer(port)) {
		json_int_t p = json_integer_value(port);

		if (p < 1 || p > 65535)
			return fail(err, n, "%sport: %lld is not 1..65535", ctx, (long long)p);
		r->port_lo = r->port_hi = (uint16_t)p;
	} else {
		if (port && !json_is_string(port) && !json_is_null(port))
			return fail(err, n, "%sport: expected a number or \"LO-HI\" or \"*\"", ctx);
		if (get_str(o, ctx, "port", false, buf, sizeof(buf), err, n))
			return -EINVAL;
		if (mesh_ports_parse(buf, &r->port_lo, &r->port_hi))
			return fail(err, n, "%sport: \"%s\" is not a port (1..65535), a range "
				    "\"LO-HI\" or \"*\"", ctx, buf);
	}
	if ((r->proto == MESH_PROTO_ICMP || r->proto == MESH_PROTO_ANY) &&
	    !(r->port_lo == 0 && r->port_hi == 65535))
		return fail(err, n, "%sport: a port needs proto tcp or udp, not %s", ctx,
			    mesh_proto_str(r->proto));
	if (get_str(o, ctx, "action", true, buf, sizeof(buf), err, n))
		return -EINVAL;
	if (!strcmp(buf, "allow"))
		r->allow = true;
	else if (strcmp(buf, "deny"))
		return fail(err, n, "%saction: \"%s\" is not allow or deny", ctx, buf);
	return 0;
}

int mesh_rules_parse_json(const char *buf, size_t len, struct mesh_rule **rules, size_t *n_rules,
			  char *err, size_t n)
{
	static const char *const keys[] = { "rules", NULL };
	struct mesh_rule *out = NULL;
	json_t *root, *arr;
	size_t cnt;
	int ret = -EINVAL;

	*rules = NULL;
	*n_rules = 0;
	if (load_object(buf, len, &root, err, n))
		return -EINVAL;
	arr = root;
	if (json_is_object(root)) {
		if (known_keys(root, "policy", keys, err, n))
			goto out;
		arr = json_object_get(root, "rules");
		if (!arr) {
			fail(err, n, "policy: field \"rules\" (an array of rules) is missing");
			goto out;
		}
	}
	if (!json_is_array(arr)) {
		fail(err, n, "policy: expected {\"rules\": [...]} or an array of rules");
		goto out;
	}
	cnt = json_array_size(arr);
	if (cnt > MAX_RULES) {
		fail(err, n, "policy: %zu rules, more than the limit of %d", cnt, MAX_RULES);
		goto out;
	}
	if (cnt) {
		out = calloc(cnt, sizeof(*out));
		if (!out) {
			ret = -ENOMEM;
			fail(err, n, "out of memory for %zu rules", cnt);
			goto out;
		}
	}
	for (size_t i = 0; i < cnt; i++)
		if (rule_from_json(json_array_get(arr, i), i, &out[i], err, n))
			goto out;
	*rules = out;
	*n_rules = cnt;
	out = NULL;
	ret = 0;
out:
	free(out);
	json_decref(root);
	return ret;
}

/* Next whitespace-separated word of [*p, end) into @w (truncated words are an error). */
static int next_word(const char **p, const char *end, char *w, size_t wn)
{
	size_t len = 0;

	while (*p < end && (**p == ' ' || **p == '\t' || **p == '\r'))
		(*p)++;
	while (*p < end && **p != ' ' && **p != '\t' && **p != '\r') {
		if (len + 1 >= wn)
			return -E2BIG;
		w[len++] = *(*p)++;
	}
	w[len] = 0;
	return len ? 0 : -ENOENT;
}

/* "allow SRC -> DST PROTO[/PORTS]" */
static int rule_from_line(const char *p, const char *end, unsigned line, struct mesh_rule *r,
			  char *err, size_t n)
{
	char act[16], arrow[8], proto[48], extra[8], what[40];
	char *slash;

	memset(r, 0, sizeof(*r));
	if (next_word(&p, end, act, sizeof(act)) || next_word(&p, end, r->src, sizeof(r->src)) ||
	    next_word(&p, end, arrow, sizeof(arrow)) ||
	    next_word(&p, end, r->dst, sizeof(r->dst)) ||
	    next_word(&p, end, proto, sizeof(proto)) || strcmp(arrow, "->") ||
	    next_word(&p, end, extra, sizeof(extra)) != -ENOENT)
		return fail(err, n, "line %u: expected \"allow|deny SRC -> DST "
			    "PROTO[/PORT[-PORT]]\"", line);
	if (!strcmp(act, "allow"))
		r->allow = true;
	else if (strcmp(act, "deny"))
		return fail(err, n, "line %u: \"%s\" is not allow or deny", line, act);
	snprintf(what, sizeof(what), "line %u: source", line);
	if (mesh_name_check(what, r->src, true, err, n))
		return -EINVAL;
	snprintf(what, sizeof(what), "line %u: destination", line);
	if (mesh_name_check(what, r->dst, true, err, n))
		return -EINVAL;
	slash = strchr(proto, '/');
	if (slash)
		*slash++ = 0;
	if (mesh_proto_parse(proto, &r->proto))
		return fail(err, n, "line %u: \"%s\" is not one of tcp, udp, icmp, any", line,
			    proto);
	if (mesh_ports_parse(slash ? slash : "", &r->port_lo, &r->port_hi) || (slash && !*slash))
		return fail(err, n, "line %u: \"%s\" is not a port (1..65535), a range LO-HI or *",
			    line, slash);
	if ((r->proto == MESH_PROTO_ICMP || r->proto == MESH_PROTO_ANY) &&
	    !(r->port_lo == 0 && r->port_hi == 65535))
		return fail(err, n, "line %u: a port needs tcp or udp, not %s", line,
			    mesh_proto_str(r->proto));
	return 0;
}

int mesh_rules_parse_text(const char *buf, size_t len, struct mesh_rule **rules, size_t *n_rules,
			  char *err, size_t n)
{
	struct mesh_rule *out = NULL, *tmp;
	size_t cnt = 0, cap = 0;
	const char *p = buf, *end = buf + len;
	unsigned line = 0;

	*rules = NULL;
	*n_rules = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', end - p), *hash;
		const char *stop = eol ? eol : end;
		const char *q = p;

		line++;
		hash = memchr(p, '#', stop - p);
		if (hash)
			stop = hash;
		if (memchr(p, 0, stop - p)) {
			free(out);
			return fail(err, n, "line %u: NUL byte in a text policy", line);
		}
		while (q < stop && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q < stop) {
			if (cnt == MAX_RULES) {
				free(out);
				return fail(err, n, "more than %d rules", MAX_RULES);
			}
			if (cnt == cap) {
				cap = cap ? cap * 2 : 16;
				tmp = realloc(out, cap * sizeof(*out));
				if (!tmp) {
					free(out);
					fail(err, n, "out of memory");
					return -ENOMEM;
				}
				out = tmp;
			}
			if (rule_from_line(q, stop, line, &out[cnt], err, n)) {
				free(out);
				return -EINVAL;
			}
			cnt++;
		}
		p = eol ? eol + 1 : end;
	}
	*rules = out;
	*n_rules = cnt;
	return 0;
}

int mesh_rules_parse(const char *buf, size_t len, struct mesh_rule **rules, size_t *n_rules,
		     char *err, size_t n)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)buf[i]))
		i++;
	if (i < len && (buf[i] == '{' || buf[i] == '['))
		return mesh_rules_parse_json(buf, len, rules, n_rules, err, n);
	return mesh_rules_parse_text(buf, len, rules, n_rules, err, n);
}

void mesh_rule_json(struct vjw *w, const struct mesh_rule *r)
{
	char ports[16];

	vjw_obj(w);
	vjw_kstr(w, "src", r->src);
	vjw_kstr(w, "dst", r->dst);
	vjw_kstr(w, "proto", mesh_proto_str(r->proto));
	vjw_kstr(w, "port", mesh_ports_str(r->port_lo, r->port_hi, ports, sizeof(ports)));
	vjw_kstr(w, "action", r->allow ? "allow" : "deny");
	vjw_end(w);
}

int mesh_join_parse(const char *buf, size_t len, struct mesh_join_req *req, char *err, size_t n)
{
	static const char *const keys[] = { "public_key", "endpoint", "identity", "name",
					    "allowed_ips", NULL };
	json_t *root, *arr;
	int ret = -EINVAL;

	memset(req, 0, sizeof(*req));
	if (load_object(buf, len, &root, err, n))
		return -EINVAL;
	if (!json_is_object(root)) {
		fail(err, n, "join: expected a JSON object");
		goto out;
	}
	if (known_keys(root, "join", keys, err, n) ||
	    get_str(root, "", "public_key", true, req->public_key, sizeof(req->public_key), err,
		    n) ||
	    get_str(root, "", "endpoint", false, req->endpoint, sizeof(req->endpoint), err, n) ||
	    get_str(root, "", "identity", true, req->identity, sizeof(req->identity), err, n) ||
	    get_str(root, "", "name", false, req->name, sizeof(req->name), err, n))
		goto out;
	if (mesh_pubkey_check(req->public_key, err, n) ||
	    mesh_endpoint_check(req->endpoint, err, n) ||
	    mesh_name_check("identity", req->identity, false, err, n) ||
	    (req->name[0] && mesh_name_check("name", req->name, false, err, n)))
		goto out;
	arr = json_object_get(root, "allowed_ips");
	if (arr && !json_is_array(arr)) {
		fail(err, n, "allowed_ips: expected an array of CIDR strings");
		goto out;
	}
	if (json_array_size(arr) > MESH_MAX_ALLOWED) {
		fail(err, n, "allowed_ips: more than %d prefixes", MESH_MAX_ALLOWED);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);
		char e[MESH_ERR_MAX];

		if (!json_is_string(v)) {
			fail(err, n, "allowed_ips[%zu]: expected a CIDR string", i);
			goto out;
		}
		if (mesh_cidr_parse(json_string_value(v), &req->allowed[i], e, sizeof(e))) {
			fail(err, n, "allowed_ips[%zu]: %s", i, e);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (mesh_cidr_overlap(&req->allowed[i], &req->allowed[j])) {
				fail(err, n, "allowed_ips[%zu] overlaps allowed_ips[%zu]", i, j);
				goto out;
			}
		req->n_allowed = i + 1;
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}

int mesh_ident_parse(const char *buf, size_t len, struct mesh_ident_req *req, char *err, size_t n)
{
	static const char *const keys[] = { "name", "tag", NULL };
	json_t *root, *tag;
	int ret = -EINVAL;

	memset(req, 0, sizeof(*req));
	if (load_object(buf, len, &root, err, n))
		return -EINVAL;
	if (!json_is_object(root)) {
		fail(err, n, "identity: expected a JSON object");
		goto out;
	}
	if (known_keys(root, "identity", keys, err, n) ||
	    get_str(root, "", "name", true, req->name, sizeof(req->name), err, n) ||
	    mesh_name_check("name", req->name, false, err, n))
		goto out;
	tag = json_object_get(root, "tag");
	if (tag && !json_is_null(tag)) {
		if (!json_is_integer(tag) || json_integer_value(tag) < 1 ||
		    json_integer_value(tag) > (json_int_t)MESH_TAG_MAX) {
			fail(err, n, "tag: expected an integer 1..%u (or no tag to get one picked)",
			     MESH_TAG_MAX);
			goto out;
		}
		req->tag = (uint32_t)json_integer_value(tag);
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}

int mesh_status_parse(const char *buf, size_t len, uint64_t *revision, char *err, size_t n)
{
	static const char *const keys[] = { "revision", NULL };
	json_t *root, *rev;
	int ret = -EINVAL;

	if (load_object(buf, len, &root, err, n))
		return -EINVAL;
	if (!json_is_object(root)) {
		fail(err, n, "status: expected a JSON object");
		goto out;
	}
	if (known_keys(root, "status", keys, err, n))
		goto out;
	rev = json_object_get(root, "revision");
	if (!json_is_integer(rev) || json_integer_value(rev) < 0) {
		fail(err, n, "revision: expected a non-negative integer (the revision applied)");
		goto out;
	}
	*revision = (uint64_t)json_integer_value(rev);
	ret = 0;
out:
	json_decref(root);
	return ret;
}

/* SHA-256 after FIPS 180-4, compact: credentials are hashed once per request. */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) +
			      K[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void mesh_sha256(const void *data, size_t len, uint8_t out[32])
{
	uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	const uint8_t *p = data;
	uint8_t tail[128] = { 0 };
	size_t rest = len % 64, tl;
	uint64_t bits = (uint64_t)len * 8;

	for (size_t i = 0; i + 64 <= len; i += 64)
		sha256_block(h, p + i);
	if (rest)
		memcpy(tail, p + len - rest, rest);
	tail[rest] = 0x80;
	tl = rest < 56 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
	sha256_block(h, tail);
	if (tl == 128)
		sha256_block(h, tail + 64);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

bool mesh_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

void mesh_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = 0;
}
