// SPDX-License-Identifier: GPL-2.0-only
/*
 * vigil watchdog, kernel half: per-process syscall rate limiting.
 *
 * Counting happens on the cheapest hook that sees every syscall, sys_enter (tp_btf, or the raw
 * tracepoint where the loader is asked to): the rules live in a global variable (`wd_cfg`, in
 * .bss, which user space writes through the skeleton's mmap), so deciding whether a syscall is
 * watched is one byte load with no helper call; only a watched syscall goes further. Per-process
 * counts (scope=process: all threads share one budget, a forked child has its own) live in the
 * slot table `slots`, indexed by TGID % WD_SLOTS and owned by the TGID written in the slot; a
 * process whose slot another one holds counts in task-local storage on its thread-group leader
 * (`task_counters`), and where the kernel has no task storage, in the LRU hash `counters`, which
 * also holds the per-cgroup counts of scope=cgroup. One fixed window per rule starts at the first
 * call after the previous one ended.
 *
 * Refusing a call is the job of a second hook that can change a return value, loaded only in the
 * mode the daemon picked: BPF LSM (lsm/file_permission, file_open, socket_*), fmod_ret on the same
 * security_* functions, or a kprobe with bpf_override_return on the syscall functions. Each asks
 * one question, over_limit_now(): is the syscall this task is executing (pt_regs->orig_ax) watched
 * by an enforcing rule whose window for this key is over its limit? sys_enter has already counted
 * the call, so call limit+1 of a window is the first refused one. In throttle and monitor mode no
 * such hook is loaded; the daemon acts on the episode events.
 *
 * Slots and hash entries are freed when a process's leader exits and when a new process appears
 * (a reused PID must not inherit a budget); task-local entries need neither. exec re-checks the
 * allowlist (comm and exe changed).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "watchdog.h"

#define EPERM 1

char LICENSE[] SEC("license") = "GPL";

/*
 * The rules. A global rather than a one-element array map: the program reads it at a fixed
 * address, with no lookup and no NULL check (the verifier inlined the array lookup already, so
 * the bench measures no difference: this is for simplicity). User space rewrites it in place on
 * SIGHUP; a program running meanwhile may see a mix of old and new rules for one call, as it
 * could with a map update; `gen` is written last.
 */
struct wd_config wd_cfg;

/*
 * Where per-process counters live, set before load (the verifier folds these read-only values,
 * so the branches not taken are never loaded):
 *   use_slots       the slot table first (the default);
 *   use_task_store  task-local storage: behind the slots for the processes whose slot another
 *                   process holds, or alone. 0 where the kernel has no task storage (the loader
 *                   then turns task_counters into a small hash the program never touches);
 * and the LRU hash for everything else (and for scope=cgroup).
 */
const volatile __u32 use_slots = 1;
const volatile __u32 use_task_store = 1;

/*
 * The slot table: one struct wd_entry per TGID % WD_SLOTS, owned by the TGID written in it. The
 * hot path's lookup: an array lookup the verifier inlines (no helper call, no hashing), which on
 * our host costs about 55 ns less per counted call than task storage and 60 ns less than the
 * hash (bench/watchdog). A process whose slot another live process holds falls back to the next
 * store. A slot is claimed with compare-and-swap on its owner and freed (owner 0, written last)
 * when its process's leader exits or a new process with its TGID appears.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WD_SLOTS);
	__type(key, __u32);
	__type(value, struct wd_entry);
} slots SEC(".maps");

/* Per-process counters where task storage is used: one struct wd_entry on each thread-group
 * leader, created by the first counted call of any of its threads, freed with the task. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wd_entry);
} task_counters SEC(".maps");

/* The LRU hash: scope=cgroup, and scope=process without task storage. max_entries is set by user
 * space before load (--max-keys). */
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

/* The hash key of the calling task: its TGID, or its cgroup with scope=cgroup. */
static __always_inline __u64 current_key(__u32 tgid)
{
	return wd_cfg.scope == WD_SCOPE_CGROUP ? bpf_get_current_cgroup_id() : tgid;
}

/* Whether per-process counters may be in the slots / in task-local storage (else in the hash). */
static __always_inline bool slot_store(void)
{
	return use_slots && wd_cfg.scope == WD_SCOPE_PROCESS;
}

static __always_inline bool task_store(void)
{
	return use_task_store && wd_cfg.scope == WD_SCOPE_PROCESS;
}

/* The slot of @tgid (never NULL in practice: the index is masked into the table). */
static __always_inline struct wd_entry *slot_of(__u32 tgid)
{
	__u32 i = tgid & (WD_SLOTS - 1);

	return bpf_map_lookup_elem(&slots, &i);
}

/*
 * Frees @e, a slot its owner no longer needs: counts first, the owner last (the compiler barrier
 * keeps the order; x86 keeps stores in order), so a process claiming it finds it zeroed.
 */
