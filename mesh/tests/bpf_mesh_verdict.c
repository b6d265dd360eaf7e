// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mesh TC programs through BPF_PROG_TEST_RUN on crafted IPv4/IPv6 TCP, UDP and ICMP packets,
 * with identities and policy written through the real user half (mesh/datapath.c): precedence
 * (exact before wildcard, deny before allow), default verdicts, audit mode, exact per-identity
 * counters, connection tracking of replies and its re-evaluation after a policy change, port
 * ranges, malformed/truncated/fragmented packets, sampled drop events, and pinned maps surviving
 * a close and reopen.
 *
 * BPF_PROG_TEST_RUN always frames a TC program's input as Ethernet, so the programs are loaded
 * with l3_offset 14 and every packet gets a 14-byte Ethernet header in front of the IP header.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include "test.h"
#include "vigil/buf.h"
#include "vigil/metrics.h"
#include "mesh/datapath.h"

#define ETH_LEN	 14
#define OWN	 1
#define ID_A	 2
#define ID_B	 3
#define OWN4	 "10.0.0.1"
#define A4	 "10.0.0.2"
#define B4	 "10.0.1.7"
#define C4	 "10.9.9.9" /* no identity */
#define OWN6	 "fd00::1"
#define A6	 "fd00::2"
#define TC_OK	 0
#define TC_SHOT	 2

struct pk {
	int family;
	int proto;
	const char *src, *dst;
	int sport, dport;
	int payload;
	int icmp_type;
};

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet + IP + L4 header + @payload bytes. Returns the frame length. */
static size_t build(uint8_t *buf, const struct pk *k)
{
	size_t l4 = k->proto == IPPROTO_TCP ? 20 : 8, ip = k->family == 6 ? 40 : 20;
	size_t len = ETH_LEN + ip + l4 + (size_t)k->payload;
	uint8_t *h = buf + ETH_LEN, *t = h + ip;

	memset(buf, 0, len);
	put16(buf + 12, k->family == 6 ? 0x86dd : 0x0800);
	if (k->family == 4) {
		h[0] = 0x45;
		put16(h + 2, (unsigned)(ip + l4 + (size_t)k->payload));
		h[8] = 64;
		h[9] = (uint8_t)k->proto;
		inet_pton(AF_INET, k->src, h + 12);
		inet_pton(AF_INET, k->dst, h + 16);
	} else {
		h[0] = 0x60;
		put16(h + 4, (unsigned)(l4 + (size_t)k->payload));
		h[6] = (uint8_t)k->proto;
		h[7] = 64;
		inet_pton(AF_INET6, k->src, h + 8);
		inet_pton(AF_INET6, k->dst, h + 24);
	}
	if (k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP) {
		put16(t, (unsigned)k->sport);
		put16(t + 2, (unsigned)k->dport);
		if (k->proto == IPPROTO_TCP)
			t[12] = 5 << 4;
		else
			put16(t + 4, (unsigned)(8 + k->payload));
	} else {
		t[0] = (uint8_t)k->icmp_type;
		put16(t + 4, (unsigned)k->sport); /* echo identifier */
	}
	return len;
}

static int run_raw(struct mesh_dp *dp, int dir, const void *data, size_t len)
{
	uint8_t out[2048];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	int err = bpf_prog_test_run_opts(mesh_dp_prog_fd(dp, dir), &o);

	return err ? -1000 + err : (int)o.retval;
}

static int run(struct mesh_dp *dp, int dir, const struct pk *k)
{
	uint8_t buf[2048];

	return run_raw(dp, dir, buf, build(buf, k));
}

/* Ingress packet from @src (remote) to this node. */
#define IN4(pr, src, dp_) ((struct pk){ 4, pr, src, OWN4, 40000, dp_, 0, 0 })
#define OUT4(pr, dst, dp_) ((struct pk){ 4, pr, OWN4, dst, 40000, dp_, 0, 0 })

static struct mesh_dp *setup(int def, bool audit)
{
	static const char *pfx[] = { A4 "/32", "10.0.1.0/24", A6 "/128" };
	static const uint32_t ids[] = { ID_A, ID_B, ID_A };
	struct mesh_dp_opts o = { .no_pin = true, .l3_offset = ETH_LEN };
	struct mesh_dp_config c = { .own_id = OWN, .default_verdict = def, .audit = audit };
	struct mesh_prefix p[3];
	struct mesh_dp *dp = mesh_dp_open(&o);

