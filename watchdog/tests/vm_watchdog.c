// SPDX-License-Identifier: GPL-2.0-only
/*
 * The watchdog's EPERM modes on a real Debian kernel (VM tier: BPF LSM and fmod_ret work there,
 * not on the host). Worker processes forked by the test make calls in tight loops; the test
 * process itself runs the watchdog and is never counted (the daemon allowlists itself).
 *
 * Windows are 2 s, far longer than the bursts (a few hundred calls take milliseconds even under
 * TCG), so every assertion is on counts: exactly LIMIT calls succeed, the rest fail with EPERM.
 */
#include <sched.h>
#include <sys/socket.h>
#include "wd_test.h"

#define LIMIT  50
#define WINDOW 2000000000ull

/* The store the next start() uses (the default, slots, unless a test says otherwise). */
static enum wd_store next_store = WD_STORE_SLOTS;

static struct wd *start(enum wd_mode mode, const char *syscalls, const char *allow_comm,
			struct vloop **loop)
{
	struct wd_params p = { .mode = mode, .store = next_store };
	struct wd_rules r;
	char err[256], ppid[16];
	struct wd *d;

	*loop = vloop_new();
	if (!ASSERT_NOT_NULL(*loop, "loop") || !wd_rule(&r, syscalls, LIMIT, WINDOW))
		return NULL;
	/* The test runner and /init's tee read our output: never refuse them. */
	snprintf(ppid, sizeof(ppid), "%d", (int)getppid());
	if (!ASSERT_OK(wd_rules_add_allow(&r, WD_AL_PID, ppid, "test", err, sizeof(err)), err) ||
	    !ASSERT_OK(wd_rules_add_allow(&r, WD_AL_COMM, "tee", "test", err, sizeof(err)), err))
		return NULL;
	if (allow_comm && !ASSERT_OK(wd_rules_add_allow(&r, WD_AL_COMM, allow_comm, "test", err,
							sizeof(err)), err))
		return NULL;
	d = wd_new(*loop, &r, &p);
	wd_rules_free(&r);
	if (!ASSERT_NOT_NULL(d, "wd_new"))
		return NULL;
	ASSERT_EQ(wd_mode(d), mode, "mode");
	return d;
}

static void stop(struct wd *d, struct vloop *loop)
{
	wd_free(d);
	vloop_free(loop);
}

/* Exactly LIMIT reads succeed in the window, the next ones fail with EPERM, and after the
 * window the reads succeed again. */
