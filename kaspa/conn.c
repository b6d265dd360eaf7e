// SPDX-License-Identifier: GPL-2.0-only
/*
 * A Kaspa P2P connection on the event loop, see conn.h.
 *
 * Every event (socket readiness, the timer) runs the same tail, after_io(): it looks at what the
 * handshake and the HTTP/2 session now say, reports Ready once, ends the connection when either is
 * over, and re-arms the epoll interest and the timer. on_done is only ever called from there, as
 * the last thing, so the application may free the connection in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

struct kaspa_conn {
	struct vloop *loop;
	int fd;
	enum kaspa_h2_role role;
	struct kaspa_conn_config cfg;
	struct kaspa_conn_ops ops;
	void *ctx;
	struct kaspa_h2 *h2;
	struct kaspa_hs hs;
	struct vloop_timer *timer;
	uint64_t open_deadline;		/* ms: server waits for the call, client for connect */
	uint64_t linger_deadline;	/* ms: after our goodbye, how long we wait for the peer's */
	bool connecting, connected, ready_reported, closing, done;
	int connect_errno;
	uint32_t events;
	char transport_why[256];
};

static uint64_t now_ms(void)
{
	return vloop_now_ns() / 1000000;
}

static int hs_send(struct kaspa_hs *hs, const Protowire__KaspadMessage *m, void *ctx)
{
	struct kaspa_conn *c = ctx;

	(void)hs;
	return kaspa_h2_send(c->h2, m);
}

static void h2_open(struct kaspa_h2 *h, void *ctx)
{
	struct kaspa_conn *c = ctx;

	(void)h;
	if (c->role == KASPA_H2_SERVER && !c->hs.started) {
		c->open_deadline = 0;
		kaspa_hs_start(&c->hs, now_ms());
	}
}

static int h2_message(struct kaspa_h2 *h, const Protowire__KaspadMessage *m, void *ctx)
{
	struct kaspa_conn *c = ctx;
	int r;

	(void)h;
	if (c->done || kaspa_hs_failed(&c->hs))
		return 0;
	r = kaspa_hs_on_message(&c->hs, m, now_ms());
	if (r < 0)
		return 0; /* after_io sees the failure */
	if (r == 1 && c->ops.on_message && !c->closing)
		return c->ops.on_message(c, m, c->ctx);
	return 0;
}

/* The transport ended: the handshake learns it (unless it already finished or failed). */
static void transport_ended(struct kaspa_conn *c)
{
	int err = kaspa_h2_error(c->h2);
	enum kaspa_fail cls = KASPA_FAIL_RESET;

	snprintf(c->transport_why, sizeof(c->transport_why), "%s", kaspa_h2_why(c->h2));
	if (err == -EPROTO || err == -EMSGSIZE || err == -EBADMSG)
		cls = KASPA_FAIL_MALFORMED;
	else if (err == -ECONNREFUSED)
		cls = KASPA_FAIL_REJECTED;
	kaspa_hs_abort(&c->hs, cls, c->transport_why);
}

static void end(struct kaspa_conn *c)
{
	c->done = true;
	if (c->fd >= 0)
		vloop_del_fd(c->loop, c->fd);
	if (c->timer)
		vloop_timer_set(c->timer, 0, 0);
	if (c->ops.on_done)
		c->ops.on_done(c, c->ctx);
}

static void arm(struct kaspa_conn *c)
{
	uint64_t d = kaspa_hs_next_deadline(&c->hs), now = now_ms();

	if (c->open_deadline && (!d || c->open_deadline < d))
		d = c->open_deadline;
	if (c->linger_deadline && (!d || c->linger_deadline < d))
		d = c->linger_deadline;
	if (!c->timer)
		return;
	if (!d)
		vloop_timer_set(c->timer, 0, 0);
	else
		vloop_timer_set(c->timer, d > now ? (d - now) * 1000000 : 1, 0);
}

