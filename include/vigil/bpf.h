/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * BPF helpers shared by the capabilities: process set-up (libbpf logging, memlock, the bpffs,
 * tracefs and securityfs mounts), feeding a ring buffer into the event loop, and attaching TC
 * programs the way libbpf 1.1 allows (a clsact qdisc plus a netlink filter; there is no TCX).
 *
 * Which program types the running kernel accepts is the probe's business (probe/probe.h); these
 * helpers only do the plumbing every capability repeats.
 */
#ifndef VIGIL_BPF_H
#define VIGIL_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <bpf/libbpf.h>

#include "vigil/loop.h"

#define VBPF_BPFFS_DIR	   "/sys/fs/bpf"
#define VBPF_TRACEFS_DIR   "/sys/kernel/tracing"
#define VBPF_SECURITYFS_DIR "/sys/kernel/security"

/*
 * Once per process, before loading anything: routes libbpf's messages through vlog, tries to
 * raise RLIMIT_MEMLOCK (never fails on it: libbpf 1.x on a memcg-accounting kernel does not need
 * it), and mounts bpffs on /sys/fs/bpf and tracefs on /sys/kernel/tracing when they are absent.
 * Every mount is attempted; returns 0 or the first failure's -errno (already logged with what to
 * do). Safe to call more than once.
 */
int vbpf_init(void);

/*
 * Each mounts one filesystem at its usual place unless it is already there (checked with
 * statfs, so a plain directory does not count). 0 when mounted afterwards, -errno otherwise,
 * logged as "cannot mount bpffs on /sys/fs/bpf: Operation not permitted (run as root or mount
 * it: mount -t bpf bpf /sys/fs/bpf)". @mounted_now, when not NULL, tells whether this call did it.
 */
int vbpf_mount_bpffs(bool *mounted_now);
int vbpf_mount_tracefs(bool *mounted_now);
int vbpf_mount_securityfs(bool *mounted_now);
/* True when @path is the root of a filesystem with magic number @magic (BPF_FS_MAGIC, ...). */
bool vbpf_is_mounted(const char *path, unsigned long magic);

/*
 * The active LSMs, "lockdown,capability,landlock,yama,bpf", from /sys/kernel/security/lsm
 * (mounting securityfs first when needed) into @buf. 0 or -errno (logged).
 */
int vbpf_lsm_list(char *buf, size_t n);
/* 1 when "bpf" is among the active LSMs, 0 when not, -errno when the list cannot be read. */
int vbpf_lsm_active(void);

/*
 * Swaps libbpf's print callback for one that logs everything at DEBUG, for code that expects
 * failures (the feature probe: a refused load is an answer, not a warning). Returns the previous
 * callback, to be given back to libbpf_set_print() afterwards.
 */
libbpf_print_fn_t vbpf_quiet_libbpf(void);

/* "EPERM" for EPERM, "E123" for an errno glibc has no name for. @err may be negative. */
const char *vbpf_errno_name(int err, char *buf, size_t n);

/*
 * Consumes @rb from @loop: adds ring_buffer__epoll_fd(@rb) to the loop and calls
 * ring_buffer__consume() each time it is readable, so the ring buffer's callbacks run on the
 * loop's thread. @rb stays owned by the caller and must outlive the attachment: call
 * vbpf_ringbuf_detach() before ring_buffer__free(). 0 or -errno.
 */
int vbpf_ringbuf_attach(struct vloop *loop, struct ring_buffer *rb);
int vbpf_ringbuf_detach(struct vloop *loop, struct ring_buffer *rb);

/*
 * A TC program attached through a clsact qdisc (bpf_tc_hook_create + bpf_tc_attach). The qdisc
 * is created when absent and, in that case only, destroyed again by vbpf_tc_detach(), taking
 * every filter on it along: detach in the reverse order of attaching.
 */
struct vbpf_tc {
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;
	bool created_qdisc;
	bool attached;
};

/* Attaches @prog_fd at @where (BPF_TC_INGRESS or BPF_TC_EGRESS) of @ifindex. 0 or -errno,
 * logged with the interface's name. */
int vbpf_tc_attach(struct vbpf_tc *tc, int ifindex, enum bpf_tc_attach_point where, int prog_fd);
/* Removes the filter (and the qdisc when vbpf_tc_attach created it). Idempotent. */
void vbpf_tc_detach(struct vbpf_tc *tc);

#endif
