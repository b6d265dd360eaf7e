// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bytes from the network into an HTTP/2 session, as the sensor sees them: a server session
 * (output discarded) whose messages drive a handshake, fed in chunks whose size the first byte
 * picks. The first byte's top bit selects the client role instead. No crash, no leak; once the
 * session reports an error it keeps reporting it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../h2.h"
#include "../handshake.h"

struct ctx {
	struct kaspa_h2 *h2;
	struct kaspa_hs hs;
};

static int hs_send(struct kaspa_hs *hs, const Protowire__KaspadMessage *m, void *p)
{
	struct ctx *c = p;

	(void)hs;
	return kaspa_h2_send(c->h2, m);
}

static void on_open(struct kaspa_h2 *h, void *p)
{
	struct ctx *c = p;

	(void)h;
	if (!c->hs.started)
		kaspa_hs_start(&c->hs, 0);
}

static int on_message(struct kaspa_h2 *h, const Protowire__KaspadMessage *m, void *p)
{
	struct ctx *c = p;

	(void)h;
	return kaspa_hs_on_message(&c->hs, m, 1) < 0 ? 0 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kaspa_h2_ops ops = { on_open, on_message };
	struct kaspa_h2_config h2cfg = { .max_msg = 1 << 16 };
	struct kaspa_hs_config hscfg;
	struct ctx c;
	size_t chunk;
	int err = 0;

	if (size < 1)
		return 0;
	memset(&hscfg, 0, sizeof(hscfg));
	memset(hscfg.id, 0x11, sizeof(hscfg.id));
	hscfg.timestamp_ms = 1;
	chunk = (data[0] & 0x7f) * 8 + 1;
	kaspa_hs_init(&c.hs, &hscfg, hs_send, &c);
	c.h2 = kaspa_h2_new(-1, data[0] & 0x80 ? KASPA_H2_CLIENT : KASPA_H2_SERVER, &h2cfg, &ops,
			    &c);
	if (!c.h2)
		return 0;
	if (data[0] & 0x80)
		kaspa_hs_start(&c.hs, 0);
	kaspa_h2_on_writable(c.h2);
	data++;
	size--;
	for (size_t off = 0; off < size; off += chunk) {
		int e = kaspa_h2_feed(c.h2, data + off, size - off < chunk ? size - off : chunk);

		if (err && e != err)
			abort(); /* errors are sticky */
		err = e;
	}
	kaspa_h2_finish(c.h2);
	kaspa_h2_on_writable(c.h2);
	kaspa_h2_free(c.h2);
	return 0;
}
