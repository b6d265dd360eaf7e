// SPDX-License-Identifier: GPL-2.0-only
/* Client-name parsing over a table of strings real clients announce (see client.h for where each
 * format comes from) and the oddities seen on mainnet or made to hurt. */
#include "test.h"
#include "../client.h"

static const struct {
	const char *raw;
	const char *name, *version, *os, *arch, *runtime, *identity, *commit;
} cases[] = {
	/* execution clients: devp2p Hello / web3_clientVersion */
	{ "Geth/v1.14.11-stable-f3c696fa/linux-amd64/go1.23.2", "Geth", "v1.14.11-stable-f3c696fa",
	  "linux", "amd64", "go1.23.2", "", "" },
	{ "Geth/v1.14.12-unstable-293a300d-20241204/linux-amd64/go1.23.4", "Geth",
	  "v1.14.12-unstable-293a300d-20241204", "linux", "amd64", "go1.23.4", "", "" },
	{ "Geth/my-node/v1.13.5-stable-916d6a44/darwin-arm64/go1.21.4", "Geth",
	  "v1.13.5-stable-916d6a44", "darwin", "arm64", "go1.21.4", "my-node", "" },
	{ "Geth/v1.10.26-stable/linux-amd64/go1.18.5", "Geth", "v1.10.26-stable", "linux", "amd64",
	  "go1.18.5", "", "" },
	{ "Nethermind/v1.29.0+f05fc2d5/linux-x64/dotnet8.0.10", "Nethermind", "v1.29.0+f05fc2d5",
	  "linux", "amd64", "dotnet8.0.10", "", "" },
	{ "Nethermind/v1.25.4+20b10b35/windows-x64/dotnet8.0.2", "Nethermind", "v1.25.4+20b10b35",
	  "windows", "amd64", "dotnet8.0.2", "", "" },
	{ "erigon/2.60.10/linux-amd64/go1.22.8", "Erigon", "2.60.10", "linux", "amd64", "go1.22.8",
	  "", "" },
	{ "erigon/v3.0.0-beta1-bc2c7b5a/linux-arm64/go1.23.4", "Erigon", "v3.0.0-beta1-bc2c7b5a",
	  "linux", "arm64", "go1.23.4", "", "" },
	{ "reth/v1.1.0-1ba631ba/x86_64-unknown-linux-gnu", "Reth", "v1.1.0-1ba631ba", "linux",
	  "amd64", "", "", "" },
	{ "reth/v1.0.8-d72e438c/aarch64-apple-darwin", "Reth", "v1.0.8-d72e438c", "darwin", "arm64",
	  "", "", "" },
	{ "besu/v24.10.0/linux-x86_64/openjdk-java-21", "Besu", "v24.10.0", "linux", "amd64",
	  "openjdk-java-21", "", "" },
	{ "besu/v23.4.1/linux-aarch_64/oracle_openjdk-java-17", "Besu", "v23.4.1", "linux", "arm64",
	  "oracle_openjdk-java-17", "", "" },
	{ "EthereumJS/0.6.0/linux/node20.11.0", "EthereumJS", "0.6.0", "linux", "", "node20.11.0",
	  "", "" },
	{ "bor/v1.3.0/linux-amd64/go1.21.6", "Bor", "v1.3.0", "linux", "amd64", "go1.21.6", "", "" },
	/* consensus clients: /eth/v1/node/version and libp2p agents */
	{ "Lighthouse/v5.3.0-d6ba8c3/x86_64-linux", "Lighthouse", "v5.3.0-d6ba8c3", "linux", "amd64",
	  "", "", "" },
	{ "Lighthouse/v5.3.0-d6ba8c3/aarch64-linux", "Lighthouse", "v5.3.0-d6ba8c3", "linux",
	  "arm64", "", "", "" },
	{ "teku/v24.10.3/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java-21", "Teku",
	  "v24.10.3", "linux", "amd64", "eclipseadoptium-openjdk64bitservervm-java-21", "", "" },
	{ "teku/teku/v24.10.3/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java-21", "Teku",
	  "v24.10.3", "linux", "amd64", "eclipseadoptium-openjdk64bitservervm-java-21", "teku", "" },
	{ "Prysm/v5.1.2 (linux amd64)", "Prysm", "v5.1.2", "linux", "amd64", "", "", "" },
	{ "Prysm/v5.1.2/4b1d9e8f3c1a9a2e6dc5c3d3bb3c0e0f7b1a2c3d", "Prysm", "v5.1.2", "", "", "", "",
	  "4b1d9e8f3c1a9a2e6dc5c3d3bb3c0e0f7b1a2c3d" },
	{ "Lodestar/v1.22.0/7f2271a", "Lodestar", "v1.22.0", "", "", "", "", "7f2271a" },
	{ "lodestar/v1.22.0", "Lodestar", "v1.22.0", "", "", "", "", "" },
	{ "Nimbus/v24.10.0-0c6a8a-stateofus", "Nimbus", "v24.10.0-0c6a8a-stateofus", "", "", "", "",
	  "" },
	{ "nimbus", "Nimbus", "", "", "", "", "", "" },
	/* oddities */
	{ "", "unknown", "", "", "", "", "", "" },
	{ "   ", "unknown", "", "", "", "", "", "" },
	{ "/v1.0.0", "unknown", "v1.0.0", "", "", "", "", "" },
	{ "Geth", "Geth", "", "", "", "", "", "" },
	{ "  GETH/v1.0.0  ", "Geth", "v1.0.0", "", "", "", "", "" },
	{ "SomeNewClient/v0.1.0/linux-riscv64", "SomeNewClient", "v0.1.0", "linux", "riscv64", "",
	  "", "" },
	{ "Evil\x1b[2J/v1\x07/linux-amd64", "Evil?[2J", "v1?", "linux", "amd64", "", "", "" },
	{ "Prysm/v5.0.0 (linux amd64", "Prysm", "v5.0.0", "linux", "amd64", "", "", "" },
	{ "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/v1", "a", "", "", "", "", "", "" },
	{ "x//v2//linux-amd64", "x", "v2", "linux", "amd64", "", "", "" },
};

