// SPDX-License-Identifier: GPL-2.0-only
/*
 * The coordinator's validators and parsers (mesh/policy.c) and the agent's snapshot parser
 * (mesh/client.c): keys, endpoints, CIDRs and overlap, ports, rules in JSON and text, request
 * bodies with unknown fields, SHA-256 against FIPS 180-4 test vectors.
 */
#include "test.h"
#include "mesh/client.h"
#include "mesh/policy.h"

static void test_pubkey(void)
{
	char err[MESH_ERR_MAX];

	ASSERT_OK(mesh_pubkey_check("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", err,
				    sizeof(err)), "a wg key");
	ASSERT_ERR(mesh_pubkey_check("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg", err,
				     sizeof(err)), "43 chars");
	ASSERT_ERR(mesh_pubkey_check("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dh=", err,
				     sizeof(err)), "non-canonical last symbol");
	ASSERT_ERR(mesh_pubkey_check("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8D-=", err,
				     sizeof(err)), "url-safe alphabet");
	ASSERT_STRCONTAINS(err, "not base64", "message");
	ASSERT_ERR(mesh_pubkey_check("", err, sizeof(err)), "empty");
	ASSERT_ERR(mesh_pubkey_check("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg==", err,
				     sizeof(err)), "45 chars");
}

static void test_endpoint(void)
{
	char err[MESH_ERR_MAX];

	ASSERT_OK(mesh_endpoint_check("203.0.113.5:51820", err, sizeof(err)), "v4");
	ASSERT_OK(mesh_endpoint_check("[2001:db8::1]:51820", err, sizeof(err)), "v6");
	ASSERT_OK(mesh_endpoint_check("node-1.example.org:1", err, sizeof(err)), "dns");
	ASSERT_OK(mesh_endpoint_check("", err, sizeof(err)), "none");
	ASSERT_ERR(mesh_endpoint_check("203.0.113.5", err, sizeof(err)), "no port");
	ASSERT_ERR(mesh_endpoint_check("203.0.113.5:0", err, sizeof(err)), "port 0");
	ASSERT_ERR(mesh_endpoint_check("203.0.113.5:65536", err, sizeof(err)), "port too big");
	ASSERT_ERR(mesh_endpoint_check("2001:db8::1:51820", err, sizeof(err)), "bare v6");
	ASSERT_ERR(mesh_endpoint_check("[nope]:1", err, sizeof(err)), "bad v6");
	ASSERT_ERR(mesh_endpoint_check("a b:1", err, sizeof(err)), "space");
	ASSERT_ERR(mesh_endpoint_check(":80", err, sizeof(err)), "no host");
}

static void test_cidr(void)
{
	struct mesh_cidr a, b;
	char err[MESH_ERR_MAX], s[MESH_CIDR_STR_MAX];

	ASSERT_OK(mesh_cidr_parse("10.1.0.0/16", &a, err, sizeof(err)), "v4");
	ASSERT_STREQ(mesh_cidr_str(&a, s, sizeof(s)), "10.1.0.0/16", "round trip");
	ASSERT_OK(mesh_cidr_parse("10.1.2.0/24", &b, err, sizeof(err)), "v4 inside");
	ASSERT_TRUE(mesh_cidr_overlap(&a, &b) && mesh_cidr_overlap(&b, &a), "overlap");
	ASSERT_OK(mesh_cidr_parse("10.2.0.0/16", &b, err, sizeof(err)), "v4 beside");
	ASSERT_FALSE(mesh_cidr_overlap(&a, &b), "disjoint");
	ASSERT_OK(mesh_cidr_parse("0.0.0.0/0", &b, err, sizeof(err)), "default route");
	ASSERT_TRUE(mesh_cidr_overlap(&a, &b), "everything overlaps /0");
	ASSERT_OK(mesh_cidr_parse("fd00::/64", &b, err, sizeof(err)), "v6");
	ASSERT_FALSE(mesh_cidr_overlap(&a, &b), "families never overlap");
	ASSERT_OK(mesh_cidr_parse("10.0.0.7", &b, err, sizeof(err)), "host");
	ASSERT_EQ(b.plen, 32, "host prefix");
	ASSERT_ERR(mesh_cidr_parse("10.0.0.1/8", &b, err, sizeof(err)), "host bits");
	ASSERT_STRCONTAINS(err, "host bits", "message");
	ASSERT_ERR(mesh_cidr_parse("10.0.0.0/33", &b, err, sizeof(err)), "plen");
	ASSERT_ERR(mesh_cidr_parse("10.0.0.0/", &b, err, sizeof(err)), "empty plen");
	ASSERT_ERR(mesh_cidr_parse("10.0.0.0/+8", &b, err, sizeof(err)), "signed plen");
	ASSERT_ERR(mesh_cidr_parse("10.0.0/8", &b, err, sizeof(err)), "short address");
	ASSERT_ERR(mesh_cidr_parse("fd00::/129", &b, err, sizeof(err)), "v6 plen");
}

