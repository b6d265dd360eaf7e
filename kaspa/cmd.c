// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vigil kaspa sensor`, `collect`, `crawl` and `report`: the option tables and the run functions
 * around the library halves (sensor.h, collect.h, crawl.h, report.h), the bus and the metrics
 * server. Kept apart from the library because it reads the CLI's option structs.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"
#include "vigil/bus.h"
#include "vigil/http.h"
#include "vigil/log.h"
#include "vigil/metrics.h"
#include "kaspa/collect.h"
#include "kaspa/crawl.h"
#include "kaspa/crawl_store.h"
#include "kaspa/kaspa.h"
#include "kaspa/report.h"
#include "kaspa/sensor.h"

#define MS 1000000ll

struct sensor_cli {
	char *listen;
	char *sensor_id;
	bool hold;
	uint64_t close_after;
	long long max_conns;
	char *probe;
	long long probe_timeout_ms;
	uint64_t probe_interval;
	long long probe_concurrency;
	bool allow_private;
	char *store;
	uint64_t retention;
	char *webhook;
	char *webhook_header;
	char *webhook_token_file;
	long long webhook_batch;
	uint64_t webhook_interval;
	uint64_t webhook_timeout;
	uint64_t webhook_retry_max;
};

static struct sensor_cli cli;
static struct kaspa_wire_cfg wire;
static struct vbus_cfg bus_cfg;
static struct vhttp_cfg http_cfg;

static const struct vopt sensor_opts[] = {
	VOPT_STRING("listen", 'L', struct sensor_cli, listen, "0.0.0.0:16111", "ADDR",
		    "address to accept peers on; \"[::]:16111\" takes IPv6 and IPv4"),
	VOPT_STRING("sensor-id", 0, struct sensor_cli, sensor_id, NULL, "ID",
		    "this sensor's name in every event (default: the host name)"),
	VOPT_BOOL("hold", 0, struct sensor_cli, hold,
		  "keep connections open after the handshake instead of leaving politely"),
	VOPT_DURATION("close-after", 0, struct sensor_cli, close_after, "1s", MS, 60000 * MS,
		      "after the handshake, time to answer the peer's requests before leaving"),
	VOPT_INT("max-connections", 0, struct sensor_cli, max_conns, "4096", "N", 1, 1000000,
		 "inbound connections at once; more are closed at accept"),
	VOPT_ENUM("probe", 0, struct sensor_cli, probe, "tcp", "off|tcp|handshake",
		  "probe back each peer: a TCP connect, or a connect and a handshake comparing ids"),
	VOPT_INT("probe-timeout-ms", 0, struct sensor_cli, probe_timeout_ms, "800", "MS", 1, 600000,
		 "probe connect timeout in milliseconds"),
	VOPT_DURATION("probe-interval", 0, struct sensor_cli, probe_interval, "10m", 0,
		      86400000LL * MS, "at most one probe per IP per interval (0: probe every time)"),
	VOPT_INT("probe-concurrency", 0, struct sensor_cli, probe_concurrency, "64", "N", 1, 65536,
		 "probes in flight at once; more wait in a queue"),
	VOPT_BOOL("allow-private", 0, struct sensor_cli, allow_private,
		  "also probe loopback, private and link-local addresses (tests, labs)"),
	VOPT_STRING("store", 0, struct sensor_cli, store, NULL, "FILE",
		    "SQLite file (WAL) keeping handshakes and classifications"),
	VOPT_DURATION("retention", 0, struct sensor_cli, retention, "30d", 0, 3650 * 86400000LL * MS,
		      "delete store rows older than this (0: keep everything; events the webhook "
		      "has not delivered are kept)"),
	VOPT_STRING("webhook", 0, struct sensor_cli, webhook, NULL, "URL",
		    "also POST every event, in batches (a JSON array), to this http(s) URL; "
		    "needs --store, where events wait until the receiver answers 2xx"),
	VOPT_STRING("webhook-header", 0, struct sensor_cli, webhook_header, NULL, "HEADER",
		    "an extra request header, \"Name: value\" (e.g. an API key)"),
	VOPT_STRING("webhook-token-file", 0, struct sensor_cli, webhook_token_file, NULL, "FILE",
		    "send \"Authorization: Bearer <the file's first line>\""),
	VOPT_INT("webhook-batch", 0, struct sensor_cli, webhook_batch, "256", "N", 1, 100000,
		 "events per POST at most"),
	VOPT_DURATION("webhook-interval", 0, struct sensor_cli, webhook_interval, "1s", MS,
		      3600000 * MS, "how long an event may wait for a fuller batch"),
	VOPT_DURATION("webhook-timeout", 0, struct sensor_cli, webhook_timeout, "10s", MS,
		      600000 * MS, "time limit of one POST (connect included)"),
	VOPT_DURATION("webhook-retry-max", 0, struct sensor_cli, webhook_retry_max, "1m", MS,
		      3600000 * MS, "cap of the exponential backoff between failed POSTs "
		      "(a Retry-After from the receiver is honoured instead)"),
	VOPT_END
};

