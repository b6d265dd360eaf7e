// SPDX-License-Identifier: GPL-2.0-only
/*
 * The watchdog daemon's library half: picks the enforcement mode, loads watchdog.bpf.c with only
 * that mode's programs, writes the rules into the kernel, and turns the kernel's episode records
 * into actions (throttle: SIGSTOP now, SIGCONT at the window's end), JSON events and metrics.
 *
 * Everything runs on the caller's event loop: the ring buffer's epoll fd and one timer that fires
 * at the earliest open episode's window end. No thread, no polling.
 *
 * When vigil stops: without pinning, the skeleton is destroyed, so every program detaches and
 * enforcement stops (fail-open), and every process the daemon stopped is resumed first. With
 * pinning (--pin), maps and links stay under the pin directory, so the EPERM modes keep
 * enforcing with the last rules and the counters survive a restart; throttle needs the daemon and
 * stops with it (the programs only count while it is away).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "vigil/bpf.h"
#include "vigil/buf.h"
#include "vigil/bus.h"
#include "vigil/log.h"
#include "watchdog/wd.h" /* before the skeleton: its .bss holds a struct wd_config */
#include "watchdog.skel.h"

#define COMP "watchdog"
#define MAX_EPISODES 4096

struct episode {
	struct wd_episode ep;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC, the window's end */
	bool exited;	      /* the process exited; exit_count is the final count */
	uint32_t exit_count;
};

struct wd {
	struct vloop *loop;
	struct watchdog_bpf *skel;
	struct ring_buffer *rb;
	struct vloop_timer *timer;
	struct bpf_link *links[32];
	int nlinks;
	enum wd_mode mode;
	bool slots;	 /* per-process counters in the slot table first */
	bool task_store; /* then in task_counters (else in the hash) */
	struct wd_config cfg;
	struct wd_params p;
	char pin_dir[256];
	struct episode *eps; /* open episodes, MAX_EPISODES slots */
	int neps;
	uint64_t dropped_eps;
	/* metrics */
	struct vmetrics *reg;
	struct vmetric *m_blocked, *m_episodes, *m_mode, *m_keys, *m_keys_max, *m_fullness,
		*m_lost, *m_throttled, *m_mode_num, *m_slot_taken;
};

/* Every mode counts on raw_tp/sys_enter, follows processes with the sched tracepoints (tp and
 * tp_btf) and reports through a ring buffer; the EPERM modes need their refusing hook on top. */
uint64_t wd_mode_needs(enum wd_mode m)
{
	uint64_t base = VPROBE_BIT(VPROBE_RAW_TP) | VPROBE_BIT(VPROBE_TP_BTF) |
			VPROBE_BIT(VPROBE_TRACEPOINT) | VPROBE_BIT(VPROBE_RINGBUF);

	switch (m) {
	case WD_MODE_LSM:
		return base | VPROBE_BIT(VPROBE_LSM);
	case WD_MODE_FMOD_RET:
		return base | VPROBE_BIT(VPROBE_FMOD_RET);
	case WD_MODE_KPROBE:
		return base | VPROBE_BIT(VPROBE_KPROBE) | VPROBE_BIT(VPROBE_OVERRIDE_RETURN);
	default:
		return base;
	}
}

/*
 * The ladder: EPERM modes best first, then throttle (works wherever counting works, but only
 * delays), then monitor. vprobe_pick probes just what these need and logs the choice with the
 * reason each better mode was skipped.
 */
int wd_pick_mode(int want, bool require_eperm, struct vprobe_report *r)
{
	struct vprobe_mode modes[WD_MODE__COUNT];
	int n = 0, first = want < 0 ? 0 : want, got;

	for (int m = first; m < WD_MODE__COUNT; m++) {
		if (require_eperm && !wd_mode_eperm(m))
			break;
		modes[n].name = wd_mode_name(m);
		modes[n].needs = wd_mode_needs(m);
		n++;
		if (want >= 0)
			break;
	}
	if (n == 0) {
		log_error(COMP, "--require-eperm with --mode %s: that mode never fails calls with "
			  "EPERM (use --mode auto, lsm, fmod_ret or kprobe)", wd_mode_name(want));
		return -ENOTSUP;
	}
	got = vprobe_pick(COMP, modes, n, r);
	if (got < 0) {
		if (require_eperm)
			log_error(COMP, "--require-eperm: this kernel (%s) cannot make syscalls fail "
				  "with EPERM: it needs BPF LSM (CONFIG_BPF_LSM and \"bpf\" in the lsm= "
				  "boot parameter), fmod_ret on security_* functions, or kprobes with "
				  "bpf_override_return; run without --require-eperm to throttle instead",
				  r->kernel);
		else if (want >= 0)
			log_error(COMP, "--mode %s is not possible on this kernel (%s); use --mode auto "
				  "to pick the best mode that is", wd_mode_name(want), r->kernel);
		return -ENOTSUP;
	}
	return first + got;
}

/* ---- applying rules ------------------------------------------------------------------------ */

