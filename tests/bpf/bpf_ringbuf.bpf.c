// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test program for vbpf_ringbuf_attach: one event per getppid() the target process makes, through
 * a ring buffer. `seq` numbers events in submission order so user space can tell a lost or
 * duplicated event from a miscount.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "bpf_ringbuf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid;

__u64 seq;
__u64 dropped; /* reservations that failed: the ring was full */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int handle_sys_enter_getppid(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rb_event *e;

	if (id >> 32 != target_tgid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	/* One thread triggers at a time in the test, so fetch-and-add order is submission order. */
	e->seq = __sync_fetch_and_add(&seq, 1);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
