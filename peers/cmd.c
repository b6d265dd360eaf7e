// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vigil peers`: the peer monitor on one event loop.
 *
 *   loop thread                               worker thread
 *   -----------                               -------------
 *   timer every --interval: sides due? ---->  peers_watch_collect() (libcurl easy / IPC: blocks,
 *                                             each request bounded by --timeout)
 *   async "done" <--------------------------  snapshot ready
 *   peers_watch_apply(): join/leave events -> bus (<app-id>.peers.events), churn metric
 *   gauges, scrape errors, backoff of a failing side, then the table / JSON line / CSV rows
 *
 * The loop keeps serving /metrics, the bus and signals while a node takes its time: a refresh
 * still running when the next tick comes is not doubled, the tick is skipped. A side that fails
 * is retried with exponential backoff (--interval doubled per failure, at most 60 s or
 * --interval if longer) and its state changes are logged once, not every retry.
 *
 * --once needs no loop: one refresh on this thread, the snapshot, an exit code.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vigil/bus.h"
#include "vigil/cmd.h"
#include "vigil/http.h"
#include "vigil/log.h"
#include "vigil/loop.h"
#include "vigil/metrics.h"
#include "vigil/util.h"
#include "peers/cmd.h"
#include "peers/watch.h"

#define EVENTS_SUFFIX	 "peers.events"
#define BACKOFF_CAP_NS	 (60ull * 1000000000ull)
#define RECENT_EVENTS	 5
#define JOIN_TIMEOUT_NS	 (2ull * 1000000000ull)

struct peers_cmd_cfg {
	bool events;
};

static struct peers_cfg peers_cfg;
static struct peers_cmd_cfg cmd_cfg;
static struct vbus_cfg bus_cfg;
static struct vhttp_cfg http_cfg;

static const struct vopt peers_cmd_opts[] = {
	VOPT_BOOL("events", 0, struct peers_cmd_cfg, events,
		  "without --nats-url/--jsonl, show join/leave events anyway: under the table, or "
		  "as JSON Lines between the snapshots with --json"),
	VOPT_END
};

const struct vopt_set peers_sets[] = {
	{ peers_opts, &peers_cfg }, { peers_cmd_opts, &cmd_cfg }, { vbus_opts, &bus_cfg },
	{ vhttp_opts, &http_cfg },  { NULL, NULL }
};

/* What the loop thread remembers of a side between refreshes. */
struct side_state {
	bool configured;
	unsigned fails;	      /* consecutive failed polls */
	uint64_t next_ns;     /* monotonic: not polled again before this (backoff) */
	char last_err[PEERS_ERRLEN];
	bool down_reported;
};

/* One (side, direction, client) series of vigil_peers_connected ever set, so a client that
 * disappears is set back to 0 instead of keeping its last count. */
struct conn_series {
	int side, dir;
	char client[32];
	size_t n; /* this refresh */
	struct vmetric_child *child;
};

struct pcmd {
	struct peers_watch *w;
	struct vloop *loop;
	struct vmetrics *reg;
	struct vhttp *http;
	struct vbus *bus;
	struct vloop_timer *timer;
	struct vloop_async *done;
	enum peers_format fmt;
	bool tty, ansi, publish, footer; /* ansi: redraw in place (watch mode on a TTY) */
	uint64_t interval_ns;

	/* worker hand-over; everything below mu is guarded by it */
	pthread_t thr;
	bool thr_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool busy, job, quit, exited;
	unsigned job_sides;
	uint64_t job_start_ns;
	struct peers_snapshot next; /* the worker's while busy */
	int next_rc;

	struct side_state side[2];
	unsigned long ticks_skipped;

	struct vmetric *m_up, *m_connected, *m_sync_distance, *m_syncing, *m_errors, *m_churn;
	struct conn_series *series;
	size_t nseries, series_cap;

	char recent[RECENT_EVENTS][200]; /* footer lines, oldest first */
	size_t nrecent;
	struct vbuf out;
};

static const char *const dir_label[] = { [PEER_DIR_UNKNOWN] = "unknown",
					 [PEER_DIR_IN] = "inbound",
					 [PEER_DIR_OUT] = "outbound" };