/* Resolves one allowlist entry and writes it into its map. 0 or -errno (logged). */
static int apply_allow(struct wd *d, const struct wd_allow *a, uint32_t *mask)
{
	const char *where = a->line ? "rules" : "flags";
	__u8 one = 1;
	struct stat st;
	int fd, err;

	switch (a->kind) {
	case WD_AL_PID: {
		__u32 pid = (__u32)strtoul(a->value, NULL, 10);

		fd = bpf_map__fd(d->skel->maps.allow_pid);
		err = bpf_map_update_elem(fd, &pid, &one, BPF_ANY);
		*mask |= WD_ALLOW_PID;
		break;
	}
	case WD_AL_UID: {
		__u32 uid;

		if (a->value[0] >= '0' && a->value[0] <= '9') {
			uid = (__u32)strtoul(a->value, NULL, 10);
		} else {
			struct passwd *pw = getpwnam(a->value);

			if (!pw) {
				log_error(COMP, "allow uid %s (%s line %d): no such user (give a "
					  "number or an existing user name)", a->value, where, a->line);
				return -ENOENT;
			}
			uid = pw->pw_uid;
		}
		fd = bpf_map__fd(d->skel->maps.allow_uid);
		err = bpf_map_update_elem(fd, &uid, &one, BPF_ANY);
		*mask |= WD_ALLOW_UID;
		break;
	}
	case WD_AL_COMM: {
		char comm[WD_COMM_LEN] = { 0 };

		memcpy(comm, a->value, strnlen(a->value, WD_COMM_LEN - 1));
		fd = bpf_map__fd(d->skel->maps.allow_comm);
		err = bpf_map_update_elem(fd, comm, &one, BPF_ANY);
		*mask |= WD_ALLOW_COMM;
		break;
	}
	case WD_AL_CGROUP: {
		__u64 id;

		/* A cgroup v2 directory's inode number is the id bpf_get_current_cgroup_id()
		 * returns. */
		if (stat(a->value, &st) || !S_ISDIR(st.st_mode)) {
			log_error(COMP, "allow cgroup %s: %s (give a cgroup v2 directory such as "
				  "/sys/fs/cgroup/system.slice/geth.service)", a->value,
				  errno ? strerror(errno) : "not a directory");
			return -ENOENT;
		}
		id = st.st_ino;
		fd = bpf_map__fd(d->skel->maps.allow_cgroup);
		err = bpf_map_update_elem(fd, &id, &one, BPF_ANY);
		*mask |= WD_ALLOW_CGROUP;
		break;
	}
	case WD_AL_EXE: {
		struct wd_exe_key k = { 0 };

		if (stat(a->value, &st) || !S_ISREG(st.st_mode)) {
			log_error(COMP, "allow exe %s: %s (give the path of an executable file)",
				  a->value, errno ? strerror(errno) : "not a regular file");
			return -ENOENT;
		}
		k.ino = st.st_ino;
		/* The kernel's s_dev encoding (MKDEV: major << 20 | minor). */
		k.dev = (major(st.st_dev) << 20) | minor(st.st_dev);
		fd = bpf_map__fd(d->skel->maps.allow_exe);
		err = bpf_map_update_elem(fd, &k, &one, BPF_ANY);
		*mask |= WD_ALLOW_EXE;
		break;
	}
	default:
		return -EINVAL;
	}
	if (err) {
		err = -errno;
		log_error(COMP, "cannot add allow %s to the kernel map: %s (more than 1024 entries?)",
			  a->value, strerror(-err));
	}
	return err;
}

/* Empties one allowlist map. */
static void clear_map(struct bpf_map *m)
{
	char key[64], next[64];
	int fd = bpf_map__fd(m);

	while (bpf_map_get_next_key(fd, NULL, next) == 0) {
		memcpy(key, next, sizeof(key));
		if (bpf_map_delete_elem(fd, key))
			break;
	}
}

/* Builds the kernel config for @rules without touching the kernel. */
static void build_config(const struct wd *d, const struct wd_rules *rules, struct wd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->gen = d->cfg.gen + 1;
	c->mode = d->mode;
	c->scope = rules->scope;
	c->self_tgid = (__u32)getpid();
	for (int i = 0; i < rules->nrules; i++) {
		const struct wd_rule_spec *s = &rules->rules[i];

		c->rules[i].window_ns = s->window_ns;
		c->rules[i].limit = s->limit;
		c->rules[i].enforce = d->mode != WD_MODE_MONITOR;
		for (int nr = 0; nr < WD_MAX_SYSCALLS; nr++)
			if (s->sc[nr])
				c->sc_rule[nr] = (__u8)(i + 1);
	}
}

/* Says which watched syscalls the picked mode can only count, and which syscalls tracefs does
 * not know (a table newer than the kernel). */
