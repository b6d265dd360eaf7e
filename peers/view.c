// SPDX-License-Identifier: GPL-2.0-only
/* Sorting, summary, renderers and join/leave tracking for `vigil peers`; see view.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"
#include "vigil/util.h"

/* ---- sorting ---------------------------------------------------------------------------- */

static int strcmp_null(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_client(const void *pa, const void *pb)
{
	const struct peer *a = pa, *b = pb;
	int r;

	if (a->side != b->side)
		return (int)a->side - (int)b->side;
	if ((r = strcasecmp(a->client.name, b->client.name)))
		return r;
	if ((r = strcmp(b->client.version, a->client.version))) /* newest first, roughly */
		return r;
	return strcmp_null(a->id, b->id);
}

static int cmp_id(const void *pa, const void *pb)
{
	const struct peer *a = pa, *b = pb;

	if (a->side != b->side)
		return (int)a->side - (int)b->side;
	return strcmp_null(a->id, b->id);
}

static int cmp_dir(const void *pa, const void *pb)
{
	const struct peer *a = pa, *b = pb;

	if (a->side != b->side)
		return (int)a->side - (int)b->side;
	if (a->dir != b->dir)
		return (int)a->dir - (int)b->dir;
	return cmp_client(pa, pb);
}

static int cmp_remote(const void *pa, const void *pb)
{
	const struct peer *a = pa, *b = pb;
	int r;

	if (a->side != b->side)
		return (int)a->side - (int)b->side;
	if ((r = strcmp_null(a->remote, b->remote)))
		return r;
	return strcmp_null(a->id, b->id);
}

static int cmp_age(const void *pa, const void *pb)
{
	const struct peer *a = pa, *b = pb;

	if (a->side != b->side)
		return (int)a->side - (int)b->side;
	/* 0 (unknown) last; otherwise the oldest (smallest since) first */
	if (a->since_ns != b->since_ns) {
		if (!a->since_ns)
			return 1;
		if (!b->since_ns)
			return -1;
		return a->since_ns < b->since_ns ? -1 : 1;
	}
	return strcmp_null(a->id, b->id);
}

int peers_sort_parse(const char *s, enum peers_sort *out)
{
	static const char *const names[] = { "client", "id", "direction", "remote", "age" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (s && strcmp(s, names[i]) == 0) {
			*out = (enum peers_sort)i;
			return 0;
		}
	}
	return -EINVAL;
}

void peers_sort(struct peer_list *l, enum peers_sort key)
{
	int (*cmp)(const void *, const void *) = cmp_client;

	switch (key) {
	case PEERS_SORT_ID: cmp = cmp_id; break;
	case PEERS_SORT_DIRECTION: cmp = cmp_dir; break;
	case PEERS_SORT_REMOTE: cmp = cmp_remote; break;
	case PEERS_SORT_AGE: cmp = cmp_age; break;
	default: break;
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp);
}

/* ---- summary ---------------------------------------------------------------------------- */

static int cmp_count(const void *pa, const void *pb)
{
	const struct peers_client_count *a = pa, *b = pb;

	if (a->n != b->n)
		return a->n < b->n ? 1 : -1;
	return strcmp(a->name, b->name);
}

void peers_summarize(const struct peer_list *l, struct peers_summary *sum)
{
	/* counting by name needs more room than the top list keeps: count into a scratch table
	 * of distinct names (peers announce at most a few dozen), then keep the largest */
	struct peers_client_count scratch[2][64];
	size_t ns[2] = { 0, 0 }, overflow[2] = { 0, 0 };

	memset(sum, 0, sizeof(*sum));
	for (size_t i = 0; i < l->n; i++) {
		const struct peer *p = &l->v[i];
		int s = p->side == PEER_SIDE_CONS;
		size_t k;

		sum->total[s]++;
		sum->dir[s][(unsigned)p->dir < 3 ? p->dir : 0]++;
		for (k = 0; k < ns[s]; k++)
			if (strcmp(scratch[s][k].name, p->client.name) == 0)
				break;
		if (k == ns[s]) {
			if (ns[s] == ARRAY_SIZE(scratch[s])) {
				overflow[s]++;
				continue;
			}
			snprintf(scratch[s][k].name, sizeof(scratch[s][k].name), "%s",
				 p->client.name);
			scratch[s][k].n = 0;
			ns[s]++;
		}
		scratch[s][k].n++;
	}
	for (int s = 0; s < 2; s++) {
		qsort(scratch[s], ns[s], sizeof(scratch[s][0]), cmp_count);
		sum->nclients[s] = MIN(ns[s], (size_t)PEERS_TOP_CLIENTS);
		for (size_t k = 0; k < sum->nclients[s]; k++) {
			sum->clients[s][k] = scratch[s][k];
		}
		sum->other_clients[s] = overflow[s];
		for (size_t k = sum->nclients[s]; k < ns[s]; k++)
			sum->other_clients[s] += scratch[s][k].n;
	}
}

/* ---- table -------------------------------------------------------------------------------- */

/* "42s", "12m03s", "3h04m", "2d03h"; ">" prefix when the start is only a lower bound. */
static void fmt_age(char *buf, size_t n, const struct peer *p, uint64_t now)
{
	uint64_t s;

	if (!p->since_ns || now < p->since_ns) {
		snprintf(buf, n, "-");
		return;
	}
	s = (now - p->since_ns) / 1000000000ull;
	const char *gt = p->since_exact ? "" : ">";
	if (s < 60)
		snprintf(buf, n, "%s%" PRIu64 "s", gt, s);
	else if (s < 3600)
		snprintf(buf, n, "%s%" PRIu64 "m%02" PRIu64 "s", gt, s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, n, "%s%" PRIu64 "h%02" PRIu64 "m", gt, s / 3600, s / 60 % 60);
	else
		snprintf(buf, n, "%s%" PRIu64 "d%02" PRIu64 "h", gt, s / 86400, s / 3600 % 24);
}

enum col { C_ID, C_SIDE, C_CLIENT, C_VERSION, C_DIR, C_REMOTE, C_PROTO, C_AGE, NCOL };
static const char *const col_title[NCOL] = { "ID", "SIDE", "CLIENT", "VERSION", "DIR",
					     "REMOTE", "PROTOCOLS", "CONNECTED" };
static const int col_max[NCOL] = { 8, 4, 12, 30, 3, 46, 40, 10 };

/* The text of one cell (not yet sanitized or truncated). */
static const char *cell(const struct peer *p, enum col c, char *tmp, size_t n, uint64_t now)
{
	switch (c) {
	case C_ID: return p->short_id;
	case C_SIDE: return p->side == PEER_SIDE_CONS ? "cl" : "el";
	case C_CLIENT: return p->client.name;
	case C_VERSION: return p->client.version[0] ? p->client.version : "-";
	case C_DIR: return p->dir == PEER_DIR_IN ? "in" : p->dir == PEER_DIR_OUT ? "out" : "?";
	case C_REMOTE: return p->remote ? p->remote : "-";
	case C_PROTO: return p->protocols[0] ? p->protocols : "-";
	case C_AGE: fmt_age(tmp, n, p, now); return tmp;
	default: return "";
	}
}

/* Appends @s padded or cut to exactly @w columns; bytes outside printable ASCII become '?'.
 * A cut cell ends in '~'. */
static void put_cell(struct vbuf *b, const char *s, int w, bool pad)
{
	int len = (int)strnlen(s, 4096), k;
	bool cut = len > w;

	for (k = 0; k < w && k < len; k++) {
		unsigned char ch = (unsigned char)s[k];

		if (cut && k == w - 1)
			ch = '~';
		vbuf_putc(b, ch >= 0x20 && ch < 0x7f ? (char)ch : '?');
	}
	if (pad)
		for (; k < w; k++)
			vbuf_putc(b, ' ');
}

/* Appends a free-text line cut to @width columns, then the line end. */
static void put_line(struct vbuf *b, const char *s, int width, bool ansi)
{
	int len = (int)strlen(s);

	put_cell(b, s, MIN(len, width), false);
	vbuf_puts(b, ansi ? "\033[K\n" : "\n");
}

static void side_header(struct vbuf *b, const struct peers_snapshot *s,
			const struct peers_summary *sum, int side, int width, bool ansi)
{
	const struct peers_side_info *si = &s->side[side];
	const char *label = side ? "consensus" : "execution";
	struct vbuf l = VBUF_INIT;

	if (!si->up) {
		vbuf_printf(&l, "%s  DOWN: %s", label, si->error[0] ? si->error : "no answer");
		put_line(b, vbuf_cstr(&l), width, ansi);
		vbuf_free(&l);
		return;
	}
	vbuf_printf(&l, "%s  peers %zu (in %zu, out %zu", label, sum->total[side],
		    sum->dir[side][PEER_DIR_IN], sum->dir[side][PEER_DIR_OUT]);
	if (sum->dir[side][PEER_DIR_UNKNOWN])
		vbuf_printf(&l, ", unknown %zu", sum->dir[side][PEER_DIR_UNKNOWN]);
	vbuf_puts(&l, ")");
	if (si->has_peer_count && si->peer_count != sum->total[side])
		vbuf_printf(&l, " count %" PRIu64, si->peer_count);
	if (si->has_sync) {
		if (si->syncing)
			vbuf_printf(&l, "  syncing, %" PRIu64 " behind", si->sync_distance);
		else
			vbuf_printf(&l, "  synced, head %" PRIu64, si->head);
		if (si->optimistic)
			vbuf_puts(&l, ", optimistic");
		if (si->el_offline)
			vbuf_puts(&l, ", EL OFFLINE");
	}
	vbuf_printf(&l, "  %s", si->version[0] ? si->version : "(version unknown)");
	put_line(b, vbuf_cstr(&l), width, ansi);
	vbuf_reset(&l);
	vbuf_printf(&l, "%*s", (int)strlen(label), "");
	for (size_t k = 0; k < sum->nclients[side]; k++)
		vbuf_printf(&l, "  %s %zu", sum->clients[side][k].name, sum->clients[side][k].n);
	if (sum->other_clients[side])
		vbuf_printf(&l, "  other %zu", sum->other_clients[side]);
	if (sum->nclients[side])
		put_line(b, vbuf_cstr(&l), width, ansi);
	if (si->error[0]) {
		vbuf_reset(&l);
		vbuf_printf(&l, "%*s  warning: %s", (int)strlen(label), "", si->error);
		put_line(b, vbuf_cstr(&l), width, ansi);
	}
	vbuf_free(&l);
}

int peers_render_table(struct vbuf *out, const struct peers_snapshot *s,
		       const struct peers_table_opts *o)
{
	int width = o && o->width > 0 ? o->width : 80, height = o ? o->height : 0;
	bool ansi = o && o->ansi, show[NCOL];
	uint64_t now = o && o->now_ns ? o->now_ns : s->taken_ns;
	int w[NCOL], total, lines = 0, sides = 0;
	struct peers_summary sum;
	size_t start = out->len, rows;
	char tmp[32];

	peers_summarize(&s->peers, &sum);
	if (ansi)
		vbuf_puts(out, "\033[H");
	for (int side = 0; side < 2; side++) {
		if (!s->side[side].enabled)
			continue;
		sides++;
		side_header(out, s, &sum, side, width, ansi);
	}
	if (!sides)
		put_line(out, "no endpoint configured", width, ansi);
	put_line(out, "", width, ansi);
	for (const char *c = out->data + start; c && c < out->data + out->len; c++)
		lines += *c == '\n';

	/* natural widths, then fit */
	for (int c = 0; c < NCOL; c++) {
		w[c] = (int)strlen(col_title[c]);
		show[c] = true;
	}
	show[C_SIDE] = sides > 1;
	for (size_t i = 0; i < s->peers.n; i++)
		for (int c = 0; c < NCOL; c++) {
			int len = (int)strlen(cell(&s->peers.v[i], c, tmp, sizeof(tmp), now));

			w[c] = MAX(w[c], MIN(len, col_max[c]));
		}
	/* Fitting plan, most expendable first: a step shrinks a column to a width or drops it. */
	static const struct {
		enum col c;
		int to; /* 0: drop */
	} plan[] = {
		{ C_PROTO, 8 },	  { C_PROTO, 0 },   { C_VERSION, 12 }, { C_SIDE, 0 },
		{ C_REMOTE, 21 }, { C_VERSION, 8 }, { C_AGE, 0 },      { C_REMOTE, 12 },
		{ C_VERSION, 0 }, { C_REMOTE, 0 },
	};
	for (size_t k = 0;; k++) {
		total = -2;
		for (int c = 0; c < NCOL; c++)
			if (show[c])
				total += w[c] + 2;
		if (total <= width || k == ARRAY_SIZE(plan))
			break; /* else ID, CLIENT, DIR at their minimum: let the terminal cut */
		enum col c = plan[k].c;

		if (!show[c])
			continue;
		if (!plan[k].to)
			show[c] = false;
		else if (w[c] > plan[k].to)
			w[c] = MAX(plan[k].to, w[c] - (total - width));
	}

	int last = NCOL - 1;

	while (last > 0 && !show[last])
		last--;
	if (ansi)
		vbuf_puts(out, "\033[7m");
	for (int c = 0, first = 1; c < NCOL; c++) {
		if (!show[c])
			continue;
		if (!first)
			vbuf_puts(out, "  ");
		first = 0;
		put_cell(out, col_title[c], w[c], c != last);
	}
	vbuf_puts(out, ansi ? "\033[0m\033[K\n" : "\n");
	lines++;
	rows = s->peers.n;
	if (height > 0) {
		int room = height - lines - 1; /* keep a line for "... more" */

		if (room < 0)
			room = 0;
		if ((size_t)room < rows)
			rows = (size_t)room;
		if (rows + 1 == s->peers.n)
			rows++; /* the "more" line would take the last row anyway */
	}
	for (size_t i = 0; i < rows; i++) {
		const struct peer *p = &s->peers.v[i];

		for (int c = 0, first = 1; c < NCOL; c++) {
			if (!show[c])
				continue;
			if (!first)
				vbuf_puts(out, "  ");
			first = 0;
			put_cell(out, cell(p, c, tmp, sizeof(tmp), now), w[c], c != last);
		}
		vbuf_puts(out, ansi ? "\033[K\n" : "\n");
	}
	if (rows < s->peers.n) {
		char more[96];

		snprintf(more, sizeof(more), "... %zu more peers (taller terminal, or --json)",
			 s->peers.n - rows);
		put_line(out, more, width, ansi);
	}
	if (ansi)
		vbuf_puts(out, "\033[J");
	return out->data || out->len == 0 ? 0 : -ENOMEM;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void json_ts(struct vjw *w, const char *key, uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };
	char buf[VTIME_BUFLEN];

	vjw_kstr(w, key, vtime_utc_us(buf, sizeof(buf), &ts));
}

static void json_peer(struct vjw *w, const struct peer *p, uint64_t now)
{
	vjw_obj(w);
	vjw_kstr(w, "side", peer_side_str(p->side));
	vjw_kstr(w, "id", p->id);
	vjw_kstr(w, "short_id", p->short_id);
	vjw_kstr(w, "client", p->client.name);
	vjw_kstr(w, "version", p->client.version[0] ? p->client.version : NULL);
	vjw_kstr(w, "os", p->client.os[0] ? p->client.os : NULL);
	vjw_kstr(w, "arch", p->client.arch[0] ? p->client.arch : NULL);
	vjw_kstr(w, "runtime", p->client.runtime[0] ? p->client.runtime : NULL);
	vjw_kstr(w, "name", p->name);
	vjw_kstr(w, "direction", peer_dir_str(p->dir));
	vjw_kstr(w, "state", peer_state_str(p->state));
	vjw_kstr(w, "remote", p->remote);
	if (p->local)
		vjw_kstr(w, "local", p->local);
	vjw_kstr(w, "protocols", p->protocols);
	if (p->enode)
		vjw_kstr(w, "enode", p->enode);
	if (p->enr)
		vjw_kstr(w, "enr", p->enr);
	if (p->trusted)
		vjw_kbool(w, "trusted", true);
	if (p->static_node)
		vjw_kbool(w, "static", true);
	if (p->since_ns) {
		json_ts(w, "connected_since", p->since_ns);
		vjw_kuint(w, "connected_seconds",
			  now > p->since_ns ? (now - p->since_ns) / 1000000000ull : 0);
		vjw_kbool(w, "since_exact", p->since_exact);
	}
	vjw_end(w);
}

int peers_render_json(struct vbuf *out, const struct peers_snapshot *s)
{
	struct peers_summary sum;
	struct vjw w;

	peers_summarize(&s->peers, &sum);
	vjw_init(&w, out);
	vjw_obj(&w);
	json_ts(&w, "ts", s->taken_ns);
	for (int side = 0; side < 2; side++) {
		const struct peers_side_info *si = &s->side[side];

		if (!si->enabled)
			continue;
		vjw_key(&w, peer_side_str(side));
		vjw_obj(&w);
		vjw_kbool(&w, "up", si->up);
		if (si->error[0])
			vjw_kstr(&w, "error", si->error);
		if (si->admin_disabled)
			vjw_kbool(&w, "admin_disabled", true);
		vjw_kstr(&w, "version", si->version[0] ? si->version : NULL);
		vjw_kuint(&w, "peers", sum.total[side]);
		if (si->has_peer_count)
			vjw_kuint(&w, "peer_count", si->peer_count);
		vjw_key(&w, "direction");
		vjw_obj(&w);
		vjw_kuint(&w, "in", sum.dir[side][PEER_DIR_IN]);
		vjw_kuint(&w, "out", sum.dir[side][PEER_DIR_OUT]);
		vjw_kuint(&w, "unknown", sum.dir[side][PEER_DIR_UNKNOWN]);
		vjw_end(&w);
		vjw_key(&w, "clients");
		vjw_obj(&w);
		for (size_t k = 0; k < sum.nclients[side]; k++)
			vjw_kuint(&w, sum.clients[side][k].name, sum.clients[side][k].n);
		if (sum.other_clients[side])
			vjw_kuint(&w, "other", sum.other_clients[side]);
		vjw_end(&w);
		if (si->has_sync) {
			vjw_kbool(&w, "syncing", si->syncing);
			vjw_kuint(&w, "head", si->head);
			vjw_kuint(&w, "sync_distance", si->sync_distance);
			if (side == PEER_SIDE_CONS) {
				vjw_kbool(&w, "optimistic", si->optimistic);
				vjw_kbool(&w, "el_offline", si->el_offline);
			}
		}
		vjw_kuint(&w, "fetch_ms", si->fetch_ns / 1000000);
		vjw_end(&w);
	}
	vjw_key(&w, "peers");
	vjw_arr(&w);
	for (size_t i = 0; i < s->peers.n; i++)
		json_peer(&w, &s->peers.v[i], s->taken_ns);
	vjw_end(&w);
	vjw_end(&w);
	if (w.err)
		return -w.err;
	return vbuf_putc(out, '\n');
}

/* ---- CSV ------------------------------------------------------------------------------------ */

/* RFC 4180 field; a leading = + - @ gets a ' so a spreadsheet never runs a peer's name. */
static void csv_field(struct vbuf *b, const char *s, bool last)
{
	if (!s)
		s = "";
	bool quote = strpbrk(s, ",\"\r\n") != NULL;

	if (quote)
		vbuf_putc(b, '"');
	if (strchr("=+-@", s[0]) && s[0])
		vbuf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '"')
			vbuf_putc(b, '"');
		vbuf_putc(b, *s);
	}
	if (quote)
		vbuf_putc(b, '"');
	vbuf_puts(b, last ? "\r\n" : ",");
}

