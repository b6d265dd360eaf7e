// SPDX-License-Identifier: GPL-2.0-only
/*
 * `vigil mesh agent` (see mesh/agent.h and docs/mesh.md).
 *
 * Threads: the event loop thread owns everything (datapath, WireGuard configuration, metrics,
 * bus). One watcher thread runs mesh_client_watch() long-polls and hands each snapshot to the
 * loop through a vloop_async; the loop applies it and reports the revision. The watcher's
 * shared block is reference counted so that a shutdown never waits for a long-poll to end.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <netinet/in.h>

#include "mesh/agent.h"
#include "mesh/client.h"
#include "mesh/datapath.h"
#include "mesh/wg.h"
#include "vigil/bpf.h"
#include "vigil/buf.h"
#include "vigil/bus.h"
#include "vigil/http.h"
#include "vigil/log.h"
#include "vigil/loop.h"
#include "vigil/metrics.h"

#define COMP "mesh-agent"
#define HANDSHAKE_RECENT_S 180 /* WireGuard's REJECT_AFTER_TIME */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000

extern char **environ;

const struct vopt mesh_agent_opts[] = {
	VOPT_STRING("coordinator", 'c', struct mesh_agent_cfg, coordinator,
		    "http://127.0.0.1:7420", "URL", "the coordinator's base URL"),
	VOPT_STRING("join-token", 0, struct mesh_agent_cfg, join_token, NULL, "TOKEN",
		    "pre-shared join token (prefer --join-token-file); only needed to join"),
	VOPT_STRING("join-token-file", 0, struct mesh_agent_cfg, join_token_file, NULL, "FILE",
		    "file whose first line is the join token"),
	VOPT_STRING("identity", 0, struct mesh_agent_cfg, identity, NULL, "NAME",
		    "this node's identity (must exist on the coordinator)"),
	VOPT_STRING("name", 0, struct mesh_agent_cfg, name, NULL, "NAME",
		    "this node's name (default: the coordinator picks node-<id>)"),
	VOPT_STRING("endpoint", 0, struct mesh_agent_cfg, endpoint, NULL, "HOST:PORT",
		    "address other nodes reach this node's WireGuard port at"),
	VOPT_STRING("state", 0, struct mesh_agent_cfg, state, "/var/lib/vigil/mesh-agent.state",
		    "FILE", "node id and credential (0600), re-used by the next start"),
	VOPT_STRING("key", 0, struct mesh_agent_cfg, key_file, "/var/lib/vigil/mesh.key", "FILE",
		    "WireGuard private key (created with mode 0600 when missing)"),
	VOPT_STRING("interface", 'i', struct mesh_agent_cfg, ifname, "vigil0", "IFNAME",
		    "WireGuard interface"),
	VOPT_ENUM("wg-backend", 0, struct mesh_agent_cfg, wg_backend, "auto",
		  "auto|kernel|userspace",
		  "WireGuard implementation: kernel (netlink; the agent creates the link), "
		  "userspace (wireguard-go through its UAPI socket), or auto: a running "
		  "wireguard-go's socket, else kernel when a wireguard link can be created, else "
		  "wireguard-go (the choice and its reason are logged)"),
	VOPT_STRING("wg-socket-dir", 0, struct mesh_agent_cfg, wg_dir, "/var/run/wireguard", "DIR",
		    "directory of wireguard-go's UAPI sockets"),
	VOPT_STRING("wireguard-go", 0, struct mesh_agent_cfg, wireguard_go, "wireguard-go", "PATH",
		    "started as `PATH -f IFNAME` when the interface has no UAPI socket, and left "
		    "running at exit (\"\": never start it, expect it running)"),
	VOPT_INT("listen-port", 0, struct mesh_agent_cfg, listen_port, "0", "PORT", 0, 65535,
		 "WireGuard listen port (0: the --endpoint's port, else 51820)"),
	VOPT_INT("keepalive", 0, struct mesh_agent_cfg, keepalive, "25", "SECONDS", 0, 65535,
		 "persistent keepalive towards peers with an endpoint (0: off)"),
	VOPT_STRING("pin-root", 0, struct mesh_agent_cfg, pin_root, MESH_PIN_ROOT, "DIR",
		    "bpffs directory for the pinned maps (one subdirectory per interface)"),
	VOPT_ENUM("default-verdict", 0, struct mesh_agent_cfg, default_verdict, "deny",
		  "allow|deny", "verdict for traffic no policy rule matches"),
	VOPT_BOOL("audit", 0, struct mesh_agent_cfg, audit,
		  "count would-be drops but let the packets pass"),
	VOPT_INT("drop-sample", 0, struct mesh_agent_cfg, drop_sample, "100", "N", 0, 1000000,
		 "publish one drop event per N drops (0: none)"),
	VOPT_INT("watch-timeout", 0, struct mesh_agent_cfg, watch_timeout, "25", "SECONDS", 1, 3600,
		 "longest long-poll on the coordinator (its answer is the periodic resync)"),
	VOPT_END
};

/* ---------------- state file ---------------- */

struct agent_state {
	long long node_id;
	char credential[128];
	char address[64];
	char cidr[MESH_CIDR_STR_MAX];
	char public_key[WG_KEY_B64_LEN + 1];
	char coordinator[512];
	uint32_t tag; /* own identity tag as last applied; 0 unknown */
};

