// SPDX-License-Identifier: GPL-2.0-only
/* BPF plumbing shared by the capabilities; see include/vigil/bpf.h. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "vigil/bpf.h"
#include "vigil/log.h"

#define COMP "bpf"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif
#ifndef SECURITYFS_MAGIC
#define SECURITYFS_MAGIC 0x73636673
#endif

const char *vbpf_errno_name(int err, char *buf, size_t n)
{
	const char *name;

	if (err < 0)
		err = -err;
	name = strerrorname_np(err);
	if (name)
		return name;
	snprintf(buf, n, "E%d", err);
	return buf;
}

bool vbpf_is_mounted(const char *path, unsigned long magic)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (unsigned long)st.f_type == magic;
}

/* What a mount helper needs to know about its filesystem. */
struct fs_spec {
	const char *name;   /* as users call it, for messages */
	const char *type;   /* mount(2) type */
	const char *dir;
	unsigned long magic;
	const char *data;
};

static const struct fs_spec bpffs = { "bpffs", "bpf", VBPF_BPFFS_DIR, BPF_FS_MAGIC, "mode=0700" };
static const struct fs_spec tracefs = { "tracefs", "tracefs", VBPF_TRACEFS_DIR, TRACEFS_MAGIC,
					NULL };
static const struct fs_spec securityfs = { "securityfs", "securityfs", VBPF_SECURITYFS_DIR,
					   SECURITYFS_MAGIC, NULL };

/*
 * Mounts @fs on its directory unless statfs says it is already there. A failure is logged with
 * the command that would fix it, since the usual cause is running without CAP_SYS_ADMIN.
 */
static int mount_fs(const struct fs_spec *fs, bool *mounted_now)
{
	const char *src = fs->type; /* the source is free text; use the type, as mount(8) does */
	int err;

	if (mounted_now)
		*mounted_now = false;
	if (vbpf_is_mounted(fs->dir, fs->magic))
		return 0;
	if (mount(src, fs->dir, fs->type, MS_NOSUID | MS_NODEV | MS_NOEXEC, fs->data) == 0) {
		log_debug(COMP, "mounted %s on %s", fs->name, fs->dir);
		if (mounted_now)
			*mounted_now = true;
		return 0;
	}
	err = errno;
	if (err == EBUSY && vbpf_is_mounted(fs->dir, fs->magic))
		return 0; /* somebody else mounted it meanwhile */
	log_error(COMP, "cannot mount %s on %s: %s (%s%smount it: mount -t %s %s %s)", fs->name,
		  fs->dir, strerror(err), err == EPERM || err == EACCES ? "run as root or " : "",
		  err == ENOENT ? "is the kernel built with it? " : "", fs->type, src, fs->dir);
	return -err;
}

int vbpf_mount_bpffs(bool *mounted_now)
{
	return mount_fs(&bpffs, mounted_now);
}

int vbpf_mount_tracefs(bool *mounted_now)
{
	return mount_fs(&tracefs, mounted_now);
}

int vbpf_mount_securityfs(bool *mounted_now)
{
	return mount_fs(&securityfs, mounted_now);
}

/*
 * RLIMIT_MEMLOCK only matters on kernels that charge BPF memory to it (before 5.11). Raise it
 * when allowed, to the hard limit when not, and carry on either way: on a memcg-accounting
 * kernel libbpf 1.x loads fine under an 8 MiB limit, and on an old one the load error says so.
 */
static void raise_memlock(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	if (setrlimit(RLIMIT_MEMLOCK, &rl) == 0)
		return;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_MEMLOCK, &rl) == 0)
			return;
	}
	log_debug(COMP, "RLIMIT_MEMLOCK stays at %llu bytes: %s (fine with memcg accounting)",
		  (unsigned long long)rl.rlim_cur, strerror(errno));
}

int vbpf_init(void)
{
	int err, first = 0;

	vlog_route_libbpf();
	raise_memlock();
	err = vbpf_mount_bpffs(NULL);
	if (err && !first)
		first = err;
	err = vbpf_mount_tracefs(NULL);
	if (err && !first)
		first = err;
	return first;
}

int vbpf_lsm_list(char *buf, size_t n)
{
	const char *path = VBPF_SECURITYFS_DIR "/lsm";
	FILE *f;
	size_t len;
	int err;

	if (n == 0)
		return -EINVAL;
	buf[0] = 0;
	err = vbpf_mount_securityfs(NULL);
	if (err)
		return err;
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		log_error(COMP, "cannot read the active LSMs from %s: %s (is securityfs mounted?)",
			  path, strerror(-err));
		return err;
	}
	len = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[len] = 0;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = 0;
	return 0;
}

