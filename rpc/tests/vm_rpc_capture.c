// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rpc kernel half on Debian's own kernels in the VM tier: --hook auto must pick the socket
 * hooks where the kernel has the sock_recv_length/sock_send_length tracepoints (6.12) and the
 * syscall hooks where it does not (6.1), --hook socket must be refused cleanly on 6.1, and the
 * programs auto picks must pass that kernel's verifier and capture exactly what the host tests
 * (bpf_rpc_capture.c) check, the cgroup cases aside (the VM has no cgroup2 mount).
 */
#define RPC_CAPTURE_NO_MAIN
#pragma GCC diagnostic ignored "-Wunused-function" /* the cgroup cases */
#include "bpf_rpc_capture.c"

/* The tracepoints came with Linux 6.4. */
static bool kernel_has_sock_tracepoints(void)
{
	return test_kernel_at_least(6, 4);
}

static void test_auto_picks_by_kernel(void)
{
	char why[200] = "";
	int got = rpc_hook_pick(RPC_HOOK_AUTO, why, sizeof(why));
	int want = kernel_has_sock_tracepoints() ? RPC_HOOK_SOCKET : RPC_HOOK_SYSCALL;

	ASSERT_EQ(got, want, "auto: socket hooks from 6.4 on, syscall hooks before");
	ASSERT_TRUE(why[0], "a reason");
}

static void test_socket_hooks_refused_before_6_4(void)
{
	char why[200];
	int got = rpc_hook_pick(RPC_HOOK_SOCKET, why, sizeof(why));

	if (kernel_has_sock_tracepoints())
		ASSERT_EQ(got, RPC_HOOK_SOCKET, "--hook socket where the kernel has it");
	else
		ASSERT_EQ(got, -ENOTSUP, "--hook socket refused");
	ASSERT_EQ(rpc_hook_pick(RPC_HOOK_SYSCALL, why, sizeof(why)), RPC_HOOK_SYSCALL,
		  "--hook syscall everywhere");
}

/* The auto-picked hooks with each test of the host's. */
#define AUTO(fn)                                                                                  \
	static void fn##_auto(void)                                                               \
	{                                                                                         \
		char why[200];                                                                    \
		hook = (enum rpc_hook)rpc_hook_pick(RPC_HOOK_AUTO, why, sizeof(why));             \
		fn();                                                                             \
	}
AUTO(test_read_write)
AUTO(test_readv_writev)
AUTO(test_recvmsg_sendmsg)
AUTO(test_recvfrom_sendto)
AUTO(test_connection_opened_before_load)
AUTO(test_max_capture_16k)
AUTO(test_ipv6)
AUTO(test_children_followed)
AUTO(test_wakeup_once_per_crossing)

TESTS(T(test_auto_picks_by_kernel), T(test_socket_hooks_refused_before_6_4),
      T(test_read_write_auto), T(test_readv_writev_auto), T(test_recvmsg_sendmsg_auto),
      T(test_recvfrom_sendto_auto), T(test_connection_opened_before_load_auto),
      T(test_max_capture_16k_auto), T(test_ipv6_auto), T(test_children_followed_auto),
      T(test_wakeup_once_per_crossing_auto))