/* Reads @path ("key=value" lines). 0, -ENOENT, or -EINVAL for a file missing a field. */
static int state_load(const char *path, struct agent_state *st)
{
	char line[1024];
	FILE *f = fopen(path, "r");

	memset(st, 0, sizeof(*st));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, '=');

		line[strcspn(line, "\r\n")] = 0;
		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "node_id"))
			st->node_id = atoll(v);
		else if (!strcmp(line, "credential"))
			snprintf(st->credential, sizeof(st->credential), "%s", v);
		else if (!strcmp(line, "address"))
			snprintf(st->address, sizeof(st->address), "%s", v);
		else if (!strcmp(line, "cidr"))
			snprintf(st->cidr, sizeof(st->cidr), "%s", v);
		else if (!strcmp(line, "public_key"))
			snprintf(st->public_key, sizeof(st->public_key), "%s", v);
		else if (!strcmp(line, "coordinator"))
			snprintf(st->coordinator, sizeof(st->coordinator), "%s", v);
		else if (!strcmp(line, "tag"))
			st->tag = (uint32_t)strtoul(v, NULL, 10);
	}
	fclose(f);
	if (st->node_id <= 0 || !*st->credential || !*st->address || !*st->cidr)
		return -EINVAL;
	return 0;
}

/* Writes @st to @path atomically (temp file 0600, fsync, rename). 0 or -errno (logged). */
static int state_save(const char *path, const struct agent_state *st)
{
	char tmp[4096];
	FILE *f;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		log_error(COMP, "cannot write the state file %s: %s (check that its directory "
			  "exists and is writable, or pass --state FILE)", tmp, strerror(-err));
		return err;
	}
	fprintf(f, "node_id=%lld\ncredential=%s\naddress=%s\ncidr=%s\npublic_key=%s\n"
		"coordinator=%s\ntag=%u\n", st->node_id, st->credential, st->address, st->cidr,
		st->public_key, st->coordinator, st->tag);
	if (fflush(f) || fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		log_error(COMP, "cannot write the state file %s: %s", path, strerror(-err));
		unlink(tmp);
	}
	return err;
}

/* ---------------- helpers ---------------- */

/* Creates the directory @path lives in (mode 0700) when it is missing; one level only. */
static void make_parent(const char *path)
{
	char dir[4096];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	if (mkdir(dir, 0700) == 0)
		log_info(COMP, "created %s (mode 0700)", dir);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Runs argv (searched in PATH) and waits. 0 when it exited 0, else -EIO (logged with argv). */
static int run_cmd(char *const argv[])
{
	pid_t pid;
	int st, err;

	err = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (err) {
		log_error(COMP, "cannot run %s: %s (is iproute2 installed?)", argv[0],
			  strerror(err));
		return -err;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		char cmd[512] = "";

		for (int i = 0; argv[i]; i++)
			snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s", i ? " " : "",
				 argv[i]);
		log_error(COMP, "`%s` failed (status %d)", cmd, st);
		return -EIO;
	}
	return 0;
}

/* Whether wireguard-go's UAPI socket for --interface exists; its path in @sock. */
static bool uapi_present(const struct mesh_agent_cfg *c, char *sock, size_t n)
{
	struct stat sb;

	return !wg_uapi_path(c->wg_dir, c->ifname, sock, n) && !stat(sock, &sb) &&
	       S_ISSOCK(sb.st_mode);
}

/*
 * Makes sure @ifname has a UAPI socket: when none is there and --wireguard-go is not "", starts
 * `wireguard-go -f IFNAME` detached (its own session, reparented to init: it outlives the agent
 * so that the interface, and the TC programs on it, survive an agent restart) and waits up to
 * 10 s for the socket. 0 or -errno (logged with what to do).
 */
static int wg_ensure(const struct mesh_agent_cfg *c)
{
	char sock[256];
	struct stat sb;
	pid_t pid;

	if (uapi_present(c, sock, sizeof(sock))) {
		log_info(COMP, "using the running WireGuard interface %s (%s)", c->ifname, sock);
		return 0;
	}
	if (!c->wireguard_go || !*c->wireguard_go) {
		log_error(COMP, "no UAPI socket %s: start `wireguard-go %s` first, or let the "
			  "agent start it (--wireguard-go PATH)", sock, c->ifname);
		return -ENOENT;
	}
	log_info(COMP, "starting `%s -f %s` (left running when the agent exits)",
		 c->wireguard_go, c->ifname);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		if (fork() != 0)
			_exit(0);
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0)
			dup2(fd, 0);
		setenv("WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD", "1", 1);
		execlp(c->wireguard_go, c->wireguard_go, "-f", c->ifname, (char *)NULL);
		fprintf(stderr, "cannot run %s: %s\n", c->wireguard_go, strerror(errno));
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	for (int i = 0; i < 200; i++) {
		if (!stat(sock, &sb) && S_ISSOCK(sb.st_mode))
			return 0;
		sleep_ms(50);
	}
	log_error(COMP, "%s -f %s did not create %s within 10 s (is /dev/net/tun available? is "
		  "wireguard-go installed?)", c->wireguard_go, c->ifname, sock);
	return -ETIMEDOUT;
}

/*
 * Picks the WireGuard backend for --interface (--wg-backend) and makes the interface exist:
 *   userspace: wg_ensure();
 *   kernel:    create the link (RTM_NEWLINK), or use the existing one when it is a kernel
 *              WireGuard device; any other outcome is an error saying why;
 *   auto:      a running wireguard-go's socket first (an agent restarted over it keeps it),
 *              then kernel as above, else wireguard-go; the choice and the reason are logged.
 * The kernel link, like wireguard-go, outlives the agent. Fills @d; 0 or -errno (logged).
 */
