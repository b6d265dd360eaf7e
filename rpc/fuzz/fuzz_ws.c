// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: WebSocket framing and id pairing through struct rpc_conn. The connection is
 * upgraded first, so the input's records are frames (see fuzz_driver.h).
 */
#include "fuzz_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_drive(data, size,
		   "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		   "Connection: Upgrade\r\n\r\n");
	return 0;
}
