/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test helpers shared by the coordinator's integration tests and the propagation benchmark: a
 * real coordinator on 127.0.0.1:<port 0> with a temp SQLite file (or a given --db), its loop in
 * a thread of its own, and small request helpers over mesh/client.h.
 */
#ifndef VIGIL_MESH_COORD_HARNESS_H
#define VIGIL_MESH_COORD_HARNESS_H

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mesh/client.h"
#include "mesh/coord.h"
#include "mesh/store.h"
#include "vigil/loop.h"

#define ADMIN_TOKEN "admin-0123456789abcdef-secret"
#define JOIN_TOKEN  "join-0123456789abcdef-secret"
#define BOUND_TOKEN "bound-0123456789abcdef-secret" /* admits identity "db" only */

struct coord {
	struct vloop *loop;
	struct mesh_coord *c;
	pthread_t th;
	bool running;
	struct mesh_coord_cfg cfg;
	char dir[64];
	char db[160];
	char url[64];
	const char *cidr6; /* set before coord_start for IPv6 addresses */
};

static void *coord__loop(void *arg)
{
	struct coord *k = arg;

	vloop_run(k->loop);
	return NULL;
}

/* Starts a coordinator on @db (NULL: a new temp SQLite file). 0 or -errno. */
static inline int coord_start(struct coord *k, const char *db, uint64_t debounce_ns)
{
	if (!k->dir[0]) {
		snprintf(k->dir, sizeof(k->dir), "/tmp/vigil-mesh-XXXXXX");
		if (!mkdtemp(k->dir))
			return -errno;
	}
	if (db && db != k->db) {
		snprintf(k->db, sizeof(k->db), "%s", db);
	} else if (!k->db[0] && getenv("VIGIL_MESH_TEST_DB")) {
		/* A PostgreSQL URL (mesh/tests/int_coord_pg.sh): start from empty tables. */
		struct mstore *s;

		snprintf(k->db, sizeof(k->db), "%s", getenv("VIGIL_MESH_TEST_DB"));
		s = mstore_open(k->db);
		if (!s)
			return -errno;
		mstore_exec(s, "DROP TABLE IF EXISTS mesh_audit, mesh_rules, mesh_nodes, "
			    "mesh_identities, mesh_meta", 0, NULL);
		mstore_close(s);
	} else if (!k->db[0]) {
		snprintf(k->db, sizeof(k->db), "%s/mesh.db", k->dir);
	}
	memset(&k->cfg, 0, sizeof(k->cfg));
	k->cfg.listen = (char *)"127.0.0.1:0";
	k->cfg.db = k->db;
	k->cfg.cidr = (char *)"100.96.0.0/24";
	k->cfg.cidr6 = (char *)k->cidr6;
	k->cfg.admin_token = (char *)ADMIN_TOKEN;
	k->cfg.join_token = (char *)JOIN_TOKEN "," BOUND_TOKEN ":db";
	k->cfg.debounce = debounce_ns;
	k->cfg.watch_timeout = 30ull * 1000000000ull;
	k->cfg.max_body = 1 << 20;
	k->loop = vloop_new();
	if (!k->loop)
		return -errno;
	k->c = mesh_coord_new(k->loop, &k->cfg);
	if (!k->c)
		return -errno;
	snprintf(k->url, sizeof(k->url), "http://127.0.0.1:%u", mesh_coord_port(k->c));
	if (pthread_create(&k->th, NULL, coord__loop, k))
		return -EAGAIN;
	k->running = true;
	return 0;
}

/* Stops the coordinator; the temp dir stays until coord_cleanup. */
static inline void coord_stop(struct coord *k)
{
	if (k->running) {
		vloop_stop(k->loop);
		pthread_join(k->th, NULL);
		k->running = false;
	}
	mesh_coord_free(k->c);
	k->c = NULL;
	if (k->loop)
		vloop_free(k->loop);
	k->loop = NULL;
}

static inline void coord_cleanup(struct coord *k)
{
	char cmd[128];

	coord_stop(k);
	if (k->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", k->dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", k->dir);
	}
}

/* One request; returns the HTTP status (or -errno) and the parsed body in *out (may be NULL). */
static inline long api(struct coord *k, const char *token, const char *method, const char *path,
		       const char *body, json_t **out)
{
	struct vbuf resp = VBUF_INIT;
	long status = 0;
	int err;

	err = mesh_client_request(k->url, token, method, path, body, body ? strlen(body) : 0,
				  &status, &resp, 30);
	if (out)
		*out = err ? NULL : json_loadb(vbuf_cstr(&resp), resp.len, 0, NULL);
	vbuf_free(&resp);
	return err ? err : status;
}

/* A valid, distinct WireGuard-style public key for node @i. */
static inline void test_pubkey(unsigned i, char out[MESH_PUBKEY_LEN + 1])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";

	for (int j = 0; j < 42; j++)
		out[j] = b64[(i * 7919u + (unsigned)j * 31u + (i >> (j % 16))) % 64];
	out[42] = 'A';
	out[43] = '=';
	out[44] = 0;
}

#endif
