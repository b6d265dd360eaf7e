// SPDX-License-Identifier: GPL-2.0-only
/*
 * The crawler's bookkeeping and the report's arithmetic, as pure functions: the address set
 * (ip:port keys, IPv4-mapped IPv6 normalised, dense indices that survive growth), the per-peer
 * edge accumulator (an address counts once per response), sensor and time parsing, percent,
 * hours and unique counting; then kaspa_report_build over a SQLite crawl store filled with
 * known rows, so the report's SQL is checked against numbers worked out by hand. Last, on
 * loopback, the crawler with 300 connections in flight at once against silent listeners.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"
#include "../crawl.h"
#include "../crawl_store.h"
#include "../report.h"

static struct kaspa_netaddr addr(const char *s)
{
	struct kaspa_netaddr a;

	if (kaspa_netaddr_parse(s, &a))
		memset(&a, 0xee, sizeof(a));
	return a;
}

/* A NetAddress as it arrives on the wire: @ip of @len bytes. */
static struct kaspa_netaddr from_wire(const uint8_t *ip, size_t len, uint32_t port)
{
	Protowire__NetAddress pb;
	struct kaspa_netaddr a;

	protowire__net_address__init(&pb);
	pb.ip.data = (uint8_t *)ip;
	pb.ip.len = len;
	pb.port = port;
	pb.timestamp = 12345;
	if (kaspa_netaddr_from_pb(&pb, &a))
		memset(&a, 0xee, sizeof(a));
	return a;
}

static void test_addrset_keys_and_mapped(void)
{
	static const uint8_t v4[4] = { 203, 0, 113, 7 };
	static const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7 };
	struct kaspa_addrset s;
	struct kaspa_netaddr a = from_wire(v4, 4, 16111), m = from_wire(mapped, 16, 16111);
	struct kaspa_netaddr t = addr("[::ffff:203.0.113.7]:16111");
	size_t i0, i1;
	char buf[KASPA_ADDR_STRLEN];

	kaspa_addrset_init(&s);
	ASSERT_EQ(kaspa_addrset_add(&s, &a, &i0), 1, "first add is new");
	ASSERT_EQ(kaspa_addrset_add(&s, &m, &i1), 0, "IPv4-mapped IPv6 is the same node");
	ASSERT_EQ(i1, i0, "same index");
	ASSERT_EQ(kaspa_addrset_add(&s, &t, &i1), 0, "parsed mapped text too");
	ASSERT_EQ(kaspa_addrset_find(&s, &m), 0, "found");
	ASSERT_STREQ(kaspa_netaddr_str(&s.addrs[0], buf, sizeof(buf)), "203.0.113.7:16111",
		     "stored as IPv4");
	ASSERT_EQ(s.addrs[0].timestamp, 0, "timestamp not part of the key, not kept");
	t = addr("203.0.113.7:16112");
	ASSERT_EQ(kaspa_addrset_add(&s, &t, &i1), 1, "another port is another node");
	ASSERT_EQ(i1, 1, "dense index");
	t = addr("[2001:db8::cb00:7107]:16111");
	ASSERT_EQ(kaspa_addrset_add(&s, &t, &i1), 1, "IPv6 with the same low bytes differs");
	t = addr("[2001:db8::1]:16111");
	ASSERT_EQ(kaspa_addrset_find(&s, &t), -1, "unknown");
	ASSERT_STREQ(kaspa_netaddr_ip_str(&s.addrs[2], buf, sizeof(buf)), "2001:db8::cb00:7107",
		     "ip text without port");
	kaspa_addrset_free(&s);
	ASSERT_EQ(s.n, 0, "freed");
}

/* Thousands of addresses: every one found at the index it got, through rehashes. */
static void test_addrset_growth_keeps_indices(void)
{
	struct kaspa_addrset s;
	char txt[64];
	size_t idx;
	bool ok = true;

	kaspa_addrset_init(&s);
	for (unsigned i = 0; i < 5000; i++) {
		struct kaspa_netaddr a;

		snprintf(txt, sizeof(txt), "10.%u.%u.%u:%u", i >> 16, (i >> 8) & 255, i & 255,
			 16111 + (i % 3));
		a = addr(txt);
		ok &= kaspa_addrset_add(&s, &a, &idx) == 1 && idx == i;
	}
	ASSERT_TRUE(ok, "5000 distinct addresses, indices 0..4999");
	for (unsigned i = 0; i < 5000; i += 7) {
		struct kaspa_netaddr a;

		snprintf(txt, sizeof(txt), "10.%u.%u.%u:%u", i >> 16, (i >> 8) & 255, i & 255,
			 16111 + (i % 3));
		a = addr(txt);
		ok &= kaspa_addrset_find(&s, &a) == (long)i && kaspa_addrset_add(&s, &a, &idx) == 0;
	}
	ASSERT_TRUE(ok, "found again at their index after growth");
	ASSERT_EQ(s.n, 5000, "no duplicates");
	kaspa_addrset_free(&s);
}

