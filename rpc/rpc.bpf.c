// SPDX-License-Identifier: GPL-2.0-only
/*
 * vigil rpc, kernel half: socket-level capture of a JSON-RPC server's traffic.
 *
 * Syscall tracepoints only (no kprobes: our kernels may lack them). For every read-like and
 * write-like syscall of a traced process, the entry handler decides whether the fd is a TCP
 * connection whose local port is one of the server ports, remembering the answer per (tgid, fd)
 * in an LRU hash so the socket is resolved once per connection; the exit handler copies the first
 * `capture` bytes the syscall actually moved into the ring buffer, with the full length.
 * Connections opened before vigil started are found the same way, on their first syscall.
 *
 * Which processes: all of them (the port filter alone) unless user space filled `targets`
 * (--pid/--comm/--exe) or `cgroups` (--cgroup); traced processes' new child processes are traced
 * too, and an exec whose comm equals target_comm is traced at once (node restarts).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "rpc.h"

#define AF_INET	 2
#define AF_INET6 10
#define S_IFMT	 00170000
#define S_IFSOCK 0140000
#define IPPROTO_TCP 6

/* Tunables set by user space before load. */
const volatile __u32 capture = 4096;	 /* bytes per syscall, <= RPC_MAX_CAPTURE */
const volatile bool filter_targets = false; /* true: only tgids in `targets` / cgroups */
const volatile bool filter_cgroups = false;
const volatile char target_comm[RPC_COMM_LEN] = {};
/* Wake user space only once this many bytes wait in the ring buffer (0: for every record).
 * A wake-up per record costs the tracer an epoll round trip per syscall; batching them halves its
 * CPU per call. The tracer drains on a short timer, so a quiet buffer is not left waiting. */
const volatile __u64 wakeup_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64); /* cgroup id */
	__type(value, __u8);
} cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RPC_MAX_PORTS);
	__type(key, __u16); /* host order */
	__type(value, __u8);
} ports SEC(".maps");

/* Every (tgid, fd) seen: server connections and, as a negative cache, everything else. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct rpc_conn_key);
	__type(value, struct rpc_conn_val);
} conns SEC(".maps");

/* Arguments saved at syscall entry for the exit handler, per thread. */
struct pending {
	__u64 start_ns;
	__u64 buf;    /* user pointer: the buffer, or the iovec array */
	__u64 iovcnt; /* 0: buf is a plain buffer */
	struct rpc_conn_key key;
	__u8 dir;
	__u8 syscall;
	__u8 _pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct pending);
} pendings SEC(".maps");

/* The record under construction. Twice the capture bound, so that the verifier can prove
 * `off + chunk` stays inside it while iovecs are appended (off < MAX and chunk <= MAX).
 * At 32 KiB + 88 bytes it is over the per-CPU allocator's 32 KiB unit, so this is a plain
 * array with one slot per CPU (user space sets max_entries to the number of possible CPUs),
 * indexed by the current CPU: the program runs with migration disabled. */
struct scratch {
	struct rpc_event ev;
	__u8 data[2 * RPC_MAX_CAPTURE];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline struct scratch *get_scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&scratch_map, &cpu);
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RPC_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __u64 next_conn_id;

static __always_inline __u64 rb_flags(void)
{
	if (!wakeup_bytes)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									     : BPF_RB_NO_WAKEUP;
}

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

static __always_inline bool traced(__u32 tgid)
{
	if (!filter_targets && !filter_cgroups)
		return true;
	if (filter_targets && bpf_map_lookup_elem(&targets, &tgid))
		return true;
	if (filter_cgroups) {
		__u64 cg = bpf_get_current_cgroup_id();
		if (bpf_map_lookup_elem(&cgroups, &cg))
			return true;
	}
	return false;
}

