// SPDX-License-Identifier: GPL-2.0-only
/*
 * Option tables -> flags, VIGIL_* environment, config file, defaults, --help and man pages.
 * See include/vigil/opt.h for the contract. Every error goes to stderr as one line naming the
 * option, the bad value, where it came from and what is expected; the caller exits non-zero.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/log.h"
#include "vigil/opt.h"

struct vopt_common vopt_common;

const struct vopt vopt_common_opts[] = {
	VOPT_BOOL("help", 'h', struct vopt_common, help, "show this help and exit"),
	VOPT_BOOL("json", 'j', struct vopt_common, json, "print JSON (JSON Lines for streams)"),
	VOPT_STRING("config", 'c', struct vopt_common, config, NULL, "FILE",
		    "read options from FILE (key = value lines, [command] sections)"),
	VOPT_ENUM("log-level", 0, struct vopt_common, log_level, "info", "error|warn|info|debug",
		  "log verbosity"),
	VOPT_ENUM("log-format", 0, struct vopt_common, log_format, "text", "text|json",
		  "log line format on stderr"),
	VOPT_END
};

/* Where a value came from, for error messages. */
struct origin {
	const char *what; /* "--port", "VIGIL_PORT", "vigil.conf:12" */
	const char *prog;
};

static void err_line(const struct origin *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void err_line(const struct origin *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", o->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *vopt_env_name(const struct vopt *o, char *buf, size_t n)
{
	size_t i = 0;

	i = (size_t)snprintf(buf, n, "VIGIL_");
	for (const char *p = o->name; *p && i + 1 < n; p++)
		buf[i++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	buf[i < n ? i : n - 1] = 0;
	return buf;
}

int vopt_parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "true", "yes", "on" }, *const f[] = { "0", "false",
										      "no", "off" };
	for (unsigned i = 0; i < 4; i++) {
		if (strcasecmp(s, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Parses a non-negative decimal number with an optional fraction; the rest goes to *end. */
static int parse_unsigned_real(const char *s, long double *v, const char **end)
{
	char *e;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*v = strtold(s, &e);
	if (errno || e == s)
		return -EINVAL;
	*end = e;
	return 0;
}

int vopt_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		long double mul;
	} units[] = { { "ns", 1 },	   { "us", 1e3 },	{ "µs", 1e3 }, { "ms", 1e6 },
		      { "s", 1e9 },	   { "m", 60e9 },	{ "h", 3600e9 }, { "d", 86400e9 },
		      { "", 1e6 } /* a bare number is milliseconds */ };
	const char *end;
	long double v, total;

	if (!s || parse_unsigned_real(s, &v, &end))
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			total = v * units[i].mul;
			if (total > (long double)UINT64_MAX)
				return -ERANGE;
			*ns = (uint64_t)total;
			return 0;
		}
	}
	return -EINVAL;
}

int vopt_parse_size(const char *s, uint64_t *bytes)
{
	static const struct {
		const char *unit;
		long double mul;
	} units[] = { { "", 1 },	  { "b", 1 },	      { "k", 1024.0L },	      { "kb", 1024.0L },
		      { "kib", 1024.0L }, { "m", 1048576.0L }, { "mb", 1048576.0L }, { "mib", 1048576.0L },
		      { "g", 1073741824.0L }, { "gb", 1073741824.0L }, { "gib", 1073741824.0L },
		      { "t", 1099511627776.0L }, { "tb", 1099511627776.0L }, { "tib", 1099511627776.0L } };
	const char *end;
	long double v, total;

	if (!s || parse_unsigned_real(s, &v, &end))
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].unit) == 0) {
			total = v * units[i].mul;
			if (total > (long double)UINT64_MAX)
				return -ERANGE;
			if (total != floorl(total))
				return -EINVAL;
			*bytes = (uint64_t)total;
			return 0;
		}
	}
	return -EINVAL;
}

static bool bounded(const struct vopt *o)
{
	return o->min != 0 || o->max != 0;
}

