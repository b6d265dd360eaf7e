// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sensor's webhook exporter (webhook.h): a worker thread reading the store's outbox after a
 * persisted cursor and POSTing batches with libcurl, retrying with capped exponential backoff.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "vigil/buf.h"
#include "vigil/log.h"
#include "vigil/metrics.h"
#include "vigil/util.h"
#include "webhook.h"

#define COMP "kaspa"
#define FIRST_BACKOFF_MS 500
/* a Retry-After beyond this is taken as this: a receiver cannot park the exporter for days */
#define RETRY_AFTER_MAX_MS (3600ull * 1000)
#define RESP_KEEP 200

struct kaspa_webhook {
	struct kaspa_webhook_params p;
	char *url, *store;
	struct curl_slist *hdrs;
	sqlite3 *db;
	sqlite3_stmt *sel, *upd;
	CURL *h;
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool kick;			/* under mu: a full batch is waiting */
	atomic_bool idle;		/* the worker waits for a kick (else kicks are not sent) */
	atomic_bool stop;
	_Atomic int64_t last_seq;	/* newest outbox row the sensor wrote */
	_Atomic int64_t cursor;		/* newest row the receiver acknowledged */
	unsigned batch;			/* current batch size (a 413 halves it) */
	struct vbuf body, resp;
	int64_t body_last;		/* seq of the last event in body */
	unsigned body_n;
};

static int64_t atomic_max(_Atomic int64_t *v, int64_t x)
{
	int64_t cur = atomic_load(v);

	while (cur < x && !atomic_compare_exchange_weak(v, &cur, x))
		;
	return cur < x ? x : cur;
}

int kaspa_webhook_check_url(const char *url, char *err, size_t n)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	CURLUcode rc;
	int ret = 0;

	if (!u)
		return verrf(err, n, -ENOMEM, "out of memory");
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc != CURLUE_OK) {
		ret = verrf(err, n, -EINVAL, "--webhook %s is not a URL (%s); give "
			    "http://HOST[:PORT]/PATH or https://...", url, curl_url_strerror(rc));
		goto out;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		ret = verrf(err, n, -EINVAL, "--webhook %s: the scheme must be http or https, not "
			    "%s", url, scheme ? scheme : "(none)");
	else if (!host || !*host)
		ret = verrf(err, n, -EINVAL, "--webhook %s has no host; give http://HOST[:PORT]/PATH",
			    url);
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ret;
}

/* Adds "Name: value" to the request headers after checking its form. */
static int add_header(struct kaspa_webhook *w, const char *h, const char *from)
{
	const char *colon = strchr(h, ':');
	struct curl_slist *n;

	if (!colon || colon == h || strpbrk(h, "\r\n") || strcspn(h, " \t") < (size_t)(colon - h)) {
		log_error(COMP, "%s: \"%s\" is not a header; give \"Name: value\" on one line", from,
			  h);
		return -EINVAL;
	}
	n = curl_slist_append(w->hdrs, h);
	if (!n)
		return -ENOMEM;
	w->hdrs = n;
	return 0;
}