int peers_render_csv(struct vbuf *out, const struct peers_snapshot *s, bool header)
{
	if (header)
		vbuf_puts(out, "side,id,client,version,os,arch,runtime,direction,state,remote,"
			       "protocols,connected_seconds,name,ts\r\n");
	/* ts: the snapshot's time, so that the rows of successive refreshes tell apart */
	struct timespec tts = { .tv_sec = (time_t)(s->taken_ns / 1000000000ull),
				.tv_nsec = (long)(s->taken_ns % 1000000000ull) };
	char ts[VTIME_BUFLEN];

	vtime_utc_us(ts, sizeof(ts), &tts);
	for (size_t i = 0; i < s->peers.n; i++) {
		const struct peer *p = &s->peers.v[i];
		char age[32] = "";

		if (p->since_ns && s->taken_ns >= p->since_ns)
			snprintf(age, sizeof(age), "%.0f",
				 (double)(s->taken_ns - p->since_ns) / 1e9);
		csv_field(out, peer_side_str(p->side), false);
		csv_field(out, p->id, false);
		csv_field(out, p->client.name, false);
		csv_field(out, p->client.version, false);
		csv_field(out, p->client.os, false);
		csv_field(out, p->client.arch, false);
		csv_field(out, p->client.runtime, false);
		csv_field(out, peer_dir_str(p->dir), false);
		csv_field(out, peer_state_str(p->state), false);
		csv_field(out, p->remote, false);
		csv_field(out, p->protocols, false);
		csv_field(out, age, false);
		csv_field(out, p->name, false);
		csv_field(out, ts, true);
	}
	return out->len && !out->data ? -ENOMEM : 0;
}

