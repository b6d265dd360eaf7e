// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mesh verdict tests (bpf_mesh_verdict.c) on Debian's own kernels in the VM tier: the
 * programs must pass the 6.1 and 6.12 verifiers too, not only the host's, since that is what
 * the agent meets on Debian 12 hosts.
 */
#include "bpf_mesh_verdict.c"
