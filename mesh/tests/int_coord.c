// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mesh coordinator for real: its HTTP API on 127.0.0.1:<free port>, a temp SQLite file,
 * driven through mesh/client.c from the test thread while the coordinator's loop runs in its
 * own. Joins and address allocation, policy and snapshots, watches woken by changes, every
 * bad-input case with the database checked unchanged, restart on the same database, audit log,
 * node removal.
 */
#include <math.h>
#include <stdatomic.h>
#include <time.h>

#include "test.h"
#include "mesh/tests/coord_harness.h"
#include "vigil/log.h"
#include "vigil/util.h"

static bool mkident(struct coord *k, const char *name, int tag)
{
	char body[128];

	if (tag)
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"tag\":%d}", name, tag);
	else
		snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	return ASSERT_EQ(api(k, ADMIN_TOKEN, "POST", "/api/v1/identities", body, NULL), 201,
			 name);
}

static bool join(struct coord *k, unsigned i, const char *identity, struct mesh_join_result *r)
{
	char key[MESH_PUBKEY_LEN + 1], ep[32];

	test_pubkey(i, key);
	snprintf(ep, sizeof(ep), "192.0.2.%u:51820", i % 250 + 1);
	return ASSERT_OK(mesh_client_join(k->url, JOIN_TOKEN, key, ep, identity, r), "join");
}

static bool setup(struct coord *k)
{
	memset(k, 0, sizeof(*k));
	vlog_setup(VLOG_WARN, VLOG_TEXT);
	return ASSERT_OK(coord_start(k, NULL, 100 * 1000000ull), "coordinator starts") &&
	       mkident(k, "web", 10) && mkident(k, "db", 0) && mkident(k, "monitor", 0);
}

static void test_join_allocates(void)
{
	struct mesh_join_result a, b, c, a2;
	struct mesh_snapshot s = { 0 };
	struct coord k;
	json_t *j = NULL;

	if (!setup(&k) || !join(&k, 1, "web", &a) || !join(&k, 2, "db", &b) ||
	    !join(&k, 3, "monitor", &c))
		goto out;
	ASSERT_STREQ(a.address, "100.96.0.1", "first address");
	ASSERT_STREQ(b.address, "100.96.0.2", "second address");
	ASSERT_STREQ(c.address, "100.96.0.3", "third address");
	ASSERT_NEQ(a.node_id, b.node_id, "distinct ids");
	ASSERT_STRCONTAINS(a.credential, "vmc1.", "credential format");
	ASSERT_EQ(mesh_coord_revision(k.c), 6, "3 identities + 3 joins");
	{
		struct mesh_join_result d;
		char key[MESH_PUBKEY_LEN + 1];

		test_pubkey(4, key);
		ASSERT_OK(mesh_client_join(k.url, BOUND_TOKEN, key, NULL, "db", &d),
			  "a bound token admits its identity");
		ASSERT_STREQ(d.address, "100.96.0.4", "fourth address");
		ASSERT_EQ(mesh_client_join(k.url, BOUND_TOKEN, key, NULL, "web", &d), -EACCES,
			  "and no other");
		ASSERT_OK(api(&k, ADMIN_TOKEN, "DELETE", "/api/v1/nodes/4", NULL, NULL) == 200 ? 0
			  : -1, "remove it again");
	}
	if (!ASSERT_EQ(api(&k, ADMIN_TOKEN, "GET", "/api/v1/nodes", NULL, &j), 200, "nodes"))
		goto out;
	ASSERT_EQ(json_array_size(json_object_get(j, "nodes")), 3, "3 nodes listed");
	ASSERT_EQ(mesh_coord_revision(k.c), 8, "the bound join and the removal");
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(j, "nodes"),
			1), "identity")), "db", "second node's identity");
	/* The same key joins again: same node and address, new credential, old one void. */
	if (!join(&k, 1, "web", &a2))
		goto out;
	ASSERT_EQ(a2.node_id, a.node_id, "rejoin keeps the id");
	ASSERT_STREQ(a2.address, a.address, "rejoin keeps the address");
	ASSERT_TRUE(strcmp(a2.credential, a.credential) != 0, "rejoin issues a new credential");
	ASSERT_EQ(mesh_client_watch(k.url, a.credential, 0, 1, &s), -EACCES, "old credential");
	mesh_snapshot_free(&s);
	ASSERT_OK(mesh_client_watch(k.url, a2.credential, 0, 1, &s), "new credential");
	ASSERT_EQ(s.n_peers, 2, "two peers");
	ASSERT_STREQ(s.self.address, "100.96.0.1", "self address");
	ASSERT_EQ(s.self.tag, 10, "self tag");
out:
	mesh_snapshot_free(&s);
	json_decref(j);
	coord_cleanup(&k);
}

