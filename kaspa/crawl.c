// SPDX-License-Identifier: GPL-2.0-only
/*
 * The crawler (crawl.h). Every address learned gets the next index of one kaspa_addrset, so the
 * breadth-first queue is just a cursor over those indices: addresses are dialled in the order
 * they were learned, seeds first. Per-address facts live in an array beside the set; they are
 * written to the store when the crawl finishes, since the count of advertisers keeps growing
 * until then. Responses and edges are written when their connection ends, one transaction each.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#include "vigil/log.h"
#include "vigil/metrics.h"
#include "vigil/util.h"
#include "crawl.h"
#include "crawl_store.h"
#include "sensor.h"

#define COMP "kaspa"
#define NS_PER_MS 1000000ull

/* ---- address sets ------------------------------------------------------------------------- */

int kaspa_grow(void *pp, size_t *cap, size_t need, size_t elem)
{
	void **p = pp;
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

void kaspa_addrset_init(struct kaspa_addrset *s)
{
	memset(s, 0, sizeof(*s));
}

void kaspa_addrset_free(struct kaspa_addrset *s)
{
	free(s->addrs);
	free(s->next);
	free(s->heads);
	kaspa_addrset_init(s);
}

static size_t addr_hash(const struct kaspa_netaddr *a)
{
	uint64_t h = 1469598103934665603ull;

	for (unsigned i = 0; i < a->ip_len; i++)
		h = (h ^ a->ip[i]) * 1099511628211ull;
	h = (h ^ a->port) * 1099511628211ull;
	h = (h ^ a->ip_len) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29));
}

static bool addr_eq(const struct kaspa_netaddr *a, const struct kaspa_netaddr *b)
{
	return a->ip_len == b->ip_len && a->port == b->port && memcmp(a->ip, b->ip, a->ip_len) == 0;
}

long kaspa_addrset_find(const struct kaspa_addrset *s, const struct kaspa_netaddr *a)
{
	if (!s->nheads)
		return -1;
	for (uint32_t i = s->heads[addr_hash(a) & (s->nheads - 1)]; i; i = s->next[i - 1])
		if (addr_eq(&s->addrs[i - 1], a))
			return (long)i - 1;
	return -1;
}

/* Doubles the bucket array (a power of two, load factor <= 1) and rechains every entry. */
static int rehash(struct kaspa_addrset *s)
{
	size_t nh = s->nheads ? s->nheads * 2 : 64;
	uint32_t *heads = calloc(nh, sizeof(*heads));

	if (!heads)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		size_t b = addr_hash(&s->addrs[i]) & (nh - 1);

		s->next[i] = heads[b];
		heads[b] = (uint32_t)i + 1;
	}
	free(s->heads);
	s->heads = heads;
	s->nheads = nh;
	return 0;
}

int kaspa_addrset_add(struct kaspa_addrset *s, const struct kaspa_netaddr *a, size_t *idx)
{
	long f = kaspa_addrset_find(s, a);
	size_t b;

	if (f >= 0) {
		*idx = (size_t)f;
		return 0;
	}
	if (s->n >= UINT32_MAX - 1)
		return -ENOMEM;
	if (s->n == s->cap) {
		size_t cap = s->cap, ncap = s->cap;

		/* both arrays at the same capacity */
		if (kaspa_grow(&s->addrs, &cap, s->n + 1, sizeof(*s->addrs)) ||
		    kaspa_grow(&s->next, &ncap, cap, sizeof(*s->next)))
			return -ENOMEM;
		s->cap = cap;
	}
	s->addrs[s->n] = *a;
	s->addrs[s->n].timestamp = 0;
	s->n++;
	if (s->n > s->nheads) {
		if (rehash(s)) {
			s->n--;
			return -ENOMEM;
		}
	} else {
		b = addr_hash(a) & (s->nheads - 1);
		s->next[s->n - 1] = s->heads[b];
		s->heads[b] = (uint32_t)s->n;
	}
	*idx = s->n - 1;
	return 1;
}

void kaspa_edge_acc_init(struct kaspa_edge_acc *e)
{
	memset(e, 0, sizeof(*e));
	kaspa_addrset_init(&e->set);
}

void kaspa_edge_acc_free(struct kaspa_edge_acc *e)
{
	kaspa_addrset_free(&e->set);
	free(e->responses);
	free(e->last);
	kaspa_edge_acc_init(e);
}

