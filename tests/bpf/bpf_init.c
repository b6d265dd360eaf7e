// SPDX-License-Identifier: GPL-2.0-only
/*
 * lib/bpf.c's process set-up and TC helpers against the real kernel: vbpf_init mounting bpffs and
 * tracefs where they are missing (in a private mount namespace, so the host's mounts are never
 * touched), the EPERM message a user without CAP_SYS_ADMIN sees, the LSM list, and TC attach and
 * detach checked with iproute2's `tc` in a private network namespace.
 */
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "bpf_ringbuf.skel.h"
#include "vigil/bpf.h"
#include "vigil/log.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif

/* Log lines captured from vlog, for asserting on what a user would read. */
static char logged[4096];

static void capture(enum vlog_level level, const char *comp, const char *msg, void *ctx)
{
	size_t len = strlen(logged);

	(void)level;
	(void)ctx;
	snprintf(logged + len, sizeof(logged) - len, "%s: %s\n", comp, msg);
}

/* Enters a private mount namespace whose mounts do not propagate back; *oldfd returns. */
static bool private_mntns(int *oldfd)
{
	*oldfd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (!ASSERT_GE(*oldfd, 0, "open /proc/self/ns/mnt"))
		return false;
	if (!ASSERT_OK(unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)"))
		return false;
	return ASSERT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / rprivate");
}

/* Unmounts every filesystem stacked on @dir whose magic is @magic (at most 8). */
static bool unmount_all(const char *dir, unsigned long magic)
{
	for (int i = 0; i < 8 && vbpf_is_mounted(dir, magic); i++)
		if (!ASSERT_OK(umount2(dir, MNT_DETACH), dir))
			return false;
	return ASSERT_FALSE(vbpf_is_mounted(dir, magic), "unmounted");
}

static int rb_count(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	(*(int *)ctx)++;
	return 0;
}

static void test_init_mounts_missing_filesystems(void)
{
	char pin[96];
	struct bpf_ringbuf_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	bool host_bpffs, host_tracefs, now = true;
	int oldfd = -1, fd = -1, fd2, events = 0;

	/* The host's state, to compare with after leaving the private namespace. */
	host_bpffs = vbpf_is_mounted(VBPF_BPFFS_DIR, BPF_FS_MAGIC);
	host_tracefs = vbpf_is_mounted(VBPF_TRACEFS_DIR, TRACEFS_MAGIC);
	if (!private_mntns(&oldfd))
		goto out;
	if (!unmount_all(VBPF_BPFFS_DIR, BPF_FS_MAGIC) ||
	    !unmount_all(VBPF_TRACEFS_DIR, TRACEFS_MAGIC))
		goto out;

	if (!ASSERT_OK(vbpf_init(), "vbpf_init"))
		goto out;
	ASSERT_TRUE(vbpf_is_mounted(VBPF_BPFFS_DIR, BPF_FS_MAGIC), "bpffs mounted");
	ASSERT_TRUE(vbpf_is_mounted(VBPF_TRACEFS_DIR, TRACEFS_MAGIC), "tracefs mounted");
	ASSERT_OK(vbpf_mount_bpffs(&now), "second mount of bpffs");
	ASSERT_FALSE(now, "second call mounts nothing");

	/* The new bpffs holds pins... */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vtest_pin", 4, 4, 1, NULL);
	if (!ASSERT_GE(fd, 0, "create map"))
		goto out;
	snprintf(pin, sizeof(pin), VBPF_BPFFS_DIR "/vigil_test_init_%d", (int)getpid());
	if (!ASSERT_OK(bpf_obj_pin(fd, pin), "pin a map in the new bpffs"))
		goto out;
	fd2 = bpf_obj_get(pin);
	ASSERT_GE(fd2, 0, "get the pinned map back");
	if (fd2 >= 0)
		close(fd2);

	/* ...and libbpf finds tracepoints through the new tracefs. */
	skel = bpf_ringbuf_bpf__open();
	if (!ASSERT_NOT_NULL(skel, "open skeleton"))
		goto out;
	skel->rodata->target_tgid = (uint32_t)getpid();
	if (!ASSERT_OK(bpf_ringbuf_bpf__load(skel), "load") ||
	    !ASSERT_OK(bpf_ringbuf_bpf__attach(skel), "attach tracepoint via the new tracefs"))
		goto out;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), rb_count, &events, NULL);
	if (!ASSERT_NOT_NULL(rb, "ring buffer"))
		goto out;
	for (int i = 0; i < 5; i++)
		syscall(SYS_getppid);
	ASSERT_EQ(ring_buffer__consume(rb), 5, "events through the tracepoint");

	/* Back in the host's namespace our unmounts did not reach it (another program may mount
	 * meanwhile, so only "still mounted" is asserted), and the private pin is not visible. */
	if (!ASSERT_OK(setns(oldfd, CLONE_NEWNS), "return to the original mount namespace"))
		goto out;
	if (host_bpffs)
		ASSERT_TRUE(vbpf_is_mounted(VBPF_BPFFS_DIR, BPF_FS_MAGIC), "host bpffs still there");
	if (host_tracefs)
		ASSERT_TRUE(vbpf_is_mounted(VBPF_TRACEFS_DIR, TRACEFS_MAGIC),
			    "host tracefs still there");
	ASSERT_TRUE(access(pin, F_OK) != 0, "private pin not visible on the host");
