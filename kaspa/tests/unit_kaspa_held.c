// SPDX-License-Identifier: GPL-2.0-only
/*
 * Held connections after the memory work in kaspa/h2.c and kaspa/conn.c: a session whose frame
 * buffer pages were given back (kaspa_h2_trim, run by the connection whenever it is established
 * and idle) still serialises large answers correctly, round after round; many sessions living in
 * their own mappings side by side stay independent; kaspa_conn_close_after leaves politely on
 * the connection's own timer.
 */
#include <sys/socket.h>

#include "test.h"
#include "../conn.h"

struct end {
	struct kaspa_conn *c;
	int readies, answers, dones;
	size_t last_n;
	char last_first[KASPA_ADDR_STRLEN];
	char reject[128];
	enum kaspa_fail fail;
};

static void e_ready(struct kaspa_conn *c, void *ctx)
{
	(void)c;
	((struct end *)ctx)->readies++;
}

static int e_message(struct kaspa_conn *c, const Protowire__KaspadMessage *m, void *ctx)
{
	struct end *e = ctx;
	struct kaspa_netaddr a;

	(void)c;
	if (m->payload_case != PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES)
		return 0;
	e->answers++;
	e->last_n = m->addresses->n_addresslist;
	e->last_first[0] = 0;
	if (e->last_n && kaspa_netaddr_from_pb(m->addresses->addresslist[0], &a) == 0)
		kaspa_netaddr_str(&a, e->last_first, sizeof(e->last_first));
	return 0;
}

static void e_done(struct kaspa_conn *c, void *ctx)
{
	struct end *e = ctx;

	e->dones++;
	e->fail = kaspa_conn_hs(c)->fail;
	snprintf(e->reject, sizeof(e->reject), "%s", kaspa_conn_hs(c)->peer_reject);
	kaspa_conn_free(c);
	e->c = NULL;
}

static const struct kaspa_conn_ops e_ops = { e_ready, e_message, e_done };

static void cfg_for(struct kaspa_conn_config *cfg, uint8_t id)
{
	memset(cfg, 0, sizeof(*cfg));
	memset(cfg->hs.id, id, KASPA_ID_LEN);
	cfg->hs.user_agent = "/held-test/";
}

/* Turns the loop until @pred(@arg) holds; false after about 10 s. */
static bool spin(struct vloop *loop, bool (*pred)(void *), void *arg)
{
	for (int i = 0; i < 1000 && !pred(arg); i++)
		vloop_run_once(loop, 10);
	return pred(arg);
}

struct pair {
	struct end srv, cli;
	int want_answers;
};

static bool both_ready(void *p)
{
	struct pair *x = p;

	return x->srv.readies && x->cli.readies;
}

static bool answered(void *p)
{
	struct pair *x = p;

	return x->cli.answers >= x->want_answers || x->cli.dones || x->srv.dones;
}

static bool both_done(void *p)
{
	struct pair *x = p;

	return x->srv.dones && x->cli.dones;
}

static bool pair_open(struct vloop *loop, struct pair *x, const struct kaspa_conn_config *scfg,
		      const struct kaspa_conn_config *ccfg)
{
	int sv[2];

	memset(x, 0, sizeof(*x));
	if (!ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
		       "socketpair"))
		return false;
	x->srv.c = kaspa_conn_new(loop, sv[0], KASPA_H2_SERVER, scfg, &e_ops, &x->srv);
	x->cli.c = kaspa_conn_new(loop, sv[1], KASPA_H2_CLIENT, ccfg, &e_ops, &x->cli);
	return ASSERT_NOT_NULL(x->srv.c, "server") && ASSERT_NOT_NULL(x->cli.c, "client");
}

/* 1,000 addresses make an answer of several 16 KiB DATA frames: the whole frame buffer is used,
 * then dropped while idle, then used again. */
static void test_large_answers_across_trims(void)
{
	static struct kaspa_netaddr addrs[KASPA_SEND_ADDRESSES];
	struct kaspa_conn_config scfg, ccfg;
	struct vloop *loop = vloop_new();
	struct pair x;
	char s[32];

	for (int i = 0; i < KASPA_SEND_ADDRESSES; i++) {
		snprintf(s, sizeof(s), "10.%d.%d.1:16111", i / 250, i % 250);
		kaspa_netaddr_parse(s, &addrs[i]);
	}
	cfg_for(&scfg, 0x51);
	scfg.hs.addresses = addrs;
	scfg.hs.n_addresses = KASPA_SEND_ADDRESSES;
	cfg_for(&ccfg, 0xc2);
	if (!ASSERT_NOT_NULL(loop, "loop") || !pair_open(loop, &x, &scfg, &ccfg))
		return;
	ASSERT_TRUE(spin(loop, both_ready, &x), "handshake");
	for (int round = 1; round <= 4; round++) {
		/* idle turns first: both sides trim their frame buffers */
		for (int i = 0; i < 3; i++)
			vloop_run_once(loop, 5);
		x.want_answers = round;
		if (!ASSERT_OK(kaspa_conn_request_addresses(x.cli.c), "RequestAddresses"))
			break;
		ASSERT_TRUE(spin(loop, answered, &x), "answer arrived");
		ASSERT_EQ(x.cli.answers, round, "one answer per request");
		ASSERT_EQ(x.cli.last_n, KASPA_SEND_ADDRESSES, "every address");
		ASSERT_STREQ(x.cli.last_first, "10.0.0.1:16111", "first address intact");
	}
	ASSERT_EQ(x.srv.dones + x.cli.dones, 0, "both still connected");
	kaspa_conn_close(x.cli.c);
	ASSERT_TRUE(spin(loop, both_done, &x), "parted");
	ASSERT_STREQ(kaspa_fail_name(x.srv.fail), "none", "server side clean");
	ASSERT_STREQ(x.srv.reject, "DUPLICATE_CONNECTION", "the client left politely");
	vloop_free(loop);
}

