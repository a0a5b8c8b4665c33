/*
 * thread_util.h — bounded waits for the unit suites' threads: a join that
 * fails the test when the thread has not exited within THREAD_WAIT_S, and a
 * one-shot gate (a condition the test thread and a worker wait on, also
 * bounded).  No test sleeps to wait for something.
 */
#ifndef STRATA_TEST_THREAD_UTIL_H
#define STRATA_TEST_THREAD_UTIL_H

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#define THREAD_WAIT_S 10

static inline struct timespec
deadline_in(int seconds)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += seconds;
	return t;
}

/* Joins th, failing the test if it has not exited within THREAD_WAIT_S. */
static inline void
join_bounded(pthread_t th)
{
	struct timespec deadline = deadline_in(THREAD_WAIT_S);
	int err = pthread_timedjoin_np(th, NULL, &deadline);
	ck_assert_msg(err == 0, "thread did not exit within %d s (error %d)", THREAD_WAIT_S, err);
}

/* A one-shot gate between the test thread and a worker. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
};
#define GATE_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false}

static inline void
gate_init(struct gate *g)
{
	*g = (struct gate)GATE_INIT;
}

static inline void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* Waits for the gate to open, at most THREAD_WAIT_S; true if it did. */
static inline bool
gate_wait(struct gate *g)
{
	struct timespec deadline = deadline_in(THREAD_WAIT_S);
	pthread_mutex_lock(&g->mu);
	int err = 0;
	while (!g->open && err == 0)
		err = pthread_cond_timedwait(&g->cv, &g->mu, &deadline);
	bool open = g->open;
	pthread_mutex_unlock(&g->mu);
	return open;
}

#endif
