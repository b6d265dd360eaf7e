// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the crawler does with a peer's Addresses answers (untrusted): the input is split into up
 * to three KaspadMessages (as three rounds of one connection; a 0xff 0xfe 0xfd separator), each
 * Addresses list is fed to one per-peer edge accumulator and to the crawl's address set, as
 * crawl.c does. Invariants: every accepted address is found at the index it got, an edge never
 * counts more responses than there were, and keys are normalised (no IPv4-mapped IPv6 stored).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../crawl.h"

static const uint8_t sep[3] = { 0xff, 0xfe, 0xfd };
static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void feed(struct kaspa_edge_acc *acc, struct kaspa_addrset *all, const uint8_t *p,
		 size_t n)
{
	Protowire__KaspadMessage *m = kaspa_msg_unpack(p, n);

	if (!m)
		return;
	if (m->payload_case == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES && m->addresses &&
	    m->addresses->n_addresslist <= KASPA_MAX_ADDRESSES) {
		kaspa_edge_acc_response(acc);
		for (size_t i = 0; i < m->addresses->n_addresslist; i++) {
			struct kaspa_netaddr a;
			size_t idx;

			if (kaspa_netaddr_from_pb(m->addresses->addresslist[i], &a))
				continue;
			if (a.ip_len == 16 && memcmp(a.ip, mapped, 12) == 0)
				abort(); /* not normalised */
			if (kaspa_edge_acc_add(acc, &a) < 0 || kaspa_addrset_add(all, &a, &idx) < 0)
				break;
			if (kaspa_addrset_find(all, &a) != (long)idx)
				abort();
		}
	}
	kaspa_msg_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kaspa_edge_acc acc;
	struct kaspa_addrset all;
	size_t start = 0;
	int parts = 0;

	kaspa_edge_acc_init(&acc);
	kaspa_addrset_init(&all);
	for (size_t i = 0; i + sizeof(sep) <= size && parts < 2; i++)
		if (memcmp(data + i, sep, sizeof(sep)) == 0) {
			feed(&acc, &all, data + start, i - start);
			start = i + sizeof(sep);
			i += sizeof(sep) - 1;
			parts++;
		}
	feed(&acc, &all, data + start, size - start);
	for (size_t i = 0; i < acc.set.n; i++) {
		if (acc.responses[i] < 1 || acc.responses[i] > acc.n_responses)
			abort();
		if (kaspa_addrset_find(&acc.set, &acc.set.addrs[i]) != (long)i ||
		    kaspa_addrset_find(&all, &acc.set.addrs[i]) < 0)
			abort();
	}
	kaspa_edge_acc_free(&acc);
	kaspa_addrset_free(&all);
	return 0;
}
