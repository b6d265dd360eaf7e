// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vigil mesh ...` for admins: the coordinator daemon and the commands that talk to it over its
 * API (libcurl, mesh/client.h): policy apply/show, nodes, status, identities. Every command
 * prints an aligned table, or with -j/--json the API's JSON document as it came.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/agent.h"
#include "mesh/client.h"
#include "mesh/coord.h"
#include "mesh/policy.h"
#include "vigil/buf.h"
#include "vigil/bus.h"
#include "vigil/cmd.h"
#include "vigil/http.h"
#include "vigil/log.h"
#include "vigil/opt.h"

struct mesh_cli_cfg {
	char *coordinator;
	char *token;
	char *token_file;
	char *file;
};

static struct mesh_cli_cfg cli_cfg;
static struct mesh_coord_cfg coord_cfg;
static struct mesh_agent_cfg agent_cfg;
static struct vbus_cfg agent_bus_cfg;
static struct vhttp_cfg agent_http_cfg;

static const struct vopt mesh_cli_opts[] = {
	VOPT_STRING("coordinator", 'c', struct mesh_cli_cfg, coordinator, "http://127.0.0.1:7420",
		    "URL", "the coordinator's base URL"),
	VOPT_STRING("token", 't', struct mesh_cli_cfg, token, NULL, "TOKEN",
		    "admin bearer token (prefer --token-file or VIGIL_TOKEN)"),
	VOPT_STRING("token-file", 0, struct mesh_cli_cfg, token_file, NULL, "FILE",
		    "file whose first line is the admin token"),
	VOPT_END
};

static const struct vopt mesh_file_opts[] = {
	VOPT_STRING("file", 'f', struct mesh_cli_cfg, file, NULL, "FILE",
		    "policy file: JSON {\"rules\": [...]} or text lines \"allow web -> db "
		    "tcp/5432\" (\"-\": stdin)"),
	VOPT_END
};

static const struct vopt_set coord_sets[] = { { mesh_coord_opts, &coord_cfg }, { NULL, NULL } };
static const struct vopt_set agent_sets[] = { { mesh_agent_opts, &agent_cfg },
					      { vbus_opts, &agent_bus_cfg },
					      { vhttp_opts, &agent_http_cfg },
					      { NULL, NULL } };
static const struct vopt_set cli_sets[] = { { mesh_cli_opts, &cli_cfg }, { NULL, NULL } };
static const struct vopt_set apply_sets[] = { { mesh_cli_opts, &cli_cfg },
					      { mesh_file_opts, &cli_cfg },
					      { NULL, NULL } };

static int coordinator_run(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "%s: takes no arguments (got \"%s\")\n", argv[0], argv[1]);
		return 2;
	}
	return mesh_coord_run(&coord_cfg);
}

static int agent_run(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "%s: takes no arguments (got \"%s\")\n", argv[0], argv[1]);
		return 2;
	}
	/* with no sink configured, policy and drop events go to stdout as JSON Lines */
	vbus_cfg_default_stdout(&agent_bus_cfg);
	return mesh_agent_run(&agent_cfg, &agent_bus_cfg, agent_http_cfg.metrics);
}

/* Reads a whole file ("-": stdin) into @b. 0 or -errno. */
static int slurp(const char *path, struct vbuf *b)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char chunk[65536];
	size_t n;
	int err = 0;

	if (!f)
		return -errno;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (vbuf_append(b, chunk, n))
			err = -ENOMEM;
	if (ferror(f))
		err = -EIO;
	if (f != stdin)
		fclose(f);
	vbuf_cstr(b);
	return err;
}

static const char *admin_token(const char *cmd)
{
	static char line[1024];

	if (cli_cfg.token && *cli_cfg.token)
		return cli_cfg.token;
	if (cli_cfg.token_file && *cli_cfg.token_file) {
		FILE *f = fopen(cli_cfg.token_file, "r");

		if (!f || !fgets(line, sizeof(line), f)) {
			fprintf(stderr, "%s: cannot read a token from --token-file %s: %s\n", cmd,
				cli_cfg.token_file, f ? "empty file" : strerror(errno));
			if (f)
				fclose(f);
			return NULL;
		}
		fclose(f);
		line[strcspn(line, "\r\n")] = 0;
		return line;
	}
	fprintf(stderr, "%s: no admin token: give --token-file FILE, --token TOKEN or set "
		"VIGIL_TOKEN\n", cmd);
	return NULL;
}