static const char *type_expect(const struct vopt *o, char *buf, size_t n)
{
	switch (o->type) {
	case VOPT_T_BOOL:
		return "expected true or false";
	case VOPT_T_INT:
		if (bounded(o))
			snprintf(buf, n, "expected a whole number from %lld to %lld", o->min, o->max);
		else
			snprintf(buf, n, "expected a whole number");
		return buf;
	case VOPT_T_DOUBLE:
		if (o->dmin != 0 || o->dmax != 0)
			snprintf(buf, n, "expected a number from %g to %g", o->dmin, o->dmax);
		else
			snprintf(buf, n, "expected a number");
		return buf;
	case VOPT_T_ENUM:
		snprintf(buf, n, "expected one of %s", o->choices);
		return buf;
	case VOPT_T_DURATION:
		if (bounded(o))
			snprintf(buf, n,
				 "expected a duration such as 500ms, 2s, 1m from %.3gms to %.3gms",
				 (double)o->min / 1e6, (double)o->max / 1e6);
		else
			snprintf(buf, n, "expected a duration such as 500ms, 2s or 1m");
		return buf;
	case VOPT_T_SIZE:
		if (bounded(o))
			snprintf(buf, n, "expected a size such as 4096, 4KiB or 16MiB from %lld to %lld bytes",
				 o->min, o->max);
		else
			snprintf(buf, n, "expected a size such as 4096, 4KiB or 16MiB");
		return buf;
	case VOPT_T_STRING:
		break;
	}
	return "expected a value";
}

static bool enum_ok(const struct vopt *o, const char *v)
{
	size_t len = strlen(v);
	const char *p = o->choices;

	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == len && strncmp(p, v, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

/* Stores @val (text) into the option's field; prints the error and returns -EINVAL when bad. */
static int set_value(const struct vopt *o, void *cfg, const char *val, const struct origin *from)
{
	char *field = (char *)cfg + o->offset, expect[160];
	long long ll;
	double d;
	uint64_t u;
	char *end;
	int err;

	switch (o->type) {
	case VOPT_T_BOOL:
		if (vopt_parse_bool(val, (bool *)field))
			goto bad;
		return 0;
	case VOPT_T_INT:
		errno = 0;
		ll = strtoll(val, &end, 10);
		if (!*val || *end || errno)
			goto bad;
		if (bounded(o) && (ll < o->min || ll > o->max))
			goto bad;
		*(long long *)field = ll;
		return 0;
	case VOPT_T_DOUBLE:
		errno = 0;
		d = strtod(val, &end);
		if (!*val || *end || errno || !isfinite(d))
			goto bad;
		if ((o->dmin != 0 || o->dmax != 0) && (d < o->dmin || d > o->dmax))
			goto bad;
		*(double *)field = d;
		return 0;
	case VOPT_T_ENUM:
		if (!enum_ok(o, val))
			goto bad;
		/* fallthrough */
	case VOPT_T_STRING: {
		char *copy = strdup(val);
		if (!copy) {
			err_line(from, "out of memory");
			return -ENOMEM;
		}
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case VOPT_T_DURATION:
		err = vopt_parse_duration(val, &u);
		if (err || (bounded(o) && (u < (uint64_t)o->min || u > (uint64_t)o->max)))
			goto bad;
		*(uint64_t *)field = u;
		return 0;
	case VOPT_T_SIZE:
		err = vopt_parse_size(val, &u);
		if (err || (bounded(o) && (u < (uint64_t)o->min || u > (uint64_t)o->max)))
			goto bad;
		*(uint64_t *)field = u;
		return 0;
	}
bad:
	err_line(from, "invalid value '%s' for --%s (from %s): %s", val, o->name, from->what,
		 type_expect(o, expect, sizeof(expect)));
	return -EINVAL;
}

/* All sets plus the common one, flattened for lookups. */
struct optref {
	const struct vopt *o;
	void *cfg;
	bool from_argv;		/* already given on this command line (VOPT_LIST appends) */
};

struct table {
	struct optref *refs;
	int n;
};

static int build_table(const struct vopt_set *sets, struct table *t)
{
	int n = 0, i = 0;

	for (const struct vopt *o = vopt_common_opts; o->name; o++)
		n++;
	for (const struct vopt_set *s = sets; s && s->opts; s++)
		for (const struct vopt *o = s->opts; o->name; o++)
			n++;
	t->refs = calloc((size_t)n, sizeof(*t->refs));
	if (!t->refs)
		return -ENOMEM;
	for (const struct vopt_set *s = sets; s && s->opts; s++)
		for (const struct vopt *o = s->opts; o->name; o++)
			t->refs[i++] = (struct optref){ .o = o, .cfg = s->cfg };
	for (const struct vopt *o = vopt_common_opts; o->name; o++)
		t->refs[i++] = (struct optref){ .o = o, .cfg = &vopt_common };
	t->n = n;
	return 0;
}

static struct optref *find_long(struct table *t, const char *name, size_t len)
{
	for (int i = 0; i < t->n; i++)
		if (strlen(t->refs[i].o->name) == len && strncmp(t->refs[i].o->name, name, len) == 0)
			return &t->refs[i];
	return NULL;
}

static struct optref *find_short(struct table *t, char c)
{
	for (int i = 0; i < t->n; i++)
		if (t->refs[i].o->short_name == c)
			return &t->refs[i];
	return NULL;
}

/* Edit distance, for "did you mean". */
static int distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int c = prev[j - 1] + (a[i - 1] != b[j - 1]);
			c = c < prev[j] + 1 ? c : prev[j] + 1;
			c = c < cur[j - 1] + 1 ? c : cur[j - 1] + 1;
			cur[j] = c;
		}
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb];
}

