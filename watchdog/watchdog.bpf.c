// SPDX-License-Identifier: GPL-2.0-only
/*
 * vigil watchdog, kernel half: per-process syscall rate limiting.
 *
 * Counting happens on the cheapest hook that sees every syscall, the raw tracepoint sys_enter:
 * one array lookup of the config and one byte of its syscall table decide, for every syscall in
 * the system, whether to go further; only a watched syscall pays for the hash lookup and the
 * count. Counts live in the LRU hash `counters`, keyed by TGID (scope=process: all threads share
 * one budget; a forked child is a new TGID with its own) or by cgroup id (scope=cgroup), one fixed
 * window per rule that starts at the first call after the previous one ended.
 *
 * Refusing a call is the job of a second hook that can change a return value, loaded only in the
 * mode the daemon picked: BPF LSM (lsm/file_permission, file_open, socket_*), fmod_ret on the same
 * security_* functions, or a kprobe with bpf_override_return on the syscall functions. Each asks
 * one question, over_limit_now(): is the syscall this task is executing (pt_regs->orig_ax) watched
 * by an enforcing rule whose window for this key is over its limit? sys_enter has already counted
 * the call, so call limit+1 of a window is the first refused one. In throttle and monitor mode no
 * such hook is loaded; the daemon acts on the episode events.
 *
 * Entries are removed when a process's leader exits and when a new process appears (a reused PID
 * must not inherit a budget); exec re-checks the allowlist (comm and exe changed).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "watchdog.h"

#define EPERM 1

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wd_config);
} wd_config SEC(".maps");

/* max_entries is set by user space before load (--max-keys). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WD_MAX_KEYS_DEFAULT);
	__type(key, __u64);
	__type(value, struct wd_entry);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} events SEC(".maps");

/* Over-limit calls per syscall number: vigil_watchdog_blocked_total{syscall}. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WD_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, __u64);
} blocked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WD_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

#define ALLOW_MAP(name, ktype)                                                                    \
	struct {                                                                                  \
		__uint(type, BPF_MAP_TYPE_HASH);                                                  \
		__uint(max_entries, 1024);                                                        \
		__type(key, ktype);                                                               \
		__type(value, __u8);                                                              \
	} name SEC(".maps")

ALLOW_MAP(allow_pid, __u32);
ALLOW_MAP(allow_uid, __u32);
ALLOW_MAP(allow_comm, char[WD_COMM_LEN]);
ALLOW_MAP(allow_cgroup, __u64);
ALLOW_MAP(allow_exe, struct wd_exe_key);

/* The kernel's tick rate, from its config (libbpf reads /proc/config.gz or /boot/config-*);
 * 0 when neither is there. */
extern unsigned int CONFIG_HZ __kconfig __weak;

/*
 * The clock windows are measured with, in nanoseconds. jiffies when the tick rate is known:
 * reading them is a load, where bpf_ktime_get_ns() reads the clocksource and cost about 70 ns
 * per counted call in our VMs (bench/watchdog). Windows are then exact to one tick (4 ms at
 * HZ=250), which rate limiting over hundreds of milliseconds does not notice. The values are
 * not CLOCK_MONOTONIC: events carry the window's end converted with bpf_ktime_get_ns().
 */
static __always_inline __u64 window_clock(void)
{
	if (CONFIG_HZ)
		return bpf_jiffies64() * (1000000000ull / CONFIG_HZ);
	return bpf_ktime_get_ns();
}

/* The value a new counters entry starts from: all zero, so gen 0 forces an allowlist check. */
static const struct wd_entry zero_entry;

/* Per-CPU counters need no atomics; user space sums the CPUs. */
static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

/* The counters key of the calling task: its TGID, or its cgroup with scope=cgroup. */
static __always_inline __u64 current_key(const struct wd_config *cfg, __u32 tgid)
{
	return cfg->scope == WD_SCOPE_CGROUP ? bpf_get_current_cgroup_id() : tgid;
}

/*
 * Whether the calling task is allowlisted. Called once per key and config generation, not per
 * call, so its lookups stay off the hot path; only the maps user space filled are consulted.
 * The exe is matched by inode (no path strings in the kernel), so a renamed or hard-linked copy
 * of an allowlisted binary is still allowed and a different file at the same path is not.
 */
