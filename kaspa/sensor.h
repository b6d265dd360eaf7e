/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Kaspa P2P sensor: listens, accepts, handshakes as a valid peer (conn.h), logs every
 * handshake (successful or failed, with its reason class) as an event, then probes the peer back
 * and classifies it:
 *
 *   Public   the probe reached the peer's advertised port (else the network's default port) on
 *            the peer's own IP; with --probe handshake the node there also answered with the
 *            same id
 *   Private  nobody listens there: connection refused, or no answer before the probe timeout
 *   Unknown  anything else: unreachable (our route), reset, another node there (id-mismatch), or
 *            not probed (private range, probing off, too many probes queued)
 *
 * Events go to the bus (subject suffixes "kaspa.handshakes" and "kaspa.classifications"), each
 * with a unique "event_id" so consumers can drop duplicates; a classification names the handshake
 * it follows ("handshake_event_id"). With a store path both are also kept in a local SQLite (WAL)
 * file, pruned by retention. With a webhook (webhook.h) every event also goes to the store's
 * outbox, which a worker thread POSTs to the receiver; retention never deletes an outbox row the
 * receiver has not acknowledged. Everything else runs on the caller's event loop.
 */
#ifndef VIGIL_KASPA_SENSOR_H
#define VIGIL_KASPA_SENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/loop.h"
#include "conn.h"
#include "webhook.h"

struct vbus;
struct vmetrics;
struct kaspa_sensor;

enum kaspa_probe_mode {
	KASPA_PROBE_OFF,
	KASPA_PROBE_TCP,	/* a TCP connect */
	KASPA_PROBE_HANDSHAKE,	/* connect, handshake, compare ids */
};

enum kaspa_class { KASPA_CLASS_PUBLIC, KASPA_CLASS_PRIVATE, KASPA_CLASS_UNKNOWN };

#define KASPA_SENSOR_SUBJECT_HANDSHAKES "kaspa.handshakes"
#define KASPA_SENSOR_SUBJECT_CLASSIFICATIONS "kaspa.classifications"

struct kaspa_sensor_params {
	const char *listen;		/* "0.0.0.0:16111", "[::]:16111" (dual stack); NULL: the first */
	const char *sensor_id;		/* NULL: the host name */
	struct kaspa_conn_config conn;	/* the handshake we run (user agent, network, timeouts) */
	bool hold;			/* keep handshaken connections open */
	uint32_t close_after_ms;	/* after Ready, time to answer the peer before leaving; 0: 1000 */
	unsigned max_conns;		/* inbound connections at once; 0: 4096 */
	enum kaspa_probe_mode probe;
	uint32_t probe_timeout_ms;	/* 0: 800 */
	uint64_t probe_interval_ms;	/* one probe per IP per interval; 0: every handshake */
	unsigned probe_concurrency;	/* probes in flight; 0: 64 (more wait in a queue of 4096) */
	bool allow_private;		/* probe loopback/private/link-local addresses too */
	struct vbus *bus;		/* where events go; NULL: nowhere (store and metrics only) */
	struct vmetrics *metrics;	/* vigil_kaspa_* metrics; NULL: none */
	const char *store;		/* SQLite file; NULL or "": no store */
	uint64_t retention_ms;		/* store rows older than this are deleted; 0: kept */
	/* HTTP export from the store (webhook.url NULL: off; needs the store). Its store and
	 * metric fields are filled by the sensor. */
	struct kaspa_webhook_params webhook;
};

struct kaspa_sensor_stats {
	uint64_t accepted, refused_full;	/* inbound connections; refused at max_conns */
	uint64_t handshakes_ok, handshakes_failed;
	uint64_t probes, classified[3];		/* probes run; classifications by enum kaspa_class */
	uint64_t store_errors, publish_errors;
	unsigned conns, probes_active, probes_queued;
};

/*
 * Binds and listens on @p->listen, opens the store and registers the metrics. @p's strings and
 * the bus/registry must outlive the sensor. NULL and errno on failure, after a log line saying
 * what failed (e.g. the address in use).
 */
struct kaspa_sensor *kaspa_sensor_new(struct vloop *loop, const struct kaspa_sensor_params *p);
/* Closes the listener, every connection and probe (without logging them further), the store. */
void kaspa_sensor_free(struct kaspa_sensor *s);
/* The bound port. */
uint16_t kaspa_sensor_port(const struct kaspa_sensor *s);
void kaspa_sensor_get_stats(const struct kaspa_sensor *s, struct kaspa_sensor_stats *st);
/* Events the webhook receiver has not acknowledged yet (0 without a webhook). */
uint64_t kaspa_sensor_webhook_backlog(const struct kaspa_sensor *s);

const char *kaspa_class_name(enum kaspa_class c);	/* "public", "private", "unknown" */
/* The port a network's nodes listen on by default (mainnet 16111, testnet 16211, simnet 16511,
 * devnet 16611); 16111 for names it does not know. */
uint16_t kaspa_default_port(const char *network);
/* True for addresses a probe skips without --allow-private: loopback, RFC 1918, CGNAT,
 * link-local, unspecified, IPv6 ULA. @ip is 4 or 16 bytes (IPv4-mapped counts as IPv4). */
bool kaspa_ip_is_private(const uint8_t *ip, unsigned len);
/* The error class of a failed connect: "refused", "timeout", "reset" or "unreachable". */
const char *kaspa_errno_class(int e);

#endif
