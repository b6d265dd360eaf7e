// SPDX-License-Identifier: GPL-2.0-only
/* HTTP (libcurl) and IPC (AF_UNIX stream) transport for `vigil peers`; see fetch.h. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "version.h"
#include "vigil/log.h"
#include "vigil/util.h"

struct peers_conn {
	char *url;  /* HTTP: base URL without trailing '/'; IPC: socket path */
	char *name; /* for messages */
	bool ipc;
	uint64_t timeout_ms;
	size_t max_bytes;
	CURL *curl;
	struct curl_slist *rpc_headers, *get_headers;
	unsigned long long next_id;
	/* transfer state */
	struct vbuf *resp;
	bool too_big;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* "http://user:pw@host/" -> "http://host/" (new string). */
static char *display_name(const char *url)
{
	const char *scheme = strstr(url, "://"), *at, *slash;
	char *out;

	if (!scheme)
		return strdup(url);
	scheme += 3;
	slash = strchr(scheme, '/');
	at = strchr(scheme, '@');
	if (!at || (slash && at > slash))
		return strdup(url);
	out = malloc(strlen(url) + 1);
	if (!out)
		return NULL;
	memcpy(out, url, (size_t)(scheme - url));
	strcpy(out + (scheme - url), at + 1);
	return out;
}

struct peers_conn *peers_conn_new(const char *target, uint64_t timeout_ms, size_t max_bytes)
{
	struct peers_conn *c;
	const char *path = NULL;

	if (!target || !*target) {
		log_error("peers", "no endpoint given: pass an http:// URL or an IPC socket path");
		errno = EINVAL;
		return NULL;
	}
	if (strncmp(target, "ipc://", 6) == 0)
		path = target + 6;
	else if (strncmp(target, "unix:", 5) == 0)
		path = target + 5 + (strncmp(target + 5, "//", 2) == 0 ? 2 : 0);
	else if (target[0] == '/' || target[0] == '.')
		path = target;
	else if (strncmp(target, "http://", 7) != 0 && strncmp(target, "https://", 8) != 0) {
		log_error("peers", "endpoint \"%s\": not an http:// or https:// URL nor an IPC path "
			  "(write ipc:///path/geth.ipc or /path/geth.ipc)", target);
		errno = EINVAL;
		return NULL;
	}
	if (path && (!*path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))) {
		log_error("peers", "IPC path \"%s\": empty or longer than %zu bytes", path,
			  sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->ipc = path != NULL;
	c->timeout_ms = timeout_ms ? timeout_ms : PEERS_TIMEOUT_MS;
	c->max_bytes = max_bytes ? max_bytes : PEERS_MAX_RESPONSE;
	c->next_id = 1;
	c->url = strdup(path ? path : target);
	if (!c->url)
		goto nomem;
	if (!c->ipc) {
		size_t n = strlen(c->url);

		while (n > 8 && c->url[n - 1] == '/')
			c->url[--n] = 0;
		c->name = display_name(c->url);
	} else {
		c->name = malloc(strlen(path) + 5);
		if (c->name)
			sprintf(c->name, "ipc:%s", path);
	}
	if (!c->name)
		goto nomem;
	if (!c->ipc) {
		pthread_once(&curl_once, curl_init_once);
		c->curl = curl_easy_init();
		c->rpc_headers = curl_slist_append(NULL, "Content-Type: application/json");
		c->get_headers = curl_slist_append(NULL, "Accept: application/json");
		if (!c->curl || !c->rpc_headers || !c->get_headers)
			goto nomem;
	}
	return c;
nomem:
	peers_conn_free(c);
	errno = ENOMEM;
	return NULL;
}

void peers_conn_free(struct peers_conn *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->rpc_headers);
	curl_slist_free_all(c->get_headers);
	free(c->url);
	free(c->name);
	free(c);
}

bool peers_conn_is_ipc(const struct peers_conn *c)
{
	return c->ipc;
}

const char *peers_conn_name(const struct peers_conn *c)
{
	return c->name;
}

void peers_json_scan_init(struct peers_json_scan *s)
{
	memset(s, 0, sizeof(*s));
}

