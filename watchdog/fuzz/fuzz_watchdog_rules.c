// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the watchdog's rules-file parser: any bytes must give either rules whose
 * every field is in range or -EINVAL with a message, never a crash, a leak or a read past the
 * input (the parser takes a length, not a C string).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watchdog/wd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wd_rules r;
	char err[512];
	int e;

	e = wd_rules_parse((const char *)data, size, "fuzz", &r, err, sizeof(err));
	if (e == 0) {
		if (r.nrules < 1 || r.nrules > WD_MAX_RULES)
			abort();
		for (int i = 0; i < r.nrules; i++)
			if (r.rules[i].limit == 0 || r.rules[i].limit > WD_MAX_LIMIT ||
			    r.rules[i].window_ns < WD_MIN_WINDOW_NS ||
			    r.rules[i].window_ns > WD_MAX_WINDOW_NS)
				abort();
		wd_rules_free(&r);
	} else if (e != -EINVAL || !memchr(err, 0, sizeof(err)) || !err[0]) {
		abort();
	}
	return 0;
}