	if (!ASSERT_NOT_NULL(dp, "mesh_dp_open"))
		return NULL;
	for (int i = 0; i < 3; i++) {
		mesh_prefix_parse(pfx[i], &p[i]);
		p[i].id = ids[i];
	}
	if (!ASSERT_OK(mesh_dp_set_config(dp, &c), "set_config") ||
	    !ASSERT_OK(mesh_dp_set_identities(dp, p, 3), "set_identities")) {
		mesh_dp_close(dp);
		return NULL;
	}
	return dp;
}

static uint64_t drops(struct mesh_dp *dp, uint32_t id, int reason)
{
	struct mesh_counters c;

	if (mesh_dp_counters(dp, id, &c))
		return 0;
	return c.drops[VIGIL_DROP_IDX(reason)];
}

static void test_exact_before_wildcard(void)
{
	const struct mesh_dp_rule r[] = {
		{ 0, OWN, IPPROTO_TCP, 0, 0, VIGIL_VERDICT_DENY },	/* anyone, any tcp port */
		{ ID_A, OWN, IPPROTO_TCP, 80, 80, VIGIL_VERDICT_ALLOW }, /* A to port 80 */
		{ ID_A, 0, 0, 0, 0, VIGIL_VERDICT_ALLOW },		/* A anything else */
	};
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, false);

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, r, 3, NULL), "set_policy"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 80)), TC_OK, "A tcp/80: exact allow");
	/* (0,OWN,tcp,*) has 2 specific fields, (A,*,*,*) 1: the deny is more specific */
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 81)), TC_SHOT, "A tcp/81: deny");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_UDP, A4, 53)), TC_OK, "A udp: wildcard allow");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, B4, 80)), TC_SHOT, "B tcp/80: deny");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_UDP, B4, 80)), TC_SHOT, "B udp: default");
	ASSERT_EQ(drops(dp, ID_A, VIGIL_DROP_POLICY_DENIED), 1, "A policy drops");
	ASSERT_EQ(drops(dp, ID_B, VIGIL_DROP_POLICY_DENIED), 1, "B policy drops");
	ASSERT_EQ(drops(dp, ID_B, VIGIL_DROP_DEFAULT_DENY), 1, "B default drops");
out:
	mesh_dp_close(dp);
}

static void test_deny_over_allow(void)
{
	const struct mesh_dp_rule r[] = {
		{ ID_A, 0, IPPROTO_TCP, 22, 22, VIGIL_VERDICT_ALLOW },	/* 3 specific */
		{ 0, OWN, IPPROTO_TCP, 22, 22, VIGIL_VERDICT_DENY },	/* 3 specific */
		{ ID_A, OWN, IPPROTO_UDP, 53, 53, VIGIL_VERDICT_DENY }, /* same key twice: */
		{ ID_A, OWN, IPPROTO_UDP, 53, 53, VIGIL_VERDICT_ALLOW }, /* deny wins */
		{ ID_A, OWN, IPPROTO_UDP, 54, 54, VIGIL_VERDICT_ALLOW },
	};
	struct mesh_dp *dp = setup(VIGIL_VERDICT_ALLOW, false);

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, r, 5, NULL), "set_policy"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 22)), TC_SHOT, "equal level: deny");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_UDP, A4, 53)), TC_SHOT, "same key: deny");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_UDP, A4, 54)), TC_OK, "allow");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 23)), TC_OK, "default allow");
	ASSERT_EQ(drops(dp, ID_A, VIGIL_DROP_POLICY_DENIED), 2, "policy drops");
out:
	mesh_dp_close(dp);
}

