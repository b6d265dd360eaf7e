// SPDX-License-Identifier: GPL-2.0-only
/* Client-name parsing; see client.h for the shapes it accepts. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "client.h"
#include "vigil/util.h"

static const struct {
	const char *token;
	const char *name;
} known_clients[] = {
	{ "geth", "Geth" },
	{ "nethermind", "Nethermind" },
	{ "erigon", "Erigon" },
	{ "reth", "Reth" },
	{ "besu", "Besu" },
	{ "ethereumjs", "EthereumJS" },
	{ "ethereumjs-devp2p", "EthereumJS" },
	{ "nimbus", "Nimbus" },
	{ "nimbus-eth1", "Nimbus" },
	{ "lighthouse", "Lighthouse" },
	{ "teku", "Teku" },
	{ "prysm", "Prysm" },
	{ "lodestar", "Lodestar" },
	{ "grandine", "Grandine" },
	{ "caplin", "Caplin" },
	{ "bor", "Bor" },
	{ "openethereum", "OpenEthereum" },
	{ "ethrex", "ethrex" },
	{ "coregeth", "CoreGeth" },
	{ "core-geth", "CoreGeth" },
};

static const char *const known_os[] = {
	"linux", "windows", "darwin", "macos", "osx", "freebsd", "openbsd", "netbsd",
	"android", "ios", "illumos", "solaris",
};

static const struct {
	const char *token;
	const char *arch;
} known_arch[] = {
	{ "amd64", "amd64" },   { "x86_64", "amd64" }, { "x64", "amd64" },     { "arm64", "arm64" },
	{ "aarch64", "arm64" }, { "386", "386" },      { "i386", "386" },      { "i686", "386" },
	{ "x86", "386" },       { "arm", "arm" },      { "armv7", "arm" },     { "armv7l", "arm" },
	{ "armhf", "arm" },     { "riscv64", "riscv64" }, { "ppc64le", "ppc64le" },
	{ "s390x", "s390x" },   { "mips64", "mips64" }, { "loong64", "loong64" },
	/* Besu's PlatformDetector spells them the os-maven-plugin way */
	{ "aarch_64", "arm64" }, { "x86_32", "386" },  { "ppcle_64", "ppc64le" },
};

const char *peer_client_canonical(const char *token, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(known_clients); i++)
		if (strlen(known_clients[i].token) == n &&
		    strncasecmp(known_clients[i].token, token, n) == 0)
			return known_clients[i].name;
	return NULL;
}

/* Copies @n bytes of @s into @dst (size @cap), truncating; the result is NUL-terminated. */
static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

static bool is_version(const char *t, size_t n)
{
	if (n && (t[0] == 'v' || t[0] == 'V')) {
		t++;
		n--;
	}
	return n && isdigit((unsigned char)t[0]);
}

static bool is_hex_commit(const char *t, size_t n)
{
	if (n < 6 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)t[i]))
			return false;
	return true;
}

static bool has_prefix_digit(const char *t, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);

	return n > p && strncasecmp(t, prefix, p) == 0 && isdigit((unsigned char)t[p]);
}

static bool is_runtime(const char *t, size_t n)
{
	return has_prefix_digit(t, n, "go") || has_prefix_digit(t, n, "dotnet") ||
	       has_prefix_digit(t, n, "node") || has_prefix_digit(t, n, "rustc") ||
	       (n >= 7 && strncasecmp(t, "openjdk", 7) == 0) ||
	       (n >= 4 && strncasecmp(t, "java", 4) == 0) || (n > 1 && t[0] == '-') ||
	       memmem(t, n, "java", 4) || memmem(t, n, "jdk", 3);
}

/* Looks at the '-' or ' ' separated words of @t for an OS and an architecture; true if one was
 * found (and stored into @c unless already set). */
