// SPDX-License-Identifier: GPL-2.0-only
/*
 * vigil rpc, kernel half: socket-level capture of a JSON-RPC server's traffic.
 *
 * For every read-like or write-like syscall that moved bytes on a TCP connection whose local
 * port is one of the server ports, it copies the first `capture` bytes into the ring buffer with
 * the full length. No kprobes (our kernels may lack them): two sets of hooks, one per mode, the
 * tracer loads one of them (rpc_bpf_prepare()):
 *
 * - socket mode (kernels with the sock_send_length/sock_recv_length tracepoints, 6.4 and later):
 *   tp_btf programs on those two tracepoints run for socket I/O only, with the socket and the
 *   bytes moved; the syscall's number and arguments come from the task's saved user registers
 *   (bpf_task_pt_regs), the connection's identity is the socket cookie, and inet_sock_set_state
 *   to TCP_CLOSE ends it. Nothing else of the machine pays: no syscall tracepoint is enabled.
 * - syscall mode (older kernels, or --hook syscall): one program on the raw syscall exit
 *   tracepoint (tp_btf/sys_exit) sees every syscall's number, arguments and result; whether a
 *   (tgid, fd) is a server connection is resolved once through the task's fd table and
 *   remembered in an LRU hash, which accept (at its exit) and close (at its entry,
 *   sys_enter_close) keep right when fd numbers are reused. Enabling any syscall tracepoint
 *   sends every syscall of every task through the tracepoint slow path: the "floor" that
 *   bench/RESULTS.md measures.
 *
 * Connections opened before vigil started are found the same way in both, on their first I/O.
 * Why one exit program rather than the per-syscall sys_enter_X/sys_exit_X tracepoints: those ran
 * two programs per syscall (entry saved the arguments in a hash map for the exit), each through
 * perf's syscall event path (bench/RESULTS.md, "vigil rpc", has the measurements).
 *
 * Which processes: all of them (the port filter alone) unless user space filled `target_bits`
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
#define SOCK_STREAM 1
#define MSG_PEEK 2

/* Tunables set by user space before load. */
const volatile __u32 capture = 4096;	 /* bytes per syscall, <= RPC_MAX_CAPTURE */
const volatile bool filter_targets = false; /* true: only tgids in `targets` / cgroups */
const volatile bool filter_cgroups = false;
const volatile char target_comm[RPC_COMM_LEN] = {};
/* enum rpc_syscall by syscall number, 0 for the syscalls of no interest. User space fills it
 * from <sys/syscall.h> (rpc_bpf_prepare()), so the numbers are the running architecture's. */
const volatile __u8 sc_kind[RPC_MAX_NR] = {};
/* Wake user space only once this many bytes wait in the ring buffer (0: for every record).
 * A wake-up per record costs the tracer an epoll round trip per syscall; batching them halves its
 * CPU per call. The tracer drains on a short timer, so a quiet buffer is not left waiting. */
const volatile __u64 wakeup_bytes = 0;
/* The server ports (host order) as a bitmap: socket mode tests it on every socket I/O of the
 * machine, so a byte load, no helper. User space sets it after load through the mmap'd .bss
 * (rpc_bpf_add_port()). */
__u8 port_bits[65536 / 8];

static __always_inline bool is_server_port(__u16 port)
{
	return port_bits[port >> 3] & (1 << (port & 7));
}
/* True while the ring buffer is below wakeup_bytes or no wake-up was sent since (see rb_flags). */
static bool rb_armed = true;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* The traced processes (--pid/--comm/--exe and their children) as a bitmap by tgid: one bit
 * test on every captured socket I/O instead of a hash lookup (which cost about 100 ns there).
 * 512 KiB of .bss; user space sets bits through the mmap'd map (rpc_bpf_add_target()), the
 * fork, exec and exit programs with atomic operations. */
__u64 target_bits[RPC_MAX_TGID / 64];

/* The word of @tgid's bit, or NULL past the bitmap. The bound is tested on the index itself
 * (pinned by the empty asm): clang would otherwise recompute it from the unchecked id. */
static __always_inline __u64 *target_word(__u32 tgid)
{
	__u64 idx = tgid / 64;

	asm volatile("" : "+r"(idx));
	if (idx >= RPC_MAX_TGID / 64)
		return NULL;
	return &target_bits[idx];
}