void kaspa_edge_acc_response(struct kaspa_edge_acc *e)
{
	e->n_responses++;
}

int kaspa_edge_acc_add(struct kaspa_edge_acc *e, const struct kaspa_netaddr *a)
{
	size_t idx, cap = e->set.cap;
	int r = kaspa_addrset_add(&e->set, a, &idx);

	if (r < 0)
		return r;
	if (e->set.cap != cap || !e->responses) {
		size_t rc = cap, lc = cap;

		if (!e->responses)
			rc = lc = 0;
		if (kaspa_grow(&e->responses, &rc, e->set.cap, sizeof(*e->responses)) ||
		    kaspa_grow(&e->last, &lc, e->set.cap, sizeof(*e->last)))
			return -ENOMEM;
	}
	if (r == 1) {
		e->responses[idx] = 0;
		e->last[idx] = 0;
	}
	if (e->last[idx] != e->n_responses) {
		e->last[idx] = e->n_responses;
		e->responses[idx]++;
	}
	return r;
}

/* ---- the crawler -------------------------------------------------------------------------- */

static const char *const err_names[KASPA_CRAWL_ERR_MAX] = {
	[KASPA_CRAWL_OK] = "none",		[KASPA_CRAWL_REFUSED] = "refused",
	[KASPA_CRAWL_TIMEOUT] = "timeout",	[KASPA_CRAWL_RESET] = "reset",
	[KASPA_CRAWL_UNREACHABLE] = "unreachable", [KASPA_CRAWL_VERSION] = "version",
	[KASPA_CRAWL_NETWORK] = "network",	[KASPA_CRAWL_MALFORMED] = "malformed",
	[KASPA_CRAWL_REJECTED] = "rejected",	[KASPA_CRAWL_SELF] = "self",
	[KASPA_CRAWL_PRIVATE] = "private-range", [KASPA_CRAWL_LIMIT] = "not-dialled",
};

const char *kaspa_crawl_err_name(enum kaspa_crawl_err e)
{
	return e < KASPA_CRAWL_ERR_MAX ? err_names[e] : "unknown";
}

/* The class of a failed connect, by the sensor's errno classes. */
static enum kaspa_crawl_err errno_err(int e)
{
	const char *name = kaspa_errno_class(e);

	for (int i = 0; i < KASPA_CRAWL_ERR_MAX; i++)
		if (strcmp(err_names[i], name) == 0)
			return (enum kaspa_crawl_err)i;
	return KASPA_CRAWL_UNREACHABLE;
}

static enum kaspa_crawl_err fail_err(enum kaspa_fail f)
{
	switch (f) {
	case KASPA_FAIL_TIMEOUT: return KASPA_CRAWL_TIMEOUT;
	case KASPA_FAIL_VERSION: return KASPA_CRAWL_VERSION;
	case KASPA_FAIL_NETWORK: return KASPA_CRAWL_NETWORK;
	case KASPA_FAIL_MALFORMED: return KASPA_CRAWL_MALFORMED;
	case KASPA_FAIL_REJECTED: return KASPA_CRAWL_REJECTED;
	case KASPA_FAIL_SELF: return KASPA_CRAWL_SELF;
	default: return KASPA_CRAWL_RESET;
	}
}

enum node_state { NODE_QUEUED, NODE_DIALLING, NODE_DONE };

/* What the crawl knows of one address (index = its index in the crawl's addrset). */
struct cnode {
	uint64_t first_seen_us, last_seen_us;
	char *user_agent, *network, *advertised, *error;
	char id_hex[2 * KASPA_ID_LEN + 1];
	uint32_t protocol_version;
	uint32_t advertisers;
	uint8_t state;
	uint8_t err;
	bool reachable;
};

struct response {
	uint64_t time_us;
	uint32_t count;
};

/* One connection of the crawl. */
struct cconn {
	struct kaspa_crawl *c;
	struct kaspa_conn *kc;
	size_t idx;
	unsigned round;			/* RequestAddresses sent */
	struct vloop_timer *round_timer;
	bool round_timed_out;
	struct kaspa_edge_acc acc;
	uint64_t *seen_us;		/* per acc index: when first advertised */
	size_t seen_cap;
	struct response *resp;
	size_t n_resp, resp_cap;
	struct cconn *prev, *next;
};

