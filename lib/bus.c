// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event bus: options, event ids, routing between the sinks and the spool, flush and stats.
 * See include/vigil/bus.h and docs/bus.md. The NATS half lives in lib/bus_nats.c, the JSON Lines
 * sink in lib/bus_jsonl.c, the spool in lib/spool.c.
 *
 * Routing of one event (loop thread):
 *   1. the jsonl sink, when configured, gets every event;
 *   2. with NATS: if the connection is up, the spool is empty and the in-flight window has room,
 *      the event is sent now; otherwise it is appended to the spool, which bus_nats_service()
 *      replays in order. An event is never sent directly while older ones wait in the spool, so
 *      the order on the server is the order of vbus_publish calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vigil/log.h"
#include "vigil/loop.h"
#include "vigil/util.h"
#include "bus_int.h"

const struct vopt vbus_opts[] = {
	VOPT_STRING("app-id", 0, struct vbus_cfg, app_id, "vigil", "ID",
		    "application id: events are published as <ID>.<capability>.<event>"),
	VOPT_STRING("nats-url", 0, struct vbus_cfg, nats_url, NULL, "URL",
		    "NATS server(s), comma-separated (nats://host:4222); unset: NATS off"),
	VOPT_STRING("nats-token", 0, struct vbus_cfg, nats_token, NULL, "TOKEN",
		    "NATS authentication token"),
	VOPT_STRING("nats-user", 0, struct vbus_cfg, nats_user, NULL, "USER", "NATS user name"),
	VOPT_STRING("nats-password", 0, struct vbus_cfg, nats_password, NULL, "PASSWORD",
		    "NATS password (prefer VIGIL_NATS_PASSWORD or the config file)"),
	VOPT_STRING("nats-creds", 0, struct vbus_cfg, nats_creds, NULL, "FILE",
		    "NATS credentials file (user JWT and NKey seed)"),
	VOPT_BOOL("nats-tls", 0, struct vbus_cfg, nats_tls, "require TLS to the NATS server"),
	VOPT_STRING("nats-tls-ca", 0, struct vbus_cfg, nats_tls_ca, NULL, "FILE",
		    "CA certificates (PEM) that sign the NATS server's certificate"),
	VOPT_STRING("nats-tls-cert", 0, struct vbus_cfg, nats_tls_cert, NULL, "FILE",
		    "client certificate (PEM) for NATS TLS client authentication"),
	VOPT_STRING("nats-tls-key", 0, struct vbus_cfg, nats_tls_key, NULL, "FILE",
		    "private key (PEM) of --nats-tls-cert"),
	VOPT_STRING("jetstream", 0, struct vbus_cfg, jetstream, NULL, "STREAM",
		    "publish to this JetStream stream with acks (created with subjects <ID>.> if "
		    "absent); unset: core NATS publish"),
	VOPT_STRING("jsonl", 0, struct vbus_cfg, jsonl, NULL, "FILE",
		    "also append every event as one JSON line to FILE (- for stdout)"),
	VOPT_STRING("spool", 0, struct vbus_cfg, spool, NULL, "FILE",
		    "SQLite spool for events NATS has not taken yet (default "
		    "$STATE_DIRECTORY, /var/lib/vigil or ~/.local/state/vigil, file "
		    "vigil-spool-<ID>.db)"),
	VOPT_SIZE("spool-max", 0, struct vbus_cfg, spool_max, "256MiB", 1024, 1ll << 42,
		  "bound on the spooled event bytes; beyond it new events are dropped, counted"),
	VOPT_DURATION("nats-timeout", 0, struct vbus_cfg, timeout_ns, "5s", 1000000ll,
		      600000000000ll,
		      "NATS connect timeout, JetStream ack wait and the flush time on shutdown"),
	VOPT_END
};

/* A subject part: tokens of [A-Za-z0-9_-] separated by single dots; no wildcards or spaces. */
static bool valid_subject_part(const char *s)
{
	bool tok_empty = true;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (c == '.') {
			if (tok_empty)
				return false;
			tok_empty = true;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '_' || c == '-') {
			tok_empty = false;
		} else {
			return false;
		}
	}
	return !tok_empty;
}