static int wg_choose(const struct mesh_agent_cfg *c, struct wg_dev *d)
{
	const char *mode = c->wg_backend && *c->wg_backend ? c->wg_backend : "auto";
	bool is_auto = !strcmp(mode, "auto");
	char sock[256], why[256];
	int err;

	d->ifname = c->ifname;
	d->uapi_dir = c->wg_dir;
	d->backend = WG_BACKEND_USERSPACE;
	if (!strcmp(mode, "userspace"))
		return wg_ensure(c);
	if (is_auto && uapi_present(c, sock, sizeof(sock))) {
		log_info(COMP, "WireGuard backend: userspace (wg-backend auto: wireguard-go's "
			 "socket %s is there)", sock);
		return wg_ensure(c);
	}
	err = wg_nl_link_create(c->ifname);
	if (!err) {
		log_info(COMP, "WireGuard backend: kernel (created the wireguard link %s; it stays "
			 "when the agent exits)", c->ifname);
		d->backend = WG_BACKEND_KERNEL;
		return 0;
	}
	if (err == -EEXIST) {
		err = wg_nl_probe(c->ifname);
		if (!err) {
			log_info(COMP, "WireGuard backend: kernel (using the existing wireguard "
				 "link %s)", c->ifname);
			d->backend = WG_BACKEND_KERNEL;
			return 0;
		}
		snprintf(why, sizeof(why), "an interface named %s exists and is not a kernel "
			 "WireGuard device (%s)", c->ifname, strerror(-err));
	} else if (err == -EOPNOTSUPP) {
		snprintf(why, sizeof(why), "creating a link of type wireguard failed: %s (the "
			 "kernel has no WireGuard: CONFIG_WIREGUARD off or the module cannot be "
			 "loaded)", strerror(-err));
	} else {
		snprintf(why, sizeof(why), "creating the wireguard link %s failed: %s",
			 c->ifname, strerror(-err));
	}
	if (!is_auto) {
		log_error(COMP, "--wg-backend kernel: %s; use --wg-backend userspace (wireguard-go) "
			  "or auto, or load the module (modprobe wireguard)", why);
		return err;
	}
	log_info(COMP, "WireGuard backend: userspace (wg-backend auto: %s)", why);
	return wg_ensure(c);
}

/* ---------------- watcher thread ---------------- */

struct watcher {
	atomic_int refs;
	atomic_bool stop;
	pthread_mutex_t mu;
	struct vloop_async *async; /* NULL once the loop is gone (under mu) */
	struct mesh_snapshot *pending; /* newest unapplied snapshot (under mu) */
	int fatal;		       /* -ENOENT / -EACCES: the watch cannot go on (under mu) */
	int up;			       /* 1 reachable, 0 not, -1 unknown (under mu) */
	char url[512];
	char cred[128];
	unsigned timeout_s;
	uint64_t start_rev;
	pthread_cond_t done;	   /* signalled when the loop finished with a snapshot */
	uint64_t handled;	   /* revision the loop last finished with (under mu) */
	uint64_t applied;	   /* revision the loop last applied successfully (under mu) */
};

static void watcher_put(struct watcher *w)
{
	if (atomic_fetch_sub(&w->refs, 1) != 1)
		return;
	if (w->pending) {
		mesh_snapshot_free(w->pending);
		free(w->pending);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->done);
	free(w);
}

static void watcher_notify(struct watcher *w)
{
	if (w->async)
		vloop_async_send(w->async);
}

/* Waits, with w->mu held, until the loop finished with revision @rev (at most 5 s). */
static void wait_handled(struct watcher *w, uint64_t rev)
{
	struct timespec dl;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += 5;
	while (w->handled < rev && !atomic_load(&w->stop))
		if (pthread_cond_timedwait(&w->done, &w->mu, &dl) == ETIMEDOUT)
			break;
}

/*
 * The long-poll loop: watch, hand the snapshot over, watch again from its revision. While the
 * coordinator is unreachable it logs once and retries with exponential backoff
 * (BACKOFF_MIN_MS..BACKOFF_MAX_MS); nothing is changed on the node meanwhile (fail-static).
 */