static void test_policy_snapshot_status(void)
{
	struct mesh_join_result a, b;
	struct mesh_snapshot s = { 0 };
	struct coord k;
	json_t *j = NULL;
	const char *pol = "{\"rules\":[{\"src\":\"web\",\"dst\":\"db\",\"proto\":\"tcp\","
			  "\"port\":5432,\"action\":\"allow\"},{\"src\":\"monitor\",\"dst\":\"*\","
			  "\"proto\":\"tcp\",\"port\":\"9100-9110\",\"action\":\"allow\"},"
			  "{\"src\":\"*\",\"dst\":\"*\",\"proto\":\"any\",\"action\":\"deny\"}]}";
	uint64_t rev;

	if (!setup(&k) || !join(&k, 1, "web", &a) || !join(&k, 2, "db", &b))
		goto out;
	if (!ASSERT_EQ(api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", pol, &j), 200, "apply"))
		goto out;
	ASSERT_TRUE(json_is_true(json_object_get(j, "changed")), "changed");
	json_decref(j);
	rev = mesh_coord_revision(k.c);
	/* The same policy again is not a change. */
	ASSERT_EQ(api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", pol, NULL), 200, "re-apply");
	ASSERT_EQ(mesh_coord_revision(k.c), rev, "no revision for an identical policy");
	/* Text format, same meaning plus one rule. */
	ASSERT_EQ(api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy",
		      "allow web -> db tcp/5432\nallow monitor -> * tcp/9100-9110 # scrape\n"
		      "allow * -> * icmp\ndeny * -> * any\n", &j), 200, "apply text");
	ASSERT_EQ(mesh_coord_revision(k.c), rev + 1, "text policy is a change");
	json_decref(j);
	j = NULL;
	if (!ASSERT_OK(mesh_client_watch(k.url, b.credential, 0, 5, &s), "watch"))
		goto out;
	ASSERT_EQ(s.revision, rev + 1, "snapshot revision");
	ASSERT_EQ(s.n_rules, 4, "4 rules");
	ASSERT_STREQ(s.rules[0].rule.src, "web", "rule 0 src");
	ASSERT_EQ(s.rules[0].src_tag, 10, "rule 0 src tag");
	ASSERT_EQ(s.rules[0].rule.port_lo, 5432, "rule 0 port");
	ASSERT_EQ(s.rules[1].rule.port_hi, 9110, "rule 1 port range");
	ASSERT_EQ(s.rules[1].dst_tag, 0, "wildcard tag");
	ASSERT_EQ(s.rules[2].rule.proto, MESH_PROTO_ICMP, "icmp");
	ASSERT_FALSE(s.rules[3].rule.allow, "deny");
	ASSERT_EQ(s.n_peers, 1, "one peer");
	ASSERT_STREQ(s.peers[0].public_key, s.peers[0].public_key, "peer key");
	ASSERT_EQ(s.peers[0].n_allowed_ips, 1, "peer allowed ips");
	ASSERT_EQ(s.n_identities, 3, "identities");
	ASSERT_OK(mesh_client_report(k.url, b.credential, s.revision), "report");
	{
		struct vbuf m = VBUF_INIT;
		char want[96];
		long st;

		snprintf(want, sizeof(want), "vigil_mesh_coordinator_revision %" PRIu64 "\n",
			 s.revision);
		ASSERT_OK(mesh_client_request(k.url, NULL, "GET", "/metrics", NULL, 0, &st, &m, 10),
			  "scrape");
		ASSERT_EQ(st, 200, "/metrics");
		ASSERT_STRCONTAINS(vbuf_cstr(&m), want, "revision gauge");
		ASSERT_STRCONTAINS(vbuf_cstr(&m), "vigil_mesh_coordinator_nodes_in_sync 1\n",
				   "in-sync gauge");
		vbuf_free(&m);
	}
	if (!ASSERT_EQ(api(&k, ADMIN_TOKEN, "GET", "/api/v1/status", NULL, &j), 200, "status"))
		goto out;
	{
		json_t *nodes = json_object_get(j, "nodes");

		ASSERT_EQ(json_integer_value(json_object_get(j, "revision")), (long long)s.revision,
			  "status revision");
		ASSERT_EQ(json_integer_value(json_object_get(json_array_get(nodes, 1),
							     "applied_revision")),
			  (long long)s.revision, "db node applied");
		ASSERT_TRUE(json_is_true(json_object_get(json_array_get(nodes, 1), "in_sync")),
			    "db node in sync");
		ASSERT_TRUE(json_is_false(json_object_get(json_array_get(nodes, 0), "in_sync")),
			    "web node not in sync");
		ASSERT_TRUE(json_is_string(json_object_get(json_array_get(nodes, 1), "last_seen")),
			    "last seen");
	}
out:
	mesh_snapshot_free(&s);
	json_decref(j);
	coord_cleanup(&k);
}

#define WATCHERS 10
#define ROUNDS	 5

struct watcher {
	struct coord *k;
	const char *cred;
	uint64_t since;
	uint64_t got_ns;
	uint64_t got_rev;
	int err;
};

static void *watch_thread(void *arg)
{
	struct watcher *w = arg;
	struct mesh_snapshot s;

	/* Loop until a newer revision arrives (a timeout answer would repeat the old one). */
	for (int i = 0; i < 3; i++) {
		w->err = mesh_client_watch(w->k->url, w->cred, w->since, 10, &s);
		if (w->err || s.revision > w->since)
			break;
		mesh_snapshot_free(&s);
	}
	w->got_ns = vloop_now_ns();
	w->got_rev = w->err ? 0 : s.revision;
	if (!w->err)
		mesh_snapshot_free(&s);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Watches held by WATCHERS nodes return with the new revision soon after a change. */
static void test_watch_wakes(void)
{
	struct mesh_join_result nodes[WATCHERS];
	uint64_t lat[WATCHERS * ROUNDS];
	size_t nl = 0;
	struct coord k;

	if (!setup(&k))
		goto out;
	for (unsigned i = 0; i < WATCHERS; i++)
		if (!join(&k, i + 1, "web", &nodes[i]))
			goto out;
	for (int r = 0; r < ROUNDS; r++) {
		struct watcher w[WATCHERS];
		pthread_t th[WATCHERS];
		uint64_t t0, rev = mesh_coord_revision(k.c);
		char body[96];

		for (unsigned i = 0; i < WATCHERS; i++) {
			w[i] = (struct watcher){ .k = &k, .cred = nodes[i].credential,
						 .since = rev };
			pthread_create(&th[i], NULL, watch_thread, &w[i]);
		}
		/* Let every watch reach the coordinator and be suspended. */
		for (int t = 0; t < 500 && mesh_coord_watchers(k.c) < WATCHERS; t++)
			usleep(10000);
		ASSERT_EQ(mesh_coord_watchers(k.c), WATCHERS, "watches suspended");
		snprintf(body, sizeof(body), "allow web -> db tcp/%d\n", 1000 + r);
		t0 = vloop_now_ns();
		ASSERT_EQ(api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", body, NULL), 200, "change");
		for (unsigned i = 0; i < WATCHERS; i++) {
			pthread_join(th[i], NULL);
			ASSERT_OK(w[i].err, "watch");
			ASSERT_EQ(w[i].got_rev, rev + 1, "new revision");
			lat[nl++] = w[i].got_ns - t0;
		}
	}
	qsort(lat, nl, sizeof(lat[0]), cmp_u64);
	fprintf(stderr, "  watch latency over %zu wake-ups (debounce 100 ms): min %.1f ms, p50 "
		"%.1f ms, p99 %.1f ms, max %.1f ms\n", nl, lat[0] / 1e6, lat[nl / 2] / 1e6,
		lat[(nl * 99) / 100 < nl ? (nl * 99) / 100 : nl - 1] / 1e6, lat[nl - 1] / 1e6);
	/* A generous bound: the real timing is bench/mesh_propagation's job. */
	ASSERT_LE(lat[nl - 1], 1500000000ull, "every watcher within 1.5 s");
out:
	coord_cleanup(&k);
}

/* A digest of every row of every table, read through a second connection of the store
 * (SQLite or PostgreSQL): equal digests mean an unchanged database. */
static bool db_digest(const char *url, uint8_t out[32], long long *rows)
{
	static const char *const q[] = {
		"SELECT key, value FROM mesh_meta ORDER BY key",
		"SELECT name, tag, created FROM mesh_identities ORDER BY name",
		"SELECT id, name, public_key, endpoint, identity, address, allowed_ips, cred_hash, "
		"applied_revision, last_seen, created FROM mesh_nodes ORDER BY id",
		"SELECT pos, src, dst, proto, port, action FROM mesh_rules ORDER BY pos",
		"SELECT revision, ts, actor, action, target, before_json, after_json "
		"FROM mesh_audit ORDER BY revision",
	};
	struct vbuf b = VBUF_INIT;
	struct mstore *s = mstore_open(url);
	bool ok = s != NULL;

	*rows = 0;
	for (size_t i = 0; i < ARRAY_SIZE(q) && ok; i++) {
		struct mstore_res r;

		ok = mstore_query(s, &r, q[i], 0, NULL) == 0;
		for (size_t row = 0; ok && row < r.nrows; row++) {
			(*rows)++;
			for (size_t c = 0; c < r.ncols; c++) {
				const char *v = mstore_cell(&r, row, c);

				vbuf_printf(&b, "%s\x1f", v ? v : "\x01NULL");
			}
			vbuf_putc(&b, '\n');
		}
		if (ok)
			mstore_res_free(&r);
	}
	mstore_close(s);
	mesh_sha256(b.data ? b.data : "", b.len, out);
	vbuf_free(&b);
	return ok;
}

struct bad {
	const char *what;
	const char *token; /* "A": admin, "J": join, "N": node a's credential, "M": node b's */
	const char *method, *path, *body;
	long status;
	const char *msg; /* expected in the "error" message */
};

static void test_bad_input_leaves_db_unchanged(void)
{
	char key1[MESH_PUBKEY_LEN + 1], key9[MESH_PUBKEY_LEN + 1], big_path[64];
	struct mesh_join_result a, b;
	uint8_t before[32], after[32];
	long long rows_before, rows_after;
	char bodies[16][400];
	struct vbuf big = VBUF_INIT;
	struct coord k;
	uint64_t rev;

	if (!setup(&k) || !join(&k, 1, "web", &a))
		goto out;
	{
		char key[MESH_PUBKEY_LEN + 1];
		const char *ips[] = { "192.168.10.0/24" };
		char err[256];

		test_pubkey(2, key);
		if (!ASSERT_OK(mesh_client_join_ex(k.url, JOIN_TOKEN, key, NULL, "db", "dbnode",
						   ips, 1, &b, err, sizeof(err)),
			       "join with a subnet"))
			goto out;
	}
	ASSERT_EQ(api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", "allow web -> db tcp/5432\n",
		      NULL), 200, "policy");
	test_pubkey(1, key1);
	test_pubkey(9, key9);
#define JB(i, ...) (snprintf(bodies[i], sizeof(bodies[i]), __VA_ARGS__), bodies[i])
	snprintf(big_path, sizeof(big_path), "/api/v1/nodes/%lld/status", b.node_id);
	vbuf_printf(&big, "{\"rules\":[");
	for (int i = 0; i < 30000; i++)
		vbuf_printf(&big, "%s{\"src\":\"web\",\"dst\":\"db\",\"action\":\"allow\"}",
			    i ? "," : "");
	vbuf_printf(&big, "]}");
	const struct bad cases[] = {
		{ "join: malformed JSON", "J", "POST", "/api/v1/join", "{\"public_key\":", 400,
		  "malformed JSON" },
		{ "join: not an object", "J", "POST", "/api/v1/join", "[1,2]", 400, "object" },
		{ "join: unknown field", "J", "POST", "/api/v1/join",
		  JB(0, "{\"public_key\":\"%s\",\"identity\":\"web\",\"admin\":true}", key9), 400,
		  "unknown field \"admin\"" },
		{ "join: short key", "J", "POST", "/api/v1/join",
		  "{\"public_key\":\"abc=\",\"identity\":\"web\"}", 400, "public_key" },
		{ "join: key not base64", "J", "POST", "/api/v1/join",
		  "{\"public_key\":\"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=\","
		  "\"identity\":\"web\"}", 400, "not base64" },
		{ "join: key of 33 bytes", "J", "POST", "/api/v1/join",
		  "{\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		  "\"identity\":\"web\"}", 400, "public_key" },
		{ "join: bad endpoint", "J", "POST", "/api/v1/join",
		  JB(1, "{\"public_key\":\"%s\",\"identity\":\"web\",\"endpoint\":\"1.2.3.4\"}",
		     key9), 400, "endpoint" },
		{ "join: bad port", "J", "POST", "/api/v1/join",
		  JB(2, "{\"public_key\":\"%s\",\"identity\":\"web\",\"endpoint\":\"h:70000\"}",
		     key9), 400, "port" },
		{ "join: invalid CIDR", "J", "POST", "/api/v1/join",
		  JB(3, "{\"public_key\":\"%s\",\"identity\":\"web\",\"allowed_ips\":"
		     "[\"10.0.0.0/33\"]}", key9), 400, "prefix length" },
		{ "join: CIDR with host bits", "J", "POST", "/api/v1/join",
		  JB(4, "{\"public_key\":\"%s\",\"identity\":\"web\",\"allowed_ips\":"
		     "[\"10.0.0.1/8\"]}", key9), 400, "host bits" },
		{ "join: allowed IPs overlap another node's", "J", "POST", "/api/v1/join",
		  JB(5, "{\"public_key\":\"%s\",\"identity\":\"web\",\"allowed_ips\":"
		     "[\"192.168.10.128/25\"]}", key9), 409, "overlaps 192.168.10.0/24" },
		{ "join: allowed IPs overlap the pool", "J", "POST", "/api/v1/join",
		  JB(6, "{\"public_key\":\"%s\",\"identity\":\"web\",\"allowed_ips\":"
		     "[\"100.96.0.0/16\"]}", key9), 409, "mesh pool" },
		{ "join: overlapping within the request", "J", "POST", "/api/v1/join",
		  JB(7, "{\"public_key\":\"%s\",\"identity\":\"web\",\"allowed_ips\":"
		     "[\"10.1.0.0/16\",\"10.1.2.0/24\"]}", key9), 400, "overlaps" },
		{ "join: unknown identity", "J", "POST", "/api/v1/join",
		  JB(8, "{\"public_key\":\"%s\",\"identity\":\"nosuch\"}", key9), 422,
		  "unknown identity" },
		{ "join: name taken", "J", "POST", "/api/v1/join",
		  JB(9, "{\"public_key\":\"%s\",\"identity\":\"web\",\"name\":\"dbnode\"}", key9),
		  409, "dbnode" },
		{ "join: no token", NULL, "POST", "/api/v1/join",
		  JB(10, "{\"public_key\":\"%s\",\"identity\":\"web\"}", key9), 401, "missing" },
		{ "join: wrong token", "wrong-token-0123456789", "POST", "/api/v1/join",
		  bodies[10], 401, "invalid join token" },
		{ "join: admin token is not a join token", "A", "POST", "/api/v1/join",
		  bodies[10], 401, "invalid join token" },
		{ "join: token bound to another identity", BOUND_TOKEN, "POST", "/api/v1/join",
		  bodies[10], 403, "admits only identity \"db\"" },
		{ "join: same key, other identity", "J", "POST", "/api/v1/join",
		  JB(11, "{\"public_key\":\"%s\",\"identity\":\"db\"}", key1), 409,
		  "already joined as node" },
		{ "policy: malformed", "A", "PUT", "/api/v1/policy", "{\"rules\":[{]}", 400,
		  "malformed JSON" },
		{ "policy: unknown field", "A", "PUT", "/api/v1/policy",
		  "{\"rules\":[{\"src\":\"web\",\"dst\":\"db\",\"action\":\"allow\",\"prio\":1}]}",
		  400, "unknown field \"prio\"" },
		{ "policy: unknown top-level field", "A", "PUT", "/api/v1/policy",
		  "{\"rules\":[],\"default\":\"deny\"}", 400, "unknown field" },
		{ "policy: bad proto", "A", "PUT", "/api/v1/policy",
		  "{\"rules\":[{\"src\":\"web\",\"dst\":\"db\",\"proto\":\"sctp\","
		  "\"action\":\"allow\"}]}", 400, "sctp" },
		{ "policy: bad action", "A", "PUT", "/api/v1/policy",
		  "{\"rules\":[{\"src\":\"web\",\"dst\":\"db\",\"action\":\"maybe\"}]}", 400,
		  "maybe" },
		{ "policy: port with icmp", "A", "PUT", "/api/v1/policy",
		  "{\"rules\":[{\"src\":\"web\",\"dst\":\"db\",\"proto\":\"icmp\",\"port\":1,"
		  "\"action\":\"allow\"}]}", 400, "tcp or udp" },
		{ "policy: reversed range", "A", "PUT", "/api/v1/policy",
		  "{\"rules\":[{\"src\":\"web\",\"dst\":\"db\",\"proto\":\"tcp\",\"port\":"
		  "\"90-80\",\"action\":\"allow\"}]}", 400, "port" },
		{ "policy: unknown identity", "A", "PUT", "/api/v1/policy",
		  "{\"rules\":[{\"src\":\"web\",\"dst\":\"nosuch\",\"action\":\"allow\"}]}", 422,
		  "unknown identity \"nosuch\"" },
		{ "policy: bad text line", "A", "PUT", "/api/v1/policy",
		  "allow web -> db tcp/5432\nallow web db\n", 400, "line 2" },
		{ "policy: no token", NULL, "PUT", "/api/v1/policy", "[]", 401, "missing" },
		{ "policy: wrong token", "wrong-token-0123456789", "PUT", "/api/v1/policy", "[]",
		  401, "invalid admin token" },
		{ "policy: node credential is not admin", "N", "PUT", "/api/v1/policy", "[]", 401,
		  "invalid admin token" },
		{ "policy: body over the limit", "A", "PUT", "/api/v1/policy", big.data, 413, "" },
		{ "identity: duplicate", "A", "POST", "/api/v1/identities", "{\"name\":\"web\"}",
		  409, "exists" },
		{ "identity: duplicate tag", "A", "POST", "/api/v1/identities",
		  "{\"name\":\"new\",\"tag\":10}", 409, "tag 10" },
		{ "identity: bad tag", "A", "POST", "/api/v1/identities",
		  "{\"name\":\"new\",\"tag\":-4}", 400, "tag" },
		{ "identity: bad name", "A", "POST", "/api/v1/identities", "{\"name\":\"a b\"}",
		  400, "name" },
		{ "identity: wildcard name", "A", "POST", "/api/v1/identities", "{\"name\":\"*\"}",
		  400, "name" },
		{ "identity: unknown field", "A", "POST", "/api/v1/identities",
		  "{\"name\":\"x\",\"color\":\"red\"}", 400, "unknown field" },
		{ "identity: in use", "A", "DELETE", "/api/v1/identities/web", NULL, 409,
		  "used by" },
		{ "identity: unknown", "A", "DELETE", "/api/v1/identities/nosuch", NULL, 404,
		  "no identity" },
		{ "node: unknown", "A", "DELETE", "/api/v1/nodes/999", NULL, 404, "no node 999" },
		{ "node: delete without token", NULL, "DELETE", "/api/v1/nodes/1", NULL, 401,
		  "missing" },
		{ "node: delete with a node credential", "N", "DELETE", "/api/v1/nodes/1", NULL,
		  401, "invalid admin token" },
		{ "watch: wrong credential", "vmc1.1.00000000", "GET", "/api/v1/watch", NULL, 401,
		  "invalid node credential" },
		{ "watch: admin token is no node credential", "A", "GET", "/api/v1/watch", NULL,
		  401, "invalid node credential" },
		{ "watch: bad revision", "N", "GET", "/api/v1/watch?revision=x", NULL, 400,
		  "revision" },
		{ "status: another node's", "N", "POST", big_path, "{\"revision\":1}", 403,
		  "only its own" },
		{ "status: malformed", "M", "POST", big_path, "{\"revision\":", 400,
		  "malformed JSON" },
		{ "status: unknown field", "M", "POST", big_path, "{\"revision\":1,\"x\":2}", 400,
		  "unknown field" },
		{ "status: revision ahead", "M", "POST", big_path, "{\"revision\":999999}", 400,
		  "ahead" },
		{ "unknown endpoint", "A", "GET", "/api/v1/frobnicate", NULL, 404, "no endpoint" },
		{ "wrong method", "A", "DELETE", "/api/v1/policy", NULL, 405, "does not support" },
	};
	if (!ASSERT_TRUE(db_digest(k.db, before, &rows_before), "digest before"))
		goto out;
	rev = mesh_coord_revision(k.c);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct bad *c = &cases[i];
		const char *tok = !c->token ? NULL : !strcmp(c->token, "A") ? ADMIN_TOKEN
					: !strcmp(c->token, "J") ? JOIN_TOKEN
					: !strcmp(c->token, "N") ? a.credential
					: !strcmp(c->token, "M") ? b.credential : c->token;
		json_t *j = NULL;
		long st = api(&k, tok, c->method, c->path, c->body, &j);
		const char *msg = json_string_value(json_object_get(j, "error"));

		if (ASSERT_EQ(st, c->status, c->what) && c->status != 413)
			ASSERT_STRCONTAINS(msg, c->msg, c->what);
		json_decref(j);
	}
	ASSERT_EQ(mesh_coord_revision(k.c), rev, "revision unchanged");
	if (ASSERT_TRUE(db_digest(k.db, after, &rows_after), "digest after")) {
		ASSERT_EQ(rows_after, rows_before, "row count unchanged");
		ASSERT_TRUE(memcmp(before, after, 32) == 0, "database digest unchanged");
	}
	fprintf(stderr, "  %zu bad requests refused, %lld rows unchanged\n", ARRAY_SIZE(cases),
		rows_after);
out:
	vbuf_free(&big);
	coord_cleanup(&k);
}

static void test_restart_keeps_state(void)
{
	struct mesh_join_result a, b;
	struct mesh_snapshot s = { 0 };
	struct coord k;
	uint64_t rev;
	json_t *j = NULL;

	if (!setup(&k) || !join(&k, 1, "web", &a) || !join(&k, 2, "db", &b))
		goto out;
	ASSERT_EQ(api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", "allow web -> db tcp/5432\n",
		      NULL), 200, "policy");
	rev = mesh_coord_revision(k.c);
	ASSERT_OK(mesh_client_report(k.url, a.credential, rev), "a reports before the stop");
	coord_stop(&k);
	/* While it is down the client says so (the agent then keeps enforcing what it has). */
	ASSERT_EQ(mesh_client_watch(k.url, a.credential, 0, 1, &s), -ECONNREFUSED,
		  "coordinator down");
	mesh_snapshot_free(&s);
	if (!ASSERT_OK(coord_start(&k, k.db, 100 * 1000000ull), "restart on the same db"))
		goto out;
	ASSERT_EQ(mesh_coord_revision(k.c), rev, "revision survives");
	if (!ASSERT_OK(mesh_client_watch(k.url, a.credential, 0, 1, &s), "credential survives"))
		goto out;
	ASSERT_EQ(s.revision, rev, "snapshot revision");
	ASSERT_EQ(s.n_peers, 1, "peer survives");
	ASSERT_EQ(s.n_rules, 1, "policy survives");
	ASSERT_EQ(s.n_identities, 3, "identities survive");
	/* A third node gets the next free address, not one already handed out. */
	{
		struct mesh_join_result c;

		if (join(&k, 3, "monitor", &c))
			ASSERT_STREQ(c.address, "100.96.0.3", "allocation continues");
	}
	ASSERT_EQ(api(&k, ADMIN_TOKEN, "GET", "/api/v1/status", NULL, &j), 200, "status");
	ASSERT_EQ(json_array_size(json_object_get(j, "nodes")), 3, "three nodes");
	{
		json_t *n0 = json_array_get(json_object_get(j, "nodes"), 0);

		ASSERT_EQ(json_integer_value(json_object_get(n0, "applied_revision")),
			  (long long)rev, "a's applied revision survives");
		ASSERT_TRUE(json_is_string(json_object_get(n0, "last_seen")),
			    "a's last contact survives");
	}
out:
	json_decref(j);
	mesh_snapshot_free(&s);
	coord_cleanup(&k);
}

static void test_audit_log(void)
{
	struct mesh_join_result a;
	struct coord k;
	json_t *j = NULL, *e;

	if (!setup(&k) || !join(&k, 1, "web", &a))
		goto out;
	ASSERT_EQ(api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", "allow web -> db tcp/5432\n",
		      NULL), 200, "policy");
	ASSERT_EQ(api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", "deny * -> * any\n", NULL), 200,
		  "policy 2");
	{
		char path[48];

		snprintf(path, sizeof(path), "/api/v1/nodes/%lld", a.node_id);
		ASSERT_EQ(api(&k, ADMIN_TOKEN, "DELETE", path, NULL, NULL), 200, "remove");
	}
	if (!ASSERT_EQ(api(&k, ADMIN_TOKEN, "GET", "/api/v1/audit", NULL, &j), 200, "audit"))
		goto out;
	e = json_object_get(j, "entries");
	/* 3 identities, 1 join, 2 policies, 1 removal: one entry per revision. */
	if (!ASSERT_EQ(json_array_size(e), 7, "entries") ||
	    !ASSERT_EQ(mesh_coord_revision(k.c), 7, "revision"))
		goto out;
	for (size_t i = 0; i < 7; i++)
		ASSERT_EQ(json_integer_value(json_object_get(json_array_get(e, i), "revision")),
			  (long long)i + 1, "entry revision");
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(e, 0), "action")),
		     "identity.create", "first action");
	ASSERT_STRCONTAINS(json_string_value(json_object_get(json_array_get(e, 0), "actor")),
			   "admin:", "actor");
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(e, 3), "action")),
		     "node.join", "join action");
	ASSERT_STRCONTAINS(json_string_value(json_object_get(json_array_get(e, 3), "actor")),
			   "join:", "join actor");
	ASSERT_TRUE(json_is_null(json_object_get(json_array_get(e, 4), "before")) ||
		    json_is_array(json_object_get(json_array_get(e, 4), "before")), "before");
	{
		json_t *p2 = json_array_get(e, 5);
		json_t *bef = json_object_get(p2, "before"), *aft = json_object_get(p2, "after");

		ASSERT_STREQ(json_string_value(json_object_get(json_array_get(bef, 0), "port")),
			     "5432", "before holds the old rule");
		ASSERT_STREQ(json_string_value(json_object_get(json_array_get(aft, 0), "action")),
			     "deny", "after holds the new rule");
		ASSERT_TRUE(json_is_string(json_object_get(p2, "time")), "time");
	}
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(e, 6), "action")),
		     "node.remove", "remove action");
	ASSERT_TRUE(json_is_null(json_object_get(json_array_get(e, 6), "after")), "after null");
	ASSERT_STREQ(json_string_value(json_object_get(json_object_get(json_array_get(e, 6),
			"before"), "public_key")), json_string_value(json_object_get(
			json_object_get(json_array_get(e, 3), "after"), "public_key")),
		     "before of the removal is the joined node");
