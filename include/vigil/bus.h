/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The event bus: every capability publishes its events here, as JSON, under a subject suffix
 * ("rpc.call", "peers.ban"); the bus sends them to NATS as "<app-id>.<suffix>" (core publish or
 * JetStream with acks), to a JSON Lines file, or both. See docs/bus.md for the delivery guarantee.
 *
 * While NATS is unreachable, and until everything spooled earlier has been sent, events go to an
 * SQLite spool so they keep their order and survive restarts; when the connection returns the
 * spool is replayed in order and rows are removed once the server has them.
 *
 * Threading: a bus belongs to the thread running its loop. vbus_publish/flush/close/get_stats are
 * called from that thread only; libnats' own threads only hand notifications over.
 */
#ifndef VIGIL_BUS_H
#define VIGIL_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/opt.h"

struct vloop;
struct vbus;

/* Filled from vbus_opts (strings owned by the option parser) or by hand. NULL/0 fields take the
 * defaults documented in vbus_opts. */
struct vbus_cfg {
	char *app_id;	     /* subjects are "<app_id>.<suffix>"; default "vigil" */
	char *nats_url;	     /* NULL or "": NATS off */
	char *nats_token;
	char *nats_user;
	char *nats_password;
	char *nats_creds;    /* credentials file (JWT + NKey seed) */
	bool nats_tls;
	char *nats_tls_ca;
	char *nats_tls_cert;
	char *nats_tls_key;
	char *jetstream;     /* stream name; NULL or "": core publish */
	char *jsonl;	     /* path, "-" for stdout; NULL or "": off */
	char *spool;	     /* SQLite file; NULL or "": the default (see vbus_default_spool) */
	uint64_t spool_max;  /* bound on the spooled payload bytes; 0: the default, 256 MiB */
	uint64_t timeout_ns; /* connect timeout, JetStream ack wait, flush on close; 0: 5 s */
};

/* The options above, for a command's option sets (section "bus" of the config file). */
extern const struct vopt vbus_opts[];

struct vbus_stats {
	uint64_t published;   /* events accepted by vbus_publish */
	uint64_t acked;	      /* confirmed: JetStream acks; core: see docs/bus.md */
	uint64_t spooled;     /* events written to the spool (new ones and requeued in-flight) */
	uint64_t replayed;    /* spooled events sent again and confirmed, then removed */
	uint64_t dropped;     /* events refused because the spool was at --spool-max */
	uint64_t errors;      /* failed publishes, negative acks, ack timeouts, spool I/O errors */
	uint64_t spool_depth; /* events in the spool now */
	uint64_t spool_bytes; /* their payload bytes */
	uint64_t in_flight;   /* sent to JetStream, ack not yet received */
	bool connected;	      /* the NATS connection is up */
};

/*
 * Opens the bus: the jsonl sink, the spool and the NATS connection. An unreachable server is not
 * an error (the bus connects in the background and spools meanwhile, with a warning); a bad
 * URL, refused credentials, unreadable TLS files or a bad spool file are. NULL and errno on
 * failure, after a log line naming what failed. @loop receives libnats' wake-ups and the timers;
 * it must outlive the bus.
 */
/* For daemons whose events are their output: when neither --nats-url nor --jsonl is set, events
 * go to stdout as JSON Lines. Call before vbus_open(). 0 or -ENOMEM. */
int vbus_cfg_default_stdout(struct vbus_cfg *cfg);

struct vbus *vbus_open(const struct vbus_cfg *cfg, struct vloop *loop);

/*
 * Publishes @len bytes of JSON under "<app_id>.<subject_suffix>". Returns 0 when the event was
 * handed to NATS (in flight), written to the jsonl sink, or safely spooled; -EINVAL for a bad
 * suffix, -EMSGSIZE when larger than the server accepts, -ENOSPC when the spool is full (the event
 * is dropped and counted), -EIO when the spool cannot be written. Never blocks on the network.
 */
int vbus_publish(struct vbus *b, const char *subject_suffix, const char *json, size_t len);

/*
 * Waits up to @timeout_ms until every event published so far is confirmed (JetStream acks, core
 * flush), the spool is empty and the jsonl sink is flushed. Commits the spool batch first, so
 * what is spooled is on disk whatever happens. 0, or -ETIMEDOUT (events remain spooled or in
 * flight; nothing is lost), or -EIO.
 */
int vbus_flush(struct vbus *b, int timeout_ms);

/* Flushes (up to the configured timeout), moves what is still unconfirmed back to the spool,
 * closes the connection and the files, and frees @b. */
void vbus_close(struct vbus *b);

void vbus_get_stats(struct vbus *b, struct vbus_stats *s);

/* The default spool file for @app_id: $STATE_DIRECTORY (systemd), else /var/lib/vigil when root,
 * else $XDG_STATE_HOME/vigil or ~/.local/state/vigil; file "vigil-spool-<app_id>.db". Creates
 * the directory. Returns 0 or -errno. */
/* Exports the bus's statistics as vigil_bus_* metrics of @reg, read at each scrape. 0 or -errno.
 * One bus per registry. */
struct vmetrics;
int vbus_metrics_register(struct vbus *b, struct vmetrics *reg);

int vbus_default_spool(const char *app_id, char *buf, size_t n);

#endif
