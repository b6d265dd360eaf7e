// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mesh coordinator: HTTP handlers over the store (see coord.h, docs/mesh_api.md).
 *
 * Threading: everything runs on the loop thread (vhttp calls handlers there), so the in-memory
 * cache, the watch list and the store connection need no locks.
 *
 * State: the database is the truth. The coordinator keeps a cache of nodes, identities and rules
 * that is reloaded after every committed change (c->dirty), used to authenticate nodes, validate
 * requests and build snapshots. A change is one transaction: the rows, the revision bump in
 * mesh_meta and one mesh_audit row (keyed by the new revision). A failed change is rolled back
 * and leaves the revision and the cache as they were.
 *
 * Watches: GET /api/v1/watch?revision=N is answered at once when N is behind; otherwise the
 * request is suspended on c->watches. A commit arms the debounce timer (not re-armed while
 * pending, so latency is bounded by one debounce period); when it fires every watch behind the
 * new revision gets its snapshot. A sweep timer answers watches whose timeout passed with the
 * current snapshot ("changed": false), which doubles as the periodic resync.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "mesh/coord.h"
#include "mesh/policy.h"
#include "mesh/store.h"
#include "vigil/buf.h"
#include "vigil/http.h"
#include "vigil/log.h"
#include "vigil/metrics.h"
#include "vigil/util.h"

#define COMP	      "mesh"
#define API	      "/api/v1"
#define CRED_PREFIX   "vmc1."
#define SWEEP_NS      (200 * 1000000ull)
#define MIN_TOKEN_LEN 16
#define MAX_TOKENS    64

const struct vopt mesh_coord_opts[] = {
	VOPT_STRING("listen", 'l', struct mesh_coord_cfg, listen, ":7420", "ADDR",
		    "serve the API on ADDR (host:port; port 0 picks a free one)"),
	VOPT_STRING("db", 0, struct mesh_coord_cfg, db, "vigil-mesh.db", "FILE|URL",
		    "SQLite database file, or postgres://user:pass@host/db"),
	VOPT_STRING("cidr", 0, struct mesh_coord_cfg, cidr, "100.96.0.0/16", "CIDR",
		    "IPv4 prefix mesh addresses are allocated from"),
	VOPT_STRING("cidr6", 0, struct mesh_coord_cfg, cidr6, NULL, "CIDR",
		    "IPv6 prefix (/120 or shorter) giving each node also the address prefix + id"),
	VOPT_STRING("admin-token", 0, struct mesh_coord_cfg, admin_token, NULL, "TOKEN[,TOKEN]",
		    "bearer tokens for the admin API (prefer --admin-token-file)"),
	VOPT_STRING("admin-token-file", 0, struct mesh_coord_cfg, admin_token_file, NULL, "FILE",
		    "file with admin tokens, one a line"),
	VOPT_STRING("join-token", 0, struct mesh_coord_cfg, join_token, NULL, "TOKEN[,TOKEN]",
		    "pre-shared tokens nodes join with (prefer --join-token-file)"),
	VOPT_STRING("join-token-file", 0, struct mesh_coord_cfg, join_token_file, NULL, "FILE",
		    "file with join tokens, one a line"),
	VOPT_DURATION("debounce", 0, struct mesh_coord_cfg, debounce, "100ms", 0,
		      10000000000ll, "changes within this window reach agents together"),
	VOPT_DURATION("watch-timeout", 0, struct mesh_coord_cfg, watch_timeout, "30s", 1000000000ll,
		      3600000000000ll, "longest long-poll; agents then get a full resync"),
	VOPT_SIZE("max-body", 0, struct mesh_coord_cfg, max_body, "8MiB", 1024, 1ll << 30,
		  "largest request body accepted"),
	VOPT_STRING("jsonl", 0, struct mesh_coord_cfg, jsonl, NULL, "FILE",
		    "append one JSON line per change (mesh.change events) to FILE, \"-\": stdout"),
	VOPT_END
};

struct node {
	long long id;
	char name[MESH_NAME_MAX];
	char public_key[MESH_PUBKEY_LEN + 1];
	char endpoint[MESH_ENDPOINT_MAX];
	char identity[MESH_NAME_MAX];
	uint32_t tag;
	char address[INET6_ADDRSTRLEN];
	struct mesh_cidr addr; /* the address as a host prefix */
	char address6[INET6_ADDRSTRLEN]; /* "" without --cidr6 */
	struct mesh_cidr addr6;
	struct mesh_cidr allowed[MESH_MAX_ALLOWED];
	size_t n_allowed;
	char cred_hash[65];
	uint64_t applied;
	char last_seen[VTIME_BUFLEN];
	char created[VTIME_BUFLEN];
	bool seen_dirty; /* last_seen/applied not written yet (flush_seen) */
};

struct ident {
	char name[MESH_NAME_MAX];
	uint32_t tag;
};

struct watch {
	struct watch *next, **pprev;
	struct mesh_coord *c;
	struct vhttp_req *req;
	long long node_id;
	uint64_t since;
	uint64_t deadline;
};

struct token {
	uint8_t hash[32];
	char identity[MESH_NAME_MAX]; /* join tokens: "" admits any identity */
};

struct mesh_coord {
	struct mesh_coord_cfg cfg;
	struct vloop *loop;
	struct vhttp *http;
	struct mstore *db;
	struct mesh_cidr pool;
	struct mesh_cidr pool6; /* family 0: no IPv6 addresses */
	uint64_t revision;
	struct token admin[MAX_TOKENS], join[MAX_TOKENS];
	size_t n_admin, n_join;

	bool dirty;
	struct node *nodes;
	size_t n_nodes;
	struct ident *idents;
	size_t n_idents;
	struct mesh_rule *rules;
	size_t n_rules;

	struct watch *watches;
	unsigned n_watches;
	struct vloop_timer *notify, *sweep;
	bool notify_armed;
	bool seen_pending;
	unsigned sweeps;

	bool rendered; /* r_*: the snapshot's parts for the current cache (render_cache) */
	struct vbuf *r_nodes;
	size_t n_r_nodes;
	struct vbuf r_idents, r_policy;

	FILE *events; /* --jsonl: one JSON line per change (the bus takes over later) */
	struct vmetrics *metrics;
	struct vmetric *m_revision, *m_nodes, *m_in_sync, *m_watchers, *m_changes;
};

/* ---- tokens and credentials ---- */

static int add_token(struct token *t, size_t *n, const char *tok, size_t len, const char *ident,
		     const char *where)
{
	char err[MESH_ERR_MAX];

	if (len < MIN_TOKEN_LEN) {
		log_error(COMP, "%s: a token is %zu characters; use at least %d random characters "
			  "(e.g. `head -c 24 /dev/urandom | base64`)", where, len, MIN_TOKEN_LEN);
		return -EINVAL;
	}
	if (*n == MAX_TOKENS) {
		log_error(COMP, "%s: more than %d tokens", where, MAX_TOKENS);
		return -E2BIG;
	}
	if (ident && *ident) {
		if (mesh_name_check("identity", ident, false, err, sizeof(err))) {
			log_error(COMP, "%s: %s", where, err);
			return -EINVAL;
		}
		snprintf(t[*n].identity, sizeof(t[*n].identity), "%s", ident);
	}
	mesh_sha256(tok, len, t[(*n)++].hash);
	return 0;
}

/*
 * Tokens from "a,b,c" and from a file (one a line, blank lines and '#' comments skipped). A join
 * token may name the one identity it admits: "TOKEN:IDENTITY" in the list, "TOKEN IDENTITY" in
 * the file.
 */
static int load_tokens(struct token *t, size_t *n, const char *list, const char *file,
		       const char *opt, bool bindable)
{
	char where[300];
	int err;

	if (list) {
		const char *p = list;

		snprintf(where, sizeof(where), "--%s", opt);
		while (*p) {
			size_t len = strcspn(p, ",");
			char ident[MESH_NAME_MAX + 1] = "";
			size_t tl = bindable ? strcspn(p, ",:") : len;

			if (tl < len) {
				snprintf(ident, sizeof(ident), "%.*s", (int)(len - tl - 1),
					 p + tl + 1);
				if (!ident[0]) {
					log_error(COMP, "%s: empty identity after ':'", where);
					return -EINVAL;
				}
			}
			if (len && (err = add_token(t, n, p, tl, ident, where)))
				return err;
			p += len + (p[len] == ',');
		}
	}
	if (file) {
		FILE *f = fopen(file, "r");
		char line[1024];
		unsigned ln = 0;

		if (!f) {
			err = -errno;
			log_error(COMP, "cannot read --%s-file %s: %s", opt, file, strerror(errno));
			return err;
		}
		while (fgets(line, sizeof(line), f)) {
			char *s = line, *e;

			ln++;
			while (isspace((unsigned char)*s))
				s++;
			e = s + strlen(s);
			while (e > s && isspace((unsigned char)e[-1]))
				*--e = 0;
			if (!*s || *s == '#')
				continue;
			snprintf(where, sizeof(where), "%s:%u", file, ln);
			{
				char *sp = s + strcspn(s, " \t"), *id = sp;

				while (isspace((unsigned char)*id))
					id++;
				if (*id && !bindable) {
					log_error(COMP, "%s: an admin token is one word; \"%s\" "
						  "follows it", where, id);
					err = -EINVAL;
				} else {
					err = add_token(t, n, s, (size_t)(sp - s), id, where);
				}
			}
			if (err) {
				fclose(f);
				return err;
			}
		}
		fclose(f);
	}
	return 0;
}

