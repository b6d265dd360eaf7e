// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event bus against a real nats-server (started here on a free loopback port with its own
 * store directory): core publish, JetStream with acks, an outage with 10,000 events spooled and
 * replayed in order without duplicates, the spool bound's exact drop count, the jsonl sink, and
 * clear errors for bad credentials and unreachable or malformed URLs.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <nats/nats.h>

#include "test.h"
#include "vigil/bus.h"
#include "vigil/log.h"
#include "vigil/loop.h"
#include "vigil/spool.h"

struct nsrv {
	pid_t pid;
	int port;
	char dir[128];
	char url[64];
	const char *user, *pass;
	const char *token;
	const char *tls_dir; /* serve TLS with the certificates test_tls made there */
};

static char logbuf[8192];

/* Keeps warnings and errors so tests can check what a user would read. */
static void capture_sink(enum vlog_level level, const char *comp, const char *msg, void *ctx)
{
	size_t n = strlen(logbuf);

	(void)comp;
	(void)ctx;
	if (level <= VLOG_WARN && n < sizeof(logbuf) - 2)
		snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static bool port_open(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	close(fd);
	return ok;
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Starts nats-server -js on s->port with store s->dir; waits until it accepts connections. */
static bool nats_start(struct nsrv *s)
{
	char port[16], log[200];

	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(log, sizeof(log), "%s.log", s->dir);
	s->pid = fork();
	if (s->pid == 0) {
		sigset_t none;
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		/* the test's loop blocks SIGTERM; the server must get it */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		char cert[200], key[200], ca[200];
		const char *argv[24] = { "nats-server", "-a", "127.0.0.1", "-p", port, "-js",
					 "-sd", s->dir };
		int n = 8;

		if (s->user) {
			argv[n++] = "--user";
			argv[n++] = s->user;
			argv[n++] = "--pass";
			argv[n++] = s->pass;
		}
		if (s->token) {
			argv[n++] = "--auth";
			argv[n++] = s->token;
		}
		if (s->tls_dir) {
			snprintf(cert, sizeof(cert), "%s/server.pem", s->tls_dir);
			snprintf(key, sizeof(key), "%s/server.key", s->tls_dir);
			snprintf(ca, sizeof(ca), "%s/ca.pem", s->tls_dir);
			argv[n++] = "--tlsverify";
			argv[n++] = "--tlscert";
			argv[n++] = cert;
			argv[n++] = "--tlskey";
			argv[n++] = key;
			argv[n++] = "--tlscacert";
			argv[n++] = ca;
		}
		argv[n] = NULL;
		execvp("nats-server", (char **)argv);
		_exit(127);
	}
	if (s->pid < 0)
		return false;
	for (int i = 0; i < 200; i++) {
		if (port_open(s->port))
			return true;
		msleep(50);
	}
	return false;
}

/* Stops the server with @sig: SIGKILL for an abrupt loss (connections reset, nothing said),
 * SIGTERM for an orderly shutdown. */
static void nats_signal(struct nsrv *s, int sig)
{
	if (s->pid > 0) {
		kill(s->pid, sig);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

static void nats_stop(struct nsrv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

static bool nats_setup(struct nsrv *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/vigil-int-bus.XXXXXX");
	if (!mkdtemp(s->dir))
		return false;
	s->port = free_port();
	snprintf(s->url, sizeof(s->url), "nats://127.0.0.1:%d", s->port);
	return nats_start(s);
}

static void nats_teardown(struct nsrv *s)
{
	char cmd[300];

	nats_stop(s);
	if (s->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.log'", s->dir, s->dir);
		if (system(cmd))
			return;
	}
}

/* An event of about @size bytes: {"n":N,"pad":"xxx..."}. */
static size_t make_event(char *buf, size_t cap, int n, size_t size)
{
	int len = snprintf(buf, cap, "{\"n\":%d,\"pad\":\"", n);
	size_t l = (size_t)len;

	while (l + 2 < size && l + 3 < cap)
		buf[l++] = 'x';
	buf[l++] = '"';
	buf[l++] = '}';
	buf[l] = 0;
	return l;
}

/* The "n" of an event, or -1 when it is not valid JSON of that shape. */
static int event_n(const char *data, int len)
{
	json_error_t jerr;
	json_t *doc = json_loadb(data, (size_t)len, 0, &jerr);
	json_t *n = doc ? json_object_get(doc, "n") : NULL;
	int v = n && json_is_integer(n) ? (int)json_integer_value(n) : -1;

	json_decref(doc);
	return v;
}

static struct vbus *bus_open(struct vloop *loop, const char *app, const char *url,
			     const char *stream, const char *spool, uint64_t spool_max)
{
	struct vbus_cfg cfg = {
		.app_id = (char *)app,
		.nats_url = (char *)url,
		.jetstream = (char *)stream,
		.spool = (char *)spool,
		.spool_max = spool_max,
	};
	return vbus_open(&cfg, loop);
}

/* Polls the bus until its view of the connection is @up (libnats reports on its threads). */
static bool wait_connected(struct vbus *b, bool up)
{
	struct vbus_stats st;

	for (int i = 0; i < 400; i++) {
		vbus_flush(b, 0);
		vbus_get_stats(b, &st);
		if (st.connected == up)
			return true;
		msleep(25);
	}
	return false;
}

/*
 * Reads the whole stream @stream through a pull consumer and checks the events are exactly
 * n = 1..@want in order with distinct Nats-Msg-Id. Returns true when they are.
 */
static bool check_stream(const char *url, const char *stream, const char *filter, int want)
{
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	jsCtx *js = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	bool ok = false;
	int got = 0;
	char **ids = calloc((size_t)want + 1, sizeof(char *));

	if (!ASSERT_EQ(natsConnection_ConnectTo(&nc, url), NATS_OK, "checker connects") ||
	    !ASSERT_EQ(natsConnection_JetStream(&js, nc, NULL), NATS_OK, "checker js"))
		goto out;
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Config.AckPolicy = js_AckNone;
	if (!ASSERT_EQ(js_PullSubscribe(&sub, js, filter, "checker", NULL, &so, &jerr), NATS_OK,
		       "pull subscribe"))
		goto out;
	for (;;) {
		natsMsgList list = { 0 };
		natsStatus s = natsSubscription_Fetch(&list, sub, 1000, 500, &jerr);

		if (s == NATS_TIMEOUT)
			break;
		if (!ASSERT_EQ(s, NATS_OK, "fetch"))
			goto out;
		for (int i = 0; i < list.Count; i++) {
			natsMsg *m = list.Msgs[i];
			const char *id = NULL;
			int n = event_n(natsMsg_GetData(m), natsMsg_GetDataLength(m));

			got++;
			if (got > want) {
				ASSERT_LE(got, want, "no more events than sent");
				natsMsgList_Destroy(&list);
				goto out;
			}
			if (!ASSERT_EQ(n, got, "event order (n of the got-th stored event)")) {
				natsMsgList_Destroy(&list);
				goto out;
			}
			natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
			ids[got - 1] = id ? strdup(id) : NULL;
			if (!ASSERT_NOT_NULL(ids[got - 1], "Nats-Msg-Id header")) {
				natsMsgList_Destroy(&list);
				goto out;
			}
		}
		natsMsgList_Destroy(&list);
	}
	if (!ASSERT_EQ(got, want, "events in the stream"))
		goto out;
	ok = true;
	for (int i = 1; i < got && ok; i++)
		for (int j = i - 1; j >= 0 && j >= i - 50; j--)
			if (strcmp(ids[i], ids[j]) == 0)
				ok = ASSERT_TRUE(false, "distinct ids");
out:
	for (int i = 0; i < want; i++)
		free(ids[i]);
	free(ids);
	natsSubscription_Destroy(sub);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return ok;
}

static void test_core_publish(void)
{
	struct nsrv srv = { 0 };
	struct vloop *loop = NULL;
	struct vbus *b = NULL;
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	struct vbus_stats st;
	char spool[200], ev[300];
	const int N = 2000;

	if (!ASSERT_TRUE(nats_setup(&srv), "nats-server starts"))
		goto out;
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);
	if (!ASSERT_EQ(natsConnection_ConnectTo(&nc, srv.url), NATS_OK, "subscriber connects") ||
	    !ASSERT_EQ(natsConnection_SubscribeSync(&sub, nc, "core.>"), NATS_OK, "subscribe") ||
	    !ASSERT_EQ(natsConnection_Flush(nc), NATS_OK, "subscription registered"))
		goto out;
	loop = vloop_new();
	b = bus_open(loop, "core", srv.url, NULL, spool, 0);
	if (!ASSERT_NOT_NULL(b, "vbus_open"))
		goto out;
	for (int i = 1; i <= N; i++) {
		size_t len = make_event(ev, sizeof(ev), i, 256);
		if (!ASSERT_OK(vbus_publish(b, "rpc.call", ev, len), "publish"))
			goto out;
	}
	ASSERT_OK(vbus_flush(b, 10000), "flush");
	for (int i = 1; i <= N; i++) {
		natsMsg *m = NULL;
		if (!ASSERT_EQ(natsSubscription_NextMsg(&m, sub, 5000), NATS_OK, "receive"))
			goto out;
		ASSERT_STREQ(natsMsg_GetSubject(m), "core.rpc.call", "subject");
		if (!ASSERT_EQ(event_n(natsMsg_GetData(m), natsMsg_GetDataLength(m)), i, "order")) {
			natsMsg_Destroy(m);
			goto out;
		}
		natsMsg_Destroy(m);
	}
	{
		natsMsg *m = NULL;
		ASSERT_EQ(natsSubscription_NextMsg(&m, sub, 300), NATS_TIMEOUT, "nothing extra");
		natsMsg_Destroy(m);
	}
	vbus_get_stats(b, &st);
	ASSERT_EQ(st.published, N, "published");
	ASSERT_EQ(st.acked, N, "acked (sent on a live connection)");
	ASSERT_EQ(st.spooled, 0, "spooled");
	ASSERT_EQ(st.dropped, 0, "dropped");
	ASSERT_EQ(st.errors, 0, "errors");
	ASSERT_TRUE(st.connected, "connected");
	ASSERT_EQ(vbus_publish(b, "bad subject", "{}", 2), -EINVAL, "space in subject");
	ASSERT_EQ(vbus_publish(b, "a.*", "{}", 2), -EINVAL, "wildcard in subject");
	ASSERT_EQ(vbus_publish(b, "a..b", "{}", 2), -EINVAL, "empty token");
out:
	vbus_close(b);
	vloop_free(loop);
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(nc);
	nats_teardown(&srv);
}

static void test_jetstream_acks(void)
{
	struct nsrv srv = { 0 };
	struct vloop *loop = NULL;
	struct vbus *b = NULL;
	struct vbus_stats st;
	char spool[200], ev[300];
	const int N = 5000;

	if (!ASSERT_TRUE(nats_setup(&srv), "nats-server starts"))
		goto out;
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);
	loop = vloop_new();
	b = bus_open(loop, "jsa", srv.url, "JSA", spool, 0);
	if (!ASSERT_NOT_NULL(b, "vbus_open"))
		goto out;
	for (int i = 1; i <= N; i++) {
		size_t len = make_event(ev, sizeof(ev), i, 256);
		if (!ASSERT_OK(vbus_publish(b, "peers.ban", ev, len), "publish"))
			goto out;
	}
	if (!ASSERT_OK(vbus_flush(b, 20000), "flush: every event acked"))
		goto out;
	vbus_get_stats(b, &st);
	ASSERT_EQ(st.published, N, "published");
	ASSERT_EQ(st.acked, N, "acked");
	ASSERT_EQ(st.in_flight, 0, "in flight");
	ASSERT_EQ(st.spool_depth, 0, "spool empty");
	ASSERT_EQ(st.dropped, 0, "dropped");
	ASSERT_EQ(st.errors, 0, "errors");
	ASSERT_TRUE(check_stream(srv.url, "JSA", "jsa.>", N), "stream holds 1..N in order");
out:
	vbus_close(b);
	vloop_free(loop);
	nats_teardown(&srv);
}

static void test_outage_replay(void)
{
	struct nsrv srv = { 0 };
	struct vloop *loop = NULL;
	struct vbus *b = NULL;
	struct vbus_stats st;
	char spool[200], ev[300];
	const int BEFORE = 100, DURING = 10000;

	if (!ASSERT_TRUE(nats_setup(&srv), "nats-server starts"))
		goto out;
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);
	loop = vloop_new();
	vlog_set_sink(capture_sink, NULL);
	b = bus_open(loop, "out", srv.url, "OUT", spool, 0);
	if (!ASSERT_NOT_NULL(b, "vbus_open"))
		goto out;
	for (int i = 1; i <= BEFORE; i++)
		ASSERT_OK(vbus_publish(b, "watchdog.alert", ev, make_event(ev, sizeof(ev), i, 256)),
			  "publish before");
	ASSERT_OK(vbus_flush(b, 10000), "flush before the outage");

	/* killed, not shut down: the bus learns of it from a reset connection */
	nats_signal(&srv, SIGKILL);
	if (!ASSERT_TRUE(wait_connected(b, false), "bus notices the outage"))
		goto out;
	for (int i = BEFORE + 1; i <= BEFORE + DURING; i++) {
		if (!ASSERT_OK(vbus_publish(b, "watchdog.alert", ev,
					    make_event(ev, sizeof(ev), i, 256)),
			       "publish during the outage"))
			goto out;
	}
	vbus_get_stats(b, &st);
	ASSERT_EQ(st.spooled, DURING, "spooled while down");
	ASSERT_EQ(st.spool_depth, DURING, "spool depth");
	ASSERT_FALSE(st.connected, "not connected");
	ASSERT_STRCONTAINS(logbuf, "lost the connection", "outage logged");
	ASSERT_EQ(vbus_flush(b, 200), -ETIMEDOUT, "flush cannot finish while down");

	if (!ASSERT_TRUE(nats_start(&srv), "nats-server restarts on the same port and store"))
		goto out;
	if (!ASSERT_OK(vbus_flush(b, 60000), "flush after the restart"))
		goto out;
	vbus_get_stats(b, &st);
	ASSERT_EQ(st.replayed, DURING, "replayed");
	ASSERT_EQ(st.spool_depth, 0, "spool drained");
	ASSERT_EQ(st.dropped, 0, "nothing dropped");
	ASSERT_TRUE(st.connected, "connected again");
	ASSERT_TRUE(check_stream(srv.url, "OUT", "out.>", BEFORE + DURING),
		    "all events in order, no duplicates");
out:
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "captured log:\n%s", logbuf);
	vbus_close(b);
	vloop_free(loop);
	nats_teardown(&srv);
}

static void test_spool_bound_drops(void)
{
	struct nsrv srv = { 0 };
	struct vloop *loop = NULL;
	struct vbus *b = NULL;
	struct vbus_stats st;
	char spool[200], ev[300];
	const int BEFORE = 50, DURING = 500, FIT = 300;
	int refused = 0;

	if (!ASSERT_TRUE(nats_setup(&srv), "nats-server starts"))
		goto out;
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);
	loop = vloop_new();
	vlog_set_sink(capture_sink, NULL);
	/* every event is exactly 200 bytes: the bound holds FIT of them */
	b = bus_open(loop, "bnd", srv.url, "BND", spool, 200 * FIT);
	if (!ASSERT_NOT_NULL(b, "vbus_open"))
		goto out;
	for (int i = 1; i <= BEFORE; i++)
		ASSERT_OK(vbus_publish(b, "x", ev, make_event(ev, sizeof(ev), i, 200)), "publish");
	ASSERT_OK(vbus_flush(b, 10000), "flush before the outage");
	nats_stop(&srv);
	if (!ASSERT_TRUE(wait_connected(b, false), "bus notices the outage"))
		goto out;
	for (int i = BEFORE + 1; i <= BEFORE + DURING; i++) {
		size_t len = make_event(ev, sizeof(ev), i, 200);
		int err;

		if (!ASSERT_EQ(len, 200, "event size"))
			goto out;
		err = vbus_publish(b, "x", ev, len);
		if (err == -ENOSPC)
			refused++;
		else if (!ASSERT_OK(err, "publish during the outage"))
			goto out;
	}
	vbus_get_stats(b, &st);
	ASSERT_EQ(st.dropped, DURING - FIT, "dropped exactly the events over the bound");
	ASSERT_EQ(refused, DURING - FIT, "publish said -ENOSPC for each");
	ASSERT_EQ(st.spool_depth, FIT, "spool holds the bound");
	ASSERT_STRCONTAINS(logbuf, "--spool-max 60000", "warning names the option and bound");

	if (!ASSERT_TRUE(nats_start(&srv), "nats-server restarts"))
		goto out;
	if (!ASSERT_OK(vbus_flush(b, 30000), "flush after the restart"))
		goto out;
	/* the first FIT outage events made it; the later ones were the dropped ones */
	ASSERT_TRUE(check_stream(srv.url, "BND", "bnd.>", BEFORE + FIT), "the rest arrive");
out:
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "captured log:\n%s", logbuf);
	vbus_close(b);
	vloop_free(loop);
	nats_teardown(&srv);
}