/*
 * Resolves fd of the current task to its socket and fills @val. The walk is
 * task->files->fdt->fd[fd] -> file; a socket's inode has S_IFSOCK, and its private_data is the
 * struct socket. Every read is a CO-RE probe read, so a racing close only makes it fail.
 */
static __always_inline int resolve_socket(int fd, struct rpc_conn_val *val)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fdarr, *file;
	unsigned int max_fds;
	struct socket *sock;
	struct sock *sk;
	umode_t mode;
	__u16 type, proto;

	if (fd < 0)
		return -1;
	fdarr = BPF_CORE_READ(task, files, fdt, fd);
	max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	if ((unsigned int)fd >= max_fds)
		return -1;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdarr[fd]) || !file)
		return -1;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return -1;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return -1;
	type = BPF_CORE_READ(sk, sk_type);
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (type != 1 /* SOCK_STREAM */ || proto != IPPROTO_TCP)
		return -1;
	val->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	val->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	val->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (val->family == AF_INET) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(val->raddr, &a, 4);
	} else if (val->family == AF_INET6) {
		BPF_CORE_READ_INTO(&val->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return -1;
	}
	return 0;
}

/* The connection state for (tgid, fd), discovering it on first sight. NULL: not a server
 * connection of a traced process. */
static __always_inline struct rpc_conn_val *lookup_conn(struct rpc_conn_key *key)
{
	struct rpc_conn_val *val, nv = {};

	val = bpf_map_lookup_elem(&conns, key);
	if (val)
		return val->server ? val : NULL;
	if (resolve_socket(key->fd, &nv) == 0 && bpf_map_lookup_elem(&ports, &nv.lport)) {
		nv.server = 1;
		nv.conn_id = __sync_fetch_and_add(&next_conn_id, 1) + 1;
		count(RPC_CNT_CONNS);
	}
	bpf_map_update_elem(&conns, key, &nv, BPF_ANY);
	val = bpf_map_lookup_elem(&conns, key);
	return val && val->server ? val : NULL;
}

static __always_inline int on_enter(int fd, __u64 buf, __u64 iovcnt, __u8 dir, __u8 sc)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending p = {};

	p.key.tgid = id >> 32;
	p.key.fd = fd;
	if (!traced(p.key.tgid) || !lookup_conn(&p.key))
		return 0;
	p.start_ns = bpf_ktime_get_ns();
	p.buf = buf;
	p.iovcnt = iovcnt;
	p.dir = dir;
	p.syscall = sc;
	bpf_map_update_elem(&pendings, &id, &p, BPF_ANY);
	return 0;
}

static __always_inline void fill_conn(struct rpc_event *ev, const struct rpc_conn_val *c)
{
	ev->conn_id = c->conn_id;
	ev->family = c->family;
	ev->lport = c->lport;
	ev->rport = c->rport;
	__builtin_memcpy(ev->raddr, c->raddr, 16);
}

#define MAX_IOV 8

