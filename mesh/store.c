// SPDX-License-Identifier: GPL-2.0-only
/* The store interface's backend-independent half; see store.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/store.h"

struct mstore *mstore_open(const char *url)
{
	if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))
		return mstore_pg_open(url);
	if (!strncmp(url, "sqlite://", 9))
		url += 9;
	return mstore_sqlite_open(url);
}

void mstore_close(struct mstore *s)
{
	if (s)
		s->ops->close(s);
}

const char *mstore_errmsg(const struct mstore *s)
{
	return s->err;
}

const char *mstore_backend(const struct mstore *s)
{
	return s->ops->name;
}

int mstore_exec(struct mstore *s, const char *sql, int np, const char *const *params)
{
	return s->ops->exec(s, sql, np, params, NULL);
}

int mstore_query(struct mstore *s, struct mstore_res *res, const char *sql, int np,
		 const char *const *params)
{
	memset(res, 0, sizeof(*res));
	return s->ops->exec(s, sql, np, params, res);
}

void mstore_res_free(struct mstore_res *r)
{
	if (!r->cells)
		return;
	for (size_t i = 0; i < r->used; i++)
		free(r->cells[i]);
	free(r->cells);
	memset(r, 0, sizeof(*r));
}

int mstore_res_push(struct mstore_res *r, const char *val, size_t len)
{
	char *copy = NULL;

	if (val) {
		copy = malloc(len + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, val, len);
		copy[len] = 0;
	}
	if (r->used >= r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 64;
		char **tmp = realloc(r->cells, nc * sizeof(*tmp));

		if (!tmp) {
			free(copy);
			return -ENOMEM;
		}
		r->cells = tmp;
		r->cap = nc;
	}
	r->cells[r->used++] = copy;
	return 0;
}

int mstore_begin(struct mstore *s)
{
	return mstore_exec(s, "BEGIN", 0, NULL);
}

int mstore_commit(struct mstore *s)
{
	return mstore_exec(s, "COMMIT", 0, NULL);
}

void mstore_rollback(struct mstore *s)
{
	mstore_exec(s, "ROLLBACK", 0, NULL);
}
