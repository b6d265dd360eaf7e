/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The user half of `vigil watchdog`: rules (parsed from flags or a rules file, validated against
 * the x86_64 syscall table), the daemon that loads watchdog.bpf.c in the best mode the kernel
 * allows, acts on over-limit episodes (throttle), reports them as JSON events and exports metrics.
 *
 * Ownership: wd_rules is a plain value the caller owns (wd_rules_free); the daemon copies what it
 * needs from it. The daemon lives in the caller's event loop and registers its metrics in the
 * caller's registry; wd_free() detaches everything (unless pinned) and resumes throttled processes.
 */
#ifndef VIGIL_WD_H
#define VIGIL_WD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/cmd.h"
#include "vigil/loop.h"
#include "vigil/metrics.h"
#include "vigil/opt.h"
#include "probe/probe.h"
#include "watchdog/watchdog.h"

#define WD_DEFAULT_SYSCALLS "read"
#define WD_DEFAULT_LIMIT    100
#define WD_DEFAULT_WINDOW   "500ms"
#define WD_MAX_LIMIT	    1000000000u		  /* calls per window */
#define WD_MIN_WINDOW_NS    1000000ull		  /* 1 ms */
#define WD_MAX_WINDOW_NS    (86400ull * 1000000000ull) /* 1 day */
#define WD_PIN_DIR	    "/sys/fs/bpf/vigil/watchdog"
#define WD_EVENTS_SUBJECT   "watchdog.events"

/* ---- syscall table ---------------------------------------------------------------------- */

/* The number of @name ("read"), or -ENOENT. */
int wd_syscall_nr(const char *name);
/* The name of syscall @nr, or NULL. */
const char *wd_syscall_name(unsigned nr);
/* WD_HOOK_* bits: which hook can refuse syscall @nr in the LSM and fmod_ret modes (0: none). */
unsigned wd_syscall_hooks(unsigned nr);

/* ---- rules -------------------------------------------------------------------------------- */

enum wd_allow_kind { WD_AL_PID, WD_AL_UID, WD_AL_COMM, WD_AL_CGROUP, WD_AL_EXE };

struct wd_rule_spec {
	uint64_t window_ns;
	uint32_t limit;
	int line;		      /* where it came from (0: flags) */
	uint8_t sc[WD_MAX_SYSCALLS]; /* 1: watched */
	char text[128];		      /* the syscall list as written ("read,pread64", "net") */
};

struct wd_allow {
	enum wd_allow_kind kind;
	int line;
	char value[256]; /* as written: pid/uid number or user name, comm, cgroup path, exe path */
};

struct wd_rules {
	int nrules;
	struct wd_rule_spec rules[WD_MAX_RULES];
	enum wd_scope scope;
	int nallow;
	struct wd_allow *allow; /* malloc'ed array */
	char origin[256];	/* "rules.conf" or "flags" */
};

/*
 * Parses a rules file's text. Lines:
 *	# comment
 *	scope process|cgroup
 *	rule SYSCALLS LIMIT/WINDOW        e.g.  rule read,pread64 100/500ms   rule net 1000/1s
 *	allow pid|uid|comm|cgroup|exe VALUE
 * SYSCALLS is a comma-separated list of syscall names and groups (file-read, file-write,
 * file-open, net, all). @origin names the text in errors. On error returns -EINVAL and writes
 * "rules.conf:3: unknown syscall \"reed\" ..." into @err; @out is then empty. @text need not
 * be NUL-terminated.
 */
int wd_rules_parse(const char *text, size_t len, const char *origin, struct wd_rules *out,
		   char *err, size_t errlen);
/* Reads and parses @path; errors as above, or "cannot read rules file X: ...". */
int wd_rules_load(const char *path, struct wd_rules *out, char *err, size_t errlen);
/* Adds one rule / allowlist entry, as from flags; @where names the flag in errors. */
int wd_rules_add_rule(struct wd_rules *r, const char *syscalls, long long limit,
		      uint64_t window_ns, const char *where, char *err, size_t errlen);
int wd_rules_add_allow(struct wd_rules *r, enum wd_allow_kind kind, const char *value,
		       const char *where, char *err, size_t errlen);
void wd_rules_free(struct wd_rules *r);
/* One line per rule and allowlist entry, as a rules file would say it. */
void wd_rules_print(FILE *f, const struct wd_rules *r);

/* ---- modes -------------------------------------------------------------------------------- */

const char *wd_mode_name(enum wd_mode m);
/* "auto" -> -1, "lsm" -> WD_MODE_LSM, ...; -EINVAL for anything else. */
int wd_mode_parse(const char *s);
/* True for the modes that make calls fail with EPERM. */
static inline bool wd_mode_eperm(enum wd_mode m)
{
	return m == WD_MODE_LSM || m == WD_MODE_FMOD_RET || m == WD_MODE_KPROBE;
}
/* What happens to an over-limit call of @nr in @mode under an enforcing rule:
 * "eperm", "throttle" or "monitor". */
const char *wd_action(enum wd_mode mode, unsigned nr, bool enforce);

