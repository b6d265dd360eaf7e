// SPDX-License-Identifier: GPL-2.0-only
/* Logging: levels filter, JSON lines parse, the sink replaces stderr, libbpf is routed. */
#include <bpf/libbpf.h>
#include <jansson.h>
#include "test.h"
#include "vigil/log.h"

struct seen {
	int n;
	enum vlog_level level;
	char comp[32];
	char msg[256];
};

static void sink(enum vlog_level level, const char *comp, const char *msg, void *ctx)
{
	struct seen *s = ctx;

	s->n++;
	s->level = level;
	snprintf(s->comp, sizeof(s->comp), "%s", comp);
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
}

static void test_levels_filter(void)
{
	struct seen s = { 0 };

	vlog_set_sink(sink, &s);
	vlog_setup(VLOG_WARN, VLOG_TEXT);
	log_info("t", "dropped");
	log_debug("t", "dropped");
	log_warn("t", "kept %d\n", 1);
	ASSERT_EQ(s.n, 1, "only warn passes");
	ASSERT_STREQ(s.msg, "kept 1", "trailing newline trimmed");
	vlog_set_sink(NULL, NULL);
}

static void test_libbpf_messages_routed(void)
{
	struct seen s = { 0 };
	struct bpf_object *obj;

	vlog_set_sink(sink, &s);
	vlog_setup(VLOG_DEBUG, VLOG_TEXT);
	vlog_route_libbpf();
	/* opening a file that is not an ELF object makes libbpf warn through its print callback */
	obj = bpf_object__open("/proc/self/status");
	ASSERT_TRUE(libbpf_get_error(obj) != 0 || obj == NULL, "open fails");
	ASSERT_GE(s.n, 1, "libbpf message arrived");
	ASSERT_STREQ(s.comp, "libbpf", "component");
	vlog_set_sink(NULL, NULL);
}

static void test_json_lines_parse(void)
{
	char path[] = "/tmp/vigil-unit-log-XXXXXX", line[1024];
	int fd = mkstemp(path), saved = dup(2);
	json_error_t jerr;
	json_t *doc;
	FILE *f;

	dup2(fd, 2);
	vlog_setup(VLOG_INFO, VLOG_JSON);
	log_error("bus", "cannot connect to \"nats://x\"\n\tretrying");
	fflush(stderr);
	dup2(saved, 2);
	f = fopen(path, "r");
	if (!ASSERT_NOT_NULL(fgets(line, sizeof(line), f), "a line"))
		return;
	doc = json_loads(line, 0, &jerr);
	if (!ASSERT_NOT_NULL(doc, "valid JSON"))
		return;
	ASSERT_STREQ(json_string_value(json_object_get(doc, "level")), "error", "level");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "comp")), "bus", "comp");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "msg")),
		     "cannot connect to \"nats://x\"\n\tretrying", "msg");
	ASSERT_NOT_NULL(json_object_get(doc, "ts"), "ts");
	json_decref(doc);
	fclose(f);
	unlink(path);
}

static void test_parse_level_and_format(void)
{
	enum vlog_level l;
	enum vlog_format f;

	ASSERT_OK(vlog_parse_level("DEBUG", &l), "debug");
	ASSERT_EQ(l, VLOG_DEBUG, "debug");
	ASSERT_ERR(vlog_parse_level("loud", &l), "loud");
	ASSERT_OK(vlog_parse_format("json", &f), "json");
	ASSERT_ERR(vlog_parse_format("xml", &f), "xml");
}

TESTS(T(test_levels_filter), T(test_libbpf_messages_routed), T(test_json_lines_parse),
      T(test_parse_level_and_format))
