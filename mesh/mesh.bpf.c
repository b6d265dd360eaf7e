// SPDX-License-Identifier: GPL-2.0-only
/*
 * vigil mesh, kernel half: identity-based policy on a WireGuard interface.
 *
 * tc_ingress and tc_egress run on the clsact hooks of the WireGuard device, where packets start
 * at the IP header (l3_off = 0; tests driving the programs through BPF_PROG_TEST_RUN, which
 * always frames packets as Ethernet, set it to 14). Per packet: parse IPv4/IPv6 and the L4 ports
 * with bpf_skb_load_bytes (every read bounds-checked by the helper, so a short packet is a
 * failed load, never an out-of-bounds read), find the remote identity in the LPM trie, pass
 * packets of tracked flows, else look the policy up (see mesh.h for the precedence and the
 * generation scheme), count per remote identity and per CPU, and sample drops into a ring
 * buffer. Drop reasons come from bpf/verdict.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "mesh.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

#define IPPROTO_HOPOPTS	 0
#define IPPROTO_ICMP	 1
#define IPPROTO_TCP	 6
#define IPPROTO_UDP	 17
#define IPPROTO_ROUTING	 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_ICMPV6	 58
#define IPPROTO_DSTOPTS	 60
#define IP_MF		 0x2000
#define IP_OFFSET	 0x1fff
#define MAX_EXT_HDRS	 4

/* Offset of the IP header in the skb: 0 on a WireGuard (L3) device. */
const volatile __u32 l3_off = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MESH_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mesh_lpm_key);
	__type(value, __u32);
} idents SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MESH_MAX_POLICY);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mesh_policy_key);
	__type(value, __u32);
} policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mesh_config);
} mesh_cfg SEC(".maps");

/* Not preallocated: a value per CPU for every possible identity would be max_entries x CPUs x
 * 160 bytes up front; entries appear when an identity first sends or receives. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MESH_MAX_IDENTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct mesh_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MESH_MAX_CT);
	__type(key, struct mesh_ct_key);
	__type(value, struct mesh_ct_val);
} ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} drops SEC(".maps");

/* What the parser learned about one packet. Addresses in the mapped 16-byte form. */
struct pkt {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport, dport; /* ICMP echo: identifier in both; other ICMP: 0 */
	__u8 proto;
	__u8 family;	    /* 4 or 6 */
	__u8 icmp_echo;	    /* 1 request, 2 reply, 0 neither */
	__u8 _pad;
	__u32 len;
};

static __always_inline void map_v4(__u8 *dst, __u32 addr)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &addr, 4);
}

/* Reads the ports (or ICMP type and echo id) at @off. Returns 0 or a drop reason. */
static __always_inline int parse_l4(struct __sk_buff *skb, __u32 off, struct pkt *p)
{
	__u8 h[8];

	switch (p->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		/* ports are all we use, but a TCP/UDP header must be whole */
		if (off + (p->proto == IPPROTO_TCP ? 20 : 8) > skb->len)
			return VIGIL_DROP_TRUNCATED;
		if (bpf_skb_load_bytes(skb, off, h, 4))
			return VIGIL_DROP_TRUNCATED;
		p->sport = ((__u16)h[0] << 8) | h[1];
		p->dport = ((__u16)h[2] << 8) | h[3];
		return 0;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (bpf_skb_load_bytes(skb, off, h, 8))
			return VIGIL_DROP_TRUNCATED;
		/* echo request/reply: 8/0 for ICMP, 128/129 for ICMPv6 */
		if (h[0] == (p->proto == IPPROTO_ICMP ? 8 : 128))
			p->icmp_echo = 1;
		else if (h[0] == (p->proto == IPPROTO_ICMP ? 0 : 129))
			p->icmp_echo = 2;
		if (p->icmp_echo)
			p->sport = p->dport = ((__u16)h[4] << 8) | h[5];
		return 0;
	}
	return 0; /* other protocols: policy by protocol only */
}

