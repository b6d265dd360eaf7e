// SPDX-License-Identifier: GPL-2.0-only
/*
 * The h2c session behind one Kaspa P2P connection, on nghttp2. See h2.h.
 *
 * nghttp2 does the HTTP/2 protocol (HPACK with Huffman, flow control, SETTINGS, PING, GOAWAY);
 * this file speaks gRPC on top: it accepts or opens the one MessageStream call, frames and
 * deframes messages (grpc.c) and unpacks them (wire.c). Output goes through
 * nghttp2_session_mem_send into the socket; what the socket does not take waits in wpend.
 * Outbound DATA comes from `out` through a data provider that defers when `out` is empty and is
 * resumed by kaspa_h2_send.
 */
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vigil/log.h"
#include "vigil/util.h"
#include "grpc.h"
#include "h2.h"

#define DEFAULT_MAX_OUT (16u << 20)
#define WINDOW (1u << 20)
#define HDR_VAL_MAX 128

struct h2_hdrs {
	char path[HDR_VAL_MAX], ctype[HDR_VAL_MAX], enc[HDR_VAL_MAX], accept_enc[HDR_VAL_MAX];
	char grpc_msg[HDR_VAL_MAX];
	int status, grpc_status;
};

struct kaspa_h2 {
	nghttp2_session *s;
	int fd;
	enum kaspa_h2_role role;
	struct kaspa_h2_config cfg;
	struct kaspa_h2_ops ops;
	void *ctx;

	int32_t sid;		/* the MessageStream call, 0 before it exists */
	bool open;		/* call accepted (server) / response headers seen (client) */
	bool deferred;		/* the data provider is waiting for `out` */
	bool finishing;		/* kaspa_h2_finish was called */
	bool stream_closed;
	enum kaspa_grpc_enc send_enc;
	struct kaspa_grpc_dec dec;
	struct vbuf out;	/* framed messages not yet handed to nghttp2 */
	size_t out_off;
	struct vbuf wpend;	/* bytes nghttp2 produced that the socket did not take */
	size_t wpend_off;

	/* headers of the block being received (one block at a time in HTTP/2), allocated for
	 * the block only: an established call keeps none */
	int32_t hdr_sid;
	struct h2_hdrs *hdrs;

	/* the session's own pages for nghttp2's large, sparsely used blocks (see RGN_*) */
	bool creating;
	uint8_t *rgn;
	unsigned rgn_used;	/* bit per slot handed out */
	bool rgn_dirty;		/* frames were serialised since the last trim */
	bool self_in_rgn;	/* this struct lives in the mapping */
	void *room;		/* the caller's block when it could not go into the mapping */

	uint64_t bytes_in, bytes_out, msgs_out;
	int err;
	char *why;		/* allocated with the error: a healthy session keeps none */
};

/* Records the first error that ends the session; returns it. */
static int set_err(struct kaspa_h2 *h, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int set_err(struct kaspa_h2 *h, int err, const char *fmt, ...)
{
	va_list ap;

	if (h->err)
		return h->err;
	h->err = err;
	va_start(ap, fmt);
	if (vasprintf(&h->why, fmt, ap) < 0)
		h->why = NULL;
	va_end(ap);
	return err;
}

static void copy_hdr(char *dst, const uint8_t *v, size_t n)
{
	if (n >= HDR_VAL_MAX)
		n = HDR_VAL_MAX - 1;
	memcpy(dst, v, n);
	dst[n] = 0;
}

#define NV(n, v)                                                                                  \
	{                                                                                         \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),                         \
			NGHTTP2_NV_FLAG_NO_COPY_NAME                                              \
	}

