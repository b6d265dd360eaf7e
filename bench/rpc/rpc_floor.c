// SPDX-License-Identifier: GPL-2.0-only
/*
 * rpc_floor: the floor of `vigil rpc`'s hooks for bench/rpc/run. Loads only the rpc skeleton's
 * empty programs on the hooks the tracer uses, so that the hooks run a program that returns at
 * once: what any tracer on those hooks pays before doing any work.
 *
 *   build/bench/rpc_floor [socket|syscall]   (default: what `vigil rpc --hook auto` picks)
 *
 * socket: the sock_recv_length, sock_send_length and inet_sock_set_state tracepoints (only
 * socket I/O and TCP state changes run a program). syscall: tp_btf/sys_exit and
 * syscalls/sys_enter_close (every syscall of every process takes the syscall tracepoint path).
 * Prints "attached <hooks>" on stdout once attached; runs until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "vigil/bpf.h"
#include "../../rpc/tracer.h"
#include "rpc.skel.h"

int main(int argc, char **argv)
{
	struct bpf_link *links[3] = { NULL };
	struct bpf_program *progs[3] = { NULL };
	struct bpf_program *p;
	struct rpc_bpf *skel;
	char why[200];
	sigset_t set;
	int sig, hook, n;

	hook = rpc_hook_parse(argc == 2 ? argv[1] : NULL);
	if (argc > 2 || hook < 0 || (argc == 2 && hook == RPC_HOOK_AUTO)) {
		fprintf(stderr, "usage: rpc_floor [socket|syscall]\n");
		return 2;
	}
	if (vbpf_init())
		return 1;
	hook = rpc_hook_pick((enum rpc_hook)hook, why, sizeof(why));
	if (hook < 0)
		return 1;
	skel = rpc_bpf__open();
	if (!skel) {
		fprintf(stderr, "rpc_floor: cannot open the rpc BPF object: %s\n", strerror(errno));
		return 1;
	}
	rpc_bpf_prepare(skel, (enum rpc_hook)hook);
	if (hook == RPC_HOOK_SOCKET) {
		progs[0] = skel->progs.handle_sock_recv_empty;
		progs[1] = skel->progs.handle_sock_send_empty;
		progs[2] = skel->progs.handle_sock_state_empty;
		n = 3;
	} else {
		progs[0] = skel->progs.handle_sys_exit_empty;
		progs[1] = skel->progs.handle_enter_close_empty;
		n = 2;
	}
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == progs[0] || p == progs[1] || p == progs[2]);
	if (rpc_bpf__load(skel)) {
		fprintf(stderr, "rpc_floor: cannot load the empty programs (run as root)\n");
		rpc_bpf__destroy(skel);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		links[i] = bpf_program__attach(progs[i]);
		if (!links[i]) {
			fprintf(stderr, "rpc_floor: cannot attach %s: %s\n",
				bpf_program__name(progs[i]), strerror(errno));
			for (int j = 0; j < i; j++)
				bpf_link__destroy(links[j]);
			rpc_bpf__destroy(skel);
			return 1;
		}
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("attached %s\n", rpc_hook_name((enum rpc_hook)hook));
	fflush(stdout);
	sigwait(&set, &sig);
	for (int i = 0; i < n; i++)
		bpf_link__destroy(links[i]);
	rpc_bpf__destroy(skel);
	return 0;
}