static void warn_coverage(const struct wd *d, const struct wd_rules *rules)
{
	struct vbuf uncovered = VBUF_INIT, unknown = VBUF_INIT;
	char path[256];

	for (int nr = 0; nr < WD_MAX_SYSCALLS; nr++) {
		if (!d->cfg.sc_rule[nr])
			continue;
		if ((d->mode == WD_MODE_LSM || d->mode == WD_MODE_FMOD_RET) &&
		    !wd_syscall_hooks(nr))
			vbuf_printf(&uncovered, "%s%s", uncovered.len ? "," : "", wd_syscall_name(nr));
		snprintf(path, sizeof(path), VBPF_TRACEFS_DIR "/events/syscalls/sys_enter_%s",
			 wd_syscall_name(nr));
		if (access(VBPF_TRACEFS_DIR "/events/syscalls", F_OK) == 0 && access(path, F_OK))
			vbuf_printf(&unknown, "%s%s", unknown.len ? "," : "", wd_syscall_name(nr));
	}
	if (uncovered.len)
		log_warn(COMP, "mode %s has no hook that can refuse %s: those calls are counted and "
			 "reported, never refused", wd_mode_name(d->mode), vbuf_cstr(&uncovered));
	if (unknown.len)
		log_warn(COMP, "this kernel has no syscall tracepoint for %s (not a syscall of this "
			 "kernel?): they will never be counted", vbuf_cstr(&unknown));
	if (d->mode == WD_MODE_THROTTLE)
		log_info(COMP, "throttle mode delays over-limit processes (SIGSTOP until the "
			 "window ends); it does not make calls fail");
	(void)rules;
	vbuf_free(&uncovered);
	vbuf_free(&unknown);
}

/*
 * Writes @c into the program's global wd_cfg (the .bss map, mmap'ed by the skeleton): everything
 * but the generation first, the generation last, so a key that sees the new generation re-checks
 * its allowlist against the new rules. A program running meanwhile may see a mix for one call.
 */
static void write_config(struct wd *d, const struct wd_config *c)
{
	struct wd_config *k = &d->skel->bss->wd_cfg;

	memcpy((char *)k + sizeof(k->gen), (const char *)c + sizeof(c->gen),
	       sizeof(*c) - sizeof(c->gen));
	__atomic_store_n(&k->gen, c->gen, __ATOMIC_RELEASE);
}

/*
 * Writes @rules into the kernel: allowlists first, then the config with a new generation, so
 * a key re-checks its allowlist against the complete new lists. Allowlist entries are resolved
 * before anything is changed, so a bad path leaves the old rules in force.
 */
static int apply_rules(struct wd *d, const struct wd_rules *rules)
{
	struct stat st;
	struct wd_config c;
	uint32_t mask = 0;
	int err;

	for (int i = 0; i < rules->nallow; i++) {
		const struct wd_allow *a = &rules->allow[i];

		if (a->kind == WD_AL_UID && !(a->value[0] >= '0' && a->value[0] <= '9') &&
		    !getpwnam(a->value)) {
			log_error(COMP, "allow uid %s: no such user (give a number or an existing "
				  "user name)", a->value);
			return -ENOENT;
		}
		if ((a->kind == WD_AL_CGROUP || a->kind == WD_AL_EXE) && stat(a->value, &st)) {
			err = -errno;
			log_error(COMP, "allow %s %s: %s", a->kind == WD_AL_EXE ? "exe" : "cgroup",
				  a->value, strerror(-err));
			return err;
		}
	}
	clear_map(d->skel->maps.allow_pid);
	clear_map(d->skel->maps.allow_uid);
	clear_map(d->skel->maps.allow_comm);
	clear_map(d->skel->maps.allow_cgroup);
	clear_map(d->skel->maps.allow_exe);
	for (int i = 0; i < rules->nallow; i++) {
		err = apply_allow(d, &rules->allow[i], &mask);
		if (err)
			return err;
	}
	build_config(d, rules, &c);
	c.allow_mask = mask;
	write_config(d, &c);
	d->cfg = c;
	return 0;
}

/* ---- episodes -------------------------------------------------------------------------------- */

/* The episode as one JSON object (the event the bus carries); PIDs go in events, never in
 * metric labels. */
static void episode_json(struct wd *d, const struct wd_episode *ep, struct vbuf *b)
{
	const struct wd_event *ev = &ep->ev;
	const char *sc = wd_syscall_name(ev->nr);
	struct vjw w;

	vjw_init(&w, b);
	vjw_obj(&w);
	vjw_kstr(&w, "type", "episode");
	vjw_kuint(&w, "pid", ev->tgid);
	vjw_kuint(&w, "tid", ev->pid);
	vjw_key(&w, "comm");
	vjw_strn(&w, ev->comm, strnlen(ev->comm, sizeof(ev->comm)));
	vjw_kstr(&w, "exe", ep->exe);
	vjw_kstr(&w, "cgroup", ep->cgroup);
	vjw_kuint(&w, "cgroup_id", ev->cgroup_id);
	vjw_kuint(&w, "uid", ev->uid);
	vjw_kstr(&w, "syscall", sc ? sc : "unknown");
	vjw_kuint(&w, "count", ep->final_count);
	vjw_kuint(&w, "limit", ev->limit);
	vjw_kuint(&w, "over", ep->final_count > ev->limit ? ep->final_count - ev->limit : 0);
	vjw_kdouble(&w, "window_s", ev->window_ns / 1e9);
	vjw_kstr(&w, "action", wd_action(d->mode, ev->nr, ev->enforce));
	vjw_kstr(&w, "mode", wd_mode_name(d->mode));
	vjw_kstr(&w, "scope", d->cfg.scope == WD_SCOPE_CGROUP ? "cgroup" : "process");
	vjw_kbool(&w, "stopped", ep->stopped);
	vjw_end(&w);
}

