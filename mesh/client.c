// SPDX-License-Identifier: GPL-2.0-only
/*
 * The coordinator's client (libcurl easy interface, one handle per thread) and the snapshot
 * parser (jansson); see client.h.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/client.h"
#include "vigil/log.h"

#define COMP "mesh"

static __thread bool quiet;

void mesh_client_quiet(bool q)
{
	quiet = q;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_key_t curl_key;

static void handle_free(void *h)
{
	curl_easy_cleanup(h);
}

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_key_create(&curl_key, handle_free);
}

/*
 * One curl handle per thread, kept between calls (freed when the thread exits) so an agent's
 * watch loop reuses its keep-alive connection instead of opening one per long-poll.
 */
static CURL *thread_handle(void)
{
	CURL *h;

	pthread_once(&curl_once, curl_init_once);
	h = pthread_getspecific(curl_key);
	if (h) {
		curl_easy_reset(h);
		return h;
	}
	h = curl_easy_init();
	if (h && pthread_setspecific(curl_key, h)) {
		curl_easy_cleanup(h);
		h = NULL;
	}
	return h;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	return vbuf_append(ctx, p, size * n) ? 0 : size * n;
}

int mesh_client_status_err(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 400:
	case 413:
	case 422: return -EINVAL;
	case 401:
	case 403: return -EACCES;
	case 404: return -ENOENT;
	case 409: return -EEXIST;
	default: return -EPROTO;
	}
}

int mesh_client_request(const char *url, const char *token, const char *method, const char *path,
			const char *body, size_t body_len, long *status, struct vbuf *resp,
			long timeout_s)
{
	struct curl_slist *hdrs = NULL;
	struct vbuf full = VBUF_INIT, auth = VBUF_INIT;
	CURLcode rc;
	CURL *h;
	int ret = 0;

	*status = 0;
	vbuf_reset(resp);
	h = thread_handle();
	if (!h)
		return -ENOMEM;
	vbuf_printf(&full, "%s%s%s", url,
		    url[0] && url[strlen(url) - 1] == '/' && path[0] == '/' ? "" : "",
		    url[0] && url[strlen(url) - 1] == '/' && path[0] == '/' ? path + 1 : path);
	if (token) {
		vbuf_printf(&auth, "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, vbuf_cstr(&auth));
	}
	if (body)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, vbuf_cstr(&full));
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		vlog(quiet ? VLOG_DEBUG : VLOG_ERROR, COMP,
		     "cannot reach the coordinator at %s: %s (is it running, and is "
			  "--coordinator right?)", vbuf_cstr(&full), curl_easy_strerror(rc));
		ret = rc == CURLE_COULDNT_CONNECT	  ? -ECONNREFUSED
		      : rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
						       : -EIO;
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	}
	vbuf_cstr(resp);
	curl_slist_free_all(hdrs);
	vbuf_free(&full);
	vbuf_free(&auth);
	return ret;
}

/* The "error" member of an API error answer, or the raw body. */
static void api_error(const char *what, long status, struct vbuf *resp, char *err, size_t errn)
{
	json_t *j = json_loadb(resp->data ? resp->data : "", resp->len, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "error"));
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", msg ? msg : vbuf_cstr(resp));
	json_decref(j);
	vlog(quiet && status >= 500 ? VLOG_DEBUG : VLOG_ERROR, COMP,
	     "%s: the coordinator answered %ld: %s", what, status, buf);
	if (err && errn)
		snprintf(err, errn, "%s", buf);
}

static void copy_str(char *dst, size_t n, json_t *v)
{
	const char *s = json_string_value(v);

	snprintf(dst, n, "%s", s ? s : "");
}

int mesh_client_join_ex(const char *url, const char *join_token, const char *pubkey,
			const char *endpoint, const char *identity, const char *name,
			const char *const *allowed_ips, size_t n_allowed,
			struct mesh_join_result *out, char *err, size_t errn)
{
	struct vbuf body = VBUF_INIT, resp = VBUF_INIT;
	json_t *j = NULL;
	struct vjw w;
	long status;
	int ret;