static void test_default_verdicts(void)
{
	struct mesh_dp_config c = { .own_id = OWN, .default_verdict = VIGIL_VERDICT_ALLOW };
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, false);

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, NULL, 0, NULL), "empty policy"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 80)), TC_SHOT, "default deny in");
	ASSERT_EQ(run(dp, MESH_DIR_OUT, &OUT4(IPPROTO_UDP, B4, 80)), TC_SHOT, "default deny out");
	ASSERT_EQ(drops(dp, ID_A, VIGIL_DROP_DEFAULT_DENY), 1, "A default drops");
	ASSERT_EQ(drops(dp, ID_B, VIGIL_DROP_DEFAULT_DENY), 1, "B default drops");
	if (!ASSERT_OK(mesh_dp_set_config(dp, &c), "default allow"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 80)), TC_OK, "default allow in");
	ASSERT_EQ(run(dp, MESH_DIR_OUT, &OUT4(IPPROTO_UDP, B4, 80)), TC_OK, "default allow out");
	/* no identity is dropped whatever the default */
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, C4, 80)), TC_SHOT, "unknown source");
	ASSERT_EQ(drops(dp, MESH_ID_ANY, VIGIL_DROP_NO_IDENTITY), 1, "no_identity drop");
out:
	mesh_dp_close(dp);
}

static void test_audit_counts_but_passes(void)
{
	const struct mesh_dp_rule r[] = { { ID_A, OWN, IPPROTO_TCP, 22, 22, VIGIL_VERDICT_DENY } };
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, true);
	struct mesh_counters c;
	struct pk k = IN4(IPPROTO_TCP, A4, 22);

	k.payload = 100;
	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, r, 1, NULL), "set_policy"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &k), TC_OK, "denied but audit");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_UDP, A4, 9)), TC_OK, "default deny but audit");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_UDP, C4, 9)), TC_OK, "no identity but audit");
	if (!ASSERT_OK(mesh_dp_counters(dp, ID_A, &c), "counters"))
		goto out;
	ASSERT_EQ(c.drops[VIGIL_DROP_IDX(VIGIL_DROP_POLICY_DENIED)], 1, "would-be policy drop");
	ASSERT_EQ(c.drops[VIGIL_DROP_IDX(VIGIL_DROP_DEFAULT_DENY)], 1, "would-be default drop");
	ASSERT_EQ(c.packets_in, 2, "audited packets count as passed");
	ASSERT_EQ(c.bytes_in, (20 + 20 + 100) + (20 + 8), "audited bytes");
	ASSERT_EQ(drops(dp, MESH_ID_ANY, VIGIL_DROP_NO_IDENTITY), 1, "would-be no_identity");
out:
	mesh_dp_close(dp);
}

static const char *name_of(uint32_t id, void *ctx)
{
	(void)ctx;
	return id == ID_A ? "alpha" : NULL;
}

/* The counters as Prometheus sees them, checked by the real promtool when installed. */
static void check_metrics(struct mesh_dp *dp, uint64_t a_in, uint64_t b_out)
{
	struct vmetrics *reg = vmetrics_new();
	struct vbuf text = VBUF_INIT;
	char want[128];

	if (!ASSERT_NOT_NULL(reg, "registry") ||
	    !ASSERT_OK(mesh_dp_metrics_register(dp, reg, name_of, NULL), "register") ||
	    !ASSERT_OK(vmetrics_render(reg, &text), "render"))
		goto out;
	snprintf(want, sizeof(want), "vigil_mesh_bytes_total{identity=\"alpha\",direction=\"in\"} %"
		 PRIu64 "\n", a_in);
	ASSERT_STRCONTAINS(text.data, want, "A bytes in, named");
	snprintf(want, sizeof(want), "vigil_mesh_bytes_total{identity=\"3\",direction=\"out\"} %"
		 PRIu64 "\n", b_out);
	ASSERT_STRCONTAINS(text.data, want, "B bytes out, numbered");
	ASSERT_STRCONTAINS(text.data, "vigil_mesh_packets_total{identity=\"alpha\",direction=\"out\"} 50\n",
			   "A packets out");
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		FILE *f = popen("promtool check metrics >/dev/null 2>&1", "w");

		if (ASSERT_NOT_NULL(f, "promtool")) {
			fwrite(text.data, 1, text.len, f);
			ASSERT_EQ(pclose(f), 0, "promtool check metrics");
		}
	}
out:
	vbuf_free(&text);
	vmetrics_free(reg);
}

