/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the watchdog's bpf-tier and VM-tier tests: worker processes that make a
 * number of calls and report, through shared memory, how many succeeded and how many failed with
 * EPERM; rules built in code; reading a key's counters entry.
 */
#ifndef VIGIL_WD_TEST_H
#define VIGIL_WD_TEST_H

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <bpf/bpf.h>

#include "test.h"
#include "vigil/log.h"
#include "watchdog/wd.h"

/* What a worker saw, in memory shared with the test. */
struct wd_result {
	volatile int ok, eperm, other;
	volatile int done;   /* the worker finished its calls and waits to be killed or released */
	volatile int go;     /* the test lets the worker continue (second phase) */
	volatile long progress; /* calls completed so far (throttle test) */
	volatile int pid;
};

static inline struct wd_result *wd_shared(size_t n)
{
	void *p = mmap(NULL, sizeof(struct wd_result) * n, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A small file to read from; returns an open fd. */
static inline int wd_small_file(void)
{
	char path[] = "/tmp/wd_test.XXXXXX";
	int fd = mkstemp(path);

	if (fd >= 0) {
		if (write(fd, "watchdog", 8) != 8) {
			close(fd);
			fd = -1;
		}
		unlink(path);
	}
	return fd;
}

/* @n reads of @fd (pread would be another syscall: read after lseek), tallied into @r. */
static inline void wd_reads(int fd, int n, struct wd_result *r)
{
	char buf[8];

	for (int i = 0; i < n; i++) {
		lseek(fd, 0, SEEK_SET);
		if (read(fd, buf, sizeof(buf)) >= 0)
			__sync_fetch_and_add(&r->ok, 1);
		else if (errno == EPERM)
			__sync_fetch_and_add(&r->eperm, 1);
		else
			__sync_fetch_and_add(&r->other, 1);
	}
}

/* Waits (polling, bounded by @ms) until @flag is set. */
static inline bool wd_wait_flag(volatile int *flag, int ms)
{
	for (int i = 0; i < ms && !*flag; i++)
		usleep(1000);
	return *flag;
}

/* Rules with one rule from code. */
static inline bool wd_rule(struct wd_rules *r, const char *syscalls, long long limit,
			   uint64_t window_ns)
{
	char err[256];

	memset(r, 0, sizeof(*r));
	if (wd_rules_add_rule(r, syscalls, limit, window_ns, "test", err, sizeof(err)))
		return test__fail(__FILE__, __LINE__, "rule: %s", err);
	return true;
}

/* The counters entry of @key; false when there is none. */
static inline bool wd_entry_of(struct wd *d, uint64_t key, struct wd_entry *e)
{
	struct wd_stores s = wd_stores(d);

	return wd_entry_lookup(&s, key, e) == 0;
}

#endif
