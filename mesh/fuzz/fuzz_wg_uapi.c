// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer target: the WireGuard UAPI get=1 answer parser (bytes read from a socket). */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "mesh/wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_dev_status st;

	if (wg_uapi_parse_get((const char *)data, size, &st) == 0) {
		for (size_t i = 0; i < st.n_peers; i++)
			for (unsigned j = 0; j < st.peers[i].n_allowed; j++)
				if (strlen(st.peers[i].allowed_ips[j]) >= 48)
					__builtin_trap();
		wg_dev_status_free(&st);
	}
	return 0;
}
