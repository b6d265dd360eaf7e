// SPDX-License-Identifier: GPL-2.0-only
/* The baseline for bench/mesh: a TC program that does nothing but pass the packet. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int tc_empty(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "GPL";