static void test_counters_exact(void)
{
	const struct mesh_dp_rule r[] = { { ID_A, OWN, 0, 0, 0, VIGIL_VERDICT_ALLOW },
				       { OWN, ID_A, 0, 0, 0, VIGIL_VERDICT_ALLOW },
				       { OWN, ID_B, 0, 0, 0, VIGIL_VERDICT_ALLOW } };
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, false);
	uint64_t in_bytes = 0, out_a = 0, out_b = 0;
	struct mesh_counters a, b;

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, r, 3, NULL), "set_policy"))
		goto out;
	for (int i = 0; i < 50; i++) {
		struct pk in = { 6, IPPROTO_UDP, A6, OWN6, 1000 + i, 5000, i * 7, 0 };
		struct pk o4 = { 4, IPPROTO_TCP, OWN4, A4, 2000 + i, 443, i * 13, 0 };
		struct pk ob = { 4, IPPROTO_ICMP, OWN4, B4, i, 0, i, 8 };

		if (!ASSERT_EQ(run(dp, MESH_DIR_IN, &in), TC_OK, "in") ||
		    !ASSERT_EQ(run(dp, MESH_DIR_OUT, &o4), TC_OK, "out A") ||
		    !ASSERT_EQ(run(dp, MESH_DIR_OUT, &ob), TC_OK, "out B"))
			goto out;
		in_bytes += 40 + 8 + (uint64_t)i * 7;
		out_a += 20 + 20 + (uint64_t)i * 13;
		out_b += 20 + 8 + (uint64_t)i;
	}
	if (!ASSERT_OK(mesh_dp_counters(dp, ID_A, &a), "A") ||
	    !ASSERT_OK(mesh_dp_counters(dp, ID_B, &b), "B"))
		goto out;
	ASSERT_EQ(a.packets_in, 50, "A packets in");
	ASSERT_EQ(a.bytes_in, in_bytes, "A bytes in (IPv6)");
	ASSERT_EQ(a.packets_out, 50, "A packets out");
	ASSERT_EQ(a.bytes_out, out_a, "A bytes out (IPv4)");
	ASSERT_EQ(b.packets_out, 50, "B packets out");
	ASSERT_EQ(b.bytes_out, out_b, "B bytes out (ICMP)");
	ASSERT_EQ(b.packets_in + b.bytes_in, 0, "B nothing in");
	check_metrics(dp, in_bytes, out_b);
out:
	mesh_dp_close(dp);
}

static void test_protocols_v4_v6(void)
{
	const struct mesh_dp_rule r[] = {
		{ ID_A, OWN, IPPROTO_TCP, 443, 443, VIGIL_VERDICT_ALLOW },
		{ ID_A, OWN, IPPROTO_UDP, 53, 53, VIGIL_VERDICT_ALLOW },
		{ ID_A, OWN, IPPROTO_ICMPV6, 0, 0, VIGIL_VERDICT_ALLOW },
		{ ID_A, OWN, IPPROTO_ICMP, 0, 0, VIGIL_VERDICT_DENY },
	};
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, false);
	struct pk t6 = { 6, IPPROTO_TCP, A6, OWN6, 5555, 443, 10, 0 };
	struct pk u6 = { 6, IPPROTO_UDP, A6, OWN6, 5555, 53, 10, 0 };
	struct pk i6 = { 6, IPPROTO_ICMPV6, A6, OWN6, 7, 0, 10, 128 };
	struct pk i4 = { 4, IPPROTO_ICMP, A4, OWN4, 7, 0, 10, 8 };

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, r, 4, NULL), "set_policy"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &t6), TC_OK, "v6 tcp/443");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &u6), TC_OK, "v6 udp/53");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &i6), TC_OK, "v6 icmp echo");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &i4), TC_SHOT, "v4 icmp denied");
	t6.dport = 444;
	u6.dport = 54;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &t6), TC_SHOT, "v6 tcp/444");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &u6), TC_SHOT, "v6 udp/54");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 443)), TC_OK, "v4 tcp/443");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_UDP, A4, 53)), TC_OK, "v4 udp/53");
out:
	mesh_dp_close(dp);
}