static __always_inline __u32 is_allowed(const struct wd_config *cfg, __u32 tgid)
{
	__u32 mask = cfg->allow_mask;

	if (!mask)
		return 0;
	if ((mask & WD_ALLOW_PID) && bpf_map_lookup_elem(&allow_pid, &tgid))
		return 1;
	if (mask & WD_ALLOW_UID) {
		__u32 uid = (__u32)bpf_get_current_uid_gid();

		if (bpf_map_lookup_elem(&allow_uid, &uid))
			return 1;
	}
	if (mask & WD_ALLOW_COMM) {
		char comm[WD_COMM_LEN] = {};

		bpf_get_current_comm(comm, sizeof(comm));
		if (bpf_map_lookup_elem(&allow_comm, comm))
			return 1;
	}
	if (mask & WD_ALLOW_CGROUP) {
		__u64 cg = bpf_get_current_cgroup_id();

		if (bpf_map_lookup_elem(&allow_cgroup, &cg))
			return 1;
	}
	if (mask & WD_ALLOW_EXE) {
		struct task_struct *task = bpf_get_current_task_btf();
		struct wd_exe_key k = {};

		k.ino = BPF_CORE_READ(task, mm, exe_file, f_inode, i_ino);
		k.dev = BPF_CORE_READ(task, mm, exe_file, f_inode, i_sb, s_dev);
		if (k.ino && bpf_map_lookup_elem(&allow_exe, &k))
			return 1;
	}
	return 0;
}

/*
 * The episode event: sent once per (key, rule, window), by the first call over the limit, so a
 * process hammering a syscall costs one record per window, not one per call. A full ring buffer
 * drops the record and counts it (WD_STAT_LOST): counting and enforcement never depend on it.
 */
static __always_inline void emit(const struct wd_config *cfg, const struct wd_entry *e, __u64 key,
				 __u32 nr, __u32 r, __u32 count, __u64 pid_tgid, __u64 now)
{
	const struct wd_rule *rule = &cfg->rules[r];
	struct wd_event *ev;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_inc(WD_STAT_LOST);
		return;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	/* now - start < window here: sys_enter rolled the window over otherwise. */
	ev->deadline_ns = ev->ts_ns + (e->w[r].start + rule->window_ns - now);
	ev->key = key;
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->win_start = e->w[r].start;
	ev->window_ns = rule->window_ns;
	ev->tgid = pid_tgid >> 32;
	ev->pid = (__u32)pid_tgid;
	ev->uid = (__u32)bpf_get_current_uid_gid();
	ev->nr = nr;
	ev->count = count;
	ev->limit = rule->limit;
	ev->rule = r;
	ev->mode = cfg->mode;
	ev->enforce = rule->enforce;
	ev->kind = WD_EV_EPISODE;
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, 0);
	stat_inc(WD_STAT_EVENTS);
}

/*
 * Counts one call of watched syscall @nr under rule @r. The window is fixed: it starts at the
 * first call after the previous window ended, and the previous window's final count is kept for
 * the daemon's episode report. Concurrency: threads of one process update one entry; the count
 * is an atomic add, but a window reset racing with another thread's add may lose that one call,
 * and the count read back after the add may include other threads' calls (clang without
 * -mcpu=v3 has no fetch-and-add returning the old value), so with threads a call at the limit
 * may be judged over it: a process never gets more than its limit, sometimes a call fewer.
 */
static __always_inline int count_call(const struct wd_config *cfg, __u32 nr, __u32 r)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), key, now;
	__u32 tgid = pid_tgid >> 32, count, *nb;
	const struct wd_rule *rule;
	struct wd_entry *e;
	struct wd_win *w;
	__u64 *b;

	if (tgid == cfg->self_tgid)
		return 0;
	key = current_key(cfg, tgid);
	e = bpf_map_lookup_elem(&counters, &key);
	if (!e) {
		bpf_map_update_elem(&counters, &key, &zero_entry, BPF_NOEXIST);
		e = bpf_map_lookup_elem(&counters, &key);
		if (!e)
			return 0;
		e->tgid = tgid;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		stat_inc(WD_STAT_NEW_KEYS);
	}
	if (e->gen != cfg->gen) {
		e->allowed = is_allowed(cfg, tgid);
		e->gen = cfg->gen;
	}
	if (e->allowed)
		return 0;
	e->total++;
	rule = &cfg->rules[r];
	w = &e->w[r];
	now = window_clock();
	if (now - w->start >= rule->window_ns) {
		w->prev_start = w->start;
		w->prev_count = w->count;
		w->start = now;
		w->count = 0;
		w->reported = 0;
	}
	__sync_fetch_and_add(&w->count, 1);
	count = w->count;
	if (count <= rule->limit)
		return 0;
	b = bpf_map_lookup_elem(&blocked, &nr);
	if (b)
		*b += 1;
	nb = &w->reported;
	if (!*nb) {
		*nb = 1;
		emit(cfg, e, key, nr, r, count, pid_tgid, now);
	}
	return 0;
}