int vbus_default_spool(const char *app_id, char *buf, size_t n)
{
	const char *sd = getenv("STATE_DIRECTORY"), *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char dir[4096];
	int err;

	if (sd && *sd) {
		/* systemd may pass several, colon-separated: take the first */
		snprintf(dir, sizeof(dir), "%.*s", (int)strcspn(sd, ":"), sd);
	} else if (geteuid() == 0) {
		snprintf(dir, sizeof(dir), "/var/lib/vigil");
	} else if (xdg && *xdg) {
		snprintf(dir, sizeof(dir), "%s/vigil", xdg);
	} else if (home && *home) {
		snprintf(dir, sizeof(dir), "%s/.local/state/vigil", home);
	} else {
		return -ENOENT;
	}
	err = vmkdir_p(dir);
	if (err)
		return err;
	if ((size_t)snprintf(buf, n, "%s/vigil-spool-%s.db", dir, app_id ? app_id : "vigil") >= n)
		return -ENAMETOOLONG;
	return 0;
}

static void tick_cb(struct vloop *loop, void *ctx)
{
	struct vbus *b = ctx;

	(void)loop;
	if (b->nats)
		bus_nats_service(b);
	if (b->jsonl)
		bus_jsonl_flush(b->jsonl);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

struct vbus *vbus_open(const struct vbus_cfg *cfg, struct vloop *loop)
{
	struct vbus *b = calloc(1, sizeof(*b));
	const char *app_id = cfg->app_id && *cfg->app_id ? cfg->app_id : "vigil";
	bool nats = cfg->nats_url && *cfg->nats_url;
	unsigned char rnd[8];
	char spool_buf[4096];
	int err = 0;

	if (!b)
		return NULL;
	b->loop = loop;
	if (!valid_subject_part(app_id)) {
		log_error("bus", "bad --app-id '%s': use letters, digits, '_', '-' and single dots "
			  "(it starts every subject)", app_id);
		err = -EINVAL;
		goto fail;
	}
	if (!nats && cfg->jetstream && *cfg->jetstream) {
		log_error("bus", "--jetstream %s needs --nats-url", cfg->jetstream);
		err = -EINVAL;
		goto fail;
	}
	if (cfg->jetstream && *cfg->jetstream && strpbrk(cfg->jetstream, " .*>\t\r\n")) {
		log_error("bus", "bad --jetstream '%s': a stream name cannot hold spaces, '.', '*' "
			  "or '>'", cfg->jetstream);
		err = -EINVAL;
		goto fail;
	}
	b->app_id = strdup(app_id);
	b->url = dup_or_null(cfg->nats_url);
	b->stream = dup_or_null(cfg->jetstream);
	b->spool_max = cfg->spool_max ? cfg->spool_max : BUS_DEFAULT_SPOOL_MAX;
	b->timeout_ns = cfg->timeout_ns ? cfg->timeout_ns : BUS_DEFAULT_TIMEOUT_NS;
	if (!b->app_id || (nats && !b->url) || (cfg->jetstream && *cfg->jetstream && !b->stream)) {
		err = -ENOMEM;
		goto fail;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		/* no entropy syscall: time and pid still make the prefix unique enough */
		uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		memcpy(rnd, &t, sizeof(rnd));
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(b->id_prefix + 2 * i, 3, "%02x", rnd[i]);

	if (cfg->jsonl && *cfg->jsonl) {
		b->jsonl = bus_jsonl_open(cfg->jsonl);
		if (!b->jsonl) {
			err = -errno;
			goto fail;
		}
	}
	if (nats) {
		if (cfg->spool && *cfg->spool) {
			snprintf(spool_buf, sizeof(spool_buf), "%s", cfg->spool);
		} else {
			err = vbus_default_spool(app_id, spool_buf, sizeof(spool_buf));
			if (err) {
				log_error("bus", "cannot create the default spool directory: "
					  "%s (set --spool FILE)", strerror(-err));
				goto fail;
			}
		}
		b->spool_path = strdup(spool_buf);
		if (!b->spool_path) {
			err = -ENOMEM;
			goto fail;
		}
		b->spool = vspool_open(b->spool_path, b->spool_max);
		if (!b->spool) {
			err = -errno;
			goto fail;
		}
		b->next_pos = vspool_max_pos(b->spool);
		b->st.spool_depth = vspool_rows(b->spool);
		b->st.spool_bytes = vspool_bytes(b->spool);
		err = bus_nats_open(b, cfg);
		if (err)
			goto fail;
	}
	b->tick = vloop_timer_add_aligned(loop, BUS_TICK_NS, tick_cb, b);
	if (!b->tick) {
		err = -errno;
		log_error("bus", "cannot create the bus timer: %s", strerror(errno));
		goto fail;
	}
	return b;
fail:
	if (b->nats)
		bus_nats_close(b);
	vspool_close(b->spool);
	bus_jsonl_close(b->jsonl);
	free(b->app_id);
	free(b->url);
	free(b->stream);
	free(b->spool_path);
	free(b);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

int bus_spool_event(struct vbus *b, uint64_t pos, const char *id, const char *subject,
		    const char *json, size_t len, bool force)
{
	int err = vspool_push(b->spool, pos, id, subject, json, len, force);

	if (err == -ENOSPC) {
		b->st.dropped++;
		b->drops_in_episode++;
		if (!b->dropping) {
			b->dropping = true;
			log_warn("bus", "spool %s is full (--spool-max %llu bytes): dropping "
				 "new events until NATS at %s takes the spooled ones; raise "
				 "--spool-max to keep more", b->spool_path,
				 (unsigned long long)b->spool_max, b->url);
		}
		return err;
	}
	if (err) {
		b->st.errors++;
		return err;
	}
	if (b->dropping) {
		b->dropping = false;
		log_warn("bus", "spool %s accepts events again after dropping %llu",
			 b->spool_path, (unsigned long long)b->drops_in_episode);
		b->drops_in_episode = 0;
	}
	b->st.spooled++;
	return 0;
}

int vbus_cfg_default_stdout(struct vbus_cfg *cfg)
{
	if ((cfg->nats_url && *cfg->nats_url) || (cfg->jsonl && *cfg->jsonl))
		return 0;
	free(cfg->jsonl);
	cfg->jsonl = strdup("-");
	return cfg->jsonl ? 0 : -ENOMEM;
}

/*
 * "<a><sep><b>" into @dst (@n bytes), false if it does not fit: snprintf("%s.%s") without parsing
 * a format for every event (two snprintf calls were a tenth of `vigil rpc`'s CPU per call).
 */
static bool join(char *dst, size_t n, const char *a, char sep, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb + 2 > n)
		return false;
	memcpy(dst, a, la);
	dst[la] = sep;
	memcpy(dst + la + 1, b, lb + 1);
	return true;
}

/*
 * "<app_id>.<suffix>" after checking @suffix (in @tmp, @n bytes, or in the remembered ones), NULL
 * when it is not a valid subject part or too long. A producer publishes under a few suffixes
 * only: the last two are remembered, so most events cost a string compare here.
 */
static const char *subject_of(struct vbus *b, const char *suffix, char *tmp, size_t n)
{
	size_t sl;
	unsigned k;

	if (!suffix)
		return NULL;
	sl = strlen(suffix);
	for (k = 0; k < ARRAY_SIZE(b->subj); k++)
		if (b->subj[k].subject[0] && !strcmp(b->subj[k].suffix, suffix))
			return b->subj[k].subject;
	if (!valid_subject_part(suffix))
		return NULL;
	if (sl >= sizeof(b->subj[0].suffix))
		return join(tmp, n, b->app_id, '.', suffix) ? tmp : NULL;
	k = b->subj_next++ % ARRAY_SIZE(b->subj);
	if (!join(b->subj[k].subject, sizeof(b->subj[k].subject), b->app_id, '.', suffix)) {
		b->subj[k].subject[0] = 0;
		return NULL;
	}
	memcpy(b->subj[k].suffix, suffix, sl + 1);
	return b->subj[k].subject;
}

int vbus_publish(struct vbus *b, const char *suffix, const char *json, size_t len)
{
	char buf[256], id[BUS_ID_LEN], num[24];
	const char *subject = subject_of(b, suffix, buf, sizeof(buf));
	uint64_t pos, v;
	int i = (int)sizeof(num) - 1, err;

	if (!subject)
		return -EINVAL;
	if (b->nats && len > bus_nats_max_payload(b)) {
		b->st.errors++;
		return -EMSGSIZE;
	}
	pos = ++b->next_pos;
	num[i] = 0;
	v = pos;
	do {
		num[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	join(id, sizeof(id), b->id_prefix, '-', num + i); /* 19 + 1 + 20 digits fit in BUS_ID_LEN */
	if (b->jsonl) {
		err = bus_jsonl_write(b->jsonl, subject, id, json, len);
		if (err) {
			b->st.errors++;
			if (!b->nats)
				return err;
		}
	}
	if (!b->nats) {
		b->st.published++;
		return 0;
	}
	if (bus_nats_has_news(b))
		bus_nats_service(b);
	err = bus_nats_send(b, pos, id, subject, json, len);
	if (err == -EAGAIN)
		err = bus_spool_event(b, pos, id, subject, json, len, false);
	else if (err)
		b->st.errors++;
	if (!err)
		b->st.published++;
	return err;
}

int vbus_flush(struct vbus *b, int timeout_ms)
{
	uint64_t deadline = vloop_now_ns() + (uint64_t)MAX(timeout_ms, 0) * 1000000ull;
	int err = 0;

	if (b->jsonl)
		err = bus_jsonl_flush(b->jsonl);
	if (!b->nats)
		return err;
	for (;;) {
		bool more = bus_nats_service(b);
		uint64_t now;

		if (bus_nats_pending(b) == 0 && bus_nats_connected(b)) {
			uint64_t left = deadline > vloop_now_ns() ? deadline - vloop_now_ns() : 0;
			/* core NATS: what was written must have reached the server */
			err = bus_nats_roundtrip(b, (int)(left / 1000000ull) + 1);
			if (!err)
				return 0;
		} else if (bus_nats_pending(b) == 0 && !bus_nats_connected(b) && !b->stream) {
			/* nothing held back: core events sent before the outage are lost
			 * or delivered, there is nothing to wait for */
			return 0;
		}
		now = vloop_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (!more)
			bus_nats_wait(b, (int)MIN((deadline - now) / 1000000ull + 1, 20));
	}
}

void vbus_close(struct vbus *b)
{
	if (!b)
		return;
	if (b->nats) {
		/* with the server away, waiting would only delay shutdown: the spool
		 * keeps it all */
		int err = bus_nats_connected(b) ? vbus_flush(b, (int)(b->timeout_ns / 1000000ull))
						: -ENOTCONN;
		if (err && bus_nats_pending(b))
			log_warn("bus", "closing with %llu events not confirmed by NATS at %s; "
				 "they stay in the spool %s and are sent on the next start",
				 (unsigned long long)bus_nats_pending(b), b->url, b->spool_path);
		bus_nats_close(b);
	}
	vloop_timer_del(b->tick);
	vspool_close(b->spool);
	if (b->jsonl) {
		bus_jsonl_flush(b->jsonl);
		bus_jsonl_close(b->jsonl);
	}
	free(b->app_id);
	free(b->url);
	free(b->stream);
	free(b->spool_path);
	free(b);
}

void vbus_get_stats(struct vbus *b, struct vbus_stats *s)
{
	if (b->nats && bus_nats_has_news(b))
		bus_nats_service(b);
	*s = b->st;
	if (b->spool) {
		s->spool_depth = vspool_rows(b->spool);
		s->spool_bytes = vspool_bytes(b->spool);
	}
	s->connected = b->nats && bus_nats_connected(b);
	s->in_flight = b->nats ? bus_nats_in_flight(b) : 0;
}