	memset(out, 0, sizeof(*out));
	vjw_init(&w, &body);
	vjw_obj(&w);
	vjw_kstr(&w, "public_key", pubkey ? pubkey : "");
	if (endpoint && *endpoint)
		vjw_kstr(&w, "endpoint", endpoint);
	vjw_kstr(&w, "identity", identity ? identity : "");
	if (name && *name)
		vjw_kstr(&w, "name", name);
	if (n_allowed) {
		vjw_key(&w, "allowed_ips");
		vjw_arr(&w);
		for (size_t i = 0; i < n_allowed; i++)
			vjw_str(&w, allowed_ips[i]);
		vjw_end(&w);
	}
	vjw_end(&w);
	ret = mesh_client_request(url, join_token, "POST", "/api/v1/join", vbuf_cstr(&body),
				  body.len, &status, &resp, 30);
	if (ret)
		goto out;
	ret = mesh_client_status_err(status);
	if (ret) {
		api_error("join", status, &resp, err, errn);
		goto out;
	}
	j = json_loadb(vbuf_cstr(&resp), resp.len, 0, NULL);
	if (!json_is_integer(json_object_get(j, "node_id")) ||
	    !json_is_string(json_object_get(j, "credential")) ||
	    !json_is_string(json_object_get(j, "address"))) {
		log_error(COMP, "join: the coordinator's answer lacks node_id, credential or "
			  "address: %.200s", vbuf_cstr(&resp));
		ret = -EPROTO;
		goto out;
	}
	out->node_id = json_integer_value(json_object_get(j, "node_id"));
	copy_str(out->name, sizeof(out->name), json_object_get(j, "name"));
	copy_str(out->credential, sizeof(out->credential), json_object_get(j, "credential"));
	copy_str(out->address, sizeof(out->address), json_object_get(j, "address"));
	copy_str(out->cidr, sizeof(out->cidr), json_object_get(j, "cidr"));
	copy_str(out->address6, sizeof(out->address6), json_object_get(j, "address6"));
	copy_str(out->cidr6, sizeof(out->cidr6), json_object_get(j, "cidr6"));
	out->revision = (uint64_t)json_integer_value(json_object_get(j, "revision"));
out:
	json_decref(j);
	vbuf_free(&body);
	vbuf_free(&resp);
	return ret;
}

int mesh_client_join(const char *url, const char *join_token, const char *pubkey,
		     const char *endpoint, const char *identity, struct mesh_join_result *out)
{
	return mesh_client_join_ex(url, join_token, pubkey, endpoint, identity, NULL, NULL, 0, out,
				   NULL, 0);
}

static int fail(char *err, size_t n, const char *msg, const char *ctx)
{
	if (err && n)
		snprintf(err, n, "snapshot: %s%s%s", ctx ? ctx : "", ctx ? ": " : "", msg);
	return -EINVAL;
}

static int get_s(json_t *o, const char *key, char *dst, size_t n, bool required, char *err,
		 size_t en)
{
	json_t *v = json_object_get(o, key);

	dst[0] = 0;
	if (!v && !required)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= n)
		return fail(err, en, "missing or oversized string", key);
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_u(json_t *o, const char *key, uint64_t max, uint64_t *out, char *err, size_t en)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return fail(err, en, "missing or out-of-range integer", key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int peer_parse(json_t *o, struct mesh_peer *p, char *err, size_t en)
{
	char e2[MESH_ERR_MAX];
	uint64_t id, tag;
	json_t *arr;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(o))
		return fail(err, en, "a node is not an object", NULL);
	if (get_u(o, "id", INT64_MAX, &id, err, en) || get_u(o, "tag", UINT32_MAX, &tag, err, en) ||
	    get_s(o, "name", p->name, sizeof(p->name), true, err, en) ||
	    get_s(o, "public_key", p->public_key, sizeof(p->public_key), true, err, en) ||
	    get_s(o, "endpoint", p->endpoint, sizeof(p->endpoint), false, err, en) ||
	    get_s(o, "identity", p->identity, sizeof(p->identity), true, err, en) ||
	    get_s(o, "address", p->address, sizeof(p->address), true, err, en) ||
	    get_s(o, "address6", p->address6, sizeof(p->address6), false, err, en))
		return -EINVAL;
	p->id = (long long)id;
	p->tag = (uint32_t)tag;
	if (mesh_pubkey_check(p->public_key, e2, sizeof(e2)) ||
	    mesh_endpoint_check(p->endpoint, e2, sizeof(e2)))
		return fail(err, en, e2, p->name);
	arr = json_object_get(o, "allowed_ips");
	if (!json_is_array(arr) || json_array_size(arr) > MESH_MAX_ALLOWED + 2)
		return fail(err, en, "allowed_ips: expected an array of CIDRs", p->name);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		if (!s || mesh_cidr_parse(s, &p->allowed_ips[i], e2, sizeof(e2)))
			return fail(err, en, s ? e2 : "allowed_ips: not a string", p->name);
		p->n_allowed_ips = i + 1;
	}
	return 0;
}

