// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rpc kernel half on the host kernel: a server process on a loopback port answers a client
 * through each syscall family (read/write, recvfrom/sendto, readv/writev, recvmsg/sendmsg); the
 * ring buffer must carry exactly the bytes the server moved, in order, with full lengths, the
 * right direction and the connection's addresses. Also: connections opened before the program
 * was loaded, truncation counting, close events, and new child processes followed. Every test
 * runs twice, once per set of hooks (_socket: the sock tracepoints; _syscall: tp_btf/sys_exit).
 */
#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "test.h"
#include "rpc/rpc.h"
#include "rpc/tracer.h"
#include "rpc.skel.h"

enum mode { M_RW, M_SENDRECV, M_VEC, M_MSG };

static enum rpc_hook hook; /* the hooks the running test loads */

static int listen_any(unsigned short *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16))
		return -1;
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static ssize_t srv_read(int fd, char *buf, size_t n, enum mode m)
{
	struct iovec iov[2] = { { buf, 3 }, { buf + 3, n - 3 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	switch (m) {
	case M_RW: return read(fd, buf, n);
	case M_SENDRECV: return recvfrom(fd, buf, n, 0, NULL, NULL);
	case M_VEC: return readv(fd, iov, 2);
	case M_MSG: return recvmsg(fd, &msg, 0);
	}
	return -1;
}

static ssize_t srv_write(int fd, const char *buf, size_t n, enum mode m)
{
	struct iovec iov[2] = { { (void *)buf, 5 }, { (void *)(buf + 5), n - 5 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	switch (m) {
	case M_RW: return write(fd, buf, n);
	case M_SENDRECV: return sendto(fd, buf, n, 0, NULL, 0);
	case M_VEC: return writev(fd, iov, 2);
	case M_MSG: return sendmsg(fd, &msg, 0);
	}
	return -1;
}

/* The server: for each accepted connection, read one request and answer with the request
 * bytes uppercased and a large tail of @extra bytes, then close. Exits after @conns. */
static void server(int lfd, int conns, enum mode m, size_t extra, int go_fd)
{
	char c;

	if (read(go_fd, &c, 1) != 1) /* wait until the test has loaded the program */
		_exit(3);
	for (int i = 0; i < conns; i++) {
		int fd = accept(lfd, NULL, NULL);
		char req[256], *resp;
		ssize_t n = srv_read(fd, req, sizeof(req), m);

		if (n <= 5)
			_exit(4);
		resp = malloc((size_t)n + extra);
		for (ssize_t k = 0; k < n; k++)
			resp[k] = (char)toupper(req[k]);
		memset(resp + n, 'x', extra);
		size_t off = 0, total = (size_t)n + extra;
		while (off < total) {
			ssize_t w = srv_write(fd, resp + off, total - off, off ? M_RW : m);
			if (w <= 0)
				_exit(5);
			off += (size_t)w;
		}
		free(resp);
		close(fd);
	}
	_exit(0);
}

struct capture {
	int data_in, data_out, closes, forks;
	size_t in_total, out_total, out_captured;
	char in_bytes[512];
	char out_head[64];
	unsigned short rport, lport;
	unsigned short want_rport;
	unsigned tgid;
	unsigned family;
	uint8_t raddr[16];
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct capture *c = ctx;
	const struct rpc_event *ev = data;

	if (len < sizeof(*ev) || ev->tgid != c->tgid)
		return 0;
	if (ev->kind == RPC_EV_DATA && c->want_rport && ev->rport != c->want_rport)
		return 0;
	if (ev->kind == RPC_EV_CLOSE)
		c->closes++;
	if (ev->kind == RPC_EV_FORK) {
		/* follow the new process: its tgid travels in the fd field */
		c->forks++;
		c->tgid = (unsigned)ev->fd;
	}
	if (ev->kind != RPC_EV_DATA)
		return 0;
	c->lport = ev->lport;
	c->rport = ev->rport;
	c->family = ev->family;
	memcpy(c->raddr, ev->raddr, 16);
	if (ev->dir == RPC_EV_DIR_IN) {
		if (c->in_total + ev->cap_len < sizeof(c->in_bytes))
			memcpy(c->in_bytes + c->in_total, ev + 1, ev->cap_len);
		c->in_total += ev->total_len;
		c->data_in++;
	} else {
		if (!c->out_total)
			memcpy(c->out_head, ev + 1, ev->cap_len < 63 ? ev->cap_len : 63);
		c->out_total += ev->total_len;
		c->out_captured += ev->cap_len;
		c->data_out++;
	}
	return 0;
}

/* Loads the program tracing only @tgid's connections to @port; @wakeup as --wakeup. */
static struct rpc_bpf *load_wakeup(unsigned tgid, unsigned short port, unsigned capture,
				   unsigned wakeup)
{
	struct rpc_bpf *skel = rpc_bpf__open();
	__u16 p = port;

	if (!skel)
		return NULL;
	skel->rodata->capture = capture;
	skel->rodata->wakeup_bytes = wakeup;
	rpc_bpf_prepare(skel, hook);
	skel->rodata->filter_targets = true;
	if (rpc_bpf__load(skel) || rpc_bpf__attach(skel)) {
		rpc_bpf__destroy(skel);
		return NULL;
	}
	rpc_bpf_add_port(skel, p);
	rpc_bpf_add_target(skel, tgid);
	return skel;
}

static struct rpc_bpf *load(unsigned tgid, unsigned short port, unsigned capture)
{
	return load_wakeup(tgid, port, capture, 0);
}

static int connect_to(unsigned short port, unsigned short *local)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	getsockname(fd, (struct sockaddr *)&a, &len);
	*local = ntohs(a.sin_port);
	return fd;
}

/* Points @c at @pid's events and opens the ring buffer that delivers them to on_event(). */
static struct ring_buffer *watch(struct rpc_bpf *skel, struct capture *c, pid_t pid)
{
	c->tgid = (unsigned)pid;
	return ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, c, NULL);
}

/* Reads @fd to its end; returns how many bytes came. */
static size_t read_all(int fd)
{
	char buf[65536];
	size_t got = 0;

	for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;)
		got += (size_t)n;
	return got;
}

/* Waits for the server @pid to exit (its status in @status when not NULL), then hands every
 * record left in the ring buffer to on_event(). */
static void reap_and_drain(pid_t pid, int *status, struct ring_buffer *rb)
{
	waitpid(pid, status, 0);
	while (ring_buffer__poll(rb, 100) > 0)
		;
}

/* Frees what a test set up: kills the server @pid if it still runs (> 0), closes the client
 * @cfd if open (>= 0), the ring buffer, the program and the listening socket @lfd. */
static void teardown(pid_t pid, int cfd, struct ring_buffer *rb, struct rpc_bpf *skel, int lfd)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (cfd >= 0)
		close(cfd);
	ring_buffer__free(rb);
	rpc_bpf__destroy(skel);
	close(lfd);
}

