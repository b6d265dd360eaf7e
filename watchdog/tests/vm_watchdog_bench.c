// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench/watchdog inside the VM tier's Debian kernels, where the EPERM modes (lsm, fmod_ret) can
 * be measured at all. The figures are emulated (qemu TCG): compare rows with each other, never
 * with the host's. The test passes when every configuration loaded and was measured; the table
 * lands in the VM's console log (build/vm/<kernel>/console.log, after "watchdog overhead").
 */
#define REPS 5
#define main bench_main
#include "../../bench/watchdog/bench_watchdog.c"
#undef main
#include "test.h"

static void test_bench_all_modes(void)
{
	char *argv[] = { "bench_watchdog", "10000", NULL };

	ASSERT_EQ(bench_main(2, argv), 0, "bench ran");
}

TESTS(T(test_bench_all_modes))
