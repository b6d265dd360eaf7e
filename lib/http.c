// SPDX-License-Identifier: GPL-2.0-only
/*
 * The HTTP server on libmicrohttpd; see include/vigil/http.h.
 *
 * MHD runs in "external select" mode with MHD_USE_EPOLL: it keeps its own epoll set (listen
 * socket, connections, the inter-thread pipe that suspend/resume needs) and hands us that set's
 * fd, which we watch level-triggered in the vloop. Whenever it is readable, or the timer that
 * mirrors MHD_get_timeout() fires, we call MHD_run(); MHD_run calls the access handler, which
 * calls route handlers: all on the loop thread, never re-entered (a reply made during MHD_run only
 * re-arms the timer; a reply made later re-arms it to fire at once).
 *
 * We bind the listen socket ourselves (MHD_OPTION_LISTEN_SOCKET) so bind errors come back as a
 * plain errno we can explain; MHD closes it in MHD_stop_daemon.
 *
 * Request lifetime: a struct vhttp_req is allocated on MHD's first call for a request, carried in
 * MHD's per-request pointer and freed in the request-completed callback; in between it is in one
 * of the states below. Suspended requests are also on a list so vhttp_free can answer them.
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "vigil/buf.h"
#include "vigil/http.h"
#include "vigil/log.h"
#include "vigil/util.h"

#define COMP		 "http"
#define DEFAULT_CONNS	 1024
#define CONN_TIMEOUT_S	 60
#define CONN_MEMORY	 (64 * 1024) /* request line + headers must fit */
#define DISCARD_FACTOR	 4	     /* chunked bodies: read and drop this much past the limit */

const struct vopt vhttp_opts[] = {
	VOPT_STRING("metrics", 0, struct vhttp_cfg, metrics, NULL, "ADDR",
		    "serve /metrics, /healthz, /readyz on ADDR"),
	VOPT_END
};

enum req_state {
	RS_NEW,	      /* headers seen, body (if any) arriving */
	RS_HANDLER,   /* the route handler is running */
	RS_SUSPENDED, /* the handler suspended it; waiting for vhttp_reply */
	RS_ANSWERED,  /* a response is queued */
};

struct hdr {
	char *name, *value;
	struct hdr *next;
};

struct route {
	char *method; /* NULL: any */
	char *path;
	size_t len;
	unsigned flags;
	vhttp_handler fn;
	void *ctx;
	struct route *next;
};

struct vhttp_req {
	struct vhttp *h;
	struct MHD_Connection *conn;
	const char *method, *path; /* MHD's strings, valid for the request's life */
	enum req_state state;
	uint64_t seen; /* body bytes received, kept or not */
	struct vbuf body;
	struct hdr *hdrs;
	vhttp_cancel_fn cancel;
	void *cancel_ctx;
	struct vhttp_req *prev, *next; /* suspended list */
};

struct vhttp {
	struct vloop *loop;
	struct MHD_Daemon *d;
	int epfd;
	struct vloop_timer *timer;
	struct vmetrics *metrics;
	size_t max_body;
	uint16_t port;
	atomic_bool ready;
	bool in_run;
	bool kick; /* a suspended request was resumed during MHD_run */
	struct route *routes;
	struct vhttp_req *suspended;
};

/* ---- driving MHD from the loop ---- */

/* Mirrors MHD_get_timeout() into our timer (0 ms -> fire at once). */
static void arm_timer(struct vhttp *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(h->d, &ms) == MHD_YES)
		vloop_timer_set(h->timer, ms ? (uint64_t)ms * 1000000ull : 1, 0);
	else
		vloop_timer_set(h->timer, 0, 0);
}

static void run_mhd(struct vhttp *h)
{
	h->in_run = true;
	h->kick = false;
	MHD_run(h->d);
	h->in_run = false;
	if (h->kick) /* a handler answered a suspended request: run again next turn */
		vloop_timer_set(h->timer, 1, 0);
	else
		arm_timer(h);
}

static void on_epoll(struct vloop *loop, int fd, uint32_t events, void *ctx)
{
	(void)loop, (void)fd, (void)events;
	run_mhd(ctx);
}

static void on_timer(struct vloop *loop, void *ctx)
{
	(void)loop;
	run_mhd(ctx);
}

