#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# int_rpc_anvil.sh with the syscall hooks (--hook syscall: tp_btf/sys_exit and sys_enter_close),
# the ones kernels before 6.4 get: anvil's writev and recvfrom through the syscall exit.
RPC_HOOK=syscall exec bash "$VIGIL_ROOT/rpc/tests/int_rpc_anvil.sh"
