/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The ABI between mesh.bpf.c (TC programs on a WireGuard interface) and the agent's user half
 * (mesh/datapath.c). Fixed-width types with explicit padding; the _Static_asserts pin the sizes
 * both compilers must agree on. Maps are pinned and outlive the agent, so a change to any struct
 * here is a change of on-disk state: bump MESH_ABI_VERSION (the pin directory carries it).
 *
 * Identities. A numeric tag >= 1 per identity; 0 means "any" in a policy key and "unknown" in a
 * counter key. The local side of every packet is the node's own identity (config.own_id); the
 * remote side is looked up in `idents`, an LPM trie over 16-byte addresses where IPv4 is mapped
 * (::ffff:a.b.c.d, prefix length + 96), so one trie serves both families. A WireGuard peer's
 * allowed IPs map to the peer's identity: WireGuard only accepts an inner source address from
 * the peer that owns it, which is what makes the address an identity.
 *
 * Policy. Key (src identity, dst identity, protocol, destination port, generation), value a
 * verdict. 0 is a wildcard in each of the four fields (protocol 0 = any, port 0 = any). A packet
 * is looked up under up to 16 key "shapes" (which fields are specific, bit 3 src, 2 dst, 1 proto,
 * 0 port), most specific first: all shapes with 4 specific fields, then 3, 2, 1, 0. Within one
 * level of specificity deny beats allow; the first level with a match decides. Shapes without
 * any rule are skipped through config.shape_mask[gen]. ICMP/ICMPv6 have port 0, so only rules
 * with "any port" match them. Port ranges are expanded by user space into one key per port
 * (MESH_MAX_RANGE_PORTS at most per rule; 1-65535 is written as port 0, "any").
 *
 * Atomic policy updates. Every key carries a generation bit. User space writes the complete new
 * policy under the inactive generation, then its shape mask, then flips config.policy_seq (whose
 * low bit is the active generation) in one aligned 32-bit store, and only then deletes the old
 * generation's keys. A packet reads policy_seq once, so it sees the old or the new policy, never
 * a mix, and never an empty one.
 *
 * Connection tracking. A stateless check would drop the replies of an allowed flow, so a packet
 * the policy allows creates an entry in `ct` (LRU) keyed by (local addr, remote addr, local
 * port, remote port, proto) with the direction that opened it; packets of the same flow, in
 * either direction, pass while the entry's policy_seq equals the current one. After a policy
 * change the flow is re-evaluated in its opening direction on its next packet, so a flow the new
 * policy denies stops at once. The entry remembers the remote identity, so a tracked packet
 * costs one hash lookup and no LPM lookup; user space bumps policy_seq by 2 (generation bit
 * kept) after changing identities, which sends every flow through the same re-evaluation with
 * the address's new identity. ICMP: echo requests always go through the policy (the echo
 * identifier is the "port" of their entry); only echo replies use the entry.
 */
#ifndef VIGIL_MESH_H
#define VIGIL_MESH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "../bpf/verdict.h"

#define MESH_ABI_VERSION     1
#define MESH_ID_ANY	     0 /* policy wildcard; counters: unknown identity */
#define MESH_PROTO_ANY	     0
#define MESH_PORT_ANY	     0
#define MESH_MAX_RANGE_PORTS 4096 /* ports one range rule may expand to */

#define MESH_MAX_IDENTS	     65536  /* identities (counter entries) */
#define MESH_MAX_PREFIXES    65536  /* address prefixes in the LPM trie */
#define MESH_MAX_POLICY	     524288 /* policy keys, both generations together */
#define MESH_MAX_CT	     65536  /* tracked flows */

enum mesh_dir {
	MESH_DIR_IN = 0,  /* ingress: the remote peer sent it */
	MESH_DIR_OUT = 1, /* egress: this node sends it */
};

