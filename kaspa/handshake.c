// SPDX-License-Identifier: GPL-2.0-only
/* The Kaspa P2P handshake state machine. See handshake.h for the rules it follows. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "vigil/util.h"
#include "handshake.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.0.0"
#endif

const char *kaspa_fail_name(enum kaspa_fail f)
{
	static const char *const names[] = {
		[KASPA_FAIL_NONE] = "none",	      [KASPA_FAIL_TIMEOUT] = "timeout",
		[KASPA_FAIL_VERSION] = "version",     [KASPA_FAIL_NETWORK] = "network",
		[KASPA_FAIL_MALFORMED] = "malformed", [KASPA_FAIL_RESET] = "reset",
		[KASPA_FAIL_SELF] = "self",	      [KASPA_FAIL_REJECTED] = "rejected",
	};

	return (unsigned)f < ARRAY_SIZE(names) ? names[f] : "unknown";
}

const char *kaspa_step_name(enum kaspa_step s)
{
	static const char *const names[] = {
		[KASPA_STEP_VERSION] = "version",
		[KASPA_STEP_VERACK] = "verack",
		[KASPA_STEP_READY] = "ready",
		[KASPA_STEP_ESTABLISHED] = "established",
	};

	return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "unknown";
}

void kaspa_hs_init(struct kaspa_hs *hs, const struct kaspa_hs_config *cfg, kaspa_hs_send_fn send,
		   void *ctx)
{
	static const uint8_t zero[KASPA_ID_LEN];

	memset(hs, 0, sizeof(*hs));
	hs->cfg = *cfg;
	hs->send = send;
	hs->ctx = ctx;
	if (!hs->cfg.network)
		hs->cfg.network = KASPA_DEFAULT_NETWORK;
	if (!hs->cfg.protocol_version)
		hs->cfg.protocol_version = KASPA_PROTOCOL_VERSION;
	if (!hs->cfg.min_protocol_version)
		hs->cfg.min_protocol_version = hs->cfg.protocol_version;
	if (!hs->cfg.user_agent)
		hs->cfg.user_agent = "/vigil:" VIGIL_VERSION "/";
	if (!hs->cfg.version_timeout_ms)
		hs->cfg.version_timeout_ms = KASPA_VERSION_TIMEOUT_MS;
	if (!hs->cfg.verack_timeout_ms)
		hs->cfg.verack_timeout_ms = KASPA_VERACK_TIMEOUT_MS;
	if (!hs->cfg.ready_timeout_ms)
		hs->cfg.ready_timeout_ms = KASPA_READY_TIMEOUT_MS;
	if (memcmp(hs->cfg.id, zero, sizeof(zero)) == 0 &&
	    getrandom(hs->cfg.id, sizeof(hs->cfg.id), 0) != sizeof(hs->cfg.id)) {
		/* getrandom cannot fail for 16 bytes once the pool is up; keep ids distinct anyway */
		uint64_t t = vtime_real_ns();

		memcpy(hs->cfg.id, &t, sizeof(t));
		memcpy(hs->cfg.id + 8, &hs, sizeof(void *) < 8 ? sizeof(void *) : 8);
	}
	hs->step = KASPA_STEP_VERSION;
}

/* Records the first failure; later ones are ignored so the log names the cause, not an echo. */
static int fail(struct kaspa_hs *hs, enum kaspa_fail cls, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct kaspa_hs *hs, enum kaspa_fail cls, int err, const char *fmt, ...)
{
	va_list ap;

	if (hs->fail != KASPA_FAIL_NONE)
		return err;
	hs->fail = cls;
	va_start(ap, fmt);
	vsnprintf(hs->reason, sizeof(hs->reason), fmt, ap);
	va_end(ap);
	hs->version_deadline = hs->verack_deadline = hs->ready_deadline = 0;
	return err;
}

static int emit(struct kaspa_hs *hs, Protowire__KaspadMessage *m)
{
	int err = hs->send(hs, m, hs->ctx);

	/* after Ready a failed send is the transport's news, not a failed handshake */
	if (err < 0 && hs->step == KASPA_STEP_ESTABLISHED)
		return err;
	if (err < 0)
		return fail(hs, KASPA_FAIL_RESET, err, "cannot send %s: %s",
			    kaspa_payload_name(m->payload_case), strerror(-err));
	return 0;
}