static void test_port_range(void)
{
	const struct mesh_dp_rule r[] = { { ID_A, OWN, IPPROTO_TCP, 1000, 1010, VIGIL_VERDICT_ALLOW },
				       { ID_A, OWN, IPPROTO_UDP, 1, 65535, VIGIL_VERDICT_ALLOW },
				       { ID_B, OWN, IPPROTO_TCP, 1, 60000, VIGIL_VERDICT_ALLOW } };
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, false);

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, r, 2, NULL), "set_policy"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 999)), TC_SHOT, "999");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 1000)), TC_OK, "1000");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 1005)), TC_OK, "1005");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 1010)), TC_OK, "1010");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 1011)), TC_SHOT, "1011");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_UDP, A4, 65535)), TC_OK, "full range = any");
	/* a range too wide to expand is refused and leaves the active policy alone */
	ASSERT_EQ(mesh_dp_set_policy(dp, r, 3, NULL), -E2BIG, "wide range refused");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 1005)), TC_OK, "old policy stays");
out:
	mesh_dp_close(dp);
}

static void test_conntrack_replies(void)
{
	const struct mesh_dp_rule allow[] = { { OWN, ID_A, IPPROTO_TCP, 80, 80, VIGIL_VERDICT_ALLOW },
					   { OWN, ID_A, IPPROTO_ICMP, 0, 0, VIGIL_VERDICT_ALLOW } };
	const struct mesh_dp_rule deny[] = { { OWN, ID_A, IPPROTO_TCP, 80, 80, VIGIL_VERDICT_DENY } };
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, false);
	struct pk syn = { 4, IPPROTO_TCP, OWN4, A4, 40001, 80, 0, 0 };
	struct pk reply = { 4, IPPROTO_TCP, A4, OWN4, 80, 40001, 100, 0 };
	struct pk other = { 4, IPPROTO_TCP, A4, OWN4, 80, 40002, 100, 0 };
	struct pk ping = { 4, IPPROTO_ICMP, OWN4, A4, 99, 0, 8, 8 };
	struct pk pong = { 4, IPPROTO_ICMP, A4, OWN4, 99, 0, 8, 0 };
	struct pk their_ping = { 4, IPPROTO_ICMP, A4, OWN4, 99, 0, 8, 8 };

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, allow, 2, NULL), "set_policy"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &reply), TC_SHOT, "reply before any request");
	ASSERT_EQ(run(dp, MESH_DIR_OUT, &syn), TC_OK, "outbound tcp/80");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &reply), TC_OK, "its reply");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &other), TC_SHOT, "another flow's packet");
	ASSERT_EQ(run(dp, MESH_DIR_OUT, &ping), TC_OK, "ping out");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &pong), TC_OK, "pong in");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &their_ping), TC_SHOT, "their echo request: policy");
	/* the policy now denies the flow: its next packet, either way, is re-evaluated */
	if (!ASSERT_OK(mesh_dp_set_policy(dp, deny, 1, NULL), "deny policy"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &reply), TC_SHOT, "reply after deny");
	ASSERT_EQ(run(dp, MESH_DIR_OUT, &syn), TC_SHOT, "request after deny");
	ASSERT_EQ(drops(dp, ID_A, VIGIL_DROP_POLICY_DENIED), 2, "policy drops");
out:
	mesh_dp_close(dp);
}

/* A tracked flow whose remote address changes owner is judged again as the new owner. */
static void test_conntrack_identity_change(void)
{
	const struct mesh_dp_rule allow[] = { { OWN, ID_A, IPPROTO_TCP, 80, 80, VIGIL_VERDICT_ALLOW } };
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, false);
	struct pk syn = { 4, IPPROTO_TCP, OWN4, A4, 40001, 80, 0, 0 };
	struct pk reply = { 4, IPPROTO_TCP, A4, OWN4, 80, 40001, 100, 0 };
	struct mesh_prefix p;

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, allow, 1, NULL), "set_policy"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_OUT, &syn), TC_OK, "outbound tcp/80");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &reply), TC_OK, "reply");
	mesh_prefix_parse(A4 "/32", &p);
	p.id = ID_B; /* A's address now belongs to B, which may not be reached on 80 */
	if (!ASSERT_OK(mesh_dp_set_identities(dp, &p, 1), "move address"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &reply), TC_SHOT, "reply now from B");
	ASSERT_EQ(drops(dp, ID_B, VIGIL_DROP_DEFAULT_DENY), 1, "counted on B");
	p.id = ID_A;
	if (!ASSERT_OK(mesh_dp_set_identities(dp, &p, 1), "move back"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &reply), TC_SHOT, "entry gone: a reply alone is new");
	ASSERT_EQ(run(dp, MESH_DIR_OUT, &syn), TC_OK, "reopened");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &reply), TC_OK, "reply again");