static __u64 counter(struct rpc_bpf *skel, __u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[ncpu], sum = 0;

	if (bpf_map__lookup_elem(skel->maps.counters, &idx, sizeof(idx), vals,
				 sizeof(__u64) * ncpu, 0))
		return (__u64)-1;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

/* One exchange in mode @m; @preexisting connects before the program is loaded. */
static void exchange(enum mode m, bool preexisting, size_t extra, unsigned capture)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\",\"id\":1}";
	unsigned short port, local = 0;
	int lfd = listen_any(&port), go[2], cfd = -1, status;
	struct capture c = { 0 };
	struct rpc_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	size_t got;
	pid_t pid;

	if (!ASSERT_TRUE(lfd >= 0, "listen") || !ASSERT_OK(pipe(go), "pipe"))
		return;
	pid = fork();
	if (pid == 0)
		server(lfd, 1, m, extra, go[0]);
	if (preexisting) {
		cfd = connect_to(port, &local);
		if (!ASSERT_TRUE(cfd >= 0, "connect before load"))
			goto out;
	}
	skel = load((unsigned)pid, port, capture);
	if (!ASSERT_NOT_NULL(skel, "load and attach rpc.bpf.o"))
		goto out;
	rb = watch(skel, &c, pid);
	if (!ASSERT_NOT_NULL(rb, "ring buffer"))
		goto out;
	if (write(go[1], "g", 1) != 1)
		goto out;
	if (!preexisting)
		cfd = connect_to(port, &local);
	if (!ASSERT_EQ(write(cfd, req, sizeof(req) - 1), (long)sizeof(req) - 1, "client write"))
		goto out;
	got = read_all(cfd);
	reap_and_drain(pid, &status, rb);
	pid = 0;
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server exited cleanly");
	ASSERT_EQ(got, sizeof(req) - 1 + extra, "client got the whole response");
	ASSERT_EQ(c.in_total, sizeof(req) - 1, "request length");
	ASSERT_TRUE(memcmp(c.in_bytes, req, sizeof(req) - 1) == 0, "request bytes captured exactly");
	ASSERT_EQ(c.out_total, sizeof(req) - 1 + extra, "response length (full, not captured)");
	ASSERT_TRUE(strncmp(c.out_head, "{\"JSONRPC\":\"2.0\"", 16) == 0, "response head captured");
	ASSERT_EQ(c.lport, port, "server port");
	ASSERT_EQ(c.rport, local, "client port");
	ASSERT_EQ(c.closes, 1, "one close event");
	if (extra > capture) {
		ASSERT_LE(c.out_captured, (size_t)capture * c.data_out, "capture bound respected");
		ASSERT_GE(counter(skel, RPC_CNT_TRUNCATED), 1, "truncated counted");
	}
	ASSERT_EQ(counter(skel, RPC_CNT_LOST), 0, "nothing lost");
	ASSERT_EQ(counter(skel, RPC_CNT_CONNS), 1, "one server connection discovered");
out:
	teardown(pid, cfd, rb, skel, lfd);
}

