// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer: HTTP/1.1 reassembly and pairing through struct rpc_conn (see fuzz_driver.h). */
#include "fuzz_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_drive(data, size, NULL, NULL);
	return 0;
}