/* Hands the next chunk of `out` to nghttp2; defers while empty; ends the stream on finish. */
static ssize_t data_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *ud)
{
	struct kaspa_h2 *h = ud;
	size_t avail = h->out.len - h->out_off;

	(void)src;
	if (avail == 0) {
		if (!h->finishing) {
			h->deferred = true;
			return NGHTTP2_ERR_DEFERRED;
		}
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (h->role == KASPA_H2_SERVER) {
			nghttp2_nv trailers[] = { NV("grpc-status", "0") };

			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			nghttp2_submit_trailer(s, sid, trailers, 1);
		}
		return 0;
	}
	if (len > avail)
		len = avail;
	memcpy(buf, h->out.data + h->out_off, len);
	h->out_off += len;
	if (h->out_off == h->out.len) {
		vbuf_free(&h->out);
		h->out_off = 0;
	} else if (h->out_off > (64u << 10) && h->out_off * 2 > h->out.len) {
		memmove(h->out.data, h->out.data + h->out_off, h->out.len - h->out_off);
		h->out.len -= h->out_off;
		h->out_off = 0;
	}
	return (ssize_t)len;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct kaspa_h2 *h = ud;

	(void)s;
	h->hdr_sid = f->hd.stream_id;
	if (!h->hdrs && !(h->hdrs = malloc(sizeof(*h->hdrs)))) {
		set_err(h, -ENOMEM, "out of memory receiving headers");
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	h->hdrs->path[0] = h->hdrs->ctype[0] = h->hdrs->enc[0] = h->hdrs->accept_enc[0] = 0;
	h->hdrs->grpc_msg[0] = 0;
	h->hdrs->status = 0;
	h->hdrs->grpc_status = -1;
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	struct kaspa_h2 *h = ud;

	(void)s;
	(void)flags;
	if (f->hd.stream_id != h->hdr_sid || !h->hdrs)
		return 0;
#define IS(lit) (nlen == sizeof(lit) - 1 && memcmp(name, lit, nlen) == 0)
	if (IS(":path"))
		copy_hdr(h->hdrs->path, value, vlen);
	else if (IS("content-type"))
		copy_hdr(h->hdrs->ctype, value, vlen);
	else if (IS("grpc-encoding"))
		copy_hdr(h->hdrs->enc, value, vlen);
	else if (IS("grpc-accept-encoding"))
		copy_hdr(h->hdrs->accept_enc, value, vlen);
	else if (IS("grpc-message"))
		copy_hdr(h->hdrs->grpc_msg, value, vlen);
	else if (IS(":status") || IS("grpc-status")) {
		int v = vlen ? 0 : 999;

		/* a status is 1-3 digits; anything else reads as 999 (not 0 or 200) */
		for (size_t i = 0; i < vlen; i++) {
			if (i >= 3 || value[i] < '0' || value[i] > '9') {
				v = 999;
				break;
			}
			v = v * 10 + (value[i] - '0');
		}
		if (IS(":status"))
			h->hdrs->status = v;
		else
			h->hdrs->grpc_status = v;
	}
#undef IS
	return 0;
}

static bool is_grpc_ctype(const char *ct)
{
	return strncmp(ct, "application/grpc", 16) == 0 &&
	       (ct[16] == 0 || ct[16] == '+' || ct[16] == ';');
}

/* Trailers-only answer to a call we do not serve. */
static void reject_call(struct kaspa_h2 *h, int32_t sid, const char *status, const char *msg)
{
	nghttp2_nv nva[] = { NV(":status", "200"), NV("content-type", "application/grpc"),
			     NV("grpc-status", status), NV("grpc-message", msg) };

	nghttp2_submit_response(h->s, sid, nva, 4, NULL);
}

/* Server: a request arrived; accept it as the MessageStream call or refuse it. */
static int server_request(struct kaspa_h2 *h, int32_t sid)
{
	const struct h2_hdrs *hd = h->hdrs;
	enum kaspa_grpc_enc in_enc = KASPA_GRPC_IDENTITY;
	nghttp2_data_provider prov = { .read_callback = data_read };
	nghttp2_nv nva[4];
	size_t n = 0;

	if (strcmp(hd->path, KASPA_GRPC_PATH) != 0) {
		log_debug("kaspa", "h2: refusing call to %s (grpc-status 12)", hd->path);
		reject_call(h, sid, "12", "unknown method (this peer serves " KASPA_GRPC_PATH ")");
		return 0;
	}
	if (h->sid) {
		nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, sid, NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	if (!is_grpc_ctype(hd->ctype)) {
		reject_call(h, sid, "3", "content-type is not application/grpc");
		return 0;
	}
	if (hd->enc[0] && kaspa_grpc_enc_parse(hd->enc, strlen(hd->enc), &in_enc)) {
		reject_call(h, sid, "12", "unsupported grpc-encoding (use gzip, deflate or identity)");
		return 0;
	}
	h->sid = sid;
	kaspa_grpc_dec_init(&h->dec, h->cfg.max_msg, in_enc);
	h->send_enc = h->cfg.gzip_send && strstr(hd->accept_enc, "gzip") ? KASPA_GRPC_GZIP
									 : KASPA_GRPC_IDENTITY;
	nva[n++] = (nghttp2_nv)NV(":status", "200");
	nva[n++] = (nghttp2_nv)NV("content-type", "application/grpc");
	nva[n++] = (nghttp2_nv)NV("grpc-accept-encoding", "identity,gzip,deflate");
	if (h->send_enc == KASPA_GRPC_GZIP)
		nva[n++] = (nghttp2_nv)NV("grpc-encoding", "gzip");
	if (nghttp2_submit_response(h->s, sid, nva, n, &prov))
		return set_err(h, -ENOMEM, "cannot submit the response headers");
	h->open = true;
	if (h->ops.on_open)
		h->ops.on_open(h, h->ctx);
	return 0;
}

/* Client: the response headers (or trailers) of our call arrived. */
static int client_headers(struct kaspa_h2 *h, const nghttp2_frame *f)
{
	const struct h2_hdrs *hd = h->hdrs;
	enum kaspa_grpc_enc in_enc = KASPA_GRPC_IDENTITY;

	if (f->headers.cat == NGHTTP2_HCAT_RESPONSE) {
		if (hd->status != 200)
			return set_err(h, -EPROTO, "peer answered the call with HTTP status %d",
				       hd->status);
		if (hd->grpc_status > 0)
			return set_err(h, -ECONNREFUSED, "peer refused the call: grpc-status %d (%s)",
				       hd->grpc_status, hd->grpc_msg);
		if (!is_grpc_ctype(hd->ctype))
			return set_err(h, -EPROTO, "peer answered with content-type \"%s\"",
				       hd->ctype);
		if (hd->enc[0] && kaspa_grpc_enc_parse(hd->enc, strlen(hd->enc), &in_enc))
			return set_err(h, -EPROTO, "peer uses unsupported grpc-encoding \"%s\"",
				       hd->enc);
		kaspa_grpc_dec_init(&h->dec, h->cfg.max_msg, in_enc);
		h->open = true;
		if (h->ops.on_open)
			h->ops.on_open(h, h->ctx);
	} else if (hd->grpc_status > 0) {
		return set_err(h, -ECONNRESET, "peer ended the call: grpc-status %d (%s)",
			       hd->grpc_status, hd->grpc_msg);
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct kaspa_h2 *h = ud;

	(void)s;
	if (f->hd.type == NGHTTP2_HEADERS && h->hdrs) {
		if (h->role == KASPA_H2_SERVER && f->headers.cat == NGHTTP2_HCAT_REQUEST)
			server_request(h, f->hd.stream_id);
		else if (h->role == KASPA_H2_CLIENT && f->hd.stream_id == h->sid)
			client_headers(h, f);
		free(h->hdrs);
		h->hdrs = NULL;
	}
	if (f->hd.stream_id == h->sid && h->sid && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA)) {
		if (!kaspa_grpc_dec_idle(&h->dec))
			set_err(h, -EPROTO, "peer ended the call inside a message");
		else
			set_err(h, -EPIPE, "peer ended the call");
	}
	return 0;
}

static int deliver_msg(const uint8_t *p, size_t n, void *ctx)
{
	struct kaspa_h2 *h = ctx;
	Protowire__KaspadMessage *m = kaspa_msg_unpack(p, n);
	int err = 0;

	if (!m)
		return set_err(h, -EBADMSG, "invalid protobuf in a %zu-byte KaspadMessage", n);
	if (h->ops.on_message)
		err = h->ops.on_message(h, m, h->ctx);
	kaspa_msg_free(m);
	if (err < 0)
		return set_err(h, err, "the application ended the session (%s)", strerror(-err));
	return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
			 size_t len, void *ud)
{
	struct kaspa_h2 *h = ud;
	int err;

	(void)s;
	(void)flags;
	if (sid != h->sid || !h->open || h->err)
		return 0;
	err = kaspa_grpc_dec_feed(&h->dec, data, len, deliver_msg, h);
	if (err == -EMSGSIZE)
		set_err(h, err, "peer sent a message above the %zu-byte limit", h->dec.max_msg);
	else if (err == -EPROTO)
		set_err(h, err, "bad gRPC framing or compressed data (grpc-encoding %s)",
			kaspa_grpc_enc_name(h->dec.enc));
	else if (err)
		set_err(h, err, "cannot process a message: %s", strerror(-err));
	/* the rest of the session's input is ignored; process() ends the session */
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
	struct kaspa_h2 *h = ud;

	(void)s;
	if (sid != h->sid)
		return 0;
	h->stream_closed = true;
	if (code != NGHTTP2_NO_ERROR)
		set_err(h, -ECONNRESET, "peer reset the call (%s)", nghttp2_http2_strerror(code));
	else if (!h->finishing)
		set_err(h, -EPIPE, "the call ended");
	return 0;
}

/* nghttp2 found a connection error in what the peer sent (it queues GOAWAY itself). */
static int on_error(nghttp2_session *s, int code, const char *msg, size_t len, void *ud)
{
	struct kaspa_h2 *h = ud;

	(void)s;
	(void)code;
	set_err(h, -EPROTO, "HTTP/2 protocol error from the peer: %.*s", (int)len, msg);
	return 0;
}

static int on_invalid_frame(nghttp2_session *s, const nghttp2_frame *f, int code, void *ud)
{
	struct kaspa_h2 *h = ud;

	(void)s;
	/* a stream error on another stream does not concern the call */
	if (f->hd.stream_id == 0 || f->hd.stream_id == h->sid)
		set_err(h, -EPROTO, "HTTP/2 protocol error from the peer: invalid %s frame (%s)",
			f->hd.type == NGHTTP2_HEADERS ? "HEADERS" : "control",
			nghttp2_strerror(code));
	return 0;
}

/*
 * Sends wpend, then whatever nghttp2 has, until the socket would block. nghttp2 hands out one
 * frame per nghttp2_session_mem_send call: the frames it has are gathered (up to GATHER_MAX) and
 * go out in one send, since each send on a socket costs far more than the copy (the handshake's
 * frames took 8 sends per connection, now about half).
 */
#define GATHER_MAX (64u << 10)
static int flush(struct kaspa_h2 *h)
{
	bool more = true;

	for (;;) {
		while (more && h->wpend.len - h->wpend_off < GATHER_MAX) {
			const uint8_t *data;
			ssize_t n = nghttp2_session_mem_send(h->s, &data);

			if (n < 0)
				return set_err(h, -EPROTO, "HTTP/2 send failed: %s",
					       nghttp2_strerror((int)n));
			if (n == 0) {
				more = false;
				break;
			}
			h->rgn_dirty = true;
			if (vbuf_append(&h->wpend, data, (size_t)n))
				return set_err(h, -ENOMEM, "out of memory queueing %zd bytes", n);
		}
		while (h->wpend_off < h->wpend.len) {
			ssize_t w = h->wpend.len - h->wpend_off;

			if (h->fd >= 0)
				w = send(h->fd, h->wpend.data + h->wpend_off, (size_t)w, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 0;
				return set_err(h, errno == EPIPE ? -ECONNRESET : -errno,
					       "cannot write to the peer: %s", strerror(errno));
			}
			h->wpend_off += (size_t)w;
			h->bytes_out += (uint64_t)w;
		}
		/* an idle session keeps no write buffer (held connections add up) */
		vbuf_free(&h->wpend);
		h->wpend_off = 0;
		if (!more)
			return 0;
	}
}

/*
 * Memory of a held connection. When nghttp2 creates a session it allocates, besides the session
 * itself, four blocks that are large and almost never touched after the handshake:
 *
 *   the frame buffer (16 KiB) every outgoing frame is serialised into: dead between frames;
 *   the stream map (256 buckets of 16 bytes): our one call lives in a single bucket;
 *   the HPACK inflater and deflater rings (1 KiB each): with 0-byte tables (our SETTINGS and
 *   option), the inflater's holds at most the client's first header block, the deflater's
 *   nothing.
 *
 * On the heap they soon count as resident in full (recycled memory, calloc's clearing): 22 KiB
 * per connection. So each session has one private mapping of 7 pages, laid out so that what stays
 * alive after the handshake shares one page: stream 1's bucket (+2528 in the map) opens page 1,
 * and the rest of that page holds the struct kaspa_h2 itself and the caller's block (struct
 * kaspa_conn, see kaspa_h2_new_room). The frame buffer fills pages 2-5 and the inflater ring page
 * 6: kaspa_h2_trim() gives them back while they are dead. The deflater ring and the map's head
 * share page 0, which stays untouched. A held connection thus keeps one page of this mapping.
 *
 * Placement is by size and order during creation; a block that does not match goes to malloc,
 * and a different nghttp2 costs memory, never correctness: blocks of the mapping never overlap
 * and live until kaspa_h2_free unmaps it.
 */
#define PAGE 4096
enum { RGN_DEFLATE, RGN_MAP, RGN_FRAMEBUF, RGN_INFLATE, RGN_SLOTS };

static const struct {
	size_t off, len;
} rgn_slot[RGN_SLOTS] = {
	[RGN_DEFLATE] = { 0, 1024 },			/* page 0, never written */
	[RGN_MAP] = { PAGE - 2528, 4096 },		/* bucket of stream 1 at page 1's start */
	[RGN_FRAMEBUF] = { 2 * PAGE, 16400 },		/* NGHTTP2_FRAMEBUF_CHUNKLEN is 16394 */
	[RGN_INFLATE] = { 2 * PAGE + 16400, 1024 },	/* page 6 */
};
#define RGN_SELF (PAGE - 2528 + 4096)	/* struct kaspa_h2, then the caller's block */
#define RGN_LEN (7 * PAGE)

/* A block of the mapping for an allocation made while the session is created, or NULL. */
static void *rgn_take(struct kaspa_h2 *h, size_t size, bool from_realloc)
{
	int slot;

	if (!h->creating || !h->rgn)
		return NULL;
	if (from_realloc && size >= 16384 && size <= rgn_slot[RGN_FRAMEBUF].len)
		slot = RGN_FRAMEBUF;
	else if (!from_realloc && size == 4096)
		slot = RGN_MAP;
	else if (!from_realloc && size == 1024) /* the deflater's ring comes first */
		slot = h->rgn_used & (1u << RGN_DEFLATE) ? RGN_INFLATE : RGN_DEFLATE;
	else
		return NULL;
	if (h->rgn_used & (1u << slot))
		return NULL;
	h->rgn_used |= 1u << slot;
	return h->rgn + rgn_slot[slot].off;
}

static int rgn_slot_of(const struct kaspa_h2 *h, const void *p)
{
	for (int i = 0; h->rgn && i < RGN_SLOTS; i++)
		if (p == h->rgn + rgn_slot[i].off)
			return i;
	return -1;
}

static void *h2_malloc(size_t size, void *ud)
{
	void *p = rgn_take(ud, size, false);

	return p ? p : malloc(size);
}

static void h2_free(void *p, void *ud)
{
	/* a block of the mapping lives as long as the mapping */
	if (rgn_slot_of(ud, p) < 0)
		free(p);
}

static void *h2_calloc(size_t n, size_t size, void *ud)
{
	/* the mapping's pages start zeroed */
	void *p = size && n <= SIZE_MAX / size ? rgn_take(ud, n * size, false) : NULL;

	return p ? p : calloc(n, size);
}

static void *h2_realloc(void *p, size_t size, void *ud)
{
	int slot;
	void *q;

	if (!p) { /* nghttp2 allocates its frame buffer this way */
		q = rgn_take(ud, size, true);
		return q ? q : malloc(size);
	}
	slot = rgn_slot_of(ud, p);
	if (slot < 0)
		return realloc(p, size);
	if (size <= rgn_slot[slot].len)
		return p;
	q = malloc(size);
	if (q)
		memcpy(q, p, rgn_slot[slot].len);
	return q;
}

/* The session's mapping with struct kaspa_h2 and the caller's @room bytes in page 1 (zeroed);
 * without the mapping (or room too large), both from the heap. */
static struct kaspa_h2 *h2_alloc(size_t room, void **roomp)
{
	size_t self = (sizeof(struct kaspa_h2) + 15) & ~(size_t)15;
	struct kaspa_h2 *h;
	uint8_t *rgn;

	rgn = mmap(NULL, RGN_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rgn == MAP_FAILED)
		rgn = NULL;
	if (rgn && RGN_SELF + self + room <= 2 * PAGE) {
		h = (struct kaspa_h2 *)(rgn + RGN_SELF);
		h->self_in_rgn = true;
		if (room)
			*roomp = rgn + RGN_SELF + self;
	} else {
		h = calloc(1, sizeof(*h));
		if (h && room && !(*roomp = h->room = calloc(1, room))) {
			free(h);
			h = NULL;
		}
		if (!h) {
			if (rgn)
				munmap(rgn, RGN_LEN);
			return NULL;
		}
	}
	h->rgn = rgn;
	return h;
}

struct kaspa_h2 *kaspa_h2_new(int fd, enum kaspa_h2_role role, const struct kaspa_h2_config *cfg,
			      const struct kaspa_h2_ops *ops, void *ctx)
{
	struct kaspa_h2 *h = kaspa_h2_new_room(fd, role, cfg, ops, 0, NULL);

	if (h)
		h->ctx = ctx; /* no callback runs before the first kaspa_h2_on_* call */
	return h;
}

struct kaspa_h2 *kaspa_h2_new_room(int fd, enum kaspa_h2_role role,
				   const struct kaspa_h2_config *cfg, const struct kaspa_h2_ops *ops,
				   size_t room, void **ctx)
{
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_option *opt = NULL;
	struct kaspa_h2 *h = h2_alloc(room, ctx);
	nghttp2_mem mem = { h, h2_malloc, h2_free, h2_calloc, h2_realloc };
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 4 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384 },
		/* one call per connection: an HPACK dynamic table would only hold memory */
		{ NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 0 },
	};
	int rv;

	if (!h)
		return NULL;
	h->fd = fd;
	h->role = role;
	if (cfg)
		h->cfg = *cfg;
	if (ops)
		h->ops = *ops;
	h->ctx = room ? *ctx : NULL;
	if (!h->cfg.max_msg)
		h->cfg.max_msg = KASPA_GRPC_DEFAULT_MAX_MSG;
	if (!h->cfg.max_out)
		h->cfg.max_out = DEFAULT_MAX_OUT;
	kaspa_grpc_dec_init(&h->dec, h->cfg.max_msg, KASPA_GRPC_IDENTITY);

	if (nghttp2_session_callbacks_new(&cbs) || nghttp2_option_new(&opt))
		goto nomem;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, on_invalid_frame);
	/* peers may not open more streams than we allow, and we never push */
	nghttp2_option_set_max_reserved_remote_streams(opt, 0);
	nghttp2_option_set_max_deflate_dynamic_table_size(opt, 0);
	h->creating = true;
	rv = role == KASPA_H2_SERVER ? nghttp2_session_server_new3(&h->s, cbs, h, opt, &mem)
				     : nghttp2_session_client_new3(&h->s, cbs, h, opt, &mem);
	h->creating = false;
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	cbs = NULL;
	opt = NULL;
	if (rv)
		goto nomem;
	if (nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv, ARRAY_SIZE(iv)) ||
	    nghttp2_session_set_local_window_size(h->s, NGHTTP2_FLAG_NONE, 0, 4 * WINDOW))
		goto nomem;
	if (role == KASPA_H2_CLIENT) {
		nghttp2_data_provider prov = { .read_callback = data_read };
		const char *auth = h->cfg.authority ? h->cfg.authority : "kaspa";
		nghttp2_nv nva[9];
		size_t n = 0;

		h->send_enc = h->cfg.gzip_send ? KASPA_GRPC_GZIP : KASPA_GRPC_IDENTITY;
		nva[n++] = (nghttp2_nv)NV(":method", "POST");
		nva[n++] = (nghttp2_nv)NV(":scheme", "http");
		nva[n++] = (nghttp2_nv)NV(":path", KASPA_GRPC_PATH);
		nva[n++] = (nghttp2_nv)NV(":authority", auth);
		nva[n++] = (nghttp2_nv)NV("te", "trailers");
		nva[n++] = (nghttp2_nv)NV("content-type", "application/grpc");
		nva[n++] = (nghttp2_nv)NV("user-agent", "vigil-kaspa");
		if (h->cfg.gzip_send)
			nva[n++] = (nghttp2_nv)NV("grpc-encoding", "gzip");
		if (h->cfg.accept_gzip)
			nva[n++] = (nghttp2_nv)NV("grpc-accept-encoding", "identity,gzip");
		h->sid = nghttp2_submit_request(h->s, NULL, nva, n, &prov, NULL);
		if (h->sid < 0) {
			h->sid = 0;
			goto nomem;
		}
	}
	return h;
