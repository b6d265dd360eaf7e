// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kernel WireGuard over netlink; see mesh/wg.h. Written from the kernel's uapi header
 * <linux/wireguard.h> and the generic netlink documentation, on raw netlink sockets:
 *
 * - the link is created with rtnetlink (RTM_NEWLINK, IFLA_INFO_KIND "wireguard");
 * - the generic netlink family "wireguard" is resolved through the controller (nlctrl);
 * - WG_CMD_SET_DEVICE carries the device and a nest of peers. Netlink attribute lengths are
 *   16 bits, so a nest cannot exceed 64 KiB: a long peer list, or one peer's long list of allowed
 *   IPs, is cut into several messages of at most @msg_max bytes, each acknowledged (NLM_F_ACK)
 *   before the next is sent. Only the first message carries the private key, the listen port and
 *   WGDEVICE_F_REPLACE_PEERS; only the first piece of a peer carries its flags
 *   (WGPEER_F_REPLACE_ALLOWEDIPS), endpoint and keepalive, and the rest of its allowed IPs follow
 *   in the next message under the same public key (the kernel adds them to the peer);
 * - WG_CMD_GET_DEVICE is a dump: the device's attributes come in the first message, peers in
 *   the following ones, and a peer whose allowed IPs do not fit continues in the next message
 *   with its public key repeated; the parser merges those.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/wireguard.h>

#include "vigil/log.h"
#include "vigil/util.h"
#include "mesh/policy.h"
#include "mesh/wg.h"

#define COMP "mesh"
#define RECV_BUF 32768 /* the kernel caps a dump message at 32 KiB */
#define NL_TIMEOUT_S 5 /* longest wait for one netlink reply */

/* ---------------- message building ---------------- */

struct nlb {
	char *buf;
	size_t len, cap;
};

/* Appends attribute @type with @len bytes of @data; NULL when it does not fit in the buffer. */
static struct nlattr *nlb_put(struct nlb *b, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(b->buf + b->len);
	size_t need = NLA_ALIGN(NLA_HDRLEN + len);

	if (b->len + need > b->cap || NLA_HDRLEN + len > 0xffff)
		return NULL;
	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	if (len)
		memcpy(b->buf + b->len + NLA_HDRLEN, data, len);
	memset(b->buf + b->len + NLA_HDRLEN + len, 0, need - NLA_HDRLEN - len);
	b->len += need;
	return a;
}

static struct nlattr *nlb_nest(struct nlb *b, uint16_t type)
{
	return nlb_put(b, type | NLA_F_NESTED, NULL, 0);
}

static void nlb_nest_end(struct nlb *b, struct nlattr *n)
{
	n->nla_len = (uint16_t)(b->buf + b->len - (char *)n);
}

static bool nlb_u16(struct nlb *b, uint16_t type, uint16_t v)
{
	return nlb_put(b, type, &v, sizeof(v));
}

static bool nlb_u32(struct nlb *b, uint16_t type, uint32_t v)
{
	return nlb_put(b, type, &v, sizeof(v));
}

/* Starts a request: netlink header (@type, @flags), and a genetlink header when @cmd >= 0. */
static void nlb_start(struct nlb *b, uint16_t type, uint16_t flags, int cmd)
{
	struct nlmsghdr nh = { .nlmsg_type = type, .nlmsg_flags = flags };

	b->len = NLMSG_HDRLEN;
	if (cmd >= 0) {
		struct genlmsghdr g = { .cmd = (uint8_t)cmd, .version = WG_GENL_VERSION };

		memcpy(b->buf + b->len, &g, sizeof(g));
		b->len += GENL_HDRLEN;
	}
	memcpy(b->buf, &nh, sizeof(nh));
}

static void nlb_finish(struct nlb *b)
{
	((struct nlmsghdr *)b->buf)->nlmsg_len = (uint32_t)b->len;
}

