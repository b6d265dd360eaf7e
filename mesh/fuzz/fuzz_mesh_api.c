// SPDX-License-Identifier: GPL-2.0-only
/*
 * The coordinator's request parsers and validators (mesh/policy.c) and the agent's snapshot
 * parser (mesh/client.c) over arbitrary bytes. The first byte picks the parser, the rest is the
 * body. Beyond "no crash, no leak": a failure always comes with a message; an accepted policy
 * survives a round trip through its JSON rendering unchanged; an accepted join request holds a
 * valid key and endpoint.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/client.h"
#include "mesh/policy.h"
#include "vigil/log.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void rules_round_trip(const struct mesh_rule *r, size_t n)
{
	struct vbuf b = VBUF_INIT;
	struct mesh_rule *r2 = NULL;
	char err[MESH_ERR_MAX];
	size_t n2 = 0;
	struct vjw w;

	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_key(&w, "rules");
	vjw_arr(&w);
	for (size_t i = 0; i < n; i++)
		mesh_rule_json(&w, &r[i]);
	vjw_end(&w);
	vjw_end(&w);
	check(w.err == 0);
	check(mesh_rules_parse_json(b.data, b.len, &r2, &n2, err, sizeof(err)) == 0);
	check(n2 == n);
	for (size_t i = 0; i < n; i++)
		check(!strcmp(r[i].src, r2[i].src) && !strcmp(r[i].dst, r2[i].dst) &&
		      r[i].proto == r2[i].proto && r[i].port_lo == r2[i].port_lo &&
		      r[i].port_hi == r2[i].port_hi && r[i].allow == r2[i].allow);
	free(r2);
	vbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[MESH_ERR_MAX] = "";
	const char *body = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	int ret;

	vlog_setup(VLOG_ERROR, VLOG_TEXT);
	if (!size)
		return 0;
	switch (data[0] % 6) {
	case 0:
	case 1: {
		struct mesh_rule *r = NULL;
		size_t n = 0;

		ret = data[0] % 6 ? mesh_rules_parse_text(body, len, &r, &n, err, sizeof(err))
				  : mesh_rules_parse(body, len, &r, &n, err, sizeof(err));
		if (!ret)
			rules_round_trip(r, n);
		free(r);
		break;
	}
	case 2: {
		struct mesh_join_req j;

		ret = mesh_join_parse(body, len, &j, err, sizeof(err));
		if (!ret)
			check(!mesh_pubkey_check(j.public_key, NULL, 0) &&
			      !mesh_endpoint_check(j.endpoint, NULL, 0) &&
			      j.n_allowed <= MESH_MAX_ALLOWED);
		break;
	}
	case 3: {
		struct mesh_ident_req id;

		ret = mesh_ident_parse(body, len, &id, err, sizeof(err));
		break;
	}
	case 4: {
		uint64_t rev;

		ret = mesh_status_parse(body, len, &rev, err, sizeof(err));
		break;
	}
	default: {
		struct mesh_snapshot s;

		ret = mesh_snapshot_parse(body, len, &s, err, sizeof(err));
		mesh_snapshot_free(&s);
		break;
	}
	}
	if (ret)
		check(err[0] != 0 && memchr(err, 0, sizeof(err)) != NULL);
	return 0;
}
