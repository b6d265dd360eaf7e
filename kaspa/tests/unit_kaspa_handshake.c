// SPDX-License-Identifier: GPL-2.0-only
/*
 * The handshake state machine against itself and against scripted peers: the happy path with
 * either side's messages arriving first, every failure class with the step it happened in, the
 * timers at their edges, and the after-Ready answers. Every message crosses as packed protobuf
 * bytes, so packing and unpacking are on the path too.
 */
#include "test.h"
#include "vigil/util.h"
#include "../handshake.h"

/* A side's outbox: packed messages in order. */
struct box {
	int n;
	size_t len[64];
	uint8_t data[64][512];
};

static int to_box(struct kaspa_hs *hs, const Protowire__KaspadMessage *m, void *ctx)
{
	struct box *b = ctx;
	size_t n = protowire__kaspad_message__get_packed_size(m);

	(void)hs;
	if (b->n >= 64 || n > sizeof(b->data[0]))
		return -ENOBUFS;
	protowire__kaspad_message__pack(m, b->data[b->n]);
	b->len[b->n++] = n;
	return 0;
}

static int box_case(const struct box *b, int i)
{
	Protowire__KaspadMessage *m = kaspa_msg_unpack(b->data[i], b->len[i]);
	int c = m ? (int)m->payload_case : -1;

	kaspa_msg_free(m);
	return c;
}

/* Delivers message @i of @from to @to; returns the machine's answer. */
static int deliver(struct kaspa_hs *to, const struct box *from, int i, uint64_t now)
{
	Protowire__KaspadMessage *m = kaspa_msg_unpack(from->data[i], from->len[i]);
	int r;

	if (!m)
		return -EBADMSG;
	r = kaspa_hs_on_message(to, m, now);
	kaspa_msg_free(m);
	return r;
}

static void config(struct kaspa_hs_config *c, uint8_t id_byte)
{
	memset(c, 0, sizeof(*c));
	memset(c->id, id_byte, sizeof(c->id));
	c->timestamp_ms = 1700000000000 + id_byte;
}

/* Runs two machines until neither has anything new to deliver. @a_first: A's messages first. */
static void pump(struct kaspa_hs *a, struct box *ab, int *ai, struct kaspa_hs *b, struct box *bb,
		 int *bi, uint64_t now, bool a_first)
{
	for (int round = 0; round < 20; round++) {
		bool moved = false;

		for (int turn = 0; turn < 2; turn++) {
			bool deliver_a = (turn == 0) == a_first;

			if (deliver_a) {
				while (*ai < ab->n) {
					deliver(b, ab, (*ai)++, now);
					moved = true;
				}
			} else {
				while (*bi < bb->n) {
					deliver(a, bb, (*bi)++, now);
					moved = true;
				}
			}
		}
		if (!moved)
			return;
	}
}

static bool only_handshake_before_ready(const struct box *b, const char *what)
{
	for (int i = 0; i < b->n && i < 3; i++) {
		int c = box_case(b, i);

		if (!ASSERT_TRUE(c == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION ||
					 c == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK ||
					 c == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY,
				 what))
			return false;
	}
	return true;
}

static void happy(bool a_first)
{
	struct kaspa_hs_config ca, cb;
	static struct kaspa_hs a, b;
	static struct box ab, bb;
	int ai = 0, bi = 0;
	char hex[33];

	memset(&ab, 0, sizeof(ab));
	memset(&bb, 0, sizeof(bb));
	config(&ca, 0xaa);
	config(&cb, 0xbb);
	ca.user_agent = "/vigil-sensor:test/";
	cb.user_agent = "/kaspad:2.0.1/";
	kaspa_hs_init(&a, &ca, to_box, &ab);
	kaspa_hs_init(&b, &cb, to_box, &bb);
	ASSERT_OK(kaspa_hs_start(&a, 1000), "start a");
	ASSERT_OK(kaspa_hs_start(&b, 1000), "start b");
	ASSERT_EQ(ab.n, 1, "A sent Version at once");
	ASSERT_EQ(box_case(&ab, 0), PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION, "Version first");
	ASSERT_EQ(kaspa_hs_next_deadline(&a), 1000 + 4000, "4 s deadlines");
	pump(&a, &ab, &ai, &b, &bb, &bi, 1500, a_first);
	ASSERT_TRUE(kaspa_hs_ready(&a), "A ready");
	ASSERT_TRUE(kaspa_hs_ready(&b), "B ready");
	ASSERT_EQ(ab.n, 3, "A sent Version, Verack, Ready");
	ASSERT_EQ(bb.n, 3, "B sent Version, Verack, Ready");
	only_handshake_before_ready(&ab, "A sent only handshake messages");
	only_handshake_before_ready(&bb, "B sent only handshake messages");
	ASSERT_EQ(box_case(&ab, 2), PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY, "Ready last");
	ASSERT_EQ(kaspa_hs_next_deadline(&a), 0, "no deadline once established");
	ASSERT_STREQ(a.peer.user_agent, "/kaspad:2.0.1/", "A saw B's agent");
	ASSERT_STREQ(b.peer.user_agent, "/vigil-sensor:test/", "B saw A's agent");
	memset(hex, 'b', 32);
	hex[32] = 0;
	ASSERT_STREQ(a.peer.id_hex, hex, "A saw B's id");
	ASSERT_STREQ(a.peer.network, "kaspa-mainnet", "default network");
	ASSERT_EQ(a.peer.protocol_version, 10, "default version 10");
	ASSERT_EQ(a.peer.timestamp_ms, 1700000000000 + 0xbb, "timestamp");
	ASSERT_EQ(a.negotiated_version, 10, "negotiated");
	ASSERT_EQ(kaspa_hs_tick(&a, 1000000), 0, "no timeout after Ready");
}

