/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An HTTP/1.1 server (libmicrohttpd) living in the process's event loop: MHD runs in its epoll
 * mode without a thread of its own, its epoll fd is watched by the vloop and a vloop timer follows
 * MHD_get_timeout(), so every handler runs on the loop thread and needs no locking against the
 * rest of the daemon.
 *
 * Built in: GET /metrics (the registry in text format 0.0.4), GET /healthz (200 "ok" while the
 * loop turns), GET /readyz (200 once vhttp_set_ready(h, true), 503 before). Other code adds
 * routes: method + exact path, or method + path prefix (VHTTP_PREFIX). Among the routes whose
 * path and method match, an exact path wins over a prefix, a longer prefix over a shorter one;
 * when only routes for other methods match the path the answer is 405 with an Allow header.
 *
 * A handler either replies before returning (vhttp_reply*) or suspends the request
 * (vhttp_suspend) and replies later from the loop thread, e.g. when a long-polled watch fires.
 * A request it neither answers nor suspends gets 500.
 */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/loop.h"
#include "vigil/metrics.h"
#include "vigil/opt.h"

struct vhttp;
struct vhttp_req;

/* The --metrics option (vhttp_opts fills it): NULL means no server. */
struct vhttp_cfg {
	char *metrics;
};
extern const struct vopt vhttp_opts[];

#define VHTTP_DEFAULT_MAX_BODY (1u << 20)

struct vhttp_params {
	const char *addr;	  /* "host:port", "[v6]:port", ":port", "port"; port 0 picks one */
	struct vmetrics *metrics; /* served on /metrics; NULL: no /metrics route */
	size_t max_body;	  /* request bodies above this get 413; 0: 1 MiB */
	unsigned max_conns;	  /* simultaneous connections; 0: 1024 */
	const char *option;	  /* option named in error messages; NULL: "--metrics" */
};

/*
 * Binds, listens and registers with @loop. On failure logs one line saying what failed, e.g.
 * "cannot listen on 127.0.0.1:9100: Address already in use (is another vigil running? choose
 * another --metrics address)", and returns NULL with errno set (EINVAL for a malformed address,
 * the bind/listen errno otherwise).
 */
struct vhttp *vhttp_start(struct vloop *loop, const struct vhttp_params *p);
/* vhttp_start with defaults. */
struct vhttp *vhttp_new(struct vloop *loop, const char *addr, struct vmetrics *metrics);
/* Answers suspended requests with 503, stops the server and unregisters it from the loop.
 * Call on the loop thread but not from a handler, or after the loop stopped. */
void vhttp_free(struct vhttp *h);

/* The bound port (the chosen one when the address said port 0). */
uint16_t vhttp_port(const struct vhttp *h);
/* Switches /readyz between 503 (the default) and 200. Any thread. */
void vhttp_set_ready(struct vhttp *h, bool ready);

typedef void (*vhttp_handler)(struct vhttp_req *req, void *ctx);
#define VHTTP_PREFIX 0x1 /* @path matches itself and everything below it */
/* @method: "GET", "POST", ... or NULL for any. 0, -EEXIST (same method and path), -EINVAL,
 * -ENOMEM. Routes may be added while serving (loop thread). */
int vhttp_route(struct vhttp *h, const char *method, const char *path, unsigned flags,
		vhttp_handler fn, void *ctx);

/* Request accessors; strings stay valid until the request is answered. */
const char *vhttp_req_method(const struct vhttp_req *req);
const char *vhttp_req_path(const struct vhttp_req *req);
/* Decoded query parameter or header (case-insensitive name), NULL when absent. A parameter
 * given without a value ("?watch") yields "". */
const char *vhttp_req_query(struct vhttp_req *req, const char *name);
const char *vhttp_req_header(struct vhttp_req *req, const char *name);
/* The body (NUL-terminated for convenience; may hold NULs itself), "" when none. */
const char *vhttp_req_body(const struct vhttp_req *req, size_t *len);
struct vhttp *vhttp_req_server(const struct vhttp_req *req);
/* The client's address, "127.0.0.1:51234" or "[::1]:51234", into @buf (>= 64 bytes). */
const char *vhttp_req_peer(const struct vhttp_req *req, char *buf, size_t n);

/* Adds a header to the reply about to be sent. 0 or -ENOMEM/-EINVAL. */
int vhttp_req_add_header(struct vhttp_req *req, const char *name, const char *value);

/*
 * Answers the request (copying @body). From the handler, or later for a suspended request (loop
 * thread only). After the call @req is gone. 0, or -EALREADY if it was answered already,
 * -ENOMEM (the client then gets the connection closed).
 */
int vhttp_reply(struct vhttp_req *req, int status, const char *content_type, const void *body,
		size_t len);
int vhttp_reply_text(struct vhttp_req *req, int status, const char *text);
/* @json: an encoded JSON document (e.g. a vjw buffer); "application/json". */
int vhttp_reply_json(struct vhttp_req *req, int status, const char *json);
/* {"error": @msg} with @status. */
int vhttp_reply_error(struct vhttp_req *req, int status, const char *msg);

/*
 * Keeps the request open after the handler returns; answer it later with vhttp_reply*() on the
 * loop thread (from any handler or loop callback). @cancel is called, on the loop thread, if the
 * request ends unanswered (vhttp_free; or libmicrohttpd dropping the connection): the owner must
 * then forget @req. Whoever keeps @req should pass one. A client that hangs up while suspended
 * is only noticed when the request is answered (the answer then goes nowhere), so long polls
 * should carry their own timeout. 0 or -EINVAL (not inside the handler, or already answered).
 */
typedef void (*vhttp_cancel_fn)(struct vhttp_req *req, void *ctx);
int vhttp_suspend(struct vhttp_req *req, vhttp_cancel_fn cancel, void *ctx);

#endif