static void mhd_log(void *ctx, const char *fmt, va_list ap)
{
	(void)ctx;
	/* MHD reports every client that hangs up early: useful when debugging only */
	if (vlog_level() >= VLOG_DEBUG)
		vlogv(VLOG_DEBUG, COMP, fmt, ap);
}

/* ---- replies ---- */

static void unlink_suspended(struct vhttp_req *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else if (req->h->suspended == req)
		req->h->suspended = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
}

/*
 * Builds the response (headers added by the handler included) and queues it. For a suspended
 * request also resumes it and, when we are not inside MHD_run, makes the timer fire at once so
 * MHD sends it on the next loop turn.
 */
int vhttp_reply(struct vhttp_req *req, int status, const char *content_type, const void *body,
		size_t len)
{
	struct MHD_Response *resp;
	enum req_state was;
	enum MHD_Result ok;

	if (!req || req->state == RS_ANSWERED || req->state == RS_NEW)
		return -EALREADY;
	resp = MHD_create_response_from_buffer(len, (void *)(body ? body : ""),
					       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return -ENOMEM;
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	for (struct hdr *x = req->hdrs; x; x = x->next)
		MHD_add_response_header(resp, x->name, x->value);
	was = req->state;
	req->state = RS_ANSWERED;
	ok = MHD_queue_response(req->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	if (ok != MHD_YES)
		log_error(COMP, "%s %s: libmicrohttpd refused the %d reply (connection closed)",
			  req->method, req->path, status);
	if (was == RS_SUSPENDED) {
		unlink_suspended(req);
		MHD_resume_connection(req->conn);
		/* MHD also wakes its epoll fd through its pipe; the timer makes it explicit */
		req->h->kick = true;
		if (!req->h->in_run)
			vloop_timer_set(req->h->timer, 1, 0);
	}
	return ok == MHD_YES ? 0 : -ENOMEM;
}

int vhttp_reply_text(struct vhttp_req *req, int status, const char *text)
{
	return vhttp_reply(req, status, "text/plain; charset=utf-8", text, text ? strlen(text) : 0);
}

int vhttp_reply_json(struct vhttp_req *req, int status, const char *json)
{
	return vhttp_reply(req, status, "application/json", json, json ? strlen(json) : 0);
}

int vhttp_reply_error(struct vhttp_req *req, int status, const char *msg)
{
	struct vbuf b = VBUF_INIT;
	struct vjw w;
	int err;

	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kstr(&w, "error", msg ? msg : "");
	vjw_end(&w);
	err = w.err ? -ENOMEM : vhttp_reply_json(req, status, vbuf_cstr(&b));
	vbuf_free(&b);
	return err;
}

int vhttp_req_add_header(struct vhttp_req *req, const char *name, const char *value)
{
	struct hdr *x, **pp;

	if (!req || !name || !value || strpbrk(name, ":\r\n") || strpbrk(value, "\r\n"))
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->name = strdup(name);
	x->value = strdup(value);
	if (!x->name || !x->value) {
		free(x->name);
		free(x->value);
		free(x);
		return -ENOMEM;
	}
	for (pp = &req->hdrs; *pp; pp = &(*pp)->next)
		;
	*pp = x;
	return 0;
}

int vhttp_suspend(struct vhttp_req *req, vhttp_cancel_fn cancel, void *ctx)
{
	if (!req || req->state != RS_HANDLER)
		return -EINVAL;
	MHD_suspend_connection(req->conn);
	req->state = RS_SUSPENDED;
	req->cancel = cancel;
	req->cancel_ctx = ctx;
	req->next = req->h->suspended;
	if (req->next)
		req->next->prev = req;
	req->h->suspended = req;
	return 0;
}

/* ---- request accessors ---- */

const char *vhttp_req_method(const struct vhttp_req *req)
{
	return req->method;
}

const char *vhttp_req_path(const struct vhttp_req *req)
{
	return req->path;
}

static const char *lookup(struct vhttp_req *req, enum MHD_ValueKind kind, const char *name)
{
	const char *v = NULL;
	size_t vlen = 0;

	if (!name)
		return NULL;
	if (MHD_lookup_connection_value_n(req->conn, kind, name, strlen(name), &v, &vlen) != MHD_YES)
		return NULL;
	return v ? v : "";
}

const char *vhttp_req_query(struct vhttp_req *req, const char *name)
{
	return lookup(req, MHD_GET_ARGUMENT_KIND, name);
}

const char *vhttp_req_header(struct vhttp_req *req, const char *name)
{
	return lookup(req, MHD_HEADER_KIND, name);
}

const char *vhttp_req_body(const struct vhttp_req *req, size_t *len)
{
	if (len)
		*len = req->body.len;
	return req->body.data ? req->body.data : "";
}

const char *vhttp_req_peer(const struct vhttp_req *req, char *buf, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	if (!ci || !ci->client_addr) {
		snprintf(buf, n, "?");
		return buf;
	}
	return vaddr_str(ci->client_addr, buf, n);
}

struct vhttp *vhttp_req_server(const struct vhttp_req *req)
{
	return req->h;
}

/* ---- routing ---- */

static bool path_matches(const struct route *r, const char *path)
{
	if (!(r->flags & VHTTP_PREFIX))
		return strcmp(r->path, path) == 0;
	if (strncmp(r->path, path, r->len) != 0)
		return false;
	/* "/api" covers "/api" and "/api/x", not "/apix"; "/api/" covers "/api/x" */
	return r->path[r->len - 1] == '/' || path[r->len] == 0 || path[r->len] == '/';
}

static bool method_matches(const struct route *r, const char *method)
{
	if (!r->method || strcmp(r->method, method) == 0)
		return true;
	return strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
}

/* Path specificity: exact beats any prefix, a longer prefix beats a shorter one. */
static size_t score(const struct route *r)
{
	return r->flags & VHTTP_PREFIX ? r->len : SIZE_MAX;
}

int vhttp_route(struct vhttp *h, const char *method, const char *path, unsigned flags,
		vhttp_handler fn, void *ctx)
{
	struct route *r, **pp;

	if (!h || !path || path[0] != '/' || !fn || (flags & ~VHTTP_PREFIX))
		return -EINVAL;
	for (r = h->routes; r; r = r->next) {
		if (strcmp(r->path, path) == 0 && (r->flags == flags) &&
		    ((!r->method && !method) || (r->method && method && !strcmp(r->method, method))))
			return -EEXIST;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->method = method ? strdup(method) : NULL;
	r->path = strdup(path);
	if ((method && !r->method) || !r->path) {
		free(r->method);
		free(r->path);
		free(r);
		return -ENOMEM;
	}
	r->len = strlen(path);
	r->flags = flags;
	r->fn = fn;
	r->ctx = ctx;
	for (pp = &h->routes; *pp; pp = &(*pp)->next)
		;
	*pp = r;
	return 0;
}

/*
 * Picks the most specific route whose path and method match, runs it, and makes sure the request
 * leaves answered or suspended: 404 when no path matches, 405 (with Allow) when only routes for
 * other methods match the path, 500 when the handler forgot to answer.
 */
static void dispatch(struct vhttp *h, struct vhttp_req *req)
{
	const struct route *best = NULL, *best_any = NULL;

	for (const struct route *r = h->routes; r; r = r->next) {
		if (!path_matches(r, req->path))
			continue;
		if (!best_any || score(r) > score(best_any))
			best_any = r;
		if (method_matches(r, req->method) && (!best || score(r) > score(best)))
			best = r;
	}
	req->state = RS_HANDLER;
	if (best) {
		best->fn(req, best->ctx);
		if (req->state == RS_HANDLER) {
			log_error(COMP, "handler for %s %s returned without replying (a bug; answered "
				  "500)", req->method, req->path);
			vhttp_reply_error(req, 500, "handler did not reply");
		}
		return;
	}
	if (best_any) {
		struct vbuf allow = VBUF_INIT;

		for (const struct route *r = h->routes; r; r = r->next)
			if (r->method && path_matches(r, req->path) && score(r) == score(best_any))
				vbuf_printf(&allow, "%s%s", allow.len ? ", " : "", r->method);
		if (allow.len)
			vhttp_req_add_header(req, "Allow", vbuf_cstr(&allow));
		vbuf_free(&allow);
		vhttp_reply_error(req, 405, "method not allowed");
		return;
	}
	vhttp_reply_error(req, 404, "not found");
}

static void too_big(struct vhttp *h, struct vhttp_req *req)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "request body larger than %zu bytes", h->max_body);
	req->state = RS_HANDLER;
	vhttp_req_add_header(req, "Connection", "close");
	vhttp_reply_error(req, 413, msg);
}

/*
 * MHD's access handler: called once when the headers are in, once per chunk of body, and once
 * more with no data when the request is complete. A Content-Length above max_body gets 413 at
 * once, before the body is read. A chunked body that passes the limit is discarded as it
 * arrives (MHD only accepts a response before or after the body) and answered 413 at its end;
 * past DISCARD_FACTOR times the limit the connection is simply closed.
 */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload,
				 size_t *upload_size, void **con_cls)
{
	struct vhttp *h = cls;
	struct vhttp_req *req = *con_cls;

	(void)version;
	if (!req) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO; /* MHD closes the connection */
		req->h = h;
		req->conn = conn;
		req->method = method;
		req->path = url;
		*con_cls = req;
		if (cl && strtoull(cl, NULL, 10) > h->max_body)
			too_big(h, req);
		return MHD_YES;
	}
	if (*upload_size) {
		if (req->state != RS_NEW) { /* answered early: drop what still arrives */
			*upload_size = 0;
			return MHD_YES;
		}
		req->seen += *upload_size;
		if (req->seen > h->max_body) {
			*upload_size = 0;
			vbuf_free(&req->body);
			return req->seen > DISCARD_FACTOR * (uint64_t)h->max_body ? MHD_NO : MHD_YES;
		}
		if (vbuf_append(&req->body, upload, *upload_size))
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->state == RS_NEW) {
		if (req->seen > h->max_body)
			too_big(h, req);
		else
			dispatch(h, req);
	}
	return MHD_YES;
}

