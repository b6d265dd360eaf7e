// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel feature probe; see probe/probe.h. Each program feature opens the probe skeleton,
 * loads only its own program (autoload off for the rest), attaches it, triggers the hook from
 * this thread and reads the hit counter: "loaded" is not enough, the hook has to run. Network
 * features run in a private network namespace of the calling thread, entered with
 * unshare(CLONE_NEWNET) and left with setns(), which the kernel frees with everything in it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "probe.skel.h"
#include "probe.h"
#include "mesh/wg.h"
#include "vigil/bpf.h"
#include "vigil/buf.h"
#include "vigil/log.h"
#include "vigil/util.h"

#define COMP "probe"
#define TRIGGERS 3 /* how many times each hook is triggered */

static const struct {
	const char *id;
	const char *name;
} features[VPROBE__COUNT] = {
	[VPROBE_BTF] = { "btf", "BTF" },
	[VPROBE_BPFFS] = { "bpffs", "bpffs" },
	[VPROBE_TRACEPOINT] = { "tracepoint", "Tracepoint" },
	[VPROBE_RAW_TP] = { "raw_tp", "Raw tracepoint" },
	[VPROBE_TP_BTF] = { "tp_btf", "BTF tracepoint" },
	[VPROBE_UPROBE] = { "uprobe", "Uprobe" },
	[VPROBE_KPROBE] = { "kprobe", "Kprobe" },
	[VPROBE_FENTRY] = { "fentry", "fentry" },
	[VPROBE_FMOD_RET] = { "fmod_ret", "fmod_ret" },
	[VPROBE_LSM_ACTIVE] = { "lsm_active", "BPF LSM active" },
	[VPROBE_LSM] = { "lsm", "BPF LSM" },
	[VPROBE_OVERRIDE_RETURN] = { "override_return", "bpf_override_return" },
	[VPROBE_TC] = { "tc", "TC clsact" },
	[VPROBE_XDP] = { "xdp", "XDP" },
	[VPROBE_RINGBUF] = { "ringbuf", "Ring buffer" },
	[VPROBE_WIREGUARD] = { "wireguard", "Kernel WireGuard" },
	[VPROBE_SOCK_TP] = { "sock_tp", "Socket tracepoints" },
};

const char *vprobe_id_str(enum vprobe_id id)
{
	return (unsigned)id < VPROBE__COUNT ? features[id].id : NULL;
}

const char *vprobe_name(enum vprobe_id id)
{
	return (unsigned)id < VPROBE__COUNT ? features[id].name : NULL;
}

int vprobe_id_parse(const char *s)
{
	for (int i = 0; i < VPROBE__COUNT; i++)
		if (strcmp(s, features[i].id) == 0)
			return i;
	return -EINVAL;
}

/* What every program probe needs to know about the probing process. */
struct pctx {
	uint64_t pidns_dev, pidns_ino;
	uint32_t tgid;
	char kfunc[64]; /* the getppid syscall's kernel function, for kprobes */
};

__attribute__((format(printf, 3, 4))) static void set_ok(struct vprobe_result *res,
							  const char *status, const char *fmt, ...)
{
	va_list ap;

	res->probed = true;
	res->ok = true;
	res->err = 0;
	snprintf(res->status, sizeof(res->status), "%s", status);
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
}

/* A failure: @err (either sign; 0 for none) becomes the detail's leading errno name, then @fmt. */
__attribute__((format(printf, 4, 5))) static void set_fail(struct vprobe_result *res,
							    const char *status, int err,
							    const char *fmt, ...)
{
	char name[16], extra[128] = "";
	va_list ap;

	res->probed = true;
	res->ok = false;
	res->err = err < 0 ? -err : err;
	snprintf(res->status, sizeof(res->status), "%s", status);
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(extra, sizeof(extra), fmt, ap);
		va_end(ap);
	}
	if (res->err)
		snprintf(res->detail, sizeof(res->detail), "%s%s%s",
			 vbpf_errno_name(res->err, name, sizeof(name)), extra[0] ? ": " : "", extra);
	else
		snprintf(res->detail, sizeof(res->detail), "%s", extra);
}

