/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The sensor's HTTP webhook export: events wait in the sensor's SQLite store (table "outbox",
 * written by the sensor in the order it publishes them) and a worker thread POSTs them in
 * batches, as a JSON array of the same event objects the bus gets, to one URL.
 *
 * Delivery is at least once, in order: the worker reads the rows after its cursor (table
 * "export_cursor", row "webhook"), POSTs them, and moves the cursor past them only when the
 * receiver answers 2xx. Anything else (connection error, timeout, 5xx, 408, 429, other 4xx) is
 * retried with capped exponential backoff and jitter; a 429 or 503 with Retry-After waits that
 * long instead, a 413 halves the batch. A receiver that saw a batch whose answer was lost sees
 * it again: receivers drop duplicates by "event_id". The cursor survives restarts, so nothing
 * logged while the receiver (or the sensor) was down is lost.
 *
 * Threading: the worker has its own SQLite connection (the store is in WAL mode, so its reads
 * never block the sensor's writes) and its own libcurl handle; the sensor's loop thread only
 * calls kaspa_webhook_notify(), which takes a mutex for a few instructions. Metrics are updated
 * from the worker (vmetrics is thread-safe).
 */
#ifndef VIGIL_KASPA_WEBHOOK_H
#define VIGIL_KASPA_WEBHOOK_H

#include <stdint.h>

struct vmetric;
struct kaspa_webhook;

/* The outbox and cursor tables, created by whoever opens the store first (sensor or webhook). */
#define KASPA_WEBHOOK_SCHEMA \
	"CREATE TABLE IF NOT EXISTS outbox (" \
	" seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE," \
	" subject TEXT NOT NULL, time_us INTEGER NOT NULL, event TEXT NOT NULL);" \
	"CREATE INDEX IF NOT EXISTS outbox_time ON outbox(time_us);" \
	"CREATE TABLE IF NOT EXISTS export_cursor (exporter TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
#define KASPA_WEBHOOK_EXPORTER "webhook"

struct kaspa_webhook_params {
	const char *url;		/* http:// or https:// URL; NULL: no webhook */
	const char *header;		/* one extra "Name: value" header; NULL: none */
	const char *token_file;		/* "Authorization: Bearer <first line>"; NULL: none */
	unsigned batch;			/* events per POST at most; 0: 256 */
	uint64_t interval_ms;		/* how long an event may wait for a fuller batch; 0: 1000 */
	uint64_t timeout_ms;		/* whole request; 0: 10000 */
	uint64_t retry_max_ms;		/* backoff cap; 0: 60000 */
	const char *store;		/* the sensor's SQLite file (required) */
	/* metrics (any may be NULL): events delivered, failed requests by class, the time of the
	 * last 2xx (Unix seconds) */
	struct vmetric *m_sent, *m_errors, *m_last_success;
};

/*
 * Checks @p (the URL's scheme and host, the header's form, the token file), opens the store,
 * reads the cursor and starts the worker. NULL and errno on failure, after a log line saying
 * what is wrong and what to give instead.
 */
struct kaspa_webhook *kaspa_webhook_new(const struct kaspa_webhook_params *p);
/* Stops the worker (an unfinished request is aborted; its events stay for the next start). */
void kaspa_webhook_free(struct kaspa_webhook *w);
/* The sensor stored the event with outbox seq @seq: wakes the worker when a batch is full. */
void kaspa_webhook_notify(struct kaspa_webhook *w, int64_t seq);
/* Events stored and not yet acknowledged by the receiver. */
uint64_t kaspa_webhook_backlog(const struct kaspa_webhook *w);
/* Checks a webhook URL the way kaspa_webhook_new does: 0, or -EINVAL with a sentence in @err. */
int kaspa_webhook_check_url(const char *url, char *err, size_t n);

#endif
