/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Parsers for the answers `vigil peers` asks for, into plain structs:
 *
 *   execution (JSON-RPC 2.0 responses, the whole body):
 *     admin_peers         geth's p2p.PeerInfo array; other clients' reduced shapes
 *     net_peerCount       hex quantity "0x19"
 *     web3_clientVersion  string
 *     eth_syncing         false, or {startingBlock, currentBlock, highestBlock, ...}
 *   consensus (beacon API bodies):
 *     /eth/v1/node/peers       {"data":[{peer_id, enr, last_seen_p2p_address, state, direction}]}
 *     /eth/v1/node/peer_count  {"data":{"connected":"N", ...}}
 *     /eth/v1/node/syncing     {"data":{head_slot, sync_distance, is_syncing, ...}}
 *     /eth/v1/node/version     {"data":{"version":"Lighthouse/..."}}
 *
 * Every parser takes untrusted bytes and never crashes on them: a malformed body, a JSON-RPC or
 * beacon error object, or a field of the wrong type gives a negative errno and a message in @err
 * that names the method and the field ("admin_peers: result[3].network.inbound: expected a
 * boolean, got string"). Unknown extra fields are ignored. Return codes:
 *   -EBADMSG     not JSON, or not the documented shape (a field of the wrong type)
 *   -EOPNOTSUPP  JSON-RPC error -32601 (method not found: the API namespace is not enabled)
 *   -EREMOTEIO   any other JSON-RPC error, or a beacon API error object {"code","message"}
 *   -ENOMEM
 */
#ifndef VIGIL_PEERS_PARSE_H
#define VIGIL_PEERS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

#define PEERS_ERRLEN 512

enum peer_side { PEER_SIDE_EXEC, PEER_SIDE_CONS };
enum peer_dir { PEER_DIR_UNKNOWN, PEER_DIR_IN, PEER_DIR_OUT };
enum peer_state {
	PEER_STATE_UNKNOWN,
	PEER_STATE_CONNECTED,
	PEER_STATE_CONNECTING,
	PEER_STATE_DISCONNECTING,
	PEER_STATE_DISCONNECTED,
};

/* One peer. Strings are owned by the peer (freed by peer_list_free); NULL when not reported. */
struct peer {
	enum peer_side side;
	char *id;	   /* exec: node id, hex without 0x; cons: libp2p peer id */
	char short_id[12]; /* 8 characters: the start of a node id, the end of a libp2p id */
	char *name;	   /* client name as announced (admin_peers "name", Nimbus "agent") */
	struct peer_client client;
	enum peer_dir dir;
	enum peer_state state;
	char *remote; /* "1.2.3.4:30303", "[::1]:9000", or the multiaddr when not ip/tcp|udp */
	char *local;  /* geth network.localAddress */
	char *enode;
	char *enr;
	char protocols[96]; /* "eth/68 snap/1", "eth(handshake)", Nimbus "proto" */
	bool trusted, static_node;
	/* Connected since (CLOCK_REALTIME ns). No API reports it: peers_track() in view.h sets it
	 * when it first sees the peer; since_exact is false for peers present at the first look. */
	uint64_t since_ns;
	bool since_exact;
};

struct peer_list {
	struct peer *v;
	size_t n, cap;
};

void peer_list_init(struct peer_list *l);
void peer_list_free(struct peer_list *l);
/* Moves every peer of @src to the end of @dst (src is left empty). 0 or -ENOMEM. */
int peer_list_splice(struct peer_list *dst, struct peer_list *src);

struct exec_sync {
	bool syncing;
	uint64_t starting, current, highest; /* zero when not syncing */
};

struct beacon_peer_count {
	uint64_t connected, connecting, disconnected, disconnecting;
};

struct beacon_sync {
	uint64_t head_slot, sync_distance;
	bool is_syncing, is_optimistic, el_offline;
	bool has_optimistic, has_el_offline;
};

/* admin_peers: peers are appended to @out (side PEER_SIDE_EXEC). */
int peers_parse_admin_peers(const char *body, size_t len, struct peer_list *out, char *err,
			    size_t errlen);
/* The two peer-list parsers above first try a one-pass reader (jpull.h) and fall back to these,
 * jansson-only, on anything unusual; exposed so the fuzzer can check the two agree. */
int peers_parse_admin_peers_dom(const char *body, size_t len, struct peer_list *out, char *err,
				size_t errlen);
int peers_parse_beacon_peers_dom(const char *body, size_t len, unsigned flags,
				 struct peer_list *out, char *err, size_t errlen);
/* The fast paths alone: 0, or -1 with @out unchanged (no message). */
int peers_parse_admin_peers_fast(const char *body, size_t len, struct peer_list *out);
int peers_parse_beacon_peers_fast(const char *body, size_t len, unsigned flags,
				  struct peer_list *out);
/* net_peerCount */
int peers_parse_net_peer_count(const char *body, size_t len, uint64_t *count, char *err,
			       size_t errlen);
/* web3_clientVersion into @buf (truncated to @n - 1 bytes) */
int peers_parse_client_version(const char *body, size_t len, char *buf, size_t n, char *err,
			       size_t errlen);
/* eth_syncing */
int peers_parse_eth_syncing(const char *body, size_t len, struct exec_sync *s, char *err,
			    size_t errlen);

#define PEERS_CONNECTED_ONLY 0x1 /* drop peers whose state is not "connected" */
/* /eth/v1/node/peers: peers are appended to @out (side PEER_SIDE_CONS). */
int peers_parse_beacon_peers(const char *body, size_t len, unsigned flags, struct peer_list *out,
			     char *err, size_t errlen);
int peers_parse_beacon_peer_count(const char *body, size_t len, struct beacon_peer_count *c,
				  char *err, size_t errlen);
int peers_parse_beacon_syncing(const char *body, size_t len, struct beacon_sync *s, char *err,
			       size_t errlen);
int peers_parse_beacon_version(const char *body, size_t len, char *buf, size_t n, char *err,
			       size_t errlen);

/* "/ip4/1.2.3.4/tcp/9000/p2p/16U..." -> "1.2.3.4:9000" into @buf; false if not ip + tcp|udp. */
bool peers_multiaddr_hostport(const char *ma, char *buf, size_t n);

const char *peer_dir_str(enum peer_dir d);	/* "in", "out", "unknown" */
const char *peer_side_str(enum peer_side s);	/* "execution", "consensus" */
const char *peer_state_str(enum peer_state s); /* "connected", ... */

#endif
