/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One event loop per process, in the manner of redis' ae: file descriptors (ring buffer epoll
 * fds, sockets, the HTTP server), timers (timerfd), signals (signalfd) and cross-thread wake-ups
 * (eventfd) all arrive through one epoll_wait. Nothing busy-polls. Callbacks run on the loop's
 * thread; only vloop_async_send() and vloop_stop() may be called from other threads.
 *
 * SIGINT and SIGTERM stop the loop by default (vloop_new blocks them and watches them through
 * signalfd), so a daemon's shutdown is: vloop_run() returns, then detach, flush, close.
 */
#ifndef VIGIL_LOOP_H
#define VIGIL_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct vloop;
struct vloop_timer;
struct vloop_async;

typedef void (*vloop_fd_cb)(struct vloop *loop, int fd, uint32_t events, void *ctx);
typedef void (*vloop_cb)(struct vloop *loop, void *ctx);
typedef void (*vloop_signal_cb)(struct vloop *loop, int signo, void *ctx);

/* Returns NULL and sets errno on failure. */
struct vloop *vloop_new(void);
/* Frees the loop and every timer, async and watcher still registered (fds are not closed). */
void vloop_free(struct vloop *loop);

/* Watches @fd for @events (EPOLLIN, EPOLLOUT, ...). One watcher per fd. 0 or -errno. */
int vloop_add_fd(struct vloop *loop, int fd, uint32_t events, vloop_fd_cb cb, void *ctx);
int vloop_mod_fd(struct vloop *loop, int fd, uint32_t events);
int vloop_del_fd(struct vloop *loop, int fd);

/* A timer firing first after @first_ns, then every @interval_ns (0: once; a one-shot timer stays
 * allocated until vloop_timer_del). NULL and errno on failure. */
struct vloop_timer *vloop_timer_add(struct vloop *loop, uint64_t first_ns, uint64_t interval_ns,
				    vloop_cb cb, void *ctx);
/* A periodic timer on its period's grid of CLOCK_MONOTONIC: it fires at the multiples of
 * @interval_ns (the first within one period), so the loop's periodic timers of one period, or of
 * multiples of it, wake the loop once between them instead of once each. NULL and errno on
 * failure. */
struct vloop_timer *vloop_timer_add_aligned(struct vloop *loop, uint64_t interval_ns, vloop_cb cb,
					    void *ctx);
/* Re-arms a timer (first_ns 0 disarms it). 0 or -errno. */
int vloop_timer_set(struct vloop_timer *t, uint64_t first_ns, uint64_t interval_ns);
void vloop_timer_del(struct vloop_timer *t);

/* Calls @cb on the loop's thread when @signo arrives. Replaces the default handling of
 * SIGINT/SIGTERM (stop) when given those. 0 or -errno. */
int vloop_on_signal(struct vloop *loop, int signo, vloop_signal_cb cb, void *ctx);

/* A wake-up another thread can send; several sends before the loop runs the callback coalesce
 * into one call. NULL and errno on failure. */
struct vloop_async *vloop_async_new(struct vloop *loop, vloop_cb cb, void *ctx);
void vloop_async_send(struct vloop_async *a);
void vloop_async_del(struct vloop_async *a);

/* Runs @cb each time before the loop sleeps: the one place where work is batched. 0 or -errno. */
int vloop_before_sleep(struct vloop *loop, vloop_cb cb, void *ctx);

/* Runs until vloop_stop(). Returns 0, or -errno if epoll itself failed. */
int vloop_run(struct vloop *loop);
/* Runs one iteration, waiting at most @timeout_ms (-1: forever). Returns callbacks run or -errno. */
int vloop_run_once(struct vloop *loop, int timeout_ms);
void vloop_stop(struct vloop *loop);
bool vloop_stopped(struct vloop *loop);
/* The signal that stopped the loop, or 0. */
int vloop_stop_signal(struct vloop *loop);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t vloop_now_ns(void);

#endif
