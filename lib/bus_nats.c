// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bus's NATS half: the connection (libnats), the JetStream in-flight window, the replay of
 * the spool, and the hand-over from libnats' threads to the loop thread.
 *
 * Threads. libnats calls us on its own threads: connection events (connected, disconnected,
 * reconnected, closed, async errors) and JetStream publish acks. Those callbacks only append a
 * note under `mu`, signal `cond` (for vbus_flush, which waits on the loop thread) and wake the
 * loop with vloop_async. Everything else, the window, the spool and the stats, belongs to the
 * loop thread and is touched in bus_nats_service() and bus_nats_send() only.
 *
 * libnats' reconnect buffer. While reconnecting, libnats would queue publishes in memory and send
 * them first after the reconnect, ahead of our spool replay, which would reorder events and, for
 * core NATS, let them vanish silently if the process exits meanwhile. So the buffer is given no
 * room (a publish during a reconnect fails at once) and the bus checks the connection status
 * before each direct publish: events sent while the connection is not up go to the spool.
 *
 * JetStream. Each event is sent with js_PublishAsync and Nats-Msg-Id "<prefix>-<pos>"; a copy
 * stays in the in-flight ring (ordered by pos) until its ack. Acks free the ring from the front;
 * for a replayed event the ack also deletes its spool row. A negative ack, an ack timeout or a
 * disconnect "resets" the window: unconfirmed events are written back to the spool (under their
 * old pos, so ahead of newer rows), libnats' pending list is discarded, and sending resumes from
 * the spool after a back-off. The server's duplicate window removes what was stored twice.
 *
 * Core NATS. There are no acks: a direct publish counts as acked once the connected client took
 * it. Spool rows are replayed in batches; a batch's rows are deleted only after a PING/PONG round
 * trip (natsConnection_FlushTimeout) proves the server read them.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nats/nats.h>

#include "vigil/log.h"
#include "vigil/loop.h"
#include "vigil/util.h"
#include "bus_int.h"

#define WINDOW	     16384u /* JetStream publishes awaiting an ack */
#define REPLAY_BATCH 1024u
#define BACKOFF_MIN_NS (100ull * 1000000ull)
#define BACKOFF_MAX_NS (5000ull * 1000000ull)

enum { NOTE_DOWN = 1, NOTE_UP = 2, NOTE_CLOSED = 4, NOTE_ERR = 8 };

struct flight {
	uint64_t pos;
	bool spooled; /* its row is still in the spool */
	bool acked;
	size_t len;
	char *subject, *id, *data; /* in the same allocation */
};

struct ack_note {
	uint64_t pos;
	natsStatus status;
	jsErrCode code;
};

struct bus_nats {
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	struct vloop_async *wake;

	/* loop thread only */
	bool up;	  /* connected and, for JetStream, the stream is there */
	bool was_up;	  /* for the "lost the connection" message */
	uint64_t hold_ns; /* no sending before this (back-off) */
	unsigned streak;  /* consecutive failures, for the back-off */
	struct flight **ring;
	size_t head, count;
	size_t direct; /* ring entries that are not in the spool */
	uint64_t replay_after;
	size_t max_payload;
	bool headers; /* the server takes headers: replayed core events carry Nats-Msg-Id */
	bool subjects_warned;
	char last_err_logged[256];

