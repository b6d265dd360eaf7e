// SPDX-License-Identifier: GPL-2.0-only
/*
 * Label values and help texts come from untrusted bytes (methods a traced process sent, peer
 * user agents). Feeds arbitrary bytes through child lookup (hashing, truncation, the cap and the
 * "other" fold) and rendering, then checks the page is well-formed text format 0.0.4: valid
 * UTF-8, one sample per line, label values quoted with only \\ \" \n escapes, and never more
 * children than the cap allows.
 *
 * Input: NUL-separated pieces; piece 0 is a help text, the rest are label values used in pairs.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/log.h"
#include "vigil/metrics.h"

#define CAP 8

static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
			   : (c & 0xf8) == 0xf0 ? 4 : 0;

		if (!len || i + len > n)
			return false;
		for (size_t j = 1; j < len; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

/* Checks one sample line: name{l="v",...} value  (the label block optional). */
static bool valid_sample(const char *p, const char *end)
{
	while (p < end && *p != '{' && *p != ' ')
		p++;
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			while (p < end && *p != '=')
				p++;
			if (end - p < 2 || p[1] != '"')
				return false;
			p += 2;
			while (p < end && *p != '"') {
				if (*p == '\\') {
					if (p + 1 >= end || !strchr("\\\"n", p[1]))
						return false;
					p++;
				} else if (*p == '\n') {
					return false;
				}
				p++;
			}
			if (p >= end)
				return false;
			p++; /* closing quote */
			if (p < end && *p == ',')
				p++;
		}
		if (p >= end)
			return false;
		p++;
	}
	return p < end && *p == ' ' && p + 1 < end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *pieces[64];
	size_t n = 0;
	struct vmetrics *reg = vmetrics_new();
	struct vmetric *c, *h;
	struct vbuf out = VBUF_INIT;

	if (!buf || !reg)
		abort();
	vlog_setup(VLOG_ERROR, VLOG_TEXT); /* the cap warning on every input is noise here */
	memcpy(buf, data, size);
	buf[size] = 0;
	for (char *p = buf; n < 64 && p <= buf + size; p += strlen(p) + 1)
		pieces[n++] = p;
	c = vmetrics_counter(reg, "vigil_fuzz_total", pieces[0], "a,b");
	h = vmetrics_histogram(reg, "vigil_fuzz_seconds", pieces[0], "m", NULL, 0);
	if (!c || !h || vmetric_set_max_children(c, CAP))
		abort();
	for (size_t i = 1; i + 1 < n; i += 2) {
		vmetric_inc(c, pieces[i], pieces[i + 1]);
		vmetric_observe(h, (double)strlen(pieces[i]) / 100, pieces[i + 1]);
	}
	if (vmetric_children(c) > CAP + 1)
		abort();
	if (vmetrics_render(reg, &out))
		abort();
	if (!valid_utf8((const unsigned char *)out.data, out.len))
		abort();
	for (char *line = out.data, *nl; line < out.data + out.len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(out.data + out.len - line));
		if (!nl)
			abort(); /* every line ends with a newline */
		if (memchr(line, 0, (size_t)(nl - line)))
			abort();
		if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0)
			continue;
		if (!valid_sample(line, nl))
			abort();
	}
	vbuf_free(&out);
	vmetrics_free(reg);
	free(buf);
	return 0;
}