out:
	mesh_dp_close(dp);
}

static void test_policy_replaced_whole(void)
{
	const struct mesh_dp_rule r1[] = { { ID_A, OWN, IPPROTO_TCP, 100, 199, VIGIL_VERDICT_ALLOW } };
	const struct mesh_dp_rule r2[] = { { ID_B, OWN, IPPROTO_UDP, 7, 7, VIGIL_VERDICT_ALLOW } };
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, false);
	uint32_t s1 = 0, s2 = 0;

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, r1, 1, &s1), "policy 1") ||
	    !ASSERT_OK(mesh_dp_set_policy(dp, r2, 1, &s2), "policy 2"))
		goto out;
	ASSERT_EQ(s2, s1 + 1, "sequence bumped");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 150)), TC_SHOT, "old rule gone");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_UDP, B4, 7)), TC_OK, "new rule");
out:
	mesh_dp_close(dp);
}

static void test_malformed_and_truncated(void)
{
	const struct mesh_dp_rule r[] = { { 0, 0, 0, 0, 0, VIGIL_VERDICT_ALLOW } };
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, false);
	struct pk k = IN4(IPPROTO_TCP, A4, 80);
	struct pk k6 = { 6, IPPROTO_UDP, A6, OWN6, 1, 2, 0, 0 };
	uint8_t buf[512];
	size_t len;

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, r, 1, NULL), "allow all"))
		goto out;
	len = build(buf, &k);
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, len), TC_OK, "well-formed passes");
	buf[ETH_LEN] = 0x44; /* IHL 4 */
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, len), TC_SHOT, "IHL < 5");
	buf[ETH_LEN] = 0x55; /* version 5 */
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, len), TC_SHOT, "version 5");
	ASSERT_EQ(drops(dp, ID_A, VIGIL_DROP_MALFORMED), 1, "malformed (identity known)");
	ASSERT_EQ(drops(dp, 0, VIGIL_DROP_MALFORMED), 1, "malformed (no address)");
	len = build(buf, &k);
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, len - 1), TC_SHOT, "TCP header cut");
	put16(buf + ETH_LEN + 2, 1400); /* total length beyond the packet */
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, len), TC_SHOT, "tot_len too big");
	/* the kernel refuses a test run of an ETH_P_IP frame shorter than an IP header, so this
	 * one goes with an 802.3 length field; the program looks at the version nibble only */
	put16(buf + 12, 0x0040);
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, ETH_LEN + 10), TC_SHOT, "IP header cut");
	ASSERT_EQ(drops(dp, ID_A, VIGIL_DROP_TRUNCATED), 2, "truncated (A)");
	ASSERT_EQ(drops(dp, 0, VIGIL_DROP_TRUNCATED), 1, "truncated (no address)");
	len = build(buf, &k);
	put16(buf + ETH_LEN + 6, 0x2000); /* more fragments */
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, len), TC_SHOT, "first fragment");
	put16(buf + ETH_LEN + 6, 0x0010); /* offset 128 */
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, len), TC_SHOT, "later fragment");
	len = build(buf, &k6);
	buf[ETH_LEN + 6] = 44; /* next header: fragment */
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, len), TC_SHOT, "v6 fragment header");
	ASSERT_EQ(drops(dp, ID_A, VIGIL_DROP_FRAGMENT), 3, "fragments");
	len = build(buf, &k6);
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, len), TC_OK, "v6 udp passes");
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, len - 1), TC_SHOT, "v6 udp cut");
	buf[ETH_LEN + 6] = 0; /* hop-by-hop whose length runs past the end */
	buf[ETH_LEN + 41] = 200;
	ASSERT_EQ(run_raw(dp, MESH_DIR_IN, buf, len), TC_SHOT, "v6 ext header past the end");
	ASSERT_EQ(drops(dp, ID_A, VIGIL_DROP_TRUNCATED), 4, "truncated v6");
