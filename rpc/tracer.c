// SPDX-License-Identifier: GPL-2.0-only
/*
 * The `vigil rpc` daemon; see rpc/tracer.h.
 *
 * Ownership: the tracer owns the skeleton, the ring buffer, the connection table (one rpc_conn
 * parser per traced connection, keyed by the kernel's conn_id) and the per-method statistics.
 * Metrics children are cached per interned method so the per-call path does no label lookups
 * beyond the error code. All of it is touched only from the loop thread.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "vigil/bpf.h"
#include "vigil/buf.h"
#include "vigil/bus.h"
#include "vigil/log.h"
#include "vigil/loop.h"
#include "vigil/metrics.h"
#include "vigil/util.h"
#include "rpc/callmetrics.h"
#include "rpc/conn.h"
#include "rpc/params.h"
#include "rpc/rpc.h"
#include "rpc/tracer.h"
#include "rpc.skel.h"

#define C "rpc"
#define MAX_CONNS 65536
#define CONN_BUCKETS 4096

const struct vopt rpc_tracer_opts[] = {
	VOPT_STRING("pid", 'p', struct rpc_tracer_cfg, pid, NULL, "PID[,PID...]",
		    "trace these processes (and the processes they start)"),
	VOPT_STRING("comm", 0, struct rpc_tracer_cfg, comm, NULL, "NAME",
		    "trace processes with this name, including ones started later (a restarted node)"),
	VOPT_STRING("exe", 0, struct rpc_tracer_cfg, exe, NULL, "PATH",
		    "trace processes running this executable, including ones started later"),
	VOPT_STRING("cgroup", 0, struct rpc_tracer_cfg, cgroup, NULL, "DIR",
		    "trace processes in this cgroup v2 directory (e.g. a container's)"),
	VOPT_STRING("ports", 0, struct rpc_tracer_cfg, ports, "8545,8546,8547,8548", "PORTS",
		    "JSON-RPC server ports (HTTP and WebSocket; add 8551 for the Engine API)"),
	VOPT_ENUM("hook", 0, struct rpc_tracer_cfg, hook, "auto", "auto|socket|syscall",
		  "kernel hooks: socket (the sock_recv_length/sock_send_length tracepoints, Linux "
		  "6.4+: only socket I/O pays), syscall (the raw syscall exit tracepoint: every "
		  "syscall of the machine pays a little), or auto: socket where the kernel has it"),
	VOPT_ENUM("sched", 0, struct rpc_tracer_cfg, sched, "idle", "idle|normal",
		  "the tracer thread's CPU policy: idle (SCHED_IDLE: it never preempts the node "
		  "and runs when a CPU has time to spare; raised to normal while the records "
		  "waiting in the ring buffer pass a quarter of it) or normal (SCHED_OTHER)"),
	VOPT_SIZE("capture", 0, struct rpc_tracer_cfg, capture, "4KiB", 64, RPC_MAX_CAPTURE,
		  "bytes captured per read/write syscall (the full length is always recorded)"),
	VOPT_SIZE("ringbuf", 0, struct rpc_tracer_cfg, ringbuf, "8MiB", 1 << 20, 1 << 30,
		  "kernel ring buffer size (a power of two; the tracer maps its data twice, so "
		  "it counts twice in the process's RSS)"),
	VOPT_SIZE("wakeup", 0, struct rpc_tracer_cfg, wakeup, "1MiB", 0, 1 << 30,
		  "wake the tracer when this much data waits in the ring buffer (0: every record)"),
	VOPT_DURATION("drain", 0, struct rpc_tracer_cfg, drain, "50ms", 1000000LL, 1000000000LL,
		      "... and at the latest every DURATION"),
	VOPT_DURATION("interval", 0, struct rpc_tracer_cfg, interval, "10s", 100000000LL,
		      3600000000000LL, "per-method aggregates and spike detection every DURATION"),
	VOPT_INT("max-methods", 0, struct rpc_tracer_cfg, max_methods, "256", "N", 1, 100000,
		 "distinct method names tracked; later ones are reported as \"other\""),
	VOPT_DOUBLE("spike-factor", 0, struct rpc_tracer_cfg, spike_factor, "5", "X", 1, 1e6,
		    "a method's rate is a spike above X times its moving baseline"),
	VOPT_DOUBLE("spike-min-rate", 0, struct rpc_tracer_cfg, spike_min_rate, "10", "CALLS",
		    0, 1e9, "... and at least CALLS per second"),
	VOPT_DOUBLE("error-delta", 0, struct rpc_tracer_cfg, error_delta, "0.2", "R", 0.001, 1,
		    "an error-ratio spike is R above the method's moving error ratio"),
	VOPT_BOOL("capture-params", 0, struct rpc_tracer_cfg, capture_params,
		  "export request parameters with each call (\"params\", \"params_truncated\"), "
		  "sampled (--sample) and redacted (--redact-keys, --redact-methods); off by "
		  "default: parameters hold addresses, keys, passwords and signed transactions"),
	VOPT_SIZE("params-max", 0, struct rpc_tracer_cfg, params_max, "1KiB", 16,
		  RPC_CONN_PARAMS_LIMIT,
		  "bytes of a call's parameters kept for export; longer ones are cut "
		  "(params_truncated)"),
	VOPT_DOUBLE("sample", 0, struct rpc_tracer_cfg, sample, "1", "R", 1e-6, 1,
		    "fraction of calls (0 < R <= 1) whose parameters are exported, picked by a "
		    "hash of the connection, the call's number on it and --sample-seed"),
	VOPT_INT("sample-seed", 0, struct rpc_tracer_cfg, sample_seed, "0", "N", 0, LLONG_MAX,
		 "seed of the --sample pick (the same seed picks the same calls of the same "
		 "traffic)"),
	VOPT_STRING("redact-keys", 0, struct rpc_tracer_cfg, redact_keys, RPC_REDACT_KEYS_DEFAULT,
		    "KEYS", "JSON object keys (comma-separated, case ignored) whose values are "
		    "replaced by \"[redacted]\" at any depth of the parameters"),
	VOPT_STRING("redact-methods", 0, struct rpc_tracer_cfg, redact_methods, NULL, "METHODS",
		    "methods (comma-separated, '*' matches anything) whose parameters are replaced "
		    "whole by [redacted], besides the built-in eth_sendRawTransaction, eth_sign, "
		    "eth_signTransaction, eth_signTypedData* and personal_*"),
	VOPT_END
};

struct tconn {
	uint64_t conn_id;
	uint32_t tgid;
	uint16_t server_port;
	char client[64];
	char comm[RPC_COMM_LEN];
	struct rpc_conn *pc;
	struct rpc_tracer *t;
	struct tconn *next;
	uint64_t params_seq; /* calls with params so far (the --sample pick's input) */
};