out:
	json_decref(j);
	coord_cleanup(&k);
}

struct held {
	struct coord *k;
	const char *cred;
	uint64_t since;
	struct mesh_snapshot s;
	int err;
};

static void *hold_watch(void *arg)
{
	struct held *h = arg;

	h->err = mesh_client_watch(h->k->url, h->cred, h->since, 10, &h->s);
	return NULL;
}

static void test_remove_node(void)
{
	struct mesh_join_result a, b, c;
	struct mesh_snapshot s = { 0 };
	struct held hb = { 0 }, hc = { 0 };
	pthread_t tb, tc;
	struct coord k;
	char path[48];
	uint64_t rev;

	if (!setup(&k) || !join(&k, 1, "web", &a) || !join(&k, 2, "db", &b) ||
	    !join(&k, 3, "monitor", &c))
		goto out;
	rev = mesh_coord_revision(k.c);
	hb = (struct held){ .k = &k, .cred = b.credential, .since = rev };
	hc = (struct held){ .k = &k, .cred = c.credential, .since = rev };
	pthread_create(&tb, NULL, hold_watch, &hb);
	pthread_create(&tc, NULL, hold_watch, &hc);
	for (int t = 0; t < 500 && mesh_coord_watchers(k.c) < 2; t++)
		usleep(10000);
	snprintf(path, sizeof(path), "/api/v1/nodes/%lld", c.node_id);
	ASSERT_EQ(api(&k, ADMIN_TOKEN, "DELETE", path, NULL, NULL), 200, "remove c");
	pthread_join(tb, NULL);
	pthread_join(tc, NULL);
	if (ASSERT_OK(hb.err, "b's watch")) {
		ASSERT_EQ(hb.s.revision, rev + 1, "b sees the removal");
		ASSERT_EQ(hb.s.n_peers, 1, "b has one peer left");
		ASSERT_EQ(hb.s.peers[0].id, a.node_id, "and it is a");
	}
	ASSERT_EQ(hc.err, -ENOENT, "c's watch is told it was removed");
	ASSERT_EQ(mesh_client_watch(k.url, c.credential, 0, 1, &s), -EACCES, "c's credential");
	mesh_snapshot_free(&s);
	if (ASSERT_OK(mesh_client_watch(k.url, a.credential, 0, 1, &s), "a"))
		ASSERT_EQ(s.n_peers, 1, "a has one peer left");
out:
	mesh_snapshot_free(&hb.s);
	mesh_snapshot_free(&hc.s);
	mesh_snapshot_free(&s);
	coord_cleanup(&k);
}

