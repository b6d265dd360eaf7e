// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fetching over real sockets: a stand-in node (peers_server.py, Python's http.server plus
 * AF_UNIX sockets speaking geth's IPC framing) serves the recorded fixtures and the failure
 * cases on a free loopback port and in a temp dir; the fetch layer must get every answer or a
 * clear error: timeouts, HTML 502 pages, empty and oversized bodies, refused connections,
 * missing or stale IPC sockets, a connection closed mid-answer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "test.h"
#include "../fetch.h"
#include "../view.h"
#include "../watch.h"
#include <jansson.h>

struct server {
	pid_t pid;
	int port;
	char dir[64];
	char http[64];
};

static const char *const ipc_modes[] = { "plain", "drip", "close", "silent", "big", "text" };

/* Starts peers_server.py with one IPC socket per mode; waits for its READY line. */
static bool server_start(struct server *s)
{
	const char *root = getenv("VIGIL_ROOT") ? getenv("VIGIL_ROOT") : ".";
	char script[512], fix[512], paths[6][128], line[64] = "";
	int pfd[2];
	FILE *f;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/vigil-peers-XXXXXX");
	if (!ASSERT_NOT_NULL(mkdtemp(s->dir), "mkdtemp") || !ASSERT_OK(pipe(pfd), "pipe"))
		return false;
	snprintf(script, sizeof(script), "%s/peers/tests/peers_server.py", root);
	snprintf(fix, sizeof(fix), "%s/peers/tests/fixtures", root);
	for (int i = 0; i < 6; i++)
		snprintf(paths[i], sizeof(paths[i]), "%s/%s.ipc", s->dir, ipc_modes[i]);
	s->pid = fork();
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 1);
		close(pfd[0]);
		execlp("python3", "python3", script, fix, paths[0], paths[1], paths[2], paths[3],
		       paths[4], paths[5], (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "READY %d", &s->port) != 1) {
		test__fail(__FILE__, __LINE__, "peers_server.py did not start (got \"%s\")", line);
		if (f)
			fclose(f);
		return false;
	}
	fclose(f);
	snprintf(s->http, sizeof(s->http), "http://127.0.0.1:%d", s->port);
	return true;
}

static void server_stop(struct server *s)
{
	char path[160];

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "%s/%s.ipc", s->dir, ipc_modes[i]);
		unlink(path);
	}
	if (s->dir[0])
		rmdir(s->dir);
}

static struct peers_conn *conn(const struct server *s, const char *suffix, uint64_t timeout_ms,
			       size_t max)
{
	char target[256];

	snprintf(target, sizeof(target), "%s%s", suffix[0] == '/' && suffix[1] != 0 &&
		 strstr(suffix, ".ipc") ? "" : s->http, suffix);
	return peers_conn_new(target, timeout_ms, max);
}

static char *ipc_path(const struct server *s, const char *mode, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s.ipc", s->dir, mode);
	return buf;
}

static void test_http_rpc(void)
{
	struct server s;
	struct peers_conn *c = NULL;
	struct vbuf b = VBUF_INIT;
	struct peer_list l;
	char err[PEERS_ERRLEN] = "";
	uint64_t n = 0;

	peer_list_init(&l);
	if (!server_start(&s))
		goto out;
	c = conn(&s, "/", 5000, 0);
	if (!ASSERT_NOT_NULL(c, "conn"))
		goto out;
	ASSERT_FALSE(peers_conn_is_ipc(c), "http");
	if (!ASSERT_OK(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), err))
		goto out;
	ASSERT_OK(peers_parse_admin_peers(b.data, b.len, &l, err, sizeof(err)), err);
	ASSERT_EQ(l.n, 5, "geth's peers");
	ASSERT_OK(peers_rpc_call(c, "net_peerCount", "[]", &b, err, sizeof(err)), err);
	ASSERT_STRCONTAINS(b.data, "\"id\": 2", "request ids count up on one connection");
	ASSERT_OK(peers_parse_net_peer_count(b.data, b.len, &n, err, sizeof(err)), err);
	ASSERT_EQ(n, 50, "count");
	ASSERT_OK(peers_rpc_call(c, "eth_blockNumber", NULL, &b, err, sizeof(err)), err);
	ASSERT_STRCONTAINS(b.data, "-32601", "unknown method answered by the server, as JSON");