static __always_inline void slot_free(struct wd_entry *e)
{
	__builtin_memset(e->w, 0, sizeof(e->w));
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	e->gen = 0;
	e->total = 0;
	e->allowed = 0;
	asm volatile("" ::: "memory");
	e->tgid = 0;
}

/*
 * The calling process's task-local entry, on its thread-group leader so every thread finds the
 * same one. The leader's task_struct outlives the other threads (a leader that exits first stays
 * a zombie until the last thread is reaped), so the pointer is always valid here. @create makes
 * a zeroed entry. Of two threads creating it at once, one gets NULL (the kernel's update fails
 * with -EEXIST): the caller looks again without creating.
 */
static __always_inline struct wd_entry *task_entry(__u64 create)
{
	struct task_struct *leader = bpf_get_current_task_btf()->group_leader;

	return bpf_task_storage_get(&task_counters, leader, 0, create);
}

/* The calling task's entry without creating one: its slot (*@in_slot set), task storage or the
 * hash. */
static __always_inline struct wd_entry *current_entry(bool *in_slot)
{
	__u64 key;

	*in_slot = false;
	if (slot_store()) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		struct wd_entry *e = slot_of(tgid);

		if (e && e->tgid == tgid) {
			*in_slot = true;
			return e;
		}
	}
	if (task_store())
		return task_entry(0);
	key = current_key(bpf_get_current_pid_tgid() >> 32);
	return bpf_map_lookup_elem(&counters, &key);
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
 * The calling task's entry, created on its first counted call: its slot when it owns it or can
 * claim it, else task-local storage on the leader (a new entry is all zero, so tgid 0 marks it
 * unset), else the hash. *@key is what events carry: the TGID, or the cgroup id with
 * scope=cgroup. Two threads of a new process may both claim the slot: the loser's
 * compare-and-swap returns their own TGID, and both use it.
 */
static __always_inline struct wd_entry *entry_for_count(__u32 tgid, __u64 *key)
{
	struct wd_entry *e;

	if (slot_store()) {
		*key = tgid;
		e = slot_of(tgid);
		if (e && e->tgid == tgid)
			return e;
		if (e && !e->tgid) {
			__u32 owner = __sync_val_compare_and_swap(&e->tgid, 0, tgid);

			if (owner == 0) {
				bpf_get_current_comm(e->comm, sizeof(e->comm));
				stat_inc(WD_STAT_NEW_KEYS);
				return e;
			}
			if (owner == tgid)
				return e;
		}
		stat_inc(WD_STAT_SLOT_TAKEN);
	}
	if (task_store()) {
		*key = tgid;
		e = task_entry(BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!e) /* another thread created it first: its create returned -EEXIST */
			e = task_entry(0);
		if (e && !e->tgid) {
			e->tgid = tgid;
			bpf_get_current_comm(e->comm, sizeof(e->comm));
			stat_inc(WD_STAT_NEW_KEYS);
		}
		return e;
	}
	*key = current_key(tgid);
	e = bpf_map_lookup_elem(&counters, key);
	if (e)
		return e;
	bpf_map_update_elem(&counters, key, &zero_entry, BPF_NOEXIST);
	e = bpf_map_lookup_elem(&counters, key);
	if (e) {
		e->tgid = tgid;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		stat_inc(WD_STAT_NEW_KEYS);
	}
	return e;
}

/*
 * Counts one call of watched syscall @nr under rule @r. The window is fixed: it starts at the
 * first call after the previous window ended, and the previous window's final count is kept for
 * the daemon's episode report. Concurrency: threads of one process update one entry (wherever it
 * lives). The count is an atomic fetch-and-add, so each call gets its own number (episodes and
 * counts are exact); a new window is opened by one thread only (compare-and-swap on its start),
 * which swaps the count to 1. A call of another thread that lands between that swap of the start
 * and the swap of the count is counted in the old window and judged by it (not in an entry's
 * first window, which has no old one: its count is only ever added to). The EPERM hooks read
 * the shared count again when the call reaches them, so threads racing at the limit may together
 * get a call or two fewer than the limit, never more.
 */
