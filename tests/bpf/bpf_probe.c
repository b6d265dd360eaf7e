// SPDX-License-Identifier: GPL-2.0-only
/*
 * The feature probe against independent evidence on the machine: kallsyms, tracefs and the perf
 * event sources for kprobes and uprobes, /sys/kernel/security/lsm for the active LSMs, raw
 * bpf(BPF_PROG_LOAD) calls (no skeleton, no libbpf object) for fentry, fmod_ret and BPF LSM,
 * iproute2 for kernel WireGuard, /proc/config.gz where the kernel has one. Expectations are
 * derived from that evidence, never from what this particular host is known to allow.
 */
#include <fcntl.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <zlib.h>
#include <jansson.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "test.h"
#include "../../probe/probe.h"
#include "vigil/bpf.h"
#include "vigil/log.h"
#include "vigil/util.h"

#define TRACEFS "/sys/kernel/tracing"

static bool run(struct vprobe_report *r)
{
	return ASSERT_OK(vprobe_run(r), "vprobe_run");
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static bool kallsyms_has(const char *sym)
{
	char line[512];
	size_t n = strlen(sym);
	bool found = false;
	FILE *f = fopen("/proc/kallsyms", "r");

	while (f && !found && fgets(line, sizeof(line), f)) {
		char *name = strrchr(line, ' ');

		found = name && strncmp(name + 1, sym, n) == 0 &&
			(name[1 + n] == '\n' || name[1 + n] == '\t' || name[1 + n] == 0);
	}
	if (f)
		fclose(f);
	return found;
}

/* 'y', 'm' or 'n' for CONFIG_@name in /proc/config.gz; 0 when the kernel has no config there. */
static char kconfig(const char *name)
{
	char line[512], want[128];
	gzFile gz = gzopen("/proc/config.gz", "rb");
	char v = 'n';

	if (!gz)
		return 0;
	snprintf(want, sizeof(want), "CONFIG_%s=", name);
	while (gzgets(gz, line, sizeof(line)))
		if (strncmp(line, want, strlen(want)) == 0)
			v = line[strlen(want)];
	gzclose(gz);
	return v;
}

static const char *ename(int err)
{
	static char buf[16];

	return vbpf_errno_name(err, buf, sizeof(buf));
}

/*
 * Loads "r0 = 0; exit" as @type/@attach against the vmlinux function @func with the raw bpf()
 * wrapper: 0 when the kernel accepts it, else the positive errno.
 */
static int raw_load(enum bpf_prog_type type, enum bpf_attach_type attach, const char *func)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct btf *btf = btf__load_vmlinux_btf();
	int id, fd;

	if (!btf)
		return errno;
	id = btf__find_by_name_kind(btf, func, BTF_KIND_FUNC);
	btf__free(btf);
	if (id < 0)
		return ENOENT;
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach,
		    .attach_btf_id = (__u32)id);
	fd = bpf_prog_load(type, "vtest_raw", "GPL", insns, 2, &opts);
	if (fd < 0)
		return -fd;
	close(fd);
	return 0;
}

/* Every feature probed, exactly once, with a status; failures say why. */
static void test_report_is_complete(void)
{
	struct vprobe_report r;
	struct utsname u;

	if (!run(&r))
		return;
	uname(&u);
	ASSERT_STREQ(r.kernel, u.release, "kernel");
	for (int id = 0; id < VPROBE__COUNT; id++) {
		const struct vprobe_result *f = &r.f[id];

		ASSERT_NOT_NULL(vprobe_id_str(id), "id string");
		ASSERT_EQ(vprobe_id_parse(vprobe_id_str(id)), id, vprobe_id_str(id));
		ASSERT_TRUE(f->probed, vprobe_id_str(id));
		ASSERT_TRUE(f->status[0] != 0, vprobe_id_str(id));
		if (f->ok)
			ASSERT_EQ(f->err, 0, vprobe_id_str(id));
		else
			ASSERT_TRUE(f->err > 0 || f->detail[0], vprobe_id_str(id));
		/* A failure with an errno leads its detail with the errno's name. */
		if (f->err)
			ASSERT_EQ(strncmp(f->detail, ename(f->err), strlen(ename(f->err))), 0,
				  f->detail);
	}
	ASSERT_EQ(vprobe_id_parse("nonsense"), -EINVAL, "unknown id");
}