/* The bounded client label: a known client's canonical name, "unknown" when the peer did not
 * say, "other" for anything else (a peer-chosen string never becomes a label value). */
static const char *client_label(const struct peer *p)
{
	const char *n = p->client.name, *canon;

	if (!n[0] || strcmp(n, "unknown") == 0)
		return "unknown";
	canon = peer_client_canonical(n, strlen(n));
	return canon ? canon : "other";
}

/* ---- metrics -------------------------------------------------------------------------------- */

static int metrics_create(struct pcmd *c)
{
	c->m_up = vmetrics_gauge(c->reg, "vigil_peers_up",
				 "1 when the last poll of that side's endpoint succeeded, else 0",
				 "side");
	c->m_connected = vmetrics_gauge(c->reg, "vigil_peers_connected",
					"connected peers by side, direction and client",
					"side,direction,client");
	c->m_sync_distance = vmetrics_gauge(
		c->reg, "vigil_peers_sync_distance",
		"execution: highest minus current block (0 when synced); consensus: sync_distance "
		"slots",
		"side");
	c->m_syncing = vmetrics_gauge(c->reg, "vigil_peers_syncing",
				      "1 while the client reports that it is syncing", "side");
	c->m_errors = vmetrics_counter(c->reg, "vigil_peers_scrape_errors_total",
				       "failed polls (endpoint down, timeout, HTTP error, malformed "
				       "answer, admin API not enabled)",
				       "side");
	c->m_churn = vmetrics_counter(c->reg, "vigil_peers_churn_total",
				      "peers seen to join or leave between two polls", "side,event");
	if (!c->m_up || !c->m_connected || !c->m_sync_distance || !c->m_syncing || !c->m_errors ||
	    !c->m_churn)
		return -errno;
	/* every known client, 3 directions, 2 sides, with room to spare */
	vmetric_set_max_children(c->m_connected, 512);
	/* bounded label sets exist from start-up with value 0 (deploy/METRICS.md) */
	for (int s = 0; s < 2; s++) {
		const char *side = peer_side_str(s);

		if (!c->side[s].configured)
			continue;
		vmetric_set(c->m_up, 0, side);
		vmetric_set(c->m_sync_distance, 0, side);
		vmetric_set(c->m_syncing, 0, side);
		vmetric_add(c->m_errors, 0, side);
		vmetric_add(c->m_churn, 0, side, "join");
		vmetric_add(c->m_churn, 0, side, "leave");
	}
	return 0;
}

static struct conn_series *series_get(struct pcmd *c, int side, int dir, const char *client)
{
	struct conn_series *s;

	for (size_t i = 0; i < c->nseries; i++) {
		s = &c->series[i];
		if (s->side == side && s->dir == dir && strcmp(s->client, client) == 0)
			return s;
	}
	if (c->nseries == c->series_cap) {
		size_t cap = c->series_cap ? 2 * c->series_cap : 16;
		void *v = realloc(c->series, cap * sizeof(*c->series));

		if (!v)
			return NULL;
		c->series = v;
		c->series_cap = cap;
	}
	s = &c->series[c->nseries];
	memset(s, 0, sizeof(*s));
	s->side = side;
	s->dir = dir;
	snprintf(s->client, sizeof(s->client), "%s", client);
	s->child = vmetric_child(c->m_connected, (const char *[]){ peer_side_str(side),
								   dir_label[dir], client });
	if (!s->child)
		return NULL;
	c->nseries++;
	return s;
}

/* Copies a fresh snapshot into the gauges. A side that is down keeps the values of its last
 * successful poll: vigil_peers_up says whether they are current. */
