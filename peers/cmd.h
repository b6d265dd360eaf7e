/* SPDX-License-Identifier: GPL-2.0-only */
/* The `vigil peers` row of the command table (an initializer, so src/main.c's table stays const). */
#ifndef VIGIL_PEERS_CMD_H
#define VIGIL_PEERS_CMD_H

#include "vigil/cmd.h"

int peers_run(int argc, char **argv);
extern const struct vopt_set peers_sets[];

/* Exit codes of `vigil peers --once` besides 0 (every configured side answered) and 2 (usage). */
#define PEERS_EXIT_DOWN	 1 /* a side could not be polled: unreachable, timeout, bad answer */
#define PEERS_EXIT_ADMIN 3 /* the only failure: admin_peers answered -32601 (admin API off) */

#define PEERS_CMD_SUMMARY "who an Ethereum node is connected to: live peer table, join/leave events, metrics"
#define PEERS_CMD_DESCRIPTION                                                                     \
	"Polls an execution client (JSON-RPC over HTTP or geth IPC: admin_peers, net_peerCount, " \
	"web3_clientVersion, eth_syncing) and/or a consensus client (beacon API: "                \
	"/eth/v1/node/peers, peer_count, syncing, version) every --interval and shows the peers " \
	"as a live table (redrawn in place on a terminal), JSON Lines (--json) or CSV (--csv). "  \
	"Peers that join or leave become events on <app-id>.peers.events when --nats-url or "     \
	"--jsonl is given (or on stdout with --events); --metrics ADDR serves vigil_peers_* "     \
	"metrics. Requests run on a worker thread, so a slow node never stalls the metrics "      \
	"server. --once prints one snapshot and exits 0 when every side answered, 1 when one "    \
	"could not be polled, 3 when the only failure is the admin API not being enabled."

#define PEERS_CMD_ROW                                                                             \
	{ .name = "peers", .summary = PEERS_CMD_SUMMARY, .run = peers_run, .sets = peers_sets,    \
	  .description = PEERS_CMD_DESCRIPTION }

#endif