static __always_inline int parse_v4(struct __sk_buff *skb, struct pkt *p)
{
	struct iphdr ip;
	__u32 hl;

	if (bpf_skb_load_bytes(skb, l3_off, &ip, sizeof(ip)))
		return VIGIL_DROP_TRUNCATED;
	p->family = 4;
	map_v4(p->saddr, ip.saddr);
	map_v4(p->daddr, ip.daddr);
	p->proto = ip.protocol;
	hl = ip.ihl * 4;
	if (hl < sizeof(ip) || bpf_ntohs(ip.tot_len) < hl)
		return VIGIL_DROP_MALFORMED;
	if (l3_off + bpf_ntohs(ip.tot_len) > skb->len)
		return VIGIL_DROP_TRUNCATED;
	if (ip.frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return VIGIL_DROP_FRAGMENT;
	return parse_l4(skb, l3_off + hl, p);
}

static __always_inline int parse_v6(struct __sk_buff *skb, struct pkt *p)
{
	struct ipv6hdr ip;
	__u32 off = l3_off + sizeof(ip);
	__u8 nh;

	if (bpf_skb_load_bytes(skb, l3_off, &ip, sizeof(ip)))
		return VIGIL_DROP_TRUNCATED;
	p->family = 6;
	__builtin_memcpy(p->saddr, &ip.saddr, 16);
	__builtin_memcpy(p->daddr, &ip.daddr, 16);
	if (l3_off + sizeof(ip) + bpf_ntohs(ip.payload_len) > skb->len)
		return VIGIL_DROP_TRUNCATED;
	nh = ip.nexthdr;
	/* skip hop-by-hop, routing and destination options headers: (next, len/8 - 1) */
#pragma unroll
	for (int i = 0; i < MAX_EXT_HDRS; i++) {
		__u8 ext[2];

		if (nh == IPPROTO_FRAGMENT) {
			p->proto = nh;
			return VIGIL_DROP_FRAGMENT;
		}
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS)
			break;
		if (bpf_skb_load_bytes(skb, off, ext, 2))
			return VIGIL_DROP_TRUNCATED;
		nh = ext[0];
		off += (ext[1] + 1) * 8;
	}
	p->proto = nh;
	if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS)
		return VIGIL_DROP_UNSUPPORTED;
	return parse_l4(skb, off, p);
}

/* 0 when @p was filled, else a drop reason (fields read so far stay filled). */
static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	__u8 v;

	p->len = skb->len > l3_off ? skb->len - l3_off : 0;
	if (bpf_skb_load_bytes(skb, l3_off, &v, 1))
		return VIGIL_DROP_TRUNCATED;
	if ((v >> 4) == 4)
		return parse_v4(skb, p);
	if ((v >> 4) == 6)
		return parse_v6(skb, p);
	return VIGIL_DROP_MALFORMED;
}

/* Identity of @addr: its longest matching prefix, 0 when none. */
static __always_inline __u32 identity_of(const __u8 *addr)
{
	struct mesh_lpm_key k = { .prefixlen = 128 };
	__u32 *id;

	__builtin_memcpy(k.addr, addr, 16);
	id = bpf_map_lookup_elem(&idents, &k);
	return id ? *id : MESH_ID_ANY;
}

/* Shapes in order of specificity; a level ends after index 0, 4, 10, 14 and 15. */
static const __u8 shape_order[16] = { 15, 14, 13, 11, 7, 12, 10, 9, 6, 5, 3, 8, 4, 2, 1, 0 };
#define LEVEL_END(i) ((i) == 0 || (i) == 4 || (i) == 10 || (i) == 14 || (i) == 15)

/* The verdict of the rules for (src, dst, proto, port) under generation @gen: ALLOW, DENY or
 * NONE. The loop is unrolled: 16 constant shapes, at most 16 hash lookups, usually a few since
 * @mask skips shapes without keys. */
