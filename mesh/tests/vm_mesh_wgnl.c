// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel WireGuard backend (mesh/wg_nl.c) against the real kernel module (VM tier: the host
 * kernel has no WireGuard). In a private network namespace: the link is created and recognised;
 * a configuration of 300 peers plus one peer with 2000 allowed IPs (cut into several
 * WG_CMD_SET_DEVICE messages, and dumped back by the kernel in several messages with that peer
 * split) reads back identical, and `wg show` agrees; peers are removed, updated and replaced as
 * the flags say; two devices handshake over loopback and their last handshake and byte counters
 * read back; errors come back as the kernel's -errno.
 */
#include <arpa/inet.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "test.h"
#include "mesh/wg.h"

#define IP "/usr/local/sbin/ip"
#define WG "/usr/local/bin/wg"
#define NPEERS 300
#define NBIG 2000

/* Loads the module and enters a fresh network namespace (every test runs in its own process)
 * holding the wireguard link kwg0. 0, 1 after a failed assertion, -1 without the module. */
static int setup(void)
{
	if (system("modprobe wireguard 2>/dev/null") != 0)
		return -1;
	return ASSERT_OK(unshare(CLONE_NEWNET), "unshare") &&
	       ASSERT_OK(system(IP " link set lo up"), "lo up") &&
	       ASSERT_OK(wg_nl_link_create("kwg0"), "create kwg0") ? 0 : 1;
}

#define NEED_KERNEL_WG()                                                                           \
	do {                                                                                       \
		int r_ = setup();                                                                  \
		if (r_ < 0)                                                                        \
			TEST_SKIP("the wireguard module cannot be loaded in this kernel");        \
		if (r_)                                                                            \
			return;                                                                    \
	} while (0)

static void test_link_create_and_probe(void)
{
	NEED_KERNEL_WG();
	ASSERT_EQ(wg_nl_link_create("kwg0"), -EEXIST, "a second create: EEXIST");
	ASSERT_OK(wg_nl_probe("kwg0"), "kwg0 is a kernel WireGuard device");
	ASSERT_EQ(wg_nl_probe("lo"), -EOPNOTSUPP, "lo is not");
	ASSERT_EQ(wg_nl_probe("nope0"), -ENODEV, "no such device");
	ASSERT_OK(system(IP " -d link show kwg0 | grep -q wireguard"), "ip -d link says wireguard");
}

static int count_msg(void *ctx, void *msg, size_t len)
{
	(void)msg;
	(void)len;
	++*(unsigned *)ctx;
	return 0;
}

/* Peer i's key: deterministic, distinct, a valid X25519 public key of a derived private key. */
static void peer_key(int i, uint8_t pub[WG_KEY_LEN])
{
	uint8_t priv[WG_KEY_LEN] = { 0 };

	priv[0] = (uint8_t)(8 * (i & 31));
	priv[1] = (uint8_t)(i >> 5);
	priv[2] = 0x5a;
	priv[31] = 0x40;
	wg_key_public(priv, pub);
}

