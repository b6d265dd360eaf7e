// SPDX-License-Identifier: GPL-2.0-only
/*
 * Event bus throughput against a local nats-server (started here on a free loopback port with a
 * temporary store), with 256-byte JSON events:
 *
 *   core        vbus_publish + vbus_flush      vs  natsConnection_Publish loop + Flush
 *   jetstream   vbus_publish + vbus_flush      vs  js_PublishAsync (Nats-Msg-Id) + AsyncComplete
 *   spool       events spooled while the server is down, then replayed (JetStream and core)
 *
 * Each figure is the median of RUNS runs; the baseline runs in the same process against the same
 * server, so the ratio is what the bus costs over plain libnats on this machine.
 *
 *   build/bench/bench_bus [CORE_N [JS_N [SPOOL_N]]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <nats/nats.h>

#include "vigil/bus.h"
#include "vigil/log.h"
#include "vigil/loop.h"

#define RUNS 3
#define EV_SIZE 256

static int port;
static char dir[] = "/tmp/vigil-bench-bus.XXXXXX";
static char url[64];
static pid_t srv_pid;
static char ev[EV_SIZE + 1];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

static int port_open(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	close(fd);
	return ok;
}

static int server_start(void)
{
	char p[16], log[128];

	snprintf(p, sizeof(p), "%d", port);
	snprintf(log, sizeof(log), "%s.log", dir);
	srv_pid = fork();
	if (srv_pid == 0) {
		sigset_t none;
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", p, "-js", "-sd", dir,
		       (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		if (port_open())
			return 0;
		msleep(50);
	}
	fprintf(stderr, "bench_bus: nats-server did not start (see %s.log)\n", dir);
	return -1;
}

static void server_stop(void)
{
	if (srv_pid > 0) {
		kill(srv_pid, SIGTERM);
		waitpid(srv_pid, NULL, 0);
		srv_pid = 0;
	}
}

static void make_event(void)
{
	int n = snprintf(ev, sizeof(ev), "{\"ts\":\"2026-11-21T05:08:24.123456Z\",\"cap\":\"rpc\","
			 "\"method\":\"eth_getBalance\",\"pad\":\"");
	while (n < EV_SIZE - 2)
		ev[n++] = 'x';
	ev[n++] = '"';
	ev[n++] = '}';
	ev[n] = 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(double), cmp_double);
	return v[RUNS / 2];
}

/* ---- baselines: plain libnats ----------------------------------------------------------- */

static double base_core(int n)
{
	natsConnection *nc = NULL;
	double t0, t;

	if (natsConnection_ConnectTo(&nc, url) != NATS_OK)
		return 0;
	t0 = now_s();
	for (int i = 0; i < n; i++)
		natsConnection_Publish(nc, "base.rpc.call", ev, EV_SIZE);
	natsConnection_FlushTimeout(nc, 60000);
	t = now_s() - t0;
	natsConnection_Destroy(nc);
	return n / t;
}

static double base_js(int n, int run)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	jsStreamConfig sc;
	jsPubOptions po;
	const char *subj[] = { "base.>" };
	char id[64], stream[32];
	double t0, t = 0;

	snprintf(stream, sizeof(stream), "BASE%d", run);
	if (natsConnection_ConnectTo(&nc, url) != NATS_OK)
		return 0;
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = 16384;
	natsConnection_JetStream(&js, nc, &jo);
	jsStreamConfig_Init(&sc);
	sc.Name = stream;
	sc.Subjects = subj;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	js_DeleteStream(js, stream, NULL, NULL);
	if (js_AddStream(NULL, js, &sc, NULL, NULL) != NATS_OK)
		goto out;
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		jsPubOptions_Init(&po);
		snprintf(id, sizeof(id), "base-%d-%d", run, i);
		po.MsgId = id;
		js_PublishAsync(js, "base.rpc.call", ev, EV_SIZE, &po);
	}
	jsPubOptions_Init(&po);
	po.MaxWait = 60000;
	js_PublishAsyncComplete(js, &po);
	t = now_s() - t0;
	js_DeleteStream(js, stream, NULL, NULL);
out:
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return t > 0 ? n / t : 0;
}

/* ---- the bus --------------------------------------------------------------------------------- */

static struct vbus *open_bus(struct vloop *loop, const char *app, const char *stream, int run)
{
	static char spool[200];
	struct vbus_cfg cfg = { .app_id = (char *)app, .nats_url = url, .jetstream = (char *)stream,
				.spool = spool, .spool_max = 1ull << 34 };

	snprintf(spool, sizeof(spool), "%s/spool-%s-%d.db", dir, app, run);
	return vbus_open(&cfg, loop);
}

static int wait_up(struct vbus *b)
{
	struct vbus_stats st;

	for (int i = 0; i < 1000; i++) {
		vbus_flush(b, 0);
		vbus_get_stats(b, &st);
		if (st.connected)
			return 0;
		msleep(10);
	}
	return -1;
}

