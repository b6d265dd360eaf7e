// SPDX-License-Identifier: GPL-2.0-only
/*
 * The metrics registry; see include/vigil/metrics.h.
 *
 * Concurrency. Values are C11 atomics updated with relaxed ordering: a counter's integer part with
 * fetch_add (the common, cheapest case), doubles (gauges, fractional counter adds, histogram sums)
 * with a compare-and-swap loop on their bit pattern. Histograms keep per-bucket counts and derive
 * _count from them at render time, so _count always equals the +Inf bucket.
 *
 * Child lookup is lock-free: an open-addressing table of child pointers that only grows. Inserts
 * happen under the metric's mutex and publish the child with a release store; a grown table
 * replaces the old one with a release store and the old one is kept (retired) until the metric is
 * freed, so a reader still walking it reads valid, merely older, data and falls back to the
 * locked path on a miss. Children are never removed, which is what makes this safe.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/log.h"
#include "vigil/metrics.h"

#define OVERFLOW_NAME "vigil_metrics_label_overflow_total"
#define TABLE_MIN     8

const double vmetric_default_buckets[11] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					     0.5,   1,	   2.5,	  5,	10 };

struct vmetric_child {
	struct vmetric *m;
	uint64_t hash;
	_Atomic uint64_t u;	  /* counter: integer part */
	_Atomic uint64_t d;	  /* bits of a double: gauge value, counter fraction, histogram sum */
	const char **values;	  /* nlabels strings, in the same allocation */
	_Atomic uint64_t *counts; /* histogram: nbounds + 1 non-cumulative bucket counts */
};

struct table {
	size_t mask;
	_Atomic(struct vmetric_child *) *slots;
	struct table *retired_next;
};

struct vmetric {
	struct vmetrics *reg;
	enum vmetric_type type;
	char *name, *help;
	size_t nlabels;
	char *labels[VMETRIC_MAX_LABELS];
	size_t nbounds;
	double *bounds;

	struct vmetric_child *only;	      /* metrics without labels */
	_Atomic(struct table *) table;	      /* labelled metrics */
	struct table *retired;
	pthread_mutex_t lock;		      /* inserts, children[] and the fields below */
	struct vmetric_child **children;      /* creation order, for rendering */
	size_t nchildren, children_cap;
	unsigned max_children;
	_Atomic(struct vmetric_child *) other; /* set once the cap is reached */
	struct vmetric_child *overflow;	       /* our child of the overflow counter */
	bool warned;			       /* cap reached was logged */
	atomic_bool warned_args;	       /* a wrong label count was logged */

	struct vmetric *next;
};

struct collector {
	vmetrics_collect_fn cb;
	void *ctx;
	struct collector *next;
};

struct vmetrics {
	pthread_mutex_t render_lock; /* one render (and its collectors) at a time */
	pthread_mutex_t lock;	     /* the metric and collector lists */
	struct vmetric *head, **tail;
	struct collector *collectors, **ctail;
	struct vmetric *overflow;
};

/* ---- atomics on doubles ---- */