static void test_btf_matches_sysfs(void)
{
	struct vprobe_report r;

	if (!run(&r))
		return;
	ASSERT_EQ(r.f[VPROBE_BTF].ok, access("/sys/kernel/btf/vmlinux", R_OK) == 0, "btf");
	if (r.f[VPROBE_TP_BTF].ok)
		ASSERT_TRUE(r.f[VPROBE_BTF].ok, "tp_btf needs BTF");
	/* The probe leaves bpffs mounted (as vbpf_init would), so it must be there now. */
	ASSERT_EQ(r.f[VPROBE_BPFFS].ok, vbpf_is_mounted(VBPF_BPFFS_DIR, 0xcafe4a11), "bpffs");
}

/* Tracepoints, uprobes and the ring buffer against tracefs and the perf event sources. */
static void test_tracing_matches_tracefs(void)
{
	struct vprobe_report r;
	bool tp, up, rb;
	int fd;

	if (!run(&r))
		return;
	tp = exists(TRACEFS "/events/syscalls/sys_enter_getppid/id");
	up = exists("/sys/bus/event_source/devices/uprobe") || exists(TRACEFS "/uprobe_events");
	fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "vtest_rb", 0, 0, 4096, NULL);
	rb = fd >= 0;
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(r.f[VPROBE_TRACEPOINT].ok, tp, "tracepoint vs tracefs event");
	ASSERT_EQ(r.f[VPROBE_UPROBE].ok, up, "uprobe vs uprobe event source");
	ASSERT_EQ(r.f[VPROBE_RINGBUF].ok, tp && rb, "ringbuf vs tracepoint and ringbuf map");
	ASSERT_EQ(r.f[VPROBE_SOCK_TP].ok, exists(TRACEFS "/events/sock/sock_send_length/id"),
		  "sock_tp vs the tracefs event");
}

/* Kprobes exist when the kernel has register_kprobe and a way to create them (perf PMU or
 * kprobe_events); bpf_override_return needs kprobes and, per the config, the override option. */
static void test_kprobe_and_override_match_kernel(void)
{
	struct vprobe_report r;
	bool kp;
	char cfg;

	if (!run(&r))
		return;
	kp = kallsyms_has("register_kprobe") &&
	     (exists("/sys/bus/event_source/devices/kprobe") || exists(TRACEFS "/kprobe_events"));
	ASSERT_EQ(r.f[VPROBE_KPROBE].ok, kp, "kprobe vs kallsyms and event sources");
	if (!kp)
		ASSERT_TRUE(r.f[VPROBE_KPROBE].err > 0, "kprobe failure has an errno");
	if (r.f[VPROBE_OVERRIDE_RETURN].ok)
		ASSERT_TRUE(kp, "override_return needs kprobes");
	cfg = kconfig("BPF_KPROBE_OVERRIDE");
	if (cfg)
		ASSERT_EQ(r.f[VPROBE_OVERRIDE_RETURN].ok, kp && cfg == 'y',
			  "override_return vs CONFIG_BPF_KPROBE_OVERRIDE");
}

/*
 * fentry, fmod_ret and BPF LSM against raw loads of the same program types: a refusal must be
 * reported as "not loadable" with the kernel's errno, an acceptance as working. On a kernel
 * that refuses LSM programs with EPERM this is exactly "BPF LSM: not loadable (EPERM)".
 */
