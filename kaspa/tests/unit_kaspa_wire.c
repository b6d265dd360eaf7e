// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Kaspa messages against the wire contract in kaspa-p2p.md: a Version built byte by byte from
 * the field table must unpack into the right fields (a wrong field number in p2p.proto fails
 * here), our packing must produce the same bytes, and the other messages round-trip.
 */
#include "test.h"
#include "vigil/util.h"
#include "../wire.h"

/* A tiny protobuf writer, independent of protobuf-c, for building wire bytes by hand. */
struct pb {
	uint8_t b[1024];
	size_t n;
};

static void put_varint(struct pb *p, uint64_t v)
{
	do {
		uint8_t byte = v & 0x7f;

		v >>= 7;
		p->b[p->n++] = byte | (v ? 0x80 : 0);
	} while (v);
}

static void put_tag(struct pb *p, unsigned field, unsigned wire_type)
{
	put_varint(p, (uint64_t)field << 3 | wire_type);
}

static void put_uint(struct pb *p, unsigned field, uint64_t v)
{
	put_tag(p, field, 0);
	put_varint(p, v);
}

static void put_bytes(struct pb *p, unsigned field, const void *data, size_t n)
{
	put_tag(p, field, 2);
	put_varint(p, n);
	memcpy(p->b + p->n, data, n);
	p->n += n;
}

static const uint8_t test_id[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
				     0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10 };

/* KaspadMessage{version: VersionMessage{...}} per the field tables. */
static void build_version(struct pb *env, bool mapped_v4)
{
	struct pb ver = { .n = 0 }, addr = { .n = 0 }, subnet = { .n = 0 };
	uint8_t ip[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7 };
	uint8_t zeros[20] = { 0 };

	/* NetAddress: 1 timestamp (0, omitted), 3 ip, 4 port; no field 2 */
	put_bytes(&addr, 3, mapped_v4 ? ip : ip + 12, mapped_v4 ? 16 : 4);
	put_uint(&addr, 4, 16111);
	put_bytes(&subnet, 1, zeros, sizeof(zeros));

	put_uint(&ver, 1, 10);				/* protocolVersion */
	put_uint(&ver, 2, 1);				/* services */
	put_uint(&ver, 3, 1700000000123ull);		/* timestamp, ms */
	put_bytes(&ver, 4, addr.b, addr.n);		/* address */
	put_bytes(&ver, 5, test_id, sizeof(test_id));	/* id */
	put_bytes(&ver, 6, "/kaspad:2.0.1/", 14);	/* userAgent */
	put_uint(&ver, 8, 1);				/* disableRelayTx; no field 7 */
	put_bytes(&ver, 9, subnet.b, subnet.n);		/* subnetworkId */
	put_bytes(&ver, 10, "kaspa-mainnet", 13);	/* network */

	env->n = 0;
	put_bytes(env, 20, ver.b, ver.n);		/* KaspadMessage.version */
}

