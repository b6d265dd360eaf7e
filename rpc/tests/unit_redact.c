// SPDX-License-Identifier: GPL-2.0-only
/* Redaction and sampling of captured request parameters (rpc/params.h). */
#include <jansson.h>
#include <math.h>

#include "test.h"
#include "vigil/util.h"
#include "../params.h"

/* Secrets are spelled with letters that appear nowhere else in the inputs nor in the marker. */
#define SECRET_CHARS "QZXJVW"

/* The default key list, compiled once per test process. */
static const struct rpc_redact *dflt(void)
{
	static struct rpc_redact red;
	static bool done;

	if (!done && rpc_redact_init(&red, RPC_REDACT_KEYS_DEFAULT, NULL))
		abort();
	done = true;
	return &red;
}

static const char *redact(const char *in, size_t n, struct vbuf *b)
{
	vbuf_reset(b);
	if (rpc_redact_json(dflt(), in, n, b))
		return NULL;
	return vbuf_cstr(b);
}

static bool leaks(const char *out)
{
	return strpbrk(out, SECRET_CHARS) != NULL;
}

static void test_by_key(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		/* nested objects and arrays */
		{ "[{\"from\":\"0x1\",\"password\":\"QZX\",\"inner\":{\"privateKey\":\"0xQQ\","
		  "\"list\":[{\"secret\":\"JJ\"},{\"s\":\"ok\"}]}},\"latest\"]",
		  "[{\"from\":\"0x1\",\"password\":\"[redacted]\",\"inner\":{\"privateKey\":"
		  "\"[redacted]\",\"list\":[{\"secret\":\"[redacted]\"},{\"s\":\"ok\"}]}},\"latest\"]" },
		/* values of any type */
		{ "{\"key\":{\"a\":[1,2,\"QQ\",{\"b\":\"}\"}]},\"seed\":12345,\"raw\":[\"0xQZ\",[]],"
		  "\"mnemonic\":null,\"ok\":true,\"passphrase\":-1.5e3}",
		  "{\"key\":\"[redacted]\",\"seed\":\"[redacted]\",\"raw\":\"[redacted]\","
		  "\"mnemonic\":\"[redacted]\",\"ok\":true,\"passphrase\":\"[redacted]\"}" },
		/* escaped quotes and backslashes inside values */
		{ "{\"password\":\"Q\\\"Z,\\\"X\\\\\",\"x\":\"y\\\"password\\\":\\\"\"}",
		  "{\"password\":\"[redacted]\",\"x\":\"y\\\"password\\\":\\\"\"}" },
		/* keys that appear as values, or inside other strings, are not keys */
		{ "[\"password\",\"key\",{\"name\":\"secret\"},\"{\\\"seed\\\":1}\"]",
		  "[\"password\",\"key\",{\"name\":\"secret\"},\"{\\\"seed\\\":1}\"]" },
		/*
		 * escaped and differently cased keys are the same keys; an unknown escape is read as
		 * its character, as lenient decoders do
		 */
		{ "{\"pass\\u0077ord\":\"QQ\",\"PASSword\":\"ZZ\",\"Private\\u004bey\":\"XX\","
		  "\"s\\u0065\\u0065d\":\"JJ\",\"pass\\\"word\":\"v\",\"k\\ey\":\"QZ\"}",
		  "{\"pass\\u0077ord\":\"[redacted]\",\"PASSword\":\"[redacted]\",\"Private\\u004bey\":"
		  "\"[redacted]\",\"s\\u0065\\u0065d\":\"[redacted]\",\"pass\\\"word\":\"v\","
		  "\"k\\ey\":\"[redacted]\"}" },
		/* other keys are kept, including longer ones containing a listed one */
		{ "{\"publicKey\":\"0x1\",\"keys\":[1],\"rawTx\":2,\"passwordHint\":\"h\"}",
		  "{\"publicKey\":\"0x1\",\"keys\":[1],\"rawTx\":2,\"passwordHint\":\"h\"}" },
		/* whitespace is kept as it was */
		{ " { \"password\" :\t\"QZ\" ,\n \"a\" : [ 1 , 2 ] } ",
		  " { \"password\" :\t\"[redacted]\" ,\n \"a\" : [ 1 , 2 ] } " },
		/* scalars and empty containers */
		{ "\"0xabc\"", "\"0xabc\"" },
		{ "[]", "[]" },
		{ "{}", "{}" },
		{ "[{},[],{\"seed\":{}}]", "[{},[],{\"seed\":\"[redacted]\"}]" },
	};
	struct vbuf b = VBUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *out = redact(cases[i].in, strlen(cases[i].in), &b);

		if (!ASSERT_NOT_NULL(out, "redact"))
			break;
		ASSERT_STREQ(out, cases[i].want, cases[i].in);
		ASSERT_FALSE(leaks(out), "no secret byte");
	}
	vbuf_free(&b);
}