/* A watch with nothing new answers at its timeout with the same snapshot: the resync. */
static void test_watch_timeout_resyncs(void)
{
	struct mesh_join_result a;
	struct mesh_snapshot s = { 0 };
	struct coord k;
	uint64_t rev;

	if (!setup(&k) || !join(&k, 1, "web", &a))
		goto out;
	rev = mesh_coord_revision(k.c);
	if (!ASSERT_OK(mesh_client_watch(k.url, a.credential, rev, 1, &s), "watch times out"))
		goto out;
	ASSERT_EQ(s.revision, rev, "same revision");
	ASSERT_FALSE(s.changed, "marked unchanged");
	ASSERT_STREQ(s.self.address, "100.96.0.1", "full snapshot");
	ASSERT_EQ(mesh_coord_watchers(k.c), 0, "no watch left behind");
out:
	mesh_snapshot_free(&s);
	coord_cleanup(&k);
}

/* Changes inside one debounce window reach a watcher as one answer with the last revision.
 * The window is 2 s here so three back-to-back changes fall into it even on a loaded machine. */
static void test_debounce_batches(void)
{
	struct held h;
	struct mesh_join_result a;
	pthread_t th;
	struct coord k;
	uint64_t rev;

	memset(&k, 0, sizeof(k));
	vlog_setup(VLOG_WARN, VLOG_TEXT);
	if (!ASSERT_OK(coord_start(&k, NULL, 2000 * 1000000ull), "coordinator") ||
	    !mkident(&k, "web", 0) || !mkident(&k, "db", 0) || !join(&k, 1, "web", &a))
		goto out;
	/* Let the window the setup's changes opened close first. */
	{
		struct mesh_snapshot s;

		rev = mesh_coord_revision(k.c);
		if (!ASSERT_OK(mesh_client_watch(k.url, a.credential, 0, 0, &s), "catch up"))
			goto out;
		mesh_snapshot_free(&s);
		usleep(2200000);
	}
	h = (struct held){ .k = &k, .cred = a.credential, .since = rev };
	pthread_create(&th, NULL, hold_watch, &h);
	for (int t = 0; t < 500 && mesh_coord_watchers(k.c) < 1; t++)
		usleep(10000);
	ASSERT_EQ(api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", "allow web -> db tcp/1\n", NULL),
		  200, "change 1");
	ASSERT_EQ(api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", "allow web -> db tcp/2\n", NULL),
		  200, "change 2");
	ASSERT_EQ(api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", "allow web -> db tcp/3\n", NULL),
		  200, "change 3");
	pthread_join(th, NULL);
	if (ASSERT_OK(h.err, "watch")) {
		ASSERT_EQ(h.s.revision, rev + 3, "one answer with the last revision");
		ASSERT_EQ(h.s.rules[0].rule.port_lo, 3, "and the last policy");
	}
	mesh_snapshot_free(&h.s);
out:
	coord_cleanup(&k);
}

