/* SPDX-License-Identifier: GPL-2.0-only */
/* The event tests/bpf/bpf_ringbuf.bpf.c sends to user space: an ABI shared by both halves. */
#ifndef VIGIL_TEST_BPF_RINGBUF_H
#define VIGIL_TEST_BPF_RINGBUF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

struct rb_event {
	__u32 tgid;
	__u32 tid;
	__u64 seq; /* 0, 1, 2, ... in submission order */
	char comm[16];
};

_Static_assert(sizeof(struct rb_event) == 32, "rb_event is an ABI: 32 bytes");

#endif