struct rpc_tracer {
	struct rpc_tracer_cfg cfg;
	const char *app_id;
	struct vloop *loop;
	struct vmetrics *reg;
	struct vbus *bus;
	struct rpc_bpf *skel;
	struct ring_buffer *rb;
	struct vloop_timer *timer;
	struct vloop_timer *drain;
	struct tconn *buckets[CONN_BUCKETS];
	size_t nconns;
	int64_t real_off; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	char exe_real[PATH_MAX];
	struct rpc_stats st;
	struct rpc_method_children *mm; /* parallel to st.m */
	struct vmetric *m_req, *m_dur, *m_size, *m_err, *m_lost, *m_trunc, *m_conns, *m_notif;
	struct vmetric *m_events, *m_folded, *m_parse, *m_unsup, *m_raises;
	/* --sched idle: the ring buffer's consumer and producer positions (its first two pages,
	 * mapped read-only); the loop thread's id; the pacer thread that raises it and the
	 * eventfd that stops the pacer; `raised` (the loop thread runs at SCHED_OTHER now) and the
	 * policy changes under `mu` */
	const unsigned long *rb_cons, *rb_prod;
	size_t rb_pos_len;
	uint64_t raise_at, lower_at;
	pid_t loop_tid;
	pthread_t pacer;
	int pacer_stop;
	pthread_mutex_t mu;
	_Atomic bool raised;
	_Atomic uint64_t raises;
	bool idle, pacer_running;
	struct vbuf json;
	struct rpc_conn_opts conn_opts;
	struct rpc_redact redact; /* with --capture-params */
	struct vbuf params;	  /* the redacted params of the call being published */
	uint64_t calls, parse_errors, untracked;
	uint64_t last_tick_ns;
	rpc_tick_fn tick_fn;
	void *tick_ctx;
};

int rpc_parse_ports(const char *s, uint16_t *ports, int max)
{
	int n = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		char *end;
		long v;

		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || end == p || v < 1 || v > 65535 || (*end && *end != ','))
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		ports[n++] = (uint16_t)v;
		p = *end ? end + 1 : end;
	}
	return n;
}

static uint64_t mono_ns(void)
{
	return vloop_now_ns();
}

/* ---- connections ---- */

static struct tconn **conn_slot(struct rpc_tracer *t, uint64_t id)
{
	struct tconn **pp = &t->buckets[(id * 11400714819323198485ull) >> 52];

	while (*pp && (*pp)->conn_id != id)
		pp = &(*pp)->next;
	return pp;
}

static void emit(struct rpc_tracer *t, const char *suffix)
{
	if (t->bus && t->json.len)
		vbus_publish(t->bus, suffix, t->json.data, t->json.len);
}

static struct rpc_method_children *method_metrics(struct rpc_tracer *t, int idx)
{
	struct rpc_method_children *mm = &t->mm[idx];

	if (!t->reg || mm->ok)
		return t->reg ? mm : NULL;
	rpc_method_children_get(mm, t->m_req, t->m_dur, t->m_size, t->m_notif,
				t->st.m[idx].name);
	return mm;
}

/* One parsed call: statistics, metrics, events. Runs inside rpc_conn_feed(). */
static void on_call(const struct rpc_call *call, void *ctx)
{
	struct tconn *tc = ctx;
	struct rpc_tracer *t = tc->t;
	int idx = rpc_stats_intern(&t->st, call->method, call->method_len);
	struct rpc_method_children *mm;
	struct rpc_call_meta meta = {
		.ts_real_ns = call->ts_ns + (uint64_t)t->real_off,
		.app_id = t->app_id,
		.pid = tc->tgid,
		.comm = tc->comm,
		.client = tc->client,
		.server_port = tc->server_port,
	};

	t->calls++;
	if (idx < 0)
		return;
	rpc_stats_add(&t->st, idx, call);
	mm = method_metrics(t, idx);
	if (mm)
		rpc_call_metrics(mm, t->m_err, t->st.m[idx].name, call);
	if (!t->bus)
		return;
	if (t->cfg.capture_params && call->has_params &&
	    rpc_params_sampled(t->cfg.sample, (uint64_t)t->cfg.sample_seed, tc->conn_id,
			       tc->params_seq++)) {
		/* only redacted text leaves: the call's raw params never reach the event */
		vbuf_reset(&t->params);
		if (!rpc_params_export(&t->redact, call, &t->params)) {
			meta.params = t->params.data ? t->params.data : "";
			meta.params_len = t->params.len;
			meta.params_truncated = call->params_truncated;
		}
	}
	vbuf_reset(&t->json);
	if (rpc_call_to_json(call, &meta, &t->json))
		return;
	emit(t, "jsonrpc.requests");
	if (call->status == RPC_STATUS_ERROR)
		emit(t, "jsonrpc.errors");
}

