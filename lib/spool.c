// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bus's SQLite spool; see include/vigil/spool.h.
 *
 * One table, events(pos INTEGER PRIMARY KEY, id, subject, data), so rows come back in pos order
 * straight from the primary key b-tree. The row count, payload byte sum and highest pos are read
 * once at open and then kept in memory, so the bound check costs nothing per event.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "vigil/log.h"
#include "vigil/spool.h"

#define SPOOL_SCHEMA_VERSION "1"

struct vspool {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *ins, *sel, *del, *delr, *begin, *commit;
	bool in_txn;
	unsigned batch; /* writes in the open transaction */
	uint64_t rows, bytes, max_pos, max_bytes;
};

static const char *const schema =
	"CREATE TABLE IF NOT EXISTS events ("
	" pos INTEGER PRIMARY KEY,"
	" id TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" data BLOB NOT NULL);";

/* Logs the failure of @what on the spool and returns -EIO. */
static int spool_err(struct vspool *s, const char *what)
{
	log_error("bus", "spool %s: %s failed: %s", s->path, what, sqlite3_errmsg(s->db));
	return -EIO;
}

/* The message for a file SQLite refuses as a database: say what to do with it. */
static void log_bad_file(const char *path, const char *why)
{
	log_error("bus",
		  "spool %s is not a usable SQLite spool (%s); move it away (mv %s %s.bad) to "
		  "start an empty spool, or point --spool at another file",
		  path, why, path, path);
}

static int prepare(struct vspool *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return -EINVAL;
	return 0;
}

/* Reads the counters kept in memory. Also the first real read of the file, so a corrupt
 * b-tree shows up here at the latest. */
static int load_counters(struct vspool *s)
{
	sqlite3_stmt *st;
	int rc;

	static const char sql[] = "SELECT count(*), coalesce(sum(length(data)), 0),"
				  " coalesce(max(pos), 0) FROM events";

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EINVAL;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->rows = (uint64_t)sqlite3_column_int64(st, 0);
		s->bytes = (uint64_t)sqlite3_column_int64(st, 1);
		s->max_pos = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -EINVAL;
}

/* Runs PRAGMA quick_check; 0 when the file reports "ok". */
static int quick_check(struct vspool *s)
{
	sqlite3_stmt *st;
	int ok = -EINVAL;

	if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
		return -EINVAL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *r = sqlite3_column_text(st, 0);
		if (r && strcmp((const char *)r, "ok") == 0)
			ok = 0;
	}
	sqlite3_finalize(st);
	return ok;
}

struct vspool *vspool_open(const char *path, uint64_t max_bytes)
{
	struct vspool *s;
	int rc, fd, err = EINVAL;

