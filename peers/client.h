/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Client-name parsing: the free-form string a peer announces (devp2p Hello clientId, geth's
 * admin_peers "name", web3_clientVersion, /eth/v1/node/version, libp2p agent) split into client,
 * version, OS, architecture and runtime. Real strings look like:
 *
 *	Geth/v1.14.11-stable-f3c696fa/linux-amd64/go1.23.2
 *	Geth/my-node/v1.14.11-stable/linux-arm64/go1.23.2        (geth --identity)
 *	Nethermind/v1.29.0+f05fc2d5/linux-x64/dotnet8.0.10
 *	erigon/2.60.10/linux-amd64/go1.22.8
 *	reth/v1.1.0-1ba631ba/x86_64-unknown-linux-gnu
 *	besu/v24.10.0/linux-x86_64/openjdk-java-21
 *	EthereumJS/0.6.0/linux/node20.11.0
 *	Lighthouse/v5.3.0-d6ba8c3/x86_64-linux
 *	teku/v24.10.3/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java-21
 *	Prysm/v5.1.2 (linux amd64)
 *	Lodestar/v1.22.0/7f2271a
 *	Nimbus/v24.10.0-0c6a8a-stateofus
 *
 * Anything may be missing or odd; the parser never fails: unknown parts stay empty, and every
 * output field holds printable ASCII only (other bytes become '?'), so it is safe on a terminal.
 */
#ifndef VIGIL_PEERS_CLIENT_H
#define VIGIL_PEERS_CLIENT_H

#include <stddef.h>

struct peer_client {
	char name[32];	   /* canonical spelling for known clients ("Geth"), else as announced */
	char version[64];  /* "v1.14.11-stable-f3c696fa", "" when none */
	char commit[48];   /* a separate commit token (Lodestar), "" otherwise */
	char os[16];	   /* "linux", "darwin", "windows", ... */
	char arch[16];	   /* normalized: "amd64", "arm64", "386", "riscv64", ... */
	char runtime[64];  /* "go1.23.2", "dotnet8.0.10", "node20.11.0", "openjdk-java-21" */
	char identity[32]; /* geth --identity, "" otherwise */
};

/* Parses @raw (may be NULL or empty: name becomes "unknown") into @out. Never fails. */
void peer_client_parse(const char *raw, struct peer_client *out);

/* Canonical name for a client token ("geth" -> "Geth"), or NULL when not a known client. */
const char *peer_client_canonical(const char *token, size_t n);

#endif