static void client_str(const struct rpc_event *ev, char *buf, size_t n)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ev->family == 2 /* AF_INET */)
		inet_ntop(AF_INET, ev->raddr, ip, sizeof(ip));
	else if (memcmp(ev->raddr, v4mapped, 12) == 0)
		inet_ntop(AF_INET, ev->raddr + 12, ip, sizeof(ip));
	else {
		char v6[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, ev->raddr, v6, sizeof(v6));
		snprintf(buf, n, "[%s]:%u", v6, ev->rport);
		return;
	}
	snprintf(buf, n, "%s:%u", ip, ev->rport);
}

static struct tconn *conn_get(struct rpc_tracer *t, const struct rpc_event *ev)
{
	struct tconn **pp = conn_slot(t, ev->conn_id), *tc;

	if (*pp)
		return *pp;
	if (t->nconns >= MAX_CONNS) {
		t->untracked++;
		return NULL;
	}
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return NULL;
	tc->pc = rpc_conn_new(&t->conn_opts, on_call, tc);
	if (!tc->pc) {
		free(tc);
		return NULL;
	}
	tc->conn_id = ev->conn_id;
	tc->tgid = ev->tgid;
	tc->server_port = ev->lport;
	tc->t = t;
	memcpy(tc->comm, ev->comm, sizeof(tc->comm));
	tc->comm[sizeof(tc->comm) - 1] = 0;
	client_str(ev, tc->client, sizeof(tc->client));
	*pp = tc;
	t->nconns++;
	return tc;
}

static void conn_drop(struct rpc_tracer *t, struct tconn **pp, uint64_t ts)
{
	struct tconn *tc = *pp;

	*pp = tc->next;
	rpc_conn_close(tc->pc, ts);
	rpc_conn_free(tc->pc);
	free(tc);
	t->nconns--;
}

/* A process exited: its connections are gone without close() records. */
static void drop_process(struct rpc_tracer *t, uint32_t tgid, uint64_t ts)
{
	for (int b = 0; b < CONN_BUCKETS; b++) {
		struct tconn **pp = &t->buckets[b];
		while (*pp) {
			if ((*pp)->tgid == tgid)
				conn_drop(t, pp, ts);
			else
				pp = &(*pp)->next;
		}
	}
}

static void add_target(struct rpc_tracer *t, uint32_t tgid)
{
	rpc_bpf_add_target(t->skel, tgid);
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct rpc_tracer *t = ctx;
	const struct rpc_event *ev = data;
	struct tconn *tc;

	if (len < sizeof(*ev) || ev->cap_len > len - sizeof(*ev)) {
		t->parse_errors++;
		return 0;
	}
	switch (ev->kind) {
	case RPC_EV_DATA:
		tc = conn_get(t, ev);
		if (tc && rpc_conn_feed(tc->pc, ev->dir == RPC_EV_DIR_IN ? RPC_DIR_REQUEST
									 : RPC_DIR_RESPONSE,
					ev->ts_ns, ev + 1, ev->cap_len, ev->total_len))
			t->parse_errors++;
		break;
	case RPC_EV_CLOSE: {
		struct tconn **pp = conn_slot(t, ev->conn_id);
		if (*pp)
			conn_drop(t, pp, ev->ts_ns);
		break;
	}
	case RPC_EV_EXIT:
		drop_process(t, ev->tgid, ev->ts_ns);
		log_info(C, "traced process %u (%.16s) exited", ev->tgid, ev->comm);
		break;
	case RPC_EV_FORK:
		log_debug(C, "process %u started process %d: tracing it too", ev->tgid, ev->fd);
		break;
	case RPC_EV_EXEC:
		if (t->exe_real[0] && ev->cap_len) {
			char path[RPC_PATH_LEN + 1], real[PATH_MAX];
			memcpy(path, ev + 1, ev->cap_len < RPC_PATH_LEN ? ev->cap_len : RPC_PATH_LEN);
			path[ev->cap_len < RPC_PATH_LEN ? ev->cap_len : RPC_PATH_LEN] = 0;
			if (realpath(path, real) && strcmp(real, t->exe_real) == 0) {
				add_target(t, ev->tgid);
				log_info(C, "tracing process %u (%s)", ev->tgid, real);
			}
		}
		break;
	default:
		t->parse_errors++;
	}
	return 0;
}

/* ---- intervals ---- */

static void on_anomaly(const struct rpc_anomaly *a, void *ctx)
{
	struct rpc_tracer *t = ctx;
	char ts[VTIME_BUFLEN];
	struct vjw w;

	log_warn(C, "%s spike on %s: %.3g (baseline %.3g, threshold %.3g)", a->kind, a->method,
		 a->value, a->baseline, a->threshold);
	if (!t->bus)
		return;
	vbuf_reset(&t->json);
	vjw_init(&w, &t->json);
	vjw_obj(&w);
	vjw_kstr(&w, "ts", vtime_utc_now(ts, sizeof(ts)));
	vjw_kstr(&w, "app_id", t->app_id);
	vjw_kstr(&w, "method", a->method);
	vjw_kstr(&w, "kind", a->kind);
	vjw_kdouble(&w, "value", a->value);
	vjw_kdouble(&w, "baseline", a->baseline);
	vjw_kdouble(&w, "threshold", a->threshold);
	vjw_end(&w);
	emit(t, "jsonrpc.anomalies");
}