static void *watcher_main(void *arg)
{
	struct watcher *w = arg;
	unsigned backoff = BACKOFF_MIN_MS;
	uint64_t rev = w->start_rev, reported = 0;
	bool down = false;

	mesh_client_quiet(true); /* an outage is logged once, below */
	while (!atomic_load(&w->stop)) {
		struct mesh_snapshot *s = calloc(1, sizeof(*s));
		int err = s ? mesh_client_watch(w->url, w->cred, rev, w->timeout_s, s) : -ENOMEM;

		if (atomic_load(&w->stop) || err) {
			if (s) {
				mesh_snapshot_free(s);
				free(s);
			}
		}
		if (atomic_load(&w->stop))
			break;
		if (!err) {
			if (down)
				log_info(COMP, "coordinator %s is reachable again (revision %llu)",
					 w->url, (unsigned long long)s->revision);
			down = false;
			backoff = BACKOFF_MIN_MS;
			rev = s->revision;
			pthread_mutex_lock(&w->mu);
			if (w->pending) {
				mesh_snapshot_free(w->pending);
				free(w->pending);
			}
			w->pending = s;
			w->up = 1;
			watcher_notify(w);
			/* wait (bounded) for the loop to apply it, then report the applied
			 * revision from here: the loop thread never blocks on HTTP */
			wait_handled(w, rev);
			uint64_t applied = w->applied;

			pthread_mutex_unlock(&w->mu);
			if (applied && applied != reported &&
			    !mesh_client_report(w->url, w->cred, applied))
				reported = applied;
			continue;
		}
		if (err == -ENOENT || err == -EACCES) {
			pthread_mutex_lock(&w->mu);
			w->fatal = err;
			watcher_notify(w);
			pthread_mutex_unlock(&w->mu);
			break;
		}
		if (!down) {
			log_warn(COMP, "cannot reach the coordinator %s (%s); enforcing the last "
				 "applied policy (revision %llu) and retrying every %u ms at most",
				 w->url,
				 err == -EPROTO ? "it answers with server errors" : strerror(-err),
				 (unsigned long long)rev, BACKOFF_MAX_MS);
			down = true;
			pthread_mutex_lock(&w->mu);
			w->up = 0;
			watcher_notify(w);
			pthread_mutex_unlock(&w->mu);
		}
		for (unsigned t = 0; t < backoff && !atomic_load(&w->stop); t += 50)
			sleep_ms(50);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	watcher_put(w);
	return NULL;
}

/* ---------------- the agent ---------------- */

struct agent {
	const struct mesh_agent_cfg *cfg;
	struct wg_dev wg;
	struct agent_state st;
	uint8_t priv[WG_KEY_LEN];
	int listen_port;
	struct vloop *loop;
	struct vmetrics *reg;
	struct vhttp *http;
	struct vbus *bus;
	struct mesh_dp *dp;
	bool attached;
	struct ring_buffer *rb;
	struct watcher *w;
	struct vloop_async *async;
	struct mesh_snapshot cur; /* last applied (names for metrics and events) */
	bool have_cur;
	uint64_t applied;
	int up;
	int exit_code;
	struct vmetric *m_rev, *m_hs, *m_peers, *m_up;
};

/* Hands one event to the bus as "<app_id>.<suffix>" (the bus copies it). */
static void emit(struct agent *a, const char *suffix, const char *json, size_t len)
{
	if (a->bus)
		vbus_publish(a->bus, suffix, json, len);
}

/* The name of identity @id in the last applied snapshot, or NULL (metrics label it by number). */
static const char *name_of(uint32_t id, void *ctx)
{
	struct agent *a = ctx;

	for (size_t i = 0; a->have_cur && i < a->cur.n_identities; i++)
		if (a->cur.identities[i].tag == id)
			return a->cur.identities[i].name;
	return NULL;
}

/* Appends @peer's allowed IPs, each owned by its identity tag, to @p[*n..]. */
static void add_prefixes(struct mesh_prefix *p, size_t *n, const struct mesh_peer *peer)
{
	for (size_t i = 0; i < peer->n_allowed_ips; i++) {
		const struct mesh_cidr *c = &peer->allowed_ips[i];

		memset(&p[*n], 0, sizeof(p[*n]));
		p[*n].family = c->family;
		memcpy(p[*n].addr, c->addr, sizeof(p[*n].addr));
		p[*n].plen = c->plen;
		p[*n].id = peer->tag;
		(*n)++;
	}
}

static void dp_config(const struct mesh_agent_cfg *c, uint32_t own_id, struct mesh_dp_config *dc)
{
	memset(dc, 0, sizeof(*dc));
	dc->own_id = own_id;
	dc->default_verdict = c->default_verdict && !strcmp(c->default_verdict, "allow")
				      ? VIGIL_VERDICT_ALLOW : VIGIL_VERDICT_DENY;
	dc->audit = c->audit;
	dc->sample_every = (uint32_t)c->drop_sample;
}

/*
 * Applies @s: node config, identities (every peer's allowed IPs -> its tag, and our own), the
 * policy (one generation switch), then the WireGuard peers (replacing the set). The datapath
 * goes first so a new peer's packets meet the new policy. 0 or -errno (logged); on an error
 * the previous state stays wherever the step failed.
 */
static int apply(struct agent *a, const struct mesh_snapshot *s)
{
	const struct mesh_agent_cfg *c = a->cfg;
	size_t np = s->self.n_allowed_ips, nr = 0, na = 0, nw = 0;
	struct mesh_prefix *pfx;
	struct mesh_dp_rule *rules;
	struct wg_peer_cfg *peers;
	const char **allowed;
	char (*astr)[MESH_CIDR_STR_MAX];
	struct mesh_dp_config dc;
	int err;

	dp_config(c, s->self.tag, &dc);

	for (size_t i = 0; i < s->n_peers; i++)
		np += s->peers[i].n_allowed_ips;
	pfx = calloc(np + 1, sizeof(*pfx));
	rules = calloc(2 * s->n_rules + 1, sizeof(*rules));
	peers = calloc(s->n_peers + 1, sizeof(*peers));
	allowed = calloc(np + 1, sizeof(*allowed));
	astr = calloc(np + 1, sizeof(*astr));
	if (!pfx || !rules || !peers || !allowed || !astr) {
		err = -ENOMEM;
		goto out;
	}
	np = 0;
	add_prefixes(pfx, &np, &s->self);
	for (size_t i = 0; i < s->n_peers; i++)
		add_prefixes(pfx, &np, &s->peers[i]);
	for (size_t i = 0; i < s->n_rules; i++) {
		const struct mesh_snap_rule *r = &s->rules[i];
		struct mesh_dp_rule *d = &rules[nr++];
		bool any_port = r->rule.port_lo == 0 && r->rule.port_hi == 65535;

		d->src_id = r->src_tag;
		d->dst_id = r->dst_tag;
		d->proto = r->rule.proto;
		d->port_lo = any_port || r->rule.proto == MESH_PROTO_ICMP ? 0 : r->rule.port_lo;
		d->port_hi = any_port || r->rule.proto == MESH_PROTO_ICMP ? 0 : r->rule.port_hi;
		d->verdict = r->rule.allow ? VIGIL_VERDICT_ALLOW : VIGIL_VERDICT_DENY;
		if (r->rule.proto == MESH_PROTO_ICMP) { /* "icmp" covers ICMPv6 too */
			rules[nr] = *d;
			rules[nr++].proto = IPPROTO_ICMPV6;
		}
	}
	if (dc.own_id < 1) {
		log_error(COMP, "the snapshot gives this node no identity tag; not applied");
		err = -EINVAL;
		goto out;
	}
	if ((err = mesh_dp_set_config(a->dp, &dc)) ||
	    (err = mesh_dp_set_identities(a->dp, pfx, np)))
		goto fail;
	if ((err = mesh_dp_set_policy(a->dp, rules, nr, NULL)))
		goto fail;
	if (!a->attached) {
		if ((err = mesh_dp_attach(a->dp)))
			goto fail;
		a->attached = true;
		log_info(COMP, "policy programs attached to %s", c->ifname);
	}
	for (size_t i = 0; i < s->n_peers; i++) {
		const struct mesh_peer *p = &s->peers[i];

		struct wg_peer_cfg *w = &peers[nw];

		if (wg_key_from_base64(p->public_key, w->pubkey)) {
			log_warn(COMP, "peer %s has an invalid public key; skipped", p->name);
			continue;
		}
		nw++;
		w->endpoint = *p->endpoint ? p->endpoint : NULL;
		w->keepalive = *p->endpoint ? (uint16_t)c->keepalive : 0;
		w->allowed_ips = &allowed[na];
		w->n_allowed = p->n_allowed_ips;
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			mesh_cidr_str(&p->allowed_ips[j], astr[na], sizeof(astr[na]));
			allowed[na] = astr[na];
			na++;
		}
	}
	{
		/* peers the interface has and the snapshot lacks are removed one by one rather
		 * than with replace_peers, which would drop every session at every change */
		struct wg_dev_cfg dev = { .private_key = NULL, .listen_port = -1,
					  .peers = peers, .n_peers = nw };
		struct wg_dev_status st;
		size_t n = nw;

		if (wg_dev_get(&a->wg, &st) == 0) {
			struct wg_peer_cfg *more = realloc(peers, (n + st.n_peers + 1) *
							   sizeof(*peers));

			if (more) {
				peers = more;
				for (size_t i = 0; i < st.n_peers; i++) {
					bool keep = false;

					for (size_t j = 0; j < nw && !keep; j++)
						keep = !memcmp(peers[j].pubkey, st.peers[i].pubkey,
							       WG_KEY_LEN);
					if (keep)
						continue;
					memset(&peers[n], 0, sizeof(peers[n]));
					memcpy(peers[n].pubkey, st.peers[i].pubkey, WG_KEY_LEN);
					peers[n++].remove = true;
				}
			}
			wg_dev_status_free(&st);
		} else {
			dev.replace_peers = true;
		}
		dev.peers = peers;
		dev.n_peers = n;
		if ((err = wg_dev_set(&a->wg, &dev)))
			goto fail;
	}
	err = 0;
	goto out;
fail:
	log_error(COMP, "applying revision %llu failed: %s; the previous policy stays",
		  (unsigned long long)s->revision, strerror(-err));
out:
	free(pfx);
	free(rules);
	free(peers);
	free(allowed);
	free(astr);
	return err;
}