/*
 * Every syscall of every task enters here, so the common path (an unwatched syscall) is one
 * bounds check, one inlined array lookup and one byte load. Raw tracepoint rather than the
 * per-syscall tracepoints: one attachment covers any set of syscalls, and the rule set can
 * change (SIGHUP) without attaching anything.
 */
SEC("raw_tp/sys_enter")
int BPF_PROG(wd_sys_enter, struct pt_regs *regs, long id)
{
	const struct wd_config *cfg;
	__u32 zero = 0;
	__u8 r;

	if ((__u64)id >= WD_MAX_SYSCALLS)
		return 0;
	cfg = bpf_map_lookup_elem(&wd_config, &zero);
	if (!cfg)
		return 0;
	r = cfg->sc_rule[id];
	if (!r)
		return 0;
	return count_call(cfg, (__u32)id, (r - 1) & (WD_MAX_RULES - 1));
}

/* The benchmark's floor: an empty program on the same hook (never loaded by the daemon). */
SEC("raw_tp/sys_enter")
int BPF_PROG(wd_sys_enter_empty)
{
	return 0;
}

/*
 * A process is gone when its leader exits: drop its entry so a reused PID starts fresh. Threads
 * exiting (pid != tgid) keep the shared entry. With scope=cgroup keys are cgroup ids, which a
 * process exit says nothing about.
 */
SEC("tp/sched/sched_process_exit")
int wd_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), key;
	const struct wd_config *cfg;
	struct wd_event *ev;
	struct wd_entry *e;
	__u32 zero = 0;

	if ((__u32)pid_tgid != (__u32)(pid_tgid >> 32))
		return 0;
	cfg = bpf_map_lookup_elem(&wd_config, &zero);
	if (!cfg || cfg->scope != WD_SCOPE_PROCESS)
		return 0;
	key = pid_tgid >> 32;
	e = bpf_map_lookup_elem(&counters, &key);
	if (!e)
		return 0;
	/* Open episodes end here: tell the daemon their final counts, which go with the entry. */
	for (__u32 r = 0; r < WD_MAX_RULES; r++) {
		if (!e->w[r].reported)
			continue;
		ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
		if (!ev) {
			stat_inc(WD_STAT_LOST);
			continue;
		}
		__builtin_memset(ev, 0, sizeof(*ev));
		ev->kind = WD_EV_FINAL;
		ev->key = key;
		ev->tgid = key;
		ev->pid = (__u32)pid_tgid;
		ev->rule = r;
		ev->win_start = e->w[r].start;
		ev->count = e->w[r].count;
		bpf_ringbuf_submit(ev, 0);
	}
	bpf_map_delete_elem(&counters, &key);
	return 0;
}

/*
 * A new process (not a thread) must start with no budget used, even if an entry for its PID
 * survived (its predecessor's leader exited before the other threads did, or the entry was
 * created between that exit and the reuse). Threads share their process's entry.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(wd_fork, struct task_struct *parent, struct task_struct *child)
{
	const struct wd_config *cfg;
	__u32 zero = 0;
	__u64 key;

	if (child->pid != child->tgid)
		return 0;
	cfg = bpf_map_lookup_elem(&wd_config, &zero);
	if (!cfg || cfg->scope != WD_SCOPE_PROCESS)
		return 0;
	key = (__u32)child->tgid;
	bpf_map_delete_elem(&counters, &key);
	return 0;
}

/* exec changes comm and exe: make the next counted call re-check the allowlist. The budget
 * itself is kept, so exec'ing oneself does not reset a window. */