static __always_inline int count_call(__u32 nr, __u32 r)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), key, now, start;
	__u32 tgid = pid_tgid >> 32, count, *nb;
	bool opened;
	const struct wd_rule *rule;
	struct wd_entry *e;
	struct wd_win *w;
	__u64 *b;

	if (tgid == wd_cfg.self_tgid)
		return 0;
	e = entry_for_count(tgid, &key);
	if (!e)
		return 0;
	if (e->gen != wd_cfg.gen) {
		e->allowed = is_allowed(&wd_cfg, tgid);
		e->gen = wd_cfg.gen;
	}
	if (e->allowed)
		return 0;
	e->total++;
	rule = &wd_cfg.rules[r];
	w = &e->w[r];
	now = window_clock();
	start = w->start;
	opened = now - start >= rule->window_ns &&
		 __sync_val_compare_and_swap(&w->start, start, now) == start;
	if (opened) {
		/* This call opened the window (only one thread can). */
		w->prev_start = start;
		w->reported = 0;
	}
	if (opened && start) {
		/* it is call 1 of it; the old window keeps its count */
		w->prev_count = __sync_lock_test_and_set(&w->count, 1);
		count = 1;
	} else {
		/* every other call, and the opener of an entry's first window, which has no
		 * old one: calls of other threads that raced it are in the count, and stay */
		count = __sync_fetch_and_add(&w->count, 1) + 1;
	}
	if (count <= rule->limit)
		return 0;
	b = bpf_map_lookup_elem(&blocked, &nr);
	if (b)
		*b += 1;
	nb = &w->reported;
	if (!*nb) {
		*nb = 1;
		emit(&wd_cfg, e, key, nr, r, count, pid_tgid, now);
	}
	return 0;
}

/*
 * Every syscall of every task enters here, so the common path (an unwatched syscall) is one
 * bounds check and one byte load from the global rules. One attachment covers any set of
 * syscalls, and the rule set can change (SIGHUP) without attaching anything.
 */
static __always_inline int on_sys_enter(long id)
{
	__u8 r;

	if ((__u64)id >= WD_MAX_SYSCALLS)
		return 0;
	r = wd_cfg.sc_rule[id];
	if (!r)
		return 0;
	return count_call((__u32)id, (r - 1) & (WD_MAX_RULES - 1));
}

/*
 * The counting program, in two attachments of the same tracepoint; the loader loads one. tp_btf
 * is the default (BTF-typed arguments, the verifier knows the task pointers are trusted); the raw
 * tracepoint is the same hook for kernels or policies without tp_btf. bench/watchdog measures
 * both, and an empty program on each (the floor any program on the hook pays).
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(wd_sys_enter, struct pt_regs *regs, long id)
{
	return on_sys_enter(id);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(wd_sys_enter_raw, struct pt_regs *regs, long id)
{
	return on_sys_enter(id);
}

/* The benchmark's floors: empty programs on each hook (never loaded by the daemon). */
SEC("tp_btf/sys_enter")
int BPF_PROG(wd_sys_enter_empty)
{
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(wd_sys_enter_raw_empty)
{
	return 0;
}

/*
 * A process is gone when its leader exits: tell the daemon the final counts of its open episodes
 * and free its slot or drop its hash entry so a reused PID starts fresh. Threads exiting
 * (pid != tgid) keep the shared entry. A task-local entry is not deleted: threads still running
 * count on it, and it is freed with the leader's task_struct. With scope=cgroup keys are cgroup
 * ids, which a process exit says nothing about.
 */
SEC("tp/sched/sched_process_exit")
int wd_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), key;
	bool in_slot;
	struct wd_event *ev;
	struct wd_entry *e;

	if ((__u32)pid_tgid != (__u32)(pid_tgid >> 32))
		return 0;
	if (wd_cfg.scope != WD_SCOPE_PROCESS)
		return 0;
	key = pid_tgid >> 32;
	e = current_entry(&in_slot);
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
	if (in_slot)
		slot_free(e);
	else if (!task_store())
		bpf_map_delete_elem(&counters, &key);
	return 0;
}

/*
 * A new process (not a thread) must start with no budget used, even if a slot or hash entry for
 * its PID survived (its predecessor's leader exited before the other threads did, or the entry
 * was created between that exit and the reuse). Threads share their process's entry. Task-local
 * entries need nothing: a new process is a new task_struct with no storage.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(wd_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = child->tgid;
	struct wd_entry *e;
	__u64 key = tgid;

	if (child->pid != child->tgid || wd_cfg.scope != WD_SCOPE_PROCESS)
		return 0;
	if (slot_store()) {
		e = slot_of(tgid);
		if (e && e->tgid == tgid)
			slot_free(e);
	}
	if (!use_task_store)
		bpf_map_delete_elem(&counters, &key);
	return 0;
}

/* exec changes comm and exe: make the next counted call re-check the allowlist. The budget
 * itself is kept, so exec'ing oneself does not reset a window. */
SEC("tp/sched/sched_process_exec")
int wd_exec(void *ctx)
{
	bool in_slot;
	struct wd_entry *e = current_entry(&in_slot);

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
	const struct wd_entry *e;
	bool in_slot;
	__u64 nr;
	__u32 r;

	nr = BPF_CORE_READ((struct pt_regs *)bpf_task_pt_regs(task), orig_ax);
	if (nr >= WD_MAX_SYSCALLS)
		return false;
	r = wd_cfg.sc_rule[nr];
	if (!r)
		return false;
	r = (r - 1) & (WD_MAX_RULES - 1);
	if (!wd_cfg.rules[r].enforce)
		return false;
	e = current_entry(&in_slot);
	if (!e || e->allowed)
		return false;
	return e->w[r].count > wd_cfg.rules[r].limit;
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
