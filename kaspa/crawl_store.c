// SPDX-License-Identifier: GPL-2.0-only
/*
 * The crawl store (crawl_store.h): one schema and one SQL dialect over SQLite or libpq. SQLite
 * statements are prepared once and cached by the address of their SQL text (the callers pass
 * string constants); PostgreSQL gets PQexecParams with text parameters.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawl_store.h"

#define STMT_CACHE 16
/* PostgreSQL: pipelined statements sent before their results are read (bounds what the socket
 * buffers must hold while neither side reads) */
#define PIPE_DRAIN 256

const char kaspa_crawl_schema[] =
	"CREATE TABLE IF NOT EXISTS kaspa_crawls ("
	" crawl_id TEXT PRIMARY KEY, started_us BIGINT NOT NULL, ended_us BIGINT,"
	" seeds TEXT, network TEXT, user_agent TEXT, nodes INTEGER, reachable INTEGER,"
	" responses INTEGER, edges INTEGER);"
	"CREATE INDEX IF NOT EXISTS kaspa_crawls_started ON kaspa_crawls (started_us);"
	"CREATE TABLE IF NOT EXISTS kaspa_crawl_nodes ("
	" crawl_id TEXT NOT NULL, address TEXT NOT NULL, ip TEXT NOT NULL, port INTEGER NOT NULL,"
	" peer_id TEXT, user_agent TEXT, protocol_version INTEGER, network TEXT,"
	" advertised_address TEXT, first_seen_us BIGINT NOT NULL, last_seen_us BIGINT,"
	" reachable INTEGER NOT NULL, error_class TEXT, error TEXT, advertisers INTEGER NOT NULL,"
	" PRIMARY KEY (crawl_id, address));"
	"CREATE INDEX IF NOT EXISTS kaspa_crawl_nodes_ip ON kaspa_crawl_nodes (ip);"
	"CREATE INDEX IF NOT EXISTS kaspa_crawl_nodes_peer_id ON kaspa_crawl_nodes (peer_id);"
	"CREATE TABLE IF NOT EXISTS kaspa_crawl_edges ("
	" crawl_id TEXT NOT NULL, advertiser TEXT NOT NULL, advertiser_id TEXT,"
	" address TEXT NOT NULL, address_ip TEXT NOT NULL, address_port INTEGER NOT NULL,"
	" seen_us BIGINT NOT NULL, responses INTEGER NOT NULL,"
	" PRIMARY KEY (crawl_id, advertiser, address));"
	"CREATE INDEX IF NOT EXISTS kaspa_crawl_edges_address"
	" ON kaspa_crawl_edges (address_ip, address_port, crawl_id);"
	"CREATE TABLE IF NOT EXISTS kaspa_crawl_responses ("
	" crawl_id TEXT NOT NULL, peer TEXT NOT NULL, peer_id TEXT, round INTEGER NOT NULL,"
	" time_us BIGINT NOT NULL, addresses INTEGER NOT NULL,"
	" PRIMARY KEY (crawl_id, peer, round));"
	"CREATE INDEX IF NOT EXISTS kaspa_crawl_responses_time ON kaspa_crawl_responses (time_us);";

struct kaspa_crawl_store {
	sqlite3 *db;
	PGconn *pg;
	char name[300];
	char err[512];
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	unsigned n_cache;
	bool pipeline;			/* PostgreSQL, inside _begin/_commit */
	unsigned pending;		/* statements sent since the last drain */
	int pipe_err;			/* the first error of the batch */
};

