// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Kaspa P2P sensor (sensor.h): listener, one kaspa_conn per inbound socket, handshake and
 * classification events, the active prober with its per-IP interval and concurrency bound, the
 * SQLite store and the vigil_kaspa_* metrics.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "vigil/buf.h"
#include "vigil/bus.h"
#include "vigil/log.h"
#include "vigil/metrics.h"
#include "vigil/util.h"
#include "sensor.h"

#define COMP "kaspa"
#define NS_PER_MS 1000000ull
#define EVENT_ID_LEN 32
#define IP_BUCKETS 4096
#define PROBE_QUEUE_MAX 4096
/* IPs remembered for --probe-interval; past this, probes still run but are not remembered */
#define IP_CACHE_MAX (1u << 20)
#define DEFAULT_INTERVAL_PRUNE_NS (60ull * 1000 * NS_PER_MS)

struct kaspa_sensor;

/* One inbound connection. */
struct sconn {
	struct kaspa_sensor *s;
	struct kaspa_conn *c;
	struct sockaddr_storage sa;	/* the peer, IPv4-mapped normalised to AF_INET */
	char ip[INET6_ADDRSTRLEN];
	uint16_t port;
	uint64_t start_ns;
	bool logged;
	struct sconn *prev, *next;
};

/* What the last probe of an IP found. */
struct ipent {
	uint8_t ip[16];
	uint8_t len;
	uint64_t last_ns;		/* start of the last probe */
	uint16_t port;			/* the port it probed */
	bool done;			/* its result is in class/err */
	enum kaspa_class cls;
	char err[16];
	struct ipent *next;
};

struct probe {
	struct kaspa_sensor *s;
	char hs_event_id[EVENT_ID_LEN + 1];
	char ip[INET6_ADDRSTRLEN];
	struct sockaddr_storage sa;
	socklen_t salen;
	uint16_t port;
	uint8_t want_id[KASPA_ID_LEN];
	char want_id_hex[2 * KASPA_ID_LEN + 1];
	struct ipent *ent;
	int fd;				/* TCP mode */
	struct kaspa_conn *c;		/* handshake mode */
	struct vloop_timer *timer;	/* TCP mode deadline */
	uint64_t start_ns;
	bool finished;
	struct probe *prev, *next;
};

struct kaspa_sensor {
	struct vloop *loop;
	struct kaspa_sensor_params p;
	struct kaspa_conn_config conn_cfg, probe_cfg;
	char sensor_id[256];
	int lfd;
	uint16_t port;
	struct sconn *conns;
	struct probe *active, *queue_head, *queue_tail;
	struct ipent *ips[IP_BUCKETS];
	unsigned n_ips;
	bool starting;			/* inside probe_start_next (a dial may fail at once) */
	struct vloop_timer *housekeeping;
	struct kaspa_sensor_stats st;
	sqlite3 *db;
	sqlite3_stmt *ins_hs, *ins_cl, *ins_out;
	bool in_tx;			/* a store transaction is open until commit_timer fires */
	struct vloop_timer *commit_timer;
	int64_t pending_seq;		/* newest outbox row of the open transaction */
	struct kaspa_webhook *wh;
	struct vmetric *m_conns, *m_hs, *m_cls, *m_probe_dur, *m_backlog;
	struct vmetric *m_wh_backlog, *m_wh_sent, *m_wh_errors, *m_wh_last;
};

const char *kaspa_class_name(enum kaspa_class c)
{
	switch (c) {
	case KASPA_CLASS_PUBLIC: return "public";
	case KASPA_CLASS_PRIVATE: return "private";
	default: return "unknown";
	}
}

uint16_t kaspa_default_port(const char *network)
{
	if (!network || strcmp(network, "kaspa-mainnet") == 0)
		return 16111;
	if (strncmp(network, "kaspa-testnet", 13) == 0)
		return 16211;
	if (strcmp(network, "kaspa-simnet") == 0)
		return 16511;
	if (strcmp(network, "kaspa-devnet") == 0)
		return 16611;
	return 16111;
}

bool kaspa_ip_is_private(const uint8_t *ip, unsigned len)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t zero[16];

	if (len == 16 && memcmp(ip, mapped, 12) == 0) {
		ip += 12;
		len = 4;
	}
	if (len == 4) {
		return ip[0] == 0 || ip[0] == 10 || ip[0] == 127 ||
		       (ip[0] == 172 && (ip[1] & 0xf0) == 16) || (ip[0] == 192 && ip[1] == 168) ||
		       (ip[0] == 169 && ip[1] == 254) || (ip[0] == 100 && (ip[1] & 0xc0) == 64);
	}
	if (len != 16)
		return true;
	if (memcmp(ip, zero, 15) == 0 && (ip[15] == 0 || ip[15] == 1))
		return true; /* :: and ::1 */
	return (ip[0] & 0xfe) == 0xfc || (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80);
}

/* ---- events ----------------------------------------------------------------------------- */

static void new_event_id(char *out)
{
	uint8_t r[EVENT_ID_LEN / 2];

	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		/* never expected; keep ids distinct with time and address */
		uint64_t t = vtime_real_ns();
		uintptr_t a = (uintptr_t)out;

		memcpy(r, &t, 8);
		memcpy(r + 8, &a, sizeof(a) < 8 ? sizeof(a) : 8);
	}
	kaspa_hex(r, sizeof(r), out);
}

/*
 * Ends the store transaction the writes of one loop turn share (one commit instead of one per
 * row), then tells the webhook worker about the rows it can now see.
 */
static void store_commit(struct kaspa_sensor *s)
{
	if (!s->in_tx)
		return;
	s->in_tx = false;
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		s->st.store_errors++;
		log_error(COMP, "cannot commit to the store %s: %s (the events of this moment are "
			  "missing from it)", s->p.store, sqlite3_errmsg(s->db));
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return;
	}
	if (s->wh && s->pending_seq)
		kaspa_webhook_notify(s->wh, s->pending_seq);
	s->pending_seq = 0;
}

