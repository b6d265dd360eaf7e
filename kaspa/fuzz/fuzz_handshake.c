// SPDX-License-Identifier: GPL-2.0-only
/*
 * The handshake state machine under any sequence of inputs. The input is a program:
 *   0x00 t      tick, advancing time by t * 37 ms
 *   0x01 n ...  deliver the n following bytes as a packed KaspadMessage (skipped if invalid)
 *   0x02 k      a well-formed message of kind k (Version variants, Verack, Ready, Ping, ...)
 *   0x03        transport reset;  0x04  RequestAddresses from us;  0x05  Reject from us
 * Invariants: once failed it stays failed with a class and a reason; before the peer's Ready we
 * send nothing but Version/Verack/Ready (and a version Reject); each of those at most once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../handshake.h"

struct sent {
	int version, verack, ready, other_before_ready;
	struct kaspa_hs *hs;
};

static int on_send(struct kaspa_hs *hs, const Protowire__KaspadMessage *m, void *ctx)
{
	struct sent *s = ctx;

	switch (m->payload_case) {
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION:
		s->version++;
		break;
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK:
		s->verack++;
		break;
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY:
		s->ready++;
		break;
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REJECT:
		if (!hs->got_ready && hs->fail != KASPA_FAIL_VERSION)
			s->other_before_ready++;
		break;
	default:
		if (!hs->got_ready)
			s->other_before_ready++;
	}
	return 0;
}

static void canned(struct kaspa_hs *hs, uint8_t k, uint64_t now)
{
	Protowire__KaspadMessage m = PROTOWIRE__KASPAD_MESSAGE__INIT;
	Protowire__VersionMessage v = PROTOWIRE__VERSION_MESSAGE__INIT;
	Protowire__PingMessage p = PROTOWIRE__PING_MESSAGE__INIT;
	Protowire__VerackMessage e = PROTOWIRE__VERACK_MESSAGE__INIT;
	Protowire__NetAddress a = PROTOWIRE__NET_ADDRESS__INIT;
	uint8_t id[16], ip[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4 };

	memset(id, k & 0x10 ? 0x11 : 0x22, sizeof(id)); /* 0x11 is our id */
	v.protocolversion = (k & 0x20) ? 9 : 10;
	v.network = (k & 0x40) ? "kaspa-testnet-10" : "kaspa-mainnet";
	v.id.data = id;
	v.id.len = (k & 0x80) ? 15 : 16;
	v.useragent = "/fuzz/";
	a.ip.data = ip;
	a.ip.len = 16;
	a.port = 16111;
	v.address = &a;
	switch (k & 7) {
	case 0:
		m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION;
		m.version = &v;
		break;
	case 1:
		m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK;
		m.verack = &e;
		break;
	case 2:
		m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY;
		m.ready = (Protowire__ReadyMessage *)&e;
		break;
	case 3:
		m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING;
		p.nonce = k;
		m.ping = &p;
		break;
	case 4:
		m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES;
		m.requestaddresses = (Protowire__RequestAddressesMessage *)&e;
		break;
	default:
		m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD__NOT_SET;
	}
	kaspa_hs_on_message(hs, &m, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kaspa_hs hs;
	struct kaspa_hs_config cfg;
	struct kaspa_netaddr addrs[2];
	struct sent sent = { .hs = &hs };
	uint64_t now = 1000;
	enum kaspa_fail was = KASPA_FAIL_NONE;

	memset(&cfg, 0, sizeof(cfg));
	memset(cfg.id, 0x11, sizeof(cfg.id));
	cfg.timestamp_ms = 1;
	kaspa_netaddr_parse("127.0.0.1:16111", &addrs[0]);
	kaspa_netaddr_parse("[::1]:16111", &addrs[1]);
	cfg.addresses = addrs;
	cfg.n_addresses = 2;
	kaspa_hs_init(&hs, &cfg, on_send, &sent);
	kaspa_hs_start(&hs, now);
	for (size_t i = 0; i < size;) {
		uint8_t op = data[i++];

		switch (op % 6) {
		case 0:
			if (i < size)
				now += (uint64_t)data[i++] * 37;
			kaspa_hs_tick(&hs, now);
			break;
		case 1: {
			size_t n = i < size ? data[i++] : 0;
			Protowire__KaspadMessage *m;

			if (n > size - i)
				n = size - i;
			m = kaspa_msg_unpack(data + i, n);
			i += n;
			if (m)
				kaspa_hs_on_message(&hs, m, now);
			kaspa_msg_free(m);
			break;
		}
		case 2:
			if (i < size)
				canned(&hs, data[i++], now);
			break;
		case 3:
			kaspa_hs_abort(&hs, KASPA_FAIL_RESET, "fuzz reset");
			break;
		case 4:
			kaspa_hs_request_addresses(&hs);
			break;
		case 5:
			kaspa_hs_send_reject(&hs, "DUPLICATE_CONNECTION");
			break;
		}
		if (was != KASPA_FAIL_NONE && hs.fail != was)
			abort(); /* the first failure sticks */
		if (hs.fail != KASPA_FAIL_NONE && !hs.reason[0])
			abort();
		was = hs.fail;
		if (sent.version > 1 || sent.verack > 1 || sent.ready > 1 || sent.other_before_ready)
			abort();
		if (kaspa_hs_ready(&hs) && !(hs.got_version && hs.got_verack && hs.got_ready))
			abort();
	}
	return 0;
}