static void test_read_write(void) { exchange(M_RW, false, 0, 4096); }
static void test_recvfrom_sendto(void) { exchange(M_SENDRECV, false, 0, 4096); }
static void test_readv_writev(void) { exchange(M_VEC, false, 0, 4096); }
static void test_recvmsg_sendmsg(void) { exchange(M_MSG, false, 0, 4096); }
static void test_connection_opened_before_load(void) { exchange(M_RW, true, 0, 4096); }
static void test_large_response_truncated_with_full_length(void)
{
	exchange(M_RW, false, 3 << 20, 4096);
}
static void test_max_capture_16k(void) { exchange(M_VEC, false, 100000, RPC_MAX_CAPTURE); }

/* An untraced process on the same port and the traced process's other sockets are ignored. */
static void test_other_processes_ignored(void)
{
	unsigned short port, local;
	int lfd = listen_any(&port), go[2], cfd;
	struct capture c = { 0 };
	struct rpc_bpf *skel;
	struct ring_buffer *rb;
	pid_t pid;

	if (!ASSERT_OK(pipe(go), "pipe"))
		return;
	pid = fork();
	if (pid == 0)
		server(lfd, 1, M_RW, 0, go[0]);
	skel = load((unsigned)pid + 1000000, port, 4096); /* a tgid that does not exist */
	if (!ASSERT_NOT_NULL(skel, "load")) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	rb = watch(skel, &c, pid);
	if (write(go[1], "g", 1) != 1)
		return;
	cfd = connect_to(port, &local);
	if (write(cfd, "GET / HTTP/1.1\r\n\r\n", 18) != 18)
		return;
	read_all(cfd);
	reap_and_drain(pid, NULL, rb);
	ASSERT_EQ(c.data_in + c.data_out, 0, "untraced process produced no events");
	teardown(0, cfd, rb, skel, lfd);
}

/* --cgroup: only processes in the cgroup are traced; a server moved into a fresh cgroup v2
 * directory is, the same server outside it is not. */
