// SPDX-License-Identifier: GPL-2.0-only
/*
 * mesh/wg_nl.c without a kernel WireGuard: WG_CMD_SET_DEVICE messages cut at a small size read
 * back whole through the dump parser (peers, a peer whose allowed IPs span messages, endpoints,
 * keepalives; the private key only in the first message), the builder's refusals, and the
 * parser on acks, errors with extended-ack text, handshake and byte counters, and malformed input.
 * The kernel's side of the same is vm_mesh_wgnl (VM tier).
 */
#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>
#include "test.h"
#include "mesh/wg.h"

#define NP 20
#define NBIG 100

struct msgs {
	unsigned n;
	size_t len[64];
	char *buf[64];
};

static int collect(void *ctx, void *msg, size_t len)
{
	struct msgs *m = ctx;

	if (m->n == 64)
		return -ENOSPC;
	m->buf[m->n] = malloc(len);
	memcpy(m->buf[m->n], msg, len);
	m->len[m->n++] = len;
	return 0;
}

static void msgs_free(struct msgs *m)
{
	for (unsigned i = 0; i < m->n; i++)
		free(m->buf[i]);
	m->n = 0;
}

static void test_split_round_trip(void)
{
	static struct wg_peer_cfg peers[NP + 2];
	static char ep[NP][48], ips[NP][5][48], big[NBIG][24];
	static const char *ipp[NP][5], *bigp[NBIG];
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	struct wg_dev_cfg c = { .private_key = priv, .listen_port = 51820, .replace_peers = true,
				.peers = peers, .n_peers = NP + 2 };
	struct wg_dev_status st = { 0 };
	struct msgs m = { 0 };
	bool done = false;
	int err = 0;

	wg_key_generate(priv);
	wg_key_public(priv, pub);
	for (int i = 0; i < NP + 2; i++)
		peers[i].pubkey[0] = (uint8_t)i, peers[i].pubkey[31] = 0xee;
	for (int i = 0; i < NP; i++) {
		snprintf(ep[i], sizeof(ep[i]), i % 2 ? "[fd00::%x]:%d" : "203.0.113.%d:%d", i + 1,
			 1000 + i);
		peers[i].endpoint = i % 5 ? ep[i] : NULL;
		peers[i].keepalive = (uint16_t)i;
		for (int j = 0; j < 5; j++) {
			if (j % 2)
				snprintf(ips[i][j], sizeof(ips[i][j]), "fd01:%x:%x::/64", i + 1, j);
			else
				snprintf(ips[i][j], sizeof(ips[i][j]), "10.%d.%d.0/24", i, j);
			ipp[i][j] = ips[i][j];
		}
		peers[i].allowed_ips = ipp[i];
		peers[i].n_allowed = 5;
	}
	for (int j = 0; j < NBIG; j++) {
		snprintf(big[j], sizeof(big[j]), "192.168.%d.%d/32", j / 200, j % 200);
		bigp[j] = big[j];
	}
	peers[NP].allowed_ips = bigp;
	peers[NP].n_allowed = NBIG;
	peers[NP + 1].remove = true;
	peers[NP + 1].allowed_ips = bigp; /* ignored for a removal */
	peers[NP + 1].n_allowed = NBIG;

	if (!ASSERT_OK(wg_nl_build_set(0x1234, "wgtest0", &c, 512, collect, &m), "build"))
		goto out;
	ASSERT_GE(m.n, 10, "cut into many messages");
	for (unsigned i = 0; i < m.n; i++) {
		struct nlmsghdr nh;

		memcpy(&nh, m.buf[i], sizeof(nh));
		ASSERT_TRUE(m.len[i] <= 512 && nh.nlmsg_len == m.len[i], "message size");
		ASSERT_EQ(nh.nlmsg_type, 0x1234, "family id");
		ASSERT_EQ(nh.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK, "request with ack");
	}
	/* the private key rides in the first message only */
	err = wg_nl_parse_dump(m.buf[1], m.len[1], &st, &done);
	ASSERT_TRUE(!err && !st.has_private_key, "no key in the second message");
	wg_dev_status_free(&st);
	for (unsigned i = 0; i < m.n && !err; i++)
		err = wg_nl_parse_dump(m.buf[i], m.len[i], &st, &done);
	if (!ASSERT_OK(err, "parse every message"))
		goto out;
	ASSERT_FALSE(done, "no NLMSG_DONE in requests");
	ASSERT_TRUE(st.has_private_key && !memcmp(st.public_key, pub, WG_KEY_LEN), "key");
	ASSERT_EQ(st.listen_port, 51820, "listen port");
	if (!ASSERT_EQ(st.n_peers, NP + 2, "peers, split ones merged"))
		goto out;
	for (int i = 0; i < NP; i++) {
		struct wg_peer_status *p = &st.peers[i];
		bool same = !memcmp(p->pubkey, peers[i].pubkey, WG_KEY_LEN) &&
			    !strcmp(p->endpoint, peers[i].endpoint ? ep[i] : "") &&
			    p->keepalive == (unsigned)i && p->n_allowed == 5;

		for (int j = 0; same && j < 5; j++)
			same = !strcmp(p->allowed_ips[j], ips[i][j]);
		if (!ASSERT_TRUE(same, "peer reads back as built")) {
			fprintf(stderr, "peer %d: endpoint '%s' keepalive %u allowed %u '%s'\n", i,
				p->endpoint, p->keepalive, p->n_allowed, p->allowed_ips[0]);
			break;
		}
	}
	ASSERT_EQ(st.peers[NP].n_allowed_total, NBIG, "the big peer's allowed IPs all there");
	ASSERT_EQ(st.peers[NP].n_allowed, WG_MAX_ALLOWED, "kept up to WG_MAX_ALLOWED");
	ASSERT_STREQ(st.peers[NP].allowed_ips[63], big[63], "in order");
	ASSERT_EQ(st.peers[NP + 1].n_allowed_total, 0, "a removal carries no allowed IPs");
out:
	wg_dev_status_free(&st);
	msgs_free(&m);
}

