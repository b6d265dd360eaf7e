// SPDX-License-Identifier: GPL-2.0-only
/* Display model: summary, sorting, the table fitted to a width, JSON, CSV, join/leave tracking. */
#include <errno.h>
#include <jansson.h>
#include "test.h"
#include "../view.h"
#include "vigil/util.h"

static char *load_fixture(const char *name, size_t *len)
{
	const char *root = getenv("VIGIL_ROOT");
	char path[512];
	FILE *f;
	char *buf = NULL;
	long n;

	snprintf(path, sizeof(path), "%s/peers/tests/fixtures/%s", root ? root : ".", name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

#define T0 1763700000000000000ull /* 2025-11-21T04:40:00Z */

/* geth's five execution peers and Nimbus' four consensus peers, both sides up. */
static bool make_snapshot(struct peers_snapshot *s)
{
	char err[PEERS_ERRLEN] = "";
	size_t len;
	char *b;
	bool ok;

	peers_snapshot_init(s);
	s->taken_ns = T0;
	b = load_fixture("geth_admin_peers.json", &len);
	ok = ASSERT_NOT_NULL(b, "fixture") &&
	     ASSERT_OK(peers_parse_admin_peers(b, len, &s->peers, err, sizeof(err)), err);
	free(b);
	if (!ok)
		return false;
	b = load_fixture("nimbus_peers.json", &len);
	ok = ASSERT_NOT_NULL(b, "fixture") &&
	     ASSERT_OK(peers_parse_beacon_peers(b, len, 0, &s->peers, err, sizeof(err)), err);
	free(b);
	for (int i = 0; i < 2; i++) {
		s->side[i].enabled = s->side[i].up = true;
		s->side[i].has_sync = true;
	}
	snprintf(s->side[0].version, sizeof(s->side[0].version), "Geth/v1.14.11-stable/linux-amd64");
	snprintf(s->side[1].version, sizeof(s->side[1].version), "Prysm/v5.1.2 (linux amd64)");
	s->side[1].syncing = true;
	s->side[1].sync_distance = 12;
	return ok;
}

static void test_summary(void)
{
	struct peers_snapshot s;
	struct peers_summary sum;

	if (!make_snapshot(&s))
		goto out;
	peers_summarize(&s.peers, &sum);
	ASSERT_EQ(sum.total[PEER_SIDE_EXEC], 5, "exec total");
	ASSERT_EQ(sum.dir[PEER_SIDE_EXEC][PEER_DIR_IN], 2, "exec in");
	ASSERT_EQ(sum.dir[PEER_SIDE_EXEC][PEER_DIR_OUT], 3, "exec out");
	ASSERT_EQ(sum.total[PEER_SIDE_CONS], 4, "cons total");
	ASSERT_EQ(sum.nclients[PEER_SIDE_EXEC], 5, "five exec clients");
	ASSERT_EQ(sum.nclients[PEER_SIDE_CONS], 4, "four cons clients");
	/* ties are sorted by name */
	ASSERT_STREQ(sum.clients[PEER_SIDE_EXEC][0].name, "Besu", "first by name");
out:
	peers_snapshot_free(&s);
}

static void test_summary_many_clients(void)
{
	struct peer_list l;

	peer_list_init(&l);
	l.v = calloc(300, sizeof(*l.v));
	l.n = l.cap = 300;
	for (size_t i = 0; i < l.n; i++) {
		/* 100 distinct names, the first one on 201 peers */
		snprintf(l.v[i].client.name, sizeof(l.v[i].client.name), "c%03zu",
			 i < 200 ? 0 : i - 200);
		l.v[i].id = strdup("x");
	}
	struct peers_summary sum;
	peers_summarize(&l, &sum);
	ASSERT_EQ(sum.nclients[0], PEERS_TOP_CLIENTS, "top list full");
	ASSERT_STREQ(sum.clients[0][0].name, "c000", "largest first");
	ASSERT_EQ(sum.clients[0][0].n, 201, "its count");
	ASSERT_EQ(sum.other_clients[0], 300 - 201 - (PEERS_TOP_CLIENTS - 1), "rest counted");
	peer_list_free(&l);
}

static void test_sort(void)
{
	struct peers_snapshot s;

	if (!make_snapshot(&s))
		goto out;
	peers_sort(&s.peers, PEERS_SORT_CLIENT);
	ASSERT_STREQ(s.peers.v[0].client.name, "Besu", "exec first, by client");
	ASSERT_EQ(s.peers.v[4].side, PEER_SIDE_EXEC, "exec block");
	ASSERT_STREQ(s.peers.v[5].client.name, "Lighthouse", "then cons by client");
	peers_sort(&s.peers, PEERS_SORT_ID);
	ASSERT_STREQ(s.peers.v[0].short_id, "0b4d5f5a", "by id");
	for (size_t i = 0; i < s.peers.n; i++)
		s.peers.v[i].since_ns = T0 - (i + 1) * 1000000000ull;
	s.peers.v[2].since_ns = 0;
	peers_sort(&s.peers, PEERS_SORT_AGE);
	ASSERT_TRUE(s.peers.v[0].since_ns < s.peers.v[1].since_ns, "oldest first");
	ASSERT_EQ(s.peers.v[4].since_ns, 0, "unknown age last in its side");
	enum peers_sort k;
	ASSERT_OK(peers_sort_parse("remote", &k), "parse");
	ASSERT_EQ(k, PEERS_SORT_REMOTE, "remote");
	ASSERT_EQ(peers_sort_parse("bogus", &k), -EINVAL, "bogus");
out:
	peers_snapshot_free(&s);
}

/* Longest line of @t in columns (the text is ASCII with no escapes here). */
static int max_line(const char *t, int *lines)
{
	int max = 0, cur = 0;

	*lines = 0;
	for (; *t; t++) {
		if (*t == '\n') {
			max = MAX(max, cur);
			cur = 0;
			(*lines)++;
		} else {
			cur++;
		}
	}
	return MAX(max, cur);
}

static void test_table_fits_width(void)
{
	struct peers_snapshot s;
	struct vbuf b = VBUF_INIT;
	static const int widths[] = { 200, 120, 100, 80, 60, 40 };

	if (!make_snapshot(&s))
		goto out;
	peers_sort(&s.peers, PEERS_SORT_CLIENT);
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		struct peers_table_opts o = { .width = widths[i] };
		int lines;
		char what[32];

		vbuf_reset(&b);
		ASSERT_OK(peers_render_table(&b, &s, &o), "render");
		snprintf(what, sizeof(what), "width %d", widths[i]);
		ASSERT_LE(max_line(vbuf_cstr(&b), &lines), widths[i], what);
		ASSERT_EQ(lines, 4 + 1 + 1 + (int)s.peers.n, "2 header lines per side, blank, "
			  "column titles, one row per peer");
		ASSERT_STRCONTAINS(b.data, "e0a5e6b0", "short id always shown");
	}
	struct peers_table_opts wide = { .width = 200 };
	vbuf_reset(&b);
	peers_render_table(&b, &s, &wide);
	ASSERT_STRCONTAINS(b.data, "execution  peers 5 (in 2, out 3)  synced, head 0  Geth/v1.14.11-stable/linux-amd64",
			   "exec header");
	ASSERT_STRCONTAINS(b.data, "Besu 1  Erigon 1  Geth 1  Nethermind 1  Reth 1", "clients");
	ASSERT_STRCONTAINS(b.data, "syncing, 12 behind", "cons sync");
	ASSERT_STRCONTAINS(b.data, "eth/68 snap/1", "protocols shown when wide");
	ASSERT_STRCONTAINS(b.data, "52.16.188.185:41722", "remote");
	struct peers_table_opts narrow = { .width = 60 };
	vbuf_reset(&b);
	peers_render_table(&b, &s, &narrow);
	ASSERT_TRUE(strstr(b.data, "PROTOCOLS") == NULL, "protocols dropped when narrow");
out:
	vbuf_free(&b);
	peers_snapshot_free(&s);
}

static void test_table_height_and_hostile_names(void)
{
	struct peers_snapshot s;
	struct vbuf b = VBUF_INIT;
	struct peers_table_opts o = { .width = 100, .height = 10 };
	int lines;

	if (!make_snapshot(&s))
		goto out;
	free(s.peers.v[0].name);
	s.peers.v[0].name = strdup("Evil\x1b]0;pwned\x07/v1\x1b[2J");
	peer_client_parse(s.peers.v[0].name, &s.peers.v[0].client);
	free(s.peers.v[1].remote);
	s.peers.v[1].remote = strdup("1.2.3.4:5\x1b[31m");
	ASSERT_OK(peers_render_table(&b, &s, &o), "render");
	max_line(b.data, &lines);
	ASSERT_LE(lines, 10, "fits the height");
	ASSERT_STRCONTAINS(b.data, "more peers", "says what it left out");
	ASSERT_TRUE(strchr(b.data, 0x1b) == NULL && strchr(b.data, 0x07) == NULL,
		    "no escape or bell from peer strings");
	vbuf_reset(&b);
	o.ansi = true;
	o.height = 0;
	ASSERT_OK(peers_render_table(&b, &s, &o), "render ansi");
	ASSERT_TRUE(strncmp(b.data, "\033[H", 3) == 0, "homes the cursor");
	ASSERT_STRCONTAINS(b.data, "\033[J", "clears the rest");
	ASSERT_TRUE(strstr(b.data, "\033]0") == NULL && strstr(b.data, "\033[2J") == NULL &&
			    strstr(b.data, "\033[31m") == NULL,
		    "only our own escapes");
out:
	vbuf_free(&b);
	peers_snapshot_free(&s);
}

static void test_side_down(void)
{
	struct peers_snapshot s;
	struct vbuf b = VBUF_INIT;
	struct peers_table_opts o = { .width = 200 };
	json_t *doc;

	peers_snapshot_init(&s);
	s.taken_ns = T0;
	s.side[0].enabled = true;
	s.side[0].admin_disabled = true;
	snprintf(s.side[0].error, sizeof(s.side[0].error),
		 "admin_peers: method not available (JSON-RPC error -32601)");
	ASSERT_OK(peers_render_table(&b, &s, &o), "render");
	ASSERT_STRCONTAINS(b.data, "execution  DOWN: admin_peers: method not available", "down line");
	vbuf_reset(&b);
	ASSERT_OK(peers_render_json(&b, &s), "json");
	doc = json_loads(b.data, 0, NULL);
	if (ASSERT_NOT_NULL(doc, "valid JSON")) {
		json_t *e = json_object_get(doc, "execution");
		ASSERT_TRUE(json_is_false(json_object_get(e, "up")), "up false");
		ASSERT_TRUE(json_is_true(json_object_get(e, "admin_disabled")), "admin_disabled");
		ASSERT_TRUE(json_object_get(doc, "consensus") == NULL, "no consensus side");
		json_decref(doc);
	}
	vbuf_free(&b);
	peers_snapshot_free(&s);
}

static void test_json(void)
{
	struct peers_snapshot s;
	struct vbuf b = VBUF_INIT;
	json_t *doc = NULL, *peers, *p;

	if (!make_snapshot(&s))
		goto out;
	s.peers.v[0].since_ns = T0 - 90 * 1000000000ull;
	s.peers.v[0].since_exact = true;
	ASSERT_OK(peers_render_json(&b, &s), "render");
	ASSERT_OK(peers_render_json(&b, &s), "render again");
	ASSERT_TRUE(b.data[b.len - 1] == '\n', "newline-terminated");
	/* two documents, one per line: JSON Lines */
	char *nl = strchr(b.data, '\n');
	ASSERT_TRUE(nl && nl + 1 < b.data + b.len && strchr(nl + 1, '\n') == b.data + b.len - 1,
		    "exactly two lines");
	*nl = 0;
	doc = json_loads(b.data, 0, NULL);
	if (!ASSERT_NOT_NULL(doc, "first line is JSON"))
		goto out;
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(doc, "execution"), "peers")), 5,
		  "exec peers");
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(json_object_get(doc,
		  "execution"), "clients"), "Geth")), 1, "clients map");
	peers = json_object_get(doc, "peers");
	ASSERT_EQ(json_array_size(peers), 9, "all peers");
	p = json_array_get(peers, 0);
	ASSERT_STREQ(json_string_value(json_object_get(p, "client")), "Geth", "client");
	ASSERT_STREQ(json_string_value(json_object_get(p, "direction")), "out", "direction");
	ASSERT_STREQ(json_string_value(json_object_get(p, "os")), "linux", "os");
	ASSERT_TRUE(json_number_value(json_object_get(p, "connected_seconds")) == 90.0, "age");
	p = json_array_get(peers, 5);
	ASSERT_STREQ(json_string_value(json_object_get(p, "side")), "consensus", "side");
	ASSERT_TRUE(json_is_null(json_object_get(p, "version")) == false, "agent version");