static void cgroup_exchange(bool inside)
{
	char dir[128], procs[160], pidbuf[32];
	unsigned short port, local;
	int lfd = listen_any(&port), go[2], cfd = -1, fd;
	struct capture c = { 0 };
	struct rpc_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	struct stat sb;
	__u64 cgid;
	__u8 one = 1;
	__u16 p;
	pid_t pid;

	char root[96] = "";
	FILE *m = fopen("/proc/self/mounts", "r");
	char line[512];

	/* bpf_get_current_cgroup_id() is the cgroup v2 id: find where cgroup2 is mounted
	 * (/sys/fs/cgroup, or /sys/fs/cgroup/unified beside a v1 hierarchy) */
	while (m && fgets(line, sizeof(line), m)) {
		char dev[64], mnt[96], type[32];
		if (sscanf(line, "%63s %95s %31s", dev, mnt, type) == 3 && strcmp(type, "cgroup2") == 0) {
			snprintf(root, sizeof(root), "%s", mnt);
			break;
		}
	}
	if (m)
		fclose(m);
	if (!ASSERT_TRUE(root[0], "a cgroup2 mount"))
		return;
	snprintf(dir, sizeof(dir), "%s/vigil-test-rpc-%d", root, (int)getpid());
	if (!ASSERT_OK(mkdir(dir, 0755), "mkdir cgroup") || !ASSERT_OK(stat(dir, &sb), "stat") ||
	    !ASSERT_OK(pipe(go), "pipe"))
		return;
	cgid = sb.st_ino;
	pid = fork();
	if (pid == 0)
		server(lfd, 1, M_RW, 0, go[0]);
	if (inside) {
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
		fd = open(procs, O_WRONLY);
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
		if (!ASSERT_EQ(write(fd, pidbuf, strlen(pidbuf)), (long)strlen(pidbuf), "move to cgroup"))
			goto out;
		close(fd);
	}
	skel = rpc_bpf__open();
	if (!ASSERT_NOT_NULL(skel, "open"))
		goto out;
	skel->rodata->filter_cgroups = true;
	rpc_bpf_prepare(skel, hook);
	if (!ASSERT_OK(rpc_bpf__load(skel), "load") || !ASSERT_OK(rpc_bpf__attach(skel), "attach"))
		goto out;
	p = port;
	rpc_bpf_add_port(skel, p);
	bpf_map__update_elem(skel->maps.cgroups, &cgid, sizeof(cgid), &one, 1, BPF_ANY);
	rb = watch(skel, &c, pid);
	if (!ASSERT_NOT_NULL(rb, "ring buffer") || write(go[1], "g", 1) != 1)
		goto out;
	cfd = connect_to(port, &local);
	if (!ASSERT_EQ(write(cfd, "{\"method\":\"x\"}", 14), 14, "client write"))
		goto out;
	read_all(cfd);
	reap_and_drain(pid, NULL, rb);
	pid = 0;
	if (inside)
		ASSERT_EQ(c.in_total, 14, "the server in the cgroup is traced");
	else
		ASSERT_EQ(c.data_in + c.data_out, 0, "a server outside the cgroup is not");
out:
	close(go[1]);
	teardown(pid, cfd, rb, skel, lfd);
	rmdir(dir);
}

static void test_cgroup_member_traced(void) { cgroup_exchange(true); }
static void test_cgroup_outsider_ignored(void) { cgroup_exchange(false); }