static __always_inline bool is_target(__u32 tgid)
{
	__u64 *w = target_word(tgid);

	return w && (*w & (1ULL << (tgid % 64)));
}

static __always_inline void set_target(__u32 tgid)
{
	__u64 *w = target_word(tgid);

	if (w)
		__sync_fetch_and_or(w, 1ULL << (tgid % 64));
}

/* Clears @tgid's bit; true when it was set. */
static __always_inline bool clear_target(__u32 tgid)
{
	__u64 bit = 1ULL << (tgid % 64), *w = target_word(tgid);

	return w && (__sync_fetch_and_and(w, ~bit) & bit);
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64); /* cgroup id */
	__type(value, __u8);
} cgroups SEC(".maps");

/* Every (tgid, fd) seen: server connections and, as a negative cache, everything else. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct rpc_conn_key);
	__type(value, struct rpc_conn_val);
} conns SEC(".maps");

/* The record under construction. Twice the capture bound, so that the verifier can prove
 * `off + chunk` stays inside it while iovecs are appended (off < MAX and chunk <= MAX).
 * At 32 KiB + 80 bytes it is over the per-CPU allocator's 32 KiB unit, so this is a plain
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

/*
 * The wake-up flag for the next record: none until wakeup_bytes wait, then one forced wake-up,
 * then none until the tracer has drained the buffer below the mark again. Forcing one for every
 * record past the mark (as this did first), or for every consumer position (libbpf moves it per
 * record it consumes), raised an irq_work self-IPI per syscall while the woken tracer had not
 * caught up, which on a busy machine is most of the time. rb_armed is shared by all CPUs without
 * a lock: a race can send a second wake-up, or delay one until the next record or the tracer's
 * --drain timer, both harmless. It is written only when it changes, so the common path reads a
 * cache line that no CPU keeps writing.
 */
static __always_inline __u64 rb_flags(void)
{
	if (!wakeup_bytes)
		return 0;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < wakeup_bytes) {
		if (!rb_armed)
			rb_armed = true;
		return BPF_RB_NO_WAKEUP;
	}
	if (!rb_armed)
		return BPF_RB_NO_WAKEUP;
	rb_armed = false;
	return BPF_RB_FORCE_WAKEUP;
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
	if (filter_targets && is_target(tgid))
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
 * connection of a traced process. Two threads of the process meeting a new connection at once
 * both resolve it; the first insert wins (BPF_NOEXIST) and both go on with its entry, so the
 * connection keeps one conn_id. */
static __always_inline struct rpc_conn_val *lookup_conn(struct rpc_conn_key *key)
{
	struct rpc_conn_val *val, nv = {};

	val = bpf_map_lookup_elem(&conns, key);
	if (val)
		return val->server ? val : NULL;
	if (resolve_socket(key->fd, &nv) == 0 && is_server_port(nv.lport)) {
		nv.server = 1;
		nv.conn_id = __sync_fetch_and_add(&next_conn_id, 1) + 1;
		bpf_get_current_comm(nv.comm, sizeof(nv.comm));
	}
	if (bpf_map_update_elem(&conns, key, &nv, BPF_NOEXIST) == 0 && nv.server)
		count(RPC_CNT_CONNS);
	val = bpf_map_lookup_elem(&conns, key);
	return val && val->server ? val : NULL;
}

static __always_inline void fill_conn(struct rpc_event *ev, const struct rpc_conn_val *c)
{
	ev->conn_id = c->conn_id;
	ev->family = c->family;
	ev->lport = c->lport;
	ev->rport = c->rport;
	__builtin_memcpy(ev->raddr, c->raddr, 16);
	__builtin_memcpy(ev->comm, c->comm, RPC_COMM_LEN);
}

#define MAX_IOV 8

/*
 * The data record of a read-like (dir IN) or write-like (dir OUT) syscall that moved @ret > 0
 * bytes on file descriptor @fd, in @s whose connection fields (conn_id, family, ports, raddr,
 * comm) the caller filled: the first `capture` of them, from the plain buffer @buf or, when
 * @iovcnt > 0, from the iovec array @buf, gathered until the capture is full.
 */
