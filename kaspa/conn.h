/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One Kaspa P2P connection on the event loop: the h2c session (h2.h) and the handshake (handshake.h)
 * wired to a socket watcher and a timer. The sensor creates one per accepted socket (server role),
 * the crawler and the prober one per dialled socket (client role). Outcome and peer facts are in
 * kaspa_conn_hs(c): ->fail, ->step, ->reason, ->peer.
 */
#ifndef VIGIL_KASPA_CONN_H
#define VIGIL_KASPA_CONN_H

#include <sys/socket.h>

#include "vigil/loop.h"
#include "vigil/opt.h"
#include "h2.h"
#include "handshake.h"

struct kaspa_conn;

/* After our polite goodbye, the longest we wait for the peer to end its side before closing. */
#define KASPA_CONN_LINGER_MS 1000

struct kaspa_conn_config {
	struct kaspa_hs_config hs;
	struct kaspa_h2_config h2;
	uint32_t connect_timeout_ms;	/* client: TCP connect limit; 0: 1000 (as the reference) */
};

struct kaspa_conn_ops {
	/* Both sides are Ready; the handshake already answers RequestAddresses and Ping. */
	void (*on_ready)(struct kaspa_conn *c, void *ctx);
	/* After Ready, each message the handshake leaves to the application (Addresses, Pong,
	 * inventory, unknown payloads). A negative return ends the connection. Runs inside the
	 * HTTP/2 processing: kaspa_conn_send/close are fine here, kaspa_conn_free is not. */
	int (*on_message)(struct kaspa_conn *c, const Protowire__KaspadMessage *m, void *ctx);
	/* The connection is over (failed handshake, peer left, or our close completed). The last
	 * callback for @c, which it may free. */
	void (*on_done)(struct kaspa_conn *c, void *ctx);
};

/*
 * Takes ownership of the non-blocking socket @fd (an accepted one for KASPA_H2_SERVER, one whose
 * connect is in progress for KASPA_H2_CLIENT, see kaspa_dial). @cfg's strings and arrays must
 * outlive the connection. NULL and errno on failure (the fd is then closed too).
 */
struct kaspa_conn *kaspa_conn_new(struct vloop *loop, int fd, enum kaspa_h2_role role,
				  const struct kaspa_conn_config *cfg,
				  const struct kaspa_conn_ops *ops, void *ctx);
/* Removes the watchers, closes the socket, frees. Not from inside on_message. */
void kaspa_conn_free(struct kaspa_conn *c);

/* Leaves politely: Reject{"DUPLICATE_CONNECTION"} when Ready, end of our stream, GOAWAY; on_done
 * runs once the peer has ended its side too, or KASPA_CONN_LINGER_MS after ours was written. */
int kaspa_conn_close(struct kaspa_conn *c);
/* After Ready: sends one message / a RequestAddresses. 0 or -errno. */
int kaspa_conn_send(struct kaspa_conn *c, const Protowire__KaspadMessage *m);
int kaspa_conn_request_addresses(struct kaspa_conn *c);

struct kaspa_hs *kaspa_conn_hs(struct kaspa_conn *c);
struct kaspa_h2 *kaspa_conn_h2(struct kaspa_conn *c);
int kaspa_conn_fd(const struct kaspa_conn *c);
/* Client: false when the TCP connect itself failed or timed out (then connect_errno says how). */
bool kaspa_conn_connected(const struct kaspa_conn *c);
int kaspa_conn_connect_errno(const struct kaspa_conn *c);
/* Why the transport ended ("" while it goes on), e.g. "peer closed the connection". */
const char *kaspa_conn_transport_why(const struct kaspa_conn *c);

/*
 * The wire options the sensor, the prober and the crawler share, declared once for the CLI
 * (kaspa_wire_opts fills a struct kaspa_wire_cfg). Zero/NULL fields keep the built-in defaults.
 */
struct kaspa_wire_cfg {
	char *network;			/* --network, default kaspa-mainnet */
	long long protocol_version;	/* --protocol-version, default 10 */
	long long min_protocol_version;	/* --min-protocol-version, default: the same */
	char *user_agent;		/* --user-agent, default: the command's own */
	uint64_t max_msg;		/* --max-message-size, bytes */
	bool gzip;			/* --gzip: compress what we send */
	uint64_t version_timeout;	/* --version-timeout, ns */
	uint64_t verack_timeout;	/* --verack-timeout, ns */
	uint64_t ready_timeout;		/* --ready-timeout, ns */
	uint64_t connect_timeout;	/* --connect-timeout, ns */
	char *advertise;		/* --advertise IP:PORT, our Version.address */
	struct kaspa_netaddr advertise_addr;	/* parsed by kaspa_wire_apply */
};
extern const struct vopt kaspa_wire_opts[];
/* Copies @w into @cfg's handshake and HTTP/2 settings (strings and the parsed --advertise
 * address are borrowed from @w). 0, or -EINVAL when --advertise is not IP:PORT. */
int kaspa_wire_apply(struct kaspa_wire_cfg *w, struct kaspa_conn_config *cfg);

/* A non-blocking TCP socket connecting to @sa (TCP_NODELAY). The fd, or -errno. */
int kaspa_dial(const struct sockaddr *sa, socklen_t len);

#endif