/* IPv6: a server on [::1] and one on [::] reached over IPv4 (an IPv4-mapped peer address). */
static void exchange6(bool mapped)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	socklen_t len = sizeof(a);
	int lfd = socket(AF_INET6, SOCK_STREAM, 0), go[2], cfd = -1, one = 1, zero = 0;
	unsigned short port, local;
	struct capture c = { 0 };
	struct rpc_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	uint8_t want[16] = { 0 };
	pid_t pid;

	a.sin6_addr = mapped ? in6addr_any : in6addr_loopback;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (!ASSERT_OK(bind(lfd, (struct sockaddr *)&a, sizeof(a)), "bind [::]") ||
	    !ASSERT_OK(listen(lfd, 4), "listen") || !ASSERT_OK(pipe(go), "pipe"))
		return;
	getsockname(lfd, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin6_port);
	pid = fork();
	if (pid == 0)
		server(lfd, 1, M_RW, 0, go[0]);
	skel = load((unsigned)pid, port, 4096);
	if (!ASSERT_NOT_NULL(skel, "load"))
		goto out;
	rb = watch(skel, &c, pid);
	if (!ASSERT_NOT_NULL(rb, "ring buffer") || write(go[1], "g", 1) != 1)
		goto out;
	if (mapped) {
		cfd = connect_to(port, &local);
		want[10] = want[11] = 0xff;
		want[12] = 127;
		want[15] = 1;
	} else {
		struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(port),
					   .sin6_addr = in6addr_loopback };
		cfd = socket(AF_INET6, SOCK_STREAM, 0);
		if (!ASSERT_OK(connect(cfd, (struct sockaddr *)&to, sizeof(to)), "connect [::1]"))
			goto out;
		len = sizeof(to);
		getsockname(cfd, (struct sockaddr *)&to, &len);
		local = ntohs(to.sin6_port);
		want[15] = 1;
	}
	if (!ASSERT_EQ(write(cfd, "{\"method\":\"x\"}", 14), 14, "client write"))
		goto out;
	read_all(cfd);
	reap_and_drain(pid, NULL, rb);
	pid = 0;
	ASSERT_EQ(c.in_total, 14, "request length");
	ASSERT_EQ(c.lport, port, "server port");
	ASSERT_EQ(c.rport, local, "client port");
	ASSERT_EQ(c.family, 10, "AF_INET6");
	ASSERT_TRUE(memcmp(c.raddr, want, 16) == 0, mapped ? "::ffff:127.0.0.1" : "::1");
out:
	close(go[1]);
	teardown(pid, cfd, rb, skel, lfd);
}

static void test_ipv6(void) { exchange6(false); }
static void test_ipv4_mapped_on_dual_stack_server(void) { exchange6(true); }

/* A traced process's child process is traced too: a supervisor forks the real server after
 * tracing began; its connection's bytes arrive under the new tgid, announced by a fork record. */
static void test_children_followed(void)
{
	static const char req[] = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
	unsigned short port, local;
	int lfd = listen_any(&port), go[2], cfd = -1;
	struct capture c = { 0 };
	struct rpc_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	pid_t pid;

	if (!ASSERT_OK(pipe(go), "pipe"))
		return;
	pid = fork();
	if (pid == 0) {
		char g;
		int p2[2];
		pid_t worker;

		if (read(go[0], &g, 1) != 1 || pipe(p2) || write(p2[1], "g", 1) != 1)
			_exit(3);
		worker = fork();
		if (worker == 0)
			server(lfd, 1, M_RW, 0, p2[0]);
		waitpid(worker, NULL, 0);
		_exit(0);
	}
	close(go[0]);
	skel = load((unsigned)pid, port, 4096);
	if (!ASSERT_NOT_NULL(skel, "load"))
		goto out;
	rb = watch(skel, &c, pid);
	if (!ASSERT_NOT_NULL(rb, "ring buffer") || write(go[1], "g", 1) != 1)
		goto out;
	cfd = connect_to(port, &local);
	if (!ASSERT_EQ(write(cfd, req, sizeof(req) - 1), (long)sizeof(req) - 1, "client write"))
		goto out;
	read_all(cfd);
	reap_and_drain(pid, NULL, rb);
	pid = 0;
	ASSERT_EQ(c.forks, 1, "one fork record from the supervisor");
	ASSERT_NEQ(c.tgid, 0, "worker tgid");
	ASSERT_EQ(c.in_total, sizeof(req) - 1, "the worker's request bytes arrived");
	ASSERT_EQ(c.rport, local, "client port");
out:
	close(go[1]);
	teardown(pid, cfd, rb, skel, lfd);
}