static const char *suggest(struct table *t, const char *name)
{
	const char *best = NULL;
	int bd = 3;

	for (int i = 0; i < t->n; i++) {
		int d = distance(name, t->refs[i].o->name);
		if (d < bd) {
			bd = d;
			best = t->refs[i].o->name;
		}
	}
	return best;
}

static void apply_defaults(struct table *t)
{
	for (int i = 0; i < t->n; i++) {
		const struct vopt *o = t->refs[i].o;
		char *field = (char *)t->refs[i].cfg + o->offset;
		struct origin from = { "the default", "vigil" };

		if (o->type == VOPT_T_STRING || o->type == VOPT_T_ENUM) {
			free(*(char **)field);
			*(char **)field = NULL;
		}
		if (o->def) {
			set_value(o, t->refs[i].cfg, o->def, &from);
		} else {
			switch (o->type) {
			case VOPT_T_BOOL: *(bool *)field = false; break;
			case VOPT_T_INT: *(long long *)field = 0; break;
			case VOPT_T_DOUBLE: *(double *)field = 0; break;
			case VOPT_T_DURATION:
			case VOPT_T_SIZE: *(uint64_t *)field = 0; break;
			default: break;
			}
		}
	}
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* True when [sec] applies to a command whose section is @section ("kaspa.sensor" takes [kaspa]
 * and [kaspa.sensor]). */
static bool section_applies(const char *sec, const char *section)
{
	size_t n = strlen(sec);

	if (!section)
		return false;
	return strncmp(section, sec, n) == 0 && (section[n] == 0 || section[n] == '.');
}

static int apply_file(struct table *t, const char *prog, const char *section, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096], where[512];
	bool active = true;
	int lineno = 0, err = 0;

	if (!f) {
		fprintf(stderr, "%s: cannot read config file '%s': %s\n", prog, path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *val;
		struct optref *r;
		struct origin from = { where, prog };

		lineno++;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "%s: %s: line longer than %zu bytes\n", prog, where,
				sizeof(line) - 2);
			err = -EINVAL;
			break;
		}
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close || trim(close + 1)[0]) {
				fprintf(stderr, "%s: %s: malformed section header '%s' (expected [command])\n",
					prog, where, s);
				err = -EINVAL;
				break;
			}
			*close = 0;
			active = section_applies(trim(s + 1), section);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			fprintf(stderr, "%s: %s: expected 'key = value', got '%s'\n", prog, where, s);
			err = -EINVAL;
			break;
		}
		*eq = 0;
		key = trim(s);
		val = trim(eq + 1);
		if (!active)
			continue;
		if (strlen(val) >= 2 && val[0] == '"' && val[strlen(val) - 1] == '"') {
			val[strlen(val) - 1] = 0;
			val++;
		}
		r = find_long(t, key, strlen(key));
		if (!r || strcmp(key, "config") == 0 || strcmp(key, "help") == 0) {
			const char *sug = r ? NULL : suggest(t, key);
			fprintf(stderr, "%s: %s: unknown key '%s'%s%s%s (put keys of other commands in their [command] section)\n",
				prog, where, key, sug ? " (did you mean '" : "", sug ? sug : "",
				sug ? "'?)" : "");
			err = -EINVAL;
			break;
		}
		err = set_value(r->o, r->cfg, val, &from);
		if (err)
			break;
	}
	if (!err && ferror(f)) {
		fprintf(stderr, "%s: cannot read config file '%s': %s\n", prog, path, strerror(errno));
		err = -EIO;
	}
	fclose(f);
	return err;
}