/* --- triggers ------------------------------------------------------------------------------ */

static void trigger_getppid(void)
{
	for (int i = 0; i < TRIGGERS; i++)
		syscall(SYS_getppid);
}

/* read() and write() on a pipe: each passes through security_file_permission(). */
static void trigger_file_permission(void)
{
	int p[2];
	char c = 'x';

	if (pipe2(p, O_CLOEXEC))
		return;
	for (int i = 0; i < TRIGGERS; i++) {
		if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1)
			break;
	}
	close(p[0]);
	close(p[1]);
}

/* The uprobe's target in the running binary: not inlined, not optimised away, not static so
 * that its name survives in the symbol table. */
__attribute__((noinline, used)) int vprobe_uprobe_target(int x);
__attribute__((noinline, used)) int vprobe_uprobe_target(int x)
{
	asm volatile("" : "+r"(x)::"memory");
	return x + 1;
}

/* --- loading one program ------------------------------------------------------------------- */

/*
 * Opens the skeleton with only @prog_name set to load, and loads it. On failure fills @res
 * ("not loadable" with the load's errno) and returns NULL; the caller destroys what it gets.
 */
static struct probe_bpf *load_one(const struct pctx *pc, const char *prog_name, long override_rc,
			      struct vprobe_result *res)
{
	struct bpf_program *prog, *want = NULL;
	struct probe_bpf *skel;
	int err;

	skel = probe_bpf__open();
	if (!skel) {
		set_fail(res, "failed", errno, "cannot open the probe's BPF object");
		return NULL;
	}
	skel->rodata->pidns_dev = pc->pidns_dev;
	skel->rodata->pidns_ino = pc->pidns_ino;
	skel->rodata->target_tgid = pc->tgid;
	skel->rodata->trigger_nr = SYS_getppid;
	skel->rodata->override_rc = override_rc;
	bpf_object__for_each_program(prog, skel->obj) {
		bool mine = strcmp(bpf_program__name(prog), prog_name) == 0;

		bpf_program__set_autoload(prog, mine);
		if (mine)
			want = prog;
	}
	if (!want) {
		set_fail(res, "failed", ENOENT, "no program %s in the probe object", prog_name);
		probe_bpf__destroy(skel);
		return NULL;
	}
	err = probe_bpf__load(skel);
	if (err) {
		set_fail(res, "not loadable", err, NULL);
		probe_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static struct bpf_program *prog_by_name(struct probe_bpf *skel, const char *name)
{
	return bpf_object__find_program_by_name(skel->obj, name);
}

/*
 * The common shape: load @prog_name, auto-attach it (its SEC() names the hook), run @trigger
 * and require hits. @ok_status and @hook describe success.
 */
static void probe_simple(const struct pctx *pc, struct vprobe_result *res, const char *prog_name,
			 void (*trigger)(void), const char *ok_status, const char *hook)
{
	struct probe_bpf *skel = load_one(pc, prog_name, 0, res);
	struct bpf_link *link;

	if (!skel)
		return;
	link = bpf_program__attach(prog_by_name(skel, prog_name));
	if (!link) {
		set_fail(res, "not attachable", errno, NULL);
		goto out;
	}
	trigger();
	if (skel->bss->hits == 0)
		set_fail(res, "not triggered", 0, "attached to %s but never ran", hook);
	else
		set_ok(res, ok_status, "%s", hook);
	bpf_link__destroy(link);
out:
	probe_bpf__destroy(skel);
}

static void probe_uprobe(const struct pctx *pc, struct vprobe_result *res)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = "vprobe_uprobe_target");
	struct probe_bpf *skel = load_one(pc, "uprobe_hit", 0, res);
	char exe[PATH_MAX], where[PATH_MAX + 64];
	struct bpf_link *link;
	ssize_t n;
	Dl_info dl;
	int err;

