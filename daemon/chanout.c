/* SPDX-License-Identifier: ISC */
/*
 * What one side of the monitor channel has sent but the socket did not
 * take yet (monitor.h, struct channel_out).
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "monitor.h"

struct channel_msg {
	TAILQ_ENTRY(channel_msg)	 entry;
	size_t				 len;
	uint8_t				 data[];
};

static void
out_drop(struct channel_out *o, struct channel_msg *cm)
{
	TAILQ_REMOVE(&o->q, cm, entry);
	o->bytes -= cm->len;
	explicit_bzero(cm->data, cm->len);
	free(cm);
}

/* 1 when everything went, 0 when some waits, -1 when the other side is gone. */
static int
out_flush(struct channel_out *o)
{
	struct channel_msg	*cm;
	ssize_t			 n;

	while ((cm = TAILQ_FIRST(&o->q)) != NULL) {
		do
			n = send(o->sock, cm->data, cm->len,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n == -1 && errno == EINTR);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n != (ssize_t)cm->len)
			return -1;
		out_drop(o, cm);
	}
	return 1;
}

static void
out_cb(evutil_socket_t fd, short events, void *arg)
{
	struct channel_out	*o = arg;
	int			 rc;

	(void)fd;
	(void)events;
	if ((rc = out_flush(o)) == -1)
		o->gone();
	else if (rc == 1)
		event_del(o->ev);
}

int
channel_out_init(struct channel_out *o, struct event_base *base, int sock,
    void (*gone)(void))
{
	memset(o, 0, sizeof(*o));
	o->sock = sock;
	o->gone = gone;
	TAILQ_INIT(&o->q);
	o->ev = event_new(base, sock, EV_WRITE | EV_PERSIST, out_cb, o);
	return o->ev == NULL ? -1 : 0;
}

int
channel_out_send(struct channel_out *o, const struct wbuf *w)
{
	struct channel_msg	*cm;
	ssize_t			 n;

	if (w->failed)
		goto gone;
	if (TAILQ_EMPTY(&o->q)) {
		do
			n = send(o->sock, w->data, w->len,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n == -1 && errno == EINTR);
		if (n == (ssize_t)w->len)
			return 0;
		if (n != -1 || (errno != EAGAIN && errno != EWOULDBLOCK))
			goto gone;
	}
	if (o->bytes + w->len > CHANNEL_QUEUE_MAX ||
	    (cm = malloc(sizeof(*cm) + w->len)) == NULL)
		goto gone;
	cm->len = w->len;
	memcpy(cm->data, w->data, w->len);
	TAILQ_INSERT_TAIL(&o->q, cm, entry);
	o->bytes += w->len;
	if (event_add(o->ev, NULL) == -1)
		goto gone;
	return 0;
gone:
	o->gone();
	return -1;
}

void
channel_out_free(struct channel_out *o)
{
	while (!TAILQ_EMPTY(&o->q))
		out_drop(o, TAILQ_FIRST(&o->q));
	if (o->ev != NULL)
		event_free(o->ev);
	o->ev = NULL;
}