static __always_inline int policy_lookup(__u32 src, __u32 dst, __u8 proto, __u16 port, __u8 gen,
					 __u16 mask)
{
	bool allow = false;

#pragma unroll
	for (int i = 0; i < 16; i++) {
		__u8 s = shape_order[i];

		if ((mask & (1u << s)) && !((s & MESH_SHAPE_PORT) && !port)) {
			struct mesh_policy_key k = {
				.src_id = (s & MESH_SHAPE_SRC) ? src : 0,
				.dst_id = (s & MESH_SHAPE_DST) ? dst : 0,
				.proto = (s & MESH_SHAPE_PROTO) ? proto : 0,
				.port = (s & MESH_SHAPE_PORT) ? port : 0,
				.gen = gen,
			};
			__u32 *v = bpf_map_lookup_elem(&policy, &k);

			if (v && *v == VIGIL_VERDICT_DENY)
				return VIGIL_VERDICT_DENY;
			if (v && *v == VIGIL_VERDICT_ALLOW)
				allow = true;
		}
		if (LEVEL_END(i) && allow)
			return VIGIL_VERDICT_ALLOW;
	}
	return VIGIL_VERDICT_NONE;
}

static __always_inline struct mesh_counters *counters_of(__u32 id)
{
	struct mesh_counters *c = bpf_map_lookup_elem(&counters, &id);

	if (c)
		return c;
	struct mesh_counters zero = {};
	/* BPF_NOEXIST: a racing CPU may have created it; either way look it up again */
	bpf_map_update_elem(&counters, &id, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&counters, &id);
}

static __always_inline void emit_drop(const struct mesh_config *cfg, const struct pkt *p,
				      __u32 remote, int dir, int reason)
{
	struct mesh_drop_event *e;

	if (!cfg->sample_every || bpf_get_prandom_u32() % cfg->sample_every)
		return;
	e = bpf_ringbuf_reserve(&drops, sizeof(*e), 0);
	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_ns();
	e->remote_id = remote;
	e->local_id = cfg->own_id;
	e->reason = reason;
	e->dir = dir;
	e->proto = p->proto;
	e->family = p->family;
	e->audit = cfg->audit;
	e->sport = p->sport;
	e->dport = p->dport;
	e->_pad = 0;
	e->len = p->len;
	__builtin_memcpy(e->saddr, p->saddr, 16);
	__builtin_memcpy(e->daddr, p->daddr, 16);
	bpf_ringbuf_submit(e, 0);
}

/* Counts a passed packet for @remote. */
static __always_inline int pass(struct mesh_counters *c, const struct pkt *p, int dir)
{
	if (c) {
		if (dir == MESH_DIR_IN) {
			c->bytes_in += p->len;
			c->packets_in++;
		} else {
			c->bytes_out += p->len;
			c->packets_out++;
		}
	}
	return TC_ACT_OK;
}

/* Counts (and samples) a drop; in audit mode the packet passes and counts as passed too. */
static __always_inline int drop(const struct mesh_config *cfg, struct mesh_counters *c,
				const struct pkt *p, __u32 remote, int dir, int reason)
{
	if (c) {
		__u32 idx = VIGIL_DROP_IDX(reason);

		if (idx < MESH_DROP_SLOTS)
			c->drops[idx]++;
	}
	emit_drop(cfg, p, remote, dir, reason);
	if (cfg->audit)
		return pass(c, p, dir);
	return TC_ACT_SHOT;
}

static __always_inline void ct_key(struct mesh_ct_key *ck, const struct pkt *p, int dir)
{
	if (dir == MESH_DIR_IN) {
		__builtin_memcpy(ck->laddr, p->daddr, 16);
		__builtin_memcpy(ck->raddr, p->saddr, 16);
		ck->lport = p->dport;
		ck->rport = p->sport;
	} else {
		__builtin_memcpy(ck->laddr, p->saddr, 16);
		__builtin_memcpy(ck->raddr, p->daddr, 16);
		ck->lport = p->sport;
		ck->rport = p->dport;
	}
	ck->proto = p->proto;
}

/*
 * The fast path is a tracked flow whose entry carries the current policy_seq: one hash lookup,
 * no LPM lookup (the entry remembers the remote identity). User space bumps policy_seq by 2
 * (keeping the generation bit) after changing identities, so a flow whose address changed
 * owner is re-evaluated with the new identity on its next packet.
 */
