// SPDX-License-Identifier: GPL-2.0-only
/*
 * rpc_server: a small, fast HTTP/1.1 JSON-RPC server for bench/rpc/run, so the benchmark
 * measures the tracer's cost on a server that is not itself the bottleneck (ganache serves a few
 * thousand calls/s; this serves tens of thousands per core). Answers every POST with a JSON-RPC
 * result echoing the request's id: eth_blockNumber gets "0x10d4f", eth_chainId "0x539", any other
 * method error -32601. Keep-alive and pipelining; plain read()/write() syscalls, as geth's
 * net/http does, so `vigil rpc` traces it like a node.
 *
 *   build/bench/rpc_server PORT [THREADS (default 1)]
 *
 * Each thread has its own SO_REUSEPORT listener and epoll loop on 127.0.0.1:PORT. Runs until
 * killed. Not a general HTTP server: no chunked requests, bodies up to 60 KiB.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536

struct conn {
	int fd;
	size_t len;
	char in[BUF_SIZE];
};

static int port;

static int listener(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096)) {
		fprintf(stderr, "rpc_server: cannot listen on 127.0.0.1:%d: %s\n", port,
			strerror(errno));
		exit(1);
	}
	return fd;
}

/* Copies the JSON value after "id": (a number, a string or null) into @id; "null" if absent. */
static void find_id(const char *body, size_t len, char *id, size_t n)
{
	const char *p = memmem(body, len, "\"id\"", 4), *end = body + len;
	size_t k = 0;

	snprintf(id, n, "null");
	if (!p)
		return;
	p += 4;
	while (p < end && (*p == ' ' || *p == ':'))
		p++;
	while (p + k < end && k + 1 < n && p[k] != ',' && p[k] != '}' && p[k] != ' ')
		k++;
	if (k) {
		memcpy(id, p, k);
		id[k] = 0;
	}
}

/*
 * Answers every complete request in c->in; returns -1 when the connection must close. One
 * write() per batch of pipelined requests.
 */
static int serve(struct conn *c)
{
	char out[BUF_SIZE];
	size_t off = 0, olen = 0;

	for (;;) {
		char *hend, *cl, id[64], body[256];
		size_t hlen, blen = 0;
		int n;

		c->in[c->len] = 0;
		hend = strstr(c->in + off, "\r\n\r\n");
		if (!hend)
			break;
		hlen = (size_t)(hend + 4 - (c->in + off));
		*hend = 0;
		cl = strcasestr(c->in + off, "\r\ncontent-length:");
		*hend = '\r';
		if (cl)
			blen = strtoul(cl + 17, NULL, 10);
		if (blen > BUF_SIZE / 2)
			return -1;
		if (off + hlen + blen > c->len)
			break;
		find_id(c->in + off + hlen, blen, id, sizeof(id));
		if (memmem(c->in + off + hlen, blen, "\"eth_blockNumber\"", 17))
			n = snprintf(body, sizeof(body),
				     "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":\"0x10d4f\"}", id);
		else if (memmem(c->in + off + hlen, blen, "\"eth_chainId\"", 13))
			n = snprintf(body, sizeof(body),
				     "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":\"0x539\"}", id);
		else
			n = snprintf(body, sizeof(body),
				     "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32601,"
				     "\"message\":\"the method does not exist\"}}", id);
		if (olen + 256 + (size_t)n > sizeof(out))
			return -1;
		olen += snprintf(out + olen, sizeof(out) - olen,
				 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				 "Content-Length: %d\r\n\r\n%s", n, body);
		off += hlen + blen;
	}
	if (off) {
		memmove(c->in, c->in + off, c->len - off);
		c->len -= off;
	}
	for (size_t w = 0; w < olen;) {
		ssize_t r = write(c->fd, out + w, olen - w);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1; /* a client that does not read is dropped, this is a benchmark */
		w += (size_t)r;
	}
	return c->len + 1 >= BUF_SIZE ? -1 : 0;
}

static void *run(void *arg)
{
	int lfd = listener(), ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[256];

	(void)arg;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r;

			if (!c) {
				int fd, one = 1;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					c = malloc(sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					c->len = 0;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			r = read(c->fd, c->in + c->len, BUF_SIZE - 1 - c->len);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r > 0) {
				c->len += (size_t)r;
				if (serve(c) == 0)
					continue;
			}
			close(c->fd); /* also leaves the epoll set */
			free(c);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	pthread_t t;

	port = argc > 1 ? atoi(argv[1]) : 0;
	if (port < 1 || port > 65535 || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: rpc_server PORT [THREADS]\n");
		return 2;
	}
	for (int i = 1; i < threads; i++)
		pthread_create(&t, NULL, run, NULL);
	run(NULL);
	return 0;
}