static void after_io(struct kaspa_conn *c)
{
	uint32_t ev;

	if (c->done)
		return;
	/* Ready first: the peer may have sent Ready and ended the call in one read, and an
	 * established connection is reported as such before it is reported gone */
	if (kaspa_hs_ready(&c->hs) && !c->ready_reported) {
		c->ready_reported = true;
		if (c->ops.on_ready)
			c->ops.on_ready(c, c->ctx);
		if (c->done)
			return;
		if (!kaspa_h2_error(c->h2))
			kaspa_h2_on_writable(c->h2);
	}
	if (kaspa_hs_failed(&c->hs)) {
		/* flush what the handshake queued (a version Reject), then go */
		kaspa_h2_finish(c->h2);
		kaspa_h2_on_writable(c->h2);
		if (!c->transport_why[0])
			snprintf(c->transport_why, sizeof(c->transport_why), "handshake failed");
		end(c);
		return;
	}
	if (kaspa_h2_error(c->h2)) {
		if (kaspa_h2_error(c->h2) == -EPIPE) {
			/* the peer ended the call normally: end ours too (server: grpc-status 0) */
			kaspa_h2_finish(c->h2);
			kaspa_h2_on_writable(c->h2);
		}
		transport_ended(c);
		if (c->closing)
			snprintf(c->transport_why, sizeof(c->transport_why), "closed by us (%s)",
				 kaspa_h2_why(c->h2));
		end(c);
		return;
	}
	if (c->closing && !kaspa_h2_want_write(c->h2)) {
		/*
		 * Our goodbye is written. Closing the socket right away can make the peer drop the
		 * last messages it has not processed yet (grpc-js inflates asynchronously, and
		 * cancels the call on a reset), so wait for the peer to end its side, bounded.
		 */
		uint64_t now = now_ms();

		if (!c->linger_deadline)
			c->linger_deadline = now + KASPA_CONN_LINGER_MS;
		if (now >= c->linger_deadline) {
			snprintf(c->transport_why, sizeof(c->transport_why), "closed by us");
			kaspa_hs_abort(&c->hs, KASPA_FAIL_RESET, "closed by us before Ready");
			end(c);
			return;
		}
	}
	ev = EPOLLIN | (c->connecting || kaspa_h2_want_write(c->h2) ? EPOLLOUT : 0);
	if (ev != c->events && vloop_mod_fd(c->loop, c->fd, ev) == 0)
		c->events = ev;
	arm(c);
}

static void on_connected(struct kaspa_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return;
	c->connecting = false;
	c->open_deadline = 0;
	if (err) {
		char why[160];

		c->connect_errno = err;
		snprintf(why, sizeof(why), "cannot connect: %s", strerror(err));
		kaspa_hs_abort(&c->hs, KASPA_FAIL_RESET, why);
		return;
	}
	c->connected = true;
	kaspa_hs_start(&c->hs, now_ms());
}