static void test_jsonl_sink(void)
{
	char dir[] = "/tmp/vigil-int-jsonl.XXXXXX", path[200], line[4096], cmd[300];
	struct vbus_cfg cfg = { .app_id = "jl" };
	struct vloop *loop = vloop_new();
	struct vbus *b;
	FILE *f = NULL;
	int lines = 0;
	const int N = 300;

	if (!ASSERT_NOT_NULL(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/events.jsonl", dir);
	cfg.jsonl = path;
	b = vbus_open(&cfg, loop);
	if (!ASSERT_NOT_NULL(b, "vbus_open"))
		goto out;
	for (int i = 1; i <= N; i++) {
		char ev[300];
		int len = snprintf(ev, sizeof(ev),
				   "{\"n\":%d,\"s\":\"quote \\\" slash \\\\ nl \\n \\u00e9\"}", i);
		ASSERT_OK(vbus_publish(b, i % 2 ? "rpc.call" : "kaspa.peer", ev, (size_t)len),
			  "publish");
	}
	ASSERT_OK(vbus_flush(b, 1000), "flush");
	vbus_close(b);
	b = NULL;
	f = fopen(path, "r");
	if (!ASSERT_NOT_NULL(f, "jsonl file exists"))
		goto out;
	while (fgets(line, sizeof(line), f)) {
		json_error_t jerr;
		json_t *doc = json_loads(line, 0, &jerr);
		json_t *ev;

		lines++;
		if (!ASSERT_NOT_NULL(doc, "line is valid JSON"))
			break;
		ASSERT_STREQ(json_string_value(json_object_get(doc, "subject")),
			     lines % 2 ? "jl.rpc.call" : "jl.kaspa.peer", "subject");
		ASSERT_TRUE(json_is_string(json_object_get(doc, "id")), "id");
		ev = json_object_get(doc, "event");
		ASSERT_EQ(json_integer_value(json_object_get(ev, "n")), lines, "event in order");
		ASSERT_STREQ(json_string_value(json_object_get(ev, "s")),
			     "quote \" slash \\ nl \n \xc3\xa9", "event content intact");
		json_decref(doc);
	}
	ASSERT_EQ(lines, N, "one line per event");
out:
	if (f)
		fclose(f);
	vbus_close(b);
	vloop_free(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		return;
}

static void test_bad_credentials(void)
{
	struct nsrv srv = { .user = "vigil", .pass = "right" };
	struct vloop *loop = NULL;
	struct vbus *b = NULL;
	struct vbus_cfg cfg = { .app_id = "cred" };
	char spool[200];

	if (!ASSERT_TRUE(nats_setup(&srv), "nats-server starts"))
		goto out;
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);
	loop = vloop_new();
	cfg.nats_url = srv.url;
	cfg.spool = spool;
	cfg.nats_user = "vigil";
	cfg.nats_password = "wrong";
	logbuf[0] = 0;
	vlog_set_sink(capture_sink, NULL);
	errno = 0;
	b = vbus_open(&cfg, loop);
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "captured log:\n%s", logbuf);
	if (!ASSERT_TRUE(b == NULL, "wrong password refused"))
		goto out;
	ASSERT_EQ(errno, EACCES, "errno");
	ASSERT_STRCONTAINS(logbuf, srv.url, "message names the server");
	ASSERT_STRCONTAINS(logbuf, "--nats-password", "message says what to check");

	/* files that cannot be read are named in the error */
	cfg.nats_password = "right";
	cfg.nats_creds = "/nonexistent/vigil.creds";
	logbuf[0] = 0;
	vlog_set_sink(capture_sink, NULL);
	b = vbus_open(&cfg, loop);
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "captured log:\n%s", logbuf);
	if (!ASSERT_TRUE(b == NULL, "missing creds file refused"))
		goto out;
	ASSERT_STRCONTAINS(logbuf, "/nonexistent/vigil.creds", "names the creds file");
	cfg.nats_creds = NULL;
	cfg.nats_tls_ca = "/nonexistent/ca.pem";
	logbuf[0] = 0;
	vlog_set_sink(capture_sink, NULL);
	b = vbus_open(&cfg, loop);
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "captured log:\n%s", logbuf);
	if (!ASSERT_TRUE(b == NULL, "missing CA file refused"))
		goto out;
	ASSERT_STRCONTAINS(logbuf, "/nonexistent/ca.pem", "names the CA file");
	cfg.nats_tls_ca = NULL;

	/* the right password works, which shows the refusal was about the password */
	cfg.nats_password = "right";
	b = vbus_open(&cfg, loop);
	if (ASSERT_NOT_NULL(b, "right password accepted")) {
		ASSERT_OK(vbus_publish(b, "ok", "{}", 2), "publish");
		ASSERT_OK(vbus_flush(b, 5000), "flush");
	}