nomem:
	if (cbs)
		nghttp2_session_callbacks_del(cbs);
	if (opt)
		nghttp2_option_del(opt);
	kaspa_h2_free(h);
	errno = ENOMEM;
	return NULL;
}

void kaspa_h2_free(struct kaspa_h2 *h)
{
	uint8_t *rgn;

	if (!h)
		return;
	rgn = h->rgn;
	if (h->s)
		nghttp2_session_del(h->s);
	kaspa_grpc_dec_free(&h->dec);
	vbuf_free(&h->out);
	vbuf_free(&h->wpend);
	free(h->hdrs);
	free(h->why);
	free(h->room);
	if (!h->self_in_rgn)
		free(h);
	if (rgn) /* last: it may hold this struct */
		munmap(rgn, RGN_LEN);
}

/* Runs received bytes through nghttp2 and maps what went wrong to an error and a sentence. */
static int process(struct kaspa_h2 *h, const uint8_t *p, size_t n)
{
	ssize_t rv;

	h->bytes_in += n;
	rv = nghttp2_session_mem_recv(h->s, p, n);

	if (rv < 0 && !h->err) {
		if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC)
			set_err(h, -EPROTO, "peer did not send the HTTP/2 connection preface "
					    "(not an h2c gRPC client?)");
		else
			set_err(h, -EPROTO, "HTTP/2 protocol error from the peer: %s",
				nghttp2_strerror((int)rv));
	}
	if (h->err == -EPROTO || h->err == -EMSGSIZE || h->err == -EBADMSG)
		nghttp2_session_terminate_session(h->s, NGHTTP2_PROTOCOL_ERROR);
	return h->err;
}

