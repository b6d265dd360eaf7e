// SPDX-License-Identifier: GPL-2.0-only
/*
 * VM test of the tracing hooks the host kernel lacks and the watchdog capability needs: a kprobe
 * on a syscall (through libbpf's ksyscall section), an fentry program, an fmod_ret program that
 * refuses a read the way an LSM would, and bpf_override_return from a kprobe. Every program acts
 * only for target_tgid, which the test sets after load through the mmap'ed .bss. The test loads
 * the programs one at a time (autoload), so a kernel without one feature still runs the others.
 * Debian's kernels leave CONFIG_FUNCTION_ERROR_INJECTION (and so CONFIG_BPF_KPROBE_OVERRIDE)
 * off: there the kernel refuses kprobe_override_getpgid at load, which the test checks.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define EPERM 1

char LICENSE[] SEC("license") = "GPL";

__u32 target_tgid;
__u64 kprobe_hits;
__u64 fentry_hits;
__u64 fmod_ret_denied;
__u64 override_hits;

static __always_inline bool is_target(void)
{
	return target_tgid && (__u32)(bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("ksyscall/getppid")
int kprobe_getppid(struct pt_regs *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

/* Debian's BTF has no __x64_sys_* wrappers, so fentry hooks a kernel function: vfs_read. */
SEC("fentry/vfs_read")
int BPF_PROG(fentry_vfs_read, struct file *file, char *buf, size_t count, loff_t *pos)
{
	if (is_target())
		__sync_fetch_and_add(&fentry_hits, 1);
	return 0;
}

/*
 * fmod_ret is allowed on security_* functions even without CONFIG_FUNCTION_ERROR_INJECTION;
 * a non-zero return skips the function and becomes its result.
 */
SEC("fmod_ret/security_file_permission")
int BPF_PROG(fmod_ret_file_permission, struct file *file, int mask, int ret)
{
	if (ret || !is_target())
		return ret;
	__sync_fetch_and_add(&fmod_ret_denied, 1);
	return -EPERM;
}

/* Needs CONFIG_BPF_KPROBE_OVERRIDE; syscalls are on the error-injection list. */
SEC("kprobe/__x64_sys_getpgid")
int kprobe_override_getpgid(struct pt_regs *ctx)
{
	if (!is_target())
		return 0;
	__sync_fetch_and_add(&override_hits, 1);
	bpf_override_return(ctx, -EPERM);
	return 0;
}