out:
	vbus_close(b);
	vloop_free(loop);
	nats_teardown(&srv);
}

static void test_unreachable_then_restart(void)
{
	struct nsrv srv = { 0 };
	struct vloop *loop = vloop_new();
	struct vbus *b = NULL;
	struct vbus_cfg cfg = { .app_id = "unr" };
	struct vbus_stats st;
	struct vspool *sp;
	char spool[200], ev[300];

	snprintf(srv.dir, sizeof(srv.dir), "/tmp/vigil-int-bus.XXXXXX");
	if (!ASSERT_NOT_NULL(mkdtemp(srv.dir), "mkdtemp"))
		goto out;
	srv.port = free_port();
	snprintf(srv.url, sizeof(srv.url), "nats://127.0.0.1:%d", srv.port);
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);

	/* a malformed URL is an error */
	cfg.nats_url = "nats://[::1";
	cfg.spool = spool;
	logbuf[0] = 0;
	vlog_set_sink(capture_sink, NULL);
	b = vbus_open(&cfg, loop);
	ASSERT_TRUE(b == NULL, "malformed URL refused");
	ASSERT_STRCONTAINS(logbuf, "nats://[::1", "message names the URL");

	/* nothing listening: the bus opens, warns and spools */
	logbuf[0] = 0;
	cfg.nats_url = srv.url;
	cfg.jetstream = "UNR";
	b = vbus_open(&cfg, loop);
	vlog_set_sink(NULL, NULL);
	if (!ASSERT_NOT_NULL(b, "opens with the server down"))
		goto out;
	ASSERT_STRCONTAINS(logbuf, "not reachable yet", "warning says it is down");
	ASSERT_STRCONTAINS(logbuf, spool, "warning names the spool");
	for (int i = 1; i <= 10; i++)
		ASSERT_OK(vbus_publish(b, "e", ev, make_event(ev, sizeof(ev), i, 100)), "publish");
	vbus_get_stats(b, &st);
	ASSERT_FALSE(st.connected, "not connected");
	ASSERT_EQ(st.spool_depth, 10, "spooled");
	vbus_close(b);
	b = NULL;

	/* the spool outlives the process; a later run sends it first */
	sp = vspool_open(spool, 0);
	if (ASSERT_NOT_NULL(sp, "spool readable")) {
		ASSERT_EQ(vspool_rows(sp), 10, "events kept on close");
		vspool_close(sp);
	}
	if (!ASSERT_TRUE(nats_start(&srv), "nats-server starts"))
		goto out;
	b = vbus_open(&cfg, loop);
	if (!ASSERT_NOT_NULL(b, "reopen"))
		goto out;
	for (int i = 11; i <= 20; i++)
		ASSERT_OK(vbus_publish(b, "e", ev, make_event(ev, sizeof(ev), i, 100)), "publish");
	ASSERT_OK(vbus_flush(b, 20000), "flush");
	ASSERT_TRUE(check_stream(srv.url, "UNR", "unr.>", 20), "old events first, then new");
