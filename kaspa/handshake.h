/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Kaspa P2P handshake as a pure state machine: no sockets, no clocks of its own. It is driven
 * by three inputs (a received message, a timer tick, the connection going away), each with the
 * caller's monotonic time in milliseconds, and it emits messages through a send callback. Both
 * directions run it the same way (kaspa-p2p.md "Handshake"):
 *
 *   start:    send Version at once; 4 s for the peer's Version, 4 s for the Verack to ours
 *   Version:  check it (id 16 bytes, user agent <= 256 bytes, address well formed, network equal,
 *             protocol version >= our minimum, id not ours), answer Verack
 *   both done: send Ready; 8 s for the peer's Ready (it may have arrived already)
 *   Ready:    established. Answer RequestAddresses (the configured list, empty by default) and Ping
 *             (Pong with the same nonce); other messages go back to the caller.
 *
 * Nothing but Version/Verack/Ready is sent before the peer's Ready, and those three never after.
 * A failure records a class (timeout, version, network, malformed, reset, self, rejected), the
 * step it happened in and a sentence for the log; the machine is then inert.
 */
#ifndef VIGIL_KASPA_HANDSHAKE_H
#define VIGIL_KASPA_HANDSHAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

#define KASPA_VERSION_TIMEOUT_MS 4000
#define KASPA_VERACK_TIMEOUT_MS 4000
#define KASPA_READY_TIMEOUT_MS 8000

enum kaspa_fail {
	KASPA_FAIL_NONE,
	KASPA_FAIL_TIMEOUT,	/* a deadline passed */
	KASPA_FAIL_VERSION,	/* the peer's protocol version is below our minimum */
	KASPA_FAIL_NETWORK,	/* the peer is on another network */
	KASPA_FAIL_MALFORMED,	/* bad field, bad protobuf or gRPC, a message out of order */
	KASPA_FAIL_RESET,	/* the connection closed or broke */
	KASPA_FAIL_SELF,	/* the peer's id is ours: we dialled ourselves */
	KASPA_FAIL_REJECTED,	/* the peer sent Reject */
};

/* Where the handshake was when it ended (or is now). */
enum kaspa_step {
	KASPA_STEP_VERSION,	/* waiting for the peer's Version */
	KASPA_STEP_VERACK,	/* have the peer's Version, waiting for the Verack to ours */
	KASPA_STEP_READY,	/* sent Ready, waiting for the peer's */
	KASPA_STEP_ESTABLISHED,	/* both Ready */
};

struct kaspa_hs;
/* Emits one message; the machine keeps ownership of @m. Return 0 or -errno (a failure to send
 * fails the handshake as "reset"). */
typedef int (*kaspa_hs_send_fn)(struct kaspa_hs *hs, const Protowire__KaspadMessage *m,
				void *ctx);

struct kaspa_hs_config {
	const char *network;		/* NULL: "kaspa-mainnet" */
	uint32_t protocol_version;	/* we advertise; 0: 10 */
	uint32_t min_protocol_version;	/* peers below are rejected; 0: same as protocol_version */
	const char *user_agent;		/* NULL: "/vigil:<version>/" */
	uint8_t id[KASPA_ID_LEN];	/* our id; all zero: a random one is drawn */
	uint64_t services;
	bool disable_relay_tx;
	const struct kaspa_netaddr *address; /* our own listening address to advertise, or NULL */
	int64_t timestamp_ms;		/* 0: the real clock at start */
	uint32_t version_timeout_ms;	/* 0: 4000 */
	uint32_t verack_timeout_ms;	/* 0: 4000 */
	uint32_t ready_timeout_ms;	/* 0: 8000 */
	/* Answer to the peer's RequestAddresses (at most 1000 sent); NULL/0: an empty list. The
	 * array must outlive the machine. */
	const struct kaspa_netaddr *addresses;
	size_t n_addresses;
};

struct kaspa_hs {
	struct kaspa_hs_config cfg;
	kaspa_hs_send_fn send;
	void *ctx;
	enum kaspa_step step;
	bool started, got_version, got_verack, got_ready, sent_ready;
	enum kaspa_fail fail;
	uint64_t version_deadline, verack_deadline, ready_deadline;
	uint32_t negotiated_version;	/* min(ours, peer's) once the Version is accepted */
	struct kaspa_peer_info peer;	/* valid once got_version (also filled on a failed check) */
	char reason[256];		/* why it failed */
	char peer_reject[128];		/* reason of a Reject the peer sent after Ready */
	uint64_t pings_answered, addresses_answered;
};

/* Copies @cfg (its strings and address array must outlive @hs). Does not send anything. */
void kaspa_hs_init(struct kaspa_hs *hs, const struct kaspa_hs_config *cfg, kaspa_hs_send_fn send,
		   void *ctx);
/* Sends our Version and arms the first deadlines. 0, or -errno once failed. */
int kaspa_hs_start(struct kaspa_hs *hs, uint64_t now_ms);

/*
 * Feeds one received message. Returns 0 when the machine handled it, 1 when it is the caller's
 * (after Ready: Addresses, Pong, inventory, unknown payloads, and a Reject, whose reason is also
 * kept in peer_reject), or a negative errno once the handshake failed (hs->fail, hs->step and
 * hs->reason say how). The caller keeps ownership of @m.
 */
int kaspa_hs_on_message(struct kaspa_hs *hs, const Protowire__KaspadMessage *m, uint64_t now_ms);
/* Checks deadlines. 0, or -ETIMEDOUT when one passed (the handshake has failed). */
int kaspa_hs_tick(struct kaspa_hs *hs, uint64_t now_ms);
/* The transport failed or closed (or sent garbage: pass KASPA_FAIL_MALFORMED): records a failure
 * with @why unless the handshake had already ended. */
void kaspa_hs_abort(struct kaspa_hs *hs, enum kaspa_fail cls, const char *why);
/* The earliest pending deadline (monotonic ms), or 0 when none is armed. */
uint64_t kaspa_hs_next_deadline(const struct kaspa_hs *hs);

/* After Ready: sends RequestAddresses / Reject{reason} (the polite goodbye is
 * "DUPLICATE_CONNECTION"). -EAGAIN before the peer's Ready, or the send error. */
int kaspa_hs_request_addresses(struct kaspa_hs *hs);
int kaspa_hs_send_reject(struct kaspa_hs *hs, const char *reason);

static inline bool kaspa_hs_ready(const struct kaspa_hs *hs)
{
	return hs->step == KASPA_STEP_ESTABLISHED && hs->fail == KASPA_FAIL_NONE;
}
static inline bool kaspa_hs_failed(const struct kaspa_hs *hs)
{
	return hs->fail != KASPA_FAIL_NONE;
}

const char *kaspa_fail_name(enum kaspa_fail f);	/* "timeout", "version", ... "none" */
const char *kaspa_step_name(enum kaspa_step s);	/* "version", "verack", "ready", "established" */

#endif
