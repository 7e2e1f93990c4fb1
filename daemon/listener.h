/* SPDX-License-Identifier: ISC */
/*
 * The listening socket (listener.c).
 */
#ifndef TOKEND_LISTENER_H
#define TOKEND_LISTENER_H

/* The monitor: a socket inherited from systemd (LISTEN_FDS), or -1. */
int	 listener_inherited(void);
/*
 * The monitor: bind path (mode 0666; its folder made when missing),
 * removing a stale socket and refusing one a live daemon answers on.
 */
int	 listener_bind(const char *path, char **cause);
/* The engine: accept connections on fd (conn.h takes them on). */
int	 listener_open(int fd, char **cause);
void	 listener_close(void);

#endif /* TOKEND_LISTENER_H */
