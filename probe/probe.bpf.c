// SPDX-License-Identifier: GPL-2.0-only
/*
 * The feature probe's programs: one tiny program per BPF feature. probe/probe.c opens this
 * skeleton once per feature, turns autoload off for every program but one, loads, attaches and
 * triggers it, and reads `hits`: a program counts only what the probing process itself did, so a
 * non-zero count proves the hook ran for the trigger, not for some other process.
 *
 * Only one program is loaded per object, so all of them share the one `hits` counter.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define TC_ACT_OK 0

/* Set by user space before load. The PID namespace (device and inode of /proc/self/ns/pid) lets
 * the filter work when vigil runs in a container with its own PID namespace. */
const volatile __u64 pidns_dev;
const volatile __u64 pidns_ino;
const volatile __u32 target_tgid;
const volatile long trigger_nr;	 /* syscall number the syscall-entry programs wait for */
const volatile long override_rc; /* what getppid() returns while the override program is armed */

__u64 hits;
__u32 armed; /* the override program changes a return value only while user space says so */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} probe_rb SEC(".maps");

static __always_inline bool mine(void)
{
	struct bpf_pidns_info ns;

	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return false;
	return ns.tgid == target_tgid;
}

static __always_inline void count(void)
{
	__sync_fetch_and_add(&hits, 1);
}

SEC("tp/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	if (mine())
		count();
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (mine() && (long)ctx->args[1] == trigger_nr)
		count();
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(btf_sys_enter, struct pt_regs *regs, long id)
{
	if (mine() && id == trigger_nr)
		count();
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(btf_sock_send, struct sock *sk, int ret, int flags)
{
	if (mine() && ret > 0)
		count();
	return 0;
}

/* Attached by user space to a function of the running binary (or libc's getppid). */
SEC("uprobe")
int uprobe_hit(struct pt_regs *ctx)
{
	if (mine())
		count();
	return 0;
}

/* Attached by user space to the getppid syscall's kernel function, whose name is arch-specific. */
SEC("kprobe")
int kprobe_hit(struct pt_regs *ctx)
{
	if (mine())
		count();
	return 0;
}

SEC("fentry/security_file_permission")
int BPF_PROG(fentry_perm, struct file *file, int mask)
{
	if (mine())
		count();
	return 0;
}

/* Returning 0 lets the original function run: the probe observes, it never denies. */
SEC("fmod_ret/security_file_permission")
int BPF_PROG(fmod_ret_perm, struct file *file, int mask, int ret)
{
	if (mine())
		count();
	return 0;
}

SEC("lsm/file_permission")
int BPF_PROG(lsm_file_perm, struct file *file, int mask, int ret)
{
	if (mine())
		count();
	return 0;
}

/*
 * bpf_override_return needs CONFIG_BPF_KPROBE_OVERRIDE (else the verifier rejects the helper) and
 * a kprobe on an error-injectable function (the getppid syscall). It changes getppid()'s result
 * for this process only, and only while `armed`, so the probe can see the override take effect.
 */
SEC("kprobe")
int kprobe_override(struct pt_regs *ctx)
{
	if (armed && mine()) {
		bpf_override_return(ctx, override_rc);
		count();
	}
	return 0;
}

/* Attached in a private network namespace: every packet there is the probe's own. */
SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	count();
	return TC_ACT_OK;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	count();
	return XDP_PASS;
}

SEC("tp/syscalls/sys_enter_getppid")
int rb_getppid(void *ctx)
{
	__u32 *e;

	if (!mine())
		return 0;
	e = bpf_ringbuf_reserve(&probe_rb, sizeof(*e), 0);
	if (!e)
		return 0;
	*e = target_tgid;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