/* Whether @tok hashes to one of @t; looks at every entry so timing says nothing. */
static const struct token *token_ok(const struct token *t, size_t n, const char *tok,
				    char *actor, size_t an, const char *kind)
{
	const struct token *ok = NULL;
	uint8_t h[32];

	if (!tok)
		return NULL;
	mesh_sha256(tok, strlen(tok), h);
	for (size_t i = 0; i < n; i++) {
		bool eq = mesh_ct_equal(h, t[i].hash, sizeof(h));

		if (eq && !ok) {
			char hex[9];

			mesh_hex(t[i].hash, 4, hex);
			snprintf(actor, an, "%s:%s", kind, hex);
			ok = &t[i];
		}
	}
	return ok;
}

static const char *bearer(struct vhttp_req *req)
{
	const char *h = vhttp_req_header(req, "Authorization");

	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

static void reply_401(struct vhttp_req *req, const char *msg)
{
	vhttp_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"vigil-mesh\"");
	vhttp_reply_error(req, 401, msg);
}

static bool admin_auth(struct mesh_coord *c, struct vhttp_req *req, char *actor, size_t an)
{
	const char *tok = bearer(req);

	if (!tok) {
		reply_401(req, "missing credentials: send \"Authorization: Bearer <admin token>\"");
		return false;
	}
	if (!token_ok(c->admin, c->n_admin, tok, actor, an, "admin")) {
		reply_401(req, "invalid admin token");
		return false;
	}
	return true;
}

/* ---- store ---- */

static const char *const schema[] = {
	"CREATE TABLE IF NOT EXISTS mesh_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS mesh_identities (name TEXT PRIMARY KEY, "
	"tag BIGINT NOT NULL UNIQUE, created TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS mesh_nodes (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
	"public_key TEXT NOT NULL UNIQUE, endpoint TEXT NOT NULL, "
	"identity TEXT NOT NULL REFERENCES mesh_identities(name), address TEXT NOT NULL UNIQUE, "
	"allowed_ips TEXT NOT NULL, cred_hash TEXT NOT NULL, applied_revision BIGINT NOT NULL, "
	"last_seen TEXT, created TEXT NOT NULL, address6 TEXT UNIQUE)",
	"CREATE TABLE IF NOT EXISTS mesh_rules (pos BIGINT PRIMARY KEY, src TEXT NOT NULL, "
	"dst TEXT NOT NULL, proto TEXT NOT NULL, port TEXT NOT NULL, action TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS mesh_audit (revision BIGINT PRIMARY KEY, ts TEXT NOT NULL, "
	"actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, before_json TEXT, "
	"after_json TEXT)",
};

/* The --db value for messages, without a URL's credentials. */
static const char *db_name(const struct mesh_coord *c)
{
	return strchr(c->cfg.db, '@') ? "the PostgreSQL database" : c->cfg.db;
}

static const char *meta_get(struct mesh_coord *c, const char *key, char *buf, size_t n)
{
	struct mstore_res r;
	const char *p[] = { key };
	const char *v;

	if (mstore_query(c->db, &r, "SELECT value FROM mesh_meta WHERE key = $1", 1, p))
		return NULL;
	v = mstore_cell(&r, 0, 0);
	if (v)
		snprintf(buf, n, "%s", v);
	mstore_res_free(&r);
	return v ? buf : NULL;
}

static int meta_set(struct mesh_coord *c, const char *key, const char *val)
{
	const char *p[] = { key, val };
	int err;

	err = mstore_exec(c->db, "UPDATE mesh_meta SET value = $2 WHERE key = $1", 2, p);
	if (!err)
		err = mstore_exec(c->db, "INSERT INTO mesh_meta (key, value) SELECT $1, $2 WHERE "
				  "NOT EXISTS (SELECT 1 FROM mesh_meta WHERE key = $1)", 2, p);
	return err;
}

static int store_init(struct mesh_coord *c)
{
	char buf[64], want[MESH_CIDR_STR_MAX];
	int err;

	if ((err = mstore_begin(c->db)))
		goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(schema); i++)
		if ((err = mstore_exec(c->db, schema[i], 0, NULL)))
			goto fail_tx;
	if (!meta_get(c, "revision", buf, sizeof(buf))) {
		if ((err = meta_set(c, "revision", "0")) || (err = meta_set(c, "schema", "1")))
			goto fail_tx;
		snprintf(buf, sizeof(buf), "0");
	}
	c->revision = strtoull(buf, NULL, 10);
	mesh_cidr_str(&c->pool, want, sizeof(want));
	if (meta_get(c, "cidr", buf, sizeof(buf)) && strcmp(buf, want))
		log_warn(COMP, "--cidr %s differs from the %s this database was used with: nodes "
			 "keep their addresses, new ones come from %s", want, buf, want);
	if ((err = meta_set(c, "cidr", want)) || (err = mstore_commit(c->db)))
		goto fail_tx;
	return 0;
fail_tx:
	mstore_rollback(c->db);
fail:
	log_error(COMP, "cannot create the coordinator's tables in %s: %s", db_name(c),
		  mstore_errmsg(c->db));
	return err;
}

/* Writes the contacts touch_node() recorded. Never inside a change's transaction. */
static void flush_seen(struct mesh_coord *c)
{
	int err;

	if (!c->seen_pending)
		return;
	c->seen_pending = false;
	err = mstore_begin(c->db);
	for (size_t i = 0; i < c->n_nodes && !err; i++) {
		struct node *n = &c->nodes[i];
		char id[24], rev[24];
		const char *p[3] = { id, n->last_seen, rev };

		if (!n->seen_dirty)
			continue;
		n->seen_dirty = false;
		snprintf(id, sizeof(id), "%lld", n->id);
		snprintf(rev, sizeof(rev), "%" PRIu64, n->applied);
		err = mstore_exec(c->db, "UPDATE mesh_nodes SET last_seen = $2, "
				  "applied_revision = $3 WHERE id = $1", 3, p);
	}
	if (!err)
		err = mstore_commit(c->db);
	if (err) {
		mstore_rollback(c->db);
		log_warn(COMP, "cannot record the nodes' last contact in %s: %s (retrying)",
			 db_name(c), mstore_errmsg(c->db));
		c->seen_pending = true;
	}
}

static void render_free(struct mesh_coord *c);

static void cache_free(struct mesh_coord *c)
{
	render_free(c);
	free(c->nodes);
	free(c->idents);
	free(c->rules);
	c->nodes = NULL, c->idents = NULL, c->rules = NULL;
	c->n_nodes = c->n_idents = c->n_rules = 0;
}

static int parse_allowed(const char *text, struct node *n)
{
	const char *p = text;

	n->n_allowed = 0;
	while (p && *p && n->n_allowed < MESH_MAX_ALLOWED) {
		char one[MESH_CIDR_STR_MAX];
		size_t len = strcspn(p, " ");

		if (len && len < sizeof(one)) {
			memcpy(one, p, len);
			one[len] = 0;
			if (!mesh_cidr_parse(one, &n->allowed[n->n_allowed], NULL, 0))
				n->n_allowed++;
		}
		p += len + (p[len] == ' ');
	}
	return 0;
}

/* Reloads nodes, identities and rules from the store when a change marked the cache dirty. */
static int cache_load(struct mesh_coord *c)
{
	struct mstore_res r = { 0 }, ri = { 0 }, rr = { 0 };
	int err;

	if (!c->dirty)
		return 0;
	/* The reload replaces the nodes: write what only memory knows first. */
	flush_seen(c);
	err = mstore_query(c->db, &r, "SELECT n.id, n.name, n.public_key, n.endpoint, n.identity, "
			   "i.tag, n.address, n.allowed_ips, n.cred_hash, n.applied_revision, "
			   "n.last_seen, n.created, n.address6 FROM mesh_nodes n "
			   "JOIN mesh_identities i ON i.name = n.identity ORDER BY n.id", 0, NULL);
	if (!err)
		err = mstore_query(c->db, &ri, "SELECT name, tag FROM mesh_identities ORDER BY tag",
				   0, NULL);
	if (!err)
		err = mstore_query(c->db, &rr, "SELECT src, dst, proto, port, action FROM "
				   "mesh_rules ORDER BY pos", 0, NULL);
	if (err) {
		log_error(COMP, "cannot read the coordinator's state from %s: %s", db_name(c),
			  mstore_errmsg(c->db));
		goto out;
	}
	cache_free(c);
	c->nodes = calloc(r.nrows + 1, sizeof(*c->nodes));
	c->idents = calloc(ri.nrows + 1, sizeof(*c->idents));
	c->rules = calloc(rr.nrows + 1, sizeof(*c->rules));
	if (!c->nodes || !c->idents || !c->rules) {
		cache_free(c);
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r.nrows; i++) {
		struct node *n = &c->nodes[i];
#define CELL(k) (mstore_cell(&r, i, k) ? mstore_cell(&r, i, k) : "")
		n->id = strtoll(CELL(0), NULL, 10);
		snprintf(n->name, sizeof(n->name), "%s", CELL(1));
		snprintf(n->public_key, sizeof(n->public_key), "%s", CELL(2));
		snprintf(n->endpoint, sizeof(n->endpoint), "%s", CELL(3));
		snprintf(n->identity, sizeof(n->identity), "%s", CELL(4));
		n->tag = (uint32_t)strtoul(CELL(5), NULL, 10);
		snprintf(n->address, sizeof(n->address), "%s", CELL(6));
		mesh_cidr_parse(n->address, &n->addr, NULL, 0);
		parse_allowed(CELL(7), n);
		snprintf(n->cred_hash, sizeof(n->cred_hash), "%s", CELL(8));
		n->applied = strtoull(CELL(9), NULL, 10);
		snprintf(n->last_seen, sizeof(n->last_seen), "%s", CELL(10));
		snprintf(n->created, sizeof(n->created), "%s", CELL(11));
		snprintf(n->address6, sizeof(n->address6), "%s", CELL(12));
		if (!n->address6[0] || mesh_cidr_parse(n->address6, &n->addr6, NULL, 0))
			memset(&n->addr6, 0, sizeof(n->addr6));
#undef CELL
	}
	c->n_nodes = r.nrows;
	for (size_t i = 0; i < ri.nrows; i++) {
		snprintf(c->idents[i].name, sizeof(c->idents[i].name), "%s",
			 mstore_cell(&ri, i, 0) ? mstore_cell(&ri, i, 0) : "");
		c->idents[i].tag = (uint32_t)strtoul(mstore_cell(&ri, i, 1) ? mstore_cell(&ri, i, 1)
						     : "0", NULL, 10);
	}
	c->n_idents = ri.nrows;
	for (size_t i = 0; i < rr.nrows; i++) {
		struct mesh_rule *x = &c->rules[i];
		const char *v;

		snprintf(x->src, sizeof(x->src), "%s", mstore_cell(&rr, i, 0) ?: "");
		snprintf(x->dst, sizeof(x->dst), "%s", mstore_cell(&rr, i, 1) ?: "");
		mesh_proto_parse(mstore_cell(&rr, i, 2) ?: "any", &x->proto);
		mesh_ports_parse(mstore_cell(&rr, i, 3) ?: "", &x->port_lo, &x->port_hi);
		v = mstore_cell(&rr, i, 4);
		x->allow = v && !strcmp(v, "allow");
	}
	c->n_rules = rr.nrows;
	c->dirty = false;
out:
	mstore_res_free(&r);
	mstore_res_free(&ri);
	mstore_res_free(&rr);
	return err;
}

