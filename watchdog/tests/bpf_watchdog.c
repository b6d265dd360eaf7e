// SPDX-License-Identifier: GPL-2.0-only
/*
 * The watchdog on the host kernel, which refuses BPF LSM and fmod_ret and has no kprobes: the
 * probe must say so and pick throttle; monitor must count exactly; throttle must stop a process
 * over its limit until the window ends and leave one below it alone. Also: threads share an
 * entry, a fork gets its own, exit removes the entry, the allowlist, reloads keep counters; the
 * counting tests run with each store (slot table, task-local storage, TGID hash), and a process
 * whose slot another one holds counts in the fallback store.
 *
 * The counting is system-wide, and other programs run on this machine. Monitor tests watch
 * `read` (counting hurts nobody) and check only their workers' own entries. The throttle test,
 * which stops processes, limits preadv2, which hardly any program uses, with a budget no normal
 * program reaches.
 */
#include <sys/uio.h>
#include "wd_test.h"

#define WINDOW_LONG 60000000000ull /* nothing resets during a monitor test */

struct episodes {
	int n;
	struct wd_episode last[16];
	pid_t only; /* count episodes of this process only */
};

static void on_episode(const struct wd_episode *ep, const char *json, void *ctx)
{
	struct episodes *e = ctx;

	fprintf(stderr, "episode: %s\n", json);
	if (e->only && ep->ev.tgid != (uint32_t)e->only)
		return;
	if (e->n < 16)
		e->last[e->n] = *ep;
	e->n++;
}

/* The store the counting tests run with (each test runs once per store). */
static enum wd_store test_store = WD_STORE_SLOTS;
static const char *const store_names[] = { "slots", "task", "hash" };

static struct wd *start(enum wd_mode mode, struct wd_rules *r, struct vloop **loop,
			struct episodes *eps)
{
	struct wd_params p = { .mode = mode, .on_episode = on_episode, .ctx = eps,
			       .store = test_store };
	struct wd *d;

	*loop = vloop_new();
	if (!ASSERT_NOT_NULL(*loop, "loop"))
		return NULL;
	d = wd_new(*loop, r, &p);
	if (!ASSERT_NOT_NULL(d, "wd_new"))
		return NULL;
	return d;
}

/* The probe: LSM and fmod_ret are refused here, kprobes absent, so auto picks throttle and
 * --require-eperm fails. On a kernel that allows them the test checks the better pick. */
static void test_probe_picks_throttle(void)
{
	struct vprobe_report r = { 0 };
	int got = wd_pick_mode(-1, false, &r);

	if (r.f[VPROBE_LSM].ok) {
		ASSERT_EQ(got, WD_MODE_LSM, "LSM works here: auto picks it");
		return;
	}
	ASSERT_FALSE(r.f[VPROBE_LSM].ok, "probe reports BPF LSM unavailable");
	if (r.f[VPROBE_FMOD_RET].ok) {
		ASSERT_EQ(got, WD_MODE_FMOD_RET, "auto picks fmod_ret");
		return;
	}
	ASSERT_FALSE(r.f[VPROBE_OVERRIDE_RETURN].ok, "no bpf_override_return");
	ASSERT_EQ(got, WD_MODE_THROTTLE, "auto picks throttle");
	ASSERT_EQ(wd_pick_mode(-1, true, &r), -ENOTSUP, "--require-eperm is refused");
	ASSERT_EQ(wd_pick_mode(WD_MODE_LSM, false, &r), -ENOTSUP, "--mode lsm is refused");
	ASSERT_EQ(wd_pick_mode(WD_MODE_MONITOR, false, &r), WD_MODE_MONITOR, "--mode monitor");
}

/* N reads -> count N, and over the limit monitor refuses nothing but reports one episode with
 * the final count. */
