// SPDX-License-Identifier: GPL-2.0-only
/*
 * The h2c gRPC session and the loop-driven connection end to end: our server and our client over
 * a socketpair and over loopback TCP (with gzip both ways) complete the handshake, exchange
 * RequestAddresses/Addresses and part politely; garbage HTTP/2, an oversized message, a wrong
 * network, a silent peer and a refused connect each end in a classified failure, not a crash.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "test.h"
#include "../conn.h"

struct side {
	struct kaspa_conn *c;
	bool ready, done;
	int addresses_seen;
	size_t addresses_n;
	char addr0[KASPA_ADDR_STRLEN];
	/* copied in on_done, since the connection is freed there */
	enum kaspa_fail fail;
	enum kaspa_step step;
	char reason[256], transport[256], peer_reject[128];
	struct kaspa_peer_info peer;
	bool close_on_addresses, close_on_ready;
	int ready_calls;
};

static void on_ready(struct kaspa_conn *c, void *ctx)
{
	struct side *s = ctx;

	s->ready = true;
	s->ready_calls++;
	s->peer = kaspa_conn_hs(c)->peer;
	if (s->close_on_ready)
		kaspa_conn_close(c);
}

static int on_message(struct kaspa_conn *c, const Protowire__KaspadMessage *m, void *ctx)
{
	struct side *s = ctx;

	if (m->payload_case == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES) {
		s->addresses_seen++;
		s->addresses_n = m->addresses->n_addresslist;
		if (s->addresses_n) {
			struct kaspa_netaddr a;

			if (kaspa_netaddr_from_pb(m->addresses->addresslist[0], &a) == 0)
				kaspa_netaddr_str(&a, s->addr0, sizeof(s->addr0));
		}
		if (s->close_on_addresses)
			kaspa_conn_close(c);
	}
	return 0;
}

static void on_done(struct kaspa_conn *c, void *ctx)
{
	struct side *s = ctx;
	struct kaspa_hs *hs = kaspa_conn_hs(c);

	s->done = true;
	s->fail = hs->fail;
	s->step = hs->step;
	snprintf(s->reason, sizeof(s->reason), "%s", hs->reason);
	snprintf(s->transport, sizeof(s->transport), "%s", kaspa_conn_transport_why(c));
	snprintf(s->peer_reject, sizeof(s->peer_reject), "%s", hs->peer_reject);
	kaspa_conn_free(c);
	s->c = NULL;
}

static const struct kaspa_conn_ops ops = { on_ready, on_message, on_done };

/* Runs the loop until every given side is done (bounded: at most ~20 s of loop time). */
static bool run_until_done(struct vloop *loop, struct side *a, struct side *b)
{
	for (int i = 0; i < 400; i++) {
		if ((!a || a->done) && (!b || b->done))
			return true;
		/* the client asks for addresses once Ready, then closes on the answer */
		if (a && a->ready && a->c && a->close_on_addresses && !a->addresses_seen &&
		    kaspa_hs_ready(kaspa_conn_hs(a->c)) && kaspa_conn_hs(a->c)->addresses_answered < 99) {
			kaspa_conn_request_addresses(a->c);
			kaspa_conn_hs(a->c)->addresses_answered = 99; /* ask once */
		}
		vloop_run_once(loop, 50);
	}
	return false;
}

static void base_config(struct kaspa_conn_config *c, uint8_t id, const char *ua)
{
	memset(c, 0, sizeof(*c));
	memset(c->hs.id, id, KASPA_ID_LEN);
	c->hs.user_agent = ua;
}

