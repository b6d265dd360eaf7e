// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vigil probe`: runs every feature probe and prints the report, as text or, with -j/--json,
 * one JSON document. Kept apart from probe.c because it reads the CLI's vopt_common, which
 * programs linking only the probe library (the tests) do not have.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"
#include "vigil/bpf.h"
#include "vigil/log.h"
#include "vigil/opt.h"

int probe_cmd_run(int argc, char **argv)
{
	struct vprobe_report r;
	int err;

	(void)argc;
	(void)argv;
	if (geteuid() != 0)
		log_warn("probe", "not running as root: the kernel refuses most BPF programs without "
			 "CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_ADMIN, so EPERM below may "
			 "mean only that (run it as root: sudo vigil probe)");
	/* A mount failure is logged here and reported as the bpffs line below: keep probing. */
	vbpf_init();
	err = vprobe_run(&r);
	if (err) {
		log_error("probe", "cannot probe kernel features: %s", strerror(-err));
		return 1;
	}
	vprobe_print(stdout, &r, vopt_common.json);
	return fflush(stdout) == 0 ? 0 : 1;
}