static int refuse(void *ctx, void *msg, size_t len)
{
	(void)ctx, (void)msg, (void)len;
	return -EIO;
}

static void test_build_refusals(void)
{
	static const char *bad_ip[] = { "10.0.0.1/33" }, *host_bits[] = { "10.0.0.1/24" };
	struct wg_peer_cfg p = { .allowed_ips = bad_ip, .n_allowed = 1 };
	struct wg_dev_cfg c = { .listen_port = -1, .peers = &p, .n_peers = 1 };
	struct msgs m = { 0 };

	ASSERT_EQ(wg_nl_build_set(1, "wg0", &c, 4096, collect, &m), -EINVAL, "prefix length 33");
	p.allowed_ips = host_bits;
	ASSERT_EQ(wg_nl_build_set(1, "wg0", &c, 4096, collect, &m), -EINVAL, "host bits set");
	p.n_allowed = 0;
	p.endpoint = "node.example:51820";
	ASSERT_EQ(wg_nl_build_set(1, "wg0", &c, 4096, collect, &m), -EINVAL, "a name, not an IP");
	p.endpoint = NULL;
	ASSERT_EQ(wg_nl_build_set(1, "wg0", &c, 48, collect, &m), -EMSGSIZE, "no room for a peer");
	ASSERT_EQ(wg_nl_build_set(1, "a-very-long-ifname", &c, 4096, collect, &m), -ENAMETOOLONG,
		  "interface name");
	ASSERT_EQ(wg_nl_build_set(1, "wg0", &c, 4096, refuse, NULL), -EIO, "the sender's error");
	msgs_free(&m);
}

/* Appends attribute @type to @b at *@len (4-byte aligned), returning where it starts. */
static size_t put(char *b, size_t *len, uint16_t type, const void *data, size_t dlen)
{
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + dlen), .nla_type = type };
	size_t at = *len;

	memcpy(b + at, &a, sizeof(a));
	memcpy(b + at + NLA_HDRLEN, data, dlen);
	*len = at + NLA_ALIGN(NLA_HDRLEN + dlen);
	return at;
}

static void close_nest(char *b, size_t at, size_t end)
{
	uint16_t l = (uint16_t)(end - at);

	memcpy(b + at, &l, sizeof(l));
}

