// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event loop: epoll over fds, timerfds, one signalfd and eventfds. See include/vigil/loop.h.
 *
 * Every registration is a `struct watch` whose pointer is the epoll user data, so dispatch is one
 * indirect call. fd watches are also indexed by fd number, so adding, finding and deleting one is
 * O(1) however many connections a daemon holds. A deleted watch leaves the live list at once but
 * is freed only after the current epoll batch, because a later event in the same batch may still
 * point at it.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vigil/loop.h"

enum watch_kind { W_FD, W_TIMER, W_SIGNAL, W_ASYNC };

struct watch {
	enum watch_kind kind;
	int fd;
	bool dead;
	void *ctx;
	union {
		vloop_fd_cb fd_cb;
		vloop_cb cb;
	};
	struct watch *next, *prev; /* the live list, or (next only) the dead list */
	struct vloop *loop;
};

struct vloop_timer {
	struct watch w;
};

struct vloop_async {
	struct watch w;
};

struct sig_handler {
	int signo;
	vloop_signal_cb cb;
	void *ctx;
	struct sig_handler *next;
};

struct hook {
	vloop_cb cb;
	void *ctx;
	struct hook *next;
};

struct vloop {
	int epfd;
	struct watch *watches; /* live */
	struct watch *dead;    /* deleted, freed after the current batch */
	struct watch **fdtab;  /* fd watches by fd number */
	int fdcap;
	struct watch sigwatch;
	sigset_t sigmask;
	struct sig_handler *sigs;
	struct hook *hooks;
	atomic_bool stop;
	atomic_int stop_signal;
	struct vloop_async *stop_async;
	int dispatching;
};

uint64_t vloop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void link_watch(struct vloop *loop, struct watch *w)
{
	w->loop = loop;
	w->prev = NULL;
	w->next = loop->watches;
	if (loop->watches)
		loop->watches->prev = w;
	loop->watches = w;
}

static void free_dead(struct vloop *loop)
{
	while (loop->dead) {
		struct watch *n = loop->dead->next;
		free(loop->dead);
		loop->dead = n;
	}
}

/* Unregisters a watch; frees it now or, during dispatch, after the current batch. */
static void kill_watch(struct vloop *loop, struct watch *w)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (w->kind != W_FD)
		close(w->fd);
	else if (w->fd < loop->fdcap)
		loop->fdtab[w->fd] = NULL;
	if (w->prev)
		w->prev->next = w->next;
	else
		loop->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->dead = true;
	w->next = loop->dead;
	loop->dead = w;
	if (!loop->dispatching)
		free_dead(loop);
}

static void stop_cb(struct vloop *loop, void *ctx)
{
	(void)ctx;
	atomic_store(&loop->stop, true);
}

static int update_sigfd(struct vloop *loop)
{
	int fd = signalfd(loop->sigwatch.fd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL))
		return -errno;
	loop->sigwatch.fd = fd;
	return 0;
}

struct vloop *vloop_new(void)
{
	struct vloop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		goto fail;
	sigemptyset(&loop->sigmask);
	sigaddset(&loop->sigmask, SIGINT);
	sigaddset(&loop->sigmask, SIGTERM);
	loop->sigwatch.kind = W_SIGNAL;
	loop->sigwatch.fd = -1;
	loop->sigwatch.loop = loop;
	err = update_sigfd(loop);
	if (err) {
		errno = -err;
		goto fail;
	}
	ev.data.ptr = &loop->sigwatch;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->sigwatch.fd, &ev))
		goto fail;
	/* vloop_stop() from another thread must wake epoll_wait */
	loop->stop_async = vloop_async_new(loop, stop_cb, NULL);
	if (!loop->stop_async)
		goto fail;
	/* a writer to a closed socket must get EPIPE, not kill the daemon */
	signal(SIGPIPE, SIG_IGN);
	return loop;
fail:
	err = errno;
	if (loop->sigwatch.fd >= 0)
		close(loop->sigwatch.fd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	free(loop);
	errno = err;
	return NULL;
}