/* "Authorization: Bearer <first line of the file>". */
static int add_token(struct kaspa_webhook *w, const char *path)
{
	char line[4096], hdr[4200];
	FILE *f = fopen(path, "re");
	size_t len;

	if (!f) {
		log_error(COMP, "cannot read --webhook-token-file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	len = strcspn(line, "\r\n");
	line[len] = 0;
	if (!len) {
		log_error(COMP, "--webhook-token-file %s is empty; write the token on its first line",
			  path);
		return -EINVAL;
	}
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", line);
	return add_header(w, hdr, "--webhook-token-file");
}

static int store_open(struct kaspa_webhook *w)
{
	char *err = NULL;

	if (sqlite3_open_v2(w->store, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		log_error(COMP, "webhook: cannot open the store %s: %s", w->store,
			  w->db ? sqlite3_errmsg(w->db) : "out of memory");
		return -EIO;
	}
	sqlite3_busy_timeout(w->db, 5000);
	if (sqlite3_exec(w->db, "PRAGMA journal_mode=WAL;" KASPA_WEBHOOK_SCHEMA, NULL, NULL, &err) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(w->db,
			       "SELECT seq, time_us, event FROM outbox WHERE seq > ? ORDER BY seq "
			       "LIMIT ?", -1, &w->sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w->db,
			       "INSERT INTO export_cursor VALUES ('" KASPA_WEBHOOK_EXPORTER "', ?)"
			       " ON CONFLICT(exporter) DO UPDATE SET seq = excluded.seq",
			       -1, &w->upd, NULL) != SQLITE_OK) {
		log_error(COMP, "webhook: cannot set up the store %s: %s", w->store,
			  err ? err : sqlite3_errmsg(w->db));
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

/* Reads the cursor and the newest outbox row. */
static int store_positions(struct kaspa_webhook *w)
{
	sqlite3_stmt *st;
	int64_t cur = 0, last = 0;

	if (sqlite3_prepare_v2(w->db,
			       "SELECT (SELECT seq FROM export_cursor WHERE exporter = '"
			       KASPA_WEBHOOK_EXPORTER "'), (SELECT max(seq) FROM outbox)",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		cur = sqlite3_column_int64(st, 0);
		last = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	atomic_store(&w->cursor, cur);
	atomic_max(&w->last_seq, last > cur ? last : cur);
	return 0;
}

static void count_error(struct kaspa_webhook *w, const char *cls)
{
	if (w->p.m_errors)
		vmetric_inc(w->p.m_errors, cls);
}

/*
 * Loads the events after the cursor (at most a batch) into w->body as a JSON array. Returns
 * their number (0: none), or -EIO. @oldest_us gets the first event's time.
 */
static int load_batch(struct kaspa_webhook *w, int64_t *oldest_us)
{
	sqlite3_stmt *st = w->sel;
	int rc, n = 0;

	vbuf_reset(&w->body);
	sqlite3_bind_int64(st, 1, atomic_load(&w->cursor));
	sqlite3_bind_int(st, 2, (int)w->batch);
	vbuf_putc(&w->body, '[');
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *ev = sqlite3_column_text(st, 2);

		if (n == 0)
			*oldest_us = sqlite3_column_int64(st, 1);
		else
			vbuf_putc(&w->body, ',');
		vbuf_append(&w->body, ev, (size_t)sqlite3_column_bytes(st, 2));
		w->body_last = sqlite3_column_int64(st, 0);
		n++;
	}
	vbuf_putc(&w->body, ']');
	if (rc != SQLITE_DONE)
		log_warn(COMP, "webhook: cannot read the outbox of %s: %s (retrying)", w->store,
			 sqlite3_errmsg(w->db));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -EIO;
	w->body_n = (unsigned)n;
	return n;
}

/* Persists the cursor after a 2xx; a failure only means the batch may be sent again. */
static void advance(struct kaspa_webhook *w)
{
	atomic_store(&w->cursor, w->body_last);
	sqlite3_bind_int64(w->upd, 1, w->body_last);
	if (sqlite3_step(w->upd) != SQLITE_DONE) {
		count_error(w, "store");
		log_warn(COMP, "webhook: cannot save the export cursor in %s: %s (these events may "
			 "be sent again after a restart)", w->store, sqlite3_errmsg(w->db));
	}
	sqlite3_reset(w->upd);
}

/*
 * Sleeps up to @ms, or until stop (returns false), or until a kick when @kickable. CLOCK_MONOTONIC
 * condition variable.
 */
static bool nap(struct kaspa_webhook *w, uint64_t ms, bool kickable)
{
	struct timespec ts;
	bool go;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->idle, kickable);
	while (!atomic_load(&w->stop) && !(kickable && w->kick))
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
			break;
	atomic_store(&w->idle, false);
	if (kickable)
		w->kick = false;
	go = !atomic_load(&w->stop);
	pthread_mutex_unlock(&w->mu);
	return go;
}

static size_t on_resp(char *p, size_t size, size_t n, void *ctx)
{
	struct vbuf *b = ctx;
	size_t len = size * n;

	if (b->len < RESP_KEEP)
		vbuf_append(b, p, len < RESP_KEEP - b->len ? len : RESP_KEEP - b->len);
	return len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct kaspa_webhook *w = ctx;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return atomic_load(&w->stop) ? 1 : 0;
}

/* What one POST came to. */
struct outcome {
	const char *cls;		/* NULL: delivered; else the error class of the metric */
	long status;
	uint64_t retry_after_ms;	/* the receiver's Retry-After; 0: none */
	char why[320];			/* for the log */
};

/* The error class of a libcurl failure. */
static const char *transport_class(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT: return "timeout";
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING: return "connect";
	default: return "other";
	}
}

/* POSTs w->body once. */
static void post(struct kaspa_webhook *w, struct outcome *o)
{
	curl_off_t ra = 0;
	CURLcode rc;

	memset(o, 0, sizeof(*o));
	vbuf_reset(&w->resp);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, w->body.data);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->body.len);
	rc = curl_easy_perform(w->h);
	if (rc != CURLE_OK) {
		o->cls = transport_class(rc);
		snprintf(o->why, sizeof(o->why), "%s", curl_easy_strerror(rc));
		return;
	}
	curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &o->status);
	if (o->status >= 200 && o->status < 300)
		return;
	curl_easy_getinfo(w->h, CURLINFO_RETRY_AFTER, &ra);
	if (ra > 0)
		o->retry_after_ms = (uint64_t)ra * 1000 < RETRY_AFTER_MAX_MS ? (uint64_t)ra * 1000
									 : RETRY_AFTER_MAX_MS;
	o->cls = o->status == 429 ? "429" : o->status >= 500 ? "5xx" : o->status >= 400 ? "4xx"
										      : "other";
	snprintf(o->why, sizeof(o->why), "HTTP %ld%s%.*s", o->status, w->resp.len ? ": " : "",
		 (int)strcspn(vbuf_cstr(&w->resp), "\r\n"), vbuf_cstr(&w->resp));
	/* the receiver's words go to our log: printable ASCII only */
	for (char *c = o->why; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
}

/* A random delay in [b/2, b]: retries of many sensors do not arrive together. */
static uint64_t jitter(uint64_t b)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)vtime_real_ns();
	return b / 2 + (b - b / 2) * (r % 1001) / 1000;
}