/* The server of test_wakeup_once_per_crossing: for each byte read from @cmd_fd, one write()
 * of @n bytes on its one connection, then a byte on @ack_fd once that write has returned (its
 * record is in the ring buffer then). Exits at EOF. */
static void writer(int lfd, int cmd_fd, int ack_fd, size_t n)
{
	int fd = accept(lfd, NULL, NULL);
	char buf[1024], c;

	memset(buf, 'x', sizeof(buf));
	while (read(cmd_fd, &c, 1) == 1) {
		if (write(fd, buf, n) != (ssize_t)n || write(ack_fd, &c, 1) != 1)
			_exit(5);
	}
	_exit(0);
}

/*
 * --wakeup: the tracer is woken once when the data waiting in the ring buffer reaches the mark,
 * not for every record after it, and again after it has drained the buffer. An edge-triggered
 * epoll on the ring buffer reports wake-ups only (level-triggered, it would report any data).
 * Records are 1,088 bytes here (8-byte ring header, 80-byte event, 1,000 bytes), the mark
 * 8 KiB: the 9th record is the first written with 8 KiB or more waiting.
 */
static void test_wakeup_once_per_crossing(void)
{
	int lfd, cmd[2], ack[2], cfd = -1, ep = -1;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET }, out;
	struct rpc_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	struct capture c = { 0 };
	unsigned short port, local;
	char buf[16384], x = 'w';
	pid_t pid;

	lfd = listen_any(&port);
	if (!ASSERT_TRUE(lfd >= 0, "listen") || !ASSERT_OK(pipe(cmd), "pipe") ||
	    !ASSERT_OK(pipe(ack), "pipe"))
		return;
	pid = fork();
	if (pid == 0) {
		close(cmd[1]);
		writer(lfd, cmd[0], ack[1], 1000);
	}
	close(cmd[0]);
	close(ack[1]);
	skel = load_wakeup((unsigned)pid, port, 4096, 8192);
	if (!ASSERT_NOT_NULL(skel, "load with wakeup_bytes 8192"))
		goto out;
	rb = watch(skel, &c, pid);
	ep = epoll_create1(0);
	if (!ASSERT_NOT_NULL(rb, "ring buffer") || !ASSERT_TRUE(ep >= 0, "epoll") ||
	    !ASSERT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, bpf_map__fd(skel->maps.events), &ev),
		       "epoll_ctl on the ring buffer"))
		goto out;
	cfd = connect_to(port, &local);
	for (int round = 0; round < 2; round++) {
		for (int i = 1; i <= 12; i++) {
			if (!ASSERT_EQ(write(cmd[1], &x, 1), 1, "command") ||
			    !ASSERT_EQ(read(ack[0], &x, 1), 1, "write done"))
				goto out;
			if (read(cfd, buf, sizeof(buf)) <= 0)
				goto out;
			if (i == 9)
				ASSERT_EQ(epoll_wait(ep, &out, 1, 5000), 1,
					  "woken by the first record written past the mark");
			else
				ASSERT_EQ(epoll_wait(ep, &out, 1, 0), 0,
					  i < 9 ? "not woken below the mark"
						: "not woken again until drained");
		}
		ring_buffer__consume(rb);
		ASSERT_EQ(c.data_out, 12 * (round + 1), "every record delivered");
	}
	ASSERT_EQ(counter(skel, RPC_CNT_LOST), 0, "nothing lost");
out:
	close(cmd[1]); /* the writer exits at EOF, or is still in accept() if nothing connected */
	if (cfd < 0)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (ep >= 0)
		close(ep);
	close(ack[0]);
	teardown(0, cfd, rb, skel, lfd);
}

/*
 * Socket hooks only: a response sent with sendfile(2) (no user buffer to copy from) is counted
 * as unsupported I/O and produces no data record, while the same connection's read is captured.
 */
