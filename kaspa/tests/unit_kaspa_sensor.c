// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sensor's pure helpers (private ranges, default ports) and, in process on loopback, the
 * prober's concurrency bound: peers advertise a port where a listener accepts and never speaks,
 * so every --probe handshake hangs until its timeout; at most probe_concurrency run at once, the
 * rest wait in the queue, and each ends Unknown with error class "timeout".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "test.h"
#include "vigil/util.h"
#include "../sensor.h"

static bool priv4(const char *s)
{
	uint8_t ip[4];

	inet_pton(AF_INET, s, ip);
	return kaspa_ip_is_private(ip, 4);
}

static bool priv6(const char *s)
{
	uint8_t ip[16];

	inet_pton(AF_INET6, s, ip);
	return kaspa_ip_is_private(ip, 16);
}

static void test_private_ranges(void)
{
	static const char *const yes4[] = { "127.0.0.1", "10.0.0.1", "10.255.255.255", "172.16.0.1",
					    "172.31.255.255", "192.168.1.1", "169.254.1.1",
					    "100.64.0.1", "100.127.255.255", "0.0.0.0" };
	static const char *const no4[] = { "8.8.8.8", "172.15.255.255", "172.32.0.0",
					   "192.169.0.1", "100.63.255.255", "100.128.0.0",
					   "11.0.0.1", "169.253.0.1" };
	static const char *const yes6[] = { "::1", "::", "fc00::1", "fdff::1", "fe80::1",
					    "febf::1", "::ffff:10.1.2.3", "::ffff:127.0.0.1" };
	static const char *const no6[] = { "2001:db8::1", "2a01::1", "fec0::1", "::ffff:8.8.8.8",
					   "::2" };

	for (size_t i = 0; i < ARRAY_SIZE(yes4); i++)
		ASSERT_TRUE(priv4(yes4[i]), yes4[i]);
	for (size_t i = 0; i < ARRAY_SIZE(no4); i++)
		ASSERT_FALSE(priv4(no4[i]), no4[i]);
	for (size_t i = 0; i < ARRAY_SIZE(yes6); i++)
		ASSERT_TRUE(priv6(yes6[i]), yes6[i]);
	for (size_t i = 0; i < ARRAY_SIZE(no6); i++)
		ASSERT_FALSE(priv6(no6[i]), no6[i]);
}

static void test_default_ports(void)
{
	ASSERT_EQ(kaspa_default_port("kaspa-mainnet"), 16111, "mainnet");
	ASSERT_EQ(kaspa_default_port(NULL), 16111, "default network");
	ASSERT_EQ(kaspa_default_port("kaspa-testnet-10"), 16211, "testnet");
	ASSERT_EQ(kaspa_default_port("kaspa-simnet"), 16511, "simnet");
	ASSERT_EQ(kaspa_default_port("kaspa-devnet"), 16611, "devnet");
	ASSERT_STREQ(kaspa_class_name(KASPA_CLASS_PUBLIC), "public", "name");
	ASSERT_STREQ(kaspa_class_name(KASPA_CLASS_PRIVATE), "private", "name");
	ASSERT_STREQ(kaspa_class_name(KASPA_CLASS_UNKNOWN), "unknown", "name");
}

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len))
		return -1;
	*port = ntohs(sin.sin_port);
	return fd;
}

struct client {
	struct kaspa_conn *c;
	bool done, ready;
};

static void cl_ready(struct kaspa_conn *c, void *ctx)
{
	(void)c;
	((struct client *)ctx)->ready = true;
}

static int cl_message(struct kaspa_conn *c, const Protowire__KaspadMessage *m, void *ctx)
{
	(void)c;
	(void)m;
	(void)ctx;
	return 0;
}

static void cl_done(struct kaspa_conn *c, void *ctx)
{
	struct client *cl = ctx;

	cl->done = true;
	cl->c = NULL;
	kaspa_conn_free(c);
}

static const struct kaspa_conn_ops cl_ops = { cl_ready, cl_message, cl_done };

#define N_PEERS 6
#define CONCURRENCY 2

static void test_probe_concurrency_bound(void)
{
	struct kaspa_sensor_params p = { 0 };
	struct kaspa_sensor_stats st;
	struct kaspa_conn_config ccfg = { 0 };
	struct kaspa_netaddr adv;
	struct client cl[N_PEERS] = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct kaspa_sensor *s = NULL;
	struct vloop *loop = vloop_new();
	uint16_t silent_port = 0, sport = 0;
	int silent = listen_loopback(&silent_port), tmp = listen_loopback(&sport);
	unsigned max_active = 0, max_queued = 0;
	char listen[32], advs[32];

	if (!ASSERT_NOT_NULL(loop, "loop") || !ASSERT_GE(silent, 0, "silent listener") ||
	    !ASSERT_GE(tmp, 0, "a free port"))
		goto out;
	close(tmp); /* the port to give the sensor */
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", sport);
	p.listen = listen;
	p.sensor_id = "unit";
	p.probe = KASPA_PROBE_HANDSHAKE;
	p.probe_timeout_ms = 100;
	p.probe_concurrency = CONCURRENCY;
	p.allow_private = true;
	p.close_after_ms = 100;
	s = kaspa_sensor_new(loop, &p);
	if (!ASSERT_NOT_NULL(s, "sensor"))
		goto out;
	ASSERT_EQ(kaspa_sensor_port(s), sport, "bound port");

	snprintf(advs, sizeof(advs), "127.0.0.1:%u", silent_port);
	kaspa_netaddr_parse(advs, &adv);
	ccfg.hs.address = &adv;
	ccfg.hs.user_agent = "/unit-peer/";
	sin.sin_port = htons(sport);
	for (int i = 0; i < N_PEERS; i++) {
		cl[i].c = kaspa_conn_new(loop, kaspa_dial((struct sockaddr *)&sin, sizeof(sin)),
					 KASPA_H2_CLIENT, &ccfg, &cl_ops, &cl[i]);
		if (!ASSERT_NOT_NULL(cl[i].c, "client"))
			goto out;
	}
	for (int t = 0; t < 400; t++) {
		vloop_run_once(loop, 20);
		kaspa_sensor_get_stats(s, &st);
		if (st.probes_active > max_active)
			max_active = st.probes_active;
		if (st.probes_queued > max_queued)
			max_queued = st.probes_queued;
		if (st.classified[0] + st.classified[1] + st.classified[2] == N_PEERS)
			break;
	}
	kaspa_sensor_get_stats(s, &st);
	ASSERT_EQ(st.handshakes_ok, N_PEERS, "every peer handshaken");
	ASSERT_EQ(st.classified[KASPA_CLASS_UNKNOWN], N_PEERS, "each probe timed out: unknown");
	ASSERT_EQ(st.probes, N_PEERS, "one probe per handshake (interval 0)");
	ASSERT_LE(max_active, CONCURRENCY, "never more probes than the bound");
	ASSERT_EQ(max_active, CONCURRENCY, "the bound was reached");
	ASSERT_GE(max_queued, 1, "the others waited in the queue");
	for (int i = 0; i < N_PEERS; i++)
		ASSERT_TRUE(cl[i].ready, "the client saw Ready");
out:
	for (int i = 0; i < N_PEERS; i++)
		if (cl[i].c)
			kaspa_conn_free(cl[i].c);
	kaspa_sensor_free(s);
	if (silent >= 0)
		close(silent);
	vloop_free(loop);
}

TESTS(T(test_private_ranges), T(test_default_ports), T(test_probe_concurrency_bound))
