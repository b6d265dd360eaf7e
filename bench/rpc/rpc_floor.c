// SPDX-License-Identifier: GPL-2.0-only
/*
 * rpc_floor: the floor of `vigil rpc`'s hook for bench/rpc/run. Loads only the rpc skeleton's
 * empty program (handle_sys_exit_empty) on the hook the tracer uses (tp_btf/sys_exit), so every
 * syscall of every process takes the syscall tracepoint path and runs a program that returns at
 * once: what any tracer on that hook pays before doing any work. Runs until SIGTERM or SIGINT.
 *
 *   build/bench/rpc_floor
 *
 * Prints "attached" on stdout once the program is attached.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "vigil/bpf.h"
#include "../../rpc/tracer.h"
#include "rpc.skel.h"

int main(void)
{
	struct bpf_program *p;
	struct bpf_link *link;
	struct rpc_bpf *skel;
	sigset_t set;
	int sig;

	if (vbpf_init())
		return 1;
	skel = rpc_bpf__open();
	if (!skel) {
		fprintf(stderr, "rpc_floor: cannot open the rpc BPF object: %s\n", strerror(errno));
		return 1;
	}
	rpc_bpf_prepare(skel);
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == skel->progs.handle_sys_exit_empty);
	if (rpc_bpf__load(skel)) {
		fprintf(stderr, "rpc_floor: cannot load the empty program (run as root)\n");
		rpc_bpf__destroy(skel);
		return 1;
	}
	link = bpf_program__attach(skel->progs.handle_sys_exit_empty);
	if (!link) {
		fprintf(stderr, "rpc_floor: cannot attach to tp_btf/sys_exit: %s\n",
			strerror(errno));
		rpc_bpf__destroy(skel);
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("attached\n");
	fflush(stdout);
	sigwait(&set, &sig);
	bpf_link__destroy(link);
	rpc_bpf__destroy(skel);
	return 0;
}