static void metrics_update(struct pcmd *c, unsigned polled)
{
	const struct peers_snapshot *snap = &c->w->snap;

	for (int s = 0; s < 2; s++) {
		const struct peers_side_info *si = &snap->side[s];
		const char *side = peer_side_str(s);

		if (!c->side[s].configured)
			continue;
		vmetric_set(c->m_up, si->up ? 1 : 0, side);
		if (si->has_sync) {
			vmetric_set(c->m_syncing, si->syncing ? 1 : 0, side);
			vmetric_set(c->m_sync_distance, (double)si->sync_distance, side);
		}
		if ((polled & (1u << s)) && si->error[0])
			vmetric_inc(c->m_errors, side);
		if (!si->up)
			continue;
		for (size_t i = 0; i < c->nseries; i++)
			if (c->series[i].side == s)
				c->series[i].n = 0;
		for (size_t i = 0; i < snap->peers.n; i++) {
			const struct peer *p = &snap->peers.v[i];
			struct conn_series *cs;

			if ((int)p->side != s)
				continue;
			cs = series_get(c, s, p->dir <= PEER_DIR_OUT ? (int)p->dir : 0,
					client_label(p));
			if (cs)
				cs->n++;
		}
		for (size_t i = 0; i < c->nseries; i++)
			if (c->series[i].side == s)
				vmetric_child_set_u64(c->series[i].child, c->series[i].n);
	}
}

/* ---- events --------------------------------------------------------------------------------- */

/* A join/leave event from the tracker (loop thread): counted, published, remembered for the
 * table's footer. */
static void on_event(const char *json, size_t len, void *ctx)
{
	struct pcmd *c = ctx;
	json_t *ev = json_loadb(json, len, 0, NULL);
	const char *kind = json_string_value(json_object_get(ev, "event"));
	const char *side = json_string_value(json_object_get(ev, "side"));

	if (kind && side)
		vmetric_inc(c->m_churn, side, kind);
	if (c->publish && c->bus) {
		int err = vbus_publish(c->bus, EVENTS_SUFFIX, json, len);

		if (err)
			log_warn("peers", "cannot publish a %s event: %s", kind ? kind : "peer",
				 strerror(-err));
	}
	if (c->footer && kind && side) {
		const char *ts = json_string_value(json_object_get(ev, "ts"));
		const char *sid = json_string_value(json_object_get(ev, "short_id"));
		const char *client = json_string_value(json_object_get(ev, "client"));
		const char *dir = json_string_value(json_object_get(ev, "direction"));
		const char *remote = json_string_value(json_object_get(ev, "remote"));
		char *line;

		if (c->nrecent == RECENT_EVENTS) {
			memmove(c->recent[0], c->recent[1], sizeof(c->recent[0]) * (RECENT_EVENTS - 1));
			c->nrecent--;
		}
		line = c->recent[c->nrecent++];
		/* "2026-11-21T05:59:02.508694Z" -> "05:59:02" */
		snprintf(line, sizeof(c->recent[0]), "%.8s  %-5s  %-9s  %-8s  %-12s  %-7s  %s",
			 ts && strlen(ts) >= 19 ? ts + 11 : "", kind, side, sid ? sid : "-",
			 client ? client : "-", dir ? dir : "-", remote ? remote : "-");
		/* strings from peers: nothing that could drive the terminal */
		for (char *p = line; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
	}
	json_decref(ev);
}

/* ---- output --------------------------------------------------------------------------------- */

static void write_all(const char *p, size_t n)
{
	fwrite(p, 1, n, stdout);
	fflush(stdout);
}

/* Renders the current snapshot in the chosen format onto stdout. */
static int output(struct pcmd *c)
{
	/* not a terminal: wide enough that a log or pipe loses nothing to cutting */
	struct peers_table_opts o = { .width = 200 };
	struct winsize ws;
	int err;

	vbuf_reset(&c->out);
	if (c->fmt == PEERS_FMT_TABLE) {
		if (c->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col) {
			o.width = ws.ws_col;
			o.height = ws.ws_row;
		}
		o.ansi = c->ansi;
		if (c->footer && o.height)
			o.height = MAX(o.height - (int)c->nrecent - 2, 4);
	}
	err = peers_watch_render(c->w, c->fmt, &o, &c->out);
	if (err)
		return err;
	if (c->fmt == PEERS_FMT_TABLE && c->footer) {
		const char *eol = c->ansi ? "\033[K\n" : "\n";

		vbuf_printf(&c->out, "%s", eol);
		vbuf_printf(&c->out, "recent events%s", eol);
		for (size_t i = 0; i < c->nrecent; i++)
			vbuf_printf(&c->out, "%.*s%s", MAX(o.width - 1, 1), c->recent[i], eol);
		if (!c->nrecent)
			vbuf_printf(&c->out, "(none yet)%s", eol);
		if (c->ansi)
			vbuf_puts(&c->out, "\033[J");
	}
	if (c->fmt == PEERS_FMT_TABLE && !c->ansi && !peers_cfg.once)
		vbuf_putc(&c->out, '\n'); /* a blank line between the refreshes of a log */
	if (!c->out.data && c->out.len)
		return -ENOMEM;
	write_all(c->out.data, c->out.len);
	return 0;
}

/* ---- worker --------------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct pcmd *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->job && !c->quit)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->quit)
			break;
		c->job = false;
		unsigned sides = c->job_sides;

		pthread_mutex_unlock(&c->mu);
		/* c->next belongs to this thread until busy is cleared */
		int rc = peers_watch_collect(c->w, &c->next, sides);

		pthread_mutex_lock(&c->mu);
		c->next_rc = rc;
		if (c->quit)
			break;
		vloop_async_send(c->done);
	}
	c->busy = false;
	c->exited = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* The sides whose backoff has run out. */