static __always_inline int handle(struct __sk_buff *skb, int dir)
{
	__u32 zero = 0, remote, src, dst, seq;
	struct mesh_ct_val *cv = NULL;
	struct mesh_ct_key ck = {};
	struct mesh_counters *c;
	struct mesh_config *cfg;
	struct pkt p = {};
	int reason, v;
	__u16 port;

	cfg = bpf_map_lookup_elem(&mesh_cfg, &zero);
	if (!cfg)
		return TC_ACT_SHOT; /* cannot happen: array maps always have element 0 */
	reason = parse(skb, &p);
	if (reason) {
		remote = p.family ? identity_of(dir == MESH_DIR_IN ? p.saddr : p.daddr)
				  : MESH_ID_ANY;
		return drop(cfg, counters_of(remote), &p, remote, dir, reason);
	}
	/* one read: the packet sees one generation whatever user space does meanwhile */
	seq = *(volatile __u32 *)&cfg->policy_seq;

	/* tracked flow? (ICMP echo requests never use an entry: they always meet the policy) */
	if (p.icmp_echo != 1) {
		ct_key(&ck, &p, dir);
		cv = bpf_map_lookup_elem(&ct, &ck);
		if (cv && cv->policy_seq == seq)
			return pass(counters_of(cv->remote_id), &p, dir);
	}
	remote = identity_of(dir == MESH_DIR_IN ? p.saddr : p.daddr);
	c = counters_of(remote);
	if (remote == MESH_ID_ANY) {
		if (cv)
			bpf_map_delete_elem(&ct, &ck);
		return drop(cfg, c, &p, remote, dir, VIGIL_DROP_NO_IDENTITY);
	}
	if (cv) {
		/* policy or identities changed since: re-evaluate in the opening direction */
		if (cv->origin == MESH_DIR_IN) {
			src = remote;
			dst = cfg->own_id;
			port = ck.lport;
		} else {
			src = cfg->own_id;
			dst = remote;
			port = ck.rport;
		}
		if (p.proto == IPPROTO_ICMP || p.proto == IPPROTO_ICMPV6)
			port = 0;
		v = policy_lookup(src, dst, p.proto, port, seq & 1, cfg->shape_mask[seq & 1]);
		if (v == VIGIL_VERDICT_ALLOW ||
		    (v == VIGIL_VERDICT_NONE && cfg->default_verdict == VIGIL_VERDICT_ALLOW)) {
			cv->policy_seq = seq;
			cv->remote_id = remote;
			return pass(c, &p, dir);
		}
		bpf_map_delete_elem(&ct, &ck);
		return drop(cfg, c, &p, remote, dir,
			    v == VIGIL_VERDICT_DENY ? VIGIL_DROP_POLICY_DENIED : VIGIL_DROP_DEFAULT_DENY);
	}

	src = dir == MESH_DIR_IN ? remote : cfg->own_id;
	dst = dir == MESH_DIR_IN ? cfg->own_id : remote;
	port = (p.proto == IPPROTO_ICMP || p.proto == IPPROTO_ICMPV6) ? 0 : p.dport;
	v = policy_lookup(src, dst, p.proto, port, seq & 1, cfg->shape_mask[seq & 1]);
	if (v == VIGIL_VERDICT_DENY)
		return drop(cfg, c, &p, remote, dir, VIGIL_DROP_POLICY_DENIED);
	if (v == VIGIL_VERDICT_NONE && cfg->default_verdict != VIGIL_VERDICT_ALLOW)
		return drop(cfg, c, &p, remote, dir, VIGIL_DROP_DEFAULT_DENY);

	/* allowed: track the flow (echo requests: so that the reply passes) */
	if (p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP || p.icmp_echo == 1) {
		struct mesh_ct_val nv = { .policy_seq = seq, .remote_id = remote, .origin = dir };

		if (p.icmp_echo == 1) {
			ct_key(&ck, &p, dir); /* echo: identifier in both ports */
			/* a ping sends many requests with one identifier: rewriting the same
			 * entry each time would cost more than the rest of the program */
			cv = bpf_map_lookup_elem(&ct, &ck);
			if (cv && cv->policy_seq == seq && cv->remote_id == remote &&
			    cv->origin == dir)
				return pass(c, &p, dir);
		}
		bpf_map_update_elem(&ct, &ck, &nv, BPF_ANY);
	}
	return pass(c, &p, dir);
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	return handle(skb, MESH_DIR_IN);
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	return handle(skb, MESH_DIR_OUT);
}

char LICENSE[] SEC("license") = "GPL";