/* The request is over (answered and sent, failed, or the server is stopping): free it. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct vhttp_req *req = *con_cls;

	(void)cls, (void)conn, (void)why;
	if (!req)
		return;
	if (req->state == RS_SUSPENDED) {
		unlink_suspended(req);
		if (req->cancel)
			req->cancel(req, req->cancel_ctx);
	}
	while (req->hdrs) {
		struct hdr *n = req->hdrs->next;
		free(req->hdrs->name);
		free(req->hdrs->value);
		free(req->hdrs);
		req->hdrs = n;
	}
	vbuf_free(&req->body);
	free(req);
	*con_cls = NULL;
}

/* ---- built-in routes ---- */

static void serve_metrics(struct vhttp_req *req, void *ctx)
{
	struct vbuf b = VBUF_INIT;

	if (vmetrics_render(ctx, &b)) {
		vhttp_reply_error(req, 500, "out of memory rendering metrics");
	} else {
		vhttp_reply(req, 200, VMETRICS_CONTENT_TYPE, b.data, b.len);
	}
	vbuf_free(&b);
}

static void serve_healthz(struct vhttp_req *req, void *ctx)
{
	(void)ctx;
	vhttp_reply_text(req, 200, "ok\n");
}

static void serve_readyz(struct vhttp_req *req, void *ctx)
{
	struct vhttp *h = ctx;

	if (atomic_load(&h->ready))
		vhttp_reply_text(req, 200, "ready\n");
	else
		vhttp_reply_text(req, 503, "not ready\n");
}