static void test_parse_dump_reply(void)
{
	char b[512] __attribute__((aligned(4))) = { 0 };
	size_t len = NLMSG_HDRLEN + GENL_HDRLEN, peers, peer, ips, ip;
	struct nlmsghdr nh = { .nlmsg_type = 0x20, .nlmsg_flags = NLM_F_MULTI };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(51820) };
	int64_t hs[2] = { 1700000000, 5 };
	uint64_t rx = 1234, tx = 5678;
	uint16_t port = 4242, fam = AF_INET, ka = 25;
	uint8_t key[WG_KEY_LEN] = { 7 }, addr[4] = { 10, 1, 2, 0 }, plen = 24;
	struct wg_dev_status st = { 0 };
	bool done = false;

	inet_pton(AF_INET, "192.0.2.9", &sin.sin_addr);
	put(b, &len, WGDEVICE_A_LISTEN_PORT, &port, 2);
	peers = put(b, &len, WGDEVICE_A_PEERS | NLA_F_NESTED, NULL, 0);
	peer = put(b, &len, NLA_F_NESTED, NULL, 0);
	put(b, &len, WGPEER_A_PUBLIC_KEY, key, WG_KEY_LEN);
	put(b, &len, WGPEER_A_ENDPOINT, &sin, sizeof(sin));
	put(b, &len, WGPEER_A_LAST_HANDSHAKE_TIME, hs, sizeof(hs));
	put(b, &len, WGPEER_A_RX_BYTES, &rx, 8);
	put(b, &len, WGPEER_A_TX_BYTES, &tx, 8);
	put(b, &len, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, &ka, 2);
	ips = put(b, &len, WGPEER_A_ALLOWEDIPS | NLA_F_NESTED, NULL, 0);
	ip = put(b, &len, NLA_F_NESTED, NULL, 0);
	put(b, &len, WGALLOWEDIP_A_FAMILY, &fam, 2);
	put(b, &len, WGALLOWEDIP_A_IPADDR, addr, 4);
	put(b, &len, WGALLOWEDIP_A_CIDR_MASK, &plen, 1);
	close_nest(b, ip, len);
	close_nest(b, ips, len);
	close_nest(b, peer, len);
	close_nest(b, peers, len);
	nh.nlmsg_len = (uint32_t)len;
	memcpy(b, &nh, sizeof(nh));
	/* NLMSG_DONE after it */
	nh = (struct nlmsghdr){ .nlmsg_len = NLMSG_HDRLEN + 4, .nlmsg_type = NLMSG_DONE };
	memcpy(b + len, &nh, sizeof(nh));
	memset(b + len + NLMSG_HDRLEN, 0, 4);

	if (!ASSERT_OK(wg_nl_parse_dump(b, len + NLMSG_HDRLEN + 4, &st, &done), "parse") ||
	    !ASSERT_EQ(st.n_peers, 1, "one peer"))
		goto out;
	ASSERT_TRUE(done, "NLMSG_DONE seen");
	ASSERT_EQ(st.listen_port, 4242, "listen port");
	{
		const struct wg_peer_status *p = &st.peers[0];

		ASSERT_STREQ(p->endpoint, "192.0.2.9:51820", "endpoint (struct sockaddr_in)");
		ASSERT_TRUE(p->last_handshake_sec == 1700000000 && p->last_handshake_nsec == 5,
			    "handshake time (struct __kernel_timespec)");
		ASSERT_TRUE(p->rx_bytes == 1234 && p->tx_bytes == 5678 && p->keepalive == 25,
			    "counters and keepalive");
		ASSERT_STREQ(p->allowed_ips[0], "10.1.2.0/24", "allowed IP");
	}
	wg_dev_status_free(&st);
	/* cut short inside: the peers nest claims more than the message holds */
	nh = (struct nlmsghdr){ .nlmsg_len = (uint32_t)len - 8, .nlmsg_type = 0x20 };
	memcpy(b, &nh, sizeof(nh));
	ASSERT_EQ(wg_nl_parse_dump(b, len - 8, &st, &done), -EBADMSG, "truncated");
	wg_dev_status_free(&st);
	nh.nlmsg_len = (uint32_t)len;
	memcpy(b, &nh, sizeof(nh));
	/* a prefix length the family cannot have */
	plen = 33;
	memcpy(b + len - 4, &plen, 1); /* the last attribute's payload */
	ASSERT_EQ(wg_nl_parse_dump(b, len, &st, &done), -EBADMSG, "/33 on IPv4");
out:
	wg_dev_status_free(&st);
}

static void test_parse_errors_and_acks(void)
{
	char b[256] __attribute__((aligned(4))) = { 0 };
	struct nlmsgerr e = { .error = -ENODEV };
	struct nlmsghdr nh = { .nlmsg_type = NLMSG_ERROR,
			       .nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS };
	struct wg_dev_status st = { 0 };
	size_t len = NLMSG_HDRLEN;
	bool done = false;

	memcpy(b + len, &e, sizeof(e));
	len += sizeof(e);
	put(b, &len, NLMSGERR_ATTR_MSG, "no such device", 15);
	nh.nlmsg_len = (uint32_t)len;
	memcpy(b, &nh, sizeof(nh));
	ASSERT_EQ(wg_nl_parse_dump(b, len, &st, &done), -ENODEV, "the kernel's error");
	ASSERT_FALSE(done, "an error is not done");
	e.error = 0; /* an ack */
	memcpy(b + NLMSG_HDRLEN, &e, sizeof(e));
	ASSERT_OK(wg_nl_parse_dump(b, len, &st, &done), "ack");
	ASSERT_TRUE(done, "an ack ends the exchange");
	e.error = 5; /* positive: nonsense */
	memcpy(b + NLMSG_HDRLEN, &e, sizeof(e));
	ASSERT_EQ(wg_nl_parse_dump(b, len, &st, &done), -EBADMSG, "positive error code");
	nh.nlmsg_len = 4000; /* longer than the buffer */
	memcpy(b, &nh, sizeof(nh));
	ASSERT_EQ(wg_nl_parse_dump(b, len, &st, &done), -EBADMSG, "length past the end");
	wg_dev_status_free(&st);
}

TESTS(T(test_split_round_trip), T(test_build_refusals), T(test_parse_dump_reply),
      T(test_parse_errors_and_acks))