static inline double bits_to_d(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static inline uint64_t d_to_bits(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

static inline void atomic_add_double(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old, d_to_bits(bits_to_d(old) + v),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

/* ---- names ---- */

static bool valid_name(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (colon && c == ':') || (p != s && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

/* Splits "a,b" into m->labels; false on any invalid, reserved or duplicate name. */
static bool parse_labels(struct vmetric *m, const char *labels)
{
	const char *p = labels;

	if (!labels || !*labels)
		return true;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *name;

		if (m->nlabels == VMETRIC_MAX_LABELS)
			return false;
		name = strndup(p, len);
		if (!name)
			return false;
		m->labels[m->nlabels++] = name;
		if (!valid_name(name, false) || strncmp(name, "__", 2) == 0 ||
		    (m->type == VMETRIC_HISTOGRAM && strcmp(name, "le") == 0))
			return false;
		for (size_t i = 0; i + 1 < m->nlabels; i++)
			if (strcmp(m->labels[i], name) == 0)
				return false;
		if (!end)
			return true;
		p = end + 1;
	}
}

/* ---- children ---- */

static size_t value_len(const char *v)
{
	return v ? strnlen(v, VMETRIC_MAX_VALUE_LEN) : 0;
}

static uint64_t hash_values(const struct vmetric *m, const char *const *values)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < m->nlabels; i++) {
		const char *v = values[i] ? values[i] : "";
		size_t n = value_len(v);

		for (size_t j = 0; j < n; j++)
			h = (h ^ (unsigned char)v[j]) * 0x100000001b3ull;
		h = (h ^ 0xff) * 0x100000001b3ull; /* separator: ("ab","") != ("a","b") */
	}
	return h;
}

static bool same_values(const struct vmetric_child *c, const char *const *values)
{
	for (size_t i = 0; i < c->m->nlabels; i++) {
		const char *v = values[i] ? values[i] : "";
		size_t n = value_len(v);

		if (strncmp(c->values[i], v, n) != 0 || c->values[i][n] != 0)
			return false;
	}
	return true;
}

/* One allocation: child, value pointers, bucket counts, value bytes. Values cut at
 * VMETRIC_MAX_VALUE_LEN. */
static struct vmetric_child *child_new(struct vmetric *m, const char *const *values, uint64_t hash)
{
	size_t nb = m->type == VMETRIC_HISTOGRAM ? m->nbounds + 1 : 0;
	size_t size = sizeof(struct vmetric_child) + m->nlabels * sizeof(char *) +
		      nb * sizeof(_Atomic uint64_t);
	size_t off_vals = size;
	struct vmetric_child *c;
	char *p;

	for (size_t i = 0; i < m->nlabels; i++)
		size += value_len(values[i]) + 1;
	c = calloc(1, size);
	if (!c)
		return NULL;
	c->m = m;
	c->hash = hash;
	c->values = (const char **)(c + 1);
	c->counts = nb ? (_Atomic uint64_t *)(c->values + m->nlabels) : NULL;
	p = (char *)c + off_vals;
	for (size_t i = 0; i < m->nlabels; i++) {
		size_t n = value_len(values[i]);

		if (n)
			memcpy(p, values[i], n);
		p[n] = 0;
		c->values[i] = p;
		p += n + 1;
	}
	for (size_t i = 0; i < nb; i++)
		atomic_init(&c->counts[i], 0);
	atomic_init(&c->u, 0);
	atomic_init(&c->d, d_to_bits(0.0));
	return c;
}

static struct vmetric_child *table_find(struct table *t, const char *const *values, uint64_t h)
{
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		struct vmetric_child *c = atomic_load_explicit(&t->slots[i], memory_order_acquire);

		if (!c)
			return NULL;
		if (c->hash == h && same_values(c, values))
			return c;
	}
}

static struct table *table_new(size_t nslots)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->slots = calloc(nslots, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	t->mask = nslots - 1;
	return t;
}

static void table_put(struct table *t, struct vmetric_child *c)
{
	size_t i = c->hash & t->mask;

	while (atomic_load_explicit(&t->slots[i], memory_order_relaxed))
		i = (i + 1) & t->mask;
	atomic_store_explicit(&t->slots[i], c, memory_order_release);
}

/* Adds @c to the table (growing it at half load) and to children[]. Caller holds m->lock. */
static int insert_child(struct vmetric *m, struct vmetric_child *c)
{
	struct table *t = atomic_load_explicit(&m->table, memory_order_relaxed);

	if (m->nchildren == m->children_cap) {
		size_t cap = m->children_cap ? m->children_cap * 2 : 8;
		struct vmetric_child **n = realloc(m->children, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		m->children = n;
		m->children_cap = cap;
	}
	if (!t || (m->nchildren + 1) * 2 > t->mask + 1) {
		struct table *nt = table_new(t ? (t->mask + 1) * 2 : TABLE_MIN);

		if (!nt)
			return -ENOMEM;
		for (size_t i = 0; i < m->nchildren; i++)
			table_put(nt, m->children[i]);
		atomic_store_explicit(&m->table, nt, memory_order_release);
		if (t) {
			t->retired_next = m->retired;
			m->retired = t;
		}
		t = nt;
	}
	table_put(t, c);
	m->children[m->nchildren++] = c;
	return 0;
}

static struct vmetric_child *find_or_insert(struct vmetric *m, const char *const *values,
					    uint64_t h)
{
	struct table *t = atomic_load_explicit(&m->table, memory_order_acquire);
	struct vmetric_child *c = t ? table_find(t, values, h) : NULL;

	if (c)
		return c;
	c = child_new(m, values, h);
	if (c && insert_child(m, c)) {
		free(c);
		c = NULL;
	}
	return c;
}

/*
 * The cap was reached: make sure the "other" child exists (it may be an ordinary child already,
 * if someone used "other" everywhere), and our child of the overflow counter. Caller holds
 * m->lock.
 */
static struct vmetric_child *make_other(struct vmetric *m)
{
	const char *vals[VMETRIC_MAX_LABELS];
	struct vmetric_child *o;

	for (size_t i = 0; i < m->nlabels; i++)
		vals[i] = VMETRIC_OTHER;
	o = find_or_insert(m, vals, hash_values(m, vals));
	if (!o)
		return NULL;
	if (!m->overflow && m->reg->overflow && m != m->reg->overflow) {
		const char *name = m->name;
		m->overflow = vmetric_child(m->reg->overflow, &name);
	}
	if (!m->warned) {
		m->warned = true;
		log_warn("metrics", "%s: reached its cap of %u label sets; further new ones count under "
			 "\"%s\" (see %s)", m->name, m->max_children, VMETRIC_OTHER, OVERFLOW_NAME);
	}
	atomic_store_explicit(&m->other, o, memory_order_release);
	return o;
}

static struct vmetric_child *fold(struct vmetric *m, struct vmetric_child *other)
{
	if (m->overflow)
		vmetric_child_inc(m->overflow);
	return other;
}

/*
 * Lock-free when the set exists; otherwise creates it under the metric's lock, or folds it into
 * the "other" child once max_children sets exist (without taking the lock once the cap is known
 * to be reached, so a stream of garbage values costs a hash and a table probe, no more).
 */
struct vmetric_child *vmetric_child(struct vmetric *m, const char *const *values)
{
	struct vmetric_child *c, *other;
	struct table *t;
	uint64_t h;

	static const char *const empty[] = { "", "", "", "", "", "", "", "" };
	_Static_assert(sizeof(empty) / sizeof(empty[0]) == VMETRIC_MAX_LABELS, "one per label");

	if (!m)
		return NULL;
	if (!m->nlabels)
		return m->only;
	if (!values)
		values = empty;
	h = hash_values(m, values);
	t = atomic_load_explicit(&m->table, memory_order_acquire);
	if (t && (c = table_find(t, values, h)))
		return c;
	other = atomic_load_explicit(&m->other, memory_order_acquire);
	if (other)
		return fold(m, other);

	pthread_mutex_lock(&m->lock);
	t = atomic_load_explicit(&m->table, memory_order_relaxed);
	c = t ? table_find(t, values, h) : NULL;
	if (!c) {
		other = atomic_load_explicit(&m->other, memory_order_relaxed);
		if (!other && m->nchildren >= m->max_children)
			other = make_other(m);
		if (other) {
			c = fold(m, other);
		} else {
			c = find_or_insert(m, values, h);
			if (c && m->nchildren >= m->max_children)
				make_other(m); /* the next new set folds without the lock */
		}
	}
	pthread_mutex_unlock(&m->lock);
	return c;
}

struct vmetric_child *vmetric_childn(struct vmetric *m, const char *const *values, size_t n)
{
	if (m && n != m->nlabels) {
		if (!atomic_exchange(&m->warned_args, true))
			log_error("metrics", "%s: updated with %zu label values, it has %zu labels "
				  "(a bug in the caller; the update is dropped)", m->name, n,
				  m->nlabels);
		return NULL;
	}
	return vmetric_child(m, values);
}

int vmetric_set_max_children(struct vmetric *m, unsigned max_children)
{
	if (!m || !max_children)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	m->max_children = max_children;
	/* raised above the current count: new sets may be created again (lookups see that after
	 * their lock-free miss, on the locked path) */
	if (m->nchildren < max_children)
		atomic_store_explicit(&m->other, NULL, memory_order_release);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* ---- updates ---- */

void vmetric_child_inc(struct vmetric_child *c)
{
	vmetric_child_add_u64(c, 1);
}

void vmetric_child_add_u64(struct vmetric_child *c, uint64_t v)
{
	if (!c)
		return;
	if (c->m->type == VMETRIC_COUNTER)
		atomic_fetch_add_explicit(&c->u, v, memory_order_relaxed);
	else if (c->m->type == VMETRIC_GAUGE)
		atomic_add_double(&c->d, (double)v);
}

void vmetric_child_add(struct vmetric_child *c, double v)
{
	if (!c)
		return;
	if (c->m->type == VMETRIC_COUNTER) {
		if (!(v >= 0)) /* negative or NaN */
			return;
		if (v < 18446744073709551616.0 && v == (double)(uint64_t)v)
			atomic_fetch_add_explicit(&c->u, (uint64_t)v, memory_order_relaxed);
		else
			atomic_add_double(&c->d, v);
	} else if (c->m->type == VMETRIC_GAUGE) {
		atomic_add_double(&c->d, v);
	}
}

void vmetric_child_set(struct vmetric_child *c, double v)
{
	if (!c)
		return;
	if (c->m->type == VMETRIC_COUNTER) {
		if (v >= 0 && v < 18446744073709551616.0 && v == (double)(uint64_t)v) {
			vmetric_child_set_u64(c, (uint64_t)v);
		} else if (v >= 0) {
			atomic_store_explicit(&c->u, 0, memory_order_relaxed);
			atomic_store_explicit(&c->d, d_to_bits(v), memory_order_relaxed);
		}
	} else if (c->m->type == VMETRIC_GAUGE) {
		atomic_store_explicit(&c->d, d_to_bits(v), memory_order_relaxed);
	}
}

void vmetric_child_set_u64(struct vmetric_child *c, uint64_t v)
{
	if (!c)
		return;
	if (c->m->type == VMETRIC_COUNTER) {
		atomic_store_explicit(&c->u, v, memory_order_relaxed);
		atomic_store_explicit(&c->d, d_to_bits(0.0), memory_order_relaxed);
	} else if (c->m->type == VMETRIC_GAUGE) {
		atomic_store_explicit(&c->d, d_to_bits((double)v), memory_order_relaxed);
	}
}

/* Finds the first bucket whose bound is >= v (binary search); NaN is dropped. */
void vmetric_child_observe(struct vmetric_child *c, double v)
{
	size_t lo = 0, hi;

	if (!c || c->m->type != VMETRIC_HISTOGRAM || isnan(v))
		return;
	hi = c->m->nbounds;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v <= c->m->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	atomic_fetch_add_explicit(&c->counts[lo], 1, memory_order_relaxed);
	atomic_add_double(&c->d, v);
}

static uint64_t hist_count(const struct vmetric_child *c)
{
	uint64_t n = 0;

	for (size_t i = 0; i <= c->m->nbounds; i++)
		n += atomic_load_explicit(&c->counts[i], memory_order_relaxed);
	return n;
}

double vmetric_child_get(const struct vmetric_child *c)
{
	if (!c)
		return 0;
	switch (c->m->type) {
	case VMETRIC_COUNTER:
		return (double)atomic_load_explicit(&c->u, memory_order_relaxed) +
		       bits_to_d(atomic_load_explicit(&c->d, memory_order_relaxed));
	case VMETRIC_GAUGE:
		return bits_to_d(atomic_load_explicit(&c->d, memory_order_relaxed));
	case VMETRIC_HISTOGRAM:
		return (double)hist_count(c);
	}
	return 0;
}

const char *vmetric_name(const struct vmetric *m)
{
	return m->name;
}

enum vmetric_type vmetric_type(const struct vmetric *m)
{
	return m->type;
}

size_t vmetric_children(struct vmetric *m)
{
	size_t n;

	if (!m->nlabels)
		return 1;
	pthread_mutex_lock(&m->lock);
	n = m->nchildren;
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* ---- registry ---- */

static void metric_free(struct vmetric *m)
{
	struct table *t;

	if (!m)
		return;
	free(m->only);
	for (size_t i = 0; i < m->nchildren; i++)
		free(m->children[i]);
	free(m->children);
	t = atomic_load_explicit(&m->table, memory_order_relaxed);
	if (t) {
		t->retired_next = m->retired;
		m->retired = t;
	}
	while (m->retired) {
		t = m->retired->retired_next;
		free(m->retired->slots);
		free(m->retired);
		m->retired = t;
	}
	for (size_t i = 0; i < m->nlabels; i++)
		free(m->labels[i]);
	pthread_mutex_destroy(&m->lock);
	free(m->bounds);
	free(m->name);
	free(m->help);
	free(m);
}

/* Validates and links a new metric; on failure frees what it built and sets errno. */
static struct vmetric *metric_new(struct vmetrics *reg, enum vmetric_type type, const char *name,
				  const char *help, const char *labels, const double *bounds,
				  size_t nbounds)
{
	struct vmetric *m;
	int err = EINVAL;

	if (!reg || !valid_name(name, true)) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->reg = reg;
	m->type = type;
	m->max_children = VMETRIC_DEFAULT_MAX_CHILDREN;
	pthread_mutex_init(&m->lock, NULL);
	if (!parse_labels(m, labels))
		goto fail;
	if (type == VMETRIC_HISTOGRAM) {
		if (!bounds) {
			bounds = vmetric_default_buckets;
			nbounds = sizeof(vmetric_default_buckets) / sizeof(double);
		}
		if (nbounds < 1 || nbounds > VMETRIC_MAX_BUCKETS)
			goto fail;
		for (size_t i = 0; i < nbounds; i++)
			if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
				goto fail;
		m->bounds = malloc(nbounds * sizeof(double));
		err = ENOMEM;
		if (!m->bounds)
			goto fail;
		memcpy(m->bounds, bounds, nbounds * sizeof(double));
		m->nbounds = nbounds;
	}
	err = ENOMEM;
	m->name = strdup(name);
	m->help = strdup(help ? help : "");
	if (!m->name || !m->help)
		goto fail;
	if (!m->nlabels) {
		m->only = child_new(m, NULL, 0);
		if (!m->only)
			goto fail;
	}
	pthread_mutex_lock(&reg->lock);
	for (struct vmetric *o = reg->head; o; o = o->next) {
		if (strcmp(o->name, name) == 0) {
			pthread_mutex_unlock(&reg->lock);
			err = EEXIST;
			goto fail;
		}
	}
	*reg->tail = m;
	reg->tail = &m->next;
	pthread_mutex_unlock(&reg->lock);
	return m;
fail:
	metric_free(m);
	errno = err;
	return NULL;
}

struct vmetric *vmetrics_counter(struct vmetrics *reg, const char *name, const char *help,
				 const char *labels)
{
	return metric_new(reg, VMETRIC_COUNTER, name, help, labels, NULL, 0);
}

struct vmetric *vmetrics_gauge(struct vmetrics *reg, const char *name, const char *help,
			       const char *labels)
{
	return metric_new(reg, VMETRIC_GAUGE, name, help, labels, NULL, 0);
}

struct vmetric *vmetrics_histogram(struct vmetrics *reg, const char *name, const char *help,
				   const char *labels, const double *bounds, size_t n)
{
	return metric_new(reg, VMETRIC_HISTOGRAM, name, help, labels, bounds, n);
}

struct vmetrics *vmetrics_new(void)
{
	struct vmetrics *reg = calloc(1, sizeof(*reg));
	int err;

	if (!reg)
		return NULL;
	pthread_mutex_init(&reg->lock, NULL);
	pthread_mutex_init(&reg->render_lock, NULL);
	reg->tail = &reg->head;
	reg->ctail = &reg->collectors;
	reg->overflow = vmetrics_counter(reg, OVERFLOW_NAME,
					 "Updates whose new label set was past the metric's cap "
					 "and was counted under label values \"other\".",
					 "metric");
	if (!reg->overflow) {
		err = errno;
		vmetrics_free(reg);
		errno = err;
		return NULL;
	}
	/* one label set per metric: effectively unbounded */
	reg->overflow->max_children = 1u << 20;
	return reg;
}

void vmetrics_free(struct vmetrics *reg)
{
	if (!reg)
		return;
	while (reg->head) {
		struct vmetric *n = reg->head->next;
		metric_free(reg->head);
		reg->head = n;
	}
	while (reg->collectors) {
		struct collector *n = reg->collectors->next;
		free(reg->collectors);
		reg->collectors = n;
	}
	pthread_mutex_destroy(&reg->lock);
	pthread_mutex_destroy(&reg->render_lock);
	free(reg);
}

int vmetrics_on_collect(struct vmetrics *reg, vmetrics_collect_fn cb, void *ctx)
{
	struct collector *c;

	if (!reg || !cb)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cb = cb;
	c->ctx = ctx;
	pthread_mutex_lock(&reg->lock);
	*reg->ctail = c;
	reg->ctail = &c->next;
	pthread_mutex_unlock(&reg->lock);
	return 0;
}

/* ---- exposition format ---- */

/* The output buffer with a sticky error, so rendering code need not check every append. */
struct out {
	struct vbuf *b;
	int err;
};

static void o_append(struct out *o, const void *p, size_t n)
{
	if (!o->err)
		o->err = vbuf_append(o->b, p, n);
}

static void o_puts(struct out *o, const char *s)
{
	o_append(o, s, strlen(s));
}

static void o_putc(struct out *o, char c)
{
	o_append(o, &c, 1);
}

static void o_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void o_printf(struct out *o, const char *fmt, ...)
{
	char s[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(s)) {
		/* only names and numbers go through here, all far shorter */
		o->err = -E2BIG;
		return;
	}
	o_append(o, s, (size_t)n);
}

/* Floats as Prometheus reads them: shortest of %.15g/%.17g that round-trips, +Inf/-Inf/NaN. */
static const char *fmt_double(char *s, size_t n, double v)
{
	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	snprintf(s, n, "%.15g", v);
	if (strtod(s, NULL) != v)
		snprintf(s, n, "%.17g", v);
	return s;
}

static void put_double(struct out *b, double v)
{
	char s[40];

	o_puts(b, fmt_double(s, sizeof(s), v));
}

/*
 * Escapes per the text format: backslash and newline always, double quote inside label values.
 * Invalid UTF-8 becomes U+FFFD, so whatever bytes a traced process sent, the page stays valid.
 */
static void put_escaped(struct out *b, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n) {
		size_t run = 0, l;

		while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '\\' &&
		       p[run] != '"')
			run++;
		if (run) {
			o_append(b, p, run);
			p += run;
			n -= run;
			continue;
		}
		if (*p == '\\') {
			o_puts(b, "\\\\");
			l = 1;
		} else if (*p == '\n') {
			o_puts(b, "\\n");
			l = 1;
		} else if (*p == '"') {
			o_puts(b, quote ? "\\\"" : "\"");
			l = 1;
		} else if ((l = vutf8_len(p, n))) {
			o_append(b, p, l);
		} else {
			o_puts(b, "\xef\xbf\xbd");
			l = 1;
		}
		p += l;
		n -= l;
	}
}

/* name{a="x",b="y"[,le="..."]} */
static void put_series(struct out *b, const struct vmetric *m, const char *suffix,
		       const struct vmetric_child *c, const char *le)
{
	bool any = m->nlabels || le;

	o_puts(b, m->name);
	o_puts(b, suffix);
	if (!any)
		return;
	o_putc(b, '{');
	for (size_t i = 0; i < m->nlabels; i++) {
		o_printf(b, "%s%s=\"", i ? "," : "", m->labels[i]);
		put_escaped(b, c->values[i], true);
		o_putc(b, '"');
	}
	if (le)
		o_printf(b, "%sle=\"%s\"", m->nlabels ? "," : "", le);
	o_putc(b, '}');
}

static void render_child(struct out *b, const struct vmetric *m, const struct vmetric_child *c)
{
	uint64_t u, cum = 0;
	double d;

	switch (m->type) {
	case VMETRIC_COUNTER:
		put_series(b, m, "", c, NULL);
		u = atomic_load_explicit(&c->u, memory_order_relaxed);
		d = bits_to_d(atomic_load_explicit(&c->d, memory_order_relaxed));
		if (d == 0) {
			o_printf(b, " %llu\n", (unsigned long long)u);
		} else {
			o_putc(b, ' ');
			put_double(b, (double)u + d);
			o_putc(b, '\n');
		}
		break;
	case VMETRIC_GAUGE:
		put_series(b, m, "", c, NULL);
		o_putc(b, ' ');
		put_double(b, bits_to_d(atomic_load_explicit(&c->d, memory_order_relaxed)));
		o_putc(b, '\n');
		break;
	case VMETRIC_HISTOGRAM:
		for (size_t i = 0; i <= m->nbounds; i++) {
			char le[40];

			cum += atomic_load_explicit(&c->counts[i], memory_order_relaxed);
			put_series(b, m, "_bucket", c,
				   i < m->nbounds ? fmt_double(le, sizeof(le), m->bounds[i]) : "+Inf");
			o_printf(b, " %llu\n", (unsigned long long)cum);
		}
		put_series(b, m, "_sum", c, NULL);
		o_putc(b, ' ');
		put_double(b, bits_to_d(atomic_load_explicit(&c->d, memory_order_relaxed)));
		o_putc(b, '\n');
		put_series(b, m, "_count", c, NULL);
		o_printf(b, " %llu\n", (unsigned long long)cum);
		break;
	}
}

static struct collector *next_collector(struct vmetrics *reg, struct collector *c)
{
	struct collector *n;

	pthread_mutex_lock(&reg->lock);
	n = c->next;
	pthread_mutex_unlock(&reg->lock);
	return n;
}

static const char *type_name(enum vmetric_type t)
{
	return t == VMETRIC_COUNTER ? "counter" : t == VMETRIC_GAUGE ? "gauge" : "histogram";
}

/*
 * Runs the collect callbacks, then writes every metric in registration order, each child in
 * creation order. A labelled metric with no children yet shows only its HELP and TYPE lines.
 * Renders are serialized (render_lock), so collectors never run concurrently with each other.
 */
int vmetrics_render(struct vmetrics *reg, struct vbuf *buf)
{
	struct out o = { .b = buf }, *out = &o;
	struct collector *first;
	size_t start = buf->len;

	pthread_mutex_lock(&reg->render_lock);
	pthread_mutex_lock(&reg->lock);
	first = reg->collectors;
	pthread_mutex_unlock(&reg->lock);
	/* without the list lock held, so a collector may create metrics or add collectors */
	for (struct collector *c = first; c; c = next_collector(reg, c))
		c->cb(reg, c->ctx);
	pthread_mutex_lock(&reg->lock);
	for (struct vmetric *m = reg->head; m; m = m->next) {
		o_printf(out, "# HELP %s ", m->name);
		put_escaped(out, m->help, false);
		o_printf(out, "\n# TYPE %s %s\n", m->name, type_name(m->type));
		if (!m->nlabels) {
			render_child(out, m, m->only);
			continue;
		}
		pthread_mutex_lock(&m->lock);
		for (size_t i = 0; i < m->nchildren; i++)
			render_child(out, m, m->children[i]);
		pthread_mutex_unlock(&m->lock);
	}
	pthread_mutex_unlock(&reg->lock);
	pthread_mutex_unlock(&reg->render_lock);
	if (o.err) {
		buf->len = start;
		if (buf->data)
			buf->data[start] = 0;
	}
	return o.err;
}