ssize_t peers_json_scan(struct peers_json_scan *s, const char *buf, size_t len)
{
	for (; s->pos < len; s->pos++) {
		char ch = buf[s->pos];

		if (!s->started) {
			if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
				continue;
			if (ch != '{' && ch != '[')
				return -EBADMSG;
			s->started = true;
			s->depth = 1;
			continue;
		}
		if (s->in_string) {
			if (s->escape)
				s->escape = false;
			else if (ch == '\\')
				s->escape = true;
			else if (ch == '"')
				s->in_string = false;
			continue;
		}
		switch (ch) {
		case '"':
			s->in_string = true;
			break;
		case '{':
		case '[':
			s->depth++;
			break;
		case '}':
		case ']':
			if (--s->depth == 0) {
				s->pos++;
				return (ssize_t)s->pos;
			}
			break;
		}
	}
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits for @events on @fd until @deadline (ms, CLOCK_MONOTONIC): 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd pfd = { .fd = fd, .events = events };
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)MIN(deadline - now, 60000u));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int build_request(struct vbuf *req, unsigned long long id, const char *method,
			 const char *params_json)
{
	struct vjw w;

	vjw_init(&w, req);
	vjw_obj(&w);
	vjw_kstr(&w, "jsonrpc", "2.0");
	vjw_kuint(&w, "id", id);
	vjw_kstr(&w, "method", method);
	vjw_key(&w, "params");
	if (params_json)
		vjw_raw(&w, params_json, strlen(params_json));
	else
		vjw_raw(&w, "[]", 2);
	vjw_end(&w);
	return w.err ? -w.err : 0;
}

/*
 * One JSON-RPC exchange over a fresh AF_UNIX connection: connect, write the request, read until
 * the first JSON value is complete, close. A new connection per call keeps a stray notification
 * or a half-read answer from one refresh out of the next.
 */
static int ipc_call(struct peers_conn *c, const char *method, const struct vbuf *req,
		    struct vbuf *resp, char *err, size_t errlen)
{
	uint64_t deadline = now_ms() + c->timeout_ms;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct peers_json_scan scan;
	size_t off = 0;
	int fd, rc = 0;
	ssize_t done = 0;

	strcpy(sa.sun_path, c->url);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return verrf(err, errlen, -errno, "%s: socket: %s", c->name, strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == EINPROGRESS || e == EAGAIN) {
			int so = 0;
			socklen_t sl = sizeof(so);

			rc = wait_fd(fd, POLLOUT, deadline);
			if (!rc && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so)
				rc = -so;
			e = -rc;
		}
		if (e == ENOENT) {
			rc = verrf(err, errlen, -ENOENT,
				  "%s: no such socket (is the node running, and is this its data "
				  "directory? geth puts it at <datadir>/geth.ipc)", c->name);
			goto out;
		} else if (e == ECONNREFUSED) {
			rc = verrf(err, errlen, -ECONNREFUSED,
				  "%s: connection refused (stale socket file: is the node running?)",
				  c->name);
			goto out;
		} else if (e == ETIMEDOUT) {
			rc = verrf(err, errlen, -ETIMEDOUT, "%s: connect timed out after %llu ms",
				  c->name, (unsigned long long)c->timeout_ms);
			goto out;
		} else if (e) {
			rc = verrf(err, errlen, e == EACCES ? -EACCES : -EHOSTUNREACH,
				  "%s: cannot connect: %s%s", c->name, strerror(e),
				  e == EACCES ? " (run as the node's user or fix the socket's mode)"
					      : "");
			goto out;
		}
	}
	while (off < req->len) {
		ssize_t w = send(fd, req->data + off, req->len - off, MSG_NOSIGNAL);

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((rc = wait_fd(fd, POLLOUT, deadline)))
				goto timeout_or_err;
			continue;
		}
		rc = verrf(err, errlen, -EPROTO, "%s: sending %s: %s", c->name, method,
			  strerror(errno));
		goto out;
	}
	peers_json_scan_init(&scan);
	vbuf_reset(resp);
	for (;;) {
		ssize_t r;

		if (vbuf_reserve(resp, 65536)) {
			rc = -ENOMEM;
			goto out;
		}
		r = recv(fd, resp->data + resp->len, MIN(resp->cap - resp->len - 1,
							c->max_bytes + 1 - resp->len), 0);
		if (r > 0) {
			resp->len += (size_t)r;
			resp->data[resp->len] = 0;
			done = peers_json_scan(&scan, resp->data, resp->len);
			if (done < 0) {
				rc = verrf(err, errlen, -EBADMSG,
					  "%s: answer to %s is not JSON (starts with \"%.20s\"): is "
					  "this a geth-style IPC socket?", c->name, method, resp->data);
				goto out;
			}
			if (done > 0)
				break;
			if (resp->len > c->max_bytes) {
				rc = verrf(err, errlen, -EFBIG,
					  "%s: answer to %s is larger than %zu bytes (raise the "
					  "response size limit)", c->name, method, c->max_bytes);
				goto out;
			}
			continue;
		}
		if (r == 0) {
			rc = verrf(err, errlen, -EPROTO,
				  "%s: connection closed after %zu bytes, before the answer to %s "
				  "was complete", c->name, resp->len, method);
			goto out;
		}
		if (errno == EAGAIN || errno == EINTR) {
			if ((rc = wait_fd(fd, POLLIN, deadline)))
				goto timeout_or_err;
			continue;
		}
		rc = verrf(err, errlen, -EPROTO, "%s: reading the answer to %s: %s", c->name, method,
			  strerror(errno));
		goto out;
	}
	resp->len = (size_t)done;
	resp->data[resp->len] = 0;
	rc = 0;
	goto out;
