// SPDX-License-Identifier: GPL-2.0-only
/*
 * KaspadMessage unpacking and everything a sensor pulls out of it: peer info from a Version
 * (with its checks), addresses from an Addresses message, and a re-pack of what was unpacked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Protowire__KaspadMessage *m = kaspa_msg_unpack(data, size);
	struct kaspa_peer_info info;
	struct kaspa_netaddr a;
	char why[128], s[KASPA_ADDR_STRLEN];
	struct vbuf out = VBUF_INIT;

	if (!m)
		return 0;
	kaspa_payload_name(m->payload_case);
	if (m->payload_case == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION && m->version) {
		kaspa_peer_info_from_version(m->version, &info, why, sizeof(why));
		if (strlen(info.id_hex) > 32 || strlen(info.user_agent) > KASPA_MAX_USER_AGENT)
			abort();
		if (info.has_address && info.address.ip_len != 4 && info.address.ip_len != 16)
			abort();
	}
	if (m->payload_case == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES && m->addresses) {
		for (size_t i = 0; i < m->addresses->n_addresslist; i++) {
			if (kaspa_netaddr_from_pb(m->addresses->addresslist[i], &a) == 0) {
				kaspa_netaddr_str(&a, s, sizeof(s));
				if (kaspa_netaddr_parse(s, &a) != 0)
					abort(); /* what we print we can read back */
			}
		}
	}
	if (kaspa_msg_frame(m, &out, KASPA_GRPC_IDENTITY) != 0)
		abort();
	vbuf_free(&out);
	kaspa_msg_free(m);
	return 0;
}
