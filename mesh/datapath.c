// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mesh datapath's user half: skeleton loading with pinned maps, TC attach/replace, and the
 * identity and policy writers. See mesh/datapath.h for the contract and mesh/mesh.h for the
 * map layout and the generation scheme this file implements.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "vigil/bpf.h"
#include "vigil/buf.h"
#include "vigil/log.h"
#include "vigil/util.h"
#include "vigil/metrics.h"
#include "mesh/datapath.h"
#include "mesh.skel.h"

#define COMP "mesh"

struct dp_metrics;

struct mesh_dp {
	struct mesh_bpf *skel;
	char ifname[IF_NAMESIZE];
	char pin_dir[PATH_MAX];
	int ifindex;
	int ncpu;
	struct dp_metrics *metrics; /* owned; registered with a vmetrics registry */
};

static struct bpf_map *const *dp_maps(struct mesh_bpf *s, size_t *n)
{
	static struct bpf_map *maps[6];

	maps[0] = s->maps.idents;
	maps[1] = s->maps.policy;
	maps[2] = s->maps.mesh_cfg;
	maps[3] = s->maps.counters;
	maps[4] = s->maps.ct;
	maps[5] = s->maps.drops;
	*n = 6;
	return maps;
}

/*
 * Open, set the pin paths, load. libbpf reuses a pinned map whose type, key/value size, max
 * entries and flags match the program's definition, and refuses one that does not: that is an
 * ABI change (mesh.h), which the error message says how to resolve.
 */
struct mesh_dp *mesh_dp_open(const struct mesh_dp_opts *o)
{
	struct mesh_dp *dp = calloc(1, sizeof(*dp));
	struct bpf_map *const *maps;
	size_t nmaps;
	int err;

	if (!dp)
		return NULL;
	dp->ncpu = libbpf_num_possible_cpus();
	if (o->ifname) {
		snprintf(dp->ifname, sizeof(dp->ifname), "%s", o->ifname);
		dp->ifindex = (int)if_nametoindex(o->ifname);
		if (!dp->ifindex) {
			err = -errno;
			log_error(COMP, "no interface %s: %s (is the WireGuard interface up?)",
				  o->ifname, strerror(errno));
			goto fail;
		}
	}
	dp->skel = mesh_bpf__open();
	if (!dp->skel) {
		err = -errno;
		log_error(COMP, "cannot open the mesh BPF object: %s", strerror(errno));
		goto fail;
	}
	dp->skel->rodata->l3_off = o->l3_offset;
	maps = dp_maps(dp->skel, &nmaps);
	if (!o->no_pin) {
		if (!o->ifname) {
			err = -EINVAL;
			log_error(COMP, "pinning the mesh maps needs an interface name");
			goto fail;
		}
		err = vbpf_mount_bpffs(NULL);
		if (err)
			goto fail;
		snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s/%s",
			 o->pin_root ? o->pin_root : MESH_PIN_ROOT, o->ifname);
		err = vmkdir_p(dp->pin_dir);
		if (err) {
			log_error(COMP, "cannot create the pin directory %s: %s", dp->pin_dir,
				  strerror(-err));
			goto fail;
		}
		for (size_t i = 0; i < nmaps; i++) {
			char path[PATH_MAX + 32];

			snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, bpf_map__name(maps[i]));
			err = bpf_map__set_pin_path(maps[i], path);
			if (err)
				goto fail;
		}
	}
	err = mesh_bpf__load(dp->skel);
	if (err) {
		if (dp->pin_dir[0])
			log_error(COMP, "cannot load the mesh BPF programs with the maps pinned in %s: "
				  "%s (maps from another vigil version do not fit: remove the programs "
				  "with `tc filter del dev %s ingress/egress handle 0x%x prio %d bpf` "
				  "and the pins with rm -r %s, then start again)", dp->pin_dir,
				  strerror(-err), dp->ifname, MESH_TC_HANDLE, MESH_TC_PRIO, dp->pin_dir);
		else
			log_error(COMP, "cannot load the mesh BPF programs: %s (run `vigil probe` "
				  "to see what this kernel allows)", strerror(-err));
		goto fail;
	}
	return dp;
fail:
	mesh_bpf__destroy(dp->skel);
	free(dp);
	errno = -err;
	return NULL;
}

/* One hook: create clsact if missing, then create-or-replace our filter at a fixed
 * (handle, priority). vbpf_tc_attach() cannot do this (it lets the kernel pick the handle and
 * never replaces), and the replace is what makes an agent restart gapless: the old program
 * runs until the very netlink message that swaps in the new one. */