/* Many sessions at once, each in its own mapping with its kaspa_conn inside: all handshake, are
 * held, answer, and part cleanly. */
static void test_many_held_sessions(void)
{
	enum { N = 200 };
	static struct pair xs[N];
	struct kaspa_conn_config scfg, ccfg;
	struct vloop *loop = vloop_new();
	int ready = 0, ok = 0, clean = 0;

	cfg_for(&scfg, 0x52);
	cfg_for(&ccfg, 0xc3);
	if (!ASSERT_NOT_NULL(loop, "loop"))
		return;
	for (int i = 0; i < N; i++)
		if (!pair_open(loop, &xs[i], &scfg, &ccfg))
			return;
	for (int t = 0; t < 1000 && ready < N; t++) {
		vloop_run_once(loop, 10);
		ready = 0;
		for (int i = 0; i < N; i++)
			ready += both_ready(&xs[i]);
	}
	ASSERT_EQ(ready, N, "every pair reached Ready");
	for (int i = 0; i < N; i++) {
		xs[i].want_answers = 1;
		kaspa_conn_request_addresses(xs[i].cli.c);
	}
	for (int t = 0; t < 1000; t++) {
		vloop_run_once(loop, 10);
		ok = 0;
		for (int i = 0; i < N; i++)
			ok += xs[i].cli.answers == 1 && xs[i].cli.last_n == 0;
		if (ok == N)
			break;
	}
	ASSERT_EQ(ok, N, "every held session answered (an empty list)");
	for (int i = 0; i < N; i++)
		kaspa_conn_close(xs[i].srv.c);
	for (int t = 0; t < 1000 && clean < N; t++) {
		vloop_run_once(loop, 10);
		clean = 0;
		for (int i = 0; i < N; i++)
			clean += both_done(&xs[i]) && !strcmp(xs[i].cli.reject, "DUPLICATE_CONNECTION");
	}
	ASSERT_EQ(clean, N, "every pair parted politely");
	vloop_free(loop);
}

static void close_later(struct kaspa_conn *c, void *ctx)
{
	((struct end *)ctx)->readies++;
	ASSERT_OK(kaspa_conn_close_after(c, 150), "close_after armed");
}

/* The server leaves 150 ms after Ready on its own timer; the client never leaves by itself. */
static void test_close_after(void)
{
	static const struct kaspa_conn_ops later_ops = { close_later, e_message, e_done };
	struct kaspa_conn_config scfg, ccfg;
	struct vloop *loop = vloop_new();
	struct pair x;
	uint64_t t0, t1;
	int sv[2];

	cfg_for(&scfg, 0x53);
	cfg_for(&ccfg, 0xc4);
	memset(&x, 0, sizeof(x));
	if (!ASSERT_NOT_NULL(loop, "loop") ||
	    !ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), "socketpair"))
		return;
	x.srv.c = kaspa_conn_new(loop, sv[0], KASPA_H2_SERVER, &scfg, &later_ops, &x.srv);
	x.cli.c = kaspa_conn_new(loop, sv[1], KASPA_H2_CLIENT, &ccfg, &e_ops, &x.cli);
	if (!ASSERT_NOT_NULL(x.srv.c, "server") || !ASSERT_NOT_NULL(x.cli.c, "client"))
		return;
	ASSERT_TRUE(spin(loop, both_ready, &x), "handshake");
	t0 = vloop_now_ns();
	ASSERT_TRUE(spin(loop, both_done, &x), "the server left, the client saw it");
	t1 = vloop_now_ns();
	ASSERT_STREQ(x.cli.reject, "DUPLICATE_CONNECTION", "a polite goodbye");
	ASSERT_STREQ(kaspa_fail_name(x.cli.fail), "none", "no failure on the client");
	/* not a timing assertion: the goodbye cannot come before the delay asked for */
	ASSERT_TRUE(t1 - t0 >= 100 * 1000000ull, "not before the delay");
	vloop_free(loop);
}

TESTS(T(test_large_answers_across_trims), T(test_many_held_sessions), T(test_close_after))
