/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kaspa P2P messages on top of the protobuf-c code generated from p2p.proto: packing and
 * unpacking KaspadMessage, addresses (NetAddress, with IPv4-mapped IPv6 normalised to IPv4) and
 * the peer facts a sensor logs, pulled out of a VersionMessage with the wire rules checked.
 */
#ifndef VIGIL_KASPA_WIRE_H
#define VIGIL_KASPA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p.pb-c.h"
#include "vigil/buf.h"
#include "grpc.h"

#define KASPA_PROTOCOL_VERSION 10
#define KASPA_DEFAULT_NETWORK "kaspa-mainnet"
#define KASPA_ID_LEN 16
#define KASPA_MAX_USER_AGENT 256
/* The longest network name kept in a peer-info (longer ones are truncated for logging). */
#define KASPA_MAX_NETWORK 64
/* Receivers reject an Addresses message with more entries than this. */
#define KASPA_MAX_ADDRESSES 2500
/* The most addresses one sends in an Addresses message. */
#define KASPA_SEND_ADDRESSES 1000

/* An address as Kaspa gossips it: IPv4 (len 4) or IPv6 (len 16), never IPv4-mapped IPv6. */
struct kaspa_netaddr {
	uint8_t ip[16];
	uint8_t ip_len;
	uint16_t port;
	int64_t timestamp;
};
#define KASPA_ADDR_STRLEN 64

/* NetAddress -> kaspa_netaddr; ::ffff:a.b.c.d becomes a.b.c.d. -EINVAL for an ip that is not 4 or
 * 16 bytes or a port above 65535. */
int kaspa_netaddr_from_pb(const Protowire__NetAddress *pb, struct kaspa_netaddr *out);
/* Fills a NetAddress whose ip points into @a (no allocation). */
void kaspa_netaddr_to_pb(const struct kaspa_netaddr *a, Protowire__NetAddress *pb);
/* "1.2.3.4:16111" or "[2001:db8::1]:16111" into buf (>= KASPA_ADDR_STRLEN). */
const char *kaspa_netaddr_str(const struct kaspa_netaddr *a, char *buf, size_t n);
/* "1.2.3.4" / "2001:db8::1" (no brackets, no port) into buf (>= INET6_ADDRSTRLEN). */
const char *kaspa_netaddr_ip_str(const struct kaspa_netaddr *a, char *buf, size_t n);
/* Parses "1.2.3.4:16111" / "[v6]:port" (numeric only). 0 or -EINVAL. */
int kaspa_netaddr_parse(const char *s, struct kaspa_netaddr *out);

/* What a sensor logs about a peer, from its VersionMessage. Strings are NUL-terminated copies
 * (arbitrary bytes: escape them when printing; the JSON writer does). */
struct kaspa_peer_info {
	uint32_t protocol_version;
	uint64_t services;
	int64_t timestamp_ms;			/* the peer's clock, Unix milliseconds */
	char user_agent[KASPA_MAX_USER_AGENT + 1];
	char network[KASPA_MAX_NETWORK + 1];
	uint8_t id[KASPA_ID_LEN];
	char id_hex[2 * KASPA_ID_LEN + 1];
	bool has_address;			/* Version.address was present */
	struct kaspa_netaddr address;
	char address_str[KASPA_ADDR_STRLEN];	/* "" when absent */
	bool disable_relay_tx;
};

/*
 * Extracts @v into @out, checking the rules every receiver applies: id exactly 16 bytes, user
 * agent at most 256 bytes, advertised address (if any) well formed. Returns 0, or -EINVAL with a
 * sentence for the log in @why (may be NULL; >= 128 bytes). @out is filled as far as possible
 * either way, so a failed handshake can still be logged with what the peer said.
 */
int kaspa_peer_info_from_version(const Protowire__VersionMessage *v, struct kaspa_peer_info *out,
				 char *why, size_t why_len);

/* Unpacks one KaspadMessage (protobuf-c's allocator); NULL on invalid protobuf. Free with
 * kaspa_msg_free(). Unknown payload members leave payload_case NOT_SET. */
Protowire__KaspadMessage *kaspa_msg_unpack(const uint8_t *p, size_t n);
void kaspa_msg_free(Protowire__KaspadMessage *m);
/* Packs @m and appends it to @out as one gRPC frame compressed with @enc. 0 or -errno. */
int kaspa_msg_frame(const Protowire__KaspadMessage *m, struct vbuf *out, enum kaspa_grpc_enc enc);
/* "version", "verack", ... or "unknown" for a payload case. */
const char *kaspa_payload_name(Protowire__KaspadMessage__PayloadCase c);

/* Lower-case hex of @n bytes into @out (>= 2n+1). */
void kaspa_hex(const uint8_t *p, size_t n, char *out);

#endif