/*
 * Every event goes out through here: to the bus (subject <app_id>.<suffix>, which also writes the
 * JSON Lines sink), or as bare JSON Lines to a stream when the caller gave no bus (tests, embedding).
 */
static void emit(struct wd *d, const char *suffix, const struct wd_episode *ep, const char *json,
		 size_t len)
{
	if (d->p.bus) {
		if (vbus_publish(d->p.bus, suffix, json, len))
			log_warn("watchdog", "cannot publish an episode event to the bus");
	} else if (d->p.events) {
		fwrite(json, 1, len, d->p.events);
		fputc('\n', d->p.events);
		fflush(d->p.events);
	}
	if (d->p.on_episode)
		d->p.on_episode(ep, json, d->p.ctx);
}

/* The final count of @ep's window, read back from the counters entry: its current window if
 * that is still the episode's, the previous one if the process already started the next. */
static uint32_t final_count(struct wd *d, const struct wd_event *ev)
{
	struct wd_entry e;

	struct wd_stores s = wd_stores(d);

	if (wd_entry_lookup(&s, ev->key, &e))
		return ev->count; /* the entry is gone (evicted, exited): what the kernel told us */
	if (e.w[ev->rule].start == ev->win_start)
		return e.w[ev->rule].count;
	if (e.w[ev->rule].prev_start == ev->win_start)
		return e.w[ev->rule].prev_count;
	return ev->count;
}

/* Closes episode @i: resumes the process when throttled, reports, frees the slot. */
static void close_episode(struct wd *d, int i)
{
	struct episode *e = &d->eps[i];
	struct vbuf b = VBUF_INIT;

	if (e->ep.stopped && kill((pid_t)e->ep.ev.tgid, SIGCONT) && errno != ESRCH)
		log_warn(COMP, "cannot resume process %u (%s): %s", e->ep.ev.tgid, e->ep.ev.comm,
			 strerror(errno));
	e->ep.final_count = e->exited ? e->exit_count : final_count(d, &e->ep.ev);
	episode_json(d, &e->ep, &b);
	emit(d, WD_EVENTS_SUBJECT, &e->ep, vbuf_cstr(&b), b.len);
	vbuf_free(&b);
	if (d->m_throttled && e->ep.stopped)
		vmetric_add(d->m_throttled, -1.0);
	d->eps[i] = d->eps[--d->neps];
}

/* Re-arms the one timer at the earliest open episode's window end. */
static void arm_timer(struct wd *d)
{
	uint64_t now = vloop_now_ns(), first = UINT64_MAX;

	for (int i = 0; i < d->neps; i++)
		if (d->eps[i].deadline_ns < first)
			first = d->eps[i].deadline_ns;
	if (first == UINT64_MAX) {
		vloop_timer_set(d->timer, 0, 0);
		return;
	}
	vloop_timer_set(d->timer, first > now ? first - now : 1, 0);
}

/* The earliest window ended: close every episode whose window is over (resume, report). */
static void on_timer(struct vloop *loop, void *ctx)
{
	struct wd *d = ctx;
	uint64_t now = vloop_now_ns();

	(void)loop;
	for (int i = 0; i < d->neps;) {
		if (d->eps[i].deadline_ns <= now)
			close_episode(d, i); /* moves the last slot into i */
		else
			i++;
	}
	arm_timer(d);
}

/* The first 255 bytes of /proc/PID/<what> as a link target or first line; "" when gone. */
static void proc_info(uint32_t pid, struct wd_episode *ep)
{
	char path[64];
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, ep->exe, sizeof(ep->exe) - 1);
	ep->exe[n > 0 ? n : 0] = 0;
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "r");
	ep->cgroup[0] = 0;
	if (f) {
		char line[300];

		/* cgroup v2: "0::/system.slice/geth.service" */
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "0::", 3) == 0) {
				line[strcspn(line, "\n")] = 0;
				snprintf(ep->cgroup, sizeof(ep->cgroup), "%.255s", line + 3);
				break;
			}
		}
		fclose(f);
	}
}

/*
 * A new over-limit episode from the kernel. Throttle acts here, as early as the daemon can: the
 * process has already made limit+1 calls and keeps running until the signal is delivered
 * (asynchronously, on its next return to user space), so a few more calls slip through.
 */
