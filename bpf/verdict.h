/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Verdict and drop reasons shared by Vigil's packet programs (Cilium's habit): one number per
 * reason, used as the index of a drop counter, the `reason` field of a drop event and, through
 * vigil_drop_name(), the `reason` label of a metric ("policy_denied").
 *
 * The numbers start at VIGIL_DROP_BASE (130), far above every TC_ACT_* value (-1..8) and every
 * XDP_* action (0..4), so a reason can never be mistaken for a return code: a program computes
 * a reason, counts it, and then returns TC_ACT_SHOT (or TC_ACT_OK in audit mode). Reasons are
 * append-only: a number, once released, keeps its meaning (it is an ABI and a metric label).
 */
#ifndef VIGIL_BPF_VERDICT_H
#define VIGIL_BPF_VERDICT_H

#define VIGIL_DROP_BASE 130

enum vigil_drop_reason {
	VIGIL_DROP_POLICY_DENIED = VIGIL_DROP_BASE, /* a deny rule matched */
	VIGIL_DROP_NO_IDENTITY,	 /* the remote address maps to no identity */
	VIGIL_DROP_MALFORMED,	 /* bad IP version, IHL, lengths that contradict each other */
	VIGIL_DROP_DEFAULT_DENY, /* no rule matched and the default verdict is deny */
	VIGIL_DROP_FRAGMENT,	 /* IPv4 fragment or IPv6 fragment header: ports unknown */
	VIGIL_DROP_TRUNCATED,	 /* the packet ends inside a header it announces */
	VIGIL_DROP_UNSUPPORTED,	 /* neither IPv4 nor IPv6, or too many IPv6 extension headers */
	VIGIL_DROP_END,
};

/* Number of reasons: the size of a per-reason counter array. */
#define VIGIL_DROP_COUNT (VIGIL_DROP_END - VIGIL_DROP_BASE)
/* A reason's index in such an array (0-based). */
#define VIGIL_DROP_IDX(r) ((r) - VIGIL_DROP_BASE)

/* Verdicts a policy rule can carry. 0 is "no rule", never stored. */
enum vigil_verdict {
	VIGIL_VERDICT_NONE = 0,
	VIGIL_VERDICT_ALLOW = 1,
	VIGIL_VERDICT_DENY = 2,
};

#ifndef __bpf__
/* The reason's metric label / event field: "policy_denied"; NULL for a number that is not a
 * reason. Stable strings: dashboards and alerts depend on them. */
static inline const char *vigil_drop_name(int reason)
{
	static const char *const names[VIGIL_DROP_COUNT] = {
		[VIGIL_DROP_IDX(VIGIL_DROP_POLICY_DENIED)] = "policy_denied",
		[VIGIL_DROP_IDX(VIGIL_DROP_NO_IDENTITY)] = "no_identity",
		[VIGIL_DROP_IDX(VIGIL_DROP_MALFORMED)] = "malformed",
		[VIGIL_DROP_IDX(VIGIL_DROP_DEFAULT_DENY)] = "default_deny",
		[VIGIL_DROP_IDX(VIGIL_DROP_FRAGMENT)] = "fragment",
		[VIGIL_DROP_IDX(VIGIL_DROP_TRUNCATED)] = "truncated",
		[VIGIL_DROP_IDX(VIGIL_DROP_UNSUPPORTED)] = "unsupported",
	};

	if (reason < VIGIL_DROP_BASE || reason >= VIGIL_DROP_END)
		return NULL;
	return names[reason - VIGIL_DROP_BASE];
}

/* The verdict's name: "allow", "deny", or NULL. */
static inline const char *vigil_verdict_name(int v)
{
	return v == VIGIL_VERDICT_ALLOW ? "allow" : v == VIGIL_VERDICT_DENY ? "deny" : NULL;
}
#endif

#endif