/* One allowed IP ("10.0.0.2/32") as a WGALLOWEDIP nest. 0, -EINVAL (bad text), -EMSGSIZE. */
static int put_allowed_ip(struct nlb *b, const char *s)
{
	struct mesh_cidr c;
	struct nlattr *n;
	size_t start = b->len;
	uint8_t plen;

	if (mesh_cidr_parse(s, &c, NULL, 0))
		return -EINVAL;
	plen = c.plen;
	if (!(n = nlb_nest(b, 0)) || !nlb_u16(b, WGALLOWEDIP_A_FAMILY, (uint16_t)c.family) ||
	    !nlb_put(b, WGALLOWEDIP_A_IPADDR, c.addr, c.family == AF_INET ? 4 : 16) ||
	    !nlb_put(b, WGALLOWEDIP_A_CIDR_MASK, &plen, 1)) {
		b->len = start;
		return -EMSGSIZE;
	}
	nlb_nest_end(b, n);
	return 0;
}

/* The first piece of peer @p: flags, endpoint, keepalive. 0, -EINVAL, -EMSGSIZE. */
static int put_peer_head(struct nlb *b, const struct wg_peer_cfg *p)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (p->remove)
		return nlb_u32(b, WGPEER_A_FLAGS, WGPEER_F_REMOVE_ME) ? 0 : -EMSGSIZE;
	if (!nlb_u32(b, WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS) ||
	    !nlb_u16(b, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p->keepalive))
		return -EMSGSIZE;
	if (!p->endpoint || !*p->endpoint)
		return 0;
	if (vaddr_parse(p->endpoint, &ss, &sl))
		return -EINVAL;
	return nlb_put(b, WGPEER_A_ENDPOINT, &ss, sl) ? 0 : -EMSGSIZE;
}

int wg_nl_build_set(uint16_t family, const char *ifname, const struct wg_dev_cfg *c,
		    size_t msg_max, wg_nl_msg_fn fn, void *ctx)
{
	struct nlb b = { .cap = msg_max > 0xffff ? 0xffff : msg_max };
	size_t pi = 0, ip = 0; /* next peer, and the next of its allowed IPs */
	bool first = true;
	int err = 0;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	b.buf = calloc(1, b.cap + 1);
	if (!b.buf)
		return -ENOMEM;
	do {
		struct nlattr *peers = NULL;
		size_t before = pi, before_ip = ip;

		nlb_start(&b, family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE);
		if (!nlb_put(&b, WGDEVICE_A_IFNAME, ifname, strlen(ifname) + 1))
			goto too_small;
		if (first) {
			if (c->private_key &&
			    !nlb_put(&b, WGDEVICE_A_PRIVATE_KEY, c->private_key, WG_KEY_LEN))
				goto too_small;
			if (c->listen_port >= 0 &&
			    !nlb_u16(&b, WGDEVICE_A_LISTEN_PORT, (uint16_t)c->listen_port))
				goto too_small;
			if (c->replace_peers &&
			    !nlb_u32(&b, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS))
				goto too_small;
		}
		if (pi < c->n_peers && !(peers = nlb_nest(&b, WGDEVICE_A_PEERS)))
			goto too_small;
		for (; pi < c->n_peers; pi++, ip = 0) {
			const struct wg_peer_cfg *p = &c->peers[pi];
			size_t mark = b.len, ip0 = ip;
			struct nlattr *pn, *ips;

			if (!(pn = nlb_nest(&b, 0)) ||
			    !nlb_put(&b, WGPEER_A_PUBLIC_KEY, p->pubkey, WG_KEY_LEN))
				goto rollback;
			if (ip == 0 && (err = put_peer_head(&b, p))) {
				if (err != -EMSGSIZE)
					goto out;
				err = 0;
				goto rollback;
			}
			if (!p->remove && ip < p->n_allowed) {
				if (!(ips = nlb_nest(&b, WGPEER_A_ALLOWEDIPS)))
					goto rollback;
				for (; ip < p->n_allowed; ip++) {
					err = put_allowed_ip(&b, p->allowed_ips[ip]);
					if (err == -EMSGSIZE)
						break;
					if (err)
						goto out;
				}
				err = 0;
				if (ip == ip0)
					goto rollback; /* not one of them fitted: next message */
				nlb_nest_end(&b, ips);
			}
			nlb_nest_end(&b, pn);
			if (!p->remove && ip < p->n_allowed)
				break; /* the rest of this peer's allowed IPs go in the next message */
			continue;
rollback:
			b.len = mark;
			ip = ip0;
			break;
		}
		if (peers)
			nlb_nest_end(&b, peers);
		if (!first && pi == before && ip == before_ip)
			goto too_small; /* a message that carries nothing: msg_max is too small */
		nlb_finish(&b);
		if ((err = fn(ctx, b.buf, b.len)))
			goto out;
		first = false;
	} while (pi < c->n_peers);
	goto out;
too_small:
	err = -EMSGSIZE;
out:
	explicit_bzero(b.buf, b.cap); /* it held the private key */
	free(b.buf);
	return err;
}

