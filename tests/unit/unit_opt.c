// SPDX-License-Identifier: GPL-2.0-only
/* Option tables: precedence flags > env > file > defaults, validation, errors naming the key. */
#include <fcntl.h>
#include "test.h"
#include "vigil/opt.h"

struct tcfg {
	long long port;
	char *name;
	bool verbose;
	uint64_t window;
	uint64_t buf;
	double rate;
	char *mode;
	char *req;
	char *list;
};

static struct tcfg cfg;
static const struct vopt topts[] = {
	VOPT_INT("port", 'p', struct tcfg, port, "8545", "PORT", 1, 65535, "port"),
	VOPT_STRING("name", 'n', struct tcfg, name, "dflt", "NAME", "name"),
	VOPT_BOOL("verbose", 'v', struct tcfg, verbose, "verbose"),
	VOPT_DURATION("window", 0, struct tcfg, window, "500ms", 1000000, 3600000000000LL, "window"),
	VOPT_SIZE("buf", 0, struct tcfg, buf, "4KiB", 64, 16384, "capture size"),
	VOPT_DOUBLE("rate", 0, struct tcfg, rate, "1", "R", 0, 1, "sampling"),
	VOPT_ENUM("mode", 0, struct tcfg, mode, "auto", "auto|lsm|monitor", "mode"),
	{ .name = "seed", .type = VOPT_T_STRING, .offset = offsetof(struct tcfg, list),
	  .def = "d1,d2", .metavar = "ADDR", .help = "seeds", .flags = VOPT_LIST },
	VOPT_END
};
static const struct vopt_set tsets[] = { { topts, &cfg }, { NULL, NULL } };