static void full_session(int sfd, int cfd, bool gzip)
{
	struct vloop *loop = vloop_new();
	struct kaspa_conn_config scfg, ccfg;
	struct kaspa_netaddr addrs[3];
	static struct side srv, cli;

	if (!ASSERT_NOT_NULL(loop, "loop"))
		return;
	kaspa_netaddr_parse("127.0.0.7:16111", &addrs[0]);
	kaspa_netaddr_parse("[::ffff:10.0.0.1]:16111", &addrs[1]);
	kaspa_netaddr_parse("[2001:db8::9]:16511", &addrs[2]);
	base_config(&scfg, 0x5e, "/vigil-sensor:test/");
	scfg.hs.addresses = addrs;
	scfg.hs.n_addresses = 3;
	scfg.h2.gzip_send = gzip;
	base_config(&ccfg, 0xc1, "/kaspad:2.0.1/");
	ccfg.h2.gzip_send = gzip;
	ccfg.h2.accept_gzip = gzip;
	memset(&srv, 0, sizeof(srv));
	memset(&cli, 0, sizeof(cli));
	cli.close_on_addresses = true;
	srv.c = kaspa_conn_new(loop, sfd, KASPA_H2_SERVER, &scfg, &ops, &srv);
	cli.c = kaspa_conn_new(loop, cfd, KASPA_H2_CLIENT, &ccfg, &ops, &cli);
	if (!ASSERT_NOT_NULL(srv.c, "server conn") || !ASSERT_NOT_NULL(cli.c, "client conn"))
		return;
	ASSERT_TRUE(run_until_done(loop, &cli, &srv), "both sides finished");
	ASSERT_TRUE(srv.ready, "server reached Ready");
	ASSERT_TRUE(cli.ready, "client reached Ready");
	ASSERT_STREQ(srv.peer.user_agent, "/kaspad:2.0.1/", "server logged the client's agent");
	ASSERT_STREQ(srv.peer.id_hex, "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1", "client id");
	ASSERT_STREQ(cli.peer.user_agent, "/vigil-sensor:test/", "client saw the server's agent");
	ASSERT_EQ(cli.addresses_seen, 1, "client got one Addresses");
	ASSERT_EQ(cli.addresses_n, 3, "the server's list");
	ASSERT_STREQ(cli.addr0, "127.0.0.7:16111", "first address");
	ASSERT_STREQ(kaspa_fail_name(cli.fail), "none", cli.reason);
	ASSERT_STREQ(kaspa_fail_name(srv.fail), "none", srv.reason);
	ASSERT_STREQ(srv.peer_reject, "DUPLICATE_CONNECTION", "the client left politely");
	vloop_free(loop);
}

static void test_socketpair_full_handshake(void)
{
	int sv[2];

	if (!ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), "socketpair"))
		return;
	full_session(sv[0], sv[1], false);
}

/* A listening socket on 127.0.0.1:0; returns its fd and port. */
static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 8) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len))
		return -1;
	*port = ntohs(sin.sin_port);
	return fd;
}

static void test_loopback_tcp_gzip_full_handshake(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint16_t port;
	int lfd = listen_loopback(&port), cfd, sfd;

	if (!ASSERT_GE(lfd, 0, "listen"))
		return;
	sin.sin_port = htons(port);
	cfd = kaspa_dial((struct sockaddr *)&sin, sizeof(sin));
	if (!ASSERT_GE(cfd, 0, "dial"))
		return;
	sfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!ASSERT_GE(sfd, 0, "accept"))
		return;
	full_session(sfd, cfd, true);
	close(lfd);
}

/* One server connection fed by a raw socket the test writes to. */
static void server_vs_raw(const void *bytes, size_t n, const struct kaspa_conn_config *cfg,
			  struct side *srv)
{
	struct vloop *loop = vloop_new();
	int sv[2];

	memset(srv, 0, sizeof(*srv));
	if (!ASSERT_NOT_NULL(loop, "loop") ||
	    !ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), "socketpair"))
		return;
	srv->c = kaspa_conn_new(loop, sv[0], KASPA_H2_SERVER, cfg, &ops, srv);
	if (!ASSERT_NOT_NULL(srv->c, "conn"))
		return;
	ASSERT_EQ(write(sv[1], bytes, n), (ssize_t)n, "write");
	ASSERT_TRUE(run_until_done(loop, srv, NULL), "server finished");
	close(sv[1]);
	vloop_free(loop);
}

static void test_garbage_http2_is_malformed(void)
{
	static const char http1[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	static const uint8_t bad_frames[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
					    "\x00\x00\x04\x09\x00\x00\x00\x00\x01garbagegarbage";
	struct kaspa_conn_config cfg;
	struct side srv;

	base_config(&cfg, 0x5e, NULL);
	server_vs_raw(http1, sizeof(http1) - 1, &cfg, &srv);
	ASSERT_STREQ(kaspa_fail_name(srv.fail), "malformed", srv.reason);
	ASSERT_STRCONTAINS(srv.reason, "preface", "says what was wrong");
	ASSERT_FALSE(srv.ready, "no Ready");

	server_vs_raw(bad_frames, sizeof(bad_frames) - 1, &cfg, &srv);
	ASSERT_STREQ(kaspa_fail_name(srv.fail), "malformed", srv.reason);
	ASSERT_STRCONTAINS(srv.reason, "HTTP/2", "names the layer");
}

/* Client against a server whose configuration makes it fail; returns both outcomes. */
static void pair_with(struct kaspa_conn_config *scfg, struct kaspa_conn_config *ccfg,
		      struct side *srv, struct side *cli)
{
	struct vloop *loop = vloop_new();
	int sv[2];

	memset(srv, 0, sizeof(*srv));
	memset(cli, 0, sizeof(*cli));
	if (!ASSERT_NOT_NULL(loop, "loop") ||
	    !ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), "socketpair"))
		return;
	srv->c = kaspa_conn_new(loop, sv[0], KASPA_H2_SERVER, scfg, &ops, srv);
	cli->c = kaspa_conn_new(loop, sv[1], KASPA_H2_CLIENT, ccfg, &ops, cli);
	ASSERT_TRUE(run_until_done(loop, srv, cli), "both finished");
	vloop_free(loop);
}