/* ---------------- message parsing ---------------- */

struct attr_iter {
	const char *p;
	size_t rem;
};

/* The next attribute (header copied to @a, payload in @data/@len), false at the end. A
 * truncated attribute ends the walk and sets *@bad. */
static bool attr_next(struct attr_iter *it, struct nlattr *a, const char **data, size_t *len,
		      bool *bad)
{
	size_t step;

	if (it->rem < NLA_HDRLEN)
		return false;
	memcpy(a, it->p, sizeof(*a));
	if (a->nla_len < NLA_HDRLEN || a->nla_len > it->rem) {
		*bad = true;
		return false;
	}
	*data = it->p + NLA_HDRLEN;
	*len = a->nla_len - NLA_HDRLEN;
	a->nla_type &= NLA_TYPE_MASK;
	step = NLA_ALIGN(a->nla_len);
	it->p += step > it->rem ? it->rem : step;
	it->rem -= step > it->rem ? it->rem : step;
	return true;
}

#define FOR_ATTR(it, a, d, l, bad) while (attr_next(&(it), &(a), &(d), &(l), &(bad)))

static uint64_t get_uint(const char *d, size_t len)
{
	uint64_t v64 = 0;
	uint32_t v32 = 0;
	uint16_t v16 = 0;

	if (len == 8)
		memcpy(&v64, d, 8);
	else if (len == 4)
		memcpy(&v32, d, 4), v64 = v32;
	else if (len == 2)
		memcpy(&v16, d, 2), v64 = v16;
	return v64;
}

/* Parses one WGALLOWEDIP nest into "addr/len" in @out (>= 48 bytes). 0 or -EBADMSG. */
static int parse_allowed_ip(const char *d, size_t len, char *out, size_t n)
{
	struct attr_iter it = { d, len };
	struct nlattr a;
	const char *v, *addr = NULL;
	size_t vl, alen = 0;
	bool bad = false;
	int family = -1, plen = -1;
	char txt[INET6_ADDRSTRLEN];

	FOR_ATTR(it, a, v, vl, bad) {
		if (a.nla_type == WGALLOWEDIP_A_FAMILY && vl == 2)
			family = (int)get_uint(v, vl);
		else if (a.nla_type == WGALLOWEDIP_A_IPADDR)
			addr = v, alen = vl;
		else if (a.nla_type == WGALLOWEDIP_A_CIDR_MASK && vl == 1)
			plen = (uint8_t)v[0];
	}
	if (bad || !addr || plen < 0 ||
	    !((family == AF_INET && alen == 4 && plen <= 32) ||
	      (family == AF_INET6 && alen == 16 && plen <= 128)))
		return -EBADMSG;
	{
		uint8_t raw[16];

		memcpy(raw, addr, alen);
		inet_ntop(family, raw, txt, sizeof(txt));
	}
	{
		char full[64];

		if ((size_t)snprintf(full, sizeof(full), "%s/%d", txt, plen) >= n)
			return -EBADMSG;
		memcpy(out, full, strlen(full) + 1);
	}
	return 0;
}