static void monitor_counts_exactly(void)
{
	struct wd_result *res = wd_shared(1);
	struct episodes eps = { 0 };
	struct vloop *loop = NULL;
	struct wd_rules r;
	struct wd *d = NULL;
	struct wd_entry e;
	int fd = wd_small_file(), st;
	pid_t pid;

	if (!ASSERT_NOT_NULL(res, "shm") || !ASSERT_GE(fd, 0, "file") ||
	    !wd_rule(&r, "read", 100, WINDOW_LONG))
		return;
	d = start(WD_MODE_MONITOR, &r, &loop, &eps);
	if (!d)
		goto out;
	pid = fork();
	if (pid == 0) {
		wd_reads(fd, 1000, res);
		res->done = 1;
		pause();
		_exit(0);
	}
	eps.only = pid;
	if (!ASSERT_TRUE(wd_wait_flag(&res->done, 10000), "worker finished"))
		goto kill;
	ASSERT_EQ(res->ok, 1000, "monitor refuses nothing");
	if (ASSERT_TRUE(wd_entry_of(d, pid, &e), "entry of the worker")) {
		ASSERT_EQ(e.w[0].count, 1000, "count of reads");
		ASSERT_EQ(e.total, 1000, "total");
		ASSERT_EQ(e.tgid, pid, "entry tgid");
		ASSERT_EQ(e.w[0].reported, 1, "episode reported");
	}
	/* The episode is reported when the process exits (or the window ends). */
kill:
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	for (int i = 0; i < 200 && eps.n == 0; i++)
		vloop_run_once(loop, 10);
	for (int i = 0; i < 20; i++)
		vloop_run_once(loop, 5);
	if (ASSERT_EQ(eps.n, 1, "one episode")) {
		ASSERT_EQ(eps.last[0].final_count, 1000, "episode's final count");
		ASSERT_EQ(eps.last[0].ev.limit, 100, "episode's limit");
		ASSERT_STREQ(wd_action(WD_MODE_MONITOR, eps.last[0].ev.nr, eps.last[0].ev.enforce),
			     "monitor", "action");
	}
	ASSERT_FALSE(wd_entry_of(d, pid, &e), "exit removed the entry");
out:
	wd_free(d);
	vloop_free(loop);
	wd_rules_free(&r);
}

/* A worker thread: @n reads of @fd into @r, once *@go is set when @go is given. */
struct thr {
	int fd;
	struct wd_result *r;
	int n;
	volatile int *go;
};

static void *thread_reads(void *arg)
{
	struct thr *t = arg;

	while (t->go && !*t->go)
		;
	wd_reads(t->fd, t->n, t->r);
	return NULL;
}

/* Threads of one process count into one entry; a forked child gets its own; an allowlisted
 * command gets none that counts. */
static void threads_fork_allowlist(void)
{
	struct wd_result *res = wd_shared(3);
	struct episodes eps = { 0 };
	struct vloop *loop = NULL;
	struct wd_rules r;
	struct wd *d = NULL;
	struct wd_entry e;
	char err[256];
	int fd = wd_small_file(), st;
	pid_t pid, allowed;

	if (!ASSERT_NOT_NULL(res, "shm") || !ASSERT_GE(fd, 0, "file") ||
	    !wd_rule(&r, "read", 100000, WINDOW_LONG) ||
	    !ASSERT_OK(wd_rules_add_allow(&r, WD_AL_COMM, "wd_allowed", "test", err, sizeof(err)),
		       err))
		return;
	d = start(WD_MODE_MONITOR, &r, &loop, &eps);
	if (!d)
		goto out;
	pid = fork();
	if (pid == 0) {
		pthread_t th[4];
		struct thr t = { fd, &res[0], 250, NULL };
		pid_t c;

		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, thread_reads, &t);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		c = fork();
		if (c == 0) {
			wd_reads(fd, 7, &res[1]);
			res[1].pid = getpid();
			res[1].done = 1;
			pause();
			_exit(0);
		}
		res[0].pid = c;
		res[0].done = 1;
		pause();
		_exit(0);
	}
	allowed = fork();
	if (allowed == 0) {
		prctl(PR_SET_NAME, "wd_allowed");
		wd_reads(fd, 300, &res[2]);
		res[2].done = 1;
		pause();
		_exit(0);
	}
	if (!ASSERT_TRUE(wd_wait_flag(&res[0].done, 10000), "threads done") ||
	    !ASSERT_TRUE(wd_wait_flag(&res[1].done, 10000), "child done") ||
	    !ASSERT_TRUE(wd_wait_flag(&res[2].done, 10000), "allowlisted done"))
		goto kill;
	/* The count is an atomic add; only a window reset could lose calls, and there is none. */
	if (ASSERT_TRUE(wd_entry_of(d, pid, &e), "process entry"))
		ASSERT_EQ(e.w[0].count, 1000, "4 threads x 250 reads in one entry");
	if (ASSERT_TRUE(wd_entry_of(d, res[0].pid, &e), "child entry"))
		ASSERT_EQ(e.w[0].count, 7, "the forked child counts on its own");
	if (ASSERT_TRUE(wd_entry_of(d, allowed, &e), "allowlisted entry")) {
		ASSERT_EQ(e.allowed, 1, "marked allowed");
		ASSERT_EQ(e.w[0].count, 0, "not counted");
	}