static const struct vopt_set sensor_sets[] = { { sensor_opts, &cli }, { kaspa_wire_opts, &wire },
					       { vbus_opts, &bus_cfg }, { vhttp_opts, &http_cfg },
					       { NULL, NULL } };

/* The usage error for a --advertise that is not IP:PORT. */
static int bad_advertise(const char *prog, const char *v)
{
	fprintf(stderr, "%s: --advertise %s: give our public IP:PORT (203.0.113.5:16111 or "
		"[2001:db8::1]:16111)\n", prog, v);
	return 2;
}

static int run_sensor(int argc, char **argv)
{
	struct kaspa_sensor_params p = { 0 };
	struct kaspa_sensor *s = NULL;
	struct vmetrics *reg = NULL;
	struct vhttp *http = NULL;
	struct vloop *loop = NULL;
	struct vbus *bus = NULL;
	int ret = 1;

	if (argc > 1) {
		fprintf(stderr, "%s: unexpected argument %s\n", argv[0], argv[1]);
		return 2;
	}
	if (kaspa_wire_apply(&wire, &p.conn))
		return bad_advertise(argv[0], wire.advertise);
	if (!p.conn.hs.user_agent)
		p.conn.hs.user_agent = "/vigil-sensor:" VIGIL_VERSION "/";
	if (strlen(p.conn.hs.user_agent) > KASPA_MAX_USER_AGENT) {
		fprintf(stderr, "%s: --user-agent is %zu bytes; peers accept at most %d\n", argv[0],
			strlen(p.conn.hs.user_agent), KASPA_MAX_USER_AGENT);
		return 2;
	}
	p.listen = cli.listen;
	p.sensor_id = cli.sensor_id;
	p.hold = cli.hold;
	p.close_after_ms = (uint32_t)(cli.close_after / MS);
	p.max_conns = (unsigned)cli.max_conns;
	p.probe = strcmp(cli.probe, "off") == 0	      ? KASPA_PROBE_OFF
		  : strcmp(cli.probe, "handshake") == 0 ? KASPA_PROBE_HANDSHAKE
							: KASPA_PROBE_TCP;
	p.probe_timeout_ms = (uint32_t)cli.probe_timeout_ms;
	p.probe_interval_ms = cli.probe_interval / MS;
	p.probe_concurrency = (unsigned)cli.probe_concurrency;
	p.allow_private = cli.allow_private;
	p.store = cli.store;
	p.retention_ms = cli.retention / MS;
	if (cli.webhook && *cli.webhook) {
		char err[512];

		if (kaspa_webhook_check_url(cli.webhook, err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", argv[0], err);
			return 2;
		}
		if (!cli.store || !*cli.store) {
			fprintf(stderr, "%s: --webhook needs --store FILE: the events wait there "
				"until the receiver has them\n", argv[0]);
			return 2;
		}
		p.webhook.url = cli.webhook;
		p.webhook.header = cli.webhook_header;
		p.webhook.token_file = cli.webhook_token_file;
		p.webhook.batch = (unsigned)cli.webhook_batch;
		p.webhook.interval_ms = cli.webhook_interval / MS;
		p.webhook.timeout_ms = cli.webhook_timeout / MS;
		p.webhook.retry_max_ms = cli.webhook_retry_max / MS;
	}
	/* with no sink configured, events go to stdout as JSON Lines */
	vbus_cfg_default_stdout(&bus_cfg);
	loop = vloop_new();
	reg = vmetrics_new();
	if (!loop || !reg) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		goto out;
	}
	bus = vbus_open(&bus_cfg, loop);
	if (!bus || vbus_metrics_register(bus, reg))
		goto out;
	p.bus = bus;
	p.metrics = reg;
	s = kaspa_sensor_new(loop, &p);
	if (!s)
		goto out;
	if (http_cfg.metrics) {
		http = vhttp_new(loop, http_cfg.metrics, reg);
		if (!http)
			goto out;
		vhttp_set_ready(http, true);
	}
	ret = vloop_run(loop) ? 1 : 0;
out:
	vhttp_free(http);
	kaspa_sensor_free(s);
	if (bus) {
		vbus_flush(bus, 2000);
		vbus_close(bus);
	}
	vmetrics_free(reg);
	vloop_free(loop);
	return ret;
}