static int attach_one(struct mesh_dp *dp, enum bpf_tc_attach_point where, int fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = dp->ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MESH_TC_HANDLE, .priority = MESH_TC_PRIO,
		    .prog_fd = fd, .flags = BPF_TC_F_REPLACE);
	libbpf_print_fn_t prev = vbpf_quiet_libbpf();
	int err = bpf_tc_hook_create(&hook);

	libbpf_set_print(prev);
	if (err && err != -EEXIST) {
		log_error(COMP, "cannot create a clsact qdisc on %s: %s (%ssee: tc qdisc show dev %s)",
			  dp->ifname, strerror(-err),
			  err == -ENOENT ? "is the sch_ingress module loaded? modprobe sch_ingress "
					   "cls_bpf; " : "", dp->ifname);
		return err;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		log_error(COMP, "cannot attach the mesh %s program to %s: %s (see: tc filter show "
			  "dev %s %s)", where == BPF_TC_INGRESS ? "ingress" : "egress", dp->ifname,
			  strerror(-err), dp->ifname, where == BPF_TC_INGRESS ? "ingress" : "egress");
	return err;
}

int mesh_dp_attach(struct mesh_dp *dp)
{
	int err;

	if (!dp->ifindex)
		return -EINVAL;
	/* ingress first: an inbound flow the new egress program would track must already be
	 * tracked by the same maps; both programs share every map, so order matters little */
	err = attach_one(dp, BPF_TC_INGRESS, bpf_program__fd(dp->skel->progs.tc_ingress));
	if (!err)
		err = attach_one(dp, BPF_TC_EGRESS, bpf_program__fd(dp->skel->progs.tc_egress));
	if (!err)
		log_info(COMP, "policy programs attached to %s (maps %s)", dp->ifname,
			 dp->pin_dir[0] ? dp->pin_dir : "not pinned");
	return err;
}

int mesh_dp_detach(struct mesh_dp *dp)
{
	int ret = 0;

	for (int i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = dp->ifindex,
			    .attach_point = i ? BPF_TC_EGRESS : BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MESH_TC_HANDLE, .priority = MESH_TC_PRIO);
		libbpf_print_fn_t prev = vbpf_quiet_libbpf();
		int err = bpf_tc_detach(&hook, &opts);

		libbpf_set_print(prev);
		if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL) {
			log_warn(COMP, "cannot detach the mesh program from %s: %s", dp->ifname,
				 strerror(-err));
			ret = err;
		}
	}
	return ret;
}

void mesh_dp_close(struct mesh_dp *dp)
{
	if (!dp)
		return;
	mesh_bpf__destroy(dp->skel);
	free(dp->metrics);
	free(dp);
}

int mesh_dp_unpin(const char *pin_root, const char *ifname)
{
	static const char *const names[] = { "idents", "policy", "mesh_cfg", "counters", "ct",
					     "drops" };
	char dir[PATH_MAX], path[PATH_MAX + 32];
	int ret = 0;

	snprintf(dir, sizeof(dir), "%s/%s", pin_root ? pin_root : MESH_PIN_ROOT, ifname);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) && errno != ENOENT)
			ret = -errno;
	}
	if (rmdir(dir) && errno != ENOENT && !ret)
		ret = -errno;
	return ret;
}

static int read_cfg(struct mesh_dp *dp, struct mesh_config *c)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.mesh_cfg), &zero, c))
		return -errno;
	return 0;
}

static int write_cfg(struct mesh_dp *dp, const struct mesh_config *c)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.mesh_cfg), &zero, c, BPF_ANY))
		return -errno;
	return 0;
}

int mesh_dp_set_config(struct mesh_dp *dp, const struct mesh_dp_config *cfg)
{
	struct mesh_config c;
	int err;

	if (!cfg->own_id || (cfg->default_verdict != VIGIL_VERDICT_ALLOW &&
			     cfg->default_verdict != VIGIL_VERDICT_DENY)) {
		log_error(COMP, "invalid datapath config: own identity %u, default verdict %d (need "
			  "an identity >= 1 and allow or deny)", cfg->own_id, cfg->default_verdict);
		return -EINVAL;
	}
	err = read_cfg(dp, &c);
	if (err)
		return err;
	c.own_id = cfg->own_id;
	c.default_verdict = (__u8)cfg->default_verdict;
	c.audit = cfg->audit;
	c.sample_every = cfg->sample_every;
	return write_cfg(dp, &c);
}