static void test_happy_a_first(void)
{
	happy(true);
}

static void test_happy_b_first(void)
{
	happy(false);
}

/* A scripted peer: messages we build by hand and feed one at a time. */
static Protowire__KaspadMessage *version_msg(uint32_t pver, const char *net, uint8_t id_byte,
					     size_t id_len, const char *ua)
{
	static Protowire__KaspadMessage m;
	static Protowire__VersionMessage v;
	static uint8_t id[32];

	protowire__kaspad_message__init(&m);
	protowire__version_message__init(&v);
	memset(id, id_byte, sizeof(id));
	v.protocolversion = pver;
	v.network = (char *)net;
	v.id.data = id;
	v.id.len = id_len;
	v.useragent = (char *)ua;
	m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION;
	m.version = &v;
	return &m;
}

static Protowire__KaspadMessage *simple_msg(Protowire__KaspadMessage__PayloadCase c)
{
	static Protowire__KaspadMessage m;
	static Protowire__VerackMessage verack = PROTOWIRE__VERACK_MESSAGE__INIT;
	static Protowire__ReadyMessage ready = PROTOWIRE__READY_MESSAGE__INIT;
	static Protowire__PingMessage ping = PROTOWIRE__PING_MESSAGE__INIT;
	static Protowire__RequestAddressesMessage ra = PROTOWIRE__REQUEST_ADDRESSES_MESSAGE__INIT;

	protowire__kaspad_message__init(&m);
	m.payload_case = c;
	m.verack = &verack; /* a union: one pointer serves every member */
	if (c == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY)
		m.ready = &ready;
	if (c == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING)
		m.ping = &ping;
	if (c == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES)
		m.requestaddresses = &ra;
	return &m;
}

#define VERACK PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK
#define READY PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY

static struct kaspa_hs hs;
static struct box out;

static void start(uint32_t min_version)
{
	struct kaspa_hs_config c;

	memset(&out, 0, sizeof(out));
	config(&c, 0x11);
	c.min_protocol_version = min_version;
	kaspa_hs_init(&hs, &c, to_box, &out);
	kaspa_hs_start(&hs, 0);
}

static bool expect_fail(enum kaspa_fail cls, enum kaspa_step step, const char *what)
{
	return ASSERT_STREQ(kaspa_fail_name(hs.fail), kaspa_fail_name(cls), what) &&
	       ASSERT_STREQ(kaspa_step_name(hs.step), kaspa_step_name(step), what);
}

static void test_timeout_version(void)
{
	start(0);
	ASSERT_OK(kaspa_hs_tick(&hs, 3999), "3.999 s is fine");
	ASSERT_EQ(kaspa_hs_tick(&hs, 4000), -ETIMEDOUT, "4 s");
	expect_fail(KASPA_FAIL_TIMEOUT, KASPA_STEP_VERSION, "no Version");
	ASSERT_STRCONTAINS(hs.reason, "Version", "reason");
	ASSERT_EQ(out.n, 1, "only our Version was sent");
}

