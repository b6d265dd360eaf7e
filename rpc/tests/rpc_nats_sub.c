// SPDX-License-Identifier: GPL-2.0-only
/*
 * A NATS subscriber for int_rpc_nats.sh (libnats, the C client): subscribes to each SUBJECT and
 * prints every message as "subject<TAB>data" on stdout, one per line, until SIGTERM. It prints
 * "ready" on stderr once the server has registered the subscriptions (after a flush).
 *
 *   rpc_nats_sub URL SUBJECT...
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <nats/nats.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	(void)nc;
	(void)sub;
	(void)closure;
	/* the callbacks of one connection run on one thread: lines never interleave */
	printf("%s\t%.*s\n", natsMsg_GetSubject(msg), natsMsg_GetDataLength(msg),
	       natsMsg_GetData(msg));
	fflush(stdout);
	natsMsg_Destroy(msg);
}

int main(int argc, char **argv)
{
	natsConnection *nc = NULL;
	natsSubscription *subs[16] = { 0 };
	natsStatus s;
	int n = argc - 2;

	if (argc < 3 || n > 16) {
		fprintf(stderr, "usage: %s URL SUBJECT... (at most 16)\n", argv[0]);
		return 2;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	s = natsConnection_ConnectTo(&nc, argv[1]);
	for (int i = 0; s == NATS_OK && i < n; i++)
		s = natsConnection_Subscribe(&subs[i], nc, argv[i + 2], on_msg, NULL);
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(nc, 5000);
	if (s != NATS_OK) {
		fprintf(stderr, "rpc_nats_sub: %s: %s\n", argv[1], natsStatus_GetText(s));
		return 1;
	}
	fprintf(stderr, "ready\n");
	while (!stop)
		usleep(20000);
	/* take what the server already sent before leaving */
	natsConnection_FlushTimeout(nc, 2000);
	usleep(200000);
	for (int i = 0; i < n; i++)
		natsSubscription_Destroy(subs[i]);
	natsConnection_Destroy(nc);
	nats_Close();
	return 0;
}