/* Shape bits of a policy key: which fields are specific (not wildcards). */
#define MESH_SHAPE_SRC	 8
#define MESH_SHAPE_DST	 4
#define MESH_SHAPE_PROTO 2
#define MESH_SHAPE_PORT	 1

/* `idents` key: an LPM key over a 16-byte address, IPv4 mapped into ::ffff:0:0/96. */
struct mesh_lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};
_Static_assert(sizeof(struct mesh_lpm_key) == 20, "mesh_lpm_key ABI");

struct mesh_policy_key {
	__u32 src_id;
	__u32 dst_id;
	__u16 port;  /* destination port, host order; 0 any */
	__u8 proto;  /* IPPROTO_*; 0 any; ICMP and ICMPv6 are 1 and 58 */
	__u8 gen;    /* 0 or 1: policy generation the key belongs to */
};
_Static_assert(sizeof(struct mesh_policy_key) == 12, "mesh_policy_key ABI");

/* `policy` value: enum vigil_verdict in a __u32 (room to grow without an ABI break). */

/* `mesh_cfg` (array, one element). */
struct mesh_config {
	__u32 own_id;	       /* identity of this node: the local side of every packet */
	__u32 policy_seq;      /* bumped per policy update; low bit = active generation */
	__u16 shape_mask[2];   /* per generation: bit n set when shape n has keys */
	__u8 default_verdict;  /* VIGIL_VERDICT_ALLOW or _DENY when no rule matches */
	__u8 audit;	       /* 1: count would-be drops, let them pass */
	__u8 _pad[2];
	__u32 sample_every;    /* send 1 of this many drops as an event; 0 none */
	__u32 _pad2;
};
_Static_assert(sizeof(struct mesh_config) == 24, "mesh_config ABI");

/* `counters` value, per CPU, keyed by the remote identity (__u32, 0 unknown). Passed packets
 * count in bytes/packets (IP packet length: header included); dropped ones in drops[] only. In
 * audit mode a would-be drop counts in both. */
#define MESH_DROP_SLOTS 16 /* room for reasons added later without changing the value size */
struct mesh_counters {
	__u64 bytes_in;
	__u64 packets_in;
	__u64 bytes_out;
	__u64 packets_out;
	__u64 drops[MESH_DROP_SLOTS]; /* index VIGIL_DROP_IDX(reason) */
};
_Static_assert(VIGIL_DROP_COUNT <= MESH_DROP_SLOTS, "more drop reasons than counter slots");
_Static_assert(sizeof(struct mesh_counters) == 32 + 8 * MESH_DROP_SLOTS, "mesh_counters ABI");

/* `ct` key and value. Addresses in the mapped 16-byte form; ports host order (ICMP echo: the
 * identifier in both). */
struct mesh_ct_key {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
	__u8 proto;
	__u8 _pad[3];
};
_Static_assert(sizeof(struct mesh_ct_key) == 40, "mesh_ct_key ABI");

struct mesh_ct_val {
	__u32 policy_seq; /* the policy that allowed it */
	__u32 remote_id;
	__u8 origin;	  /* enum mesh_dir of the packet that opened the flow */
	__u8 _pad[7];
};
_Static_assert(sizeof(struct mesh_ct_val) == 16, "mesh_ct_val ABI");

/* Ring buffer record: one sampled drop (or would-be drop in audit mode). */
struct mesh_drop_event {
	__u64 ts_ns;
	__u32 remote_id;
	__u32 local_id;
	__u16 reason;	 /* enum vigil_drop_reason */
	__u8 dir;	 /* enum mesh_dir */
	__u8 proto;
	__u8 family;	 /* 4 or 6; 0 when the header could not be read */
	__u8 audit;	 /* 1: the packet was let through */
	__u16 sport;
	__u16 dport;
	__u16 _pad;
	__u32 len;	 /* IP packet length */
	__u8 saddr[16];
	__u8 daddr[16];
};
_Static_assert(sizeof(struct mesh_drop_event) == 64, "mesh_drop_event ABI");

#endif
