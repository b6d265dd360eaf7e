// SPDX-License-Identifier: GPL-2.0-only
/*
 * Full inbound handshakes per second through kaspa_sensor (probe off, no bus, no store), with the
 * load generator in the same process and on the same loop: @conc client kaspa_conns at a time,
 * each dialling, completing Version/Verack/Ready and leaving politely, until @n handshakes are
 * done. Both sides' cost is in the figure, so the sensor alone is faster than it says. The
 * sensor's own count (kaspa_sensor_get_stats) is the ground truth.
 *
 *   bench_kaspa_sensor [N [CONC [full | webhook URL]]]      defaults: 5000 64
 *
 * "full" adds what a deployed sensor does per handshake: the events through the bus (JSON Lines
 * to /dev/null) and the SQLite store (a temporary file), and the TCP probe back (to a port
 * nobody listens on: refused, private). "webhook URL" is "full" plus the webhook export to URL
 * (the outbox insert on the loop, the worker thread POSTing); after the handshakes it also says
 * how long the worker took to deliver the rest.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vigil/bus.h"
#include "vigil/log.h"
#include "kaspa/sensor.h"

struct gen {
	struct vloop *loop;
	struct sockaddr_in sin;
	struct kaspa_conn_config cfg;
	long started, done, target, failed;
};

static void start_one(struct gen *g);

static void cl_ready(struct kaspa_conn *c, void *ctx)
{
	(void)ctx;
	kaspa_conn_close(c);
}

static int cl_message(struct kaspa_conn *c, const Protowire__KaspadMessage *m, void *ctx)
{
	(void)c;
	(void)m;
	(void)ctx;
	return 0;
}

static void cl_done(struct kaspa_conn *c, void *ctx)
{
	struct gen *g = ctx;

	if (!kaspa_hs_ready(kaspa_conn_hs(c)) && kaspa_conn_hs(c)->fail != KASPA_FAIL_REJECTED)
		g->failed++;
	kaspa_conn_free(c);
	g->done++;
	if (g->started < g->target)
		start_one(g);
}

static const struct kaspa_conn_ops ops = { cl_ready, cl_message, cl_done };

static void start_one(struct gen *g)
{
	int fd = kaspa_dial((struct sockaddr *)&g->sin, sizeof(g->sin));

	g->started++;
	if (fd < 0 || !kaspa_conn_new(g->loop, fd, KASPA_H2_CLIENT, &g->cfg, &ops, g)) {
		g->failed++;
		g->done++;
	}
}

static int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5000, conc = argc > 2 ? atol(argv[2]) : 64;
	bool webhook = argc > 4 && strcmp(argv[3], "webhook") == 0;
	bool full = webhook || (argc > 3 && strcmp(argv[3], "full") == 0);
	char dir[] = "/tmp/bench-kaspa.XXXXXX", store[64], spool[64];
	struct vbus_cfg bc = { 0 };
	struct vbus *bus = NULL;
	struct kaspa_sensor_params p = { 0 };
	struct kaspa_sensor_stats st;
	struct gen g = { 0 };
	struct kaspa_sensor *s;
	struct timespec t0, t1;
	struct rusage ru;
	char listen[32];
	double secs;

	vlog_setup(VLOG_WARN, VLOG_TEXT);
	g.loop = vloop_new();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", free_port());
	p.listen = listen;
	p.probe = KASPA_PROBE_OFF;
	p.sensor_id = "bench";
	p.max_conns = 100000;
	if (full) {
		if (!mkdtemp(dir))
			return 1;
		snprintf(store, sizeof(store), "%s/store.db", dir);
		snprintf(spool, sizeof(spool), "%s/spool.db", dir);
		bc.jsonl = "/dev/null";
		bc.spool = spool;
		bus = vbus_open(&bc, g.loop);
		if (!bus)
			return 1;
		p.bus = bus;
		p.store = store;
		p.probe = KASPA_PROBE_TCP;
		p.allow_private = true;
		p.probe_interval_ms = 0;
		if (webhook)
			p.webhook.url = argv[4];
	}
	s = kaspa_sensor_new(g.loop, &p);
	if (!g.loop || !s)
		return 1;
	g.sin = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				      .sin_port = htons(kaspa_sensor_port(s)) };
	g.cfg.hs.user_agent = "/bench/";
	/* the probe goes to the advertised port: one nobody listens on */
	struct kaspa_netaddr adv;
	char advs[32];

	snprintf(advs, sizeof(advs), "127.0.0.1:%d", free_port());
	kaspa_netaddr_parse(advs, &adv);
	g.cfg.hs.address = &adv;
	g.target = n;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < conc && g.started < n; i++)
		start_one(&g);
	while (g.done < n)
		vloop_run_once(g.loop, 100);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &ru);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	kaspa_sensor_get_stats(s, &st);
	printf("handshakes: %llu ok, %llu failed at the sensor; %ld client failures\n",
	       (unsigned long long)st.handshakes_ok, (unsigned long long)st.handshakes_failed,
	       g.failed);
	printf("%ld connections, %ld at a time, in %.2f s: %.0f full handshakes/s "
	       "(sensor and load generator on one core)%s\n", n, conc, secs,
	       (double)st.handshakes_ok / secs,
	       webhook ? "; with events, store, TCP probes and the webhook export"
	       : full ? "; with events, store and TCP probes" : "");
	printf("cpu until the last handshake (every thread): %.2f s user + %.2f s sys = %.0f us "
	       "per handshake\n", (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	       ((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		ru.ru_stime.tv_usec / 1e6) * 1e6 / (double)n);
	if (webhook) {
		/* the worker goes on delivering: how long until the receiver has everything */
		struct timespec t2;
		uint64_t left;

		while ((left = kaspa_sensor_webhook_backlog(s)) > 0) {
			clock_gettime(CLOCK_MONOTONIC, &t2);
			if (t2.tv_sec - t1.tv_sec > 60)
				break;
			vloop_run_once(g.loop, 10);
		}
		clock_gettime(CLOCK_MONOTONIC, &t2);
		printf("webhook: %llu events left undelivered %.2f s after the last handshake\n",
		       (unsigned long long)left, (double)(t2.tv_sec - t1.tv_sec) +
		       (double)(t2.tv_nsec - t1.tv_nsec) / 1e9);
	}
	if (full)
		printf("classified: %llu public, %llu private, %llu unknown\n",
		       (unsigned long long)st.classified[0], (unsigned long long)st.classified[1],
		       (unsigned long long)st.classified[2]);
	kaspa_sensor_free(s);
	if (bus)
		vbus_close(bus);
	if (full) {
		unlink(store);
		unlink(spool);
		char extra[80];

		snprintf(extra, sizeof(extra), "%s-wal", store);
		unlink(extra);
		snprintf(extra, sizeof(extra), "%s-shm", store);
		unlink(extra);
		snprintf(extra, sizeof(extra), "%s-wal", spool);
		unlink(extra);
		snprintf(extra, sizeof(extra), "%s-shm", spool);
		unlink(extra);
		rmdir(dir);
	}
	vloop_free(g.loop);
	return 0;
}
