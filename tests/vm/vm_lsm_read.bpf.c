// SPDX-License-Identifier: GPL-2.0-only
/*
 * VM proof test, kernel half: a BPF LSM program on the file_permission hook that refuses reads
 * (MAY_READ) to one process. The test sets target_tgid after load through the skeleton's
 * mmap'ed .bss, so it can aim at a child it forked after attaching.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* From include/linux/fs.h and errno-base.h: macros, so vmlinux.h does not carry them. */
#define MAY_READ 0x4
#define EPERM	 1

char LICENSE[] SEC("license") = "GPL";

__u32 target_tgid;	/* 0: refuse nothing */
__u64 denied;		/* reads refused so far */

SEC("lsm/file_permission")
int BPF_PROG(deny_read, struct file *file, int mask, int ret)
{
	/* An earlier LSM (or BPF program) already refused: keep its verdict. */
	if (ret)
		return ret;
	if (!target_tgid || (__u32)(bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	if (!(mask & MAY_READ))
		return 0;
	__sync_fetch_and_add(&denied, 1);
	return -EPERM;
}