/* Logs a failed POST: the first of a run of failures and each change of class loudly. */
static void log_failure(struct kaspa_webhook *w, const struct outcome *o, bool loud, uint64_t ms)
{
	enum vlog_level lvl = loud ? VLOG_WARN : VLOG_DEBUG;
	const char *hint = "the events stay in the store and are retried";

	if (o->status == 413)
		hint = "the batch is halved and sent again";
	else if (o->status >= 400 && o->status < 500 && o->status != 408 && o->status != 429) {
		lvl = loud ? VLOG_ERROR : VLOG_DEBUG;
		hint = "the receiver refuses the batch: check the URL, --webhook-header and "
		       "--webhook-token-file; the events stay in the store and are retried";
	} else if (o->status >= 300 && o->status < 400) {
		hint = "redirects are not followed: give the final URL in --webhook";
	}
	vlog(lvl, COMP, "webhook: POST of %u events to %s failed: %s (%s; next try in %llu ms)",
	     w->body_n, w->url, o->why, hint, (unsigned long long)ms);
}

/*
 * The worker: load the events after the cursor, wait for a fuller batch while the oldest is
 * younger than the interval, POST, then advance the cursor (2xx) or wait out the backoff (or the
 * Retry-After) and send the same events again. Ends when kaspa_webhook_free sets stop.
 */
static void *worker(void *arg)
{
	struct kaspa_webhook *w = arg;
	uint64_t backoff = 0, fails = 0;
	const char *last_cls = NULL;
	long last_status = 0;

	while (!atomic_load(&w->stop)) {
		struct outcome o;
		int64_t oldest_us = 0;
		uint64_t wait_ms;
		int n = load_batch(w, &oldest_us);

		if (n < 0) {
			count_error(w, "store");
			if (!nap(w, w->p.retry_max_ms, false))
				break;
			continue;
		}
		if (n == 0) {
			if (!nap(w, w->p.interval_ms, true))
				break;
			continue;
		}
		if ((unsigned)n < w->batch) {
			/* a partial batch waits until its oldest event is interval old */
			int64_t age_ms = ((int64_t)(vtime_real_ns() / 1000) - oldest_us) / 1000;

			if (age_ms >= 0 && (uint64_t)age_ms < w->p.interval_ms) {
				if (!nap(w, w->p.interval_ms - (uint64_t)age_ms, true))
					break;
				if (load_batch(w, &oldest_us) <= 0)
					continue;
			}
		}
		post(w, &o);
		if (o.cls && atomic_load(&w->stop))
			break; /* aborted by kaspa_webhook_free: the batch waits for the next start */
		if (!o.cls) {
			advance(w);
			if (w->p.m_sent)
				vmetric_add(w->p.m_sent, (double)w->body_n);
			if (w->p.m_last_success)
				vmetric_set(w->p.m_last_success, (double)vtime_real_ns() / 1e9);
			if (fails)
				log_info(COMP, "webhook: %s takes events again after %llu failed "
					 "attempts", w->url, (unsigned long long)fails);
			fails = backoff = 0;
			last_cls = NULL;
			continue;
		}
		count_error(w, o.cls);
		fails++;
		if (o.status == 413 && w->batch > 1) {
			w->batch /= 2;
			wait_ms = 0;
		} else {
			backoff = backoff ? backoff * 2 : FIRST_BACKOFF_MS;
			if (backoff > w->p.retry_max_ms)
				backoff = w->p.retry_max_ms;
			wait_ms = o.retry_after_ms ? o.retry_after_ms : jitter(backoff);
		}
		log_failure(w, &o, fails == 1 || o.cls != last_cls || o.status != last_status,
			    wait_ms);
		last_cls = o.cls;
		last_status = o.status;
		if (wait_ms && !nap(w, wait_ms, false))
			break;
	}
	return NULL;
}