static struct node *node_by_id(struct mesh_coord *c, long long id)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].id == id)
			return &c->nodes[i];
	return NULL;
}

static struct ident *ident_by_name(struct mesh_coord *c, const char *name)
{
	for (size_t i = 0; i < c->n_idents; i++)
		if (!strcmp(c->idents[i].name, name))
			return &c->idents[i];
	return NULL;
}

static uint32_t tag_of(struct mesh_coord *c, const char *name)
{
	struct ident *i = strcmp(name, "*") ? ident_by_name(c, name) : NULL;

	return i ? i->tag : 0;
}

/* ---- JSON views ---- */

/* "last_seen": the node's last contact, or null before the first. */
static void last_seen_json(struct vjw *w, const struct node *n)
{
	vjw_key(w, "last_seen");
	if (n->last_seen[0])
		vjw_str(w, n->last_seen);
	else
		vjw_null(w);
}

static void node_json(struct vjw *w, const struct node *n, bool admin)
{
	char cidr[MESH_CIDR_STR_MAX];

	vjw_obj(w);
	vjw_kint(w, "id", n->id);
	vjw_kstr(w, "name", n->name);
	vjw_kstr(w, "public_key", n->public_key);
	vjw_kstr(w, "endpoint", n->endpoint);
	vjw_kstr(w, "identity", n->identity);
	vjw_kuint(w, "tag", n->tag);
	vjw_kstr(w, "address", n->address);
	if (n->address6[0])
		vjw_kstr(w, "address6", n->address6);
	vjw_key(w, "allowed_ips");
	vjw_arr(w);
	vjw_str(w, mesh_cidr_str(&n->addr, cidr, sizeof(cidr)));
	if (n->addr6.family)
		vjw_str(w, mesh_cidr_str(&n->addr6, cidr, sizeof(cidr)));
	for (size_t i = 0; i < n->n_allowed; i++)
		vjw_str(w, mesh_cidr_str(&n->allowed[i], cidr, sizeof(cidr)));
	vjw_end(w);
	if (admin) {
		vjw_kuint(w, "applied_revision", n->applied);
		last_seen_json(w, n);
		vjw_kstr(w, "created", n->created);
	}
	vjw_end(w);
}

static void idents_json(struct vjw *w, struct mesh_coord *c)
{
	vjw_arr(w);
	for (size_t i = 0; i < c->n_idents; i++) {
		vjw_obj(w);
		vjw_kstr(w, "name", c->idents[i].name);
		vjw_kuint(w, "tag", c->idents[i].tag);
		vjw_end(w);
	}
	vjw_end(w);
}

static void rules_json(struct vjw *w, const struct mesh_rule *rules, size_t n)
{
	vjw_arr(w);
	for (size_t i = 0; i < n; i++)
		mesh_rule_json(w, &rules[i]);
	vjw_end(w);
}

/*
 * The parts of every snapshot, rendered once per state (render_cache) rather than once per
 * watcher: each node as a peer, the identities and the policy with tags resolved. A change
 * reloads the cache and drops the rendering; contacts (last_seen) are not in the snapshot.
 */
static void render_free(struct mesh_coord *c)
{
	for (size_t i = 0; c->r_nodes && i < c->n_r_nodes; i++)
		vbuf_free(&c->r_nodes[i]);
	free(c->r_nodes);
	c->r_nodes = NULL;
	c->n_r_nodes = 0;
	vbuf_free(&c->r_idents);
	vbuf_free(&c->r_policy);
	c->rendered = false;
}

static int render_cache(struct mesh_coord *c)
{
	char ports[16];
	struct vjw w;
	int err = 0;

	if (c->rendered)
		return 0;
	render_free(c);
	c->r_nodes = calloc(c->n_nodes + 1, sizeof(*c->r_nodes));
	if (!c->r_nodes)
		return -ENOMEM;
	c->n_r_nodes = c->n_nodes;
	for (size_t i = 0; i < c->n_nodes; i++) {
		vjw_init(&w, &c->r_nodes[i]);
		node_json(&w, &c->nodes[i], false);
		err |= w.err;
	}
	vjw_init(&w, &c->r_idents);
	idents_json(&w, c);
	err |= w.err;
	vjw_init(&w, &c->r_policy);
	vjw_arr(&w);
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct mesh_rule *r = &c->rules[i];

		vjw_obj(&w);
		vjw_kstr(&w, "src", r->src);
		vjw_kuint(&w, "src_tag", tag_of(c, r->src));
		vjw_kstr(&w, "dst", r->dst);
		vjw_kuint(&w, "dst_tag", tag_of(c, r->dst));
		vjw_kstr(&w, "proto", mesh_proto_str(r->proto));
		vjw_kstr(&w, "port", mesh_ports_str(r->port_lo, r->port_hi, ports, sizeof(ports)));
		vjw_kstr(&w, "action", r->allow ? "allow" : "deny");
		vjw_end(&w);
	}
	vjw_end(&w);
	err |= w.err;
	if (err) {
		render_free(c);
		return -ENOMEM;
	}
	c->rendered = true;
	return 0;
}

/* The snapshot one node (@self, an element of c->nodes) gets: itself, every other node as a
 * peer, identities, policy. 0 or -ENOMEM. */
static int snapshot_json(struct vbuf *b, struct mesh_coord *c, const struct node *self,
			 bool changed)
{
	size_t me = (size_t)(self - c->nodes);
	char cidr[MESH_CIDR_STR_MAX];
	struct vjw w;

	if (render_cache(c))
		return -ENOMEM;
	vjw_init(&w, b);
	vjw_obj(&w);
	vjw_kuint(&w, "revision", c->revision);
	vjw_kbool(&w, "changed", changed);
	vjw_kstr(&w, "cidr", mesh_cidr_str(&c->pool, cidr, sizeof(cidr)));
	if (c->pool6.family)
		vjw_kstr(&w, "cidr6", mesh_cidr_str(&c->pool6, cidr, sizeof(cidr)));
	vjw_key(&w, "node");
	vjw_raw(&w, c->r_nodes[me].data, c->r_nodes[me].len);
	vjw_key(&w, "peers");
	vjw_arr(&w);
	for (size_t i = 0; i < c->n_r_nodes; i++)
		if (i != me)
			vjw_raw(&w, c->r_nodes[i].data, c->r_nodes[i].len);
	vjw_end(&w);
	vjw_key(&w, "identities");
	vjw_raw(&w, c->r_idents.data, c->r_idents.len);
	vjw_key(&w, "policy");
	vjw_raw(&w, c->r_policy.data, c->r_policy.len);
	vjw_kuint(&w, "resync_seconds", c->cfg.watch_timeout / 1000000000ull);
	vjw_end(&w);
	return w.err ? -ENOMEM : 0;
}

/* ---- changes ---- */

static void notify_cb(struct vloop *loop, void *ctx);

/*
 * Hands one event to whoever publishes events. For now: a JSON line on --jsonl; the lead routes
 * this through the event bus (<app_id>.mesh.<suffix>) after merging.
 */
static void emit(struct mesh_coord *c, const char *suffix, const char *json, size_t len)
{
	(void)suffix;
	if (!c->events)
		return;
	fwrite(json, 1, len, c->events);
	fputc('\n', c->events);
	fflush(c->events);
}