/* Every prefix of inputs with secrets (a capture cut anywhere): no byte of a secret gets out. */
static void test_cut_anywhere(void)
{
	static const char *docs[] = {
		"[{\"from\":\"0x1\",\"password\":\"QZXJ\\\"VW\",\"inner\":{\"privateKey\":[\"QZ\","
		"{\"x\":\"XJ\"}],\"ok\":[1,2]}},{\"raw\":\"0xQQQQ\"},\"latest\",{\"seed\":123}]",
		"{\"pass\\u0077ord\":{\"a\":\"}]\\\"QZ\"},\"mnemonic\":\"JVW JVW\",\"b\":true}",
		"[[[[{\"secret\" : \"QZXJVW\" , \"n\" : null}]]]]",
	};
	struct vbuf b = VBUF_INIT;
	json_error_t jerr;

	for (size_t d = 0; d < ARRAY_SIZE(docs); d++) {
		size_t n = strlen(docs[d]);

		for (size_t cut = 0; cut <= n; cut++) {
			const char *out = redact(docs[d], cut, &b);
			char what[64];

			snprintf(what, sizeof(what), "doc %zu cut at %zu", d, cut);
			if (!ASSERT_NOT_NULL(out, what) || !ASSERT_FALSE(leaks(out), what)) {
				fprintf(stderr, "  output: %s\n", out ? out : "(null)");
				goto out;
			}
		}
		/* the whole document: valid JSON out */
		json_t *j = json_loads(redact(docs[d], n, &b), 0, &jerr);
		if (ASSERT_NOT_NULL(j, vbuf_cstr(&b)))
			json_decref(j);
	}
	/* a cut value is replaced, with its quotes, and nothing follows */
	ASSERT_STREQ(redact("[{\"password\":\"QZX", 17, &b), "[{\"password\":\"[redacted]\"",
		     "cut string");
	ASSERT_STREQ(redact("{\"key\":[1,{\"a\":", 15, &b), "{\"key\":\"[redacted]\"", "cut array");
	ASSERT_STREQ(redact("{\"seed\":12", 10, &b), "{\"seed\":\"[redacted]\"", "cut number");
	/* a key cut before its value: nothing to hide yet */
	ASSERT_STREQ(redact("{\"a\":1,\"passw", 13, &b), "{\"a\":1,\"passw", "cut key");
	ASSERT_STREQ(redact("{\"password\" :", 13, &b), "{\"password\" :", "cut after colon");
out:
	vbuf_free(&b);
}

