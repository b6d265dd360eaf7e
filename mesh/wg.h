/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * WireGuard for the mesh agent: Curve25519 keys (OpenSSL's X25519, generated and kept in C),
 * base64 <-> hex, and the configuration of a WireGuard interface through one of two backends
 * behind one interface (struct wg_dev, wg_dev_set(), wg_dev_get()):
 *
 * - userspace: wireguard-go (or boringtun) through its UAPI socket
 *   /var/run/wireguard/<ifname>.sock, the cross-platform protocol documented at
 *   https://www.wireguard.com/xplatform/: "set=1\nkey=value\n...\n\n" and "get=1\n\n",
 *   answered with key=value lines ending in "errno=N\n\n" (mesh/wg.c);
 * - kernel: the kernel's WireGuard over netlink: the link made with rtnetlink (RTM_NEWLINK, kind
 *   "wireguard"), configured and read with the generic netlink family "wireguard"
 *   (WG_CMD_SET_DEVICE, WG_CMD_GET_DEVICE; mesh/wg_nl.c).
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
	unsigned n_allowed;	  /* kept in allowed_ips[], at most WG_MAX_ALLOWED */
	unsigned n_allowed_total; /* all the interface reported */
	char allowed_ips[WG_MAX_ALLOWED][48];
};

struct wg_dev_status {
	bool has_private_key;
	uint8_t public_key[WG_KEY_LEN]; /* derived from the private key when present */
	int listen_port;
	struct wg_peer_status *peers; /* malloc'ed; wg_dev_status_free() */
	size_t n_peers;
	size_t cap_peers; /* allocated entries of peers[] */
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
/* A zeroed new entry at the end of st->peers (grown as needed), or NULL when out of memory. */
struct wg_peer_status *wg_dev_status_add_peer(struct wg_dev_status *st);

/* ---------------- kernel WireGuard over netlink (mesh/wg_nl.c) ---------------- */

/* Largest WG_CMD_SET_DEVICE message sent; longer configurations are cut into several. */
#define WG_NL_MSG_MAX 8192

/*
 * Creates the kernel WireGuard link @ifname in the current network namespace (RTM_NEWLINK,
 * NLM_F_CREATE | NLM_F_EXCL). 0, -EEXIST (a link of that name exists: see wg_nl_probe()),
 * -EOPNOTSUPP (the kernel has no WireGuard and could not load the module), -EPERM, -errno.
 * Not logged: the caller decides what a failure means.
 */
int wg_nl_link_create(const char *ifname);

/*
 * Whether @ifname is a kernel WireGuard device: 0 when it is, -ENODEV (no such link),
 * -EOPNOTSUPP (a link of another kind), -ENOENT (no kernel WireGuard loaded), -errno. Not logged.
 */
int wg_nl_probe(const char *ifname);

/* Applies @cfg with WG_CMD_SET_DEVICE messages, each acknowledged before the next. 0 or the
 * kernel's -errno (logged with the kernel's extended-ack text and what to check). */
int wg_nl_set(const char *ifname, const struct wg_dev_cfg *cfg);

/* Reads the device and its peers (WG_CMD_GET_DEVICE dump). 0 or -errno (logged); free @st with
 * wg_dev_status_free(). */
int wg_nl_get(const char *ifname, struct wg_dev_status *st);

/*
 * The WG_CMD_SET_DEVICE messages for @cfg (generic netlink family id @family), each at most
 * @msg_max bytes (capped at 64 KiB), handed to @fn in order; a non-zero return from @fn stops and
 * is returned. 0, -EINVAL (an endpoint or allowed IP is not numeric), -EMSGSIZE (@msg_max too
 * small for one peer), -ENAMETOOLONG, -ENOMEM. Exposed for the tests.
 */
typedef int (*wg_nl_msg_fn)(void *ctx, void *msg, size_t len);
int wg_nl_build_set(uint16_t family, const char *ifname, const struct wg_dev_cfg *cfg,
		    size_t msg_max, wg_nl_msg_fn fn, void *ctx);

/*
 * Parses netlink messages of a WG_CMD_GET_DEVICE dump in @buf (one recv()'s worth; fuzzed) into
 * @st, which the caller zeroes before the first buffer; a peer continued from the previous
 * message (same public key) is merged. Sets *@done at NLMSG_DONE or an ack. 0, the kernel's
 * -errno from an NLMSG_ERROR, -EBADMSG (malformed), -ENOMEM. Free @st with wg_dev_status_free()
 * whatever the result.
 */
int wg_nl_parse_dump(const void *buf, size_t len, struct wg_dev_status *st, bool *done);

/* ---------------- one interface, either backend ---------------- */

enum wg_backend {
	WG_BACKEND_USERSPACE, /* wireguard-go through its UAPI socket */
	WG_BACKEND_KERNEL,    /* kernel WireGuard over netlink */
};

struct wg_dev {
	enum wg_backend backend;
	const char *ifname;
	const char *uapi_dir; /* userspace: the socket directory (NULL: WG_UAPI_DIR) */
};

/* "kernel" or "userspace". */
const char *wg_backend_name(enum wg_backend b);
/* wg_uapi_set() or wg_nl_set() on @d. */
int wg_dev_set(const struct wg_dev *d, const struct wg_dev_cfg *cfg);
/* wg_uapi_get() or wg_nl_get() on @d. */
int wg_dev_get(const struct wg_dev *d, struct wg_dev_status *st);

#endif
