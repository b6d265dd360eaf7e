// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy propagation from an API change to N simulated agents (issue 6's goal: p99 <= 1 s with
 * N = 100). A real coordinator (temp SQLite file, 127.0.0.1:<port 0>, its loop in its own
 * thread) and N agent threads that each join, then loop like the real agent: long-poll
 * /api/v1/watch with the last revision, parse the snapshot, POST the applied revision to
 * /api/v1/nodes/<id>/status, watch again. Every agent uses mesh/client.c (libcurl), the code the
 * agent will use.
 *
 * The driver waits until all N watches are held, takes t0, replaces the policy with PUT
 * /api/v1/policy, and repeats CHANGES times. Two latencies per agent and change:
 *   received: t0 -> the agent has the snapshot with the new revision
 *   reported: t0 -> the coordinator acknowledged the agent's status report of that revision
 * The debounce (100 ms by default, as shipped) is part of the measured path.
 *
 *	build/bench/bench_mesh_propagation [agents=100] [changes=20] [debounce_ms=100]
 *
 * With VIGIL_MESH_TEST_DB=postgresql://... the store is that PostgreSQL database (its mesh_*
 * tables are dropped first).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/tests/coord_harness.h"
#include "vigil/log.h"

#define MAX_CHANGES 1000

struct agent {
	struct coord *k;
	unsigned idx;
	struct mesh_join_result j;
	uint64_t *recv_ns;   /* by revision offset */
	uint64_t *report_ns;
	int err;
};

static uint64_t base_rev;
static unsigned n_changes;
static atomic_bool stop;