int vbpf_lsm_active(void)
{
	char list[512], *save = NULL;
	int err = vbpf_lsm_list(list, sizeof(list));

	if (err)
		return err;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (strcmp(t, "bpf") == 0)
			return 1;
	return 0;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (vlog_level() >= VLOG_DEBUG)
		vlogv(VLOG_DEBUG, "libbpf", fmt, ap);
	return 0;
}

libbpf_print_fn_t vbpf_quiet_libbpf(void)
{
	return libbpf_set_print(quiet_print);
}

static void ringbuf_ready(struct vloop *loop, int fd, uint32_t events, void *ctx)
{
	struct ring_buffer *rb = ctx;
	int n;

	(void)loop;
	(void)events;
	n = ring_buffer__consume(rb);
	if (n < 0 && n != -EINTR)
		log_warn(COMP, "ring buffer (epoll fd %d): consuming failed: %s", fd, strerror(-n));
}

int vbpf_ringbuf_attach(struct vloop *loop, struct ring_buffer *rb)
{
	int fd, err;

	if (!loop || !rb)
		return -EINVAL;
	fd = ring_buffer__epoll_fd(rb);
	if (fd < 0)
		return -EBADF;
	err = vloop_add_fd(loop, fd, EPOLLIN, ringbuf_ready, rb);
	if (err)
		log_error(COMP, "cannot watch ring buffer epoll fd %d: %s", fd, strerror(-err));
	return err;
}

int vbpf_ringbuf_detach(struct vloop *loop, struct ring_buffer *rb)
{
	if (!loop || !rb)
		return -EINVAL;
	return vloop_del_fd(loop, ring_buffer__epoll_fd(rb));
}

static const char *tc_where(enum bpf_tc_attach_point where)
{
	return where == BPF_TC_INGRESS ? "ingress" : where == BPF_TC_EGRESS ? "egress" : "custom";
}

int vbpf_tc_attach(struct vbpf_tc *tc, int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	char name[IF_NAMESIZE] = "?";
	libbpf_print_fn_t prev;
	int err;

	memset(tc, 0, sizeof(*tc));
	tc->hook.sz = sizeof(tc->hook);
	tc->hook.ifindex = ifindex;
	tc->hook.attach_point = where;
	tc->opts.sz = sizeof(tc->opts);
	tc->opts.prog_fd = prog_fd;
	if_indextoname((unsigned)ifindex, name);

	/* An existing clsact is fine (-EEXIST), but libbpf would warn with the kernel's extack
	 * "Exclusivity flag on, cannot modify": keep that at DEBUG. */
	prev = vbpf_quiet_libbpf();
	err = bpf_tc_hook_create(&tc->hook);
	libbpf_set_print(prev);
	if (err == 0) {
		tc->created_qdisc = true;
	} else if (err != -EEXIST) {
		log_error(COMP, "cannot create a clsact qdisc on %s (ifindex %d): %s (is "
			  "CONFIG_NET_SCH_INGRESS enabled? see: tc qdisc show dev %s)",
			  name, ifindex, strerror(-err), name);
		return err;
	}
	err = bpf_tc_attach(&tc->hook, &tc->opts);
	if (err) {
		log_error(COMP, "cannot attach a TC %s program to %s (ifindex %d): %s (see: tc filter "
			  "show dev %s %s)", tc_where(where), name, ifindex, strerror(-err), name,
			  tc_where(where));
		if (tc->created_qdisc) {
			tc->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&tc->hook);
			tc->created_qdisc = false;
		}
		return err;
	}
	tc->attached = true;
	log_debug(COMP, "TC %s program attached to %s (handle %u, priority %u)%s", tc_where(where),
		  name, tc->opts.handle, tc->opts.priority,
		  tc->created_qdisc ? ", clsact created" : "");
	return 0;
}

void vbpf_tc_detach(struct vbpf_tc *tc)
{
	if (tc->attached) {
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = tc->opts.handle,
			    .priority = tc->opts.priority);
		int err = bpf_tc_detach(&tc->hook, &o);

		if (err && err != -ENOENT && err != -ENODEV)
			log_warn(COMP, "cannot detach TC program from ifindex %d (handle %u): %s",
				 tc->hook.ifindex, tc->opts.handle, strerror(-err));
		tc->attached = false;
	}
	if (tc->created_qdisc) {
		tc->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&tc->hook);
		tc->created_qdisc = false;
	}
}