int kaspa_h2_feed(struct kaspa_h2 *h, const uint8_t *p, size_t n)
{
	if (h->err)
		return h->err;
	process(h, p, n);
	flush(h);
	if (!h->err && !nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s)) {
		if (h->finishing)
			set_err(h, -EPIPE, "session finished");
		else
			set_err(h, -ECONNRESET, "peer closed the HTTP/2 session (GOAWAY)");
	}
	return h->err;
}

int kaspa_h2_on_readable(struct kaspa_h2 *h)
{
	uint8_t buf[16384];

	/* bounded per call so one busy peer cannot starve the loop; epoll calls back */
	for (int i = 0; i < 16 && !h->err; i++) {
		ssize_t r = read(h->fd, buf, sizeof(buf));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			set_err(h, -ECONNRESET, "cannot read from the peer: %s", strerror(errno));
			break;
		}
		if (r == 0) {
			set_err(h, -ECONNRESET, "peer closed the connection");
			break;
		}
		kaspa_h2_feed(h, buf, (size_t)r);
	}
	flush(h);
	return h->err;
}

int kaspa_h2_on_writable(struct kaspa_h2 *h)
{
	flush(h);
	if (h->finishing && !h->err && !nghttp2_session_want_read(h->s) &&
	    !nghttp2_session_want_write(h->s))
		set_err(h, -EPIPE, "session finished");
	return h->err;
}