static void test_timeout_verack(void)
{
	start(0);
	ASSERT_OK(kaspa_hs_on_message(&hs, version_msg(10, "kaspa-mainnet", 2, 16, "x"), 100), "v");
	ASSERT_EQ(out.n, 2, "answered Verack");
	ASSERT_EQ(box_case(&out, 1), VERACK, "Verack");
	ASSERT_OK(kaspa_hs_tick(&hs, 3999), "still waiting");
	ASSERT_EQ(kaspa_hs_tick(&hs, 4000), -ETIMEDOUT, "4 s after our Version");
	expect_fail(KASPA_FAIL_TIMEOUT, KASPA_STEP_VERACK, "no Verack");
	ASSERT_EQ(out.n, 2, "no Ready sent without the Verack");
}

static void test_timeout_ready(void)
{
	start(0);
	kaspa_hs_on_message(&hs, version_msg(10, "kaspa-mainnet", 2, 16, "x"), 100);
	ASSERT_OK(kaspa_hs_on_message(&hs, simple_msg(VERACK), 200), "verack");
	ASSERT_EQ(box_case(&out, 2), READY, "Ready sent once both arrived");
	ASSERT_OK(kaspa_hs_tick(&hs, 8199), "8 s from our Ready");
	ASSERT_EQ(kaspa_hs_tick(&hs, 8200), -ETIMEDOUT, "8 s");
	expect_fail(KASPA_FAIL_TIMEOUT, KASPA_STEP_READY, "no Ready");
}

static void test_low_version_rejected_naming_both(void)
{
	Protowire__KaspadMessage *rej;

	start(0);
	ASSERT_ERR(kaspa_hs_on_message(&hs, version_msg(9, "kaspa-mainnet", 2, 16, "x"), 1), "v9");
	expect_fail(KASPA_FAIL_VERSION, KASPA_STEP_VERSION, "version 9");
	ASSERT_STRCONTAINS(hs.reason, "9", "names the peer's");
	ASSERT_STRCONTAINS(hs.reason, "10", "names ours");
	if (!ASSERT_EQ(out.n, 2, "a Reject went out"))
		return;
	rej = kaspa_msg_unpack(out.data[1], out.len[1]);
	if (ASSERT_NOT_NULL(rej, "reject") && ASSERT_NOT_NULL(rej->reject, "reject body")) {
		ASSERT_STRCONTAINS(rej->reject->reason, "version 9", "peer's version");
		ASSERT_STRCONTAINS(rej->reject->reason, "10", "our version");
	}
	kaspa_msg_free(rej);
	/* a configured minimum of 6 accepts it, and the negotiated version is the peer's */
	start(6);
	ASSERT_OK(kaspa_hs_on_message(&hs, version_msg(9, "kaspa-mainnet", 2, 16, "x"), 1), "v9");
	ASSERT_EQ(hs.negotiated_version, 9, "mirrors the lower version");
	/* a higher version is accepted; we keep ours */
	start(0);
	ASSERT_OK(kaspa_hs_on_message(&hs, version_msg(11, "kaspa-mainnet", 2, 16, "x"), 1), "v11");
	ASSERT_EQ(hs.negotiated_version, 10, "ours");
}

static void test_network_mismatch(void)
{
	start(0);
	ASSERT_ERR(kaspa_hs_on_message(&hs, version_msg(10, "kaspa-testnet-10", 2, 16, "x"), 1),
		   "testnet");
	expect_fail(KASPA_FAIL_NETWORK, KASPA_STEP_VERSION, "network");
	ASSERT_STRCONTAINS(hs.reason, "kaspa-testnet-10", "names theirs");
	ASSERT_STRCONTAINS(hs.reason, "kaspa-mainnet", "names ours");
	ASSERT_STREQ(hs.peer.network, "kaspa-testnet-10", "peer info kept for the log");
	ASSERT_EQ(out.n, 1, "no Verack to a wrong network");
}