	/* shared with libnats' threads, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct ack_note *notes;
	size_t nnotes, cap_notes;
	unsigned flags;
	char last_err[256];
	atomic_bool news;
};

static uint64_t backoff_ns(unsigned streak)
{
	uint64_t d = BACKOFF_MIN_NS << MIN(streak, 10u);

	return MIN(d, BACKOFF_MAX_NS);
}

/* libnats' last error (of this thread) without its "(conn.c:1905): " source prefix and its
 * ": (null)" tail, in a per-thread buffer; NULL when there is none. */
static const char *nats_err_text(void)
{
	static __thread char buf[512];
	const char *t = nats_GetLastError(NULL), *p;
	size_t n;

	if (!t || !*t)
		return NULL;
	if (t[0] == '(' && (p = strstr(t, "): ")))
		t = p + 3;
	snprintf(buf, sizeof(buf), "%s", t);
	n = strlen(buf);
	if (n > 8 && strcmp(buf + n - 8, ": (null)") == 0)
		buf[n - 8] = 0;
	return buf;
}

/* ---- libnats' threads ---------------------------------------------------------------------- */

static void notify_locked(struct vbus *b)
{
	struct bus_nats *n = b->nats;

	atomic_store(&n->news, true);
	pthread_cond_broadcast(&n->cond);
	vloop_async_send(n->wake);
}

static void note_flags(struct vbus *b, unsigned flags, const char *err)
{
	struct bus_nats *n = b->nats;

	pthread_mutex_lock(&n->mu);
	n->flags |= flags;
	if (err)
		snprintf(n->last_err, sizeof(n->last_err), "%s", err);
	notify_locked(b);
	pthread_mutex_unlock(&n->mu);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	(void)nc;
	note_flags(closure, NOTE_DOWN, NULL);
}

static void on_connected(natsConnection *nc, void *closure)
{
	(void)nc;
	note_flags(closure, NOTE_UP, NULL);
}

static void on_closed(natsConnection *nc, void *closure)
{
	(void)nc;
	note_flags(closure, NOTE_CLOSED | NOTE_DOWN, NULL);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err,
			   void *closure)
{
	const char *txt = NULL;

	(void)sub;
	if (natsConnection_GetLastError(nc, &txt) == NATS_OK || !txt || !*txt)
		txt = natsStatus_GetText(err);
	note_flags(closure, NOTE_ERR, txt);
}

/* The reconnect back-off: 50 ms doubling to 2 s, plus up to 10% jitter. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
	int64_t ms = 50ll << MIN(attempts, 6);

	(void)nc;
	(void)closure;
	ms = MIN(ms, 2000);
	return ms + (int64_t)(vloop_now_ns() % (uint64_t)(ms / 10 + 1));
}

/* The pos is the number after the last '-' of the Nats-Msg-Id we set. */
static uint64_t pos_of_msg(natsMsg *msg)
{
	const char *id = NULL, *dash;

	if (!msg || natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK || !id)
		return 0;
	dash = strrchr(id, '-');
	return dash ? strtoull(dash + 1, NULL, 10) : 0;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct vbus *b = closure;
	struct bus_nats *n = b->nats;
	struct ack_note note = { .pos = pos_of_msg(msg) };

	(void)js;
	if (!pa) {
		note.status = pae ? pae->Err : NATS_ERR;
		note.code = pae ? pae->ErrCode : 0;
		if (note.status == NATS_OK)
			note.status = NATS_ERR;
	}
	natsMsg_Destroy(msg);
	pthread_mutex_lock(&n->mu);
	if (n->nnotes == n->cap_notes) {
		size_t cap = n->cap_notes ? 2 * n->cap_notes : 1024;
		struct ack_note *p = realloc(n->notes, cap * sizeof(*p));
		if (!p) {
			/* the ack is lost: the event stays unconfirmed and is resent
			 * (the server de-duplicates it) */
			pthread_mutex_unlock(&n->mu);
			return;
		}
		n->notes = p;
		n->cap_notes = cap;
	}
	n->notes[n->nnotes++] = note;
	if (note.status != NATS_OK && pae && pae->ErrText)
		snprintf(n->last_err, sizeof(n->last_err), "%s", pae->ErrText);
	else if (note.status != NATS_OK)
		snprintf(n->last_err, sizeof(n->last_err), "%s", natsStatus_GetText(note.status));
	notify_locked(b);
	pthread_mutex_unlock(&n->mu);
}

/* ---- loop thread --------------------------------------------------------------------------- */

static struct flight *flight_new(uint64_t pos, const char *id, const char *subject,
				 const void *data, size_t len, bool spooled)
{
	size_t il = strlen(id) + 1, sl = strlen(subject) + 1;
	struct flight *f = malloc(sizeof(*f) + il + sl + len + 1);

	if (!f)
		return NULL;
	f->pos = pos;
	f->spooled = spooled;
	f->acked = false;
	f->len = len;
	f->id = (char *)(f + 1);
	f->subject = f->id + il;
	f->data = f->subject + sl;
	memcpy(f->id, id, il);
	memcpy(f->subject, subject, sl);
	memcpy(f->data, data, len);
	f->data[len] = 0;
	return f;
}

static struct flight *ring_at(struct bus_nats *n, size_t i)
{
	return n->ring[(n->head + i) % WINDOW];
}

/* The ring is ordered by pos: binary search. */
static struct flight *ring_find(struct bus_nats *n, uint64_t pos)
{
	size_t lo = 0, hi = n->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct flight *f = ring_at(n, mid);
		if (f->pos == pos)
			return f;
		if (f->pos < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void ring_push(struct bus_nats *n, struct flight *f)
{
	n->ring[(n->head + n->count) % WINDOW] = f;
	n->count++;
	if (!f->spooled)
		n->direct++;
}

static void log_err_once(struct vbus *b, const char *what, const char *err)
{
	struct bus_nats *n = b->nats;

	if (strcmp(n->last_err_logged, err) == 0)
		return;
	snprintf(n->last_err_logged, sizeof(n->last_err_logged), "%s", err);
	log_error("bus", "%s (NATS %s): %s; events are kept in the spool %s and retried", what,
		  b->url, err, b->spool_path);
}

/*
 * Drops the in-flight window: libnats forgets its pending acks, unconfirmed direct events go back
 * to the spool (forced past the bound: they were accepted already), replay restarts from the
 * spool's head after a back-off. Acked entries still in the ring only lose their row.
 */
static void reset_window(struct vbus *b, bool backoff)
{
	struct bus_nats *n = b->nats;

	if (n->js && n->count) {
		natsMsgList pending = { 0 };
		if (js_PublishAsyncGetPendingList(&pending, n->js) == NATS_OK)
			natsMsgList_Destroy(&pending);
	}
	for (size_t i = 0; i < n->count; i++) {
		struct flight *f = ring_at(n, i);
		if (f->acked && f->spooled) {
			if (vspool_delete(b->spool, f->pos) == 0)
				b->st.replayed++;
		}
		else if (!f->acked && !f->spooled)
			bus_spool_event(b, f->pos, f->id, f->subject, f->data, f->len, true);
		free(f);
	}
	n->head = n->count = n->direct = 0;
	n->replay_after = 0;
	n->up = false;
	if (backoff) {
		n->hold_ns = vloop_now_ns() + backoff_ns(n->streak);
		n->streak++;
	}
}

/* Deletes the spool rows first..last (a run of replayed, acked events) in one statement. */
static void delete_run(struct vbus *b, uint64_t first, uint64_t last, uint64_t n)
{
	if (!n)
		return;
	if (vspool_delete_range(b->spool, first, last) == 0)
		b->st.replayed += n;
	else
		b->st.errors++;
}

/*
 * Pops acked entries from the front of the ring and deletes the rows of replayed ones. Replayed
 * entries sit in the ring in the order the replay read them, with no row skipped in between
 * (rows are only ever inserted at lower positions by a reset, which empties the ring), so a run
 * of them is a contiguous range of rows.
 */
static void ring_pop_acked(struct vbus *b)
{
	struct bus_nats *n = b->nats;
	uint64_t first = 0, last = 0, run = 0;

	while (n->count) {
		struct flight *f = ring_at(n, 0);
		if (!f->acked)
			break;
		if (f->spooled) {
			if (!run)
				first = f->pos;
			last = f->pos;
			run++;
		} else {
			delete_run(b, first, last, run);
			run = 0;
			n->direct--;
		}
		free(f);
		n->head = (n->head + 1) % WINDOW;
		n->count--;
	}
	delete_run(b, first, last, run);
}

/* An existing stream that does not take "<app_id>.>" refuses our events: say so once, up front,
 * rather than through a stream of negative acks. Also reports the duplicate window, which bounds
 * the de-duplication of replays (docs/bus.md). */
static void check_stream_subjects(struct vbus *b, const jsStreamConfig *c, const char *subj)
{
	char list[512] = "";
	size_t off = 0;

	for (int i = 0; i < c->SubjectsLen; i++) {
		if (strcmp(c->Subjects[i], subj) == 0 || strcmp(c->Subjects[i], ">") == 0) {
			b->nats->subjects_warned = false;
			log_info("bus", "using JetStream stream %s on %s (duplicate window %llds)",
				 b->stream, b->url, (long long)(c->Duplicates / 1000000000ll));
			return;
		}
		off += (size_t)snprintf(list + off, sizeof(list) - MIN(off, sizeof(list)), "%s%s",
					i ? ", " : "", c->Subjects[i]);
		if (off >= sizeof(list))
			break;
	}
	if (b->nats->subjects_warned)
		return;
	b->nats->subjects_warned = true;
	log_warn("bus", "JetStream stream %s on %s takes subjects [%s], not %s: events it does not "
		 "capture are refused and stay in the spool; add %s to the stream or choose "
		 "another --jetstream", b->stream, b->url, list, subj, subj);
}

/* JetStream: the stream must exist; creates it with subjects "<app_id>.>" when absent. */
static int ensure_stream(struct vbus *b)
{
	struct bus_nats *n = b->nats;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	char subj[300];
	const char *subjects[1] = { subj };

	snprintf(subj, sizeof(subj), "%s.>", b->app_id);
	s = js_GetStreamInfo(&si, n->js, b->stream, NULL, &jerr);
	if (s == NATS_OK && si && si->Config)
		check_stream_subjects(b, si->Config, subj);
	if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
		jsStreamConfig sc;

		jsStreamConfig_Init(&sc);
		sc.Name = b->stream;
		sc.Subjects = subjects;
		sc.SubjectsLen = 1;
		sc.Storage = js_FileStorage;
		s = js_AddStream(&si, n->js, &sc, NULL, &jerr);
		if (s == NATS_OK)
			log_info("bus", "created JetStream stream %s for subjects %s on %s",
				 b->stream, subj, b->url);
	}
	jsStreamInfo_Destroy(si);
	if (s != NATS_OK) {
		char msg[400];
		const char *txt = nats_err_text();
		snprintf(msg, sizeof(msg), "%s%s%s (JetStream error %d; is JetStream enabled on "
			 "the server, -js?)", natsStatus_GetText(s), txt ? ": " : "",
			 txt ? txt : "", (int)jerr);
		log_err_once(b, "cannot use the JetStream stream", msg);
		b->st.errors++;
		return -EIO;
	}
	return 0;
}

static bool conn_ok(struct bus_nats *n)
{
	return natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
}

/* Brings the bus up when the connection is and the back-off is over. */
static void try_up(struct vbus *b)
{
	struct bus_nats *n = b->nats;

	if (n->up || !conn_ok(n) || vloop_now_ns() < n->hold_ns)
		return;
	if (b->stream && ensure_stream(b)) {
		n->hold_ns = vloop_now_ns() + backoff_ns(n->streak++);
		return;
	}
	n->up = true;
	n->was_up = true;
	n->max_payload = (size_t)natsConnection_GetMaxPayload(n->nc);
	n->headers = natsConnection_HasHeaderSupport(n->nc) == NATS_OK;
	if (!b->stream) /* JetStream: cleared by the first good ack instead */
		n->last_err_logged[0] = 0;
	if (vspool_rows(b->spool))
		log_info("bus", "connected to NATS %s; replaying %llu spooled events", b->url,
			 (unsigned long long)vspool_rows(b->spool));
	else
		log_info("bus", "connected to NATS %s", b->url);
}

static void go_down(struct vbus *b)
{
	struct bus_nats *n = b->nats;

	if (n->was_up)
		log_warn("bus", "lost the connection to NATS %s; events go to the spool %s "
			 "until it is back", b->url, b->spool_path);
	n->was_up = false;
	reset_window(b, false);
}

static int send_js(struct vbus *b, struct flight *f)
{
	struct bus_nats *n = b->nats;
	jsPubOptions po;
	natsStatus s;

	jsPubOptions_Init(&po);
	po.MsgId = f->id;
	po.MaxWait = (int64_t)(b->timeout_ns / 1000000ull);
	s = js_PublishAsync(n->js, f->subject, f->data, (int)f->len, &po);
	return s == NATS_OK ? 0 : -EAGAIN;
}

/*
 * Core publish. Replayed events (@id given) carry it as Nats-Msg-Id, so a subscriber can drop
 * the duplicates a replay interrupted mid-batch produces. Live events go without: they are sent
 * once, and a header costs a message object per event (a third of the throughput).
 */
static int send_core(struct vbus *b, const char *subject, const char *id, const void *data,
		     size_t len)
{
	struct bus_nats *n = b->nats;
	natsMsg *m = NULL;
	natsStatus s;

	if (!n->headers || !id) {
		s = natsConnection_Publish(n->nc, subject, data, (int)len);
		return s == NATS_OK ? 0 : -EAGAIN;
	}
	s = natsMsg_Create(&m, subject, NULL, data, (int)len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
	if (s == NATS_OK)
		s = natsConnection_PublishMsg(n->nc, m);
	natsMsg_Destroy(m);
	return s == NATS_OK ? 0 : -EAGAIN;
}

struct replay_ctx {
	struct vbus *b;
	int err;
	uint64_t *done; /* core: positions sent in this batch */
	size_t ndone;
};

static int replay_row(const struct vspool_row *r, void *ctx)
{
	struct replay_ctx *rc = ctx;
	struct vbus *b = rc->b;
	struct bus_nats *n = b->nats;

	if (b->stream) {
		struct flight *f = flight_new(r->pos, r->id, r->subject, r->data, r->len, true);
		if (!f) {
			rc->err = -ENOMEM;
			return 1;
		}
		if (send_js(b, f)) {
			free(f);
			rc->err = -EAGAIN;
			return 1;
		}
		ring_push(n, f);
	} else {
		if (send_core(b, r->subject, r->id, r->data, r->len)) {
			rc->err = -EAGAIN;
			return 1;
		}
		rc->done[rc->ndone++] = r->pos;
	}
	n->replay_after = r->pos;
	return 0;
}

/* Sends the next spool rows. JetStream: as many as the window takes; core: one batch, deleted
 * after a round trip. Returns true when more rows wait and the window has room. */
static bool replay(struct vbus *b)
{
	struct bus_nats *n = b->nats;
	uint64_t done[REPLAY_BATCH];
	struct replay_ctx rc = { .b = b, .done = done };
	size_t room = b->stream ? WINDOW - n->count : REPLAY_BATCH;
	int got;

	if (!n->up || !vspool_rows(b->spool) || !room)
		return false;
	if (!b->stream)
		n->replay_after = 0; /* core keeps nothing in flight between batches */
	got = vspool_read(b->spool, n->replay_after, MIN(room, (size_t)REPLAY_BATCH), replay_row,
			  &rc);
	if (got < 0) {
		b->st.errors++;
		return false;
	}
	if (!b->stream && rc.ndone) {
		natsStatus s = rc.err ? NATS_ERR
				      : natsConnection_FlushTimeout(
						n->nc, (int64_t)(b->timeout_ns / 1000000ull));
		if (s != NATS_OK && !rc.err) {
			/* the rows stay; resending at once would only pile up duplicates */
			b->st.errors++;
			log_err_once(b, "NATS did not confirm a replayed batch",
				     natsStatus_GetText(s));
			reset_window(b, true);
			return false;
		}
		if (s == NATS_OK) {
			/* the batch is the spool's head, read in order: one range */
			if (vspool_delete_range(b->spool, done[0], done[rc.ndone - 1]) == 0) {
				b->st.replayed += rc.ndone;
				b->st.acked += rc.ndone;
			} else {
				b->st.errors++;
			}
		}
	}
	if (rc.err) {
		if (rc.err != -EAGAIN)
			b->st.errors++;
		go_down(b);
		return false;
	}
	return got > 0 && vspool_rows(b->spool) > n->count - n->direct &&
	       (b->stream ? n->count < WINDOW : true);
}

/* Takes the notes libnats' threads left and applies them. */
static void take_notes(struct vbus *b)
{
	struct bus_nats *n = b->nats;
	struct ack_note *notes;
	size_t nn;
	unsigned flags;
	char err[256];
	bool failed = false;

	pthread_mutex_lock(&n->mu);
	atomic_store(&n->news, false);
	notes = n->notes;
	nn = n->nnotes;
	n->notes = NULL;
	n->nnotes = n->cap_notes = 0;
	flags = n->flags;
	n->flags = 0;
	snprintf(err, sizeof(err), "%s", n->last_err);
	pthread_mutex_unlock(&n->mu);

	for (size_t i = 0; i < nn; i++) {
		struct flight *f = ring_find(n, notes[i].pos);
		if (!f || f->acked)
			continue; /* from before a reset: the replay is de-duplicated */
		if (notes[i].status == NATS_OK) {
			f->acked = true;
			b->st.acked++;
		} else {
			b->st.errors++;
			failed = true;
		}
	}
	free(notes);
	ring_pop_acked(b);
	if (nn && !failed) {
		n->streak = 0;
		n->last_err_logged[0] = 0;
	}
	if (failed) {
		log_err_once(b, "JetStream refused or did not ack events", err);
		reset_window(b, true);
	}
	if (flags & NOTE_ERR && err[0])
		log_err_once(b, "NATS reported an error", err);
	if (flags & NOTE_DOWN)
		go_down(b);
}

bool bus_nats_service(struct vbus *b)
{
	struct bus_nats *n = b->nats;
	bool more = false;
	int rounds = 0;

	take_notes(b);
	if (n->up && !conn_ok(n))
		go_down(b);
	try_up(b);
	/* bounded so the loop stays responsive; a self-wake continues the work */
	while (replay(b)) {
		if (++rounds >= 4) {
			vloop_async_send(n->wake);
			more = true;
			break;
		}
	}
	vspool_commit(b->spool);
	return more;
}

bool bus_nats_has_news(struct vbus *b)
{
	return atomic_load_explicit(&b->nats->news, memory_order_relaxed);
}

void bus_nats_wait(struct vbus *b, int timeout_ms)
{
	struct bus_nats *n = b->nats;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000l;
	if (ts.tv_nsec >= 1000000000l) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000l;
	}
	pthread_mutex_lock(&n->mu);
	if (!atomic_load(&n->news))
		pthread_cond_timedwait(&n->cond, &n->mu, &ts);
	pthread_mutex_unlock(&n->mu);
}

uint64_t bus_nats_pending(struct vbus *b)
{
	return vspool_rows(b->spool) + b->nats->direct;
}

uint64_t bus_nats_in_flight(struct vbus *b)
{
	return b->nats->count;
}

bool bus_nats_connected(struct vbus *b)
{
	return b->nats->up;
}

size_t bus_nats_max_payload(struct vbus *b)
{
	return b->nats->max_payload;
}

int bus_nats_roundtrip(struct vbus *b, int timeout_ms)
{
	if (b->stream)
		return 0;
	return natsConnection_FlushTimeout(b->nats->nc, timeout_ms) == NATS_OK ? 0 : -ETIMEDOUT;
}

int bus_nats_send(struct vbus *b, uint64_t pos, const char *id, const char *subject,
		  const char *json, size_t len)
{
	struct bus_nats *n = b->nats;
	struct flight *f;

	if (!n->up || vspool_rows(b->spool))
		return -EAGAIN;
	if (!conn_ok(n)) {
		go_down(b);
		return -EAGAIN;
	}
	if (!b->stream) {
		if (send_core(b, subject, NULL, json, len)) {
			go_down(b);
			return -EAGAIN;
		}
		b->st.acked++;
		return 0;
	}
	if (n->count >= WINDOW)
		return -EAGAIN;
	f = flight_new(pos, id, subject, json, len, false);
	if (!f)
		return -EAGAIN; /* the spool may still take it */
	if (send_js(b, f)) {
		free(f);
		go_down(b);
		return -EAGAIN;
	}
	ring_push(n, f);
	return 0;
}

static void wake_cb(struct vloop *loop, void *ctx)
{
	(void)loop;
	(void)bus_nats_service(ctx);
}

/* One URL: [nats|tls://][user[:pass]@]host[:port], host a name, IPv4 or [IPv6]. libnats only
 * finds a bad URL when it fails to connect, which would look like a server that is down. */
static bool valid_url(const char *u, size_t n)
{
	const char *end = u + n, *p, *at;

	while (n && (*u == ' ')) {
		u++;
		n--;
	}
	if ((p = memmem(u, n, "://", 3))) {
		bool nats = p - u == 4 && !strncmp(u, "nats", 4);
		bool tls = p - u == 3 && !strncmp(u, "tls", 3);

		if (!nats && !tls)
			return false;
		u = p + 3;
	}
	at = memchr(u, '@', (size_t)(end - u));
	if (at)
		u = at + 1;
	if (u >= end)
		return false;
	if (*u == '[') {
		p = memchr(u, ']', (size_t)(end - u));
		if (!p || p == u + 1)
			return false;
		for (const char *q = u + 1; q < p; q++)
			if (!strchr("0123456789abcdefABCDEF:.", *q))
				return false;
		u = p + 1;
	} else {
		const char *h = u;
		while (u < end && (isalnum((unsigned char)*u) || strchr(".-_", *u)))
			u++;
		if (u == h)
			return false;
	}
	if (u < end) {
		long port = 0;
		if (*u++ != ':' || u == end)
			return false;
		for (; u < end; u++) {
			if (!isdigit((unsigned char)*u))
				return false;
			port = port * 10 + (*u - '0');
			if (port > 65535)
				return false;
		}
		if (port == 0)
			return false;
	}
	return true;
}

static bool valid_urls(const char *list)
{
	while (*list) {
		size_t n = strcspn(list, ",");
		if (!valid_url(list, n))
			return false;
		list += n;
		if (*list == ',')
			list++;
	}
	return true;
}

static bool set(const char *s)
{
	return s && *s;
}

/* Logs a failed auth/TLS option with libnats' reason; returns -EINVAL. */
static int opt_failed(const char *opt, const char *file, natsStatus s)
{
	const char *txt = nats_err_text();

	log_error("bus", "cannot use %s%s%s: %s%s", opt, file ? " " : "", file ? file : "",
		  txt ? txt : natsStatus_GetText(s),
		  file ? " (check that the file exists, is readable and holds PEM data)" : "");
	return -EINVAL;
}

/* Applies the authentication and TLS options; logs what failed. */
static int set_auth_tls(struct vbus *b, const struct vbus_cfg *cfg)
{
	natsOptions *o = b->nats->opts;
	natsStatus s;

	if (set(cfg->nats_token) && (s = natsOptions_SetToken(o, cfg->nats_token)) != NATS_OK)
		return opt_failed("--nats-token", NULL, s);
	if (set(cfg->nats_user) &&
	    (s = natsOptions_SetUserInfo(o, cfg->nats_user, cfg->nats_password)) != NATS_OK)
		return opt_failed("--nats-user", NULL, s);
	if (set(cfg->nats_creds) &&
	    (s = natsOptions_SetUserCredentialsFromFiles(o, cfg->nats_creds, NULL)) != NATS_OK)
		return opt_failed("--nats-creds", cfg->nats_creds, s);
	if ((cfg->nats_tls || set(cfg->nats_tls_ca)) &&
	    (s = natsOptions_SetSecure(o, true)) != NATS_OK)
		return opt_failed("--nats-tls", NULL, s);
	if (set(cfg->nats_tls_ca) &&
	    (s = natsOptions_LoadCATrustedCertificates(o, cfg->nats_tls_ca)) != NATS_OK)
		return opt_failed("--nats-tls-ca", cfg->nats_tls_ca, s);
	if (set(cfg->nats_tls_cert) != set(cfg->nats_tls_key)) {
		log_error("bus", "--nats-tls-cert and --nats-tls-key go together: give both");
		return -EINVAL;
	}
	if (set(cfg->nats_tls_cert) &&
	    (s = natsOptions_LoadCertificatesChain(o, cfg->nats_tls_cert, cfg->nats_tls_key)) !=
		    NATS_OK)
		return opt_failed("--nats-tls-cert/--nats-tls-key", cfg->nats_tls_cert, s);
	return 0;
}

int bus_nats_open(struct vbus *b, const struct vbus_cfg *cfg)
{
	struct bus_nats *n = calloc(1, sizeof(*n));
	int64_t timeout_ms = (int64_t)(b->timeout_ns / 1000000ull);
	jsOptions jo;
	natsStatus s;
	char name[128];

	if (!n)
		return -ENOMEM;
	b->nats = n;
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cond, NULL);
	n->max_payload = 1024 * 1024;
	n->ring = calloc(WINDOW, sizeof(*n->ring));
	n->wake = vloop_async_new(b->loop, wake_cb, b);
	if (!n->ring || !n->wake)
		return -ENOMEM;
	snprintf(name, sizeof(name), "vigil-%s", b->app_id);
	s = natsOptions_Create(&n->opts);
	if (s != NATS_OK)
		return -ENOMEM;
	s = valid_urls(b->url) ? natsOptions_SetURL(n->opts, b->url) : NATS_INVALID_ARG;
	if (s != NATS_OK) {
		log_error("bus", "bad --nats-url '%s': expected nats://[user:pass@]host:port, "
			  "tls://... or several of them separated by commas", b->url);
		return -EINVAL;
	}
	if (set_auth_tls(b, cfg))
		return -EINVAL;
	s = natsOptions_SetName(n->opts, name);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(n->opts, timeout_ms);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(n->opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetCustomReconnectDelay(n->opts, reconnect_delay, b);
	/* See the top of this file: publishes must fail instead of queueing. libnats 3.4 takes an
	 * explicit 0 as "no room" (checked: every publish while reconnecting then returns
	 * NATS_INSUFFICIENT_BUFFER; with 1 the first one is still queued). */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectBufSize(n->opts, 0);
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(n->opts, 5000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(n->opts, 3);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(n->opts, on_disconnected, b);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(n->opts, on_connected, b);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(n->opts, on_closed, b);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(n->opts, on_async_error, b);
	if (s != NATS_OK) {
		log_error("bus", "cannot set up the NATS options: %s", natsStatus_GetText(s));
		return -EINVAL;
	}

	/*
	 * First a plain connect, so a server that answers but refuses us (credentials, TLS) is an
	 * error now rather than a silent retry loop. Only when no server answers at all does the
	 * bus go on and connect in the background.
	 */
	s = natsConnection_Connect(&n->nc, n->opts);
	if (s == NATS_NO_SERVER) {
		n->nc = NULL;
		s = natsOptions_SetRetryOnFailedConnect(n->opts, true, on_connected, b);
		if (s == NATS_OK)
			s = natsConnection_Connect(&n->nc, n->opts);
	}
	if (s == NATS_NOT_YET_CONNECTED) {
		log_warn("bus", "NATS %s is not reachable yet; connecting in the background, "
			 "events go to the spool %s meanwhile", b->url, b->spool_path);
	} else if (s != NATS_OK) {
		const char *txt = nats_err_text();
		bool auth = s == NATS_CONNECTION_AUTH_FAILED || (txt && strcasestr(txt, "author"));
		bool tls = cfg->nats_tls || set(cfg->nats_tls_ca);
		const char *hint = "";

		if (auth)
			hint = " (check --nats-user/--nats-password, --nats-token or --nats-creds)";
		else if (s == NATS_SECURE_CONNECTION_REQUIRED)
			hint = " (the server requires TLS: set --nats-tls and --nats-tls-ca)";
		else if (tls)
			hint = " (check --nats-tls-ca; if the server verifies clients, set "
			       "--nats-tls-cert and --nats-tls-key)";
		log_error("bus", "cannot connect to NATS %s: %s%s", b->url,
			  txt && *txt ? txt : natsStatus_GetText(s), hint);
		n->nc = NULL;
		return s == NATS_CONNECTION_AUTH_FAILED ? -EACCES : -ECONNREFUSED;
	}
	if (b->stream) {
		jsOptions_Init(&jo);
		jo.Wait = timeout_ms;
		jo.PublishAsync.MaxPending = WINDOW + 1024;
		jo.PublishAsync.AckHandler = on_ack;
		jo.PublishAsync.AckHandlerClosure = b;
		s = natsConnection_JetStream(&n->js, n->nc, &jo);
		if (s != NATS_OK) {
			log_error("bus", "cannot create a JetStream context on %s: %s", b->url,
				  natsStatus_GetText(s));
			return -ENOMEM;
		}
	}
	bus_nats_service(b);
	return 0;
}

void bus_nats_close(struct vbus *b)
{
	struct bus_nats *n = b->nats;

	if (!n)
		return;
	if (n->nc && b->spool) {
		take_notes(b);
		reset_window(b, false);
		vspool_commit(b->spool);
	}
	jsCtx_Destroy(n->js);
	if (n->nc) {
		struct timespec ts;

		natsConnection_Close(n->nc);
		/* libnats posts on_closed from its callback thread: wait so none runs after free */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		pthread_mutex_lock(&n->mu);
		while (!(n->flags & NOTE_CLOSED)) {
			if (pthread_cond_timedwait(&n->cond, &n->mu, &ts))
				break;
		}
		pthread_mutex_unlock(&n->mu);
		natsConnection_Destroy(n->nc);
	}
	natsOptions_Destroy(n->opts);
	vloop_async_del(n->wake);
	free(n->ring);
	free(n->notes);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->mu);
	free(n);
	b->nats = NULL;
}
