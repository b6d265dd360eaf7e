// SPDX-License-Identifier: GPL-2.0-only
/* One refresh: ask both sides every question and fill a snapshot; see view.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "view.h"
#include "vigil/util.h"

void peers_snapshot_init(struct peers_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	peer_list_init(&s->peers);
}

void peers_snapshot_free(struct peers_snapshot *s)
{
	peer_list_free(&s->peers);
	peers_snapshot_init(s);
}

unsigned peers_snapshot_observed(const struct peers_snapshot *s)
{
	unsigned m = 0;

	for (int i = 0; i < 2; i++)
		if (s->side[i].enabled && s->side[i].up)
			m |= 1u << i;
	return m;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Records the first error of a side; later ones of the same refresh add nothing new. */
static void side_error(struct peers_side_info *si, const char *msg)
{
	if (!si->error[0])
		snprintf(si->error, sizeof(si->error), "%s", msg);
}

static int collect_exec(struct peers_snapshot *s, struct peers_conn *c, struct vbuf *b)
{
	struct peers_side_info *si = &s->side[PEER_SIDE_EXEC];
	char err[PEERS_ERRLEN] = "";
	struct peer_list l;
	struct exec_sync sync;
	int rc, first = 0;

	peer_list_init(&l);
	rc = peers_rpc_call(c, "admin_peers", NULL, b, err, sizeof(err));
	if (!rc)
		rc = peers_parse_admin_peers(b->data, b->len, &l, err, sizeof(err));
	if (!rc)
		rc = peer_list_splice(&s->peers, &l);
	if (rc) {
		first = rc;
		si->admin_disabled = rc == -EOPNOTSUPP;
		side_error(si, rc == -ENOMEM ? "out of memory" : err);
		peer_list_free(&l);
	}
	si->up = rc == 0;
	/* a node whose transport is down fails every call: do not wait four timeouts */
	if (rc && rc != -EOPNOTSUPP && rc != -EREMOTEIO && rc != -EBADMSG)
		return first;
	if (!peers_rpc_call(c, "net_peerCount", NULL, b, err, sizeof(err)) &&
	    !peers_parse_net_peer_count(b->data, b->len, &si->peer_count, err, sizeof(err)))
		si->has_peer_count = true;
	else
		side_error(si, err);
	if (peers_rpc_call(c, "web3_clientVersion", NULL, b, err, sizeof(err)) ||
	    peers_parse_client_version(b->data, b->len, si->version, sizeof(si->version), err,
				       sizeof(err)))
		side_error(si, err);
	if (!peers_rpc_call(c, "eth_syncing", NULL, b, err, sizeof(err)) &&
	    !peers_parse_eth_syncing(b->data, b->len, &sync, err, sizeof(err))) {
		si->has_sync = true;
		si->syncing = sync.syncing;
		si->head = sync.current;
		si->sync_distance = sync.highest > sync.current ? sync.highest - sync.current : 0;
	} else {
		side_error(si, err);
	}
	return first;
}

static int collect_cons(struct peers_snapshot *s, struct peers_conn *c, struct vbuf *b,
			unsigned flags)
{
	struct peers_side_info *si = &s->side[PEER_SIDE_CONS];
	char err[PEERS_ERRLEN] = "";
	struct peer_list l;
	struct beacon_peer_count pc;
	struct beacon_sync sync;
	int rc, first = 0;
	bool all = flags & PEERS_COLLECT_ALL_STATES;

	peer_list_init(&l);
	/* ?state=connected spares the node from listing every peer it ever saw (Prysm does
	 * unless asked); the parser filters too, for nodes that ignore the query */
	rc = peers_beacon_get(c, all ? "/eth/v1/node/peers" : "/eth/v1/node/peers?state=connected",
			      b, err, sizeof(err));
	if (!rc)
		rc = peers_parse_beacon_peers(b->data, b->len, all ? 0 : PEERS_CONNECTED_ONLY, &l,
					      err, sizeof(err));
	if (!rc)
		rc = peer_list_splice(&s->peers, &l);
	if (rc) {
		first = rc;
		side_error(si, rc == -ENOMEM ? "out of memory" : err);
		peer_list_free(&l);
	}
	si->up = rc == 0;
	if (rc && rc != -EREMOTEIO && rc != -EBADMSG)
		return first;
	if (!peers_beacon_get(c, "/eth/v1/node/peer_count", b, err, sizeof(err)) &&
	    !peers_parse_beacon_peer_count(b->data, b->len, &pc, err, sizeof(err))) {
		si->has_peer_count = true;
		si->peer_count = pc.connected;
	} else {
		side_error(si, err);
	}
	if (peers_beacon_get(c, "/eth/v1/node/version", b, err, sizeof(err)) ||
	    peers_parse_beacon_version(b->data, b->len, si->version, sizeof(si->version), err,
				       sizeof(err)))
		side_error(si, err);
	if (!peers_beacon_get(c, "/eth/v1/node/syncing", b, err, sizeof(err)) &&
	    !peers_parse_beacon_syncing(b->data, b->len, &sync, err, sizeof(err))) {
		si->has_sync = true;
		si->syncing = sync.is_syncing;
		si->head = sync.head_slot;
		si->sync_distance = sync.sync_distance;
		si->optimistic = sync.is_optimistic;
		si->el_offline = sync.el_offline;
	} else {
		side_error(si, err);
	}
	return first;
}

int peers_collect(struct peers_snapshot *s, struct peers_conn *exec, struct peers_conn *cons,
		  unsigned flags)
{
	struct vbuf b = VBUF_INIT;
	int rc = 0, r;
	uint64_t t0;

	peers_snapshot_free(s);
	s->taken_ns = vtime_real_ns();
	if (exec) {
		s->side[PEER_SIDE_EXEC].enabled = true;
		t0 = mono_ns();
		r = collect_exec(s, exec, &b);
		s->side[PEER_SIDE_EXEC].fetch_ns = mono_ns() - t0;
		if (r && !rc)
			rc = r;
	}
	if (cons) {
		s->side[PEER_SIDE_CONS].enabled = true;
		t0 = mono_ns();
		r = collect_cons(s, cons, &b, flags);
		s->side[PEER_SIDE_CONS].fetch_ns = mono_ns() - t0;
		if (r && !rc)
			rc = r;
	}
	vbuf_free(&b);
	return rc;
}