out:
	ring_buffer__free(rb);
	bpf_ringbuf_bpf__destroy(skel);
	if (fd >= 0)
		close(fd);
	if (oldfd >= 0)
		close(oldfd);
}

/* Without CAP_SYS_ADMIN the mount fails, and the message says what failed and what to do. */
static void test_mount_eperm_message(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	int oldfd = -1;

	if (!private_mntns(&oldfd) || !unmount_all(VBPF_BPFFS_DIR, BPF_FS_MAGIC))
		goto out;
	if (!ASSERT_OK(syscall(SYS_capget, &h, d), "capget"))
		goto out;
	d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	if (!ASSERT_OK(syscall(SYS_capset, &h, d), "drop CAP_SYS_ADMIN"))
		goto out;

	vlog_set_sink(capture, NULL);
	ASSERT_EQ(vbpf_mount_bpffs(NULL), -EPERM, "mount without CAP_SYS_ADMIN");
	vlog_set_sink(NULL, NULL);
	ASSERT_STREQ(logged,
		     "bpf: cannot mount bpffs on /sys/fs/bpf: Operation not permitted (run as root "
		     "or mount it: mount -t bpf bpf /sys/fs/bpf)\n",
		     "message");
	/* vbpf_init tries everything and reports the first failure. */
	vlog_set_sink(capture, NULL);
	ASSERT_EQ(vbpf_init(), -EPERM, "vbpf_init without CAP_SYS_ADMIN");
	vlog_set_sink(NULL, NULL);
	ASSERT_FALSE(vbpf_is_mounted(VBPF_BPFFS_DIR, BPF_FS_MAGIC), "still not mounted");
out:
	if (oldfd >= 0)
		close(oldfd);
}

static void test_is_mounted_checks_the_filesystem(void)
{
	ASSERT_TRUE(vbpf_is_mounted("/proc", PROC_SUPER_MAGIC), "/proc is procfs");
	ASSERT_FALSE(vbpf_is_mounted("/proc", BPF_FS_MAGIC), "/proc is not bpffs");
	ASSERT_FALSE(vbpf_is_mounted("/nonexistent/vigil", PROC_SUPER_MAGIC), "missing path");
}

/* vbpf_lsm_list returns the file's contents; vbpf_lsm_active agrees with its tokens. */
static void test_lsm_list_matches_file(void)
{
	char list[512], raw[512] = "", *save = NULL;
	bool has_bpf = false;
	FILE *f;
	int active;

	if (!ASSERT_OK(vbpf_lsm_list(list, sizeof(list)), "vbpf_lsm_list"))
		return;
	f = fopen("/sys/kernel/security/lsm", "r");
	if (!ASSERT_NOT_NULL(f, "open /sys/kernel/security/lsm"))
		return;
	if (!fgets(raw, sizeof(raw), f))
		raw[0] = 0;
	fclose(f);
	raw[strcspn(raw, "\n")] = 0;
	ASSERT_STREQ(list, raw, "list");
	for (char *t = strtok_r(raw, ",", &save); t; t = strtok_r(NULL, ",", &save))
		has_bpf |= strcmp(t, "bpf") == 0;
	active = vbpf_lsm_active();
	ASSERT_GE(active, 0, "vbpf_lsm_active");
	ASSERT_EQ(active, has_bpf, "bpf among the active LSMs");
}

/* Output of a shell command (the test's own netns is inherited) into @buf. */
static const char *sh(const char *cmd, char *buf, size_t n)
{
	FILE *p = popen(cmd, "r");
	size_t len = 0;

	buf[0] = 0;
	if (!p)
		return buf;
	len = fread(buf, 1, n - 1, p);
	buf[len] = 0;
	pclose(p);
	return buf;
}

