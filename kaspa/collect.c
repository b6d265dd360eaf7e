// SPDX-License-Identifier: GPL-2.0-only
/*
 * The collector (collect.h): libnats pull consumer -> libpq, one transaction per batch, acks
 * after commit. The JSON is validated with jansson and mapped to columns by PostgreSQL itself
 * (jsonb operators), so the column mapping lives in one SQL statement per table.
 */
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vigil/log.h"
#include "collect.h"

#define COMP "kaspa"

const char kaspa_collect_schema[] =
	"CREATE TABLE IF NOT EXISTS kaspa_handshakes ("
	" event_id text PRIMARY KEY, time timestamptz NOT NULL, sensor_id text NOT NULL,"
	" direction text, peer_ip inet NOT NULL, peer_port integer, result text NOT NULL,"
	" reason text NOT NULL, step text, error text, protocol_version integer,"
	" user_agent text, network text, peer_id text, advertised_address text,"
	" services numeric, duration_us bigint, event jsonb NOT NULL);"
	"CREATE INDEX IF NOT EXISTS kaspa_handshakes_sensor_time ON kaspa_handshakes (sensor_id, time);"
	"CREATE INDEX IF NOT EXISTS kaspa_handshakes_time ON kaspa_handshakes (time);"
	"CREATE INDEX IF NOT EXISTS kaspa_handshakes_ip ON kaspa_handshakes (peer_ip);"
	"CREATE INDEX IF NOT EXISTS kaspa_handshakes_ua ON kaspa_handshakes (user_agent);"
	"CREATE INDEX IF NOT EXISTS kaspa_handshakes_peer_id ON kaspa_handshakes (peer_id);"
	"CREATE TABLE IF NOT EXISTS kaspa_classifications ("
	" event_id text PRIMARY KEY, handshake_event_id text NOT NULL, time timestamptz NOT NULL,"
	" sensor_id text NOT NULL, peer_ip inet NOT NULL, peer_id text, probe_port integer,"
	" probe_mode text, class text NOT NULL, error_class text, probed boolean,"
	" cached boolean, probe_duration_ms double precision, event jsonb NOT NULL);"
	"CREATE INDEX IF NOT EXISTS kaspa_classifications_sensor_time"
	" ON kaspa_classifications (sensor_id, time);"
	"CREATE INDEX IF NOT EXISTS kaspa_classifications_ip ON kaspa_classifications (peer_ip);"
	"CREATE INDEX IF NOT EXISTS kaspa_classifications_class ON kaspa_classifications (class, time);"
	"CREATE INDEX IF NOT EXISTS kaspa_classifications_hs"
	" ON kaspa_classifications (handshake_event_id);";

static const char ins_hs[] =
	"INSERT INTO kaspa_handshakes SELECT e->>'event_id', (e->>'time')::timestamptz,"
	" e->>'sensor_id', e->>'direction', (e->>'peer_ip')::inet, (e->>'peer_port')::integer,"
	" e->>'result', e->>'reason', e->>'step', e->>'error', (e->>'protocol_version')::integer,"
	" e->>'user_agent', e->>'network', e->>'peer_id', e->>'advertised_address',"
	" (e->>'services')::numeric, (e->>'duration_us')::bigint, e"
	" FROM (SELECT $1::jsonb AS e) s ON CONFLICT (event_id) DO NOTHING";