kill:
	kill(res[0].pid, SIGKILL);
	kill(pid, SIGKILL);
	kill(allowed, SIGKILL);
	waitpid(pid, &st, 0);
	waitpid(allowed, &st, 0);
out:
	wd_free(d);
	vloop_free(loop);
	wd_rules_free(&r);
}

/*
 * A process's entry is created, and its first window opened, by whichever thread's call comes
 * first; calls of other threads racing it must all be counted. 40 processes, one at a time, each
 * with two threads spinning on a flag so their first reads start together on the two CPUs: every
 * entry must hold exactly 100. (With task-local storage, a build that took the racing thread's
 * failed create for "no entry" lost a call in 3-4 of the 40.)
 */
static void first_window_race(void)
{
	struct wd_result *res = wd_shared(1);
	struct episodes eps = { 0 };
	struct vloop *loop = NULL;
	struct wd_rules r;
	struct wd *d = NULL;
	struct wd_entry e;
	int fd = wd_small_file(), st, exact = 0;

	if (!ASSERT_NOT_NULL(res, "shm") || !ASSERT_GE(fd, 0, "file") ||
	    !wd_rule(&r, "read", 100000, WINDOW_LONG))
		return;
	d = start(WD_MODE_MONITOR, &r, &loop, &eps);
	if (!d)
		goto out;
	for (int i = 0; i < 40; i++) {
		pid_t pid;

		memset((void *)res, 0, sizeof(*res));
		pid = fork();
		if (pid == 0) {
			volatile int go = 0;
			struct thr t = { fd, res, 50, &go };
			pthread_t th[2];

			for (int k = 0; k < 2; k++)
				pthread_create(&th[k], NULL, thread_reads, &t);
			go = 1;
			for (int k = 0; k < 2; k++)
				pthread_join(th[k], NULL);
			res->done = 1;
			pause();
			_exit(0);
		}
		if (!ASSERT_TRUE(wd_wait_flag(&res->done, 10000), "racers done")) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		if (ASSERT_TRUE(wd_entry_of(d, pid, &e), "entry") && e.w[0].count == 100)
			exact++;
		else
			fprintf(stderr, "process %d: count %u of 100\n", pid, e.w[0].count);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	ASSERT_EQ(exact, 40, "every racing call counted");
out:
	wd_free(d);
	vloop_free(loop);
	wd_rules_free(&r);
}

/* Runs @fn once per store. */
static void each_store(void (*fn)(void))
{
	for (int s = WD_STORE_SLOTS; s <= WD_STORE_HASH; s++) {
		test_store = s;
		fprintf(stderr, "-- store %s\n", store_names[s]);
		fn();
	}
	test_store = WD_STORE_SLOTS;
}

static void test_monitor_counts_exactly(void)
{
	each_store(monitor_counts_exactly);
}

static void test_threads_fork_allowlist(void)
{
	each_store(threads_fork_allowlist);
}

static void test_first_window_race(void)
{
	each_store(first_window_race);
}

/*
 * A process whose slot (TGID % WD_SLOTS) another live process holds counts in the fallback store
 * (task-local storage here), exactly, and leaves the holder's slot alone, also when it exits. The
 * holder is simulated by writing an owner that is not the worker into the worker's slot before it
 * makes its first call.
 */
static void test_slot_taken_falls_back(void)
{
	struct wd_result *res = wd_shared(1);
	struct wd_entry e, fake = { .tgid = 0, .total = 12345 };
	struct episodes eps = { 0 };
	struct vloop *loop = NULL;
	struct wd_stores s;
	struct wd_rules r;
	struct wd *d = NULL;
	int fd = wd_small_file(), st;
	__u32 slot;
	pid_t pid;

	if (!ASSERT_NOT_NULL(res, "shm") || !ASSERT_GE(fd, 0, "file") ||
	    !wd_rule(&r, "read", 100000, WINDOW_LONG))
		return;
	d = start(WD_MODE_MONITOR, &r, &loop, &eps);
	if (!d)
		goto out;
	s = wd_stores(d);
	pid = fork();
	if (pid == 0) {
		wd_wait_flag(&res->go, 10000);
		wd_reads(fd, 321, res);
		res->done = 1;
		pause();
		_exit(0);
	}
	slot = (__u32)pid & (WD_SLOTS - 1);
	fake.tgid = (__u32)pid ^ WD_SLOTS; /* same slot, another process */
	if (!ASSERT_OK(bpf_map_update_elem(s.slots, &slot, &fake, BPF_ANY), "hold the slot"))
		goto kill;
	res->go = 1;
	if (!ASSERT_TRUE(wd_wait_flag(&res->done, 10000), "worker finished"))
		goto kill;
	if (ASSERT_TRUE(wd_entry_of(d, pid, &e), "the worker has an entry"))
		ASSERT_EQ(e.w[0].count, 321, "counted exactly in the fallback store");
	if (s.task >= 0) {
		int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

		ASSERT_OK(bpf_map_lookup_elem(s.task, &pidfd, &e), "the entry is task-local");
		close(pidfd);
	}
kill:
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	if (ASSERT_OK(bpf_map_lookup_elem(s.slots, &slot, &e), "slot"))
		ASSERT_TRUE(e.tgid == fake.tgid && e.total == 12345,
			    "the holder's slot survives the worker's calls and exit");
out:
	wd_free(d);
	vloop_free(loop);
	wd_rules_free(&r);
}

/* A reload (what SIGHUP does) keeps every counter and applies the new limit and allowlist. */
static void test_reload_keeps_counters(void)
{
	struct wd_result *res = wd_shared(1);
	struct episodes eps = { 0 };
	struct vloop *loop = NULL;
	struct wd_rules r, r2;
	struct wd *d = NULL;
	struct wd_entry e;
	char err[256];
	int fd = wd_small_file(), st;
	pid_t pid;

	if (!ASSERT_NOT_NULL(res, "shm") || !ASSERT_GE(fd, 0, "file") ||
	    !wd_rule(&r, "read", 100000, WINDOW_LONG) || !wd_rule(&r2, "read", 5, WINDOW_LONG))
		return;
	d = start(WD_MODE_MONITOR, &r, &loop, &eps);
	if (!d)
		goto out;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NAME, "wd_reload");
		wd_reads(fd, 40, res);
		res->done = 1;
		wd_wait_flag(&res->go, 10000);
		wd_reads(fd, 3, res);
		res->done = 2;
		pause();
		_exit(0);
	}
	if (!ASSERT_TRUE(wd_wait_flag(&res->done, 10000), "first reads"))
		goto kill;
	ASSERT_OK(wd_rules_add_allow(&r2, WD_AL_COMM, "wd_reload", "test", err, sizeof(err)), err);
	ASSERT_OK(wd_reload(d, &r2), "reload");
	res->go = 1;
	for (int i = 0; i < 5000 && res->done != 2; i++)
		usleep(1000);
	if (ASSERT_TRUE(wd_entry_of(d, pid, &e), "entry survives the reload")) {
		ASSERT_EQ(e.w[0].count, 40, "counter kept, later reads allowlisted");
		ASSERT_EQ(e.allowed, 1, "new allowlist applied");
	}
