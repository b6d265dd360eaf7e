// SPDX-License-Identifier: GPL-2.0-only
/*
 * VM proof test: a BPF LSM program (lsm/file_permission) refuses read() to one process with
 * EPERM, other processes keep reading, and detaching the program lifts the refusal. Runs only
 * inside the VM tier (tests/vm/vm.sh): the host kernel refuses BPF LSM programs.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include "test.h"
#include "vm_lsm_read.skel.h"

static const char content[] = "vigil vm tier: readable unless the LSM says no\n";

/* Writes the test file; returns its path (static buffer) or NULL. */
static const char *make_file(void)
{
	static char path[] = "/tmp/vm_lsm_read.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return NULL;
	if (write(fd, content, sizeof(content) - 1) != (ssize_t)(sizeof(content) - 1)) {
		close(fd);
		return NULL;
	}
	close(fd);
	return path;
}

/* 0 when @path reads back as content, else the errno of the failed call (EIO on a mismatch). */
static int read_file(const char *path)
{
	char buf[256];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return errno;
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		int e = errno;

		close(fd);
		return e;
	}
	close(fd);
	return (size_t)n == sizeof(content) - 1 && memcmp(buf, content, n) == 0 ? 0 : EIO;
}

/*
 * Forks a child that stops itself, lets the caller aim the program at it (when @target), then
 * resumes it; the child reads @path and exits with read_file()'s result. Returns that result, or
 * -1 when the child could not be run or died.
 */
static int child_read(struct vm_lsm_read_bpf *skel, const char *path, bool target)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		raise(SIGSTOP);
		_exit(read_file(path));
	}
	if (waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	if (target)
		skel->bss->target_tgid = pid;
	kill(pid, SIGCONT);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static struct vm_lsm_read_bpf *load_and_attach(void)
{
	struct vm_lsm_read_bpf *skel = vm_lsm_read_bpf__open_and_load();

	if (!ASSERT_NOT_NULL(skel, "open and load lsm/file_permission"))
		return NULL;
	if (!ASSERT_OK(vm_lsm_read_bpf__attach(skel), "attach lsm/file_permission")) {
		vm_lsm_read_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static void test_bpf_lsm_active(void)
{
	char buf[512] = "";
	int fd = open("/sys/kernel/security/lsm", O_RDONLY);
	ssize_t n;

	if (!ASSERT_GE(fd, 0, "open /sys/kernel/security/lsm"))
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (!ASSERT_GE(n, 1, "read /sys/kernel/security/lsm"))
		return;
	ASSERT_STRCONTAINS(buf, "bpf", "active LSMs");
}

static void test_target_read_denied(void)
{
	const char *path = make_file();
	struct vm_lsm_read_bpf *skel;
	int r;

	if (!ASSERT_NOT_NULL(path, "create test file"))
		return;
	ASSERT_EQ(child_read(NULL, path, false), 0, "child reads before attach");
	skel = load_and_attach();
	if (!skel)
		goto out;
	r = child_read(skel, path, true);
	if (ASSERT_EQ(r, EPERM, "target child's read"))
		ASSERT_STREQ(strerror(r), "Operation not permitted", "error text");
	ASSERT_GE(skel->bss->denied, 1, "denied counter");
	vm_lsm_read_bpf__destroy(skel);
out:
	unlink(path);
}

static void test_other_processes_read(void)
{
	const char *path = make_file();
	struct vm_lsm_read_bpf *skel;
	pid_t stopped;
	int status;

	if (!ASSERT_NOT_NULL(path, "create test file"))
		return;
	skel = load_and_attach();
	if (!skel)
		goto out;
	/* Aim at a live process that never reads, then read from two others. */
	stopped = fork();
	if (stopped == 0) {
		raise(SIGSTOP);
		_exit(0);
	}
	if (!ASSERT_GE(stopped, 1, "fork"))
		goto destroy;
	waitpid(stopped, &status, WUNTRACED);
	skel->bss->target_tgid = stopped;
	ASSERT_EQ(read_file(path), 0, "test process reads while a sibling is targeted");
	ASSERT_EQ(child_read(skel, path, false), 0, "other child reads while attached");
	ASSERT_EQ(skel->bss->denied, 0, "denied counter");
	kill(stopped, SIGKILL);
	waitpid(stopped, NULL, 0);
destroy:
	vm_lsm_read_bpf__destroy(skel);
out:
	unlink(path);
}

static void test_detach_lifts_denial(void)
{
	const char *path = make_file();
	struct vm_lsm_read_bpf *skel;
	__u64 denied;

	if (!ASSERT_NOT_NULL(path, "create test file"))
		return;
	skel = load_and_attach();
	if (!skel)
		goto out;
	if (!ASSERT_EQ(child_read(skel, path, true), EPERM, "target child's read while attached"))
		goto destroy;
	denied = skel->bss->denied;
	/* Detach but keep the object (and its .bss mapping) so the target can still be set. */
	ASSERT_OK(bpf_link__destroy(skel->links.deny_read), "detach");
	skel->links.deny_read = NULL;
	ASSERT_EQ(child_read(skel, path, true), 0, "target child's read after detach");
	ASSERT_EQ(skel->bss->denied, denied, "denied counter after detach");
destroy:
	vm_lsm_read_bpf__destroy(skel);
out:
	unlink(path);
}

TESTS(T(test_bpf_lsm_active), T(test_target_read_denied), T(test_other_processes_read),
      T(test_detach_lifts_denial))
