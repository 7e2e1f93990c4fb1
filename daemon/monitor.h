/* SPDX-License-Identifier: ISC */
/*
 * The two processes of tokend and the one channel between them
 * (daemon/MONITOR.md says it in prose).
 *
 * The monitor (root) does only what needs root: it reads the
 * configuration and the key file, binds the socket, makes db_dir and
 * gives it to the engine's user, starts the PAM helpers and the account
 * helper and relays their messages.  It never reads a byte from a client.
 * The engine (user `user`, default "tokend"; no capabilities, no new
 * privileges, chrooted to db_dir, a seccomp filter) does everything else:
 * the event loop, every client byte, the store, the caches, the writer
 * thread.  VERIFY and EXCHANGE never cross the channel.
 *
 * The channel is one SOCK_SEQPACKET socketpair: each message is one
 * datagram, a frame with the protocol's header and one of the types
 * below.  Its type, and its length against that type's bounds, are
 * checked before anything else (frame_next); a message that fails, that
 * does not decode exactly, or that is not expected now ends the daemon:
 * the side that got it logs why and exits, and the other follows.
 *
 * Both ends are always the same binary (the monitor starts the engine
 * from its own executable), so the configuration travels as struct
 * config; MON_INIT carries its size, and another size stops the engine.
 */
#ifndef TOKEND_MONITOR_H
#define TOKEND_MONITOR_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "proto.h"

/*
 * monitor -> engine
 *   MON_INIT       u32 sizeof(struct config), struct config, u8 foreground,
 *                  u8 debug, u32 uid, u32 gid, u8 have_admin, u32 admin_gid,
 *                  u8 have_verifier, u32 verifier_gid, i64 started,
 *                  u32 monitor pid; with the listening socket (SCM_RIGHTS)
 *   MON_KEY        32 bytes: the master key
 *   MON_CONFIG     u32 size, struct config, u8 have_admin, u32 admin_gid,
 *                  u8 have_verifier, u32 verifier_gid (after SIGHUP)
 *   MON_PAM_CONV   u32 job, then a CONV frame body (the PAM helper's)
 *   MON_PAM_RESULT u32 job, u8 result (MON_PAM_*), u32 uid, string why
 *   MON_ACCT_ANSWER the account helper's answer body (account.h)
 *   MON_ACCT_LOST  empty: the account helper ended; a new one comes
 *   MON_STOP       empty: stop as on SIGTERM (the monitor, root, may not
 *                  signal the engine's user without CAP_KILL)
 *   MON_OTP_ANSWER u32 job, u8 result (MON_OTP_*), i64 since (the file's
 *                  time), string why
 *   MON_FLEET      empty, with the link to the fleet process (SCM_RIGHTS):
 *                  fleet mode only, once the engine is ready (fleet.h)
 * engine -> monitor
 *   MON_KEY_WANTED u8 the database is empty (a new key may be made)
 *   MON_READY      empty: the engine listens
 *   MON_PAM_START  u32 job, u32 caller uid, string user, string ruser,
 *                  u8 mode (MON_PAM_MODE_*: what PAM is for)
 *   MON_PAM_REPLY  u32 job, then a CONV_REPLY frame body
 *   MON_PAM_CANCEL u32 job
 *   MON_ACCT_ASK   u8 request type (ACCOUNT_REQ_*), u32 uid, string name
 *   MON_ACCT_RESET empty: the account helper is stuck; replace it
 *   MON_LOG        u8 syslog priority, string message (when not on stderr)
 *   MON_OTP_ASK    u32 job, u8 OTP_STATUS or OTP_REMOVE (proto.h), string
 *                  user: is user enrolled for one-time codes; remove it
 *                  (an admin's request, checked by the engine)
 */
#define MON_INIT		0xc1
#define MON_KEY			0xc2
#define MON_CONFIG		0xc3
#define MON_PAM_CONV		0xc4
#define MON_PAM_RESULT		0xc5
#define MON_ACCT_ANSWER		0xc6
#define MON_ACCT_LOST		0xc7
#define MON_STOP		0xc8
#define MON_OTP_ANSWER		0xc9
#define MON_FLEET		0xca

#define MON_KEY_WANTED		0xd1
#define MON_READY		0xd2
#define MON_PAM_START		0xd3
#define MON_PAM_REPLY		0xd4
#define MON_PAM_CANCEL		0xd5
#define MON_ACCT_ASK		0xd6
#define MON_ACCT_RESET		0xd7
#define MON_LOG			0xd8
#define MON_OTP_ASK		0xd9

/* MON_PAM_RESULT's result. */
#define MON_PAM_OK		0	/* authenticated, uid as the monitor resolved it */
#define MON_PAM_FAILED		1	/* PAM said no (why) */
#define MON_PAM_ENDED		2	/* the helper ended without an answer */
#define MON_PAM_NOSTART		3	/* no helper could be started */
#define MON_PAM_REFUSED		4	/* refused before PAM ran (why): not enrolled */
#define MON_PAM_AFTER		5	/* PAM said yes, the enrolment then failed:
					   uid holds the PERR_* code, why says why */

/* MON_PAM_START's mode: what the helper does once PAM said yes. */
#define MON_PAM_MODE_ISSUE	0	/* nothing more: the engine makes a token */
#define MON_PAM_MODE_ENROLL	1	/* a new OTP secret, confirmed by a code */
#define MON_PAM_MODE_REMOVE	2	/* remove the user's OTP secret */

/* MON_OTP_ANSWER's result. */
#define MON_OTP_NONE		0	/* not enrolled (nothing removed) */
#define MON_OTP_YES		1	/* enrolled (since), or removed */
#define MON_OTP_ERROR		2	/* the file could not be read or removed (why) */