struct kaspa_crawl {
	struct vloop *loop;
	struct kaspa_crawl_params p;
	struct kaspa_addrset set;
	struct cnode *nodes;
	size_t nodes_cap;
	size_t cursor;			/* the next index to dial */
	struct cconn *conns;
	bool started, finished, stopping;
	struct vloop_timer *deadline;
	struct kaspa_crawl_stats st;
	struct vmetric *m_known, *m_nodes, *m_inflight, *m_fail, *m_resp;
};

static uint64_t now_us(void)
{
	return vtime_real_ns() / 1000;
}

static void store_error(struct kaspa_crawl *c, const char *what)
{
	if (c->st.store_errors++ == 0)
		log_error(COMP, "crawl: cannot write %s to the %s: %s (later errors are only counted)",
			  what, kaspa_crawl_store_name(c->p.store),
			  kaspa_crawl_store_errmsg(c->p.store));
}

/* Learns @a (already normalised): a new node, queued for dialling. Its index in *idx. 1 when
 * new, 0 when known, -ENOMEM. */
static int learn(struct kaspa_crawl *c, const struct kaspa_netaddr *a, size_t *idx)
{
	int r = kaspa_addrset_add(&c->set, a, idx);

	if (r != 1)
		return r;
	if (kaspa_grow(&c->nodes, &c->nodes_cap, c->set.n, sizeof(*c->nodes))) {
		c->set.n--; /* forget it: the set and the array stay in step */
		return -ENOMEM;
	}
	memset(&c->nodes[*idx], 0, sizeof(c->nodes[*idx]));
	c->nodes[*idx].first_seen_us = now_us();
	c->st.known++;
	if (c->m_known)
		vmetric_set(c->m_known, (double)c->st.known);
	return 1;
}

/* Records the outcome of address @idx: its class and error text, the counters and metrics. */
static void node_done(struct kaspa_crawl *c, size_t idx, enum kaspa_crawl_err err, const char *why)
{
	struct cnode *n = &c->nodes[idx];

	n->state = NODE_DONE;
	n->err = (uint8_t)err;
	n->reachable = err == KASPA_CRAWL_OK;
	if (why && *why && !n->error)
		n->error = strdup(why);
	c->st.by_err[err]++;
	if (err == KASPA_CRAWL_OK)
		c->st.reachable++;
	else if (err == KASPA_CRAWL_PRIVATE || err == KASPA_CRAWL_LIMIT)
		c->st.not_dialled++;
	else
		c->st.unreachable++;
	if (c->m_nodes)
		vmetric_inc(c->m_nodes, err == KASPA_CRAWL_OK ? "reachable"
					: err == KASPA_CRAWL_PRIVATE || err == KASPA_CRAWL_LIMIT
						? "not-dialled"
						: "unreachable");
	if (c->m_fail && err != KASPA_CRAWL_OK)
		vmetric_inc(c->m_fail, kaspa_crawl_err_name(err));
}