out:
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "captured log:\n%s", logbuf);
	vbus_close(b);
	vloop_free(loop);
	nats_teardown(&srv);
}

/*
 * Core NATS: events spooled while the server was away are replayed in order once it is back.
 * The bus replays only on its own thread (here: inside vbus_flush), so the subscriber is in
 * place before the first replayed event leaves.
 */
static void test_core_replay(void)
{
	struct nsrv srv = { 0 };
	struct vloop *loop = vloop_new();
	struct vbus *b = NULL;
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	struct vbus_stats st;
	char spool[200], ev[300], last_id[64] = "";
	const char *id = NULL;
	const int N = 3000;

	snprintf(srv.dir, sizeof(srv.dir), "/tmp/vigil-int-bus.XXXXXX");
	if (!ASSERT_NOT_NULL(mkdtemp(srv.dir), "mkdtemp"))
		goto out;
	srv.port = free_port();
	snprintf(srv.url, sizeof(srv.url), "nats://127.0.0.1:%d", srv.port);
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);
	vlog_set_sink(capture_sink, NULL);
	b = bus_open(loop, "crp", srv.url, NULL, spool, 0);
	vlog_set_sink(NULL, NULL);
	if (!ASSERT_NOT_NULL(b, "opens with the server down"))
		goto out;
	for (int i = 1; i <= N; i++)
		ASSERT_OK(vbus_publish(b, "mesh.link", ev, make_event(ev, sizeof(ev), i, 256)),
			  "publish while down");
	vbus_get_stats(b, &st);
	ASSERT_EQ(st.spooled, N, "spooled");
	if (!ASSERT_TRUE(nats_start(&srv), "nats-server starts"))
		goto out;
	if (!ASSERT_EQ(natsConnection_ConnectTo(&nc, srv.url), NATS_OK, "subscriber connects") ||
	    !ASSERT_EQ(natsConnection_SubscribeSync(&sub, nc, "crp.>"), NATS_OK, "subscribe") ||
	    !ASSERT_EQ(natsConnection_Flush(nc), NATS_OK, "subscription registered"))
		goto out;
	if (!ASSERT_OK(vbus_flush(b, 20000), "flush replays the spool"))
		goto out;
	for (int i = 1; i <= N; i++) {
		natsMsg *m = NULL;
		if (!ASSERT_EQ(natsSubscription_NextMsg(&m, sub, 5000), NATS_OK, "receive"))
			goto out;
		if (!ASSERT_EQ(event_n(natsMsg_GetData(m), natsMsg_GetDataLength(m)), i, "order")) {
			natsMsg_Destroy(m);
			goto out;
		}
		/* replayed core events carry their id, so duplicates can be dropped */
		if (!ASSERT_EQ(natsMsgHeader_Get(m, "Nats-Msg-Id", &id), NATS_OK, "id header") ||
		    !ASSERT_TRUE(strcmp(id, last_id) != 0, "ids differ")) {
			natsMsg_Destroy(m);
			goto out;
		}
		snprintf(last_id, sizeof(last_id), "%s", id);
		natsMsg_Destroy(m);
	}
	vbus_get_stats(b, &st);
	ASSERT_EQ(st.replayed, N, "replayed");
	ASSERT_EQ(st.spool_depth, 0, "spool drained after the round trip");
