// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_peers: one `vigil peers` refresh on 1,000 peers, without the network: parse a geth
 * admin_peers body of 500 peers and a beacon /eth/v1/node/peers body of 500 (client names drawn
 * from real version strings), track joins/leaves against the previous refresh (with 2% churn),
 * sort, and render the table and the JSON document. Reports time per refresh (mean, p50, p99)
 * and its parts, and the process's memory (/proc/self/smaps_rollup: RSS, PSS, anonymous and
 * file-backed) at start, after warm-up (steady) and at the end, and its peak RSS.
 *
 *	bench_peers [refreshes]         default 300; goal: < 5 ms per refresh, < 10 MB RSS
 *	bench_peers --fixtures DIR      writes the same bodies (500 + 500 peers) as DIR/
 *	                                geth_admin_peers.json and DIR/prysm_peers.json, for
 *	                                bench/peers/run's measurement of a real `vigil peers`
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../peers/view.h"
#include "../../peers/watch.h"
#include "vigil/util.h"

static const char *const exec_names[] = {
	"Geth/v1.14.11-stable-f3c696fa/linux-amd64/go1.23.2",
	"Nethermind/v1.29.0+f05fc2d5/linux-x64/dotnet8.0.10",
	"erigon/v2.60.10-a8ac0a1c/linux-amd64/go1.22.8",
	"reth/v1.1.0-1ba631ba/x86_64-unknown-linux-gnu",
	"besu/v24.10.0/linux-x86_64/openjdk-java-21",
	"Geth/v1.14.12-unstable-293a300d-20241204/linux-arm64/go1.23.4",
};
static const char *const cons_agents[] = {
	"Lighthouse/v5.3.0-d6ba8c3/x86_64-linux", "Prysm/v5.1.2/4b1d9e8f3c1a9a2e6dc5c3d3bb3c0e0f",
	"teku/teku/v24.10.3/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java-21",
	"Nimbus/v24.10.0-0c6a8a-stateofus", "lodestar/v1.22.0",
};

/* CPU time of this thread: the machine is shared, and what a refresh costs is the CPU it burns,
 * not the time it waits for a core (wall-clock is reported too). */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One field (kB) of a /proc/self file whose lines read "Key:   123 kB". */
