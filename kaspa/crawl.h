/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Kaspa P2P crawler: from seed addresses, dial each address as a client (conn.h), complete
 * the handshake, send RequestAddresses for a number of rounds (each waiting for the Addresses
 * answer or a timeout), leave politely, and go breadth-first over every address learned, with a
 * bound on the dials in flight. Addresses are keyed by ip:port with IPv4-mapped IPv6 normalised
 * to IPv4 (wire.h), so one node gossiped in both forms is dialled once.
 *
 * Every address learned becomes a node of the crawl: reachable (handshake completed: id, user
 * agent, protocol version, network), unreachable (with the error class: refused, timeout, reset,
 * unreachable, or the handshake failure: version, network, malformed, rejected, self), or not
 * dialled (private-range without allow_private, max-nodes, stopped). Every Addresses answer is an
 * address response (peer, round, how many addresses), and every (advertiser, address) pair an
 * edge with the number of the advertiser's responses that held it. All of it goes to the store
 * (crawl_store.h) under one crawl id; nodes and edges of an advertiser are written when its
 * connection ends.
 */
#ifndef VIGIL_KASPA_CRAWL_H
#define VIGIL_KASPA_CRAWL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/loop.h"
#include "conn.h"

struct vmetrics;
struct kaspa_crawl_store;
struct kaspa_crawl;

/* Makes the array *@pp (of *@cap elements of @elem bytes) hold at least @need, doubling from
 * 16. 0 or -ENOMEM (the array is then unchanged). */
int kaspa_grow(void *pp, size_t *cap, size_t need, size_t elem);

/* ---- address sets: the BFS bookkeeping ---------------------------------------------------- */

/*
 * A set of addresses (ip bytes, ip length and port; the timestamp is ignored), each with a
 * dense index 0, 1, 2... in insertion order, so callers keep per-address data in arrays.
 * Addresses must already be normalised (kaspa_netaddr_from_pb / _parse do it).
 */
struct kaspa_addrset {
	struct kaspa_netaddr *addrs;	/* addrs[i] is the address of index i */
	uint32_t *next;			/* hash chains: index + 1, 0 ends */
	uint32_t *heads;		/* per bucket: index + 1 of the first, 0: empty */
	size_t n, cap, nheads;
};

void kaspa_addrset_init(struct kaspa_addrset *s);
void kaspa_addrset_free(struct kaspa_addrset *s);
/* Adds @a unless present. 1 when added, 0 when it was there (*idx is its index either way),
 * -ENOMEM. */
int kaspa_addrset_add(struct kaspa_addrset *s, const struct kaspa_netaddr *a, size_t *idx);
/* The index of @a, or -1. */
long kaspa_addrset_find(const struct kaspa_addrset *s, const struct kaspa_netaddr *a);

/*
 * One connection's view of the Addresses answers: which addresses it advertised and in how many
 * of its responses each appeared (an address repeated inside one response counts once).
 */
struct kaspa_edge_acc {
	struct kaspa_addrset set;
	uint32_t *responses;		/* per index: responses holding the address */
	uint32_t *last;			/* per index: the last response number that counted it */
	uint32_t n_responses;
};

void kaspa_edge_acc_init(struct kaspa_edge_acc *e);
void kaspa_edge_acc_free(struct kaspa_edge_acc *e);
/* Starts a new response (the next call to _add counts towards it). */
void kaspa_edge_acc_response(struct kaspa_edge_acc *e);
/* Counts @a in the current response. 0 or -ENOMEM. */
int kaspa_edge_acc_add(struct kaspa_edge_acc *e, const struct kaspa_netaddr *a);

/* ---- the crawler -------------------------------------------------------------------------- */

