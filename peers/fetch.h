/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fetching what `vigil peers` parses: JSON-RPC 2.0 calls to an execution client over HTTP(S) or
 * IPC, and GETs on a consensus client's beacon API over HTTP(S).
 *
 * IPC is geth's: a stream AF_UNIX socket carrying bare JSON values, no framing and no newline
 * required, so a response ends when its JSON value is complete (peers_json_scan). That is not
 * HTTP over a unix socket (curl's CURLOPT_UNIX_SOCKET_PATH), which geth does not speak.
 *
 * Every request has a deadline (timeout_ms for the whole exchange) and a response size cap
 * (default PEERS_MAX_RESPONSE); an answer that is not JSON (an HTML error page from a proxy,
 * an empty body) is an error that names the URL, the HTTP status and the content type:
 *   "http://10.0.0.5:8545/: HTTP 502 with text/html body, not JSON"
 * A JSON body is handed back even with a 4xx/5xx status: the parsers (parse.h) turn JSON-RPC and
 * beacon error objects into messages. Return codes:
 *   -ETIMEDOUT, -ECONNREFUSED, -ENOENT (no IPC socket), -EHOSTUNREACH (other connect failures),
 *   -EFBIG (over the cap), -EBADMSG (not JSON), -EPROTO (connection closed mid-answer, other
 *   transfer errors), -EINVAL (bad target), -ENOMEM.
 */
#ifndef VIGIL_PEERS_FETCH_H
#define VIGIL_PEERS_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vigil/buf.h"

#define PEERS_MAX_RESPONSE (16u << 20)
#define PEERS_TIMEOUT_MS   5000

struct peers_conn;

/*
 * A connection to one endpoint. @target is "http://host:port[/path]", "https://...", or an IPC
 * socket: "ipc:///path/geth.ipc", "unix:/path", or a bare path ("/data/geth.ipc", "./geth.ipc").
 * @timeout_ms 0 means PEERS_TIMEOUT_MS, @max_bytes 0 means PEERS_MAX_RESPONSE.
 * Returns NULL with errno EINVAL (message logged) or ENOMEM. The caller owns the result.
 */
struct peers_conn *peers_conn_new(const char *target, uint64_t timeout_ms, size_t max_bytes);
void peers_conn_free(struct peers_conn *c);
bool peers_conn_is_ipc(const struct peers_conn *c);
/* The target as shown in messages (user:password of a URL removed). */
const char *peers_conn_name(const struct peers_conn *c);

/*
 * Calls @method with @params_json (a JSON array, NULL for "[]") and stores the raw response body
 * into @resp (reset first). 0 or a negative errno with a message in @err (PEERS_ERRLEN is
 * enough).
 */
int peers_rpc_call(struct peers_conn *c, const char *method, const char *params_json,
		   struct vbuf *resp, char *err, size_t errlen);

/* GET <target URL without trailing '/'><path> with Accept: application/json; HTTP only. */
int peers_beacon_get(struct peers_conn *c, const char *path, struct vbuf *resp, char *err,
		     size_t errlen);

/*
 * Incremental completeness check for a stream of JSON values. Feed the whole buffer each time
 * (scanning resumes where it stopped). Returns the length of the first complete top-level object
 * or array once it is complete, 0 while incomplete, -EBADMSG when the stream does not start
 * with '{' or '[' (after white space) or closes more than it opened.
 */
struct peers_json_scan {
	size_t pos;
	size_t depth;
	bool started, in_string, escape;
};
void peers_json_scan_init(struct peers_json_scan *s);
ssize_t peers_json_scan(struct peers_json_scan *s, const char *buf, size_t len);

#endif
