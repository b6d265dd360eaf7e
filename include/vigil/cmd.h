/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Command tables in the manner of bpftool: `vigil rpc top` is the row "rpc" of the top table,
 * then the row "top" of rpc's table. Names match by unique prefix ("vigil w" is watchdog); every
 * level answers `help` and `--help`. A leaf row names its option sets; the dispatcher parses
 * them (vopt_parse) before calling run() with the positional arguments only.
 */
#ifndef VIGIL_CMD_H
#define VIGIL_CMD_H

#include "vigil/opt.h"

struct vcmd {
	const char *name; /* NULL ends a table */
	const char *summary;
	/* A leaf: run with positional args (argv[0] is the full command name, "vigil rpc top").
	 * Returns the process exit code: 0 ok, 1 failure, 2 usage error. */
	int (*run)(int argc, char **argv);
	const struct vopt_set *sets; /* leaf options; NULL: only the common ones */
	const char *usage;	     /* "[OPTIONS] [PID...]"; NULL: "[OPTIONS]" */
	const char *description;     /* longer text for the man page */
	const struct vcmd *subs;     /* a group: its subcommands (run may be NULL) */
};

/* Dispatches argv against @table. @prog is the words so far ("vigil"). Returns an exit code. */
int vcmd_dispatch(const char *prog, const struct vcmd *table, int argc, char **argv);
/* Writes one man page per command (vigil.1, vigil-rpc.1, vigil-rpc-top.1, ...) into @dir. */
int vcmd_write_man(const char *dir, const struct vcmd *table);

/* The top-level table, defined in src/main.c; capabilities export their rows' tables. */
extern const struct vcmd vigil_commands[];

#endif