static __always_inline int on_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rpc_conn_val *c;
	struct pending *p;
	struct scratch *s;
	__u64 want, off = 0;

	p = bpf_map_lookup_elem(&pendings, &id);
	if (!p)
		return 0;
	if (ret <= 0)
		goto out;
	c = bpf_map_lookup_elem(&conns, &p->key);
	s = get_scratch();
	if (!c || !s)
		goto out;
	want = (__u64)ret < capture ? (__u64)ret : capture;
	if (want > RPC_MAX_CAPTURE)
		want = RPC_MAX_CAPTURE;
	if (!p->iovcnt) {
		if (bpf_probe_read_user(s->data, want & (2 * RPC_MAX_CAPTURE - 1), (void *)p->buf))
			want = 0;
		off = want;
	} else {
		/* gather the first iovecs until the capture is full */
		for (__u32 i = 0; i < MAX_IOV; i++) {
			struct iovec iov;
			__u64 chunk;

			if (i >= p->iovcnt || off >= want)
				break;
			if (bpf_probe_read_user(&iov, sizeof(iov), (struct iovec *)p->buf + i))
				break;
			chunk = iov.iov_len < want - off ? iov.iov_len : want - off;
			off &= RPC_MAX_CAPTURE - 1;
			/* clang would test a copy of chunk and pass the unchecked register to the
			 * helper; the empty asm pins the value so the bound check and the use are
			 * the same register, which is what the verifier needs to see */
			asm volatile("" : "+r"(chunk));
			if (chunk > RPC_MAX_CAPTURE)
				break;
			asm volatile("" : "+r"(chunk));
			if (bpf_probe_read_user(s->data + off, chunk, iov.iov_base))
				break;
			off += chunk;
		}
	}
	if (off > RPC_MAX_CAPTURE)
		off = RPC_MAX_CAPTURE;
	s->ev.kind = RPC_EV_DATA;
	s->ev.ts_ns = bpf_ktime_get_ns();
	s->ev.start_ns = p->start_ns;
	s->ev.tgid = id >> 32;
	s->ev.tid = (__u32)id;
	s->ev.fd = p->key.fd;
	s->ev.total_len = (__u32)ret;
	s->ev.cap_len = (__u32)off;
	s->ev.dir = p->dir;
	s->ev.syscall = p->syscall;
	fill_conn(&s->ev, c);
	bpf_get_current_comm(s->ev.comm, sizeof(s->ev.comm));
	if ((__u64)ret > off)
		count(RPC_CNT_TRUNCATED);
	if (bpf_ringbuf_output(&events, s, sizeof(s->ev) + (off & (2 * RPC_MAX_CAPTURE - 1)),
			       rb_flags()))
		count(RPC_CNT_LOST);
	else
		count(RPC_CNT_EVENTS);
out:
	bpf_map_delete_elem(&pendings, &id);
	return 0;
}

/* Small records (no data) go through bpf_ringbuf_reserve. */
static __always_inline void emit_small(__u16 kind, __s32 fd, const struct rpc_conn_val *c)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rpc_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		count(RPC_CNT_LOST);
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->tgid = id >> 32;
	ev->tid = (__u32)id;
	ev->fd = fd;
	if (c)
		fill_conn(ev, c);
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, rb_flags());
	count(RPC_CNT_EVENTS);
}

#define ARG(n) (ctx->args[n])

SEC("tracepoint/syscalls/sys_enter_read")
int handle_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((int)ARG(0), ARG(1), 0, RPC_EV_DIR_IN, RPC_SC_READ);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int handle_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((int)ARG(0), ARG(1), 0, RPC_EV_DIR_IN, RPC_SC_RECVFROM);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int handle_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((int)ARG(0), ARG(1), ARG(2), RPC_EV_DIR_IN, RPC_SC_READV);
}

SEC("tracepoint/syscalls/sys_enter_write")
int handle_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((int)ARG(0), ARG(1), 0, RPC_EV_DIR_OUT, RPC_SC_WRITE);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int handle_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((int)ARG(0), ARG(1), 0, RPC_EV_DIR_OUT, RPC_SC_SENDTO);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int handle_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((int)ARG(0), ARG(1), ARG(2), RPC_EV_DIR_OUT, RPC_SC_WRITEV);
}

/* recvmsg/sendmsg: the iovec array and its length come from the user's struct msghdr. */
static __always_inline int on_enter_msg(struct trace_event_raw_sys_enter *ctx, __u8 dir, __u8 sc)
{
	struct user_msghdr msg;

	if (bpf_probe_read_user(&msg, sizeof(msg), (void *)ARG(1)))
		return 0;
	if (!msg.msg_iov || !msg.msg_iovlen)
		return 0;
	return on_enter((int)ARG(0), (__u64)msg.msg_iov, msg.msg_iovlen, dir, sc);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int handle_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter_msg(ctx, RPC_EV_DIR_IN, RPC_SC_RECVMSG);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int handle_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter_msg(ctx, RPC_EV_DIR_OUT, RPC_SC_SENDMSG);
}