static void test_oversized_version_is_malformed(void)
{
	struct kaspa_conn_config scfg, ccfg;
	struct side srv, cli;
	char ua[201];

	memset(ua, 'x', 200);
	ua[200] = 0;
	base_config(&scfg, 0x5e, NULL);
	scfg.h2.max_msg = 100;
	base_config(&ccfg, 0xc1, ua);
	pair_with(&scfg, &ccfg, &srv, &cli);
	ASSERT_STREQ(kaspa_fail_name(srv.fail), "malformed", srv.reason);
	ASSERT_STRCONTAINS(srv.reason, "100-byte limit", "names the limit");
	ASSERT_NEQ(cli.fail, KASPA_FAIL_NONE, "client saw the end");
}

static void test_wrong_network_and_low_version(void)
{
	struct kaspa_conn_config scfg, ccfg;
	struct side srv, cli;

	base_config(&scfg, 0x5e, NULL);
	base_config(&ccfg, 0xc1, NULL);
	ccfg.hs.network = "kaspa-testnet-10";
	pair_with(&scfg, &ccfg, &srv, &cli);
	ASSERT_STREQ(kaspa_fail_name(srv.fail), "network", srv.reason);
	ASSERT_STREQ(kaspa_fail_name(cli.fail), "network", cli.reason);

	base_config(&ccfg, 0xc1, NULL);
	ccfg.hs.protocol_version = 9;
	ccfg.hs.min_protocol_version = 6;
	pair_with(&scfg, &ccfg, &srv, &cli);
	ASSERT_STREQ(kaspa_fail_name(srv.fail), "version", srv.reason);
	/* the server's Reject names both versions and reaches the client */
	ASSERT_STREQ(kaspa_fail_name(cli.fail), "rejected", cli.reason);
	ASSERT_STRCONTAINS(cli.reason, "version 9 is below our minimum 10", "reason relayed");
}

static void test_silent_peer_times_out(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct vloop *loop = vloop_new();
	struct kaspa_conn_config cfg;
	static struct side cli;
	uint16_t port;
	int lfd = listen_loopback(&port);

	if (!ASSERT_GE(lfd, 0, "listen") || !ASSERT_NOT_NULL(loop, "loop"))
		return;
	sin.sin_port = htons(port);
	base_config(&cfg, 0xc1, NULL);
	cfg.hs.version_timeout_ms = 200; /* short, to keep the test quick */
	cfg.hs.verack_timeout_ms = 200;
	memset(&cli, 0, sizeof(cli));
	cli.c = kaspa_conn_new(loop, kaspa_dial((struct sockaddr *)&sin, sizeof(sin)),
			       KASPA_H2_CLIENT, &cfg, &ops, &cli);
	ASSERT_TRUE(run_until_done(loop, &cli, NULL), "client finished");
	ASSERT_STREQ(kaspa_fail_name(cli.fail), "timeout", cli.reason);
	ASSERT_STREQ(kaspa_step_name(cli.step), "version", "waiting for Version");
	close(lfd);

	/* a closed port: connect refused, reported as reset with the errno kept */
	lfd = listen_loopback(&port);
	close(lfd);
	sin.sin_port = htons(port);
	memset(&cli, 0, sizeof(cli));
	cli.c = kaspa_conn_new(loop, kaspa_dial((struct sockaddr *)&sin, sizeof(sin)),
			       KASPA_H2_CLIENT, &cfg, &ops, &cli);
	ASSERT_TRUE(run_until_done(loop, &cli, NULL), "client finished");
	ASSERT_STREQ(kaspa_fail_name(cli.fail), "reset", cli.reason);
	ASSERT_STRCONTAINS(cli.reason, "refused", "connect refused");
	vloop_free(loop);
}