static int on_event(void *ctx, void *data, size_t len)
{
	struct wd *d = ctx;
	const struct wd_event *ev = data;
	struct episode *e;
	const char *sc;

	if (len < sizeof(*ev))
		return 0;
	if (ev->kind == WD_EV_FINAL) {
		/* The process exited: its episode ends now, with this count. */
		for (int i = 0; i < d->neps; i++) {
			struct episode *o = &d->eps[i];

			if (o->ep.ev.key == ev->key && o->ep.ev.rule == ev->rule &&
			    o->ep.ev.win_start == ev->win_start) {
				o->exited = true;
				o->exit_count = ev->count;
				o->deadline_ns = 0;
			}
		}
		arm_timer(d);
		return 0;
	}
	sc = wd_syscall_name(ev->nr);
	if (d->m_episodes)
		vmetric_inc(d->m_episodes, sc ? sc : "unknown", wd_action(d->mode, ev->nr, ev->enforce));
	if (d->neps >= MAX_EPISODES) {
		d->dropped_eps++;
		return 0;
	}
	e = &d->eps[d->neps++];
	memset(e, 0, sizeof(*e));
	e->ep.ev = *ev;
	e->deadline_ns = ev->deadline_ns;
	proc_info(ev->tgid, &e->ep);
	if (d->mode == WD_MODE_THROTTLE && ev->enforce) {
		if (kill((pid_t)ev->tgid, SIGSTOP) == 0) {
			e->ep.stopped = true;
			if (d->m_throttled)
				vmetric_add(d->m_throttled, 1.0);
		} else if (errno != ESRCH) {
			log_warn(COMP, "cannot stop process %u (%s) over its %s limit: %s", ev->tgid,
				 ev->comm, sc ? sc : "?", strerror(errno));
		}
	}
	log_debug(COMP, "episode: %s (%u) over %u %s calls per %.3f s, %s", ev->comm, ev->tgid,
		  ev->limit, sc ? sc : "?", ev->window_ns / 1e9,
		  wd_action(d->mode, ev->nr, ev->enforce));
	arm_timer(d);
	return 0;
}

/* ---- metrics -------------------------------------------------------------------------------- */

/* Per-CPU counters need summing in user space: the kernel side never takes a lock for them. */
uint64_t wd_blocked(const struct wd *d, unsigned nr)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals, sum = 0;
	__u32 key = nr;

	if (ncpu <= 0 || nr >= WD_MAX_SYSCALLS)
		return 0;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(d->skel->maps.blocked), &key, vals) == 0)
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

/* The sum over CPUs of one `stats` slot. */
static uint64_t stat_sum(const struct wd *d, __u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals, sum = 0;

	vals = ncpu > 0 ? calloc(ncpu, sizeof(*vals)) : NULL;
	if (!vals)
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(d->skel->maps.stats), &idx, vals) == 0)
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

/* Counts one entry (wd_entries_walk callback). */
static void count_entry(uint64_t key, const struct wd_entry *e, void *ctx)
{
	(void)key;
	(void)e;
	(*(uint32_t *)ctx)++;
}

/* Counts entries by walking them: BPF hash maps keep no element count user space can read on
 * this kernel, and a scrape every few seconds can afford --max-keys + WD_SLOTS lookups (plus one
 * pidfd lookup per process with task-local counters). */
int wd_keys(const struct wd *d, uint32_t *used, uint32_t *hash_used, uint32_t *max)
{
	struct wd_stores all = wd_stores(d), hash = { .slots = -1, .task = -1, .hash = all.hash };

	*hash_used = 0;
	wd_entries_walk(&hash, count_entry, hash_used);
	all.hash = -1;
	*used = *hash_used;
	wd_entries_walk(&all, count_entry, used);
	*max = bpf_map__max_entries(d->skel->maps.counters);
	return 0;
}

/* Copies the kernel's per-CPU counters into the registry before each scrape. */
static void collect(struct vmetrics *reg, void *ctx)
{
	struct wd *d = ctx;
	uint32_t used = 0, hash_used = 0, max = 0;

	(void)reg;
	for (int nr = 0; nr < WD_MAX_SYSCALLS; nr++) {
		uint64_t n;

		if (!d->cfg.sc_rule[nr])
			continue;
		n = wd_blocked(d, nr);
		if (!n)
			continue;
		vmetric_child_set_u64(VMETRIC__CHILD(d->m_blocked, wd_syscall_name(nr),
						     wd_action(d->mode, nr, true)), n);
	}
	wd_keys(d, &used, &hash_used, &max);
	vmetric_child_set_u64(VMETRIC__CHILD(d->m_keys), used);
	vmetric_child_set_u64(VMETRIC__CHILD(d->m_keys_max), max);
	vmetric_child_set(VMETRIC__CHILD(d->m_fullness), max ? (double)hash_used / max : 0);
	vmetric_child_set_u64(VMETRIC__CHILD(d->m_lost), stat_sum(d, WD_STAT_LOST) + d->dropped_eps);
	vmetric_child_set_u64(VMETRIC__CHILD(d->m_slot_taken), stat_sum(d, WD_STAT_SLOT_TAKEN));
}

/* Registers the watchdog's metrics (names and help in docs/watchdog_guide.md) and the collect
 * callback that copies kernel counters at scrape time. */
