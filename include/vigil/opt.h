/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Options are declared once, in a table, and that table drives everything a user sees: the
 * command-line flag (--name, -x), the environment variable (VIGIL_NAME, '-' -> '_', upper case),
 * the configuration-file key (name, in the file given by --config / VIGIL_CONFIG), the default,
 * validation, --help and the man page (redis drives its configuration from one table the same way).
 *
 * Precedence: flags > environment > file > defaults. Every error names the option and where the
 * bad value came from ("--port", "VIGIL_PORT", "vigil.conf:12") and says what is expected.
 *
 * A command gathers several tables (its own, the bus's, the metrics server's) in a vopt_set
 * array; each table writes into its own struct through offsetof():
 *
 *	struct rpc_cfg { long long sample; char *ports; bool capture_params; };
 *	static struct rpc_cfg rpc_cfg;
 *	static const struct vopt rpc_opts[] = {
 *		VOPT_STRING("ports", 0, struct rpc_cfg, ports, "8545,8546", "PORTS", "server ports"),
 *		VOPT_BOOL("capture-params", 0, struct rpc_cfg, capture_params, "export parameters"),
 *		VOPT_END
 *	};
 */
#ifndef VIGIL_OPT_H
#define VIGIL_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum vopt_type {
	VOPT_T_BOOL,	 /* bool; flag without value sets true; --no-NAME sets false */
	VOPT_T_INT,	 /* long long, bounded by [min, max] */
	VOPT_T_DOUBLE,	 /* double, bounded by [dmin, dmax] */
	VOPT_T_STRING,	 /* char * (owned by the option parser until vopt_free) */
	VOPT_T_ENUM,	 /* char *, one of the '|'-separated choices */
	VOPT_T_DURATION, /* uint64_t nanoseconds: "250ms", "2s", "1m", "1h", bare number = ms */
	VOPT_T_SIZE,	 /* uint64_t bytes: "4096", "4k", "4KiB", "16MiB", "1G" */
};

#define VOPT_REQUIRED 0x1 /* must be given somewhere */
#define VOPT_HIDDEN   0x2 /* not in --help or the man page */
#define VOPT_LIST     0x4 /* STRING: a comma list; repeated on the command line, values join */

struct vopt {
	const char *name; /* NULL ends a table */
	char short_name;  /* 0: none */
	enum vopt_type type;
	size_t offset;
	const char *def;     /* default as text; NULL: none (STRING stays NULL, numbers 0) */
	const char *metavar; /* "ADDR", "N", ... */
	const char *help;
	long long min, max;  /* INT, DURATION (ns), SIZE (bytes); min == max == 0: unbounded */
	double dmin, dmax;   /* DOUBLE; dmin == dmax == 0: unbounded */
	const char *choices; /* ENUM: "text|json" */
	unsigned flags;
};

#define VOPT_END { 0 }
#define VOPT_BOOL(n, s, T, f, h) \
	{ .name = n, .short_name = s, .type = VOPT_T_BOOL, .offset = offsetof(T, f), .def = "false", .help = h }
#define VOPT_INT(n, s, T, f, d, mv, lo, hi, h) \
	{ .name = n, .short_name = s, .type = VOPT_T_INT, .offset = offsetof(T, f), .def = d, .metavar = mv, .min = lo, .max = hi, .help = h }
#define VOPT_DOUBLE(n, s, T, f, d, mv, lo, hi, h) \
	{ .name = n, .short_name = s, .type = VOPT_T_DOUBLE, .offset = offsetof(T, f), .def = d, .metavar = mv, .dmin = lo, .dmax = hi, .help = h }
#define VOPT_STRING(n, s, T, f, d, mv, h) \
	{ .name = n, .short_name = s, .type = VOPT_T_STRING, .offset = offsetof(T, f), .def = d, .metavar = mv, .help = h }
#define VOPT_ENUM(n, s, T, f, d, ch, h) \
	{ .name = n, .short_name = s, .type = VOPT_T_ENUM, .offset = offsetof(T, f), .def = d, .choices = ch, .metavar = ch, .help = h }
#define VOPT_DURATION(n, s, T, f, d, lo, hi, h) \
	{ .name = n, .short_name = s, .type = VOPT_T_DURATION, .offset = offsetof(T, f), .def = d, .metavar = "DURATION", .min = lo, .max = hi, .help = h }
#define VOPT_SIZE(n, s, T, f, d, lo, hi, h) \
	{ .name = n, .short_name = s, .type = VOPT_T_SIZE, .offset = offsetof(T, f), .def = d, .metavar = "SIZE", .min = lo, .max = hi, .help = h }

/* One table and the struct it fills. An array of sets ends with { NULL, NULL }. */
struct vopt_set {
	const struct vopt *opts;
	void *cfg;
};

/* Options every command has; filled by vopt_parse(). */
struct vopt_common {
	bool help;
	bool json;
	char *config;
	char *log_level;
	char *log_format;
};
extern struct vopt_common vopt_common;
extern const struct vopt vopt_common_opts[];

/*
 * Fills every set from defaults, the config file (top-level keys and keys in [section]; other
 * sections are skipped), VIGIL_* and argv, in increasing precedence. Positional arguments are
 * moved to the front of argv in order. Also sets up logging from --log-level/--log-format.
 * @prog names the command in messages ("vigil rpc").
 *
 * Returns the number of positional arguments, or -1 after printing one clear line on stderr.
 * With --help, vopt_common.help is true and nothing is validated for VOPT_REQUIRED.
 */
int vopt_parse(const char *prog, const char *section, const struct vopt_set *sets, int argc,
	       char **argv);

/* Parsers shared with other code (rules files, the API): 0 or -EINVAL. */
int vopt_parse_duration(const char *s, uint64_t *ns);
int vopt_parse_size(const char *s, uint64_t *bytes);
int vopt_parse_bool(const char *s, bool *out);

/* --help text for a command: usage line, summary, then every option of every set and the common
 * ones, each with its flag, env var, default and help. */
void vopt_print_help(FILE *f, const char *prog, const char *usage, const char *summary,
		     const struct vopt_set *sets);
/* The same as a man page section (roff), used by `vigil __man`. */
void vopt_print_man_options(FILE *f, const struct vopt_set *sets);
/* The environment variable for an option: "VIGIL_" + upper-case name; buf >= 64 bytes. */
const char *vopt_env_name(const struct vopt *o, char *buf, size_t n);
/* Frees strings the parser allocated into the sets' structs. */
void vopt_free(const struct vopt_set *sets);

#endif