static void emit_change(struct mesh_coord *c, const char *actor, const char *action,
			const char *target)
{
	struct vbuf b = VBUF_INIT;
	char ts[VTIME_BUFLEN];
	struct vjw w;

	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kstr(&w, "time", vtime_utc_now(ts, sizeof(ts)));
	vjw_kstr(&w, "type", "mesh.change");
	vjw_kuint(&w, "revision", c->revision);
	vjw_kstr(&w, "actor", actor);
	vjw_kstr(&w, "action", action);
	vjw_kstr(&w, "target", target);
	vjw_end(&w);
	if (!w.err)
		emit(c, "change", b.data, b.len);
	vbuf_free(&b);
}

/*
 * Ends a change begun with mstore_begin: bumps the revision, writes the audit entry, commits.
 * On failure rolls back and returns -errno; the in-memory revision only moves on success.
 */
static int change_commit(struct mesh_coord *c, const char *actor, const char *action,
			 const char *target, const char *before, const char *after)
{
	char rev[24], ts[VTIME_BUFLEN];
	const char *p[7];
	int err;

	snprintf(rev, sizeof(rev), "%" PRIu64, c->revision + 1);
	vtime_utc_now(ts, sizeof(ts));
	p[0] = rev, p[1] = ts, p[2] = actor, p[3] = action, p[4] = target, p[5] = before;
	p[6] = after;
	if ((err = meta_set(c, "revision", rev)) ||
	    (err = mstore_exec(c->db, "INSERT INTO mesh_audit (revision, ts, actor, action, "
			       "target, before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6, "
			       "$7)", 7, p)) ||
	    (err = mstore_commit(c->db))) {
		log_error(COMP, "cannot commit %s %s: %s", action, target, mstore_errmsg(c->db));
		mstore_rollback(c->db);
		c->dirty = true;
		return err;
	}
	c->revision++;
	c->dirty = true;
	vmetric_child_inc(vmetric_child(c->m_changes, NULL));
	emit_change(c, actor, action, target);
	log_info(COMP, "revision %" PRIu64 ": %s %s by %s", c->revision, action, target, actor);
	if (!c->notify_armed) {
		c->notify_armed = true;
		if (c->cfg.debounce)
			vloop_timer_set(c->notify, c->cfg.debounce, 0);
		else
			notify_cb(c->loop, c);
	}
	return 0;
}

/* The reply for a failed store call inside a change (already rolled back). */
static void reply_store_error(struct mesh_coord *c, struct vhttp_req *req, int err)
{
	if (err == -EEXIST)
		vhttp_reply_error(req, 409, "conflicts with an existing entry (name, key, tag or "
				  "address already in use)");
	else
		vhttp_reply_error(req, 500, "the coordinator's database failed; see its log");
	(void)c;
}

/*
 * A change of one statement: @sql with its @np parameters @p in a transaction that
 * change_commit() ends with the audit entry. 0, or -errno with the transaction rolled back.
 */
static int change_exec(struct mesh_coord *c, const char *sql, int np, const char *const *p,
		       const char *actor, const char *action, const char *target,
		       const char *before, const char *after)
{
	int e;

	if ((e = mstore_begin(c->db)))
		return e;
	if ((e = mstore_exec(c->db, sql, np, p))) {
		mstore_rollback(c->db);
		return e;
	}
	return change_commit(c, actor, action, target, before, after);
}

/* ---- watches ---- */

static void watch_unlink(struct watch *w)
{
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
	w->c->n_watches--;
}

static void watch_cancel(struct vhttp_req *req, void *ctx)
{
	struct watch *w = ctx;

	(void)req;
	watch_unlink(w);
	free(w);
}

/* Replies with node @n's snapshot (503 when it cannot be built). */
static void reply_snapshot(struct mesh_coord *c, struct vhttp_req *req, const struct node *n,
			   bool changed)
{
	struct vbuf b = VBUF_INIT;

	if (snapshot_json(&b, c, n, changed))
		vhttp_reply_error(req, 503, "out of memory building the snapshot");
	else
		vhttp_reply_json(req, 200, vbuf_cstr(&b));
	vbuf_free(&b);
}

/* Answers one watch with its node's snapshot (or 404 when the node was removed meanwhile). */
static void watch_answer(struct mesh_coord *c, struct watch *w, bool changed)
{
	struct node *n = node_by_id(c, w->node_id);

	watch_unlink(w);
	if (!n)
		vhttp_reply_error(w->req, 404, "this node was removed from the mesh; join again");
	else
		reply_snapshot(c, w->req, n, changed);
	free(w);
}

static void notify_cb(struct vloop *loop, void *ctx)
{
	struct mesh_coord *c = ctx;
	struct watch *w, *next;

	(void)loop;
	c->notify_armed = false;
	if (cache_load(c))
		return;
	for (w = c->watches; w; w = next) {
		next = w->next;
		if (w->since < c->revision)
			watch_answer(c, w, true);
	}
}

static void sweep_cb(struct vloop *loop, void *ctx)
{
	struct mesh_coord *c = ctx;
	uint64_t now = vloop_now_ns();
	struct watch *w, *next;

	(void)loop;
	for (w = c->watches; w; w = next) {
		next = w->next;
		if (w->deadline <= now && !cache_load(c))
			watch_answer(c, w, w->since < c->revision);
	}
	if (++c->sweeps % 5 == 0)
		flush_seen(c);
}

/* ---- handlers ---- */

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !*end && !errno;
}

static bool ready(struct mesh_coord *c, struct vhttp_req *req)
{
	if (cache_load(c)) {
		vhttp_reply_error(req, 503, "the coordinator cannot read its database; see its "
				  "log");
		return false;
	}
	return true;
}

/* Authenticates a node credential "vmc1.<id>.<secret>" against the stored hash. */
static struct node *node_auth(struct mesh_coord *c, struct vhttp_req *req)
{
	const char *tok = bearer(req);
	struct node *n = NULL;
	uint8_t h[32];
	char hex[65];
	char *end;
	long long id;

	if (!tok) {
		reply_401(req, "missing credentials: send \"Authorization: Bearer <node "
			  "credential>\" (the credential /api/v1/join returned)");
		return NULL;
	}
	if (!strncmp(tok, CRED_PREFIX, strlen(CRED_PREFIX))) {
		id = strtoll(tok + strlen(CRED_PREFIX), &end, 10);
		if (*end == '.')
			n = node_by_id(c, id);
	}
	mesh_sha256(tok, strlen(tok), h);
	mesh_hex(h, sizeof(h), hex);
	if (!n || !mesh_ct_equal(hex, n->cred_hash, 64)) {
		reply_401(req, "invalid node credential (was the node removed? join again)");
		return NULL;
	}
	return n;
}

/*
 * Records a node's contact (and the revision it applied) in memory; flush_seen() writes them in
 * one transaction about once a second, so a hundred agents reporting after a change cost one
 * commit, not a hundred synchronous ones on the loop thread.
 */
static void touch_node(struct mesh_coord *c, struct node *n, const uint64_t *applied)
{
	vtime_utc_now(n->last_seen, sizeof(n->last_seen));
	if (applied)
		n->applied = *applied;
	n->seen_dirty = true;
	c->seen_pending = true;
}

static void h_info(struct vhttp_req *req, void *ctx)
{
	struct mesh_coord *c = ctx;
	struct vbuf b = VBUF_INIT;
	struct vjw w;

	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kstr(&w, "api", "vigil-mesh");
	vjw_kint(&w, "version", 1);
	vjw_kuint(&w, "revision", c->revision);
	vjw_end(&w);
	vhttp_reply_json(req, 200, vbuf_cstr(&b));
	vbuf_free(&b);
}

static void h_watch(struct vhttp_req *req, void *ctx)
{
	struct mesh_coord *c = ctx;
	const char *rs = vhttp_req_query(req, "revision"), *ts = vhttp_req_query(req, "timeout");
	uint64_t since = 0, tmo = c->cfg.watch_timeout / 1000000000ull;
	struct node *n;
	struct watch *w;

	if (!ready(c, req) || !(n = node_auth(c, req)))
		return;
	if (rs && !parse_u64(rs, &since)) {
		vhttp_reply_error(req, 400, "revision: expected a non-negative integer (the last "
				  "revision this node received)");
		return;
	}
	if (ts) {
		uint64_t t;

		if (!parse_u64(ts, &t)) {
			vhttp_reply_error(req, 400, "timeout: expected whole seconds");
			return;
		}
		/* Longer than --watch-timeout is clamped: the agent still gets its resync. */
		tmo = t < tmo ? t : tmo;
	}
	touch_node(c, n, NULL);
	if (since < c->revision || tmo == 0) {
		reply_snapshot(c, req, n, since < c->revision);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		vhttp_reply_error(req, 503, "out of memory");
		return;
	}
	w->c = c;
	w->req = req;
	w->node_id = n->id;
	w->since = since;
	w->deadline = vloop_now_ns() + tmo * 1000000000ull;
	if (vhttp_suspend(req, watch_cancel, w)) {
		free(w);
		vhttp_reply_error(req, 500, "cannot hold the watch open");
		return;
	}
	w->next = c->watches;
	if (w->next)
		w->next->pprev = &w->next;
	w->pprev = &c->watches;
	c->watches = w;
	c->n_watches++;
}