	if (!skel)
		return;
	/* The real path reads better in the report; a replaced binary only has the magic link. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	if (n <= 0 || strstr(exe, " (deleted)"))
		snprintf(exe, sizeof(exe), "/proc/self/exe");
	snprintf(where, sizeof(where), "vprobe_uprobe_target in %s", exe);
	link = bpf_program__attach_uprobe_opts(skel->progs.uprobe_hit, 0, exe, 0, &opts);
	err = link ? 0 : errno;
	/* A stripped binary has no symbol table: fall back to libc's getppid. */
	if (!link && dladdr((void *)getppid, &dl) && dl.dli_fname && dl.dli_fname[0] == '/') {
		LIBBPF_OPTS(bpf_uprobe_opts, lopts, .func_name = "getppid");

		link = bpf_program__attach_uprobe_opts(skel->progs.uprobe_hit, 0, dl.dli_fname, 0,
						       &lopts);
		snprintf(where, sizeof(where), "getppid in %s", dl.dli_fname);
	}
	if (!link) {
		set_fail(res, "not attachable", err, NULL);
		goto out;
	}
	for (int i = 0; i < TRIGGERS; i++) {
		vprobe_uprobe_target(i);
		getppid();
	}
	if (skel->bss->hits == 0)
		set_fail(res, "not triggered", 0, "attached to %s but never ran", where);
	else
		set_ok(res, "works", "%s", where);
	bpf_link__destroy(link);
out:
	probe_bpf__destroy(skel);
}

/*
 * The kernel function behind getppid(2) as kallsyms names it ("__x64_sys_getppid" on x86-64):
 * kprobes need a symbol, and the syscall wrappers are on the error-injection list that
 * bpf_override_return requires.
 */
static void find_getppid_kfunc(char *buf, size_t n)
{
	static const char *const cands[] = { "__x64_sys_getppid", "__arm64_sys_getppid",
					     "__s390x_sys_getppid", "__riscv_sys_getppid",
					     "__se_sys_getppid", "sys_getppid" };
#if defined(__x86_64__)
	const char *def = "__x64_sys_getppid";
#elif defined(__aarch64__)
	const char *def = "__arm64_sys_getppid";
#else
	const char *def = "sys_getppid";
#endif
	size_t best = ARRAY_SIZE(cands);
	char line[512];
	FILE *f = fopen("/proc/kallsyms", "re");

	while (f && fgets(line, sizeof(line), f)) {
		char *name = strrchr(line, ' ');
		size_t len;

		if (!name || !strstr(name, "getppid"))
			continue;
		name++;
		len = strcspn(name, "\t\n");
		for (size_t i = 0; i < best; i++) {
			if (strlen(cands[i]) == len && strncmp(name, cands[i], len) == 0) {
				best = i;
				break;
			}
		}
	}
	if (f)
		fclose(f);
	snprintf(buf, n, "%s", best < ARRAY_SIZE(cands) ? cands[best] : def);
}

static void probe_kprobe(struct pctx *pc, struct vprobe_result *res)
{
	struct probe_bpf *skel = load_one(pc, "kprobe_hit", 0, res);
	struct bpf_link *link;

	if (!skel)
		return;
	if (!pc->kfunc[0])
		find_getppid_kfunc(pc->kfunc, sizeof(pc->kfunc));
	link = bpf_program__attach_kprobe(skel->progs.kprobe_hit, false, pc->kfunc);
	if (!link) {
		int err = errno;

		/* libbpf tries the kprobe PMU, then tracefs' kprobe_events: say when neither is
		 * there, which is what a kernel without CONFIG_KPROBES looks like. */
		if (err == ENOENT && access("/sys/bus/event_source/devices/kprobe", F_OK) &&
		    access(VBPF_TRACEFS_DIR "/kprobe_events", F_OK))
			set_fail(res, "not attachable", err, "no kprobe event source in this kernel");
		else
			set_fail(res, "not attachable", err, NULL);
		goto out;
	}
	trigger_getppid();
	if (skel->bss->hits == 0)
		set_fail(res, "not triggered", 0, "attached to %s but never ran", pc->kfunc);
	else
		set_ok(res, "works", "%s", pc->kfunc);
	bpf_link__destroy(link);
out:
	probe_bpf__destroy(skel);
}

