/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The mesh agent's datapath: loads mesh.bpf.c, pins its maps under
 * /sys/fs/bpf/vigil/mesh/<ifname>/ (reused by the next agent, so a restart leaves no gap),
 * attaches tc_ingress/tc_egress to the WireGuard interface, and fills identities and policy so
 * that an update never opens a window where denied traffic passes (see mesh/mesh.h).
 *
 * Lifetime: mesh_dp_close() frees the user-space side and leaves the programs attached and the
 * maps pinned (fail-static: the last policy keeps being enforced while no agent runs). The next
 * mesh_dp_open() + mesh_dp_attach() for the same interface reuses the pinned maps and replaces
 * the attached programs atomically (same TC handle and priority). mesh_dp_detach() removes them
 * and mesh_dp_unpin() removes the pins: the explicit teardown.
 */
#ifndef VIGIL_MESH_DATAPATH_H
#define VIGIL_MESH_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/opt.h"
#include "mesh/mesh.h"

#define MESH_PIN_ROOT	"/sys/fs/bpf/vigil/mesh"
#define MESH_TC_HANDLE	0x4d56 /* "MV" */
#define MESH_TC_PRIO	1      /* first filter on the hook */

struct mesh_dp_opts {
	const char *ifname;   /* interface to attach to; NULL: load only (tests, benchmarks) */
	const char *pin_root; /* NULL: MESH_PIN_ROOT; maps go to <pin_root>/<ifname>/ */
	bool no_pin;	      /* private maps, nothing pinned (tests) */
	uint32_t l3_offset;   /* bytes before the IP header: 0 on WireGuard, 14 for test runs */
};

/* Node-wide settings (the `mesh_cfg` map minus the policy generation). */
struct mesh_dp_config {
	uint32_t own_id;	 /* >= 1 */
	int default_verdict;	 /* VIGIL_VERDICT_ALLOW or VIGIL_VERDICT_DENY */
	bool audit;		 /* count would-be drops, pass them */
	uint32_t sample_every;	 /* 1 drop event per this many drops; 0 none */
};

/* An address prefix and the identity that owns it (a peer's allowed IP). */
struct mesh_prefix {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	uint8_t plen;	  /* 0..32 or 0..128 */
	uint32_t id;	  /* >= 1 */
};

/* A policy rule. 0 is a wildcard for ids and proto; ports [port_lo, port_hi], both 0 = any. */
struct mesh_dp_rule {
	uint32_t src_id;
	uint32_t dst_id;
	uint8_t proto; /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6, or 0 any */
	uint16_t port_lo;
	uint16_t port_hi;
	int verdict; /* VIGIL_VERDICT_ALLOW or VIGIL_VERDICT_DENY */
};

struct mesh_dp;

/*
 * Opens and loads the programs. With pinning, maps already pinned under the interface's
 * directory are reused (their contents kept: the running policy stays); missing ones are
 * created and pinned. NULL with errno set (logged, with what to do) on failure.
 */
struct mesh_dp *mesh_dp_open(const struct mesh_dp_opts *opts);

/* Attaches (or atomically replaces) the TC programs on opts->ifname. 0 or -errno. */
int mesh_dp_attach(struct mesh_dp *dp);
/* Removes the programs from the interface (the clsact qdisc stays). 0 or -errno. */
int mesh_dp_detach(struct mesh_dp *dp);
/* Frees @dp; leaves the programs attached and the maps pinned. NULL is a no-op. */
void mesh_dp_close(struct mesh_dp *dp);
/* Removes the pinned maps of @ifname under @pin_root (NULL: default). 0 or -errno. */
int mesh_dp_unpin(const char *pin_root, const char *ifname);

int mesh_dp_set_config(struct mesh_dp *dp, const struct mesh_dp_config *cfg);