static void commit_timer_cb(struct vloop *loop, void *ctx)
{
	(void)loop;
	store_commit(ctx);
}

/* Runs @st once (binding done by the caller) and resets it; counts a failure. The first write
 * of a loop turn opens the transaction that the commit timer (armed to fire at once, so on the
 * loop's next turn) ends. */
static int store_step(struct kaspa_sensor *s, sqlite3_stmt *st)
{
	int ret = 0;

	if (!s->in_tx && s->commit_timer &&
	    sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK) {
		s->in_tx = true;
		vloop_timer_set(s->commit_timer, 1, 0);
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		ret = -EIO;
		if (s->st.store_errors++ == 0)
			log_error(COMP, "cannot write to the store %s: %s (later errors are only "
				  "counted)", s->p.store, sqlite3_errmsg(s->db));
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

/*
 * Hands the event @json to the bus and, with a webhook, to the store's outbox (in the same
 * order), then tells the webhook worker.
 */
static void publish(struct kaspa_sensor *s, const char *suffix, const char *event_id,
		    int64_t time_us, struct vbuf *json)
{
	int e;

	if (s->ins_out) {
		sqlite3_stmt *st = s->ins_out;

		sqlite3_bind_text(st, 1, event_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, suffix, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, time_us);
		sqlite3_bind_text(st, 4, json->data, (int)json->len, SQLITE_TRANSIENT);
		if (store_step(s, st) == 0 && sqlite3_changes(s->db) == 1) {
			s->pending_seq = sqlite3_last_insert_rowid(s->db);
			if (!s->in_tx) /* no transaction could be opened: the row is committed */
				kaspa_webhook_notify(s->wh, s->pending_seq);
		}
	}
	if (!s->p.bus)
		return;
	e = vbus_publish(s->p.bus, suffix, json->data, json->len);
	if (e) {
		s->st.publish_errors++;
		log_warn(COMP, "cannot publish a %s event: %s (it is kept in the local store only)",
			 suffix, strerror(-e));
	}
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* The reason label of vigil_kaspa_handshakes_total: METRICS.md's five classes. */
static const char *metric_reason(enum kaspa_fail f)
{
	switch (f) {
	case KASPA_FAIL_NONE: return "none";
	case KASPA_FAIL_TIMEOUT: return "timeout";
	case KASPA_FAIL_VERSION: return "version";
	case KASPA_FAIL_NETWORK: return "network";
	case KASPA_FAIL_SELF: /* the peer claims our id: bad input */
	case KASPA_FAIL_MALFORMED: return "malformed";
	default: return "reset"; /* reset, or the peer rejected us */
	}
}

/*
 * Logs the handshake of @sc: "ok" when @ok, else the failure hs->fail says (a connection that
 * ended before the handshake did without a recorded failure counts as "reset"). Writes the event
 * id into @event_id for the classification that may follow.
 */
static void log_handshake(struct sconn *sc, bool ok, char *event_id)
{
	struct kaspa_sensor *s = sc->s;
	struct kaspa_hs *hs = kaspa_conn_hs(sc->c);
	const struct kaspa_peer_info *pi = &hs->peer;
	enum kaspa_fail f = ok ? KASPA_FAIL_NONE : hs->fail;
	const char *reason_text = hs->reason;
	/* a Version failing a check still filled the peer facts: log them */
	bool facts = ok || hs->got_version || pi->network[0] || pi->user_agent[0] || pi->id_hex[0];
	char ts[VTIME_BUFLEN];
	struct timespec now;
	struct vbuf b = VBUF_INIT;
	struct vjw w;
	uint64_t dur_us = (vloop_now_ns() - sc->start_ns) / 1000;

	if (!ok && f == KASPA_FAIL_NONE) {
		f = KASPA_FAIL_RESET;
		reason_text = kaspa_conn_transport_why(sc->c);
		if (!*reason_text)
			reason_text = "the connection ended before the handshake completed";
	}
	sc->logged = true;
	clock_gettime(CLOCK_REALTIME, &now);
	vtime_utc_us(ts, sizeof(ts), &now);
	new_event_id(event_id);
	if (ok)
		s->st.handshakes_ok++;
	else
		s->st.handshakes_failed++;
	if (s->m_hs)
		vmetric_inc(s->m_hs, ok ? "ok" : "failed", metric_reason(f));

	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kstr(&w, "event_id", event_id);
	vjw_kstr(&w, "type", "handshake");
	vjw_kstr(&w, "time", ts);
	vjw_kstr(&w, "sensor_id", s->sensor_id);
	vjw_kstr(&w, "direction", "inbound");
	vjw_kstr(&w, "peer_ip", sc->ip);
	vjw_kuint(&w, "peer_port", sc->port);
	vjw_kstr(&w, "result", ok ? "ok" : "failed");
	vjw_kstr(&w, "reason", ok ? "none" : kaspa_fail_name(f));
	if (!ok) {
		vjw_kstr(&w, "step", kaspa_step_name(hs->step));
		vjw_kstr(&w, "error", reason_text);
	}
	if (facts) {
		vjw_kuint(&w, "protocol_version", pi->protocol_version);
		vjw_kstr(&w, "user_agent", pi->user_agent);
		vjw_kstr(&w, "network", pi->network);
		vjw_kstr(&w, "peer_id", pi->id_hex);
		vjw_kstr(&w, "advertised_address", pi->address_str);
		vjw_kuint(&w, "services", pi->services);
		vjw_kbool(&w, "disable_relay_tx", pi->disable_relay_tx);
		vjw_kint(&w, "peer_timestamp_ms", pi->timestamp_ms);
	}
	vjw_kuint(&w, "duration_us", dur_us);
	vjw_end(&w);
	publish(s, KASPA_SENSOR_SUBJECT_HANDSHAKES, event_id,
		(int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, &b);
	if (ok)
		log_info(COMP, "handshake with %s:%u: %s %s protocol %u id %s", sc->ip, sc->port,
			 pi->user_agent, pi->network, pi->protocol_version, pi->id_hex);
	else
		log_info(COMP, "handshake with %s:%u failed (%s): %s", sc->ip, sc->port,
			 kaspa_fail_name(f), reason_text);
	vbuf_free(&b);

	if (s->ins_hs) {
		sqlite3_stmt *st = s->ins_hs;
		char svc[24];

		snprintf(svc, sizeof(svc), "%llu", (unsigned long long)pi->services);
		bind_text(st, 1, event_id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)now.tv_sec * 1000000 + now.tv_nsec / 1000);
		bind_text(st, 3, ts);
		bind_text(st, 4, s->sensor_id);
		bind_text(st, 5, "inbound");
		bind_text(st, 6, sc->ip);
		sqlite3_bind_int(st, 7, sc->port);
		bind_text(st, 8, ok ? "ok" : "failed");
		bind_text(st, 9, ok ? "none" : kaspa_fail_name(f));
		bind_text(st, 10, ok ? NULL : reason_text);
		if (facts) {
			sqlite3_bind_int64(st, 11, pi->protocol_version);
			bind_text(st, 12, pi->user_agent);
			bind_text(st, 13, pi->network);
			bind_text(st, 14, pi->id_hex);
			bind_text(st, 15, pi->address_str);
			bind_text(st, 16, svc);
		}
		sqlite3_bind_int64(st, 17, (sqlite3_int64)dur_us);
		store_step(s, st);
	}
}

/* Logs a classification of @ip (after the handshake @hs_event_id). */
static void log_classification(struct kaspa_sensor *s, const char *hs_event_id, const char *ip,
			       uint16_t port, const char *peer_id, enum kaspa_class cls,
			       const char *err, double dur_s, bool cached, bool probed)
{
	char ts[VTIME_BUFLEN], event_id[EVENT_ID_LEN + 1];
	const char *mode = s->p.probe == KASPA_PROBE_HANDSHAKE ? "handshake"
			   : s->p.probe == KASPA_PROBE_TCP    ? "tcp"
							      : "off";
	struct timespec now;
	struct vbuf b = VBUF_INIT;
	struct vjw w;

	clock_gettime(CLOCK_REALTIME, &now);
	vtime_utc_us(ts, sizeof(ts), &now);
	new_event_id(event_id);
	s->st.classified[cls]++;
	if (s->m_cls)
		vmetric_inc(s->m_cls, kaspa_class_name(cls));
	if (probed && s->m_probe_dur)
		vmetric_observe(s->m_probe_dur, dur_s);

	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kstr(&w, "event_id", event_id);
	vjw_kstr(&w, "type", "classification");
	vjw_kstr(&w, "time", ts);
	vjw_kstr(&w, "sensor_id", s->sensor_id);
	vjw_kstr(&w, "handshake_event_id", hs_event_id);
	vjw_kstr(&w, "peer_ip", ip);
	vjw_kstr(&w, "peer_id", peer_id);
	vjw_kuint(&w, "probe_port", port);
	vjw_kstr(&w, "probe_mode", mode);
	vjw_kstr(&w, "class", kaspa_class_name(cls));
	vjw_kstr(&w, "error_class", err);
	vjw_kbool(&w, "probed", probed);
	vjw_kbool(&w, "cached", cached);
	vjw_kdouble(&w, "probe_duration_ms", dur_s * 1000.0);
	vjw_end(&w);
	publish(s, KASPA_SENSOR_SUBJECT_CLASSIFICATIONS, event_id,
		(int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, &b);
	vbuf_free(&b);
	log_info(COMP, "%s (port %u) is %s%s%s%s", ip, port, kaspa_class_name(cls),
		 *err ? " (" : "", err, *err ? ")" : "");

	if (s->ins_cl) {
		sqlite3_stmt *st = s->ins_cl;

		bind_text(st, 1, event_id);
		bind_text(st, 2, hs_event_id);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)now.tv_sec * 1000000 + now.tv_nsec / 1000);
		bind_text(st, 4, ts);
		bind_text(st, 5, s->sensor_id);
		bind_text(st, 6, ip);
		sqlite3_bind_int(st, 7, port);
		bind_text(st, 8, mode);
		bind_text(st, 9, kaspa_class_name(cls));
		bind_text(st, 10, err);
		sqlite3_bind_double(st, 11, dur_s * 1000.0);
		sqlite3_bind_int(st, 12, cached);
		bind_text(st, 13, peer_id);
		store_step(s, st);
	}
}

/* ---- probes ----------------------------------------------------------------------------- */

static unsigned ip_hash(const uint8_t *ip, unsigned len)
{
	uint32_t h = 2166136261u;

	for (unsigned i = 0; i < len; i++)
		h = (h ^ ip[i]) * 16777619u;
	return h % IP_BUCKETS;
}

static struct ipent *ip_find(struct kaspa_sensor *s, const uint8_t *ip, unsigned len, bool create)
{
	unsigned h = ip_hash(ip, len);
	struct ipent *e;

	for (e = s->ips[h]; e; e = e->next)
		if (e->len == len && memcmp(e->ip, ip, len) == 0)
			return e;
	if (!create || s->n_ips >= IP_CACHE_MAX)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	memcpy(e->ip, ip, len);
	e->len = (uint8_t)len;
	e->next = s->ips[h];
	s->ips[h] = e;
	s->n_ips++;
	return e;
}

/* Drops the entries whose interval is over (and whose probe is done). */
static void ip_prune(struct kaspa_sensor *s, uint64_t now)
{
	uint64_t ivl = s->p.probe_interval_ms * NS_PER_MS;

	for (unsigned h = 0; h < IP_BUCKETS; h++) {
		struct ipent **pp = &s->ips[h];

		while (*pp) {
			struct ipent *e = *pp;

			if (e->done && now - e->last_ns >= ivl) {
				*pp = e->next;
				free(e);
				s->n_ips--;
			} else {
				pp = &e->next;
			}
		}
	}
}

static void list_del(struct probe **head, struct probe *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		*head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

static void probe_start_next(struct kaspa_sensor *s);

/* The probe's outcome: logged, remembered for its IP, resources freed (the kaspa_conn of a
 * handshake probe is freed by its on_done, which calls here first). */
static void probe_finish(struct probe *p, enum kaspa_class cls, const char *err)
{
	struct kaspa_sensor *s = p->s;
	double dur = (double)(vloop_now_ns() - p->start_ns) / 1e9;

	if (p->finished)
		return;
	p->finished = true;
	if (p->ent) {
		p->ent->done = true;
		p->ent->cls = cls;
		snprintf(p->ent->err, sizeof(p->ent->err), "%s", err);
	}
	log_classification(s, p->hs_event_id, p->ip, p->port, p->want_id_hex, cls, err, dur, false,
			   true);
	if (p->timer) {
		vloop_timer_del(p->timer);
		p->timer = NULL;
	}
	if (p->fd >= 0) {
		vloop_del_fd(s->loop, p->fd);
		close(p->fd);
		p->fd = -1;
	}
}

static void probe_release(struct probe *p)
{
	struct kaspa_sensor *s = p->s;

	list_del(&s->active, p);
	s->st.probes_active--;
	free(p);
	probe_start_next(s);
}

const char *kaspa_errno_class(int e)
{
	switch (e) {
	case ECONNREFUSED: return "refused";
	case ETIMEDOUT: return "timeout";
	case ECONNRESET:
	case EPIPE: return "reset";
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EADDRNOTAVAIL:
	case ENETDOWN:
	case EHOSTDOWN: return "unreachable";
	default: return "unreachable";
	}
}

/* refused and timeout mean nobody answers on that port: Private. The rest says nothing sure. */
static enum kaspa_class errno_verdict(int e)
{
	return e == ECONNREFUSED || e == ETIMEDOUT ? KASPA_CLASS_PRIVATE : KASPA_CLASS_UNKNOWN;
}

static void tcp_probe_ready(struct vloop *loop, int fd, uint32_t events, void *ctx)
{
	struct probe *p = ctx;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)loop;
	(void)events;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err)
		probe_finish(p, errno_verdict(err), kaspa_errno_class(err));
	else
		probe_finish(p, KASPA_CLASS_PUBLIC, "");
	probe_release(p);
}

static void tcp_probe_timeout(struct vloop *loop, void *ctx)
{
	struct probe *p = ctx;

	(void)loop;
	probe_finish(p, KASPA_CLASS_PRIVATE, "timeout");
	probe_release(p);
}

static void hsp_ready(struct kaspa_conn *c, void *ctx)
{
	struct probe *p = ctx;
	const struct kaspa_peer_info *pi = &kaspa_conn_hs(c)->peer;

	if (memcmp(pi->id, p->want_id, KASPA_ID_LEN) == 0)
		probe_finish(p, KASPA_CLASS_PUBLIC, "");
	else
		probe_finish(p, KASPA_CLASS_UNKNOWN, "id-mismatch");
	kaspa_conn_close(c);
}

static int hsp_message(struct kaspa_conn *c, const Protowire__KaspadMessage *m, void *ctx)
{
	(void)c;
	(void)m;
	(void)ctx;
	return 0;
}

static void hsp_done(struct kaspa_conn *c, void *ctx)
{
	struct probe *p = ctx;
	struct kaspa_hs *hs = kaspa_conn_hs(c);

	if (!kaspa_conn_connected(c)) {
		int e = kaspa_conn_connect_errno(c);

		probe_finish(p, errno_verdict(e), kaspa_errno_class(e));
	} else if (hs->got_version && hs->fail != KASPA_FAIL_NONE &&
		   memcmp(hs->peer.id, p->want_id, KASPA_ID_LEN) != 0) {
		/* a node answered with another id before the handshake broke off */
		probe_finish(p, KASPA_CLASS_UNKNOWN, "id-mismatch");
	} else if (hs->fail == KASPA_FAIL_TIMEOUT) {
		probe_finish(p, KASPA_CLASS_UNKNOWN, "timeout");
	} else {
		/* something listens but did not complete a handshake with us */
		probe_finish(p, KASPA_CLASS_UNKNOWN, "reset");
	}
	p->c = NULL;
	kaspa_conn_free(c);
	probe_release(p);
}

static const struct kaspa_conn_ops hsp_ops = { hsp_ready, hsp_message, hsp_done };

/* Starts @p (already on the active list). Finishes it at once when the dial fails. */
static void probe_run(struct probe *p)
{
	struct kaspa_sensor *s = p->s;
	int fd;

	p->start_ns = vloop_now_ns();
	s->st.probes++;
	if (s->m_conns)
		vmetric_inc(s->m_conns, "outbound");
	fd = kaspa_dial((struct sockaddr *)&p->sa, p->salen);
	if (fd < 0) {
		probe_finish(p, errno_verdict(-fd), kaspa_errno_class(-fd));
		probe_release(p);
		return;
	}
	if (s->p.probe == KASPA_PROBE_HANDSHAKE) {
		p->c = kaspa_conn_new(s->loop, fd, KASPA_H2_CLIENT, &s->probe_cfg, &hsp_ops, p);
		if (!p->c) {
			probe_finish(p, KASPA_CLASS_UNKNOWN, "local");
			probe_release(p);
		}
		return;
	}
	p->fd = fd;
	p->timer = vloop_timer_add(s->loop, (uint64_t)s->p.probe_timeout_ms * NS_PER_MS, 0,
				   tcp_probe_timeout, p);
	if (!p->timer || vloop_add_fd(s->loop, fd, EPOLLOUT, tcp_probe_ready, p)) {
		probe_finish(p, KASPA_CLASS_UNKNOWN, "local");
		probe_release(p);
	}
}

/* Starts queued probes up to the concurrency bound. A probe whose dial fails at once releases
 * its slot from inside this loop; the guard keeps that from recursing once per queued probe. */
static void probe_start_next(struct kaspa_sensor *s)
{
	if (s->starting)
		return;
	s->starting = true;
	while (s->queue_head && s->st.probes_active < s->p.probe_concurrency) {
		struct probe *p = s->queue_head;

		s->queue_head = p->next;
		if (s->queue_head)
			s->queue_head->prev = NULL;
		else
			s->queue_tail = NULL;
		p->next = p->prev = NULL;
		s->st.probes_queued--;
		p->next = s->active;
		if (s->active)
			s->active->prev = p;
		s->active = p;
		s->st.probes_active++;
		probe_run(p);
	}
	s->starting = false;
}

/*
 * Decides what to do after the successful handshake @hs_event_id with @sc: skip (private range,
 * probing off, queue full: Unknown at once), reuse the result of a probe of the same IP within
 * the interval, or queue a probe.
 */
static void probe_schedule(struct sconn *sc, const char *hs_event_id)
{
	struct kaspa_sensor *s = sc->s;
	const struct kaspa_peer_info *pi = &kaspa_conn_hs(sc->c)->peer;
	uint16_t port = pi->has_address && pi->address.port ? pi->address.port
							      : kaspa_default_port(
									s->conn_cfg.hs.network);
	const uint8_t *ip;
	unsigned iplen;
	struct ipent *e;
	struct probe *p;
	uint64_t now = vloop_now_ns();

	if (sc->sa.ss_family == AF_INET) {
		ip = (const uint8_t *)&((struct sockaddr_in *)&sc->sa)->sin_addr;
		iplen = 4;
	} else {
		ip = (const uint8_t *)&((struct sockaddr_in6 *)&sc->sa)->sin6_addr;
		iplen = 16;
	}
	if (s->p.probe == KASPA_PROBE_OFF) {
		log_classification(s, hs_event_id, sc->ip, port, pi->id_hex, KASPA_CLASS_UNKNOWN,
				   "not-probed", 0, false, false);
		return;
	}
	if (!s->p.allow_private && kaspa_ip_is_private(ip, iplen)) {
		log_classification(s, hs_event_id, sc->ip, port, pi->id_hex, KASPA_CLASS_UNKNOWN,
				   "private-range", 0, false, false);
		return;
	}
	e = ip_find(s, ip, iplen, true);
	if (e && e->last_ns && s->p.probe_interval_ms &&
	    now - e->last_ns < s->p.probe_interval_ms * NS_PER_MS) {
		/* the IP was probed within the interval: its result stands for the same port */
		if (e->done && e->port == port)
			log_classification(s, hs_event_id, sc->ip, port, pi->id_hex, e->cls,
					   e->err, 0, true, false);
		else
			log_classification(s, hs_event_id, sc->ip, port, pi->id_hex,
					   KASPA_CLASS_UNKNOWN,
					   e->done ? "rate-limited" : "in-progress", 0, true,
					   false);
		return;
	}
	if (s->st.probes_queued >= PROBE_QUEUE_MAX || !(p = calloc(1, sizeof(*p)))) {
		log_classification(s, hs_event_id, sc->ip, port, pi->id_hex, KASPA_CLASS_UNKNOWN,
				   "overloaded", 0, false, false);
		return;
	}
	if (e) {
		e->last_ns = now;
		e->port = port;
		e->done = false;
	}
	p->s = s;
	p->ent = e;
	p->fd = -1;
	p->port = port;
	snprintf(p->hs_event_id, sizeof(p->hs_event_id), "%s", hs_event_id);
	snprintf(p->ip, sizeof(p->ip), "%s", sc->ip);
	memcpy(p->want_id, pi->id, KASPA_ID_LEN);
	snprintf(p->want_id_hex, sizeof(p->want_id_hex), "%s", pi->id_hex);
	memcpy(&p->sa, &sc->sa, sizeof(p->sa));
	if (p->sa.ss_family == AF_INET) {
		((struct sockaddr_in *)&p->sa)->sin_port = htons(port);
		p->salen = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)&p->sa)->sin6_port = htons(port);
		p->salen = sizeof(struct sockaddr_in6);
	}
	p->prev = s->queue_tail;
	if (s->queue_tail)
		s->queue_tail->next = p;
	else
		s->queue_head = p;
	s->queue_tail = p;
	s->st.probes_queued++;
	probe_start_next(s);
}