/*
 * Picks the mode: @want -1 tries lsm, fmod_ret, kprobe, throttle, monitor in this order (only
 * the first three with @require_eperm); otherwise only @want. Probes into @r (may be zeroed),
 * logs the choice and why better modes were skipped. Returns the mode or -ENOTSUP (logged with a
 * clear message, including what --require-eperm needs).
 */
int wd_pick_mode(int want, bool require_eperm, struct vprobe_report *r);
/* The probe features each mode needs. */
uint64_t wd_mode_needs(enum wd_mode m);

/* ---- the daemon --------------------------------------------------------------------------- */

struct wd;

/* One over-limit episode, reported when its window ends (or at shutdown). */
struct wd_episode {
	struct wd_event ev;
	uint32_t final_count; /* calls in the window, refused ones included */
	bool stopped;	      /* throttle: the process was SIGSTOPped */
	char exe[256];
	char cgroup[256];
};

typedef void (*wd_episode_fn)(const struct wd_episode *ep, const char *json, void *ctx);

struct vbus;

/* Where sys_enter is counted (the same tracepoint, two attachment types). */
enum wd_count_hook {
	WD_COUNT_TP_BTF = 0, /* tp_btf/sys_enter: the default */
	WD_COUNT_RAW_TP = 1, /* raw_tp/sys_enter */
};

/* Where per-process (scope=process) counters live; scope=cgroup always uses the LRU hash. */
enum wd_store {
	WD_STORE_SLOTS = 0, /* the slot table; task-local storage (or, without it, the hash) for a
			     * process whose slot another one holds: the default */
	WD_STORE_TASK = 1,  /* task-local storage on the group leader (the hash without it) */
	WD_STORE_HASH = 2,  /* the TGID-keyed LRU hash */
};

struct wd_params {
	int mode;	     /* enum wd_mode, or -1: auto */
	bool require_eperm;
	bool pin;	     /* keep programs and maps in @pin_dir after exit */
	const char *pin_dir; /* NULL: WD_PIN_DIR */
	uint32_t max_keys;   /* 0: WD_MAX_KEYS_DEFAULT */
	enum wd_count_hook hook;
	enum wd_store store; /* where per-process counters live (tests and bench pick others) */
	struct vbus *bus;    /* episodes go to <app_id>.watchdog.events; NULL: */
	FILE *events;	     /* ... JSON Lines of bare episodes here instead; NULL: none */
	wd_episode_fn on_episode; /* also called per episode; may be NULL */
	void *ctx;
	struct vmetrics *metrics; /* NULL: none */
	struct vprobe_report *probe; /* reused/filled when not NULL */
};

/*
 * Validates @rules (resolving users, cgroup and exe paths), picks the mode, loads and attaches
 * everything, or nothing: on any error the kernel is left as it was and NULL is returned with
 * errno set (the cause logged). @loop receives the ring buffer and the episode timer.
 */
struct wd *wd_new(struct vloop *loop, const struct wd_rules *rules, const struct wd_params *p);
/* Replaces the rules and allowlists; counters are kept (per rule slot). 0 or -errno, and on
 * error the old rules stay in force. */
int wd_reload(struct wd *d, const struct wd_rules *rules);
/* Resumes throttled processes, reports open episodes, detaches (unless pinned), frees. */
void wd_free(struct wd *d);
enum wd_mode wd_mode(const struct wd *d);
/* The maps counters may be in; -1 for a store not in use. Not owned: the daemon (or whoever
 * opened the pins) closes them. */
struct wd_stores {
	int slots, task, hash;
};

/* The daemon's stores (valid until wd_free). */
struct wd_stores wd_stores(const struct wd *d);
/* The stores a --pin'ed watchdog left under @dir (NULL: WD_PIN_DIR); the caller closes the fds.
 * -ENOENT when there is none. */
int wd_stores_pinned(const char *dir, struct wd_stores *s);
/*
 * The counters entry of @key (a TGID, or a cgroup id with scope=cgroup): from the hash, the slot
 * @key owns, or the task-local storage of process @key (looked up through a pidfd). 0, or
 * -ENOENT when there is none (also for a process that is gone).
 */
int wd_entry_lookup(const struct wd_stores *s, uint64_t key, struct wd_entry *e);
/* Calls @fn for every entry: the hash's, the owned slots, then each process under /proc that
 * has a task-local entry. Returns the number of entries. */
typedef void (*wd_entry_fn)(uint64_t key, const struct wd_entry *e, void *ctx);
int wd_entries_walk(const struct wd_stores *s, wd_entry_fn fn, void *ctx);
/* Sum over CPUs of blocked[@nr]. */
uint64_t wd_blocked(const struct wd *d, unsigned nr);
/* Entries in both stores (@used), in the hash alone (@hash_used), and the hash's capacity
 * (task-local entries have none: each lives on its process). */
int wd_keys(const struct wd *d, uint32_t *used, uint32_t *hash_used, uint32_t *max);
/* Removes every pin under @dir (NULL: WD_PIN_DIR): the pinned programs detach. 0 or -errno. */
int wd_unpin(const char *dir);

/* ---- the CLI (watchdog/cmd.c) ------------------------------------------------------------- */
extern const struct vcmd watchdog_cmds[];
#define WD_CMD_SUMMARY "rate-limit syscalls per process in the kernel (EPERM, throttle, monitor)"

#endif
