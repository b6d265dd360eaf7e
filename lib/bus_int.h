/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The bus's insides, shared by lib/bus.c (routing, ids, stats), lib/bus_nats.c (the connection,
 * in-flight window and spool replay) and lib/bus_jsonl.c (the JSON Lines sink). Not a public API.
 */
#ifndef VIGIL_BUS_INT_H
#define VIGIL_BUS_INT_H

#include <stdio.h>

#include "vigil/bus.h"
#include "vigil/spool.h"

#define BUS_DEFAULT_SPOOL_MAX (256ull << 20)
#define BUS_DEFAULT_TIMEOUT_NS (5ull * 1000000000ull)
#define BUS_ID_LEN 48
#define BUS_TICK_NS (50ull * 1000000ull)

struct bus_nats;
struct bus_jsonl;

struct vbus {
	struct vloop *loop;
	char *app_id;
	char *url;	  /* for messages */
	char *stream;	  /* NULL: core publish */
	char *spool_path; /* NULL when NATS is off */
	uint64_t spool_max;
	uint64_t timeout_ns;
	char id_prefix[20]; /* random per process: ids are "<prefix>-<pos>" */
	uint64_t next_pos;  /* last pos handed out */
	struct vspool *spool;
	struct bus_nats *nats;
	struct bus_jsonl *jsonl;
	struct vloop_timer *tick;
	struct vbus_stats st;
	bool dropping; /* a drop episode is under way (logged once) */
	uint64_t drops_in_episode;
	/* the last two suffixes published and their checked, joined subjects ("" when unused) */
	struct {
		char suffix[64];
		char subject[256];
	} subj[2];
	unsigned subj_next;
};

/* JSON Lines sink. */
struct bus_jsonl *bus_jsonl_open(const char *path);
int bus_jsonl_write(struct bus_jsonl *j, const char *subject, const char *id, const char *json,
		    size_t len);
int bus_jsonl_flush(struct bus_jsonl *j);
void bus_jsonl_close(struct bus_jsonl *j);

/* NATS. bus_nats_open logs its own errors. */
int bus_nats_open(struct vbus *b, const struct vbus_cfg *cfg);
/* Sends one event now if the connection is up, nothing is spooled and the window has room:
 * 0 sent, -EAGAIN (spool it), -EMSGSIZE. */
int bus_nats_send(struct vbus *b, uint64_t pos, const char *id, const char *subject,
		  const char *json, size_t len);
/* Handles what libnats' threads reported, replays the spool, commits. Loop thread only.
 * Returns true when replay work is left that needs no wait (it stopped to stay responsive). */
bool bus_nats_service(struct vbus *b);
/* True when libnats reported something since the last service (cheap, lock-free). */
bool bus_nats_has_news(struct vbus *b);
/* Waits until libnats reports something or @timeout_ms passes. */
void bus_nats_wait(struct vbus *b, int timeout_ms);
/* Events not yet confirmed: in flight plus spooled. */
uint64_t bus_nats_pending(struct vbus *b);
/* Core NATS: a PING/PONG round trip so everything written so far reached the server. */
int bus_nats_roundtrip(struct vbus *b, int timeout_ms);
bool bus_nats_connected(struct vbus *b);
uint64_t bus_nats_in_flight(struct vbus *b);
size_t bus_nats_max_payload(struct vbus *b);
/* Moves unconfirmed in-flight events back to the spool and closes the connection. */
void bus_nats_close(struct vbus *b);

/* Spools one event, counting and logging drops. 0, -ENOSPC, -EIO. */
int bus_spool_event(struct vbus *b, uint64_t pos, const char *id, const char *subject,
		    const char *json, size_t len, bool force);

#endif