/* One exit handler body for all eight: pendings tells what the entry saw. */
#define EXIT_HANDLER(name)                                                   \
	SEC("tracepoint/syscalls/sys_exit_" #name)                           \
	int handle_exit_##name(struct trace_event_raw_sys_exit *ctx)         \
	{                                                                    \
		return on_exit(ctx->ret);                                    \
	}
EXIT_HANDLER(read)
EXIT_HANDLER(recvfrom)
EXIT_HANDLER(readv)
EXIT_HANDLER(recvmsg)
EXIT_HANDLER(write)
EXIT_HANDLER(sendto)
EXIT_HANDLER(writev)
EXIT_HANDLER(sendmsg)

/* close: forget the fd (its number will be reused) and tell user space the connection ended. */
SEC("tracepoint/syscalls/sys_enter_close")
int handle_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	struct rpc_conn_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .fd = (int)ARG(0) };
	struct rpc_conn_val *c = bpf_map_lookup_elem(&conns, &key);

	if (!c)
		return 0;
	if (c->server)
		emit_small(RPC_EV_CLOSE, key.fd, c);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* accept: a new connection on a (possibly reused) fd number; drop any stale negative entry so
 * the next read resolves the new socket. */
static __always_inline int on_accept_exit(long ret)
{
	struct rpc_conn_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .fd = (int)ret };

	if (ret >= 0)
		bpf_map_delete_elem(&conns, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int handle_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int handle_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}

/* A traced process's new process is traced too (workers, a supervisor restarting the node). */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 one = 1;

	if (!filter_targets || ctgid == ptgid || !bpf_map_lookup_elem(&targets, &ptgid))
		return 0;
	bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
	emit_small(RPC_EV_FORK, (__s32)ctgid, NULL);
	return 0;
}

static __always_inline bool comm_matches(const char *comm)
{
	for (int i = 0; i < RPC_COMM_LEN; i++) {
		if (comm[i] != target_comm[i])
			return false;
		if (!comm[i])
			return true;
	}
	return true;
}

/* exec: report it (user space matches --exe paths), and trace a --comm match at once so the
 * first calls of a restarted node are not missed. The filename follows the header. */
SEC("tracepoint/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, off;
	struct scratch *s = get_scratch();
	long n;

	if (!s)
		return 0;
	__builtin_memset(&s->ev, 0, sizeof(s->ev));
	bpf_get_current_comm(s->ev.comm, sizeof(s->ev.comm));
	if (filter_targets && target_comm[0] && comm_matches(s->ev.comm)) {
		__u8 one = 1;
		bpf_map_update_elem(&targets, &tgid, &one, BPF_ANY);
	}
	off = ctx->__data_loc_filename & 0xFFFF;
	n = bpf_probe_read_kernel_str(s->data, RPC_PATH_LEN, (void *)ctx + off);
	if (n < 0)
		n = 0;
	s->ev.kind = RPC_EV_EXEC;
	s->ev.ts_ns = bpf_ktime_get_ns();
	s->ev.tgid = tgid;
	s->ev.tid = (__u32)id;
	s->ev.total_len = (__u32)n;
	s->ev.cap_len = (__u32)n;
	if (bpf_ringbuf_output(&events, s, sizeof(s->ev) + (n & (RPC_PATH_LEN - 1)), rb_flags()))
		count(RPC_CNT_LOST);
	else
		count(RPC_CNT_EVENTS);
	return 0;
}

/* exit of a process (its leader thread): stop tracing it; user space drops its connections. */
SEC("tracepoint/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if ((__u32)id != tgid)
		return 0;
	if (filter_targets ? bpf_map_delete_elem(&targets, &tgid) == 0 : false)
		emit_small(RPC_EV_EXIT, -1, NULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