/* The shared option table fills a kaspa_wire_cfg that maps onto the connection config. */
static void test_wire_options_apply(void)
{
	struct kaspa_wire_cfg w = { .network = "kaspa-testnet-10", .protocol_version = 9,
				    .max_msg = 1 << 20, .gzip = true,
				    .ready_timeout = 2500ull * 1000000, .connect_timeout = 800ull * 1000000 };
	struct kaspa_conn_config cfg;
	int n = 0;

	memset(&cfg, 0, sizeof(cfg));
	ASSERT_OK(kaspa_wire_apply(&w, &cfg), "apply");
	ASSERT_TRUE(cfg.hs.address == NULL, "no --advertise: no Version.address");
	ASSERT_STREQ(cfg.hs.network, "kaspa-testnet-10", "network");
	ASSERT_EQ(cfg.hs.protocol_version, 9, "version");
	ASSERT_EQ(cfg.hs.min_protocol_version, 0, "min left to the default");
	ASSERT_EQ(cfg.h2.max_msg, 1 << 20, "max message");
	ASSERT_TRUE(cfg.h2.gzip_send && cfg.h2.accept_gzip, "gzip");
	ASSERT_EQ(cfg.hs.ready_timeout_ms, 2500, "ready timeout");
	ASSERT_EQ(cfg.hs.version_timeout_ms, 0, "version timeout left to the default");
	ASSERT_EQ(cfg.connect_timeout_ms, 800, "connect timeout");
	for (const struct vopt *o = kaspa_wire_opts; o->name; o++, n++)
		ASSERT_TRUE(o->help && *o->help, o->name);
	ASSERT_EQ(n, 11, "eleven options");
	/* --advertise becomes Version.address, borrowed from the wire config */
	w.advertise = "[::ffff:203.0.113.5]:16111";
	ASSERT_OK(kaspa_wire_apply(&w, &cfg), "apply --advertise");
	ASSERT_TRUE(cfg.hs.address == &w.advertise_addr, "address points into @w");
	ASSERT_EQ(w.advertise_addr.ip_len, 4, "IPv4-mapped normalised");
	ASSERT_EQ(w.advertise_addr.port, 16111, "port");
	w.advertise = "203.0.113.5";
	ASSERT_EQ(kaspa_wire_apply(&w, &cfg), -EINVAL, "no port");
	w.advertise = "203.0.113.5:0";
	ASSERT_EQ(kaspa_wire_apply(&w, &cfg), -EINVAL, "port 0");
}

/*
 * Both sides leave the moment they are Ready (what a sensor does): a side that receives the
 * peer's Ready and its end of the call in one read must still report Ready before done.
 */
static void test_close_at_ready_reports_ready_on_both_sides(void)
{
	struct vloop *loop = vloop_new();
	struct kaspa_conn_config cfg;
	static struct side srv[8], cli[8];
	int sv[2];

	if (!ASSERT_NOT_NULL(loop, "loop"))
		return;
	memset(&cfg, 0, sizeof(cfg));
	for (int i = 0; i < 8; i++) {
		if (!ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), "pair"))
			return;
		srv[i].close_on_ready = cli[i].close_on_ready = true;
		srv[i].c = kaspa_conn_new(loop, sv[0], KASPA_H2_SERVER, &cfg, &ops, &srv[i]);
		cli[i].c = kaspa_conn_new(loop, sv[1], KASPA_H2_CLIENT, &cfg, &ops, &cli[i]);
	}
	for (int i = 0; i < 8; i++) {
		ASSERT_TRUE(run_until_done(loop, &srv[i], &cli[i]), "finished");
		ASSERT_EQ(srv[i].ready_calls, 1, "server reported Ready once");
		ASSERT_EQ(cli[i].ready_calls, 1, "client reported Ready once");
		ASSERT_STREQ(kaspa_fail_name(srv[i].fail), "none", srv[i].reason);
		ASSERT_STREQ(kaspa_fail_name(cli[i].fail), "none", cli[i].reason);
	}
	vloop_free(loop);
}

TESTS(T(test_socketpair_full_handshake), T(test_close_at_ready_reports_ready_on_both_sides), T(test_wire_options_apply), T(test_loopback_tcp_gzip_full_handshake),
      T(test_garbage_http2_is_malformed), T(test_oversized_version_is_malformed),
      T(test_wrong_network_and_low_version), T(test_silent_peer_times_out))