/* ---- inbound connections ------------------------------------------------------------------ */

static void in_ready(struct kaspa_conn *c, void *ctx)
{
	struct sconn *sc = ctx;
	struct kaspa_sensor *s = sc->s;
	char id[EVENT_ID_LEN + 1];

	(void)c;
	log_handshake(sc, true, id);
	probe_schedule(sc, id);
	if (!s->p.hold && kaspa_conn_close_after(c, s->p.close_after_ms))
		kaspa_conn_close(c);
}

static int in_message(struct kaspa_conn *c, const Protowire__KaspadMessage *m, void *ctx)
{
	(void)c;
	(void)m;
	(void)ctx;
	return 0; /* addresses, inventory...: a sensor does not relay */
}

static void sconn_free(struct sconn *sc)
{
	struct kaspa_sensor *s = sc->s;

	if (sc->prev)
		sc->prev->next = sc->next;
	else
		s->conns = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	kaspa_conn_free(sc->c);
	s->st.conns--;
	free(sc);
}

static void in_done(struct kaspa_conn *c, void *ctx)
{
	struct sconn *sc = ctx;
	char id[EVENT_ID_LEN + 1];

	(void)c;
	if (!sc->logged)
		log_handshake(sc, false, id);
	sconn_free(sc);
}

static const struct kaspa_conn_ops in_ops = { in_ready, in_message, in_done };