static const char ins_cl[] =
	"INSERT INTO kaspa_classifications SELECT e->>'event_id', e->>'handshake_event_id',"
	" (e->>'time')::timestamptz, e->>'sensor_id', (e->>'peer_ip')::inet, e->>'peer_id',"
	" (e->>'probe_port')::integer, e->>'probe_mode', e->>'class', e->>'error_class',"
	" (e->>'probed')::boolean, (e->>'cached')::boolean,"
	" (e->>'probe_duration_ms')::double precision, e"
	" FROM (SELECT $1::jsonb AS e) s ON CONFLICT (event_id) DO NOTHING";

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool pg_ok(PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Connects (or reconnects) and creates the schema. true when usable. */
static bool pg_ready(PGconn **pc, const char *dsn)
{
	PGresult *r;

	if (*pc && PQstatus(*pc) == CONNECTION_OK)
		return true;
	if (*pc)
		PQfinish(*pc);
	*pc = PQconnectdb(dsn);
	if (PQstatus(*pc) != CONNECTION_OK) {
		log_warn(COMP, "collect: cannot connect to PostgreSQL: %s (retrying; events stay "
			 "in the stream)", PQerrorMessage(*pc));
		return false;
	}
	r = PQexec(*pc, kaspa_collect_schema);
	if (!pg_ok(r)) {
		log_error(COMP, "collect: cannot create the kaspa tables: %s (check the role's "
			  "rights on the database)", PQerrorMessage(*pc));
		PQclear(r);
		PQfinish(*pc);
		*pc = NULL;
		return false;
	}
	PQclear(r);
	return true;
}

/*
 * Inserts the batch in one transaction. Returns 0 when committed (bad events are marked in
 * @bad to be terminated rather than redelivered), -EIO when PostgreSQL failed (nothing done).
 */
static int store_batch(PGconn *pc, natsMsgList *list, bool *bad, struct kaspa_collect_stats *st)
{
	PGresult *r = PQexec(pc, "BEGIN");
	uint64_t ins = 0, dup = 0, inval = 0;

	if (!pg_ok(r))
		goto fail;
	PQclear(r);
	for (int i = 0; i < list->Count; i++) {
		natsMsg *m = list->Msgs[i];
		const char *subj = natsMsg_GetSubject(m);
		const char *data = natsMsg_GetData(m);
		int len = natsMsg_GetDataLength(m);
		json_t *j = json_loadb(data, (size_t)len, 0, NULL);
		const char *sql = has_suffix(subj, ".kaspa.handshakes")	     ? ins_hs
				  : has_suffix(subj, ".kaspa.classifications") ? ins_cl
									       : NULL;
		char *text;

		bad[i] = false;
		if (!j || !json_is_object(j) || !sql ||
		    !json_is_string(json_object_get(j, "event_id"))) {
			json_decref(j);
			bad[i] = true;
			inval++;
			continue;
		}
		json_decref(j);
		text = strndup(data, (size_t)len);
		if (!text)
			goto fail_tx;
		/* a savepoint keeps one event with a bad field from aborting the batch */
		r = PQexec(pc, "SAVEPOINT ev");
		if (!pg_ok(r)) {
			free(text);
			goto fail;
		}
		PQclear(r);
		r = PQexecParams(pc, sql, 1, NULL, (const char *const[]){ text }, NULL, NULL, 0);
		free(text);
		if (pg_ok(r)) {
			if (strcmp(PQcmdTuples(r), "1") == 0)
				ins++;
			else
				dup++;
			PQclear(r);
		} else if (PQstatus(pc) != CONNECTION_OK) {
			goto fail;
		} else {
			log_warn(COMP, "collect: event on %s not stored: %s", subj,
				 PQresultErrorMessage(r));
			PQclear(r);
			r = PQexec(pc, "ROLLBACK TO SAVEPOINT ev");
			if (!pg_ok(r))
				goto fail;
			PQclear(r);
			bad[i] = true;
			inval++;
		}
	}
	r = PQexec(pc, "COMMIT");
	if (!pg_ok(r))
		goto fail;
	PQclear(r);
	st->inserted += ins;
	st->duplicates += dup;
	st->invalid += inval;
	return 0;
fail_tx:
	r = NULL;
fail:
	log_warn(COMP, "collect: PostgreSQL failed: %s (the batch will be retried)",
		 PQerrorMessage(pc));
	PQclear(r);
	r = PQexec(pc, "ROLLBACK");
	PQclear(r);
	st->pg_errors++;
	return -EIO;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

int kaspa_collect_run(const struct kaspa_collect_params *p, struct kaspa_collect_stats *out)
{
	const char *app = p->app_id && *p->app_id ? p->app_id : "vigil";
	const char *durable = p->durable && *p->durable ? p->durable : "vigil-kaspa-collect";
	unsigned batch = p->batch ? p->batch : 256, backoff = 100;
	struct kaspa_collect_stats st = { 0 };
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	jsCtx *js = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	PGconn *pc = NULL;
	char subject[256];
	bool *bad = calloc(batch, sizeof(*bad));
	int ret = 0;

	if (!bad)
		return -ENOMEM;
	snprintf(subject, sizeof(subject), "%s.kaspa.>", app);
	s = natsConnection_ConnectTo(&nc, p->nats_url);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&js, nc, NULL);
	if (s != NATS_OK) {
		log_error(COMP, "collect: cannot connect to NATS at %s: %s (check --nats-url)",
			  p->nats_url, natsStatus_GetText(s));
		ret = -ECONNREFUSED;
		goto out;
	}
	jsSubOptions_Init(&so);
	so.Stream = p->stream;
	so.Config.AckPolicy = js_AckExplicit;
	s = js_PullSubscribe(&sub, js, subject, durable, NULL, &so, &jerr);
	if (s != NATS_OK) {
		log_error(COMP, "collect: cannot consume %s from stream %s: %s (error %d; check "
			  "--jetstream and that the sensors publish there)", subject, p->stream,
			  natsStatus_GetText(s), (int)jerr);
		ret = -ENOENT;
		goto out;
	}
	log_info(COMP, "collect: consuming %s from stream %s as %s", subject, p->stream, durable);
	while (!(p->stop && *p->stop)) {
		natsMsgList list = { 0 };

		if (!pg_ready(&pc, p->pg)) {
			sleep_ms(backoff);
			backoff = backoff < 5000 ? backoff * 2 : 5000;
			continue;
		}
		s = natsSubscription_Fetch(&list, sub, (int)batch, 1000, &jerr);
		if (s == NATS_TIMEOUT || (s == NATS_OK && list.Count == 0)) {
			natsMsgList_Destroy(&list);
			if (p->exit_when_idle)
				break;
			continue;
		}
		if (s != NATS_OK) {
			natsMsgList_Destroy(&list);
			log_warn(COMP, "collect: fetch from %s failed: %s (retrying)", p->stream,
				 natsStatus_GetText(s));
			sleep_ms(backoff);
			backoff = backoff < 5000 ? backoff * 2 : 5000;
			continue;
		}
		st.fetched += (uint64_t)list.Count;
		if (store_batch(pc, &list, bad, &st) == 0) {
			for (int i = 0; i < list.Count; i++)
				if (bad[i])
					natsMsg_Term(list.Msgs[i], NULL);
				else
					natsMsg_Ack(list.Msgs[i], NULL);
			backoff = 100;
		} else {
			for (int i = 0; i < list.Count; i++)
				natsMsg_Nak(list.Msgs[i], NULL);
			sleep_ms(backoff);
			backoff = backoff < 5000 ? backoff * 2 : 5000;
		}
		natsMsgList_Destroy(&list);
	}
	/* the acks are sent before we leave */
	natsConnection_FlushTimeout(nc, 2000);
	log_info(COMP, "collect: %llu events fetched, %llu stored, %llu duplicates, %llu invalid",
		 (unsigned long long)st.fetched, (unsigned long long)st.inserted,
		 (unsigned long long)st.duplicates, (unsigned long long)st.invalid);
out:
	natsSubscription_Destroy(sub);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	if (pc)
		PQfinish(pc);
	free(bad);
	if (out)
		*out = st;
	return ret;
}