static void publish_aggregates(struct rpc_tracer *t, double secs)
{
	char ts[VTIME_BUFLEN];

	vtime_utc_now(ts, sizeof(ts));
	for (size_t i = 0; i < t->st.n; i++) {
		const struct rpc_method_stats *m = &t->st.m[i];
		struct vjw w;

		if (!m->calls)
			continue;
		vbuf_reset(&t->json);
		vjw_init(&w, &t->json);
		vjw_obj(&w);
		vjw_kstr(&w, "ts", ts);
		vjw_kstr(&w, "app_id", t->app_id);
		vjw_kstr(&w, "method", m->name);
		vjw_kdouble(&w, "interval_s", secs);
		vjw_kuint(&w, "calls", m->calls);
		vjw_kdouble(&w, "rate", (double)m->calls / secs);
		vjw_kuint(&w, "errors", m->errors);
		vjw_kuint(&w, "req_bytes", m->req_bytes);
		vjw_kuint(&w, "resp_bytes", m->resp_bytes);
		vjw_kuint(&w, "p50_ns", rpc_stats_quantile(m, 0.5));
		vjw_kuint(&w, "p90_ns", rpc_stats_quantile(m, 0.9));
		vjw_kuint(&w, "p99_ns", rpc_stats_quantile(m, 0.99));
		vjw_end(&w);
		emit(t, "jsonrpc.latency");
	}
}

/*
 * --sched idle. At SCHED_IDLE the tracer's loop thread never preempts the node it traces: a woken
 * SCHED_OTHER thread takes the CPU from whatever runs there, so a tracer woken 40 times a second
 * cut into the node's threads and wrk's, costing the node more throughput than the tracer's own
 * CPU time (bench/RESULTS.md, "vigil rpc"); an idle-policy thread waits for a CPU with time to
 * spare or for the next tick. Linux gives it a small share of a busy CPU too, but a share is not
 * a promise: should the records pile up, the ring buffer would drop them. So a pacer thread, at
 * the policy vigil started with, reads the backlog from the ring's positions every 50 ms and,
 * past raise_at (a quarter of the room above the wake-up mark), raises the loop thread to
 * SCHED_OTHER; the loop thread, which cannot notice while it is not running, lowers itself again
 * when a drain finds less than lower_at. The pacer's wake-up is a few microseconds.
 */
static int set_policy(pid_t tid, int policy)
{
	struct sched_param sp = { 0 };

	return sched_setscheduler(tid, policy, &sp) ? -errno : 0;
}

static uint64_t ring_backlog(const struct rpc_tracer *t)
{
	return __atomic_load_n(t->rb_prod, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(t->rb_cons, __ATOMIC_ACQUIRE);
}

static void *pacer_main(void *arg)
{
	struct rpc_tracer *t = arg;
	struct pollfd pfd = { .fd = t->pacer_stop, .events = POLLIN };

	for (;;) {
		int n = poll(&pfd, 1, 50);

		if (n > 0 || (n < 0 && errno != EINTR))
			break; /* stopped */
		if (n < 0 || atomic_load(&t->raised) || ring_backlog(t) < t->raise_at)
			continue;
		pthread_mutex_lock(&t->mu);
		if (!atomic_load(&t->raised) && set_policy(t->loop_tid, SCHED_OTHER) == 0) {
			atomic_store(&t->raised, true);
			atomic_fetch_add(&t->raises, 1);
		}
		pthread_mutex_unlock(&t->mu);
	}
	return NULL;
}

/* Before each drain, on the loop thread: back to SCHED_IDLE once the backlog is small again. */
static void pace(struct rpc_tracer *t)
{
	if (!t->idle || !atomic_load(&t->raised) || ring_backlog(t) >= t->lower_at)
		return;
	pthread_mutex_lock(&t->mu);
	if (atomic_load(&t->raised) && set_policy(0, SCHED_IDLE) == 0)
		atomic_store(&t->raised, false);
	pthread_mutex_unlock(&t->mu);
}

static void sched_idle_stop(struct rpc_tracer *t)
{
	if (t->pacer_running) {
		uint64_t one = 1;

		if (write(t->pacer_stop, &one, sizeof(one)) == sizeof(one))
			pthread_join(t->pacer, NULL);
		else
			pthread_detach(t->pacer);
		t->pacer_running = false;
	}
	if (t->pacer_stop >= 0)
		close(t->pacer_stop);
	t->pacer_stop = -1;
	if (t->idle)
		set_policy(0, SCHED_OTHER); /* the thread as it was (sched_idle_start checked) */
	t->idle = false;
	if (t->rb_cons)
		munmap((void *)t->rb_cons, t->rb_pos_len);
	t->rb_cons = t->rb_prod = NULL;
}

/* The ring buffer, drained when the kernel side wakes the tracer or a timer fires. */
static void drain(struct rpc_tracer *t)
{
	int n;

	pace(t);
	n = ring_buffer__consume(t->rb);
	if (n < 0 && n != -EINTR)
		log_warn(C, "consuming the ring buffer failed: %s", strerror(-n));
}

static void on_ring(struct vloop *loop, int fd, uint32_t events, void *ctx)
{
	(void)loop;
	(void)fd;
	(void)events;
	drain(ctx);
}

/* Maps the ring's positions, starts the pacer and turns the loop thread to SCHED_IDLE. Failing
 * that, the tracer runs at normal priority, and says so. A thread started with another policy
 * than SCHED_OTHER (chrt) keeps it: whoever chose it knew what they wanted. */
static void sched_idle_start(struct rpc_tracer *t)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t wake = t->cfg.wakeup < t->cfg.ringbuf / 2 ? t->cfg.wakeup : t->cfg.ringbuf / 2;
	int err, policy = sched_getscheduler(0);
	const char *what;
	void *p;

	if (policy != SCHED_OTHER) {
		log_info(C, "--sched idle: keeping the CPU policy vigil was started with (%d)", policy);
		return;
	}
	p = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, bpf_map__fd(t->skel->maps.events), 0);
	if (p == MAP_FAILED) {
		err = -errno;
		what = "cannot map the ring buffer's positions";
		goto fail;
	}
	t->rb_cons = p;
	t->rb_prod = (const unsigned long *)((const char *)p + page);
	t->rb_pos_len = 2 * page;
	t->raise_at = wake + (t->cfg.ringbuf - wake) / 4;
	t->lower_at = t->raise_at / 2;
	t->loop_tid = (pid_t)syscall(SYS_gettid);
	pthread_mutex_init(&t->mu, NULL);
	t->pacer_stop = eventfd(0, EFD_CLOEXEC);
	if (t->pacer_stop < 0) {
		err = -errno;
		what = "cannot create an eventfd";
		goto fail;
	}
	/* created before the policy changes: the pacer keeps SCHED_OTHER */
	err = -pthread_create(&t->pacer, NULL, pacer_main, t);
	if (err) {
		what = "cannot start the pacer thread";
		goto fail;
	}
	t->pacer_running = true;
	pthread_setname_np(t->pacer, "vigil-rpc-pacer");
	err = set_policy(0, SCHED_IDLE);
	if (err) {
		what = "cannot set SCHED_IDLE";
		goto fail;
	}
	t->idle = true;
	return;