kill:
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
out:
	wd_free(d);
	vloop_free(loop);
	wd_rules_free(&r);
	wd_rules_free(&r2);
}

/* One process state letter from /proc/PID/stat ('R', 'S', 'T', ...), 0 when gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p && p[1] == ' ' ? p[2] : 0;
}

#define TH_LIMIT  5000
#define TH_WINDOW 3000000000ull

static void preadv2_loop(int fd, struct wd_result *r, long per_burst, useconds_t pause_us)
{
	char buf[8];
	struct iovec iov = { buf, sizeof(buf) };

	for (;;) {
		for (long i = 0; i < per_burst; i++) {
			if (syscall(SYS_preadv2, fd, &iov, 1, 0, 0, 0) >= 0)
				r->ok++;
			else
				r->other++;
			r->progress++;
		}
		if (pause_us)
			usleep(pause_us);
	}
}

/*
 * Throttle: a process calling preadv2 in a tight loop goes over TH_LIMIT per TH_WINDOW and is
 * stopped (state T) for the rest of the window: while stopped it completes no call at all, and
 * after the window it runs again. A process making fewer calls per window is never stopped.
 * The assertions are on states and counts; the only timing assumption is that the test sees the
 * stop within the 3 s window the process spends stopped.
 */
static void test_throttle_pauses_aggressive(void)
{
	struct wd_result *res = wd_shared(2);
	struct episodes eps = { 0 };
	struct vloop *loop = NULL;
	struct wd_rules r;
	struct wd *d = NULL;
	int fd = wd_small_file(), st;
	pid_t hog = -1, calm = -1;
	long at_stop, later;
	bool stopped = false, resumed = false, calm_stopped = false;

	if (!ASSERT_NOT_NULL(res, "shm") || !ASSERT_GE(fd, 0, "file") ||
	    !wd_rule(&r, "preadv2", TH_LIMIT, TH_WINDOW))
		return;
	d = start(WD_MODE_THROTTLE, &r, &loop, &eps);
	if (!d)
		goto out;
	calm = fork();
	if (calm == 0)
		preadv2_loop(fd, &res[1], 100, 200000); /* ~500 calls/s: 1500 per window */
	hog = fork();
	if (hog == 0)
		preadv2_loop(fd, &res[0], 1000000, 0);
	/* Wait for the stop (the daemon acts on the ring buffer in vloop_run_once). */
	for (int i = 0; i < 1000 && !stopped; i++) {
		vloop_run_once(loop, 5);
		stopped = proc_state(hog) == 'T';
		calm_stopped |= proc_state(calm) == 'T';
	}
	if (!ASSERT_TRUE(stopped, "the aggressive process was stopped"))
		goto kill;
	at_stop = res[0].progress;
	ASSERT_GE(at_stop, TH_LIMIT, "it got its budget first");
	fprintf(stderr, "stopped after %ld calls (limit %d): %ld slipped through\n", at_stop,
		TH_LIMIT, at_stop - TH_LIMIT);
	/* While stopped nothing happens: check twice, 200 ms apart, inside the window. */
	for (int i = 0; i < 20; i++) {
		vloop_run_once(loop, 10);
		calm_stopped |= proc_state(calm) == 'T';
	}
	if (proc_state(hog) == 'T')
		ASSERT_EQ(res[0].progress, at_stop, "no call completes while stopped");
	/* The window ends: it runs again, and is stopped again within the next one. */
	for (int i = 0; i < 2000 && !resumed; i++) {
		vloop_run_once(loop, 5);
		resumed = res[0].progress > at_stop;
		calm_stopped |= proc_state(calm) == 'T';
	}
	ASSERT_TRUE(resumed, "resumed after the window");
	later = res[0].progress;
	ASSERT_GE(eps.n, 1, "episode reported");
	for (int i = 0; i < eps.n && i < 16; i++) {
		ASSERT_EQ(eps.last[i].ev.tgid, hog, "only the aggressive process has episodes");
		ASSERT_TRUE(eps.last[i].stopped, "episode says stopped");
	}
	ASSERT_FALSE(calm_stopped, "the calm process was never stopped");
	ASSERT_GE(res[1].ok, 100, "the calm process made its calls");
	ASSERT_EQ(res[1].other, 0, "no call failed (throttle delays, it does not fail calls)");
	ASSERT_EQ(res[0].other, 0, "no call of the aggressive process failed");
	fprintf(stderr, "aggressive: %ld calls, calm: %d calls\n", later, res[1].ok);
kill:
	if (hog > 0) {
		kill(hog, SIGKILL);
		waitpid(hog, &st, 0);
	}
	if (calm > 0) {
		kill(calm, SIGKILL);
		waitpid(calm, &st, 0);
	}
out:
	wd_free(d);
	vloop_free(loop);
	wd_rules_free(&r);
}

