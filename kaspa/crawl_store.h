/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where crawls are kept: a SQLite file (WAL) or PostgreSQL (libpq), with one schema and one SQL
 * text for both (integer microsecond times, integer booleans, CAST rather than ::, ON CONFLICT
 * upserts, $N parameters numbered in order of first use, which SQLite binds by position too).
 *
 *   kaspa_crawls           crawl_id, started_us, ended_us, seeds, network, user_agent, counts
 *   kaspa_crawl_nodes      per crawl and address: ip, port, peer_id, user_agent,
 *                          protocol_version, network, advertised_address, first_seen_us (learned),
 *                          last_seen_us (last heard from; NULL if never), reachable, error_class,
 *                          error, advertisers (how many peers gave the address)
 *   kaspa_crawl_edges      per crawl: advertiser (ip:port), advertiser_id, address (ip:port),
 *                          address_ip, address_port, seen_us, responses (of the advertiser's
 *                          responses in that crawl, how many held the address)
 *   kaspa_crawl_responses  per crawl: peer (ip:port), peer_id, round, time_us, addresses
 *
 * Every value is passed and read as text (NULL for SQL NULL); both engines convert.
 */
#ifndef VIGIL_KASPA_CRAWL_STORE_H
#define VIGIL_KASPA_CRAWL_STORE_H

#include <stdbool.h>
#include <stddef.h>

struct kaspa_crawl_store;

extern const char kaspa_crawl_schema[];

/*
 * Opens the SQLite file @path (created unless @readonly) or, when @pg is set, the PostgreSQL
 * database @pg, and creates the schema (unless @readonly). NULL on failure with a sentence for
 * the user in @err.
 */
struct kaspa_crawl_store *kaspa_crawl_store_open(const char *path, const char *pg, bool readonly,
						 char *err, size_t errlen);
void kaspa_crawl_store_close(struct kaspa_crawl_store *st);
/* "SQLite file X" / "PostgreSQL" for messages. */
const char *kaspa_crawl_store_name(const struct kaspa_crawl_store *st);

/*
 * A transaction of writes: between _begin and _commit, _exec on PostgreSQL only queues the
 * statement (libpq pipeline mode, drained every few hundred statements), so a batch costs a few
 * round trips instead of one per row; an error then surfaces at the next drain or at _commit,
 * which then rolls the whole transaction back. On SQLite they are BEGIN and COMMIT. 0 or -EIO.
 */
int kaspa_crawl_store_begin(struct kaspa_crawl_store *st);
int kaspa_crawl_store_commit(struct kaspa_crawl_store *st);
/* Abandons the transaction _begin opened (after a failed _exec). */
int kaspa_crawl_store_rollback(struct kaspa_crawl_store *st);

/* Runs @sql (one statement) with @n text parameters. 0 or -EIO (the error is in _errmsg). */
int kaspa_crawl_store_exec(struct kaspa_crawl_store *st, const char *sql,
			   const char *const *params, int n);
/* Runs a query; @row is called per row with its text values (NULL for NULL); a non-zero return
 * stops. 0 or -EIO. */
typedef int (*kaspa_crawl_row_fn)(const char *const *vals, int ncols, void *ctx);
int kaspa_crawl_store_select(struct kaspa_crawl_store *st, const char *sql,
			     const char *const *params, int n, kaspa_crawl_row_fn row, void *ctx);
const char *kaspa_crawl_store_errmsg(const struct kaspa_crawl_store *st);

#endif
