// SPDX-License-Identifier: GPL-2.0-only
/*
 * The feature probe inside the VM tier's Debian kernel (CONFIG_BPF_LSM, CONFIG_KPROBES, booted
 * with lsm=...,bpf; see /work/shared/ENVIRONMENT.md), where the paths the host refuses must
 * work: the BPF LSM line reads exactly "BPF LSM: loadable", fentry, fmod_ret and kprobes work,
 * and the watchdog's ladder picks the LSM mode. tests/bpf/bpf_probe.c checks the same report
 * against evidence on any kernel; this one pins down what the VM kernel is booted to provide.
 */
#include "test.h"
#include "../../probe/probe.h"
#include "vigil/bpf.h"
#include "vigil/log.h"

static void test_lsm_loadable_in_vm(void)
{
	struct vprobe_report r;
	char line[256];

	if (!ASSERT_OK(vbpf_init(), "vbpf_init") || !ASSERT_OK(vprobe_run(&r), "vprobe_run"))
		return;
	vprobe_print(stderr, &r, false);
	if (!ASSERT_EQ(vbpf_lsm_active(), 1, "bpf among the active LSMs (boot with lsm=...,bpf)"))
		return;
	ASSERT_TRUE(r.f[VPROBE_LSM_ACTIVE].ok, "lsm_active");
	ASSERT_STREQ(vprobe_line(&r, VPROBE_LSM, line, sizeof(line)), "BPF LSM: loadable", "line");
	ASSERT_TRUE(r.f[VPROBE_FENTRY].ok, "fentry");
	ASSERT_TRUE(r.f[VPROBE_FMOD_RET].ok, "fmod_ret");
	ASSERT_TRUE(r.f[VPROBE_KPROBE].ok, "kprobe");
	ASSERT_TRUE(r.f[VPROBE_TRACEPOINT].ok, "tracepoint");
	ASSERT_TRUE(r.f[VPROBE_RINGBUF].ok, "ringbuf");
}

/* The socket tracepoints (vigil rpc --hook socket) came with Linux 6.4: 6.12 has them, 6.1 not. */
static void test_sock_tracepoints_by_release(void)
{
	struct vprobe_report r;

	if (!ASSERT_OK(vbpf_init(), "vbpf_init") ||
	    !ASSERT_OK(vprobe_run_mask(&r, VPROBE_BIT(VPROBE_SOCK_TP)), "vprobe_run_mask"))
		return;
	if (test_kernel_at_least(6, 4))
		ASSERT_TRUE(r.f[VPROBE_SOCK_TP].ok, "socket tracepoints work");
	else
		ASSERT_STREQ(r.f[VPROBE_SOCK_TP].status, "absent", "socket tracepoints absent");
}

static void test_pick_prefers_lsm_in_vm(void)
{
	static const struct vprobe_mode modes[] = {
		{ "lsm", VPROBE_BIT(VPROBE_LSM) },
		{ "fmod_ret", VPROBE_BIT(VPROBE_FMOD_RET) },
		{ "monitor", VPROBE_BIT(VPROBE_TRACEPOINT) },
	};
	struct vprobe_report r = { 0 };

	if (!ASSERT_OK(vbpf_init(), "vbpf_init"))
		return;
	ASSERT_EQ(vprobe_pick("watchdog", modes, 3, &r), 0, "picked the LSM mode");
}

TESTS(T(test_lsm_loadable_in_vm), T(test_pick_prefers_lsm_in_vm), T(test_sock_tracepoints_by_release))