static __always_inline void emit_data(struct scratch *s, __u64 id, int fd, __u64 buf,
				      __u64 iovcnt, long ret, __u8 sc)
{
	__u64 want, off = 0;

	want = (__u64)ret < capture ? (__u64)ret : capture;
	if (want > RPC_MAX_CAPTURE)
		want = RPC_MAX_CAPTURE;
	if (!iovcnt) {
		if (bpf_probe_read_user(s->data, want & (2 * RPC_MAX_CAPTURE - 1), (void *)buf))
			want = 0;
		off = want;
	} else {
		struct iovec iovs[MAX_IOV];
		__u64 niov = iovcnt < MAX_IOV ? iovcnt : MAX_IOV;

		/* the whole array in one read: each helper call costs more than its bytes */
		if (bpf_probe_read_user(iovs, niov * sizeof(iovs[0]), (void *)buf))
			niov = 0;
		for (__u32 i = 0; i < MAX_IOV; i++) {
			const struct iovec *iov = &iovs[i];
			__u64 chunk;

			if (i >= niov || off >= want)
				break;
			chunk = iov->iov_len < want - off ? iov->iov_len : want - off;
			off &= RPC_MAX_CAPTURE - 1;
			/* clang would test a copy of chunk and pass the unchecked register to the
			 * helper; the empty asm pins the value so the bound check and the use are
			 * the same register, which is what the verifier needs to see */
			asm volatile("" : "+r"(chunk));
			if (chunk > RPC_MAX_CAPTURE)
				break;
			asm volatile("" : "+r"(chunk));
			if (bpf_probe_read_user(s->data + off, chunk, iov->iov_base))
				break;
			off += chunk;
		}
	}
	if (off > RPC_MAX_CAPTURE)
		off = RPC_MAX_CAPTURE;
	s->ev.kind = RPC_EV_DATA;
	s->ev.ts_ns = bpf_ktime_get_ns();
	s->ev.tgid = id >> 32;
	s->ev.tid = (__u32)id;
	s->ev.fd = fd;
	s->ev.total_len = (__u32)ret;
	s->ev.cap_len = (__u32)off;
	s->ev.dir = sc >= RPC_SC_WRITE && sc <= RPC_SC_SENDMSG ? RPC_EV_DIR_OUT : RPC_EV_DIR_IN;
	s->ev.syscall = sc;
	if ((__u64)ret > off)
		count(RPC_CNT_TRUNCATED);
	if (bpf_ringbuf_output(&events, s, sizeof(s->ev) + (off & (2 * RPC_MAX_CAPTURE - 1)),
			       rb_flags()))
		count(RPC_CNT_LOST);
	else
		count(RPC_CNT_EVENTS);
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
	else
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, rb_flags());
	count(RPC_CNT_EVENTS);
}

/* The syscall number and arguments as the task passed them: the exit tracepoint gets the saved
 * user registers, which the kernel leaves untouched but for the return value. */
#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) ((regs)->orig_ax)
/* direct loads through the BTF pointer (no probe-read helper calls) */
#define SYSCALL_ARG1(regs) ((regs)->di)
#define SYSCALL_ARG2(regs) ((regs)->si)
#define SYSCALL_ARG3(regs) ((regs)->dx)
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) ((regs)->syscallno)
#define SYSCALL_ARG1(regs) ((regs)->orig_x0)
#define SYSCALL_ARG2(regs) ((regs)->regs[1])
#define SYSCALL_ARG3(regs) ((regs)->regs[2])
#else
#error "rpc.bpf.c: define SYSCALL_NR for this architecture"
#endif

/*
 * A 32-bit (compat) syscall's number means another syscall (ia32 read is x86-64 close): skip
 * it. TS_COMPAT is what the kernel's in_ia32_syscall() tests; it also covers a 64-bit task's
 * int 0x80 calls, which the code segment in the saved registers would not (and Xen PV guests run
 * user code with other segment selectors). x32 numbers carry a high bit and already fail the
 * table's bounds check. Other architectures' 32-bit tasks are not told apart.
 */
static __always_inline bool compat_syscall(void)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct *task = bpf_get_current_task_btf();

	return task->thread_info.status & 0x0002 /* TS_COMPAT */;
#else
	return false;
#endif
}

