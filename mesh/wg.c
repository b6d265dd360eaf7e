// SPDX-License-Identifier: GPL-2.0-only
/*
 * WireGuard keys and the UAPI socket protocol; see mesh/wg.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "vigil/buf.h"
#include "vigil/log.h"
#include "mesh/wg.h"

#define COMP "mesh"

int wg_key_generate(uint8_t priv[WG_KEY_LEN])
{
	size_t got = 0;

	while (got < WG_KEY_LEN) {
		ssize_t n = getrandom(priv + got, WG_KEY_LEN - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	/* RFC 7748 clamping, which `wg genkey` applies to what it prints */
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	return 0;
}

int wg_key_public(const uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WG_KEY_LEN);
	size_t len = WG_KEY_LEN;
	int ok;

	if (!k)
		return -EIO;
	ok = EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == WG_KEY_LEN;
	EVP_PKEY_free(k);
	return ok ? 0 : -EIO;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void wg_key_to_base64(const uint8_t k[WG_KEY_LEN], char out[WG_KEY_B64_LEN + 1])
{
	size_t o = 0;

	for (size_t i = 0; i < WG_KEY_LEN; i += 3) {
		uint32_t v = (uint32_t)k[i] << 16;

		if (i + 1 < WG_KEY_LEN)
			v |= (uint32_t)k[i + 1] << 8;
		if (i + 2 < WG_KEY_LEN)
			v |= k[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < WG_KEY_LEN ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < WG_KEY_LEN ? b64[v & 63] : '=';
	}
	out[o] = 0;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int wg_key_from_base64(const char *s, uint8_t k[WG_KEY_LEN])
{
	size_t len = strlen(s);
	uint8_t out[33];

	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	if (len != WG_KEY_B64_LEN || s[43] != '=')
		return -EINVAL;
	for (size_t i = 0, o = 0; i < WG_KEY_B64_LEN; i += 4) {
		int a = b64_val(s[i]), b = b64_val(s[i + 1]), c = b64_val(s[i + 2]);
		int d = i + 4 < WG_KEY_B64_LEN ? b64_val(s[i + 3]) : 0;

		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -EINVAL;
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		if (o < sizeof(out))
			out[o++] = (uint8_t)v;
	}
	/* the last group carries 2 bytes: 32 = 10 * 3 + 2; its low 2 bits must be zero */
	if (b64_val(s[42]) & 3)
		return -EINVAL;
	memcpy(k, out, WG_KEY_LEN);
	return 0;
}

void wg_key_to_hex(const uint8_t k[WG_KEY_LEN], char out[WG_KEY_HEX_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < WG_KEY_LEN; i++) {
		out[2 * i] = hx[k[i] >> 4];
		out[2 * i + 1] = hx[k[i] & 15];
	}
	out[WG_KEY_HEX_LEN] = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int wg_key_from_hex(const char *s, size_t len, uint8_t k[WG_KEY_LEN])
{
	uint8_t out[WG_KEY_LEN];

	if (len != WG_KEY_HEX_LEN)
		return -EINVAL;
	for (int i = 0; i < WG_KEY_LEN; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(k, out, WG_KEY_LEN);
	return 0;
}

int wg_key_load_or_create(const char *path, uint8_t priv[WG_KEY_LEN])
{
	char text[WG_KEY_B64_LEN + 8];
	struct stat st;
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
			close(fd);
			log_error(COMP, "private key file %s is readable by group or others (mode "
				  "%03o); fix it with: chmod 600 %s", path, st.st_mode & 0777, path);
			return -EPERM;
		}
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		if (n < 0)
			return -errno;
		text[n] = 0;
		if (wg_key_from_base64(text, priv)) {
			log_error(COMP, "private key file %s does not hold a base64 WireGuard key "
				  "(44 characters, as `wg genkey` writes); remove it to have a new "
				  "key generated", path);
			return -EINVAL;
		}
		return 0;
	}
	if (errno != ENOENT) {
		err = -errno;
		log_error(COMP, "cannot open private key file %s: %s", path, strerror(errno));
		return err;
	}
	err = wg_key_generate(priv);
	if (err)
		return err;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		log_error(COMP, "cannot create private key file %s: %s (does its directory exist "
			  "and is it writable?)", path, strerror(errno));
		return err;
	}
	wg_key_to_base64(priv, text);
	strcat(text, "\n");
	n = write(fd, text, strlen(text));
	err = n == (ssize_t)strlen(text) && fsync(fd) == 0 ? 0 : -EIO;
	close(fd);
	if (err) {
		unlink(path);
		log_error(COMP, "cannot write private key file %s", path);
		return err;
	}
	log_info(COMP, "created a new WireGuard private key in %s", path);
	return 0;
}

/* -------- UAPI -------- */

int wg_uapi_path(const char *dir, const char *ifname, char *out, size_t n)
{
	if (snprintf(out, n, "%s/%s.sock", dir ? dir : WG_UAPI_DIR, ifname) >= (int)n)
		return -ENAMETOOLONG;
	return 0;
}

/* Sends @req on a fresh connection to @ifname's socket and reads the answer up to the blank
 * line that ends it into @resp. 0 or -errno (logged). */
static int uapi_call(const char *dir, const char *ifname, const char *req, size_t len,
		     struct vbuf *resp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err = 0;
	char chunk[4096];

	if (wg_uapi_path(dir, ifname, sa.sun_path, sizeof(sa.sun_path)))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		log_error(COMP, "cannot connect to the WireGuard UAPI socket %s: %s (is "
			  "wireguard-go running for %s?)", sa.sun_path, strerror(errno), ifname);
		goto out;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, req + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = -errno;
			goto io;
		}
		off += (size_t)n;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto io;
		}
		if (n == 0)
			break;
		if (vbuf_append(resp, chunk, (size_t)n)) {
			err = -ENOMEM;
			goto out;
		}
		if (resp->len >= 2 && memcmp(resp->data + resp->len - 2, "\n\n", 2) == 0)
			break;
		if (resp->len > (16u << 20)) {
			err = -EMSGSIZE;
			goto io;
		}
	}
	goto out;