/* Lowest free host address of the pool (not the network or broadcast address). */
static int alloc_address(struct mesh_coord *c, struct mesh_cidr *out)
{
	uint32_t base, size, a;

	memcpy(&base, c->pool.addr, 4);
	base = ntohl(base);
	size = c->pool.plen == 0 ? 0xffffffffu : (uint32_t)(1ull << (32 - c->pool.plen));
	for (uint32_t i = 1; i + 1 < size; i++) {
		struct mesh_cidr cand = { .family = AF_INET, .plen = 32 };
		bool used = false;

		a = htonl(base + i);
		memcpy(cand.addr, &a, 4);
		for (size_t j = 0; j < c->n_nodes && !used; j++)
			used = mesh_cidr_overlap(&cand, &c->nodes[j].addr);
		if (!used) {
			*out = cand;
			return 0;
		}
	}
	return -ENOSPC;
}

/* The node's IPv6 address: the --cidr6 prefix plus the node id in the low bits. */
static int address6_of(const struct mesh_coord *c, long long id, struct mesh_cidr *out)
{
	int host_bits = 128 - c->pool6.plen;
	unsigned long long v = (unsigned long long)id;

	if (host_bits < 64 && v >> host_bits)
		return -ENOSPC;
	*out = c->pool6;
	out->plen = 128;
	for (int i = 15; i >= 8 && v; i--, v >>= 8)
		out->addr[i] |= (uint8_t)(v & 0xff);
	return 0;
}

static void join_result(struct vhttp_req *req, int status, struct mesh_coord *c,
			const struct node *n, const char *cred)
{
	char cidr[MESH_CIDR_STR_MAX];
	struct vbuf b = VBUF_INIT;
	struct vjw w;

	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kint(&w, "node_id", n->id);
	vjw_kstr(&w, "name", n->name);
	vjw_kstr(&w, "credential", cred);
	vjw_kstr(&w, "address", n->address);
	vjw_kstr(&w, "cidr", mesh_cidr_str(&c->pool, cidr, sizeof(cidr)));
	if (n->address6[0]) {
		vjw_kstr(&w, "address6", n->address6);
		vjw_kstr(&w, "cidr6", mesh_cidr_str(&c->pool6, cidr, sizeof(cidr)));
	}
	vjw_kuint(&w, "revision", c->revision);
	vjw_end(&w);
	vhttp_reply_json(req, status, vbuf_cstr(&b));
	vbuf_free(&b);
}

static void node_json_str(struct vbuf *b, const struct node *n)
{
	struct vjw w;

	vbuf_reset(b);
	vjw_init(&w, b);
	node_json(&w, n, false);
}

static void h_join(struct vhttp_req *req, void *ctx)
{
	struct mesh_coord *c = ctx;
	char err[MESH_ERR_MAX], msg[512], actor[64], cred[128], hex[65], idbuf[24], allowed[2048];
	char cidr[MESH_CIDR_STR_MAX], ts[VTIME_BUFLEN];
	struct vbuf before = VBUF_INIT, after = VBUF_INIT;
	const struct token *jt;
	struct mesh_join_req jr;
	struct node *old = NULL, nn;
	struct ident *id;
	uint8_t secret[32], h[32];
	const char *body;
	size_t len;
	int e;

	if (!ready(c, req))
		return;
	if (!c->n_join) {
		vhttp_reply_error(req, 403, "joining is disabled: the coordinator has no join "
				  "token (start it with --join-token-file)");
		return;
	}
	if (!bearer(req)) {
		reply_401(req, "missing credentials: send \"Authorization: Bearer <join token>\"");
		return;
	}
	jt = token_ok(c->join, c->n_join, bearer(req), actor, sizeof(actor), "join");
	if (!jt) {
		reply_401(req, "invalid join token");
		return;
	}
	body = vhttp_req_body(req, &len);
	if (mesh_join_parse(body, len, &jr, err, sizeof(err))) {
		vhttp_reply_error(req, 400, err);
		return;
	}
	if (jt->identity[0] && strcmp(jt->identity, jr.identity)) {
		snprintf(msg, sizeof(msg), "identity: this join token admits only identity \"%s\", "
			 "not \"%s\"", jt->identity, jr.identity);
		vhttp_reply_error(req, 403, msg);
		return;
	}
	id = ident_by_name(c, jr.identity);
	if (!id) {
		snprintf(msg, sizeof(msg), "identity: unknown identity \"%s\" (an admin creates it "
			 "first: POST /api/v1/identities)", jr.identity);
		vhttp_reply_error(req, 422, msg);
		return;
	}
	for (size_t i = 0; i < c->n_nodes; i++)
		if (!strcmp(c->nodes[i].public_key, jr.public_key))
			old = &c->nodes[i];
	memset(&nn, 0, sizeof(nn));
	if (old && strcmp(old->identity, jr.identity)) {
		snprintf(msg, sizeof(msg), "public_key: already joined as node %lld (%s) with "
			 "identity \"%s\"; an identity does not change by joining again (an "
			 "admin removes the node first: DELETE /api/v1/nodes/%lld)", old->id,
			 old->name, old->identity, old->id);
		vhttp_reply_error(req, 409, msg);
		return;
	}
	if (old) {
		nn = *old;
	} else {
		char last[24];

		/* Ids are never reused: the highest ever handed out is kept in mesh_meta. */
		nn.id = c->n_nodes ? c->nodes[c->n_nodes - 1].id + 1 : 1;
		if (meta_get(c, "last_node_id", last, sizeof(last)) &&
		    strtoll(last, NULL, 10) >= nn.id)
			nn.id = strtoll(last, NULL, 10) + 1;
		if (alloc_address(c, &nn.addr)) {
			snprintf(msg, sizeof(msg), "the address pool %s is exhausted (remove "
				 "nodes or restart the coordinator with a larger --cidr)",
				 mesh_cidr_str(&c->pool, cidr, sizeof(cidr)));
			vhttp_reply_error(req, 409, msg);
			return;
		}
		inet_ntop(AF_INET, nn.addr.addr, nn.address, sizeof(nn.address));
		snprintf(nn.created, sizeof(nn.created), "%s", vtime_utc_now(ts, sizeof(ts)));
	}
	if (c->pool6.family && !nn.address6[0]) {
		if (address6_of(c, nn.id, &nn.addr6)) {
			snprintf(msg, sizeof(msg), "node id %lld does not fit in --cidr6 %s (use a "
				 "shorter prefix)", nn.id, mesh_cidr_str(&c->pool6, cidr,
									 sizeof(cidr)));
			vhttp_reply_error(req, 409, msg);
			return;
		}
		inet_ntop(AF_INET6, nn.addr6.addr, nn.address6, sizeof(nn.address6));
	}
	snprintf(nn.public_key, sizeof(nn.public_key), "%s", jr.public_key);
	snprintf(nn.endpoint, sizeof(nn.endpoint), "%s", jr.endpoint);
	snprintf(nn.identity, sizeof(nn.identity), "%s", jr.identity);
	nn.tag = id->tag;
	if (jr.name[0])
		snprintf(nn.name, sizeof(nn.name), "%s", jr.name);
	else if (!old)
		snprintf(nn.name, sizeof(nn.name), "node-%lld", nn.id);
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].id != nn.id && !strcmp(c->nodes[i].name, nn.name)) {
			snprintf(msg, sizeof(msg), "name: \"%s\" is already node %lld's name",
				 nn.name, c->nodes[i].id);
			vhttp_reply_error(req, 409, msg);
			return;
		}
	/* Allowed IPs: outside the pool and disjoint from every other node's. */
	allowed[0] = 0;
	for (size_t i = 0; i < jr.n_allowed; i++) {
		const struct mesh_cidr *a = &jr.allowed[i];
		char other[MESH_CIDR_STR_MAX];

		mesh_cidr_str(a, cidr, sizeof(cidr));
		if (mesh_cidr_overlap(a, &c->pool) ||
		    (c->pool6.family && mesh_cidr_overlap(a, &c->pool6))) {
			snprintf(msg, sizeof(msg), "allowed_ips[%zu]: %s overlaps the mesh pool %s",
				 i, cidr, mesh_cidr_str(a->family == AF_INET ? &c->pool : &c->pool6,
							other, sizeof(other)));
			vhttp_reply_error(req, 409, msg);
			return;
		}
		for (size_t j = 0; j < c->n_nodes; j++) {
			const struct node *o = &c->nodes[j];

			if (o->id == nn.id)
				continue;
			for (size_t k = 0; k < o->n_allowed; k++)
				if (mesh_cidr_overlap(a, &o->allowed[k])) {
					snprintf(msg, sizeof(msg), "allowed_ips[%zu]: %s overlaps "
						 "%s of node %lld (%s)", i, cidr,
						 mesh_cidr_str(&o->allowed[k], other,
							       sizeof(other)), o->id, o->name);
					vhttp_reply_error(req, 409, msg);
					return;
				}
		}
		nn.allowed[i] = *a;
		snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
			 i ? " " : "", cidr);
	}
	nn.n_allowed = jr.n_allowed;

	if (getrandom(secret, sizeof(secret), 0) != sizeof(secret)) {
		vhttp_reply_error(req, 503, "cannot get random bytes for a credential");
		return;
	}
	mesh_hex(secret, sizeof(secret), hex);
	snprintf(cred, sizeof(cred), CRED_PREFIX "%lld.%s", nn.id, hex);
	mesh_sha256(cred, strlen(cred), h);
	mesh_hex(h, sizeof(h), nn.cred_hash);
	snprintf(idbuf, sizeof(idbuf), "%lld", nn.id);
	{
		const char *p[10] = { idbuf, nn.name, nn.public_key, nn.endpoint, nn.identity,
				      nn.address, allowed, nn.cred_hash, nn.created,
				      nn.address6[0] ? nn.address6 : NULL };

		if (old)
			node_json_str(&before, old);
		node_json_str(&after, &nn);
		if ((e = mstore_begin(c->db)))
			goto db_fail;
		if (old)
			e = mstore_exec(c->db, "UPDATE mesh_nodes SET name = $2, public_key = $3, "
					"endpoint = $4, identity = $5, address = $6, "
					"allowed_ips = $7, cred_hash = $8, created = $9, "
					"address6 = $10 WHERE id = $1",
					10, p);
		else
			e = mstore_exec(c->db, "INSERT INTO mesh_nodes (id, name, public_key, "
					"endpoint, identity, address, allowed_ips, cred_hash, "
					"applied_revision, created, address6) VALUES ($1, $2, $3, "
					"$4, $5, $6, $7, $8, 0, $9, $10)", 10, p);
		if (!e && !old)
			e = meta_set(c, "last_node_id", idbuf);
		if (e) {
			mstore_rollback(c->db);
			goto db_fail;
		}
		if ((e = change_commit(c, actor, old ? "node.rejoin" : "node.join", nn.name,
				       old ? vbuf_cstr(&before) : NULL, vbuf_cstr(&after))))
			goto db_fail;
	}
	join_result(req, old ? 200 : 201, c, &nn, cred);
	goto out;
