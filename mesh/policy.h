/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The mesh coordinator's vocabulary and its validators: WireGuard public keys, endpoints, CIDRs,
 * identity names, policy rules (JSON and the simple text format), and the JSON request bodies of
 * the API. Everything here is pure: no I/O, no global state, so the API handlers, the admin CLI,
 * the agent's client and the fuzz target share one parser per format.
 *
 * Every parser of bytes takes (buf, len) and an error buffer; on failure it returns -EINVAL and
 * writes one sentence saying what is wrong with which field ("rules[3].proto: \"tcpp\" is not
 * one of tcp, udp, icmp, any").
 */
#ifndef VIGIL_MESH_POLICY_H
#define VIGIL_MESH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buf.h"

#define MESH_NAME_MAX	  64  /* identity and node names, NUL included */
#define MESH_PUBKEY_LEN	  44  /* base64 of 32 bytes */
#define MESH_ENDPOINT_MAX 262 /* "[" + 253-char host + "]:" + 5 digits + NUL */
#define MESH_CIDR_STR_MAX 48
#define MESH_MAX_ALLOWED  64  /* extra prefixes a node may route */
#define MESH_ERR_MAX	  256
#define MESH_TAG_MAX	  0xfffffffeu /* tags are 1..MESH_TAG_MAX; 0 means "any" (wildcard) */

/* IP protocol numbers, 0 for any. */
enum mesh_proto {
	MESH_PROTO_ANY = 0,
	MESH_PROTO_ICMP = 1,
	MESH_PROTO_TCP = 6,
	MESH_PROTO_UDP = 17,
};

struct mesh_rule {
	char src[MESH_NAME_MAX]; /* identity name or "*" */
	char dst[MESH_NAME_MAX];
	uint8_t proto;		 /* enum mesh_proto */
	uint16_t port_lo, port_hi; /* destination ports, inclusive; 0-65535 = any */
	bool allow;
};

struct mesh_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t plen;
};

/* A node's join request (POST /api/v1/join). */
struct mesh_join_req {
	char public_key[MESH_PUBKEY_LEN + 1];
	char endpoint[MESH_ENDPOINT_MAX]; /* "" when the node has none (behind NAT) */
	char identity[MESH_NAME_MAX];
	char name[MESH_NAME_MAX];	  /* "" : the coordinator names it */
	struct mesh_cidr allowed[MESH_MAX_ALLOWED]; /* extra prefixes routed through the node */
	size_t n_allowed;
};

/* An identity (POST /api/v1/identities); tag 0 asks the coordinator to pick one. */
struct mesh_ident_req {
	char name[MESH_NAME_MAX];
	uint32_t tag;
};

/* Validators: 0 or -EINVAL with a message in @err. */
int mesh_pubkey_check(const char *s, char *err, size_t n);
int mesh_endpoint_check(const char *s, char *err, size_t n);
int mesh_name_check(const char *what, const char *s, bool wildcard_ok, char *err, size_t n);
/* "10.1.0.0/16", "fd00::/64"; a bare address is a host prefix. Host bits must be zero. */
int mesh_cidr_parse(const char *s, struct mesh_cidr *c, char *err, size_t n);
const char *mesh_cidr_str(const struct mesh_cidr *c, char *buf, size_t n);
bool mesh_cidr_overlap(const struct mesh_cidr *a, const struct mesh_cidr *b);
/* "tcp", "udp", "icmp", "any" / "*". */
int mesh_proto_parse(const char *s, uint8_t *proto);
const char *mesh_proto_str(uint8_t proto);
/* "80", "8000-8100", "*" or "" (any). */
int mesh_ports_parse(const char *s, uint16_t *lo, uint16_t *hi);
/* "80", "8000-8100" or "*"; buf >= 16 bytes. */
const char *mesh_ports_str(uint16_t lo, uint16_t hi, char *buf, size_t n);

/*
 * Policy documents. JSON: {"rules": [{"src","dst","proto","port","action"}, ...]} (a bare array
 * is accepted too). Text: one rule a line, "allow web -> db tcp/5432", "deny * -> * any", '#'
 * comments. On success *rules is malloc'ed (caller frees; NULL when there are none).
 */
int mesh_rules_parse_json(const char *buf, size_t len, struct mesh_rule **rules, size_t *n_rules,
			  char *err, size_t n);
int mesh_rules_parse_text(const char *buf, size_t len, struct mesh_rule **rules, size_t *n_rules,
			  char *err, size_t n);
/* Either: JSON when the first non-blank byte is '{' or '[', text otherwise. */
int mesh_rules_parse(const char *buf, size_t len, struct mesh_rule **rules, size_t *n_rules,
		     char *err, size_t n);
/* One rule as a JSON object (src, dst, proto, port, action). */
void mesh_rule_json(struct vjw *w, const struct mesh_rule *r);

/* Request bodies of the API; unknown fields are errors. */
int mesh_join_parse(const char *buf, size_t len, struct mesh_join_req *req, char *err, size_t n);
int mesh_ident_parse(const char *buf, size_t len, struct mesh_ident_req *req, char *err, size_t n);
/* {"revision": N} */
int mesh_status_parse(const char *buf, size_t len, uint64_t *revision, char *err, size_t n);

/* SHA-256 (FIPS 180-4), for hashing credentials; and a comparison whose time does not depend on
 * where the buffers differ. */
void mesh_sha256(const void *data, size_t len, uint8_t out[32]);
bool mesh_ct_equal(const void *a, const void *b, size_t n);
void mesh_hex(const uint8_t *p, size_t n, char *out /* 2n + 1 */);

#endif