static void *agent_main(void *arg)
{
	struct agent *a = arg;
	uint64_t rev = base_rev;

	while (!atomic_load(&stop)) {
		struct mesh_snapshot s;
		int err = mesh_client_watch(a->k->url, a->j.credential, rev, 5, &s);
		uint64_t now = vloop_now_ns();

		if (err) {
			a->err = err;
			break;
		}
		if (s.revision > rev) {
			uint64_t off = s.revision - base_rev;

			if (off <= n_changes)
				a->recv_ns[off] = now;
			rev = s.revision;
			if (mesh_client_report(a->k->url, a->j.credential, rev) == 0 &&
			    off <= n_changes)
				a->report_ns[off] = vloop_now_ns();
		}
		mesh_snapshot_free(&s);
	}
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static double pct(uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return (double)v[i < n ? i : n - 1] / 1e6;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 100;
	unsigned debounce_ms = argc > 3 ? (unsigned)atoi(argv[3]) : 100;
	uint64_t t0[MAX_CHANGES + 1] = { 0 };
	struct coord k = { 0 };
	struct agent *ag = NULL;
	pthread_t *th = NULL;
	uint64_t *recv = NULL, *rep = NULL;
	size_t nr = 0, np = 0, missing = 0;
	int ret = 1;

	n_changes = argc > 2 ? (unsigned)atoi(argv[2]) : 20;
	if (n < 1 || n > 2000 || n_changes < 1 || n_changes > MAX_CHANGES) {
		fprintf(stderr, "usage: %s [agents 1..2000] [changes 1..%d] [debounce_ms]\n",
			argv[0], MAX_CHANGES);
		return 2;
	}
	vlog_setup(VLOG_WARN, VLOG_TEXT);
	if (coord_start(&k, NULL, (uint64_t)debounce_ms * 1000000ull)) {
		fprintf(stderr, "cannot start the coordinator\n");
		return 1;
	}
	if (api(&k, ADMIN_TOKEN, "POST", "/api/v1/identities", "{\"name\":\"web\"}", NULL) != 201 ||
	    api(&k, ADMIN_TOKEN, "POST", "/api/v1/identities", "{\"name\":\"db\"}", NULL) != 201) {
		fprintf(stderr, "cannot create identities\n");
		goto out;
	}
	ag = calloc(n, sizeof(*ag));
	th = calloc(n, sizeof(*th));
	recv = calloc((size_t)n * n_changes, sizeof(*recv));
	rep = calloc((size_t)n * n_changes, sizeof(*rep));
	if (!ag || !th || !recv || !rep)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		char key[MESH_PUBKEY_LEN + 1], ep[32];

		test_pubkey(i + 1, key);
		snprintf(ep, sizeof(ep), "192.0.2.%u:%u", i % 250 + 1, 51820 + i / 250);
		ag[i].k = &k;
		ag[i].idx = i;
		ag[i].recv_ns = calloc(n_changes + 1, sizeof(uint64_t));
		ag[i].report_ns = calloc(n_changes + 1, sizeof(uint64_t));
		if (mesh_client_join(k.url, JOIN_TOKEN, key, ep, i % 2 ? "web" : "db", &ag[i].j)) {
			fprintf(stderr, "agent %u cannot join\n", i);
			goto out;
		}
	}
	base_rev = mesh_coord_revision(k.c);
	/* Agents start from the current revision: they have joined and applied it. */
	for (unsigned i = 0; i < n; i++)
		pthread_create(&th[i], NULL, agent_main, &ag[i]);
	for (unsigned c = 1; c <= n_changes; c++) {
		char body[96];
		int wait;

		/* All N watches held (agents that reported the last change re-armed theirs). */
		for (wait = 0; wait < 1000 && mesh_coord_watchers(k.c) < n; wait++)
			usleep(5000);
		usleep(50000 + (unsigned)(rand() % 100) * 1000);
		snprintf(body, sizeof(body), "allow web -> db tcp/%u\n", 1000 + c);
		t0[c] = vloop_now_ns();
		if (api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", body, NULL) != 200) {
			fprintf(stderr, "change %u refused\n", c);
			goto out;
		}
		if (mesh_coord_revision(k.c) != base_rev + c) {
			fprintf(stderr, "unexpected revision after change %u\n", c);
			goto out;
		}
	}
	/* Let the last change land everywhere, then stop the agents (their watches end <= 5 s). */
	for (int wait = 0; wait < 400; wait++) {
		unsigned done = 0;

		for (unsigned i = 0; i < n; i++)
			done += ag[i].report_ns[n_changes] != 0;
		if (done == n)
			break;
		usleep(10000);
	}
	atomic_store(&stop, true);
	/* Wake every watch so the threads see stop at once. */
	api(&k, ADMIN_TOKEN, "PUT", "/api/v1/policy", "deny * -> * any\n", NULL);
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < n; i++) {
		if (ag[i].err)
			fprintf(stderr, "agent %u stopped with %s\n", i, strerror(-ag[i].err));
		for (unsigned c = 1; c <= n_changes; c++) {
			/* A busy agent may skip a revision: count the later one it got. */
			uint64_t r = ag[i].recv_ns[c], p = ag[i].report_ns[c];

			for (unsigned d = c + 1; !r && d <= n_changes; d++)
				r = ag[i].recv_ns[d], p = ag[i].report_ns[d];
			if (!r) {
				missing++;
				continue;
			}
			recv[nr++] = r - t0[c];
			if (p)
				rep[np++] = p - t0[c];
		}
	}
	qsort(recv, nr, sizeof(*recv), cmp_u64);
	qsort(rep, np, sizeof(*rep), cmp_u64);
	{
		/* The machine's load says how far these figures are from an idle coordinator. */
		char load[64] = "?";
		FILE *f = fopen("/proc/loadavg", "r");

		if (f) {
			if (!fgets(load, sizeof(load), f))
				snprintf(load, sizeof(load), "?");
			fclose(f);
			load[strcspn(load, " ")] = 0;
		}
		printf("mesh propagation: %u agents, %u changes, debounce %u ms, %s store, loopback "
		       "HTTP/1.1 long-poll, load average %s on %ld CPUs\n", n, n_changes,
		       debounce_ms, getenv("VIGIL_MESH_TEST_DB") ? "PostgreSQL" : "SQLite", load,
		       sysconf(_SC_NPROCESSORS_ONLN));
	}
	if (nr)
		printf("  received: n=%zu p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n", nr,
		       pct(recv, nr, 50), pct(recv, nr, 90), pct(recv, nr, 99), pct(recv, nr, 100));
	if (np)
		printf("  reported: n=%zu p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n", np,
		       pct(rep, np, 50), pct(rep, np, 90), pct(rep, np, 99), pct(rep, np, 100));
	printf("  missing: %zu of %zu; goal p99 <= 1000 ms: %s\n", missing,
	       (size_t)n * n_changes, nr && !missing && pct(recv, nr, 99) <= 1000.0 ? "met"
										: "NOT met");
	ret = nr && !missing ? 0 : 1;
out:
	coord_cleanup(&k);
	for (unsigned i = 0; ag && i < n; i++) {
		free(ag[i].recv_ns);
		free(ag[i].report_ns);
	}
	free(ag);
	free(th);
	free(recv);
	free(rep);
	return ret;
}
