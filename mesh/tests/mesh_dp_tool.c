// SPDX-License-Identifier: GPL-2.0-only
/*
 * A small driver of mesh/datapath.c and mesh/wg.c for the shell tests and benchmarks (not a
 * test itself: no tier prefix). Every command is one agent action, run in the interface's
 * network namespace (nsenter --net=...):
 *
 *   mesh_dp_tool load IF [pin=ROOT] [own=N] [default=allow|deny] [audit=0|1] [sample=N]
 *                        [ident=PREFIX:ID]... [rule=SRC,DST,PROTO,LO-HI,allow|deny]...
 *       open (reusing pinned maps), write config/identities/policy when given, attach or
 *       atomically replace the programs, exit leaving them attached: an agent (re)start
 *   mesh_dp_tool policy IF [pin=ROOT] rule=...   replace the policy only (rule=none: empty)
 *   mesh_dp_tool counters IF [pin=ROOT]          "ID bytes_in packets_in bytes_out
 *                                                 packets_out reason=N..." per identity
 *   mesh_dp_tool detach IF [pin=ROOT] [unpin=1]  remove the programs (and the pins)
 *   mesh_dp_tool genkey | pubkey (stdin)         base64 keys, like wg genkey/pubkey
 *   mesh_dp_tool wgset IF key=FILE port=N [peer=PUB@ENDPOINT@IP+IP...]...
 *   mesh_dp_tool wgget IF                        "PUB last_handshake_sec rx tx" per peer
 *
 * PROTO is tcp, udp, icmp, icmp6, any or a number; ids 0 mean any.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vigil/bpf.h"
#include "mesh/datapath.h"
#include "mesh/wg.h"

#define MAXN 65536

static const char *arg(int argc, char **argv, const char *key)
{
	size_t kl = strlen(key);

	for (int i = 2; i < argc; i++)
		if (strncmp(argv[i], key, kl) == 0 && argv[i][kl] == '=')
			return argv[i] + kl + 1;
	return NULL;
}

static int parse_proto(const char *s)
{
	if (!strcmp(s, "tcp"))
		return IPPROTO_TCP;
	if (!strcmp(s, "udp"))
		return IPPROTO_UDP;
	if (!strcmp(s, "icmp"))
		return IPPROTO_ICMP;
	if (!strcmp(s, "icmp6"))
		return IPPROTO_ICMPV6;
	if (!strcmp(s, "any"))
		return 0;
	return atoi(s);
}

static int parse_rule(const char *s, struct mesh_dp_rule *r)
{
	char proto[16], verdict[8];
	unsigned lo, hi;

	if (sscanf(s, "%u,%u,%15[^,],%u-%u,%7s", &r->src_id, &r->dst_id, proto, &lo, &hi,
		   verdict) != 6)
		return -1;
	r->proto = (uint8_t)parse_proto(proto);
	r->port_lo = (uint16_t)lo;
	r->port_hi = (uint16_t)hi;
	r->verdict = !strcmp(verdict, "deny") ? VIGIL_VERDICT_DENY : VIGIL_VERDICT_ALLOW;
	return 0;
}

static struct mesh_dp *open_dp(int argc, char **argv)
{
	struct mesh_dp_opts o = { .ifname = argv[2], .pin_root = arg(argc, argv, "pin") };

	return mesh_dp_open(&o);
}

static int collect_rules(int argc, char **argv, struct mesh_dp_rule *rules, size_t *n, bool *any)
{
	*n = 0;
	*any = false;
	for (int i = 3; i < argc; i++) {
		if (strncmp(argv[i], "rule=", 5))
			continue;
		*any = true;
		if (!strcmp(argv[i] + 5, "none"))
			continue;
		if (*n == MAXN || parse_rule(argv[i] + 5, &rules[*n])) {
			fprintf(stderr, "bad rule: %s\n", argv[i]);
			return -1;
		}
		(*n)++;
	}
	return 0;
}

static int cmd_load(int argc, char **argv, bool policy_only)
{
	static struct mesh_dp_rule rules[MAXN];
	static struct mesh_prefix pfx[MAXN];
	size_t nr = 0, np = 0;
	bool have_rules, have_idents = false;
	struct mesh_dp *dp;
	int err = 0;

	if (collect_rules(argc, argv, rules, &nr, &have_rules))
		return 2;
	for (int i = 3; i < argc; i++) {
		char buf[128], *colon;

		if (strncmp(argv[i], "ident=", 6))
			continue;
		have_idents = true;
		snprintf(buf, sizeof(buf), "%s", argv[i] + 6);
		colon = strrchr(buf, ':');
		if (!colon || np == MAXN)
			return 2;
		*colon = 0;
		if (mesh_prefix_parse(buf, &pfx[np])) {
			fprintf(stderr, "bad prefix: %s\n", buf);
			return 2;
		}
		pfx[np++].id = (uint32_t)atoi(colon + 1);
	}
	dp = open_dp(argc, argv);
	if (!dp)
		return 1;
	if (!policy_only && arg(argc, argv, "own")) {
		struct mesh_dp_config c = {
			.own_id = (uint32_t)atoi(arg(argc, argv, "own")),
			.default_verdict = arg(argc, argv, "default") &&
						   !strcmp(arg(argc, argv, "default"), "allow")
					   ? VIGIL_VERDICT_ALLOW : VIGIL_VERDICT_DENY,
			.audit = arg(argc, argv, "audit") && atoi(arg(argc, argv, "audit")),
			.sample_every = arg(argc, argv, "sample") ?
					(uint32_t)atoi(arg(argc, argv, "sample")) : 0,
		};
		err = mesh_dp_set_config(dp, &c);
	}
	if (!err && have_idents)
		err = mesh_dp_set_identities(dp, pfx, np);
	if (!err && have_rules)
		err = mesh_dp_set_policy(dp, rules, nr, NULL);
	if (!err && !policy_only)
		err = mesh_dp_attach(dp);
	mesh_dp_close(dp);
	return err ? 1 : 0;
}

static int print_counters(uint32_t id, const struct mesh_counters *c, void *ctx)
{
	(void)ctx;
	printf("%u %llu %llu %llu %llu", id, (unsigned long long)c->bytes_in,
	       (unsigned long long)c->packets_in, (unsigned long long)c->bytes_out,
	       (unsigned long long)c->packets_out);
	for (int r = 0; r < VIGIL_DROP_COUNT; r++)
		printf(" %s=%llu", vigil_drop_name(VIGIL_DROP_BASE + r),
		       (unsigned long long)c->drops[r]);
	printf("\n");
	return 0;
}

static int cmd_counters(int argc, char **argv)
{
	struct mesh_dp *dp = open_dp(argc, argv);
	int err;

	if (!dp)
		return 1;
	err = mesh_dp_counters_foreach(dp, print_counters, NULL);
	mesh_dp_close(dp);
	return err ? 1 : 0;
}

static int cmd_detach(int argc, char **argv)
{
	struct mesh_dp *dp = open_dp(argc, argv);
	int err;

	if (!dp)
		return 1;
	err = mesh_dp_detach(dp);
	mesh_dp_close(dp);
	if (!err && arg(argc, argv, "unpin") && atoi(arg(argc, argv, "unpin")))
		err = mesh_dp_unpin(arg(argc, argv, "pin"), argv[2]);
	return err ? 1 : 0;
}

static int cmd_wgset(int argc, char **argv)
{
	static struct wg_peer_cfg peers[64];
	static char store[64][512];
	static const char *ips[64][16];
	struct wg_dev_cfg c = { .listen_port = -1, .replace_peers = true, .peers = peers };
	uint8_t priv[32];

	if (!arg(argc, argv, "key") || wg_key_load_or_create(arg(argc, argv, "key"), priv))
		return 1;
	c.private_key = priv;
	if (arg(argc, argv, "port"))
		c.listen_port = atoi(arg(argc, argv, "port"));
	for (int i = 3; i < argc && c.n_peers < 64; i++) {
		struct wg_peer_cfg *p = &peers[c.n_peers];
		char *s = store[c.n_peers], *pub, *ep, *list, *tok, *save;

		if (strncmp(argv[i], "peer=", 5))
			continue;
		snprintf(s, sizeof(store[0]), "%s", argv[i] + 5);
		pub = strtok_r(s, "@", &save);
		ep = strtok_r(NULL, "@", &save);
		list = strtok_r(NULL, "@", &save);
		if (!pub || !ep || !list || wg_key_from_base64(pub, p->pubkey)) {
			fprintf(stderr, "bad peer: %s\n", argv[i]);
			return 2;
		}
		p->endpoint = ep;
		p->allowed_ips = ips[c.n_peers];
		for (tok = strtok_r(list, "+", &save); tok && p->n_allowed < 16;
		     tok = strtok_r(NULL, "+", &save))
			ips[c.n_peers][p->n_allowed++] = tok;
		c.n_peers++;
	}
	return wg_uapi_set(NULL, argv[2], &c) ? 1 : 0;
}

static int cmd_wgget(char **argv)
{
	struct wg_dev_status st;
	char b[45];

	if (wg_uapi_get(NULL, argv[2], &st))
		return 1;
	for (size_t i = 0; i < st.n_peers; i++) {
		wg_key_to_base64(st.peers[i].pubkey, b);
		printf("%s %lld %llu %llu\n", b, (long long)st.peers[i].last_handshake_sec,
		       (unsigned long long)st.peers[i].rx_bytes,
		       (unsigned long long)st.peers[i].tx_bytes);
	}
	wg_dev_status_free(&st);
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t k[32], pub[32];
	char b[45], line[128];

	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "genkey")) {
		if (wg_key_generate(k))
			return 1;
		wg_key_to_base64(k, b);
		printf("%s\n", b);
		return 0;
	}
	if (!strcmp(argv[1], "pubkey")) {
		if (!fgets(line, sizeof(line), stdin) || wg_key_from_base64(line, k) ||
		    wg_key_public(k, pub))
			return 1;
		wg_key_to_base64(pub, b);
		printf("%s\n", b);
		return 0;
	}
	if (argc < 3)
		goto usage;
	if (!strncmp(argv[1], "wg", 2)) {
		if (!strcmp(argv[1], "wgset"))
			return cmd_wgset(argc, argv);
		if (!strcmp(argv[1], "wgget"))
			return cmd_wgget(argv);
		goto usage;
	}
	if (vbpf_init())
		return 1;
	if (!strcmp(argv[1], "load"))
		return cmd_load(argc, argv, false);
	if (!strcmp(argv[1], "policy"))
		return cmd_load(argc, argv, true);
	if (!strcmp(argv[1], "counters"))
		return cmd_counters(argc, argv);
	if (!strcmp(argv[1], "detach"))
		return cmd_detach(argc, argv);
usage:
	fprintf(stderr, "usage: mesh_dp_tool load|policy|counters|detach IF [key=value...] | "
			"genkey | pubkey | wgset IF ... | wgget IF (see the comment in "
			"mesh/tests/mesh_dp_tool.c)\n");
	return 2;
}