/*
 * Every syscall of every task exits through here, so the order of the tests is the cost: the
 * syscall number against a read-only table (one bounds check, one byte load, no helper), then
 * the result (a read that returned EAGAIN moved nothing), then the process filter and the compat
 * flag, and only then the connection lookup. accept only keeps the connection cache right.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 nr = SYSCALL_NR(regs), id, buf, iovcnt = 0;
	struct rpc_conn_key key;
	struct rpc_conn_val *c;
	struct scratch *sp;
	__u8 sc;

	if (nr >= RPC_MAX_NR)
		return 0;
	sc = sc_kind[nr];
	if (!sc || ret <= 0)
		return 0;
	id = bpf_get_current_pid_tgid();
	key.tgid = id >> 32;
	if (!traced(key.tgid) || compat_syscall())
		return 0;
	if (sc == RPC_SC_ACCEPT || sc == RPC_SC_ACCEPT4) {
		/* a new connection on a (possibly reused) fd number: drop any stale entry so
		 * the next read resolves the new socket */
		key.fd = (int)ret;
		bpf_map_delete_elem(&conns, &key);
		return 0;
	}
	key.fd = (int)SYSCALL_ARG1(regs);
	c = lookup_conn(&key);
	if (!c)
		return 0;
	buf = SYSCALL_ARG2(regs);
	if (sc == RPC_SC_READV || sc == RPC_SC_WRITEV) {
		iovcnt = SYSCALL_ARG3(regs);
	} else if (sc == RPC_SC_RECVMSG || sc == RPC_SC_SENDMSG) {
		/* the iovec array and its length come from the user's struct msghdr, whose
		 * msg_iov and msg_iovlen the kernel leaves as they were */
		struct user_msghdr msg;

		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)buf) || !msg.msg_iov ||
		    !msg.msg_iovlen)
			return 0;
		buf = (__u64)msg.msg_iov;
		iovcnt = msg.msg_iovlen;
	}
	sp = get_scratch();
	if (!sp)
		return 0;
	fill_conn(&sp->ev, c); /* with the comm of the thread that found the connection */
	emit_data(sp, id, key.fd, buf, iovcnt, ret, sc);
	return 0;
}

/*
 * close: forget the fd and tell user space the connection ended, at the syscall's entry, while
 * the fd still names the connection. At the exit another thread could already have been given
 * the same fd number (accept returns the lowest free one) and made the entry its own. The
 * per-syscall tracepoint runs for close() only; the other syscalls' entries pay a bitmap test.
 */
SEC("tracepoint/syscalls/sys_enter_close")
int handle_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	struct rpc_conn_key key = { .tgid = bpf_get_current_pid_tgid() >> 32,
				    .fd = (int)ctx->args[0] };
	struct rpc_conn_val *c = bpf_map_lookup_elem(&conns, &key);

	if (!c)
		return 0;
	if (c->server)
		emit_small(RPC_EV_CLOSE, key.fd, c);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* ---- socket mode ---- */

/* A TCP socket whose local port is a server port (a server connection, or the listener). */
static __always_inline bool server_sock(const struct sock *sk)
{
	if (!is_server_port(sk->__sk_common.skc_num))
		return false;
	return sk->sk_protocol == IPPROTO_TCP && sk->sk_type == SOCK_STREAM;
}