static long proc_kb(const char *file, const char *key)
{
	FILE *f = fopen(file, "r");
	char line[256];
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtol(line + strlen(key) + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static long rss_kb(const char *key)
{
	return proc_kb("/proc/self/status", key);
}

struct mem {
	long rss, pss, anon, pss_file;
};

static struct mem mem_now(void)
{
	const char *r = "/proc/self/smaps_rollup";

	return (struct mem){ proc_kb(r, "Rss:"), proc_kb(r, "Pss:"), proc_kb(r, "Anonymous:"),
			     proc_kb(r, "Pss_File:") };
}

static void mem_print(const char *what, struct mem m)
{
	printf("  %-9s RSS %6ld kB  PSS %6ld kB  anonymous %6ld kB  file-backed PSS %6ld kB\n", what,
	       m.rss, m.pss, m.anon, m.pss_file);
}

/* admin_peers body with @n peers whose ids start at @base (churn shifts the window). */
static void make_exec(struct vbuf *b, int n, int base)
{
	vbuf_reset(b);
	vbuf_puts(b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[");
	for (int i = 0; i < n; i++) {
		int k = base + i;

		vbuf_printf(b, "%s{\"enode\":\"enode://%0128x@10.%d.%d.%d:30303\","
			    "\"id\":\"%064x\",\"name\":\"%s\",\"caps\":[\"eth/68\",\"snap/1\"],"
			    "\"network\":{\"localAddress\":\"10.0.0.5:30303\",\"remoteAddress\":"
			    "\"10.%d.%d.%d:%d\",\"inbound\":%s,\"trusted\":false,\"static\":false},"
			    "\"protocols\":{\"eth\":{\"version\":68},\"snap\":%s}}",
			    i ? "," : "", k, k >> 16 & 255, k >> 8 & 255, k & 255, k * 2654435761u,
			    exec_names[k % 6], k >> 16 & 255, k >> 8 & 255, k & 255, 30000 + k % 1000,
			    k % 3 ? "false" : "true", k % 7 ? "{\"version\":1}" : "\"handshake\"");
	}
	vbuf_puts(b, "]}");
}

static void make_cons(struct vbuf *b, int n, int base)
{
	vbuf_reset(b);
	vbuf_puts(b, "{\"data\":[");
	for (int i = 0; i < n; i++) {
		int k = base + i;

		vbuf_printf(b, "%s{\"peer_id\":\"16Uiu2HAm%044d\",\"enr\":\"\","
			    "\"last_seen_p2p_address\":\"/ip4/172.%d.%d.%d/tcp/9000/p2p/16Uiu2HAm%044d\","
			    "\"state\":\"connected\",\"direction\":\"%s\",\"agent\":\"%s\","
			    "\"proto\":\"eth2/1.0.0\"}",
			    i ? "," : "", k, k >> 16 & 255, k >> 8 & 255, k & 255, k,
			    k % 2 ? "inbound" : "outbound", cons_agents[k % 5]);
	}
	vbuf_printf(b, "],\"meta\":{\"count\":%d}}", n);
}

/* The benchmark's bodies as the stand-in node's fixture files. */
static int write_fixtures(const char *dir)
{
	struct vbuf b = VBUF_INIT;
	char path[4096];
	int rc = 0;

	for (int i = 0; i < 2 && !rc; i++) {
		FILE *f;

		(i ? make_cons : make_exec)(&b, 500, 0);
		snprintf(path, sizeof(path), "%s/%s", dir,
			 i ? "prysm_peers.json" : "geth_admin_peers.json");
		f = fopen(path, "w");
		if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f)) {
			fprintf(stderr, "bench_peers: cannot write %s: %s\n", path, strerror(errno));
			rc = 1;
		}
	}
	vbuf_free(&b);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int refreshes = argc > 1 ? atoi(argv[1]) : 300, warm = 20;
	struct vbuf eb = VBUF_INIT, cb = VBUF_INIT, out = VBUF_INIT;
	struct peers_tracker t;
	uint64_t *total, parse = 0, track = 0, table = 0, json = 0, bytes = 0;
	struct mem m_start = mem_now(), m_warm = { 0 };
	char err[PEERS_ERRLEN];
	int events = 0;

	if (argc == 3 && strcmp(argv[1], "--fixtures") == 0)
		return write_fixtures(argv[2]);
	if (refreshes < 1)
		refreshes = 1;
	peers_memory_setup(); /* as `vigil peers` does */
	total = calloc((size_t)refreshes, sizeof(*total));
	peers_tracker_init(&t);
	for (int r = -warm; r < refreshes; r++) {
		struct peers_snapshot s;
		struct peers_table_opts o = { .width = 160 };
		int base = (r + warm) * 10; /* 10 of 500 peers per side replaced each refresh */
		uint64_t t0, t1, t2, t3, t4;
		int rc;

		make_exec(&eb, 500, base);
		make_cons(&cb, 500, base);
		peers_snapshot_init(&s);
		t0 = now_ns();
		s.taken_ns = vtime_real_ns();
		s.side[0].enabled = s.side[0].up = s.side[1].enabled = s.side[1].up = true;
		rc = peers_parse_admin_peers(eb.data, eb.len, &s.peers, err, sizeof(err));
		if (!rc)
			rc = peers_parse_beacon_peers(cb.data, cb.len, PEERS_CONNECTED_ONLY, &s.peers,
						      err, sizeof(err));
		if (rc || s.peers.n != 1000) {
			fprintf(stderr, "bench_peers: parse failed (%zu peers): %s\n", s.peers.n, err);
			return 1;
		}
		t1 = now_ns();
		rc = peers_tracker_update(&t, &s.peers, 3, s.taken_ns, NULL, NULL);
		if (rc < 0)
			return 1;
		events += r >= 0 ? rc : 0;
		peers_sort(&s.peers, PEERS_SORT_CLIENT);
		t2 = now_ns();
		vbuf_reset(&out);
		peers_render_table(&out, &s, &o);
		t3 = now_ns();
		bytes = out.len;
		vbuf_reset(&out);
		peers_render_json(&out, &s);
		t4 = now_ns();
		peers_snapshot_free(&s);
		/* as `vigil peers` does after a refresh: bodies are not kept, the output buffer is */
		vbuf_free(&eb);
		vbuf_free(&cb);
		vbuf_reset(&out);
		peers_memory_release();
		if (r == -1)
			m_warm = mem_now();
		if (r < 0)
			continue;
		total[r] = t4 - t0;
		parse += t1 - t0;
		track += t2 - t1;
		table += t3 - t2;
		json += t4 - t3;
	}
	qsort(total, (size_t)refreshes, sizeof(*total), cmp_u64);
	uint64_t sum = parse + track + table + json;
	printf("bench_peers: %d refreshes of 1000 peers (500 execution + 500 consensus, 2%% churn)\n",
	       refreshes);
	printf("  per refresh: mean %.3f ms  p50 %.3f ms  p99 %.3f ms  max %.3f ms  (goal < 5 ms)\n",
	       (double)sum / refreshes / 1e6, (double)total[refreshes / 2] / 1e6,
	       (double)total[(size_t)(refreshes * 0.99)] / 1e6,
	       (double)total[refreshes - 1] / 1e6);
	printf("  parts (mean): parse %.3f ms  track+sort %.3f ms  table %.3f ms (%" PRIu64
	       " bytes)  json %.3f ms\n",
	       (double)parse / refreshes / 1e6, (double)track / refreshes / 1e6,
	       (double)table / refreshes / 1e6, bytes, (double)json / refreshes / 1e6);
	printf("  events: %d joins+leaves (expected %d)\n", events, refreshes * 40);
	printf("  memory (/proc/self/smaps_rollup; goal RSS < 10240 kB):\n");
	mem_print("start", m_start);
	mem_print("warm", m_warm);
	mem_print("end", mem_now());
	printf("  peak RSS %ld kB\n", rss_kb("VmHWM:"));
	peers_tracker_free(&t);
	vbuf_free(&eb);
	vbuf_free(&cb);
	vbuf_free(&out);
	free(total);
	return events == refreshes * 40 ? 0 : 1;
}