static void test_sendfile_counted_unsupported(void)
{
	static const char req[] = "{\"method\":\"x\"}";
	char path[] = "/tmp/vigil-rpc-sendfile-XXXXXX", buf[256];
	unsigned short port, local;
	int lfd = listen_any(&port), go[2], cfd = -1, ffd = mkstemp(path);
	struct capture c = { 0 };
	struct rpc_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	size_t got;
	pid_t pid;

	unlink(path);
	if (!ASSERT_TRUE(ffd >= 0, "temp file") || !ASSERT_EQ(write(ffd, "0123456789", 10), 10,
							       "file") ||
	    !ASSERT_OK(pipe(go), "pipe"))
		return;
	pid = fork();
	if (pid == 0) {
		char g;
		off_t off = 0;
		int fd;

		if (read(go[0], &g, 1) != 1 || (fd = accept(lfd, NULL, NULL)) < 0 ||
		    read(fd, buf, sizeof(buf)) <= 0 || sendfile(fd, ffd, &off, 10) != 10)
			_exit(3);
		close(fd);
		_exit(0);
	}
	skel = load((unsigned)pid, port, 4096);
	if (!ASSERT_NOT_NULL(skel, "load"))
		goto out;
	rb = watch(skel, &c, pid);
	if (!ASSERT_NOT_NULL(rb, "ring buffer") || write(go[1], "g", 1) != 1)
		goto out;
	cfd = connect_to(port, &local);
	if (!ASSERT_EQ(write(cfd, req, sizeof(req) - 1), (long)sizeof(req) - 1, "client write"))
		goto out;
	got = read_all(cfd);
	reap_and_drain(pid, NULL, rb);
	pid = 0;
	ASSERT_EQ(got, 10, "the client got the file");
	ASSERT_EQ(c.in_total, sizeof(req) - 1, "the read is captured");
	ASSERT_EQ(c.data_out, 0, "no record for the sendfile");
	ASSERT_EQ(counter(skel, RPC_CNT_UNSUPPORTED), 1, "the sendfile counted as unsupported");
out:
	close(go[1]);
	close(ffd);
	teardown(pid, cfd, rb, skel, lfd);
}

static void test_sendfile_counted_unsupported_socket(void)
{
	hook = RPC_HOOK_SOCKET;
	test_sendfile_counted_unsupported();
}

#ifndef RPC_CAPTURE_NO_MAIN /* vm_rpc_capture.c includes this file with its own list */
/* Each test once per set of hooks. */
#define BOTH(fn)                                                                                  \
	static void fn##_socket(void)                                                             \
	{                                                                                         \
		hook = RPC_HOOK_SOCKET;                                                           \
		fn();                                                                             \
	}                                                                                         \
	static void fn##_syscall(void)                                                            \
	{                                                                                         \
		hook = RPC_HOOK_SYSCALL;                                                          \
		fn();                                                                             \
	}
#define TT(fn) T(fn##_socket), T(fn##_syscall)

BOTH(test_read_write)
BOTH(test_recvfrom_sendto)
BOTH(test_readv_writev)
BOTH(test_recvmsg_sendmsg)
BOTH(test_connection_opened_before_load)
BOTH(test_large_response_truncated_with_full_length)
BOTH(test_max_capture_16k)
BOTH(test_other_processes_ignored)
BOTH(test_children_followed)
BOTH(test_ipv6)
BOTH(test_ipv4_mapped_on_dual_stack_server)
BOTH(test_cgroup_member_traced)
BOTH(test_cgroup_outsider_ignored)
BOTH(test_wakeup_once_per_crossing)

TESTS(TT(test_read_write), TT(test_recvfrom_sendto), TT(test_readv_writev),
      TT(test_recvmsg_sendmsg), TT(test_connection_opened_before_load),
      TT(test_large_response_truncated_with_full_length), TT(test_max_capture_16k),
      TT(test_other_processes_ignored), TT(test_children_followed), TT(test_ipv6),
      TT(test_ipv4_mapped_on_dual_stack_server), TT(test_cgroup_member_traced),
      TT(test_cgroup_outsider_ignored), TT(test_wakeup_once_per_crossing),
      T(test_sendfile_counted_unsupported_socket))
#endif
