/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What `vigil rpc --capture-params` may export of a request's parameters: a deterministic sample
 * of the calls, and for those, the params text with secrets replaced by "[redacted]".
 *
 * Two kinds of redaction, both applied before anything leaves the process:
 *  - whole params, for methods whose parameters are secrets or signed payloads: the built-in
 *    list (eth_sendRawTransaction, eth_sign, eth_signTransaction, eth_signTypedData*,
 *    personal_*) plus the user's patterns ('*' matches any run of characters; case is ignored).
 *    A call whose method is unknown or truncated is redacted whole too: it cannot be checked.
 *    The exported text is then exactly RPC_REDACTED.
 *  - by key, for everything else: the value of every JSON object member, at any depth, whose
 *    key (after unescaping, ignoring ASCII case) is on the key list becomes "[redacted]" (with
 *    its quotes, whatever the value's type: string, number, object, array).
 *
 * The params text may be cut anywhere (capture limits). The redactor never recurses and never
 * emits a byte of a value it redacts: a redacted value cut by the end of input is replaced all
 * the same, and input it cannot follow (bad syntax, nesting deeper than RPC_REDACT_DEPTH) ends
 * with one "[redacted]" in place of everything after the last byte it understood.
 */
#ifndef VIGIL_RPC_PARAMS_H
#define VIGIL_RPC_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buf.h"
#include "call.h"

#define RPC_REDACTED	 "[redacted]"
#define RPC_REDACT_DEPTH 512 /* nesting the redactor follows */
#define RPC_REDACT_KEYS_DEFAULT \
	"privateKey,private_key,password,passphrase,secret,mnemonic,seed,key,rawTransaction,raw"
/* Methods always redacted whole, whatever --redact-methods says. */
#define RPC_REDACT_METHODS_BUILTIN \
	"eth_sendRawTransaction,eth_sign,eth_signTransaction,eth_signTypedData*,personal_*"

/* The compiled key and method lists; owns its strings. */
struct rpc_redact {
	char **keys;
	size_t *key_len;
	size_t nkeys, key_max;
	char **methods; /* built-in patterns first, then the user's */
	size_t nmethods;
};

/*
 * Compiles comma-separated lists (spaces around items ignored, empty items skipped; NULL or ""
 * is an empty list). @methods adds to the built-in methods. Returns 0, -EINVAL (an item longer
 * than 255 bytes; logged with the offending item) or -ENOMEM.
 */
int rpc_redact_init(struct rpc_redact *r, const char *keys, const char *methods);
void rpc_redact_free(struct rpc_redact *r);

/* true when a call to @method (@len bytes, @truncated as the scanner said) is redacted whole. */
bool rpc_redact_method(const struct rpc_redact *r, const char *method, size_t len,
		       bool truncated);

/*
 * Appends @n bytes of params text at @in to @out with the value of every listed key replaced
 * (see above). Returns 0 or -ENOMEM.
 */
int rpc_redact_json(const struct rpc_redact *r, const char *in, size_t n, struct vbuf *out);

/*
 * The text to export for @c's params (c->has_params must be true): RPC_REDACTED for a method
 * redacted whole, else rpc_redact_json() of them. Appends to @out; returns 0 or -ENOMEM.
 */
int rpc_params_export(const struct rpc_redact *r, const struct rpc_call *c, struct vbuf *out);

/*
 * Whether the @seq-th call with params on connection @conn has its params exported at sampling
 * @rate (0 < rate <= 1): a hash of (@seed, @conn, @seq) against the rate, so a run is
 * reproducible, a lower rate samples a subset of what a higher one does, and about rate * N of
 * N calls are picked. rate >= 1: always; rate <= 0 (or NaN): never.
 */
bool rpc_params_sampled(double rate, uint64_t seed, uint64_t conn, uint64_t seq);

#endif