void vhttp_set_ready(struct vhttp *h, bool ready)
{
	atomic_store(&h->ready, ready);
}

uint16_t vhttp_port(const struct vhttp *h)
{
	return h->port;
}

/* ---- start and stop ---- */

/*
 * vaddr_parse() refuses port 0, which here means "pick one": parse with port 1 in its place
 * and zero it afterwards.
 */
static int parse_listen_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon = addr ? strrchr(addr, ':') : NULL;
	const char *port = colon ? colon + 1 : addr;
	char tmp[300];
	int err;

	if (!addr || !port || strcmp(port, "0") != 0)
		return vaddr_parse(addr, ss, len);
	if (strlen(addr) >= sizeof(tmp))
		return -EINVAL;
	strcpy(tmp, addr);
	tmp[port - addr] = '1';
	err = vaddr_parse(tmp, ss, len);
	if (err)
		return err;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)ss)->sin6_port = 0;
	return 0;
}

static const char *bind_hint(int err)
{
	switch (err) {
	case EADDRINUSE:
		return "is another vigil running? choose another %s address";
	case EACCES:
		return "ports below 1024 need root or CAP_NET_BIND_SERVICE; choose another %s "
		       "address";
	case EADDRNOTAVAIL:
		return "no local interface has that address; check %s";
	default:
		return "check %s";
	}
}