static void on_fd(struct vloop *loop, int fd, uint32_t events, void *ctx)
{
	struct kaspa_conn *c = ctx;

	(void)loop;
	(void)fd;
	if (c->connecting) {
		on_connected(c);
		if (c->connecting || kaspa_hs_failed(&c->hs)) {
			after_io(c);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		kaspa_h2_on_readable(c->h2);
	if (!kaspa_h2_error(c->h2))
		kaspa_h2_on_writable(c->h2);
	after_io(c);
}

static void on_timer(struct vloop *loop, void *ctx)
{
	struct kaspa_conn *c = ctx;
	uint64_t now = now_ms();

	(void)loop;
	if (c->done)
		return;
	if (c->open_deadline && now >= c->open_deadline) {
		char why[160];

		if (c->connecting) {
			c->connect_errno = ETIMEDOUT;
			snprintf(why, sizeof(why), "TCP connect timed out after %u ms",
				 c->cfg.connect_timeout_ms);
		} else {
			snprintf(why, sizeof(why), "no gRPC MessageStream call within %u ms",
				 c->hs.cfg.version_timeout_ms);
		}
		kaspa_hs_abort(&c->hs, KASPA_FAIL_TIMEOUT, why);
	}
	kaspa_hs_tick(&c->hs, now);
	after_io(c);
}

struct kaspa_conn *kaspa_conn_new(struct vloop *loop, int fd, enum kaspa_h2_role role,
				  const struct kaspa_conn_config *cfg,
				  const struct kaspa_conn_ops *ops, void *ctx)
{
	static const struct kaspa_h2_ops h2ops = { .on_open = h2_open, .on_message = h2_message };
	struct kaspa_conn *c;
	int err;

	if (fd < 0) { /* e.g. a failed kaspa_dial() passed straight in */
		errno = EBADF;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	c->loop = loop;
	c->fd = fd;
	c->role = role;
	c->cfg = *cfg;
	if (ops)
		c->ops = *ops;
	c->ctx = ctx;
	if (!c->cfg.connect_timeout_ms)
		c->cfg.connect_timeout_ms = 1000;
	kaspa_hs_init(&c->hs, &c->cfg.hs, hs_send, c);
	c->h2 = kaspa_h2_new(fd, role, &c->cfg.h2, &h2ops, c);
	c->timer = vloop_timer_add(loop, 0, 0, on_timer, c);
	if (!c->h2 || !c->timer) {
		err = errno ? errno : ENOMEM;
		goto fail;
	}
	if (role == KASPA_H2_CLIENT) {
		c->connecting = true;
		c->open_deadline = now_ms() + c->cfg.connect_timeout_ms;
	} else {
		c->connected = true;
		c->open_deadline = now_ms() + c->hs.cfg.version_timeout_ms;
	}
	c->events = EPOLLIN | EPOLLOUT;
	err = -vloop_add_fd(loop, fd, c->events, on_fd, c);
	if (err)
		goto fail;
	arm(c);
	return c;
fail:
	kaspa_conn_free(c);
	errno = err;
	return NULL;
}

void kaspa_conn_free(struct kaspa_conn *c)
{
	if (!c)
		return;
	if (!c->done && c->fd >= 0)
		vloop_del_fd(c->loop, c->fd);
	if (c->timer)
		vloop_timer_del(c->timer);
	kaspa_h2_free(c->h2);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* Called outside the fd callback after queueing output: have epoll report writability, whose
 * callback flushes and runs after_io (so on_done is never called from here). */
static void want_out(struct kaspa_conn *c)
{
	uint32_t ev = EPOLLIN | EPOLLOUT;

	if (!c->done && ev != c->events && vloop_mod_fd(c->loop, c->fd, ev) == 0)
		c->events = ev;
}

int kaspa_conn_close(struct kaspa_conn *c)
{
	if (c->done || c->closing)
		return 0;
	c->closing = true;
	if (kaspa_hs_ready(&c->hs))
		kaspa_hs_send_reject(&c->hs, "DUPLICATE_CONNECTION");
	kaspa_h2_finish(c->h2);
	want_out(c);
	return 0;
}

int kaspa_conn_send(struct kaspa_conn *c, const Protowire__KaspadMessage *m)
{
	int err;

	if (!kaspa_hs_ready(&c->hs) || c->closing)
		return -EAGAIN;
	err = kaspa_h2_send(c->h2, m);
	if (!err)
		want_out(c);
	return err;
}

int kaspa_conn_request_addresses(struct kaspa_conn *c)
{
	int err;

	if (c->closing)
		return -EAGAIN;
	err = kaspa_hs_request_addresses(&c->hs);
	if (!err)
		want_out(c);
	return err;
}

struct kaspa_hs *kaspa_conn_hs(struct kaspa_conn *c)
{
	return &c->hs;
}

struct kaspa_h2 *kaspa_conn_h2(struct kaspa_conn *c)
{
	return c->h2;
}

int kaspa_conn_fd(const struct kaspa_conn *c)
{
	return c->fd;
}

bool kaspa_conn_connected(const struct kaspa_conn *c)
{
	return c->connected;
}

int kaspa_conn_connect_errno(const struct kaspa_conn *c)
{
	return c->connect_errno;
}

const char *kaspa_conn_transport_why(const struct kaspa_conn *c)
{
	return c->transport_why;
}

int kaspa_dial(const struct sockaddr *sa, socklen_t len)
{
	int one = 1, fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

#define MS 1000000ll

const struct vopt kaspa_wire_opts[] = {
	VOPT_STRING("network", 0, struct kaspa_wire_cfg, network, KASPA_DEFAULT_NETWORK, "NAME",
		    "Kaspa network a peer must be on (kaspa-mainnet, kaspa-testnet-10, ...)"),
	VOPT_INT("protocol-version", 0, struct kaspa_wire_cfg, protocol_version, "10", "N", 1, 1000,
		 "P2P protocol version we advertise"),
	VOPT_INT("min-protocol-version", 0, struct kaspa_wire_cfg, min_protocol_version, "0", "N", 0,
		 1000, "lowest peer protocol version accepted (0: the advertised one)"),
	VOPT_STRING("user-agent", 0, struct kaspa_wire_cfg, user_agent, NULL, "UA",
		    "user agent we advertise (at most 256 bytes)"),
	VOPT_SIZE("max-message-size", 0, struct kaspa_wire_cfg, max_msg, "4MiB", 1024, 1 << 30,
		  "largest inbound message, before and after gzip"),
	VOPT_BOOL("gzip", 0, struct kaspa_wire_cfg, gzip,
		  "gzip-compress the messages we send (inbound gzip is always accepted)"),
	VOPT_DURATION("version-timeout", 0, struct kaspa_wire_cfg, version_timeout, "4s", MS,
		      600000 * MS, "how long to wait for the peer's Version"),
	VOPT_DURATION("verack-timeout", 0, struct kaspa_wire_cfg, verack_timeout, "4s", MS,
		      600000 * MS, "how long to wait for the Verack to our Version"),
	VOPT_DURATION("ready-timeout", 0, struct kaspa_wire_cfg, ready_timeout, "8s", MS,
		      600000 * MS, "how long to wait for the peer's Ready after ours"),
	VOPT_DURATION("connect-timeout", 0, struct kaspa_wire_cfg, connect_timeout, "1s", MS,
		      600000 * MS, "TCP connect limit when dialling"),
	VOPT_STRING("advertise", 0, struct kaspa_wire_cfg, advertise, NULL, "IP:PORT",
		    "our public listening address, sent as Version.address: the peers we dial "
		    "store it and gossip it on"),
	VOPT_END
};

int kaspa_wire_apply(struct kaspa_wire_cfg *w, struct kaspa_conn_config *cfg)
{
	if (w->advertise && *w->advertise) {
		if (kaspa_netaddr_parse(w->advertise, &w->advertise_addr) ||
		    !w->advertise_addr.port)
			return -EINVAL;
		cfg->hs.address = &w->advertise_addr;
	}
	if (w->network && *w->network)
		cfg->hs.network = w->network;
	if (w->protocol_version > 0)
		cfg->hs.protocol_version = (uint32_t)w->protocol_version;
	if (w->min_protocol_version > 0)
		cfg->hs.min_protocol_version = (uint32_t)w->min_protocol_version;
	if (w->user_agent && *w->user_agent)
		cfg->hs.user_agent = w->user_agent;
	if (w->max_msg)
		cfg->h2.max_msg = w->max_msg;
	cfg->h2.gzip_send = w->gzip;
	cfg->h2.accept_gzip = w->gzip;
	if (w->version_timeout)
		cfg->hs.version_timeout_ms = (uint32_t)(w->version_timeout / MS);
	if (w->verack_timeout)
		cfg->hs.verack_timeout_ms = (uint32_t)(w->verack_timeout / MS);
	if (w->ready_timeout)
		cfg->hs.ready_timeout_ms = (uint32_t)(w->ready_timeout / MS);
	if (w->connect_timeout)
		cfg->connect_timeout_ms = (uint32_t)(w->connect_timeout / MS);
	return 0;
}