/* Writes the responses and edges of a finished connection, in one transaction. */
static void write_conn(struct kaspa_crawl *c, struct cconn *cc)
{
	struct kaspa_crawl_store *st = c->p.store;
	const struct cnode *n = &c->nodes[cc->idx];
	char peer[KASPA_ADDR_STRLEN], addr[KASPA_ADDR_STRLEN], ip[INET6_ADDRSTRLEN];
	char round[24], t[24], cnt[16], port[8];
	int e = 0;

	kaspa_netaddr_str(&c->set.addrs[cc->idx], peer, sizeof(peer));
	if (!st || (!cc->n_resp && !cc->acc.set.n))
		return;
	e = kaspa_crawl_store_begin(st);
	for (size_t i = 0; !e && i < cc->n_resp; i++) {
		snprintf(round, sizeof(round), "%zu", i + 1);
		snprintf(t, sizeof(t), "%llu", (unsigned long long)cc->resp[i].time_us);
		snprintf(cnt, sizeof(cnt), "%u", cc->resp[i].count);
		e = kaspa_crawl_store_exec(st,
					   "INSERT INTO kaspa_crawl_responses (crawl_id, peer, peer_id,"
					   " round, time_us, addresses) VALUES ($1, $2, $3, $4, $5, $6)"
					   " ON CONFLICT (crawl_id, peer, round) DO NOTHING",
					   (const char *const[]){ c->st.crawl_id, peer, n->id_hex, round,
								  t, cnt }, 6);
	}
	for (size_t i = 0; !e && i < cc->acc.set.n; i++) {
		const struct kaspa_netaddr *a = &cc->acc.set.addrs[i];

		kaspa_netaddr_str(a, addr, sizeof(addr));
		kaspa_netaddr_ip_str(a, ip, sizeof(ip));
		snprintf(port, sizeof(port), "%u", a->port);
		snprintf(t, sizeof(t), "%llu", (unsigned long long)cc->seen_us[i]);
		snprintf(cnt, sizeof(cnt), "%u", cc->acc.responses[i]);
		e = kaspa_crawl_store_exec(st,
					   "INSERT INTO kaspa_crawl_edges (crawl_id, advertiser,"
					   " advertiser_id, address, address_ip, address_port, seen_us,"
					   " responses) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
					   " ON CONFLICT (crawl_id, advertiser, address) DO UPDATE SET"
					   " responses = kaspa_crawl_edges.responses + excluded.responses",
					   (const char *const[]){ c->st.crawl_id, peer, n->id_hex, addr, ip,
								  port, t, cnt }, 8);
	}
	if (!e)
		e = kaspa_crawl_store_commit(st);
	if (e) {
		store_error(c, "responses and edges");
		kaspa_crawl_store_rollback(st);
	}
}

static void dial_next(struct kaspa_crawl *c);
static void check_done(struct kaspa_crawl *c);

/* Unlinks and frees a connection of the crawl (its kaspa_conn included). */
static void cconn_free(struct cconn *cc)
{
	struct kaspa_crawl *c = cc->c;

	if (cc->prev)
		cc->prev->next = cc->next;
	else
		c->conns = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	if (cc->round_timer)
		vloop_timer_del(cc->round_timer);
	kaspa_conn_free(cc->kc);
	kaspa_edge_acc_free(&cc->acc);
	free(cc->seen_us);
	free(cc->resp);
	free(cc);
	c->st.in_flight--;
	if (c->m_inflight)
		vmetric_set(c->m_inflight, c->st.in_flight);
}

/* The connection's outcome: the node's facts and class, its rows in the store. */
static void conn_outcome(struct cconn *cc, bool stopped)
{
	struct kaspa_crawl *c = cc->c;
	struct kaspa_hs *hs = kaspa_conn_hs(cc->kc);
	struct cnode *n = &c->nodes[cc->idx];
	enum kaspa_crawl_err err;
	const char *why = hs->reason;

	if (hs->got_version || kaspa_hs_ready(hs) || cc->round) {
		const struct kaspa_peer_info *pi = &hs->peer;

		memcpy(n->id_hex, pi->id_hex, sizeof(n->id_hex));
		n->protocol_version = pi->protocol_version;
		free(n->user_agent);
		free(n->network);
		free(n->advertised);
		n->user_agent = strdup(pi->user_agent);
		n->network = strdup(pi->network);
		n->advertised = pi->address_str[0] ? strdup(pi->address_str) : NULL;
	}
	if (cc->round) {
		/* the handshake completed: reachable, whatever happened later */
		err = KASPA_CRAWL_OK;
		why = cc->round_timed_out ? "no Addresses answer before the round timeout" : "";
	} else if (stopped) {
		err = KASPA_CRAWL_LIMIT;
		why = "the crawl ended before the handshake did";
	} else if (!kaspa_conn_connected(cc->kc)) {
		err = errno_err(kaspa_conn_connect_errno(cc->kc));
	} else {
		err = fail_err(hs->fail);
		if (!*why)
			why = kaspa_conn_transport_why(cc->kc);
	}
	node_done(c, cc->idx, err, why);
	write_conn(c, cc);
	c->st.edges += cc->acc.set.n;
}

/* on_done: the outcome is recorded, the slot goes to the next queued address. */
static void crawl_done(struct kaspa_conn *kc, void *ctx)
{
	struct cconn *cc = ctx;
	struct kaspa_crawl *c = cc->c;

	(void)kc;
	conn_outcome(cc, false);
	cconn_free(cc);
	dial_next(c);
	check_done(c);
}