/* Binds and listens; on failure logs the full explanation and returns -errno. */
static int open_listener(const struct vhttp_params *p, const char *opt, uint16_t *port,
			 char *bound, size_t bound_len)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char hint[160];
	int fd, err, one = 1;

	err = parse_listen_addr(p->addr, &ss, &len);
	if (err) {
		log_error(COMP, "cannot listen on '%s': not a listen address (expected host:port, "
			  "[v6]:port or :port with a numeric host; check %s)",
			  p->addr ? p->addr : "", opt);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 128)) {
		err = -errno;
		close(fd);
		goto fail;
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						      : ((struct sockaddr_in6 *)&ss)->sin6_port);
		vaddr_str((struct sockaddr *)&ss, bound, bound_len);
	}
	return fd;
fail:
	snprintf(hint, sizeof(hint), bind_hint(-err), opt);
	log_error(COMP, "cannot listen on %s: %s (%s)", p->addr, strerror(-err), hint);
	return err;
}

struct vhttp *vhttp_start(struct vloop *loop, const struct vhttp_params *p)
{
	const char *opt = p && p->option ? p->option : "--metrics";
	const union MHD_DaemonInfo *info;
	char bound[64] = "";
	struct vhttp *h;
	int fd, err;

	if (!loop || !p) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->loop = loop;
	h->epfd = -1;
	h->metrics = p->metrics;
	h->max_body = p->max_body ? p->max_body : VHTTP_DEFAULT_MAX_BODY;
	fd = open_listener(p, opt, &h->port, bound, sizeof(bound));
	if (fd < 0) {
		free(h);
		errno = -fd;
		return NULL;
	}
	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
				NULL, NULL, on_access, h,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
				MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)(p->max_conns ? p->max_conns : DEFAULT_CONNS),
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
				MHD_OPTION_END);
	if (!h->d) {
		close(fd);
		log_error(COMP, "cannot start the HTTP server on %s: libmicrohttpd refused to start "
			  "(out of memory or file descriptors?)", p->addr);
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	h->timer = vloop_timer_add(loop, 0, 0, on_timer, h);
	if (!info || !h->timer) {
		err = info ? errno : ENOTSUP;
		goto fail;
	}
	vloop_timer_set(h->timer, 0, 0);
	h->epfd = info->epoll_fd;
	err = -vloop_add_fd(loop, h->epfd, EPOLLIN, on_epoll, h);
	if (err) {
		h->epfd = -1;
		goto fail;
	}
	if ((h->metrics && (err = -vhttp_route(h, "GET", "/metrics", 0, serve_metrics,
						 h->metrics))) ||
	    (err = -vhttp_route(h, "GET", "/healthz", 0, serve_healthz, h)) ||
	    (err = -vhttp_route(h, "GET", "/readyz", 0, serve_readyz, h)))
		goto fail;
	arm_timer(h);
	log_info(COMP, "serving %s/healthz /readyz on %s", h->metrics ? "/metrics " : "", bound);
	return h;
fail:
	log_error(COMP, "cannot start the HTTP server on %s: %s", p->addr, strerror(err));
	vhttp_free(h);
	errno = err;
	return NULL;
}

struct vhttp *vhttp_new(struct vloop *loop, const char *addr, struct vmetrics *metrics)
{
	struct vhttp_params p = { .addr = addr, .metrics = metrics };

	return vhttp_start(loop, &p);
}

/*
 * Cancels and answers (503) every suspended request, gives MHD a few non-blocking turns to send
 * those answers, then stops MHD (closing the listen socket and every connection).
 */
void vhttp_free(struct vhttp *h)
{
	if (!h)
		return;
	if (h->d) {
		while (h->suspended) {
			struct vhttp_req *req = h->suspended;
			vhttp_cancel_fn cancel = req->cancel;

			req->cancel = NULL;
			if (cancel)
				cancel(req, req->cancel_ctx);
			if (req->state == RS_SUSPENDED) /* the cancel callback may have answered */
				vhttp_reply_error(req, 503, "server shutting down");
		}
		for (int i = 0; i < 3; i++)
			MHD_run(h->d);
	}
	if (h->epfd >= 0)
		vloop_del_fd(h->loop, h->epfd);
	if (h->timer)
		vloop_timer_del(h->timer);
	if (h->d)
		MHD_stop_daemon(h->d);
	while (h->routes) {
		struct route *n = h->routes->next;
		free(h->routes->method);
		free(h->routes->path);
		free(h->routes);
		h->routes = n;
	}
	free(h);
}
