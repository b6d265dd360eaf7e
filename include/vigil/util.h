/* SPDX-License-Identifier: GPL-2.0-only */
/* Small helpers shared by the core and the capabilities. */
#ifndef VIGIL_UTIL_H
#define VIGIL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/socket.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

/* ISO 8601 UTC with microseconds, "2026-11-21T05:08:24.123456Z", into buf (>= 32 bytes). */
#define VTIME_BUFLEN 40
const char *vtime_utc_us(char *buf, size_t n, const struct timespec *ts);
/* The same for now (CLOCK_REALTIME). */
const char *vtime_utc_now(char *buf, size_t n);
/* CLOCK_REALTIME in nanoseconds since the epoch. */
uint64_t vtime_real_ns(void);

/*
 * Parses "host:port", "[v6]:port", ":port" (all addresses) or "port" into a sockaddr suitable
 * for bind/connect. Returns 0 or -EINVAL (bad syntax, port out of 1..65535) / -EADDRNOTAVAIL
 * (host does not resolve; only numeric hosts and "localhost" are accepted, so no DNS wait).
 */
int vaddr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* Formats a message into @err (when @err and @n are non-zero) and returns @code: the one way
 * parsers and validators hand back "what failed, with what input" to their caller. */
int verrf(char *err, size_t n, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Creates @path and its missing parents with mode 0700 (mkdir -p). 0 or -errno. */
int vmkdir_p(const char *path);

/* "1.2.3.4:80" or "[::1]:80" for a sockaddr; buf >= 64 bytes. */
const char *vaddr_str(const struct sockaddr *sa, char *buf, size_t n);

#endif
