// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mesh TC programs on kernel WireGuard devices (VM tier: the host kernel has no WireGuard).
 * Two namespaces joined by a veth pair, a wireguard device in each (configured with iproute2 and
 * wg, as tests/vm/wireguard.vmsh does); the programs attached to both devices through
 * mesh/datapath.c with the policy "1 -> 2 icmp allowed, default deny": A pings B, B cannot ping
 * A, and the counters say so on both sides.
 */
#include <fcntl.h>
#include <sched.h>
#include "test.h"
#include "mesh/datapath.h"

#define IP "/usr/local/sbin/ip"
#define WG "/usr/local/bin/wg"

static const char setup_sh[] =
	"set -e\n"
	"modprobe veth\n"
	IP " netns add mka\n" IP " netns add mkb\n"
	IP " link add va netns mka type veth peer name vb netns mkb\n"
	IP " -n mka addr add 10.210.0.1/24 dev va\n" IP " -n mkb addr add 10.210.0.2/24 dev vb\n"
	IP " -n mka link set va up\n" IP " -n mkb link set vb up\n"
	IP " -n mka link set lo up\n" IP " -n mkb link set lo up\n"
	IP " -n mka link add mwa type wireguard\n" IP " -n mkb link add mwb type wireguard\n"
	WG " genkey > /tmp/mka.key\n" WG " genkey > /tmp/mkb.key\n"
	IP " netns exec mka " WG " set mwa listen-port 51820 private-key /tmp/mka.key peer $("
	WG " pubkey < /tmp/mkb.key) endpoint 10.210.0.2:51820 allowed-ips 10.211.0.2/32\n"
	IP " netns exec mkb " WG " set mwb listen-port 51820 private-key /tmp/mkb.key peer $("
	WG " pubkey < /tmp/mka.key) endpoint 10.210.0.1:51820 allowed-ips 10.211.0.1/32\n"
	IP " -n mka addr add 10.211.0.1/24 dev mwa\n" IP " -n mkb addr add 10.211.0.2/24 dev mwb\n"
	IP " -n mka link set mwa up\n" IP " -n mkb link set mwb up\n";

/* Opens the datapath on @ifname inside namespace @ns and attaches it with the test policy. */
static struct mesh_dp *attach_in(const char *ns, const char *ifname, uint32_t own,
				 const char *peer, uint32_t peer_id)
{
	const struct mesh_dp_rule r[] = { { 1, 2, 1 /* ICMP */, 0, 0, VIGIL_VERDICT_ALLOW } };
	struct mesh_dp_config c = { .own_id = own, .default_verdict = VIGIL_VERDICT_DENY };
	struct mesh_dp_opts o = { .ifname = ifname, .no_pin = true };
	char path[64];
	struct mesh_prefix p;
	struct mesh_dp *dp;
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY);
	if (!ASSERT_TRUE(fd >= 0, "open netns") || !ASSERT_OK(setns(fd, CLONE_NEWNET), "setns"))
		return NULL;
	close(fd);
	dp = mesh_dp_open(&o);
	if (!ASSERT_NOT_NULL(dp, "mesh_dp_open"))
		return NULL;
	mesh_prefix_parse(peer, &p);
	p.id = peer_id;
	if (!ASSERT_OK(mesh_dp_set_config(dp, &c), "config") ||
	    !ASSERT_OK(mesh_dp_set_identities(dp, &p, 1), "identities") ||
	    !ASSERT_OK(mesh_dp_set_policy(dp, r, 1, NULL), "policy") ||
	    !ASSERT_OK(mesh_dp_attach(dp), "attach")) {
		mesh_dp_close(dp);
		return NULL;
	}
	return dp;
}

static void test_kernel_wireguard_policy(void)
{
	struct mesh_dp *a = NULL, *b = NULL;
	struct mesh_counters ca, cb;
	int self = open("/proc/self/ns/net", O_RDONLY);

	if (system("modprobe wireguard 2>/dev/null") != 0) {
		TEST_SKIP("the wireguard module cannot be loaded in this kernel");
		return;
	}
	/* Debian builds clsact and the BPF classifier as modules */
	if (!ASSERT_OK(system("modprobe sch_ingress && modprobe cls_bpf"), "modprobe sch_ingress") ||
	    !ASSERT_OK(system(setup_sh), "namespaces and wireguard devices"))
		goto out;
	a = attach_in("mka", "mwa", 1, "10.211.0.2/32", 2);
	b = attach_in("mkb", "mwb", 2, "10.211.0.1/32", 1);
	setns(self, CLONE_NEWNET);
	if (!a || !b)
		goto out;
	ASSERT_OK(system(IP " netns exec mka ping -c 2 -W 5 10.211.0.2 >/dev/null"), "A pings B");
	ASSERT_TRUE(system(IP " netns exec mkb ping -c 2 -W 2 10.211.0.1 >/dev/null") != 0,
		    "B cannot ping A");
	if (!ASSERT_OK(mesh_dp_counters(a, 2, &ca), "A's counters for B") ||
	    !ASSERT_OK(mesh_dp_counters(b, 1, &cb), "B's counters for A"))
		goto out;
	ASSERT_EQ(ca.packets_out, 2, "A sent 2 echo requests to B");
	ASSERT_EQ(ca.packets_in, 2, "A got 2 replies");
	ASSERT_EQ(cb.packets_in, 2, "B got 2 requests");
	ASSERT_EQ(cb.packets_out, 2, "B replied twice");
	ASSERT_EQ(cb.drops[VIGIL_DROP_IDX(VIGIL_DROP_DEFAULT_DENY)], 2, "B's own pings stopped");
	ASSERT_EQ(ca.bytes_out, 2 * 84, "84-byte echo requests (busybox ping)");
out:
	/* deleting the namespaces removes the devices and their filters; a detach from here
	 * would use the ifindex in the wrong namespace */
	mesh_dp_close(a);
	mesh_dp_close(b);
	system(IP " netns del mka 2>/dev/null; " IP " netns del mkb 2>/dev/null");
	close(self);
}

TESTS(T(test_kernel_wireguard_policy))
