// SPDX-License-Identifier: GPL-2.0-only
/* Logging: one sink, text or JSON lines on stderr by default; see include/vigil/log.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "vigil/buf.h"
#include "vigil/log.h"
#include "vigil/util.h"

static enum vlog_level cur_level = VLOG_INFO;
static enum vlog_format cur_format = VLOG_TEXT;
static vlog_sink_fn sink_fn;
static void *sink_ctx;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void vlog_setup(enum vlog_level level, enum vlog_format format)
{
	cur_level = level;
	cur_format = format;
}

enum vlog_level vlog_level(void)
{
	return cur_level;
}

int vlog_parse_level(const char *s, enum vlog_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum vlog_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = VLOG_WARN;
		return 0;
	}
	return -EINVAL;
}

int vlog_parse_format(const char *s, enum vlog_format *out)
{
	if (strcasecmp(s, "text") == 0)
		*out = VLOG_TEXT;
	else if (strcasecmp(s, "json") == 0)
		*out = VLOG_JSON;
	else
		return -EINVAL;
	return 0;
}

void vlog_set_sink(vlog_sink_fn fn, void *ctx)
{
	sink_fn = fn;
	sink_ctx = ctx;
}

/* The default sink: one line per message on stderr, written with a single fputs so lines from
 * several threads do not interleave. */
static void default_sink(enum vlog_level level, const char *comp, const char *msg)
{
	struct vbuf b = VBUF_INIT;
	char when[VTIME_BUFLEN];

	vtime_utc_now(when, sizeof(when));
	if (cur_format == VLOG_JSON) {
		struct vjw w;

		vjw_init(&w, &b);
		vjw_obj(&w);
		vjw_kstr(&w, "ts", when);
		vjw_kstr(&w, "level", level_names[level]);
		vjw_kstr(&w, "comp", comp ? comp : "vigil");
		vjw_kstr(&w, "msg", msg);
		vjw_end(&w);
		vbuf_putc(&b, '\n');
	} else {
		vbuf_printf(&b, "%s %-5s %s: %s\n", when, level_names[level], comp ? comp : "vigil",
			    msg);
	}
	if (b.len)
		fputs(b.data, stderr);
	else /* out of memory: still say something */
		fprintf(stderr, "%s\n", msg);
	vbuf_free(&b);
}

void vlogv(enum vlog_level level, const char *comp, const char *fmt, va_list ap)
{
	char msg[2048];
	size_t n;

	if (level > cur_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = 0;
	if (sink_fn)
		sink_fn(level, comp, msg, sink_ctx);
	else
		default_sink(level, comp, msg);
}

void vlog(enum vlog_level level, const char *comp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlogv(level, comp, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	vlogv(level == LIBBPF_WARN ? VLOG_WARN : VLOG_DEBUG, "libbpf", fmt, ap);
	return 0;
}

void vlog_route_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