fail:
	log_warn(C, "--sched idle: %s (%s); running at normal priority", what, strerror(-err));
	sched_idle_stop(t);
}

static void on_interval(struct vloop *loop, void *ctx)
{
	struct rpc_tracer *t = ctx;
	uint64_t now = mono_ns();
	double secs = (double)(now - t->last_tick_ns) / 1e9;

	(void)loop;
	t->last_tick_ns = now;
	/* records already in the ring buffer belong to this interval */
	drain(t);
	rpc_stats_tick(&t->st, secs, on_anomaly, t);
	publish_aggregates(t, secs);
	if (t->tick_fn)
		t->tick_fn(t, &t->st, secs, t->tick_ctx);
	rpc_stats_reset_window(&t->st);
}

static void on_drain(struct vloop *loop, void *ctx)
{
	struct rpc_tracer *t = ctx;

	(void)loop;
	drain(t);
}

void rpc_tracer_on_tick(struct rpc_tracer *t, rpc_tick_fn fn, void *ctx)
{
	t->tick_fn = fn;
	t->tick_ctx = ctx;
}

/* ---- counters and metrics ---- */

static uint64_t bpf_counter(struct rpc_tracer *t, __u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[ncpu > 0 ? ncpu : 1], sum = 0;

	if (ncpu <= 0 || bpf_map__lookup_elem(t->skel->maps.counters, &idx, sizeof(idx), vals,
					      sizeof(__u64) * (size_t)ncpu, 0))
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

void rpc_tracer_counters(struct rpc_tracer *t, struct rpc_tracer_counters *c)
{
	c->events = bpf_counter(t, RPC_CNT_EVENTS);
	c->lost = bpf_counter(t, RPC_CNT_LOST);
	c->truncated = bpf_counter(t, RPC_CNT_TRUNCATED);
	c->conns = bpf_counter(t, RPC_CNT_CONNS);
	c->unsupported = bpf_counter(t, RPC_CNT_UNSUPPORTED);
	c->calls = t->calls;
	c->parse_errors = t->parse_errors;
	c->raises = atomic_load(&t->raises);
}

static void collect(struct vmetrics *reg, void *ctx)
{
	struct rpc_tracer *t = ctx;
	struct rpc_tracer_counters c;

	(void)reg;
	rpc_tracer_counters(t, &c);
	vmetric_set(t->m_lost, (double)c.lost);
	vmetric_set(t->m_trunc, (double)c.truncated);
	vmetric_set(t->m_events, (double)c.events);
	vmetric_set(t->m_conns, (double)t->nconns);
	vmetric_set(t->m_folded, (double)t->st.folded);
	vmetric_set(t->m_parse, (double)t->parse_errors);
	vmetric_set(t->m_unsup, (double)c.unsupported);
	vmetric_set(t->m_raises, (double)c.raises);
}

static int setup_metrics(struct rpc_tracer *t)
{
	static const double dur[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				      0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
	static const double size[] = { 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
				       4194304, 16777216 };
	struct vmetrics *r = t->reg;
	/* the method cap is enforced before labels are made; leave room for codes/status */
	unsigned cap = (unsigned)t->cfg.max_methods * 3 + 16;

	t->m_req = vmetrics_counter(r, "vigil_rpc_requests_total",
				    "JSON-RPC calls (every batch item) by method and status",
				    "method,status");
	t->m_dur = vmetrics_histogram(r, "vigil_rpc_request_duration_seconds",
				      "first request byte read to last response byte written", "method",
				      dur, sizeof(dur) / sizeof(dur[0]));
	t->m_size = vmetrics_histogram(r, "vigil_rpc_response_size_bytes",
				       "response bytes per call", "method", size,
				       sizeof(size) / sizeof(size[0]));
	t->m_err = vmetrics_counter(r, "vigil_rpc_errors_total",
				    "JSON-RPC error responses by method and error code", "method,code");
	t->m_notif = vmetrics_counter(r, "vigil_rpc_notifications_total",
				      "server pushes without id (eth_subscription) by method", "method");
	t->m_lost = vmetrics_counter(r, "vigil_rpc_events_lost_total",
				     "kernel records dropped because the ring buffer was full", NULL);
	t->m_trunc = vmetrics_counter(r, "vigil_rpc_events_truncated_total",
				      "syscalls whose data exceeded the capture size", NULL);
	t->m_events = vmetrics_counter(r, "vigil_rpc_kernel_events_total",
				       "records the kernel side wrote to the ring buffer", NULL);
	t->m_conns = vmetrics_gauge(r, "vigil_rpc_connections",
				    "server connections being parsed now", NULL);
	t->m_folded = vmetrics_counter(r, "vigil_rpc_methods_folded_total",
				       "calls reported as method \"other\" because of --max-methods",
				       NULL);
	t->m_parse = vmetrics_counter(r, "vigil_rpc_parse_errors_total",
				      "records the parsers could not use", NULL);
	t->m_unsup = vmetrics_counter(r, "vigil_rpc_unsupported_io_total",
				      "server-port socket reads/writes not captured: made by a "
				      "syscall other than the eight read/write-like ones (io_uring, "
				      "sendfile, recvmmsg...; socket hooks only)", NULL);
	t->m_raises = vmetrics_counter(r, "vigil_rpc_sched_raises_total",
				       "times the tracer thread (--sched idle) was raised to normal "
				       "priority because records piled up in the ring buffer", NULL);
	if (!t->m_req || !t->m_dur || !t->m_size || !t->m_err || !t->m_notif || !t->m_lost ||
	    !t->m_trunc || !t->m_events || !t->m_conns || !t->m_folded || !t->m_parse ||
	    !t->m_unsup || !t->m_raises)
		return -errno;
	vmetric_set_max_children(t->m_req, cap);
	vmetric_set_max_children(t->m_dur, cap);
	vmetric_set_max_children(t->m_size, cap);
	vmetric_set_max_children(t->m_notif, cap);
	vmetric_set_max_children(t->m_err, cap);
	return vmetrics_on_collect(r, collect, t);
}

/* ---- targets ---- */

static bool proc_matches(const char *pid, const char *comm, const char *exe_real)
{
	char path[300], buf[PATH_MAX];
	ssize_t n;

	if (comm) {
		FILE *f;
		snprintf(path, sizeof(path), "/proc/%s/comm", pid);
		f = fopen(path, "r");
		if (!f)
			return false;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
		buf[strcspn(buf, "\n")] = 0;
		if (strcmp(buf, comm) == 0)
			return true;
	}
	if (exe_real && exe_real[0]) {
		snprintf(path, sizeof(path), "/proc/%s/exe", pid);
		n = readlink(path, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			if (strcmp(buf, exe_real) == 0)
				return true;
		}
	}
	return false;
}

/* Adds running processes matching --comm/--exe; returns how many. */
static int seed_from_proc(struct rpc_tracer *t)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (proc_matches(de->d_name, t->cfg.comm, t->exe_real)) {
			add_target(t, (uint32_t)strtoul(de->d_name, NULL, 10));
			n++;
		}
	}
	closedir(d);
	return n;
}