static void test_real_client_strings(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct peer_client c;
		char what[160];

		peer_client_parse(cases[i].raw, &c);
		snprintf(what, sizeof(what), "case %zu \"%.100s\"", i, cases[i].raw);
		if (!ASSERT_STREQ(c.name, cases[i].name, what) ||
		    !ASSERT_STREQ(c.version, cases[i].version, what) ||
		    !ASSERT_STREQ(c.os, cases[i].os, what) ||
		    !ASSERT_STREQ(c.arch, cases[i].arch, what) ||
		    !ASSERT_STREQ(c.runtime, cases[i].runtime, what) ||
		    !ASSERT_STREQ(c.identity, cases[i].identity, what) ||
		    !ASSERT_STREQ(c.commit, cases[i].commit, what))
			return;
	}
}

static void test_null_and_long(void)
{
	struct peer_client c;
	char big[4096];

	peer_client_parse(NULL, &c);
	ASSERT_STREQ(c.name, "unknown", "NULL name");
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	big[10] = '/';
	big[11] = 'v';
	big[12] = '1';
	peer_client_parse(big, &c);
	ASSERT_EQ(strlen(c.name), 10, "name cut at the slash");
	ASSERT_EQ(strlen(c.version), sizeof(c.version) - 1, "version truncated to its field");
	ASSERT_TRUE(strncmp(c.version, "v1AAA", 5) == 0, "version kept its start");
}

static void test_outputs_are_printable(void)
{
	struct peer_client c;
	char raw[64];

	/* every byte value in every position of a name: outputs stay printable ASCII */
	for (int b = 1; b < 256; b++) {
		snprintf(raw, sizeof(raw), "N%c/v1%c/linux-amd64/go1%c", b, b, b);
		peer_client_parse(raw, &c);
		const char *fields[] = { c.name, c.version, c.os, c.arch, c.runtime, c.commit };
		for (size_t f = 0; f < 6; f++)
			for (const char *p = fields[f]; *p; p++)
				if (!ASSERT_TRUE(*p >= 0x20 && *p < 0x7f, "printable"))
					return;
	}
}

static void test_canonical(void)
{
	ASSERT_STREQ(peer_client_canonical("GETH", 4), "Geth", "geth");
	ASSERT_STREQ(peer_client_canonical("ethereumjs", 10), "EthereumJS", "ethereumjs");
	ASSERT_TRUE(peer_client_canonical("gethx", 5) == NULL, "unknown token");
	ASSERT_TRUE(peer_client_canonical("geth", 3) == NULL, "prefix is not a match");
}

TESTS(T(test_real_client_strings), T(test_null_and_long), T(test_outputs_are_printable),
      T(test_canonical))