static void test_edge_acc_counts_responses(void)
{
	static const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4 };
	struct kaspa_edge_acc e;
	struct kaspa_netaddr a = addr("1.2.3.4:16111"), b = addr("5.6.7.8:16111");
	struct kaspa_netaddr am = from_wire(mapped, 16, 16111);

	kaspa_edge_acc_init(&e);
	kaspa_edge_acc_response(&e);
	ASSERT_EQ(kaspa_edge_acc_add(&e, &a), 1, "new edge");
	ASSERT_EQ(kaspa_edge_acc_add(&e, &am), 0, "the same address, mapped, in the same response");
	ASSERT_EQ(kaspa_edge_acc_add(&e, &b), 1, "second edge");
	kaspa_edge_acc_response(&e);
	ASSERT_EQ(kaspa_edge_acc_add(&e, &a), 0, "known edge in round 2");
	ASSERT_EQ(e.set.n, 2, "two edges");
	ASSERT_EQ(e.n_responses, 2, "two responses");
	ASSERT_EQ(e.responses[kaspa_addrset_find(&e.set, &a)], 2, "a in both responses, once each");
	ASSERT_EQ(e.responses[kaspa_addrset_find(&e.set, &b)], 1, "b in the first only");
	/* many edges: the count arrays grow with the set */
	for (unsigned i = 0; i < 3000; i++) {
		struct kaspa_netaddr x = { .ip = { 9, (uint8_t)(i >> 8), (uint8_t)i, 1 }, .ip_len = 4,
					   .port = 1 };

		if (kaspa_edge_acc_add(&e, &x) != 1)
			break;
	}
	ASSERT_EQ(e.set.n, 3002, "grown");
	ASSERT_EQ(e.responses[3001], 1, "last one counted in its response");
	ASSERT_EQ(e.responses[kaspa_addrset_find(&e.set, &a)], 2, "earlier counts kept");
	kaspa_edge_acc_free(&e);
}

static void test_parse_sensor(void)
{
	struct kaspa_report_sensor s;

	ASSERT_OK(kaspa_report_parse_sensor("203.0.113.5", &s), "bare v4");
	ASSERT_STREQ(s.ip, "203.0.113.5", "ip");
	ASSERT_EQ(s.port, 0, "any port");
	ASSERT_OK(kaspa_report_parse_sensor("203.0.113.5:16111", &s), "v4:port");
	ASSERT_EQ(s.port, 16111, "port");
	ASSERT_OK(kaspa_report_parse_sensor("2001:DB8::1", &s), "bare v6");
	ASSERT_STREQ(s.ip, "2001:db8::1", "canonical v6");
	ASSERT_EQ(s.port, 0, "no port in a bare v6 address");
	ASSERT_OK(kaspa_report_parse_sensor("[2001:db8::1]:16211", &s), "[v6]:port");
	ASSERT_EQ(s.port, 16211, "v6 port");
	ASSERT_OK(kaspa_report_parse_sensor("1::2:3", &s), "v6 ending like a port");
	ASSERT_STREQ(s.ip, "1::2:3", "all of it is the address");
	ASSERT_OK(kaspa_report_parse_sensor("::ffff:198.51.100.2", &s), "mapped");
	ASSERT_STREQ(s.ip, "198.51.100.2", "mapped becomes v4");
	ASSERT_OK(kaspa_report_parse_sensor("[::ffff:198.51.100.2]:1", &s), "mapped with port");
	ASSERT_STREQ(s.ip, "198.51.100.2", "mapped with port becomes v4");
	ASSERT_ERR(kaspa_report_parse_sensor("", &s), "empty");
	ASSERT_ERR(kaspa_report_parse_sensor("203.0.113", &s), "three octets");
	ASSERT_ERR(kaspa_report_parse_sensor("203.0.113.5:", &s), "empty port");
	ASSERT_ERR(kaspa_report_parse_sensor("203.0.113.5:0", &s), "port 0");
	ASSERT_ERR(kaspa_report_parse_sensor("203.0.113.5:70000", &s), "port too big");
	ASSERT_ERR(kaspa_report_parse_sensor("sensor.example.org", &s), "a name");
	ASSERT_ERR(kaspa_report_parse_sensor("[2001:db8::1]", &s), "brackets without port");
	ASSERT_ERR(kaspa_report_parse_sensor("256.1.1.1", &s), "octet too big");
}