static int send_version(struct kaspa_hs *hs)
{
	Protowire__KaspadMessage m = PROTOWIRE__KASPAD_MESSAGE__INIT;
	Protowire__VersionMessage v = PROTOWIRE__VERSION_MESSAGE__INIT;
	Protowire__NetAddress addr;

	v.protocolversion = hs->cfg.protocol_version;
	v.services = hs->cfg.services;
	v.timestamp = hs->cfg.timestamp_ms ? hs->cfg.timestamp_ms
					   : (int64_t)(vtime_real_ns() / 1000000);
	if (hs->cfg.address) {
		kaspa_netaddr_to_pb(hs->cfg.address, &addr);
		v.address = &addr;
	}
	v.id.data = hs->cfg.id;
	v.id.len = KASPA_ID_LEN;
	v.useragent = (char *)hs->cfg.user_agent;
	v.disablerelaytx = hs->cfg.disable_relay_tx;
	v.network = (char *)hs->cfg.network;
	m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION;
	m.version = &v;
	return emit(hs, &m);
}

static int send_empty(struct kaspa_hs *hs, Protowire__KaspadMessage__PayloadCase c)
{
	Protowire__KaspadMessage m = PROTOWIRE__KASPAD_MESSAGE__INIT;
	Protowire__VerackMessage verack = PROTOWIRE__VERACK_MESSAGE__INIT;
	Protowire__ReadyMessage ready = PROTOWIRE__READY_MESSAGE__INIT;

	m.payload_case = c;
	if (c == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK)
		m.verack = &verack;
	else
		m.ready = &ready;
	return emit(hs, &m);
}

int kaspa_hs_start(struct kaspa_hs *hs, uint64_t now_ms)
{
	if (hs->fail)
		return -ECONNABORTED;
	if (hs->started)
		return -EALREADY;
	hs->started = true;
	hs->version_deadline = now_ms + hs->cfg.version_timeout_ms;
	hs->verack_deadline = now_ms + hs->cfg.verack_timeout_ms;
	return send_version(hs);
}

/* Sends Ready once we have both the peer's Version and the Verack to ours. */
static int maybe_ready(struct kaspa_hs *hs, uint64_t now_ms)
{
	int err;

	if (!hs->got_version) {
		hs->step = KASPA_STEP_VERSION;
		return 0;
	}
	if (!hs->got_verack) {
		hs->step = KASPA_STEP_VERACK;
		return 0;
	}
	if (!hs->sent_ready) {
		err = send_empty(hs, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY);
		if (err)
			return err;
		hs->sent_ready = true;
		hs->ready_deadline = now_ms + hs->cfg.ready_timeout_ms;
		hs->step = KASPA_STEP_READY;
	}
	if (hs->got_ready) {
		hs->ready_deadline = 0;
		hs->step = KASPA_STEP_ESTABLISHED;
	}
	return 0;
}

