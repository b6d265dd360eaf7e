/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * WireGuard for the mesh agent: Curve25519 keys (OpenSSL's X25519, generated and kept in C),
 * base64 <-> hex, and configuration of a userspace WireGuard implementation (wireguard-go,
 * boringtun) through its UAPI socket /var/run/wireguard/<ifname>.sock, the cross-platform
 * protocol documented at https://www.wireguard.com/xplatform/: "set=1\nkey=value\n...\n\n" and
 * "get=1\n\n", answered with key=value lines ending in "errno=N\n\n".
 *
 * Kernel WireGuard (generic netlink "wireguard") is not implemented yet: on a kernel with the
 * module the agent has to run wireguard-go for now (the hosts Vigil is tested on lack the
 * module; the VM tier has it). The UAPI calls here are what a netlink backend would replace.
 */
#ifndef VIGIL_MESH_WG_H
#define VIGIL_MESH_WG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WG_KEY_LEN	32
#define WG_KEY_B64_LEN	44 /* without the terminating NUL */
#define WG_KEY_HEX_LEN	64
#define WG_UAPI_DIR	"/var/run/wireguard"
#define WG_MAX_ALLOWED	64 /* allowed IPs per peer this API carries */

/* A fresh private key from getrandom(), clamped as `wg genkey` does. 0 or -errno. */
int wg_key_generate(uint8_t priv[WG_KEY_LEN]);
/* The public key of @priv (X25519 with the base point). 0 or -EIO. */
int wg_key_public(const uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN]);

void wg_key_to_base64(const uint8_t k[WG_KEY_LEN], char out[WG_KEY_B64_LEN + 1]);
/* Exactly 44 base64 characters ending in one '='; trailing whitespace is allowed. 0/-EINVAL. */
int wg_key_from_base64(const char *s, uint8_t k[WG_KEY_LEN]);
void wg_key_to_hex(const uint8_t k[WG_KEY_LEN], char out[WG_KEY_HEX_LEN + 1]);
/* Exactly 64 hex digits (either case). 0 or -EINVAL. */
int wg_key_from_hex(const char *s, size_t len, uint8_t k[WG_KEY_LEN]);

/*
 * Reads the base64 private key in @path, or creates the file (mode 0600, O_EXCL) with a new
 * key when it does not exist. A key file readable by group or others is refused (-EPERM,
 * logged with the chmod to run). 0 or -errno.
 */
int wg_key_load_or_create(const char *path, uint8_t priv[WG_KEY_LEN]);

struct wg_peer_cfg {
	uint8_t pubkey[WG_KEY_LEN];
	bool remove;		   /* remove this peer (nothing else is sent for it) */
	const char *endpoint;	   /* "203.0.113.1:51820", "[2001:db8::1]:51820" or NULL */
	uint16_t keepalive;	   /* persistent keepalive in seconds, 0 off */
	const char *const *allowed_ips; /* "10.0.0.2/32", ...; replaces the peer's set */
	size_t n_allowed;
};

struct wg_dev_cfg {
	const uint8_t *private_key; /* NULL: leave unchanged */
	int listen_port;	    /* -1: leave unchanged */
	bool replace_peers;	    /* true: peers not listed are removed */
	const struct wg_peer_cfg *peers;
	size_t n_peers;
};

struct wg_peer_status {
	uint8_t pubkey[WG_KEY_LEN];
	char endpoint[64];
	int64_t last_handshake_sec; /* 0: never */
	int64_t last_handshake_nsec;
	uint64_t rx_bytes, tx_bytes;
	unsigned keepalive;
	unsigned n_allowed;
	char allowed_ips[WG_MAX_ALLOWED][48];
};

struct wg_dev_status {
	bool has_private_key;
	uint8_t public_key[WG_KEY_LEN]; /* derived from the private key when present */
	int listen_port;
	struct wg_peer_status *peers; /* malloc'ed; wg_dev_status_free() */
	size_t n_peers;
};

/* The UAPI socket path of @ifname under @dir (NULL: WG_UAPI_DIR). -ENAMETOOLONG or 0. */
int wg_uapi_path(const char *dir, const char *ifname, char *out, size_t n);

/*
 * Applies @cfg in one set=1 transaction on @ifname's socket in @dir (NULL: WG_UAPI_DIR).
 * 0, the implementation's errno as a negative number, or -errno of the socket I/O. Errors are
 * logged with the socket path and what to check.
 */
int wg_uapi_set(const char *dir, const char *ifname, const struct wg_dev_cfg *cfg);

/* Reads the device and its peers (get=1). 0 or -errno; free @st with wg_dev_status_free(). */
int wg_uapi_get(const char *dir, const char *ifname, struct wg_dev_status *st);

/*
 * Parses a get=1 answer (untrusted bytes from the socket; fuzzed). Unknown keys are skipped,
 * as the protocol asks. Returns the errno= value the answer carried (0 on success) as a
 * negative number, -EBADMSG when it is malformed or has no errno line, -ENOMEM.
 */
int wg_uapi_parse_get(const char *buf, size_t len, struct wg_dev_status *st);
void wg_dev_status_free(struct wg_dev_status *st);

#endif