out:
	peer_list_free(&l);
	vbuf_free(&b);
	peers_conn_free(c);
	server_stop(&s);
}

static void test_http_admin_disabled(void)
{
	struct server s;
	struct peers_conn *c = NULL;
	struct vbuf b = VBUF_INIT;
	struct peer_list l;
	char err[PEERS_ERRLEN] = "";

	peer_list_init(&l);
	if (!server_start(&s))
		goto out;
	c = conn(&s, "/admin-off", 5000, 0);
	if (!ASSERT_NOT_NULL(c, "conn") ||
	    !ASSERT_OK(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), err))
		goto out;
	ASSERT_EQ(peers_parse_admin_peers(b.data, b.len, &l, err, sizeof(err)), -EOPNOTSUPP, "rc");
	ASSERT_STRCONTAINS(err, "geth --http.api admin,eth,net,web3", "hint");
out:
	vbuf_free(&b);
	peers_conn_free(c);
	server_stop(&s);
}

static void test_beacon_get(void)
{
	struct server s;
	struct peers_conn *c = NULL;
	struct vbuf b = VBUF_INIT;
	struct peer_list l;
	char err[PEERS_ERRLEN] = "";
	struct beacon_peer_count pc;

	peer_list_init(&l);
	if (!server_start(&s))
		goto out;
	c = conn(&s, "/", 5000, 0); /* trailing '/' of the base URL is dropped */
	if (!ASSERT_NOT_NULL(c, "conn"))
		goto out;
	ASSERT_OK(peers_beacon_get(c, "/eth/v1/node/peers?state=connected", &b, err, sizeof(err)),
		  err);
	ASSERT_OK(peers_parse_beacon_peers(b.data, b.len, PEERS_CONNECTED_ONLY, &l, err,
					   sizeof(err)), err);
	ASSERT_EQ(l.n, 3, "server ignored the filter, the parser did not");
	ASSERT_OK(peers_beacon_get(c, "/eth/v1/node/peer_count", &b, err, sizeof(err)), err);
	ASSERT_OK(peers_parse_beacon_peer_count(b.data, b.len, &pc, err, sizeof(err)), err);
	ASSERT_EQ(pc.connected, 70, "connected");
	ASSERT_OK(peers_beacon_get(c, "/eth/v1/node/nope", &b, err, sizeof(err)),
		  "a 404 with a JSON body is handed to the parser");
	ASSERT_EQ(peers_parse_beacon_version(b.data, b.len, err, sizeof(err), err, sizeof(err)),
		  -EREMOTEIO, "parser reports the error object");
	ASSERT_STRCONTAINS(err, "error 404: Route not found", "message");
out:
	peer_list_free(&l);
	vbuf_free(&b);
	peers_conn_free(c);
	server_stop(&s);
}

static void test_collect(void)
{
	struct server s;
	struct peers_conn *e = NULL, *cl = NULL;
	struct peers_snapshot snap;
	char ipc[160];

	peers_snapshot_init(&snap);
	if (!server_start(&s))
		goto out;
	e = peers_conn_new(ipc_path(&s, "plain", ipc, sizeof(ipc)), 5000, 0);
	cl = conn(&s, "", 5000, 0);
	if (!ASSERT_NOT_NULL(e, "exec") || !ASSERT_NOT_NULL(cl, "cons"))
		goto out;
	ASSERT_OK(peers_collect(&snap, e, cl, 0), snap.side[0].error[0] ? snap.side[0].error
								       : snap.side[1].error);
	ASSERT_TRUE(snap.side[0].up && snap.side[1].up, "both up");
	ASSERT_EQ(snap.peers.n, 5 + 3, "peers of both sides, connected only");
	ASSERT_STREQ(snap.side[0].version, "Geth/v1.14.11-stable-f3c696fa/linux-amd64/go1.23.2",
		     "exec version");
	ASSERT_STREQ(snap.side[1].version, "Prysm/v5.1.2 (linux amd64)", "cons version");
	ASSERT_EQ(snap.side[0].peer_count, 50, "net_peerCount");
	ASSERT_EQ(snap.side[0].sync_distance, 0x13c3b12 - 0x13c3a5a, "exec distance");
	ASSERT_TRUE(snap.side[0].syncing, "exec syncing");
	ASSERT_EQ(snap.side[1].head, 10341245, "cons head");
	ASSERT_OK(peers_collect(&snap, e, cl, PEERS_COLLECT_ALL_STATES), "all states");
	ASSERT_EQ(snap.peers.n, 5 + 5, "disconnected beacon peers kept on request");
	peers_conn_free(e);
	e = conn(&s, "/admin-off", 5000, 0);
	ASSERT_EQ(peers_collect(&snap, e, NULL, 0), -EOPNOTSUPP, "admin off");
	ASSERT_FALSE(snap.side[0].up, "exec down");
	ASSERT_TRUE(snap.side[0].admin_disabled, "flagged");
	ASSERT_TRUE(snap.side[0].has_peer_count, "net_peerCount still asked");
	ASSERT_FALSE(snap.side[1].enabled, "no consensus endpoint");
	ASSERT_STRCONTAINS(snap.side[0].error, "enable the admin API", "first error kept");
out:
	peers_snapshot_free(&snap);
	peers_conn_free(e);
	peers_conn_free(cl);
	server_stop(&s);
}

