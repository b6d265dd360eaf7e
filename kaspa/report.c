// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gossip report (report.h): three queries over the crawl store (the crawls, the response
 * count per crawl, the edges pointing at the sensor per crawl and advertiser) and the arithmetic
 * on their rows, kept in small pure functions for the unit tests.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/util.h"
#include "crawl.h"
#include "crawl_store.h"
#include "report.h"
#include "wire.h"

int kaspa_report_parse_sensor(const char *s, struct kaspa_report_sensor *out)
{
	struct kaspa_netaddr a;
	char buf[INET6_ADDRSTRLEN + 16];

	memset(out, 0, sizeof(*out));
	if (!s || !*s || strlen(s) >= sizeof(buf) - 3)
		return -EINVAL;
	/* with a port: "1.2.3.4:16111" or "[v6]:16111" */
	if (kaspa_netaddr_parse(s, &a) == 0 && (s[0] == '[' || !strchr(strchr(s, ':') + 1, ':'))) {
		if (!a.port)
			return -EINVAL;
		out->port = a.port;
	} else {
		/* a bare IP: parse it with a placeholder port */
		snprintf(buf, sizeof(buf), strchr(s, ':') ? "[%s]:1" : "%s:1", s);
		if (s[0] == '[' || kaspa_netaddr_parse(buf, &a))
			return -EINVAL;
	}
	if (!inet_ntop(a.ip_len == 4 ? AF_INET : AF_INET6, a.ip, out->ip, sizeof(out->ip)))
		return -EINVAL;
	return 0;
}

int kaspa_report_parse_time(const char *s, uint64_t *us)
{
	struct tm tm = { 0 };
	const char *p;
	char *end;
	long frac_us = 0;
	time_t t;

	if (!s || !*s)
		return -EINVAL;
	if (strspn(s, "0123456789") == strlen(s)) {
		unsigned long long v = strtoull(s, &end, 10);

		if (*end || v > 32503680000ull) /* year 3000 */
			return -EINVAL;
		*us = v * 1000000ull;
		return 0;
	}
	p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		return -EINVAL;
	if (*p == 'T' || *p == ' ') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (!p)
			return -EINVAL;
		if (*p == '.') {
			int digits = 0;

			p++;
			while (isdigit((unsigned char)*p)) {
				if (digits++ < 6)
					frac_us = frac_us * 10 + (*p - '0');
				p++;
			}
			if (!digits)
				return -EINVAL;
			for (; digits < 6; digits++)
				frac_us *= 10;
		}
	}
	if (*p == 'Z')
		p++;
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t < 0)
		return -EINVAL;
	*us = (uint64_t)t * 1000000ull + (uint64_t)frac_us;
	return 0;
}

double kaspa_report_percent(uint64_t hits, uint64_t total)
{
	return total ? 100.0 * (double)hits / (double)total : 0.0;
}

double kaspa_report_hours(uint64_t since_us, uint64_t until_us)
{
	return until_us > since_us ? (double)(until_us - since_us) / 3.6e9 : 0.0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t kaspa_report_count_unique(char **ids, size_t n)
{
	size_t u = 0;

	if (!n)
		return 0;
	qsort(ids, n, sizeof(*ids), cmp_str);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(ids[i], ids[i - 1]) != 0)
			u++;
	return u;
}

/* ---- reading the store -------------------------------------------------------------------- */

struct build {
	struct kaspa_report *r;
	char **ids;			/* advertiser identities over every crawl */
	size_t n_ids, cap_ids, cap_crawls;
	bool oom;
};

static struct kaspa_report_crawl *find_crawl(struct kaspa_report *r, const char *id)
{
	for (size_t i = 0; i < r->n_crawls; i++)
		if (strcmp(r->crawls[i].crawl_id, id) == 0)
			return &r->crawls[i];
	return NULL;
}

static uint64_t u64(const char *v)
{
	return v ? strtoull(v, NULL, 10) : 0;
}

static int crawl_row(const char *const *v, int n, void *ctx)
{
	struct build *b = ctx;
	struct kaspa_report *r = b->r;
	struct kaspa_report_crawl *c;

	if (n < 4 || !v[0])
		return 0;
	if (kaspa_grow(&r->crawls, &b->cap_crawls, r->n_crawls + 1, sizeof(*r->crawls))) {
		b->oom = true;
		return 1;
	}
	c = &r->crawls[r->n_crawls++];
	memset(c, 0, sizeof(*c));
	snprintf(c->crawl_id, sizeof(c->crawl_id), "%s", v[0]);
	c->started_us = u64(v[1]);
	c->ended_us = u64(v[2]);
	c->reachable = u64(v[3]);
	return 0;
}

static int responses_row(const char *const *v, int n, void *ctx)
{
	struct build *b = ctx;
	struct kaspa_report_crawl *c = n >= 2 && v[0] ? find_crawl(b->r, v[0]) : NULL;

	if (c)
		c->responses = u64(v[1]);
	return 0;
}

