// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading the watchdog's per-key counters from user space (the daemon's episode reports and
 * metrics, `vigil watchdog top`, the tests). They live in one of two places (watchdog.bpf.c):
 * the LRU hash `counters`, keyed by TGID or cgroup id, which user space can walk; or task-local
 * storage on each process's leader, which has no keys to walk: user space reads one process's
 * entry through a pidfd, and finds the processes by listing /proc (which lists thread-group
 * leaders only).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "watchdog/wd.h"

/* Whether @fd is a task-local storage map: a pinned map of another kind (an old or fallback
 * run's) must not be read with pidfds as keys. */
static bool is_task_storage(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
	       info.type == BPF_MAP_TYPE_TASK_STORAGE;
}

/* The task-local entry of process @tgid: the storage map's key is a pidfd of the task. */
static int task_lookup(int task_fd, uint32_t tgid, struct wd_entry *e)
{
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)tgid, 0), err = 0;

	if (pidfd < 0)
		return -ENOENT; /* gone (or never was) */
	if (bpf_map_lookup_elem(task_fd, &pidfd, e))
		err = -ENOENT;
	close(pidfd);
	return err;
}

int wd_entry_lookup(int hash_fd, int task_fd, uint64_t key, struct wd_entry *e)
{
	__u64 k = key;

	if (hash_fd >= 0 && bpf_map_lookup_elem(hash_fd, &k, e) == 0)
		return 0;
	/* A cgroup id is never a task-local key: only TGIDs (below 2^22) reach the pidfd. */
	if (key > UINT32_MAX || !is_task_storage(task_fd))
		return -ENOENT;
	return task_lookup(task_fd, (uint32_t)key, e);
}

int wd_entries_walk(int hash_fd, int task_fd, wd_entry_fn fn, void *ctx)
{
	struct wd_entry e;
	__u64 key, next;
	void *prev = NULL;
	struct dirent *de;
	int n = 0;
	DIR *dh;

	while (hash_fd >= 0 && bpf_map_get_next_key(hash_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(hash_fd, &key, &e) == 0) {
			fn(key, &e, ctx);
			n++;
		}
	}
	if (!is_task_storage(task_fd))
		return n;
	dh = opendir("/proc");
	if (!dh)
		return n;
	while ((de = readdir(dh))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || pid == 0 || pid > UINT32_MAX)
			continue;
		if (task_lookup(task_fd, (uint32_t)pid, &e) == 0) {
			fn(pid, &e, ctx);
			n++;
		}
	}
	closedir(dh);
	return n;
}