/* With --cidr6 every node also gets prefix + id, announced as a /128 allowed IP. */
static void test_ipv6_addresses(void)
{
	struct mesh_join_result a, b;
	struct mesh_snapshot s = { 0 };
	struct coord k;
	char key[MESH_PUBKEY_LEN + 1], body[200];

	memset(&k, 0, sizeof(k));
	k.cidr6 = "fd76:6967:696c::/64";
	vlog_setup(VLOG_WARN, VLOG_TEXT);
	if (!ASSERT_OK(coord_start(&k, NULL, 100 * 1000000ull), "coordinator") ||
	    !mkident(&k, "web", 0) || !join(&k, 1, "web", &a) || !join(&k, 2, "web", &b))
		goto out;
	ASSERT_STREQ(a.address6, "fd76:6967:696c::1", "first v6 address");
	ASSERT_STREQ(b.address6, "fd76:6967:696c::2", "second v6 address");
	ASSERT_STREQ(a.cidr6, "fd76:6967:696c::/64", "v6 pool");
	if (!ASSERT_OK(mesh_client_watch(k.url, a.credential, 0, 1, &s), "watch"))
		goto out;
	ASSERT_STREQ(s.cidr6, "fd76:6967:696c::/64", "snapshot v6 pool");
	ASSERT_STREQ(s.peers[0].address6, "fd76:6967:696c::2", "peer v6 address");
	ASSERT_EQ(s.peers[0].n_allowed_ips, 2, "v4 and v6 host prefixes");
	ASSERT_EQ(s.peers[0].allowed_ips[1].plen, 128, "/128");
	test_pubkey(3, key);
	snprintf(body, sizeof(body), "{\"public_key\":\"%s\",\"identity\":\"web\","
		 "\"allowed_ips\":[\"fd76:6967:696c:0:1::/80\"]}", key);
	ASSERT_EQ(api(&k, JOIN_TOKEN, "POST", "/api/v1/join", body, NULL), 409,
		  "a prefix inside the v6 pool");
	snprintf(body, sizeof(body), "{\"public_key\":\"%s\",\"identity\":\"web\","
		 "\"allowed_ips\":[\"2001:db8:1::/48\"]}", key);
	ASSERT_EQ(api(&k, JOIN_TOKEN, "POST", "/api/v1/join", body, NULL), 201,
		  "a v6 subnet outside it");
	/* Restart: the v6 addresses come back from the database. */
	coord_stop(&k);
	if (!ASSERT_OK(coord_start(&k, k.db, 100 * 1000000ull), "restart"))
		goto out;
	mesh_snapshot_free(&s);
	if (ASSERT_OK(mesh_client_watch(k.url, b.credential, 0, 1, &s), "watch after restart"))
		ASSERT_STREQ(s.self.address6, "fd76:6967:696c::2", "v6 address survives");
out:
	mesh_snapshot_free(&s);
	coord_cleanup(&k);
}

