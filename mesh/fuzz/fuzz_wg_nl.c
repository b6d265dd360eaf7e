// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer target: the kernel WireGuard dump parser (netlink messages read from a socket). */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "mesh/wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_dev_status st = { 0 };
	bool done = false;

	if (wg_nl_parse_dump(data, size, &st, &done) == 0)
		for (size_t i = 0; i < st.n_peers; i++)
			for (unsigned j = 0; j < st.peers[i].n_allowed; j++)
				if (strlen(st.peers[i].allowed_ips[j]) >= 48 ||
				    st.peers[i].n_allowed > st.peers[i].n_allowed_total)
					__builtin_trap();
	wg_dev_status_free(&st);
	return 0;
}
