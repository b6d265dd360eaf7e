// SPDX-License-Identifier: GPL-2.0-only
/*
 * PostgreSQL backend of the coordinator's store (see store.h), through libpq: every statement
 * is PQexecParams with text parameters and text results, so the SQL the coordinator writes for
 * SQLite runs unchanged ($N placeholders, TEXT/BIGINT columns).
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/store.h"
#include "vigil/log.h"

static int pg_exec(struct mstore *s, const char *sql, int np, const char *const *params,
		   struct mstore_res *res)
{
	PGconn *c = s->impl;
	PGresult *r;
	ExecStatusType st;
	int ret = 0;

	r = PQexecParams(c, sql, np, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		snprintf(s->err, sizeof(s->err), "%s", PQerrorMessage(c));
		s->err[strcspn(s->err, "\n")] = 0;
		/* class 23: integrity constraint violation */
		ret = state && !strncmp(state, "23", 2) ? -EEXIST : -EIO;
		PQclear(r);
		return ret;
	}
	if (res && st == PGRES_TUPLES_OK) {
		int rows = PQntuples(r), cols = PQnfields(r);

		res->ncols = (size_t)cols;
		for (int i = 0; i < rows && !ret; i++) {
			for (int j = 0; j < cols && !ret; j++)
				ret = mstore_res_push(res, PQgetisnull(r, i, j) ? NULL :
							   PQgetvalue(r, i, j),
						      (size_t)PQgetlength(r, i, j));
			res->nrows++;
		}
		if (ret)
			mstore_res_free(res);
	}
	PQclear(r);
	return ret;
}

static void pg_close(struct mstore *s)
{
	PQfinish(s->impl);
	free(s);
}

static const struct mstore_ops pg_ops = {
	.exec = pg_exec,
	.close = pg_close,
	.name = "postgresql",
};

static void pg_notice(void *arg, const char *msg)
{
	(void)arg;
	log_debug("mesh", "postgresql: %s", msg);
}

/* @url without its password, for messages: "postgres://user:***@host/db". */
static const char *redact(const char *url, char *buf, size_t n)
{
	const char *scheme = strstr(url, "://"), *at, *colon;

	snprintf(buf, n, "%s", url);
	if (!scheme)
		return buf;
	at = strchr(scheme + 3, '@');
	colon = strchr(scheme + 3, ':');
	if (at && colon && colon < at)
		snprintf(buf, n, "%.*s:***%s", (int)(colon - url), url, at);
	return buf;
}

struct mstore *mstore_pg_open(const char *url)
{
	char shown[256];

	struct mstore *s = calloc(1, sizeof(*s));
	PGconn *c;

	if (!s)
		return NULL;
	c = PQconnectdb(url);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s", c ? PQerrorMessage(c) : "out of memory");
		msg[strcspn(msg, "\n")] = 0;
		log_error("mesh", "cannot connect to PostgreSQL at %s: %s (is the server running "
			  "and the URL's user, password and database right?)",
			  redact(url, shown, sizeof(shown)), msg);
		PQfinish(c);
		free(s);
		errno = ECONNREFUSED;
		return NULL;
	}
	PQsetNoticeProcessor(c, pg_notice, NULL);
	s->ops = &pg_ops;
	s->impl = c;
	return s;
}