struct collect_cli {
	char *nats_url;
	char *stream;
	char *app_id;
	char *durable;
	char *pg;
	long long batch;
	bool exit_when_idle;
};

static struct collect_cli ccli;

static const struct vopt collect_opts[] = {
	VOPT_STRING("nats-url", 0, struct collect_cli, nats_url, "nats://127.0.0.1:4222", "URL",
		    "NATS server the sensors publish to"),
	VOPT_STRING("jetstream", 0, struct collect_cli, stream, "VIGIL", "STREAM",
		    "JetStream stream holding the sensors' events (their --jetstream)"),
	VOPT_STRING("app-id", 0, struct collect_cli, app_id, "vigil", "ID",
		    "the sensors' --app-id: events are read from <ID>.kaspa.>"),
	VOPT_STRING("durable", 0, struct collect_cli, durable, "vigil-kaspa-collect", "NAME",
		    "durable consumer name (collectors sharing it share the work)"),
	VOPT_STRING("pg", 0, struct collect_cli, pg, NULL, "DSN",
		    "PostgreSQL connection string (postgresql://user@host/db); tables are created"),
	VOPT_INT("batch", 0, struct collect_cli, batch, "256", "N", 1, 100000,
		 "events per fetch and per transaction"),
	VOPT_BOOL("exit-when-idle", 0, struct collect_cli, exit_when_idle,
		  "exit once every event in the stream is stored (for batch runs and tests)"),
	VOPT_END
};

static const struct vopt_set collect_sets[] = { { collect_opts, &ccli }, { NULL, NULL } };

static volatile int collect_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	collect_stop = 1;
}