/* A sockaddr_in/in6 from WGPEER_A_ENDPOINT as "1.2.3.4:51820" / "[v6]:51820"; "" otherwise. */
static void endpoint_str(const char *d, size_t len, char *out, size_t n)
{
	struct sockaddr_storage ss = { 0 };

	out[0] = 0;
	if (len != sizeof(struct sockaddr_in) && len != sizeof(struct sockaddr_in6))
		return;
	memcpy(&ss, d, len);
	if ((ss.ss_family == AF_INET && len == sizeof(struct sockaddr_in)) ||
	    (ss.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6)))
		vaddr_str((struct sockaddr *)&ss, out, n);
}

/* One peer nest of a dump (or of a set request) into @st; a piece continuing the last peer
 * (same public key) adds to it. 0, -EBADMSG or -ENOMEM. */
static int parse_peer(const char *d, size_t len, struct wg_dev_status *st)
{
	struct attr_iter it = { d, len };
	struct wg_peer_status *p = NULL;
	struct nlattr a;
	const char *v;
	size_t vl;
	bool bad = false;

	/* the public key comes first in what the kernel sends; without it nothing is known */
	if (!attr_next(&it, &a, &v, &vl, &bad) || a.nla_type != WGPEER_A_PUBLIC_KEY ||
	    vl != WG_KEY_LEN)
		return -EBADMSG;
	if (st->n_peers && !memcmp(st->peers[st->n_peers - 1].pubkey, v, WG_KEY_LEN)) {
		p = &st->peers[st->n_peers - 1];
	} else {
		if (!(p = wg_dev_status_add_peer(st)))
			return -ENOMEM;
		memcpy(p->pubkey, v, WG_KEY_LEN);
	}
	FOR_ATTR(it, a, v, vl, bad) {
		switch (a.nla_type) {
		case WGPEER_A_ENDPOINT:
			endpoint_str(v, vl, p->endpoint, sizeof(p->endpoint));
			break;
		case WGPEER_A_LAST_HANDSHAKE_TIME:
			if (vl != 16)
				return -EBADMSG;
			memcpy(&p->last_handshake_sec, v, 8);
			memcpy(&p->last_handshake_nsec, v + 8, 8);
			break;
		case WGPEER_A_RX_BYTES:
		case WGPEER_A_TX_BYTES:
			if (vl != 8)
				return -EBADMSG;
			*(a.nla_type == WGPEER_A_RX_BYTES ? &p->rx_bytes : &p->tx_bytes) =
				get_uint(v, vl);
			break;
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
			if (vl != 2)
				return -EBADMSG;
			p->keepalive = (unsigned)get_uint(v, vl);
			break;
		case WGPEER_A_ALLOWEDIPS: {
			struct attr_iter ii = { v, vl };
			struct nlattr ia;
			const char *iv;
			size_t il;
			char txt[48];

			FOR_ATTR(ii, ia, iv, il, bad) {
				if (parse_allowed_ip(iv, il, txt, sizeof(txt)))
					return -EBADMSG;
				if (p->n_allowed < WG_MAX_ALLOWED)
					memcpy(p->allowed_ips[p->n_allowed++], txt, sizeof(txt));
				p->n_allowed_total++;
			}
			break;
		}
		default:
			break; /* flags, preshared key, protocol version, newer attributes */
		}
	}
	return bad ? -EBADMSG : 0;
}