out:
	vbus_close(b);
	vloop_free(loop);
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(nc);
	nats_teardown(&srv);
}

/*
 * The server goes away while events are in flight (published, not yet acked): those go back to
 * the spool ahead of newer ones, and after the restart the stream holds every event once, in
 * order (what the server had stored already is de-duplicated by Nats-Msg-Id).
 */
static void test_outage_in_flight(void)
{
	struct nsrv srv = { 0 };
	struct vloop *loop = NULL;
	struct vbus *b = NULL;
	struct vbus_stats st;
	char spool[200], ev[300];
	const int N = 6000;

	if (!ASSERT_TRUE(nats_setup(&srv), "nats-server starts"))
		goto out;
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);
	loop = vloop_new();
	b = bus_open(loop, "ifl", srv.url, "IFL", spool, 0);
	if (!ASSERT_NOT_NULL(b, "vbus_open"))
		goto out;
	for (int i = 1; i <= N / 2; i++)
		ASSERT_OK(vbus_publish(b, "e", ev, make_event(ev, sizeof(ev), i, 256)), "publish");
	vbus_get_stats(b, &st);
	fprintf(stderr, "in flight when the server stops: %llu\n",
		(unsigned long long)st.in_flight);
	nats_stop(&srv);
	for (int i = N / 2 + 1; i <= N; i++)
		ASSERT_OK(vbus_publish(b, "e", ev, make_event(ev, sizeof(ev), i, 256)), "publish");
	if (!ASSERT_TRUE(nats_start(&srv), "nats-server restarts"))
		goto out;
	/* the server goes away again while the replay is under way */
	if (!ASSERT_TRUE(wait_connected(b, true), "bus reconnects"))
		goto out;
	vbus_flush(b, 30);
	vbus_get_stats(b, &st);
	fprintf(stderr, "spool depth when the server stops again: %llu, in flight %llu\n",
		(unsigned long long)st.spool_depth, (unsigned long long)st.in_flight);
	nats_stop(&srv);
	for (int i = N + 1; i <= N + 1000; i++)
		ASSERT_OK(vbus_publish(b, "e", ev, make_event(ev, sizeof(ev), i, 256)), "publish");
	if (!ASSERT_TRUE(nats_start(&srv), "nats-server restarts again"))
		goto out;
	if (!ASSERT_OK(vbus_flush(b, 60000), "flush after the restart"))
		goto out;
	vbus_get_stats(b, &st);
	ASSERT_EQ(st.spool_depth, 0, "spool drained");
	ASSERT_EQ(st.dropped, 0, "nothing dropped");
	ASSERT_TRUE(check_stream(srv.url, "IFL", "ifl.>", N + 1000), "every event once, in order");