out:
	mesh_dp_close(dp);
}

/* Random bytes after the Ethernet header, random lengths: every packet gets a verdict, and the
 * counters account for every one of them (passed + dropped = sent). */
static void test_random_packets(void)
{
	const struct mesh_dp_rule r[] = { { 0, 0, 0, 0, 0, VIGIL_VERDICT_ALLOW } };
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, false);
	uint64_t passed = 0, seen = 0;
	uint8_t buf[256];
	int n = 3000, refused = 0;

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, r, 1, NULL), "allow all"))
		goto out;
	srandom(42);
	for (int i = 0; i < n; i++) {
		size_t len = 54 + (size_t)(random() % 180);
		int v;

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)random();
		put16(buf + 12, (i & 1) ? 0x86dd : 0x0800);
		/* half of them look like IPv4/IPv6 from A so that they get past the first checks */
		if (i % 4 < 2) {
			buf[ETH_LEN] = (i & 1) ? 0x60 : 0x45;
			if (i & 1) {
				put16(buf + ETH_LEN + 4, (unsigned)(len - ETH_LEN - 40));
				inet_pton(AF_INET6, A6, buf + ETH_LEN + 8);
			} else {
				put16(buf + ETH_LEN + 2, (unsigned)(len - ETH_LEN));
				put16(buf + ETH_LEN + 6, 0); /* not a fragment */
				inet_pton(AF_INET, A4, buf + ETH_LEN + 12);
			}
		}
		v = run_raw(dp, MESH_DIR_IN, buf, len);
		if (v < -900) {
			refused++;
			continue; /* refused by the kernel before the program ran */
		}
		if (!ASSERT_TRUE(v == TC_OK || v == TC_SHOT, "verdict is OK or SHOT"))
			goto out;
		passed += v == TC_OK;
	}
	for (uint32_t id = 0; id <= ID_B; id++) {
		struct mesh_counters c;

		if (mesh_dp_counters(dp, id, &c))
			continue;
		seen += c.packets_in;
		for (int k = 0; k < VIGIL_DROP_COUNT; k++)
			seen += c.drops[k];
	}
	ASSERT_LE(refused, n / 10, "few runs refused by the kernel");
	ASSERT_EQ(seen, n - refused, "every packet counted once");
	ASSERT_GE(passed, 1, "some random packets are well-formed enough to pass");
out:
	mesh_dp_close(dp);
}

struct evs {
	int n;
	struct mesh_drop_event last;
};

static int on_drop(void *ctx, void *data, size_t len)
{
	struct evs *e = ctx;

	if (len >= sizeof(e->last)) {
		memcpy(&e->last, data, sizeof(e->last));
		e->n++;
	}
	return 0;
}