/* ---- join/leave tracking ------------------------------------------------------------------- */

void peers_tracker_init(struct peers_tracker *t)
{
	memset(t, 0, sizeof(*t));
}

static void seen_free(struct peer_seen *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].name);
		free(v[i].remote);
	}
	free(v);
}

void peers_tracker_free(struct peers_tracker *t)
{
	seen_free(t->known, t->n);
	peers_tracker_init(t);
}

static int cmp_ptr_id(const void *pa, const void *pb)
{
	return cmp_id(*(const struct peer *const *)pa, *(const struct peer *const *)pb);
}

/* Same order as cmp_id(), between a remembered peer and a current one. */
static int cmp_seen(const struct peer_seen *k, const struct peer *c)
{
	if (k->side != c->side)
		return (int)k->side - (int)c->side;
	return strcmp_null(k->id, c->id);
}

/* The fields a leave event and the next update need, copied. */
static int seen_set(struct peer_seen *dst, const struct peer *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->side = src->side;
	dst->dir = src->dir;
	memcpy(dst->short_id, src->short_id, sizeof(dst->short_id));
	dst->since_ns = src->since_ns;
	dst->since_exact = src->since_exact;
	dst->id = strdup(src->id ? src->id : "");
	dst->name = src->name ? strdup(src->name) : NULL;
	dst->remote = src->remote ? strdup(src->remote) : NULL;
	if (!dst->id || (src->name && !dst->name) || (src->remote && !dst->remote)) {
		free(dst->id);
		free(dst->name);
		free(dst->remote);
		return -ENOMEM;
	}
	return 0;
}