static void round_timeout(struct vloop *loop, void *ctx)
{
	struct cconn *cc = ctx;

	(void)loop;
	cc->round_timed_out = true;
	kaspa_conn_close(cc->kc);
}

/* Sends the next RequestAddresses and arms its timeout. */
static void next_round(struct cconn *cc)
{
	struct kaspa_crawl *c = cc->c;
	uint64_t ns = (uint64_t)c->p.round_timeout_ms * NS_PER_MS;

	if (kaspa_conn_request_addresses(cc->kc)) {
		kaspa_conn_close(cc->kc);
		return;
	}
	cc->round++;
	if (!cc->round_timer)
		cc->round_timer = vloop_timer_add(c->loop, ns, 0, round_timeout, cc);
	else
		vloop_timer_set(cc->round_timer, ns, 0);
	if (!cc->round_timer)
		kaspa_conn_close(cc->kc);
}

static void crawl_ready(struct kaspa_conn *kc, void *ctx)
{
	struct cconn *cc = ctx;

	(void)kc;
	cc->c->nodes[cc->idx].last_seen_us = now_us();
	next_round(cc);
}

/* One Addresses answer: a response, its addresses learned and counted as edges. */
static int on_addresses(struct cconn *cc, const Protowire__AddressesMessage *am)
{
	struct kaspa_crawl *c = cc->c;
	uint64_t t = now_us();
	size_t n = am ? am->n_addresslist : 0;

	if (n > KASPA_MAX_ADDRESSES)
		return -EMSGSIZE; /* receivers reject more than 2500: so do we */
	if (kaspa_grow(&cc->resp, &cc->resp_cap, cc->n_resp + 1, sizeof(*cc->resp)))
		return -ENOMEM;
	cc->resp[cc->n_resp++] = (struct response){ t, (uint32_t)n };
	c->st.responses++;
	c->st.addresses += n;
	if (c->m_resp)
		vmetric_inc(c->m_resp);
	c->nodes[cc->idx].last_seen_us = t;
	kaspa_edge_acc_response(&cc->acc);
	for (size_t i = 0; i < n; i++) {
		struct kaspa_netaddr a;
		size_t idx;
		int r;

		if (kaspa_netaddr_from_pb(am->addresslist[i], &a))
			continue; /* a malformed entry: skip it, keep the rest */
		r = kaspa_edge_acc_add(&cc->acc, &a);
		if (r < 0)
			return r;
		if (r == 1) {
			if (kaspa_grow(&cc->seen_us, &cc->seen_cap, cc->acc.set.n,
				       sizeof(*cc->seen_us)))
				return -ENOMEM;
			cc->seen_us[cc->acc.set.n - 1] = t;
		}
		if (learn(c, &a, &idx) < 0)
			return -ENOMEM;
		if (r == 1)
			c->nodes[idx].advertisers++;
	}
	return 0;
}

/* on_message after Ready: an Addresses answer ends a round; the last round leaves politely. */
static int crawl_message(struct kaspa_conn *kc, const Protowire__KaspadMessage *m, void *ctx)
{
	struct cconn *cc = ctx;
	int e;

	if (m->payload_case != PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES || !cc->round)
		return 0; /* inventory, pongs: a crawler does not relay */
	e = on_addresses(cc, m->addresses);
	if (e)
		return e;
	if (cc->round < cc->c->p.rounds) {
		next_round(cc);
	} else {
		if (cc->round_timer)
			vloop_timer_set(cc->round_timer, 0, 0);
		kaspa_conn_close(kc);
	}
	dial_next(cc->c);
	return 0;
}

static const struct kaspa_conn_ops crawl_ops = { crawl_ready, crawl_message, crawl_done };

/* The sockaddr to dial for @a; returns its length. */
static socklen_t to_sockaddr(const struct kaspa_netaddr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->ip_len == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		memcpy(&s4->sin_addr, a->ip, 4);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(a->port);
	memcpy(&s6->sin6_addr, a->ip, 16);
	return sizeof(*s6);
}