/* The libcurl handle's fixed options. */
static int curl_setup(struct kaspa_webhook *w)
{
	struct curl_slist *n;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	w->h = curl_easy_init();
	if (!w->h)
		return -ENOMEM;
	n = curl_slist_append(w->hdrs, "Content-Type: application/json");
	n = n ? curl_slist_append(n, "Expect:") : NULL;
	if (!n)
		return -ENOMEM;
	w->hdrs = n;
	curl_easy_setopt(w->h, CURLOPT_URL, w->url);
	curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, w->hdrs);
	curl_easy_setopt(w->h, CURLOPT_POST, 1L);
	curl_easy_setopt(w->h, CURLOPT_USERAGENT, "vigil-kaspa-sensor");
	curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, on_resp);
	curl_easy_setopt(w->h, CURLOPT_WRITEDATA, &w->resp);
	curl_easy_setopt(w->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->h, CURLOPT_TIMEOUT_MS, (long)w->p.timeout_ms);
	curl_easy_setopt(w->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(w->h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(w->h, CURLOPT_XFERINFODATA, w);
	return 0;
}

struct kaspa_webhook *kaspa_webhook_new(const struct kaspa_webhook_params *p)
{
	struct kaspa_webhook *w;
	pthread_condattr_t ca;
	char err[512];
	int e;

	e = kaspa_webhook_check_url(p->url ? p->url : "", err, sizeof(err));
	if (e) {
		log_error(COMP, "%s", err);
		errno = -e;
		return NULL;
	}
	if (!p->store || !*p->store) {
		log_error(COMP, "--webhook %s needs --store FILE: the events wait there until the "
			  "receiver has them", p->url);
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->p = *p;
	if (!w->p.batch)
		w->p.batch = 256;
	if (!w->p.interval_ms)
		w->p.interval_ms = 1000;
	if (!w->p.timeout_ms)
		w->p.timeout_ms = 10000;
	if (!w->p.retry_max_ms)
		w->p.retry_max_ms = 60000;
	w->batch = w->p.batch;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	w->url = strdup(p->url);
	w->store = strdup(p->store);
	if (!w->url || !w->store) {
		e = -ENOMEM;
		goto fail;
	}
	if ((p->header && *p->header && (e = add_header(w, p->header, "--webhook-header"))) ||
	    (p->token_file && *p->token_file && (e = add_token(w, p->token_file))))
		goto fail;
	e = curl_setup(w);
	if (e)
		goto fail;
	e = store_open(w);
	if (e || (e = store_positions(w)))
		goto fail;
	e = -pthread_create(&w->th, NULL, worker, w);
	if (e) {
		log_error(COMP, "webhook: cannot start the export thread: %s", strerror(-e));
		goto fail;
	}
	w->started = true;
	log_info(COMP, "webhook export to %s: %llu events waiting, batches of %u", w->url,
		 (unsigned long long)kaspa_webhook_backlog(w), w->batch);
	return w;
fail:
	kaspa_webhook_free(w);
	errno = -e;
	return NULL;
}

void kaspa_webhook_free(struct kaspa_webhook *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		atomic_store(&w->stop, true);
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
	}
	sqlite3_finalize(w->sel);
	sqlite3_finalize(w->upd);
	if (w->db)
		sqlite3_close(w->db);
	if (w->h)
		curl_easy_cleanup(w->h);
	curl_slist_free_all(w->hdrs);
	vbuf_free(&w->body);
	vbuf_free(&w->resp);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->url);
	free(w->store);
	free(w);
}

/*
 * Only a worker waiting for a fuller batch is woken: one sending, or backing off after a
 * failure, would only wake up to go back to sleep (once per event while the receiver is down).
 * A kick lost to the race with the worker starting to wait costs at most one interval.
 */
void kaspa_webhook_notify(struct kaspa_webhook *w, int64_t seq)
{
	int64_t last = atomic_max(&w->last_seq, seq);

	if ((uint64_t)(last - atomic_load(&w->cursor)) < w->p.batch || !atomic_load(&w->idle))
		return;
	pthread_mutex_lock(&w->mu);
	w->kick = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

uint64_t kaspa_webhook_backlog(const struct kaspa_webhook *w)
{
	int64_t d = atomic_load(&((struct kaspa_webhook *)w)->last_seq) -
		    atomic_load(&((struct kaspa_webhook *)w)->cursor);

	return d > 0 ? (uint64_t)d : 0;
}