/* -------- identities -------- */

int mesh_prefix_parse(const char *s, struct mesh_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long plen;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	memset(p->addr, 0, sizeof(p->addr));
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	if (inet_pton(AF_INET, buf, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, p->addr) == 1)
		p->family = AF_INET6;
	else
		return -EINVAL;
	plen = p->family == AF_INET ? 32 : 128;
	if (slash) {
		long max = plen;

		errno = 0;
		plen = strtol(slash, &end, 10);
		if (errno || end == slash || *end || plen < 0 || plen > max)
			return -EINVAL;
	}
	p->plen = (uint8_t)plen;
	return 0;
}

static int prefix_key(const struct mesh_prefix *p, struct mesh_lpm_key *k)
{
	memset(k, 0, sizeof(*k));
	if (p->family == AF_INET && p->plen <= 32) {
		k->addr[10] = k->addr[11] = 0xff;
		memcpy(k->addr + 12, p->addr, 4);
		k->prefixlen = 96u + p->plen;
	} else if (p->family == AF_INET6 && p->plen <= 128) {
		memcpy(k->addr, p->addr, 16);
		k->prefixlen = p->plen;
	} else {
		return -EINVAL;
	}
	/* the trie compares only prefixlen bits, but a clean key makes equal prefixes equal
	 * keys for the stale-entry pass below */
	for (unsigned b = k->prefixlen; b < 128; b++)
		k->addr[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
	return 0;
}

int mesh_dp_set_identities(struct mesh_dp *dp, const struct mesh_prefix *p, size_t n)
{
	int fd = bpf_map__fd(dp->skel->maps.idents);
	struct mesh_lpm_key *want, k, next;
	int err = 0;
	bool more;

	want = calloc(n ? n : 1, sizeof(*want));
	if (!want)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char a[INET6_ADDRSTRLEN] = "?";

		if (prefix_key(&p[i], &want[i]) || !p[i].id) {
			inet_ntop(p[i].family == AF_INET6 ? AF_INET6 : AF_INET, p[i].addr, a,
				  sizeof(a));
			log_error(COMP, "invalid identity prefix %s/%u (identity %u): need an IPv4 "
				  "or IPv6 prefix and an identity >= 1", a, p[i].plen, p[i].id);
			err = -EINVAL;
			goto out;
		}
	}
	/* 1: write new and changed entries */
	for (size_t i = 0; i < n; i++) {
		__u32 id = p[i].id;

		if (bpf_map_update_elem(fd, &want[i], &id, BPF_ANY)) {
			err = -errno;
			log_error(COMP, "cannot write identity %u into the identity map: %s (more "
				  "than %d prefixes?)", id, strerror(errno), MESH_MAX_PREFIXES);
			goto out;
		}
	}
	/* 2: delete stale ones. Deleting during iteration restarts the walk, so collect first. */
	size_t nstale = 0, cap = 64;
	struct mesh_lpm_key *stale = malloc(cap * sizeof(*stale));

	if (!stale) {
		err = -ENOMEM;
		goto out;
	}
	more = bpf_map_get_next_key(fd, NULL, &next) == 0;
	while (more) {
		bool keep = false;

		k = next;
		for (size_t i = 0; i < n && !keep; i++)
			keep = memcmp(&want[i], &k, sizeof(k)) == 0;
		if (!keep) {
			if (nstale == cap) {
				void *t = realloc(stale, (cap *= 2) * sizeof(*stale));
				if (!t) {
					free(stale);
					err = -ENOMEM;
					goto out;
				}
				stale = t;
			}
			stale[nstale++] = k;
		}
		more = bpf_map_get_next_key(fd, &k, &next) == 0;
	}
	for (size_t i = 0; i < nstale; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	free(stale);
	/* tracked flows remember their remote identity: make them look again (+2 keeps the
	 * policy generation bit) */
	{
		struct mesh_config c;

		err = read_cfg(dp, &c);
		if (!err) {
			c.policy_seq += 2;
			err = write_cfg(dp, &c);
		}
	}
out:
	free(want);
	return err;
}

/* -------- policy -------- */

/* Deletes every key of generation @gen. Keys are collected first: deleting while walking a
 * hash map with get_next_key may restart the walk. */
static int delete_gen(int fd, __u8 gen)
{
	struct mesh_policy_key k, next, *del = NULL;
	size_t n = 0, cap = 0;
	bool more = bpf_map_get_next_key(fd, NULL, &next) == 0;

	while (more) {
		k = next;
		if (k.gen == gen) {
			if (n == cap) {
				void *t = realloc(del, (cap = cap ? cap * 2 : 1024) * sizeof(*del));
				if (!t) {
					free(del);
					return -ENOMEM;
				}
				del = t;
			}
			del[n++] = k;
		}
		more = bpf_map_get_next_key(fd, &k, &next) == 0;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &del[i]);
	free(del);
	return 0;
}

/* Writes one key; an existing DENY is never weakened to ALLOW (deny wins on equal keys). */
static int put_rule(int fd, struct mesh_policy_key *k, __u32 verdict)
{
	__u32 old;

	if (verdict == VIGIL_VERDICT_ALLOW && bpf_map_lookup_elem(fd, k, &old) == 0 &&
	    old == VIGIL_VERDICT_DENY)
		return 0;
	if (bpf_map_update_elem(fd, k, &verdict, BPF_ANY))
		return -errno;
	return 0;
}

static int shape_of(const struct mesh_policy_key *k)
{
	return (k->src_id ? MESH_SHAPE_SRC : 0) | (k->dst_id ? MESH_SHAPE_DST : 0) |
	       (k->proto ? MESH_SHAPE_PROTO : 0) | (k->port ? MESH_SHAPE_PORT : 0);
}

/*
 * The generation switch: (1) clear leftovers of the inactive generation (an update that died
 * half-way), (2) write every key under it, (3) publish its shape mask, (4) flip policy_seq,
 * (5) wait for programs that read the old sequence to finish (they run for microseconds under
 * RCU; 20 ms is generous), (6) delete the old generation. A failure before (4) leaves the
 * active policy untouched.
 */
int mesh_dp_set_policy(struct mesh_dp *dp, const struct mesh_dp_rule *r, size_t n, uint32_t *seq_out)
{
	int fd = bpf_map__fd(dp->skel->maps.policy);
	struct mesh_config c;
	uint16_t mask = 0;
	__u8 gen;
	int err;

	for (size_t i = 0; i < n; i++) {
		unsigned lo = r[i].port_lo, hi = r[i].port_hi;

		if ((r[i].verdict != VIGIL_VERDICT_ALLOW && r[i].verdict != VIGIL_VERDICT_DENY) ||
		    lo > hi) {
			log_error(COMP, "policy rule %zu (%u -> %u proto %u ports %u-%u): invalid "
				  "verdict or port range", i, r[i].src_id, r[i].dst_id, r[i].proto,
				  lo, hi);
			return -EINVAL;
		}
		if (!(lo <= 1 && hi == 65535) && hi && hi - (lo ? lo : 1) + 1 > MESH_MAX_RANGE_PORTS) {
			log_error(COMP, "policy rule %zu (%u -> %u ports %u-%u): the range spans more "
				  "than %d ports; split the rule or allow any port", i, r[i].src_id,
				  r[i].dst_id, lo, hi, MESH_MAX_RANGE_PORTS);
			return -E2BIG;
		}
	}
	err = read_cfg(dp, &c);
	if (err)
		return err;
	gen = (c.policy_seq + 1) & 1;
	err = delete_gen(fd, gen);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct mesh_policy_key k = { .src_id = r[i].src_id, .dst_id = r[i].dst_id,
					     .proto = r[i].proto, .gen = gen };
		unsigned lo = r[i].port_lo, hi = r[i].port_hi;

		if (hi == 0 || (lo <= 1 && hi == 65535))
			lo = hi = 0; /* any port */
		else if (lo == 0)
			lo = 1;
		for (unsigned p = lo; p <= hi; p++) {
			k.port = (__u16)p;
			err = put_rule(fd, &k, (__u32)r[i].verdict);
			if (err) {
				log_error(COMP, "cannot write policy rule %zu: %s (the policy map holds "
					  "%d keys for both generations; ranges count per port)", i,
					  strerror(-err), MESH_MAX_POLICY);
				delete_gen(fd, gen);
				return err;
			}
			mask |= (uint16_t)(1u << shape_of(&k));
		}
	}
	c.shape_mask[gen] = mask;
	err = write_cfg(dp, &c); /* the active sequence is unchanged in this write */
	if (err)
		return err;
	c.policy_seq++;
	err = write_cfg(dp, &c);
	if (err)
		return err;
	usleep(20 * 1000);
	err = delete_gen(fd, gen ^ 1);
	if (seq_out)
		*seq_out = c.policy_seq;
	log_debug(COMP, "policy %u active: %zu rules, shape mask 0x%04x", c.policy_seq, n, mask);
	return err;
}