/*
 * bpf_override_return: the program makes getppid() return a value it cannot otherwise return
 * (the real parent's pid plus one), for this process, while armed. Seeing that value is the
 * proof; anything less is reported with what was seen.
 */
static void probe_override(struct pctx *pc, struct vprobe_result *res)
{
	long real = syscall(SYS_getppid), want = real + 1, got;
	struct probe_bpf *skel = load_one(pc, "kprobe_override", want, res);
	struct bpf_link *link;

	if (!skel)
		return;
	if (!pc->kfunc[0])
		find_getppid_kfunc(pc->kfunc, sizeof(pc->kfunc));
	link = bpf_program__attach_kprobe(skel->progs.kprobe_override, false, pc->kfunc);
	if (!link) {
		set_fail(res, "not attachable", errno, NULL);
		goto out;
	}
	skel->bss->armed = 1;
	got = syscall(SYS_getppid);
	skel->bss->armed = 0;
	if (skel->bss->hits == 0)
		set_fail(res, "not triggered", 0, "attached to %s but never ran", pc->kfunc);
	else if (got != want)
		set_fail(res, "not effective", 0, "getppid() returned %ld, override asked %ld", got,
			 want);
	else
		set_ok(res, "works", "%s", pc->kfunc);
	bpf_link__destroy(link);
out:
	probe_bpf__destroy(skel);
}

static int rb_event(void *ctx, void *data, size_t size)
{
	int *n = ctx;

	(void)data;
	if (size >= sizeof(uint32_t))
		(*n)++;
	return 0;
}

static void probe_ringbuf(const struct pctx *pc, struct vprobe_result *res)
{
	struct probe_bpf *skel = load_one(pc, "rb_getppid", 0, res);
	struct ring_buffer *rb = NULL;
	struct bpf_link *link = NULL;
	int n = 0, err;

	if (!skel)
		return;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.probe_rb), rb_event, &n, NULL);
	if (!rb) {
		set_fail(res, "failed", errno, "cannot map the ring buffer");
		goto out;
	}
	link = bpf_program__attach(skel->progs.rb_getppid);
	if (!link) {
		set_fail(res, "not attachable", errno, "tracepoint syscalls/sys_enter_getppid");
		goto out;
	}
	trigger_getppid();
	err = ring_buffer__consume(rb);
	if (err < 0)
		set_fail(res, "failed", err, "consuming the ring buffer");
	else if (n == 0)
		set_fail(res, "not triggered", 0, "no record arrived");
	else
		set_ok(res, "works", "%d records from sys_enter_getppid", n);
out:
	bpf_link__destroy(link);
	ring_buffer__free(rb);
	probe_bpf__destroy(skel);
}

/* --- network namespace features ---------------------------------------------------------- */

/* Moves the calling thread into a fresh network namespace; *oldfd brings it back. 0 or -errno. */
static int netns_enter(int *oldfd)
{
	int err;

	*oldfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*oldfd < 0)
		return -errno;
	if (unshare(CLONE_NEWNET)) {
		err = -errno;
		close(*oldfd);
		*oldfd = -1;
		return err;
	}
	return 0;
}

static void netns_leave(int oldfd)
{
	if (oldfd < 0)
		return;
	if (setns(oldfd, CLONE_NEWNET))
		log_error(COMP, "cannot return to the original network namespace: %s (this thread "
			  "stays in the probe's private one)", strerror(errno));
	close(oldfd);
}

/* Brings up lo in the current (private) namespace; its ifindex or -errno. */
static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int s, err = 0;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) == 0 && ioctl(s, SIOCGIFINDEX, &ifr) == 0)
			err = ifr.ifr_ifindex;
	}
	if (err == 0)
		err = -errno;
	close(s);
	return err;
}