timeout_or_err:
	if (rc == -ETIMEDOUT)
		rc = verrf(err, errlen, -ETIMEDOUT,
			  "%s: no complete answer to %s within %llu ms (is the node overloaded? "
			  "raise the timeout)", c->name, method, (unsigned long long)c->timeout_ms);
	else
		rc = verrf(err, errlen, rc, "%s: poll: %s", c->name, strerror(-rc));
out:
	close(fd);
	return rc;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct peers_conn *c = ud;
	size_t n = size * nmemb;

	if (c->resp->len + n > c->max_bytes) {
		c->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return vbuf_append(c->resp, ptr, n) ? 0 : n;
}

static bool looks_like_json(const struct vbuf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		char ch = b->data[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		return ch == '{' || ch == '[';
	}
	return false;
}

/* One HTTP exchange; @body NULL means GET. */
static int http_do(struct peers_conn *c, const char *url, const char *what, const char *body,
		   size_t body_len, struct vbuf *resp, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "";
	CURL *h = c->curl;
	CURLcode cc;
	long status = 0;
	char *ctype = NULL;

	vbuf_reset(resp);
	c->resp = resp;
	c->too_big = false;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_bytes);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "vigil-peers/" VIGIL_VERSION);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (body) {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->rpc_headers);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->get_headers);
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
	c->resp = NULL;
	if (c->too_big || cc == CURLE_FILESIZE_EXCEEDED)
		return verrf(err, errlen, -EFBIG,
			    "%s: answer to %s is larger than %zu bytes (raise the response size "
			    "limit)", c->name, what, c->max_bytes);
	switch (cc) {
	case CURLE_OK:
		break;
	case CURLE_OPERATION_TIMEDOUT:
		return verrf(err, errlen, -ETIMEDOUT,
			    "%s: no complete answer to %s within %llu ms (is the node overloaded? "
			    "raise the timeout)", c->name, what, (unsigned long long)c->timeout_ms);
	case CURLE_COULDNT_CONNECT: {
		long oserr = 0;

		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		return verrf(err, errlen, oserr == ECONNREFUSED ? -ECONNREFUSED : -EHOSTUNREACH,
			    "%s: cannot connect: %s (is the node running with its HTTP API "
			    "enabled on this address?)", c->name,
			    oserr ? strerror((int)oserr) : cerr[0] ? cerr : "failed");
	}
	case CURLE_COULDNT_RESOLVE_HOST:
		return verrf(err, errlen, -EHOSTUNREACH, "%s: cannot resolve host: %s", c->name,
			    cerr);
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return verrf(err, errlen, -EPROTO, "%s: %s failed: %s", c->name, what,
			    cerr[0] ? cerr : curl_easy_strerror(cc));
	}
	if (!looks_like_json(resp)) {
		char ct[64];

		snprintf(ct, sizeof(ct), "%s", ctype ? ctype : "no content type");
		ct[strcspn(ct, ";")] = 0;
		if (!resp->len)
			return verrf(err, errlen, -EBADMSG, "%s: HTTP %ld with an empty body, not JSON "
				    "(answering %s)", c->name, status, what);
		return verrf(err, errlen, -EBADMSG,
			    "%s: HTTP %ld with %s body, not JSON (answering %s; is this the node's "
			    "API port, or a proxy error page?)", c->name, status, ct, what);
	}
	vbuf_cstr(resp);
	return 0;
}

int peers_rpc_call(struct peers_conn *c, const char *method, const char *params_json,
		   struct vbuf *resp, char *err, size_t errlen)
{
	struct vbuf req = VBUF_INIT;
	int rc = build_request(&req, c->next_id++, method, params_json);

	if (rc)
		goto out;
	if (c->ipc)
		rc = ipc_call(c, method, &req, resp, err, errlen);
	else
		rc = http_do(c, c->url, method, req.data, req.len, resp, err, errlen);
out:
	vbuf_free(&req);
	return rc;
}

int peers_beacon_get(struct peers_conn *c, const char *path, struct vbuf *resp, char *err,
		     size_t errlen)
{
	char *url;
	int rc;

	if (c->ipc)
		return verrf(err, errlen, -EINVAL,
			    "%s: the beacon API is HTTP only; give the consensus client's "
			    "http:// URL (e.g. http://127.0.0.1:3500 for Prysm)", c->name);
	if (asprintf(&url, "%s%s", c->url, path) < 0)
		return -ENOMEM;
	rc = http_do(c, url, path, NULL, 0, resp, err, errlen);
	free(url);
	return rc;
}
