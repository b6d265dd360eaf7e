// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading the watchdog's per-key counters from user space (the daemon's episode reports and
 * metrics, `vigil watchdog top`, the tests). They live in one of three places (watchdog.bpf.c):
 * the slot table (an array: slot TGID % WD_SLOTS, owned by the TGID written in it); task-local
 * storage on each process's leader, which has no keys to walk: user space reads one process's
 * entry through a pidfd, and finds the processes by listing /proc (which lists thread-group
 * leaders only); and the LRU hash `counters`, keyed by TGID or cgroup id.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
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

/* The entry in the slot @tgid owns. */
static int slot_lookup(int slots_fd, uint32_t tgid, struct wd_entry *e)
{
	__u32 i = tgid & (WD_SLOTS - 1);

	if (slots_fd < 0 || bpf_map_lookup_elem(slots_fd, &i, e) || e->tgid != tgid)
		return -ENOENT;
	return 0;
}

int wd_entry_lookup(const struct wd_stores *s, uint64_t key, struct wd_entry *e)
{
	__u64 k = key;

	if (s->hash >= 0 && bpf_map_lookup_elem(s->hash, &k, e) == 0)
		return 0;
	/* A cgroup id is never a slot or task-local key: only TGIDs (below 2^22) are. */
	if (key == 0 || key > UINT32_MAX)
		return -ENOENT;
	if (slot_lookup(s->slots, (uint32_t)key, e) == 0)
		return 0;
	if (!is_task_storage(s->task))
		return -ENOENT;
	return task_lookup(s->task, (uint32_t)key, e);
}

int wd_entries_walk(const struct wd_stores *s, wd_entry_fn fn, void *ctx)
{
	struct wd_entry e;
	__u64 key, next;
	void *prev = NULL;
	struct dirent *de;
	int n = 0;
	DIR *dh;

	while (s->hash >= 0 && bpf_map_get_next_key(s->hash, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(s->hash, &key, &e) == 0) {
			fn(key, &e, ctx);
			n++;
		}
	}
	for (__u32 i = 0; s->slots >= 0 && i < WD_SLOTS; i++) {
		if (bpf_map_lookup_elem(s->slots, &i, &e) == 0 && e.tgid) {
			fn(e.tgid, &e, ctx);
			n++;
		}
	}
	if (!is_task_storage(s->task))
		return n;
	dh = opendir("/proc");
	if (!dh)
		return n;
	while ((de = readdir(dh))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || pid == 0 || pid > UINT32_MAX)
			continue;
		if (task_lookup(s->task, (uint32_t)pid, &e) == 0) {
			fn(pid, &e, ctx);
			n++;
		}
	}
	closedir(dh);
	return n;
}

int wd_stores_pinned(const char *dir, struct wd_stores *s)
{
	char path[PATH_MAX];

	dir = dir ? dir : WD_PIN_DIR;
	snprintf(path, sizeof(path), "%s/counters", dir);
	s->hash = bpf_obj_get(path);
	if (s->hash < 0) {
		s->slots = s->task = -1;
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "%s/slots", dir);
	s->slots = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/task_counters", dir);
	s->task = bpf_obj_get(path);
	return 0;
}