	if (!path || !*path) {
		log_error("bus", "spool: no file name given (set --spool)");
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->max_bytes = max_bytes;
	/* events can hold what traced processes sent: a new spool is readable by its owner only
	 * (SQLite gives the -wal and -shm files the database file's mode) */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			     SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("bus", "cannot open spool %s: %s (check that the directory exists and is "
			  "writable, or set --spool)", path, s->db ? sqlite3_errmsg(s->db) :
			  sqlite3_errstr(rc));
		err = rc == SQLITE_CANTOPEN ? EACCES : EIO;
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 0);
	sqlite3_busy_timeout(s->db, 2000);
	/* the first statement that reads the header: a non-SQLite file fails here */
	rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
		log_bad_file(path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (rc != SQLITE_OK) {
		log_error("bus", "cannot use spool %s: %s (is another vigil using it? give each "
			  "process its own --spool)", path, sqlite3_errmsg(s->db));
		err = EIO;
		goto fail;
	}
	if (quick_check(s)) {
		log_bad_file(path, "integrity check failed");
		goto fail;
	}
	rc = sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, schema, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		log_bad_file(path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (load_counters(s) ||
	    prepare(s, "INSERT INTO events(pos, id, subject, data) VALUES (?, ?, ?, ?)", &s->ins) ||
	    prepare(s, "SELECT pos, id, subject, data FROM events WHERE pos > ?"
		    " ORDER BY pos LIMIT ?", &s->sel) ||
	    prepare(s, "DELETE FROM events WHERE pos = ? RETURNING length(data)", &s->del) ||
	    prepare(s, "DELETE FROM events WHERE pos BETWEEN ? AND ? RETURNING length(data)",
		    &s->delr) ||
	    prepare(s, "BEGIN", &s->begin) || prepare(s, "COMMIT", &s->commit)) {
		log_bad_file(path, sqlite3_errmsg(s->db));
		goto fail;
	}
	rc = sqlite3_exec(s->db, "PRAGMA user_version=" SPOOL_SCHEMA_VERSION, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		spool_err(s, "writing the schema version");
		err = EIO;
		goto fail;
	}
	if (s->rows)
		log_info("bus", "spool %s holds %llu events (%llu bytes) from an earlier run; they "
			 "are sent first", path, (unsigned long long)s->rows,
			 (unsigned long long)s->bytes);
	return s;
fail:
	vspool_close(s);
	errno = err;
	return NULL;
}

void vspool_close(struct vspool *s)
{
	if (!s)
		return;
	if (s->in_txn)
		vspool_commit(s);
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->sel);
	sqlite3_finalize(s->del);
	sqlite3_finalize(s->delr);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	if (s->db)
		sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static int run_simple(struct vspool *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : spool_err(s, what);
}

/* Opens a batch when none is open; commits one that has grown to VSPOOL_BATCH writes. */
static int write_begin(struct vspool *s)
{
	int err;

	if (s->in_txn && s->batch >= VSPOOL_BATCH) {
		err = vspool_commit(s);
		if (err)
			return err;
	}
	if (!s->in_txn) {
		err = run_simple(s, s->begin, "BEGIN");
		if (err)
			return err;
		s->in_txn = true;
		s->batch = 0;
	}
	s->batch++;
	return 0;
}

int vspool_commit(struct vspool *s)
{
	int err;

	if (!s->in_txn)
		return 0;
	err = run_simple(s, s->commit, "COMMIT");
	if (!err)
		s->in_txn = false;
	return err;
}

int vspool_push(struct vspool *s, uint64_t pos, const char *id, const char *subject,
		const void *data, size_t len, bool force)
{
	int rc, err;

	if (!force && s->max_bytes && s->bytes + len > s->max_bytes)
		return -ENOSPC;
	err = write_begin(s);
	if (err)
		return err;
	sqlite3_bind_int64(s->ins, 1, (sqlite3_int64)pos);
	sqlite3_bind_text(s->ins, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->ins, 3, subject, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(s->ins, 4, len ? data : "", len, SQLITE_STATIC);
	rc = sqlite3_step(s->ins);
	sqlite3_reset(s->ins);
	sqlite3_clear_bindings(s->ins);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	if (rc != SQLITE_DONE)
		return spool_err(s, "insert");
	s->rows++;
	s->bytes += len;
	if (pos > s->max_pos)
		s->max_pos = pos;
	return 0;
}

int vspool_read(struct vspool *s, uint64_t after, size_t max, vspool_row_cb cb, void *ctx)
{
	int rc, n = 0;

	sqlite3_bind_int64(s->sel, 1, (sqlite3_int64)after);
	sqlite3_bind_int64(s->sel, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(s->sel)) == SQLITE_ROW) {
		struct vspool_row r = {
			.pos = (uint64_t)sqlite3_column_int64(s->sel, 0),
			.id = (const char *)sqlite3_column_text(s->sel, 1),
			.subject = (const char *)sqlite3_column_text(s->sel, 2),
			.data = sqlite3_column_blob(s->sel, 3),
			.len = (size_t)sqlite3_column_bytes(s->sel, 3),
		};
		n++;
		if (!r.id || !r.subject) {
			rc = SQLITE_CORRUPT;
			break;
		}
		if (cb(&r, ctx)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(s->sel);
	if (rc != SQLITE_DONE)
		return spool_err(s, "read");
	return n;
}

/* Runs a DELETE ... RETURNING length(data) and keeps the counters exact. */
static int run_delete(struct vspool *s, sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t len = (uint64_t)sqlite3_column_int64(st, 0);
		s->rows--;
		s->bytes -= len <= s->bytes ? len : s->bytes;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : spool_err(s, "delete");
}

int vspool_delete(struct vspool *s, uint64_t pos)
{
	int err = write_begin(s);

	if (err)
		return err;
	sqlite3_bind_int64(s->del, 1, (sqlite3_int64)pos);
	return run_delete(s, s->del);
}

int vspool_delete_range(struct vspool *s, uint64_t first, uint64_t last)
{
	int err = write_begin(s);

	if (err)
		return err;
	sqlite3_bind_int64(s->delr, 1, (sqlite3_int64)first);
	sqlite3_bind_int64(s->delr, 2, (sqlite3_int64)last);
	return run_delete(s, s->delr);
}

uint64_t vspool_rows(const struct vspool *s)
{
	return s->rows;
}

uint64_t vspool_bytes(const struct vspool *s)
{
	return s->bytes;
}

uint64_t vspool_max_pos(const struct vspool *s)
{
	return s->max_pos;
}

const char *vspool_path(const struct vspool *s)
{
	return s->path;
}