static void test_set_get_many_peers(void)
{
	static struct wg_peer_cfg peers[NPEERS + 1];
	static char ep[NPEERS][48], ips[NPEERS][2][48], big[NBIG][24];
	static const char *ipp[NPEERS][2], *bigp[NBIG];
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	struct wg_dev_cfg c = { .private_key = priv, .listen_port = 51999, .replace_peers = true,
				.peers = peers, .n_peers = NPEERS + 1 };
	struct wg_dev_status st;
	unsigned msgs = 0;
	char line[64];
	FILE *f;

	NEED_KERNEL_WG();
	wg_key_generate(priv);
	wg_key_public(priv, pub);
	for (int i = 0; i < NPEERS; i++) {
		peer_key(i, peers[i].pubkey);
		if (i % 3 == 2)
			snprintf(ep[i], sizeof(ep[i]), "[2001:db8::%x]:%d", i, 40000 + i);
		else
			snprintf(ep[i], sizeof(ep[i]), "192.0.2.%d:%d", i % 250 + 1, 40000 + i);
		peers[i].endpoint = i % 7 ? ep[i] : NULL;
		peers[i].keepalive = i % 2 ? 25 : 0;
		snprintf(ips[i][0], sizeof(ips[i][0]), "10.%d.%d.1/32", i / 250, i % 250);
		snprintf(ips[i][1], sizeof(ips[i][1]), "fd00::%x:0/112", i + 1);
		ipp[i][0] = ips[i][0];
		ipp[i][1] = ips[i][1];
		peers[i].allowed_ips = ipp[i];
		peers[i].n_allowed = 2;
	}
	peer_key(NPEERS, peers[NPEERS].pubkey);
	for (int j = 0; j < NBIG; j++) {
		snprintf(big[j], sizeof(big[j]), "172.16.%d.%d/32", j / 250, j % 250);
		bigp[j] = big[j];
	}
	peers[NPEERS].allowed_ips = bigp;
	peers[NPEERS].n_allowed = NBIG;

	ASSERT_OK(wg_nl_build_set(1, "kwg0", &c, WG_NL_MSG_MAX, count_msg, &msgs), "build");
	ASSERT_GE(msgs, 8, "the configuration takes several messages");
	if (!ASSERT_OK(wg_nl_set("kwg0", &c), "set 301 peers"))
		return;
	if (!ASSERT_OK(wg_nl_get("kwg0", &st), "get"))
		return;
	ASSERT_TRUE(st.has_private_key && !memcmp(st.public_key, pub, WG_KEY_LEN), "public key");
	ASSERT_EQ(st.listen_port, 51999, "listen port");
	if (ASSERT_EQ(st.n_peers, NPEERS + 1, "every peer, the split one merged")) {
		int bad = 0;

		for (int i = 0; i < NPEERS; i++) {
			const struct wg_peer_status *p = &st.peers[i];

			/* the kernel lists peers in the order they were added */
			bad += memcmp(p->pubkey, peers[i].pubkey, WG_KEY_LEN) != 0;
			bad += strcmp(p->endpoint, peers[i].endpoint ? ep[i] : "") != 0;
			bad += p->keepalive != peers[i].keepalive;
			bad += p->n_allowed_total != 2 || p->n_allowed != 2;
			bad += p->n_allowed == 2 && (strcmp(p->allowed_ips[0], ips[i][0]) ||
						     strcmp(p->allowed_ips[1], ips[i][1]));
			if (bad && !ASSERT_EQ(bad, 0, "peer reads back as set"))
				fprintf(stderr, "peer %d: endpoint %s keepalive %u ips %s %s\n", i,
					p->endpoint, p->keepalive, p->allowed_ips[0],
					p->allowed_ips[1]);
			if (bad)
				break;
		}
		ASSERT_EQ(st.peers[NPEERS].n_allowed_total, NBIG, "2000 allowed IPs on one peer");
		ASSERT_STREQ(st.peers[NPEERS].allowed_ips[0], "172.16.0.0/32", "the first of them");
	}
	wg_dev_status_free(&st);
	/* an independent reader */
	f = popen(WG " show kwg0 peers | wc -l; " WG " show kwg0 allowed-ips | wc -w", "r");
	if (ASSERT_NOT_NULL(f, "wg show")) {
		ASSERT_TRUE(fgets(line, sizeof(line), f) && atoi(line) == NPEERS + 1,
			    "wg show lists 301 peers");
		/* every peer's key plus its allowed IPs */
		ASSERT_TRUE(fgets(line, sizeof(line), f) &&
				    atoi(line) == NPEERS + 1 + 2 * NPEERS + NBIG,
			    "wg show lists every allowed IP");
		pclose(f);
	}
}

static void test_remove_update_replace(void)
{
	static const char *one[] = { "10.99.0.0/24" }, *two[] = { "10.98.0.1/32", "10.98.0.2/32" };
	static const char *own[4][1] = { { "10.1.0.1/32" }, { "10.1.0.2/32" }, { "10.1.0.3/32" },
					 { "10.1.0.4/32" } };
	struct wg_peer_cfg p[4] = { 0 };
	struct wg_dev_cfg c = { .listen_port = 51999, .peers = p, .n_peers = 4 };
	struct wg_dev_status st;
	size_t before = 4;

	NEED_KERNEL_WG();
	for (int i = 0; i < 4; i++) {
		peer_key(i, p[i].pubkey);
		p[i].allowed_ips = own[i];
		p[i].n_allowed = 1;
	}
	if (!ASSERT_OK(wg_nl_set("kwg0", &c), "four peers"))
		return;
	memset(p, 0, sizeof(p));
	c.listen_port = -1;
	peer_key(0, p[0].pubkey);
	p[0].remove = true;
	peer_key(1, p[1].pubkey);
	p[1].allowed_ips = one; /* replaces its two */
	p[1].n_allowed = 1;
	peer_key(5000, p[2].pubkey); /* new */
	p[2].allowed_ips = two;
	p[2].n_allowed = 2;
	p[2].endpoint = "198.51.100.7:51820";
	c.n_peers = 3;
	if (!ASSERT_OK(wg_nl_set("kwg0", &c), "remove, update, add") ||
	    !ASSERT_OK(wg_nl_get("kwg0", &st), "get after"))
		return;
	ASSERT_EQ(st.n_peers, before, "one removed, one added, the rest stay");
	for (size_t i = 0; i < st.n_peers; i++) {
		const struct wg_peer_status *s = &st.peers[i];

		ASSERT_TRUE(memcmp(s->pubkey, p[0].pubkey, WG_KEY_LEN) != 0, "peer 0 gone");
		if (!memcmp(s->pubkey, p[1].pubkey, WG_KEY_LEN)) {
			ASSERT_EQ(s->n_allowed, 1, "peer 1's allowed IPs replaced");
			ASSERT_STREQ(s->allowed_ips[0], "10.99.0.0/24", "peer 1's new prefix");
		}
		if (!memcmp(s->pubkey, p[2].pubkey, WG_KEY_LEN)) {
			ASSERT_EQ(s->n_allowed, 2, "new peer's allowed IPs");
			ASSERT_STREQ(s->endpoint, "198.51.100.7:51820", "new peer's endpoint");
		}
	}
	wg_dev_status_free(&st);
	/* replace_peers: only what is listed remains */
	c.replace_peers = true;
	c.peers = &p[1];
	c.n_peers = 2;
	if (!ASSERT_OK(wg_nl_set("kwg0", &c), "replace peers") ||
	    !ASSERT_OK(wg_nl_get("kwg0", &st), "get after replace"))
		return;
	ASSERT_EQ(st.n_peers, 2, "two peers after replace_peers");
	ASSERT_EQ(st.listen_port, 51999, "listen port kept (-1: unchanged)");
	wg_dev_status_free(&st);
}