static void test_malformed_fields(void)
{
	char ua[300];

	start(0);
	ASSERT_ERR(kaspa_hs_on_message(&hs, version_msg(10, "kaspa-mainnet", 2, 15, "x"), 1), "id");
	expect_fail(KASPA_FAIL_MALFORMED, KASPA_STEP_VERSION, "15-byte id");
	ASSERT_STRCONTAINS(hs.reason, "15 bytes", "reason");

	memset(ua, 'u', sizeof(ua));
	ua[257] = 0;
	start(0);
	ASSERT_ERR(kaspa_hs_on_message(&hs, version_msg(10, "kaspa-mainnet", 2, 16, ua), 1), "ua");
	expect_fail(KASPA_FAIL_MALFORMED, KASPA_STEP_VERSION, "257-byte agent");

	start(0);
	ASSERT_ERR(kaspa_hs_on_message(&hs, simple_msg(PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING), 1),
		   "ping first");
	expect_fail(KASPA_FAIL_MALFORMED, KASPA_STEP_VERSION, "Ping before Ready");

	start(0);
	ASSERT_ERR(kaspa_hs_on_message(&hs, simple_msg(READY), 1), "ready first");
	expect_fail(KASPA_FAIL_MALFORMED, KASPA_STEP_VERSION, "Ready before Version");

	start(0);
	ASSERT_ERR(kaspa_hs_on_message(&hs,
				       simple_msg(PROTOWIRE__KASPAD_MESSAGE__PAYLOAD__NOT_SET), 1),
		   "empty");
	expect_fail(KASPA_FAIL_MALFORMED, KASPA_STEP_VERSION, "no payload");

	start(0);
	kaspa_hs_on_message(&hs, version_msg(10, "kaspa-mainnet", 2, 16, "x"), 1);
	ASSERT_ERR(kaspa_hs_on_message(&hs, version_msg(10, "kaspa-mainnet", 2, 16, "x"), 1),
		   "second version");
	expect_fail(KASPA_FAIL_MALFORMED, KASPA_STEP_VERACK, "second Version");
}

static void test_self_connection(void)
{
	start(0);
	ASSERT_ERR(kaspa_hs_on_message(&hs, version_msg(10, "kaspa-mainnet", 0x11, 16, "x"), 1),
		   "own id");
	expect_fail(KASPA_FAIL_SELF, KASPA_STEP_VERSION, "own id");
}

static void test_reset_and_reject(void)
{
	start(0);
	kaspa_hs_on_message(&hs, version_msg(10, "kaspa-mainnet", 2, 16, "x"), 1);
	kaspa_hs_abort(&hs, KASPA_FAIL_RESET, "peer closed the connection");
	expect_fail(KASPA_FAIL_RESET, KASPA_STEP_VERACK, "reset while waiting for Verack");
	ASSERT_STREQ(hs.reason, "peer closed the connection", "reason");
	kaspa_hs_abort(&hs, KASPA_FAIL_MALFORMED, "later");
	ASSERT_STREQ(kaspa_fail_name(hs.fail), "reset", "first failure wins");

	Protowire__KaspadMessage m = PROTOWIRE__KASPAD_MESSAGE__INIT;
	Protowire__RejectMessage r = PROTOWIRE__REJECT_MESSAGE__INIT;

	r.reason = "version 10 is below our minimum 11";
	m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REJECT;
	m.reject = &r;
	start(0);
	ASSERT_ERR(kaspa_hs_on_message(&hs, &m, 1), "reject");
	expect_fail(KASPA_FAIL_REJECTED, KASPA_STEP_VERSION, "peer rejected us");
	ASSERT_STRCONTAINS(hs.reason, "below our minimum 11", "reason carried");
}

static void establish(const struct kaspa_netaddr *addrs, size_t n)
{
	struct kaspa_hs_config c;

	memset(&out, 0, sizeof(out));
	config(&c, 0x11);
	c.addresses = addrs;
	c.n_addresses = n;
	kaspa_hs_init(&hs, &c, to_box, &out);
	kaspa_hs_start(&hs, 0);
	kaspa_hs_on_message(&hs, simple_msg(VERACK), 1); /* Verack may come first */
	kaspa_hs_on_message(&hs, version_msg(10, "kaspa-mainnet", 2, 16, "x"), 2);
	kaspa_hs_on_message(&hs, simple_msg(READY), 3);
}