/* Stopping the coordinator answers the watches it holds (503) instead of leaving them hanging. */
static void test_stop_answers_watches(void)
{
	struct mesh_join_result a;
	struct held h;
	pthread_t th;
	struct coord k;

	if (!setup(&k) || !join(&k, 1, "web", &a))
		goto out;
	h = (struct held){ .k = &k, .cred = a.credential, .since = mesh_coord_revision(k.c) };
	pthread_create(&th, NULL, hold_watch, &h);
	for (int t = 0; t < 500 && mesh_coord_watchers(k.c) < 1; t++)
		usleep(10000);
	ASSERT_EQ(mesh_coord_watchers(k.c), 1, "watch held");
	coord_stop(&k);
	pthread_join(th, NULL);
	ASSERT_EQ(h.err, -EPROTO, "the watch got an answer (503), not a hang");
	mesh_snapshot_free(&h.s);
out:
	coord_cleanup(&k);
}

TESTS(T(test_join_allocates), T(test_policy_snapshot_status), T(test_watch_wakes),
      T(test_bad_input_leaves_db_unchanged), T(test_restart_keeps_state), T(test_audit_log),
      T(test_remove_node), T(test_watch_timeout_resyncs), T(test_debounce_batches),
      T(test_ipv6_addresses), T(test_stop_answers_watches))
