/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The display model of `vigil peers`: a snapshot of both sides (peers plus each side's version,
 * peer count, sync state or error), sorting, a summary of counts by direction and by client,
 * renderers (live terminal table, JSON / JSON Lines, CSV) and a tracker that turns successive
 * snapshots into join/leave events for the bus subject <app_id>.peers.events.
 *
 * Renderers append to a vbuf and never print; strings that came from peers are made printable
 * (table) or escaped (JSON, CSV) so a hostile client name cannot drive the terminal.
 */
#ifndef VIGIL_PEERS_VIEW_H
#define VIGIL_PEERS_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch.h"
#include "parse.h"
#include "vigil/buf.h"

/* What one side answered in one refresh. */
struct peers_side_info {
	bool enabled;		  /* an endpoint is configured for this side */
	bool up;		  /* the peer list was fetched and parsed */
	char error[PEERS_ERRLEN]; /* first error of this refresh, "" when none */
	bool admin_disabled;	  /* admin_peers answered -32601 */
	char version[128];	  /* web3_clientVersion / node version, "" when unknown */
	bool has_peer_count;
	uint64_t peer_count; /* net_peerCount / peer_count.connected */
	bool has_sync;
	bool syncing;
	uint64_t head;		/* exec: currentBlock (0 if not syncing); cons: head_slot */
	uint64_t sync_distance; /* exec: highest - current; cons: sync_distance */
	bool optimistic, el_offline;
	uint64_t fetch_ns; /* time the side's requests took */
};

struct peers_snapshot {
	struct peer_list peers; /* both sides */
	uint64_t taken_ns;	/* CLOCK_REALTIME */
	struct peers_side_info side[2]; /* indexed by enum peer_side */
};

void peers_snapshot_init(struct peers_snapshot *s);
void peers_snapshot_free(struct peers_snapshot *s);

#define PEERS_COLLECT_ALL_STATES 0x1 /* keep disconnected beacon peers (default: connected) */
/*
 * Fills @s (freed and re-initialised first) by asking @exec (may be NULL) for admin_peers,
 * net_peerCount, web3_clientVersion and eth_syncing and @cons (may be NULL) for the four
 * /eth/v1/node endpoints. A failing side is recorded in s->side[x].error and does not stop the
 * other; returns 0 when every enabled side is up, else the first side's negative errno.
 * Sides that fail are also logged (warn) by the caller's choice, not here.
 */
int peers_collect(struct peers_snapshot *s, struct peers_conn *exec, struct peers_conn *cons,
		  unsigned flags);

enum peers_sort {
	PEERS_SORT_CLIENT, /* side, client, version, id (default) */
	PEERS_SORT_ID,
	PEERS_SORT_DIRECTION,
	PEERS_SORT_REMOTE,
	PEERS_SORT_AGE, /* longest connected first */
};
/* "client|id|direction|remote|age" -> 0 or -EINVAL. */
int peers_sort_parse(const char *s, enum peers_sort *out);
void peers_sort(struct peer_list *l, enum peers_sort key);

#define PEERS_TOP_CLIENTS 16
struct peers_client_count {
	char name[32];
	size_t n;
};
struct peers_summary {
	size_t total[2];
	size_t dir[2][3]; /* [side][enum peer_dir] */
	struct peers_client_count clients[2][PEERS_TOP_CLIENTS]; /* by count, then name */
	size_t nclients[2];
	size_t other_clients[2]; /* peers whose client did not fit in the table */
};
void peers_summarize(const struct peer_list *l, struct peers_summary *sum);

struct peers_table_opts {
	int width;	 /* terminal columns (<= 0: 80) */
	int height;	 /* terminal rows; 0: no limit (print every peer) */
	bool ansi;	 /* home the cursor, clear to end of line/screen, reverse-video header */
	uint64_t now_ns; /* for "connected for"; 0: the snapshot time */
};
/* The live table: header of counts by direction and client per side, then aligned rows fitted to
 * the width (flexible columns shrink, then the least useful ones are dropped). */
int peers_render_table(struct vbuf *out, const struct peers_snapshot *s,
		       const struct peers_table_opts *o);
/* One JSON document (single line, '\n'-terminated: concatenated refreshes are JSON Lines). */
int peers_render_json(struct vbuf *out, const struct peers_snapshot *s);
/* CSV (RFC 4180), one row per peer, the snapshot's time in the last column (ts); @header adds
 * the column names first. */
int peers_render_csv(struct vbuf *out, const struct peers_snapshot *s, bool header);

/*
 * Join/leave tracking across refreshes. The tracker remembers the peers of each side; an
 * update with a side that was not observed (endpoint down) changes nothing for that side, so an
 * outage is not reported as every peer leaving. The first observation of a side emits no joins
 * (those peers were there before we looked) and marks their since_ns inexact.
 * Each event is one JSON object (no newline) handed to @fn:
 *   {"event":"join","ts":"...","side":"execution","id":"...","short_id":"...","client":"Geth",
 *    "version":"...","name":"...","direction":"in","remote":"..."}
 *   {"event":"leave", ...same..., "connected_seconds":123, "since_exact":true}
 */
typedef void (*peers_event_fn)(const char *json, size_t len, void *ctx);
/* What the tracker keeps of a peer between two updates: enough to match it and to report its
 * leave (the client is parsed again from @name then), a tenth of a struct peer. */
struct peer_seen {
	char *id, *name, *remote;
	uint64_t since_ns;
	enum peer_side side;
	enum peer_dir dir;
	char short_id[12];
	bool since_exact;
};

struct peers_tracker {
	struct peer_seen *known; /* sorted by side, id */
	size_t n;
	bool primed[2];
};
void peers_tracker_init(struct peers_tracker *t);
void peers_tracker_free(struct peers_tracker *t);
/* @observed: bit (1 << side) for each side whose peer list @cur holds this time. Sets since_ns
 * and since_exact on @cur's peers. Returns the number of events or -ENOMEM. */
int peers_tracker_update(struct peers_tracker *t, struct peer_list *cur, unsigned observed,
			 uint64_t now_ns, peers_event_fn fn, void *ctx);
/* Observed mask for a snapshot: the sides that are up. */
unsigned peers_snapshot_observed(const struct peers_snapshot *s);

/* "<app_id>.peers.events" into @buf; 0 or -ENAMETOOLONG / -EINVAL (empty app id, or one with
 * characters a NATS subject token cannot hold: space, '*', '>'). */
int peers_events_subject(const char *app_id, char *buf, size_t n);

#endif