/* Enters a private network namespace with lo up, for probes that attach to an interface.
 * Returns lo's ifindex with *oldfd to hand to netns_leave(), or a negative errno after
 * recording why in @res (and leaving the namespace again). */
static int netns_with_lo(struct vprobe_result *res, int *oldfd)
{
	int err = netns_enter(oldfd), ifindex;

	if (err) {
		set_fail(res, "not tested", err, "cannot create a private network namespace");
		return err;
	}
	ifindex = lo_up();
	if (ifindex < 0) {
		set_fail(res, "not tested", ifindex, "cannot bring up lo in a private netns");
		netns_leave(*oldfd);
	}
	return ifindex;
}

/* Sends one UDP datagram over lo and waits (at most 2 s) until it is received, so every hook
 * on its path has run. 0 or -errno. */
static int udp_roundtrip(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 2 };
	socklen_t alen = sizeof(a);
	int rx, tx, err = 0;
	char c = 'p';

	rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(rx, (struct sockaddr *)&a, &alen) ||
	    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    sendto(tx, &c, 1, 0, (struct sockaddr *)&a, sizeof(a)) != 1 || recv(rx, &c, 1, 0) != 1)
		err = -errno;
	if (rx >= 0)
		close(rx);
	if (tx >= 0)
		close(tx);
	return err;
}

static void probe_tc(const struct pctx *pc, struct vprobe_result *res)
{
	struct probe_bpf *skel = load_one(pc, "tc_ingress", 0, res);
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, opts);
	int oldfd, ifindex, err;

	if (!skel)
		return;
	ifindex = netns_with_lo(res, &oldfd);
	if (ifindex < 0)
		goto out;
	/* libbpf directly rather than vbpf_tc_attach(): a refusal is an answer here, and the
	 * helper would log it as an error about "lo" that users could take for their own. */
	hook.ifindex = ifindex;
	hook.attach_point = BPF_TC_INGRESS;
	opts.prog_fd = bpf_program__fd(skel->progs.tc_ingress);
	err = bpf_tc_hook_create(&hook);
	if (err) {
		set_fail(res, "not attachable", err, "creating a clsact qdisc");
		goto leave;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		set_fail(res, "not attachable", err, NULL);
		goto leave; /* the namespace takes the qdisc along */
	}
	err = udp_roundtrip();
	if (err)
		set_fail(res, "not tested", err, "no packet went through lo");
	else if (skel->bss->hits == 0)
		set_fail(res, "not triggered", 0, "attached to lo ingress but never ran");
	else
		set_ok(res, "works", "sched_cls on clsact ingress of lo, private netns");
leave:
	netns_leave(oldfd);
out:
	probe_bpf__destroy(skel);
}

static void probe_xdp(const struct pctx *pc, struct vprobe_result *res)
{
	struct probe_bpf *skel = load_one(pc, "xdp_count", 0, res);
	int oldfd, ifindex, err;

	if (!skel)
		return;
	ifindex = netns_with_lo(res, &oldfd);
	if (ifindex < 0)
		goto out;
	err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.xdp_count), XDP_FLAGS_SKB_MODE,
			     NULL);
	if (err) {
		set_fail(res, "not attachable", err, NULL);
		goto leave;
	}
	err = udp_roundtrip();
	if (err)
		set_fail(res, "not tested", err, "no packet went through lo");
	else if (skel->bss->hits == 0)
		set_fail(res, "not triggered", 0, "attached to lo but never ran");
	else
		set_ok(res, "works", "generic (skb) mode on lo, private netns");
	bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
leave:
	netns_leave(oldfd);
out:
	probe_bpf__destroy(skel);
}

static void probe_wireguard(struct vprobe_result *res)
{
	int oldfd, err;

	err = netns_enter(&oldfd);
	if (err) {
		set_fail(res, "not tested", err, "cannot create a private network namespace");
		return;
	}
	err = wg_nl_link_create("vprobewg0"); /* the mesh agent's own call */
	if (err == 0)
		set_ok(res, "works", "wireguard link created in a private netns");
	else if (err == -EOPNOTSUPP)
		set_fail(res, "absent", err, NULL);
	else
		set_fail(res, "failed", err, "creating a wireguard link");
	netns_leave(oldfd); /* the namespace and its link go away with the last reference */
}