static int apply_env(struct table *t, const char *prog)
{
	char env[96];

	for (int i = 0; i < t->n; i++) {
		const struct vopt *o = t->refs[i].o;
		const char *v;
		struct origin from = { env, prog };

		if (strcmp(o->name, "help") == 0 || strcmp(o->name, "config") == 0)
			continue;
		vopt_env_name(o, env, sizeof(env));
		v = getenv(env);
		if (v && set_value(o, t->refs[i].cfg, v, &from))
			return -EINVAL;
	}
	return 0;
}

/* Finds --config/-c in argv (or VIGIL_CONFIG) before anything else is applied. */
static const char *find_config(int argc, char **argv)
{
	const char *path = getenv("VIGIL_CONFIG");

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	return path;
}

static int apply_argv(struct table *t, const char *prog, int argc, char **argv, int *npos)
{
	char **pos = calloc((size_t)argc + 1, sizeof(char *));
	char what[160];
	int n = 0, err = 0;
	bool only_pos = false;

	if (!pos)
		return -ENOMEM;
	for (int i = 1; i < argc && !err; i++) {
		char *a = argv[i];
		struct origin from = { what, prog };
		struct optref *r;
		const char *val = NULL;

		if (only_pos || a[0] != '-' || a[1] == 0) {
			pos[n++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			bool negated = false;

			r = find_long(t, name, len);
			if (!r && len > 3 && strncmp(name, "no-", 3) == 0) {
				r = find_long(t, name + 3, len - 3);
				if (r && r->o->type == VOPT_T_BOOL && !eq)
					negated = true;
				else
					r = NULL;
			}
			if (!r) {
				char tmp[128];
				snprintf(tmp, sizeof(tmp), "%.*s", (int)len, name);
				const char *sug = suggest(t, tmp);
				fprintf(stderr, "%s: unknown option '--%s'%s%s%s (see '%s --help')\n", prog,
					tmp, sug ? " (did you mean --" : "", sug ? sug : "", sug ? "?)" : "",
					prog);
				err = -EINVAL;
				break;
			}
			snprintf(what, sizeof(what), "--%s", r->o->name);
			if (negated)
				val = "false";
			else if (eq)
				val = eq + 1;
			else if (r->o->type == VOPT_T_BOOL)
				val = "true";
			else if (i + 1 < argc)
				val = argv[++i];
			else {
				fprintf(stderr, "%s: option --%s needs a value (%s)\n", prog, r->o->name,
					r->o->metavar ? r->o->metavar : "VALUE");
				err = -EINVAL;
				break;
			}
		} else {
			/* short options; booleans may be grouped (-jh) */
			for (const char *c = a + 1; *c; c++) {
				r = find_short(t, *c);
				if (!r) {
					fprintf(stderr, "%s: unknown option '-%c' (see '%s --help')\n", prog,
						*c, prog);
					err = -EINVAL;
					break;
				}
				snprintf(what, sizeof(what), "-%c", *c);
				if (r->o->type == VOPT_T_BOOL) {
					err = set_value(r->o, r->cfg, "true", &from);
					if (err)
						break;
					continue;
				}
				if (c[1])
					val = c + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else {
					fprintf(stderr, "%s: option -%c needs a value (%s)\n", prog, *c,
						r->o->metavar ? r->o->metavar : "VALUE");
					err = -EINVAL;
				}
				break;
			}
			if (err || !val)
				continue;
		}
		if ((r->o->flags & VOPT_LIST) && r->from_argv && r->o->type == VOPT_T_STRING) {
			/* a repeated list option: join the values with commas */
			char **field = (char **)((char *)r->cfg + r->o->offset);
			size_t len = strlen(*field) + strlen(val) + 2;
			char *joined = malloc(len);

			if (!joined) {
				err = -ENOMEM;
				break;
			}
			snprintf(joined, len, "%s,%s", *field, val);
			val = joined;
			err = set_value(r->o, r->cfg, val, &from);
			free(joined);
			continue;
		}
		err = set_value(r->o, r->cfg, val, &from);
		r->from_argv = true;
	}
	if (!err) {
		for (int i = 0; i < n; i++)
			argv[i + 1] = pos[i];
		argv[n + 1] = NULL;
		*npos = n;
	}
	free(pos);
	return err;
}

static int check_required(struct table *t, const char *prog)
{
	char env[96];

	for (int i = 0; i < t->n; i++) {
		const struct vopt *o = t->refs[i].o;
		char *field = (char *)t->refs[i].cfg + o->offset;

		if (!(o->flags & VOPT_REQUIRED))
			continue;
		if ((o->type == VOPT_T_STRING || o->type == VOPT_T_ENUM) && !*(char **)field) {
			fprintf(stderr, "%s: --%s is required (or set %s, or '%s' in the config file)\n",
				prog, o->name, vopt_env_name(o, env, sizeof(env)), o->name);
			return -EINVAL;
		}
	}
	return 0;
}

int vopt_parse(const char *prog, const char *section, const struct vopt_set *sets, int argc,
	       char **argv)
{
	struct table t;
	const char *cfgfile;
	enum vlog_level lvl;
	enum vlog_format fmt;
	int npos = 0, err;

	if (build_table(sets, &t)) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return -1;
	}
	apply_defaults(&t);
	cfgfile = find_config(argc, argv);
	err = cfgfile ? apply_file(&t, prog, section, cfgfile) : 0;
	if (!err)
		err = apply_env(&t, prog);
	if (!err)
		err = apply_argv(&t, prog, argc, argv, &npos);
	if (!err && !vopt_common.help)
		err = check_required(&t, prog);
	free(t.refs);
	if (err)
		return -1;
	if (vopt_common.log_level && !vlog_parse_level(vopt_common.log_level, &lvl) &&
	    vopt_common.log_format && !vlog_parse_format(vopt_common.log_format, &fmt))
		vlog_setup(lvl, fmt);
	return npos;
}

