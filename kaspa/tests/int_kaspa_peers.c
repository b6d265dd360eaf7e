// SPDX-License-Identifier: GPL-2.0-only
/*
 * Our h2c server/client and handshake against independent Kaspa peers on loopback:
 *  - kaspa/tests/peer.js on @grpc/grpc-js, in both directions: node dials us (the sensor case;
 *    every message it sends is gzip-compressed, like the reference node) and we dial node (the
 *    crawler case); then the failures a real peer can cause: wrong network, low version, no
 *    Ready, an oversized (gzip-bomb-like) message and a call to another method;
 *  - kaspa/tests/peer_grpcio.py on Debian's python3-grpcio (gRPC's C core) dialling us.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "test.h"
#include "../conn.h"

#define NODE_ID "0102030405060708090a0b0c0d0e0f10"

static char peer_js[512], peer_py[512];

/* Finds node and the npm packages; false (and the test is skipped) when they are missing. */
static bool have_node(void)
{
	const char *root = getenv("VIGIL_ROOT");
	char mod[600];
	struct stat st;

	snprintf(peer_js, sizeof(peer_js), "%s/kaspa/tests/peer.js", root ? root : ".");
	snprintf(peer_py, sizeof(peer_py), "%s/kaspa/tests/peer_grpcio.py", root ? root : ".");
	snprintf(mod, sizeof(mod), "%s/.cache/npm/node_modules/@grpc/grpc-js", root ? root : ".");
	if (system("node --version >/dev/null 2>&1") != 0) {
		TEST_SKIP("node is not installed (run scripts/deps)");
		return false;
	}
	if (stat(mod, &st) != 0) {
		TEST_SKIP("@grpc/grpc-js is not in .cache/npm (run scripts/deps)");
		return false;
	}
	return true;
}

struct node {
	pid_t pid;
	int out;		/* its stdout */
	struct vbuf text;	/* everything it printed */
};

