// SPDX-License-Identifier: GPL-2.0-only
/*
 * Request parameters (--capture-params): where the scanner finds them, what a connection hands
 * to the call, and how rpc_call_to_json() shows them.
 */
#include <jansson.h>

#include "test.h"
#include "../jsonrpc.h"
#include "rpc_test.h"

struct spans {
	const char *in;
	uint32_t n;
	struct rpc_jitem v[8];
};

static int grab(void *ctx, uint32_t index, const struct rpc_jitem *it)
{
	struct spans *s = ctx;

	if (index < 8)
		s->v[index] = *it;
	s->n = index + 1;
	return 0;
}

static struct rpc_jscan scan(const char *json, size_t n, struct spans *out)
{
	struct rpc_jscan js;

	memset(out, 0, sizeof(*out));
	out->in = json;
	rpc_json_scan(json, n, grab, out, &js);
	return js;
}

/* The params text of item @i as a NUL-terminated copy in @buf. */
static const char *span(const struct spans *s, uint32_t i, char *buf, size_t n)
{
	const struct rpc_jitem *it = &s->v[i];
	size_t len = it->params_len < n - 1 ? it->params_len : n - 1;

	memcpy(buf, s->in + it->params_off, len);
	buf[len] = 0;
	return buf;
}

static void test_scan_params_spans(void)
{
	char buf[256];
	struct spans s;
	const char *one = "{\"jsonrpc\":\"2.0\",\"method\":\"eth_getBalance\",\"params\" : "
			  "[\"0xabc\", {\"k\":\"}]\\\"\"}] ,\"id\":1}";
	const char *batch = "[{\"method\":\"a\",\"params\":{\"x\":[1,2]},\"id\":1},"
			    "{\"id\":2,\"method\":\"b\"},"
			    "{\"params\":\"str\",\"method\":\"c\",\"id\":3},"
			    "{\"method\":\"d\",\"params\":42,\"id\":4},"
			    "{\"method\":\"e\",\"params\":null}]";

	scan(one, strlen(one), &s);
	ASSERT_TRUE(s.v[0].has_params, "params seen");
	ASSERT_FALSE(s.v[0].params_cut, "not cut");
	ASSERT_STREQ(span(&s, 0, buf, sizeof(buf)), "[\"0xabc\", {\"k\":\"}]\\\"\"}]", "span");
	ASSERT_STREQ(s.v[0].id, "1", "id after params");

	scan(batch, strlen(batch), &s);
	ASSERT_EQ(s.n, 5, "five items");
	ASSERT_STREQ(span(&s, 0, buf, sizeof(buf)), "{\"x\":[1,2]}", "object");
	ASSERT_FALSE(s.v[1].has_params, "no params");
	ASSERT_EQ(s.v[1].params_len, 0, "no span");
	ASSERT_STREQ(span(&s, 2, buf, sizeof(buf)), "\"str\"", "string, before method");
	ASSERT_STREQ(s.v[2].method, "c", "method after params");
	ASSERT_STREQ(span(&s, 3, buf, sizeof(buf)), "42", "number");
	ASSERT_STREQ(span(&s, 4, buf, sizeof(buf)), "null", "null");
	/* "params" as a value or inside another member is not the item's params */
	const char *v = "{\"method\":\"params\",\"x\":{\"params\":[1]},\"id\":\"params\"}";
	scan(v, strlen(v), &s);
	ASSERT_FALSE(s.v[0].has_params, "key only at the item level");
	/* the last of two "params" wins, as in the servers' decoders */
	const char *d = "{\"params\":[1],\"method\":\"m\",\"params\":[22]}";
	scan(d, strlen(d), &s);
	ASSERT_STREQ(span(&s, 0, buf, sizeof(buf)), "[22]", "last wins");
}

static void test_scan_params_cut(void)
{
	char buf[256];
	struct spans s;
	const char *full = "{\"method\":\"personal_unlockAccount\",\"params\":[\"0x1\",\"pw\\\"x\"],"
			   "\"id\":9}";
	const char *p = strstr(full, "[\"0x1\"");
	size_t at = (size_t)(p - full);
	struct rpc_jscan js;

	/* every cut inside the value: the span runs to the end of input and says so */
	for (size_t cut = at + 1; cut < at + strlen("[\"0x1\",\"pw\\\"x\"]"); cut++) {
		js = scan(full, cut, &s);
		if (!ASSERT_TRUE(js.cut && s.v[0].has_params && s.v[0].params_cut, "cut flagged"))
			return;
		ASSERT_EQ(s.v[0].params_off, at, "offset");
		ASSERT_EQ(s.v[0].params_len, cut - at, "length to the cut");
	}
	/* cut right after the closing bracket: complete value */
	scan(full, at + strlen("[\"0x1\",\"pw\\\"x\"]"), &s);
	ASSERT_FALSE(s.v[0].params_cut, "whole value before the cut");
	ASSERT_STREQ(span(&s, 0, buf, sizeof(buf)), "[\"0x1\",\"pw\\\"x\"]", "span");
	/* cut after the colon: present, empty, cut */
	scan(full, at, &s);
	ASSERT_TRUE(s.v[0].has_params && s.v[0].params_cut, "present and cut");
	ASSERT_EQ(s.v[0].params_len, 0, "nothing of it");
	/* cut inside the key or before the colon: not seen */
	scan(full, at - 3, &s);
	ASSERT_FALSE(s.v[0].has_params, "key cut");
	scan(full, at - 1, &s);
	ASSERT_FALSE(s.v[0].has_params, "colon cut");
	/* a number at the very end may go on: cut */
	const char *n = "{\"method\":\"m\",\"params\":12";
	scan(n, strlen(n), &s);
	ASSERT_TRUE(s.v[0].params_cut, "number at the end");
	/* bad syntax inside params: no params */
	const char *b = "{\"method\":\"m\",\"params\":]}";
	js = scan(b, strlen(b), &s);
	ASSERT_TRUE(js.bad, "bad");
	ASSERT_FALSE(s.v[0].has_params, "no params from bad syntax");
}

TESTS(T(test_scan_params_spans), T(test_scan_params_cut))