static void test_version_from_hand_built_bytes(void)
{
	struct pb env;
	Protowire__KaspadMessage *m;
	Protowire__VersionMessage *v;
	struct kaspa_peer_info info;
	char why[128] = "";

	build_version(&env, true);
	m = kaspa_msg_unpack(env.b, env.n);
	if (!ASSERT_NOT_NULL(m, "unpack"))
		return;
	if (!ASSERT_EQ(m->payload_case, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION, "payload"))
		goto out;
	v = m->version;
	ASSERT_EQ(v->protocolversion, 10, "protocolVersion (field 1)");
	ASSERT_EQ(v->services, 1, "services (field 2)");
	ASSERT_EQ(v->timestamp, 1700000000123ll, "timestamp (field 3)");
	if (!ASSERT_NOT_NULL(v->address, "address (field 4)"))
		goto out;
	ASSERT_EQ(v->address->ip.len, 16, "NetAddress.ip (field 3)");
	ASSERT_EQ(v->address->port, 16111, "NetAddress.port (field 4)");
	ASSERT_EQ(v->id.len, 16, "id (field 5)");
	ASSERT_TRUE(memcmp(v->id.data, test_id, 16) == 0, "id bytes");
	ASSERT_STREQ(v->useragent, "/kaspad:2.0.1/", "userAgent (field 6)");
	ASSERT_TRUE(v->disablerelaytx, "disableRelayTx (field 8)");
	if (ASSERT_NOT_NULL(v->subnetworkid, "subnetworkId (field 9)"))
		ASSERT_EQ(v->subnetworkid->bytes.len, 20, "SubnetworkId.bytes (field 1)");
	ASSERT_STREQ(v->network, "kaspa-mainnet", "network (field 10)");

	ASSERT_OK(kaspa_peer_info_from_version(v, &info, why, sizeof(why)), why);
	ASSERT_STREQ(info.id_hex, "0123456789abcdeffedcba9876543210", "id hex");
	ASSERT_STREQ(info.address_str, "203.0.113.7:16111", "IPv4-mapped address normalised");
	ASSERT_EQ(info.address.ip_len, 4, "normalised to 4 bytes");
	ASSERT_STREQ(info.user_agent, "/kaspad:2.0.1/", "user agent");
	ASSERT_STREQ(info.network, "kaspa-mainnet", "network");
	ASSERT_EQ(info.protocol_version, 10, "version");
	ASSERT_EQ(info.timestamp_ms, 1700000000123ll, "timestamp");
out:
	kaspa_msg_free(m);
}

/* Packing the same Version with protobuf-c gives exactly the hand-built bytes. */
static void test_version_packs_to_hand_built_bytes(void)
{
	Protowire__KaspadMessage m = PROTOWIRE__KASPAD_MESSAGE__INIT;
	Protowire__VersionMessage v = PROTOWIRE__VERSION_MESSAGE__INIT;
	Protowire__NetAddress a = PROTOWIRE__NET_ADDRESS__INIT;
	Protowire__SubnetworkId s = PROTOWIRE__SUBNETWORK_ID__INIT;
	uint8_t ip[4] = { 203, 0, 113, 7 }, zeros[20] = { 0 }, out[1024];
	struct pb env;
	size_t n;

	a.ip.data = ip;
	a.ip.len = 4;
	a.port = 16111;
	s.bytes.data = zeros;
	s.bytes.len = 20;
	v.protocolversion = 10;
	v.services = 1;
	v.timestamp = 1700000000123ll;
	v.address = &a;
	v.id.data = (uint8_t *)test_id;
	v.id.len = 16;
	v.useragent = "/kaspad:2.0.1/";
	v.disablerelaytx = 1;
	v.subnetworkid = &s;
	v.network = "kaspa-mainnet";
	m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION;
	m.version = &v;

	build_version(&env, false);
	n = protowire__kaspad_message__get_packed_size(&m);
	ASSERT_EQ(n, env.n, "packed size");
	protowire__kaspad_message__pack(&m, out);
	ASSERT_TRUE(n == env.n && memcmp(out, env.b, n) == 0, "packed bytes equal the field table");
}

/* Field numbers of the envelope and the small messages, checked on hand-built bytes. */
static void test_envelope_members_by_field_number(void)
{
	static const struct {
		unsigned field;
		Protowire__KaspadMessage__PayloadCase expect;
	} members[] = {
		{ 1, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES },
		{ 6, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES },
		{ 14, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_INV_RELAY_BLOCK },
		{ 15, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_INV_TRANSACTIONS },
		{ 16, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING },
		{ 17, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG },
		{ 19, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK },
		{ 20, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION },
		{ 22, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REJECT },
		{ 50, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY },
		{ 2, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD__NOT_SET }, /* block: not declared, skipped */
		{ 5, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD__NOT_SET }, /* blockLocator */
	};

	for (size_t i = 0; i < ARRAY_SIZE(members); i++) {
		struct pb env = { .n = 0 };
		Protowire__KaspadMessage *m;
		char what[64];

		put_bytes(&env, members[i].field, "", 0);
		put_uint(&env, 101, 7); /* response_id */
		put_uint(&env, 102, 9); /* request_id */
		snprintf(what, sizeof(what), "field %u", members[i].field);
		m = kaspa_msg_unpack(env.b, env.n);
		if (!ASSERT_NOT_NULL(m, what))
			return;
		ASSERT_EQ(m->payload_case, members[i].expect, what);
		ASSERT_EQ(m->response_id, 7, "response_id (101)");
		ASSERT_EQ(m->request_id, 9, "request_id (102)");
		kaspa_msg_free(m);
	}
}