/* One <app_id>.mesh.policy event for an applied revision. */
static void publish_policy(struct agent *a, const struct mesh_snapshot *s, uint64_t prev,
			   double ms)
{
	struct vbuf b = VBUF_INIT;
	struct vjw w;

	vjw_init(&w, &b);
	vjw_obj(&w);
	vjw_kstr(&w, "type", "mesh.policy");
	vjw_kuint(&w, "revision", s->revision);
	vjw_kuint(&w, "previous", prev);
	vjw_kint(&w, "node_id", s->self.id);
	vjw_kstr(&w, "node", s->self.name);
	vjw_kstr(&w, "identity", s->self.identity);
	vjw_kstr(&w, "interface", a->cfg->ifname);
	vjw_kuint(&w, "peers", s->n_peers);
	vjw_kuint(&w, "identities", s->n_identities);
	vjw_kuint(&w, "rules", s->n_rules);
	vjw_kstr(&w, "default_verdict", a->cfg->default_verdict);
	vjw_kbool(&w, "audit", a->cfg->audit);
	vjw_kdouble(&w, "apply_ms", ms);
	vjw_end(&w);
	emit(a, "mesh.policy", vbuf_cstr(&b), b.len);
	vbuf_free(&b);
}

/* Runs on the loop thread when the watcher has something: a snapshot, a state change. */
static void on_async(struct vloop *loop, void *ctx)
{
	struct agent *a = ctx;
	struct mesh_snapshot *s;
	int fatal, up;

	pthread_mutex_lock(&a->w->mu);
	s = a->w->pending;
	a->w->pending = NULL;
	fatal = a->w->fatal;
	up = a->w->up;
	pthread_mutex_unlock(&a->w->mu);
	a->up = up;
	if (s) {
		uint64_t t0 = vloop_now_ns(), prev = a->applied;
		bool changed = !a->have_cur || s->revision != a->applied;

		if (apply(a, s) == 0) {
			double ms = (double)(vloop_now_ns() - t0) / 1e6;

			if (a->have_cur)
				mesh_snapshot_free(&a->cur);
			a->cur = *s;
			a->have_cur = true;
			a->applied = s->revision;
			if (changed) {
				log_info(COMP, "applied revision %llu: %zu peers, %zu rules "
					 "(%.1f ms)", (unsigned long long)s->revision, s->n_peers,
					 s->n_rules, ms);
				publish_policy(a, s, prev, ms);
			}
			if (a->st.tag != s->self.tag) {
				a->st.tag = s->self.tag;
				state_save(a->cfg->state, &a->st);
			}
			pthread_mutex_lock(&a->w->mu);
			a->w->applied = a->applied;
			pthread_mutex_unlock(&a->w->mu);
			free(s);
			s = NULL;
		}
		pthread_mutex_lock(&a->w->mu);
		a->w->handled = s ? s->revision : a->applied;
		pthread_cond_signal(&a->w->done);
		pthread_mutex_unlock(&a->w->mu);
		if (s) {
			mesh_snapshot_free(s);
			free(s);
		}
	}
	if (fatal == -ENOENT) {
		struct wg_dev_cfg dev = { .private_key = NULL, .listen_port = -1,
					  .replace_peers = true };

		log_error(COMP, "this node (id %lld) was removed from the mesh by an admin: its "
			  "WireGuard peers are removed and the agent stops; delete %s and restart "
			  "to join again", a->st.node_id, a->cfg->state);
		wg_dev_set(&a->wg, &dev);
		a->exit_code = 1;
		vloop_stop(loop);
	} else if (fatal == -EACCES) {
		log_error(COMP, "the coordinator refuses this node's credential (from %s): the "
			  "node was re-joined elsewhere or the coordinator's database was reset; "
			  "delete %s and restart to join again", a->cfg->state, a->cfg->state);
		a->exit_code = 1;
		vloop_stop(loop);
	}
}

