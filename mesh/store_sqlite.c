// SPDX-License-Identifier: GPL-2.0-only
/*
 * SQLite backend of the coordinator's store (see store.h): one connection in WAL mode with
 * synchronous=NORMAL (a committed change survives a process crash; a power cut may lose the last
 * transactions, never corrupt the file) and foreign keys on.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/store.h"
#include "vigil/log.h"

static int sq_exec(struct mstore *s, const char *sql, int np, const char *const *params,
		   struct mstore_res *res)
{
	sqlite3 *db = s->impl;
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(s->err, sizeof(s->err), "%s (in: %.80s)", sqlite3_errmsg(db), sql);
		return -EIO;
	}
	/* SQLite numbers "$N" parameters by first appearance, not by N: bind by name. */
	for (int i = 0; i < np; i++) {
		char name[16];
		int idx;

		snprintf(name, sizeof(name), "$%d", i + 1);
		idx = sqlite3_bind_parameter_index(st, name);
		if (!idx)
			continue;
		rc = params[i] ? sqlite3_bind_text(st, idx, params[i], -1, SQLITE_TRANSIENT)
			       : sqlite3_bind_null(st, idx);
		if (rc != SQLITE_OK) {
			snprintf(s->err, sizeof(s->err), "binding $%d: %s", i + 1,
				 sqlite3_errmsg(db));
			ret = -EIO;
			goto out;
		}
	}
	if (res)
		res->ncols = (size_t)sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!res)
			continue;
		for (size_t c = 0; c < res->ncols; c++) {
			const char *v = (const char *)sqlite3_column_text(st, (int)c);
			size_t len = (size_t)sqlite3_column_bytes(st, (int)c);

			if (mstore_res_push(res, v, len)) {
				ret = -ENOMEM;
				goto out;
			}
		}
		res->nrows++;
	}
	if (rc != SQLITE_DONE) {
		snprintf(s->err, sizeof(s->err), "%s", sqlite3_errmsg(db));
		ret = (rc & 0xff) == SQLITE_CONSTRAINT ? -EEXIST : -EIO;
	}
out:
	sqlite3_finalize(st);
	if (ret && res)
		mstore_res_free(res);
	return ret;
}

static void sq_close(struct mstore *s)
{
	sqlite3_close(s->impl);
	free(s);
}

static const struct mstore_ops sqlite_ops = {
	.exec = sq_exec,
	.close = sq_close,
	.name = "sqlite",
};

struct mstore *mstore_sqlite_open(const char *path)
{
	struct mstore *s = calloc(1, sizeof(*s));
	sqlite3 *db = NULL;
	int rc;

	if (!s)
		return NULL;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		log_error("mesh", "cannot open the SQLite database %s: %s (check the directory "
			  "exists and is writable, or give another --db)", path,
			  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		free(s);
		errno = EIO;
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	s->ops = &sqlite_ops;
	s->impl = db;
	if (mstore_exec(s, "PRAGMA journal_mode=WAL", 0, NULL) ||
	    mstore_exec(s, "PRAGMA synchronous=NORMAL", 0, NULL) ||
	    mstore_exec(s, "PRAGMA foreign_keys=ON", 0, NULL)) {
		log_error("mesh", "cannot set up the SQLite database %s: %s (is it a SQLite "
			  "file?)", path, s->err);
		sq_close(s);
		errno = EIO;
		return NULL;
	}
	return s;
}