static void exact_limit(enum wd_mode mode)
{
	struct wd_result *r = wd_shared(2);
	struct vloop *loop;
	struct wd *d = start(mode, "read", NULL, &loop);
	int fd = wd_small_file(), st;
	pid_t pid;

	if (!d || !ASSERT_NOT_NULL(r, "shm") || !ASSERT_GE(fd, 0, "file"))
		goto out;
	pid = fork();
	if (pid == 0) {
		wd_reads(fd, LIMIT + 10, &r[0]);
		usleep(WINDOW / 1000 + 200000);
		wd_reads(fd, 5, &r[1]);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ASSERT_EQ(r[0].ok, LIMIT, "reads allowed in the first window");
	ASSERT_EQ(r[0].eperm, 10, "reads refused with EPERM");
	ASSERT_EQ(r[0].other, 0, "other errors");
	ASSERT_EQ(r[1].ok, 5, "reads allowed in the next window");
	ASSERT_GE(wd_blocked(d, wd_syscall_nr("read")), 10, "blocked counter");
out:
	stop(d, loop);
}

static void test_lsm_exact_limit(void)
{
	exact_limit(WD_MODE_LSM);
}

static void test_fmod_ret_exact_limit(void)
{
	exact_limit(WD_MODE_FMOD_RET);
}

/* The same with the counters in task-local storage (where a process whose slot is taken
 * counts) and in the TGID hash: the LSM hook finds them there too. */
static void test_lsm_exact_limit_task_store(void)
{
	next_store = WD_STORE_TASK;
	exact_limit(WD_MODE_LSM);
	next_store = WD_STORE_SLOTS;
}

static void test_lsm_exact_limit_hash_store(void)
{
	next_store = WD_STORE_HASH;
	exact_limit(WD_MODE_LSM);
	next_store = WD_STORE_SLOTS;
}

/* A process making fewer calls than the limit per window is never refused. */
static void test_below_limit_never_blocked(void)
{
	struct wd_result *r = wd_shared(1);
	struct vloop *loop;
	struct wd *d = start(WD_MODE_LSM, "read", NULL, &loop);
	int fd = wd_small_file(), st;
	pid_t pid;

	if (!d || !r || !ASSERT_GE(fd, 0, "file"))
		goto out;
	pid = fork();
	if (pid == 0) {
		for (int w = 0; w < 3; w++) {
			wd_reads(fd, LIMIT - 1, r);
			usleep(WINDOW / 1000 + 100000);
		}
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ASSERT_EQ(r->ok, 3 * (LIMIT - 1), "all reads allowed");
	ASSERT_EQ(r->eperm, 0, "none refused");
out:
	stop(d, loop);
}

struct thr {
	int fd;
	struct wd_result *r;
};

static void *thread_reads(void *arg)
{
	struct thr *t = arg;

	wd_reads(t->fd, 40, t->r);
	return NULL;
}

/* Four threads of one process share one budget: together they get LIMIT reads (one call
 * fewer per racing thread at most, see count_call in watchdog.bpf.c), never more. */
static void test_threads_share_budget(void)
{
	struct wd_result *r = wd_shared(1);
	struct vloop *loop;
	struct wd *d = start(WD_MODE_LSM, "read", NULL, &loop);
	int fd = wd_small_file(), st;
	pid_t pid;

	if (!d || !r || !ASSERT_GE(fd, 0, "file"))
		goto out;
	pid = fork();
	if (pid == 0) {
		pthread_t th[4];
		struct thr t = { fd, r };

		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, thread_reads, &t);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ASSERT_LE(r->ok, LIMIT, "threads together get at most the limit");
	ASSERT_GE(r->ok, LIMIT - 3, "threads together get the limit (up to a racing call each)");
	ASSERT_EQ(r->ok + r->eperm, 160, "every read succeeded or got EPERM");
out:
	stop(d, loop);
}

/* A forked child has its own budget: the parent spends its whole budget, the child still gets
 * LIMIT reads, and the parent stays refused. */
static void test_forked_child_own_budget(void)
{
	struct wd_result *r = wd_shared(3);
	struct vloop *loop;
	struct wd *d = start(WD_MODE_LSM, "read", NULL, &loop);
	int fd = wd_small_file(), st;
	pid_t pid;

	if (!d || !r || !ASSERT_GE(fd, 0, "file"))
		goto out;
	pid = fork();
	if (pid == 0) {
		pid_t c;

		wd_reads(fd, LIMIT, &r[0]);
		c = fork();
		if (c == 0) {
			wd_reads(fd, LIMIT + 1, &r[1]);
			_exit(0);
		}
		waitpid(c, NULL, 0);
		wd_reads(fd, 1, &r[2]);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ASSERT_EQ(r[0].ok, LIMIT, "parent's budget");
	ASSERT_EQ(r[1].ok, LIMIT, "child's own budget");
	ASSERT_EQ(r[1].eperm, 1, "child refused past its own limit");
	ASSERT_EQ(r[2].eperm, 1, "parent still over its limit");
out:
	stop(d, loop);
}

/* An allowlisted command is never refused, however much it reads. */
static void test_allowlisted_never_blocked(void)
{
	struct wd_result *r = wd_shared(2);
	struct vloop *loop;
	struct wd *d = start(WD_MODE_LSM, "read", "wd_allowed", &loop);
	int fd = wd_small_file(), st;
	pid_t pid;

	if (!d || !r || !ASSERT_GE(fd, 0, "file"))
		goto out;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NAME, "wd_allowed");
		wd_reads(fd, 5 * LIMIT, &r[0]);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	/* The same reads from a process with another name are limited. */
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NAME, "wd_other");
		wd_reads(fd, 5 * LIMIT, &r[1]);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ASSERT_EQ(r[0].ok, 5 * LIMIT, "allowlisted reads");
	ASSERT_EQ(r[0].eperm, 0, "allowlisted never refused");
	ASSERT_EQ(r[1].ok, LIMIT, "the same reads under another name are limited");
out:
	stop(d, loop);
}

/* Forks a process that gets PID @want (via ns_last_pid); returns its pid, or -1. */
static pid_t fork_as(pid_t want, int fd, struct wd_result *r, int n)
{
	FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
	pid_t pid;

	if (!f)
		return -1;
	fprintf(f, "%d", want - 1);
	fclose(f);
	pid = fork();
	if (pid == 0) {
		if (getpid() == want)
			wd_reads(fd, n, r);
		_exit(0);
	}
	return pid;
}

/* A process that exited over its limit leaves no budget behind: a new process with the same
 * PID gets the full limit. */
static void test_reused_pid_fresh_budget(void)
{
	struct wd_result *r = wd_shared(2);
	struct vloop *loop;
	struct wd *d = start(WD_MODE_LSM, "read", NULL, &loop);
	int fd = wd_small_file(), st;
	pid_t pid, again;

	if (!d || !r || !ASSERT_GE(fd, 0, "file"))
		goto out;
	pid = fork();
	if (pid == 0) {
		wd_reads(fd, LIMIT + 5, &r[0]);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ASSERT_EQ(r[0].eperm, 5, "first process went over its limit");
	again = fork_as(pid, fd, &r[1], LIMIT);
	if (!ASSERT_GE(again, 0, "fork with ns_last_pid"))
		goto out;
	waitpid(again, &st, 0);
	if (again != pid) {
		TEST_SKIP("could not get pid %d again (got %d)", pid, again);
		goto out;
	}
	ASSERT_EQ(r[1].ok, LIMIT, "the reused pid starts with a full budget");
	ASSERT_EQ(r[1].eperm, 0, "nothing inherited");
out:
	stop(d, loop);
}

/* The net group in the EPERM modes: socket() past the limit fails with EPERM. */
static void net_limit(enum wd_mode mode)
{
	struct wd_result *r = wd_shared(1);
	struct vloop *loop;
	struct wd *d = start(mode, "net", NULL, &loop);
	int st;
	pid_t pid;

	if (!d || !r)
		goto out;
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < LIMIT + 3; i++) {
			int s = socket(AF_INET, SOCK_DGRAM, 0);

			if (s >= 0) {
				r->ok++;
				close(s);
			} else if (errno == EPERM) {
				r->eperm++;
			} else {
				r->other++;
			}
		}
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ASSERT_EQ(r->ok, LIMIT, "sockets created");
	ASSERT_EQ(r->eperm, 3, "sockets refused");
out:
	stop(d, loop);
}

static void test_lsm_net(void)
{
	net_limit(WD_MODE_LSM);
}

static void test_fmod_ret_net(void)
{
	net_limit(WD_MODE_FMOD_RET);
}

/* auto picks lsm on this kernel, and the kprobe mode is refused with the reason. */
static void test_auto_picks_lsm(void)
{
	struct vprobe_report rep = { 0 };

	ASSERT_EQ(wd_pick_mode(-1, true, &rep), WD_MODE_LSM, "auto with --require-eperm");
	ASSERT_EQ(wd_pick_mode(WD_MODE_KPROBE, false, &rep), -ENOTSUP,
		  "kprobe mode (no bpf_override_return in Debian kernels)");
}

TESTS(T(test_lsm_exact_limit), T(test_fmod_ret_exact_limit), T(test_lsm_exact_limit_task_store),
      T(test_lsm_exact_limit_hash_store), T(test_below_limit_never_blocked),
      T(test_threads_share_budget), T(test_forked_child_own_budget),
      T(test_allowlisted_never_blocked), T(test_reused_pid_fresh_budget), T(test_lsm_net),
      T(test_fmod_ret_net), T(test_auto_picks_lsm))