db_fail:
	log_error(COMP, "join of %s failed in the store: %s", jr.public_key, mstore_errmsg(c->db));
	reply_store_error(c, req, e);
out:
	vbuf_free(&before);
	vbuf_free(&after);
}

/* An admin's GET of a whole collection: {"revision": N, "<key>": <what @list writes>}. */
static void reply_listing(struct vhttp_req *req, struct mesh_coord *c, const char *key,
			  void (*list)(struct vjw *, struct mesh_coord *))
{
	struct vbuf b = VBUF_INIT;
	char actor[64];
	struct vjw w;

	if (!admin_auth(c, req, actor, sizeof(actor)) || !ready(c, req))
		return;
	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kuint(&w, "revision", c->revision);
	vjw_key(&w, key);
	list(&w, c);
	vjw_end(&w);
	vhttp_reply_json(req, 200, vbuf_cstr(&b));
	vbuf_free(&b);
}

static void nodes_json(struct vjw *w, struct mesh_coord *c)
{
	vjw_arr(w);
	for (size_t i = 0; i < c->n_nodes; i++)
		node_json(w, &c->nodes[i], true);
	vjw_end(w);
}

static void h_nodes(struct vhttp_req *req, void *ctx)
{
	reply_listing(req, ctx, "nodes", nodes_json);
}

/*
 * The checks before an admin's GET or DELETE of one of the @what ("nodes", "identities"): the
 * method, the admin token (its name into @actor), the store. false when a reply went out.
 */
static bool admin_get_delete(struct mesh_coord *c, struct vhttp_req *req, const char *what,
			     char *actor, size_t an)
{
	const char *method = vhttp_req_method(req);
	char msg[64];

	if (strcmp(method, "GET") && strcmp(method, "DELETE")) {
		vhttp_req_add_header(req, "Allow", "GET, DELETE");
		snprintf(msg, sizeof(msg), "%s support GET and DELETE", what);
		vhttp_reply_error(req, 405, msg);
		return false;
	}
	return admin_auth(c, req, actor, an) && ready(c, req);
}

static void node_delete(struct mesh_coord *c, struct vhttp_req *req, struct node *n,
			const char *actor)
{
	struct vbuf before = VBUF_INIT;
	char id[24], name[MESH_NAME_MAX];
	const char *p[] = { id };
	int e;

	snprintf(id, sizeof(id), "%lld", n->id);
	snprintf(name, sizeof(name), "%s", n->name);
	node_json_str(&before, n);
	if ((e = change_exec(c, "DELETE FROM mesh_nodes WHERE id = $1", 1, p, actor, "node.remove",
			     name, vbuf_cstr(&before), NULL)))
		goto fail;
	vbuf_reset(&before);
	vbuf_printf(&before, "{\"removed\":%s,\"revision\":%" PRIu64 "}", id, c->revision);
	vhttp_reply_json(req, 200, vbuf_cstr(&before));
	vbuf_free(&before);
	return;
fail:
	vbuf_free(&before);
	reply_store_error(c, req, e);
}

/* /api/v1/nodes/<id> (GET, DELETE; admin) and /api/v1/nodes/<id>/status (POST; the node). */
static void h_node(struct vhttp_req *req, void *ctx)
{
	struct mesh_coord *c = ctx;
	const char *path = vhttp_req_path(req) + strlen(API "/nodes/");
	const char *method = vhttp_req_method(req);
	char actor[64], msg[256], err[MESH_ERR_MAX];
	struct node *n;
	uint64_t id;
	char *end;

	if (!isdigit((unsigned char)*path)) {
		vhttp_reply_error(req, 404, "no such node: expected /api/v1/nodes/<numeric id>");
		return;
	}
	errno = 0;
	id = strtoull(path, &end, 10);
	if (errno || (*end && strcmp(end, "/status"))) {
		vhttp_reply_error(req, 404, "no such endpoint: expected /api/v1/nodes/<id> or "
				  "/api/v1/nodes/<id>/status");
		return;
	}
	if (!strcmp(end, "/status")) {
		const char *body;
		uint64_t rev;
		size_t len;
		struct node *me;

		if (strcmp(method, "POST")) {
			vhttp_req_add_header(req, "Allow", "POST");
			vhttp_reply_error(req, 405, "status reports are POSTed");
			return;
		}
		if (!ready(c, req) || !(me = node_auth(c, req)))
			return;
		if ((uint64_t)me->id != id) {
			vhttp_reply_error(req, 403, "a node may report only its own status");
			return;
		}
		body = vhttp_req_body(req, &len);
		if (mesh_status_parse(body, len, &rev, err, sizeof(err))) {
			vhttp_reply_error(req, 400, err);
			return;
		}
		if (rev > c->revision) {
			snprintf(msg, sizeof(msg), "revision: %" PRIu64 " is ahead of the "
				 "coordinator's %" PRIu64, rev, c->revision);
			vhttp_reply_error(req, 400, msg);
			return;
		}
		touch_node(c, me, &rev);
		snprintf(msg, sizeof(msg), "{\"ok\":true,\"revision\":%" PRIu64 "}", c->revision);
		vhttp_reply_json(req, 200, msg);
		return;
	}
	if (!admin_get_delete(c, req, "nodes", actor, sizeof(actor)))
		return;
	n = node_by_id(c, (long long)id);
	if (!n) {
		snprintf(msg, sizeof(msg), "no node %" PRIu64 " (see GET /api/v1/nodes)", id);
		vhttp_reply_error(req, 404, msg);
		return;
	}
	if (!strcmp(method, "DELETE")) {
		node_delete(c, req, n, actor);
	} else {
		struct vbuf b = VBUF_INIT;
		struct vjw w;

		vjw_init(&w, &b);
		node_json(&w, n, true);
		vhttp_reply_json(req, 200, vbuf_cstr(&b));
		vbuf_free(&b);
	}
}

static void h_identities_get(struct vhttp_req *req, void *ctx)
{
	reply_listing(req, ctx, "identities", idents_json);
}

static void h_identities_post(struct vhttp_req *req, void *ctx)
{
	struct mesh_coord *c = ctx;
	char actor[64], err[MESH_ERR_MAX], msg[256], tag[16], ts[VTIME_BUFLEN];
	struct mesh_ident_req ir;
	const char *body;
	size_t len;
	int e;

	if (!admin_auth(c, req, actor, sizeof(actor)) || !ready(c, req))
		return;
	body = vhttp_req_body(req, &len);
	if (mesh_ident_parse(body, len, &ir, err, sizeof(err))) {
		vhttp_reply_error(req, 400, err);
		return;
	}
	if (ident_by_name(c, ir.name)) {
		snprintf(msg, sizeof(msg), "identity \"%s\" exists already", ir.name);
		vhttp_reply_error(req, 409, msg);
		return;
	}
	if (!ir.tag) {
		ir.tag = c->n_idents ? c->idents[c->n_idents - 1].tag + 1 : 1;
		if (ir.tag == 0 || ir.tag > MESH_TAG_MAX) {
			vhttp_reply_error(req, 409, "no free tag above the highest; give one");
			return;
		}
	}
	for (size_t i = 0; i < c->n_idents; i++)
		if (c->idents[i].tag == ir.tag) {
			snprintf(msg, sizeof(msg), "tag %u is identity \"%s\"'s already", ir.tag,
				 c->idents[i].name);
			vhttp_reply_error(req, 409, msg);
			return;
		}
	snprintf(tag, sizeof(tag), "%u", ir.tag);
	{
		const char *p[] = { ir.name, tag, vtime_utc_now(ts, sizeof(ts)) };
		char after[160];

		snprintf(after, sizeof(after), "{\"name\":\"%s\",\"tag\":%u}", ir.name, ir.tag);
		if ((e = change_exec(c, "INSERT INTO mesh_identities (name, tag, created) VALUES "
				     "($1, $2, $3)", 3, p, actor, "identity.create", ir.name, NULL,
				     after)))
			goto fail;
		snprintf(msg, sizeof(msg), "{\"name\":\"%s\",\"tag\":%u,\"revision\":%" PRIu64 "}",
			 ir.name, ir.tag, c->revision);
		vhttp_reply_json(req, 201, msg);
	}
	return;
fail:
	reply_store_error(c, req, e);
}