static int init_metrics(struct wd *d)
{
	struct vmetrics *reg = d->p.metrics;

	d->m_blocked = vmetrics_counter(reg, "vigil_watchdog_blocked_total",
					"Calls over their rule's limit, by syscall and what happened "
					"to them (eperm: refused, throttle: delayed, monitor: "
					"reported only)", "syscall,action");
	d->m_episodes = vmetrics_counter(reg, "vigil_watchdog_episodes_total",
					 "Over-limit episodes (a process over a limit in one window)",
					 "syscall,action");
	d->m_mode = vmetrics_gauge(reg, "vigil_watchdog_mode",
				   "Enforcement mode in use: 1 for the active mode", "mode");
	d->m_mode_num = vmetrics_gauge(reg, "vigil_watchdog_mode_number",
				       "Enforcement mode in use as a number (0 lsm, 1 fmod_ret, "
				       "2 kprobe, 3 throttle, 4 monitor)", NULL);
	d->m_keys = vmetrics_gauge(reg, "vigil_watchdog_map_entries",
				   "Processes (or cgroups) with counters in the kernel", NULL);
	d->m_keys_max = vmetrics_gauge(reg, "vigil_watchdog_map_capacity",
				       "Capacity of the counters hash (--max-keys; task-local "
				       "counters have no capacity)", NULL);
	d->m_fullness = vmetrics_gauge(reg, "vigil_watchdog_map_fullness_ratio",
				       "Counters hash entries over its capacity (LRU: the least "
				       "recently counted key is forgotten at 1)", NULL);
	d->m_slot_taken = vmetrics_counter(reg, "vigil_watchdog_slot_taken_calls_total",
					   "Counted calls of processes whose slot another process "
					   "held (counted in the slower fallback store instead)", NULL);
	d->m_lost = vmetrics_counter(reg, "vigil_watchdog_events_lost_total",
				     "Episode records the ring buffer or the daemon had no room for",
				     NULL);
	d->m_throttled = vmetrics_gauge(reg, "vigil_watchdog_throttled_processes",
					"Processes stopped by throttle mode right now", NULL);
	if (!d->m_blocked || !d->m_episodes || !d->m_mode || !d->m_mode_num || !d->m_keys ||
	    !d->m_keys_max || !d->m_fullness || !d->m_lost || !d->m_throttled ||
	    !d->m_slot_taken) {
		log_error(COMP, "cannot register metrics: %s (is a watchdog already registered?)",
			  strerror(errno));
		return -errno;
	}
	for (int m = 0; m < WD_MODE__COUNT; m++)
		vmetric_set(d->m_mode, m == (int)d->mode ? 1.0 : 0.0, wd_mode_name(m));
	vmetric_set(d->m_mode_num, (double)d->mode);
	return vmetrics_on_collect(reg, collect, d);
}

/* ---- loading ---------------------------------------------------------------------------------- */

/* Whether program @p belongs to mode @m with counting hook @hook (the counting programs belong
 * to every mode, one per hook). */
static bool prog_in_mode(const struct bpf_program *p, enum wd_mode m, enum wd_count_hook hook)
{
	const char *name = bpf_program__name(p);

	if (strncmp(name, "wd_sys_enter", 12) == 0)
		return strcmp(name, hook == WD_COUNT_RAW_TP ? "wd_sys_enter_raw" : "wd_sys_enter") == 0;
	if (strncmp(name, "wd_lsm_", 7) == 0)
		return m == WD_MODE_LSM;
	if (strncmp(name, "wd_fmr_", 7) == 0)
		return m == WD_MODE_FMOD_RET;
	if (strcmp(name, "wd_kprobe_deny") == 0)
		return m == WD_MODE_KPROBE;
	return true;
}