static void set_peer(struct sconn *sc, const struct sockaddr_storage *ss)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memcpy(&sc->sa, ss, sizeof(sc->sa));
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		if (memcmp(&s6->sin6_addr, mapped, 12) == 0) {
			struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = s6->sin6_port };

			memcpy(&s4.sin_addr, (const uint8_t *)&s6->sin6_addr + 12, 4);
			memset(&sc->sa, 0, sizeof(sc->sa));
			memcpy(&sc->sa, &s4, sizeof(s4));
		}
	}
	if (sc->sa.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&sc->sa;

		inet_ntop(AF_INET, &s4->sin_addr, sc->ip, sizeof(sc->ip));
		sc->port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&sc->sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, sc->ip, sizeof(sc->ip));
		sc->port = ntohs(s6->sin6_port);
	}
}

static void on_accept(struct vloop *loop, int lfd, uint32_t events, void *ctx)
{
	struct kaspa_sensor *s = ctx;
	int one = 1;

	(void)loop;
	(void)events;
	for (int n = 0; n < 64; n++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct sconn *sc;
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn(COMP, "accept on port %u: %s", s->port, strerror(errno));
			return;
		}
		s->st.accepted++;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (s->m_conns)
			vmetric_inc(s->m_conns, "inbound");
		if (s->st.conns >= s->p.max_conns) {
			if (s->st.refused_full++ == 0)
				log_warn(COMP, "%u connections open: closing new ones until some end "
					 "(raise --max-connections)", s->st.conns);
			close(fd);
			continue;
		}
		sc = calloc(1, sizeof(*sc));
		if (!sc) {
			close(fd);
			continue;
		}
		sc->s = s;
		sc->start_ns = vloop_now_ns();
		set_peer(sc, &ss);
		sc->c = kaspa_conn_new(s->loop, fd, KASPA_H2_SERVER, &s->conn_cfg, &in_ops, sc);
		if (!sc->c) {
			log_warn(COMP, "cannot set up the connection from %s:%u: %s", sc->ip, sc->port,
				 strerror(errno));
			free(sc);
			continue;
		}
		sc->next = s->conns;
		if (s->conns)
			s->conns->prev = sc;
		s->conns = sc;
		s->st.conns++;
	}
}