static void test_ports_and_names(void)
{
	uint16_t lo, hi;
	char err[MESH_ERR_MAX];

	ASSERT_OK(mesh_ports_parse("80", &lo, &hi), "one");
	ASSERT_TRUE(lo == 80 && hi == 80, "80");
	ASSERT_OK(mesh_ports_parse("8000-8100", &lo, &hi), "range");
	ASSERT_TRUE(lo == 8000 && hi == 8100, "range values");
	ASSERT_OK(mesh_ports_parse("*", &lo, &hi), "any");
	ASSERT_TRUE(lo == 0 && hi == 65535, "any values");
	ASSERT_ERR(mesh_ports_parse("0", &lo, &hi), "zero");
	ASSERT_ERR(mesh_ports_parse("65536", &lo, &hi), "too big");
	ASSERT_ERR(mesh_ports_parse("90-80", &lo, &hi), "reversed");
	ASSERT_ERR(mesh_ports_parse("80-", &lo, &hi), "open range");
	ASSERT_ERR(mesh_ports_parse("-80", &lo, &hi), "negative");
	ASSERT_OK(mesh_name_check("n", "web-1.eu_x", false, err, sizeof(err)), "name");
	ASSERT_OK(mesh_name_check("n", "*", true, err, sizeof(err)), "wildcard allowed");
	ASSERT_ERR(mesh_name_check("n", "*", false, err, sizeof(err)), "wildcard refused");
	ASSERT_ERR(mesh_name_check("n", "-web", false, err, sizeof(err)), "leading dash");
	ASSERT_ERR(mesh_name_check("n", "a/b", false, err, sizeof(err)), "slash");
	ASSERT_ERR(mesh_name_check("n", "", false, err, sizeof(err)), "empty");
}

static void test_rules_json(void)
{
	const char *doc = "{\"rules\":[{\"src\":\"web\",\"dst\":\"db\",\"proto\":\"tcp\","
			  "\"port\":5432,\"action\":\"allow\"},{\"src\":\"*\",\"dst\":\"db\","
			  "\"proto\":\"udp\",\"port\":\"53-54\",\"action\":\"deny\"},"
			  "{\"src\":\"a\","
			  "\"dst\":\"*\",\"action\":\"allow\",\"comment\":\"all\"}]}";
	struct mesh_rule *r = NULL;
	char err[MESH_ERR_MAX];
	size_t n = 0;

	if (!ASSERT_OK(mesh_rules_parse(doc, strlen(doc), &r, &n, err, sizeof(err)), err))
		return;
	ASSERT_EQ(n, 3, "3 rules");
	ASSERT_TRUE(r[0].allow && r[0].proto == MESH_PROTO_TCP && r[0].port_lo == 5432, "rule 0");
	ASSERT_TRUE(!r[1].allow && r[1].port_lo == 53 && r[1].port_hi == 54, "rule 1");
	ASSERT_TRUE(r[2].proto == MESH_PROTO_ANY && r[2].port_hi == 65535, "rule 2");
	free(r);
	ASSERT_OK(mesh_rules_parse("[]", 2, &r, &n, err, sizeof(err)), "bare empty array");
	ASSERT_EQ(n, 0, "no rules");
	free(r);
	ASSERT_ERR(mesh_rules_parse("{\"rules\":[],\"rules\":[]}", 24, &r, &n, err, sizeof(err)),
		   "duplicate key");
	ASSERT_ERR(mesh_rules_parse("{\"rules\":{}}", 12, &r, &n, err, sizeof(err)), "object");
	ASSERT_ERR(mesh_rules_parse("{\"rules\":[{\"src\":\"a\",\"dst\":\"b\"}]}", 33, &r, &n, err,
				    sizeof(err)), "no action");
	ASSERT_STRCONTAINS(err, "rules[0].action", "names the field");
	ASSERT_ERR(mesh_rules_parse("{\"rules\":[{\"src\":1,\"dst\":\"b\",\"action\":\"allow\"}]}",
				    47, &r, &n, err, sizeof(err)), "number as name");
}