static void test_drop_events(void)
{
	struct mesh_dp_config c = { .own_id = OWN, .default_verdict = VIGIL_VERDICT_DENY,
				    .sample_every = 1 };
	struct mesh_dp *dp = setup(VIGIL_VERDICT_DENY, false);
	struct ring_buffer *rb = NULL;
	struct evs e = { 0 };
	struct pk k = { 6, IPPROTO_UDP, A6, OWN6, 1234, 4321, 5, 0 };
	uint8_t a6[16];

	if (!dp || !ASSERT_OK(mesh_dp_set_policy(dp, NULL, 0, NULL), "policy") ||
	    !ASSERT_OK(mesh_dp_set_config(dp, &c), "sample all"))
		goto out;
	rb = ring_buffer__new(mesh_dp_drops_fd(dp), on_drop, &e, NULL);
	if (!ASSERT_NOT_NULL(rb, "ring buffer"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &k), TC_SHOT, "dropped");
	ring_buffer__consume(rb);
	ASSERT_EQ(e.n, 1, "one event");
	ASSERT_EQ(e.last.reason, VIGIL_DROP_DEFAULT_DENY, "reason");
	ASSERT_STREQ(vigil_drop_name(e.last.reason), "default_deny", "reason name");
	ASSERT_EQ(e.last.remote_id, ID_A, "remote");
	ASSERT_EQ(e.last.local_id, OWN, "local");
	ASSERT_EQ(e.last.family, 6, "family");
	ASSERT_EQ(e.last.sport, 1234, "sport");
	ASSERT_EQ(e.last.dport, 4321, "dport");
	ASSERT_EQ(e.last.len, 40 + 8 + 5, "len");
	inet_pton(AF_INET6, A6, a6);
	ASSERT_TRUE(memcmp(e.last.saddr, a6, 16) == 0, "saddr");
	{
		struct vbuf j = VBUF_INIT;

		ASSERT_OK(mesh_drop_event_json(&e.last, sizeof(e.last), &j), "event json");
		ASSERT_STRCONTAINS(j.data, "\"reason\":\"default_deny\"", "json reason");
		ASSERT_STRCONTAINS(j.data, "\"src\":\"fd00::2\"", "json src");
		ASSERT_STRCONTAINS(j.data, "\"dir\":\"in\"", "json dir");
		ASSERT_STRCONTAINS(j.data, "\"dport\":4321", "json dport");
		vbuf_free(&j);
		ASSERT_EQ(mesh_drop_event_json(&e.last, 10, &j), -EINVAL, "short record");
	}
	c.sample_every = 0;
	mesh_dp_set_config(dp, &c);
	run(dp, MESH_DIR_IN, &k);
	ring_buffer__consume(rb);
	ASSERT_EQ(e.n, 1, "no events when sampling is off");
out:
	ring_buffer__free(rb);
	mesh_dp_close(dp);
}

static void test_pinned_maps_survive(void)
{
	const struct mesh_dp_rule r[] = { { ID_A, OWN, IPPROTO_TCP, 80, 80, VIGIL_VERDICT_ALLOW } };
	struct mesh_dp_config c = { .own_id = OWN, .default_verdict = VIGIL_VERDICT_DENY };
	char root[64];
	struct mesh_dp_opts o = { .ifname = "lo", .pin_root = root, .l3_offset = ETH_LEN };
	struct mesh_prefix p;
	struct mesh_dp *dp;
	struct stat st;

	snprintf(root, sizeof(root), "/sys/fs/bpf/vigil-test-mesh-%d", getpid());
	dp = mesh_dp_open(&o);
	if (!ASSERT_NOT_NULL(dp, "open pinned"))
		return;
	mesh_prefix_parse(A4, &p);
	p.id = ID_A;
	if (!ASSERT_OK(mesh_dp_set_config(dp, &c), "config") ||
	    !ASSERT_OK(mesh_dp_set_identities(dp, &p, 1), "idents") ||
	    !ASSERT_OK(mesh_dp_set_policy(dp, r, 1, NULL), "policy"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 81)), TC_SHOT, "denied");
	mesh_dp_close(dp);
	{
		char pin[128];

		snprintf(pin, sizeof(pin), "%s/lo/policy", root);
		ASSERT_OK(stat(pin, &st), "policy map pinned after close");
	}
	dp = mesh_dp_open(&o); /* a restarted agent, before it has talked to anyone */
	if (!ASSERT_NOT_NULL(dp, "reopen pinned"))
		goto out;
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 80)), TC_OK, "policy kept");
	ASSERT_EQ(run(dp, MESH_DIR_IN, &IN4(IPPROTO_TCP, A4, 81)), TC_SHOT, "deny kept");
	ASSERT_EQ(drops(dp, ID_A, VIGIL_DROP_DEFAULT_DENY), 2, "counters kept");
out:
	mesh_dp_close(dp);
	ASSERT_OK(mesh_dp_unpin(root, "lo"), "unpin");
	rmdir(root);
	ASSERT_TRUE(stat(root, &st) != 0, "pins removed");
}

TESTS(T(test_exact_before_wildcard), T(test_deny_over_allow), T(test_default_verdicts),
      T(test_audit_counts_but_passes), T(test_counters_exact), T(test_protocols_v4_v6),
      T(test_port_range), T(test_conntrack_replies), T(test_conntrack_identity_change),
      T(test_policy_replaced_whole),
      T(test_malformed_and_truncated), T(test_random_packets), T(test_drop_events), T(test_pinned_maps_survive))