/* One WG_CMD_GET_DEVICE answer (attributes after the genetlink header) into @st. */
static int parse_device(const char *d, size_t len, struct wg_dev_status *st)
{
	struct attr_iter it = { d, len };
	struct nlattr a;
	const char *v;
	size_t vl;
	bool bad = false;
	int err;

	FOR_ATTR(it, a, v, vl, bad) {
		if (a.nla_type == WGDEVICE_A_LISTEN_PORT && vl == 2) {
			st->listen_port = (int)get_uint(v, vl);
		} else if (a.nla_type == WGDEVICE_A_PRIVATE_KEY && vl == WG_KEY_LEN) {
			uint8_t priv[WG_KEY_LEN];

			memcpy(priv, v, WG_KEY_LEN);
			st->has_private_key = true;
			wg_key_public(priv, st->public_key);
			explicit_bzero(priv, sizeof(priv));
		} else if (a.nla_type == WGDEVICE_A_PEERS) {
			struct attr_iter pi = { v, vl };
			struct nlattr pa;
			const char *pv;
			size_t pl;

			FOR_ATTR(pi, pa, pv, pl, bad)
				if ((err = parse_peer(pv, pl, st)))
					return err;
		}
	}
	return bad ? -EBADMSG : 0;
}

/* Copies the extended ack's message (NLMSGERR_ATTR_MSG), if any, of error message @e. */
static void ext_ack_msg(const char *m, size_t len, uint16_t flags, char *out, size_t n)
{
	struct nlmsgerr e;
	size_t off = NLMSG_HDRLEN + sizeof(e);
	struct attr_iter it;
	struct nlattr a;
	const char *v;
	size_t vl;
	bool bad = false;

	if (!out || !n || !(flags & NLM_F_ACK_TLVS) || len < off)
		return;
	memcpy(&e, m + NLMSG_HDRLEN, sizeof(e));
	if (!(flags & NLM_F_CAPPED)) /* the request follows in full */
		off += NLMSG_ALIGN(e.msg.nlmsg_len) - NLMSG_HDRLEN;
	if (off >= len)
		return;
	it = (struct attr_iter){ m + off, len - off };
	FOR_ATTR(it, a, v, vl, bad)
		if (a.nla_type == NLMSGERR_ATTR_MSG && vl)
			snprintf(out, n, "%.*s", (int)strnlen(v, vl), v);
}

typedef int (*nl_data_fn)(void *ctx, const char *attrs, size_t len);

/*
 * Walks the netlink messages in @buf: NLMSG_DONE and an NLMSG_ERROR of 0 (an ack) set *@done;
 * an NLMSG_ERROR with an error returns it (its extended-ack text in @msg); any other message is a
 * reply whose attributes after the genetlink header go to @fn (may be NULL). 0 or -errno.
 */
