/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The ABI between watchdog.bpf.c (kernel) and the user half of `vigil watchdog`. Fixed-width
 * types and explicit padding only: the two sides are compiled by different compilers (clang
 * -target bpf, gcc) and must agree on every offset, which the _Static_asserts pin.
 *
 * The kernel side counts the calls of every watched syscall per key (a TGID, or a cgroup id with
 * scope=cgroup) in fixed windows, one window per rule, in a struct wd_entry: in the slot table
 * `slots` (index TGID % WD_SLOTS, owned by the TGID in the entry), else in task-local storage on
 * the process's leader (`task_counters`), else in the LRU hash `counters`. The user side writes
 * the rules into the global `wd_cfg` (.bss) and the allowlists into the allow_* hashes; it may
 * rewrite them at any time (SIGHUP): `gen` tells the kernel side to re-evaluate each key's
 * allowlist status on the key's next call. Over the limit, the first call of an episode (a window
 * in which a key went over its rule's limit) sends one struct wd_event through the ring buffer.
 */
#ifndef VIGIL_WATCHDOG_H
#define VIGIL_WATCHDOG_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define WD_MAX_SYSCALLS 512 /* syscall numbers 0..511 can be watched (x86_64 has < 470) */
#define WD_MAX_RULES	8   /* a power of two: the BPF side masks the rule index with it */
#define WD_COMM_LEN	16
#define WD_MAX_KEYS_DEFAULT 16384
#define WD_SLOTS	8192 /* the direct-mapped per-process table (a power of two): TGID % WD_SLOTS */

/* Enforcement modes, best first; also the value of vigil_watchdog_mode's numeric form. */
enum wd_mode {
	WD_MODE_LSM = 0,      /* BPF LSM hooks return -EPERM */
	WD_MODE_FMOD_RET = 1, /* fmod_ret on security_* functions returns -EPERM */
	WD_MODE_KPROBE = 2,   /* kprobe + bpf_override_return on the syscall returns -EPERM */
	WD_MODE_THROTTLE = 3, /* the daemon SIGSTOPs the process until the window ends */
	WD_MODE_MONITOR = 4,  /* count and report only */
	WD_MODE__COUNT
};

enum wd_scope {
	WD_SCOPE_PROCESS = 0, /* key: TGID; every thread of a process shares one budget */
	WD_SCOPE_CGROUP = 1,  /* key: cgroup v2 id; every process of a cgroup shares one budget */
};

/* Which kernel hook can refuse a syscall (wd_syscall_hooks()); a rule's syscalls without one
 * are counted and reported in the EPERM modes but never refused. */
#define WD_HOOK_FILE 0x1 /* security_file_permission: read/write/pread/readv/... */
#define WD_HOOK_OPEN 0x2 /* security_file_open: open/openat/openat2/creat */
#define WD_HOOK_SOCK 0x4 /* security_socket_*: socket/connect/bind/listen/accept/send/recv */

/* One rule as the kernel side sees it. */
struct wd_rule {
	__u64 window_ns;
	__u32 limit;   /* calls allowed per window; call limit+1 and later are over */
	__u32 enforce; /* 1: over-limit calls are refused (EPERM modes); 0: counted only */
};

/* config[0]. sc_rule[nr] is 0 for an unwatched syscall, else 1 + the index of its rule. */
struct wd_config {
	__u64 gen;	 /* bumped on every write: keys re-check their allowlist status */
	__u32 mode;	 /* enum wd_mode */
	__u32 scope;	 /* enum wd_scope */
	__u32 self_tgid; /* the daemon itself: never counted */
	__u32 allow_mask; /* WD_ALLOW_* bits: which allowlist maps hold entries */
	struct wd_rule rules[WD_MAX_RULES];
	__u8 sc_rule[WD_MAX_SYSCALLS];
};

/* Per-CPU counters, indexes into the `stats` array. */
enum wd_stat {
	WD_STAT_EVENTS = 0, /* episode events written to the ring buffer */
	WD_STAT_LOST,	    /* episode events the ring buffer had no room for */
	WD_STAT_NEW_KEYS,   /* counters entries created */
	WD_STAT_SLOT_TAKEN, /* counted calls whose slot another process held (went to the fallback) */
	WD_STAT_MAX,
};

#define WD_ALLOW_PID	0x1
#define WD_ALLOW_UID	0x2
#define WD_ALLOW_COMM	0x4
#define WD_ALLOW_CGROUP 0x8
#define WD_ALLOW_EXE	0x10

/* allow_exe's key: the executable's inode as the kernel names it (s_dev is the kernel's
 * encoding, major << 20 | minor, not the one stat(2) returns). */
struct wd_exe_key {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

/* One rule's window for one key. */
struct wd_win {
	__u64 start;	  /* window clock (jiffies in ns, see watchdog.bpf.c) of the first call */
	__u64 prev_start; /* the previous window, kept so the daemon can read its final count */
	__u32 count;	  /* calls in this window (refused ones included) */
	__u32 prev_count;
	__u32 reported;	  /* 1: this window's episode event was sent */
	__u32 pad;
};

/* counters' value. */
struct wd_entry {
	__u64 gen;     /* config gen `allowed` was computed for; 0: never */
	__u64 total;   /* every counted call since the key appeared (approximate with threads) */
	__u32 allowed; /* 1: allowlisted, not counted */
	__u32 tgid;    /* the process that created the entry (scope=cgroup: the first one); in
			* `slots`, the owner (0: free) */
	char comm[WD_COMM_LEN];
	struct wd_win w[WD_MAX_RULES];
};

enum wd_ev_kind {
	WD_EV_EPISODE = 0, /* the first over-limit call of an episode */
	WD_EV_FINAL = 1,   /* the process exited during an episode: count is the window's final */
};

/* Ring buffer record: the first over-limit call of an episode, or its end at exit. */
struct wd_event {
	__u64 ts_ns;	 /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u64 deadline_ns; /* the window's end, CLOCK_MONOTONIC */
	__u64 key;	 /* the counters key: TGID or cgroup id */
	__u64 cgroup_id;
	__u64 win_start;
	__u64 window_ns;
	__u32 tgid;
	__u32 pid; /* the thread that made the call */
	__u32 uid;
	__u32 nr; /* syscall number */
	__u32 count; /* the call's count in the window: limit + 1 (or a little more with threads) */
	__u32 limit;
	__u8 rule;
	__u8 mode;
	__u8 enforce;
	__u8 kind; /* enum wd_ev_kind */
	__u8 pad[4];
	char comm[WD_COMM_LEN];
};

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct wd_rule) == 16, "wd_rule ABI");
_Static_assert(sizeof(struct wd_config) == 24 + 16 * WD_MAX_RULES + WD_MAX_SYSCALLS, "wd_config ABI");
_Static_assert(sizeof(struct wd_win) == 32, "wd_win ABI");
_Static_assert(sizeof(struct wd_entry) == 40 + 32 * WD_MAX_RULES, "wd_entry ABI");
_Static_assert(sizeof(struct wd_event) == 96, "wd_event ABI");
_Static_assert(sizeof(struct wd_exe_key) == 16, "wd_exe_key ABI");
#endif

#endif