/*
 * Sends one admin request and parses the answer. Prints the API's error and returns NULL
 * (setting *code to the exit code) when there is no 2xx answer.
 */
static json_t *call(const char *cmd, const char *method, const char *path, const char *body,
		    size_t len, int *code)
{
	const char *tok = admin_token(cmd);
	struct vbuf resp = VBUF_INIT;
	json_t *j = NULL;
	long status;
	int err;

	*code = 1;
	if (!tok) {
		*code = 2;
		return NULL;
	}
	err = mesh_client_request(cli_cfg.coordinator, tok, method, path, body, len, &status,
				  &resp, 60);
	if (err) {
		fprintf(stderr, "%s: cannot reach the coordinator at %s: %s (is it running? check "
			"--coordinator)\n", cmd, cli_cfg.coordinator, strerror(-err));
		goto out;
	}
	j = json_loadb(vbuf_cstr(&resp), resp.len, 0, NULL);
	if (status < 200 || status >= 300) {
		const char *msg = json_string_value(json_object_get(j, "error"));

		fprintf(stderr, "%s: the coordinator refused %s %s (HTTP %ld): %s\n", cmd, method,
			path, status, msg ? msg : vbuf_cstr(&resp));
		json_decref(j);
		j = NULL;
		goto out;
	}
	if (!j)
		fprintf(stderr, "%s: the coordinator's answer is not JSON: %.200s\n", cmd,
			vbuf_cstr(&resp));
	else
		*code = 0;
out:
	vbuf_free(&resp);
	return j;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (s)
		printf("%s\n", s);
	free(s);
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

static int policy_apply_run(int argc, char **argv)
{
	struct vbuf file = VBUF_INIT, body = VBUF_INIT;
	char err[MESH_ERR_MAX];
	struct mesh_rule *rules = NULL;
	size_t n = 0;
	json_t *j = NULL;
	struct vjw w;
	int code = 2, e;

	if (argc > 1 || !cli_cfg.file) {
		fprintf(stderr, "%s: give the policy with -f FILE (and no other arguments)\n",
			argv[0]);
		return 2;
	}
	code = 1;
	if ((e = slurp(cli_cfg.file, &file))) {
		fprintf(stderr, "%s: cannot read %s: %s\n", argv[0], cli_cfg.file, strerror(-e));
		goto out;
	}
	/* Validate locally first so a typo is reported with the file's line numbers. */
	if (mesh_rules_parse(file.data ? file.data : "", file.len, &rules, &n, err, sizeof(err))) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], cli_cfg.file, err);
		goto out;
	}
	vjw_init(&w, &body);
	vjw_obj(&w);
	vjw_key(&w, "rules");
	vjw_arr(&w);
	for (size_t i = 0; i < n; i++)
		mesh_rule_json(&w, &rules[i]);
	vjw_end(&w);
	vjw_end(&w);
	j = call(argv[0], "PUT", "/api/v1/policy", vbuf_cstr(&body), body.len, &code);
	if (!j)
		goto out;
	if (vopt_common.json)
		print_json(j);
	else
		printf("%s: %zu rules, revision %lld\n",
		       json_is_true(json_object_get(j, "changed")) ? "applied" : "unchanged", n,
		       (long long)json_integer_value(json_object_get(j, "revision")));
out:
	json_decref(j);
	free(rules);
	vbuf_free(&file);
	vbuf_free(&body);
	return code;
}

static int policy_show_run(int argc, char **argv)
{
	json_t *j, *r;
	size_t i;
	int code;

	(void)argc;
	j = call(argv[0], "GET", "/api/v1/policy", NULL, 0, &code);
	if (!j)
		return code;
	if (vopt_common.json) {
		print_json(j);
	} else {
		long long rev = json_integer_value(json_object_get(j, "revision"));

		printf("# revision %lld\n", rev);
		json_array_foreach(json_object_get(j, "rules"), i, r) {
			const char *proto = jstr(r, "proto"), *port = jstr(r, "port");

			printf("%s %s -> %s %s%s%s\n", jstr(r, "action"), jstr(r, "src"),
			       jstr(r, "dst"), proto, strcmp(port, "*") ? "/" : "",
			       strcmp(port, "*") ? port : "");
		}
	}
	json_decref(j);
	return 0;
}