/*
 * Before every /metrics render (loop thread): the applied revision, the coordinator's state and,
 * from the WireGuard interface (either backend), the peers and how many had a handshake within
 * 180 s.
 */
static void collect(struct vmetrics *reg, void *ctx)
{
	struct agent *a = ctx;
	struct wg_dev_status st;
	size_t recent = 0;
	time_t now = time(NULL);

	(void)reg;
	vmetric_child_set_u64(vmetric_child(a->m_rev, NULL), a->applied);
	vmetric_child_set(vmetric_child(a->m_up, NULL), a->up > 0);
	if (wg_dev_get(&a->wg, &st) == 0) {
		for (size_t i = 0; i < st.n_peers; i++)
			if (st.peers[i].last_handshake_sec &&
			    now - st.peers[i].last_handshake_sec <= HANDSHAKE_RECENT_S)
				recent++;
		vmetric_child_set_u64(vmetric_child(a->m_peers, NULL), st.n_peers);
		wg_dev_status_free(&st);
	}
	vmetric_child_set_u64(vmetric_child(a->m_hs, NULL), recent);
}

/* One sampled drop from the ring buffer (loop thread) -> <app_id>.mesh.drops. */
static int on_drop(void *ctx, void *data, size_t len)
{
	struct agent *a = ctx;
	struct vbuf b = VBUF_INIT, rec = VBUF_INIT;
	struct mesh_drop_event e;

	/* {"remote_identity", "local_identity", then the datapath's fields (mesh/datapath.h)} */
	if (len >= sizeof(e) && mesh_drop_event_json(data, len, &rec) == 0 && rec.len > 2) {
		const char *rn, *ln;
		struct vjw w;

		memcpy(&e, data, sizeof(e));
		rn = e.remote_id ? name_of(e.remote_id, a) : "unknown";
		ln = name_of(e.local_id, a);
		vjw_init(&w, &b);
		vjw_obj(&w);
		vjw_kstr(&w, "remote_identity", rn ? rn : "");
		vjw_kstr(&w, "local_identity", ln ? ln : "");
		if (!w.err && !vbuf_append(&b, ",", 1) &&
		    !vbuf_append(&b, rec.data + 1, rec.len - 1))
			emit(a, "mesh.drops", vbuf_cstr(&b), b.len);
	}
	vbuf_free(&rec);
	vbuf_free(&b);
	return 0;
}

/* The join token from --join-token or the first line of --join-token-file. 0 or -EINVAL. */
static int read_token(const struct mesh_agent_cfg *c, char *out, size_t n)
{
	if (c->join_token && *c->join_token) {
		snprintf(out, n, "%s", c->join_token);
		return 0;
	}
	if (c->join_token_file && *c->join_token_file) {
		FILE *f = fopen(c->join_token_file, "r");

		if (!f || !fgets(out, (int)n, f)) {
			log_error(COMP, "cannot read a join token from --join-token-file %s: %s",
				  c->join_token_file, f ? "empty file" : strerror(errno));
			if (f)
				fclose(f);
			return -EINVAL;
		}
		fclose(f);
		out[strcspn(out, "\r\n")] = 0;
		return 0;
	}
	log_error(COMP, "this node has not joined yet (no usable state in %s): give "
		  "--join-token-file FILE or --join-token TOKEN, and --identity NAME",
		  c->state);
	return -EINVAL;
}