/* One (crawl, advertiser) that gave the sensor's address: in how many of its responses. */
static int edge_row(const char *const *v, int n, void *ctx)
{
	struct build *b = ctx;
	struct kaspa_report_crawl *c = n >= 4 && v[0] ? find_crawl(b->r, v[0]) : NULL;
	const char *who;

	if (!c)
		return 0;
	who = v[2] && *v[2] ? v[2] : v[1] ? v[1] : "";
	c->hits += u64(v[3]);
	c->advertisers++;
	if (kaspa_grow(&b->ids, &b->cap_ids, b->n_ids + 1, sizeof(*b->ids)) ||
	    !(b->ids[b->n_ids] = strdup(who))) {
		b->oom = true;
		return 1;
	}
	b->n_ids++;
	return 0;
}

static const char q_crawls[] =
	"SELECT crawl_id, started_us, COALESCE(ended_us, started_us), COALESCE(reachable, 0)"
	" FROM kaspa_crawls WHERE started_us >= CAST($1 AS BIGINT) ORDER BY started_us, crawl_id";
static const char q_responses[] =
	"SELECT r.crawl_id, count(*) FROM kaspa_crawl_responses r"
	" JOIN kaspa_crawls c ON c.crawl_id = r.crawl_id"
	" WHERE c.started_us >= CAST($1 AS BIGINT) GROUP BY r.crawl_id";
/* per advertiser, the most responses any matching address was in (with a port given, only one
 * address matches; without, one address per port could, and those may share responses) */
static const char q_edges[] =
	"SELECT e.crawl_id, e.advertiser, COALESCE(e.advertiser_id, ''), MAX(e.responses)"
	" FROM kaspa_crawl_edges e JOIN kaspa_crawls c ON c.crawl_id = e.crawl_id"
	" WHERE c.started_us >= CAST($1 AS BIGINT) AND e.address_ip = $2"
	" AND (CAST($3 AS INTEGER) = 0 OR e.address_port = CAST($3 AS INTEGER))"
	" GROUP BY e.crawl_id, e.advertiser, e.advertiser_id";
static const char q_first[] = "SELECT MIN(started_us) FROM kaspa_crawls";

static int first_row(const char *const *v, int n, void *ctx)
{
	if (n >= 1 && v[0])
		*(uint64_t *)ctx = u64(v[0]);
	return 0;
}

int kaspa_report_build(struct kaspa_crawl_store *st, const struct kaspa_report_sensor *sensor,
		       uint64_t since_us, struct kaspa_report *r, char *err, size_t errlen)
{
	struct build b = { .r = r };
	char since[24], port[8];
	const char *params[3] = { since, sensor->ip, port };
	uint64_t first = 0;
	int e = 0;

	memset(r, 0, sizeof(*r));
	r->sensor = *sensor;
	r->since_given = since_us != 0;
	if (kaspa_crawl_store_select(st, q_first, NULL, 0, first_row, &first)) {
		const char *m = kaspa_crawl_store_errmsg(st);

		/* a store no crawl ever wrote to has no tables (SQLite / PostgreSQL wording) */
		if (!strstr(m, "no such table") && !strstr(m, "does not exist"))
			goto store_err;
	}
	if (!first)
		return verrf(err, errlen, -ENOENT, "the %s holds no crawl (run `vigil kaspa crawl` "
			     "with the same store first)", kaspa_crawl_store_name(st));
	r->since_us = since_us ? since_us : first;
	snprintf(since, sizeof(since), "%llu", (unsigned long long)r->since_us);
	snprintf(port, sizeof(port), "%u", sensor->port);
	if (kaspa_crawl_store_select(st, q_crawls, params, 1, crawl_row, &b) || b.oom)
		goto store_err;
	if (!r->n_crawls) {
		char ts[VTIME_BUFLEN];
		struct timespec t = { (time_t)(r->since_us / 1000000), 0 };

		return verrf(err, errlen, -ENOENT, "the %s holds no crawl started since %s (the "
			     "last one started earlier: give an earlier --since)",
			     kaspa_crawl_store_name(st), vtime_utc_us(ts, sizeof(ts), &t));
	}
	if (kaspa_crawl_store_select(st, q_responses, params, 1, responses_row, &b) ||
	    kaspa_crawl_store_select(st, q_edges, params, 3, edge_row, &b) || b.oom)
		goto store_err;
	for (size_t i = 0; i < r->n_crawls; i++) {
		r->responses += r->crawls[i].responses;
		r->hits += r->crawls[i].hits;
		if (r->crawls[i].ended_us > r->until_us)
			r->until_us = r->crawls[i].ended_us;
	}
	r->unique_peers = kaspa_report_count_unique(b.ids, b.n_ids);
	r->percent = kaspa_report_percent(r->hits, r->responses);
	r->hours = kaspa_report_hours(r->since_us, r->until_us);
	goto out;
store_err:
	e = b.oom ? verrf(err, errlen, -ENOMEM, "out of memory reading the %s",
			  kaspa_crawl_store_name(st))
		  : verrf(err, errlen, -EIO, "cannot read the %s: %s (is it a crawl store?)",
			  kaspa_crawl_store_name(st), kaspa_crawl_store_errmsg(st));
out:
	for (size_t i = 0; i < b.n_ids; i++)
		free(b.ids[i]);
	free(b.ids);
	if (e)
		kaspa_report_free(r);
	return e;
}