bool kaspa_h2_want_write(const struct kaspa_h2 *h)
{
	return h->wpend_off < h->wpend.len || nghttp2_session_want_write(h->s);
}

void kaspa_h2_trim(struct kaspa_h2 *h)
{
	size_t len = 4 * PAGE; /* the frame buffer's pages */

	if (!(h->rgn_used & (1u << RGN_FRAMEBUF)) || !h->rgn_dirty || kaspa_h2_want_write(h))
		return;
	/* an empty inflater table (ours is 0 bytes once the peer acknowledged our SETTINGS) leaves
	 * its ring dead too */
	if (nghttp2_session_get_hd_inflate_dynamic_table_size(h->s) == 0)
		len += PAGE;
	/* nothing is being serialised: the frame buffer's content is dead, its pages can go */
	madvise(h->rgn + 2 * PAGE, len, MADV_DONTNEED);
	h->rgn_dirty = false;
}

bool kaspa_h2_done(const struct kaspa_h2 *h)
{
	return h->err || (!nghttp2_session_want_read(h->s) && !kaspa_h2_want_write(h));
}

bool kaspa_h2_open(const struct kaspa_h2 *h)
{
	return h->open;
}

int kaspa_h2_send(struct kaspa_h2 *h, const Protowire__KaspadMessage *m)
{
	int err;

	if (h->err && h->err != -EPIPE)
		return -ENOTCONN;
	if (h->finishing || !h->sid)
		return -ENOTCONN;
	if (h->out.len - h->out_off > h->cfg.max_out)
		return -ENOBUFS;
	err = kaspa_msg_frame(m, &h->out, h->send_enc);
	if (err)
		return err;
	h->msgs_out++;
	if (h->deferred) {
		h->deferred = false;
		nghttp2_session_resume_data(h->s, h->sid);
	}
	return 0;
}

int kaspa_h2_finish(struct kaspa_h2 *h)
{
	if (h->finishing)
		return 0;
	h->finishing = true;
	if (h->sid && !h->stream_closed && h->deferred) {
		h->deferred = false;
		nghttp2_session_resume_data(h->s, h->sid);
	}
	nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE,
			      nghttp2_session_get_last_proc_stream_id(h->s), NGHTTP2_NO_ERROR,
			      NULL, 0);
	return 0;
}

int kaspa_h2_error(const struct kaspa_h2 *h)
{
	return h->err;
}

const char *kaspa_h2_why(const struct kaspa_h2 *h)
{
	if (!h->err)
		return "";
	return h->why ? h->why : "out of memory formatting the error";
}

void kaspa_h2_get_stats(const struct kaspa_h2 *h, struct kaspa_h2_stats *out)
{
	out->bytes_in = h->bytes_in;
	out->bytes_out = h->bytes_out;
	out->msgs_in = h->dec.messages;
	out->msgs_in_compressed = h->dec.compressed_messages;
	out->msgs_out = h->msgs_out;
}
