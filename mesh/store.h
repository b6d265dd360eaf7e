/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The coordinator's database behind a small interface: parameterised SQL in, rows of text out.
 * Two backends: SQLite (a file path, or "sqlite://PATH") and PostgreSQL ("postgres://..." or
 * "postgresql://..." URLs, libpq). The coordinator writes its SQL in the dialect both accept:
 * placeholders $1, $2, ... numbered in order of first appearance, TEXT and BIGINT columns,
 * every value passed and returned as text (NULL for SQL NULL).
 *
 * One connection, used from one thread (the coordinator's loop).
 */
#ifndef VIGIL_MESH_STORE_H
#define VIGIL_MESH_STORE_H

#include <stddef.h>

struct mstore;

/* A query result: @nrows x @ncols cells, row-major, NULL for SQL NULL. */
struct mstore_res {
	size_t nrows, ncols;
	char **cells;
	size_t used, cap; /* cells filled and allocated (backends) */
};

struct mstore_ops {
	/* Runs @sql with @np text parameters; fills @res when non-NULL. 0, -EEXIST for a
	 * uniqueness/constraint violation, -EIO for anything else (message in mstore_errmsg). */
	int (*exec)(struct mstore *s, const char *sql, int np, const char *const *params,
		    struct mstore_res *res);
	void (*close)(struct mstore *s);
	const char *name;
};

struct mstore {
	const struct mstore_ops *ops;
	void *impl;
	char err[512];
};

/* Opens @url (see above). NULL and errno on failure, after logging what failed. */
struct mstore *mstore_open(const char *url);
void mstore_close(struct mstore *s);
const char *mstore_errmsg(const struct mstore *s);
const char *mstore_backend(const struct mstore *s);

int mstore_exec(struct mstore *s, const char *sql, int np, const char *const *params);
int mstore_query(struct mstore *s, struct mstore_res *res, const char *sql, int np,
		 const char *const *params);
static inline const char *mstore_cell(const struct mstore_res *r, size_t row, size_t col)
{
	return row < r->nrows && col < r->ncols ? r->cells[row * r->ncols + col] : NULL;
}
void mstore_res_free(struct mstore_res *r);
int mstore_begin(struct mstore *s);
int mstore_commit(struct mstore *s);
void mstore_rollback(struct mstore *s);

/* Backends (store_sqlite.c, store_pg.c). */
struct mstore *mstore_sqlite_open(const char *path);
struct mstore *mstore_pg_open(const char *url);
/* Appends a cell to a result being built (backends). 0 or -ENOMEM. */
int mstore_res_push(struct mstore_res *r, const char *val, size_t len);

#endif
