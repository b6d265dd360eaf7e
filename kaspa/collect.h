/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `vigil kaspa collect`: a JetStream consumer that writes the sensors' events into PostgreSQL.
 * A durable pull consumer on "<app_id>.kaspa.>" of the stream; each fetched batch is inserted in
 * one transaction (INSERT ... ON CONFLICT (event_id) DO NOTHING, so redelivered or re-published
 * events are stored once) and acknowledged only after the commit. While PostgreSQL is down the
 * batch is negatively acknowledged and retried with backoff: nothing is lost, the stream keeps it.
 */
#ifndef VIGIL_KASPA_COLLECT_H
#define VIGIL_KASPA_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

struct kaspa_collect_params {
	const char *nats_url;	/* required */
	const char *stream;	/* JetStream stream holding the events (required) */
	const char *app_id;	/* subjects "<app_id>.kaspa.>"; NULL: "vigil" */
	const char *durable;	/* consumer name; NULL: "vigil-kaspa-collect" */
	const char *pg;		/* libpq connection string (required) */
	unsigned batch;		/* events per fetch and transaction; 0: 256 */
	bool exit_when_idle;	/* return once a fetch finds nothing (caught up) */
	volatile int *stop;	/* set non-zero (e.g. by a signal handler) to return */
};

struct kaspa_collect_stats {
	uint64_t fetched, inserted, duplicates, invalid, pg_errors;
};

/* The schema (tables kaspa_handshakes, kaspa_classifications and their indexes), idempotent. */
extern const char kaspa_collect_schema[];

/*
 * Runs the consumer until *stop or, with exit_when_idle, until caught up. 0, or -errno when the
 * NATS connection or the consumer cannot be set up (logged). @st may be NULL.
 */
int kaspa_collect_run(const struct kaspa_collect_params *p, struct kaspa_collect_stats *st);

#endif