/* ---- store, metrics, housekeeping -------------------------------------------------------- */

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS handshakes ("
	" event_id TEXT PRIMARY KEY, time_us INTEGER NOT NULL, time TEXT NOT NULL,"
	" sensor_id TEXT NOT NULL, direction TEXT NOT NULL, peer_ip TEXT NOT NULL,"
	" peer_port INTEGER NOT NULL, result TEXT NOT NULL, reason TEXT NOT NULL, error TEXT,"
	" protocol_version INTEGER, user_agent TEXT, network TEXT, peer_id TEXT,"
	" advertised_address TEXT, services TEXT, duration_us INTEGER);"
	"CREATE INDEX IF NOT EXISTS handshakes_time ON handshakes(time_us);"
	"CREATE INDEX IF NOT EXISTS handshakes_ip ON handshakes(peer_ip);"
	"CREATE TABLE IF NOT EXISTS classifications ("
	" event_id TEXT PRIMARY KEY, handshake_event_id TEXT NOT NULL, time_us INTEGER NOT NULL,"
	" time TEXT NOT NULL, sensor_id TEXT NOT NULL, peer_ip TEXT NOT NULL,"
	" probe_port INTEGER NOT NULL, probe_mode TEXT NOT NULL, class TEXT NOT NULL,"
	" error_class TEXT NOT NULL, probe_duration_ms REAL, cached INTEGER NOT NULL,"
	" peer_id TEXT);"
	"CREATE INDEX IF NOT EXISTS classifications_time ON classifications(time_us);"
	"CREATE INDEX IF NOT EXISTS classifications_ip ON classifications(peer_ip);"
	KASPA_WEBHOOK_SCHEMA;

static int store_open(struct kaspa_sensor *s)
{
	char *err = NULL;

	if (sqlite3_open_v2(s->p.store, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		log_error(COMP, "cannot open the store %s: %s (check --store and the directory's "
			  "permissions)", s->p.store, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		return -EIO;
	}
	sqlite3_busy_timeout(s->db, 1000);
	if (sqlite3_exec(s->db, schema, NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db,
			       "INSERT OR IGNORE INTO handshakes VALUES"
			       " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &s->ins_hs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db,
			       "INSERT OR IGNORE INTO classifications VALUES"
			       " (?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &s->ins_cl, NULL) != SQLITE_OK) {
		log_error(COMP, "cannot set up the store %s: %s (is it a Vigil kaspa store?)",
			  s->p.store, err ? err : sqlite3_errmsg(s->db));
		sqlite3_free(err);
		return -EIO;
	}
	if (s->p.webhook.url &&
	    sqlite3_prepare_v2(s->db,
			       "INSERT OR IGNORE INTO outbox (event_id, subject, time_us, event)"
			       " VALUES (?,?,?,?)", -1, &s->ins_out, NULL) != SQLITE_OK) {
		log_error(COMP, "cannot set up the outbox in %s: %s", s->p.store,
			  sqlite3_errmsg(s->db));
		return -EIO;
	}
	s->commit_timer = vloop_timer_add(s->loop, 0, 0, commit_timer_cb, s);
	return s->commit_timer ? 0 : -errno;
}

/* The webhook's cursor, in SQL. */
#define CURSOR "coalesce((SELECT seq FROM export_cursor WHERE exporter = '" \
	KASPA_WEBHOOK_EXPORTER "'), 0)"

/*
 * Deletes rows older than the retention. Outbox rows go only once the webhook receiver has
 * them (at or below the cursor); without --webhook nobody will export them, so old ones go too,
 * with a log line counting them.
 */
static void store_prune(struct kaspa_sensor *s)
{
	char sql[512];
	long long cut;
	int n;

	if (!s->db || !s->p.retention_ms)
		return;
	cut = (long long)(vtime_real_ns() / 1000) - (long long)s->p.retention_ms * 1000;
	snprintf(sql, sizeof(sql),
		 "DELETE FROM handshakes WHERE time_us < %lld;"
		 "DELETE FROM classifications WHERE time_us < %lld;", cut, cut);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		log_warn(COMP, "cannot prune the store %s: %s", s->p.store, sqlite3_errmsg(s->db));
		return;
	}
	snprintf(sql, sizeof(sql), "DELETE FROM outbox WHERE time_us < %lld AND seq <= " CURSOR,
		 cut);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		log_warn(COMP, "cannot prune the outbox of %s: %s", s->p.store,
			 sqlite3_errmsg(s->db));
	if (s->p.webhook.url)
		return;
	snprintf(sql, sizeof(sql), "DELETE FROM outbox WHERE time_us < %lld AND seq > " CURSOR,
		 cut);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK &&
	    (n = sqlite3_changes(s->db)) > 0)
		log_warn(COMP, "dropped %d webhook events older than --retention from %s that were "
			 "never delivered (the sensor runs without --webhook)", n, s->p.store);
}

static void housekeeping(struct vloop *loop, void *ctx)
{
	struct kaspa_sensor *s = ctx;

	(void)loop;
	store_prune(s);
	ip_prune(s, vloop_now_ns());
}

static void collect(struct vmetrics *reg, void *ctx)
{
	struct kaspa_sensor *s = ctx;
	struct vbus_stats bs = { 0 };
	uint64_t wh = s->wh ? kaspa_webhook_backlog(s->wh) : 0;

	(void)reg;
	if (s->p.bus)
		vbus_get_stats(s->p.bus, &bs);
	vmetric_set(s->m_backlog, (double)(bs.spool_depth + bs.in_flight + wh));
	vmetric_set(s->m_wh_backlog, (double)wh);
}

static int metrics_init(struct kaspa_sensor *s, struct vmetrics *reg)
{
	static const double bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					 0.1,    0.25,  0.5,    1,     2.5,  5,     10 };

	s->m_conns = vmetrics_counter(reg, "vigil_kaspa_connections_total",
				      "TCP connections accepted (inbound) or opened by the prober "
				      "(outbound)", "direction");
	s->m_hs = vmetrics_counter(reg, "vigil_kaspa_handshakes_total",
				   "Kaspa handshakes by result (ok, failed) and reason", "result,reason");
	s->m_cls = vmetrics_counter(reg, "vigil_kaspa_classifications_total",
				    "peers classified public, private or unknown after the probe",
				    "class");
	s->m_probe_dur = vmetrics_histogram(reg, "vigil_kaspa_probe_duration_seconds",
					    "duration of the active probe back to the peer", NULL,
					    bounds, sizeof(bounds) / sizeof(bounds[0]));
	s->m_backlog = vmetrics_gauge(reg, "vigil_kaspa_export_backlog",
				      "events stored locally and not yet acknowledged by the "
				      "exporter", NULL);
	s->m_wh_backlog = vmetrics_gauge(reg, "vigil_kaspa_webhook_backlog",
					 "events in the store not yet acknowledged by the webhook "
					 "receiver", NULL);
	s->m_wh_sent = vmetrics_counter(reg, "vigil_kaspa_webhook_sent_total",
					"events the webhook receiver acknowledged (2xx)", NULL);
	s->m_wh_errors = vmetrics_counter(reg, "vigil_kaspa_webhook_errors_total",
					  "failed webhook requests by class", "class");
	s->m_wh_last = vmetrics_gauge(reg, "vigil_kaspa_webhook_last_success_timestamp_seconds",
				      "Unix time of the last batch the webhook receiver "
				      "acknowledged (0: none yet)", NULL);
	if (!s->m_conns || !s->m_hs || !s->m_cls || !s->m_probe_dur || !s->m_backlog ||
	    !s->m_wh_backlog || !s->m_wh_sent || !s->m_wh_errors || !s->m_wh_last)
		return -errno;
	vmetric_add(s->m_wh_sent, 0);
	vmetric_set(s->m_wh_last, 0);
	for (const char *const *c = (const char *const[]){ "connect", "timeout", "4xx", "429",
							    "5xx", "other", "store", NULL };
	     *c; c++)
		vmetric_add(s->m_wh_errors, 0, *c);
	/* the series exist from the start, at zero */
	vmetric_add(s->m_conns, 0, "inbound");
	vmetric_add(s->m_conns, 0, "outbound");
	vmetric_add(s->m_hs, 0, "ok", "none");
	for (const char *const *c = (const char *const[]){ "public", "private", "unknown", NULL };
	     *c; c++)
		vmetric_add(s->m_cls, 0, *c);
	return vmetrics_on_collect(reg, collect, s);
}

static int listen_on(struct kaspa_sensor *s, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, zero = 0, e;

	e = vaddr_parse(addr, &ss, &len);
	if (e) {
		log_error(COMP, "cannot listen on %s: not an address (give --listen IP:PORT, "
			  "[IPv6]:PORT or :PORT)", addr);
		return e;
	}
	s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return -errno;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) /* "[::]:16111" takes IPv4 too */
		setsockopt(s->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(s->lfd, (struct sockaddr *)&ss, len) || listen(s->lfd, 1024)) {
		e = -errno;
		log_error(COMP, "cannot listen on %s: %s (is a Kaspa node or another sensor "
			  "running? choose another --listen address)", addr, strerror(-e));
		return e;
	}
	len = sizeof(ss);
	getsockname(s->lfd, (struct sockaddr *)&ss, &len);
	s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return vloop_add_fd(s->loop, s->lfd, EPOLLIN, on_accept, s);
}

