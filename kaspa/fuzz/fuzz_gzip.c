// SPDX-License-Identifier: GPL-2.0-only
/* gzip and deflate inflation with an output cap: no crash, no leak, never above the cap. */
#include <stdint.h>
#include <stdlib.h>

#include "../grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = { 0, 1, 100, 1 << 20 };
	uint8_t *out;
	size_t len;

	if (size < 1)
		return 0;
	for (int enc = KASPA_GRPC_GZIP; enc <= KASPA_GRPC_DEFLATE; enc++) {
		size_t cap = caps[data[0] & 3];

		if (kaspa_grpc_inflate(enc, data + 1, size - 1, cap, &out, &len) == 0) {
			if (len > cap)
				abort();
			free(out);
		}
	}
	return 0;
}