out:
	json_decref(doc);
	vbuf_free(&b);
	peers_snapshot_free(&s);
}

static void test_csv(void)
{
	struct peers_snapshot s;
	struct vbuf b = VBUF_INIT;
	int lines = 0;

	if (!make_snapshot(&s))
		goto out;
	free(s.peers.v[0].name);
	s.peers.v[0].name = strdup("=HYPERLINK(\"x\"),\"q\"");
	ASSERT_OK(peers_render_csv(&b, &s, true), "render");
	for (const char *c = b.data; *c; c++)
		lines += *c == '\n';
	ASSERT_EQ(lines, 1 + 9, "header + rows");
	ASSERT_TRUE(strncmp(b.data, "side,id,client,", 15) == 0, "header");
	ASSERT_STRCONTAINS(b.data, ",\"'=HYPERLINK(\"\"x\"\"),\"\"q\"\"\",",
			   "quoted, doubled quotes, formula defused");
	ASSERT_STRCONTAINS(b.data, ",connected_seconds,name,ts\r\n", "ts column last");
	ASSERT_STRCONTAINS(b.data, "execution,e0a5e6b05e3bf1e3bba14d1ca1ef6b6ea9e10ad5c3acfa61cc8f7a1f3e6f1d6a,Geth,v1.14.11-stable-f3c696fa,linux,amd64,go1.23.2,out,connected,33.4.2.1:30303,eth/68 snap/1,,",
			   "row");
out:
	vbuf_free(&b);
	peers_snapshot_free(&s);
}