static void h_identity(struct vhttp_req *req, void *ctx)
{
	struct mesh_coord *c = ctx;
	const char *name = vhttp_req_path(req) + strlen(API "/identities/");
	const char *method = vhttp_req_method(req);
	char actor[64], msg[256], before[160];
	struct ident *id;
	int e;

	if (!admin_get_delete(c, req, "identities", actor, sizeof(actor)))
		return;
	id = ident_by_name(c, name);
	if (!id) {
		snprintf(msg, sizeof(msg), "no identity \"%.64s\" (see GET /api/v1/identities)",
			 name);
		vhttp_reply_error(req, 404, msg);
		return;
	}
	snprintf(before, sizeof(before), "{\"name\":\"%s\",\"tag\":%u}", id->name, id->tag);
	if (!strcmp(method, "GET")) {
		vhttp_reply_json(req, 200, before);
		return;
	}
	for (size_t i = 0; i < c->n_nodes; i++)
		if (!strcmp(c->nodes[i].identity, id->name)) {
			snprintf(msg, sizeof(msg), "identity \"%s\" is used by node %lld (%s); "
				 "remove the node first", id->name, c->nodes[i].id,
				 c->nodes[i].name);
			vhttp_reply_error(req, 409, msg);
			return;
		}
	for (size_t i = 0; i < c->n_rules; i++)
		if (!strcmp(c->rules[i].src, id->name) || !strcmp(c->rules[i].dst, id->name)) {
			snprintf(msg, sizeof(msg), "identity \"%s\" is used by policy rule %zu; "
				 "apply a policy without it first", id->name, i);
			vhttp_reply_error(req, 409, msg);
			return;
		}
	{
		char nm[MESH_NAME_MAX];
		const char *p[] = { nm };

		snprintf(nm, sizeof(nm), "%s", id->name);
		if ((e = change_exec(c, "DELETE FROM mesh_identities WHERE name = $1", 1, p, actor,
				     "identity.remove", nm, before, NULL)))
			goto fail;
		snprintf(msg, sizeof(msg), "{\"removed\":\"%s\",\"revision\":%" PRIu64 "}", nm,
			 c->revision);
		vhttp_reply_json(req, 200, msg);
	}
	return;
fail:
	reply_store_error(c, req, e);
}

static void policy_json(struct vjw *w, struct mesh_coord *c)
{
	rules_json(w, c->rules, c->n_rules);
}

static void h_policy_get(struct vhttp_req *req, void *ctx)
{
	reply_listing(req, ctx, "rules", policy_json);
}

static bool rules_equal(const struct mesh_rule *a, size_t na, const struct mesh_rule *b,
			size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].src, b[i].src) || strcmp(a[i].dst, b[i].dst) ||
		    a[i].proto != b[i].proto || a[i].port_lo != b[i].port_lo ||
		    a[i].port_hi != b[i].port_hi || a[i].allow != b[i].allow)
			return false;
	return true;
}