static void test_ping_pong_reject_addresses_fields(void)
{
	struct pb inner = { .n = 0 }, env = { .n = 0 }, a1 = { .n = 0 }, a2 = { .n = 0 };
	Protowire__KaspadMessage *m;
	uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, ip4[4] = { 10, 1, 2, 3 };
	struct kaspa_netaddr na;
	char s[KASPA_ADDR_STRLEN];

	/* Ping{nonce: 0x1122334455667788} */
	put_uint(&inner, 1, 0x1122334455667788ull);
	put_bytes(&env, 16, inner.b, inner.n);
	m = kaspa_msg_unpack(env.b, env.n);
	if (ASSERT_NOT_NULL(m, "ping") && ASSERT_NOT_NULL(m->ping, "ping body"))
		ASSERT_TRUE(m->ping->nonce == 0x1122334455667788ull, "Ping.nonce (field 1)");
	kaspa_msg_free(m);

	/* Reject{reason} */
	env.n = inner.n = 0;
	put_bytes(&inner, 1, "DUPLICATE_CONNECTION", 20);
	put_bytes(&env, 22, inner.b, inner.n);
	m = kaspa_msg_unpack(env.b, env.n);
	if (ASSERT_NOT_NULL(m, "reject") && ASSERT_NOT_NULL(m->reject, "reject body"))
		ASSERT_STREQ(m->reject->reason, "DUPLICATE_CONNECTION", "Reject.reason");
	kaspa_msg_free(m);

	/* Addresses{addressList: [[2001:db8::1]:16111 ts 5, 10.1.2.3:16211]} */
	put_uint(&a1, 1, 5);
	put_bytes(&a1, 3, ip6, 16);
	put_uint(&a1, 4, 16111);
	put_bytes(&a2, 3, ip4, 4);
	put_uint(&a2, 4, 16211);
	env.n = inner.n = 0;
	put_bytes(&inner, 1, a1.b, a1.n);
	put_bytes(&inner, 1, a2.b, a2.n);
	put_bytes(&env, 1, inner.b, inner.n);
	m = kaspa_msg_unpack(env.b, env.n);
	if (!ASSERT_NOT_NULL(m, "addresses") || !ASSERT_NOT_NULL(m->addresses, "body"))
		goto out;
	if (!ASSERT_EQ(m->addresses->n_addresslist, 2, "addressList (field 1)"))
		goto out;
	ASSERT_OK(kaspa_netaddr_from_pb(m->addresses->addresslist[0], &na), "addr 0");
	ASSERT_STREQ(kaspa_netaddr_str(&na, s, sizeof(s)), "[2001:db8::1]:16111", "v6 address");
	ASSERT_EQ(na.timestamp, 5, "NetAddress.timestamp (field 1)");
	ASSERT_OK(kaspa_netaddr_from_pb(m->addresses->addresslist[1], &na), "addr 1");
	ASSERT_STREQ(kaspa_netaddr_str(&na, s, sizeof(s)), "10.1.2.3:16211", "v4 address");
out:
	kaspa_msg_free(m);
}