/* The connection's addresses as the records carry them. */
static __always_inline void sock_conn(struct sock *sk, struct rpc_event *ev)
{
	ev->family = sk->__sk_common.skc_family;
	ev->lport = sk->__sk_common.skc_num;
	ev->rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (ev->family == AF_INET) {
		__u32 a = sk->__sk_common.skc_daddr;
		__builtin_memcpy(ev->raddr, &a, 4);
	} else {
		BPF_CORE_READ_INTO(&ev->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

/*
 * Bytes read (@out false) or written on socket @sk by the current task, @ret of them. The
 * tracepoint sits in sock_recvmsg_nosec/sock_sendmsg_nosec, inside the syscall, after the data
 * moved: the user buffer the syscall named holds exactly those bytes. Which buffer comes from
 * the syscall's saved registers; I/O through anything but the eight read/write-like syscalls
 * (io_uring, sendfile, splice, recvmmsg) is counted and skipped.
 */
static __always_inline void sock_io(struct sock *sk, int ret, int flags, bool out)
{
	struct task_struct *task;
	struct scratch *s;
	struct pt_regs *regs;
	__u64 nr, id, buf, iovcnt = 0;
	__u8 sc;

	if (ret <= 0 || (flags & MSG_PEEK) || !server_sock(sk))
		return;
	id = bpf_get_current_pid_tgid();
	if (!traced(id >> 32) || compat_syscall())
		return;
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	nr = SYSCALL_NR(regs);
	sc = nr < RPC_MAX_NR ? sc_kind[nr] : 0;
	if (!sc || sc > RPC_SC_SENDMSG || (sc >= RPC_SC_WRITE) != out) {
		count(RPC_CNT_UNSUPPORTED);
		return;
	}
	buf = SYSCALL_ARG2(regs);
	if (sc == RPC_SC_READV || sc == RPC_SC_WRITEV) {
		iovcnt = SYSCALL_ARG3(regs);
	} else if (sc == RPC_SC_RECVMSG || sc == RPC_SC_SENDMSG) {
		struct user_msghdr msg;

		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)buf) || !msg.msg_iov ||
		    !msg.msg_iovlen)
			return;
		buf = (__u64)msg.msg_iov;
		iovcnt = msg.msg_iovlen;
	}
	s = get_scratch();
	if (!s)
		return;
	/* the connection's fields straight into the record: loads through the socket and
	 * task pointers, no helper calls but the cookie's */
	if (!sk->__sk_common.skc_cookie.counter)
		count(RPC_CNT_CONNS); /* no cookie yet: the first I/O anyone traced on it */
	s->ev.conn_id = bpf_get_socket_cookie(sk);
	sock_conn(sk, &s->ev);
	__builtin_memcpy(s->ev.comm, task->comm, RPC_COMM_LEN);
	emit_data(s, id, (int)SYSCALL_ARG1(regs), buf, iovcnt, ret, sc);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(handle_sock_recv, struct sock *sk, int ret, int flags)
{
	sock_io(sk, ret, flags, false);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(handle_sock_send, struct sock *sk, int ret, int flags)
{
	sock_io(sk, ret, flags, true);
	return 0;
}

/*
 * The end of a server connection: the server closed it (its state leaves ESTABLISHED for
 * FIN_WAIT1, or CLOSE_WAIT for LAST_ACK: after its last byte, in the closing task's context, as
 * syscall mode's close), or it was reset or aborted (straight to TCP_CLOSE). The later
 * transitions of a connection already ended (FIN_WAIT2, TIME_WAIT, TCP_CLOSE from LAST_ACK) say
 * nothing new. A socket without a cookie was never traced.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_sock_state, struct sock *sk, int oldstate, int newstate)
{
	struct rpc_conn_val c = {};

	if (newstate != TCP_FIN_WAIT1 && newstate != TCP_LAST_ACK &&
	    (newstate != TCP_CLOSE || (oldstate != TCP_ESTABLISHED && oldstate != TCP_CLOSE_WAIT &&
				       oldstate != TCP_SYN_RECV)))
		return 0;
	if (!server_sock(sk))
		return 0;
	c.conn_id = sk->__sk_common.skc_cookie.counter;
	if (!c.conn_id)
		return 0;
	c.server = 1;
	c.family = sk->__sk_common.skc_family;
	c.lport = sk->__sk_common.skc_num;
	c.rport = bpf_ntohs(sk->__sk_common.skc_dport);
	emit_small(RPC_EV_CLOSE, -1, &c);
	return 0;
}

/* The benchmark's floor (bench/rpc/rpc_floor): empty programs on the socket mode's hooks. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(handle_sock_recv_empty)
{
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(handle_sock_send_empty)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_sock_state_empty)
{
	return 0;
}

/* ---- syscall mode's floor ---- */

/* The benchmark's floor (bench/rpc/rpc_floor): empty programs on the same two syscall hooks,
 * never loaded by the tracer (rpc_bpf_prepare turns their autoload off). */
SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit_empty)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int handle_enter_close_empty(void *ctx)
{
	return 0;
}

/* A traced process's new process is traced too (workers, a supervisor restarting the node). */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;

	if (!filter_targets || ctgid == ptgid || !is_target(ptgid))
		return 0;
	set_target(ctgid);
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
	if (filter_targets && target_comm[0] && comm_matches(s->ev.comm))
		set_target(tgid);
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
	if (filter_targets && clear_target(tgid))
		emit_small(RPC_EV_EXIT, -1, NULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