/* Dials queued addresses until the concurrency bound is reached or the queue is empty. */
static void dial_next(struct kaspa_crawl *c)
{
	while (!c->stopping && c->st.in_flight < c->p.concurrency && c->cursor < c->set.n) {
		size_t idx = c->cursor++;
		const struct kaspa_netaddr *a = &c->set.addrs[idx];
		struct sockaddr_storage ss;
		socklen_t len;
		struct cconn *cc;
		int fd;

		if (!c->p.allow_private && kaspa_ip_is_private(a->ip, a->ip_len)) {
			node_done(c, idx, KASPA_CRAWL_PRIVATE, "");
			continue;
		}
		if (c->p.max_nodes && c->st.dialled >= c->p.max_nodes) {
			c->cursor--; /* left queued: recorded as not dialled at the end */
			return;
		}
		c->st.dialled++;
		len = to_sockaddr(a, &ss);
		fd = kaspa_dial((struct sockaddr *)&ss, len);
		if (fd < 0) {
			node_done(c, idx, errno_err(-fd), strerror(-fd));
			continue;
		}
		cc = calloc(1, sizeof(*cc));
		if (!cc) {
			close(fd);
			node_done(c, idx, KASPA_CRAWL_UNREACHABLE, "out of memory");
			continue;
		}
		cc->c = c;
		cc->idx = idx;
		kaspa_edge_acc_init(&cc->acc);
		cc->kc = kaspa_conn_new(c->loop, fd, KASPA_H2_CLIENT, &c->p.conn, &crawl_ops, cc);
		if (!cc->kc) {
			node_done(c, idx, KASPA_CRAWL_UNREACHABLE, strerror(errno));
			free(cc);
			continue;
		}
		c->nodes[idx].state = NODE_DIALLING;
		cc->next = c->conns;
		if (c->conns)
			c->conns->prev = cc;
		c->conns = cc;
		c->st.in_flight++;
		if (c->st.in_flight > c->st.max_in_flight)
			c->st.max_in_flight = c->st.in_flight;
		if (c->m_inflight)
			vmetric_set(c->m_inflight, c->st.in_flight);
	}
}

/* Ends the crawl once nothing is in flight and nothing is left that may be dialled. */
static void check_done(struct kaspa_crawl *c)
{
	if (c->st.in_flight == 0 && (c->cursor >= c->set.n || c->stopping ||
				     (c->p.max_nodes && c->st.dialled >= c->p.max_nodes))) {
		kaspa_crawl_finish(c);
		vloop_stop(c->loop);
	}
}

static void deadline(struct vloop *loop, void *ctx)
{
	struct kaspa_crawl *c = ctx;

	log_info(COMP, "crawl: --duration is over: closing %u connections in flight",
		 c->st.in_flight);
	kaspa_crawl_finish(c);
	vloop_stop(loop);
}

static int metrics_init(struct kaspa_crawl *c, struct vmetrics *reg)
{
	static const char *const results[] = { "reachable", "unreachable", "not-dialled" };

	c->m_known = vmetrics_gauge(reg, "vigil_kaspa_crawl_addresses", "addresses learned by the "
				    "crawl (seeds included)", NULL);
	c->m_nodes = vmetrics_counter(reg, "vigil_kaspa_crawl_nodes_total", "crawled addresses by "
				      "result (reachable, unreachable, not-dialled)", "result");
	c->m_inflight = vmetrics_gauge(reg, "vigil_kaspa_crawl_dials_in_flight", "connections the "
				       "crawler has open or being opened", NULL);
	c->m_fail = vmetrics_counter(reg, "vigil_kaspa_crawl_failures_total", "addresses not "
				     "reachable or not dialled, by error class", "class");
	c->m_resp = vmetrics_counter(reg, "vigil_kaspa_crawl_responses_total", "Addresses answers "
				     "received", NULL);
	if (!c->m_known || !c->m_nodes || !c->m_inflight || !c->m_fail || !c->m_resp)
		return -errno;
	/* every series exists from the start, at zero */
	for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++)
		vmetric_add(c->m_nodes, 0, results[i]);
	for (int i = KASPA_CRAWL_OK + 1; i < KASPA_CRAWL_ERR_MAX; i++)
		vmetric_add(c->m_fail, 0, kaspa_crawl_err_name(i));
	vmetric_add(c->m_resp, 0);
	vmetric_set(c->m_known, 0);
	vmetric_set(c->m_inflight, 0);
	return 0;
}

/* Raises RLIMIT_NOFILE for @conc connections (a socket and a timer or two each); returns the
 * concurrency the limit allows. */
