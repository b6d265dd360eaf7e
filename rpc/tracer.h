/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The `vigil rpc` daemon: loads rpc.bpf.o, chooses what to trace (--pid, --comm, --exe,
 * --cgroup; all processes when none is given), turns ring-buffer records into per-connection
 * parser input (rpc/conn.h) and every parsed call into metrics, bus events and per-method
 * statistics. Everything runs on the caller's event loop.
 */
#ifndef VIGIL_RPC_TRACER_H
#define VIGIL_RPC_TRACER_H

#include <stdint.h>

#include "vigil/opt.h"
#include "rpc/stats.h"

struct vloop;
struct vmetrics;
struct vbus;

struct rpc_tracer_cfg {
	char *pid;    /* comma-separated PIDs */
	char *comm;   /* process name (15 characters at most, as the kernel keeps it) */
	char *exe;    /* executable path */
	char *cgroup; /* cgroup v2 directory */
	char *ports;  /* comma-separated server ports */
	char *hook;   /* --hook auto|socket|syscall */
	char *sched;  /* --sched idle|normal (NULL: normal) */
	uint64_t capture;
	uint64_t ringbuf;
	uint64_t wakeup;
	uint64_t drain;
	uint64_t interval;
	long long max_methods;
	double spike_factor;
	double spike_min_rate;
	double error_delta;
	/* request parameters (off by default; see rpc/params.h and docs/rpc.md) */
	bool capture_params;
	uint64_t params_max;
	double sample;
	long long sample_seed;
	char *redact_keys;    /* comma-separated JSON keys */
	char *redact_methods; /* comma-separated methods, '*' wildcards, on top of the built-ins */
};

extern const struct vopt rpc_tracer_opts[];

struct rpc_tracer;

/* Called at the end of every interval with the interval's statistics (before they reset). */
typedef void (*rpc_tick_fn)(struct rpc_tracer *t, const struct rpc_stats *st, double secs,
			    void *ctx);

/*
 * Loads and attaches the BPF program and registers the ring buffer and the interval timer on
 * @loop. @reg (metrics) and @bus may be NULL. Returns NULL with errno set after logging one clear
 * line (bad option value, no permission, a PID that does not exist, ...).
 */
struct rpc_tracer *rpc_tracer_new(const struct rpc_tracer_cfg *cfg, const char *app_id,
				  struct vloop *loop, struct vmetrics *reg, struct vbus *bus);
void rpc_tracer_on_tick(struct rpc_tracer *t, rpc_tick_fn fn, void *ctx);
/* Closes every connection (delivering pending calls as unknown), detaches, frees. */
void rpc_tracer_free(struct rpc_tracer *t);

struct rpc_tracer_counters {
	uint64_t events, lost, truncated, conns, unsupported, calls, parse_errors;
	uint64_t raises; /* --sched idle: times the thread was raised to normal priority */
};
void rpc_tracer_counters(struct rpc_tracer *t, struct rpc_tracer_counters *c);

struct rpc_bpf;

/* The kernel half's two sets of hooks (rpc.bpf.c says what each costs). */
enum rpc_hook {
	RPC_HOOK_AUTO = 0,
	RPC_HOOK_SOCKET,  /* tp_btf sock_recv_length/sock_send_length/inet_sock_set_state */
	RPC_HOOK_SYSCALL, /* tp_btf/sys_exit + syscalls/sys_enter_close */
};

/* "socket" or "syscall" ("auto" for RPC_HOOK_AUTO). */
const char *rpc_hook_name(enum rpc_hook h);
/* The inverse: "auto" (or NULL), "socket", "syscall"; -EINVAL for anything else. */
int rpc_hook_parse(const char *s);
/*
 * Resolves @want for the running kernel: socket mode when its tracepoints exist (Linux 6.4 and
 * later), else syscall mode. Writes why into @why. Returns the mode, or -ENOTSUP (logged) when
 * socket mode was asked for and the kernel lacks it.
 */
int rpc_hook_pick(enum rpc_hook want, char *why, size_t n);

/*
 * What every user of the rpc skeleton (the tracer, tests, bench/rpc) does between open and load:
 * the syscall table (this architecture's numbers of the syscalls the kernel half decodes), one
 * scratch slot per possible CPU, only @hook's programs loaded (RPC_HOOK_SOCKET or
 * RPC_HOOK_SYSCALL), and the benchmark's empty programs left unloaded.
 */
void rpc_bpf_prepare(struct rpc_bpf *skel, enum rpc_hook hook);
/*
 * rpc_bpf_prepare() plus what @cfg sets in the kernel half before load: the capture size, the
 * wake-up mark (at most half the ring buffer), the process and cgroup filters' switches, the
 * --comm name and the ring buffer's size. The tracer and bench/rpc/rpc_floor's capture mode.
 */
void rpc_bpf_configure(struct rpc_bpf *skel, const struct rpc_tracer_cfg *cfg,
		       enum rpc_hook hook);
/* After load: trace process @tgid (sets its bit in the kernel half's bitmap). */
void rpc_bpf_add_target(struct rpc_bpf *skel, uint32_t tgid);
/* After load: @port is a server port (sets its bit in the kernel half's bitmap). */
void rpc_bpf_add_port(struct rpc_bpf *skel, uint16_t port);

/* Parses "8545,8546" into @ports (host order); returns the count or -EINVAL. */
int rpc_parse_ports(const char *s, uint16_t *ports, int max);

#endif
