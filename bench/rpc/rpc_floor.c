// SPDX-License-Identifier: GPL-2.0-only
/*
 * rpc_floor: the floor of `vigil rpc`'s hooks for bench/rpc/run. Loads only the rpc skeleton's
 * empty programs on the syscall hooks the tracer uses (handle_sys_exit_empty on tp_btf/sys_exit,
 * handle_enter_close_empty on syscalls/sys_enter_close), so every syscall of every process takes
 * the syscall tracepoint path and runs a program that returns at once: what any tracer on those
 * hooks pays before doing any work. Runs until SIGTERM or SIGINT.
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
	struct bpf_link *exit_link = NULL, *close_link = NULL;
	struct bpf_program *p;
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
		bpf_program__set_autoload(p, p == skel->progs.handle_sys_exit_empty ||
						 p == skel->progs.handle_enter_close_empty);
	if (rpc_bpf__load(skel)) {
		fprintf(stderr, "rpc_floor: cannot load the empty programs (run as root)\n");
		rpc_bpf__destroy(skel);
		return 1;
	}
	exit_link = bpf_program__attach(skel->progs.handle_sys_exit_empty);
	if (exit_link)
		close_link = bpf_program__attach(skel->progs.handle_enter_close_empty);
	if (!close_link) {
		fprintf(stderr, "rpc_floor: cannot attach to tp_btf/sys_exit and "
			"syscalls/sys_enter_close: %s\n", strerror(errno));
		bpf_link__destroy(exit_link);
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
	bpf_link__destroy(close_link);
	bpf_link__destroy(exit_link);
	rpc_bpf__destroy(skel);
	return 0;
}
