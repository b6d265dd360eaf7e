// SPDX-License-Identifier: GPL-2.0-only
/* The per-refresh driver of `vigil peers` and its option table; see watch.h. */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "watch.h"
#include "vigil/log.h"

const struct vopt peers_opts[] = {
	VOPT_STRING("exec", 0, struct peers_cfg, exec, NULL, "URL|PATH",
		    "execution client: http(s):// JSON-RPC endpoint or geth IPC socket path "
		    "(admin_peers needs the admin API: geth --http.api admin,eth,net,web3)"),
	VOPT_STRING("beacon", 0, struct peers_cfg, beacon, NULL, "URL",
		    "consensus client beacon API, e.g. http://127.0.0.1:3500 (Prysm)"),
	VOPT_DURATION("interval", 0, struct peers_cfg, interval, "2s", 100000000LL,
		      86400000000000LL, "refresh period in watch mode"),
	VOPT_BOOL("once", 0, struct peers_cfg, once, "one refresh, then exit"),
	VOPT_BOOL("csv", 0, struct peers_cfg, csv, "CSV instead of the table"),
	VOPT_ENUM("sort", 0, struct peers_cfg, sort, "client", "client|id|direction|remote|age",
		  "row order within each side"),
	VOPT_BOOL("all-states", 0, struct peers_cfg, all_states,
		  "keep disconnected beacon peers (default: connected only)"),
	VOPT_DURATION("timeout", 0, struct peers_cfg, timeout, "5s", 1000000LL, 600000000000LL,
		      "deadline of each request"),
	VOPT_SIZE("max-response", 0, struct peers_cfg, max_response, "16MiB", 4096LL,
		  1LL << 32, "largest response accepted"),
	VOPT_END
};

struct peers_watch *peers_watch_new(const struct peers_cfg *cfg)
{
	struct peers_watch *w;
	uint64_t timeout_ms = cfg->timeout ? cfg->timeout / 1000000 : 0;

	if (!(cfg->exec && *cfg->exec) && !(cfg->beacon && *cfg->beacon)) {
		log_error("peers", "no endpoint: give --exec (execution client JSON-RPC URL or IPC "
			  "path) and/or --beacon (beacon API URL)");
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	peers_tracker_init(&w->tracker);
	peers_snapshot_init(&w->snap);
	if (cfg->sort && peers_sort_parse(cfg->sort, &w->sort)) {
		log_error("peers", "--sort \"%s\": expected client, id, direction, remote or age",
			  cfg->sort);
		errno = EINVAL;
		goto fail;
	}
	w->collect_flags = cfg->all_states ? PEERS_COLLECT_ALL_STATES : 0;
	if (cfg->exec && *cfg->exec &&
	    !(w->exec = peers_conn_new(cfg->exec, timeout_ms, (size_t)cfg->max_response)))
		goto fail;
	if (cfg->beacon && *cfg->beacon) {
		w->cons = peers_conn_new(cfg->beacon, timeout_ms, (size_t)cfg->max_response);
		if (!w->cons)
			goto fail;
		if (peers_conn_is_ipc(w->cons)) {
			log_error("peers", "--beacon %s: the beacon API is HTTP; give an http:// URL",
				  cfg->beacon);
			errno = EINVAL;
			goto fail;
		}
	}
	return w;
fail: {
	int e = errno;

	peers_watch_free(w);
	errno = e;
	return NULL;
}
}

void peers_watch_free(struct peers_watch *w)
{
	if (!w)
		return;
	peers_conn_free(w->exec);
	peers_conn_free(w->cons);
	peers_tracker_free(&w->tracker);
	peers_snapshot_free(&w->snap);
	free(w);
}

int peers_watch_collect(struct peers_watch *w, struct peers_snapshot *next, unsigned sides)
{
	return peers_collect(next, sides & (1u << PEER_SIDE_EXEC) ? w->exec : NULL,
			     sides & (1u << PEER_SIDE_CONS) ? w->cons : NULL, w->collect_flags);
}

int peers_watch_apply(struct peers_watch *w, struct peers_snapshot *next, int collect_rc,
		      peers_event_fn fn, void *ctx)
{
	struct peers_conn *conn[2] = { w->exec, w->cons };
	int rc = collect_rc, ev;

	/* a configured side that was not asked this time: still down, as last seen */
	for (int i = 0; i < 2; i++) {
		if (!conn[i] || next->side[i].enabled)
			continue;
		next->side[i] = w->snap.side[i];
		next->side[i].enabled = true;
		next->side[i].up = false;
		if (!next->side[i].error[0])
			snprintf(next->side[i].error, sizeof(next->side[i].error), "not polled yet");
	}
	peers_snapshot_free(&w->snap);
	w->snap = *next;
	peers_snapshot_init(next);
	ev = peers_tracker_update(&w->tracker, &w->snap.peers, peers_snapshot_observed(&w->snap),
				  w->snap.taken_ns, fn, ctx);
	if (ev < 0 && !rc)
		rc = ev;
	peers_sort(&w->snap.peers, w->sort);
	w->refreshes++;
	return rc;
}

int peers_watch_refresh(struct peers_watch *w, peers_event_fn fn, void *ctx)
{
	struct peers_snapshot next;
	int rc;

	peers_snapshot_init(&next);
	rc = peers_watch_collect(w, &next, PEERS_SIDES_ALL);
	return peers_watch_apply(w, &next, rc, fn, ctx);
}

void peers_memory_setup(void)
{
	mallopt(M_MMAP_THRESHOLD, PEERS_MMAP_THRESHOLD);
	mallopt(M_ARENA_MAX, 1);
}

void peers_memory_release(void)
{
	malloc_trim(0);
}

int peers_watch_render(const struct peers_watch *w, enum peers_format fmt,
		       const struct peers_table_opts *o, struct vbuf *out)
{
	switch (fmt) {
	case PEERS_FMT_JSON: return peers_render_json(out, &w->snap);
	case PEERS_FMT_CSV: return peers_render_csv(out, &w->snap, w->refreshes <= 1);
	default: return peers_render_table(out, &w->snap, o);
	}
}
