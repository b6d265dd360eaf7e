/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `vigil mesh coordinator`: the mesh's control plane. A versioned JSON API under /api/v1 on the
 * core HTTP server (docs/mesh_api.md): nodes join with a pre-shared join token and get a
 * per-node credential and a mesh address from --cidr; admins (bearer tokens) manage identities
 * and the policy; agents long-poll /api/v1/watch for the full snapshot (peers, identities,
 * policy, revision) and report the revision they applied. State lives in SQLite (--db FILE) or
 * PostgreSQL (--db postgres://...); every change bumps one revision and writes one audit entry,
 * in the same transaction.
 */
#ifndef VIGIL_MESH_COORD_H
#define VIGIL_MESH_COORD_H

#include <stdint.h>

#include "vigil/cmd.h"
#include "vigil/loop.h"
#include "vigil/opt.h"

struct mesh_coord_cfg {
	char *listen;		/* "host:port"; port 0 picks one */
	char *db;		/* SQLite path or postgres:// URL */
	char *cidr;		/* IPv4 pool for mesh addresses */
	char *cidr6;		/* optional IPv6 prefix: node address = prefix + node id */
	char *admin_token;	/* comma-separated */
	char *admin_token_file; /* one token a line, '#' comments */
	char *join_token;	/* comma-separated; "TOKEN:IDENTITY" admits one identity only */
	char *join_token_file;	/* "TOKEN [IDENTITY]" a line */
	uint64_t debounce;	/* ns: changes within this window reach watchers together */
	uint64_t watch_timeout; /* ns: longest long-poll; the answer then is a resync */
	uint64_t max_body;	/* bytes */
	char *jsonl;		/* change events as JSON lines; "-": stdout; NULL: none */
};
extern const struct vopt mesh_coord_opts[];

struct mesh_coord;

/*
 * Opens the store (creating the schema), loads the tokens and starts serving on @loop. NULL and
 * errno on failure, after logging one line that says what failed and what to do.
 */
struct mesh_coord *mesh_coord_new(struct vloop *loop, const struct mesh_coord_cfg *cfg);
/* Answers pending watches (503), stops serving, closes the store. Loop thread, not a handler. */
void mesh_coord_free(struct mesh_coord *c);
uint16_t mesh_coord_port(const struct mesh_coord *c);
uint64_t mesh_coord_revision(const struct mesh_coord *c);
/* Watches currently suspended (for tests and the status endpoint). */
unsigned mesh_coord_watchers(const struct mesh_coord *c);

/* The whole daemon: loop + coordinator until SIGINT/SIGTERM. Exit code. */
int mesh_coord_run(const struct mesh_coord_cfg *cfg);

/* `vigil mesh ...` subcommands (mesh/cli.c). */
extern const struct vcmd mesh_cmds[];

#endif