static int run_collect(int argc, char **argv)
{
	struct kaspa_collect_params p = { 0 };
	struct sigaction sa = { .sa_handler = on_stop_signal };

	if (argc > 1) {
		fprintf(stderr, "%s: unexpected argument %s\n", argv[0], argv[1]);
		return 2;
	}
	if (!ccli.pg || !*ccli.pg) {
		fprintf(stderr, "%s: --pg is required (a PostgreSQL connection string, e.g. "
			"postgresql://vigil@127.0.0.1/kaspa)\n", argv[0]);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	p.nats_url = ccli.nats_url;
	p.stream = ccli.stream;
	p.app_id = ccli.app_id;
	p.durable = ccli.durable;
	p.pg = ccli.pg;
	p.batch = (unsigned)ccli.batch;
	p.exit_when_idle = ccli.exit_when_idle;
	p.stop = &collect_stop;
	return kaspa_collect_run(&p, NULL) ? 1 : 0;
}

struct crawl_cli {
	char *seed;
	char *dns_seed;
	long long rounds;
	uint64_t round_timeout;
	long long concurrency;
	long long max_nodes;
	uint64_t duration;
	bool allow_private;
	char *store;
	char *pg;
};

static struct crawl_cli wcli;
static struct kaspa_wire_cfg crawl_wire;
static struct vhttp_cfg crawl_http;

static const struct vopt crawl_opts[] = {
	{ .name = "seed", .type = VOPT_T_STRING, .offset = offsetof(struct crawl_cli, seed),
	  .metavar = "HOST:PORT", .flags = VOPT_LIST,
	  .help = "where the crawl starts: IP:PORT, [IPv6]:PORT or NAME:PORT; a comma list" },
	{ .name = "dns-seed", .type = VOPT_T_STRING, .offset = offsetof(struct crawl_cli, dns_seed),
	  .metavar = "NAME", .flags = VOPT_LIST,
	  .help = "DNS seeder name whose addresses (on the network's default port) are seeds; "
		  "skipped with a warning when it does not resolve; a comma list" },
	VOPT_INT("rounds", 0, struct crawl_cli, rounds, "1", "N", 1, 100,
		 "RequestAddresses sent to each peer, each waiting for the answer"),
	VOPT_DURATION("round-timeout", 0, struct crawl_cli, round_timeout, "10s", MS, 600000 * MS,
		      "how long to wait for each Addresses answer"),
	VOPT_INT("concurrency", 0, struct crawl_cli, concurrency, "256", "N", 1, 100000,
		 "connections in flight at once (the open-files limit is raised to fit)"),
	VOPT_INT("max-nodes", 0, struct crawl_cli, max_nodes, "0", "N", 0, 100000000,
		 "dial at most N addresses; the rest are recorded as not dialled (0: no limit)"),
	VOPT_DURATION("duration", 0, struct crawl_cli, duration, "0", 0, 30 * 86400000LL * MS,
		      "end the crawl after this long, closing connections in flight (0: no limit)"),
	VOPT_BOOL("allow-private", 0, struct crawl_cli, allow_private,
		  "also dial loopback, private and link-local addresses (tests, labs)"),
	VOPT_STRING("store", 0, struct crawl_cli, store, NULL, "FILE",
		    "SQLite file (WAL) the crawl is written to (tables kaspa_crawl*)"),
	VOPT_STRING("pg", 0, struct crawl_cli, pg, NULL, "DSN",
		    "PostgreSQL connection string to write the crawl to instead; tables are created"),
	VOPT_END
};

static const struct vopt_set crawl_sets[] = { { crawl_opts, &wcli }, { kaspa_wire_opts, &crawl_wire },
					      { vhttp_opts, &crawl_http }, { NULL, NULL } };

/* Seed addresses as a growing array, with their text for the crawl's row. */
struct seeds {
	struct kaspa_netaddr *a;
	size_t n, cap;
	struct vbuf text;
};

static int seeds_add(struct seeds *s, const struct kaspa_netaddr *a)
{
	char buf[KASPA_ADDR_STRLEN];

	for (size_t i = 0; i < s->n; i++)
		if (s->a[i].ip_len == a->ip_len && s->a[i].port == a->port &&
		    memcmp(s->a[i].ip, a->ip, a->ip_len) == 0)
			return 0;
	if (kaspa_grow(&s->a, &s->cap, s->n + 1, sizeof(*s->a)))
		return -ENOMEM;
	s->a[s->n++] = *a;
	if (s->text.len)
		vbuf_putc(&s->text, ',');
	return vbuf_puts(&s->text, kaspa_netaddr_str(a, buf, sizeof(buf)));
}

/* Adds every TCP address @host resolves to, on @port. The number added, or -errno. */
static int seeds_resolve(struct seeds *s, const char *host, uint16_t port, const char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int n = 0, e = getaddrinfo(host, NULL, &hints, &res);

	if (e) {
		*why = gai_strerror(e);
		return -ENOENT;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		struct kaspa_netaddr a = { .port = port };
		char txt[KASPA_ADDR_STRLEN + 8];

		if (ai->ai_family == AF_INET)
			a.ip_len = 4, memcpy(a.ip, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		else if (ai->ai_family == AF_INET6)
			a.ip_len = 16,
			memcpy(a.ip, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
		else
			continue;
		/* through the text form, so IPv4-mapped IPv6 is normalised like every address */
		kaspa_netaddr_str(&a, txt, sizeof(txt));
		if (kaspa_netaddr_parse(txt, &a) == 0 && seeds_add(s, &a) == 0)
			n++;
	}
	freeaddrinfo(res);
	return n;
}

/*
 * --seed and --dns-seed into @s. Malformed --seed values are usage errors (2); names that do
 * not resolve are skipped with a warning. 0, or the exit code.
 */
static int gather_seeds(const char *prog, struct seeds *s, uint16_t dflt_port)
{
	char *list, *save = NULL;
	const char *why;

	list = wcli.seed ? strdup(wcli.seed) : NULL;
	for (char *t = list ? strtok_r(list, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save)) {
		struct kaspa_netaddr a;
		char *colon = strrchr(t, ':'), *end;
		unsigned long port;

		if (kaspa_netaddr_parse(t, &a) == 0) {
			if (!a.port)
				goto bad;
			seeds_add(s, &a);
			continue;
		}
		/* NAME:PORT */
		if (!colon || colon == t || strchr(t, '[') || strchr(t, ']'))
			goto bad;
		port = strtoul(colon + 1, &end, 10);
		if (*end || end == colon + 1 || port == 0 || port > 65535)
			goto bad;
		*colon = 0;
		if (strchr(t, ':'))
			goto bad;
		if (seeds_resolve(s, t, (uint16_t)port, &why) < 0)
			log_warn("kaspa", "crawl: seed %s does not resolve (%s): skipped", t, why);
		continue;
bad:
		fprintf(stderr, "%s: --seed %s: not HOST:PORT (e.g. 203.0.113.5:16111, "
			"[2001:db8::1]:16111 or seed.example.org:16111)\n", prog, t);
		free(list);
		return 2;
	}
	free(list);
	list = wcli.dns_seed ? strdup(wcli.dns_seed) : NULL;
	for (char *t = list ? strtok_r(list, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save)) {
		int n = seeds_resolve(s, t, dflt_port, &why);

		if (n < 0)
			log_warn("kaspa", "crawl: DNS seed %s does not resolve (%s): skipped", t, why);
		else
			log_info("kaspa", "crawl: DNS seed %s gave %d addresses", t, n);
	}
	free(list);
	return 0;
}

static void print_crawl_summary(const struct kaspa_crawl_stats *st, const char *store)
{
	double secs = (double)(st->ended_us - st->started_us) / 1e6;

	if (vopt_common.json) {
		struct vbuf b = VBUF_INIT;
		struct vjw w;

		vjw_init(&w, &b);
		vjw_obj(&w);
		vjw_kstr(&w, "crawl_id", st->crawl_id);
		vjw_kdouble(&w, "seconds", secs);
		vjw_kuint(&w, "addresses", st->known);
		vjw_kuint(&w, "dialled", st->dialled);
		vjw_kuint(&w, "reachable", st->reachable);
		vjw_kuint(&w, "unreachable", st->unreachable);
		vjw_kuint(&w, "not_dialled", st->not_dialled);
		vjw_kuint(&w, "responses", st->responses);
		vjw_kuint(&w, "addresses_received", st->addresses);
		vjw_kuint(&w, "edges", st->edges);
		vjw_kuint(&w, "store_errors", st->store_errors);
		vjw_kstr(&w, "store", store);
		vjw_key(&w, "by_class");
		vjw_obj(&w);
		for (int i = 0; i < KASPA_CRAWL_ERR_MAX; i++)
			if (st->by_err[i])
				vjw_kuint(&w, i ? kaspa_crawl_err_name(i) : "reachable", st->by_err[i]);
		vjw_end(&w);
		vjw_end(&w);
		printf("%s\n", b.data);
		vbuf_free(&b);
		return;
	}
	printf("crawl %s: %llu addresses, %llu reachable, %llu unreachable, %llu not dialled, "
	       "%llu responses, %llu edges in %.1f s (%s)\n", st->crawl_id,
	       (unsigned long long)st->known, (unsigned long long)st->reachable,
	       (unsigned long long)st->unreachable, (unsigned long long)st->not_dialled,
	       (unsigned long long)st->responses, (unsigned long long)st->edges, secs, store);
}

static int run_crawl(int argc, char **argv)
{
	struct kaspa_crawl_params p = { 0 };
	struct seeds seeds = { .text = VBUF_INIT };
	struct kaspa_crawl_store *store = NULL;
	struct kaspa_crawl_stats st;
	struct kaspa_crawl *c = NULL;
	struct vmetrics *reg = NULL;
	struct vhttp *http = NULL;
	struct vloop *loop = NULL;
	char err[600];
	int ret = 1;

	if (argc > 1) {
		fprintf(stderr, "%s: unexpected argument %s (seeds go in --seed)\n", argv[0], argv[1]);
		return 2;
	}
	if ((!wcli.seed || !*wcli.seed) && (!wcli.dns_seed || !*wcli.dns_seed)) {
		fprintf(stderr, "%s: give --seed HOST:PORT or --dns-seed NAME: where the crawl "
			"starts\n", argv[0]);
		return 2;
	}
	if (wcli.store && *wcli.store && wcli.pg && *wcli.pg) {
		fprintf(stderr, "%s: give --store FILE or --pg DSN, not both\n", argv[0]);
		return 2;
	}
	if (kaspa_wire_apply(&crawl_wire, &p.conn))
		return bad_advertise(argv[0], crawl_wire.advertise);
	if (!p.conn.hs.user_agent)
		p.conn.hs.user_agent = "/vigil-crawler:" VIGIL_VERSION "/";
	/* a crawler records every node it reaches, old protocol versions included */
	if (crawl_wire.min_protocol_version <= 0)
		p.conn.hs.min_protocol_version = 1;
	if (strlen(p.conn.hs.user_agent) > KASPA_MAX_USER_AGENT) {
		fprintf(stderr, "%s: --user-agent is %zu bytes; peers accept at most %d\n", argv[0],
			strlen(p.conn.hs.user_agent), KASPA_MAX_USER_AGENT);
		return 2;
	}
	ret = gather_seeds(argv[0], &seeds, kaspa_default_port(p.conn.hs.network));
	if (ret)
		goto out;
	ret = 1;
	if (!seeds.n) {
		fprintf(stderr, "%s: no seed address to crawl (every --seed/--dns-seed name failed "
			"to resolve; see the warnings above)\n", argv[0]);
		goto out;
	}
	if ((wcli.store && *wcli.store) || (wcli.pg && *wcli.pg)) {
		store = kaspa_crawl_store_open(wcli.store, wcli.pg, false, err, sizeof(err));
		if (!store) {
			fprintf(stderr, "%s: %s\n", argv[0], err);
			goto out;
		}
	}
	loop = vloop_new();
	reg = vmetrics_new();
	if (!loop || !reg) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		goto out;
	}
	p.seeds = seeds.a;
	p.n_seeds = seeds.n;
	p.seeds_text = vbuf_cstr(&seeds.text);
	p.concurrency = kaspa_crawl_fit_nofile((unsigned)wcli.concurrency);
	p.rounds = (unsigned)wcli.rounds;
	p.round_timeout_ms = (uint32_t)(wcli.round_timeout / MS);
	p.max_nodes = (uint64_t)wcli.max_nodes;
	p.duration_ms = wcli.duration / MS;
	p.allow_private = wcli.allow_private;
	p.store = store;
	p.metrics = crawl_http.metrics ? reg : NULL;
	c = kaspa_crawl_new(loop, &p);
	if (!c) {
		fprintf(stderr, "%s: cannot set up the crawl: %s\n", argv[0], strerror(errno));
		goto out;
	}
	if (crawl_http.metrics) {
		http = vhttp_new(loop, crawl_http.metrics, reg);
		if (!http)
			goto out;
		vhttp_set_ready(http, true);
	}
	if (kaspa_crawl_start(c))
		goto out;
	vloop_run(loop);
	kaspa_crawl_finish(c);
	kaspa_crawl_get_stats(c, &st);
	print_crawl_summary(&st, store ? kaspa_crawl_store_name(store) : "not stored");
	ret = 0;
	if (!st.reachable) {
		struct vbuf why = VBUF_INIT;

		for (int i = 1; i < KASPA_CRAWL_ERR_MAX; i++)
			if (st.by_err[i])
				vbuf_printf(&why, "%s%llu %s", why.len ? ", " : "",
					    (unsigned long long)st.by_err[i], kaspa_crawl_err_name(i));
		fprintf(stderr, "%s: no node completed the handshake (seeds %s: %s): %s\n", argv[0],
			p.seeds_text, vbuf_cstr(&why),
			st.by_err[KASPA_CRAWL_PRIVATE] ? "private addresses need --allow-private"
			: st.by_err[KASPA_CRAWL_LIMIT] ? "the crawl was stopped (--duration, "
							 "--max-nodes or a signal) first"
						       : "the seeds are unreachable; check the "
							 "addresses, the port and --network");
		vbuf_free(&why);
		ret = 1;
	}
	if (st.store_errors)
		ret = 1;
out:
	vhttp_free(http);
	kaspa_crawl_free(c);
	kaspa_crawl_store_close(store);
	vmetrics_free(reg);
	vloop_free(loop);
	free(seeds.a);
	vbuf_free(&seeds.text);
	return ret;
}

struct report_cli {
	char *sensor;
	char *store;
	char *pg;
	char *since;
};

static struct report_cli rcli;

static const struct vopt report_opts[] = {
	VOPT_STRING("sensor", 0, struct report_cli, sensor, NULL, "IP[:PORT]",
		    "the sensor's public address (Version.address); without a port any port counts"),
	VOPT_STRING("store", 0, struct report_cli, store, NULL, "FILE",
		    "SQLite crawl store written by `vigil kaspa crawl --store`"),
	VOPT_STRING("pg", 0, struct report_cli, pg, NULL, "DSN",
		    "PostgreSQL crawl store written by `vigil kaspa crawl --pg` instead"),
	VOPT_STRING("since", 0, struct report_cli, since, NULL, "TIME",
		    "count crawls started at or after TIME (2026-11-21T07:00:00Z, or Unix seconds); "
		    "the hours run from it (default: the first crawl)"),
	VOPT_END
};

static const struct vopt_set report_sets[] = { { report_opts, &rcli }, { NULL, NULL } };

static int run_report(int argc, char **argv)
{
	struct kaspa_report_sensor sensor;
	struct kaspa_crawl_store *store;
	struct kaspa_report r;
	struct vbuf out = VBUF_INIT;
	uint64_t since = 0;
	char err[600];
	int e;

	if (argc > 1) {
		fprintf(stderr, "%s: unexpected argument %s\n", argv[0], argv[1]);
		return 2;
	}
	if (!rcli.sensor || kaspa_report_parse_sensor(rcli.sensor, &sensor)) {
		fprintf(stderr, "%s: --sensor %s: give the sensor's public IP, optionally with its "
			"port (203.0.113.5, 203.0.113.5:16111, [2001:db8::1]:16111)\n", argv[0],
			rcli.sensor ? rcli.sensor : "is required");
		return 2;
	}
	if (!!(rcli.store && *rcli.store) == !!(rcli.pg && *rcli.pg)) {
		fprintf(stderr, "%s: give one crawl store: --store FILE or --pg DSN\n", argv[0]);
		return 2;
	}
	if (rcli.since && kaspa_report_parse_time(rcli.since, &since)) {
		fprintf(stderr, "%s: --since %s: not a time (give 2026-11-21T07:00:00Z, "
			"2026-11-21 or Unix seconds)\n", argv[0], rcli.since);
		return 2;
	}
	store = kaspa_crawl_store_open(rcli.store, rcli.pg, true, err, sizeof(err));
	if (!store) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		return 1;
	}
	e = kaspa_report_build(store, &sensor, since, &r, err, sizeof(err));
	kaspa_crawl_store_close(store);
	if (e) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		return 1;
	}
	e = vopt_common.json ? kaspa_report_json(&r, &out) : kaspa_report_markdown(&r, &out);
	if (!e)
		fputs(vbuf_cstr(&out), stdout);
	vbuf_free(&out);
	kaspa_report_free(&r);
	return e ? 1 : 0;
}