/* PUT /api/v1/policy: replaces the whole rule set in one transaction. */
static void h_policy_put(struct vhttp_req *req, void *ctx)
{
	struct mesh_coord *c = ctx;
	char actor[64], err[MESH_ERR_MAX], msg[512];
	struct vbuf before = VBUF_INIT, after = VBUF_INIT;
	struct mesh_rule *rules = NULL;
	size_t n = 0, len;
	const char *body;
	struct vjw w;
	int e;

	if (!admin_auth(c, req, actor, sizeof(actor)) || !ready(c, req))
		return;
	body = vhttp_req_body(req, &len);
	if (mesh_rules_parse(body, len, &rules, &n, err, sizeof(err))) {
		vhttp_reply_error(req, 400, err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *bad = strcmp(rules[i].src, "*") && !ident_by_name(c, rules[i].src)
					  ? rules[i].src
				  : strcmp(rules[i].dst, "*") && !ident_by_name(c, rules[i].dst)
					  ? rules[i].dst
					  : NULL;

		if (bad) {
			snprintf(msg, sizeof(msg), "rules[%zu]: unknown identity \"%s\" (create it "
				 "first: POST /api/v1/identities, or use \"*\")", i, bad);
			vhttp_reply_error(req, 422, msg);
			goto out;
		}
	}
	if (rules_equal(rules, n, c->rules, c->n_rules)) {
		snprintf(msg, sizeof(msg), "{\"revision\":%" PRIu64 ",\"changed\":false,"
			 "\"rules\":%zu}", c->revision, n);
		vhttp_reply_json(req, 200, msg);
		goto out;
	}
	vjw_init(&w, &before);
	rules_json(&w, c->rules, c->n_rules);
	vjw_init(&w, &after);
	rules_json(&w, rules, n);
	if ((e = mstore_begin(c->db)))
		goto fail;
	e = mstore_exec(c->db, "DELETE FROM mesh_rules", 0, NULL);
	for (size_t i = 0; i < n && !e; i++) {
		char pos[24], ports[16];
		const char *p[] = { pos, rules[i].src, rules[i].dst, mesh_proto_str(rules[i].proto),
				    mesh_ports_str(rules[i].port_lo, rules[i].port_hi, ports,
						   sizeof(ports)),
				    rules[i].allow ? "allow" : "deny" };

		snprintf(pos, sizeof(pos), "%zu", i);
		e = mstore_exec(c->db, "INSERT INTO mesh_rules (pos, src, dst, proto, port, "
				"action) VALUES ($1, $2, $3, $4, $5, $6)", 6, p);
	}
	if (e) {
		mstore_rollback(c->db);
		goto fail;
	}
	if ((e = change_commit(c, actor, "policy.apply", "policy", vbuf_cstr(&before),
			       vbuf_cstr(&after))))
		goto fail;
	snprintf(msg, sizeof(msg), "{\"revision\":%" PRIu64 ",\"changed\":true,\"rules\":%zu}",
		 c->revision, n);
	vhttp_reply_json(req, 200, msg);
	goto out;
fail:
	reply_store_error(c, req, e);
out:
	free(rules);
	vbuf_free(&before);
	vbuf_free(&after);
}

static void h_status(struct vhttp_req *req, void *ctx)
{
	struct mesh_coord *c = ctx;
	char actor[64], cidr[MESH_CIDR_STR_MAX];
	struct vbuf b = VBUF_INIT;
	struct vjw w;

	if (!admin_auth(c, req, actor, sizeof(actor)) || !ready(c, req))
		return;
	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kuint(&w, "revision", c->revision);
	vjw_kstr(&w, "backend", mstore_backend(c->db));
	vjw_kstr(&w, "cidr", mesh_cidr_str(&c->pool, cidr, sizeof(cidr)));
	vjw_kuint(&w, "watchers", c->n_watches);
	vjw_kuint(&w, "identities", c->n_idents);
	vjw_kuint(&w, "rules", c->n_rules);
	vjw_key(&w, "nodes");
	vjw_arr(&w);
	for (size_t i = 0; i < c->n_nodes; i++) {
		const struct node *n = &c->nodes[i];

		vjw_obj(&w);
		vjw_kint(&w, "id", n->id);
		vjw_kstr(&w, "name", n->name);
		vjw_kstr(&w, "identity", n->identity);
		vjw_kstr(&w, "address", n->address);
		if (n->address6[0])
			vjw_kstr(&w, "address6", n->address6);
		vjw_kuint(&w, "applied_revision", n->applied);
		vjw_kbool(&w, "in_sync", n->applied == c->revision);
		last_seen_json(&w, n);
		vjw_end(&w);
	}
	vjw_end(&w);
	vjw_end(&w);
	vhttp_reply_json(req, 200, vbuf_cstr(&b));
	vbuf_free(&b);
}

static void h_audit(struct vhttp_req *req, void *ctx)
{
	struct mesh_coord *c = ctx;
	const char *ss = vhttp_req_query(req, "since"), *ls = vhttp_req_query(req, "limit");
	uint64_t since = 0, limit = 1000;
	char actor[64], sb[24], lb[24];
	const char *p[] = { sb, lb };
	struct vbuf b = VBUF_INIT;
	struct mstore_res r;
	struct vjw w;

	if (!admin_auth(c, req, actor, sizeof(actor)))
		return;
	if ((ss && !parse_u64(ss, &since)) || (ls && (!parse_u64(ls, &limit) || !limit ||
						      limit > 100000))) {
		vhttp_reply_error(req, 400, "since: a revision; limit: 1..100000");
		return;
	}
	snprintf(sb, sizeof(sb), "%" PRIu64, since);
	snprintf(lb, sizeof(lb), "%" PRIu64, limit);
	if (mstore_query(c->db, &r, "SELECT revision, ts, actor, action, target, before_json, "
			 "after_json FROM mesh_audit WHERE revision > $1 ORDER BY revision "
			 "LIMIT $2", 2, p)) {
		vhttp_reply_error(req, 500, "cannot read the audit log; see the coordinator's log");
		return;
	}
	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kuint(&w, "revision", c->revision);
	vjw_key(&w, "entries");
	vjw_arr(&w);
	for (size_t i = 0; i < r.nrows; i++) {
		vjw_obj(&w);
		vjw_kuint(&w, "revision", strtoull(mstore_cell(&r, i, 0) ?: "0", NULL, 10));
		vjw_kstr(&w, "time", mstore_cell(&r, i, 1) ?: "");
		vjw_kstr(&w, "actor", mstore_cell(&r, i, 2) ?: "");
		vjw_kstr(&w, "action", mstore_cell(&r, i, 3) ?: "");
		vjw_kstr(&w, "target", mstore_cell(&r, i, 4) ?: "");
		for (int k = 5; k <= 6; k++) {
			const char *v = mstore_cell(&r, i, k);

			vjw_key(&w, k == 5 ? "before" : "after");
			if (v)
				vjw_raw(&w, v, strlen(v));
			else
				vjw_null(&w);
		}
		vjw_end(&w);
	}
	vjw_end(&w);
	vjw_end(&w);
	mstore_res_free(&r);
	vhttp_reply_json(req, 200, vbuf_cstr(&b));
	vbuf_free(&b);
}

static void h_fallback(struct vhttp_req *req, void *ctx)
{
	static const char *const known[] = { API "/join", API "/watch", API "/nodes",
					     API "/identities", API "/policy", API "/status",
					     API "/audit", API };
	char msg[300];

	(void)ctx;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (!strcmp(vhttp_req_path(req), known[i])) {
			snprintf(msg, sizeof(msg), "%s does not support %s (see docs/mesh_api.md)",
				 known[i], vhttp_req_method(req));
			vhttp_reply_error(req, 405, msg);
			return;
		}
	snprintf(msg, sizeof(msg), "no endpoint %s %.200s (the API is under /api/v1, see "
		 "docs/mesh_api.md)", vhttp_req_method(req), vhttp_req_path(req));
	vhttp_reply_error(req, 404, msg);
}

/* ---- life cycle ---- */

/* /metrics collect callback (loop thread): gauges copied from the coordinator's state. */
static void collect(struct vmetrics *reg, void *ctx)
{
	struct mesh_coord *c = ctx;
	size_t in_sync = 0;

	(void)reg;
	if (cache_load(c))
		return;
	for (size_t i = 0; i < c->n_nodes; i++)
		in_sync += c->nodes[i].applied == c->revision;
	vmetric_child_set_u64(vmetric_child(c->m_revision, NULL), c->revision);
	vmetric_child_set_u64(vmetric_child(c->m_nodes, NULL), c->n_nodes);
	vmetric_child_set_u64(vmetric_child(c->m_in_sync, NULL), in_sync);
	vmetric_child_set_u64(vmetric_child(c->m_watchers, NULL), c->n_watches);
}

static int metrics_init(struct mesh_coord *c)
{
	c->metrics = vmetrics_new();
	if (!c->metrics)
		return -errno;
	c->m_revision = vmetrics_gauge(c->metrics, "vigil_mesh_coordinator_revision",
				       "the mesh's current revision", NULL);
	c->m_nodes = vmetrics_gauge(c->metrics, "vigil_mesh_coordinator_nodes",
				    "nodes registered", NULL);
	c->m_in_sync = vmetrics_gauge(c->metrics, "vigil_mesh_coordinator_nodes_in_sync",
				      "nodes whose last reported revision is the current one",
				      NULL);
	c->m_watchers = vmetrics_gauge(c->metrics, "vigil_mesh_coordinator_watches",
				       "long-poll watches held open", NULL);
	c->m_changes = vmetrics_counter(c->metrics, "vigil_mesh_coordinator_changes_total",
					"committed changes (revisions)", NULL);
	if (!c->m_revision || !c->m_nodes || !c->m_in_sync || !c->m_watchers || !c->m_changes)
		return -errno;
	return vmetrics_on_collect(c->metrics, collect, c);
}

struct mesh_coord *mesh_coord_new(struct vloop *loop, const struct mesh_coord_cfg *cfg)
{
	struct vhttp_params hp = { 0 };
	struct mesh_coord *c;
	char err[MESH_ERR_MAX];
	int e = EINVAL;
	static const struct {
		const char *method, *path;
		unsigned flags;
		vhttp_handler fn;
	} routes[] = {
		{ "GET", API, 0, h_info },
		{ "POST", API "/join", 0, h_join },
		{ "GET", API "/watch", 0, h_watch },
		{ "GET", API "/nodes", 0, h_nodes },
		{ NULL, API "/nodes/", VHTTP_PREFIX, h_node },
		{ "GET", API "/identities", 0, h_identities_get },
		{ "POST", API "/identities", 0, h_identities_post },
		{ NULL, API "/identities/", VHTTP_PREFIX, h_identity },
		{ "GET", API "/policy", 0, h_policy_get },
		{ "PUT", API "/policy", 0, h_policy_put },
		{ "GET", API "/status", 0, h_status },
		{ "GET", API "/audit", 0, h_audit },
		{ NULL, "/api/", VHTTP_PREFIX, h_fallback },
	};

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->loop = loop;
	c->dirty = true;
	if (!cfg->db || !cfg->cidr || !cfg->listen) {
		log_error(COMP, "the coordinator needs --listen, --db and --cidr");
		goto fail;
	}
	if (mesh_cidr_parse(cfg->cidr, &c->pool, err, sizeof(err))) {
		log_error(COMP, "--cidr: %s", err);
		goto fail;
	}
	if (c->pool.family != AF_INET || c->pool.plen > 30) {
		log_error(COMP, "--cidr %s: give an IPv4 prefix of /30 or shorter (e.g. "
			  "100.96.0.0/16)", cfg->cidr);
		goto fail;
	}
	if (cfg->cidr6 && *cfg->cidr6) {
		if (mesh_cidr_parse(cfg->cidr6, &c->pool6, err, sizeof(err))) {
			log_error(COMP, "--cidr6: %s", err);
			goto fail;
		}
		if (c->pool6.family != AF_INET6 || c->pool6.plen > 120) {
			log_error(COMP, "--cidr6 %s: give an IPv6 prefix of /120 or shorter (e.g. "
				  "fd76:6967:696c::/64)", cfg->cidr6);
			goto fail;
		}
	}
	if (load_tokens(c->admin, &c->n_admin, cfg->admin_token, cfg->admin_token_file,
			"admin-token", false) ||
	    load_tokens(c->join, &c->n_join, cfg->join_token, cfg->join_token_file, "join-token",
			true))
		goto fail;
	if (!c->n_admin) {
		log_error(COMP, "no admin token: give --admin-token-file FILE (or --admin-token) "
			  "so the mesh can be administered");
		goto fail;
	}
	if (!c->n_join)
		log_warn(COMP, "no join token (--join-token-file): nodes cannot join");
	c->db = mstore_open(cfg->db);
	if (!c->db) {
		e = errno;
		goto fail;
	}
	if (store_init(c) || cache_load(c)) {
		e = EIO;
		goto fail;
	}
	if (cfg->jsonl) {
		c->events = strcmp(cfg->jsonl, "-") ? fopen(cfg->jsonl, "a") : stdout;
		if (!c->events) {
			e = errno;
			log_error(COMP, "cannot open --jsonl %s: %s", cfg->jsonl, strerror(e));
			goto fail;
		}
	}
	if (metrics_init(c)) {
		e = ENOMEM;
		goto fail;
	}
	c->notify = vloop_timer_add(loop, 0, 0, notify_cb, c);
	c->sweep = vloop_timer_add(loop, SWEEP_NS, SWEEP_NS, sweep_cb, c);
	if (!c->notify || !c->sweep) {
		e = errno;
		goto fail;
	}
	hp.addr = cfg->listen;
	hp.metrics = c->metrics;
	hp.max_body = cfg->max_body;
	hp.option = "--listen";
	c->http = vhttp_start(loop, &hp);
	if (!c->http) {
		e = errno;
		goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
		if (vhttp_route(c->http, routes[i].method, routes[i].path, routes[i].flags,
				routes[i].fn, c)) {
			e = ENOMEM;
			goto fail;
		}
	vhttp_set_ready(c->http, true);
	log_info(COMP, "coordinator on port %u, %s store %s at revision %" PRIu64 ", %zu nodes",
		 vhttp_port(c->http), mstore_backend(c->db),
		 db_name(c), c->revision, c->n_nodes);
	return c;
fail:
	mesh_coord_free(c);
	errno = e;
	return NULL;
}

void mesh_coord_free(struct mesh_coord *c)
{
	if (!c)
		return;
	/* vhttp_free answers suspended watches (503) and calls watch_cancel for each. */
	vhttp_free(c->http);
	while (c->watches) {
		struct watch *w = c->watches;

		watch_unlink(w);
		free(w);
	}
	if (c->notify)
		vloop_timer_del(c->notify);
	if (c->sweep)
		vloop_timer_del(c->sweep);
	if (c->db)
		flush_seen(c);
	mstore_close(c->db);
	cache_free(c);
	vmetrics_free(c->metrics);
	if (c->events && c->events != stdout)
		fclose(c->events);
	free(c);
}

uint16_t mesh_coord_port(const struct mesh_coord *c)
{
	return vhttp_port(c->http);
}

uint64_t mesh_coord_revision(const struct mesh_coord *c)
{
	return c->revision;
}

unsigned mesh_coord_watchers(const struct mesh_coord *c)
{
	return c->n_watches;
}

int mesh_coord_run(const struct mesh_coord_cfg *cfg)
{
	struct vloop *loop = vloop_new();
	struct mesh_coord *c;
	int err;

	if (!loop) {
		log_error(COMP, "cannot create the event loop: %s", strerror(errno));
		return 1;
	}
	c = mesh_coord_new(loop, cfg);
	if (!c) {
		vloop_free(loop);
		return 1;
	}
	err = vloop_run(loop);
	log_info(COMP, "coordinator stopping at revision %" PRIu64, c->revision);
	mesh_coord_free(c);
	vloop_free(loop);
	return err ? 1 : 0;
}