static unsigned sides_due(struct pcmd *c, uint64_t now)
{
	unsigned m = 0;

	for (int s = 0; s < 2; s++)
		if (c->side[s].configured && now >= c->side[s].next_ns)
			m |= 1u << s;
	return m;
}

static void on_tick(struct vloop *loop, void *ctx)
{
	struct pcmd *c = ctx;
	uint64_t now = vloop_now_ns();
	unsigned due = sides_due(c, now);

	(void)loop;
	pthread_mutex_lock(&c->mu);
	if (c->busy) {
		unsigned long n = ++c->ticks_skipped;

		pthread_mutex_unlock(&c->mu);
		log_debug("peers", "the last refresh is still running at this --interval tick; "
			  "skipped (%lu so far)", n);
		return;
	}
	if (!due) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	c->busy = true;
	c->job = true;
	c->job_sides = due;
	c->job_start_ns = now;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void fmt_secs(char *buf, size_t n, uint64_t ns)
{
	if (ns % 1000000000ull)
		snprintf(buf, n, "%.1fs", (double)ns / 1e9);
	else
		snprintf(buf, n, "%llus", (unsigned long long)(ns / 1000000000ull));
}

/* The endpoint of a side as shown in messages (credentials removed). */
static const char *side_name(const struct pcmd *c, int s)
{
	const struct peers_conn *conn = s == PEER_SIDE_EXEC ? c->w->exec : c->w->cons;

	return conn ? peers_conn_name(conn) : "(none)";
}

/* "execution http://host:8545: <error>", without repeating the endpoint when the error names it. */
static void side_msg(char *buf, size_t n, const struct pcmd *c, int s, const char *err)
{
	const char *name = side_name(c, s);

	if (strstr(err, name))
		snprintf(buf, n, "%s: %s", peer_side_str(s), err);
	else
		snprintf(buf, n, "%s %s: %s", peer_side_str(s), name, err);
}

/* After a poll: backoff bookkeeping and one log line per change of a side's state. */
static void side_states(struct pcmd *c, unsigned polled, uint64_t started)
{
	for (int s = 0; s < 2; s++) {
		const struct peers_side_info *si = &c->w->snap.side[s];
		struct side_state *st = &c->side[s];
		const char *name = side_name(c, s);
		uint64_t delay, cap = MAX(BACKOFF_CAP_NS, c->interval_ns);
		char when[32];

		if (!(polled & (1u << s)))
			continue;
		if (si->up) {
			if (st->down_reported)
				log_info("peers", "%s %s: answering again", peer_side_str(s), name);
			st->fails = 0;
			st->next_ns = 0;
			st->down_reported = false;
			st->last_err[0] = 0;
			continue;
		}
		st->fails++;
		delay = c->interval_ns << MIN(st->fails - 1, 10u);
		if (delay > cap || delay < c->interval_ns)
			delay = cap;
		/* due at the tick nearest to started + delay */
		st->next_ns = started + delay - c->interval_ns / 2;
		fmt_secs(when, sizeof(when), delay);
		if (!st->down_reported || strcmp(st->last_err, si->error) != 0) {
			char msg[PEERS_ERRLEN + 256];

			side_msg(msg, sizeof(msg), c, s, si->error);
			log_warn("peers", "%s; retrying in %s, then less often (up to every %llus)", msg,
				 when, (unsigned long long)(cap / 1000000000ull));
			st->down_reported = true;
			snprintf(st->last_err, sizeof(st->last_err), "%s", si->error);
		} else {
			log_info("peers", "%s %s: still down after %u tries; next in %s",
				 peer_side_str(s), name, st->fails, when);
		}
	}
}

/* The worker finished a poll (loop thread). */
static void on_done(struct vloop *loop, void *ctx)
{
	struct pcmd *c = ctx;
	unsigned polled;
	uint64_t started;
	int rc, err;

	(void)loop;
	pthread_mutex_lock(&c->mu);
	if (!c->busy || c->job) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	polled = c->job_sides;
	started = c->job_start_ns;
	rc = c->next_rc;
	pthread_mutex_unlock(&c->mu);

	/* the worker is idle until busy is cleared: c->next is ours */
	rc = peers_watch_apply(c->w, &c->next, rc, on_event, c);
	if (rc == -ENOMEM)
		log_error("peers", "out of memory while tracking peers");
	metrics_update(c, polled);
	side_states(c, polled, started);
	if (c->http)
		vhttp_set_ready(c->http, true);
	err = output(c);
	if (err)
		log_error("peers", "cannot render the peer table: %s", strerror(-err));
	/* The output buffer is kept for the next refresh: rendering into a fresh one faults its
	 * hundreds of KB in again each time (about a quarter of a refresh's time, measured by
	 * bench/peers); the rest of the refresh's memory is given back. */
	vbuf_reset(&c->out);
	peers_memory_release();

	pthread_mutex_lock(&c->mu);
	c->busy = false;
	pthread_mutex_unlock(&c->mu);
}

/* ---- run ------------------------------------------------------------------------------------ */

static bool worker_stop(struct pcmd *c)
{
	struct timespec dl;
	uint64_t wait = MIN(JOIN_TIMEOUT_NS, peers_cfg.timeout ? peers_cfg.timeout : JOIN_TIMEOUT_NS);
	bool exited;

	if (!c->thr_started)
		return true;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)(wait / 1000000000ull);
	dl.tv_nsec += (long)(wait % 1000000000ull);
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->mu);
	c->quit = true;
	pthread_cond_broadcast(&c->cv);
	while (!c->exited)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
			break;
	exited = c->exited;
	pthread_mutex_unlock(&c->mu);
	if (exited) {
		pthread_join(c->thr, NULL);
		c->thr_started = false;
		return true;
	}
	/* a request is still waiting on the node: exiting ends it, freeing under it would not */
	log_info("peers", "a request is still in progress; exiting without waiting for it");
	return false;
}