unsigned kaspa_crawl_fit_nofile(unsigned conc)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)conc * 3 + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return conc;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need) {
		unsigned fit = rl.rlim_cur > 67 ? (unsigned)((rl.rlim_cur - 64) / 3) : 1;

		log_warn(COMP, "crawl: the open-files limit is %llu: concurrency lowered from %u "
			 "to %u (raise the hard limit, ulimit -Hn)", (unsigned long long)rl.rlim_cur,
			 conc, fit);
		return fit;
	}
	return conc;
}

struct kaspa_crawl *kaspa_crawl_new(struct vloop *loop, const struct kaspa_crawl_params *p)
{
	struct kaspa_crawl *c = calloc(1, sizeof(*c));
	uint8_t r[3];
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	int e;

	if (!c)
		return NULL;
	c->loop = loop;
	c->p = *p;
	if (!c->p.concurrency)
		c->p.concurrency = 256;
	if (!c->p.rounds)
		c->p.rounds = 1;
	if (!c->p.round_timeout_ms)
		c->p.round_timeout_ms = 10000;
	kaspa_addrset_init(&c->set);
	/* one id for the whole crawl, so dialling ourselves is recognised */
	if (getrandom(c->p.conn.hs.id, KASPA_ID_LEN, 0) != KASPA_ID_LEN ||
	    getrandom(r, sizeof(r), 0) != sizeof(r)) {
		e = EIO;
		goto fail;
	}
	if (p->crawl_id && *p->crawl_id) {
		snprintf(c->st.crawl_id, sizeof(c->st.crawl_id), "%s", p->crawl_id);
	} else {
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(c->st.crawl_id, sizeof(c->st.crawl_id), "%s-%02x%02x%02x", ts, r[0], r[1],
			 r[2]);
	}
	if (p->metrics && (e = -metrics_init(c, p->metrics))) {
		log_error(COMP, "crawl: cannot register the vigil_kaspa_crawl_* metrics: %s",
			  strerror(e));
		goto fail;
	}
	for (size_t i = 0; i < p->n_seeds; i++) {
		size_t idx;

		if (learn(c, &p->seeds[i], &idx) < 0) {
			e = ENOMEM;
			goto fail;
		}
	}
	return c;
fail:
	kaspa_crawl_free(c);
	errno = e;
	return NULL;
}

int kaspa_crawl_start(struct kaspa_crawl *c)
{
	char t[24];
	const char *ua = c->p.conn.hs.user_agent;
	const char *net = c->p.conn.hs.network ? c->p.conn.hs.network : KASPA_DEFAULT_NETWORK;

	c->started = true;
	c->st.started_us = now_us();
	snprintf(t, sizeof(t), "%llu", (unsigned long long)c->st.started_us);
	if (c->p.store &&
	    kaspa_crawl_store_exec(c->p.store,
				   "INSERT INTO kaspa_crawls (crawl_id, started_us, seeds, network,"
				   " user_agent) VALUES ($1, $2, $3, $4, $5)",
				   (const char *const[]){ c->st.crawl_id, t, c->p.seeds_text, net,
							  ua }, 5)) {
		log_error(COMP, "crawl: cannot record crawl %s in the %s: %s", c->st.crawl_id,
			  kaspa_crawl_store_name(c->p.store), kaspa_crawl_store_errmsg(c->p.store));
		return -EIO;
	}
	if (c->p.duration_ms) {
		c->deadline = vloop_timer_add(c->loop, c->p.duration_ms * NS_PER_MS, 0, deadline, c);
		if (!c->deadline)
			return -errno;
	}
	log_info(COMP, "crawl %s: %zu seeds, concurrency %u, %u round(s) per peer", c->st.crawl_id,
		 c->set.n, c->p.concurrency, c->p.rounds);
	dial_next(c);
	check_done(c);
	return 0;
}

