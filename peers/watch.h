/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What `vigil peers` runs each refresh, in one object the command's run() drives from its event
 * loop timer: collect both sides, turn the difference with the last refresh into join/leave
 * events, sort, and render in the chosen format. The command owns the loop, signals, the bus
 * and metrics; this owns the connections, the tracker and the last snapshot.
 *
 * Options (declared once; the lead's vopt_parse fills struct peers_cfg from flags, VIGIL_* and
 * the [peers] config section):
 *   --exec URL|PATH     execution client: http(s):// JSON-RPC or a geth IPC socket path
 *   --beacon URL        consensus client beacon API (http://127.0.0.1:3500 for Prysm)
 *   --interval 2s       refresh period (watch mode)
 *   --once              one refresh, then exit
 *   --csv               CSV instead of the table (--json is common to every command)
 *   --sort client       client|id|direction|remote|age
 *   --all-states        keep disconnected beacon peers
 *   --timeout 5s        per request
 *   --max-response 16MiB
 */
#ifndef VIGIL_PEERS_WATCH_H
#define VIGIL_PEERS_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "view.h"
#include "vigil/opt.h"

struct peers_cfg {
	char *exec;
	char *beacon;
	uint64_t interval; /* ns */
	uint64_t timeout;  /* ns */
	uint64_t max_response;
	bool once;
	bool csv;
	bool all_states;
	char *sort;
};

extern const struct vopt peers_opts[];

enum peers_format { PEERS_FMT_TABLE, PEERS_FMT_JSON, PEERS_FMT_CSV };

struct peers_watch {
	struct peers_conn *exec, *cons;
	struct peers_tracker tracker;
	struct peers_snapshot snap;
	enum peers_sort sort;
	unsigned collect_flags;
	unsigned long refreshes;
};

/* From a filled cfg. NULL with errno EINVAL (no endpoint, bad --sort, bad target: the reason is
 * logged) or ENOMEM. */
struct peers_watch *peers_watch_new(const struct peers_cfg *cfg);
void peers_watch_free(struct peers_watch *w);
/*
 * One refresh: collect, track (each join/leave event goes to @fn, may be NULL), sort. Returns
 * peers_collect()'s code: 0 when every configured side answered; a failing side is in
 * w->snap.side[x].error (and up == false), and its peers are not reported as leaving.
 */
int peers_watch_refresh(struct peers_watch *w, peers_event_fn fn, void *ctx);
/*
 * The two halves of peers_watch_refresh, for a command that fetches on a worker thread so a slow
 * node never stalls its event loop:
 *   peers_watch_collect() fills @next (initialised by the caller with peers_snapshot_init) by
 *     asking the sides in @sides (bit 1 << PEER_SIDE_EXEC / PEER_SIDE_CONS; a configured side
 *     left out is skipped: it keeps its previous side info, marked down, and is not observed).
 *     It touches only the connections: it may run on any thread, one call at a time, while
 *     the loop thread reads w->snap.
 *   peers_watch_apply() (loop thread) moves @next into w->snap (leaving @next empty), turns
 *     the difference into join/leave events for @fn, and sorts. Returns @collect_rc, or
 *     -ENOMEM when tracking failed.
 */
#define PEERS_SIDES_ALL 0x3u
int peers_watch_collect(struct peers_watch *w, struct peers_snapshot *next, unsigned sides);
int peers_watch_apply(struct peers_watch *w, struct peers_snapshot *next, int collect_rc,
		      peers_event_fn fn, void *ctx);

/*
 * Memory of a long-running `vigil peers`. Each refresh allocates and frees a few blocks of
 * hundreds of KB (response bodies, peer arrays, the rendered output). By default glibc raises
 * its mmap threshold to the largest block freed, so from the second refresh on these come from
 * the heap, whose freed pages stay resident, and the fetch thread gets an arena (heap) of its
 * own. peers_memory_setup() (once, before any thread starts) fixes the threshold at
 * PEERS_MMAP_THRESHOLD, so such blocks are mapped and unmapped, and keeps one arena;
 * peers_memory_release() (after each refresh) gives the heap's free pages back.
 */
#define PEERS_MMAP_THRESHOLD (64 * 1024)
void peers_memory_setup(void);
void peers_memory_release(void);

/* The last snapshot in @fmt appended to @out; CSV carries its header on the first refresh only;
 * JSON is one line per refresh (JSON Lines in watch mode). @o is for the table (may be NULL). */
int peers_watch_render(const struct peers_watch *w, enum peers_format fmt,
		       const struct peers_table_opts *o, struct vbuf *out);

#endif