static void test_trampoline_programs_match_raw_loads(void)
{
	static const struct {
		enum vprobe_id id;
		enum bpf_prog_type type;
		enum bpf_attach_type attach;
		const char *func;
	} cases[] = {
		{ VPROBE_FENTRY, BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, "security_file_permission" },
		{ VPROBE_FMOD_RET, BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN,
		  "security_file_permission" },
		{ VPROBE_LSM, BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "bpf_lsm_file_permission" },
	};
	struct vprobe_report r;
	char line[256], want[256];

	if (!run(&r))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct vprobe_result *f = &r.f[cases[i].id];
		int err = raw_load(cases[i].type, cases[i].attach, cases[i].func);

		fprintf(stderr, "  raw load for %s: %s\n", vprobe_id_str(cases[i].id),
			err ? ename(err) : "ok");
		if (err) {
			ASSERT_FALSE(f->ok, vprobe_id_str(cases[i].id));
			ASSERT_STREQ(f->status, "not loadable", vprobe_id_str(cases[i].id));
			ASSERT_STREQ(f->detail, ename(err), vprobe_id_str(cases[i].id));
		} else if (cases[i].id != VPROBE_LSM) {
			ASSERT_TRUE(f->ok, vprobe_id_str(cases[i].id));
		}
	}
	/* The BPF LSM line, exactly. */
	int err = raw_load(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "bpf_lsm_file_permission");

	if (err)
		snprintf(want, sizeof(want), "BPF LSM: not loadable (%s)", ename(err));
	else if (r.f[VPROBE_LSM_ACTIVE].ok)
		snprintf(want, sizeof(want), "BPF LSM: loadable");
	else
		snprintf(want, sizeof(want), "BPF LSM: not triggered (%s)", r.f[VPROBE_LSM].detail);
	ASSERT_STREQ(vprobe_line(&r, VPROBE_LSM, line, sizeof(line)), want, "BPF LSM line");
}

static void test_lsm_active_matches_securityfs(void)
{
	char raw[512] = "", *save = NULL;
	struct vprobe_report r;
	bool has_bpf = false;
	FILE *f;

	if (!run(&r))
		return;
	/* The probe mounted securityfs if it was missing. */
	f = fopen("/sys/kernel/security/lsm", "r");
	if (!ASSERT_NOT_NULL(f, "open /sys/kernel/security/lsm"))
		return;
	if (!fgets(raw, sizeof(raw), f))
		raw[0] = 0;
	fclose(f);
	raw[strcspn(raw, "\n")] = 0;
	for (char *t = strtok_r(raw, ",", &save); t; t = strtok_r(NULL, ",", &save))
		has_bpf |= strcmp(t, "bpf") == 0;
	ASSERT_EQ(r.f[VPROBE_LSM_ACTIVE].ok, has_bpf, "lsm_active vs /sys/kernel/security/lsm");
	if (r.f[VPROBE_LSM].ok)
		ASSERT_TRUE(has_bpf, "a working BPF LSM program needs bpf among the active LSMs");
}

/* TC and kernel WireGuard against the kernel config and iproute2. */
static void test_network_features_match_kernel(void)
{
	struct vprobe_report r;
	char out[1024] = "";
	size_t n;
	FILE *p;
	int rc;
	char ingress = kconfig("NET_SCH_INGRESS"), cls = kconfig("NET_CLS_BPF");

	if (!run(&r))
		return;
	if (ingress && cls)
		ASSERT_EQ(r.f[VPROBE_TC].ok, ingress != 'n' && cls != 'n',
			  "tc vs CONFIG_NET_SCH_INGRESS and CONFIG_NET_CLS_BPF");
	p = popen("unshare -n ip link add vtestwg0 type wireguard 2>&1", "r");
	if (!ASSERT_NOT_NULL(p, "run ip link add"))
		return;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	rc = pclose(p);
	fprintf(stderr, "  ip link add type wireguard: status %d: %s\n", rc, out);
	ASSERT_EQ(r.f[VPROBE_WIREGUARD].ok, rc == 0, "wireguard vs ip link add");
	if (strstr(out, "Unknown device type"))
		ASSERT_STREQ(r.f[VPROBE_WIREGUARD].detail, "EOPNOTSUPP", "wireguard errno");
}

