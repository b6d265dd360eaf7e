// SPDX-License-Identifier: GPL-2.0-only
/*
 * A Kaspa P2P load generator in its own process, built on the project's client-role kaspa_conn
 * (conn.h: h2c gRPC MessageStream, Version/Verack/Ready) on one event loop.
 *
 *   kaspa_loadgen IP:PORT [-n N] [-c CONC] [--hold] [--sources K] [--advertise PORT]
 *
 * Churn (default): dials until N handshakes ended, CONC in flight; each connection completes
 * the handshake and leaves politely at once (Reject DUPLICATE_CONNECTION, end of stream, GOAWAY),
 * like a peer that finds it is already connected.
 *
 * --hold: opens N connections (CONC at a time), completes each handshake and keeps it open. Once
 * all N are settled it prints the "held" line and waits for SIGTERM/SIGINT, then closes them.
 *
 * --sources K: binds the sockets round robin to 127.0.0.2 .. 127.0.0.(K+1) (ephemeral ports are
 * per source address, so tens of thousands of connections do not run out of them).
 * --advertise PORT: the Version's address 127.0.0.1:PORT (where a probing sensor connects back).
 *
 * Prints one line of figures: handshakes ok / failed, wall seconds, rate, and this process's own
 * CPU seconds (getrusage), so the caller can put the generator's cost next to the server's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vigil/log.h"
#include "vigil/util.h"
#include "kaspa/conn.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

struct gen {
	struct vloop *loop;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	struct kaspa_conn_config cfg;
	struct kaspa_netaddr adv;
	long target, conc, started, ended, ok, failed, dial_failed, held, dropped;
	unsigned sources, next_src;
	bool hold;
	const char *first_error;
	char first_error_buf[256];
};

static void start_one(struct gen *g);

static void note_error(struct gen *g, const char *why)
{
	if (!g->first_error) {
		snprintf(g->first_error_buf, sizeof(g->first_error_buf), "%s", why);
		g->first_error = g->first_error_buf;
	}
}

static void cl_ready(struct kaspa_conn *c, void *ctx)
{
	struct gen *g = ctx;

	g->ok++;
	if (g->hold) {
		g->held++;
		/* the next dial goes out from here: held connections never reach on_done */
		if (g->started < g->target)
			start_one(g);
		return;
	}
	kaspa_conn_close(c);
}

static void cl_done(struct kaspa_conn *c, void *ctx)
{
	struct gen *g = ctx;
	struct kaspa_hs *hs = kaspa_conn_hs(c);
	bool was_ready = hs->step == KASPA_STEP_ESTABLISHED;

	if (g->hold && was_ready) {
		/* a held connection went away */
		g->held--;
		g->dropped++;
		note_error(g, kaspa_conn_transport_why(c));
		kaspa_conn_free(c);
		return;
	}
	if (!was_ready) {
		g->failed++;
		note_error(g, hs->reason[0] ? hs->reason : kaspa_conn_transport_why(c));
	}
	kaspa_conn_free(c);
	g->ended++;
	if (g->started < g->target)
		start_one(g);
}

/* messages after Ready (none expected) are not ours to handle */
static const struct kaspa_conn_ops ops = { cl_ready, NULL, cl_done };

/* A non-blocking socket connecting to the target, from the next source address if any. */
static int dial(struct gen *g)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(0x7f000002u + g->next_src) };
	int one = 1, fd;

	if (!g->sources)
		return kaspa_dial((struct sockaddr *)&g->dst, g->dst_len);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	g->next_src = (g->next_src + 1) % g->sources;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
	    (connect(fd, (struct sockaddr *)&g->dst, g->dst_len) && errno != EINPROGRESS)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void start_one(struct gen *g)
{
	int fd;

	/* a dial failing at once ends that attempt right here: loop instead of recursing */
	while (g->started < g->target) {
		g->started++;
		fd = dial(g);
		if (fd >= 0 && kaspa_conn_new(g->loop, fd, KASPA_H2_CLIENT, &g->cfg, &ops, g))
			return;
		g->failed++;
		g->dial_failed++;
		g->ended++;
		note_error(g, strerror(fd < 0 ? -fd : errno));
	}
}

static double cpu_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double mono_s(void)
{
	return (double)vloop_now_ns() / 1e9;
}

static void on_stop(struct vloop *loop, int signo, void *ctx)
{
	(void)signo;
	(void)ctx;
	vloop_stop(loop);
}

static int usage(const char *argv0)
{
	fprintf(stderr, "usage: %s IP:PORT [-n N] [-c CONC] [--hold] [--sources K] "
		"[--advertise PORT]\n", argv0);
	return 2;
}

int main(int argc, char **argv)
{
	struct gen g = { .target = 10000, .conc = 128 };
	struct rlimit rl;
	struct rusage ru;
	const char *target = NULL;
	double t0, secs;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--hold") == 0)
			g.hold = true;
		else if (strcmp(a, "-n") == 0 && v && ++i)
			g.target = atol(v);
		else if (strcmp(a, "-c") == 0 && v && ++i)
			g.conc = atol(v);
		else if (strcmp(a, "--sources") == 0 && v && ++i)
			g.sources = (unsigned)atoi(v);
		else if (strcmp(a, "--advertise") == 0 && v && ++i) {
			char s[32];

			snprintf(s, sizeof(s), "127.0.0.1:%s", v);
			if (kaspa_netaddr_parse(s, &g.adv))
				return usage(argv[0]);
			g.cfg.hs.address = &g.adv;
		} else if (a[0] != '-' && !target)
			target = a;
		else
			return usage(argv[0]);
	}
	if (!target || g.target <= 0 || g.conc <= 0 || g.sources > 250)
		return usage(argv[0]);
	if (vaddr_parse(target, &g.dst, &g.dst_len)) {
		fprintf(stderr, "%s: %s is not IP:PORT\n", argv[0], target);
		return 2;
	}
	/* every held connection is a descriptor */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	vlog_setup(VLOG_WARN, VLOG_TEXT);
	signal(SIGPIPE, SIG_IGN);
	g.loop = vloop_new();
	if (!g.loop)
		return 1;
	vloop_on_signal(g.loop, SIGTERM, on_stop, NULL);
	vloop_on_signal(g.loop, SIGINT, on_stop, NULL);
	g.cfg.hs.user_agent = "/vigil-loadgen/";

	t0 = mono_s();
	for (long i = 0; i < g.conc && g.started < g.target; i++)
		start_one(&g);
	/* churn: until every attempt ended; hold: until every attempt is held or ended */
	while ((g.hold ? g.held + g.ended + g.dropped : g.ended) < g.target &&
	       !vloop_stopped(g.loop))
		vloop_run_once(g.loop, 100);
	secs = mono_s() - t0;
	getrusage(RUSAGE_SELF, &ru);
	printf("%s ok %ld failed %ld (dial %ld) seconds %.3f rate %.1f user %.3f sys %.3f%s%s\n",
	       g.hold ? "held" : "churn", g.ok, g.failed, g.dial_failed, secs,
	       secs > 0 ? (double)g.ok / secs : 0.0, cpu_s(&ru.ru_utime), cpu_s(&ru.ru_stime),
	       g.first_error ? " first_error: " : "", g.first_error ? g.first_error : "");
	fflush(stdout);
	if (g.hold && !vloop_stopped(g.loop)) {
		vloop_run(g.loop);
		if (g.dropped)
			printf("dropped %ld held connections while holding\n", g.dropped);
	}
	/* the held connections are left to the kernel: exit closes them all at once */
	return g.failed ? 1 : 0;
}