static void test_parse_time(void)
{
	uint64_t us;

	ASSERT_OK(kaspa_report_parse_time("1795000000", &us), "unix seconds");
	ASSERT_EQ(us, 1795000000000000ull, "seconds to us");
	ASSERT_OK(kaspa_report_parse_time("2026-11-21T07:00:00Z", &us), "RFC 3339");
	ASSERT_EQ(us, 1795244400000000ull, "UTC");
	ASSERT_OK(kaspa_report_parse_time("2026-11-21 07:00:00.25", &us), "space and fraction");
	ASSERT_EQ(us, 1795244400250000ull, "fraction in us");
	ASSERT_OK(kaspa_report_parse_time("2026-11-21", &us), "a date");
	ASSERT_EQ(us, 1795219200000000ull, "midnight UTC");
	ASSERT_ERR(kaspa_report_parse_time("yesterday", &us), "words");
	ASSERT_ERR(kaspa_report_parse_time("2026-11-21T07:00", &us), "no seconds");
	ASSERT_ERR(kaspa_report_parse_time("2026-11-21T07:00:00+02:00", &us), "offsets refused");
	ASSERT_ERR(kaspa_report_parse_time("2026-11-21T07:00:00.Z", &us), "empty fraction");
}

static void test_arithmetic(void)
{
	char a[] = "id-b", b[] = "id-a", c[] = "id-b", d[] = "10.0.0.1:16111";
	char *ids[] = { a, b, c, d };

	ASSERT_TRUE(kaspa_report_percent(15, 50) == 30.0, "15 of 50 is 30%");
	ASSERT_TRUE(kaspa_report_percent(1, 3) > 33.333 && kaspa_report_percent(1, 3) < 33.334,
		    "1 of 3");
	ASSERT_TRUE(kaspa_report_percent(0, 0) == 0.0, "no responses: 0%, not NaN");
	ASSERT_TRUE(kaspa_report_hours(1000000, 1000000 + 5400000000ull) == 1.5, "90 min");
	ASSERT_TRUE(kaspa_report_hours(2000, 1000) == 0.0, "until before since");
	ASSERT_EQ(kaspa_report_count_unique(ids, 4), 3, "three distinct advertisers");
	ASSERT_EQ(kaspa_report_count_unique(ids, 0), 0, "none");
}

/* Rows of one crawl: @edges lists (advertiser, advertiser id, address, responses). */
static void put(struct kaspa_crawl_store *st, const char *crawl, const char *start, int n_resp,
		const char *const (*edges)[4], int n_edges)
{
	char peer[32], round[4];

	kaspa_crawl_store_exec(st, "INSERT INTO kaspa_crawls (crawl_id, started_us, ended_us,"
			       " reachable) VALUES ($1, $2, $2 + 1000000, $3)",
			       (const char *const[]){ crawl, start, "7" }, 3);
	for (int i = 0; i < n_resp; i++) {
		snprintf(peer, sizeof(peer), "10.0.0.%d:16111", i / 2);
		snprintf(round, sizeof(round), "%d", 1 + i % 2);
		kaspa_crawl_store_exec(st, "INSERT INTO kaspa_crawl_responses (crawl_id, peer, round,"
				       " time_us, addresses) VALUES ($1, $2, $3, $4, 10)",
				       (const char *const[]){ crawl, peer, round, start }, 4);
	}
	for (int i = 0; i < n_edges; i++) {
		const char *ip = edges[i][2], *colon = strrchr(ip, ':');
		char host[64];

		snprintf(host, sizeof(host), "%.*s", (int)(colon - ip), ip);
		kaspa_crawl_store_exec(st, "INSERT INTO kaspa_crawl_edges (crawl_id, advertiser,"
				       " advertiser_id, address, address_ip, address_port, seen_us,"
				       " responses) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
				       (const char *const[]){ crawl, edges[i][0], edges[i][1], ip, host,
							      colon + 1, start, edges[i][3] }, 8);
	}
}