/*
 * Makes the identity map exactly @p[0..n): new and changed prefixes are written first, stale
 * ones deleted afterwards (an address is never briefly unknown unless it leaves the set).
 * 0 or -errno; -EINVAL for a bad prefix (logged with the prefix).
 */
int mesh_dp_set_identities(struct mesh_dp *dp, const struct mesh_prefix *p, size_t n);

/*
 * Replaces the policy with @r[0..n) through the generation switch described in mesh/mesh.h.
 * Rules with equal keys: deny wins. Port ranges expand to one key per port (at most
 * MESH_MAX_RANGE_PORTS each). On error the active policy is unchanged. 0 or -errno.
 * @seq_out, when not NULL, receives the new policy sequence number.
 */
int mesh_dp_set_policy(struct mesh_dp *dp, const struct mesh_dp_rule *r, size_t n,
		       uint32_t *seq_out);

/* Sums @id's per-CPU counters into @out. 0, -ENOENT when @id has none yet, or -errno. */
int mesh_dp_counters(struct mesh_dp *dp, uint32_t id, struct mesh_counters *out);
/* Calls @fn for every identity with counters (summed). Stops at a non-zero return of @fn. */
int mesh_dp_counters_foreach(struct mesh_dp *dp,
			     int (*fn)(uint32_t id, const struct mesh_counters *c, void *ctx),
			     void *ctx);

/* File descriptors for callers that drive the programs themselves (tests, ring buffer). */
int mesh_dp_prog_fd(struct mesh_dp *dp, int dir /* enum mesh_dir */);
int mesh_dp_drops_fd(struct mesh_dp *dp);

/* "10.1.0.0/16", "fd00::1" (full length when no /N) -> @p (id left alone). 0 or -EINVAL. */
int mesh_prefix_parse(const char *s, struct mesh_prefix *p);

#endif

/*
 * The agent's datapath options (`vigil mesh agent`), for the command's option table: the lead's
 * agent command embeds struct mesh_dp_cli and lists mesh_dp_vopts (VOPT_* with offsets into
 * it), then calls mesh_dp_cli_opts()/mesh_dp_cli_config() to get the structs above.
 */
struct mesh_dp_cli {
	char *ifname;	       /* --interface */
	char *pin_root;	       /* --pin-root */
	char *default_verdict; /* --default allow|deny */
	bool audit;	       /* --audit */
	long long sample_every; /* --drop-sample N */
	char *key_file;	       /* --private-key FILE */
	char *wg_dir;	       /* --wg-socket-dir DIR */
};
extern const struct vopt mesh_dp_vopts[];

void mesh_dp_cli_opts(const struct mesh_dp_cli *c, struct mesh_dp_opts *o);
/* @own_id comes from the coordinator (the node's identity). */
void mesh_dp_cli_config(const struct mesh_dp_cli *c, uint32_t own_id, struct mesh_dp_config *cfg);

struct vbuf;
/*
 * One drop event as a JSON object for the bus (`<app_id>.mesh.drops`): {"ts_ns", "reason"
 * (the verdict.h name), "dir" ("in"/"out"), "audit", "remote_id", "local_id", "family",
 * "proto", "src", "dst", "sport", "dport", "len"}. Appends to @out; 0 or -EINVAL for a record
 * too short or with an unknown reason.
 */
int mesh_drop_event_json(const void *rec, size_t len, struct vbuf *out);

struct vmetrics;
/*
 * Registers vigil_mesh_bytes_total{identity,direction}, vigil_mesh_packets_total{identity,
 * direction} and vigil_mesh_drops_total{identity,reason} in @reg, refreshed from the per-CPU
 * counters (summed) at every render. @name_of(id, ctx) gives an identity's label (NULL: the
 * number; id 0 is "unknown"). @dp must outlive @reg's renders. 0 or -errno.
 */
int mesh_dp_metrics_register(struct mesh_dp *dp, struct vmetrics *reg,
			     const char *(*name_of)(uint32_t id, void *ctx), void *ctx);