/* -------- counters -------- */

static void sum(const struct mesh_counters *pc, int ncpu, struct mesh_counters *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < ncpu; i++) {
		out->bytes_in += pc[i].bytes_in;
		out->packets_in += pc[i].packets_in;
		out->bytes_out += pc[i].bytes_out;
		out->packets_out += pc[i].packets_out;
		for (int r = 0; r < VIGIL_DROP_COUNT; r++)
			out->drops[r] += pc[i].drops[r];
	}
}

int mesh_dp_counters(struct mesh_dp *dp, uint32_t id, struct mesh_counters *out)
{
	struct mesh_counters *pc = calloc((size_t)dp->ncpu, sizeof(*pc));
	int err = 0;

	if (!pc)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.counters), &id, pc))
		err = -errno;
	else
		sum(pc, dp->ncpu, out);
	free(pc);
	return err;
}

int mesh_dp_counters_foreach(struct mesh_dp *dp,
			     int (*fn)(uint32_t id, const struct mesh_counters *c, void *ctx),
			     void *ctx)
{
	int fd = bpf_map__fd(dp->skel->maps.counters), err = 0;
	struct mesh_counters *pc = calloc((size_t)dp->ncpu, sizeof(*pc)), s;
	__u32 k, next;
	bool more;

	if (!pc)
		return -ENOMEM;
	more = bpf_map_get_next_key(fd, NULL, &next) == 0;
	while (more && !err) {
		k = next;
		if (bpf_map_lookup_elem(fd, &k, pc) == 0) {
			sum(pc, dp->ncpu, &s);
			err = fn(k, &s, ctx);
		}
		more = bpf_map_get_next_key(fd, &k, &next) == 0;
	}
	free(pc);
	return err;
}