static int nodes_run(int argc, char **argv)
{
	json_t *j, *n;
	size_t i;
	int code;

	if (argc == 3 && (!strcmp(argv[1], "rm") || !strcmp(argv[1], "remove"))) {
		char path[64];
		char *end;

		strtoull(argv[2], &end, 10);
		if (!*argv[2] || *end) {
			fprintf(stderr, "%s: \"%s\" is not a node id (see `vigil mesh nodes`)\n",
				argv[0], argv[2]);
			return 2;
		}
		snprintf(path, sizeof(path), "/api/v1/nodes/%s", argv[2]);
		j = call(argv[0], "DELETE", path, NULL, 0, &code);
		if (!j)
			return code;
		if (vopt_common.json)
			print_json(j);
		else
			printf("removed node %s, revision %lld\n", argv[2],
			       (long long)json_integer_value(json_object_get(j, "revision")));
		json_decref(j);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: %s [rm ID]\n", argv[0]);
		return 2;
	}
	j = call(argv[0], "GET", "/api/v1/nodes", NULL, 0, &code);
	if (!j)
		return code;
	if (vopt_common.json) {
		print_json(j);
	} else {
		printf("%-5s %-20s %-12s %-15s %-24s %s\n", "ID", "NAME", "IDENTITY", "ADDRESS",
		       "ENDPOINT", "PUBLIC KEY");
		json_array_foreach(json_object_get(j, "nodes"), i, n)
			printf("%-5lld %-20s %-12s %-15s %-24s %s\n",
			       (long long)json_integer_value(json_object_get(n, "id")),
			       jstr(n, "name"), jstr(n, "identity"), jstr(n, "address"),
			       *jstr(n, "endpoint") ? jstr(n, "endpoint") : "-",
			       jstr(n, "public_key"));
	}
	json_decref(j);
	return 0;
}

static int status_run(int argc, char **argv)
{
	json_t *j, *n;
	size_t i;
	int code;

	(void)argc;
	j = call(argv[0], "GET", "/api/v1/status", NULL, 0, &code);
	if (!j)
		return code;
	if (vopt_common.json) {
		print_json(j);
	} else {
		long long rev = json_integer_value(json_object_get(j, "revision"));

		printf("revision %lld, %zu nodes, %lld watching, %lld identities, %lld rules, "
		       "store %s, pool %s\n", rev, json_array_size(json_object_get(j, "nodes")),
		       (long long)json_integer_value(json_object_get(j, "watchers")),
		       (long long)json_integer_value(json_object_get(j, "identities")),
		       (long long)json_integer_value(json_object_get(j, "rules")),
		       jstr(j, "backend"), jstr(j, "cidr"));
		printf("%-5s %-20s %-12s %-15s %-8s %-8s %s\n", "ID", "NAME", "IDENTITY", "ADDRESS",
		       "APPLIED", "SYNC", "LAST SEEN");
		json_array_foreach(json_object_get(j, "nodes"), i, n)
			printf("%-5lld %-20s %-12s %-15s %-8lld %-8s %s\n",
			       (long long)json_integer_value(json_object_get(n, "id")),
			       jstr(n, "name"), jstr(n, "identity"), jstr(n, "address"),
			       (long long)json_integer_value(
				       json_object_get(n, "applied_revision")),
			       json_is_true(json_object_get(n, "in_sync")) ? "yes" : "behind",
			       jstr(n, "last_seen"));
	}
	json_decref(j);
	return 0;
}