static void shell(const char *cmd, char *buf, size_t n)
{
	FILE *p = popen(cmd, "r");
	size_t len = p ? fread(buf, 1, n - 1, p) : 0;

	buf[len] = 0;
	if (p)
		pclose(p);
}

/*
 * The network probes run in a private netns: the thread is back in its own namespace afterwards,
 * no probe link appears on the host, and no pin is left behind in bpffs. (Host qdiscs are not
 * compared: other tests may attach to the host's lo meanwhile.)
 */
static void test_probe_leaves_host_alone(void)
{
	struct stat ns0, ns1;
	struct vprobe_report r;
	char pins[4096];

	if (!ASSERT_OK(stat("/proc/thread-self/ns/net", &ns0), "stat netns") || !run(&r))
		return;
	ASSERT_OK(stat("/proc/thread-self/ns/net", &ns1), "stat netns");
	ASSERT_EQ(ns1.st_ino, ns0.st_ino, "thread back in its network namespace");
	ASSERT_EQ(if_nametoindex("vprobewg0"), 0, "no probe link on the host");
	shell("ls -a /sys/fs/bpf", pins, sizeof(pins));
	ASSERT_FALSE(strstr(pins, "vigil_probe_"), "no pin left in /sys/fs/bpf");
}

static void test_json_output(void)
{
	struct vprobe_report r;
	json_error_t jerr;
	json_t *doc, *arr;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!run(&r))
		return;
	f = open_memstream(&text, &len);
	if (!ASSERT_NOT_NULL(f, "open_memstream"))
		return;
	vprobe_print(f, &r, true);
	fclose(f);
	doc = json_loads(text, 0, &jerr);
	if (!ASSERT_NOT_NULL(doc, jerr.text))
		goto out;
	ASSERT_STREQ(json_string_value(json_object_get(doc, "kernel")), r.kernel, "kernel");
	arr = json_object_get(doc, "features");
	if (!ASSERT_TRUE(json_is_array(arr), "features is an array") ||
	    !ASSERT_EQ(json_array_size(arr), VPROBE__COUNT, "one entry per feature"))
		goto out;
	for (int id = 0; id < VPROBE__COUNT; id++) {
		json_t *e = json_array_get(arr, (size_t)id);
		const char *what = vprobe_id_str(id);

		ASSERT_STREQ(json_string_value(json_object_get(e, "id")), vprobe_id_str(id), what);
		ASSERT_STREQ(json_string_value(json_object_get(e, "name")), vprobe_name(id), what);
		ASSERT_TRUE(json_is_boolean(json_object_get(e, "ok")), what);
		ASSERT_EQ(json_is_true(json_object_get(e, "ok")), r.f[id].ok, what);
		ASSERT_STREQ(json_string_value(json_object_get(e, "status")), r.f[id].status, what);
		ASSERT_STREQ(json_string_value(json_object_get(e, "detail")), r.f[id].detail, what);
		ASSERT_EQ(json_integer_value(json_object_get(e, "errno")), r.f[id].err, what);
	}
out:
	json_decref(doc);
	free(text);
}

static void test_text_output(void)
{
	struct vprobe_report r;
	char *text = NULL, *save = NULL, want[256];
	size_t len = 0;
	int lines = 0;
	FILE *f;

	if (!run(&r))
		return;
	f = open_memstream(&text, &len);
	if (!ASSERT_NOT_NULL(f, "open_memstream"))
		return;
	vprobe_print(f, &r, false);
	fclose(f);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save), lines++) {
		if (lines >= VPROBE__COUNT)
			break;
		if (r.f[lines].detail[0])
			snprintf(want, sizeof(want), "%s: %s (%s)", vprobe_name(lines),
				 r.f[lines].status, r.f[lines].detail);
		else
			snprintf(want, sizeof(want), "%s: %s", vprobe_name(lines), r.f[lines].status);
		ASSERT_STREQ(l, want, "line");
	}
	ASSERT_EQ(lines, VPROBE__COUNT, "one line per feature");
	free(text);
}