/* A minimal sched_cls program (return TC_ACT_OK), loaded without libbpf's object machinery. */
static int load_tc_prog(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "vtest_tc", "GPL", insns, 2, NULL);
}

static bool private_netns_lo(int *ifindex)
{
	if (!ASSERT_OK(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)"))
		return false;
	*ifindex = (int)if_nametoindex("lo");
	return ASSERT_GE(*ifindex, 1, "ifindex of lo");
}

static void test_tc_attach_creates_and_removes_clsact(void)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	struct vbpf_tc tc;
	char out[4096];
	int ifindex, fd;

	if (!private_netns_lo(&ifindex))
		return;
	fd = load_tc_prog();
	if (!ASSERT_GE(fd, 0, "load sched_cls") ||
	    !ASSERT_OK(bpf_obj_get_info_by_fd(fd, &info, &len), "prog info"))
		return;
	ASSERT_FALSE(strstr(sh("tc qdisc show dev lo", out, sizeof(out)), "clsact"), "no clsact");
	if (!ASSERT_OK(vbpf_tc_attach(&tc, ifindex, BPF_TC_INGRESS, fd), "vbpf_tc_attach"))
		return;
	ASSERT_TRUE(tc.created_qdisc, "qdisc created by the attach");
	ASSERT_STRCONTAINS(sh("tc qdisc show dev lo", out, sizeof(out)), "clsact", "tc qdisc");
	sh("tc filter show dev lo ingress", out, sizeof(out));
	ASSERT_STRCONTAINS(out, "vtest_tc", "tc filter shows the program");
	ASSERT_EQ(tc.opts.prog_id, info.id, "attached program id");

	vbpf_tc_detach(&tc);
	ASSERT_FALSE(strstr(sh("tc filter show dev lo ingress", out, sizeof(out)), "vtest_tc"),
		     "filter gone");
	ASSERT_FALSE(strstr(sh("tc qdisc show dev lo", out, sizeof(out)), "clsact"),
		     "clsact gone");
	vbpf_tc_detach(&tc); /* idempotent */
	close(fd);
}

/* A clsact somebody else created stays; only our filter goes. */
static void test_tc_keeps_existing_clsact(void)
{
	struct vbpf_tc tc;
	char out[4096];
	int ifindex, fd;

	if (!private_netns_lo(&ifindex))
		return;
	if (!ASSERT_OK(system("tc qdisc add dev lo clsact"), "tc qdisc add clsact"))
		return;
	fd = load_tc_prog();
	if (!ASSERT_GE(fd, 0, "load sched_cls") ||
	    !ASSERT_OK(vbpf_tc_attach(&tc, ifindex, BPF_TC_EGRESS, fd), "vbpf_tc_attach"))
		return;
	ASSERT_FALSE(tc.created_qdisc, "existing qdisc reused");
	ASSERT_STRCONTAINS(sh("tc filter show dev lo egress", out, sizeof(out)), "vtest_tc",
			   "egress filter");
	vbpf_tc_detach(&tc);
	ASSERT_FALSE(strstr(sh("tc filter show dev lo egress", out, sizeof(out)), "vtest_tc"),
		     "filter gone");
	ASSERT_STRCONTAINS(sh("tc qdisc show dev lo", out, sizeof(out)), "clsact", "clsact kept");
	close(fd);
}

static void test_tc_attach_error_names_interface(void)
{
	struct vbpf_tc tc;
	int ifindex, fd, err;

	if (!private_netns_lo(&ifindex))
		return;
	fd = load_tc_prog();
	if (!ASSERT_GE(fd, 0, "load sched_cls"))
		return;
	logged[0] = 0;
	vlog_set_sink(capture, NULL);
	err = vbpf_tc_attach(&tc, 4242, BPF_TC_INGRESS, fd);
	vlog_set_sink(NULL, NULL);
	ASSERT_ERR(err, "attach to a missing interface");
	ASSERT_STRCONTAINS(logged, "ifindex 4242", "message names the interface");
	ASSERT_FALSE(tc.attached, "not attached");
	close(fd);
}

TESTS(T(test_init_mounts_missing_filesystems), T(test_mount_eperm_message),
      T(test_is_mounted_checks_the_filesystem), T(test_lsm_list_matches_file),
      T(test_tc_attach_creates_and_removes_clsact), T(test_tc_keeps_existing_clsact),
      T(test_tc_attach_error_names_interface))