out:
	vbus_close(b);
	vloop_free(loop);
	nats_teardown(&srv);
}

/*
 * A stream that exists but does not take the bus's subjects: a clear warning at connect, the
 * refused events stay in the spool (nothing lost), and once the operator fixes the stream they
 * arrive, in order.
 */
static void test_stream_wrong_subjects(void)
{
	struct nsrv srv = { 0 };
	struct vloop *loop = NULL;
	struct vbus *b = NULL;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamConfig sc;
	struct vbus_stats st;
	const char *other[] = { "other.>" }, *fixed[] = { "other.>", "wsb.>" };
	char spool[200], ev[300];

	if (!ASSERT_TRUE(nats_setup(&srv), "nats-server starts"))
		goto out;
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);
	if (!ASSERT_EQ(natsConnection_ConnectTo(&nc, srv.url), NATS_OK, "admin connects") ||
	    !ASSERT_EQ(natsConnection_JetStream(&js, nc, NULL), NATS_OK, "admin js"))
		goto out;
	jsStreamConfig_Init(&sc);
	sc.Name = "WSB";
	sc.Subjects = other;
	sc.SubjectsLen = 1;
	if (!ASSERT_EQ(js_AddStream(NULL, js, &sc, NULL, NULL), NATS_OK, "stream for other.>"))
		goto out;
	loop = vloop_new();
	logbuf[0] = 0;
	vlog_set_sink(capture_sink, NULL);
	b = bus_open(loop, "wsb", srv.url, "WSB", spool, 0);
	if (!ASSERT_NOT_NULL(b, "vbus_open"))
		goto out;
	ASSERT_STRCONTAINS(logbuf, "takes subjects [other.>], not wsb.>", "warning at connect");
	for (int i = 1; i <= 5; i++)
		ASSERT_OK(vbus_publish(b, "e", ev, make_event(ev, sizeof(ev), i, 100)), "publish");
	ASSERT_EQ(vbus_flush(b, 1500), -ETIMEDOUT, "refused events are not confirmed");
	vbus_get_stats(b, &st);
	ASSERT_GE(st.errors, 1, "refusals counted");
	ASSERT_EQ(st.spool_depth + st.in_flight, 5, "refused events kept");
	ASSERT_STRCONTAINS(logbuf, "JetStream refused or did not ack", "refusal logged");

	sc.Subjects = fixed;
	sc.SubjectsLen = 2;
	if (!ASSERT_EQ(js_UpdateStream(NULL, js, &sc, NULL, NULL), NATS_OK, "operator fixes it"))
		goto out;
	if (!ASSERT_OK(vbus_flush(b, 20000), "flush after the fix"))
		goto out;
	ASSERT_TRUE(check_stream(srv.url, "WSB", "wsb.>", 5), "events arrive in order");