/* Runs vopt_parse with stderr captured into @err (may be NULL). */
static int parse(const char *section, char *err, size_t errlen, int argc, ...)
{
	char *argv[32];
	va_list ap;
	int saved = dup(2), fd, n;
	char path[] = "/tmp/vigil-unit-opt-XXXXXX";

	argv[0] = "vigil test";
	va_start(ap, argc);
	for (int i = 1; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	fd = mkstemp(path);
	dup2(fd, 2);
	n = vopt_parse("vigil test", section, tsets, argc, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (err) {
		ssize_t r = pread(fd, err, errlen - 1, 0);
		err[r > 0 ? r : 0] = 0;
	}
	close(fd);
	unlink(path);
	return n;
}

static char *write_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/vigil-unit-conf-XXXXXX");
	fd = mkstemp(path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return NULL;
	close(fd);
	return path;
}

static void test_defaults(void)
{
	unsetenv("VIGIL_PORT");
	if (!ASSERT_EQ(parse(NULL, NULL, 0, 1), 0, "no positionals"))
		return;
	ASSERT_EQ(cfg.port, 8545, "port");
	ASSERT_STREQ(cfg.name, "dflt", "name");
	ASSERT_FALSE(cfg.verbose, "verbose");
	ASSERT_EQ(cfg.window, 500000000ULL, "window ns");
	ASSERT_EQ(cfg.buf, 4096, "buf");
	ASSERT_STREQ(cfg.mode, "auto", "mode");
	vopt_free(tsets);
}

static void test_precedence_flag_env_file_default(void)
{
	char *conf = write_file("# comment\nport = 1111\nname = \"fromfile\"\nwindow=2s\n[other]\nport = 9\n[test]\nbuf = 8k\n");
	char errbuf[512];

	setenv("VIGIL_CONFIG", conf, 1);
	setenv("VIGIL_NAME", "fromenv", 1);
	setenv("VIGIL_PORT", "2222", 1);
	if (!ASSERT_EQ(parse("test", errbuf, sizeof(errbuf), 3, "--port", "3333"), 0, "parse"))
		goto out;
	ASSERT_EQ(cfg.port, 3333, "flag beats env and file");
	ASSERT_STREQ(cfg.name, "fromenv", "env beats file");
	ASSERT_EQ(cfg.window, 2000000000ULL, "file beats default");
	ASSERT_EQ(cfg.buf, 8192, "[test] section applies to section test");
	ASSERT_EQ(parse("test", errbuf, sizeof(errbuf), 1), 0, "parse");
	ASSERT_EQ(cfg.port, 2222, "env beats file");
	unsetenv("VIGIL_PORT");
	ASSERT_EQ(parse("test", errbuf, sizeof(errbuf), 1), 0, "parse");
	ASSERT_EQ(cfg.port, 1111, "file beats default; [other] skipped");
out:
	unsetenv("VIGIL_CONFIG");
	unsetenv("VIGIL_NAME");
	unlink(conf);
	vopt_free(tsets);
}

static void test_parent_section_applies(void)
{
	char *conf = write_file("[test]\nport = 7\n[test.sub]\nname = x\n[testing]\nport = 8\n");

	ASSERT_EQ(parse("test.sub", NULL, 0, 3, "--config", conf), 0, "parse");
	ASSERT_EQ(cfg.port, 7, "[test] applies to test.sub, [testing] does not");
	ASSERT_STREQ(cfg.name, "x", "[test.sub]");
	unlink(conf);
	vopt_free(tsets);
}

static void test_flag_forms_and_positionals(void)
{
	ASSERT_EQ(parse(NULL, NULL, 0, 9, "a", "--name=eq", "-p", "42", "b", "-v", "--", "-c"), 3,
		  "three positionals");
	ASSERT_STREQ(cfg.name, "eq", "--name=value");
	ASSERT_EQ(cfg.port, 42, "-p VALUE");
	ASSERT_TRUE(cfg.verbose, "-v");
	setenv("VIGIL_VERBOSE", "yes", 1);
	ASSERT_EQ(parse(NULL, NULL, 0, 3, "--no-verbose", "-p99"), 0, "parse");
	ASSERT_FALSE(cfg.verbose, "--no-verbose beats env");
	ASSERT_EQ(cfg.port, 99, "-pVALUE");
	unsetenv("VIGIL_VERBOSE");
	vopt_free(tsets);
}

static void test_errors_name_the_key_and_source(void)
{
	char err[512], *conf;

	ASSERT_EQ(parse(NULL, err, sizeof(err), 3, "--port", "70000"), -1, "out of range");
	ASSERT_STRCONTAINS(err, "invalid value '70000' for --port (from --port): expected a whole number from 1 to 65535", "range msg");
	setenv("VIGIL_RATE", "1.5", 1);
	ASSERT_EQ(parse(NULL, err, sizeof(err), 1), -1, "env out of range");
	ASSERT_STRCONTAINS(err, "(from VIGIL_RATE)", "names env var");
	unsetenv("VIGIL_RATE");
	ASSERT_EQ(parse(NULL, err, sizeof(err), 2, "--prot"), -1, "unknown option");
	ASSERT_STRCONTAINS(err, "unknown option '--prot' (did you mean --port?)", "suggestion");
	ASSERT_EQ(parse(NULL, err, sizeof(err), 2, "--port"), -1, "missing value");
	ASSERT_STRCONTAINS(err, "option --port needs a value", "missing value msg");
	ASSERT_EQ(parse(NULL, err, sizeof(err), 3, "--mode", "lsmx"), -1, "enum");
	ASSERT_STRCONTAINS(err, "expected one of auto|lsm|monitor", "enum msg");
	ASSERT_EQ(parse(NULL, err, sizeof(err), 3, "--window", "0ms"), -1, "zero window");
	ASSERT_EQ(parse(NULL, err, sizeof(err), 3, "--window", "-5s"), -1, "negative window");
	ASSERT_EQ(parse(NULL, err, sizeof(err), 3, "--window", "99999999999999999999h"), -1,
		  "overflowing window");
	ASSERT_EQ(parse(NULL, err, sizeof(err), 3, "--port", "12abc"), -1, "trailing junk");
	conf = write_file("port = 1\nbogus = 2\n");
	ASSERT_EQ(parse(NULL, err, sizeof(err), 3, "--config", conf), -1, "unknown key");
	ASSERT_STRCONTAINS(err, ":2: unknown key 'bogus'", "names file line and key");
	unlink(conf);
	conf = write_file("port 1\n");
	ASSERT_EQ(parse(NULL, err, sizeof(err), 3, "--config", conf), -1, "malformed line");
	ASSERT_STRCONTAINS(err, ":1: expected 'key = value'", "malformed msg");
	unlink(conf);
	conf = write_file("port = zero\n");
	ASSERT_EQ(parse(NULL, err, sizeof(err), 3, "--config", conf), -1, "bad value in file");
	ASSERT_STRCONTAINS(err, ":1): expected a whole number", "file value names line");
	unlink(conf);
	ASSERT_EQ(parse(NULL, err, sizeof(err), 3, "--config", "/nonexistent/vigil.conf"), -1,
		  "unreadable file");
	ASSERT_STRCONTAINS(err, "cannot read config file '/nonexistent/vigil.conf': No such file",
			   "unreadable msg");
	vopt_free(tsets);
}

static void test_duration_and_size_parsers(void)
{
	uint64_t v;

	ASSERT_OK(vopt_parse_duration("250ms", &v), "250ms");
	ASSERT_EQ(v, 250000000ULL, "250ms");
	ASSERT_OK(vopt_parse_duration("1.5s", &v), "1.5s");
	ASSERT_EQ(v, 1500000000ULL, "1.5s");
	ASSERT_OK(vopt_parse_duration("2m", &v), "2m");
	ASSERT_EQ(v, 120000000000ULL, "2m");
	ASSERT_OK(vopt_parse_duration("100", &v), "bare = ms");
	ASSERT_EQ(v, 100000000ULL, "bare");
	ASSERT_ERR(vopt_parse_duration("", &v), "empty");
	ASSERT_ERR(vopt_parse_duration("5 s", &v), "space");
	ASSERT_ERR(vopt_parse_duration("s", &v), "no number");
	ASSERT_OK(vopt_parse_size("16MiB", &v), "16MiB");
	ASSERT_EQ(v, 16777216ULL, "16MiB");
	ASSERT_OK(vopt_parse_size("4k", &v), "4k");
	ASSERT_EQ(v, 4096, "4k");
	ASSERT_ERR(vopt_parse_size("1.5", &v), "fractional bytes");
	ASSERT_ERR(vopt_parse_size("99999999999T", &v), "overflow");
	ASSERT_ERR(vopt_parse_size("4q", &v), "unit");
}

static void test_required(void)
{
	static char *val;
	struct rcfg { char *x; } r = { 0 };
	const struct vopt ro[] = {
		{ .name = "needed", .type = VOPT_T_STRING, .offset = offsetof(struct rcfg, x),
		  .metavar = "X", .help = "x", .flags = VOPT_REQUIRED },
		VOPT_END
	};
	const struct vopt_set rs[] = { { ro, &r }, { NULL, NULL } };
	char *argv[] = { "vigil t", NULL, NULL, NULL };
	int fd = open("/dev/null", O_WRONLY), saved = dup(2);

	(void)val;
	dup2(fd, 2);
	ASSERT_EQ(vopt_parse("vigil t", NULL, rs, 1, argv), -1, "missing required");
	argv[1] = "--needed";
	argv[2] = "yes";
	ASSERT_EQ(vopt_parse("vigil t", NULL, rs, 3, argv), 0, "given");
	dup2(saved, 2);
	ASSERT_STREQ(r.x, "yes", "value");
	vopt_free(rs);
	close(fd);
}

/* A VOPT_LIST string given several times joins the values; once, it replaces the env value. */
static void test_list_repeats_join(void)
{
	setenv("VIGIL_SEED", "e1", 1);
	if (!ASSERT_EQ(parse(NULL, NULL, 0, 8, "--seed", "a", "--seed=b,c", "--name", "x", "--seed",
			     "d"), 0, "parse"))
		goto out;
	ASSERT_STREQ(cfg.list, "a,b,c,d", "flags joined, env and default dropped");
	ASSERT_STREQ(cfg.name, "x", "other options unaffected");
	ASSERT_EQ(parse(NULL, NULL, 0, 3, "--seed", "z"), 0, "parse");
	ASSERT_STREQ(cfg.list, "z", "one flag replaces the env value");
	ASSERT_EQ(parse(NULL, NULL, 0, 1), 0, "parse");
	ASSERT_STREQ(cfg.list, "e1", "env alone");
	ASSERT_EQ(parse(NULL, NULL, 0, 5, "--name", "a", "--name", "b"), 0, "parse");
	ASSERT_STREQ(cfg.name, "b", "a plain string keeps the last value");
out:
	unsetenv("VIGIL_SEED");
	vopt_free(tsets);
}

TESTS(T(test_defaults), T(test_list_repeats_join), T(test_precedence_flag_env_file_default), T(test_parent_section_applies),
      T(test_flag_forms_and_positionals), T(test_errors_name_the_key_and_source),
      T(test_duration_and_size_parsers), T(test_required))