static int on_version(struct kaspa_hs *hs, const Protowire__VersionMessage *v, uint64_t now_ms)
{
	char why[200];
	int err;

	if (hs->got_version)
		return fail(hs, KASPA_FAIL_MALFORMED, -EPROTO, "peer sent a second Version");
	if (!v)
		return fail(hs, KASPA_FAIL_MALFORMED, -EPROTO, "Version without a body");
	if (kaspa_peer_info_from_version(v, &hs->peer, why, sizeof(why)))
		return fail(hs, KASPA_FAIL_MALFORMED, -EPROTO, "invalid Version: %s", why);
	if (memcmp(hs->peer.id, hs->cfg.id, KASPA_ID_LEN) == 0)
		return fail(hs, KASPA_FAIL_SELF, -ELOOP,
			    "peer id %s is our own id: connected to ourselves", hs->peer.id_hex);
	if (strcmp(v->network, hs->cfg.network) != 0)
		return fail(hs, KASPA_FAIL_NETWORK, -EPROTO,
			    "peer is on network \"%s\", we are on \"%s\"", hs->peer.network,
			    hs->cfg.network);
	if (v->protocolversion < hs->cfg.min_protocol_version) {
		Protowire__KaspadMessage m = PROTOWIRE__KASPAD_MESSAGE__INIT;
		Protowire__RejectMessage r = PROTOWIRE__REJECT_MESSAGE__INIT;
		char reason[128];

		snprintf(reason, sizeof(reason),
			 "protocol version %u is below our minimum %u (we speak %u)",
			 v->protocolversion, hs->cfg.min_protocol_version, hs->cfg.protocol_version);
		fail(hs, KASPA_FAIL_VERSION, -EPROTO, "peer %s", reason);
		/* like the reference node: tell the peer why, naming both versions */
		r.reason = reason;
		m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REJECT;
		m.reject = &r;
		hs->send(hs, &m, hs->ctx);
		return -EPROTO;
	}
	hs->got_version = true;
	hs->version_deadline = 0;
	hs->negotiated_version = v->protocolversion < hs->cfg.protocol_version
					 ? v->protocolversion
					 : hs->cfg.protocol_version;
	err = send_empty(hs, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK);
	if (err)
		return err;
	return maybe_ready(hs, now_ms);
}

static int send_addresses(struct kaspa_hs *hs)
{
	Protowire__KaspadMessage m = PROTOWIRE__KASPAD_MESSAGE__INIT;
	Protowire__AddressesMessage a = PROTOWIRE__ADDRESSES_MESSAGE__INIT;
	size_t n = hs->cfg.n_addresses < KASPA_SEND_ADDRESSES ? hs->cfg.n_addresses
							       : KASPA_SEND_ADDRESSES;
	Protowire__NetAddress pbs[n ? n : 1];
	Protowire__NetAddress *ptrs[n ? n : 1];
	int err;

	for (size_t i = 0; i < n; i++) {
		kaspa_netaddr_to_pb(&hs->cfg.addresses[i], &pbs[i]);
		ptrs[i] = &pbs[i];
	}
	a.n_addresslist = n;
	a.addresslist = n ? ptrs : NULL;
	m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES;
	m.addresses = &a;
	err = emit(hs, &m);
	if (!err)
		hs->addresses_answered++;
	return err;
}

static int send_pong(struct kaspa_hs *hs, uint64_t nonce)
{
	Protowire__KaspadMessage m = PROTOWIRE__KASPAD_MESSAGE__INIT;
	Protowire__PongMessage p = PROTOWIRE__PONG_MESSAGE__INIT;
	int err;

	p.nonce = nonce;
	m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG;
	m.pong = &p;
	err = emit(hs, &m);
	if (!err)
		hs->pings_answered++;
	return err;
}

