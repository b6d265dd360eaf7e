// SPDX-License-Identifier: GPL-2.0-only
/* Kaspa message helpers: addresses, peer facts, pack/unpack. See wire.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int kaspa_netaddr_from_pb(const Protowire__NetAddress *pb, struct kaspa_netaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (pb->port > 65535)
		return -EINVAL;
	if (pb->ip.len == 4) {
		memcpy(out->ip, pb->ip.data, 4);
		out->ip_len = 4;
	} else if (pb->ip.len == 16) {
		if (memcmp(pb->ip.data, v4mapped, sizeof(v4mapped)) == 0) {
			memcpy(out->ip, pb->ip.data + 12, 4);
			out->ip_len = 4;
		} else {
			memcpy(out->ip, pb->ip.data, 16);
			out->ip_len = 16;
		}
	} else {
		return -EINVAL;
	}
	out->port = (uint16_t)pb->port;
	out->timestamp = pb->timestamp;
	return 0;
}

void kaspa_netaddr_to_pb(const struct kaspa_netaddr *a, Protowire__NetAddress *pb)
{
	protowire__net_address__init(pb);
	pb->timestamp = a->timestamp;
	pb->ip.data = (uint8_t *)a->ip;
	pb->ip.len = a->ip_len;
	pb->port = a->port;
}

const char *kaspa_netaddr_str(const struct kaspa_netaddr *a, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->ip_len == 4)
		inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
	else if (a->ip_len == 16)
		inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
	snprintf(buf, n, a->ip_len == 16 ? "[%s]:%u" : "%s:%u", ip, a->port);
	return buf;
}

const char *kaspa_netaddr_ip_str(const struct kaspa_netaddr *a, char *buf, size_t n)
{
	if (!inet_ntop(a->ip_len == 4 ? AF_INET : AF_INET6, a->ip, buf, (socklen_t)n))
		snprintf(buf, n, "?");
	return buf;
}

int kaspa_netaddr_parse(const char *s, struct kaspa_netaddr *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	char *end;
	unsigned long port;
	size_t hl;

	memset(out, 0, sizeof(*out));
	colon = strrchr(s, ':');
	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 2 || s[hl - 1] != ']')
			return -EINVAL;
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host, out->ip) == 1) {
		out->ip_len = 4;
	} else if (inet_pton(AF_INET6, host, out->ip) == 1) {
		out->ip_len = 16;
		if (memcmp(out->ip, v4mapped, sizeof(v4mapped)) == 0) {
			memmove(out->ip, out->ip + 12, 4);
			memset(out->ip + 4, 0, 12);
			out->ip_len = 4;
		}
	} else {
		return -EINVAL;
	}
	out->port = (uint16_t)port;
	return 0;
}

void kaspa_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* Copies a protobuf string into a fixed buffer, truncating; returns the untruncated length. */
static size_t copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	snprintf(dst, cap, "%.*s", (int)(n < cap ? n : cap - 1), src ? src : "");
	return n;
}

int kaspa_peer_info_from_version(const Protowire__VersionMessage *v, struct kaspa_peer_info *out,
				 char *why, size_t why_len)
{
	size_t ua_len;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->protocol_version = v->protocolversion;
	out->services = v->services;
	out->timestamp_ms = v->timestamp;
	out->disable_relay_tx = v->disablerelaytx;
	ua_len = copy_str(out->user_agent, sizeof(out->user_agent), v->useragent);
	copy_str(out->network, sizeof(out->network), v->network);
	if (v->id.len && v->id.data) { /* an absent id is NULL with length 0 */
		memcpy(out->id, v->id.data, v->id.len < KASPA_ID_LEN ? v->id.len : KASPA_ID_LEN);
		kaspa_hex(v->id.data, v->id.len < KASPA_ID_LEN ? v->id.len : KASPA_ID_LEN,
			  out->id_hex);
	}
	if (v->address) {
		if (kaspa_netaddr_from_pb(v->address, &out->address) == 0) {
			out->has_address = true;
			kaspa_netaddr_str(&out->address, out->address_str, sizeof(out->address_str));
		} else if (!err) {
			err = -EINVAL;
			if (why)
				snprintf(why, why_len,
					 "advertised address is malformed (ip of %zu bytes, port %u; "
					 "expected 4 or 16 bytes and a port up to 65535)",
					 v->address->ip.len, v->address->port);
		}
	}
	if (v->id.len != KASPA_ID_LEN) {
		err = -EINVAL;
		if (why)
			snprintf(why, why_len, "peer id is %zu bytes, expected exactly %d",
				 v->id.len, KASPA_ID_LEN);
	} else if (ua_len > KASPA_MAX_USER_AGENT) {
		err = -EINVAL;
		if (why)
			snprintf(why, why_len, "user agent is %zu bytes, the limit is %d", ua_len,
				 KASPA_MAX_USER_AGENT);
	}
	return err;
}

Protowire__KaspadMessage *kaspa_msg_unpack(const uint8_t *p, size_t n)
{
	return protowire__kaspad_message__unpack(NULL, n, p);
}

void kaspa_msg_free(Protowire__KaspadMessage *m)
{
	if (m)
		protowire__kaspad_message__free_unpacked(m, NULL);
}

int kaspa_msg_frame(const Protowire__KaspadMessage *m, struct vbuf *out, enum kaspa_grpc_enc enc)
{
	size_t n = protowire__kaspad_message__get_packed_size(m);
	uint8_t stackbuf[512], *buf = stackbuf;
	int err;

	if (n > sizeof(stackbuf)) {
		buf = malloc(n);
		if (!buf)
			return -ENOMEM;
	}
	protowire__kaspad_message__pack(m, buf);
	err = kaspa_grpc_frame(out, buf, n, enc);
	if (buf != stackbuf)
		free(buf);
	return err;
}

const char *kaspa_payload_name(Protowire__KaspadMessage__PayloadCase c)
{
	switch (c) {
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES:
		return "addresses";
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES:
		return "requestAddresses";
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_INV_RELAY_BLOCK:
		return "invRelayBlock";
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_INV_TRANSACTIONS:
		return "invTransactions";
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING:
		return "ping";
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG:
		return "pong";
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK:
		return "verack";
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION:
		return "version";
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REJECT:
		return "reject";
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY:
		return "ready";
	default:
		return "unknown";
	}
}
