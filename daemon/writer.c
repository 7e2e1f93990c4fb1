/* SPDX-License-Identifier: ISC */
/*
 * The writer thread (writer.h).  Queues under one mutex; the thread
 * wakes the event loop through an eventfd.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "writer.h"

/* Ops per transaction: bounds how long the first of them waits. */
#define WRITER_BATCH	128

TAILQ_HEAD(oplist, store_op);

static struct store	*store;
static pthread_t	 thread;
static int		 running;
static int		 efd = -1;
static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 wake = PTHREAD_COND_INITIALIZER;
static struct oplist	 todo = TAILQ_HEAD_INITIALIZER(todo);
static struct oplist	 done = TAILQ_HEAD_INITIALIZER(done);
static unsigned		 pending;	/* submitted, callback not yet run */
static int		 stopping;

static void
wake_loop(void)
{
	uint64_t	one = 1;

	/* Only fails when the counter is saturated: the loop is awake anyway. */
	while (write(efd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
}

static void *
writer_main(void *arg)
{
	struct store_op	*batch[WRITER_BATCH], *op;
	size_t		 n, i;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (TAILQ_EMPTY(&todo) && !stopping)
			pthread_cond_wait(&wake, &lock);
		if (TAILQ_EMPTY(&todo))
			break;		/* stopping, and nothing left */
		for (n = 0; n < WRITER_BATCH &&
		    (op = TAILQ_FIRST(&todo)) != NULL; n++) {
			TAILQ_REMOVE(&todo, op, entry);
			batch[n] = op;
		}
		pthread_mutex_unlock(&lock);

		store_apply(store, batch, n);

		pthread_mutex_lock(&lock);
		for (i = 0; i < n; i++)
			TAILQ_INSERT_TAIL(&done, batch[i], entry);
		wake_loop();
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int
writer_start(struct store *st, char **cause)
{
	sigset_t	all, old;
	int		rc;

	if ((efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		cause_set(cause, "eventfd: %s", strerror(errno));
		return -1;
	}
	store = st;
	stopping = 0;
	/* Signals are the event loop's: the thread blocks them all. */
	sigfillset(&all);
	/* Signals are the event loop's; a seccomp refusal is everybody's. */
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&thread, NULL, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		cause_set(cause, "cannot start the writer thread: %s",
		    strerror(rc));
		close(efd);
		efd = -1;
		return -1;
	}
	running = 1;
	return 0;
}

int
writer_fd(void)
{
	return efd;
}

void
writer_submit(struct store_op *op)
{
	op->result = STORE_OK;
	op->cause = NULL;
	op->count = 0;
	if (!running) {
		/* Stopped (the daemon is exiting): write here and now. */
		store_apply(store, &op, 1);
		op->done(op);
		return;
	}
	pthread_mutex_lock(&lock);
	TAILQ_INSERT_TAIL(&todo, op, entry);
	pending++;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
}

void
writer_done(void)
{
	struct oplist	 ready = TAILQ_HEAD_INITIALIZER(ready);
	struct store_op	*op;
	uint64_t	 n;

	if (efd == -1)
		return;
	while (read(efd, &n, sizeof(n)) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&lock);
	while ((op = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, op, entry);
		TAILQ_INSERT_TAIL(&ready, op, entry);
		pending--;
	}
	pthread_mutex_unlock(&lock);
	store_written(store);
	/* Callbacks may submit again: the lock is not held. */
	while ((op = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, op, entry);
		op->done(op);
	}
}

unsigned
writer_pending(void)
{
	unsigned	n;

	pthread_mutex_lock(&lock);
	n = pending;
	pthread_mutex_unlock(&lock);
	return n;
}

void
writer_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = 0;
	writer_done();
	close(efd);
	efd = -1;
}