const struct vcmd kaspa_cmds[] = {
	{ .name = "collect", .summary = "store the sensors' events from JetStream into PostgreSQL",
	  .run = run_collect, .sets = collect_sets,
	  .description = "A durable JetStream pull consumer on <app_id>.kaspa.> writing handshakes "
			 "and classifications into PostgreSQL (tables kaspa_handshakes and "
			 "kaspa_classifications), one transaction per batch, acknowledged after "
			 "the commit; duplicates are dropped by event_id. While PostgreSQL is down "
			 "events stay in the stream and are retried." },
	{ .name = "sensor", .summary = "accept Kaspa peers, handshake, log and classify them",
	  .run = run_sensor, .sets = sensor_sets,
	  .description = "Listens for Kaspa P2P peers (h2c gRPC), completes the handshake as a "
			 "valid peer, answers RequestAddresses (empty) and Ping, and leaves "
			 "politely unless --hold. Every handshake, successful or failed with its "
			 "reason, is an event on <app_id>.kaspa.handshakes; each peer is then "
			 "probed back on its advertised port and classified public, private or "
			 "unknown on <app_id>.kaspa.classifications. Events carry a unique "
			 "event_id; --store keeps them in SQLite too, and --webhook POSTs them "
			 "in batches to an HTTP receiver from there, retrying until it answers "
			 "2xx." },
	{ .name = "crawl", .summary = "crawl the Kaspa P2P network breadth-first from seeds",
	  .run = run_crawl, .sets = crawl_sets,
	  .description = "Dials the seeds (--seed, --dns-seed) as a client, completes the "
			 "handshake, sends RequestAddresses (--rounds), leaves politely, and "
			 "goes breadth-first over every address learned with --concurrency "
			 "connections in flight. Stores the crawl (nodes with id, user agent, "
			 "version, reachability and error class; who advertised whom; every "
			 "address response) in SQLite (--store) or PostgreSQL (--pg) under one "
			 "crawl id, and ends with a summary line (--json: an object). Loopback "
			 "and private addresses are skipped unless --allow-private. Exits 1 when "
			 "no node completed the handshake." },
	{ .name = "report", .summary = "the gossip study: how far a sensor's address spread",
	  .run = run_report, .sets = report_sets,
	  .description = "Reads the crawls in --store or --pg and answers \"the sensor's address "
			 "was observed in X% of address responses from Y unique peers after Z "
			 "hours\", with a timeline per crawl, as Markdown or (--json) JSON. See "
			 "docs/kaspa_gossip_study.md." },
	{ 0 }
};