/* Shutdown never leaves a process stopped. */
static void test_free_resumes_stopped(void)
{
	struct wd_result *res = wd_shared(1);
	struct episodes eps = { 0 };
	struct vloop *loop = NULL;
	struct wd_rules r;
	struct wd *d = NULL;
	int fd = wd_small_file(), st;
	bool stopped = false;
	pid_t hog = -1;

	if (!ASSERT_NOT_NULL(res, "shm") || !ASSERT_GE(fd, 0, "file") ||
	    !wd_rule(&r, "preadv2", TH_LIMIT, 30000000000ull))
		return;
	d = start(WD_MODE_THROTTLE, &r, &loop, &eps);
	if (!d)
		goto out;
	hog = fork();
	if (hog == 0)
		preadv2_loop(fd, res, 1000000, 0);
	for (int i = 0; i < 1000 && !stopped; i++) {
		vloop_run_once(loop, 5);
		stopped = proc_state(hog) == 'T';
	}
	ASSERT_TRUE(stopped, "stopped (window of 30 s)");
	wd_free(d);
	d = NULL;
	usleep(50000);
	ASSERT_NEQ(proc_state(hog), 'T', "running again after wd_free");
	ASSERT_EQ(eps.n, 1, "the open episode was reported at shutdown");
	kill(hog, SIGKILL);
	waitpid(hog, &st, 0);
out:
	wd_free(d);
	vloop_free(loop);
	wd_rules_free(&r);
}

TESTS(T(test_probe_picks_throttle), T(test_monitor_counts_exactly),
      T(test_threads_fork_allowlist), T(test_first_window_race),
      T(test_slot_taken_falls_back), T(test_reload_keeps_counters),
      T(test_throttle_pauses_aggressive), T(test_free_resumes_stopped))