struct events {
	int joins, leaves;
	char last[1024];
	bool all_json;
};

static void on_event(const char *json, size_t len, void *ctx)
{
	struct events *e = ctx;
	json_t *doc = json_loadb(json, len, 0, NULL);
	const char *kind = doc ? json_string_value(json_object_get(doc, "event")) : NULL;

	if (!doc || !kind)
		e->all_json = false;
	else if (!strcmp(kind, "join"))
		e->joins++;
	else if (!strcmp(kind, "leave"))
		e->leaves++;
	snprintf(e->last, sizeof(e->last), "%.*s", (int)len, json);
	json_decref(doc);
}

static void test_tracker(void)
{
	struct peers_snapshot a, b;
	struct peers_tracker t;
	struct events ev = { .all_json = true };
	int n;

	peers_tracker_init(&t);
	if (!make_snapshot(&a) || !make_snapshot(&b))
		goto out;
	n = peers_tracker_update(&t, &a.peers, 3, T0, on_event, &ev);
	ASSERT_EQ(n, 0, "first look: no events");
	ASSERT_EQ(a.peers.v[0].since_ns, T0, "since set");
	ASSERT_FALSE(a.peers.v[0].since_exact, "but only a lower bound");

	/* b: exec peer 0 gone, a new exec peer, one duplicate of peer 1 */
	free(b.peers.v[0].id);
	b.peers.v[0].id = strdup("ffff0000");
	snprintf(b.peers.v[0].short_id, sizeof(b.peers.v[0].short_id), "ffff0000");
	n = peers_tracker_update(&t, &b.peers, 3, T0 + 60 * 1000000000ull, on_event, &ev);
	ASSERT_EQ(n, 2, "one join, one leave");
	ASSERT_EQ(ev.joins, 1, "join");
	ASSERT_EQ(ev.leaves, 1, "leave");
	ASSERT_TRUE(ev.all_json, "events are JSON");
	ASSERT_EQ(b.peers.v[0].since_ns, T0 + 60 * 1000000000ull, "new peer since now");
	ASSERT_TRUE(b.peers.v[0].since_exact, "exact for a peer that joined while watched");
	ASSERT_EQ(b.peers.v[1].since_ns, T0, "carried over");

	/* consensus side down: its peers are not reported as leaving */
	struct peer_list only_exec;
	peer_list_init(&only_exec);
	n = peers_tracker_update(&t, &only_exec, 1u << PEER_SIDE_CONS, T0 + 120 * 1000000000ull,
				 on_event, &ev);
	ASSERT_EQ(n, 4, "consensus observed empty: its 4 peers left");
	n = peers_tracker_update(&t, &only_exec, 0, T0 + 180 * 1000000000ull, on_event, &ev);
	ASSERT_EQ(n, 0, "nothing observed: nothing changes");
	n = peers_tracker_update(&t, &only_exec, 1u << PEER_SIDE_EXEC, T0 + 240 * 1000000000ull,
				 on_event, &ev);
	ASSERT_EQ(n, 5, "exec observed empty: its 5 peers left");
	ASSERT_STRCONTAINS(ev.last, "\"event\":\"leave\"", "leave event");
	ASSERT_STRCONTAINS(ev.last, "\"connected_seconds\":", "with duration");
	/* the tracker keeps the announced name only: the leave event parses it again */
	ASSERT_TRUE(strstr(ev.last, "\"client\":\"") && !strstr(ev.last, "\"client\":\"unknown\""),
		    "leave event names the client");
	ASSERT_STRCONTAINS(ev.last, "\"version\":\"v", "and its version");
	ASSERT_EQ(t.n, 0, "nothing left");
out:
	peers_tracker_free(&t);
	peers_snapshot_free(&a);
	peers_snapshot_free(&b);
}

