/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Logging. Libraries never print: they call vlog(), which hands the formatted line to one sink
 * the program chose (libbpf_set_print is the model). The default sink writes text or JSON lines
 * to stderr. libbpf's own messages are routed through the same sink by vlog_route_libbpf().
 */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum vlog_level { VLOG_ERROR, VLOG_WARN, VLOG_INFO, VLOG_DEBUG };
enum vlog_format { VLOG_TEXT, VLOG_JSON };

typedef void (*vlog_sink_fn)(enum vlog_level level, const char *comp, const char *msg, void *ctx);

/* Level and format of the default sink (stderr); messages above @level are dropped early. */
void vlog_setup(enum vlog_level level, enum vlog_format format);
enum vlog_level vlog_level(void);
/* Parses "error|warn|info|debug"; returns 0 or -EINVAL. */
int vlog_parse_level(const char *s, enum vlog_level *out);
int vlog_parse_format(const char *s, enum vlog_format *out);
/* Replaces the sink (NULL restores the default). */
void vlog_set_sink(vlog_sink_fn fn, void *ctx);
/* libbpf_set_print() into vlog: libbpf warnings at WARN, info and debug at DEBUG. */
void vlog_route_libbpf(void);

void vlog(enum vlog_level level, const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vlogv(enum vlog_level level, const char *comp, const char *fmt, va_list ap);

#define log_error(comp, ...) vlog(VLOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...)  vlog(VLOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...)  vlog(VLOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...)                                                                      \
	do {                                                                                      \
		if (vlog_level() >= VLOG_DEBUG)                                                   \
			vlog(VLOG_DEBUG, comp, __VA_ARGS__);                                      \
	} while (0)

#endif