struct kaspa_sensor *kaspa_sensor_new(struct vloop *loop, const struct kaspa_sensor_params *p)
{
	struct kaspa_sensor *s = calloc(1, sizeof(*s));
	uint64_t hk;
	int e;

	if (!s)
		return NULL;
	s->loop = loop;
	s->lfd = -1;
	s->p = *p;
	if (!s->p.listen)
		s->p.listen = "0.0.0.0:16111";
	if (!s->p.close_after_ms)
		s->p.close_after_ms = 1000;
	if (!s->p.max_conns)
		s->p.max_conns = 4096;
	if (!s->p.probe_timeout_ms)
		s->p.probe_timeout_ms = 800;
	if (!s->p.probe_concurrency)
		s->p.probe_concurrency = 64;
	if (p->sensor_id && *p->sensor_id)
		snprintf(s->sensor_id, sizeof(s->sensor_id), "%s", p->sensor_id);
	else if (gethostname(s->sensor_id, sizeof(s->sensor_id) - 1))
		snprintf(s->sensor_id, sizeof(s->sensor_id), "unknown");
	s->conn_cfg = p->conn;
	/* one id for the sensor's life, shared by its probes (so it never probes itself) */
	if (getrandom(s->conn_cfg.hs.id, KASPA_ID_LEN, 0) != KASPA_ID_LEN) {
		e = -EIO;
		goto fail;
	}
	s->probe_cfg = s->conn_cfg;
	s->probe_cfg.connect_timeout_ms = s->p.probe_timeout_ms;
	if (s->p.probe_timeout_ms < 4000) {
		/* a probe handshake finishes within a few probe timeouts, not the 4/4/8 s */
		s->probe_cfg.hs.version_timeout_ms = 4 * s->p.probe_timeout_ms;
		s->probe_cfg.hs.verack_timeout_ms = 4 * s->p.probe_timeout_ms;
		s->probe_cfg.hs.ready_timeout_ms = 4 * s->p.probe_timeout_ms;
	}
	if (p->metrics) {
		e = metrics_init(s, p->metrics);
		if (e) {
			log_error(COMP, "cannot register the vigil_kaspa_* metrics: %s "
				  "(one sensor per registry)", strerror(-e));
			goto fail;
		}
	}
	if (s->p.webhook.url && (!p->store || !*p->store)) {
		log_error(COMP, "--webhook %s needs --store FILE: the events wait there until the "
			  "receiver has them", s->p.webhook.url);
		e = -EINVAL;
		goto fail;
	}
	if (p->store && *p->store) {
		e = store_open(s);
		if (e)
			goto fail;
		store_prune(s);
	}
	if (s->p.webhook.url) {
		s->p.webhook.store = p->store;
		s->p.webhook.m_sent = s->m_wh_sent;
		s->p.webhook.m_errors = s->m_wh_errors;
		s->p.webhook.m_last_success = s->m_wh_last;
		s->wh = kaspa_webhook_new(&s->p.webhook);
		if (!s->wh) {
			e = -errno;
			goto fail;
		}
	}
	e = listen_on(s, s->p.listen);
	if (e)
		goto fail;
	hk = DEFAULT_INTERVAL_PRUNE_NS;
	if (s->p.retention_ms && s->p.retention_ms * NS_PER_MS / 10 < hk)
		hk = s->p.retention_ms * NS_PER_MS / 10 ? s->p.retention_ms * NS_PER_MS / 10 : 1;
	s->housekeeping = vloop_timer_add(loop, hk, hk, housekeeping, s);
	if (!s->housekeeping) {
		e = -errno;
		goto fail;
	}
	log_info(COMP, "sensor %s listening on %s (port %u), network %s, probe %s", s->sensor_id,
		 s->p.listen, s->port, s->conn_cfg.hs.network ? s->conn_cfg.hs.network
							      : KASPA_DEFAULT_NETWORK,
		 s->p.probe == KASPA_PROBE_OFF ? "off"
		 : s->p.probe == KASPA_PROBE_TCP ? "tcp" : "handshake");
	return s;
fail:
	kaspa_sensor_free(s);
	errno = -e;
	return NULL;
}