/* --- non-program features ---------------------------------------------------------------- */

/* A write on a socket pair: it passes sock_sendmsg, where sock_send_length fires. */
static void trigger_sock_send(void)
{
	int sv[2];
	char c = 'x';

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return;
	for (int i = 0; i < TRIGGERS; i++)
		if (write(sv[0], &c, 1) != 1 || read(sv[1], &c, 1) != 1)
			break;
	close(sv[0]);
	close(sv[1]);
}

/* The socket tracepoints `vigil rpc --hook socket` needs (Linux 6.4 and later). */
static void probe_sock_tp(const struct pctx *pc, struct vprobe_result *res)
{
	if (libbpf_find_vmlinux_btf_id("sock_send_length", BPF_TRACE_RAW_TP) <= 0 ||
	    libbpf_find_vmlinux_btf_id("sock_recv_length", BPF_TRACE_RAW_TP) <= 0) {
		set_fail(res, "absent", 0, "no sock_send_length/sock_recv_length tracepoints in the "
			 "kernel's BTF (Linux < 6.4): vigil rpc uses its syscall hooks");
		return;
	}
	probe_simple(pc, res, "btf_sock_send", trigger_sock_send, "works",
		     "tp_btf/sock_send_length");
}

static void probe_btf(struct vprobe_result *res)
{
	const char *path = "/sys/kernel/btf/vmlinux";
	struct btf *btf;

	if (access(path, R_OK)) {
		set_fail(res, "absent", errno, "%s", path);
		return;
	}
	btf = btf__parse(path, NULL);
	if (!btf) {
		set_fail(res, "unreadable", errno, "%s", path);
		return;
	}
	set_ok(res, "available", "%s, %u types", path, btf__type_cnt(btf));
	btf__free(btf);
}

/* bpffs is ok when mounted (now or before) and a pinned map can be found there again. */
static void probe_bpffs(struct vprobe_result *res)
{
	char path[96];
	bool now = false;
	int err, fd, fd2;

	err = vbpf_mount_bpffs(&now);
	if (err) {
		set_fail(res, "not mountable", err, NULL);
		return;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vprobe_pin", 4, 4, 1, NULL);
	if (fd < 0) {
		set_fail(res, "not tested", fd, "cannot create a map to pin");
		return;
	}
	/* No dots in the name: bpffs reserves them for its own files (EPERM). */
	snprintf(path, sizeof(path), VBPF_BPFFS_DIR "/vigil_probe_%d", (int)getpid());
	unlink(path);
	err = bpf_obj_pin(fd, path);
	if (err) {
		set_fail(res, "not usable", err, "pinning %s", path);
		close(fd);
		return;
	}
	fd2 = bpf_obj_get(path);
	unlink(path);
	close(fd);
	if (fd2 < 0) {
		set_fail(res, "not usable", fd2, "reopening %s", path);
		return;
	}
	close(fd2);
	set_ok(res, "mounted", VBPF_BPFFS_DIR "%s", now ? ", mounted by vigil" : "");
}

static void probe_lsm_active(struct vprobe_result *res)
{
	char list[256], *save = NULL, copy[256];
	int err = vbpf_lsm_list(list, sizeof(list));

	if (err) {
		set_fail(res, "unknown", err, "cannot read " VBPF_SECURITYFS_DIR "/lsm");
		return;
	}
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "bpf") == 0) {
			set_ok(res, "active", "%s", list);
			return;
		}
	}
	set_fail(res, "not active", 0, "bpf not in lsm list %s (boot with lsm=...,bpf)", list);
}

