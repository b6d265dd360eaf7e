/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The coordinator's HTTP client (libcurl), for the agent and the admin CLI. Every call is
 * synchronous and thread-safe (one curl handle per thread, reused so connections are kept
 * alive); @url is the coordinator's base URL
 * ("http://10.0.0.1:7420"). Calls return 0 or a negative errno:
 *   -ECONNREFUSED / -ETIMEDOUT / -EIO  the coordinator could not be reached or hung up
 *   -EACCES   401/403 (bad or missing token or credential)
 *   -ENOENT   404 (e.g. this node was removed)
 *   -EINVAL   400/422 (the request was refused as invalid)
 *   -EEXIST   409 (conflict)
 *   -EPROTO   any other status, or an answer that is not what the API promises
 * and log the coordinator's error message. @err (optional) receives that message too.
 */
#ifndef VIGIL_MESH_CLIENT_H
#define VIGIL_MESH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/policy.h"
#include "vigil/buf.h"

struct mesh_join_result {
	long long node_id;
	char name[MESH_NAME_MAX];
	char credential[128]; /* secret: store it 0600 */
	char address[64];     /* the node's mesh address, e.g. "100.96.0.3" */
	char cidr[MESH_CIDR_STR_MAX];
	char address6[64];    /* "" unless the coordinator has --cidr6 */
	char cidr6[MESH_CIDR_STR_MAX];
	uint64_t revision;
};

struct mesh_peer {
	long long id;
	char name[MESH_NAME_MAX];
	char public_key[MESH_PUBKEY_LEN + 1];
	char endpoint[MESH_ENDPOINT_MAX]; /* "" when the peer has none */
	char identity[MESH_NAME_MAX];
	uint32_t tag;
	char address[64];
	char address6[64]; /* "" without IPv6 */
	struct mesh_cidr allowed_ips[MESH_MAX_ALLOWED + 2]; /* its /32 (and /128) first */
	size_t n_allowed_ips;
};

struct mesh_identity {
	char name[MESH_NAME_MAX];
	uint32_t tag;
};

/* A policy rule with its identities resolved to tags (0: wildcard "*"). */
struct mesh_snap_rule {
	struct mesh_rule rule;
	uint32_t src_tag, dst_tag;
};

struct mesh_snapshot {
	uint64_t revision;
	bool changed;		  /* false: the watch timed out, this is a resync */
	unsigned resync_seconds;
	char cidr[MESH_CIDR_STR_MAX];
	char cidr6[MESH_CIDR_STR_MAX]; /* "" without IPv6 */
	struct mesh_peer self;	  /* this node as the coordinator knows it */
	struct mesh_peer *peers;  /* every other node */
	size_t n_peers;
	struct mesh_identity *identities;
	size_t n_identities;
	struct mesh_snap_rule *rules; /* in order */
	size_t n_rules;
};

/* POST /api/v1/join. @endpoint may be NULL or "" (no public endpoint); @name NULL: picked. */
int mesh_client_join(const char *url, const char *join_token, const char *pubkey,
		     const char *endpoint, const char *identity, struct mesh_join_result *out);
int mesh_client_join_ex(const char *url, const char *join_token, const char *pubkey,
			const char *endpoint, const char *identity, const char *name,
			const char *const *allowed_ips, size_t n_allowed,
			struct mesh_join_result *out, char *err, size_t errn);

/*
 * GET /api/v1/watch: returns when the coordinator's revision is past @revision (at once when it
 * already is) or after @timeout_s seconds (then out->changed is false: a resync). Fills @out
 * (free it with mesh_snapshot_free, also after an error).
 */
int mesh_client_watch(const char *url, const char *cred, uint64_t revision, unsigned timeout_s,
		      struct mesh_snapshot *out);
/* POST /api/v1/nodes/<id>/status {"revision": N}; the id is read from the credential. */
int mesh_client_report(const char *url, const char *cred, uint64_t revision);

/*
 * For the calling thread only: log "cannot reach the coordinator" and 5xx answers at debug
 * level instead of error (a retry loop that reports an outage once itself). Refusals (4xx)
 * are still errors.
 */
void mesh_client_quiet(bool quiet);

/* Parses a watch answer (untrusted bytes: fuzzed). 0 or -EINVAL with a message in @err. */
int mesh_snapshot_parse(const char *json, size_t len, struct mesh_snapshot *out, char *err,
			size_t errn);
void mesh_snapshot_free(struct mesh_snapshot *s);

/*
 * One request for the admin CLI: @method @url@path with an optional JSON @body and bearer
 * @token. The response body lands in @resp and the HTTP status in *status. Returns 0 when an
 * HTTP answer came back (whatever its status), or -errno when none did.
 */
int mesh_client_request(const char *url, const char *token, const char *method, const char *path,
			const char *body, size_t body_len, long *status, struct vbuf *resp,
			long timeout_s);
/* The negative errno the API's HTTP @status maps to (see above); 0 for 2xx. */
int mesh_client_status_err(long status);

#endif