SEC("tp/sched/sched_process_exec")
int wd_exec(void *ctx)
{
	const struct wd_config *cfg;
	struct wd_entry *e;
	__u32 zero = 0;
	__u64 key;

	cfg = bpf_map_lookup_elem(&wd_config, &zero);
	if (!cfg)
		return 0;
	key = current_key(cfg, bpf_get_current_pid_tgid() >> 32);
	e = bpf_map_lookup_elem(&counters, &key);
	if (e) {
		e->gen = 0;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	return 0;
}

/*
 * The enforcing hooks' one question: is the syscall the current task is executing watched by an
 * enforcing rule whose current window for this key is over the limit? The syscall number comes
 * from the task's saved user registers (orig_ax), so a hook shared by many syscalls (file
 * permission checks happen for read, write, getdents, sendfile, exec...) refuses only the calls
 * the rules name. No time check: sys_enter of this very call already rolled the window over.
 */
static __always_inline bool over_limit_now(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct wd_config *cfg;
	const struct wd_entry *e;
	__u32 zero = 0, r;
	__u64 nr, key;

	cfg = bpf_map_lookup_elem(&wd_config, &zero);
	if (!cfg)
		return false;
	nr = BPF_CORE_READ((struct pt_regs *)bpf_task_pt_regs(task), orig_ax);
	if (nr >= WD_MAX_SYSCALLS)
		return false;
	r = cfg->sc_rule[nr];
	if (!r)
		return false;
	r = (r - 1) & (WD_MAX_RULES - 1);
	if (!cfg->rules[r].enforce)
		return false;
	key = current_key(cfg, bpf_get_current_pid_tgid() >> 32);
	e = bpf_map_lookup_elem(&counters, &key);
	if (!e || e->allowed)
		return false;
	return e->w[r].count > cfg->rules[r].limit;
}

/*
 * One program per hook and mode. LSM and fmod_ret programs receive the previous program's (or
 * the LSM chain's) verdict as their last argument and must keep a refusal someone else made.
 * The argument lists only need the right count; the values are not used.
 */
#define DENY_PROG(sec, name, ...)                                                                 \
	SEC(sec)                                                                                  \
	int BPF_PROG(name, __VA_ARGS__, int ret)                                                  \
	{                                                                                         \
		if (ret)                                                                          \
			return ret;                                                               \
		return over_limit_now() ? -EPERM : 0;                                             \
	}

DENY_PROG("lsm/file_permission", wd_lsm_file_perm, __u64 a, __u64 b)
DENY_PROG("lsm/file_open", wd_lsm_file_open, __u64 a)
DENY_PROG("lsm/socket_create", wd_lsm_sk_create, __u64 a, __u64 b, __u64 c, __u64 d)
DENY_PROG("lsm/socket_bind", wd_lsm_sk_bind, __u64 a, __u64 b, __u64 c)
DENY_PROG("lsm/socket_connect", wd_lsm_sk_connect, __u64 a, __u64 b, __u64 c)
DENY_PROG("lsm/socket_listen", wd_lsm_sk_listen, __u64 a, __u64 b)
DENY_PROG("lsm/socket_accept", wd_lsm_sk_accept, __u64 a, __u64 b)
DENY_PROG("lsm/socket_sendmsg", wd_lsm_sk_send, __u64 a, __u64 b, __u64 c)
DENY_PROG("lsm/socket_recvmsg", wd_lsm_sk_recv, __u64 a, __u64 b, __u64 c, __u64 d)

DENY_PROG("fmod_ret/security_file_permission", wd_fmr_file_perm, __u64 a, __u64 b)
DENY_PROG("fmod_ret/security_file_open", wd_fmr_file_open, __u64 a)
DENY_PROG("fmod_ret/security_socket_create", wd_fmr_sk_create, __u64 a, __u64 b, __u64 c, __u64 d)
DENY_PROG("fmod_ret/security_socket_bind", wd_fmr_sk_bind, __u64 a, __u64 b, __u64 c)
DENY_PROG("fmod_ret/security_socket_connect", wd_fmr_sk_connect, __u64 a, __u64 b, __u64 c)
DENY_PROG("fmod_ret/security_socket_listen", wd_fmr_sk_listen, __u64 a, __u64 b)
DENY_PROG("fmod_ret/security_socket_accept", wd_fmr_sk_accept, __u64 a, __u64 b)
DENY_PROG("fmod_ret/security_socket_sendmsg", wd_fmr_sk_send, __u64 a, __u64 b, __u64 c)
DENY_PROG("fmod_ret/security_socket_recvmsg", wd_fmr_sk_recv, __u64 a, __u64 b, __u64 c, __u64 d)

/*
 * kprobe mode: attached by user space to the __x64_sys_<name> function of each enforced
 * syscall; bpf_override_return skips the function and makes the syscall return -EPERM. Needs
 * CONFIG_BPF_KPROBE_OVERRIDE, which no Debian kernel has: kept so the probe can say so, and for
 * kernels built with it.
 */
SEC("kprobe")
int wd_kprobe_deny(struct pt_regs *ctx)
{
	if (over_limit_now())
		bpf_override_return(ctx, -EPERM);
	return 0;
}