static bool take_platform(const char *t, size_t n, struct peer_client *c)
{
	bool found = false;
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && t[j] != '-' && t[j] != ' ')
			j++;
		for (size_t k = 0; k < ARRAY_SIZE(known_os); k++) {
			if (strlen(known_os[k]) == j - i && strncasecmp(known_os[k], t + i, j - i) == 0) {
				const char *os = known_os[k];

				if (!strcmp(os, "macos") || !strcmp(os, "osx"))
					os = "darwin";
				if (!c->os[0])
					copy_field(c->os, sizeof(c->os), os, strlen(os));
				found = true;
			}
		}
		for (size_t k = 0; k < ARRAY_SIZE(known_arch); k++) {
			if (strlen(known_arch[k].token) == j - i &&
			    strncasecmp(known_arch[k].token, t + i, j - i) == 0) {
				if (!c->arch[0])
					copy_field(c->arch, sizeof(c->arch), known_arch[k].arch,
						   strlen(known_arch[k].arch));
				found = true;
			}
		}
		i = j + 1;
	}
	return found;
}

/* Stores one token that follows the version: runtime, platform or commit; others are ignored. */
static void classify(const char *t, size_t n, struct peer_client *c)
{
	if (is_runtime(t, n)) {
		if (!c->runtime[0]) {
			if (t[0] == '-') {
				t++;
				n--;
			}
			copy_field(c->runtime, sizeof(c->runtime), t, n);
		}
		return;
	}
	if (take_platform(t, n, c))
		return;
	if (is_hex_commit(t, n) && !c->commit[0])
		copy_field(c->commit, sizeof(c->commit), t, n);
}

void peer_client_parse(const char *raw, struct peer_client *out)
{
	char s[256];
	size_t n = 0, pos, tok_start[16], tok_len[16], ntok = 0;
	char *paren;
	int ver = -1;

	memset(out, 0, sizeof(*out));
	if (raw) {
		/* sanitize: printable ASCII only, and skip leading/trailing blanks */
		while (*raw == ' ' || *raw == '\t')
			raw++;
		for (; raw[n] && n < sizeof(s) - 1; n++) {
			unsigned char ch = (unsigned char)raw[n];
			s[n] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
	}
	s[n] = 0;
	if (!n) {
		strcpy(out->name, "unknown");
		return;
	}
	/* "Prysm/v5.1.2 (linux amd64)": the parenthesized part is the platform */
	paren = strstr(s, " (");
	if (paren) {
		char *close = strchr(paren, ')');
		size_t plen = close ? (size_t)(close - paren - 2) : strlen(paren + 2);

		take_platform(paren + 2, plen, out);
		n = (size_t)(paren - s);
		s[n] = 0;
	}
	for (pos = 0; pos <= n && ntok < ARRAY_SIZE(tok_start);) {
		size_t e = pos;

		while (e < n && s[e] != '/')
			e++;
		tok_start[ntok] = pos;
		tok_len[ntok] = e - pos;
		ntok++;
		pos = e + 1;
	}
	if (ntok == 0 || tok_len[0] == 0) {
		strcpy(out->name, "unknown");
	} else {
		const char *canon = peer_client_canonical(s, tok_len[0]);

		if (canon)
			copy_field(out->name, sizeof(out->name), canon, strlen(canon));
		else
			copy_field(out->name, sizeof(out->name), s, tok_len[0]);
	}
	for (size_t i = 1; i < ntok; i++) {
		if (is_version(s + tok_start[i], tok_len[i])) {
			ver = (int)i;
			break;
		}
	}
	if (ver < 0) {
		for (size_t i = 1; i < ntok; i++)
			classify(s + tok_start[i], tok_len[i], out);
		return;
	}
	copy_field(out->version, sizeof(out->version), s + tok_start[ver], tok_len[ver]);
	if (ver > 1)
		copy_field(out->identity, sizeof(out->identity), s + tok_start[1], tok_len[1]);
	for (size_t i = (size_t)ver + 1; i < ntok; i++)
		classify(s + tok_start[i], tok_len[i], out);
}
