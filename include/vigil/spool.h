/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The bus's disk spool: an ordered queue of events in one SQLite file (WAL mode) that holds what
 * NATS has not confirmed yet, across outages and restarts. Rows are ordered by @pos, a number the
 * caller assigns and keeps increasing; the spool never reorders and never renumbers.
 *
 * Bound: the sum of the payload sizes (the JSON bytes, not the SQLite overhead) never exceeds
 * max_bytes for rows added without @force; such a push fails with -ENOSPC and stores nothing, so
 * the caller can count drops exactly.
 *
 * Writes are batched: the first write opens a transaction, vspool_commit() (and every
 * VSPOOL_BATCH writes, and vspool_close) commits it. A crash loses at most one open batch.
 * Single-threaded: all calls come from the thread that owns the bus.
 */
#ifndef VIGIL_SPOOL_H
#define VIGIL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSPOOL_BATCH 1024

struct vspool;

struct vspool_row {
	uint64_t pos;
	const char *id;
	const char *subject;
	const void *data;
	size_t len;
};

/* Opens (creating when absent) the spool at @path. A file that is not an SQLite database, is
 * corrupt or holds another schema fails with a logged error naming the file and saying to move
 * it away. NULL and errno (EINVAL bad file, EACCES, EIO, ENOMEM) on failure. */
struct vspool *vspool_open(const char *path, uint64_t max_bytes);
/* Commits the open batch and closes the file. */
void vspool_close(struct vspool *s);

/* Appends a row. 0, -ENOSPC (over the bound; nothing stored; never with @force), -EEXIST (@pos
 * already there), -EIO. */
int vspool_push(struct vspool *s, uint64_t pos, const char *id, const char *subject,
		const void *data, size_t len, bool force);
/* Calls @cb for up to @max rows with pos > @after in order; the row's pointers are valid during
 * the call only. @cb returns 0 to go on, non-zero to stop. Returns the number of rows visited or
 * -EIO. */
typedef int (*vspool_row_cb)(const struct vspool_row *row, void *ctx);
int vspool_read(struct vspool *s, uint64_t after, size_t max, vspool_row_cb cb, void *ctx);
/* Removes the row at @pos (a missing row is not an error). 0 or -EIO. */
int vspool_delete(struct vspool *s, uint64_t pos);
/* Removes every row with @first <= pos <= @last, in one statement. 0 or -EIO. */
int vspool_delete_range(struct vspool *s, uint64_t first, uint64_t last);
/* Commits the open batch, if any. 0 or -EIO. */
int vspool_commit(struct vspool *s);

uint64_t vspool_rows(const struct vspool *s);
uint64_t vspool_bytes(const struct vspool *s);
/* The highest pos ever held in this file at open time or pushed since (0 when empty). */
uint64_t vspool_max_pos(const struct vspool *s);
const char *vspool_path(const struct vspool *s);

#endif