static bool pg_ok(PGresult *r)
{
	ExecStatusType s = PQresultStatus(r);

	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

static void set_err(struct kaspa_crawl_store *st, const char *msg)
{
	snprintf(st->err, sizeof(st->err), "%s", msg ? msg : "unknown error");
	/* libpq's messages end with a newline */
	st->err[strcspn(st->err, "\n")] = 0;
}

struct kaspa_crawl_store *kaspa_crawl_store_open(const char *path, const char *pg, bool readonly,
						 char *err, size_t errlen)
{
	struct kaspa_crawl_store *st = calloc(1, sizeof(*st));
	char *msg = NULL;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (pg && *pg) {
		snprintf(st->name, sizeof(st->name), "PostgreSQL");
		st->pg = PQconnectdb(pg);
		if (PQstatus(st->pg) != CONNECTION_OK) {
			set_err(st, PQerrorMessage(st->pg));
			snprintf(err, errlen, "cannot connect to PostgreSQL: %s (check --pg)", st->err);
			goto fail;
		}
		if (!readonly) {
			PGresult *r = PQexec(st->pg, kaspa_crawl_schema);

			if (!pg_ok(r)) {
				set_err(st, PQerrorMessage(st->pg));
				PQclear(r);
				snprintf(err, errlen, "cannot create the crawl tables in PostgreSQL: %s "
					 "(check the role's rights on the database)", st->err);
				goto fail;
			}
			PQclear(r);
		}
		return st;
	}
	snprintf(st->name, sizeof(st->name), "SQLite file %s", path);
	if (sqlite3_open_v2(path, &st->db,
			    readonly ? SQLITE_OPEN_READONLY
				     : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the store %s: %s (check --store%s)", path,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory",
			 readonly ? "; a crawl creates it" : " and the directory's permissions");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if (!readonly &&
	    (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL,
			  NULL, &msg) != SQLITE_OK ||
	     sqlite3_exec(st->db, kaspa_crawl_schema, NULL, NULL, &msg) != SQLITE_OK)) {
		snprintf(err, errlen, "cannot set up the store %s: %s (is it a Vigil crawl store?)",
			 path, msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		goto fail;
	}
	return st;
fail:
	kaspa_crawl_store_close(st);
	return NULL;
}

void kaspa_crawl_store_close(struct kaspa_crawl_store *st)
{
	if (!st)
		return;
	for (unsigned i = 0; i < st->n_cache; i++)
		sqlite3_finalize(st->cache[i].st);
	if (st->db)
		sqlite3_close(st->db);
	if (st->pg)
		PQfinish(st->pg);
	free(st);
}

const char *kaspa_crawl_store_name(const struct kaspa_crawl_store *st)
{
	return st->name;
}

const char *kaspa_crawl_store_errmsg(const struct kaspa_crawl_store *st)
{
	return st->err;
}

/* The cached SQLite statement for @sql with @params bound, or NULL (error in st->err). */
static sqlite3_stmt *lite_prepare(struct kaspa_crawl_store *st, const char *sql,
				  const char *const *params, int n)
{
	sqlite3_stmt *s = NULL;
	unsigned i;

	for (i = 0; i < st->n_cache; i++)
		if (st->cache[i].sql == sql) {
			s = st->cache[i].st;
			break;
		}
	if (!s) {
		if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
			set_err(st, sqlite3_errmsg(st->db));
			return NULL;
		}
		if (st->n_cache < STMT_CACHE) {
			st->cache[st->n_cache].sql = sql;
			st->cache[st->n_cache++].st = s;
		} else {
			/* more distinct statements than slots: replace the last one */
			sqlite3_finalize(st->cache[STMT_CACHE - 1].st);
			st->cache[STMT_CACHE - 1].sql = sql;
			st->cache[STMT_CACHE - 1].st = s;
		}
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	for (int k = 0; k < n; k++)
		if (params[k])
			sqlite3_bind_text(s, k + 1, params[k], -1, SQLITE_TRANSIENT);
	return s;
}

int kaspa_crawl_store_select(struct kaspa_crawl_store *st, const char *sql,
			     const char *const *params, int n, kaspa_crawl_row_fn row, void *ctx)
{
	const char *vals[32];

	if (st->pg) {
		PGresult *r = PQexecParams(st->pg, sql, n, NULL, params, NULL, NULL, 0);
		int nc;

		if (!pg_ok(r)) {
			set_err(st, PQerrorMessage(st->pg));
			PQclear(r);
			return -EIO;
		}
		nc = PQnfields(r) < 32 ? PQnfields(r) : 32;
		for (int i = 0; row && i < PQntuples(r); i++) {
			for (int k = 0; k < nc; k++)
				vals[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
			if (row(vals, nc, ctx))
				break;
		}
		PQclear(r);
		return 0;
	}
	sqlite3_stmt *s = lite_prepare(st, sql, params, n);
	int rc;

	if (!s)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int nc = sqlite3_column_count(s) < 32 ? sqlite3_column_count(s) : 32;

		for (int k = 0; k < nc; k++)
			vals[k] = (const char *)sqlite3_column_text(s, k);
		if (row && row(vals, nc, ctx))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		set_err(st, sqlite3_errmsg(st->db));
		sqlite3_reset(s);
		return -EIO;
	}
	sqlite3_reset(s);
	return 0;
}

/* Pipeline: a sync, then every result up to it; the first error is kept. */
static int pipe_drain(struct kaspa_crawl_store *st)
{
	unsigned nulls = 0;

	if (PQpipelineSync(st->pg) != 1) {
		set_err(st, PQerrorMessage(st->pg));
		st->pipe_err = -EIO;
		return -EIO;
	}
	for (;;) {
		PGresult *r = PQgetResult(st->pg);
		ExecStatusType s;

		if (!r) {
			/* one NULL ends each statement's results; more than that: the link is gone */
			if (PQstatus(st->pg) != CONNECTION_OK || ++nulls > st->pending + 1) {
				if (!st->pipe_err)
					set_err(st, PQerrorMessage(st->pg));
				st->pipe_err = -EIO;
				break;
			}
			continue;
		}
		s = PQresultStatus(r);
		if (s == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (s == PGRES_FATAL_ERROR && !st->pipe_err) {
			set_err(st, PQresultErrorMessage(r));
			st->pipe_err = -EIO;
		}
		PQclear(r);
	}
	st->pending = 0;
	return st->pipe_err;
}

int kaspa_crawl_store_begin(struct kaspa_crawl_store *st)
{
	if (!st->pg)
		return kaspa_crawl_store_exec(st, "BEGIN", NULL, 0);
	if (PQenterPipelineMode(st->pg) != 1) {
		set_err(st, PQerrorMessage(st->pg));
		return -EIO;
	}
	st->pipeline = true;
	st->pending = 0;
	st->pipe_err = 0;
	return kaspa_crawl_store_exec(st, "BEGIN", NULL, 0);
}

int kaspa_crawl_store_commit(struct kaspa_crawl_store *st)
{
	int e;

	if (!st->pg)
		return kaspa_crawl_store_exec(st, "COMMIT", NULL, 0);
	if (!st->pipeline)
		return -EINVAL;
	if (!st->pipe_err)
		kaspa_crawl_store_exec(st, "COMMIT", NULL, 0);
	e = pipe_drain(st);
	st->pipeline = false;
	PQexitPipelineMode(st->pg);
	if (e) {
		/* statements after an error are skipped up to the sync, COMMIT included: the failed
		 * transaction is still open */
		PGresult *r = PQexec(st->pg, "ROLLBACK");

		PQclear(r);
	}
	return e;
}

int kaspa_crawl_store_rollback(struct kaspa_crawl_store *st)
{
	if (!st->pg)
		return kaspa_crawl_store_exec(st, "ROLLBACK", NULL, 0);
	if (!st->pipeline)
		return kaspa_crawl_store_exec(st, "ROLLBACK", NULL, 0);
	if (!st->pipe_err)
		st->pipe_err = -ECANCELED;
	kaspa_crawl_store_commit(st);
	return 0;
}

int kaspa_crawl_store_exec(struct kaspa_crawl_store *st, const char *sql,
			   const char *const *params, int n)
{
	if (!st->pipeline)
		return kaspa_crawl_store_select(st, sql, params, n, NULL, NULL);
	if (st->pipe_err)
		return st->pipe_err; /* the transaction is lost: stop sending */
	if (PQsendQueryParams(st->pg, sql, n, NULL, params, NULL, NULL, 0) != 1) {
		set_err(st, PQerrorMessage(st->pg));
		st->pipe_err = -EIO;
		return -EIO;
	}
	if (++st->pending >= PIPE_DRAIN)
		return pipe_drain(st);
	return 0;
}
