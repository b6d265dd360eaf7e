/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `vigil mesh agent`: the per-node daemon of the mesh. It joins the coordinator (or re-uses the
 * node id and credential in its state file), keeps its WireGuard key, configures its WireGuard
 * interface (kernel WireGuard over netlink when the kernel has it, else wireguard-go through its
 * UAPI socket, started as `wireguard-go -f IFNAME` when no socket is there; --wg-backend),
 * gives the interface its mesh address, attaches the TC policy programs with pinned maps, and
 * then follows the coordinator's watch: every snapshot is applied (peers, identities, policy,
 * config) on the event loop and its revision reported back. Without the coordinator it keeps
 * enforcing what it last applied (the maps and programs stay; see docs/mesh.md).
 */
#ifndef VIGIL_MESH_AGENT_H
#define VIGIL_MESH_AGENT_H

#include <stdbool.h>

#include "vigil/opt.h"

struct mesh_agent_cfg {
	char *coordinator;     /* --coordinator URL */
	char *join_token;      /* --join-token */
	char *join_token_file; /* --join-token-file */
	char *identity;	       /* --identity */
	char *name;	       /* --name (optional) */
	char *endpoint;	       /* --endpoint host:port others reach this node at */
	char *state;	       /* --state FILE: node id + credential */
	char *key_file;	       /* --key FILE */
	char *ifname;	       /* --interface */
	char *wg_dir;	       /* --wg-socket-dir */
	char *wireguard_go;    /* --wireguard-go PATH ("" never start one) */
	char *wg_backend;      /* --wg-backend auto|kernel|userspace */
	long long listen_port; /* --listen-port (0: the --endpoint's port, else 51820) */
	long long keepalive;   /* --keepalive seconds */
	char *pin_root;	       /* --pin-root */
	char *default_verdict; /* --default-verdict allow|deny */
	bool audit;	       /* --audit */
	long long drop_sample; /* --drop-sample N */
	long long watch_timeout; /* --watch-timeout seconds */
};

extern const struct vopt mesh_agent_opts[];

/*
 * Runs the agent until SIGINT/SIGTERM with @cfg, publishing to the bus configured by @bus_cfg
 * (struct vbus_cfg, may be NULL: JSON Lines on stdout) and serving /metrics on @metrics_addr
 * (NULL: no server). Returns the process exit code (0 after a signal, 1 on a setup error that
 * was logged with what to do).
 */
struct vbus_cfg;
int mesh_agent_run(const struct mesh_agent_cfg *cfg, const struct vbus_cfg *bus_cfg,
		   const char *metrics_addr);

#endif