static void test_rules_text(void)
{
	const char *txt = "# policy\n\nallow web -> db tcp/5432\n  deny * -> * any # rest\r\n"
			  "allow monitor -> * udp/8000-8100\nallow * -> * icmp";
	struct mesh_rule *r = NULL;
	char err[MESH_ERR_MAX];
	size_t n = 0;

	if (!ASSERT_OK(mesh_rules_parse(txt, strlen(txt), &r, &n, err, sizeof(err)), err))
		return;
	ASSERT_EQ(n, 4, "4 rules");
	ASSERT_STREQ(r[0].dst, "db", "dst");
	ASSERT_TRUE(!r[1].allow && !strcmp(r[1].src, "*"), "deny any");
	ASSERT_TRUE(r[2].proto == MESH_PROTO_UDP && r[2].port_hi == 8100, "range");
	ASSERT_EQ(r[3].proto, MESH_PROTO_ICMP, "icmp");
	free(r);
	ASSERT_ERR(mesh_rules_parse_text("allow web db tcp\n", 17, &r, &n, err, sizeof(err)),
		   "no arrow");
	ASSERT_STRCONTAINS(err, "line 1", "line number");
	ASSERT_ERR(mesh_rules_parse_text("\nallow a -> b icmp/7\n", 21, &r, &n, err, sizeof(err)),
		   "icmp port");
	ASSERT_STRCONTAINS(err, "line 2", "line number 2");
	ASSERT_ERR(mesh_rules_parse_text("allow a -> b tcp/\n", 18, &r, &n, err, sizeof(err)),
		   "empty port");
	ASSERT_ERR(mesh_rules_parse_text("permit a -> b tcp\n", 18, &r, &n, err, sizeof(err)),
		   "verb");
	ASSERT_ERR(mesh_rules_parse_text("allow a -> b tcp extra\n", 23, &r, &n, err, sizeof(err)),
		   "trailing word");
}