io:
	log_error(COMP, "WireGuard UAPI exchange on %s failed: %s", sa.sun_path, strerror(-err));
out:
	close(fd);
	return err;
}

/* The errno= value at the end of an answer: 0, a positive errno, or -1 when absent. */
static long answer_errno(const char *buf, size_t len)
{
	const char *p = NULL;

	for (size_t i = 0; i + 6 <= len; i++)
		if ((i == 0 || buf[i - 1] == '\n') && memcmp(buf + i, "errno=", 6) == 0)
			p = buf + i + 6;
	if (!p)
		return -1;
	return strtol(p, NULL, 10);
}

int wg_uapi_set(const char *dir, const char *ifname, const struct wg_dev_cfg *c)
{
	struct vbuf req = { 0 }, resp = { 0 };
	char hex[WG_KEY_HEX_LEN + 1];
	long e;
	int err = 0, oom = 0;

	oom |= vbuf_printf(&req, "set=1\n");
	if (c->private_key) {
		wg_key_to_hex(c->private_key, hex);
		oom |= vbuf_printf(&req, "private_key=%s\n", hex);
	}
	if (c->listen_port >= 0)
		oom |= vbuf_printf(&req, "listen_port=%d\n", c->listen_port);
	if (c->replace_peers)
		oom |= vbuf_printf(&req, "replace_peers=true\n");
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct wg_peer_cfg *p = &c->peers[i];

		wg_key_to_hex(p->pubkey, hex);
		oom |= vbuf_printf(&req, "public_key=%s\n", hex);
		if (p->remove) {
			oom |= vbuf_printf(&req, "remove=true\n");
			continue;
		}
		if (p->endpoint)
			oom |= vbuf_printf(&req, "endpoint=%s\n", p->endpoint);
		oom |= vbuf_printf(&req, "persistent_keepalive_interval=%u\n", p->keepalive);
		oom |= vbuf_printf(&req, "replace_allowed_ips=true\n");
		for (size_t j = 0; j < p->n_allowed; j++)
			oom |= vbuf_printf(&req, "allowed_ip=%s\n", p->allowed_ips[j]);
	}
	oom |= vbuf_printf(&req, "\n");
	if (oom || !req.data) {
		err = -ENOMEM;
		goto out;
	}
	err = uapi_call(dir, ifname, req.data, req.len, &resp);
	if (err)
		goto out;
	e = answer_errno(resp.data, resp.len);
	if (e != 0) {
		err = e > 0 ? -(int)e : -EBADMSG;
		log_error(COMP, "WireGuard rejected the configuration of %s: errno=%ld (%s); check "
			  "keys, endpoints and allowed IPs (wireguard-go's log has the detail)",
			  ifname, e, e > 0 ? strerror((int)e) : "no answer");
	}
out:
	/* the request held the private key: wipe it */
	if (req.data)
		explicit_bzero(req.data, req.cap);
	vbuf_free(&req);
	vbuf_free(&resp);
	return err;
}

void wg_dev_status_free(struct wg_dev_status *st)
{
	free(st->peers);
	memset(st, 0, sizeof(*st));
}

struct wg_peer_status *wg_dev_status_add_peer(struct wg_dev_status *st)
{
	struct wg_peer_status *p;

	if (st->n_peers == st->cap_peers) {
		size_t nc = st->cap_peers ? st->cap_peers * 2 : 8;
		void *t = realloc(st->peers, nc * sizeof(*st->peers));

		if (!t)
			return NULL;
		st->peers = t;
		st->cap_peers = nc;
	}
	p = &st->peers[st->n_peers++];
	memset(p, 0, sizeof(*p));
	return p;
}

static int parse_i64(const char *v, size_t n, int64_t *out)
{
	char tmp[32], *end;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, n);
	tmp[n] = 0;
	errno = 0;
	*out = strtoll(tmp, &end, 10);
	return errno || *end ? -1 : 0;
}