static void test_report_over_sqlite(void)
{
	static const char *const c1[][4] = {
		{ "10.0.0.0:16111", "aa", "198.51.100.2:16111", "2" },
		{ "10.0.0.1:16111", "bb", "198.51.100.2:16111", "1" },
		{ "10.0.0.1:16111", "bb", "198.51.100.2:16112", "2" }, /* another port */
		{ "10.0.0.2:16111", "cc", "198.51.100.3:16111", "2" }, /* another IP */
	};
	static const char *const c2[][4] = {
		{ "10.0.0.5:16111", "aa", "198.51.100.2:16111", "1" }, /* same id, new address */
		{ "10.0.0.6:16111", "dd", "198.51.100.2:16111", "2" },
	};
	char path[] = "/tmp/vigil-unit-crawl-XXXXXX", err[512];
	struct kaspa_crawl_store *st;
	struct kaspa_report_sensor s;
	struct kaspa_report r;
	int fd = mkstemp(path);

	close(fd);
	kaspa_report_parse_sensor("198.51.100.2:16111", &s);
	/* an empty file: no tables at all */
	st = kaspa_crawl_store_open(path, NULL, true, err, sizeof(err));
	if (!ASSERT_NOT_NULL(st, err))
		goto out;
	ASSERT_EQ(kaspa_report_build(st, &s, 0, &r, err, sizeof(err)), -ENOENT, "no tables");
	ASSERT_STRCONTAINS(err, "holds no crawl", "an empty file holds no crawl");
	kaspa_crawl_store_close(st);
	st = kaspa_crawl_store_open(path, NULL, false, err, sizeof(err));
	if (!ASSERT_NOT_NULL(st, err))
		goto out;
	ASSERT_EQ(kaspa_report_build(st, &s, 0, &r, err, sizeof(err)), -ENOENT, "no crawl yet");
	ASSERT_STRCONTAINS(err, "holds no crawl", "says so");
	put(st, "c1", "1000000000", 8, c1, 4);   /* 8 responses */
	put(st, "c2", "8200000000", 6, c2, 2);   /* 2 h later, 6 responses */
	if (!ASSERT_OK(kaspa_report_build(st, &s, 0, &r, err, sizeof(err)), err))
		goto close;
	ASSERT_EQ(r.n_crawls, 2, "two crawls");
	ASSERT_EQ(r.responses, 14, "8 + 6 responses");
	ASSERT_EQ(r.hits, 6, "2 + 1 in c1, 1 + 2 in c2");
	ASSERT_EQ(r.unique_peers, 3, "aa, bb, dd");
	ASSERT_TRUE(r.percent > 42.857 && r.percent < 42.858, "6 of 14");
	ASSERT_TRUE(r.hours == 2.0 + 1.0 / 3600, "first start to last end: 2 h 1 s");
	ASSERT_EQ(r.crawls[0].hits, 3, "c1 hits");
	ASSERT_EQ(r.crawls[0].advertisers, 2, "c1 advertisers");
	ASSERT_EQ(r.crawls[1].responses, 6, "c2 responses");
	ASSERT_EQ(r.crawls[1].reachable, 7, "reachable carried");
	kaspa_report_free(&r);
	/* any port: bb's two addresses count as the most responses either was in */
	kaspa_report_parse_sensor("198.51.100.2", &s);
	kaspa_report_build(st, &s, 0, &r, err, sizeof(err));
	ASSERT_EQ(r.crawls[0].hits, 4, "any port: aa 2 + bb max(1, 2)");
	kaspa_report_free(&r);
	/* since: only the second crawl */
	kaspa_report_parse_sensor("198.51.100.2:16111", &s);
	ASSERT_OK(kaspa_report_build(st, &s, 5000000000ull, &r, err, sizeof(err)), "since");
	ASSERT_EQ(r.n_crawls, 1, "one crawl since");
	ASSERT_EQ(r.unique_peers, 2, "aa, dd");
	ASSERT_TRUE(r.hours == (8201000000.0 - 5000000000.0) / 3.6e9, "from --since to the end of c2");
	kaspa_report_free(&r);
	ASSERT_EQ(kaspa_report_build(st, &s, 9000000000ull, &r, err, sizeof(err)), -ENOENT,
		  "no crawl since");
	ASSERT_STRCONTAINS(err, "earlier --since", "says what to do");
close:
	kaspa_crawl_store_close(st);
out:
	unlink(path);
	snprintf(err, sizeof(err), "%s-wal", path);
	unlink(err);
	snprintf(err, sizeof(err), "%s-shm", path);
	unlink(err);
}