out:
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "captured log:\n%s", logbuf);
	vbus_close(b);
	vloop_free(loop);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_teardown(&srv);
}

/*
 * Acks that never come: the stream TMO exists but takes other subjects, and a plain subscriber
 * (which answers nothing) listens on the bus's subjects, so every publish waits for its ack until
 * --nats-timeout. The events must stay in the bus and reach the stream once it takes them.
 */
static void test_ack_timeout(void)
{
	struct nsrv srv = { 0 };
	struct vloop *loop = NULL;
	struct vbus *b = NULL;
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	jsCtx *js = NULL;
	jsStreamConfig sc;
	struct vbus_stats st;
	struct vbus_cfg cfg = { .app_id = "tmo", .jetstream = "TMO", .timeout_ns = 300000000ull };
	const char *other[] = { "other.>" }, *fixed[] = { "other.>", "tmo.>" };
	char spool[200], ev[300];

	if (!ASSERT_TRUE(nats_setup(&srv), "nats-server starts"))
		goto out;
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);
	cfg.nats_url = srv.url;
	cfg.spool = spool;
	if (!ASSERT_EQ(natsConnection_ConnectTo(&nc, srv.url), NATS_OK, "admin connects") ||
	    !ASSERT_EQ(natsConnection_JetStream(&js, nc, NULL), NATS_OK, "admin js"))
		goto out;
	jsStreamConfig_Init(&sc);
	sc.Name = "TMO";
	sc.Subjects = other;
	sc.SubjectsLen = 1;
	if (!ASSERT_EQ(js_AddStream(NULL, js, &sc, NULL, NULL), NATS_OK, "stream for other.>") ||
	    !ASSERT_EQ(natsConnection_SubscribeSync(&sub, nc, "tmo.>"), NATS_OK, "silent sub") ||
	    !ASSERT_EQ(natsConnection_Flush(nc), NATS_OK, "flush"))
		goto out;
	loop = vloop_new();
	logbuf[0] = 0;
	vlog_set_sink(capture_sink, NULL);
	b = vbus_open(&cfg, loop);
	if (!ASSERT_NOT_NULL(b, "vbus_open"))
		goto out;
	for (int i = 1; i <= 20; i++)
		ASSERT_OK(vbus_publish(b, "e", ev, make_event(ev, sizeof(ev), i, 100)), "publish");
	ASSERT_EQ(vbus_flush(b, 1000), -ETIMEDOUT, "no ack, no confirmation");
	vbus_get_stats(b, &st);
	ASSERT_GE(st.errors, 1, "timeouts counted");
	ASSERT_EQ(st.acked, 0, "nothing acked");
	ASSERT_STRCONTAINS(logbuf, "did not ack events (NATS", "timeout logged");
	ASSERT_STRCONTAINS(logbuf, "Timeout", "says it timed out");

	natsSubscription_Unsubscribe(sub);
	sc.Subjects = fixed;
	sc.SubjectsLen = 2;
	if (!ASSERT_EQ(js_UpdateStream(NULL, js, &sc, NULL, NULL), NATS_OK, "stream takes tmo.>"))
		goto out;
	if (!ASSERT_OK(vbus_flush(b, 20000), "flush once the stream takes them"))
		goto out;
	vbus_get_stats(b, &st);
	ASSERT_EQ(st.acked, 20, "all acked");
	ASSERT_TRUE(check_stream(srv.url, "TMO", "tmo.>", 20), "all events, in order, once");
out:
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "captured log:\n%s", logbuf);
	vbus_close(b);
	vloop_free(loop);
	natsSubscription_Destroy(sub);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_teardown(&srv);
}

