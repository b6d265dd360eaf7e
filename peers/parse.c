// SPDX-License-Identifier: GPL-2.0-only
/* Response parsers for `vigil peers`; see parse.h for the shapes and the error contract. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpull.h"
#include "parse.h"
#include "vigil/util.h"

#define ADMIN_HINT "enable the admin API, e.g. geth --http.api admin,eth,net,web3 (IPC has it by default)"

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static const char *peer_dir_names[] = { "unknown", "in", "out" };
static const char *peer_state_names[] = { "unknown", "connected", "connecting", "disconnecting",
					  "disconnected" };

const char *peer_dir_str(enum peer_dir d)
{
	return (unsigned)d < 3 ? peer_dir_names[d] : "unknown";
}

const char *peer_side_str(enum peer_side s)
{
	return s == PEER_SIDE_CONS ? "consensus" : "execution";
}

const char *peer_state_str(enum peer_state s)
{
	return (unsigned)s < 5 ? peer_state_names[s] : "unknown";
}

void peer_list_init(struct peer_list *l)
{
	memset(l, 0, sizeof(*l));
}

static void peer_free(struct peer *p)
{
	free(p->id);
	free(p->name);
	free(p->remote);
	free(p->local);
	free(p->enode);
	free(p->enr);
}

void peer_list_free(struct peer_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		peer_free(&l->v[i]);
	free(l->v);
	peer_list_init(l);
}

/* Frees the peers appended since @start (a parse that failed, or a repeated key). */
static void drop_from(struct peer_list *l, size_t start)
{
	for (size_t i = start; i < l->n; i++)
		peer_free(&l->v[i]);
	l->n = start;
}

/* With PEERS_CONNECTED_ONLY in @flags, drops the last peer of @l when it reports a state other
 * than connected (a peer that reports none is kept). */
static void filter_last(struct peer_list *l, unsigned flags)
{
	struct peer *p = &l->v[l->n - 1];

	if ((flags & PEERS_CONNECTED_ONLY) && p->state != PEER_STATE_CONNECTED &&
	    p->state != PEER_STATE_UNKNOWN) {
		peer_free(p);
		l->n--;
	}
}