/* Pins @link under the pin directory as link_<prog>, replacing a pin an earlier run left. */
static int pin_link(struct wd *d, struct bpf_link *link, const char *prog, const char *suffix)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/link_%.64s%.64s", d->pin_dir, prog, suffix ? suffix : "");
	if (bpf_link__pin(link, path)) {
		log_error(COMP, "cannot pin %s at %s: %s", prog, path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Removes the link pins an earlier --pin run left, so its programs detach before ours attach:
 * a gap of a few milliseconds without enforcement, rather than counting every call twice. */
static void unpin_links(const char *dir)
{
	char cmdpath[PATH_MAX];
	struct dirent *de;
	DIR *dh = opendir(dir);

	if (!dh)
		return;
	while ((de = readdir(dh))) {
		if (strncmp(de->d_name, "link_", 5))
			continue;
		snprintf(cmdpath, sizeof(cmdpath), "%.3800s/%.255s", dir, de->d_name);
		unlink(cmdpath);
	}
	closedir(dh);
}

int wd_unpin(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dh;
	int err = 0;

	dir = dir ? dir : WD_PIN_DIR;
	dh = opendir(dir);
	if (!dh)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%.3800s/%.255s", dir, de->d_name);
		if (unlink(path) && !err)
			err = -errno;
	}
	closedir(dh);
	if (rmdir(dir) && !err)
		err = -errno;
	return err;
}

/* Whether an earlier --pin run left attached programs in @dir. */
static bool pinned_links(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/link_wd_sys_enter", dir);
	if (access(path, F_OK) == 0)
		return true;
	snprintf(path, sizeof(path), "%s/link_wd_sys_enter_raw", dir);
	return access(path, F_OK) == 0;
}

/* mkdir -p for the pin directory (bpffs allows directories). */
static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Attaches the loaded programs of the mode. kprobe mode attaches its one program to the
 * __x64_sys_<name> function of every watched syscall. */
static int attach_all(struct wd *d)
{
	struct bpf_program *p;
	struct bpf_link *l;

	bpf_object__for_each_program(p, d->skel->obj) {
		if (!bpf_program__autoload(p))
			continue;
		if (strcmp(bpf_program__name(p), "wd_kprobe_deny") == 0) {
			for (int nr = 0; nr < WD_MAX_SYSCALLS; nr++) {
				char fn[64];

				if (!d->cfg.sc_rule[nr])
					continue;
				if (d->nlinks >= (int)(sizeof(d->links) / sizeof(d->links[0]))) {
					log_error(COMP, "kprobe mode: too many syscalls to attach to "
						  "(at most %zu)", sizeof(d->links) / sizeof(d->links[0]) - 4);
					return -E2BIG;
				}
				snprintf(fn, sizeof(fn), "__x64_sys_%s", wd_syscall_name(nr));
				l = bpf_program__attach_kprobe(p, false, fn);
				if (!l) {
					log_error(COMP, "cannot attach the kprobe to %s: %s", fn,
						  strerror(errno));
					return -errno;
				}
				d->links[d->nlinks++] = l;
				if (d->p.pin && pin_link(d, l, "kprobe_", wd_syscall_name(nr)))
					return -errno;
			}
			continue;
		}
		l = bpf_program__attach(p);
		if (!l) {
			int err = -errno;

			log_error(COMP, "cannot attach %s (%s): %s", bpf_program__name(p),
				  bpf_program__section_name(p), strerror(-err));
			return err;
		}
		d->links[d->nlinks++] = l;
		if (d->p.pin && pin_link(d, l, bpf_program__name(p), NULL))
			return -errno;
	}
	return 0;
}

/* Destroys our links: without pins this detaches the programs at once. */
static void detach_all(struct wd *d)
{
	for (int i = 0; i < d->nlinks; i++)
		bpf_link__destroy(d->links[i]);
	d->nlinks = 0;
}

/* Gives the persistent maps pin paths, so a --pin restart reuses their contents. The ring
 * buffer is not pinned: each daemon reads its own. */
static int set_pins(struct wd *d)
{
	struct bpf_map *m;
	char path[PATH_MAX];
	int err;

	bpf_object__for_each_map(m, d->skel->obj) {
		/* Internal maps (.rodata: frozen, cannot be reused) and the ring buffer stay
		 * private to each run. */
		if (m == d->skel->maps.events || strchr(bpf_map__name(m), '.'))
			continue;
		snprintf(path, sizeof(path), "%s/%.64s", d->pin_dir, bpf_map__name(m));
		err = bpf_map__set_pin_path(m, path);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Where per-process counters live, decided before load: the slot table unless the caller asked
 * for another store, with task-local storage behind it when the kernel has it (5.11+), the hash
 * otherwise. The program's branches for stores not used are dead code (use_slots and
 * use_task_store are read-only data the verifier folds), but their maps are still created: a
 * task storage map the kernel cannot make becomes a one-entry hash nobody uses. The choice holds
 * for the daemon's life; scope=cgroup (which a reload may switch to) always uses the hash.
 */
static int choose_store(struct wd *d)
{
	bool have_task = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) == 1;

	d->slots = d->p.store == WD_STORE_SLOTS;
	d->task_store = d->p.store != WD_STORE_HASH && have_task;
	d->skel->rodata->use_slots = d->slots;
	d->skel->rodata->use_task_store = d->task_store;
	if (!d->slots)
		bpf_map__set_max_entries(d->skel->maps.slots, 1);
	if (d->task_store)
		return 0;
	if (bpf_map__set_type(d->skel->maps.task_counters, BPF_MAP_TYPE_HASH) ||
	    bpf_map__set_max_entries(d->skel->maps.task_counters, 1)) {
		log_error(COMP, "cannot prepare the counters hash: %s", strerror(errno));
		return -errno;
	}
	if (!have_task)
		log_info(COMP, "this kernel has no task-local storage: per-process counters %sgo to "
			 "the TGID hash", d->slots ? "whose slot is taken " : "");
	return 0;
}

struct wd *wd_new(struct vloop *loop, const struct wd_rules *rules, const struct wd_params *p)
{
	struct vprobe_report local = { 0 }, *r = p->probe ? p->probe : &local;
	struct bpf_program *prog;
	struct wd *d;
	int err, mode;

	if (!rules || rules->nrules == 0) {
		log_error(COMP, "no rules: give --syscalls/--limit/--window or --rules FILE");
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->loop = loop;
	d->p = *p;
	snprintf(d->pin_dir, sizeof(d->pin_dir), "%s", p->pin_dir ? p->pin_dir : WD_PIN_DIR);
	d->eps = calloc(MAX_EPISODES, sizeof(*d->eps));
	if (!d->eps) {
		err = -ENOMEM;
		goto fail;
	}
	vbpf_init();
	mode = wd_pick_mode(p->mode, p->require_eperm, r);
	if (mode < 0) {
		err = mode;
		goto fail;
	}
	d->mode = mode;
	/* Validate what can be validated before the kernel sees anything. */
	build_config(d, rules, &d->cfg);
	if (p->require_eperm && (mode == WD_MODE_LSM || mode == WD_MODE_FMOD_RET)) {
		for (int nr = 0; nr < WD_MAX_SYSCALLS; nr++) {
			if (d->cfg.sc_rule[nr] && !wd_syscall_hooks(nr)) {
				log_error(COMP, "--require-eperm: mode %s cannot refuse %s (no security "
					  "hook sees it); limit only syscalls of the file-read, "
					  "file-write, file-open and net groups, or drop --require-eperm",
					  wd_mode_name(mode), wd_syscall_name(nr));
				err = -ENOTSUP;
				goto fail;
			}
		}
	}
	d->cfg.gen = 0;

	d->skel = watchdog_bpf__open();
	if (!d->skel) {
		err = -errno;
		log_error(COMP, "cannot open the watchdog BPF object: %s", strerror(-err));
		goto fail;
	}
	bpf_object__for_each_program(prog, d->skel->obj)
		bpf_program__set_autoload(prog, prog_in_mode(prog, d->mode, p->hook));
	bpf_map__set_max_entries(d->skel->maps.counters,
				 p->max_keys ? p->max_keys : WD_MAX_KEYS_DEFAULT);
	err = choose_store(d);
	if (err)
		goto fail;
	if (p->pin) {
		err = mkdir_p(d->pin_dir);
		if (!err)
			err = set_pins(d);
		if (err) {
			log_error(COMP, "--pin: cannot prepare %s: %s (is bpffs mounted on "
				  "/sys/fs/bpf?)", d->pin_dir, strerror(-err));
			goto fail;
		}
	} else if (pinned_links(d->pin_dir)) {
		log_warn(COMP, "a pinned watchdog is still in %s and keeps enforcing its own rules; "
			 "remove it with `vigil watchdog unpin` or run with --pin to take it over",
			 d->pin_dir);
	}
	err = watchdog_bpf__load(d->skel);
	if (err) {
		log_error(COMP, "cannot load the watchdog BPF programs in mode %s: %s (a pinned map "
			  "from another vigil version? run `vigil watchdog unpin`)",
			  wd_mode_name(d->mode), strerror(-err));
		goto fail;
	}
	err = apply_rules(d, rules);
	if (err)
		goto fail;
	d->rb = ring_buffer__new(bpf_map__fd(d->skel->maps.events), on_event, d, NULL);
	if (!d->rb) {
		err = -errno;
		log_error(COMP, "cannot read the watchdog ring buffer: %s", strerror(-err));
		goto fail;
	}
	d->timer = vloop_timer_add(loop, 0, 0, on_timer, d);
	if (!d->timer) {
		err = -errno;
		goto fail;
	}
	err = vbpf_ringbuf_attach(loop, d->rb);
	if (err)
		goto fail;
	if (p->metrics) {
		d->reg = p->metrics;
		err = init_metrics(d);
		if (err)
			goto fail;
	}
	if (p->pin)
		unpin_links(d->pin_dir);
	err = attach_all(d);
	if (err)
		goto fail;
	warn_coverage(d, rules);
	log_info(COMP, "watching %d rule%s in mode %s%s", rules->nrules, rules->nrules == 1 ? "" : "s",
		 wd_mode_name(d->mode), p->pin ? " (pinned: keeps enforcing after vigil exits)" : "");
	return d;
fail:
	if (d->p.pin && d->nlinks) {
		/* Nothing attached half-way: our fresh pins go with our links. */
		unpin_links(d->pin_dir);
		d->p.pin = false;
	}
	wd_free(d);
	errno = -err;
	return NULL;
}

int wd_reload(struct wd *d, const struct wd_rules *rules)
{
	int err;

	if (!rules || rules->nrules == 0)
		return -EINVAL;
	err = apply_rules(d, rules);
	if (err) {
		log_error(COMP, "reload failed, the previous rules stay in force");
		return err;
	}
	warn_coverage(d, rules);
	log_info(COMP, "reloaded %d rule%s (counters kept)", rules->nrules,
		 rules->nrules == 1 ? "" : "s");
	return 0;
}

void wd_free(struct wd *d)
{
	if (!d)
		return;
	/* Never leave a process stopped behind us. */
	while (d->skel && d->neps > 0)
		close_episode(d, d->neps - 1);
	if (d->rb) {
		vbpf_ringbuf_detach(d->loop, d->rb);
		ring_buffer__free(d->rb);
	}
	if (d->timer)
		vloop_timer_del(d->timer);
	if (d->p.pin && d->skel && d->nlinks) {
		/* Our PID may be reused by any process once we are gone: stop exempting it. The
		 * .bss map outlives our mapping of it: the pinned programs hold it. */
		d->skel->bss->wd_cfg.self_tgid = 0;
	}
	if (d->p.pin) {
		/* The pins keep the programs attached; our references go. */
		for (int i = 0; i < d->nlinks; i++)
			bpf_link__disconnect(d->links[i]);
	}
	detach_all(d);
	watchdog_bpf__destroy(d->skel);
	free(d->eps);
	free(d);
}

enum wd_mode wd_mode(const struct wd *d)
{
	return d->mode;
}

int wd_counters_fd(const struct wd *d)
{
	return bpf_map__fd(d->skel->maps.counters);
}

struct wd_stores wd_stores(const struct wd *d)
{
	return (struct wd_stores){
		.slots = d->slots ? bpf_map__fd(d->skel->maps.slots) : -1,
		.task = d->task_store ? bpf_map__fd(d->skel->maps.task_counters) : -1,
		.hash = bpf_map__fd(d->skel->maps.counters),
	};
}
