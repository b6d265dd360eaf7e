// SPDX-License-Identifier: GPL-2.0-only
/*
 * vbpf_ringbuf_attach: a real tracepoint program sends one event per getppid() of this process
 * into a ring buffer, and the event loop consumes it. N syscalls must give exactly N events, in
 * order, none from another process, none after detaching.
 */
#include <sys/syscall.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "bpf_ringbuf.h"
#include "bpf_ringbuf.skel.h"
#include "vigil/bpf.h"
#include "vigil/log.h"
#include "vigil/loop.h"

struct seen {
	uint64_t n;
	uint64_t bad_order; /* events whose seq was not the next one */
	uint64_t bad_pid;   /* events that name another process or thread */
	pid_t tgid, tid;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct seen *s = ctx;
	const struct rb_event *e = data;

	if (size < sizeof(*e))
		return -EINVAL;
	if (e->seq != s->n)
		s->bad_order++;
	if ((pid_t)e->tgid != s->tgid || (pid_t)e->tid != s->tid)
		s->bad_pid++;
	s->n++;
	return 0;
}

static void calls(int n)
{
	for (int i = 0; i < n; i++)
		syscall(SYS_getppid);
}

/* Runs the loop until @want events were seen or one iteration passes 1 s without any callback
 * (the bound that keeps a lost event from hanging the test; it is not an assertion on time). */
static void drain(struct vloop *loop, struct seen *s, uint64_t want)
{
	while (s->n < want && vloop_run_once(loop, 1000) > 0)
		;
}

struct fixture {
	struct bpf_ringbuf_bpf *skel;
	struct ring_buffer *rb;
	struct vloop *loop;
	struct seen seen;
};

static bool setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->seen.tgid = getpid();
	f->seen.tid = (pid_t)syscall(SYS_gettid);
	if (!ASSERT_OK(vbpf_init(), "vbpf_init"))
		return false;
	f->skel = bpf_ringbuf_bpf__open();
	if (!ASSERT_NOT_NULL(f->skel, "open skeleton"))
		return false;
	f->skel->rodata->target_tgid = (uint32_t)getpid();
	if (!ASSERT_OK(bpf_ringbuf_bpf__load(f->skel), "load") ||
	    !ASSERT_OK(bpf_ringbuf_bpf__attach(f->skel), "attach tracepoint"))
		return false;
	f->rb = ring_buffer__new(bpf_map__fd(f->skel->maps.events), on_event, &f->seen, NULL);
	if (!ASSERT_NOT_NULL(f->rb, "ring_buffer__new"))
		return false;
	f->loop = vloop_new();
	if (!ASSERT_NOT_NULL(f->loop, "vloop_new"))
		return false;
	return ASSERT_OK(vbpf_ringbuf_attach(f->loop, f->rb), "vbpf_ringbuf_attach");
}

static void teardown(struct fixture *f)
{
	if (f->loop && f->rb)
		vbpf_ringbuf_detach(f->loop, f->rb);
	vloop_free(f->loop);
	ring_buffer__free(f->rb);
	bpf_ringbuf_bpf__destroy(f->skel);
}

/* Two batches, the second after the consumer caught up: that needs a fresh wake-up from the
 * kernel, which is the path a daemon depends on. */
static void test_n_syscalls_n_events(void)
{
	const int n = 1000;
	struct fixture f;

	if (!setup(&f))
		goto out;
	calls(n / 2);
	drain(f.loop, &f.seen, n / 2);
	if (!ASSERT_EQ(f.seen.n, n / 2, "events after the first batch"))
		goto out;
	calls(n - n / 2);
	drain(f.loop, &f.seen, n);
	ASSERT_EQ(f.seen.n, n, "events after both batches");
	ASSERT_EQ(f.seen.bad_order, 0, "events out of order");
	ASSERT_EQ(f.seen.bad_pid, 0, "events naming another process or thread");
	ASSERT_EQ(f.skel->bss->dropped, 0, "reservations that failed");
	ASSERT_EQ(f.skel->bss->seq, n, "events the program submitted");
	/* Nothing more arrives: one more iteration runs no callback. */
	ASSERT_EQ(vloop_run_once(f.loop, 100), 0, "callbacks after the last event");
	ASSERT_EQ(f.seen.n, n, "events after an idle iteration");
out:
	teardown(&f);
}

/* Calls made by another process (a child of the test) are not ours and must not show up. */
static void test_other_process_not_counted(void)
{
	struct fixture f;
	int status = 0;
	pid_t child;

	if (!setup(&f))
		goto out;
	child = fork();
	if (child == 0) {
		calls(100);
		_exit(0);
	}
	if (!ASSERT_GE(child, 1, "fork"))
		goto out;
	waitpid(child, &status, 0);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child ran");
	calls(7);
	drain(f.loop, &f.seen, 7);
	ASSERT_EQ(vloop_run_once(f.loop, 100), 0, "callbacks after the last event");
	ASSERT_EQ(f.seen.n, 7, "events: only this process's 7 calls");
	ASSERT_EQ(f.seen.bad_pid, 0, "events naming another process");
out:
	teardown(&f);
}

/* After vbpf_ringbuf_detach the loop no longer consumes; the records wait in the ring. */
static void test_detach_stops_consuming(void)
{
	struct fixture f;

	if (!setup(&f))
		goto out;
	calls(3);
	drain(f.loop, &f.seen, 3);
	ASSERT_EQ(f.seen.n, 3, "events while attached");
	ASSERT_OK(vbpf_ringbuf_detach(f.loop, f.rb), "detach");
	calls(10);
	ASSERT_EQ(vloop_run_once(f.loop, 100), 0, "callbacks after detaching");
	ASSERT_EQ(f.seen.n, 3, "events consumed after detaching");
	ASSERT_EQ(ring_buffer__consume(f.rb), 10, "records waiting in the ring");
	ASSERT_EQ(f.seen.n, 13, "events after consuming directly");
	ASSERT_OK(vbpf_ringbuf_attach(f.loop, f.rb), "attach again");
	ASSERT_EQ(vbpf_ringbuf_attach(f.loop, f.rb), -EEXIST, "attach twice");
out:
	teardown(&f);
}

static void test_attach_rejects_null(void)
{
	struct vloop *loop = vloop_new();

	if (!ASSERT_NOT_NULL(loop, "vloop_new"))
		return;
	ASSERT_EQ(vbpf_ringbuf_attach(loop, NULL), -EINVAL, "NULL ring buffer");
	ASSERT_EQ(vbpf_ringbuf_attach(NULL, NULL), -EINVAL, "NULL loop");
	vloop_free(loop);
}

TESTS(T(test_n_syscalls_n_events), T(test_other_process_not_counted),
      T(test_detach_stops_consuming), T(test_attach_rejects_null))