static void test_requests(void)
{
	struct mesh_join_req j;
	struct mesh_ident_req id;
	char err[MESH_ERR_MAX];
	uint64_t rev;
	const char *ok = "{\"public_key\":\"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\","
			 "\"identity\":\"web\",\"endpoint\":\"1.2.3.4:5\",\"allowed_ips\":"
			 "[\"10.9.0.0/16\"]}";

	ASSERT_OK(mesh_join_parse(ok, strlen(ok), &j, err, sizeof(err)), err);
	ASSERT_EQ(j.n_allowed, 1, "one prefix");
	ASSERT_ERR(mesh_join_parse("{\"identity\":\"web\"}", 18, &j, err, sizeof(err)), "no key");
	ASSERT_STRCONTAINS(err, "public_key", "message names the key");
	ASSERT_OK(mesh_ident_parse("{\"name\":\"web\",\"tag\":7}", 22, &id, err, sizeof(err)), err);
	ASSERT_EQ(id.tag, 7, "tag");
	ASSERT_ERR(mesh_ident_parse("{\"name\":\"web\",\"tag\":0}", 22, &id, err, sizeof(err)),
		   "tag 0 reserved");
	ASSERT_ERR(mesh_ident_parse("{\"name\":\"web\",\"tag\":4294967295}", 31, &id, err,
				    sizeof(err)), "tag too big");
	ASSERT_OK(mesh_status_parse("{\"revision\":12}", 15, &rev, err, sizeof(err)), err);
	ASSERT_EQ(rev, 12, "revision");
	ASSERT_ERR(mesh_status_parse("{\"revision\":-1}", 15, &rev, err, sizeof(err)), "negative");
	ASSERT_ERR(mesh_status_parse("{\"revision\":1.5}", 16, &rev, err, sizeof(err)), "real");
}

static void test_snapshot_parse(void)
{
	const char *doc =
		"{\"revision\":9,\"changed\":true,\"cidr\":\"100.96.0.0/16\",\"node\":{\"id\":1,"
		"\"name\":\"a\",\"public_key\":\"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\","
		"\"endpoint\":\"\",\"identity\":\"web\",\"tag\":10,\"address\":\"100.96.0.1\","
		"\"allowed_ips\":[\"100.96.0.1/32\"]},\"peers\":[{\"id\":2,\"name\":\"b\","
		"\"public_key\":\"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8DA=\",\"endpoint\":"
		"\"1.2.3.4:51820\",\"identity\":\"db\",\"tag\":11,\"address\":\"100.96.0.2\","
		"\"allowed_ips\":[\"100.96.0.2/32\",\"192.168.0.0/24\"]}],"
		"\"identities\":[{\"name\":"
		"\"web\",\"tag\":10},{\"name\":\"db\",\"tag\":11}],\"policy\":[{\"src\":\"web\","
		"\"src_tag\":10,\"dst\":\"*\",\"dst_tag\":0,\"proto\":\"tcp\",\"port\":\"80-90\","
		"\"action\":\"allow\"}],\"resync_seconds\":30}";
	struct mesh_snapshot s;
	char err[MESH_ERR_MAX];

	if (!ASSERT_OK(mesh_snapshot_parse(doc, strlen(doc), &s, err, sizeof(err)), err))
		return;
	ASSERT_EQ(s.revision, 9, "revision");
	ASSERT_EQ(s.n_peers, 1, "peers");
	ASSERT_EQ(s.peers[0].n_allowed_ips, 2, "allowed ips");
	ASSERT_EQ(s.peers[0].allowed_ips[1].plen, 24, "subnet");
	ASSERT_EQ(s.n_rules, 1, "rules");
	ASSERT_EQ(s.rules[0].src_tag, 10, "src tag");
	ASSERT_EQ(s.rules[0].rule.port_hi, 90, "port range");
	ASSERT_EQ(s.resync_seconds, 30, "resync");
	mesh_snapshot_free(&s);
	ASSERT_ERR(mesh_snapshot_parse("{\"revision\":1}", 14, &s, err, sizeof(err)), "no node");
	mesh_snapshot_free(&s);
}

static void test_sha256(void)
{
	static const struct { const char *in, *hex; } v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	uint8_t h[32];
	char hex[65];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		mesh_sha256(v[i].in, strlen(v[i].in), h);
		mesh_hex(h, 32, hex);
		ASSERT_STREQ(hex, v[i].hex, v[i].in);
	}
	ASSERT_TRUE(mesh_ct_equal("abc", "abc", 3), "equal");
	ASSERT_FALSE(mesh_ct_equal("abc", "abd", 3), "differ");
}

TESTS(T(test_pubkey), T(test_endpoint), T(test_cidr), T(test_ports_and_names),
      T(test_rules_json), T(test_rules_text), T(test_requests), T(test_snapshot_parse),
      T(test_sha256))