void vopt_free(const struct vopt_set *sets)
{
	for (const struct vopt_set *s = sets; s && s->opts; s++) {
		for (const struct vopt *o = s->opts; o->name; o++) {
			if (o->type == VOPT_T_STRING || o->type == VOPT_T_ENUM) {
				char **p = (char **)((char *)s->cfg + o->offset);
				free(*p);
				*p = NULL;
			}
		}
	}
}

static void print_opt_help(FILE *f, const struct vopt *o)
{
	char flag[96], env[96];
	int n;

	if (o->flags & VOPT_HIDDEN)
		return;
	if (o->type == VOPT_T_BOOL)
		n = snprintf(flag, sizeof(flag), "%c%c%c --%s", o->short_name ? '-' : ' ',
			     o->short_name ? o->short_name : ' ', o->short_name ? ',' : ' ', o->name);
	else
		n = snprintf(flag, sizeof(flag), "%c%c%c --%s %s", o->short_name ? '-' : ' ',
			     o->short_name ? o->short_name : ' ', o->short_name ? ',' : ' ', o->name,
			     o->metavar ? o->metavar : "VALUE");
	fprintf(f, "  %s", flag);
	if (n < 30)
		fprintf(f, "%*s", 30 - n, "");
	else
		fprintf(f, "\n  %30s", "");
	fprintf(f, "%s", o->help ? o->help : "");
	if (o->flags & VOPT_LIST)
		fprintf(f, " (repeatable)");
	if (o->def && o->type != VOPT_T_BOOL)
		fprintf(f, " [default: %s]", o->def);
	if (strcmp(o->name, "help") != 0)
		fprintf(f, " [env: %s]", vopt_env_name(o, env, sizeof(env)));
	fputc('\n', f);
}