static void test_tracker_duplicates(void)
{
	struct peers_tracker t;
	struct peer_list l;
	struct events ev = { .all_json = true };
	char err[PEERS_ERRLEN];
	const char *body = "{\"result\":[{\"id\":\"aa\"},{\"id\":\"aa\"},{\"id\":\"bb\"}]}";

	peers_tracker_init(&t);
	peer_list_init(&l);
	ASSERT_OK(peers_parse_admin_peers(body, strlen(body), &l, err, sizeof(err)), err);
	ASSERT_EQ(peers_tracker_update(&t, &l, 1, T0, on_event, &ev), 0, "first");
	ASSERT_EQ(t.n, 2, "duplicate remembered once");
	peer_list_free(&l);
	ASSERT_EQ(peers_tracker_update(&t, &l, 1, T0 + 1, on_event, &ev), 2, "two leaves");
	peers_tracker_free(&t);
}

static void test_subject(void)
{
	char buf[64];

	ASSERT_OK(peers_events_subject("vigil-prod", buf, sizeof(buf)), "subject");
	ASSERT_STREQ(buf, "vigil-prod.peers.events", "text");
	ASSERT_EQ(peers_events_subject("a b", buf, sizeof(buf)), -EINVAL, "space");
	ASSERT_EQ(peers_events_subject("a>", buf, sizeof(buf)), -EINVAL, "wildcard");
	ASSERT_EQ(peers_events_subject("", buf, sizeof(buf)), -EINVAL, "empty");
	ASSERT_EQ(peers_events_subject("0123456789012345678901234567890123456789012345678901234567",
				       buf, sizeof(buf)), -ENAMETOOLONG, "long");
}

TESTS(T(test_summary), T(test_summary_many_clients), T(test_sort), T(test_table_fits_width),
      T(test_table_height_and_hostile_names), T(test_side_down), T(test_json), T(test_csv),
      T(test_tracker), T(test_tracker_duplicates), T(test_subject))
