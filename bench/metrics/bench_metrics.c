// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cost of a metric update on the hot path, in ns per update, against a baseline measured in the
 * same run (a relaxed atomic fetch_add on a plain counter: the floor any thread-safe counter
 * pays). Cases: cached child, lookup by two label values (vmetric_inc), lookup of a label set
 * past the cap (the "other" fold), histogram observe, and a render of 256 children.
 * Each case runs on 1 thread and on 2 threads updating the same child (cache-line contention).
 *
 *	build/bench/bench_metrics [iterations]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/log.h"
#include "vigil/metrics.h"

static long iters = 5000000;
static _Atomic uint64_t baseline_counter;
static struct vmetric *calls, *capped, *hist;
static struct vmetric_child *cached;

enum kind { BASELINE, CACHED, LOOKUP, FOLDED, OBSERVE };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *run(void *arg)
{
	enum kind k = (enum kind)(long)arg;
	static const char *const methods[] = { "eth_call", "eth_getBalance", "eth_blockNumber",
					       "eth_getLogs" };

	for (long i = 0; i < iters; i++) {
		switch (k) {
		case BASELINE:
			atomic_fetch_add_explicit(&baseline_counter, 1, memory_order_relaxed);
			break;
		case CACHED:
			vmetric_child_inc(cached);
			break;
		case LOOKUP:
			vmetric_inc(calls, methods[i & 3], "ok");
			break;
		case FOLDED:
			vmetric_inc(capped, methods[i & 3], "ok");
			break;
		case OBSERVE:
			vmetric_observe(hist, (double)(i & 1023) / 1000.0);
			break;
		}
	}
	return NULL;
}

static double measure(enum kind k, int threads)
{
	pthread_t th[2];
	uint64_t t0 = now_ns();

	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, run, (void *)(long)k);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	/* ns per update, all threads' updates counted */
	return (double)(now_ns() - t0) / ((double)iters * threads);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "baseline atomic add", "cached child inc",
					     "vmetric_inc (2 labels)", "vmetric_inc past the cap",
					     "histogram observe" };
	struct vmetrics *reg = vmetrics_new();
	struct vbuf b = VBUF_INIT;
	char v[32];
	uint64_t t0;

	if (argc > 1)
		iters = atol(argv[1]);
	vlog_setup(VLOG_ERROR, VLOG_TEXT);
	calls = vmetrics_counter(reg, "vigil_bench_calls_total", "calls", "method,status");
	capped = vmetrics_counter(reg, "vigil_bench_capped_total", "capped", "method,status");
	hist = vmetrics_histogram(reg, "vigil_bench_seconds", "latency", NULL, NULL, 0);
	if (!calls || !capped || !hist)
		return 1;
	cached = vmetric_child(calls, (const char *[]){ "eth_call", "ok" });
	vmetric_set_max_children(capped, 1);
	vmetric_inc(capped, "first", "ok"); /* fills the cap: the 4 methods fold */

	printf("%-28s %12s %12s\n", "case", "1 thread", "2 threads");
	for (int k = BASELINE; k <= OBSERVE; k++)
		printf("%-28s %9.1f ns %9.1f ns\n", names[k], measure(k, 1), measure(k, 2));

	for (int i = 0; i < 250; i++) {
		snprintf(v, sizeof(v), "method_%d", i);
		vmetric_inc(calls, v, "ok");
	}
	t0 = now_ns();
	for (int i = 0; i < 100; i++) {
		vbuf_reset(&b);
		vmetrics_render(reg, &b);
	}
	printf("%-28s %9.1f us (%zu bytes)\n", "render 256 children", (double)(now_ns() - t0) / 100e3,
	       b.len);
	vbuf_free(&b);
	vmetrics_free(reg);
	return 0;
}