static void probe_lsm(const struct pctx *pc, struct vprobe_result *res)
{
	probe_simple(pc, res, "lsm_file_perm", trigger_file_permission, "loadable",
		     "lsm/file_permission");
	if (res->ok)
		res->detail[0] = 0; /* "BPF LSM: loadable" says it all */
	else if (!strcmp(res->status, "not triggered"))
		snprintf(res->detail, sizeof(res->detail),
			 "attached but never ran (is bpf among the active LSMs? boot with lsm=...,bpf)");
}

static int pctx_init(struct pctx *pc)
{
	struct stat st;

	memset(pc, 0, sizeof(*pc));
	if (stat("/proc/self/ns/pid", &st))
		return -errno;
	pc->pidns_dev = st.st_dev;
	pc->pidns_ino = st.st_ino;
	pc->tgid = (uint32_t)getpid();
	return 0;
}

int vprobe_run_mask(struct vprobe_report *r, uint64_t mask)
{
	libbpf_print_fn_t prev;
	struct utsname u;
	struct pctx pc;
	int err;

	if (!r)
		return -EINVAL;
	if (uname(&u) == 0)
		snprintf(r->kernel, sizeof(r->kernel), "%s", u.release);
	err = pctx_init(&pc);
	if (err) {
		log_error(COMP, "cannot read /proc/self/ns/pid: %s (is /proc mounted?)",
			  strerror(-err));
		return err;
	}
	/* Tracepoints are found through tracefs; a failure is logged and shows in the results. */
	if (mask & (VPROBE_BIT(VPROBE_TRACEPOINT) | VPROBE_BIT(VPROBE_RINGBUF) |
		    VPROBE_BIT(VPROBE_KPROBE) | VPROBE_BIT(VPROBE_OVERRIDE_RETURN)))
		vbpf_mount_tracefs(NULL);

	prev = vbpf_quiet_libbpf();
	for (int id = 0; id < VPROBE__COUNT; id++) {
		struct vprobe_result *res = &r->f[id];

		if (!(mask & VPROBE_BIT(id)))
			continue;
		memset(res, 0, sizeof(*res));
		switch ((enum vprobe_id)id) {
		case VPROBE_BTF:
			probe_btf(res);
			break;
		case VPROBE_BPFFS:
			probe_bpffs(res);
			break;
		case VPROBE_TRACEPOINT:
			probe_simple(&pc, res, "tp_getppid", trigger_getppid, "works",
				     "syscalls/sys_enter_getppid");
			break;
		case VPROBE_RAW_TP:
			probe_simple(&pc, res, "raw_sys_enter", trigger_getppid, "works",
				     "raw_tp/sys_enter");
			break;
		case VPROBE_TP_BTF:
			probe_simple(&pc, res, "btf_sys_enter", trigger_getppid, "works",
				     "tp_btf/sys_enter");
			break;
		case VPROBE_UPROBE:
			probe_uprobe(&pc, res);
			break;
		case VPROBE_KPROBE:
			probe_kprobe(&pc, res);
			break;
		case VPROBE_FENTRY:
			probe_simple(&pc, res, "fentry_perm", trigger_file_permission, "works",
				     "fentry/security_file_permission");
			break;
		case VPROBE_FMOD_RET:
			probe_simple(&pc, res, "fmod_ret_perm", trigger_file_permission, "works",
				     "fmod_ret/security_file_permission");
			break;
		case VPROBE_LSM_ACTIVE:
			probe_lsm_active(res);
			break;
		case VPROBE_LSM:
			probe_lsm(&pc, res);
			break;
		case VPROBE_OVERRIDE_RETURN:
			probe_override(&pc, res);
			break;
		case VPROBE_TC:
			probe_tc(&pc, res);
			break;
		case VPROBE_XDP:
			probe_xdp(&pc, res);
			break;
		case VPROBE_RINGBUF:
			probe_ringbuf(&pc, res);
			break;
		case VPROBE_WIREGUARD:
			probe_wireguard(res);
			break;
		case VPROBE_SOCK_TP:
			probe_sock_tp(&pc, res);
			break;
		case VPROBE__COUNT:
			break;
		}
		log_debug(COMP, "%s: %s%s%s%s", features[id].name, res->status,
			  res->detail[0] ? " (" : "", res->detail, res->detail[0] ? ")" : "");
	}
	libbpf_set_print(prev);
	return 0;
}