/*
 * Gets a node id and credential: from the state file when it was written for this coordinator
 * and this key, else by joining (retried with backoff while the coordinator is unreachable;
 * refusals are final). 0 or -errno (logged).
 */
static int join(struct agent *a, const char *pub)
{
	const struct mesh_agent_cfg *c = a->cfg;
	struct mesh_join_result jr;
	char tok[512], err_msg[256] = "";
	unsigned backoff = BACKOFF_MIN_MS;
	bool logged = false;
	int err = state_load(c->state, &a->st);

	if (!err && !strcmp(a->st.public_key, pub) && !strcmp(a->st.coordinator, c->coordinator)) {
		log_info(COMP, "re-using node %lld (address %s) from %s", a->st.node_id,
			 a->st.address, c->state);
		return 0;
	}
	if (!err)
		log_info(COMP, "%s was written for another key or coordinator: joining again",
			 c->state);
	if (!c->identity || !*c->identity) {
		log_error(COMP, "joining needs --identity NAME (an identity the coordinator "
			  "knows)");
		return -EINVAL;
	}
	if ((err = read_token(c, tok, sizeof(tok))))
		return err;
	for (;;) {
		err = mesh_client_join_ex(c->coordinator, tok, pub, c->endpoint, c->identity,
					  c->name, NULL, 0, &jr, err_msg, sizeof(err_msg));
		if (!err)
			break;
		if (err != -ECONNREFUSED && err != -ETIMEDOUT && err != -EIO) {
			log_error(COMP, "the coordinator %s refused the join (identity %s): %s",
				  c->coordinator, c->identity, *err_msg ? err_msg : strerror(-err));
			return err;
		}
		if (!logged)
			log_warn(COMP, "cannot reach the coordinator %s to join: %s; retrying",
				 c->coordinator, strerror(-err));
		logged = true;
		sleep_ms(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	memset(&a->st, 0, sizeof(a->st));
	a->st.node_id = jr.node_id;
	snprintf(a->st.credential, sizeof(a->st.credential), "%s", jr.credential);
	snprintf(a->st.address, sizeof(a->st.address), "%s", jr.address);
	snprintf(a->st.cidr, sizeof(a->st.cidr), "%s", jr.cidr);
	snprintf(a->st.public_key, sizeof(a->st.public_key), "%s", pub);
	snprintf(a->st.coordinator, sizeof(a->st.coordinator), "%s", c->coordinator);
	log_info(COMP, "joined %s as node %lld (%s), address %s", c->coordinator, jr.node_id,
		 jr.name, jr.address);
	return state_save(c->state, &a->st);
}

/* ip addr replace <address>/<cidr length> dev IF; ip link set IF up. */
static int set_address(struct agent *a)
{
	const char *slash = strchr(a->st.cidr, '/');
	char addr[96];

	snprintf(addr, sizeof(addr), "%s/%s", a->st.address, slash ? slash + 1 : "32");
	char *const add[] = { "ip", "addr", "replace", addr, "dev", a->cfg->ifname, NULL };
	char *const up[] = { "ip", "link", "set", "dev", a->cfg->ifname, "up", NULL };

	if (run_cmd(add) || run_cmd(up))
		return -EIO;
	log_info(COMP, "%s has address %s", a->cfg->ifname, addr);
	return 0;
}

/*
 * Everything before the loop runs: key, interface, join, address, datapath, loop, bus, metrics,
 * drop events and the watcher thread. 0 or -errno (logged); teardown() frees what was made.
 */
static int setup(struct agent *a, const struct vbus_cfg *bus_cfg, const char *metrics_addr)
{
	const struct mesh_agent_cfg *c = a->cfg;
	struct mesh_dp_opts o = { .ifname = c->ifname, .pin_root = c->pin_root };
	uint8_t pub[WG_KEY_LEN];
	char pub_b64[WG_KEY_B64_LEN + 1];
	const char *colon;
	pthread_t th;
	int err;

	make_parent(c->key_file);
	make_parent(c->state);
	if ((err = wg_key_load_or_create(c->key_file, a->priv)) ||
	    (err = wg_key_public(a->priv, pub)))
		return err;
	wg_key_to_base64(pub, pub_b64);
	a->listen_port = (int)c->listen_port;
	colon = c->endpoint ? strrchr(c->endpoint, ':') : NULL;
	if (!a->listen_port && colon)
		a->listen_port = atoi(colon + 1);
	if (a->listen_port <= 0 || a->listen_port > 65535)
		a->listen_port = 51820;
	if ((err = wg_choose(c, &a->wg)))
		return err;
	{
		/* only what differs: wireguard-go rebinds its socket at every listen_port= */
		struct wg_dev_cfg dev = { .private_key = a->priv, .listen_port = a->listen_port };
		struct wg_dev_status st;

		if (wg_dev_get(&a->wg, &st) == 0) {
			if (st.has_private_key && !memcmp(st.public_key, pub, WG_KEY_LEN))
				dev.private_key = NULL;
			if (st.listen_port == a->listen_port)
				dev.listen_port = -1;
			wg_dev_status_free(&st);
		}
		if ((dev.private_key || dev.listen_port >= 0) &&
		    (err = wg_dev_set(&a->wg, &dev)))
			return err;
	}
	if ((err = join(a, pub_b64)) || (err = set_address(a)))
		return err;
	a->dp = mesh_dp_open(&o);
	if (!a->dp)
		return -errno;
	if (a->st.tag) {
		/* a restart: the pinned maps hold the last policy; re-attach at once (atomic
		 * replace of the same programs) so a newer agent binary takes over. The config
		 * is written first: after a reboot the maps are new and empty, and then only
		 * the default verdict applies until the coordinator answers. */
		struct mesh_dp_config dc;

		dp_config(c, a->st.tag, &dc);
		if ((err = mesh_dp_set_config(a->dp, &dc)) || (err = mesh_dp_attach(a->dp)))
			return err;
		a->attached = true;
	}

	a->loop = vloop_new();
	a->reg = vmetrics_new();
	if (!a->loop || !a->reg)
		return -ENOMEM;
	if (bus_cfg) {
		a->bus = vbus_open(bus_cfg, a->loop);
		if (!a->bus || vbus_metrics_register(a->bus, a->reg))
			return -EIO;
	}
	a->m_rev = vmetrics_gauge(a->reg, "vigil_mesh_policy_revision",
				  "Coordinator revision of the policy and peers this agent applied",
				  NULL);
	a->m_hs = vmetrics_gauge(a->reg, "vigil_mesh_peers_recent_handshake",
				 "WireGuard peers with a handshake in the last 180 s", NULL);
	a->m_peers = vmetrics_gauge(a->reg, "vigil_mesh_peers",
				    "WireGuard peers configured on the interface", NULL);
	a->m_up = vmetrics_gauge(a->reg, "vigil_mesh_coordinator_up",
				 "1 while the coordinator's watch answers, else 0", NULL);
	if (!a->m_rev || !a->m_hs || !a->m_peers || !a->m_up ||
	    mesh_dp_metrics_register(a->dp, a->reg, name_of, a) ||
	    vmetrics_on_collect(a->reg, collect, a))
		return -ENOMEM;
	if (metrics_addr && *metrics_addr) {
		a->http = vhttp_new(a->loop, metrics_addr, a->reg);
		if (!a->http)
			return -EIO;
	}
	a->rb = ring_buffer__new(mesh_dp_drops_fd(a->dp), on_drop, a, NULL);
	if (!a->rb || vbpf_ringbuf_attach(a->loop, a->rb)) {
		log_warn(COMP, "drop events are off: cannot read the drops ring buffer");
		ring_buffer__free(a->rb);
		a->rb = NULL;
	}

	a->w = calloc(1, sizeof(*a->w));
	if (!a->w)
		return -ENOMEM;
	atomic_init(&a->w->refs, 2);
	pthread_mutex_init(&a->w->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&a->w->done, &ca);
		pthread_condattr_destroy(&ca);
	}
	a->w->up = -1;
	snprintf(a->w->url, sizeof(a->w->url), "%s", c->coordinator);
	snprintf(a->w->cred, sizeof(a->w->cred), "%s", a->st.credential);
	a->w->timeout_s = (unsigned)c->watch_timeout;
	a->async = vloop_async_new(a->loop, on_async, a);
	if (!a->async)
		return -ENOMEM;
	a->w->async = a->async;
	if ((err = pthread_create(&th, NULL, watcher_main, a->w))) {
		atomic_store(&a->w->refs, 1);
		return -err;
	}
	pthread_detach(th);
	if (a->http)
		vhttp_set_ready(a->http, true);
	return 0;
}

/* Frees the agent's user-space side; the interface, programs and pinned maps stay. */
static void teardown(struct agent *a)
{
	if (a->w) {
		atomic_store(&a->w->stop, true);
		pthread_mutex_lock(&a->w->mu);
		pthread_cond_signal(&a->w->done);
		a->w->async = NULL;
		pthread_mutex_unlock(&a->w->mu);
		watcher_put(a->w); /* a long-poll in flight finishes on its own and frees it */
	}
	if (a->async)
		vloop_async_del(a->async);
	if (a->rb) {
		vbpf_ringbuf_detach(a->loop, a->rb);
		ring_buffer__free(a->rb);
	}
	if (a->bus) {
		vbus_flush(a->bus, 2000);
		vbus_close(a->bus);
	}
	vhttp_free(a->http);
	vmetrics_free(a->reg);
	mesh_dp_close(a->dp); /* programs stay attached, maps pinned: fail-static */
	if (a->have_cur)
		mesh_snapshot_free(&a->cur);
	vloop_free(a->loop);
}

int mesh_agent_run(const struct mesh_agent_cfg *cfg, const struct vbus_cfg *bus_cfg,
		   const char *metrics_addr)
{
	struct agent a = { .cfg = cfg, .up = -1 };
	int rc;

	if (!cfg->coordinator || !*cfg->coordinator || !cfg->ifname || !*cfg->ifname) {
		log_error(COMP, "give --coordinator URL and --interface NAME");
		return 2;
	}
	if (setup(&a, bus_cfg, metrics_addr)) {
		log_error(COMP, "the agent could not start (see the messages above)");
		teardown(&a);
		return 1;
	}
	log_info(COMP, "node %lld on %s, watching %s", a.st.node_id, cfg->ifname,
		 cfg->coordinator);
	rc = vloop_run(a.loop);
	log_info(COMP, "stopping; the policy on %s stays enforced (pinned maps, attached "
		 "programs)", cfg->ifname);
	teardown(&a);
	return rc ? 1 : a.exit_code;
}