int kaspa_hs_on_message(struct kaspa_hs *hs, const Protowire__KaspadMessage *m, uint64_t now_ms)
{
	const char *name = kaspa_payload_name(m->payload_case);

	if (hs->fail)
		return -ECONNABORTED;
	if (!hs->started)
		return -EINVAL;
	if (m->payload_case == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REJECT) {
		const char *r = m->reject && m->reject->reason ? m->reject->reason : "";

		if (hs->step == KASPA_STEP_ESTABLISHED) {
			/* a peer leaving after Ready is not a failed handshake; the caller logs it */
			snprintf(hs->peer_reject, sizeof(hs->peer_reject), "%s", r);
			return 1;
		}
		return fail(hs, KASPA_FAIL_REJECTED, -ECONNREFUSED, "peer sent Reject: \"%.200s\"",
			    r);
	}
	if (hs->step == KASPA_STEP_ESTABLISHED) {
		switch (m->payload_case) {
		case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES:
			return send_addresses(hs);
		case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING:
			return send_pong(hs, m->ping ? m->ping->nonce : 0);
		case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION:
		case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK:
		case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY:
			return fail(hs, KASPA_FAIL_MALFORMED, -EPROTO,
				    "peer sent %s again after Ready", name);
		case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES:
			if (m->addresses && m->addresses->n_addresslist > KASPA_MAX_ADDRESSES)
				return fail(hs, KASPA_FAIL_MALFORMED, -EPROTO,
					    "peer sent %zu addresses, the limit is %d",
					    m->addresses->n_addresslist, KASPA_MAX_ADDRESSES);
			return 1;
		default:
			return 1;
		}
	}
	switch (m->payload_case) {
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION:
		return on_version(hs, m->version, now_ms);
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK:
		if (hs->got_verack)
			return fail(hs, KASPA_FAIL_MALFORMED, -EPROTO, "peer sent a second Verack");
		hs->got_verack = true;
		hs->verack_deadline = 0;
		return maybe_ready(hs, now_ms);
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY:
		if (!hs->got_version)
			return fail(hs, KASPA_FAIL_MALFORMED, -EPROTO,
				    "peer sent Ready before its Version");
		if (hs->got_ready)
			return fail(hs, KASPA_FAIL_MALFORMED, -EPROTO, "peer sent a second Ready");
		hs->got_ready = true;
		return maybe_ready(hs, now_ms);
	case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD__NOT_SET:
		return fail(hs, KASPA_FAIL_MALFORMED, -EPROTO,
			    "peer sent a message without a known payload during the handshake "
			    "(step %s)",
			    kaspa_step_name(hs->step));
	default:
		return fail(hs, KASPA_FAIL_MALFORMED, -EPROTO,
			    "peer sent %s before Ready (step %s)", name, kaspa_step_name(hs->step));
	}
}

int kaspa_hs_tick(struct kaspa_hs *hs, uint64_t now_ms)
{
	if (hs->fail)
		return hs->fail == KASPA_FAIL_TIMEOUT ? -ETIMEDOUT : 0;
	if (hs->version_deadline && now_ms >= hs->version_deadline)
		return fail(hs, KASPA_FAIL_TIMEOUT, -ETIMEDOUT,
			    "no Version from the peer within %u ms", hs->cfg.version_timeout_ms);
	if (hs->verack_deadline && now_ms >= hs->verack_deadline)
		return fail(hs, KASPA_FAIL_TIMEOUT, -ETIMEDOUT,
			    "no Verack to our Version within %u ms", hs->cfg.verack_timeout_ms);
	if (hs->ready_deadline && now_ms >= hs->ready_deadline)
		return fail(hs, KASPA_FAIL_TIMEOUT, -ETIMEDOUT,
			    "no Ready from the peer within %u ms of ours", hs->cfg.ready_timeout_ms);
	return 0;
}

void kaspa_hs_abort(struct kaspa_hs *hs, enum kaspa_fail cls, const char *why)
{
	if (hs->step == KASPA_STEP_ESTABLISHED || hs->fail)
		return;
	fail(hs, cls == KASPA_FAIL_NONE ? KASPA_FAIL_RESET : cls, 0, "%s", why ? why : "closed");
}

uint64_t kaspa_hs_next_deadline(const struct kaspa_hs *hs)
{
	uint64_t d = 0;
	const uint64_t all[] = { hs->version_deadline, hs->verack_deadline, hs->ready_deadline };

	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		if (all[i] && (!d || all[i] < d))
			d = all[i];
	return d;
}

int kaspa_hs_request_addresses(struct kaspa_hs *hs)
{
	Protowire__KaspadMessage m = PROTOWIRE__KASPAD_MESSAGE__INIT;
	Protowire__RequestAddressesMessage r = PROTOWIRE__REQUEST_ADDRESSES_MESSAGE__INIT;

	if (!kaspa_hs_ready(hs))
		return -EAGAIN;
	m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES;
	m.requestaddresses = &r;
	return emit(hs, &m);
}

int kaspa_hs_send_reject(struct kaspa_hs *hs, const char *reason)
{
	Protowire__KaspadMessage m = PROTOWIRE__KASPAD_MESSAGE__INIT;
	Protowire__RejectMessage r = PROTOWIRE__REJECT_MESSAGE__INIT;

	if (!kaspa_hs_ready(hs))
		return -EAGAIN;
	r.reason = (char *)reason;
	m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REJECT;
	m.reject = &r;
	return emit(hs, &m);
}
