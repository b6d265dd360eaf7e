// SPDX-License-Identifier: GPL-2.0-only
/*
 * mesh/wg.c without a WireGuard device: X25519 public keys against RFC 7748's test vector and
 * against the real `wg pubkey`, base64/hex conversions and their refusals, the private key file
 * (created 0600, reloaded, refused when others can read it), and the UAPI get=1 parser.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include "test.h"
#include "mesh/wg.h"

static void test_rfc7748_vector(void)
{
	uint8_t priv[32], pub[32], want[32];

	ASSERT_OK(wg_key_from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
				  64, priv), "priv hex");
	ASSERT_OK(wg_key_from_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
				  64, want), "pub hex");
	ASSERT_OK(wg_key_public(priv, pub), "public");
	ASSERT_TRUE(memcmp(pub, want, 32) == 0, "Alice's public key");
}

static void test_matches_wg_pubkey(void)
{
	uint8_t priv[32], pub[32];
	char b[45], hexs[65], cmd[256], out[128] = "";
	FILE *f;

	if (system("command -v wg >/dev/null 2>&1") != 0) {
		TEST_SKIP("wg (wireguard-tools) not installed: run scripts/deps");
		return;
	}
	for (int i = 0; i < 5; i++) {
		ASSERT_OK(wg_key_generate(priv), "generate");
		ASSERT_EQ(priv[0] & 7, 0, "clamped low bits");
		ASSERT_EQ(priv[31] & 0xc0, 0x40, "clamped high bits");
		ASSERT_OK(wg_key_public(priv, pub), "public");
		wg_key_to_base64(priv, b);
		snprintf(cmd, sizeof(cmd), "echo %s | wg pubkey", b);
		f = popen(cmd, "r");
		if (!ASSERT_NOT_NULL(f, "popen") || !ASSERT_NOT_NULL(fgets(out, sizeof(out), f), "out"))
			return;
		pclose(f);
		out[strcspn(out, "\n")] = 0;
		wg_key_to_base64(pub, b);
		ASSERT_STREQ(b, out, "same public key as wg pubkey");
		wg_key_to_hex(pub, hexs);
		uint8_t back[32];
		ASSERT_OK(wg_key_from_hex(hexs, 64, back), "hex back");
		ASSERT_TRUE(memcmp(back, pub, 32) == 0, "hex round trip");
		ASSERT_OK(wg_key_from_base64(out, back), "base64 back");
		ASSERT_TRUE(memcmp(back, pub, 32) == 0, "base64 round trip");
	}
}

static void test_bad_encodings(void)
{
	uint8_t k[32];
	const char *good = "YIoeDN3IN5ZDZsf6fXvtFUr2LZ6rn2Nu/FdX8hDsQ2M=";

	ASSERT_OK(wg_key_from_base64(good, k), "good");
	ASSERT_OK(wg_key_from_base64("YIoeDN3IN5ZDZsf6fXvtFUr2LZ6rn2Nu/FdX8hDsQ2M=\n", k), "newline");
	ASSERT_ERR(wg_key_from_base64("YIoeDN3IN5ZDZsf6fXvtFUr2LZ6rn2Nu/FdX8hDsQ2M", k), "no pad");
	ASSERT_ERR(wg_key_from_base64("YIoeDN3IN5ZDZsf6fXvtFUr2LZ6rn2Nu/FdX8hDsQ2N=", k), "low bits");
	ASSERT_ERR(wg_key_from_base64("YIoeDN3IN5ZDZsf6fXvtFUr2LZ6rn2Nu/FdX8hDs*2M=", k), "char");
	ASSERT_ERR(wg_key_from_base64("", k), "empty");
	ASSERT_ERR(wg_key_from_hex("zz", 2, k), "short hex");
	ASSERT_ERR(wg_key_from_hex("g7076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
				   64, k), "bad hex digit");
}

static void test_key_file(void)
{
	char dir[] = "/tmp/vigil-wgkey.XXXXXX", path[64];
	uint8_t a[32], b[32];
	struct stat st;

	if (!ASSERT_NOT_NULL(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/key", dir);
	ASSERT_OK(wg_key_load_or_create(path, a), "create");
	ASSERT_OK(stat(path, &st), "stat");
	ASSERT_EQ(st.st_mode & 0777, 0600, "mode 0600");
	ASSERT_OK(wg_key_load_or_create(path, b), "reload");
	ASSERT_TRUE(memcmp(a, b, 32) == 0, "same key reloaded");
	chmod(path, 0644);
	ASSERT_EQ(wg_key_load_or_create(path, b), -EPERM, "world-readable key refused");
	chmod(path, 0600);
	FILE *f = fopen(path, "w");
	fputs("not a key\n", f);
	fclose(f);
	ASSERT_EQ(wg_key_load_or_create(path, b), -EINVAL, "garbage refused");
	unlink(path);
	rmdir(dir);
}

static void test_parse_get(void)
{
	const char *ans =
		"private_key=77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a\n"
		"listen_port=51820\n"
		"fwmark=0\n"
		"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\n"
		"endpoint=192.0.2.1:51820\n"
		"last_handshake_time_sec=1700000000\n"
		"last_handshake_time_nsec=42\n"
		"tx_bytes=100\n"
		"rx_bytes=200\n"
		"persistent_keepalive_interval=25\n"
		"allowed_ip=10.0.0.2/32\n"
		"allowed_ip=fd00::2/128\n"
		"protocol_version=1\n"
		"public_key=de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f\n"
		"last_handshake_time_sec=0\n"
		"errno=0\n\n";
	struct wg_dev_status st;
	uint8_t alice_pub[32];

	if (!ASSERT_OK(wg_uapi_parse_get(ans, strlen(ans), &st), "parse"))
		return;
	wg_key_from_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", 64,
			alice_pub);
	ASSERT_TRUE(st.has_private_key, "private key seen");
	ASSERT_TRUE(memcmp(st.public_key, alice_pub, 32) == 0, "device public key derived");
	ASSERT_EQ(st.listen_port, 51820, "port");
	ASSERT_EQ(st.n_peers, 2, "peers");
	ASSERT_STREQ(st.peers[0].endpoint, "192.0.2.1:51820", "endpoint");
	ASSERT_EQ(st.peers[0].last_handshake_sec, 1700000000, "handshake");
	ASSERT_EQ(st.peers[0].last_handshake_nsec, 42, "handshake ns");
	ASSERT_EQ(st.peers[0].rx_bytes, 200, "rx");
	ASSERT_EQ(st.peers[0].tx_bytes, 100, "tx");
	ASSERT_EQ(st.peers[0].keepalive, 25, "keepalive");
	ASSERT_EQ(st.peers[0].n_allowed, 2, "allowed ips");
	ASSERT_STREQ(st.peers[0].allowed_ips[1], "fd00::2/128", "allowed ip 2");
	ASSERT_EQ(st.peers[1].last_handshake_sec, 0, "never");
	wg_dev_status_free(&st);

	ASSERT_EQ(wg_uapi_parse_get("errno=2\n\n", 9, &st), -2, "errno carried");
	ASSERT_EQ(wg_uapi_parse_get("listen_port=1\n\n", 15, &st), -EBADMSG, "no errno");
	ASSERT_EQ(wg_uapi_parse_get("public_key=12\nerrno=0\n\n", 23, &st), -EBADMSG, "bad key");
	ASSERT_EQ(wg_uapi_parse_get("garbage\nerrno=0\n\n", 17, &st), -EBADMSG, "no '='");
	ASSERT_EQ(wg_uapi_parse_get("listen_port=99999\nerrno=0\n\n", 27, &st), -EBADMSG, "port");
}

TESTS(T(test_rfc7748_vector), T(test_matches_wg_pubkey), T(test_bad_encodings), T(test_key_file),
      T(test_parse_get))
