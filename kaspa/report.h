/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `vigil kaspa report`: the gossip study's answer from a crawl store (crawl_store.h).
 *
 *   "the sensor's address was observed in X% of address responses from Y unique peers after
 *    Z hours"
 *
 * X = responses holding the sensor / all address responses, over the crawls started at or after
 * the start time (a response "holds" the sensor when one of its addresses is the sensor's IP, and
 * its port when one is given); Y = distinct advertisers (by node id, else by ip:port) that gave
 * the sensor's address in any of those crawls; Z = hours from the start time (--since, default
 * the first crawl's start) to the end of the last crawl. The timeline gives the same per crawl.
 */
#ifndef VIGIL_KASPA_REPORT_H
#define VIGIL_KASPA_REPORT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buf.h"

struct kaspa_crawl_store;

struct kaspa_report_sensor {
	char ip[INET6_ADDRSTRLEN];	/* canonical text (IPv4-mapped IPv6 as IPv4) */
	uint16_t port;			/* 0: any port */
};

/* "1.2.3.4", "1.2.3.4:16111", "2001:db8::1", "[2001:db8::1]:16111", "::ffff:1.2.3.4".
 * 0 or -EINVAL. */
int kaspa_report_parse_sensor(const char *s, struct kaspa_report_sensor *out);
/* "2026-11-21T07:00:00Z" (fraction and 'Z' optional; UTC), "2026-11-21 07:00:00",
 * "2026-11-21", or Unix seconds ("1795000000"). Microseconds since the epoch; 0 or -EINVAL. */
int kaspa_report_parse_time(const char *s, uint64_t *us);

struct kaspa_report_crawl {
	char crawl_id[64];
	uint64_t started_us, ended_us;
	uint64_t reachable;		/* nodes reachable in that crawl */
	uint64_t responses;		/* address responses */
	uint64_t hits;			/* of which held the sensor */
	uint64_t advertisers;		/* distinct peers that advertised the sensor */
};

struct kaspa_report {
	struct kaspa_report_sensor sensor;
	uint64_t since_us, until_us;
	bool since_given;
	uint64_t responses, hits, unique_peers;
	double percent, hours;
	struct kaspa_report_crawl *crawls;
	size_t n_crawls;
};

/* 100 * hits / total (0 when total is 0). */
double kaspa_report_percent(uint64_t hits, uint64_t total);
/* Hours from @since_us to @until_us (0 when until is earlier). */
double kaspa_report_hours(uint64_t since_us, uint64_t until_us);
/* Sorts @ids and returns how many distinct strings it holds. */
size_t kaspa_report_count_unique(char **ids, size_t n);

/*
 * Reads the store and fills @r. @since_us 0: from the first crawl. 0, -ENOENT when the store
 * holds no crawl (since then), -EIO on a store error; @err says which.
 */
int kaspa_report_build(struct kaspa_crawl_store *st, const struct kaspa_report_sensor *sensor,
		       uint64_t since_us, struct kaspa_report *r, char *err, size_t errlen);
void kaspa_report_free(struct kaspa_report *r);
/* The report as Markdown / as one JSON object (with a trailing newline). 0 or -ENOMEM. */
int kaspa_report_markdown(const struct kaspa_report *r, struct vbuf *out);
int kaspa_report_json(const struct kaspa_report *r, struct vbuf *out);

#endif