static void test_http_failures(void)
{
	struct server s;
	struct peers_conn *c = NULL;
	struct vbuf b = VBUF_INIT;
	char err[PEERS_ERRLEN] = "";
	int rc;

	if (!server_start(&s))
		goto out;
	c = conn(&s, "/slow", 300, 0);
	rc = peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err));
	ASSERT_EQ(rc, -ETIMEDOUT, "slow");
	ASSERT_STRCONTAINS(err, "within 300 ms", err);
	peers_conn_free(c);

	c = conn(&s, "/html502", 2000, 0);
	rc = peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err));
	ASSERT_EQ(rc, -EBADMSG, "html");
	ASSERT_STRCONTAINS(err, "/html502: HTTP 502 with text/html body, not JSON", err);
	peers_conn_free(c);

	c = conn(&s, "/empty", 2000, 0);
	ASSERT_EQ(peers_beacon_get(c, "", &b, err, sizeof(err)), -EBADMSG, "empty");
	ASSERT_STRCONTAINS(err, "HTTP 200 with an empty body", err);
	peers_conn_free(c);

	c = conn(&s, "/big", 5000, 1 << 20);
	ASSERT_EQ(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), -EFBIG, "big");
	ASSERT_STRCONTAINS(err, "larger than 1048576 bytes", err);
	peers_conn_free(c);
	c = conn(&s, "/big", 10000, 0);
	ASSERT_EQ(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), -EFBIG,
		  "20 MiB over the default 16 MiB cap");
	ASSERT_STRCONTAINS(err, "larger than 16777216 bytes", err);
	peers_conn_free(c);
	c = conn(&s, "/bigchunked", 10000, 1 << 20);
	ASSERT_EQ(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), -EFBIG,
		  "chunked, no Content-Length");
	ASSERT_LE(b.len, 1 << 20, "never held more than the cap");
out:
	peers_conn_free(c);
	vbuf_free(&b);
	server_stop(&s);
}

static void test_http_refused(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char target[64], err[PEERS_ERRLEN] = "";
	struct peers_conn *c;
	struct vbuf b = VBUF_INIT;

	/* a port that was free a moment ago and has no listener */
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	snprintf(target, sizeof(target), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	c = peers_conn_new(target, 2000, 0);
	ASSERT_EQ(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), -ECONNREFUSED, err);
	ASSERT_STRCONTAINS(err, "cannot connect", err);
	ASSERT_STRCONTAINS(err, "is the node running", err);
	peers_conn_free(c);
	vbuf_free(&b);
}

static void test_ipc(void)
{
	struct server s;
	struct peers_conn *c = NULL;
	struct vbuf b = VBUF_INIT;
	struct peer_list l;
	char err[PEERS_ERRLEN] = "", path[160], target[200];

	peer_list_init(&l);
	if (!server_start(&s))
		goto out;
	static const char *const forms[] = { "%s", "ipc://%s", "unix:%s" };
	for (int f = 0; f < 3; f++) {
		snprintf(target, sizeof(target), forms[f], ipc_path(&s, f == 1 ? "drip" : "plain",
								     path, sizeof(path)));
		c = peers_conn_new(target, 5000, 0);
		if (!ASSERT_NOT_NULL(c, target) || !ASSERT_TRUE(peers_conn_is_ipc(c), "ipc"))
			goto out;
		for (int call = 0; call < 2; call++) {
			if (!ASSERT_OK(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)),
				       err))
				goto out;
			ASSERT_OK(peers_parse_admin_peers(b.data, b.len, &l, err, sizeof(err)), err);
		}
		peers_conn_free(c);
		c = NULL;
	}
	ASSERT_EQ(l.n, 3 * 2 * 5, "every call got all five peers, dripped or not");