#define N_SILENT 300

/*
 * 300 listeners on 127.0.2.1... (one port) that never accept: every TCP connect completes in the
 * kernel's backlog and every handshake waits for a Version that never comes. With concurrency
 * 300 all of them are in flight at once (the open-files limit raised by the crawler's own
 * helper), and each ends as a timeout.
 */
static void test_concurrency_300(void)
{
	struct kaspa_crawl_params p = { 0 };
	struct kaspa_netaddr seeds[N_SILENT];
	struct kaspa_crawl_stats st;
	struct kaspa_crawl *c = NULL;
	struct vloop *loop = NULL;
	struct rlimit rl;
	int fds[N_SILENT];
	uint16_t port = 0;
	int n = 0;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < 3 * N_SILENT + N_SILENT + 64) {
		TEST_SKIP("the hard open-files limit is too low for 300 connections and listeners");
		return;
	}
	/* the listeners' fds count too: fit for both */
	if (!ASSERT_EQ(kaspa_crawl_fit_nofile(N_SILENT + N_SILENT / 3 + 1), N_SILENT + N_SILENT / 3 + 1,
		       "open-files limit raised"))
		return;
	for (n = 0; n < N_SILENT; n++) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
		socklen_t len = sizeof(sin);
		int one = 1;

		sin.sin_addr.s_addr = htonl(0x7f000201u + (uint32_t)n); /* 127.0.2.1 + n */
		fds[n] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fds[n], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fds[n] < 0 || bind(fds[n], (struct sockaddr *)&sin, sizeof(sin)) ||
		    listen(fds[n], 4)) {
			if (fds[n] >= 0)
				close(fds[n]);
			break;
		}
		if (!port) {
			getsockname(fds[n], (struct sockaddr *)&sin, &len);
			port = ntohs(sin.sin_port);
		}
		seeds[n] = (struct kaspa_netaddr){ .ip_len = 4, .port = port };
		memcpy(seeds[n].ip, &sin.sin_addr, 4);
	}
	if (!ASSERT_EQ(n, N_SILENT, "listeners on 127.0.2.1.. bound"))
		goto out;
	loop = vloop_new();
	p.seeds = seeds;
	p.n_seeds = N_SILENT;
	p.concurrency = N_SILENT;
	p.allow_private = true;
	p.conn.hs.version_timeout_ms = 500;
	p.conn.hs.user_agent = "/unit-crawler/";
	c = kaspa_crawl_new(loop, &p);
	if (!ASSERT_NOT_NULL(loop, "loop") || !ASSERT_NOT_NULL(c, "crawl") ||
	    !ASSERT_OK(kaspa_crawl_start(c), "start"))
		goto out;
	kaspa_crawl_get_stats(c, &st);
	ASSERT_EQ(st.in_flight, N_SILENT, "all 300 dialled at once");
	for (int t = 0; t < 300 && !vloop_stopped(loop); t++)
		vloop_run_once(loop, 20);
	kaspa_crawl_get_stats(c, &st);
	ASSERT_TRUE(vloop_stopped(loop), "the crawl ended");
	ASSERT_EQ(st.max_in_flight, N_SILENT, "300 in flight at the peak");
	ASSERT_EQ(st.dialled, N_SILENT, "each dialled once");
	ASSERT_EQ(st.by_err[KASPA_CRAWL_TIMEOUT], N_SILENT, "each handshake timed out");
	ASSERT_EQ(st.reachable, 0, "none reachable");
	ASSERT_EQ(st.in_flight, 0, "none left");
out:
	kaspa_crawl_free(c);
	vloop_free(loop);
	while (n-- > 0)
		close(fds[n]);
}

TESTS(T(test_addrset_keys_and_mapped), T(test_addrset_growth_keeps_indices),
      T(test_edge_acc_counts_responses), T(test_parse_sensor), T(test_parse_time),
      T(test_arithmetic), T(test_report_over_sqlite), T(test_concurrency_300))
