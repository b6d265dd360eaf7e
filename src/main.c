// SPDX-License-Identifier: GPL-2.0-only
/*
 * vigil: one CLI, one table of commands. Each capability exports its row's run function or its
 * subcommand table; this file only lists them. Option parsing, help, prefix matching and man
 * pages come from lib/cmd.c and lib/opt.c.
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>

#include "version.h"
#include "vigil/buf.h"
#include "vigil/cmd.h"
#include "kaspa/kaspa.h"
#include "mesh/coord.h"
#include "peers/cmd.h"
#include "probe/probe.h"
#include "rpc/cmd.h"
#include "watchdog/wd.h"

static int version_run(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "vigil version: takes no arguments\n");
		return 2;
	}
	if (vopt_common.json) {
		struct vbuf b = VBUF_INIT;
		struct vjw w;

		vjw_init(&w, &b);
		vjw_obj(&w);
		vjw_kstr(&w, "version", VIGIL_VERSION);
		vjw_kstr(&w, "libbpf", libbpf_version_string());
		vjw_end(&w);
		printf("%s\n", vbuf_cstr(&b));
		vbuf_free(&b);
	} else {
		printf("vigil %s (libbpf %s)\n", VIGIL_VERSION, libbpf_version_string());
	}
	return 0;
}

static int man_run(int argc, char **argv)
{
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: vigil __man DIR\n");
		return 2;
	}
	err = vcmd_write_man(argv[1], vigil_commands);
	if (err) {
		fprintf(stderr, "vigil __man: cannot write man pages into %s: %s\n", argv[1],
			strerror(-err));
		return 1;
	}
	return 0;
}

const struct vcmd vigil_commands[] = {
	{ .name = "kaspa", .summary = KASPA_CMD_SUMMARY, .subs = kaspa_cmds },
	{ .name = "mesh", .summary = "identity-based WireGuard mesh: coordinator and admin commands",
	  .subs = mesh_cmds },
	{ .name = "probe", .summary = VPROBE_CMD_SUMMARY, .run = probe_cmd_run,
	  .usage = "[--json]", .description = VPROBE_CMD_DESCRIPTION },
	RPC_CMD_ROW,
	PEERS_CMD_ROW,
	{ .name = "version", .summary = "print the version of vigil and libbpf", .run = version_run,
	  .usage = "[--json]" },
	{ .name = "watchdog", .summary = WD_CMD_SUMMARY, .subs = watchdog_cmds },
	{ .name = "__man", .summary = "write man pages into DIR", .run = man_run, .usage = "DIR" },
	{ 0 }
};

int main(int argc, char **argv)
{
	return vcmd_dispatch("vigil", vigil_commands, argc, argv);
}