/* Input the walk cannot follow ends with one marker in place of the rest. */
static void test_bad_and_deep(void)
{
	struct vbuf b = VBUF_INIT, deep = VBUF_INIT;

	ASSERT_STREQ(redact("{\"a\" \"password\":\"QZ\"}", 22, &b), "{\"a\" \"[redacted]\"",
		     "missing colon");
	ASSERT_STREQ(redact("{\"password\" \"QZ\"}", 17, &b), "{\"password\" \"[redacted]\"",
		     "missing colon after a listed key");
	ASSERT_STREQ(redact("[1,}\"QZ\"]", 9, &b), "[1,\"[redacted]\"", "mismatched bracket");
	ASSERT_STREQ(redact("{\"a\":1]", 7, &b), "{\"a\":1\"[redacted]\"", "wrong closer");
	ASSERT_STREQ(redact("[1] \"QZ\"", 8, &b), "[1] \"[redacted]\"", "trailing bytes");
	ASSERT_STREQ(redact("{1:\"QZ\"}", 8, &b), "{\"[redacted]\"", "key not a string");
	/* a listed key's value with bad syntax inside is replaced whole, up to the end */
	ASSERT_STREQ(redact("{\"seed\":[1,2}],\"b\":\"QZ\"}", 24, &b),
		     "{\"seed\":\"[redacted]\"\"[redacted]\"", "bad value of a listed key");
	/* deeper than RPC_REDACT_DEPTH: the walk cannot tell keys from values any more */
	for (int i = 0; i < RPC_REDACT_DEPTH + 10; i++)
		vbuf_puts(&deep, "[");
	vbuf_puts(&deep, "{\"password\":\"QZXJ\"}");
	const char *out = redact(deep.data, deep.len, &b);
	ASSERT_FALSE(leaks(out), "deep: no leak");
	ASSERT_EQ(b.len, RPC_REDACT_DEPTH + strlen("\"[redacted]\""), "deep: marker after the limit");
	/* at the limit it still works */
	vbuf_reset(&deep);
	for (int i = 0; i < RPC_REDACT_DEPTH - 1; i++)
		vbuf_puts(&deep, "[");
	vbuf_puts(&deep, "{\"password\":\"QZXJ\"}");
	out = redact(deep.data, deep.len, &b);
	ASSERT_TRUE(out && strstr(out, "{\"password\":\"[redacted]\"}") && !leaks(out), "at limit");
	vbuf_free(&b);
	vbuf_free(&deep);
}

static void test_methods(void)
{
	static const struct {
		const char *m;
		bool whole;
	} cases[] = {
		{ "eth_sendRawTransaction", true }, { "eth_sign", true },
		{ "eth_signTransaction", true },    { "eth_signTypedData", true },
		{ "eth_signTypedData_v4", true },   { "personal_unlockAccount", true },
		{ "personal_importRawKey", true },  { "personal_sign", true },
		{ "ETH_SENDRAWTRANSACTION", true }, { "Personal_NewAccount", true },
		{ "eth_getBalance", false },	    { "eth_sendTransaction", false },
		{ "eth_signer", false },	    { "personalX", false },
		{ "eth_call", false },		    { "mev_sendBundle", true },
		{ "eth_sendPrivateTransaction", true }, { "eth_sendPrivate", true },
		{ "debug_traceCall", false },
	};
	struct rpc_redact r;

	if (!ASSERT_OK(rpc_redact_init(&r, "password", " mev_* , eth_sendPrivate*,,"), "init"))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		ASSERT_EQ(rpc_redact_method(&r, cases[i].m, strlen(cases[i].m), false),
			  cases[i].whole, cases[i].m);
	/* a method that cannot be read whole cannot be cleared */
	ASSERT_TRUE(rpc_redact_method(&r, "eth_getBalance", 14, true), "truncated");
	ASSERT_TRUE(rpc_redact_method(&r, "", 0, false), "none");
	ASSERT_TRUE(rpc_redact_method(&r, "eth_call\0x", 10, false), "NUL inside");
	rpc_redact_free(&r);
	/* built-ins stay with an empty user list; an empty key list redacts no key */
	if (!ASSERT_OK(rpc_redact_init(&r, "", NULL), "init empty"))
		return;
	ASSERT_TRUE(rpc_redact_method(&r, "personal_sign", 13, false), "built-in kept");
	struct vbuf b = VBUF_INIT;
	ASSERT_OK(rpc_redact_json(&r, "{\"password\":1}", 14, &b), "json");
	ASSERT_STREQ(vbuf_cstr(&b), "{\"password\":1}", "no keys, nothing redacted");
	vbuf_free(&b);
	rpc_redact_free(&r);
	char big[400];
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ASSERT_EQ(rpc_redact_init(&r, big, NULL), -EINVAL, "item too long");
}