void vloop_free(struct vloop *loop)
{
	if (!loop)
		return;
	for (struct watch *w = loop->watches, *n; w; w = n) {
		n = w->next;
		if (w->kind != W_FD)
			close(w->fd);
		free(w);
	}
	free_dead(loop);
	free(loop->fdtab);
	while (loop->sigs) {
		struct sig_handler *n = loop->sigs->next;
		free(loop->sigs);
		loop->sigs = n;
	}
	while (loop->hooks) {
		struct hook *n = loop->hooks->next;
		free(loop->hooks);
		loop->hooks = n;
	}
	/* give the signals back their default dispositions' delivery */
	sigprocmask(SIG_UNBLOCK, &loop->sigmask, NULL);
	close(loop->sigwatch.fd);
	close(loop->epfd);
	free(loop);
}

static struct watch *find_fd(struct vloop *loop, int fd)
{
	return fd >= 0 && fd < loop->fdcap ? loop->fdtab[fd] : NULL;
}

static int fdtab_reserve(struct vloop *loop, int fd)
{
	int cap = loop->fdcap ? loop->fdcap : 64;
	struct watch **t;

	if (fd < loop->fdcap)
		return 0;
	while (cap <= fd)
		cap *= 2;
	t = realloc(loop->fdtab, (size_t)cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t + loop->fdcap, 0, (size_t)(cap - loop->fdcap) * sizeof(*t));
	loop->fdtab = t;
	loop->fdcap = cap;
	return 0;
}

int vloop_add_fd(struct vloop *loop, int fd, uint32_t events, vloop_fd_cb cb, void *ctx)
{
	struct epoll_event ev = { .events = events };
	struct watch *w;

	if (fd < 0 || !cb)
		return -EINVAL;
	if (find_fd(loop, fd))
		return -EEXIST;
	if (fdtab_reserve(loop, fd))
		return -ENOMEM;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->kind = W_FD;
	w->fd = fd;
	w->fd_cb = cb;
	w->ctx = ctx;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;
		free(w);
		return err;
	}
	link_watch(loop, w);
	loop->fdtab[fd] = w;
	return 0;
}

int vloop_mod_fd(struct vloop *loop, int fd, uint32_t events)
{
	struct watch *w = find_fd(loop, fd);
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOENT;
	ev.data.ptr = w;
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

int vloop_del_fd(struct vloop *loop, int fd)
{
	struct watch *w = find_fd(loop, fd);

	if (!w)
		return -ENOENT;
	kill_watch(loop, w);
	return 0;
}

static struct itimerspec its_of(uint64_t first_ns, uint64_t interval_ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(first_ns / 1000000000ull),
			      .tv_nsec = (long)(first_ns % 1000000000ull) },
		.it_interval = { .tv_sec = (time_t)(interval_ns / 1000000000ull),
				 .tv_nsec = (long)(interval_ns % 1000000000ull) },
	};
	return its;
}

/* A timer watch, not armed yet. */
static struct vloop_timer *timer_new(struct vloop *loop, vloop_cb cb, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct vloop_timer *t;
	int err;

	if (!cb) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->w.kind = W_TIMER;
	t->w.cb = cb;
	t->w.ctx = ctx;
	t->w.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->w.fd < 0)
		goto fail;
	ev.data.ptr = &t->w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, t->w.fd, &ev))
		goto fail;
	link_watch(loop, &t->w);
	return t;
fail:
	err = errno;
	if (t->w.fd >= 0)
		close(t->w.fd);
	free(t);
	errno = err;
	return NULL;
}

/* Arms @t at @its (absolute when @flags is TFD_TIMER_ABSTIME), or frees it and returns NULL. */
static struct vloop_timer *timer_arm(struct vloop_timer *t, int flags, const struct itimerspec *its)
{
	int err;

	if (timerfd_settime(t->w.fd, flags, its, NULL)) {
		err = errno;
		vloop_timer_del(t);
		errno = err;
		return NULL;
	}
	return t;
}

struct vloop_timer *vloop_timer_add(struct vloop *loop, uint64_t first_ns, uint64_t interval_ns,
				    vloop_cb cb, void *ctx)
{
	struct vloop_timer *t = timer_new(loop, cb, ctx);
	struct itimerspec its = its_of(first_ns ? first_ns : 1, interval_ns);

	return t ? timer_arm(t, 0, &its) : NULL;
}

struct vloop_timer *vloop_timer_add_aligned(struct vloop *loop, uint64_t interval_ns, vloop_cb cb,
					    void *ctx)
{
	struct vloop_timer *t;
	struct itimerspec its;

	if (!interval_ns) {
		errno = EINVAL;
		return NULL;
	}
	t = timer_new(loop, cb, ctx);
	if (!t)
		return NULL;
	its = its_of((vloop_now_ns() / interval_ns + 1) * interval_ns, interval_ns);
	return timer_arm(t, TFD_TIMER_ABSTIME, &its);
}