static void test_errors(void)
{
	static const char *bad_ip[] = { "10.0.0.1/33" };
	struct wg_peer_cfg p = { .allowed_ips = bad_ip, .n_allowed = 1 };
	struct wg_dev_cfg c = { .listen_port = 1, .peers = &p, .n_peers = 1 };
	struct wg_dev_status st;

	NEED_KERNEL_WG();
	peer_key(1, p.pubkey);
	ASSERT_EQ(wg_nl_set("kwg0", &c), -EINVAL, "bad allowed IP refused before sending");
	c.n_peers = 0;
	ASSERT_EQ(wg_nl_set("nope0", &c), -ENODEV, "set on a missing device");
	ASSERT_EQ(wg_nl_get("lo", &st), -EOPNOTSUPP, "get on lo");
	ASSERT_EQ(wg_nl_get("nope0", &st), -ENODEV, "get on a missing device");
}

/* Two devices in this namespace handshake over 127.0.0.1: a datagram routed into kwga makes it
 * initiate towards kwgb; both then report the handshake and traffic. */
static void test_handshake_counters(void)
{
	static const char *to_b[] = { "10.77.2.0/24" }, *to_a[] = { "10.77.1.0/24" };
	uint8_t ka[WG_KEY_LEN], kb[WG_KEY_LEN];
	struct wg_peer_cfg pa = { .endpoint = "127.0.0.1:52002", .allowed_ips = to_b,
				  .n_allowed = 1 };
	struct wg_peer_cfg pb = { .endpoint = "127.0.0.1:52001", .allowed_ips = to_a,
				  .n_allowed = 1 };
	struct wg_dev_cfg ca = { .private_key = ka, .listen_port = 52001, .peers = &pa,
				 .n_peers = 1 };
	struct wg_dev_cfg cb = { .private_key = kb, .listen_port = 52002, .peers = &pb,
				 .n_peers = 1 };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct wg_dev_status sa = { 0 }, sb = { 0 };
	int fd, i;

	NEED_KERNEL_WG();
	wg_key_generate(ka);
	wg_key_generate(kb);
	wg_key_public(kb, pa.pubkey);
	wg_key_public(ka, pb.pubkey);
	if (!ASSERT_OK(wg_nl_link_create("kwga"), "create kwga") ||
	    !ASSERT_OK(wg_nl_link_create("kwgb"), "create kwgb") ||
	    !ASSERT_OK(wg_nl_set("kwga", &ca), "configure kwga") ||
	    !ASSERT_OK(wg_nl_set("kwgb", &cb), "configure kwgb") ||
	    !ASSERT_OK(system(IP " addr add 10.77.1.1/24 dev kwga && " IP " link set kwga up && "
			      IP " link set kwgb up && " IP " route add 10.77.2.0/24 dev kwga"),
		       "addresses and route"))
		return;
	inet_pton(AF_INET, "10.77.2.9", &dst.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	for (i = 0; i < 50; i++) {
		sendto(fd, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst));
		usleep(100000);
		if (wg_nl_get("kwga", &sa) == 0 && sa.n_peers == 1 &&
		    sa.peers[0].last_handshake_sec)
			break;
		wg_dev_status_free(&sa);
	}
	close(fd);
	if (!ASSERT_EQ(sa.n_peers, 1, "kwga has its peer") ||
	    !ASSERT_OK(wg_nl_get("kwgb", &sb), "get kwgb") || !ASSERT_EQ(sb.n_peers, 1, "kwgb"))
		goto out;
	time_t now = time(NULL);

	ASSERT_TRUE(sa.peers[0].last_handshake_sec > now - 60 &&
		    sa.peers[0].last_handshake_sec <= now + 1, "kwga: a recent handshake");
	ASSERT_TRUE(sb.peers[0].last_handshake_sec > now - 60, "kwgb: a recent handshake");
	ASSERT_TRUE(sa.peers[0].tx_bytes > 0 && sa.peers[0].rx_bytes > 0, "kwga: bytes both ways");
	ASSERT_TRUE(sb.peers[0].rx_bytes >= sa.peers[0].tx_bytes - 64, "kwgb got what kwga sent");
	ASSERT_STREQ(sb.peers[0].endpoint, "127.0.0.1:52001", "kwgb learned kwga's endpoint");
out:
	wg_dev_status_free(&sa);
	wg_dev_status_free(&sb);
}

TESTS(T(test_link_create_and_probe), T(test_set_get_many_peers), T(test_remove_update_replace),
      T(test_errors), T(test_handshake_counters))