/* Token authentication: a wrong token is refused with a hint, the right one works. */
static void test_token(void)
{
	struct nsrv srv = { .token = "s3cret" };
	struct vloop *loop = vloop_new();
	struct vbus *b = NULL;
	struct vbus_cfg cfg = { .app_id = "tok", .nats_token = "wrong" };
	char spool[200];

	if (!ASSERT_TRUE(nats_setup(&srv), "nats-server starts"))
		goto out;
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);
	cfg.nats_url = srv.url;
	cfg.spool = spool;
	logbuf[0] = 0;
	vlog_set_sink(capture_sink, NULL);
	b = vbus_open(&cfg, loop);
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "captured log:\n%s", logbuf);
	if (!ASSERT_TRUE(b == NULL, "wrong token refused"))
		goto out;
	ASSERT_EQ(errno, EACCES, "errno");
	ASSERT_STRCONTAINS(logbuf, "--nats-token", "hint names the option");
	cfg.nats_token = "s3cret";
	b = vbus_open(&cfg, loop);
	if (!ASSERT_NOT_NULL(b, "right token accepted"))
		goto out;
	ASSERT_OK(vbus_publish(b, "e", "{}", 2), "publish");
	ASSERT_OK(vbus_flush(b, 5000), "flush");
out:
	vbus_close(b);
	vloop_free(loop);
	nats_teardown(&srv);
}

/*
 * TLS with client certificates (nats-server --tlsverify), certificates made here with openssl:
 * the right CA and client certificate connect and get acks; no client certificate and an unknown
 * CA are clear errors.
 */
static bool make_certs(const char *d)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && exec >openssl.log 2>&1 && "
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=vigil-test-ca "
		 "-keyout ca.key -out ca.pem && "
		 "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
		 "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key "
		 "-out server.csr && "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		 "-days 2 -extfile san.ext -out server.pem && "
		 "openssl req -newkey rsa:2048 -nodes -subj /CN=vigil -keyout client.key "
		 "-out client.csr && "
		 "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		 "-days 2 -out client.pem && "
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca "
		 "-keyout other.key -out other.pem", d);
	return system(cmd) == 0;
}

static void test_tls(void)
{
	struct nsrv srv = { 0 };
	struct vloop *loop = vloop_new();
	struct vbus *b = NULL;
	struct vbus_cfg cfg = { .app_id = "tls", .jetstream = "TLS", .nats_tls = true };
	struct vbus_stats st;
	char tls[128] = "", ca[200], cert[200], key[200], other[200], spool[200], cmd[300];

	if (system("command -v openssl >/dev/null 2>&1")) {
		TEST_SKIP("openssl not installed (scripts/deps installs it)");
		goto out;
	}
	snprintf(tls, sizeof(tls), "/tmp/vigil-int-tls.XXXXXX");
	if (!ASSERT_NOT_NULL(mkdtemp(tls), "mkdtemp"))
		goto out;
	if (!ASSERT_TRUE(make_certs(tls), "openssl makes the certificates"))
		goto out;
	snprintf(ca, sizeof(ca), "%s/ca.pem", tls);
	snprintf(cert, sizeof(cert), "%s/client.pem", tls);
	snprintf(key, sizeof(key), "%s/client.key", tls);
	snprintf(other, sizeof(other), "%s/other.pem", tls);
	srv.tls_dir = tls;
	if (!ASSERT_TRUE(nats_setup(&srv), "nats-server starts with TLS"))
		goto out;
	snprintf(spool, sizeof(spool), "%s/spool.db", srv.dir);
	cfg.nats_url = srv.url;
	cfg.spool = spool;

	/* no client certificate: the server refuses the handshake */
	cfg.nats_tls_ca = ca;
	logbuf[0] = 0;
	vlog_set_sink(capture_sink, NULL);
	b = vbus_open(&cfg, loop);
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "captured log:\n%s", logbuf);
	if (!ASSERT_TRUE(b == NULL, "no client certificate refused"))
		goto out;
	ASSERT_STRCONTAINS(logbuf, srv.url, "names the server");

	/* a CA that did not sign the server's certificate */
	cfg.nats_tls_ca = other;
	cfg.nats_tls_cert = cert;
	cfg.nats_tls_key = key;
	logbuf[0] = 0;
	vlog_set_sink(capture_sink, NULL);
	b = vbus_open(&cfg, loop);
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "captured log:\n%s", logbuf);
	if (!ASSERT_TRUE(b == NULL, "unknown CA refused"))
		goto out;
	ASSERT_STRCONTAINS(logbuf, "--nats-tls", "says what to check");

	/* the right CA and client certificate */
	cfg.nats_tls_ca = ca;
	b = vbus_open(&cfg, loop);
	if (!ASSERT_NOT_NULL(b, "TLS with client certificate"))
		goto out;
	for (int i = 1; i <= 100; i++) {
		char ev[64];
		int len = snprintf(ev, sizeof(ev), "{\"n\":%d}", i);
		ASSERT_OK(vbus_publish(b, "e", ev, (size_t)len), "publish");
	}
	ASSERT_OK(vbus_flush(b, 10000), "flush");
	vbus_get_stats(b, &st);
	ASSERT_EQ(st.acked, 100, "acked over TLS");
out:
	vbus_close(b);
	vloop_free(loop);
	nats_teardown(&srv);
	if (!tls[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tls);
	if (system(cmd))
		return;
}

TESTS(T(test_core_publish), T(test_core_replay), T(test_jetstream_acks), T(test_outage_replay),
      T(test_outage_in_flight), T(test_spool_bound_drops), T(test_stream_wrong_subjects),
      T(test_ack_timeout), T(test_jsonl_sink), T(test_bad_credentials),
      T(test_token), T(test_unreachable_then_restart), T(test_tls))