int mesh_snapshot_parse(const char *json, size_t len, struct mesh_snapshot *out, char *err,
			size_t en)
{
	json_t *root, *arr;
	json_error_t je;
	uint64_t v;
	int ret = -EINVAL;

	memset(out, 0, sizeof(*out));
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return fail(err, en, je.text, "malformed JSON");
	if (!json_is_object(root)) {
		fail(err, en, "not an object", NULL);
		goto out;
	}
	if (get_u(root, "revision", INT64_MAX, &out->revision, err, en) ||
	    get_s(root, "cidr", out->cidr, sizeof(out->cidr), false, err, en) ||
	    get_s(root, "cidr6", out->cidr6, sizeof(out->cidr6), false, err, en) ||
	    peer_parse(json_object_get(root, "node"), &out->self, err, en))
		goto out;
	out->changed = json_is_true(json_object_get(root, "changed"));
	if (!get_u(root, "resync_seconds", 86400, &v, NULL, 0))
		out->resync_seconds = (unsigned)v;

	arr = json_object_get(root, "peers");
	if (!json_is_array(arr)) {
		fail(err, en, "peers: expected an array", NULL);
		goto out;
	}
	out->peers = calloc(json_array_size(arr) + 1, sizeof(*out->peers));
	if (!out->peers)
		goto nomem;
	for (size_t i = 0; i < json_array_size(arr); i++, out->n_peers++)
		if (peer_parse(json_array_get(arr, i), &out->peers[i], err, en))
			goto out;

	arr = json_object_get(root, "identities");
	if (!json_is_array(arr)) {
		fail(err, en, "identities: expected an array", NULL);
		goto out;
	}
	out->identities = calloc(json_array_size(arr) + 1, sizeof(*out->identities));
	if (!out->identities)
		goto nomem;
	for (size_t i = 0; i < json_array_size(arr); i++, out->n_identities++) {
		json_t *o = json_array_get(arr, i);
		struct mesh_identity *id = &out->identities[i];

		if (get_s(o, "name", id->name, sizeof(id->name), true, err, en) ||
		    get_u(o, "tag", UINT32_MAX, &v, err, en))
			goto out;
		id->tag = (uint32_t)v;
	}

	arr = json_object_get(root, "policy");
	if (!json_is_array(arr)) {
		fail(err, en, "policy: expected an array", NULL);
		goto out;
	}
	out->rules = calloc(json_array_size(arr) + 1, sizeof(*out->rules));
	if (!out->rules)
		goto nomem;
	for (size_t i = 0; i < json_array_size(arr); i++, out->n_rules++) {
		json_t *o = json_array_get(arr, i);
		struct mesh_snap_rule *r = &out->rules[i];
		char proto[16], port[16], action[16];

		if (get_s(o, "src", r->rule.src, sizeof(r->rule.src), true, err, en) ||
		    get_s(o, "dst", r->rule.dst, sizeof(r->rule.dst), true, err, en) ||
		    get_s(o, "proto", proto, sizeof(proto), true, err, en) ||
		    get_s(o, "port", port, sizeof(port), true, err, en) ||
		    get_s(o, "action", action, sizeof(action), true, err, en) ||
		    get_u(o, "src_tag", UINT32_MAX, &v, err, en))
			goto out;
		r->src_tag = (uint32_t)v;
		if (get_u(o, "dst_tag", UINT32_MAX, &v, err, en))
			goto out;
		r->dst_tag = (uint32_t)v;
		if (mesh_proto_parse(proto, &r->rule.proto) ||
		    mesh_ports_parse(port, &r->rule.port_lo, &r->rule.port_hi) ||
		    (strcmp(action, "allow") && strcmp(action, "deny"))) {
			fail(err, en, "a rule has a bad proto, port or action", "policy");
			goto out;
		}
		r->rule.allow = !strcmp(action, "allow");
	}
	ret = 0;
	goto out;
nomem:
	ret = -ENOMEM;
	fail(err, en, "out of memory", NULL);
out:
	json_decref(root);
	if (ret)
		mesh_snapshot_free(out);
	return ret;
}

void mesh_snapshot_free(struct mesh_snapshot *s)
{
	free(s->peers);
	free(s->identities);
	free(s->rules);
	s->peers = NULL, s->identities = NULL, s->rules = NULL;
	s->n_peers = s->n_identities = s->n_rules = 0;
}

int mesh_client_watch(const char *url, const char *cred, uint64_t revision, unsigned timeout_s,
		      struct mesh_snapshot *out)
{
	struct vbuf resp = VBUF_INIT;
	char path[96], err[MESH_ERR_MAX];
	long status;
	int ret;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/api/v1/watch?revision=%" PRIu64 "&timeout=%u", revision,
		 timeout_s);
	ret = mesh_client_request(url, cred, "GET", path, NULL, 0, &status, &resp,
				  (long)timeout_s + 15);
	if (ret)
		goto out;
	ret = mesh_client_status_err(status);
	if (ret) {
		api_error("watch", status, &resp, NULL, 0);
		goto out;
	}
	ret = mesh_snapshot_parse(vbuf_cstr(&resp), resp.len, out, err, sizeof(err));
	if (ret) {
		log_error(COMP, "watch: cannot use the coordinator's snapshot: %s", err);
		ret = -EPROTO;
	}
out:
	vbuf_free(&resp);
	return ret;
}

int mesh_client_report(const char *url, const char *cred, uint64_t revision)
{
	struct vbuf resp = VBUF_INIT;
	char path[64], body[48];
	long long id;
	long status;
	int ret;

	if (!cred || sscanf(cred, "vmc1.%lld.", &id) != 1) {
		log_error(COMP, "report: \"%s\" is not a node credential (vmc1.<id>.<secret>)",
			  cred ? "<credential>" : "(null)");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/api/v1/nodes/%lld/status", id);
	snprintf(body, sizeof(body), "{\"revision\":%" PRIu64 "}", revision);
	ret = mesh_client_request(url, cred, "POST", path, body, strlen(body), &status, &resp, 30);
	if (!ret && (ret = mesh_client_status_err(status)))
		api_error("status report", status, &resp, NULL, 0);
	vbuf_free(&resp);
	return ret;
}