static void test_peer_info_rules(void)
{
	Protowire__VersionMessage v = PROTOWIRE__VERSION_MESSAGE__INIT;
	Protowire__NetAddress a = PROTOWIRE__NET_ADDRESS__INIT;
	struct kaspa_peer_info info;
	char ua[300], why[128];
	uint8_t id[17] = { 0 }, ip[7] = { 0 };

	v.id.data = id;
	v.id.len = 15;
	ASSERT_ERR(kaspa_peer_info_from_version(&v, &info, why, sizeof(why)), "15-byte id");
	ASSERT_STRCONTAINS(why, "15 bytes", "reason names the length");
	v.id.len = 17;
	ASSERT_ERR(kaspa_peer_info_from_version(&v, &info, why, sizeof(why)), "17-byte id");
	v.id.len = 16;
	ASSERT_OK(kaspa_peer_info_from_version(&v, &info, why, sizeof(why)), "16-byte id");
	ASSERT_FALSE(info.has_address, "no address");
	ASSERT_STREQ(info.address_str, "", "empty address string");

	memset(ua, 'a', sizeof(ua));
	ua[256] = 0;
	v.useragent = ua;
	ASSERT_OK(kaspa_peer_info_from_version(&v, &info, why, sizeof(why)), "256-byte agent");
	ua[256] = 'a';
	ua[257] = 0;
	ASSERT_ERR(kaspa_peer_info_from_version(&v, &info, why, sizeof(why)), "257-byte agent");
	ASSERT_STRCONTAINS(why, "257", "reason names the length");
	v.useragent = "ua";

	a.ip.data = ip;
	a.ip.len = 7;
	v.address = &a;
	ASSERT_ERR(kaspa_peer_info_from_version(&v, &info, why, sizeof(why)), "7-byte ip");
	a.ip.len = 4;
	a.port = 70000;
	ASSERT_ERR(kaspa_peer_info_from_version(&v, &info, why, sizeof(why)), "port 70000");
}

static void test_netaddr_parse(void)
{
	struct kaspa_netaddr a;
	char s[KASPA_ADDR_STRLEN];

	ASSERT_OK(kaspa_netaddr_parse("127.0.0.5:16111", &a), "v4");
	ASSERT_STREQ(kaspa_netaddr_str(&a, s, sizeof(s)), "127.0.0.5:16111", "v4 round trip");
	ASSERT_OK(kaspa_netaddr_parse("[::ffff:1.2.3.4]:1", &a), "mapped");
	ASSERT_EQ(a.ip_len, 4, "mapped becomes v4");
	ASSERT_OK(kaspa_netaddr_parse("[::1]:16111", &a), "v6");
	ASSERT_STREQ(kaspa_netaddr_str(&a, s, sizeof(s)), "[::1]:16111", "v6 round trip");
	ASSERT_ERR(kaspa_netaddr_parse("1.2.3.4", &a), "no port");
	ASSERT_ERR(kaspa_netaddr_parse("1.2.3.4:65536", &a), "port range");
	ASSERT_ERR(kaspa_netaddr_parse("host:1", &a), "not numeric");
	ASSERT_ERR(kaspa_netaddr_parse("[::1:1", &a), "bracket");
}

static void test_invalid_protobuf_is_rejected(void)
{
	const uint8_t truncated[] = { 0xa2, 0x01, 0x10, 0x08 };	/* version, length 16, 1 byte */
	const uint8_t bad_wire_type[] = { 0xa7, 0x01 };		/* field 20, wire type 7 */

	ASSERT_TRUE(kaspa_msg_unpack(truncated, sizeof(truncated)) == NULL, "truncated");
	ASSERT_TRUE(kaspa_msg_unpack(bad_wire_type, sizeof(bad_wire_type)) == NULL, "wire type 7");
}

TESTS(T(test_version_from_hand_built_bytes), T(test_version_packs_to_hand_built_bytes),
      T(test_envelope_members_by_field_number), T(test_ping_pong_reject_addresses_fields),
      T(test_peer_info_rules), T(test_netaddr_parse), T(test_invalid_protobuf_is_rejected))
