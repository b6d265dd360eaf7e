/* SPDX-License-Identifier: GPL-2.0-only */
/* The `vigil rpc` row of the command table (an initializer, so src/main.c's table stays const). */
#ifndef VIGIL_RPC_CMD_H
#define VIGIL_RPC_CMD_H

#include "vigil/cmd.h"

int rpc_run(int argc, char **argv);
extern const struct vopt_set rpc_sets[];
extern const struct vcmd rpc_subs[];

#define RPC_CMD_SUMMARY "trace an Ethereum node's JSON-RPC traffic with eBPF (per call: method, sizes, latency, error)"
#define RPC_CMD_DESCRIPTION                                                                       \
	"Captures the JSON-RPC traffic a node serves (geth, Nitro, erigon, reth, nethermind, "    \
	"ganache, ...) at the socket level with syscall tracepoints, without touching the node: " \
	"HTTP/1.1 (keep-alive, pipelining, chunked, gzip), WebSocket and batches. Every call "    \
	"becomes an event on <app-id>.jsonrpc.requests (errors also on <app-id>.jsonrpc.errors), " \
	"per-method aggregates go to <app-id>.jsonrpc.latency every --interval, and rate or "     \
	"error-ratio spikes to <app-id>.jsonrpc.anomalies. Without --nats-url or --jsonl, events " \
	"are printed to stdout as JSON Lines. Request parameters are never exported unless "      \
	"--capture-params is given; then they are sampled (--sample) and redacted (see "          \
	"docs/rpc.md)."

#define RPC_CMD_ROW                                                                               \
	{ .name = "rpc", .summary = RPC_CMD_SUMMARY, .run = rpc_run, .sets = rpc_sets,            \
	  .subs = rpc_subs, .description = RPC_CMD_DESCRIPTION }

#endif