static int identities_run(int argc, char **argv)
{
	json_t *j, *n;
	size_t i;
	int code;

	if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "add")) {
		struct vbuf body = VBUF_INIT;
		char *end = NULL;
		struct vjw w;

		vjw_init(&w, &body);
		vjw_obj(&w);
		vjw_kstr(&w, "name", argv[2]);
		if (argc == 4) {
			unsigned long long tag = strtoull(argv[3], &end, 10);

			if (!*argv[3] || *end) {
				fprintf(stderr, "%s: tag \"%s\" is not a number\n", argv[0],
					argv[3]);
				vbuf_free(&body);
				return 2;
			}
			vjw_kuint(&w, "tag", tag);
		}
		vjw_end(&w);
		j = call(argv[0], "POST", "/api/v1/identities", vbuf_cstr(&body), body.len, &code);
		vbuf_free(&body);
		if (!j)
			return code;
		if (vopt_common.json)
			print_json(j);
		else
			printf("identity %s has tag %lld (revision %lld)\n", jstr(j, "name"),
			       (long long)json_integer_value(json_object_get(j, "tag")),
			       (long long)json_integer_value(json_object_get(j, "revision")));
		json_decref(j);
		return 0;
	}
	if (argc == 3 && (!strcmp(argv[1], "rm") || !strcmp(argv[1], "remove"))) {
		char path[128];

		snprintf(path, sizeof(path), "/api/v1/identities/%s", argv[2]);
		j = call(argv[0], "DELETE", path, NULL, 0, &code);
		if (!j)
			return code;
		if (vopt_common.json)
			print_json(j);
		else
			printf("removed identity %s\n", argv[2]);
		json_decref(j);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: %s [add NAME [TAG] | rm NAME]\n", argv[0]);
		return 2;
	}
	j = call(argv[0], "GET", "/api/v1/identities", NULL, 0, &code);
	if (!j)
		return code;
	if (vopt_common.json) {
		print_json(j);
	} else {
		printf("%-10s %s\n", "TAG", "NAME");
		json_array_foreach(json_object_get(j, "identities"), i, n)
			printf("%-10lld %s\n",
			       (long long)json_integer_value(json_object_get(n, "tag")),
			       jstr(n, "name"));
	}
	json_decref(j);
	return 0;
}

static const struct vcmd policy_cmds[] = {
	{ .name = "apply", .summary = "replace the mesh policy with the rules in a file",
	  .run = policy_apply_run, .sets = apply_sets, .usage = "-f FILE [--json]",
	  .description = "Reads a policy file (JSON {\"rules\": [{\"src\", \"dst\", \"proto\", "
			 "\"port\", \"action\"}]} or one rule a line: \"allow web -> db "
			 "tcp/5432\", \"deny * -> * any\"), checks it and replaces the whole rule "
			 "set on the coordinator in one transaction." },
	{ .name = "show", .summary = "print the mesh policy as text rules", .run = policy_show_run,
	  .sets = cli_sets, .usage = "[--json]" },
	{ 0 }
};

const struct vcmd mesh_cmds[] = {
	{ .name = "coordinator", .summary = "run the mesh coordinator (API, store, watches)",
	  .run = coordinator_run, .sets = coord_sets, .usage = "[OPTIONS]",
	  .description = "Serves the mesh's JSON API under /api/v1 (docs/mesh_api.md): nodes join "
			 "with a join token and get a credential and an address from --cidr; "
			 "agents long-poll /api/v1/watch for peers and policy." },
	{ .name = "agent", .summary = "run a mesh node: join, WireGuard peers, TC policy, metrics",
	  .run = agent_run, .sets = agent_sets, .usage = "[OPTIONS]",
	  .description = "Joins the coordinator (or re-uses the node in --state), configures the "
			 "WireGuard interface with the mesh's peers (kernel WireGuard over "
			 "netlink when the kernel has it, else wireguard-go, started as "
			 "`wireguard-go -f IFNAME` when it is not running; --wg-backend), gives "
			 "it the mesh address, attaches "
			 "the policy programs with pinned maps and follows the coordinator's "
			 "watch. Without the coordinator the last policy stays enforced "
			 "(docs/mesh.md)." },
	{ .name = "policy", .summary = "apply or show the mesh policy", .subs = policy_cmds },
	{ .name = "nodes", .summary = "list the mesh's nodes, or remove one", .run = nodes_run,
	  .sets = cli_sets, .usage = "[rm ID] [--json]" },
	{ .name = "status", .summary = "revision, nodes, their applied revision and last contact",
	  .run = status_run, .sets = cli_sets, .usage = "[--json]" },
	{ .name = "identities", .summary = "list, add or remove identities",
	  .run = identities_run, .sets = cli_sets, .usage = "[add NAME [TAG] | rm NAME] [--json]" },
	{ 0 }
};
