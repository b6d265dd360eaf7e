/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The ABI between rpc.bpf.c (kernel) and the user half of `vigil rpc`. Fixed-width types and
 * explicit padding only: both sides are compiled separately (clang -target bpf vs gcc) and must
 * agree on every offset, which the _Static_asserts pin.
 *
 * The kernel side sends one record per event into the ring buffer: a struct rpc_event header,
 * followed for RPC_EV_DATA by cap_len bytes of the data the syscall moved (the first bytes; the
 * full length is total_len).
 */
#ifndef VIGIL_RPC_H
#define VIGIL_RPC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define RPC_MAX_CAPTURE	  16384 /* upper bound of --capture (a power of two) */
#define RPC_MAX_PORTS	  16
#define RPC_COMM_LEN	  16
#define RPC_PATH_LEN	  128
#define RPC_MAX_NR	  512 /* syscall numbers the kernel half's sc_kind table covers */
#define RPC_MAX_TGID	  4194304 /* PID_MAX_LIMIT on 64-bit: the traced-process bitmap's size */

enum rpc_ev_kind {
	RPC_EV_DATA = 1,  /* bytes read (dir IN) or written (dir OUT) by a server connection */
	RPC_EV_CLOSE = 2, /* a server connection's fd was closed (socket mode: the socket closed) */
	RPC_EV_EXEC = 3,  /* a process exec'd (for --comm/--exe matching and restarts) */
	RPC_EV_EXIT = 4,  /* a traced process exited */
	RPC_EV_FORK = 5,  /* a traced process forked a new process, which is now traced too */
};

enum rpc_ev_dir {
	RPC_EV_DIR_IN = 0,	 /* the server read it: request bytes */
	RPC_EV_DIR_OUT = 1, /* the server wrote it: response bytes */
};

enum rpc_syscall {
	RPC_SC_READ = 1, RPC_SC_READV, RPC_SC_RECVFROM, RPC_SC_RECVMSG,
	RPC_SC_WRITE, RPC_SC_WRITEV, RPC_SC_SENDTO, RPC_SC_SENDMSG,
	RPC_SC_CLOSE, RPC_SC_ACCEPT, RPC_SC_ACCEPT4,
};

/* Per-CPU counters, indexes into the `counters` array map. */
enum rpc_counter {
	RPC_CNT_EVENTS = 0,    /* records written to the ring buffer */
	RPC_CNT_LOST,	       /* records the ring buffer had no room for */
	RPC_CNT_TRUNCATED,     /* data records whose total_len exceeded the capture */
	RPC_CNT_CONNS,	       /* server connections discovered */
	RPC_CNT_UNSUPPORTED,   /* socket mode: server-port I/O by a syscall whose buffers the
				* program cannot name (io_uring, sendfile, recvmmsg...) */
	RPC_CNT_MAX,
};

/* A connection as the kernel side identifies it. conn_id is unique per (connection, run): it
 * tells a reused fd number apart from the connection that had it before. */
struct rpc_conn_key {
	__u32 tgid;
	__s32 fd;
};

struct rpc_conn_val {
	__u64 conn_id;
	__u8 server;  /* 1: local port is a traced server port; 0: not ours (negative cache) */
	__u8 family;  /* AF_INET or AF_INET6 */
	__u16 lport;  /* host order */
	__u16 rport;  /* host order */
	__u16 _pad;
	__u8 raddr[16]; /* IPv4 in the first 4 bytes */
	char comm[RPC_COMM_LEN]; /* of the thread that first used it (every record carries it) */
};
_Static_assert(sizeof(struct rpc_conn_val) == 48, "rpc_conn_val ABI");

struct rpc_event {
	__u64 ts_ns;	/* bpf_ktime_get_ns() at syscall exit (DATA) or at the event */
	__u64 conn_id;
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u32 total_len; /* DATA: bytes the syscall moved; EXEC: filename length */
	__u32 cap_len;	 /* bytes following this header */
	__u16 kind;	 /* enum rpc_ev_kind */
	__u8 dir;	 /* enum rpc_ev_dir */
	__u8 syscall;	 /* enum rpc_syscall */
	__u8 family;
	__u8 _pad[1];
	__u16 lport;
	__u16 rport;
	__u16 _pad2;
	__u8 raddr[16];
	char comm[RPC_COMM_LEN];
};
_Static_assert(sizeof(struct rpc_event) == 80, "rpc_event ABI");

#endif
