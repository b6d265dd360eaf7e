// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vigil kaspa sensor`: the option tables and the run function around kaspa_sensor_new
 * (sensor.h), the bus and the metrics server. Kept apart from the library half because it reads
 * the CLI's option structs.
 */
#include <errno.h>
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
#include "kaspa/kaspa.h"
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
	kaspa_wire_apply(&wire, &p.conn);
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
	{ 0 }
};