static int setup_targets(struct rpc_tracer *t, const uint16_t *ports, int nports)
{
	__u8 one = 1;
	int n = 0;

	for (int i = 0; i < nports; i++)
		rpc_bpf_add_port(t->skel, ports[i]);
	if (t->cfg.pid) {
		char *list = strdup(t->cfg.pid), *save = NULL;
		for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char *end, path[64];
			long pid = strtol(tok, &end, 10);
			struct stat sb;

			snprintf(path, sizeof(path), "/proc/%ld", pid);
			if (*end || pid < 1 || pid > INT_MAX || stat(path, &sb)) {
				log_error(C, "no process with PID '%s' (--pid): check the PID with ps",
					  tok);
				free(list);
				return -ESRCH;
			}
			add_target(t, (uint32_t)pid);
			n++;
		}
		free(list);
	}
	if (t->cfg.comm || t->exe_real[0])
		n += seed_from_proc(t);
	if (t->cfg.cgroup) {
		struct stat sb;
		struct statfs fs;
		__u64 id;
		if (statfs(t->cfg.cgroup, &fs) == 0 && fs.f_type != 0x63677270 /* CGROUP2 */) {
			log_error(C, "cannot use cgroup '%s' (--cgroup): not in a cgroup v2 hierarchy (on "
				  "hosts that also mount cgroup v1, the v2 tree is usually "
				  "/sys/fs/cgroup/unified)", t->cfg.cgroup);
			return -EINVAL;
		}
		if (stat(t->cfg.cgroup, &sb) || !S_ISDIR(sb.st_mode)) {
			log_error(C, "cannot use cgroup '%s' (--cgroup): %s (give a cgroup v2 directory "
				  "such as /sys/fs/cgroup/system.slice/geth.service)",
				  t->cfg.cgroup, errno ? strerror(errno) : "not a directory");
			return -ENOENT;
		}
		id = sb.st_ino; /* cgroup v2: the directory's inode number is the cgroup id */
		bpf_map__update_elem(t->skel->maps.cgroups, &id, sizeof(id), &one, 1, BPF_ANY);
	}
	if (t->cfg.pid || t->cfg.comm || t->cfg.exe)
		log_info(C, "tracing %d running process%s on port%s %s%s", n, n == 1 ? "" : "es",
			 nports == 1 ? "" : "s", t->cfg.ports,
			 t->cfg.comm || t->cfg.exe ? " (and matching ones started later)" : "");
	else if (!t->cfg.cgroup)
		log_info(C, "tracing every process serving on port%s %s", nports == 1 ? "" : "s",
			 t->cfg.ports);
	return 0;
}

const char *rpc_hook_name(enum rpc_hook h)
{
	return h == RPC_HOOK_SOCKET ? "socket" : h == RPC_HOOK_SYSCALL ? "syscall" : "auto";
}

int rpc_hook_parse(const char *s)
{
	if (!s || !strcmp(s, "auto"))
		return RPC_HOOK_AUTO;
	if (!strcmp(s, "socket"))
		return RPC_HOOK_SOCKET;
	if (!strcmp(s, "syscall"))
		return RPC_HOOK_SYSCALL;
	return -EINVAL;
}

