// SPDX-License-Identifier: GPL-2.0-only
/*
 * Command tables: prefix matching, `help` at every level, option parsing for leaves, and one man
 * page per command generated from the same tables. See include/vigil/cmd.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"
#include "vigil/cmd.h"

/* Finds @word in @table: an exact name, else a unique prefix. Hidden rows ("__man") match only
 * exactly. Prints the error and returns NULL when none or several match. */
static const struct vcmd *match(const char *prog, const struct vcmd *table, const char *word,
				bool quiet)
{
	const struct vcmd *found = NULL;
	size_t len = strlen(word);
	int n = 0;

	for (const struct vcmd *c = table; c->name; c++)
		if (strcmp(c->name, word) == 0)
			return c;
	for (const struct vcmd *c = table; c->name; c++) {
		if (c->name[0] == '_' || strncmp(c->name, word, len) != 0)
			continue;
		found = c;
		n++;
	}
	if (n == 1)
		return found;
	if (quiet)
		return NULL;
	if (n == 0) {
		fprintf(stderr, "%s: unknown command '%s' (see '%s help')\n", prog, word, prog);
	} else {
		fprintf(stderr, "%s: ambiguous command '%s': could be", prog, word);
		for (const struct vcmd *c = table; c->name; c++)
			if (c->name[0] != '_' && strncmp(c->name, word, len) == 0)
				fprintf(stderr, " %s", c->name);
		fprintf(stderr, "\n");
	}
	return NULL;
}

static void print_group_help(FILE *f, const char *prog, const struct vcmd *row,
			     const struct vcmd *table)
{
	fprintf(f, "Usage: %s COMMAND [OPTIONS]\n", prog);
	if (row && row->summary)
		fprintf(f, "\n%s\n", row->summary);
	if (row && row->run)
		fprintf(f, "\nWithout a command, '%s' runs itself (see '%s --help').\n", prog, prog);
	fprintf(f, "\nCommands:\n");
	for (const struct vcmd *c = table; c->name; c++)
		if (c->name[0] != '_')
			fprintf(f, "  %-12s %s\n", c->name, c->summary ? c->summary : "");
	fprintf(f, "  %-12s %s\n", "help", "show this help, or a command's: help COMMAND");
	fprintf(f, "\nCommands may be abbreviated to a unique prefix. '%s COMMAND --help' shows its options.\n",
		prog);
}

/* The config-file section for a command: "vigil kaspa sensor" -> "kaspa.sensor". */
static void section_of(const char *prog, char *buf, size_t n)
{
	const char *s = strchr(prog, ' ');

	snprintf(buf, n, "%s", s ? s + 1 : prog);
	for (char *p = buf; *p; p++)
		if (*p == ' ')
			*p = '.';
}

static int run_leaf(const char *prog, const struct vcmd *c, int argc, char **argv)
{
	char section[256];
	int npos;

	section_of(prog, section, sizeof(section));
	npos = vopt_parse(prog, section, c->sets, argc, argv);
	if (npos < 0)
		return 2;
	if (vopt_common.help) {
		vopt_print_help(stdout, prog, c->usage, c->summary, c->sets);
		if (c->subs) {
			printf("\nSubcommands:\n");
			for (const struct vcmd *s = c->subs; s->name; s++)
				if (s->name[0] != '_')
					printf("  %-12s %s\n", s->name, s->summary ? s->summary : "");
		}
		return 0;
	}
	argv[0] = (char *)prog;
	return c->run(npos + 1, argv);
}

static int dispatch(const char *prog, const struct vcmd *row, const struct vcmd *table, int argc,
		    char **argv)
{
	const struct vcmd *c;
	char sub[256];

	if (argc < 2) {
		print_group_help(stderr, prog, row, table);
		return 2;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			/* `help rpc top` == `rpc top --help` */
			char *args[argc + 1];
			int n = 0;

			args[n++] = (char *)prog;
			for (int i = 2; i < argc; i++)
				args[n++] = argv[i];
			args[n++] = "--help";
			args[n] = NULL;
			return dispatch(prog, row, table, n, args);
		}
		print_group_help(stdout, prog, row, table);
		return 0;
	}
	if (argv[1][0] == '-') {
		fprintf(stderr, "%s: expected a command before '%s' (see '%s help')\n", prog, argv[1],
			prog);
		return 2;
	}
	c = match(prog, table, argv[1], false);
	if (!c)
		return 2;
	snprintf(sub, sizeof(sub), "%s %s", prog, c->name);
	if (c->subs) {
		/* a pure group dispatches further; a group that also runs itself (`vigil rpc` and
		 * `vigil rpc top`) does so only when the next word names a subcommand or help */
		if (!c->run)
			return dispatch(sub, c, c->subs, argc - 1, argv + 1);
		if (argc > 2 && (strcmp(argv[2], "help") == 0 || match(sub, c->subs, argv[2], true)))
			return dispatch(sub, c, c->subs, argc - 1, argv + 1);
	}
	return run_leaf(sub, c, argc - 1, argv + 1);
}

int vcmd_dispatch(const char *prog, const struct vcmd *table, int argc, char **argv)
{
	return dispatch(prog, NULL, table, argc, argv);
}

static int write_page(const char *dir, const char *prog, const struct vcmd *c,
		      const struct vcmd *table)
{
	char path[512], name[256];
	FILE *f;

	snprintf(name, sizeof(name), "%s", prog);
	for (char *p = name; *p; p++)
		if (*p == ' ')
			*p = '-';
	snprintf(path, sizeof(path), "%s/%s.1", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, ".TH %s 1 \"\" \"vigil %s\" \"Vigil manual\"\n", name, VIGIL_VERSION);
	fprintf(f, ".SH NAME\n%s \\- %s\n", name,
		c && c->summary ? c->summary : "eBPF observability and protection for blockchain nodes");
	fprintf(f, ".SH SYNOPSIS\n\\fB%s\\fR %s\n", prog,
		c && c->run ? (c->usage ? c->usage : "[OPTIONS]") : "COMMAND [OPTIONS]");
	if (c && c->description)
		fprintf(f, ".SH DESCRIPTION\n%s\n", c->description);
	if (table) {
		fputs(".SH COMMANDS\n", f);
		for (const struct vcmd *s = table; s->name; s++) {
			if (s->name[0] == '_')
				continue;
			fprintf(f, ".TP\n\\fB%s\\fR\n%s (see \\fB%s-%s\\fR(1))\n", s->name,
				s->summary ? s->summary : "", name, s->name);
		}
	}
	if (c && c->run)
		vopt_print_man_options(f, c->sets);
	fputs(".SH SEE ALSO\n\\fBvigil\\fR(1)\n", f);
	if (fclose(f))
		return -errno;
	return 0;
}

static int write_tree(const char *dir, const char *prog, const struct vcmd *table)
{
	char sub[256];
	int err;

	for (const struct vcmd *c = table; c->name; c++) {
		if (c->name[0] == '_')
			continue;
		snprintf(sub, sizeof(sub), "%s %s", prog, c->name);
		err = write_page(dir, sub, c, c->subs);
		if (!err && c->subs)
			err = write_tree(dir, sub, c->subs);
		if (err)
			return err;
	}
	return 0;
}

int vcmd_write_man(const char *dir, const struct vcmd *table)
{
	int err = write_page(dir, "vigil", NULL, table);

	return err ? err : write_tree(dir, "vigil", table);
}