/* Writes every node row of the crawl and closes the crawl's row, in one transaction. */
static void write_nodes(struct kaspa_crawl *c)
{
	struct kaspa_crawl_store *st = c->p.store;
	char addr[KASPA_ADDR_STRLEN], ip[INET6_ADDRSTRLEN], port[8], first[24], last[24], pv[16];
	char adv[16], t[24], nodes[24], reach[24], resp[24], edges[24];
	int e = kaspa_crawl_store_begin(st);

	for (size_t i = 0; !e && i < c->set.n; i++) {
		const struct cnode *n = &c->nodes[i];
		const struct kaspa_netaddr *a = &c->set.addrs[i];
		bool facts = n->id_hex[0] != 0;

		kaspa_netaddr_str(a, addr, sizeof(addr));
		kaspa_netaddr_ip_str(a, ip, sizeof(ip));
		snprintf(port, sizeof(port), "%u", a->port);
		snprintf(first, sizeof(first), "%llu", (unsigned long long)n->first_seen_us);
		snprintf(last, sizeof(last), "%llu", (unsigned long long)n->last_seen_us);
		snprintf(pv, sizeof(pv), "%u", n->protocol_version);
		snprintf(adv, sizeof(adv), "%u", n->advertisers);
		e = kaspa_crawl_store_exec(
			st,
			"INSERT INTO kaspa_crawl_nodes (crawl_id, address, ip, port, peer_id,"
			" user_agent, protocol_version, network, advertised_address, first_seen_us,"
			" last_seen_us, reachable, error_class, error, advertisers) VALUES ($1, $2,"
			" $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
			" ON CONFLICT (crawl_id, address) DO NOTHING",
			(const char *const[]){ c->st.crawl_id, addr, ip, port,
					       facts ? n->id_hex : NULL, facts ? n->user_agent : NULL,
					       facts ? pv : NULL, facts ? n->network : NULL,
					       n->advertised, first, n->last_seen_us ? last : NULL,
					       n->reachable ? "1" : "0",
					       n->reachable ? NULL : kaspa_crawl_err_name(n->err),
					       n->error, adv }, 15);
	}
	snprintf(t, sizeof(t), "%llu", (unsigned long long)c->st.ended_us);
	snprintf(nodes, sizeof(nodes), "%llu", (unsigned long long)c->st.known);
	snprintf(reach, sizeof(reach), "%llu", (unsigned long long)c->st.reachable);
	snprintf(resp, sizeof(resp), "%llu", (unsigned long long)c->st.responses);
	snprintf(edges, sizeof(edges), "%llu", (unsigned long long)c->st.edges);
	if (!e)
		e = kaspa_crawl_store_exec(st,
					   "UPDATE kaspa_crawls SET ended_us = $1, nodes = $2,"
					   " reachable = $3, responses = $4, edges = $5"
					   " WHERE crawl_id = $6",
					   (const char *const[]){ t, nodes, reach, resp, edges,
								  c->st.crawl_id }, 6);
	if (!e)
		e = kaspa_crawl_store_commit(st);
	if (e) {
		store_error(c, "the nodes");
		kaspa_crawl_store_rollback(st);
	}
}

void kaspa_crawl_finish(struct kaspa_crawl *c)
{
	if (c->finished)
		return;
	c->finished = true;
	c->stopping = true;
	if (c->deadline) {
		vloop_timer_del(c->deadline);
		c->deadline = NULL;
	}
	while (c->conns) {
		struct cconn *cc = c->conns;

		conn_outcome(cc, true);
		cconn_free(cc);
	}
	for (size_t i = 0; i < c->set.n; i++)
		if (c->nodes[i].state != NODE_DONE)
			node_done(c, i, KASPA_CRAWL_LIMIT, "");
	if (!c->started)
		return;
	c->st.ended_us = now_us();
	if (c->p.store)
		write_nodes(c);
	log_info(COMP, "crawl %s: %llu addresses, %llu reachable, %llu unreachable, %llu not "
		 "dialled, %llu responses, %llu edges", c->st.crawl_id,
		 (unsigned long long)c->st.known, (unsigned long long)c->st.reachable,
		 (unsigned long long)c->st.unreachable, (unsigned long long)c->st.not_dialled,
		 (unsigned long long)c->st.responses, (unsigned long long)c->st.edges);
}

void kaspa_crawl_free(struct kaspa_crawl *c)
{
	if (!c)
		return;
	kaspa_crawl_finish(c);
	for (size_t i = 0; i < c->set.n && c->nodes; i++) {
		free(c->nodes[i].user_agent);
		free(c->nodes[i].network);
		free(c->nodes[i].advertised);
		free(c->nodes[i].error);
	}
	free(c->nodes);
	kaspa_addrset_free(&c->set);
	free(c);
}

void kaspa_crawl_get_stats(const struct kaspa_crawl *c, struct kaspa_crawl_stats *st)
{
	*st = c->st;
}