int rpc_hook_pick(enum rpc_hook want, char *why, size_t n)
{
	bool sock = libbpf_find_vmlinux_btf_id("sock_recv_length", BPF_TRACE_RAW_TP) > 0 &&
		    libbpf_find_vmlinux_btf_id("sock_send_length", BPF_TRACE_RAW_TP) > 0 &&
		    libbpf_find_vmlinux_btf_id("inet_sock_set_state", BPF_TRACE_RAW_TP) > 0;

	if (want == RPC_HOOK_SYSCALL) {
		snprintf(why, n, "asked for with --hook syscall");
		return RPC_HOOK_SYSCALL;
	}
	if (sock) {
		snprintf(why, n, "%s", want == RPC_HOOK_SOCKET ? "asked for with --hook socket"
				: "the kernel has the sock_recv_length and sock_send_length "
				  "tracepoints");
		return RPC_HOOK_SOCKET;
	}
	if (want == RPC_HOOK_SOCKET) {
		log_error(C, "--hook socket: this kernel has no sock_recv_length/sock_send_length "
			  "tracepoints in its BTF (they came with Linux 6.4); use --hook syscall "
			  "or auto");
		return -ENOTSUP;
	}
	snprintf(why, n, "the kernel has no sock_recv_length/sock_send_length tracepoints "
		 "(Linux < 6.4): every syscall of the machine pays the syscall tracepoint path");
	return RPC_HOOK_SYSCALL;
}

void rpc_bpf_add_target(struct rpc_bpf *skel, uint32_t tgid)
{
	if (tgid < RPC_MAX_TGID)
		__atomic_fetch_or(&skel->bss->target_bits[tgid / 64], 1ULL << (tgid % 64),
				  __ATOMIC_RELAXED);
}

void rpc_bpf_add_port(struct rpc_bpf *skel, uint16_t port)
{
	skel->bss->port_bits[port >> 3] |= (__u8)(1u << (port & 7));
}

void rpc_bpf_prepare(struct rpc_bpf *skel, enum rpc_hook hook)
{
	struct bpf_program *sock[] = { skel->progs.handle_sock_recv, skel->progs.handle_sock_send,
				       skel->progs.handle_sock_state };
	struct bpf_program *sys[] = { skel->progs.handle_sys_exit,
				      skel->progs.handle_enter_close };
	struct bpf_program *empty[] = { skel->progs.handle_sys_exit_empty,
					skel->progs.handle_enter_close_empty,
					skel->progs.handle_sock_recv_empty,
					skel->progs.handle_sock_send_empty,
					skel->progs.handle_sock_state_empty };

	static const struct { long nr; __u8 kind; } sc[] = {
		{ SYS_read, RPC_SC_READ },	   { SYS_readv, RPC_SC_READV },
		{ SYS_recvfrom, RPC_SC_RECVFROM }, { SYS_recvmsg, RPC_SC_RECVMSG },
		{ SYS_write, RPC_SC_WRITE },	   { SYS_writev, RPC_SC_WRITEV },
		{ SYS_sendto, RPC_SC_SENDTO },	   { SYS_sendmsg, RPC_SC_SENDMSG },
		{ SYS_accept4, RPC_SC_ACCEPT4 },
#ifdef SYS_accept
		{ SYS_accept, RPC_SC_ACCEPT },
#endif
	};

	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++)
		if (sc[i].nr >= 0 && sc[i].nr < RPC_MAX_NR)
			skel->rodata->sc_kind[sc[i].nr] = sc[i].kind;
	bpf_map__set_max_entries(skel->maps.scratch_map, (__u32)libbpf_num_possible_cpus());
	for (size_t i = 0; i < sizeof(sock) / sizeof(sock[0]); i++)
		bpf_program__set_autoload(sock[i], hook == RPC_HOOK_SOCKET);
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		bpf_program__set_autoload(sys[i], hook != RPC_HOOK_SOCKET);
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++)
		bpf_program__set_autoload(empty[i], false);
}

void rpc_bpf_configure(struct rpc_bpf *skel, const struct rpc_tracer_cfg *cfg, enum rpc_hook hook)
{
	skel->rodata->capture = (__u32)cfg->capture;
	skel->rodata->wakeup_bytes = cfg->wakeup < cfg->ringbuf / 2 ? cfg->wakeup : cfg->ringbuf / 2;
	skel->rodata->filter_targets = cfg->pid || cfg->comm || cfg->exe;
	skel->rodata->filter_cgroups = cfg->cgroup != NULL;
	if (cfg->comm)
		memcpy((char *)skel->rodata->target_comm, cfg->comm, strlen(cfg->comm));
	rpc_bpf_prepare(skel, hook);
	bpf_map__set_max_entries(skel->maps.events, (__u32)cfg->ringbuf);
}

struct rpc_tracer *rpc_tracer_new(const struct rpc_tracer_cfg *cfg, const char *app_id,
				  struct vloop *loop, struct vmetrics *reg, struct vbus *bus)
{
	struct rpc_stats_cfg scfg = {
		.max_methods = (size_t)cfg->max_methods,
		.spike_factor = cfg->spike_factor,
		.spike_min_rate = cfg->spike_min_rate,
		.error_delta = cfg->error_delta,
		.error_min_calls = 10,
		.warmup = 3,
		.alpha = 0.2,
	};
	uint16_t ports[RPC_MAX_PORTS];
	char why[200];
	struct rpc_tracer *t;
	int nports, err, hook;