static void pcmd_close(struct pcmd *c)
{
	bool joined = worker_stop(c);

	if (c->timer)
		vloop_timer_del(c->timer);
	vhttp_free(c->http);
	if (c->bus) {
		vbus_flush(c->bus, 2000);
		vbus_close(c->bus);
	}
	if (!joined)
		return; /* the worker still uses the watch, the snapshot and the loop's async */
	if (c->done)
		vloop_async_del(c->done);
	peers_snapshot_free(&c->next);
	peers_watch_free(c->w);
	vmetrics_free(c->reg);
	vloop_free(c->loop);
	free(c->series);
	vbuf_free(&c->out);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
}

/* --once: one refresh on this thread; a line per failing side on stderr; the exit code. */
static int run_once(struct pcmd *c, const char *prog)
{
	bool admin_only = true, failed = false;
	char msg[PEERS_ERRLEN + 256];
	int err;

	peers_watch_refresh(c->w, NULL, NULL);
	for (int s = 0; s < 2; s++) {
		const struct peers_side_info *si = &c->w->snap.side[s];

		if (!si->enabled || si->up)
			continue;
		failed = true;
		admin_only &= si->admin_disabled;
		side_msg(msg, sizeof(msg), c, s, si->error[0] ? si->error : "no answer");
		log_error("peers", "%s", msg);
	}
	err = output(c);
	if (err) {
		fprintf(stderr, "%s: cannot render the snapshot: %s\n", prog, strerror(-err));
		return 1;
	}
	if (!failed)
		return 0;
	return admin_only ? PEERS_EXIT_ADMIN : PEERS_EXIT_DOWN;
}

