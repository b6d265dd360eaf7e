/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel feature probe behind `vigil probe`. Every answer comes from trying: a feature is ok
 * only when its program loaded, attached and ran for a trigger the probe caused (or, for the
 * non-program features, when the file/mount/link it needs was there or could be created). Config
 * options and kernel versions are never consulted.
 *
 * Capabilities use the same probes to pick a mode at start-up: list the modes best first with
 * the features each needs, and vprobe_pick() probes just those, picks the first mode that works
 * and logs which one it picked and why the better ones were skipped.
 */
#ifndef VIGIL_PROBE_H
#define VIGIL_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Stable ids: the order of `vigil probe` output, and the "id" field of its JSON. */
enum vprobe_id {
	VPROBE_BTF,		/* btf: /sys/kernel/btf/vmlinux parses */
	VPROBE_BPFFS,		/* bpffs: mounted on /sys/fs/bpf, or mountable */
	VPROBE_TRACEPOINT,	/* tracepoint: tp/syscalls/sys_enter_getppid fires */
	VPROBE_RAW_TP,		/* raw_tp: raw_tp/sys_enter fires */
	VPROBE_TP_BTF,		/* tp_btf: tp_btf/sys_enter fires */
	VPROBE_UPROBE,		/* uprobe: on a function of the running binary or libc */
	VPROBE_KPROBE,		/* kprobe: on the getppid syscall function */
	VPROBE_FENTRY,		/* fentry: fentry/security_file_permission fires */
	VPROBE_FMOD_RET,	/* fmod_ret: fmod_ret/security_file_permission fires */
	VPROBE_LSM_ACTIVE,	/* lsm_active: "bpf" in /sys/kernel/security/lsm */
	VPROBE_LSM,		/* lsm: lsm/file_permission loads, attaches and fires */
	VPROBE_OVERRIDE_RETURN, /* override_return: a kprobe changes getppid()'s return value */
	VPROBE_TC,		/* tc: clsact + sched_cls on lo of a private netns sees packets */
	VPROBE_XDP,		/* xdp: generic XDP on lo of a private netns sees packets */
	VPROBE_RINGBUF,		/* ringbuf: a tracepoint's record arrives through a ring buffer */
	VPROBE_WIREGUARD,	/* wireguard: a kernel wireguard link can be created */
	VPROBE_SOCK_TP,		/* sock_tp: tp_btf/sock_send_length fires (vigil rpc's socket hooks) */
	VPROBE__COUNT
};

#define VPROBE_BIT(id) (UINT64_C(1) << (id))
#define VPROBE_ALL     (VPROBE_BIT(VPROBE__COUNT) - 1)

struct vprobe_result {
	bool probed;	 /* false: not asked for (vprobe_pick probes only what it needs) */
	bool ok;
	int err;	 /* positive errno of the step that failed; 0 when ok or none applies */
	char status[32]; /* "works", "loadable", "not loadable", "not attachable", "absent", ... */
	char detail[160]; /* failures: the errno name first ("EPERM"); successes: what was seen */
};

struct vprobe_report {
	char kernel[65]; /* uname -r */
	struct vprobe_result f[VPROBE__COUNT];
};

/* "lsm" and "BPF LSM" for VPROBE_LSM; NULL for an id out of range. */
const char *vprobe_id_str(enum vprobe_id id);
const char *vprobe_name(enum vprobe_id id);
/* The id for "lsm", or -EINVAL. */
int vprobe_id_parse(const char *s);

/*
 * Probes every feature into @r. Needs root (CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON).
 * Mounts tracefs, bpffs and securityfs when absent (what vbpf_init does anyway); TC, XDP and
 * WireGuard are tried in a private network namespace of the calling thread, so nothing on the
 * host's interfaces changes. libbpf's messages are logged at DEBUG while probing: a refused
 * load is an answer, not a warning. Returns 0 (a feature failing is a result in @r, not an error)
 * or -errno when probing itself was impossible (-ENOMEM).
 */
int vprobe_run(struct vprobe_report *r);
/* Probes the features in @mask only (VPROBE_BIT(...) | ...), leaving the others unprobed. */
int vprobe_run_mask(struct vprobe_report *r, uint64_t mask);

/*
 * Prints one "Name: status (detail)" line per probed feature, or with @json one document:
 * {"kernel":"6.18.44","features":[{"id":"lsm","name":"BPF LSM","ok":false,
 *  "status":"not loadable","detail":"EPERM","errno":1}, ...]}
 */
void vprobe_print(FILE *f, const struct vprobe_report *r, bool json);
/* The text line for one feature into @buf: "BPF LSM: not loadable (EPERM)". */
const char *vprobe_line(const struct vprobe_report *r, enum vprobe_id id, char *buf, size_t n);

/* A mode a capability can run in, listed best first: its name and the features it needs. */
struct vprobe_mode {
	const char *name; /* "lsm", "fmod_ret", "override", "throttle", "monitor" */
	uint64_t needs;	  /* VPROBE_BIT(VPROBE_LSM) | ... ; 0: always possible */
};

/*
 * Probes what @modes need (features already probed in @r are reused), picks the first mode whose
 * needs all work and logs, for @comp, "using mode fmod_ret (lsm skipped: BPF LSM: not loadable
 * (EPERM))". @r may be a zeroed report. Returns the mode's index, or -ENOTSUP (logged, with every
 * reason) when none works.
 */
int vprobe_pick(const char *comp, const struct vprobe_mode *modes, int n,
		struct vprobe_report *r);

/* `vigil probe`: the lead registers it; reads vopt_common.json. Exit code 0, or 1 on error. */
#define VPROBE_CMD_SUMMARY "probe which BPF features this kernel allows"
#define VPROBE_CMD_DESCRIPTION                                                                    \
	"Loads, attaches and triggers one small BPF program per feature (tracepoints, kprobes, "   \
	"fentry, fmod_ret, BPF LSM, bpf_override_return, TC, XDP, ring buffers) and checks BTF, "  \
	"bpffs and kernel WireGuard, then prints one line per feature: what works, and for what "  \
	"fails the errno the kernel gave. Capabilities run the same probes to pick their mode."
int probe_cmd_run(int argc, char **argv);

#endif