/* The peer a leave event reports, from what was remembered of it (pointers borrowed). */
static void seen_peer(struct peer *p, const struct peer_seen *k)
{
	memset(p, 0, sizeof(*p));
	p->side = k->side;
	p->dir = k->dir;
	p->id = k->id;
	p->name = k->name;
	p->remote = k->remote;
	memcpy(p->short_id, k->short_id, sizeof(p->short_id));
	p->since_ns = k->since_ns;
	p->since_exact = k->since_exact;
	peer_client_parse(k->name, &p->client);
}

static void emit(const char *kind, const struct peer *p, uint64_t now, peers_event_fn fn,
		 void *ctx, struct vbuf *b)
{
	struct vjw w;

	vbuf_reset(b);
	vjw_init(&w, b);
	vjw_obj(&w);
	vjw_kstr(&w, "event", kind);
	json_ts(&w, "ts", now);
	vjw_kstr(&w, "side", peer_side_str(p->side));
	vjw_kstr(&w, "id", p->id);
	vjw_kstr(&w, "short_id", p->short_id);
	vjw_kstr(&w, "client", p->client.name);
	vjw_kstr(&w, "version", p->client.version[0] ? p->client.version : NULL);
	vjw_kstr(&w, "name", p->name);
	vjw_kstr(&w, "direction", peer_dir_str(p->dir));
	vjw_kstr(&w, "remote", p->remote);
	if (strcmp(kind, "leave") == 0 && p->since_ns) {
		vjw_kuint(&w, "connected_seconds",
			  now > p->since_ns ? (now - p->since_ns) / 1000000000ull : 0);
		vjw_kbool(&w, "since_exact", p->since_exact);
	}
	vjw_end(&w);
	if (!w.err && fn)
		fn(b->data, b->len, ctx);
}