/* Starts @argv (a peer program) with its stdout into n->out. */
static bool proc_start(struct node *n, const char *const *argv)
{
	int p[2];

	memset(n, 0, sizeof(*n));
	if (pipe2(p, O_CLOEXEC))
		return false;
	n->pid = fork();
	if (n->pid == 0) {
		dup2(p[1], 1);
		setenv("PEER_JS_LIMIT_MS", "20000", 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	n->out = p[0];
	fcntl(n->out, F_SETFL, O_NONBLOCK);
	return n->pid > 0;
}

/* node peer.js <args> */
static bool node_start(struct node *n, const char *const *args)
{
	const char *argv[32] = { "node", peer_js };
	int i = 2;

	for (; *args && i < 31; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	return proc_start(n, argv);
}

static void node_drain(struct node *n)
{
	char buf[4096];
	ssize_t r;

	while ((r = read(n->out, buf, sizeof(buf))) > 0)
		vbuf_append(&n->text, buf, (size_t)r);
}

/* Waits (bounded) for node to exit, collecting its output; kills it when it overstays. */
static void node_stop(struct node *n, int max_ms)
{
	int status;

	for (int t = 0; t < max_ms; t += 20) {
		node_drain(n);
		if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
			n->pid = 0;
			break;
		}
		usleep(20000);
	}
	if (n->pid) {
		kill(n->pid, SIGKILL);
		waitpid(n->pid, &status, 0);
		n->pid = 0;
	}
	node_drain(n);
	close(n->out);
	fprintf(stderr, "--- peer.js output:\n%s", vbuf_cstr(&n->text));
}

/* The @nth (0-based) JSON line whose "event" is @event, or NULL. Caller decrefs. */
static json_t *node_event(struct node *n, const char *event, int nth)
{
	const char *p = vbuf_cstr(&n->text);

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		json_t *j = json_loadb(p, len, 0, NULL);

		if (j && json_is_string(json_object_get(j, "event")) &&
		    strcmp(json_string_value(json_object_get(j, "event")), event) == 0 && nth-- == 0)
			return j;
		json_decref(j);
		p += len + (eol ? 1 : 0);
	}
	return NULL;
}

static const char *jstr(json_t *j, const char *key)
{
	json_t *v = j ? json_object_get(j, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : "(missing)";
}

/* Waits for node's first line (server mode: {"event":"listening","port":N}); the port or -1. */
static int node_listening_port(struct node *n)
{
	for (int t = 0; t < 15000; t += 20) {
		struct pollfd pfd = { .fd = n->out, .events = POLLIN };
		json_t *j;

		poll(&pfd, 1, 20);
		node_drain(n);
		j = node_event(n, "listening", 0);
		if (j) {
			int port = (int)json_integer_value(json_object_get(j, "port"));

			json_decref(j);
			return port;
		}
	}
	return -1;
}

struct side {
	struct kaspa_conn *c;
	bool ready, done, asked, close_on_addresses;
	enum kaspa_fail fail;
	enum kaspa_step step;
	char reason[256], transport[256];
	struct kaspa_peer_info peer;
	struct kaspa_h2_stats stats;
	size_t n_addresses;
	char addrs[4][KASPA_ADDR_STRLEN];
};

static void on_ready(struct kaspa_conn *c, void *ctx)
{
	struct side *s = ctx;

	s->ready = true;
	s->peer = kaspa_conn_hs(c)->peer;
}

static int on_message(struct kaspa_conn *c, const Protowire__KaspadMessage *m, void *ctx)
{
	struct side *s = ctx;

	if (m->payload_case == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES) {
		s->n_addresses = m->addresses->n_addresslist;
		for (size_t i = 0; i < s->n_addresses && i < 4; i++) {
			struct kaspa_netaddr a;

			if (kaspa_netaddr_from_pb(m->addresses->addresslist[i], &a) == 0)
				kaspa_netaddr_str(&a, s->addrs[i], sizeof(s->addrs[i]));
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
	s->peer = hs->peer; /* filled even when a check failed, for the log */
	kaspa_h2_get_stats(kaspa_conn_h2(c), &s->stats);
	kaspa_conn_free(c);
}

static const struct kaspa_conn_ops ops = { on_ready, on_message, on_done };

static bool run(struct vloop *loop, struct side *s, struct node *n)
{
	for (int i = 0; i < 600 && !s->done; i++) {
		if (s->ready && !s->asked && s->close_on_addresses) {
			s->asked = true;
			kaspa_conn_request_addresses(s->c);
		}
		vloop_run_once(loop, 50);
		node_drain(n);
	}
	return s->done;
}

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

/* A peer dials our server: @python picks peer_grpcio.py, else peer.js; @extra are its options.
 * Fills @srv and @n. */
static bool peer_dials_us(bool python, const char *const *extra, struct kaspa_conn_config *cfg,
			  struct side *srv, struct node *n)
{
	const char *args[28] = { "node", peer_js, "--mode", "client", "--port" };
	char portstr[16];
	uint16_t port = 0;
	int lfd = listen_loopback(&port), i = 6, fd;
	struct pollfd pfd;
	struct vloop *loop = vloop_new();
	bool ok = false;

	memset(srv, 0, sizeof(*srv));
	if (!ASSERT_GE(lfd, 0, "listen") || !ASSERT_NOT_NULL(loop, "loop"))
		return false;
	snprintf(portstr, sizeof(portstr), "%u", port);
	args[5] = portstr;
	if (python) {
		args[0] = "/usr/bin/python3";
		args[1] = peer_py;
		args[2] = "--port";
		args[3] = portstr;
		i = 4;
	}
	for (; *extra && i < 27; extra++)
		args[i++] = *extra;
	args[i] = NULL;
	if (!ASSERT_TRUE(proc_start(n, args), "spawn the peer"))
		goto out;
	pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (!ASSERT_EQ(poll(&pfd, 1, 15000), 1, "the peer connected within 15 s"))
		goto out;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!ASSERT_GE(fd, 0, "accept"))
		goto out;
	srv->c = kaspa_conn_new(loop, fd, KASPA_H2_SERVER, cfg, &ops, srv);
	if (!ASSERT_NOT_NULL(srv->c, "server conn"))
		goto out;
	ok = ASSERT_TRUE(run(loop, srv, n), "the session ended");
out:
	node_stop(n, 5000);
	close(lfd);
	vloop_free(loop);
	return ok;
}

static void sensor_config(struct kaspa_conn_config *cfg, struct kaspa_netaddr *addrs)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hs.user_agent = "/vigil-sensor:int-test/";
	kaspa_netaddr_parse("127.0.0.5:16111", &addrs[0]);
	kaspa_netaddr_parse("[2001:db8::1]:16211", &addrs[1]);
	cfg->hs.addresses = addrs;
	cfg->hs.n_addresses = 2;
}

static void test_grpcjs_dials_our_server(void)
{
	static const char *const extra[] = { "--request-addresses", "--ping", "--id", NODE_ID,
					     "--advertise", "[::ffff:127.0.0.9]:16111", NULL };
	struct kaspa_conn_config cfg;
	struct kaspa_netaddr addrs[2];
	struct side srv;
	struct node n;
	json_t *j, *list;

	if (!have_node())
		return;
	sensor_config(&cfg, addrs);
	if (!peer_dials_us(false, extra, &cfg, &srv, &n))
		return;
	ASSERT_TRUE(srv.ready, "handshake completed");
	ASSERT_STREQ(kaspa_fail_name(srv.fail), "none", srv.reason);
	ASSERT_STREQ(srv.peer.user_agent, "/kaspad:2.0.1/grpcjs-test-peer/", "peer's user agent");
	ASSERT_STREQ(srv.peer.id_hex, NODE_ID, "peer id");
	ASSERT_STREQ(srv.peer.network, "kaspa-mainnet", "network");
	ASSERT_EQ(srv.peer.protocol_version, 10, "version");
	ASSERT_STREQ(srv.peer.address_str, "127.0.0.9:16111", "advertised address, normalised");
	ASSERT_GE(srv.stats.msgs_in, 5, "version, verack, ready, requestAddresses, ping");
	ASSERT_EQ(srv.stats.msgs_in_compressed, srv.stats.msgs_in, "every inbound message gzipped");

	j = node_event(&n, "version", 0);
	ASSERT_STREQ(jstr(j, "userAgent"), "/vigil-sensor:int-test/", "node saw our agent");
	ASSERT_STREQ(jstr(j, "network"), "kaspa-mainnet", "node saw our network");
	json_decref(j);
	j = node_event(&n, "ready", 0);
	ASSERT_NOT_NULL(j, "node reached Ready");
	json_decref(j);
	j = node_event(&n, "addresses", 0);
	list = j ? json_object_get(j, "list") : NULL;
	if (ASSERT_TRUE(json_is_array(list) && json_array_size(list) == 2, "two addresses")) {
		ASSERT_STREQ(json_string_value(json_array_get(list, 0)), "127.0.0.5:16111", "1st");
		ASSERT_STREQ(json_string_value(json_array_get(list, 1)), "[2001:db8::1]:16211", "2nd");
	}
	json_decref(j);
	j = node_event(&n, "pong", 0);
	ASSERT_TRUE(j && json_is_true(json_object_get(j, "match")), "Pong carried the same nonce");
	json_decref(j);
	vbuf_free(&n.text);
}

static void we_dial_node(bool gzip)
{
	static const char *const args[] = { "--mode", "server", "--once", "--id", NODE_ID,
					     "--addresses", "10.1.2.3:16111,[2001:db8::7]:16111",
					     NULL };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct kaspa_conn_config cfg;
	struct vloop *loop;
	struct side cli;
	struct node n;
	json_t *j;
	int port;

	if (!have_node())
		return;
	loop = vloop_new();
	memset(&cfg, 0, sizeof(cfg));
	cfg.hs.user_agent = "/vigil-crawler:int-test/";
	cfg.h2.gzip_send = gzip;
	cfg.h2.accept_gzip = gzip;
	memset(&cli, 0, sizeof(cli));
	cli.close_on_addresses = true;
	if (!ASSERT_NOT_NULL(loop, "loop") || !ASSERT_TRUE(node_start(&n, args), "spawn node"))
		return;
	port = node_listening_port(&n);
	if (!ASSERT_GE(port, 1, "node listens"))
		goto out;
	sin.sin_port = htons((uint16_t)port);
	cli.c = kaspa_conn_new(loop, kaspa_dial((struct sockaddr *)&sin, sizeof(sin)),
			       KASPA_H2_CLIENT, &cfg, &ops, &cli);
	if (!ASSERT_NOT_NULL(cli.c, "client conn"))
		goto out;
	ASSERT_TRUE(run(loop, &cli, &n), "the session ended");
	ASSERT_TRUE(cli.ready, "handshake completed");
	ASSERT_STREQ(kaspa_fail_name(cli.fail), "none", cli.reason);
	ASSERT_STREQ(cli.peer.id_hex, NODE_ID, "node's id");
	ASSERT_EQ(cli.n_addresses, 2, "node's address list");
	ASSERT_STREQ(cli.addrs[0], "10.1.2.3:16111", "1st");
	ASSERT_STREQ(cli.addrs[1], "[2001:db8::7]:16111", "2nd");
out:
	node_stop(&n, 5000);
	j = node_event(&n, "version", 0);
	ASSERT_STREQ(jstr(j, "userAgent"), "/vigil-crawler:int-test/", "node saw our agent");
	json_decref(j);
	j = node_event(&n, "request_addresses", 0);
	ASSERT_NOT_NULL(j, "node answered our RequestAddresses");
	json_decref(j);
	j = node_event(&n, "reject", 0);
	ASSERT_STREQ(jstr(j, "reason"), "DUPLICATE_CONNECTION", "we left politely");
	json_decref(j);
	vbuf_free(&n.text);
	vloop_free(loop);
}

static void test_we_dial_grpcjs_server(void)
{
	we_dial_node(false);
}

static void test_we_dial_grpcjs_server_gzip(void)
{
	we_dial_node(true);
}

static void test_grpcjs_failures_are_classified(void)
{
	static const char *const wrong_net[] = { "--network", "kaspa-testnet-10", NULL };
	static const char *const low_ver[] = { "--version", "9", "--min-version", "6", NULL };
	static const char *const no_ready[] = { "--no-ready", "--close-after-ms", "3000", NULL };
	static const char *const huge[] = { "--huge", "5000000", NULL };
	struct kaspa_conn_config cfg;
	struct kaspa_netaddr addrs[2];
	struct side srv;
	struct node n;
	json_t *j;

	if (!have_node())
		return;
	sensor_config(&cfg, addrs);
	if (peer_dials_us(false, wrong_net, &cfg, &srv, &n)) {
		ASSERT_STREQ(kaspa_fail_name(srv.fail), "network", srv.reason);
		ASSERT_STREQ(srv.peer.network, "kaspa-testnet-10", "logged network");
	}
	vbuf_free(&n.text);

	if (peer_dials_us(false, low_ver, &cfg, &srv, &n)) {
		ASSERT_STREQ(kaspa_fail_name(srv.fail), "version", srv.reason);
		j = node_event(&n, "reject", 0);
		ASSERT_STRCONTAINS(jstr(j, "reason"), "version 9 is below our minimum 10",
				   "node got a Reject naming both versions");
		json_decref(j);
	}
	vbuf_free(&n.text);

	cfg.hs.ready_timeout_ms = 500;
	if (peer_dials_us(false, no_ready, &cfg, &srv, &n)) {
		ASSERT_STREQ(kaspa_fail_name(srv.fail), "timeout", srv.reason);
		ASSERT_STREQ(kaspa_step_name(srv.step), "ready", "waiting for Ready");
	}
	vbuf_free(&n.text);
	cfg.hs.ready_timeout_ms = 0;

	/* 5 MB of user agent, gzipped to a few KB: the inflate cap stops it at 4 MiB */
	if (peer_dials_us(false, huge, &cfg, &srv, &n)) {
		ASSERT_STREQ(kaspa_fail_name(srv.fail), "malformed", srv.reason);
		ASSERT_STRCONTAINS(srv.reason, "limit", "says the limit was hit");
	}
	vbuf_free(&n.text);
}

static void test_other_method_is_unimplemented(void)
{
	static const char *const other[] = { "--method", "/protowire.P2P/Other", NULL };
	struct kaspa_conn_config cfg;
	struct kaspa_netaddr addrs[2];
	struct side srv;
	struct node n;
	json_t *j;

	if (!have_node())
		return;
	sensor_config(&cfg, addrs);
	cfg.hs.version_timeout_ms = 1500;
	if (peer_dials_us(false, other, &cfg, &srv, &n)) {
		j = node_event(&n, "error", 0);
		ASSERT_EQ(json_integer_value(json_object_get(j, "code")), 12,
			  "grpc-status 12 UNIMPLEMENTED");
		json_decref(j);
		ASSERT_FALSE(srv.ready, "no handshake");
		/* node leaves after the refusal: the connection ends before any Version */
		ASSERT_STREQ(kaspa_fail_name(srv.fail), "reset", srv.reason);
		ASSERT_STREQ(kaspa_step_name(srv.step), "version", "before any Version");
	}
	vbuf_free(&n.text);
}

static void test_grpcio_dials_our_server(void)
{
	/* gRPC's core sends a message uncompressed when gzip would not make it smaller, so the
	 * user agent is long and repetitive to make the Version go out compressed */
	static const char ua[] = "/kaspad:2.0.1/grpcio-test-peer(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)/";
	static const char *const extra[] = { "--id", NODE_ID, "--user-agent", ua, NULL };
	struct kaspa_conn_config cfg;
	struct kaspa_netaddr addrs[2];
	struct side srv;
	struct node n;
	json_t *j, *list;

	if (system("/usr/bin/python3 -c 'import grpc' 2>/dev/null") != 0) {
		TEST_SKIP("python3-grpcio is not installed (run scripts/deps)");
		return;
	}
	have_node(); /* sets the script paths; node itself is not needed here */
	test__skipped = 0;
	sensor_config(&cfg, addrs);
	if (!peer_dials_us(true, extra, &cfg, &srv, &n))
		return;
	ASSERT_TRUE(srv.ready, "handshake completed");
	ASSERT_STREQ(kaspa_fail_name(srv.fail), "none", srv.reason);
	ASSERT_STREQ(srv.peer.user_agent, ua, "peer's user agent");
	ASSERT_STREQ(srv.peer.id_hex, NODE_ID, "peer id");
	ASSERT_GE(srv.stats.msgs_in, 5, "version, verack, ready, requestAddresses, ping");
	ASSERT_GE(srv.stats.msgs_in_compressed, 1, "the Version arrived gzip-compressed");
	j = node_event(&n, "version", 0);
	ASSERT_STREQ(jstr(j, "userAgent"), "/vigil-sensor:int-test/", "python saw our agent");
	json_decref(j);
	j = node_event(&n, "addresses", 0);
	list = j ? json_object_get(j, "list") : NULL;
	if (ASSERT_TRUE(json_is_array(list) && json_array_size(list) == 2, "two addresses"))
		ASSERT_STREQ(json_string_value(json_array_get(list, 1)), "[2001:db8::1]:16211", "2nd");
	json_decref(j);
	j = node_event(&n, "pong", 0);
	ASSERT_TRUE(j && json_is_true(json_object_get(j, "match")), "Pong carried the same nonce");
	json_decref(j);
	j = node_event(&n, "end", 0);
	ASSERT_STREQ(jstr(j, "reason"), "peer_closed", "the call ended cleanly (grpc-status 0)");
	json_decref(j);
	vbuf_free(&n.text);
}

TESTS(T(test_grpcjs_dials_our_server), T(test_grpcio_dials_our_server), T(test_we_dial_grpcjs_server),
      T(test_we_dial_grpcjs_server_gzip), T(test_grpcjs_failures_are_classified),
      T(test_other_method_is_unimplemented))
