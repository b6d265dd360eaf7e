/* SPDX-License-Identifier: GPL-2.0-only */
/* `vigil kaspa`: the command table src/main.c lists (kaspa/cmd.c). */
#ifndef VIGIL_KASPA_H
#define VIGIL_KASPA_H

#include "vigil/cmd.h"

#define KASPA_CMD_SUMMARY \
	"Kaspa P2P network sensor (handshake, log and classify peers), crawler and gossip report"

extern const struct vcmd kaspa_cmds[];

#endif