int vprobe_run(struct vprobe_report *r)
{
	if (r)
		memset(r, 0, sizeof(*r));
	return vprobe_run_mask(r, VPROBE_ALL);
}

const char *vprobe_line(const struct vprobe_report *r, enum vprobe_id id, char *buf, size_t n)
{
	const struct vprobe_result *res = &r->f[id];

	if (!res->probed)
		snprintf(buf, n, "%s: not probed", features[id].name);
	else if (res->detail[0])
		snprintf(buf, n, "%s: %s (%s)", features[id].name, res->status, res->detail);
	else
		snprintf(buf, n, "%s: %s", features[id].name, res->status);
	return buf;
}

void vprobe_print(FILE *f, const struct vprobe_report *r, bool json)
{
	struct vbuf b = VBUF_INIT;
	char line[256];
	struct vjw w;

	if (!json) {
		for (int id = 0; id < VPROBE__COUNT; id++)
			if (r->f[id].probed)
				fprintf(f, "%s\n", vprobe_line(r, id, line, sizeof(line)));
		return;
	}
	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kstr(&w, "kernel", r->kernel);
	vjw_key(&w, "features");
	vjw_arr(&w);
	for (int id = 0; id < VPROBE__COUNT; id++) {
		const struct vprobe_result *res = &r->f[id];

		if (!res->probed)
			continue;
		vjw_obj(&w);
		vjw_kstr(&w, "id", features[id].id);
		vjw_kstr(&w, "name", features[id].name);
		vjw_kbool(&w, "ok", res->ok);
		vjw_kstr(&w, "status", res->status);
		vjw_kstr(&w, "detail", res->detail);
		vjw_kint(&w, "errno", res->err);
		vjw_end(&w);
	}
	vjw_end(&w);
	vjw_end(&w);
	if (w.err)
		log_error(COMP, "cannot format the probe report as JSON: %s", strerror(w.err));
	else
		fprintf(f, "%s\n", vbuf_cstr(&b));
	vbuf_free(&b);
}

int vprobe_pick(const char *comp, const struct vprobe_mode *modes, int n, struct vprobe_report *r)
{
	uint64_t need = 0, missing;
	struct vbuf why = VBUF_INIT;
	char line[256];
	int err, pick = -ENOTSUP;

	for (int i = 0; i < n; i++)
		need |= modes[i].needs;
	for (int id = 0; id < VPROBE__COUNT; id++)
		if (r->f[id].probed)
			need &= ~VPROBE_BIT(id);
	err = vprobe_run_mask(r, need);
	if (err)
		return err;
	for (int i = 0; i < n && pick < 0; i++) {
		missing = 0;
		for (int id = 0; id < VPROBE__COUNT; id++)
			if ((modes[i].needs & VPROBE_BIT(id)) && !r->f[id].ok)
				missing |= VPROBE_BIT(id);
		if (!missing) {
			pick = i;
			break;
		}
		vbuf_printf(&why, "%s%s skipped:", why.len ? "; " : "", modes[i].name);
		for (int id = 0, first = 1; id < VPROBE__COUNT; id++) {
			if (!(missing & VPROBE_BIT(id)))
				continue;
			vbuf_printf(&why, "%s %s", first ? "" : ",",
				    vprobe_line(r, id, line, sizeof(line)));
			first = 0;
		}
	}
	if (pick >= 0)
		log_info(comp, "using mode %s%s%s%s", modes[pick].name, why.len ? " (" : "",
			 vbuf_cstr(&why), why.len ? ")" : "");
	else
		log_error(comp, "no mode works on kernel %s: %s (run `vigil probe` for details)",
			  r->kernel, vbuf_cstr(&why));
	vbuf_free(&why);
	return pick;
}