out:
	peer_list_free(&l);
	peers_conn_free(c);
	vbuf_free(&b);
	server_stop(&s);
}

static void test_ipc_failures(void)
{
	struct server s;
	struct peers_conn *c = NULL;
	struct vbuf b = VBUF_INIT;
	char err[PEERS_ERRLEN] = "", path[160];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = -1;

	if (!server_start(&s))
		goto out;
	snprintf(path, sizeof(path), "%s/missing.ipc", s.dir);
	c = peers_conn_new(path, 1000, 0);
	ASSERT_EQ(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), -ENOENT, err);
	ASSERT_STRCONTAINS(err, "no such socket", err);
	peers_conn_free(c);

	/* a socket file with nobody listening (node crashed): refused */
	snprintf(path, sizeof(path), "%s/stale.ipc", s.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), "bind stale");
	c = peers_conn_new(path, 1000, 0);
	ASSERT_EQ(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), -ECONNREFUSED, err);
	peers_conn_free(c);
	close(fd);
	unlink(path);

	c = peers_conn_new(ipc_path(&s, "close", path, sizeof(path)), 2000, 0);
	ASSERT_EQ(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), -EPROTO, err);
	ASSERT_STRCONTAINS(err, "connection closed after", err);
	peers_conn_free(c);

	c = peers_conn_new(ipc_path(&s, "silent", path, sizeof(path)), 300, 0);
	ASSERT_EQ(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), -ETIMEDOUT, err);
	ASSERT_STRCONTAINS(err, "within 300 ms", err);
	peers_conn_free(c);

	c = peers_conn_new(ipc_path(&s, "big", path, sizeof(path)), 5000, 1 << 20);
	ASSERT_EQ(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), -EFBIG, err);
	ASSERT_LE(b.len, (1 << 20) + 1, "stopped reading at the cap");
	peers_conn_free(c);

	c = peers_conn_new(ipc_path(&s, "text", path, sizeof(path)), 2000, 0);
	ASSERT_EQ(peers_rpc_call(c, "admin_peers", NULL, &b, err, sizeof(err)), -EBADMSG, err);
	ASSERT_STRCONTAINS(err, "not JSON", err);
	ASSERT_EQ(peers_beacon_get(c, "/eth/v1/node/peers", &b, err, sizeof(err)), -EINVAL,
		  "no beacon API over IPC");
	peers_conn_free(c);
	c = NULL;
out:
	peers_conn_free(c);
	vbuf_free(&b);
	server_stop(&s);
}

static void test_bad_targets(void)
{
	char longp[200];

	errno = 0;
	ASSERT_TRUE(peers_conn_new("ftp://x", 0, 0) == NULL && errno == EINVAL, "scheme");
	ASSERT_TRUE(peers_conn_new("", 0, 0) == NULL && errno == EINVAL, "empty");
	ASSERT_TRUE(peers_conn_new("ipc://", 0, 0) == NULL && errno == EINVAL, "empty path");
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	ASSERT_TRUE(peers_conn_new(longp, 0, 0) == NULL && errno == EINVAL, "path too long");
	struct peers_conn *c = peers_conn_new("http://user:secret@127.0.0.1:8545/", 0, 0);
	if (ASSERT_NOT_NULL(c, "credentials URL")) {
		ASSERT_STREQ(peers_conn_name(c), "http://127.0.0.1:8545", "no password in messages");
		peers_conn_free(c);
	}
}

struct evcount {
	int join, leave;
};

static void count_events(const char *json, size_t len, void *ctx)
{
	struct evcount *c = ctx;
	json_t *doc = json_loadb(json, len, 0, NULL);
	const char *e = json_string_value(json_object_get(doc, "event"));

	if (e && !strcmp(e, "join"))
		c->join++;
	else if (e && !strcmp(e, "leave"))
		c->leave++;
	json_decref(doc);
}