void vopt_print_help(FILE *f, const char *prog, const char *usage, const char *summary,
		     const struct vopt_set *sets)
{
	fprintf(f, "Usage: %s %s\n", prog, usage ? usage : "[OPTIONS]");
	if (summary)
		fprintf(f, "\n%s\n", summary);
	if (sets && sets->opts) {
		fprintf(f, "\nOptions:\n");
		for (const struct vopt_set *s = sets; s && s->opts; s++)
			for (const struct vopt *o = s->opts; o->name; o++)
				print_opt_help(f, o);
	}
	fprintf(f, "\nCommon options:\n");
	for (const struct vopt *o = vopt_common_opts; o->name; o++)
		print_opt_help(f, o);
	fprintf(f, "\nPrecedence: flags > environment (VIGIL_*) > config file (--config) > defaults.\n");
}

/* Writes @s escaped for roff. */
static void roff(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

static void man_opt(FILE *f, const struct vopt *o)
{
	char env[96];

	if (o->flags & VOPT_HIDDEN)
		return;
	fputs(".TP\n", f);
	if (o->short_name)
		fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
	fputs("\\fB\\-\\-", f);
	roff(f, o->name);
	fputs("\\fR", f);
	if (o->type != VOPT_T_BOOL) {
		fputs(" \\fI", f);
		roff(f, o->metavar ? o->metavar : "VALUE");
		fputs("\\fR", f);
	}
	fputc('\n', f);
	roff(f, o->help);
	if (o->def && o->type != VOPT_T_BOOL) {
		fputs(" Default: ", f);
		roff(f, o->def);
		fputc('.', f);
	}
	if (strcmp(o->name, "help") != 0) {
		fputs(" Environment: \\fB", f);
		roff(f, vopt_env_name(o, env, sizeof(env)));
		fputs("\\fR; config key: \\fB", f);
		roff(f, o->name);
		fputs("\\fR.", f);
	}
	fputc('\n', f);
}

void vopt_print_man_options(FILE *f, const struct vopt_set *sets)
{
	fputs(".SH OPTIONS\n", f);
	for (const struct vopt_set *s = sets; s && s->opts; s++)
		for (const struct vopt *o = s->opts; o->name; o++)
			man_opt(f, o);
	fputs(".SH COMMON OPTIONS\n", f);
	for (const struct vopt *o = vopt_common_opts; o->name; o++)
		man_opt(f, o);
	fputs(".SH ENVIRONMENT AND CONFIGURATION\n"
	      "Every option can also be set through the environment variable named in its\n"
	      "description, or in the file given by \\fB\\-\\-config\\fR (or \\fBVIGIL_CONFIG\\fR) as\n"
	      "\\fIkey = value\\fR lines; keys for one command go under a \\fB[command]\\fR section\n"
	      "(for example \\fB[rpc]\\fR or \\fB[kaspa.sensor]\\fR). Flags override the environment, which\n"
	      "overrides the file, which overrides the defaults.\n",
	      f);
}
