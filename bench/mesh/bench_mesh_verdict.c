// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-packet cost of the mesh verdict with 10,000 identities and 100,000 rules, through
 * BPF_PROG_TEST_RUN with repeat, against an empty TC program measured in the same run.
 *
 * Policy: every identity i has 10 exact rules (i -> own, tcp, ports 8000+k) allow; plus
 * wildcard rules that make more shapes live: (any -> own, udp, any) deny, (i -> any, icmp)
 * allow for every identity, (any -> own, tcp, 22) deny. Cases:
 *   established  TCP packet of a tracked flow (connection-tracking hit, no policy lookup)
 *   icmp_policy  ICMP echo request: always the full policy walk until its match (level 2)
 *   default_deny TCP to an unlisted port: every live shape looked up, then dropped
 * Usage: bench_mesh_verdict [repeat]   (default 1,000,000 runs per case)
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vigil/bpf.h"
#include "mesh/datapath.h"
#include "mesh_empty.skel.h"

#define N_IDS	10000
#define PER_ID	10
#define OWN	1

static size_t pkt(uint8_t *b, int proto, uint32_t src, uint16_t dport, int icmp_type)
{
	size_t l4 = proto == IPPROTO_TCP ? 20 : 8, len = 14 + 20 + l4 + 64;
	uint8_t *ip = b + 14, *t = ip + 20;

	memset(b, 0, len);
	b[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((len - 14) >> 8);
	ip[3] = (uint8_t)(len - 14);
	ip[8] = 64;
	ip[9] = (uint8_t)proto;
	src = htonl(src);
	memcpy(ip + 12, &src, 4);
	inet_pton(AF_INET, "10.0.0.1", ip + 16);
	if (proto == IPPROTO_ICMP) {
		t[0] = (uint8_t)icmp_type;
		t[5] = 7;
	} else {
		t[0] = 0x9c;
		t[1] = 0x40;
		t[2] = (uint8_t)(dport >> 8);
		t[3] = (uint8_t)dport;
		t[12] = 0x50;
	}
	return len;
}

static double run(int fd, const void *data, size_t len, int repeat, int *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data, .data_size_in = (__u32)len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o)) {
		perror("bpf_prog_test_run_opts");
		exit(1);
	}
	*retval = (int)o.retval;
	return (double)o.duration; /* average ns per run, measured by the kernel */
}

int main(int argc, char **argv)
{
	int repeat = argc > 1 ? atoi(argv[1]) : 1000000, rv;
	struct mesh_dp_opts o = { .no_pin = true, .l3_offset = 14 };
	struct mesh_dp_config c = { .own_id = OWN, .default_verdict = VIGIL_VERDICT_DENY };
	struct mesh_prefix *p = calloc(N_IDS, sizeof(*p));
	size_t nr = 0, maxr = N_IDS * PER_ID + N_IDS + 2;
	struct mesh_dp_rule *r = calloc(maxr, sizeof(*r));
	struct mesh_empty_bpf *empty;
	struct timespec t0, t1;
	uint8_t b[256];
	struct mesh_dp *dp;
	size_t len;
	double e, est, icmp, deny;

	vbpf_init();
	dp = mesh_dp_open(&o);
	empty = mesh_empty_bpf__open_and_load();
	if (!dp || !empty || !p || !r)
		return 1;
	for (int i = 0; i < N_IDS; i++) {
		uint32_t a = htonl(0x0a010000u + (uint32_t)i); /* 10.1.x.y */

		p[i].family = AF_INET;
		memcpy(p[i].addr, &a, 4);
		p[i].plen = 32;
		p[i].id = 2 + (uint32_t)i;
		for (int k = 0; k < PER_ID; k++)
			r[nr++] = (struct mesh_dp_rule){ 2 + (uint32_t)i, OWN, IPPROTO_TCP,
						      (uint16_t)(8000 + k), (uint16_t)(8000 + k),
						      VIGIL_VERDICT_ALLOW };
		r[nr++] = (struct mesh_dp_rule){ 2 + (uint32_t)i, 0, IPPROTO_ICMP, 0, 0,
					      VIGIL_VERDICT_ALLOW };
	}
	r[nr++] = (struct mesh_dp_rule){ 0, OWN, IPPROTO_UDP, 0, 0, VIGIL_VERDICT_DENY };
	r[nr++] = (struct mesh_dp_rule){ 0, OWN, IPPROTO_TCP, 22, 22, VIGIL_VERDICT_DENY };
	if (mesh_dp_set_config(dp, &c) || mesh_dp_set_identities(dp, p, N_IDS))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (mesh_dp_set_policy(dp, r, nr, NULL))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);

	len = pkt(b, IPPROTO_TCP, 0x0a010000u + 5000, 8003, 0);
	e = run(bpf_program__fd(empty->progs.tc_empty), b, len, repeat, &rv);
	est = run(mesh_dp_prog_fd(dp, MESH_DIR_IN), b, len, repeat, &rv);
	if (rv != 0)
		fprintf(stderr, "established: unexpected verdict %d\n", rv);
	len = pkt(b, IPPROTO_ICMP, 0x0a010000u + 7000, 0, 8);
	icmp = run(mesh_dp_prog_fd(dp, MESH_DIR_IN), b, len, repeat, &rv);
	if (rv != 0)
		fprintf(stderr, "icmp: unexpected verdict %d\n", rv);
	len = pkt(b, IPPROTO_TCP, 0x0a010000u + 9000, 9999, 0);
	deny = run(mesh_dp_prog_fd(dp, MESH_DIR_IN), b, len, repeat, &rv);
	if (rv != 2)
		fprintf(stderr, "default deny: unexpected verdict %d\n", rv);

	printf("mesh verdict, %d identities, %zu rules, %d runs per case (BPF_PROG_TEST_RUN)\n",
	       N_IDS, nr, repeat);
	printf("  policy install (generation switch):  %.0f ms\n",
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	printf("  %-14s %7.1f ns/pkt\n", "empty program", e);
	printf("  %-14s %7.1f ns/pkt  (+%.1f)\n", "established", est, est - e);
	printf("  %-14s %7.1f ns/pkt  (+%.1f)\n", "icmp_policy", icmp, icmp - e);
	printf("  %-14s %7.1f ns/pkt  (+%.1f)\n", "default_deny", deny, deny - e);
	mesh_empty_bpf__destroy(empty);
	mesh_dp_close(dp);
	free(p);
	free(r);
	return 0;
}