void kaspa_report_free(struct kaspa_report *r)
{
	free(r->crawls);
	r->crawls = NULL;
	r->n_crawls = 0;
}

/* ---- output ------------------------------------------------------------------------------- */

static const char *us_str(uint64_t us, char *buf, size_t n)
{
	struct timespec t = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	return vtime_utc_us(buf, n, &t);
}

static const char *sensor_str(const struct kaspa_report_sensor *s, char *buf, size_t n)
{
	if (!s->port)
		snprintf(buf, n, "%s", s->ip);
	else
		snprintf(buf, n, strchr(s->ip, ':') ? "[%s]:%u" : "%s:%u", s->ip, s->port);
	return buf;
}

int kaspa_report_markdown(const struct kaspa_report *r, struct vbuf *out)
{
	char s[INET6_ADDRSTRLEN + 16], a[VTIME_BUFLEN], b[VTIME_BUFLEN];
	int e = 0;

	sensor_str(&r->sensor, s, sizeof(s));
	e |= vbuf_printf(out, "# Kaspa gossip report: sensor %s\n\n", s);
	e |= vbuf_printf(out, "The sensor's address was observed in **%.2f%%** of address responses "
			 "(%llu of %llu) from **%llu** unique peers after **%.2f** hours.\n\n",
			 r->percent, (unsigned long long)r->hits, (unsigned long long)r->responses,
			 (unsigned long long)r->unique_peers, r->hours);
	e |= vbuf_printf(out, "- from: %s (%s)\n- to: %s (end of the last crawl)\n- crawls: %zu\n"
			 "- sensor address matched: %s\n\n", us_str(r->since_us, a, sizeof(a)),
			 r->since_given ? "--since" : "the first crawl",
			 us_str(r->until_us, b, sizeof(b)), r->n_crawls,
			 r->sensor.port ? "IP and port" : "IP, any port");
	e |= vbuf_puts(out, "| crawl | started (UTC) | reachable | responses | with the sensor | % "
			    "| peers advertising it |\n|---|---|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < r->n_crawls; i++) {
		const struct kaspa_report_crawl *c = &r->crawls[i];

		e |= vbuf_printf(out, "| %s | %s | %llu | %llu | %llu | %.2f | %llu |\n", c->crawl_id,
				 us_str(c->started_us, a, sizeof(a)),
				 (unsigned long long)c->reachable, (unsigned long long)c->responses,
				 (unsigned long long)c->hits,
				 kaspa_report_percent(c->hits, c->responses),
				 (unsigned long long)c->advertisers);
	}
	return e ? -ENOMEM : 0;
}

int kaspa_report_json(const struct kaspa_report *r, struct vbuf *out)
{
	char s[INET6_ADDRSTRLEN + 16], t[VTIME_BUFLEN];
	struct vjw w;

	vjw_init(&w, out);
	vjw_obj(&w);
	vjw_kstr(&w, "sensor", sensor_str(&r->sensor, s, sizeof(s)));
	vjw_kstr(&w, "sensor_ip", r->sensor.ip);
	vjw_kuint(&w, "sensor_port", r->sensor.port);
	vjw_kstr(&w, "since", us_str(r->since_us, t, sizeof(t)));
	vjw_kstr(&w, "until", us_str(r->until_us, t, sizeof(t)));
	vjw_kdouble(&w, "hours", r->hours);
	vjw_kuint(&w, "crawls", r->n_crawls);
	vjw_kuint(&w, "responses", r->responses);
	vjw_kuint(&w, "responses_with_sensor", r->hits);
	vjw_kdouble(&w, "percent", r->percent);
	vjw_kuint(&w, "unique_peers", r->unique_peers);
	vjw_key(&w, "timeline");
	vjw_arr(&w);
	for (size_t i = 0; i < r->n_crawls; i++) {
		const struct kaspa_report_crawl *c = &r->crawls[i];

		vjw_obj(&w);
		vjw_kstr(&w, "crawl_id", c->crawl_id);
		vjw_kstr(&w, "started", us_str(c->started_us, t, sizeof(t)));
		vjw_kstr(&w, "ended", us_str(c->ended_us, t, sizeof(t)));
		vjw_kuint(&w, "reachable", c->reachable);
		vjw_kuint(&w, "responses", c->responses);
		vjw_kuint(&w, "responses_with_sensor", c->hits);
		vjw_kdouble(&w, "percent", kaspa_report_percent(c->hits, c->responses));
		vjw_kuint(&w, "advertisers", c->advertisers);
		vjw_end(&w);
	}
	vjw_end(&w);
	vjw_end(&w);
	return vbuf_putc(out, '\n') ? -ENOMEM : 0;
}