static int nl_walk(const char *buf, size_t len, nl_data_fn fn, void *ctx, bool *done, char *msg,
		   size_t msg_n)
{
	while (len >= NLMSG_HDRLEN) {
		struct nlmsghdr nh;
		size_t step;
		int err;

		memcpy(&nh, buf, sizeof(nh));
		if (nh.nlmsg_len < NLMSG_HDRLEN || nh.nlmsg_len > len)
			return -EBADMSG;
		if (nh.nlmsg_type == NLMSG_DONE || nh.nlmsg_type == NLMSG_ERROR) {
			int32_t code = 0;

			if (nh.nlmsg_len >= NLMSG_HDRLEN + sizeof(code))
				memcpy(&code, buf + NLMSG_HDRLEN, sizeof(code));
			if (code > 0 || code < -4095)
				return -EBADMSG;
			if (code < 0) {
				if (nh.nlmsg_type == NLMSG_ERROR)
					ext_ack_msg(buf, nh.nlmsg_len, nh.nlmsg_flags, msg, msg_n);
				return code;
			}
			*done = true;
		} else if (nh.nlmsg_type != NLMSG_NOOP && nh.nlmsg_type != NLMSG_OVERRUN) {
			if (nh.nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
				return -EBADMSG;
			if (fn && (err = fn(ctx, buf + NLMSG_HDRLEN + GENL_HDRLEN,
					    nh.nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN)))
				return err;
		}
		step = NLMSG_ALIGN(nh.nlmsg_len);
		if (step >= len)
			break;
		buf += step;
		len -= step;
	}
	return 0;
}

static int device_cb(void *ctx, const char *attrs, size_t len)
{
	return parse_device(attrs, len, ctx);
}

int wg_nl_parse_dump(const void *buf, size_t len, struct wg_dev_status *st, bool *done)
{
	return nl_walk(buf, len, device_cb, st, done, NULL, 0);
}

/* ---------------- sockets ---------------- */

struct nl_sock {
	int fd;
	uint32_t seq;
	uint16_t family; /* the "wireguard" genetlink family id */
	char msg[160];	 /* the kernel's extended-ack text of the last error */
};

static int nl_open(struct nl_sock *s, int proto)
{
	struct timeval tmo = { .tv_sec = NL_TIMEOUT_S };
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (s->fd < 0)
		return -errno;
	/* error texts from the kernel, without the request echoed back */
	setsockopt(s->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	/* the agent calls this on its event loop: a reply that never comes must not stall it */
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	s->seq = (uint32_t)time(NULL);
	return 0;
}

static void nl_close(struct nl_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/*
 * Sends request @req and reads answers until its ack or NLMSG_DONE, passing replies to @fn.
 * 0 or -errno (the kernel's error, with its text in s->msg).
 */
static int nl_call(struct nl_sock *s, void *req, size_t len, nl_data_fn fn, void *ctx)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nh = req;
	char *buf;
	bool done = false;
	int err = 0;

	nh->nlmsg_seq = ++s->seq;
	s->msg[0] = 0;
	if (sendto(s->fd, req, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	buf = malloc(RECV_BUF);
	if (!buf)
		return -ENOMEM;
	while (!done && !err) {
		struct iovec iov = { buf, RECV_BUF };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(s->fd, &mh, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = errno == EAGAIN ? -ETIMEDOUT : -errno;
		else if (mh.msg_flags & MSG_TRUNC)
			err = -EMSGSIZE;
		else
			err = nl_walk(buf, (size_t)n, fn, ctx, &done, s->msg, sizeof(s->msg));
	}
	explicit_bzero(buf, RECV_BUF); /* a dump carries the private key */
	free(buf);
	return err;
}

static int family_cb(void *ctx, const char *attrs, size_t len)
{
	struct attr_iter it = { attrs, len };
	struct nlattr a;
	const char *v;
	size_t vl;
	bool bad = false;

	FOR_ATTR(it, a, v, vl, bad)
		if (a.nla_type == CTRL_ATTR_FAMILY_ID && vl == 2)
			*(uint16_t *)ctx = (uint16_t)get_uint(v, vl);
	return 0;
}

/* A generic netlink socket with the "wireguard" family resolved. 0, -ENOENT (no kernel
 * WireGuard loaded), -errno. */
static int wg_sock(struct nl_sock *s)
{
	char buf[128] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlb b = { .buf = buf, .cap = sizeof(buf) };
	int err = nl_open(s, NETLINK_GENERIC);

	if (err)
		return err;
	nlb_start(&b, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, CTRL_CMD_GETFAMILY);
	nlb_put(&b, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME, sizeof(WG_GENL_NAME));
	nlb_finish(&b);
	err = nl_call(s, buf, b.len, family_cb, &s->family);
	if (!err && !s->family)
		err = -ENOENT;
	if (err)
		nl_close(s);
	return err;
}

int wg_nl_link_create(const char *ifname)
{
	char buf[128] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlb b = { .buf = buf, .cap = sizeof(buf) };
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_sock s;
	struct nlattr *li;
	int err;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	if ((err = nl_open(&s, NETLINK_ROUTE)))
		return err;
	nlb_start(&b, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, -1);
	memcpy(buf + b.len, &ifi, sizeof(ifi));
	b.len += NLMSG_ALIGN(sizeof(ifi));
	nlb_put(&b, IFLA_IFNAME, ifname, strlen(ifname) + 1);
	li = nlb_nest(&b, IFLA_LINKINFO);
	nlb_put(&b, IFLA_INFO_KIND, "wireguard", sizeof("wireguard"));
	nlb_nest_end(&b, li);
	nlb_finish(&b);
	err = nl_call(&s, buf, b.len, NULL, NULL);
	nl_close(&s);
	return err;
}

/* "get" without logging: 0, -ENODEV (no such link), -EOPNOTSUPP (not a WireGuard link),
 * -ENOENT (no kernel WireGuard), -errno. */
static int nl_get(const char *ifname, struct wg_dev_status *st, char *msg, size_t n)
{
	char buf[64] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlb b = { .buf = buf, .cap = sizeof(buf) };
	struct nl_sock s;
	int err;

	memset(st, 0, sizeof(*st));
	st->listen_port = -1;
	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	if ((err = wg_sock(&s)))
		return err;
	nlb_start(&b, s.family, NLM_F_REQUEST | NLM_F_DUMP, WG_CMD_GET_DEVICE);
	nlb_put(&b, WGDEVICE_A_IFNAME, ifname, strlen(ifname) + 1);
	nlb_finish(&b);
	err = nl_call(&s, buf, b.len, device_cb, st);
	if (msg)
		snprintf(msg, n, "%s", s.msg);
	nl_close(&s);
	if (err)
		wg_dev_status_free(st);
	return err;
}

int wg_nl_probe(const char *ifname)
{
	struct wg_dev_status st;
	int err = nl_get(ifname, &st, NULL, 0);

	if (!err)
		wg_dev_status_free(&st);
	return err;
}

/* What an error of the netlink backend means for @ifname, for the log. */
static const char *nl_hint(int err)
{
	switch (err) {
	case -ENOENT:
		return "the kernel has no WireGuard loaded (modprobe wireguard, or use "
		       "--wg-backend userspace)";
	case -ENODEV:
		return "no such interface (was it deleted? restart the agent to create it)";
	case -EOPNOTSUPP:
		return "the interface is not a kernel WireGuard device (pick another "
		       "--interface, or --wg-backend userspace for wireguard-go)";
	case -EPERM:
		return "CAP_NET_ADMIN is needed";
	default:
		return "check keys, endpoints and allowed IPs";
	}
}

int wg_nl_get(const char *ifname, struct wg_dev_status *st)
{
	char msg[160] = "";
	int err = nl_get(ifname, st, msg, sizeof(msg));

	if (err)
		log_error(COMP, "cannot read the kernel WireGuard device %s over netlink: %s%s%s; %s",
			  ifname, strerror(-err), *msg ? ": " : "", msg, nl_hint(err));
	return err;
}

struct set_ctx {
	struct nl_sock *s;
	unsigned sent;
};

static int send_cb(void *ctx, void *msg, size_t len)
{
	struct set_ctx *c = ctx;
	int err = nl_call(c->s, msg, len, NULL, NULL);

	if (!err)
		c->sent++;
	return err;
}

int wg_nl_set(const char *ifname, const struct wg_dev_cfg *cfg)
{
	struct nl_sock s;
	struct set_ctx c = { .s = &s };
	int err = wg_sock(&s);

	if (err) {
		log_error(COMP, "cannot configure the kernel WireGuard device %s: %s; %s", ifname,
			  strerror(-err), nl_hint(err));
		return err;
	}
	err = wg_nl_build_set(s.family, ifname, cfg, WG_NL_MSG_MAX, send_cb, &c);
	if (err == -EINVAL)
		log_error(COMP, "cannot configure %s: an endpoint or allowed IP is not a numeric "
			  "address (HOST:PORT, ADDR/LEN)", ifname);
	else if (err)
		log_error(COMP, "the kernel refused the configuration of %s (message %u of the "
			  "request; %u applied): %s%s%s; %s", ifname, c.sent + 1, c.sent,
			  strerror(-err), *s.msg ? ": " : "", s.msg, nl_hint(err));
	nl_close(&s);
	return err;
}
