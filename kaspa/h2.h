/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One Kaspa P2P connection's HTTP/2 (h2c, prior knowledge) session on nghttp2, carrying the single
 * bidirectional gRPC call /protowire.P2P/MessageStream, in either role:
 *
 *   server: accepts the client's MessageStream POST, answers with response headers at once
 *           (:status 200, content-type application/grpc) and then exchanges DATA both ways; any
 *           other path is answered trailers-only with grpc-status 12 (UNIMPLEMENTED).
 *   client: opens the stream with te: trailers and content-type application/grpc (plus
 *           grpc-encoding / grpc-accept-encoding when gzip is configured).
 *
 * No socket calls besides read/send on the non-blocking fd it was given, so it drops into an
 * epoll loop: the fd is readable -> kaspa_h2_on_readable(); kaspa_h2_want_write() -> watch
 * EPOLLOUT and call kaspa_h2_on_writable(). Inbound messages are gunzipped when flagged, limited
 * to max_msg bytes, unpacked into KaspadMessage and handed to on_message. Flow-control window is
 * granted back as data is consumed, so a chatty peer never stalls.
 */
#ifndef VIGIL_KASPA_H2_H
#define VIGIL_KASPA_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define KASPA_GRPC_PATH "/protowire.P2P/MessageStream"

enum kaspa_h2_role { KASPA_H2_SERVER, KASPA_H2_CLIENT };

struct kaspa_h2;

struct kaspa_h2_config {
	size_t max_msg;		/* inbound limit, compressed and inflated; 0: 4 MiB */
	bool gzip_send;		/* compress what we send (server: only if the client accepts it) */
	bool accept_gzip;	/* client: send grpc-accept-encoding: gzip */
	const char *authority;	/* client :authority; NULL: "kaspa" */
	size_t max_out;		/* bytes queued for sending before kaspa_h2_send fails; 0: 16 MiB */
};

struct kaspa_h2_ops {
	/* The call is open: the server accepted it / the client got response headers. */
	void (*on_open)(struct kaspa_h2 *h, void *ctx);
	/* One message. @m belongs to the session and is freed after the call. A negative return
	 * ends the session with that error. Calling kaspa_h2_send() here is fine;
	 * kaspa_h2_free() is not. */
	int (*on_message)(struct kaspa_h2 *h, const Protowire__KaspadMessage *m, void *ctx);
};

/*
 * A session over the non-blocking connected socket @fd, which the caller keeps owning (and
 * closes after kaspa_h2_free). @fd < 0 makes a session whose output is discarded, for feeding
 * bytes with kaspa_h2_feed() (fuzzing). Queues the connection preface and SETTINGS (and, as a
 * client, the request): call kaspa_h2_on_writable() next. NULL and errno on failure.
 */
struct kaspa_h2 *kaspa_h2_new(int fd, enum kaspa_h2_role role, const struct kaspa_h2_config *cfg,
			      const struct kaspa_h2_ops *ops, void *ctx);
/*
 * The same, plus a zeroed block of @room bytes for the caller, returned in *@ctx and passed to the
 * callbacks as their ctx. It shares the page the session keeps resident (a held connection's
 * state then costs no page of its own) and is freed by kaspa_h2_free: free nothing of it after.
 */
struct kaspa_h2 *kaspa_h2_new_room(int fd, enum kaspa_h2_role role,
				   const struct kaspa_h2_config *cfg, const struct kaspa_h2_ops *ops,
				   size_t room, void **ctx);
void kaspa_h2_free(struct kaspa_h2 *h);

/*
 * Reads what the socket has, processes it (callbacks run here) and flushes what that produced.
 * Returns 0 while the session goes on, or a negative errno once it is over: -ECONNRESET (peer
 * closed or reset), -EPROTO (HTTP/2 or gRPC protocol error, garbage), -EMSGSIZE (oversized
 * message), -EBADMSG (invalid protobuf), -EPIPE (the call ended normally), or an on_message
 * error. kaspa_h2_why() has the sentence for the log.
 */
int kaspa_h2_on_readable(struct kaspa_h2 *h);
/* Sends what is queued until the socket would block. 0 or the error that ended the session. */
int kaspa_h2_on_writable(struct kaspa_h2 *h);
/* Processes @n bytes as if read from the socket (then flushes). Same returns. */
int kaspa_h2_feed(struct kaspa_h2 *h, const uint8_t *p, size_t n);
/* True when bytes wait for the socket to become writable. */
bool kaspa_h2_want_write(const struct kaspa_h2 *h);
/* Between bursts of traffic: gives the pages of nghttp2's frame buffer back to the kernel when
 * nothing is waiting to be sent (a held, idle connection then costs a few KiB less). Cheap; a
 * no-op when nothing was sent since the last trim. */
void kaspa_h2_trim(struct kaspa_h2 *h);
/* True once the session has nothing more to read or write (or failed). */
bool kaspa_h2_done(const struct kaspa_h2 *h);
/* True once the gRPC call is open. */
bool kaspa_h2_open(const struct kaspa_h2 *h);

/*
 * Queues @m (framed, compressed as negotiated) on the call. Before the call is open the message
 * waits and goes out right after the headers. Call kaspa_h2_on_writable() (or wait for EPOLLOUT)
 * to send. 0, -ENOBUFS (the peer does not read: more than max_out queued), -ENOTCONN (session
 * over), -ENOMEM.
 */
int kaspa_h2_send(struct kaspa_h2 *h, const Protowire__KaspadMessage *m);
/* Ends our side: after the queued messages, the server sends trailers (grpc-status 0), the client
 * END_STREAM; then GOAWAY. Close the fd once kaspa_h2_want_write() is false. */
int kaspa_h2_finish(struct kaspa_h2 *h);

struct kaspa_h2_stats {
	uint64_t bytes_in, bytes_out;		/* HTTP/2 bytes read / written */
	uint64_t msgs_in, msgs_in_compressed;	/* KaspadMessages received / of which compressed */
	uint64_t msgs_out;			/* KaspadMessages queued */
};
void kaspa_h2_get_stats(const struct kaspa_h2 *h, struct kaspa_h2_stats *out);

/* The error that ended the session (0 while it goes on) and why, for the log. */
int kaspa_h2_error(const struct kaspa_h2 *h);
const char *kaspa_h2_why(const struct kaspa_h2 *h);

#endif
