/* SPDX-License-Identifier: ISC */
/*
 * The writer thread: every write of the daemon (ISSUE, REVOKE,
 * REVOKE_ALL, the purge of expired tokens, saved last-used times) goes
 * through it, so the event loop never waits for an fsync.  Whatever has
 * queued while one transaction commits goes into the next one: under
 * load many writes share one sync (group commit).
 *
 * An op is the submitter's until its done callback runs, on the event
 * loop, after the write is durable (or failed).  Its requester waits
 * for it: a connection takes no further frame meanwhile, so answers
 * keep their order.
 */
#ifndef TOKEND_WRITER_H
#define TOKEND_WRITER_H

#include "store.h"

/* Start the thread; writer_fd() is then readable when ops are done. */
int	 writer_start(struct store *st, char **cause);
int	 writer_fd(void);
/*
 * Once writer_stop() has run (the daemon exiting, outside the event
 * loop), the op is written at once and its callback runs before this
 * returns; callers inside the loop never see that.
 */
void	 writer_submit(struct store_op *op);
/* On the event loop, when writer_fd() is readable: run done callbacks. */
void	 writer_done(void);
/* Ops queued or being written (STATUS). */
unsigned writer_pending(void);
/* Finish what was submitted, run its callbacks, end the thread. */
void	 writer_stop(void);

#endif /* TOKEND_WRITER_H */