	nports = rpc_parse_ports(cfg->ports, ports, RPC_MAX_PORTS);
	if (nports < 0) {
		log_error(C, "invalid --ports '%s': expected up to %d ports from 1 to 65535 "
			  "separated by commas", cfg->ports ? cfg->ports : "", RPC_MAX_PORTS);
		errno = EINVAL;
		return NULL;
	}
	if (cfg->ringbuf & (cfg->ringbuf - 1)) {
		unsigned long long v = cfg->ringbuf;
		log_error(C, "invalid --ringbuf %llu%s (%llu bytes): must be a power of two such as "
			  "16MiB", v % (1 << 20) ? v % 1024 ? v : v >> 10 : v >> 20,
			  v % (1 << 20) ? v % 1024 ? "" : "KiB" : "MiB", v);
		errno = EINVAL;
		return NULL;
	}
	if (cfg->comm && strlen(cfg->comm) >= RPC_COMM_LEN) {
		log_error(C, "invalid --comm '%s': the kernel keeps 15 characters of a process "
			  "name; give the first 15 or use --exe", cfg->comm);
		errno = EINVAL;
		return NULL;
	}
	if (cfg->capture_params && !(cfg->sample > 0 && cfg->sample <= 1)) {
		log_error(C, "invalid --sample %g: give the fraction of calls whose parameters are "
			  "exported, more than 0 and at most 1 (e.g. 0.01)", cfg->sample);
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cfg = *cfg;
	t->pacer_stop = -1;
	t->conn_opts.capture_params = cfg->capture_params;
	t->conn_opts.params_max = cfg->params_max;
	if (cfg->capture_params) {
		err = rpc_redact_init(&t->redact, cfg->redact_keys, cfg->redact_methods);
		if (err)
			goto fail;
		log_info(C, "exporting request parameters of %g%% of calls (up to %llu bytes "
			  "each), redacted: keys '%s'; methods %s%s%s", cfg->sample * 100,
			  (unsigned long long)(cfg->params_max ? cfg->params_max
							       : RPC_CONN_PARAMS_MAX_DEFAULT),
			  cfg->redact_keys ? cfg->redact_keys : "", RPC_REDACT_METHODS_BUILTIN,
			  cfg->redact_methods && *cfg->redact_methods ? "," : "",
			  cfg->redact_methods ? cfg->redact_methods : "");
	}
	t->app_id = app_id;
	t->loop = loop;
	t->reg = reg;
	t->bus = bus;
	t->real_off = (int64_t)vtime_real_ns() - (int64_t)mono_ns();
	if (cfg->exe && !realpath(cfg->exe, t->exe_real)) {
		log_error(C, "cannot use --exe '%s': %s (give the path of the node's executable, "
			  "such as /usr/local/bin/geth)", cfg->exe, strerror(errno));
		err = -ENOENT;
		goto fail;
	}
	err = rpc_stats_init(&t->st, &scfg);
	if (err)
		goto fail;
	t->mm = calloc(t->st.cap, sizeof(*t->mm));
	if (!t->mm) {
		err = -ENOMEM;
		goto fail;
	}
	err = vbpf_init();
	if (err)
		goto fail;
	hook = rpc_hook_parse(cfg->hook); /* the option table allowed only these words */
	if (hook >= 0)
		hook = rpc_hook_pick((enum rpc_hook)hook, why, sizeof(why));
	if (hook < 0) {
		err = hook;
		goto fail;
	}
	t->skel = rpc_bpf__open();
	if (!t->skel) {
		err = -errno;
		log_error(C, "cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	rpc_bpf_configure(t->skel, cfg, (enum rpc_hook)hook);
	err = rpc_bpf__load(t->skel);
	if (err) {
		log_error(C, "cannot load the BPF programs: %s (run as root; see 'vigil probe')",
			  strerror(-err));
		goto fail;
	}
	err = setup_targets(t, ports, nports);
	if (err)
		goto fail;
	err = rpc_bpf__attach(t->skel);
	if (err) {
		log_error(C, "cannot attach to the syscall and process tracepoints: %s (see 'vigil probe')",
			  strerror(-err));
		goto fail;
	}
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_record, t, NULL);
	if (!t->rb) {
		err = -errno;
		goto fail;
	}
	err = vloop_add_fd(loop, ring_buffer__epoll_fd(t->rb), EPOLLIN, on_ring, t);
	if (err)
		goto fail;
	if (reg) {
		err = setup_metrics(t);
		if (err)
			goto fail;
	}
	t->last_tick_ns = mono_ns();
	t->timer = vloop_timer_add_aligned(loop, cfg->interval, on_interval, t);
	if (!t->timer) {
		err = -errno;
		goto fail;
	}
	if (cfg->wakeup) {
		t->drain = vloop_timer_add_aligned(loop, cfg->drain, on_drain, t);
		if (!t->drain) {
			err = -errno;
			goto fail;
		}
	}
	if (cfg->sched && !strcmp(cfg->sched, "idle"))
		sched_idle_start(t);
	log_info(C, "capturing %llu bytes per read/write, hooks: %s (%s), CPU policy %s",
		 (unsigned long long)cfg->capture,
		 hook == RPC_HOOK_SOCKET ? "socket tracepoints" : "syscall exit tracepoint", why,
		 t->idle ? "SCHED_IDLE" : "as started");
	return t;
fail:
	rpc_tracer_free(t);
	errno = -err;
	return NULL;
}

void rpc_tracer_free(struct rpc_tracer *t)
{
	if (!t)
		return;
	if (t->timer)
		vloop_timer_del(t->timer);
	if (t->drain)
		vloop_timer_del(t->drain);
	if (t->rb) {
		vloop_del_fd(t->loop, ring_buffer__epoll_fd(t->rb)); /* -ENOENT if never added */
		ring_buffer__consume(t->rb);
	}
	sched_idle_stop(t);
	for (int b = 0; b < CONN_BUCKETS; b++)
		while (t->buckets[b])
			conn_drop(t, &t->buckets[b], mono_ns());
	ring_buffer__free(t->rb);
	rpc_bpf__destroy(t->skel);
	rpc_stats_free(&t->st);
	free(t->mm);
	vbuf_free(&t->json);
	vbuf_free(&t->params);
	rpc_redact_free(&t->redact);
	free(t);
}