static struct peer *peer_list_push(struct peer_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct peer *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

int peer_list_splice(struct peer_list *dst, struct peer_list *src)
{
	if (dst->n + src->n > dst->cap) {
		size_t cap = dst->n + src->n;
		struct peer *v = realloc(dst->v, (cap ? cap : 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		dst->v = v;
		dst->cap = cap;
	}
	if (src->n)
		memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
	dst->n += src->n;
	free(src->v);
	peer_list_init(src);
	return 0;
}

/* Parses a whole body as JSON (any top-level value). */
static json_t *load(const char *what, const char *body, size_t len, char *err, size_t errlen,
		    int *rc)
{
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_DECODE_ANY, &je);

	if (!root)
		*rc = verrf(err, errlen, -EBADMSG, "%s: response is not valid JSON (%s at byte %d)",
			   what, je.text, je.position);
	return root;
}

/*
 * Unwraps a JSON-RPC 2.0 response: *result points into @root. An error object becomes
 * -EOPNOTSUPP (-32601: the namespace is not enabled) or -EREMOTEIO with its code and message.
 */
static int rpc_result(json_t *root, const char *method, json_t **result, char *err,
		      size_t errlen)
{
	json_t *e, *code, *msg;

	if (!json_is_object(root))
		return verrf(err, errlen, -EBADMSG,
			    "%s: expected a JSON-RPC response object, got %s (is this a JSON-RPC endpoint?)",
			    method, type_name(root));
	e = json_object_get(root, "error");
	if (e && !json_is_null(e)) {
		long long c = 0;
		const char *m = "";

		code = json_object_get(e, "code");
		msg = json_object_get(e, "message");
		if (json_is_integer(code))
			c = json_integer_value(code);
		if (json_is_string(msg))
			m = json_string_value(msg);
		if (c == -32601)
			return verrf(err, errlen, -EOPNOTSUPP,
				    "%s: method not available (JSON-RPC error -32601: %s): %s", method,
				    m, strncmp(method, "admin_", 6) == 0 ? ADMIN_HINT
					: "enable its API namespace on the node");
		return verrf(err, errlen, -EREMOTEIO, "%s: node answered JSON-RPC error %lld: %s",
			    method, c, m);
	}
	*result = json_object_get(root, "result");
	if (!*result)
		return verrf(err, errlen, -EBADMSG,
			    "%s: JSON-RPC response has neither \"result\" nor \"error\"", method);
	return 0;
}

/* Unwraps a beacon API body {"data": ...}; an error object {"code","message"} is -EREMOTEIO. */
static int beacon_data(json_t *root, const char *what, json_t **data, char *err, size_t errlen)
{
	json_t *code, *msg;

	if (!json_is_object(root))
		return verrf(err, errlen, -EBADMSG,
			    "%s: expected a JSON object, got %s (is this a beacon API endpoint?)",
			    what, type_name(root));
	*data = json_object_get(root, "data");
	if (*data)
		return 0;
	code = json_object_get(root, "code");
	msg = json_object_get(root, "message");
	if (code || msg)
		return verrf(err, errlen, -EREMOTEIO, "%s: beacon node answered error %lld: %s",
			    what, json_is_integer(code) ? (long long)json_integer_value(code) : 0LL,
			    json_is_string(msg) ? json_string_value(msg) : "(no message)");
	return verrf(err, errlen, -EBADMSG, "%s: response has no \"data\" field", what);
}

/* beacon_data() for the bodies whose "data" must be an object. */
static int beacon_object(json_t *root, const char *what, json_t **data, char *err, size_t errlen)
{
	int rc = beacon_data(root, what, data, err, errlen);

	if (!rc && !json_is_object(*data))
		rc = verrf(err, errlen, -EBADMSG, "%s: data: expected an object, got %s", what,
			  type_name(*data));
	return rc;
}

/*
 * Optional string member: *out = NULL when absent or null, else a copy of the string (owned by
 * the caller). Wrong type: -EBADMSG naming "<what>: <path>.<key>".
 */
static int opt_str(json_t *obj, const char *key, const char *what, const char *path, char **out,
		   char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return verrf(err, errlen, -EBADMSG, "%s: %s.%s: expected a string, got %s", what,
			    path, key, type_name(v));
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

/* Optional boolean member: absent or null leaves *out unchanged and *present false. */
static int opt_bool(json_t *obj, const char *key, const char *what, const char *path, bool *out,
		    bool *present, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (present)
		*present = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return verrf(err, errlen, -EBADMSG, "%s: %s.%s: expected a boolean, got %s", what,
			    path, key, type_name(v));
	*out = json_is_true(v);
	if (present)
		*present = true;
	return 0;
}

/* A JSON-RPC quantity: "0x" followed by 1..16 hex digits. */
static int hex_quantity(json_t *v, const char *what, const char *path, uint64_t *out, char *err,
			size_t errlen)
{
	const char *s;
	uint64_t x = 0;
	size_t n;

	if (!json_is_string(v))
		return verrf(err, errlen, -EBADMSG, "%s: %s: expected a hex quantity string, got %s",
			    what, path, v ? type_name(v) : "nothing");
	s = json_string_value(v);
	n = json_string_length(v);
	if (n < 3 || n > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		goto bad;
	for (size_t i = 2; i < n; i++) {
		int c = s[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			goto bad;
		x = x << 4 | (uint64_t)d;
	}
	*out = x;
	return 0;
bad:
	return verrf(err, errlen, -EBADMSG,
		    "%s: %s: expected a hex quantity like \"0x1a\", got \"%.40s\"", what, path, s);
}

/* A beacon API uint64: a decimal string per the spec, or a JSON integer (seen in the wild). */
static int beacon_uint(json_t *obj, const char *key, const char *what, uint64_t *out,
		       bool required, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	uint64_t x = 0;

	if (!v || json_is_null(v)) {
		if (required)
			return verrf(err, errlen, -EBADMSG, "%s: data.%s: missing", what, key);
		return 0;
	}
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return verrf(err, errlen, -EBADMSG, "%s: data.%s: negative", what, key);
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return verrf(err, errlen, -EBADMSG, "%s: data.%s: expected a decimal string, got %s",
			    what, key, type_name(v));
	s = json_string_value(v);
	if (!*s || json_string_length(v) > 20)
		goto bad;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			goto bad;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*out = x;
	return 0;
bad:
	return verrf(err, errlen, -EBADMSG, "%s: data.%s: expected a decimal string, got \"%.40s\"",
		    what, key, json_string_value(v));
}

/* Appends " <text>" (no leading space when empty) to a fixed-size protocol summary. */
static void proto_add(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void proto_add(char *buf, size_t n, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used && used + 1 < n)
		buf[used++] = ' ';
	if (used + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, n - used, fmt, ap);
	va_end(ap);
}

/* Replaces every byte outside printable ASCII in @s with '?' (the text comes from the peer). */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/* Frees *@s and sets it NULL when it is the empty string. */
static void drop_empty(char **s)
{
	if (*s && !**s) {
		free(*s);
		*s = NULL;
	}
}

/* Fills short_id from id: first 8 characters for hex node ids, last 8 for libp2p ids. */
static void set_short_id(struct peer *p)
{
	size_t n = strlen(p->id);
	const char *s = p->id;

	if (p->side == PEER_SIDE_CONS && n > 8)
		s += n - 8;
	snprintf(p->short_id, sizeof(p->short_id), "%.8s", s);
	sanitize(p->short_id);
}

/* Node id from "enode://<hex>@host:port" when a client reports no "id". */
static char *id_from_enode(const char *enode)
{
	const char *s, *at;

	if (!enode || strncmp(enode, "enode://", 8) != 0)
		return NULL;
	s = enode + 8;
	at = strchr(s, '@');
	return at && at > s ? strndup(s, (size_t)(at - s)) : NULL;
}

static int parse_protocols(json_t *protos, const char *what, const char *path, struct peer *p,
			   char *err, size_t errlen)
{
	const char *key;
	json_t *val;

	if (!protos || json_is_null(protos))
		return 0;
	if (!json_is_object(protos))
		return verrf(err, errlen, -EBADMSG, "%s: %s.protocols: expected an object, got %s",
			    what, path, type_name(protos));
	json_object_foreach(protos, key, val) {
		if (json_is_object(val)) {
			json_t *ver = json_object_get(val, "version");

			if (json_is_integer(ver))
				proto_add(p->protocols, sizeof(p->protocols), "%.16s/%lld", key,
					  (long long)json_integer_value(ver));
			else
				proto_add(p->protocols, sizeof(p->protocols), "%.16s", key);
		} else if (json_is_string(val)) {
			/* geth: "handshake" while the protocol handshake runs, "unknown" when
			 * the protocol has no peer info */
			const char *s = json_string_value(val);

			proto_add(p->protocols, sizeof(p->protocols), "%.16s(%.12s)", key,
				  strcmp(s, "unknown") == 0 ? "?" : s);
		} else if (json_is_null(val)) {
			proto_add(p->protocols, sizeof(p->protocols), "%.16s", key);
		} else {
			return verrf(err, errlen, -EBADMSG,
				    "%s: %s.protocols.%.32s: expected an object or a string, got %s",
				    what, path, key, type_name(val));
		}
	}
	/* protocol names come from the peer: keep the summary printable */
	sanitize(p->protocols);
	return 0;
}

static int parse_caps(json_t *caps, const char *what, const char *path, struct peer *p,
		      char *err, size_t errlen)
{
	size_t i;
	json_t *c;

	if (!caps || json_is_null(caps))
		return 0;
	if (!json_is_array(caps))
		return verrf(err, errlen, -EBADMSG, "%s: %s.caps: expected an array, got %s", what,
			    path, type_name(caps));
	json_array_foreach(caps, i, c) {
		if (!json_is_string(c))
			return verrf(err, errlen, -EBADMSG,
				    "%s: %s.caps[%zu]: expected a string, got %s", what, path, i,
				    type_name(c));
		if (!p->protocols[0] || i)
			proto_add(p->protocols, sizeof(p->protocols), "%.24s",
				  json_string_value(c));
	}
	sanitize(p->protocols);
	return 0;
}

/* Both execution-peer parsers: drop an empty enr, take the id from the enode URL when there is
 * none, strip "0x", set short_id. -1 when there is no id at all. */
static int exec_fix_id(struct peer *p)
{
	drop_empty(&p->enr);
	if (!p->id || !p->id[0]) {
		free(p->id);
		p->id = id_from_enode(p->enode);
		if (!p->id)
			return -1;
	}
	if (p->id[0] == '0' && (p->id[1] == 'x' || p->id[1] == 'X'))
		memmove(p->id, p->id + 2, strlen(p->id + 2) + 1);
	set_short_id(p);
	return 0;
}

static int parse_exec_peer(json_t *o, size_t idx, struct peer *p, char *err, size_t errlen)
{
	const char *what = "admin_peers";
	char path[32];
	json_t *net, *caps;
	int rc;

	snprintf(path, sizeof(path), "result[%zu]", idx);
	if (!json_is_object(o))
		return verrf(err, errlen, -EBADMSG, "%s: %s: expected an object, got %s", what, path,
			    type_name(o));
	p->side = PEER_SIDE_EXEC;
	p->state = PEER_STATE_CONNECTED;
	if ((rc = opt_str(o, "id", what, path, &p->id, err, errlen)) ||
	    (rc = opt_str(o, "name", what, path, &p->name, err, errlen)) ||
	    (rc = opt_str(o, "enode", what, path, &p->enode, err, errlen)) ||
	    (rc = opt_str(o, "enr", what, path, &p->enr, err, errlen)))
		return rc;
	if (exec_fix_id(p))
		return verrf(err, errlen, -EBADMSG, "%s: %s: no \"id\" and no enode URL", what, path);
	net = json_object_get(o, "network");
	if (net && !json_is_null(net)) {
		char npath[48];

		if (!json_is_object(net))
			return verrf(err, errlen, -EBADMSG,
				    "%s: %s.network: expected an object, got %s", what, path,
				    type_name(net));
		snprintf(npath, sizeof(npath), "%s.network", path);
		bool inbound = false, has_inbound;

		if ((rc = opt_str(net, "remoteAddress", what, npath, &p->remote, err, errlen)) ||
		    (rc = opt_str(net, "localAddress", what, npath, &p->local, err, errlen)) ||
		    (rc = opt_bool(net, "inbound", what, npath, &inbound, &has_inbound, err,
				   errlen)) ||
		    (rc = opt_bool(net, "trusted", what, npath, &p->trusted, NULL, err, errlen)) ||
		    (rc = opt_bool(net, "static", what, npath, &p->static_node, NULL, err, errlen)))
			return rc;
		if (has_inbound)
			p->dir = inbound ? PEER_DIR_IN : PEER_DIR_OUT;
	}
	if ((rc = parse_protocols(json_object_get(o, "protocols"), what, path, p, err, errlen)))
		return rc;
	caps = json_object_get(o, "caps");
	if (!p->protocols[0]) {
		if ((rc = parse_caps(caps, what, path, p, err, errlen)))
			return rc;
	} else if (caps && !json_is_null(caps) && !json_is_array(caps)) {
		return verrf(err, errlen, -EBADMSG, "%s: %s.caps: expected an array, got %s", what,
			    path, type_name(caps));
	}
	peer_client_parse(p->name, &p->client);
	return 0;
}

/*
 * Appends the peers of @arr (the "result" or "data" member @key of a @what body), each parsed
 * by @one, then filtered by @flags. Not an array: -EBADMSG. On an error the peers appended so
 * far stay in @out for the caller to drop.
 */
static int dom_list(json_t *arr, const char *what, const char *key, unsigned flags,
		    struct peer_list *out,
		    int (*one)(json_t *, size_t, struct peer *, char *, size_t), char *err,
		    size_t errlen)
{
	size_t i;
	json_t *o;
	int rc;

	if (!json_is_array(arr))
		return verrf(err, errlen, -EBADMSG, "%s: %s: expected an array, got %s", what, key,
			    type_name(arr));
	json_array_foreach(arr, i, o) {
		struct peer *p = peer_list_push(out);

		if (!p)
			return -ENOMEM;
		if ((rc = one(o, i, p, err, errlen)))
			return rc;
		filter_last(out, flags);
	}
	return 0;
}

int peers_parse_admin_peers_dom(const char *body, size_t len, struct peer_list *out, char *err,
				size_t errlen)
{
	int rc = 0;
	json_t *root = load("admin_peers", body, len, err, errlen, &rc), *res;
	size_t start = out->n;

	if (!root)
		return rc;
	if ((rc = rpc_result(root, "admin_peers", &res, err, errlen)))
		goto out;
	if (json_is_null(res))
		goto out;
	rc = dom_list(res, "admin_peers", "result", 0, out, parse_exec_peer, err, errlen);
out:
	if (rc)
		drop_from(out, start);
	json_decref(root);
	return rc;
}

int peers_parse_net_peer_count(const char *body, size_t len, uint64_t *count, char *err,
			       size_t errlen)
{
	int rc = 0;
	json_t *root = load("net_peerCount", body, len, err, errlen, &rc), *res;

	if (!root)
		return rc;
	rc = rpc_result(root, "net_peerCount", &res, err, errlen);
	if (!rc)
		rc = hex_quantity(res, "net_peerCount", "result", count, err, errlen);
	json_decref(root);
	return rc;
}

int peers_parse_client_version(const char *body, size_t len, char *buf, size_t n, char *err,
			       size_t errlen)
{
	int rc = 0;
	json_t *root = load("web3_clientVersion", body, len, err, errlen, &rc), *res;

	if (!root)
		return rc;
	rc = rpc_result(root, "web3_clientVersion", &res, err, errlen);
	if (!rc && !json_is_string(res))
		rc = verrf(err, errlen, -EBADMSG,
			  "web3_clientVersion: result: expected a string, got %s", type_name(res));
	if (!rc && n)
		snprintf(buf, n, "%s", json_string_value(res));
	json_decref(root);
	return rc;
}

int peers_parse_eth_syncing(const char *body, size_t len, struct exec_sync *s, char *err,
			    size_t errlen)
{
	const char *what = "eth_syncing";
	int rc = 0;
	json_t *root = load(what, body, len, err, errlen, &rc), *res;

	if (!root)
		return rc;
	memset(s, 0, sizeof(*s));
	rc = rpc_result(root, what, &res, err, errlen);
	if (rc)
		goto out;
	if (json_is_false(res))
		goto out;
	if (!json_is_object(res)) {
		rc = verrf(err, errlen, -EBADMSG, "%s: result: expected false or an object, got %s",
			  what, type_name(res));
		goto out;
	}
	s->syncing = true;
	if ((rc = hex_quantity(json_object_get(res, "currentBlock"), what, "result.currentBlock",
			       &s->current, err, errlen)) ||
	    (rc = hex_quantity(json_object_get(res, "highestBlock"), what, "result.highestBlock",
			       &s->highest, err, errlen)))
		goto out;
	if (json_object_get(res, "startingBlock"))
		rc = hex_quantity(json_object_get(res, "startingBlock"), what,
				  "result.startingBlock", &s->starting, err, errlen);
out:
	json_decref(root);
	return rc;
}

bool peers_multiaddr_hostport(const char *ma, char *buf, size_t n)
{
	char host[64], proto[8];
	unsigned port;
	int used = 0;
	bool v6 = false;

	if (!ma)
		return false;
	if (sscanf(ma, "/ip4/%63[0-9.]/%7[a-z]/%u%n", host, proto, &port, &used) != 3 &&
	    sscanf(ma, "/dns4/%63[A-Za-z0-9.-]/%7[a-z]/%u%n", host, proto, &port, &used) != 3 &&
	    sscanf(ma, "/dns/%63[A-Za-z0-9.-]/%7[a-z]/%u%n", host, proto, &port, &used) != 3 &&
	    !(v6 = sscanf(ma, "/ip6/%63[0-9a-fA-F:.]/%7[a-z]/%u%n", host, proto, &port, &used) == 3))
		return false;
	if ((strcmp(proto, "tcp") && strcmp(proto, "udp")) || port > 65535)
		return false;
	snprintf(buf, n, v6 ? "[%s]:%u" : "%s:%u", host, port);
	return true;
}

static enum peer_state state_from(const char *s)
{
	if (!s)
		return PEER_STATE_UNKNOWN;
	for (int i = 1; i < 5; i++)
		if (strcmp(s, peer_state_names[i]) == 0)
			return (enum peer_state)i;
	return PEER_STATE_UNKNOWN;
}

/*
 * The common end of both consensus-peer parsers: @p has id (non-empty), enr, name; the raw
 * address, state, direction and proto strings are turned into fields (*addr may be taken over).
 */
static int cons_finish(struct peer *p, char **addr, const char *state, const char *dir,
		       const char *proto)
{
	set_short_id(p);
	drop_empty(&p->enr);
	drop_empty(&p->name);
	if (*addr) {
		char hp[96];

		if (peers_multiaddr_hostport(*addr, hp, sizeof(hp))) {
			p->remote = strdup(hp);
			if (!p->remote)
				return -ENOMEM;
		} else {
			p->remote = *addr;
			*addr = NULL;
		}
	}
	p->state = state_from(state);
	if (dir && strcmp(dir, "inbound") == 0)
		p->dir = PEER_DIR_IN;
	else if (dir && strcmp(dir, "outbound") == 0)
		p->dir = PEER_DIR_OUT;
	if (proto) {
		snprintf(p->protocols, sizeof(p->protocols), "%s", proto);
		sanitize(p->protocols);
	}
	peer_client_parse(p->name, &p->client);
	return 0;
}

static int parse_cons_peer(json_t *o, size_t idx, struct peer *p, char *err, size_t errlen)
{
	const char *what = "/eth/v1/node/peers";
	char path[32], *addr = NULL, *state = NULL, *dir = NULL, *proto = NULL;
	int rc;

	snprintf(path, sizeof(path), "data[%zu]", idx);
	if (!json_is_object(o))
		return verrf(err, errlen, -EBADMSG, "%s: %s: expected an object, got %s", what, path,
			    type_name(o));
	p->side = PEER_SIDE_CONS;
	if ((rc = opt_str(o, "peer_id", what, path, &p->id, err, errlen)) ||
	    (rc = opt_str(o, "enr", what, path, &p->enr, err, errlen)) ||
	    (rc = opt_str(o, "last_seen_p2p_address", what, path, &addr, err, errlen)) ||
	    (rc = opt_str(o, "state", what, path, &state, err, errlen)) ||
	    (rc = opt_str(o, "direction", what, path, &dir, err, errlen)) ||
	    (rc = opt_str(o, "agent", what, path, &p->name, err, errlen)) ||
	    (rc = opt_str(o, "proto", what, path, &proto, err, errlen)))
		goto out;
	if (!p->name && (rc = opt_str(o, "agent_version", what, path, &p->name, err, errlen)))
		goto out; /* Erigon's Caplin names the same extension agent_version */
	if (!p->id || !p->id[0]) {
		rc = verrf(err, errlen, -EBADMSG, "%s: %s.peer_id: missing", what, path);
		goto out;
	}
	rc = cons_finish(p, &addr, state, dir, proto);
out:
	free(addr);
	free(state);
	free(dir);
	free(proto);
	return rc;
}

int peers_parse_beacon_peers_dom(const char *body, size_t len, unsigned flags,
				 struct peer_list *out, char *err, size_t errlen)
{
	const char *what = "/eth/v1/node/peers";
	int rc = 0;
	json_t *root = load(what, body, len, err, errlen, &rc), *data;
	size_t start = out->n;

	if (!root)
		return rc;
	rc = beacon_data(root, what, &data, err, errlen);
	if (!rc)
		rc = dom_list(data, what, "data", flags, out, parse_cons_peer, err, errlen);
	if (rc)
		drop_from(out, start);
	json_decref(root);
	return rc;
}

int peers_parse_beacon_peer_count(const char *body, size_t len, struct beacon_peer_count *c,
				  char *err, size_t errlen)
{
	const char *what = "/eth/v1/node/peer_count";
	int rc = 0;
	json_t *root = load(what, body, len, err, errlen, &rc), *data;

	if (!root)
		return rc;
	memset(c, 0, sizeof(*c));
	if ((rc = beacon_object(root, what, &data, err, errlen)))
		goto out;
	if ((rc = beacon_uint(data, "connected", what, &c->connected, true, err, errlen)) ||
	    (rc = beacon_uint(data, "connecting", what, &c->connecting, false, err, errlen)) ||
	    (rc = beacon_uint(data, "disconnected", what, &c->disconnected, false, err, errlen)) ||
	    (rc = beacon_uint(data, "disconnecting", what, &c->disconnecting, false, err, errlen)))
		goto out;
out:
	json_decref(root);
	return rc;
}

int peers_parse_beacon_syncing(const char *body, size_t len, struct beacon_sync *s, char *err,
			       size_t errlen)
{
	const char *what = "/eth/v1/node/syncing";
	int rc = 0;
	json_t *root = load(what, body, len, err, errlen, &rc), *data;
	bool has_syncing = false;

	if (!root)
		return rc;
	memset(s, 0, sizeof(*s));
	if ((rc = beacon_object(root, what, &data, err, errlen)))
		goto out;
	if ((rc = beacon_uint(data, "head_slot", what, &s->head_slot, true, err, errlen)) ||
	    (rc = beacon_uint(data, "sync_distance", what, &s->sync_distance, true, err, errlen)) ||
	    (rc = opt_bool(data, "is_syncing", what, "data", &s->is_syncing, &has_syncing, err,
			   errlen)) ||
	    (rc = opt_bool(data, "is_optimistic", what, "data", &s->is_optimistic,
			   &s->has_optimistic, err, errlen)) ||
	    (rc = opt_bool(data, "el_offline", what, "data", &s->el_offline, &s->has_el_offline,
			   err, errlen)))
		goto out;
	if (!has_syncing)
		rc = verrf(err, errlen, -EBADMSG, "%s: data.is_syncing: missing", what);
out:
	json_decref(root);
	return rc;
}

int peers_parse_beacon_version(const char *body, size_t len, char *buf, size_t n, char *err,
			       size_t errlen)
{
	const char *what = "/eth/v1/node/version";
	int rc = 0;
	json_t *root = load(what, body, len, err, errlen, &rc), *data, *v;

	if (!root)
		return rc;
	if ((rc = beacon_data(root, what, &data, err, errlen)))
		goto out;
	v = json_is_object(data) ? json_object_get(data, "version") : NULL;
	if (!json_is_string(v)) {
		rc = verrf(err, errlen, -EBADMSG, "%s: data.version: expected a string, got %s",
			  what, !json_is_object(data) ? "no object" : v ? type_name(v) : "nothing");
		goto out;
	}
	if (n)
		snprintf(buf, n, "%s", json_string_value(v));
out:
	json_decref(root);
	return rc;
}

/* ---- fast path ---------------------------------------------------------------------------- */
/*
 * The same two peer-list parsers on the pull reader (jpull.h): one pass, no document. They give
 * the same peers as the jansson parsers above for every body jansson accepts without duplicate
 * keys (fuzz_peers_parse checks that); on anything unusual they give up (-1, @out unchanged)
 * and the public functions fall back to the jansson parsers for the result and the message.
 */

/* A string-or-null value into *dst (replacing what was there). */
static int fp_str(struct jp *j, char **dst)
{
	enum jp_type t;
	const char *s;
	size_t n;

	if (jp_type(j, &t))
		return -1;
	if (t == JP_NULL) {
		free(*dst);
		*dst = NULL;
		return jp_lit(j);
	}
	if (t != JP_STRING || jp_str(j, &s, &n))
		return -1;
	free(*dst);
	*dst = strndup(s, n);
	return *dst ? 0 : -1;
}

/* A boolean-or-null value; null leaves *v alone and clears *present. */
static int fp_bool(struct jp *j, bool *v, bool *present)
{
	enum jp_type t;

	if (jp_type(j, &t))
		return -1;
	if (t != JP_TRUE && t != JP_FALSE && t != JP_NULL)
		return -1;
	if (present)
		*present = t != JP_NULL;
	if (t != JP_NULL)
		*v = t == JP_TRUE;
	return jp_lit(j);
}

static int fp_network(struct jp *j, struct peer *p, bool *inbound, bool *has_inbound)
{
	enum jp_type t;
	const char *k;
	size_t kn;
	int r;

	if (jp_type(j, &t))
		return -1;
	if (t == JP_NULL)
		return jp_lit(j);
	if (t != JP_OBJECT || jp_obj_begin(j))
		return -1;
	while ((r = jp_obj_next(j, &k, &kn)) == 1) {
		if (jp_key_is(k, kn, "remoteAddress"))
			r = fp_str(j, &p->remote);
		else if (jp_key_is(k, kn, "localAddress"))
			r = fp_str(j, &p->local);
		else if (jp_key_is(k, kn, "inbound"))
			r = fp_bool(j, inbound, has_inbound);
		else if (jp_key_is(k, kn, "trusted"))
			r = fp_bool(j, &p->trusted, NULL);
		else if (jp_key_is(k, kn, "static"))
			r = fp_bool(j, &p->static_node, NULL);
		else
			r = jp_skip(j);
		if (r)
			return -1;
	}
	return r;
}

static int fp_protocols(struct jp *j, struct peer *p)
{
	enum jp_type t;
	const char *k, *s;
	size_t kn, n;
	char name[17], val[13];
	int r;

	if (jp_type(j, &t))
		return -1;
	p->protocols[0] = 0;
	if (t == JP_NULL)
		return jp_lit(j);
	if (t != JP_OBJECT || jp_obj_begin(j))
		return -1;
	while ((r = jp_obj_next(j, &k, &kn)) == 1) {
		snprintf(name, sizeof(name), "%.*s", (int)MIN(kn, 16u), k);
		if (jp_type(j, &t))
			return -1;
		if (t == JP_OBJECT) {
			bool has_ver = false, is_int;
			long long ver = 0;

			if (jp_obj_begin(j))
				return -1;
			while ((r = jp_obj_next(j, &k, &kn)) == 1) {
				if (!jp_key_is(k, kn, "version")) {
					r = jp_skip(j);
				} else if (jp_type(j, &t) == 0 && t == JP_NUMBER) {
					r = jp_num(j, &is_int, &ver);
					has_ver = is_int;
				} else {
					has_ver = false;
					r = jp_skip(j);
				}
				if (r)
					return -1;
			}
			if (r)
				return -1;
			if (has_ver)
				proto_add(p->protocols, sizeof(p->protocols), "%s/%lld", name, ver);
			else
				proto_add(p->protocols, sizeof(p->protocols), "%s", name);
		} else if (t == JP_STRING) {
			if (jp_str(j, &s, &n))
				return -1;
			if (n == 7 && memcmp(s, "unknown", 7) == 0)
				snprintf(val, sizeof(val), "?");
			else
				snprintf(val, sizeof(val), "%.*s", (int)MIN(n, 12u), s);
			proto_add(p->protocols, sizeof(p->protocols), "%s(%s)", name, val);
		} else if (t == JP_NULL) {
			if (jp_lit(j))
				return -1;
			proto_add(p->protocols, sizeof(p->protocols), "%s", name);
		} else {
			return -1;
		}
	}
	sanitize(p->protocols);
	return r;
}

static int fp_caps(struct jp *j, char *caps, size_t cap)
{
	enum jp_type t;
	const char *s;
	size_t n;
	int r;

	if (jp_type(j, &t))
		return -1;
	caps[0] = 0;
	if (t == JP_NULL)
		return jp_lit(j);
	if (t != JP_ARRAY || jp_arr_begin(j))
		return -1;
	while ((r = jp_arr_next(j)) == 1) {
		if (jp_type(j, &t) || t != JP_STRING || jp_str(j, &s, &n))
			return -1;
		proto_add(caps, cap, "%.*s", (int)MIN(n, 24u), s);
	}
	sanitize(caps);
	return r;
}

static int fp_exec_peer(struct jp *j, struct peer *p)
{
	bool inbound = false, has_inbound = false;
	char caps[sizeof(p->protocols)] = "";
	enum jp_type t;
	const char *k;
	size_t kn;
	int r;

	if (jp_type(j, &t) || t != JP_OBJECT || jp_obj_begin(j))
		return -1;
	p->side = PEER_SIDE_EXEC;
	p->state = PEER_STATE_CONNECTED;
	while ((r = jp_obj_next(j, &k, &kn)) == 1) {
		if (jp_key_is(k, kn, "id"))
			r = fp_str(j, &p->id);
		else if (jp_key_is(k, kn, "name"))
			r = fp_str(j, &p->name);
		else if (jp_key_is(k, kn, "enode"))
			r = fp_str(j, &p->enode);
		else if (jp_key_is(k, kn, "enr"))
			r = fp_str(j, &p->enr);
		else if (jp_key_is(k, kn, "network"))
			r = fp_network(j, p, &inbound, &has_inbound);
		else if (jp_key_is(k, kn, "protocols"))
			r = fp_protocols(j, p);
		else if (jp_key_is(k, kn, "caps"))
			r = fp_caps(j, caps, sizeof(caps));
		else
			r = jp_skip(j);
		if (r)
			return -1;
	}
	if (r || exec_fix_id(p))
		return -1;
	if (has_inbound)
		p->dir = inbound ? PEER_DIR_IN : PEER_DIR_OUT;
	if (!p->protocols[0])
		memcpy(p->protocols, caps, sizeof(caps));
	peer_client_parse(p->name, &p->client);
	return 0;
}

static int fp_cons_peer(struct jp *j, struct peer *p)
{
	char *addr = NULL, *state = NULL, *dir = NULL, *proto = NULL, *agent_version = NULL;
	enum jp_type t;
	const char *k;
	size_t kn;
	int r, rc = -1;

	if (jp_type(j, &t) || t != JP_OBJECT || jp_obj_begin(j))
		return -1;
	p->side = PEER_SIDE_CONS;
	while ((r = jp_obj_next(j, &k, &kn)) == 1) {
		if (jp_key_is(k, kn, "peer_id"))
			r = fp_str(j, &p->id);
		else if (jp_key_is(k, kn, "enr"))
			r = fp_str(j, &p->enr);
		else if (jp_key_is(k, kn, "last_seen_p2p_address"))
			r = fp_str(j, &addr);
		else if (jp_key_is(k, kn, "state"))
			r = fp_str(j, &state);
		else if (jp_key_is(k, kn, "direction"))
			r = fp_str(j, &dir);
		else if (jp_key_is(k, kn, "agent"))
			r = fp_str(j, &p->name);
		else if (jp_key_is(k, kn, "proto"))
			r = fp_str(j, &proto);
		else if (jp_key_is(k, kn, "agent_version"))
			r = fp_str(j, &agent_version);
		else
			r = jp_skip(j);
		if (r)
			goto out;
	}
	if (r || !p->id || !p->id[0])
		goto out;
	if (!p->name) {
		p->name = agent_version;
		agent_version = NULL;
	}
	rc = cons_finish(p, &addr, state, dir, proto) ? -1 : 0;
out:
	free(addr);
	free(state);
	free(dir);
	free(proto);
	free(agent_version);
	return rc;
}

/* Walks a root object for @list_key (JSON-RPC "result" or beacon "data") and parses its array
 * with @one; @rpc: an "error" member that is not null, or a missing key, means give up. */
static int fast_list(const char *body, size_t len, bool rpc, unsigned flags,
		     struct peer_list *out, int (*one)(struct jp *, struct peer *))
{
	size_t start = out->n;
	bool seen = false;
	struct jp j;
	enum jp_type t;
	const char *k;
	size_t kn;
	int r;

	jp_init(&j, body, len);
	if (jp_type(&j, &t) || t != JP_OBJECT || jp_obj_begin(&j))
		goto fail;
	while ((r = jp_obj_next(&j, &k, &kn)) == 1) {
		if (jp_key_is(k, kn, rpc ? "result" : "data")) {
			drop_from(out, start); /* a repeated key: the last one counts */
			seen = true;
			if (jp_type(&j, &t))
				goto fail;
			if (rpc && t == JP_NULL) {
				if (jp_lit(&j))
					goto fail;
				continue;
			}
			if (t != JP_ARRAY || jp_arr_begin(&j))
				goto fail;
			while ((r = jp_arr_next(&j)) == 1) {
				struct peer *p = peer_list_push(out);

				if (!p || one(&j, p)) {
					if (p)
						out->n--, peer_free(p);
					goto fail;
				}
				filter_last(out, flags);
			}
			if (r)
				goto fail;
		} else if (rpc && jp_key_is(k, kn, "error")) {
			if (jp_type(&j, &t) || t != JP_NULL || jp_lit(&j))
				goto fail;
		} else if (jp_skip(&j)) {
			goto fail;
		}
	}
	if (r || !seen || jp_end(&j))
		goto fail;
	jp_free(&j);
	return 0;
fail:
	drop_from(out, start);
	jp_free(&j);
	return -1;
}

int peers_parse_admin_peers_fast(const char *body, size_t len, struct peer_list *out)
{
	return fast_list(body, len, true, 0, out, fp_exec_peer);
}

int peers_parse_beacon_peers_fast(const char *body, size_t len, unsigned flags,
				  struct peer_list *out)
{
	return fast_list(body, len, false, flags, out, fp_cons_peer);
}

int peers_parse_admin_peers(const char *body, size_t len, struct peer_list *out, char *err,
			    size_t errlen)
{
	if (!fast_list(body, len, true, 0, out, fp_exec_peer))
		return 0;
	return peers_parse_admin_peers_dom(body, len, out, err, errlen);
}

int peers_parse_beacon_peers(const char *body, size_t len, unsigned flags, struct peer_list *out,
			     char *err, size_t errlen)
{
	if (!fast_list(body, len, false, flags, out, fp_cons_peer))
		return 0;
	return peers_parse_beacon_peers_dom(body, len, flags, out, err, errlen);
}