struct kaspa_crawl_params {
	const struct kaspa_netaddr *seeds;	/* where to start (normalised) */
	size_t n_seeds;
	struct kaspa_conn_config conn;	/* handshake, HTTP/2 and connect timeout */
	unsigned concurrency;		/* dials in flight; 0: 256 */
	unsigned rounds;		/* RequestAddresses per peer; 0: 1 */
	uint32_t round_timeout_ms;	/* wait for each Addresses answer; 0: 10000 */
	uint64_t max_nodes;		/* most addresses dialled; 0: no limit */
	uint64_t duration_ms;		/* stop dialling and end after this; 0: no limit */
	bool allow_private;		/* also dial loopback/private/link-local addresses */
	struct kaspa_crawl_store *store;	/* NULL: nothing stored (counts only) */
	struct vmetrics *metrics;	/* vigil_kaspa_crawl_* metrics; NULL: none */
	const char *crawl_id;		/* NULL: a new one (UTC time + random) */
	const char *seeds_text;		/* recorded with the crawl ("1.2.3.4:16111,...") */
};

/* Error classes of the nodes that were not reachable (and of those not dialled). */
enum kaspa_crawl_err {
	KASPA_CRAWL_OK,			/* reachable */
	KASPA_CRAWL_REFUSED,		/* TCP refused */
	KASPA_CRAWL_TIMEOUT,		/* TCP connect or a handshake deadline */
	KASPA_CRAWL_RESET,		/* the connection broke or closed during the handshake */
	KASPA_CRAWL_UNREACHABLE,	/* no route, address not available */
	KASPA_CRAWL_VERSION,		/* handshake: protocol version too low */
	KASPA_CRAWL_NETWORK,		/* handshake: another network */
	KASPA_CRAWL_MALFORMED,		/* handshake: bad messages */
	KASPA_CRAWL_REJECTED,		/* the peer sent Reject */
	KASPA_CRAWL_SELF,		/* we dialled ourselves */
	KASPA_CRAWL_PRIVATE,		/* not dialled: private range without allow_private */
	KASPA_CRAWL_LIMIT,		/* not dialled (max-nodes), or stopped before its handshake ended */
	KASPA_CRAWL_ERR_MAX
};
const char *kaspa_crawl_err_name(enum kaspa_crawl_err e);

struct kaspa_crawl_stats {
	uint64_t known;			/* addresses learned (seeds included) */
	uint64_t dialled, reachable, unreachable, not_dialled;
	uint64_t responses, addresses;	/* Addresses answers; addresses in them */
	uint64_t edges;			/* distinct (advertiser, address) pairs */
	uint64_t by_err[KASPA_CRAWL_ERR_MAX];
	uint64_t store_errors;
	unsigned in_flight, max_in_flight;	/* connections now, the most at once */
	uint64_t started_us, ended_us;	/* wall clock, Unix microseconds */
	char crawl_id[64];
};

/*
 * Sets up a crawl (store rows are written from kaspa_crawl_start on). @p's arrays and strings
 * must outlive the crawl. NULL and errno on failure (logged).
 */
struct kaspa_crawl *kaspa_crawl_new(struct vloop *loop, const struct kaspa_crawl_params *p);
/* Records the crawl and starts dialling the seeds; the crawl calls vloop_stop(loop) once every
 * address is done (or the duration is over). 0 or -errno. */
int kaspa_crawl_start(struct kaspa_crawl *c);
/* Stops dialling; connections in flight are closed and recorded, the crawl is finished in the
 * store. Idempotent; kaspa_crawl_free calls it. */
void kaspa_crawl_finish(struct kaspa_crawl *c);
void kaspa_crawl_free(struct kaspa_crawl *c);
void kaspa_crawl_get_stats(const struct kaspa_crawl *c, struct kaspa_crawl_stats *st);
/* Raises the soft RLIMIT_NOFILE for @conc connections (a socket and two timers each, plus a
 * margin) as far as the hard limit allows; returns the concurrency that fits (logged if lower). */
unsigned kaspa_crawl_fit_nofile(unsigned conc);

#endif