#define MON_KEY_BYTES		32
#define MON_MSG_MAX		(TOKEND_HDR_LEN + TOKEND_FRAME_MAX)
#define MON_LOG_MAX		1024	/* a MON_LOG message's text */

/*
 * A message from the engine to the monitor, as mon_decode() checked it
 * and mon_encode() writes it.  Which fields a type uses:
 *   KEY_WANTED  flag (1: the database is empty)
 *   LOG         flag (syslog priority), text
 *   PAM_START   id, uid (the caller), user, ruser, flag (MON_PAM_MODE_*)
 *   OTP_ASK     id, flag (OTP_STATUS or OTP_REMOVE), user
 *   PAM_REPLY   id, reply/reply_len (a CONV_REPLY body that decodes)
 *   PAM_CANCEL  id
 *   ACCT_ASK    flag (ACCOUNT_REQ_*), uid, user ("" for BY_UID)
 *   READY, ACCT_RESET: nothing
 */
struct mon_msg {
	uint8_t		 type;
	uint8_t		 flag;
	uint32_t	 id;
	uint32_t	 uid;
	char		 user[TOKEND_USER_MAX + 1];
	char		 ruser[TOKEND_USER_MAX + 1];
	char		 text[MON_LOG_MAX + 1];
	const uint8_t	*reply;		/* points into the received body */
	size_t		 reply_len;
};

/* The rules each side checks what it receives against (channel.c). */
extern const struct frame_rules channel_to_engine;
extern const struct frame_rules channel_to_monitor;

/*
 * Send one message (a whole frame in w) on the channel, with fd passed
 * along when it is not -1.  0, or -1 when the other side is gone.
 */
int	 channel_send(int sock, const struct wbuf *w, int fd);
/*
 * Receive one message into buf[MON_MSG_MAX] and check it against rules:
 * 1 with *hdr and *body filled (and *fd, -1 when none came), 0 when
 * nothing is there yet (non-blocking socket), -1 when the other side is
 * gone, -2 when the message breaks the rules (*why).
 */
int	 channel_recv(int sock, uint8_t *buf, const struct frame_rules *rules,
	     struct frame_hdr *hdr, const uint8_t **body, int *fd,
	     const char **why);
/*
 * The check channel_recv() makes of one received message of n bytes:
 * one whole frame of an allowed type and length, nothing before or after
 * it.  0 with *hdr, or -1 with *why.
 */
int	 channel_check(const uint8_t *msg, size_t n,
	     const struct frame_rules *rules, struct frame_hdr *hdr,
	     const char **why);
const char *channel_type_name(int type);

/*
 * What one side has sent but the socket did not take yet (the other side
 * is busy): kept in order, sent when the socket can take it, wiped when
 * freed (PAM answers pass here).  Neither side ever blocks on the other,
 * and nothing is dropped: past CHANNEL_QUEUE_MAX bytes the other side is
 * taken for stuck, and gone() is called.
 */
#define CHANNEL_QUEUE_MAX	(4 * 1024 * 1024)
struct event_base;
struct channel_msg;
struct channel_out {
	int				 sock;
	TAILQ_HEAD(, channel_msg)	 q;
	size_t				 bytes;
	struct event			*ev;
	void				(*gone)(void);
};
/* Set up o for sock; gone() is called when the other side is gone or stuck. */
int	 channel_out_init(struct channel_out *o, struct event_base *base,
	     int sock, void (*gone)(void));
/* Send w (a whole frame), or queue it behind what waits.  0, or -1 after gone(). */
int	 channel_out_send(struct channel_out *o, const struct wbuf *w);
void	 channel_out_free(struct channel_out *o);
/*
 * A user name the monitor acts on: not empty, no control character, ':'
 * or '/', not "-..." nor "." nor "..".  The engine answers "no such user"
 * for any other name before it could ask the monitor about it.
 */
int	 mon_user_ok(const char *name);
/*
 * Decode the body of an engine -> monitor message whose type and length
 * channel_recv() accepted: exactly, with every field in range (user names
 * as mon_user_ok() wants them, a PAM reply that is a
 * well-formed CONV_REPLY, log text without control characters).  0, or
 * -1 with *why.  Whether the message is expected now is the monitor's to
 * judge.
 */
int	 mon_decode(uint8_t type, const uint8_t *body, size_t len,
	     struct mon_msg *m, const char **why);
/* Append m as a whole frame to w (what the engine sends). */
void	 mon_encode(struct wbuf *w, const struct mon_msg *m);

/* What tokend's command line asks of the monitor. */
#define MON_NFLAGS	6
struct monitor_opts {
	char		 conf_path[PATH_MAX];
	int		 conf_given;		/* -c: the file must exist */
	/* socket_path, db_dir, key_file, pam_service, pam_confdir, user */
	const char	*flags[MON_NFLAGS];	/* win over the file, also on SIGHUP */
	int		 foreground;
	int		 debug;
	int		 check;			/* -n: check the configuration, exit */
	int		 key_id;		/* --key-id: print the key's fingerprint */
	int		 init_db;		/* --init-db: the fleet's schema */
	const char	*import_lmdb;		/* --import-lmdb DIR: into the fleet */
};

/* tokend (no mode flag): the monitor, which starts the engine (monitor.c). */
int	 monitor_main(const struct monitor_opts *) __attribute__((noreturn));
/* tokend --engine: the engine (engine.c). */
int	 engine_main(int argc, char **argv) __attribute__((noreturn));

/*
 * What the engine's modules send to the monitor (engine.c owns the
 * channel): a whole frame in w.  Returns 0, or -1 when the monitor is
 * gone (the engine is then stopping).
 */
int	 engine_send(const struct wbuf *w);

#endif /* TOKEND_MONITOR_H */