/* The refresh driver end to end: both sides, three refreshes, every format; the execution
 * node's peers change between refreshes, so joins and leaves come out. */
static void test_watch(void)
{
	struct server s;
	struct peers_watch *w = NULL;
	struct vbuf out = VBUF_INIT;
	struct evcount ev = { 0, 0 };
	char ipc[160];
	struct peers_cfg cfg = { .timeout = 5000000000ull, .sort = "client" };
	int lines = 0;

	if (!server_start(&s))
		goto out;
	cfg.exec = ipc_path(&s, "plain", ipc, sizeof(ipc));
	cfg.beacon = s.http;
	w = peers_watch_new(&cfg);
	if (!ASSERT_NOT_NULL(w, "watch"))
		goto out;
	ASSERT_OK(peers_watch_refresh(w, count_events, &ev), "refresh 1");
	ASSERT_OK(peers_watch_render(w, PEERS_FMT_CSV, NULL, &out), "csv 1");
	ASSERT_OK(peers_watch_refresh(w, count_events, &ev), "refresh 2");
	ASSERT_OK(peers_watch_render(w, PEERS_FMT_CSV, NULL, &out), "csv 2");
	for (char *c = out.data; c && *c; c++)
		lines += *c == '\n';
	ASSERT_EQ(lines, 1 + 2 * 8, "one header, 8 rows per refresh");
	ASSERT_EQ(ev.join + ev.leave, 0, "same peers: no events");

	/* the execution node now has EthereumJS's two peers instead of geth's five */
	peers_conn_free(w->exec);
	char url[96];
	snprintf(url, sizeof(url), "%s/ethereumjs", s.http);
	w->exec = peers_conn_new(url, 5000, 0);
	ASSERT_OK(peers_watch_refresh(w, count_events, &ev), "refresh 3");
	ASSERT_EQ(ev.join, 2, "joins");
	ASSERT_EQ(ev.leave, 5, "leaves");
	vbuf_reset(&out);
	ASSERT_OK(peers_watch_render(w, PEERS_FMT_JSON, NULL, &out), "json");
	json_t *doc = json_loads(out.data, 0, NULL);
	if (ASSERT_NOT_NULL(doc, "JSON document")) {
		ASSERT_EQ(json_array_size(json_object_get(doc, "peers")), 2 + 3, "peers");
		json_t *p0 = json_array_get(json_object_get(doc, "peers"), 0);
		ASSERT_STREQ(json_string_value(json_object_get(p0, "client")), "EthereumJS",
			     "sorted: execution side first");
		json_decref(doc);
	}
	struct peers_table_opts o = { .width = 100 };
	vbuf_reset(&out);
	ASSERT_OK(peers_watch_render(w, PEERS_FMT_TABLE, &o, &out), "table");
	ASSERT_STRCONTAINS(out.data, "execution  peers 2 (in 0, out 0, unknown 2)", "header");
	ASSERT_STRCONTAINS(out.data, "EthereumJS 1", "client count");
out:
	vbuf_free(&out);
	peers_watch_free(w);
	server_stop(&s);
}

static void test_watch_config_errors(void)
{
	struct peers_cfg none = { 0 };
	struct peers_cfg bad_sort = { .exec = "http://127.0.0.1:1", .sort = "speed" };
	struct peers_cfg ipc_beacon = { .beacon = "/tmp/x.ipc" };

	ASSERT_TRUE(peers_watch_new(&none) == NULL && errno == EINVAL, "no endpoint");
	ASSERT_TRUE(peers_watch_new(&bad_sort) == NULL && errno == EINVAL, "bad sort");
	ASSERT_TRUE(peers_watch_new(&ipc_beacon) == NULL && errno == EINVAL, "beacon over IPC");
	ASSERT_STREQ(peers_opts[0].name, "exec", "option table");
}

TESTS(T(test_http_rpc), T(test_http_admin_disabled), T(test_beacon_get), T(test_collect),
      T(test_http_failures), T(test_http_refused), T(test_ipc), T(test_ipc_failures),
      T(test_bad_targets), T(test_watch),
      T(test_watch_config_errors))
