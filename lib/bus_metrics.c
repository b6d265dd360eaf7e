// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bus's statistics as Prometheus metrics: every daemon that publishes calls
 * vbus_metrics_register() once, and the values are copied from vbus_get_stats() at each scrape.
 */
#include <errno.h>

#include "vigil/bus.h"
#include "vigil/metrics.h"

struct bus_metrics {
	struct vbus *bus;
	struct vmetric *published, *acked, *spooled, *replayed, *dropped, *errors, *depth, *bytes,
		*in_flight, *connected;
};

static void collect(struct vmetrics *reg, void *ctx)
{
	struct bus_metrics *m = ctx;
	struct vbus_stats s;

	(void)reg;
	vbus_get_stats(m->bus, &s);
	vmetric_set(m->published, (double)s.published);
	vmetric_set(m->acked, (double)s.acked);
	vmetric_set(m->spooled, (double)s.spooled);
	vmetric_set(m->replayed, (double)s.replayed);
	vmetric_set(m->dropped, (double)s.dropped);
	vmetric_set(m->errors, (double)s.errors);
	vmetric_set(m->depth, (double)s.spool_depth);
	vmetric_set(m->bytes, (double)s.spool_bytes);
	vmetric_set(m->in_flight, (double)s.in_flight);
	vmetric_set(m->connected, s.connected ? 1 : 0);
}

/* The registry keeps the metrics; @m lives as long as the process (one per daemon). */
int vbus_metrics_register(struct vbus *bus, struct vmetrics *reg)
{
	static struct bus_metrics m;

	m.bus = bus;
	m.published = vmetrics_counter(reg, "vigil_bus_published_total",
				       "events accepted by the bus", NULL);
	m.acked = vmetrics_counter(reg, "vigil_bus_acked_total",
				   "events the NATS server confirmed", NULL);
	m.spooled = vmetrics_counter(reg, "vigil_bus_spooled_total",
				     "events written to the local spool while NATS was unreachable", NULL);
	m.replayed = vmetrics_counter(reg, "vigil_bus_replayed_total",
				      "spooled events delivered after NATS returned", NULL);
	m.dropped = vmetrics_counter(reg, "vigil_bus_dropped_total",
				     "events refused because the spool was full (--spool-max)", NULL);
	m.errors = vmetrics_counter(reg, "vigil_bus_errors_total",
				    "failed publishes, negative acks, ack timeouts, spool I/O errors",
				    NULL);
	m.depth = vmetrics_gauge(reg, "vigil_bus_spool_events", "events in the spool now", NULL);
	m.bytes = vmetrics_gauge(reg, "vigil_bus_spool_bytes", "payload bytes in the spool now", NULL);
	m.in_flight = vmetrics_gauge(reg, "vigil_bus_in_flight",
				     "events sent to JetStream whose ack has not arrived", NULL);
	m.connected = vmetrics_gauge(reg, "vigil_bus_connected",
				     "1 while the NATS connection is up", NULL);
	if (!m.published || !m.acked || !m.spooled || !m.replayed || !m.dropped || !m.errors ||
	    !m.depth || !m.bytes || !m.in_flight || !m.connected)
		return -errno;
	return vmetrics_on_collect(reg, collect, &m);
}