int mesh_dp_prog_fd(struct mesh_dp *dp, int dir)
{
	return bpf_program__fd(dir == MESH_DIR_IN ? dp->skel->progs.tc_ingress
						  : dp->skel->progs.tc_egress);
}

int mesh_dp_drops_fd(struct mesh_dp *dp)
{
	return bpf_map__fd(dp->skel->maps.drops);
}

/* -------- options and events -------- */

const struct vopt mesh_dp_vopts[] = {
	VOPT_STRING("interface", 'i', struct mesh_dp_cli, ifname, "vigil0", "IFNAME",
		    "WireGuard interface the policy programs attach to"),
	VOPT_STRING("pin-root", 0, struct mesh_dp_cli, pin_root, MESH_PIN_ROOT, "DIR",
		    "bpffs directory for the pinned maps (one subdirectory per interface)"),
	VOPT_ENUM("default", 0, struct mesh_dp_cli, default_verdict, "deny", "allow|deny",
		  "verdict for traffic no policy rule matches"),
	VOPT_BOOL("audit", 0, struct mesh_dp_cli, audit,
		  "count would-be drops but let the packets pass"),
	VOPT_INT("drop-sample", 0, struct mesh_dp_cli, sample_every, "100", "N", 0, 1000000,
		 "publish one drop event per N drops (0: none)"),
	VOPT_STRING("private-key", 0, struct mesh_dp_cli, key_file, "/var/lib/vigil/mesh.key",
		    "FILE", "WireGuard private key (created with mode 0600 when missing)"),
	VOPT_STRING("wg-socket-dir", 0, struct mesh_dp_cli, wg_dir, "/var/run/wireguard", "DIR",
		    "directory of wireguard-go's UAPI sockets"),
	VOPT_END
};

void mesh_dp_cli_opts(const struct mesh_dp_cli *c, struct mesh_dp_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ifname = c->ifname;
	o->pin_root = c->pin_root;
}

void mesh_dp_cli_config(const struct mesh_dp_cli *c, uint32_t own_id, struct mesh_dp_config *cfg)
{
	cfg->own_id = own_id;
	cfg->default_verdict = c->default_verdict && !strcmp(c->default_verdict, "allow")
				       ? VIGIL_VERDICT_ALLOW : VIGIL_VERDICT_DENY;
	cfg->audit = c->audit;
	cfg->sample_every = (uint32_t)c->sample_every;
}

static void addr_str(const uint8_t *a, int family, char *out, size_t n)
{
	if (family == 4)
		inet_ntop(AF_INET, a + 12, out, (socklen_t)n);
	else
		inet_ntop(AF_INET6, a, out, (socklen_t)n);
}