static double bus_rate(const char *app, const char *stream, int n, int run)
{
	struct vloop *loop = vloop_new();
	struct vbus *b = open_bus(loop, app, stream, run);
	struct vbus_stats st;
	double t0, t;
	int err = 0;

	if (!b || wait_up(b))
		return 0;
	t0 = now_s();
	for (int i = 0; i < n && !err; i++)
		err = vbus_publish(b, "rpc.call", ev, EV_SIZE);
	if (!err)
		err = vbus_flush(b, 120000);
	t = now_s() - t0;
	vbus_get_stats(b, &st);
	if (err || st.published != (uint64_t)n)
		fprintf(stderr, "bench_bus: %s run %d: err %d, published %llu\n", app, run, err,
			(unsigned long long)st.published);
	vbus_close(b);
	vloop_free(loop);
	return err ? 0 : n / t;
}

/* Spools @n events with the server down, restarts it, and times the replay. */
static void spool_rates(const char *app, const char *stream, int n, int run, double *spool_rate,
			double *replay_rate)
{
	struct vloop *loop = vloop_new();
	struct vbus *b;
	struct vbus_stats st;
	double t0;
	int err = 0;

	server_stop();
	vlog_setup(VLOG_ERROR, VLOG_TEXT); /* the "not reachable" warning is expected */
	b = open_bus(loop, app, stream, run);
	vlog_setup(VLOG_WARN, VLOG_TEXT);
	*spool_rate = *replay_rate = 0;
	if (!b)
		goto out;
	t0 = now_s();
	for (int i = 0; i < n && !err; i++)
		err = vbus_publish(b, "rpc.call", ev, EV_SIZE);
	vbus_flush(b, 0); /* commits the last batch */
	*spool_rate = n / (now_s() - t0);
	if (server_start() || wait_up(b))
		goto out;
	t0 = now_s();
	err = vbus_flush(b, 120000);
	vbus_get_stats(b, &st);
	if (!err && st.replayed == (uint64_t)n)
		*replay_rate = n / (now_s() - t0);
	else
		fprintf(stderr, "bench_bus: replay %s: err %d, replayed %llu of %d\n", app, err,
			(unsigned long long)st.replayed, n);
out:
	vbus_close(b);
	vloop_free(loop);
	if (!srv_pid)
		server_start();
}

int main(int argc, char **argv)
{
	int core_n = argc > 1 ? atoi(argv[1]) : 1000000;
	int js_n = argc > 2 ? atoi(argv[2]) : 100000;
	int spool_n = argc > 3 ? atoi(argv[3]) : 50000;
	double bc[RUNS], vc[RUNS], bj[RUNS], vj[RUNS], sj[RUNS], rj[RUNS], sc[RUNS], rc[RUNS];
	char app[32], stream[32], cmd[200];

	vlog_setup(VLOG_WARN, VLOG_TEXT);
	make_event();
	if (!mkdtemp(dir))
		return 1;
	port = free_port();
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
	if (server_start())
		return 1;
	for (int r = 0; r < RUNS; r++) {
		bc[r] = base_core(core_n);
		snprintf(app, sizeof(app), "core%d", r);
		vc[r] = bus_rate(app, NULL, core_n, r);
		bj[r] = base_js(js_n, r);
		snprintf(app, sizeof(app), "js%d", r);
		snprintf(stream, sizeof(stream), "JS%d", r);
		vj[r] = bus_rate(app, stream, js_n, r);
		snprintf(app, sizeof(app), "sj%d", r);
		snprintf(stream, sizeof(stream), "SJ%d", r);
		spool_rates(app, stream, spool_n, r, &sj[r], &rj[r]);
		snprintf(app, sizeof(app), "sc%d", r);
		spool_rates(app, NULL, spool_n, r, &sc[r], &rc[r]);
	}
	server_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.log'", dir, dir);
	if (system(cmd))
		fprintf(stderr, "bench_bus: could not remove %s\n", dir);

	printf("events of %d bytes, median of %d runs, events/s\n", EV_SIZE, RUNS);
	printf("%-34s %12s %12s %7s\n", "what", "bus", "baseline", "ratio");
	printf("%-34s %12.0f %12.0f %7.2f\n", "core publish", median(vc), median(bc),
	       median(vc) / median(bc));
	printf("%-34s %12.0f %12.0f %7.2f\n", "jetstream publish+ack", median(vj), median(bj),
	       median(vj) / median(bj));
	printf("%-34s %12.0f %12s %7s\n", "spool write, server down (js)", median(sj), "-", "-");
	printf("%-34s %12.0f %12.0f %7.2f\n", "spool replay -> jetstream", median(rj), median(bj),
	       median(rj) / median(bj));
	printf("%-34s %12.0f %12s %7s\n", "spool write, server down (core)", median(sc), "-", "-");
	printf("%-34s %12.0f %12.0f %7.2f\n", "spool replay -> core", median(rc), median(bc),
	       median(rc) / median(bc));
	printf("N: core %d, jetstream %d, spool %d\n", core_n, js_n, spool_n);
	return 0;
}
