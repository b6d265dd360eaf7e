// SPDX-License-Identifier: GPL-2.0-only
/*
 * rpc_load: a constant-rate HTTP/1.1 JSON-RPC load generator for bench/rpc/run, in the manner
 * of wrk2 (which Debian does not ship): requests leave on a fixed schedule whatever the server
 * does, and each latency is counted from the time the request was due, not from when it could
 * be sent, so a server that stalls is charged for every request queued behind the stall (no
 * "coordinated omission", which makes wrk's own percentiles under a delay() script optimistic).
 *
 *   build/bench/rpc_load PORT RATE SECONDS [CONNS (default 16)]
 *
 * CONNS keep-alive connections to 127.0.0.1:PORT each carry RATE/CONNS requests per second,
 * one at a time (no pipelining); a request that falls due while the previous one on its
 * connection is still out leaves as soon as the response is in. Posts eth_blockNumber. Prints
 * one line: "sent N done N errors N rate R p50 X p90 X p99 X p999 X max X" (latencies in us,
 * rate in requests/s over the run). Exits 1 when it cannot connect or a connection fails.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BODY "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_blockNumber\",\"params\":[]}"
#define MAX_CONNS 1024

struct lconn {
	int fd;
	bool busy;	  /* a request is out */
	uint64_t due;	  /* when the next request is due (ns, CLOCK_MONOTONIC) */
	uint64_t sent_due; /* when the request now out was due */
	size_t len;
	char in[8192];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Length of the first complete response in @c->in, 0 if it is not all there yet. */
static size_t response_len(struct lconn *c)
{
	char *hend, *cl;
	size_t hlen;

	c->in[c->len] = 0;
	hend = strstr(c->in, "\r\n\r\n");
	if (!hend)
		return 0;
	hlen = (size_t)(hend + 4 - c->in);
	cl = strcasestr(c->in, "\r\ncontent-length:");
	if (!cl || cl > hend)
		return 0; /* rpc_server always sends one; anything else is an error below */
	hlen += strtoul(cl + 17, NULL, 10);
	return hlen <= c->len ? hlen : 0;
}

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "rpc_load: cannot connect to 127.0.0.1:%d: %s (is the server up?)\n",
			port, strerror(errno));
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int main(int argc, char **argv)
{
	static char req[512];
	int port = argc > 3 ? atoi(argv[1]) : 0, nconns = argc > 4 ? atoi(argv[4]) : 16;
	double rate = argc > 3 ? atof(argv[2]) : 0, secs = argc > 3 ? atof(argv[3]) : 0;
	uint64_t interval, start, end, *lat, sent = 0, done = 0, errors = 0, cap;
	struct lconn *conns;
	int ep, reqlen;

	if (port < 1 || port > 65535 || rate <= 0 || secs <= 0 || nconns < 1 ||
	    nconns > MAX_CONNS || rate / nconns > 1e6) {
		fprintf(stderr, "usage: rpc_load PORT RATE SECONDS [CONNS (1-%d, default 16)]\n",
			MAX_CONNS);
		return 2;
	}
	reqlen = snprintf(req, sizeof(req),
			  "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json"
			  "\r\nContent-Length: %zu\r\n\r\n%s", port, strlen(BODY), BODY);
	interval = (uint64_t)(1e9 * nconns / rate);
	cap = (uint64_t)(rate * secs) + (uint64_t)nconns + 16;
	lat = malloc(cap * sizeof(*lat));
	conns = calloc((size_t)nconns, sizeof(*conns));
	ep = epoll_create1(0);
	if (!lat || !conns || ep < 0) {
		fprintf(stderr, "rpc_load: out of memory\n");
		return 1;
	}
	start = now_ns();
	end = start + (uint64_t)(secs * 1e9);
	for (int i = 0; i < nconns; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };

		conns[i].fd = connect_to(port);
		/* spread the connections' schedules evenly over one interval */
		conns[i].due = start + interval * (uint64_t)i / (uint64_t)nconns;
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
	}
	for (;;) {
		struct epoll_event evs[64];
		uint64_t now = now_ns(), next = UINT64_MAX;
		bool pending = false;
		struct timespec to;
		int n;

		/* send whatever is due on an idle connection; find the next due time */
		for (int i = 0; i < nconns; i++) {
			struct lconn *c = &conns[i];

			if (c->busy) {
				pending = true;
				continue;
			}
			if (c->due >= end)
				continue;
			if (c->due <= now) {
				if (write(c->fd, req, (size_t)reqlen) != reqlen) {
					fprintf(stderr, "rpc_load: write failed: %s\n",
						strerror(errno));
					return 1;
				}
				c->busy = true;
				c->sent_due = c->due;
				c->due += interval;
				sent++;
				pending = true;
				continue;
			}
			if (c->due < next)
				next = c->due;
		}
		if (!pending && next == UINT64_MAX)
			break; /* the schedule is over and every response is in */
		if (next == UINT64_MAX)
			next = now + 100000000ull; /* only responses to wait for */
		to.tv_sec = (time_t)((next - now) / 1000000000ull);
		to.tv_nsec = (long)((next - now) % 1000000000ull);
		n = epoll_pwait2(ep, evs, 64, &to, NULL);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "rpc_load: epoll_pwait2: %s\n", strerror(errno));
			return 1;
		}
		for (int k = 0; k < n; k++) {
			struct lconn *c = evs[k].data.ptr;
			ssize_t r = read(c->fd, c->in + c->len, sizeof(c->in) - 1 - c->len);
			size_t rl;

			if (r <= 0) {
				fprintf(stderr, "rpc_load: the server closed a connection (%s)\n",
					r ? strerror(errno) : "EOF");
				return 1;
			}
			c->len += (size_t)r;
			while ((rl = response_len(c))) {
				if (strncmp(c->in, "HTTP/1.1 200", 12))
					errors++;
				if (done < cap)
					lat[done] = now_ns() - c->sent_due;
				done++;
				memmove(c->in, c->in + rl, c->len - rl);
				c->len -= rl;
				c->busy = false;
			}
			if (c->len + 1 >= sizeof(c->in)) {
				fprintf(stderr, "rpc_load: a response without Content-Length\n");
				return 1;
			}
		}
	}
	if (done > cap)
		done = cap;
	qsort(lat, done, sizeof(*lat), cmp_u64);
#define PCT(p) (done ? lat[(size_t)((double)(done - 1) * (p))] / 1000.0 : 0)
	printf("sent %llu done %llu errors %llu rate %.0f p50 %.0f p90 %.0f p99 %.0f p999 %.0f "
	       "max %.0f\n", (unsigned long long)sent, (unsigned long long)done,
	       (unsigned long long)errors, (double)done * 1e9 / (double)(now_ns() - start),
	       PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999), PCT(1.0));
	return 0;
}