int mesh_drop_event_json(const void *rec, size_t len, struct vbuf *out)
{
	struct mesh_drop_event e;
	char s[INET6_ADDRSTRLEN] = "", d[INET6_ADDRSTRLEN] = "";
	const char *reason;
	struct vjw w;

	if (len < sizeof(e))
		return -EINVAL;
	memcpy(&e, rec, sizeof(e));
	reason = vigil_drop_name(e.reason);
	if (!reason)
		return -EINVAL;
	vjw_init(&w, out);
	vjw_obj(&w);
	vjw_kuint(&w, "ts_ns", e.ts_ns);
	vjw_kstr(&w, "reason", reason);
	vjw_kstr(&w, "dir", e.dir == MESH_DIR_IN ? "in" : "out");
	vjw_kbool(&w, "audit", e.audit);
	vjw_kuint(&w, "remote_id", e.remote_id);
	vjw_kuint(&w, "local_id", e.local_id);
	vjw_kuint(&w, "family", e.family);
	vjw_kuint(&w, "proto", e.proto);
	if (e.family == 4 || e.family == 6) {
		addr_str(e.saddr, e.family, s, sizeof(s));
		addr_str(e.daddr, e.family, d, sizeof(d));
		vjw_kstr(&w, "src", s);
		vjw_kstr(&w, "dst", d);
	}
	vjw_kuint(&w, "sport", e.sport);
	vjw_kuint(&w, "dport", e.dport);
	vjw_kuint(&w, "len", e.len);
	vjw_end(&w);
	return 0;
}

/* -------- metrics -------- */

struct dp_metrics {
	struct mesh_dp *dp;
	struct vmetric *bytes, *packets, *drops;
	const char *(*name_of)(uint32_t id, void *ctx);
	void *ctx;
};

static int collect_one(uint32_t id, const struct mesh_counters *c, void *arg)
{
	struct dp_metrics *m = arg;
	const char *name = m->name_of ? m->name_of(id, m->ctx) : NULL;
	char num[16];

	if (!name) {
		snprintf(num, sizeof(num), "%u", id);
		name = id ? num : "unknown";
	}
	const char *in[2] = { name, "in" }, *out[2] = { name, "out" };

	vmetric_child_set_u64(vmetric_child(m->bytes, in), c->bytes_in);
	vmetric_child_set_u64(vmetric_child(m->bytes, out), c->bytes_out);
	vmetric_child_set_u64(vmetric_child(m->packets, in), c->packets_in);
	vmetric_child_set_u64(vmetric_child(m->packets, out), c->packets_out);
	for (int r = 0; r < VIGIL_DROP_COUNT; r++) {
		const char *v[2] = { name, vigil_drop_name(VIGIL_DROP_BASE + r) };

		if (c->drops[r])
			vmetric_child_set_u64(vmetric_child(m->drops, v), c->drops[r]);
	}
	return 0;
}

static void collect(struct vmetrics *reg, void *arg)
{
	struct dp_metrics *m = arg;

	(void)reg;
	mesh_dp_counters_foreach(m->dp, collect_one, m);
}

int mesh_dp_metrics_register(struct mesh_dp *dp, struct vmetrics *reg,
			     const char *(*name_of)(uint32_t id, void *ctx), void *ctx)
{
	struct dp_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->dp = dp;
	m->name_of = name_of;
	m->ctx = ctx;
	m->bytes = vmetrics_counter(reg, "vigil_mesh_bytes_total",
				    "IP bytes passed per remote identity and direction",
				    "identity,direction");
	m->packets = vmetrics_counter(reg, "vigil_mesh_packets_total",
				      "Packets passed per remote identity and direction",
				      "identity,direction");
	m->drops = vmetrics_counter(reg, "vigil_mesh_drops_total",
				    "Packets dropped (or, in audit mode, that would have been) per "
				    "remote identity and reason", "identity,reason");
	if (!m->bytes || !m->packets || !m->drops) {
		int err = -errno;

		free(m);
		return err ? err : -ENOMEM;
	}
	/* two children per identity and direction: room for every identity the map holds */
	vmetric_set_max_children(m->bytes, 2 * MESH_MAX_IDENTS);
	vmetric_set_max_children(m->packets, 2 * MESH_MAX_IDENTS);
	vmetric_set_max_children(m->drops, 1024);
	dp->metrics = m;
	return vmetrics_on_collect(reg, collect, m);
}
