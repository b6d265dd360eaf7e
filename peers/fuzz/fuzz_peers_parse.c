// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every response parser of `vigil peers` on untrusted bytes. The first byte picks the parser
 * (mod 10), the rest is the body. Parsed peers then go through the tracker and every renderer,
 * since their strings came from the peer too.
 *
 * The two peer-list parsers have a fast one-pass path and a jansson path; they must agree: on
 * any body jansson rejects, the public parser fails too, and on any body jansson accepts without
 * duplicate keys both give the same return code and the same peers (abort() otherwise).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../client.h"
#include "../fetch.h"
#include "../parse.h"
#include "../view.h"
#include "vigil/log.h"

static void quiet(enum vlog_level l, const char *c, const char *m, void *x)
{
	(void)l, (void)c, (void)m, (void)x;
}

static void render_all(struct peers_snapshot *s)
{
	struct peers_tracker t;
	struct vbuf b = VBUF_INIT;
	struct peers_table_opts o = { .width = 1 + (int)(s->peers.n % 200), .height = 12 };

	peers_tracker_init(&t);
	peers_tracker_update(&t, &s->peers, 3, 1, NULL, NULL);
	peers_tracker_update(&t, &s->peers, 3, 2, NULL, NULL);
	for (int k = 0; k < 5; k++) {
		peers_sort(&s->peers, (enum peers_sort)k);
		vbuf_reset(&b);
		peers_render_table(&b, s, &o);
	}
	vbuf_reset(&b);
	peers_render_json(&b, s);
	vbuf_reset(&b);
	peers_render_csv(&b, s, true);
	struct peer_list empty;
	peer_list_init(&empty);
	peers_tracker_update(&t, &empty, 3, 3, NULL, NULL);
	peers_tracker_free(&t);
	vbuf_free(&b);
}

static int streq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const struct peer_list *a, const struct peer_list *b)
{
	if (a->n != b->n)
		abort();
	for (size_t i = 0; i < a->n; i++) {
		const struct peer *x = &a->v[i], *y = &b->v[i];

		if (!streq(x->id, y->id) || !streq(x->name, y->name) || !streq(x->remote, y->remote) ||
		    !streq(x->local, y->local) || !streq(x->enode, y->enode) ||
		    !streq(x->enr, y->enr) || strcmp(x->short_id, y->short_id) ||
		    strcmp(x->protocols, y->protocols) || x->dir != y->dir ||
		    x->state != y->state || x->side != y->side || x->trusted != y->trusted ||
		    x->static_node != y->static_node ||
		    memcmp(&x->client, &y->client, sizeof(x->client))) {
			fprintf(stderr, "fast and jansson parsers disagree on peer %zu (%s / %s)\n", i,
				x->id ? x->id : "-", y->id ? y->id : "-");
			abort();
		}
	}
}

/* The public parser (fast path, jansson fallback) against the jansson-only one. */
static void differential(const char *body, size_t len, int which, unsigned flags, int rc_pub,
			 const struct peer_list *pub)
{
	struct peer_list dom;
	char err[PEERS_ERRLEN];
	json_t *any = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	json_t *nodup = any ? json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL)
			    : NULL;
	int rc_dom;

	if (!any && rc_pub == 0) {
		fprintf(stderr, "fast parser accepted a body jansson rejects\n");
		abort();
	}
	if (nodup) {
		peer_list_init(&dom);
		rc_dom = which == 0 ? peers_parse_admin_peers_dom(body, len, &dom, err, sizeof(err))
				    : peers_parse_beacon_peers_dom(body, len, flags, &dom, err,
								   sizeof(err));
		if (rc_dom != rc_pub) {
			fprintf(stderr, "return codes differ: public %d, jansson %d\n", rc_pub,
				rc_dom);
			abort();
		}
		if (!rc_dom)
			check_same(pub, &dom);
		peer_list_free(&dom);
	}
	json_decref(any);
	json_decref(nodup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[PEERS_ERRLEN], buf[128];
	struct peers_snapshot s;
	const char *body;
	size_t len;
	uint64_t n;

	if (size < 1)
		return 0;
	vlog_set_sink(quiet, NULL);
	body = (const char *)data + 1;
	len = size - 1;
	peers_snapshot_init(&s);
	s.side[0].enabled = s.side[1].enabled = true;
	switch (data[0] % 10) {
	case 0: {
		int rc = peers_parse_admin_peers(body, len, &s.peers, err, sizeof(err));

		differential(body, len, 0, 0, rc, &s.peers);
		if (!rc)
			render_all(&s);
		break;
	}
	case 1: {
		unsigned flags = data[0] & 0x80 ? PEERS_CONNECTED_ONLY : 0;
		int rc = peers_parse_beacon_peers(body, len, flags, &s.peers, err, sizeof(err));

		differential(body, len, 1, flags, rc, &s.peers);
		if (!rc)
			render_all(&s);
		break;
	}
	case 2: peers_parse_net_peer_count(body, len, &n, err, sizeof(err)); break;
	case 3: peers_parse_client_version(body, len, buf, sizeof(buf), err, sizeof(err)); break;
	case 4: {
		struct exec_sync es;
		peers_parse_eth_syncing(body, len, &es, err, sizeof(err));
		break;
	}
	case 5: {
		struct beacon_peer_count c;
		peers_parse_beacon_peer_count(body, len, &c, err, sizeof(err));
		break;
	}
	case 6: {
		struct beacon_sync bs;
		peers_parse_beacon_syncing(body, len, &bs, err, sizeof(err));
		break;
	}
	case 7: peers_parse_beacon_version(body, len, buf, sizeof(buf), err, sizeof(err)); break;
	case 8: {
		/* IPC framing, fed in two pieces */
		struct peers_json_scan st;
		size_t cut = len ? data[0] % len : 0;
		peers_json_scan_init(&st);
		if (peers_json_scan(&st, body, cut) == 0)
			peers_json_scan(&st, body, len);
		break;
	}
	case 9: {
		char *s0 = strndup(body, len);
		struct peer_client c;
		if (s0) {
			peer_client_parse(s0, &c);
			peers_multiaddr_hostport(s0, buf, sizeof(buf));
		}
		free(s0);
		break;
	}
	}
	peers_snapshot_free(&s);
	return 0;
}