static void test_export(void)
{
	struct rpc_call c;
	struct vbuf b = VBUF_INIT;
	const char *p = "[\"0xf86c0a8502540be400825208944592d8f8d7b001e72cb26a73e4fa1806a51ac79d"
			"880de0b6b3a7640000801ca0\"]";

	memset(&c, 0, sizeof(c));
	strcpy(c.method, "eth_sendRawTransaction");
	c.method_len = (uint16_t)strlen(c.method);
	c.has_params = true;
	c.params = p;
	c.params_len = (uint32_t)strlen(p);
	ASSERT_OK(rpc_params_export(dflt(), &c, &b), "export");
	ASSERT_STREQ(vbuf_cstr(&b), RPC_REDACTED, "whole");
	strcpy(c.method, "eth_getTransactionCount");
	c.method_len = (uint16_t)strlen(c.method);
	vbuf_reset(&b);
	ASSERT_OK(rpc_params_export(dflt(), &c, &b), "export");
	ASSERT_STREQ(vbuf_cstr(&b), p, "kept");
	vbuf_free(&b);
}

static void test_sampling(void)
{
	const int n = 100000;
	int all = 0, none = 0, q = 0, q2 = 0, tenth = 0, subset_ok = 1, same = 0;

	for (int s = 0; s < n; s++) {
		bool a = rpc_params_sampled(0.1, 42, 7, (uint64_t)s);
		bool b = rpc_params_sampled(0.5, 42, 7, (uint64_t)s);

		all += rpc_params_sampled(1, 42, 7, (uint64_t)s);
		none += rpc_params_sampled(0, 42, 7, (uint64_t)s);
		q += rpc_params_sampled(0.25, 42, 7, (uint64_t)s);
		q2 += rpc_params_sampled(0.25, 43, 7, (uint64_t)s);
		same += rpc_params_sampled(0.25, 42, 7, (uint64_t)s) ==
			rpc_params_sampled(0.25, 43, 7, (uint64_t)s);
		tenth += a;
		if (a && !b)
			subset_ok = 0;
	}
	ASSERT_EQ(all, n, "rate 1: every call");
	ASSERT_EQ(none, 0, "rate 0: none");
	/* binomial: 4 standard deviations (about 550 of 25000, 380 of 10000) */
	ASSERT_TRUE(fabs(q - n * 0.25) < 4 * sqrt(n * 0.25 * 0.75), "rate 0.25");
	ASSERT_TRUE(fabs(q2 - n * 0.25) < 4 * sqrt(n * 0.25 * 0.75), "rate 0.25, other seed");
	ASSERT_TRUE(fabs(tenth - n * 0.1) < 4 * sqrt(n * 0.1 * 0.9), "rate 0.1");
	ASSERT_TRUE(subset_ok, "a lower rate samples a subset of a higher one");
	/* another seed picks other calls: agreement near 0.25^2 + 0.75^2 = 62.5 %, not 100 % */
	ASSERT_TRUE(same < n * 0.7, "seed changes the pick");
	/* reproducible */
	for (int s = 0; s < 1000; s++)
		if (!ASSERT_EQ(rpc_params_sampled(0.3, 9, 11, (uint64_t)s),
			       rpc_params_sampled(0.3, 9, 11, (uint64_t)s), "same answer"))
			break;
	/* connections are sampled independently: consecutive conn ids are not in lockstep */
	int agree = 0;
	for (int s = 0; s < 10000; s++)
		agree += rpc_params_sampled(0.5, 1, 100, (uint64_t)s) ==
			 rpc_params_sampled(0.5, 1, 101, (uint64_t)s);
	ASSERT_TRUE(agree > 4500 && agree < 5500, "connections independent");
}

TESTS(T(test_by_key), T(test_cut_anywhere), T(test_bad_and_deep), T(test_methods), T(test_export),
      T(test_sampling))