static char logged[4096];

static void capture(enum vlog_level level, const char *comp, const char *msg, void *ctx)
{
	size_t len = strlen(logged);

	(void)ctx;
	snprintf(logged + len, sizeof(logged) - len, "%d %s: %s\n", level, comp, msg);
}

/* vprobe_pick with the watchdog's ladder picks the first mode a full probe says works, and
 * says why it skipped the better ones. */
static void test_pick_mode(void)
{
	static const struct vprobe_mode modes[] = {
		{ "lsm", VPROBE_BIT(VPROBE_LSM) },
		{ "fmod_ret", VPROBE_BIT(VPROBE_FMOD_RET) },
		{ "override", VPROBE_BIT(VPROBE_KPROBE) | VPROBE_BIT(VPROBE_OVERRIDE_RETURN) },
		{ "monitor", VPROBE_BIT(VPROBE_TRACEPOINT) | VPROBE_BIT(VPROBE_RINGBUF) },
	};
	struct vprobe_report full, picked = { 0 };
	char line[256], want[128];
	int expect = -ENOTSUP, got;

	if (!run(&full))
		return;
	for (int i = 0; i < (int)ARRAY_SIZE(modes) && expect < 0; i++) {
		bool ok = true;

		for (int id = 0; id < VPROBE__COUNT; id++)
			if (modes[i].needs & VPROBE_BIT(id))
				ok &= full.f[id].ok;
		if (ok)
			expect = i;
	}
	logged[0] = 0;
	vlog_set_sink(capture, NULL);
	got = vprobe_pick("watchdog", modes, (int)ARRAY_SIZE(modes), &picked);
	vlog_set_sink(NULL, NULL);
	fprintf(stderr, "%s", logged);
	ASSERT_EQ(got, expect, "picked mode");
	/* Only what the modes need was probed. */
	ASSERT_FALSE(picked.f[VPROBE_WIREGUARD].probed, "wireguard not probed");
	ASSERT_TRUE(picked.f[VPROBE_LSM].probed, "lsm probed");
	if (expect >= 0) {
		snprintf(want, sizeof(want), "watchdog: using mode %s", modes[expect].name);
		ASSERT_STRCONTAINS(logged, want, "log says which mode");
	}
	if (expect != 0)
		ASSERT_STRCONTAINS(logged, vprobe_line(&picked, VPROBE_LSM, line, sizeof(line)),
				   "log says why lsm was skipped");

	/* A ladder of modes that all need something this kernel lacks picks nothing. */
	uint64_t failing = 0;

	for (int id = 0; id < VPROBE__COUNT; id++)
		if (!full.f[id].ok)
			failing |= VPROBE_BIT(id);
	if (!failing)
		return; /* a kernel with everything: nothing to refuse */
	struct vprobe_mode none[] = { { "impossible", failing } };

	logged[0] = 0;
	vlog_set_sink(capture, NULL);
	got = vprobe_pick("watchdog", none, 1, &picked);
	vlog_set_sink(NULL, NULL);
	ASSERT_EQ(got, -ENOTSUP, "no mode works");
	ASSERT_STRCONTAINS(logged, "no mode works", "error says so");
}

TESTS(T(test_report_is_complete), T(test_btf_matches_sysfs), T(test_tracing_matches_tracefs),
      T(test_kprobe_and_override_match_kernel), T(test_trampoline_programs_match_raw_loads),
      T(test_lsm_active_matches_securityfs), T(test_network_features_match_kernel),
      T(test_probe_leaves_host_alone), T(test_json_output), T(test_text_output),
      T(test_pick_mode))