int vloop_timer_set(struct vloop_timer *t, uint64_t first_ns, uint64_t interval_ns)
{
	struct itimerspec its = its_of(first_ns, interval_ns);

	return timerfd_settime(t->w.fd, 0, &its, NULL) ? -errno : 0;
}

void vloop_timer_del(struct vloop_timer *t)
{
	if (t)
		kill_watch(t->w.loop, &t->w);
}

int vloop_on_signal(struct vloop *loop, int signo, vloop_signal_cb cb, void *ctx)
{
	struct sig_handler *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	h->signo = signo;
	h->cb = cb;
	h->ctx = ctx;
	h->next = loop->sigs;
	loop->sigs = h;
	sigaddset(&loop->sigmask, signo);
	err = update_sigfd(loop);
	return err;
}

struct vloop_async *vloop_async_new(struct vloop *loop, vloop_cb cb, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct vloop_async *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return NULL;
	a->w.kind = W_ASYNC;
	a->w.cb = cb;
	a->w.ctx = ctx;
	a->w.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->w.fd < 0)
		goto fail;
	ev.data.ptr = &a->w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, a->w.fd, &ev))
		goto fail;
	link_watch(loop, &a->w);
	return a;
fail:
	err = errno;
	if (a->w.fd >= 0)
		close(a->w.fd);
	free(a);
	errno = err;
	return NULL;
}

void vloop_async_send(struct vloop_async *a)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: a wake-up is pending anyway */
	if (write(a->w.fd, &one, sizeof(one)) < 0)
		return;
}

void vloop_async_del(struct vloop_async *a)
{
	if (a)
		kill_watch(a->w.loop, &a->w);
}

int vloop_before_sleep(struct vloop *loop, vloop_cb cb, void *ctx)
{
	struct hook *h = calloc(1, sizeof(*h)), **pp = &loop->hooks;

	if (!h)
		return -ENOMEM;
	h->cb = cb;
	h->ctx = ctx;
	while (*pp) /* run in registration order */
		pp = &(*pp)->next;
	*pp = h;
	return 0;
}

static void handle_signals(struct vloop *loop)
{
	struct signalfd_siginfo si;

	while (read(loop->sigwatch.fd, &si, sizeof(si)) == sizeof(si)) {
		int signo = (int)si.ssi_signo;
		bool handled = false;

		for (struct sig_handler *h = loop->sigs; h; h = h->next) {
			if (h->signo == signo) {
				h->cb(loop, signo, h->ctx);
				handled = true;
			}
		}
		if (!handled && (signo == SIGINT || signo == SIGTERM)) {
			atomic_store(&loop->stop_signal, signo);
			atomic_store(&loop->stop, true);
		}
	}
}

int vloop_run_once(struct vloop *loop, int timeout_ms)
{
	struct epoll_event evs[64];
	int n, ran = 0;

	for (struct hook *h = loop->hooks; h; h = h->next)
		h->cb(loop, h->ctx);
	if (atomic_load(&loop->stop))
		return 0;
	n = epoll_wait(loop->epfd, evs, 64, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	loop->dispatching++;
	for (int i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;
		uint64_t cnt;

		if (w->dead)
			continue;
		switch (w->kind) {
		case W_FD:
			w->fd_cb(loop, w->fd, evs[i].events, w->ctx);
			break;
		case W_TIMER:
		case W_ASYNC:
			/* drain first so a callback that re-arms or re-sends is not lost */
			if (read(w->fd, &cnt, sizeof(cnt)) != sizeof(cnt))
				continue;
			w->cb(loop, w->ctx);
			break;
		case W_SIGNAL:
			handle_signals(loop);
			break;
		}
		ran++;
	}
	loop->dispatching--;
	if (!loop->dispatching)
		free_dead(loop);
	return ran;
}

int vloop_run(struct vloop *loop)
{
	while (!atomic_load(&loop->stop)) {
		int r = vloop_run_once(loop, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

void vloop_stop(struct vloop *loop)
{
	atomic_store(&loop->stop, true);
	vloop_async_send(loop->stop_async);
}

bool vloop_stopped(struct vloop *loop)
{
	return atomic_load(&loop->stop);
}

int vloop_stop_signal(struct vloop *loop)
{
	return atomic_load(&loop->stop_signal);
}