static bool sink_given(void)
{
	return (bus_cfg.nats_url && *bus_cfg.nats_url) || (bus_cfg.jsonl && *bus_cfg.jsonl);
}

static int run_watch(struct pcmd *c)
{
	int err;

	peers_memory_setup(); /* before the worker thread exists */
	c->loop = vloop_new();
	c->reg = vmetrics_new();
	if (!c->loop || !c->reg) {
		log_error("peers", "cannot set up the event loop: %s", strerror(errno));
		return 1;
	}
	/* the bus is always open (its vigil_bus_* metrics are part of the contract); it only
	 * gets events when a sink was asked for */
	if (!sink_given() && cmd_cfg.events && c->fmt == PEERS_FMT_JSON) {
		free(bus_cfg.jsonl);
		bus_cfg.jsonl = strdup("-");
	}
	c->publish = sink_given();
	c->footer = cmd_cfg.events && c->fmt == PEERS_FMT_TABLE && !c->publish;
	c->bus = vbus_open(&bus_cfg, c->loop);
	if (!c->bus || vbus_metrics_register(c->bus, c->reg))
		return 1;
	if (metrics_create(c)) {
		log_error("peers", "cannot create the metrics: %s", strerror(errno));
		return 1;
	}
	if (http_cfg.metrics && *http_cfg.metrics) {
		c->http = vhttp_new(c->loop, http_cfg.metrics, c->reg);
		if (!c->http)
			return 1;
	}
	c->done = vloop_async_new(c->loop, on_done, c);
	/* the first poll at once, then every --interval */
	c->timer = vloop_timer_add(c->loop, 1, c->interval_ns, on_tick, c);
	if (!c->done || !c->timer) {
		log_error("peers", "cannot set up the refresh timer: %s", strerror(errno));
		return 1;
	}
	/* after vloop_new: the worker inherits the blocked SIGINT/SIGTERM, the loop gets them */
	err = pthread_create(&c->thr, NULL, worker_main, c);
	if (err) {
		log_error("peers", "cannot start the fetch thread: %s", strerror(err));
		return 1;
	}
	c->thr_started = true;
	if (c->ansi)
		write_all("\033[H\033[2J", 7);
	if (vloop_run(c->loop))
		return 1;
	return 0;
}

int peers_run(int argc, char **argv)
{
	struct pcmd c;
	int rc;

	if (argc > 1) {
		fprintf(stderr, "%s: unexpected argument '%s' (endpoints go in --exec/--beacon; see "
				"'%s --help')\n",
			argv[0], argv[1], argv[0]);
		return 2;
	}
	if (peers_cfg.csv && vopt_common.json) {
		fprintf(stderr, "%s: --csv and --json exclude each other: choose one\n", argv[0]);
		return 2;
	}
	if (cmd_cfg.events && peers_cfg.csv && !sink_given()) {
		fprintf(stderr, "%s: --events cannot share stdout with --csv: send events to a file "
				"with --jsonl FILE\n", argv[0]);
		return 2;
	}
	if (peers_cfg.once && http_cfg.metrics && *http_cfg.metrics) {
		fprintf(stderr, "%s: --metrics serves a running monitor: drop --once\n", argv[0]);
		return 2;
	}
	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	peers_snapshot_init(&c.next);
	c.fmt = vopt_common.json ? PEERS_FMT_JSON : peers_cfg.csv ? PEERS_FMT_CSV : PEERS_FMT_TABLE;
	c.tty = isatty(STDOUT_FILENO);
	c.ansi = c.tty && !peers_cfg.once && c.fmt == PEERS_FMT_TABLE;
	c.interval_ns = peers_cfg.interval;
	c.w = peers_watch_new(&peers_cfg);
	if (!c.w) {
		rc = errno == EINVAL ? 2 : 1;
		if (errno != EINVAL)
			fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		pcmd_close(&c);
		return rc;
	}
	c.side[PEER_SIDE_EXEC].configured = c.w->exec != NULL;
	c.side[PEER_SIDE_CONS].configured = c.w->cons != NULL;
	if (peers_cfg.once) {
		rc = run_once(&c, argv[0]);
	} else {
		rc = run_watch(&c);
	}
	pcmd_close(&c);
	return rc;
}
