// SPDX-License-Identifier: GPL-2.0-only
/*
 * rpc_floor: the floor of `vigil rpc`'s hooks for bench/rpc/run. Loads only the rpc skeleton's
 * empty programs on the hooks the tracer uses, so that the hooks run a program that returns at
 * once: what any tracer on those hooks pays before doing any work.
 *
 *   build/bench/rpc_floor [socket|syscall] [capture PORT PID]
 *
 * socket: the sock_recv_length, sock_send_length and inet_sock_set_state tracepoints (only
 * socket I/O and TCP state changes run a program). syscall: tp_btf/sys_exit and
 * syscalls/sys_enter_close (every syscall of every process takes the syscall tracepoint path).
 * The default is what `vigil rpc --hook auto` picks.
 *
 * capture PORT PID: the kernel half alone instead: the tracer's own programs, set up as
 * `vigil rpc --pid PID --ports PORT` sets them up (its option defaults: 4 KiB capture, 8 MiB ring
 * buffer, wake-ups batched by 1 MiB, a 50 ms drain), with a consumer that only counts the
 * records: what the capture costs the traced process without the tracer's user space next to it.
 *
 * Prints "attached <hooks>" on stdout once attached; runs until SIGTERM or SIGINT, then prints
 * "records N" in capture mode.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "vigil/bpf.h"
#include "vigil/opt.h"
#include "../../rpc/tracer.h"
#include "rpc.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int count_record(void *ctx, void *data, size_t len)
{
	(void)data;
	(void)len;
	(*(unsigned long long *)ctx)++;
	return 0;
}

/*
 * The kernel half of `vigil rpc --pid @pid --ports @port` with a consumer that only counts: the
 * tracer's own options (their defaults, or VIGIL_* as `vigil rpc` would read them) configure the
 * skeleton through the tracer's own function. 0 when it ran until a signal, 1 on a failure (said
 * on stderr).
 */
static int capture(struct rpc_bpf *skel, enum rpc_hook hook, char *port, char *pid)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct rpc_tracer_cfg cfg = {};
	const struct vopt_set sets[] = { { rpc_tracer_opts, &cfg }, { NULL, NULL } };
	char *argv[] = { "rpc_floor", "--pid", pid, "--ports", port, NULL };
	unsigned long long records = 0;
	struct ring_buffer *rb;

	if (vopt_parse("rpc_floor", "rpc", sets, 5, argv) < 0)
		return 1;
	rpc_bpf_configure(skel, &cfg, hook);
	if (rpc_bpf__load(skel)) {
		fprintf(stderr, "rpc_floor: cannot load the tracer's programs (run as root)\n");
		return 1;
	}
	rpc_bpf_add_port(skel, (uint16_t)strtoul(port, NULL, 10));
	rpc_bpf_add_target(skel, (uint32_t)strtoul(pid, NULL, 10));
	if (rpc_bpf__attach(skel)) {
		fprintf(stderr, "rpc_floor: cannot attach the tracer's programs: %s\n",
			strerror(errno));
		return 1;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), count_record, &records, NULL);
	if (!rb) {
		fprintf(stderr, "rpc_floor: cannot open the ring buffer: %s\n", strerror(errno));
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("attached %s capture\n", rpc_hook_name(hook));
	fflush(stdout);
	/* the tracer drains on its --drain timer besides the wake-ups: the same here */
	while (!stop)
		ring_buffer__poll(rb, (int)(cfg.drain / 1000000));
	ring_buffer__consume(rb);
	printf("records %llu\n", records);
	ring_buffer__free(rb);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[3] = { NULL };
	struct bpf_program *progs[3] = { NULL };
	struct bpf_program *p;
	struct rpc_bpf *skel;
	unsigned long port = 0, pid = 0;
	char why[200];
	sigset_t set;
	int sig, hook, n, err;

	hook = rpc_hook_parse(argc >= 2 ? argv[1] : NULL);
	if (argc == 5 && !strcmp(argv[2], "capture")) {
		port = strtoul(argv[3], NULL, 10);
		pid = strtoul(argv[4], NULL, 10);
	}
	if ((argc != 1 && argc != 2 && !(argc == 5 && port && port < 65536 && pid)) || hook < 0 ||
	    (argc >= 2 && hook == RPC_HOOK_AUTO)) {
		fprintf(stderr, "usage: rpc_floor [socket|syscall] [capture PORT PID]\n");
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
	if (port) {
		err = capture(skel, (enum rpc_hook)hook, argv[3], argv[4]);
		rpc_bpf__destroy(skel);
		return err;
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