int wg_uapi_parse_get(const char *buf, size_t len, struct wg_dev_status *st)
{
	struct wg_peer_status *cur = NULL;
	bool have_errno = false;
	int64_t e = -1;

	memset(st, 0, sizeof(*st));
	st->listen_port = -1;
	for (size_t pos = 0; pos < len;) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos), *eq;
		size_t ll = nl ? (size_t)(nl - line) : len - pos, kl, vl;
		const char *v;
		int64_t num;

		pos += ll + 1;
		if (ll == 0)
			break; /* the blank line ends the answer */
		eq = memchr(line, '=', ll);
		if (!eq)
			goto bad;
		kl = (size_t)(eq - line);
		v = eq + 1;
		vl = ll - kl - 1;
#define KEY(s) (kl == sizeof(s) - 1 && memcmp(line, s, kl) == 0)
		if (KEY("errno")) {
			if (parse_i64(v, vl, &e))
				goto bad;
			have_errno = true;
		} else if (KEY("private_key")) {
			uint8_t priv[WG_KEY_LEN];

			if (wg_key_from_hex(v, vl, priv))
				goto bad;
			st->has_private_key = true;
			wg_key_public(priv, st->public_key);
			explicit_bzero(priv, sizeof(priv));
		} else if (KEY("listen_port")) {
			if (parse_i64(v, vl, &num) || num < 0 || num > 65535)
				goto bad;
			st->listen_port = (int)num;
		} else if (KEY("public_key")) {
			cur = wg_dev_status_add_peer(st);
			if (!cur) {
				wg_dev_status_free(st);
				return -ENOMEM;
			}
			if (wg_key_from_hex(v, vl, cur->pubkey))
				goto bad;
		} else if (!cur) {
			continue; /* other device-level keys (fwmark, protocol_version...) */
		} else if (KEY("endpoint")) {
			if (vl >= sizeof(cur->endpoint))
				goto bad;
			memcpy(cur->endpoint, v, vl);
			cur->endpoint[vl] = 0;
		} else if (KEY("last_handshake_time_sec")) {
			if (parse_i64(v, vl, &cur->last_handshake_sec))
				goto bad;
		} else if (KEY("last_handshake_time_nsec")) {
			if (parse_i64(v, vl, &cur->last_handshake_nsec))
				goto bad;
		} else if (KEY("rx_bytes") || KEY("tx_bytes")) {
			if (parse_i64(v, vl, &num) || num < 0)
				goto bad;
			*(line[0] == 'r' ? &cur->rx_bytes : &cur->tx_bytes) = (uint64_t)num;
		} else if (KEY("persistent_keepalive_interval")) {
			if (parse_i64(v, vl, &num) || num < 0 || num > 65535)
				goto bad;
			cur->keepalive = (unsigned)num;
		} else if (KEY("allowed_ip")) {
			if (vl >= sizeof(cur->allowed_ips[0]))
				goto bad;
			if (cur->n_allowed < WG_MAX_ALLOWED) {
				memcpy(cur->allowed_ips[cur->n_allowed], v, vl);
				cur->allowed_ips[cur->n_allowed++][vl] = 0;
			}
			cur->n_allowed_total++;
		}
#undef KEY
	}
	if (!have_errno)
		goto bad;
	if (e == 0)
		return 0;
	wg_dev_status_free(st); /* a failed answer owns nothing the caller must free */
	return e > 0 && e < 4096 ? -(int)e : -EBADMSG;
bad:
	wg_dev_status_free(st);
	return -EBADMSG;
}

int wg_uapi_get(const char *dir, const char *ifname, struct wg_dev_status *st)
{
	struct vbuf resp = { 0 };
	int err = uapi_call(dir, ifname, "get=1\n\n", 7, &resp);

	memset(st, 0, sizeof(*st));
	if (!err) {
		err = wg_uapi_parse_get(resp.data ? resp.data : "", resp.len, st);
		if (err)
			log_error(COMP, "cannot read the state of %s from its UAPI socket: %s",
				  ifname, strerror(-err));
	}
	if (resp.data)
		explicit_bzero(resp.data, resp.cap); /* it carried the private key */
	vbuf_free(&resp);
	return err;
}

/* -------- either backend -------- */

const char *wg_backend_name(enum wg_backend b)
{
	return b == WG_BACKEND_KERNEL ? "kernel" : "userspace";
}

int wg_dev_set(const struct wg_dev *d, const struct wg_dev_cfg *cfg)
{
	if (d->backend == WG_BACKEND_KERNEL)
		return wg_nl_set(d->ifname, cfg);
	return wg_uapi_set(d->uapi_dir, d->ifname, cfg);
}

int wg_dev_get(const struct wg_dev *d, struct wg_dev_status *st)
{
	if (d->backend == WG_BACKEND_KERNEL)
		return wg_nl_get(d->ifname, st);
	return wg_uapi_get(d->uapi_dir, d->ifname, st);
}