int peers_tracker_update(struct peers_tracker *t, struct peer_list *cur, unsigned observed,
			 uint64_t now_ns, peers_event_fn fn, void *ctx)
{
	struct peer **idx = NULL;
	struct peer_seen *next;
	struct peer gone;
	struct vbuf ev = VBUF_INIT;
	size_t i = 0, j = 0, m = 0, n = 0;
	int events = 0, rc = 0;

	/* index of the observed sides' current peers, sorted like t->known */
	idx = malloc((cur->n ? cur->n : 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t k = 0; k < cur->n; k++)
		if (observed & (1u << cur->v[k].side))
			idx[m++] = &cur->v[k];
	qsort(idx, m, sizeof(*idx), cmp_ptr_id);
	next = calloc(t->n + m ? t->n + m : 1, sizeof(*next));
	if (!next) {
		free(idx);
		return -ENOMEM;
	}
	while (i < t->n || j < m) {
		struct peer_seen *k = i < t->n ? &t->known[i] : NULL;
		struct peer *c = j < m ? idx[j] : NULL;
		int r = !k ? 1 : !c ? -1 : cmp_seen(k, c);

		if (j > 0 && c && cmp_id(idx[j - 1], c) == 0) {
			/* a node listing one peer twice: count it once */
			c->since_ns = idx[j - 1]->since_ns;
			c->since_exact = idx[j - 1]->since_exact;
			j++;
			continue;
		}
		if (r < 0 && !(observed & (1u << k->side))) {
			/* side not observed this time: remember the peer unchanged */
			next[n++] = *k;
			memset(k, 0, sizeof(*k));
			i++;
		} else if (r < 0) {
			seen_peer(&gone, k);
			emit("leave", &gone, now_ns, fn, ctx, &ev);
			events++;
			i++;
		} else if (r == 0) {
			c->since_ns = k->since_ns;
			c->since_exact = k->since_exact;
			if ((rc = seen_set(&next[n], c)))
				goto out;
			n++;
			i++;
			j++;
		} else {
			c->since_ns = now_ns;
			c->since_exact = t->primed[c->side];
			if (t->primed[c->side]) {
				emit("join", c, now_ns, fn, ctx, &ev);
				events++;
			}
			if ((rc = seen_set(&next[n], c)))
				goto out;
			n++;
			j++;
		}
	}
	for (int s = 0; s < 2; s++)
		if (observed & (1u << s))
			t->primed[s] = true;
	seen_free(t->known, t->n);
	t->known = next;
	t->n = n;
	next = NULL;
	n = 0;
out:
	seen_free(next, n);
	vbuf_free(&ev);
	free(idx);
	return rc ? rc : events;
}

int peers_events_subject(const char *app_id, char *buf, size_t n)
{
	if (!app_id || !*app_id || strpbrk(app_id, " \t\r\n*>"))
		return -EINVAL;
	if ((size_t)snprintf(buf, n, "%s.peers.events", app_id) >= n)
		return -ENAMETOOLONG;
	return 0;
}
