/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Prometheus metrics: a registry of counters, gauges and histograms rendered in the text
 * exposition format 0.0.4 (served on /metrics by http.h).
 *
 * Metrics are created once at start-up and updated from any thread. A metric with label names
 * ("method,status") has one child per label-value set; looking a child up costs a hash of the
 * values and no lock, and the returned pointer stays valid until vmetrics_free(), so a hot path
 * caches it:
 *
 *	struct vmetric *calls = vmetrics_counter(reg, "vigil_rpc_calls_total", "RPC calls",
 *						 "method,status");
 *	vmetric_inc(calls, "eth_call", "ok");			  // lookup + update
 *	struct vmetric_child *c = vmetric_child(calls, (const char *[]){ "eth_call", "ok" });
 *	vmetric_child_inc(c);					  // cached: one atomic add
 *
 * Cardinality is capped per metric (VMETRIC_DEFAULT_MAX_CHILDREN label sets unless
 * vmetric_set_max_children() says otherwise). Past the cap a new label set is folded into one
 * child whose every label value is "other", and vigil_metrics_label_overflow_total{metric="..."}
 * counts each folded lookup (each vmetric_inc/add/set/observe through the macros is one lookup).
 * Label values longer than VMETRIC_MAX_VALUE_LEN bytes are cut there, so garbage values cannot
 * grow memory past cap * that length.
 *
 * Collect callbacks run before each render, on the rendering thread, to copy values that live
 * elsewhere (per-CPU BPF map counters, bus statistics) into metrics.
 */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/buf.h"

struct vmetrics;
struct vmetric;
struct vmetric_child;

enum vmetric_type { VMETRIC_COUNTER, VMETRIC_GAUGE, VMETRIC_HISTOGRAM };

#define VMETRIC_DEFAULT_MAX_CHILDREN 256
#define VMETRIC_MAX_LABELS	     8
#define VMETRIC_MAX_VALUE_LEN	     256
#define VMETRIC_MAX_BUCKETS	     64
/* The label value every label of the overflow child carries. */
#define VMETRIC_OTHER "other"

/* Content type of vmetrics_render()'s output. */
#define VMETRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* An empty registry holding only vigil_metrics_label_overflow_total. NULL and errno on failure. */
struct vmetrics *vmetrics_new(void);
/* Frees the registry, its metrics and children: every pointer into it becomes invalid. */
void vmetrics_free(struct vmetrics *reg);

/*
 * Creates a metric. @name must match [a-zA-Z_:][a-zA-Z0-9_:]*, @labels is NULL/"" or a
 * comma-separated list of distinct names matching [a-zA-Z_][a-zA-Z0-9_]* that do not start with
 * "__" (histograms may not use "le"), at most VMETRIC_MAX_LABELS. @help is copied.
 * Returns NULL with errno EINVAL (bad name, labels or buckets), EEXIST (name taken) or ENOMEM.
 * The registry owns the metric.
 */
struct vmetric *vmetrics_counter(struct vmetrics *reg, const char *name, const char *help,
				 const char *labels);
struct vmetric *vmetrics_gauge(struct vmetrics *reg, const char *name, const char *help,
			       const char *labels);
/* @bounds: @n strictly increasing finite upper bounds (1..VMETRIC_MAX_BUCKETS); +Inf is implied.
 * NULL bounds select vmetric_default_buckets (0.005 s .. 10 s, Prometheus' defaults). */
struct vmetric *vmetrics_histogram(struct vmetrics *reg, const char *name, const char *help,
				   const char *labels, const double *bounds, size_t n);
extern const double vmetric_default_buckets[11];

/* Changes the cap on label sets (>= 1). Lowering it below the current count only stops growth;
 * raising it lets new sets be created again. 0 or -EINVAL. */
int vmetric_set_max_children(struct vmetric *m, unsigned max_children);

/*
 * Runs @cb(reg, ctx) at the start of every vmetrics_render(), in registration order, on the
 * rendering thread (the HTTP server's loop thread for /metrics), never two at once. A callback
 * may create and update metrics. 0, -EINVAL or -ENOMEM.
 */
typedef void (*vmetrics_collect_fn)(struct vmetrics *reg, void *ctx);
int vmetrics_on_collect(struct vmetrics *reg, vmetrics_collect_fn cb, void *ctx);

/* Appends the whole registry to @out in text format 0.0.4. 0 or -ENOMEM. Thread-safe. */
int vmetrics_render(struct vmetrics *reg, struct vbuf *out);

/*
 * The child for one label-value set: @values holds exactly as many strings as the metric has
 * labels (a NULL string counts as "", a NULL @values as all ""); for a metric without labels
 * @values is ignored.
 * Never allocates once the set exists; past the cap returns the "other" child. NULL only if
 * allocation failed (the updates below accept NULL and do nothing).
 */
struct vmetric_child *vmetric_child(struct vmetric *m, const char *const *values);
/* The same with a count, checked against the metric's label count (NULL and a logged error on
 * mismatch: a programming error). The macros below use it. */
struct vmetric_child *vmetric_childn(struct vmetric *m, const char *const *values, size_t n);

/* Updates. Counters ignore negative and NaN additions; set on a counter is for collect callbacks
 * copying a cumulative value kept elsewhere. observe is for histograms only. */
void vmetric_child_inc(struct vmetric_child *c);
void vmetric_child_add(struct vmetric_child *c, double v);
void vmetric_child_add_u64(struct vmetric_child *c, uint64_t v);
void vmetric_child_set(struct vmetric_child *c, double v);
void vmetric_child_set_u64(struct vmetric_child *c, uint64_t v);
void vmetric_child_observe(struct vmetric_child *c, double v);
/* Current value: counter/gauge value, histogram observation count. */
double vmetric_child_get(const struct vmetric_child *c);

const char *vmetric_name(const struct vmetric *m);
enum vmetric_type vmetric_type(const struct vmetric *m);
/* Label sets currently held (the overflow child included). */
size_t vmetric_children(struct vmetric *m);

/* Lookup-and-update in one call; label values follow as string arguments:
 *	vmetric_add(m, 1.5, "eth_call", "ok");	vmetric_inc(unlabelled);   */
#define VMETRIC__VALUES(...) ((const char *const[]){ NULL, ##__VA_ARGS__ } + 1)
#define VMETRIC__NVALUES(...) (sizeof((const char *const[]){ NULL, ##__VA_ARGS__ }) / sizeof(char *) - 1)
#define VMETRIC__CHILD(m, ...) vmetric_childn(m, VMETRIC__VALUES(__VA_ARGS__), VMETRIC__NVALUES(__VA_ARGS__))
#define vmetric_inc(m, ...)	    vmetric_child_inc(VMETRIC__CHILD(m, ##__VA_ARGS__))
#define vmetric_add(m, v, ...)	    vmetric_child_add(VMETRIC__CHILD(m, ##__VA_ARGS__), v)
#define vmetric_set(m, v, ...)	    vmetric_child_set(VMETRIC__CHILD(m, ##__VA_ARGS__), v)
#define vmetric_observe(m, v, ...) vmetric_child_observe(VMETRIC__CHILD(m, ##__VA_ARGS__), v)

#endif
