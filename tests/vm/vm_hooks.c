// SPDX-License-Identifier: GPL-2.0-only
/*
 * VM test of the tracing hooks the host kernel lacks: kprobe (ksyscall), fentry, fmod_ret on a
 * security_* function, and bpf_override_return. Each test loads only its own program, so one
 * missing feature does not hide the others. Runs only inside the VM tier (tests/vm/vm.sh).
 */
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <bpf/libbpf.h>
#include "test.h"
#include "vm_hooks.skel.h"

#define CALLS 7

/* Opens the skeleton with only @prog marked for loading, loads and attaches it. */
static struct vm_hooks_bpf *load_only(const char *prog)
{
	struct vm_hooks_bpf *skel = vm_hooks_bpf__open();
	struct bpf_program *p;

	if (!ASSERT_NOT_NULL(skel, "open vm_hooks"))
		return NULL;
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, strcmp(bpf_program__name(p), prog) == 0);
	if (!ASSERT_OK(vm_hooks_bpf__load(skel), prog) || !ASSERT_OK(vm_hooks_bpf__attach(skel), prog)) {
		vm_hooks_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static void test_kprobe_syscall(void)
{
	struct vm_hooks_bpf *skel = load_only("kprobe_getppid");

	if (!skel)
		return;
	skel->bss->target_tgid = getpid();
	for (int i = 0; i < CALLS; i++)
		syscall(SYS_getppid);
	skel->bss->target_tgid = 0;
	ASSERT_EQ(skel->bss->kprobe_hits, CALLS, "kprobe hits");
	vm_hooks_bpf__destroy(skel);
}

static void test_fentry(void)
{
	char path[] = "/tmp/vm_hooks.XXXXXX", buf[16];
	int fd = mkstemp(path);
	struct vm_hooks_bpf *skel = NULL;

	if (!ASSERT_GE(fd, 0, "mkstemp") || !ASSERT_EQ(write(fd, "data", 4), 4, "write"))
		goto out;
	skel = load_only("fentry_vfs_read");
	if (!skel)
		goto out;
	/* Each pread() of a regular file is one vfs_read() call. */
	skel->bss->target_tgid = getpid();
	for (int i = 0; i < CALLS; i++)
		if (pread(fd, buf, sizeof(buf), 0) != 4)
			break;
	skel->bss->target_tgid = 0;
	ASSERT_EQ(skel->bss->fentry_hits, CALLS, "fentry hits");
out:
	vm_hooks_bpf__destroy(skel);
	if (fd >= 0)
		close(fd);
	unlink(path);
}

static void test_fmod_ret_denies_read(void)
{
	char path[] = "/tmp/vm_hooks.XXXXXX", buf[16];
	int fd = mkstemp(path), err;
	struct vm_hooks_bpf *skel;
	ssize_t n;

	if (!ASSERT_GE(fd, 0, "mkstemp") || !ASSERT_EQ(write(fd, "data", 4), 4, "write"))
		goto out;
	skel = load_only("fmod_ret_file_permission");
	if (!skel)
		goto out;
	/* Only this process is refused, and only between these two stores. */
	skel->bss->target_tgid = getpid();
	n = pread(fd, buf, sizeof(buf), 0);
	err = errno;
	skel->bss->target_tgid = 0;
	if (ASSERT_EQ(n, -1, "pread while targeted"))
		ASSERT_EQ(err, EPERM, "errno");
	ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 4, "pread after");
	ASSERT_EQ(skel->bss->fmod_ret_denied, 1, "denied counter");
	vm_hooks_bpf__destroy(skel);
out:
	if (fd >= 0)
		close(fd);
	unlink(path);
}

/*
 * 1 when the running kernel's config (vm.sh copies it to /boot) sets @opt=y, 0 when it does not,
 * -1 when the config is not there.
 */
static int kernel_config_has(const char *opt)
{
	char path[300], line[512];
	struct utsname u;
	size_t len = strlen(opt);
	FILE *f;
	int found = 0;

	uname(&u);
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, opt, len) == 0 && strncmp(line + len, "=y", 2) == 0)
			found = 1;
	fclose(f);
	return found;
}

/*
 * bpf_override_return matches the kernel's config: where CONFIG_BPF_KPROBE_OVERRIDE is set, a
 * kprobe on the syscall makes getpgid() fail with EPERM for the target only; where it is not
 * (every Debian kernel we boot: CONFIG_FUNCTION_ERROR_INJECTION is off), the load must fail.
 * A real load is the probe: libbpf 1.1's libbpf_probe_bpf_helper() answers "supported" on
 * 6.12, whose verifier words the refusal differently ("program of this type cannot use helper").
 */
static void test_override_return_matches_config(void)
{
	int cfg = kernel_config_has("CONFIG_BPF_KPROBE_OVERRIDE");
	struct vm_hooks_bpf *skel;
	struct bpf_program *p;
	long r;
	int err;

	if (!ASSERT_GE(cfg, 0, "/boot/config-$(uname -r) in the VM image"))
		return;
	if (!cfg) {
		skel = vm_hooks_bpf__open();
		if (!ASSERT_NOT_NULL(skel, "open vm_hooks"))
			return;
		bpf_object__for_each_program(p, skel->obj)
			bpf_program__set_autoload(p, p == skel->progs.kprobe_override_getpgid);
		ASSERT_ERR(vm_hooks_bpf__load(skel), "load without CONFIG_BPF_KPROBE_OVERRIDE");
		vm_hooks_bpf__destroy(skel);
		return;
	}
	skel = load_only("kprobe_override_getpgid");
	if (!skel)
		return;
	skel->bss->target_tgid = getpid();
	r = syscall(SYS_getpgid, 0);
	err = errno;
	skel->bss->target_tgid = 0;
	if (ASSERT_EQ(r, -1, "getpgid while targeted"))
		ASSERT_EQ(err, EPERM, "errno");
	ASSERT_GE(syscall(SYS_getpgid, 0), 0, "getpgid after");
	ASSERT_EQ(skel->bss->override_hits, 1, "override hits");
	vm_hooks_bpf__destroy(skel);
}

TESTS(T(test_kprobe_syscall), T(test_fentry), T(test_fmod_ret_denies_read),
      T(test_override_return_matches_config))