void kaspa_sensor_free(struct kaspa_sensor *s)
{
	if (!s)
		return;
	if (s->lfd >= 0) {
		vloop_del_fd(s->loop, s->lfd);
		close(s->lfd);
	}
	while (s->conns) {
		struct sconn *sc = s->conns;

		sc->logged = true;
		sconn_free(sc);
	}
	while (s->active) {
		struct probe *p = s->active;

		s->active = p->next;
		if (p->timer)
			vloop_timer_del(p->timer);
		if (p->fd >= 0) {
			vloop_del_fd(s->loop, p->fd);
			close(p->fd);
		}
		if (p->c)
			kaspa_conn_free(p->c);
		free(p);
	}
	while (s->queue_head) {
		struct probe *p = s->queue_head;

		s->queue_head = p->next;
		free(p);
	}
	for (unsigned h = 0; h < IP_BUCKETS; h++)
		while (s->ips[h]) {
			struct ipent *e = s->ips[h];

			s->ips[h] = e->next;
			free(e);
		}
	if (s->housekeeping)
		vloop_timer_del(s->housekeeping);
	if (s->db)
		store_commit(s);
	if (s->commit_timer)
		vloop_timer_del(s->commit_timer);
	kaspa_webhook_free(s->wh);
	sqlite3_finalize(s->ins_hs);
	sqlite3_finalize(s->ins_cl);
	sqlite3_finalize(s->ins_out);
	if (s->db)
		sqlite3_close(s->db);
	free(s);
}

uint16_t kaspa_sensor_port(const struct kaspa_sensor *s)
{
	return s->port;
}

void kaspa_sensor_get_stats(const struct kaspa_sensor *s, struct kaspa_sensor_stats *st)
{
	*st = s->st;
}

uint64_t kaspa_sensor_webhook_backlog(const struct kaspa_sensor *s)
{
	return s->wh ? kaspa_webhook_backlog(s->wh) : 0;
}
