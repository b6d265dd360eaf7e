// SPDX-License-Identifier: GPL-2.0-only
/* The buffer and JSON writer: escaping, nesting, numbers, invalid UTF-8. */
#include <jansson.h>
#include "test.h"
#include "vigil/buf.h"

static void test_escape_control_and_quotes(void)
{
	struct vbuf b = VBUF_INIT;
	struct vjw w;

	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kstr(&w, "k\"ey", "a\"b\\c\n\x01\x1f");
	vjw_end(&w);
	ASSERT_EQ(w.err, 0, "writer error");
	ASSERT_STREQ(vbuf_cstr(&b), "{\"k\\\"ey\":\"a\\\"b\\\\c\\n\\u0001\\u001f\"}", "escaped");
	vbuf_free(&b);
}

static void test_invalid_utf8_is_replaced(void)
{
	struct vbuf b = VBUF_INIT;
	struct vjw w;
	json_error_t jerr;
	json_t *doc;

	vjw_init(&w, &b);
	vjw_arr(&w);
	vjw_strn(&w, "ok\xc3\xa9 bad\xff\xc3 surrogate\xed\xa0\x80 4byte\xf0\x9f\x98\x80", 33);
	vjw_end(&w);
	ASSERT_STRCONTAINS(vbuf_cstr(&b), "ok\xc3\xa9 bad\\ufffd\\ufffd", "replaced");
	doc = json_loads(vbuf_cstr(&b), 0, &jerr);
	ASSERT_NOT_NULL(doc, "jansson parses the output");
	json_decref(doc);
	vbuf_free(&b);
}

static void test_nesting_and_numbers(void)
{
	struct vbuf b = VBUF_INIT;
	struct vjw w;

	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kint(&w, "i", -42);
	vjw_kuint(&w, "u", 18446744073709551615ull);
	vjw_kdouble(&w, "d", 0.1);
	vjw_key(&w, "a");
	vjw_arr(&w);
	vjw_bool(&w, true);
	vjw_null(&w);
	vjw_obj(&w);
	vjw_end(&w);
	vjw_double(&w, 1.0 / 0.0);
	vjw_end(&w);
	vjw_end(&w);
	ASSERT_EQ(w.err, 0, "writer error");
	ASSERT_STREQ(vbuf_cstr(&b),
		     "{\"i\":-42,\"u\":18446744073709551615,\"d\":0.1,\"a\":[true,null,{},null]}",
		     "document");
	vbuf_free(&b);
}

static void test_unbalanced_end_is_an_error(void)
{
	struct vbuf b = VBUF_INIT;
	struct vjw w;

	vjw_init(&w, &b);
	vjw_end(&w);
	ASSERT_NEQ(w.err, 0, "closing nothing sets err");
	vbuf_free(&b);
}

static void test_printf_grows(void)
{
	struct vbuf b = VBUF_INIT;

	for (int i = 0; i < 1000; i++)
		ASSERT_OK(vbuf_printf(&b, "%04d,", i), "printf");
	ASSERT_EQ(b.len, 5000, "length");
	ASSERT_TRUE(strncmp(b.data + 4995, "0999,", 5) == 0, "tail");
	vbuf_free(&b);
}

TESTS(T(test_escape_control_and_quotes), T(test_invalid_utf8_is_replaced),
      T(test_nesting_and_numbers), T(test_unbalanced_end_is_an_error), T(test_printf_grows))