static void test_after_ready_answers(void)
{
	struct kaspa_netaddr addrs[2];
	Protowire__KaspadMessage *m, ping = PROTOWIRE__KASPAD_MESSAGE__INIT;
	Protowire__PingMessage p = PROTOWIRE__PING_MESSAGE__INIT;
	struct kaspa_netaddr got;
	char s[KASPA_ADDR_STRLEN];

	/* RequestAddresses is answered with an empty list by default */
	establish(NULL, 0);
	if (!ASSERT_TRUE(kaspa_hs_ready(&hs), "ready"))
		return;
	ASSERT_EQ(kaspa_hs_request_addresses(&hs), 0, "we may ask now");
	ASSERT_OK(kaspa_hs_on_message(&hs,
				      simple_msg(PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES),
				      4),
		  "request");
	m = kaspa_msg_unpack(out.data[out.n - 1], out.len[out.n - 1]);
	if (ASSERT_NOT_NULL(m, "answer") && ASSERT_NOT_NULL(m->addresses, "Addresses"))
		ASSERT_EQ(m->addresses->n_addresslist, 0, "empty list");
	kaspa_msg_free(m);

	/* ... or with the configured list */
	kaspa_netaddr_parse("127.0.0.7:16111", &addrs[0]);
	kaspa_netaddr_parse("[2001:db8::5]:16211", &addrs[1]);
	establish(addrs, 2);
	kaspa_hs_on_message(&hs, simple_msg(PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES),
			    4);
	m = kaspa_msg_unpack(out.data[out.n - 1], out.len[out.n - 1]);
	if (ASSERT_NOT_NULL(m, "answer") && ASSERT_NOT_NULL(m->addresses, "Addresses") &&
	    ASSERT_EQ(m->addresses->n_addresslist, 2, "two")) {
		kaspa_netaddr_from_pb(m->addresses->addresslist[1], &got);
		ASSERT_STREQ(kaspa_netaddr_str(&got, s, sizeof(s)), "[2001:db8::5]:16211", "2nd");
	}
	kaspa_msg_free(m);

	/* Ping -> Pong with the same nonce */
	p.nonce = 0xfeedfacecafebeefull;
	ping.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING;
	ping.ping = &p;
	ASSERT_OK(kaspa_hs_on_message(&hs, &ping, 5), "ping");
	m = kaspa_msg_unpack(out.data[out.n - 1], out.len[out.n - 1]);
	if (ASSERT_NOT_NULL(m, "pong") && ASSERT_NOT_NULL(m->pong, "Pong"))
		ASSERT_TRUE(m->pong->nonce == 0xfeedfacecafebeefull, "same nonce");
	kaspa_msg_free(m);
	ASSERT_EQ(hs.pings_answered, 1, "counted");

	/* inventory goes to the caller; a Version again is a violation */
	ASSERT_EQ(kaspa_hs_on_message(&hs,
				      simple_msg(PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_INV_RELAY_BLOCK),
				      6),
		  1, "inv is the caller's");
	ASSERT_EQ(kaspa_hs_on_message(&hs, simple_msg(PROTOWIRE__KASPAD_MESSAGE__PAYLOAD__NOT_SET),
				      6),
		  1, "unknown payload after Ready is skipped");
	ASSERT_ERR(kaspa_hs_on_message(&hs, simple_msg(READY), 7), "Ready again");
	expect_fail(KASPA_FAIL_MALFORMED, KASPA_STEP_ESTABLISHED, "Ready after Ready");
}

static void test_nothing_but_handshake_before_peer_ready(void)
{
	start(0);
	ASSERT_EQ(kaspa_hs_request_addresses(&hs), -EAGAIN, "no RequestAddresses before Ready");
	ASSERT_EQ(kaspa_hs_send_reject(&hs, "x"), -EAGAIN, "no Reject before Ready");
	kaspa_hs_on_message(&hs, version_msg(10, "kaspa-mainnet", 2, 16, "x"), 1);
	kaspa_hs_on_message(&hs, simple_msg(VERACK), 2);
	ASSERT_EQ(kaspa_hs_request_addresses(&hs), -EAGAIN, "still waiting for the peer's Ready");
	ASSERT_EQ(out.n, 3, "Version, Verack, Ready only");
	only_handshake_before_ready(&out, "handshake messages only");
}

static void test_too_many_addresses(void)
{
	Protowire__KaspadMessage m = PROTOWIRE__KASPAD_MESSAGE__INIT;
	Protowire__AddressesMessage a = PROTOWIRE__ADDRESSES_MESSAGE__INIT;
	static Protowire__NetAddress *list[2501];

	establish(NULL, 0);
	a.n_addresslist = 2500;
	a.addresslist = list;
	m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES;
	m.addresses = &a;
	ASSERT_EQ(kaspa_hs_on_message(&hs, &m, 5), 1, "2500 addresses are the caller's");
	a.n_addresslist = 2501;
	ASSERT_ERR(kaspa_hs_on_message(&hs, &m, 5), "2501");
	expect_fail(KASPA_FAIL_MALFORMED, KASPA_STEP_ESTABLISHED, "too many addresses");
}

TESTS(T(test_happy_a_first), T(test_happy_b_first), T(test_timeout_version),
      T(test_timeout_verack), T(test_timeout_ready), T(test_low_version_rejected_naming_both),
      T(test_network_mismatch), T(test_malformed_fields), T(test_self_connection),
      T(test_reset_and_reject), T(test_after_ready_answers),
      T(test_nothing_but_handshake_before_peer_ready), T(test_too_many_addresses))
