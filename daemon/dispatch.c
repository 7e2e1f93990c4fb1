/* SPDX-License-Identifier: ISC */
/*
 * Requests: one table says who may send each type and which handler
 * answers it; handlers decode, check, and queue exactly one reply (LIST:
 * a series of LIST_RESULT frames; ISSUE: CONV frames, then one reply).
 *
 * A handler that needs a user look-up or an account check whose answer
 * is not cached returns CONN_FRAME_RETRY before it has done anything
 * else: the connection hands the same frame over again once the answer
 * is in (account.h).  A request that takes longer (PAM, a durable write,
 * a long listing) puts its connection in a waiting state (conn_wait)
 * and ends it with conn_done().
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "clock.h"
#include "conn.h"
#include "daemon.h"
#include "duration.h"
#include "fleet.h"
#include "log.h"
#include "monitor.h"
#include "otpask.h"
#include "pamhelper.h"
#include "ratelimit.h"
#include "store.h"
#include "token.h"
#include "tokenfmt.h"
#include "vcache.h"
#include "writer.h"

enum who {
	WHO_ANY,		/* every local user */
	WHO_VERIFIER,		/* root and the verifier group */
};

static int	handle_issue(struct conn *, const uint8_t *, size_t);
static int	handle_rename(struct conn *, const uint8_t *, size_t);
static int	handle_unlock(struct conn *, const uint8_t *, size_t);
static int	handle_rotate(struct conn *, const uint8_t *, size_t);
static int	handle_conv_reply(struct conn *, const uint8_t *, size_t);
static int	handle_list(struct conn *, const uint8_t *, size_t);
static int	handle_revoke(struct conn *, const uint8_t *, size_t);
static int	handle_revoke_all(struct conn *, const uint8_t *, size_t);
static int	handle_exchange(struct conn *, const uint8_t *, size_t);
static int	handle_verify(struct conn *, const uint8_t *, size_t);
static int	handle_status(struct conn *, const uint8_t *, size_t);
static int	handle_otp(struct conn *, const uint8_t *, size_t);
static void	pam_authenticated(struct conn *, const struct msg_issue *,
		    uid_t, int);

/* Length bounds per type live beside the decoders (protocol/wire.c). */
static const struct handler {
	int		 type;
	enum who	 who;
	int		(*fn)(struct conn *, const uint8_t *, size_t);
} handlers[] = {
	{ MSG_ISSUE,		WHO_ANY,	handle_issue },
	{ MSG_CONV_REPLY,	WHO_ANY,	handle_conv_reply },
	{ MSG_LIST,		WHO_ANY,	handle_list },
	{ MSG_REVOKE,		WHO_ANY,	handle_revoke },
	{ MSG_REVOKE_ALL,	WHO_ANY,	handle_revoke_all },
	{ MSG_EXCHANGE,		WHO_ANY,	handle_exchange },
	{ MSG_VERIFY,		WHO_VERIFIER,	handle_verify },
	{ MSG_STATUS,		WHO_ANY,	handle_status },
	{ MSG_RENAME,		WHO_ANY,	handle_rename },
	{ MSG_UNLOCK,		WHO_ANY,	handle_unlock },
	{ MSG_ROTATE,		WHO_ANY,	handle_rotate },
	{ MSG_OTP,		WHO_ANY,	handle_otp },
};

static struct wbuf	reply;		/* scratch for one answer */

static int
dispatch_frame(struct conn *c, int type, const uint8_t *body, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (handlers[i].type != type)
			continue;
		if (handlers[i].who == WHO_VERIFIER &&
		    !conn_peer(c)->is_verifier) {
			conn_error(c, PERR_DENIED, "%s is for root and the "
			    "verifier group only", msgtype_name(type));
			return CONN_FRAME_DONE;
		}
		return handlers[i].fn(c, body, len);
	}
	conn_violation(c, "unexpected message type");
	return CONN_FRAME_DONE;
}

static void
dispatch_batch_begin(void)
{
	store_batch_begin(td->store);
}

static void
dispatch_batch_end(void)
{
	store_batch_end(td->store);
}

void
dispatch_init(void)
{
	static const struct conn_ops ops = {
		dispatch_frame, dispatch_batch_begin, dispatch_batch_end
	};

	conn_init(td->base, &ops);
	pamhelper_init(pam_authenticated);
}

/*
 * The caller's own user name: 0, or -1 with an error queued, or
 * CONN_FRAME_RETRY (look-up under way).
 */
static int
caller_name(struct conn *c, char *name, size_t size)
{
	uid_t	uid = conn_peer(c)->uid;

	switch (account_name(uid, name, size)) {
	case ACCOUNT_OK:
		return 0;
	case ACCOUNT_WAIT:
		return CONN_FRAME_RETRY;
	case ACCOUNT_NONE:
		conn_error(c, PERR_NOT_FOUND, "uid %u has no user name",
		    (unsigned)uid);
		return -1;
	default:
		conn_error(c, PERR_INTERNAL, "cannot look up uid %u; try "
		    "again later", (unsigned)uid);
		return -1;
	}
}

/*
 * Whose tokens a LIST/REVOKE_ALL means: "" is the caller; another user
 * needs an admin, and a non-admin learns nothing about which names
 * exist.  0 with *uid set; -1 with an error queued; CONN_FRAME_RETRY.
 */
static int
target_uid(struct conn *c, const char *user, uid_t *uid)
{
	const struct peer	*p = conn_peer(c);
	char			 self[TOKEND_USER_MAX + 1];
	int			 rc;

	if (user[0] == '\0') {
		*uid = p->uid;
		return 0;
	}
	if (!p->is_admin) {
		if ((rc = caller_name(c, self, sizeof(self))) != 0)
			return rc;
		if (strcmp(self, user) == 0) {
			*uid = p->uid;
			return 0;
		}
		conn_error(c, PERR_DENIED, "only admins may act on another "
		    "user's tokens");
		return -1;
	}
	switch (account_uid(user, uid)) {
	case ACCOUNT_OK:
		return 0;
	case ACCOUNT_WAIT:
		return CONN_FRAME_RETRY;
	case ACCOUNT_NONE:
		conn_error(c, PERR_NOT_FOUND, "no such user: %s", user);
		return -1;
	default:
		conn_error(c, PERR_INTERNAL, "cannot look up user %s; try "
		    "again later", user);
		return -1;
	}
}

static int
valid_name(const char *s)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n > TOKEND_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;	/* UTF-8 is fine; control characters are not */
	return 1;
}

static int
valid_scope(const char *s)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n > TOKEND_SCOPE_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr(":._-/", s[i]) == NULL)
			return 0;
	return 1;
}

static int
scopes_check(struct conn *c, uint8_t n, char scopes[][TOKEND_SCOPE_MAX + 1])
{
	uint8_t	i, j;

	for (i = 0; i < n; i++) {
		if (!valid_scope(scopes[i])) {
			conn_error(c, PERR_INVALID, "invalid scope '%.64s': use "
			    "letters, digits and : . _ - /", scopes[i]);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(scopes[i], scopes[j]) == 0) {
				conn_error(c, PERR_INVALID, "scope '%s' given "
				    "twice", scopes[i]);
				return -1;
			}
	}
	return 0;
}

/* Copies string lengths, not whole arrays: this runs on every VERIFY. */
static void
record_to_proto(const struct token_record *r, struct proto_record *p)
{
	uint8_t	i;

	tokenfmt_id_str(r->id, p->id);
	p->parent[0] = '\0';
	memcpy(p->user, r->user, strnlen(r->user, TOKEND_USER_MAX) + 1);
	p->uid = r->uid;
	memcpy(p->name, r->name, strnlen(r->name, TOKEND_NAME_MAX) + 1);
	p->kind = TOKEN_REFRESH;
	p->created = r->created;
	p->expires = r->expires;
	/* Rotated: parent names the successor; it is accepted until then. */
	if (r->rotated_to != 0) {
		tokenfmt_id_str(r->rotated_to, p->parent);
		if (r->overlap_until < p->expires)
			p->expires = r->overlap_until;
	}
	p->last_used = lastused_get(r->id, r->last_used);
	p->nscopes = r->nscopes;
	for (i = 0; i < r->nscopes; i++)
		memcpy(p->scopes[i], r->scopes[i],
		    strnlen(r->scopes[i], TOKEND_SCOPE_MAX) + 1);
}

struct precheck {
	const char	*name;
	int64_t		 now;
	unsigned	 live;
	int		 taken;
};

static int
precheck_cb(const struct token_record *r, void *arg)
{
	struct precheck	*p = arg;

	if (r->expires <= p->now || r->rotated_to != 0)
		return 0;	/* a rotated token's name and place are its successor's */
	p->live++;
	if (strcmp(r->name, p->name) == 0)
		p->taken = 1;
	return 0;
}

/*
 * Refuse a duplicate name or a full quota before PAM asks for a password
 * and a one-time code; the store checks again when the token is written.
 */
static int
issue_precheck(struct conn *c, const struct msg_issue *m, uid_t uid,
    int64_t now)
{
	struct precheck	p = { m->name, now, 0, 0 };

	if (store_list(td->store, 0, uid, 0, precheck_cb, &p) != STORE_OK) {
		conn_error(c, PERR_STORE, "cannot read the token database");
		return -1;
	}
	if (p.taken) {
		conn_error(c, PERR_EXISTS, "%s already has a token named "
		    "\"%s\"", m->user, m->name);
		return -1;
	}
	if (p.live >= td->conf.max_tokens_per_user) {
		conn_error(c, PERR_LIMIT, "%s has %u tokens, the maximum; "
		    "delete one first", m->user, p.live);
		return -1;
	}
	return 0;
}

static int
handle_issue(struct conn *c, const uint8_t *body, size_t len)
{
	const struct peer	*peer = conn_peer(c);
	struct msg_issue	*m;
	char			 self[TOKEND_USER_MAX + 1], when[32];
	uid_t			 uid = peer->uid;
	int64_t			 now = clock_now();
	int			 rc;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		conn_error(c, PERR_INTERNAL, "out of memory");
		return CONN_FRAME_DONE;
	}
	if (dec_issue(body, len, m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed ISSUE");
		goto done;
	}
	if (m->name[0] != '\0' && !valid_name(m->name)) {
		conn_error(c, PERR_INVALID, "a token name is 1 to %d printable "
		    "characters", TOKEND_NAME_MAX);
		goto done;
	}
	/*
	 * Below 0, a lifetime: counted when the token is made (issue_mint),
	 * not now, before the user has typed a password.  So is the default.
	 */
	if (m->expires == 0)
		m->expires = -td->conf.refresh_default;
	if (m->expires > 0 && m->expires <= now) {
		conn_error(c, PERR_INVALID, "the expiry is in the past");
		goto done;
	}
	if (m->expires > now + td->conf.refresh_max ||
	    (m->expires < 0 && m->expires < -td->conf.refresh_max)) {
		conn_error(c, PERR_INVALID, "the expiry is more than %s away, "
		    "the maximum on this host", duration_format(
		    td->conf.refresh_max, when, sizeof(when)));
		goto done;
	}
	if (scopes_check(c, m->nscopes, m->scopes) == -1)
		goto done;
	if ((rc = caller_name(c, self, sizeof(self))) != 0) {
		explicit_bzero(m, sizeof(*m));
		free(m);
		return rc == CONN_FRAME_RETRY ? rc : CONN_FRAME_DONE;
	}
	if (m->user[0] == '\0' || strcmp(m->user, self) == 0)
		memcpy(m->user, self, sizeof(self));
	else if (peer->uid != 0) {
		conn_error(c, PERR_DENIED, "only root may issue tokens for "
		    "another user");
		goto done;
	} else {
		switch (account_uid(m->user, &uid)) {
		case ACCOUNT_OK:
			break;
		case ACCOUNT_WAIT:
			explicit_bzero(m, sizeof(*m));
			free(m);
			return CONN_FRAME_RETRY;
		case ACCOUNT_NONE:
			conn_error(c, PERR_NOT_FOUND, "no such user: %s",
			    m->user);
			goto done;
		default:
			conn_error(c, PERR_INTERNAL, "cannot look up user %s; "
			    "try again later", m->user);
			goto done;
		}
	}
	if (pamhelper_limited(c, m->user, uid, 0))
		goto done;
	if (issue_precheck(c, m, uid, now) == -1)
		goto done;
	/* Not worth a password when the token could not be stored. */
	if (fleetlink_on() && !fleetlink_connected()) {
		conn_error(c, PERR_UNAVAILABLE, "the token database is "
		    "unreachable; try again later");
		goto done;
	}
	pamhelper_request(c, m, uid, self, MON_PAM_MODE_ISSUE);	/* takes m */
	return CONN_FRAME_DONE;
done:
	explicit_bzero(m, sizeof(*m));
	free(m);
	return CONN_FRAME_DONE;
}

static int
handle_conv_reply(struct conn *c, const uint8_t *body, size_t len)
{
	if (conn_state(c) != CONN_IN_PAM) {
		conn_violation(c, "CONV_REPLY without a prompt");
		return CONN_FRAME_DONE;
	}
	pamhelper_reply(c, body, len);
	return CONN_FRAME_DONE;
}

/*
 * A write in flight for a client (ISSUE, REVOKE, REVOKE_ALL): the answer
 * goes out once the writer thread made it durable.  op.arg is the
 * connection, NULL once the client is gone (pending_cancel_cb); the
 * caller's identity is copied for the log.
 */
struct pending {
	struct store_op	 op;		/* first: the op's address is ours */
	uid_t		 caller_uid;
	pid_t		 caller_pid;
	char		 id[TOKEND_ID_LEN + 1];
	char		 token[TOKEND_TOKEN_MAX + 1];	/* ISSUE: shown once */
};

static struct pending *
pending_new(struct conn *c, enum store_op_type type,
    void (*done)(struct store_op *))
{
	struct pending	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		conn_error(c, PERR_INTERNAL, "out of memory");
		return NULL;
	}
	p->op.type = type;
	p->op.done = done;
	p->op.arg = c;
	p->caller_uid = conn_peer(c)->uid;
	p->caller_pid = conn_peer(c)->pid;
	return p;
}

/* The client went away: the write goes on, nobody is told. */
static void
pending_cancel_cb(void *arg)
{
	struct pending	*p = arg;

	p->op.arg = NULL;
}

/* A write: to the writer, or in fleet mode to the database first. */
static void
store_submit(struct store_op *op)
{
	if (fleetlink_on())
		fleetlink_submit(op);
	else
		writer_submit(op);
}

/* Hand p on (store_submit); its client takes no other frame until it is done. */
static void
pending_submit(struct pending *p)
{
	conn_wait(p->op.arg, CONN_WAIT_WRITE, pending_cancel_cb, p);
	store_submit(&p->op);
}

/*
 * Fleet mode: a write the database never confirmed.  1 when op is one
 * (the error is sent); it is no failure of the user's.
 */
static int
pending_unavailable(struct conn *c, const struct store_op *op,
    const char *what)
{
	if (op->result != STORE_UNAVAIL)
		return 0;
	log_warnx("%s: %s", what, op->cause != NULL ? op->cause : "?");
	if (c != NULL)
		conn_error(c, PERR_UNAVAILABLE, "%s", op->cause != NULL ?
		    op->cause : "the token database is unreachable");
	return 1;
}

/* Fleet mode: VERIFY and EXCHANGE when the host cannot vouch for tokens. */
static int
fleet_refused(struct conn *c)
{
	int64_t	age;

	if (!fleetlink_stale())
		return 0;
	if ((age = fleetlink_age()) < 0)
		conn_error(c, PERR_UNAVAILABLE, "not in touch with the token "
		    "database yet");
	else
		conn_error(c, PERR_UNAVAILABLE, "no contact with the token "
		    "database for %llds (fleet_max_staleness %us)",
		    (long long)age, td->conf.fleet_max_staleness);
	return 1;
}

/* The write is over: its client, if still there, may go on. */
static struct conn *
pending_end(struct pending *p)
{
	return p->op.arg;
}

/* Free p and let its client's later frames in. */
static void
pending_free(struct pending *p, struct conn *c)
{
	free(p->op.cause);
	explicit_bzero(p, sizeof(*p));
	free(p);
	if (c != NULL)
		conn_done(c);
}

/* ISSUED: the new token, shown this once, and its record. */
static void
send_issued(struct conn *c, const char *token, const struct token_record *rec)
{
	struct msg_issued	out;

	memset(&out, 0, sizeof(out));
	memcpy(out.token, token, sizeof(out.token));
	record_to_proto(rec, &out.rec);
	enc_issued(&reply, &out);
	conn_send(c, &reply);
	explicit_bzero(&out, sizeof(out));
}

static void
issue_done(struct store_op *op)
{
	struct pending		*p = (struct pending *)op;
	struct token_record	*rec = &op->rec;
	struct conn		*c = pending_end(p);
	char			 when[32];

	if (pending_unavailable(c, op, "issue"))
		goto done;
	switch (op->result) {
	case STORE_OK:
		break;
	case STORE_EXISTS:
		if (c != NULL)
			conn_error(c, PERR_EXISTS, "%s already has a token "
			    "named \"%s\"", rec->user, rec->name);
		goto done;
	case STORE_LIMIT:
		if (c != NULL)
			conn_error(c, PERR_LIMIT, "%s has %u tokens, the "
			    "maximum; delete one first", rec->user,
			    td->conf.max_tokens_per_user);
		goto done;
	case STORE_FULL:
		log_warnx("issue for %s refused: %s", rec->user,
		    op->cause ? op->cause : "database full");
		if (c != NULL)
			conn_error(c, PERR_STORE, "the token database is full");
		goto done;
	default:
		log_warnx("issue for %s failed: %s", rec->user,
		    op->cause ? op->cause : "store error");
		if (c != NULL)
			conn_error(c, PERR_STORE, "cannot store the token");
		goto done;
	}
	td->stats.issued++;
	/* PAM's account phase just passed: no need to ask again at once. */
	account_seen_ok(rec->uid, rec->user, rec->created);
	log_info("issued token %s \"%s\" for %s (uid %u), expires %s, "
	    "caller uid %u pid %d%s", p->id, rec->name, rec->user,
	    (unsigned)rec->uid, log_time(rec->expires, when, sizeof(when)),
	    (unsigned)p->caller_uid, (int)p->caller_pid,
	    c == NULL ? "; the client left before it was shown" : "");
	if (c != NULL)
		send_issued(c, p->token, rec);
done:
	pending_free(p, c);
}

/* Called by pamhelper.c once PAM said yes: mint, then store durably. */
static void
issue_authenticated(struct conn *c, const struct msg_issue *m, uid_t uid)
{
	struct token_record	*rec;
	struct pending		*p;
	uint8_t			 i;

	if ((p = pending_new(c, STORE_OP_PUT, issue_done)) == NULL) {
		conn_done(c);
		return;
	}
	rec = &p->op.rec;
	if (token_mint_refresh(td->keys, p->token, sizeof(p->token), &rec->id,
	    rec->hash) == -1) {
		conn_error(c, PERR_INTERNAL, "cannot make a token");
		pending_free(p, c);
		return;
	}
	tokenfmt_id_str(rec->id, p->id);
	rec->kind = TOKEN_REFRESH;
	rec->uid = uid;
	rec->created = clock_now();
	rec->expires = m->expires > 0 ? m->expires : rec->created - m->expires;
	memcpy(rec->user, m->user, sizeof(rec->user));
	if (m->name[0] != '\0')
		memcpy(rec->name, m->name, sizeof(rec->name));
	else {
		/* No name given: the date and the id keep it unique. */
		struct tm tm;
		time_t	t = (time_t)rec->created;

		gmtime_r(&t, &tm);
		snprintf(rec->name, sizeof(rec->name), "token-%04d%02d%02d-%.6s",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, p->id);
	}
	rec->nscopes = m->nscopes;
	for (i = 0; i < m->nscopes; i++)
		memcpy(rec->scopes[i], m->scopes[i], sizeof(rec->scopes[i]));
	p->op.max_per_user = td->conf.max_tokens_per_user;
	p->op.now = rec->created;
	pending_submit(p);
}

/*
 * A LIST in parts: each part goes out as LIST_RESULT frames until the
 * client has CONN_OUT_HIGH bytes unread; the rest follows as it reads,
 * from the id after the last one sent.  So a list of every token of a
 * large database costs no more memory than a short one.
 */
struct listjob {
	struct conn		*c;
	int			 all;
	uid_t			 uid;
	uint64_t		 from;		/* where the next part starts */
	int			 paused;	/* stopped for the client to read */
	int			 failed;	/* a frame could not be encoded */
	size_t			 n;
	struct proto_record	 recs[TOKEND_LIST_CHUNK];
};

static int
list_cb(const struct token_record *r, void *arg)
{
	struct listjob	*j = arg;

	if (j->n == TOKEND_LIST_CHUNK) {
		enc_list_result(&reply, j->recs, j->n, 1);
		if (reply.failed) {
			wbuf_reset(&reply);
			j->failed = 1;
			return -1;	/* one ERROR ends the series */
		}
		conn_send(j->c, &reply);
		j->n = 0;
		if (conn_output_full(j->c)) {
			record_to_proto(r, &j->recs[j->n++]);
			j->from = r->id + 1;
			j->paused = 1;
			return 1;
		}
	}
	record_to_proto(r, &j->recs[j->n++]);
	return 0;
}

static void
list_cancel_cb(void *arg)
{
	free(arg);
}

/* One part of j; its connection waits for the next or goes on. */
static void
list_run(struct conn *c, void *arg)
{
	struct listjob	*j = arg;
	int		 waiting = conn_state(c) == CONN_LISTING;

	j->paused = 0;
	if (j->from != 0 || j->n == 0) {
		if (store_list(td->store, j->all, j->uid, j->from, list_cb, j) !=
		    STORE_OK || j->failed) {
			/* Frames already queued end with an error, not more=0. */
			conn_error(c, PERR_STORE, "cannot read the token "
			    "database");
			goto done;
		}
	}
	if (j->paused) {
		if (!waiting)
			conn_wait_drain(c, list_run, list_cancel_cb, j);
		return;
	}
	enc_list_result(&reply, j->recs, j->n, 0);
	conn_send(c, &reply);
done:
	free(j);
	if (waiting)
		conn_done(c);
}

static int
handle_list(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_list		 m;
	struct listjob		*j;
	uid_t			 uid = conn_peer(c)->uid;
	int			 all, rc;

	if (dec_list(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed LIST");
		return CONN_FRAME_DONE;
	}
	all = (m.flags & LIST_F_ALL) != 0;
	if (all && !conn_peer(c)->is_admin) {
		conn_error(c, PERR_DENIED, "only admins may list every user's "
		    "tokens");
		return CONN_FRAME_DONE;
	}
	if (!all && (rc = target_uid(c, m.user, &uid)) != 0)
		return rc == CONN_FRAME_RETRY ? rc : CONN_FRAME_DONE;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		conn_error(c, PERR_INTERNAL, "out of memory");
		return CONN_FRAME_DONE;
	}
	j->c = c;
	j->all = all;
	j->uid = uid;
	list_run(c, j);
	return CONN_FRAME_DONE;
}

/* A record the caller may act on: its own, or any for an admin. */
static int
may_touch(const struct conn *c, const struct token_record *r)
{
	return conn_peer(c)->is_admin || r->uid == conn_peer(c)->uid;
}

/*
 * 0 when token id (text, as the client wrote it) exists and the caller
 * may act on it (REVOKE, RENAME); else -1 with the error sent.  Another
 * user's token is "not found" to a non-admin: ids of others' tokens
 * cannot be probed.
 */
static int
touchable_token(struct conn *c, uint64_t id, const char *text)
{
	struct token_record	rec;

	if (store_get_token(td->store, id, &rec) != STORE_OK ||
	    !may_touch(c, &rec)) {
		conn_error(c, PERR_NOT_FOUND, "no token %s", text);
		return -1;
	}
	return 0;
}

static void
revoke_done(struct store_op *op)
{
	struct pending	*p = (struct pending *)op;
	struct conn	*c = pending_end(p);

	if (pending_unavailable(c, op, "revoke")) {
		pending_free(p, c);
		return;
	}
	if (op->result != STORE_OK) {
		if (op->result != STORE_NOTFOUND)
			log_warnx("revoke %s failed: %s", p->id,
			    op->cause ? op->cause : "?");
		if (c != NULL)
			conn_error(c, op->result == STORE_NOTFOUND ?
			    PERR_NOT_FOUND : PERR_STORE,
			    op->result == STORE_NOTFOUND ? "no token %s" :
			    op->result == STORE_FULL ? "the token database is "
			    "full: cannot delete token %s" :
			    "cannot delete token %s", p->id);
		pending_free(p, c);
		return;
	}
	/* Before the answer: the next VERIFY must not see it active. */
	lastused_forget(op->id);
	vcache_forget(op->id);
	if (op->rec.rotated_from != 0)
		vcache_forget_all();	/* the tokens it was rotated from went too */
	td->stats.revoked++;
	log_info("revoked token %s \"%s\" of %s (uid %u), caller uid %u pid %d",
	    p->id, op->rec.name, op->rec.user, (unsigned)op->rec.uid,
	    (unsigned)p->caller_uid, (int)p->caller_pid);
	if (c != NULL) {
		enc_revoked(&reply, 1);
		conn_send(c, &reply);
	}
	pending_free(p, c);
}

static int
handle_revoke(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_revoke	m;
	struct pending		*p;
	uint64_t		id;

	if (dec_revoke(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed REVOKE");
		return CONN_FRAME_DONE;
	}
	if (tokenfmt_id_parse(m.id, &id) == -1) {
		conn_error(c, PERR_INVALID, "not a token id: %.11s", m.id);
		return CONN_FRAME_DONE;
	}
	if (touchable_token(c, id, m.id) == -1)
		return CONN_FRAME_DONE;
	if ((p = pending_new(c, STORE_OP_DEL, revoke_done)) == NULL)
		return CONN_FRAME_DONE;
	p->op.id = id;
	tokenfmt_id_str(id, p->id);
	pending_submit(p);
	return CONN_FRAME_DONE;
}

static void
rename_done(struct store_op *op)
{
	struct pending	*p = (struct pending *)op;
	struct conn	*c = pending_end(p);

	if (pending_unavailable(c, op, "rename")) {
		pending_free(p, c);
		return;
	}
	if (op->result != STORE_OK) {
		if (op->result != STORE_NOTFOUND && op->result != STORE_EXISTS)
			log_warnx("rename of %s failed: %s", p->id,
			    op->cause ? op->cause : "?");
		if (c != NULL) {
			if (op->result == STORE_NOTFOUND)
				conn_error(c, PERR_NOT_FOUND, "no token %s",
				    p->id);
			else if (op->result == STORE_EXISTS)
				conn_error(c, PERR_EXISTS, "%s already has a "
				    "token named \"%s\"", op->rec.user,
				    op->rec.name);
			else
				conn_error(c, PERR_STORE, op->result ==
				    STORE_FULL ? "the token database is full" :
				    "cannot rename token %s", p->id);
		}
		pending_free(p, c);
		return;
	}
	/* Cached VERIFY answers carry the name: the next one reads it anew. */
	vcache_forget(op->id);
	log_info("renamed token %s of %s (uid %u) to \"%s\", caller uid %u "
	    "pid %d", p->id, op->rec.user, (unsigned)op->rec.uid,
	    op->rec.name, (unsigned)p->caller_uid, (int)p->caller_pid);
	if (c != NULL) {
		enc_renamed(&reply);
		conn_send(c, &reply);
	}
	pending_free(p, c);
}

static int
handle_rename(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_rename	m;
	struct pending		*p;
	uint64_t		id;

	if (dec_rename(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed RENAME");
		return CONN_FRAME_DONE;
	}
	if (tokenfmt_id_parse(m.id, &id) == -1) {
		conn_error(c, PERR_INVALID, "not a token id: %.11s", m.id);
		return CONN_FRAME_DONE;
	}
	if (!valid_name(m.name)) {
		conn_error(c, PERR_INVALID, "a token name is 1 to %d printable "
		    "characters", TOKEND_NAME_MAX);
		return CONN_FRAME_DONE;
	}
	if (touchable_token(c, id, m.id) == -1)
		return CONN_FRAME_DONE;
	if ((p = pending_new(c, STORE_OP_RENAME, rename_done)) == NULL)
		return CONN_FRAME_DONE;
	p->op.id = id;
	p->op.now = clock_now();
	memcpy(p->op.rec.name, m.name, sizeof(m.name));
	tokenfmt_id_str(id, p->id);
	pending_submit(p);
	return CONN_FRAME_DONE;
}

/*
 * An admin lets a user try to authenticate again at once (a user who
 * mistyped a password five times, a script that failed its exchanges).
 */
static int
handle_unlock(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_unlock	m;
	struct msg_unlocked	out;
	uid_t			uid;
	int			rc;

	if (dec_unlock(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed UNLOCK");
		return CONN_FRAME_DONE;
	}
	if (!conn_peer(c)->is_admin) {
		conn_error(c, PERR_DENIED, "only admins may unlock a user");
		return CONN_FRAME_DONE;
	}
	if (m.user[0] == '\0') {
		conn_error(c, PERR_INVALID, "no user named");
		return CONN_FRAME_DONE;
	}
	if ((rc = target_uid(c, m.user, &uid)) != 0)
		return rc == CONN_FRAME_RETRY ? rc : CONN_FRAME_DONE;
	out.was_limited = (uint8_t)(ratelimit_clear(RL_AUTH, uid) |
	    ratelimit_clear(RL_EXCHANGE, uid));
	log_info("unlocked %s (uid %u): failed authentications and exchanges "
	    "forgotten%s, caller uid %u pid %d", m.user, (unsigned)uid,
	    out.was_limited ? "" : " (none were refused)",
	    (unsigned)conn_peer(c)->uid, (int)conn_peer(c)->pid);
	enc_unlocked(&reply, &out);
	conn_send(c, &reply);
	return CONN_FRAME_DONE;
}

static void
revoke_all_done(struct store_op *op)
{
	struct pending	*p = (struct pending *)op;
	struct conn	*c = pending_end(p);

	if (pending_unavailable(c, op, "revoke all")) {
		pending_free(p, c);
		return;
	}
	if (op->result != STORE_OK) {
		log_warnx("revoke all of uid %u failed: %s",
		    (unsigned)op->uid, op->cause ? op->cause : "?");
		if (c != NULL)
			conn_error(c, PERR_STORE, op->result == STORE_FULL ?
			    "the token database is full: cannot delete the "
			    "tokens" : "cannot delete the tokens");
		pending_free(p, c);
		return;
	}
	vcache_forget_all();
	td->stats.revoked += op->count;
	log_info("revoked all %u token%s of uid %u, caller uid %u pid %d",
	    op->count, op->count == 1 ? "" : "s", (unsigned)op->uid,
	    (unsigned)p->caller_uid, (int)p->caller_pid);
	if (c != NULL) {
		enc_revoked(&reply, op->count);
		conn_send(c, &reply);
	}
	pending_free(p, c);
}

static int
handle_revoke_all(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_revoke_all	m;
	struct pending		*p;
	uid_t			 uid;
	int			 rc;

	if (dec_revoke_all(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed REVOKE_ALL");
		return CONN_FRAME_DONE;
	}
	if ((rc = target_uid(c, m.user, &uid)) != 0)
		return rc == CONN_FRAME_RETRY ? rc : CONN_FRAME_DONE;
	if ((p = pending_new(c, STORE_OP_DEL_USER, revoke_all_done)) == NULL)
		return CONN_FRAME_DONE;
	p->op.uid = uid;
	pending_submit(p);
	return CONN_FRAME_DONE;
}

/* EXCHANGE and ROTATE guess nothing once the caller failed too often. */
static int
exchange_limited(struct conn *c)
{
	char	when[32];

	if (ratelimit_allowed(RL_EXCHANGE, conn_peer(c)->uid))
		return 0;
	td->stats.rate_limited++;
	conn_error(c, PERR_RATE_LIMITED, "too many failed exchanges; try again "
	    "in %s", duration_format(ratelimit_wait(RL_EXCHANGE,
	    conn_peer(c)->uid), when, sizeof(when)));
	return 1;
}

#define TOKEN_REUSED	-2	/* token_active(): a rotated token, replayed */
#define TOKEN_MISSING	-3	/* well-formed, but no record for it here */

/*
 * The refresh record behind a token, if the token is active now.
 * Fills *claims and *rec; 0 when active, -1 when not, TOKEN_REUSED for
 * the right secret of a refresh token whose rotation overlap is over.
 */
static int
token_active(const char *text, struct token_claims *claims,
    struct token_record *rec, int64_t now)
{
	int	rotated_out;

	if (token_parse(td->keys, text, strlen(text), claims) == -1)
		return -1;
	if (store_get_token(td->store, claims->rid, rec) != STORE_OK)
		return TOKEN_MISSING;
	if (rec->expires <= now)
		return -1;
	rotated_out = rec->rotated_to != 0 && rec->overlap_until <= now;
	if (claims->kind == TOKEN_REFRESH) {
		if (!token_hash_equal(claims->hash, rec->hash))
			return -1;
		return rotated_out ? TOKEN_REUSED : 0;
	}
	/* An access token dies with the overlap of its rotated parent. */
	if (rotated_out || claims->exp <= now || claims->iat > now + 60)
		return -1;
	return 0;
}

static void
reuse_done(struct store_op *op)
{
	struct pending	*p = (struct pending *)op;
	char		 next[TOKEND_ID_LEN + 1];

	if (op->result == STORE_OK) {
		/* The whole chain went: forget every answer kept (rare). */
		vcache_forget_all();
		lastused_forget(op->id);
		if (op->rec.rotated_to != 0)
			td->stats.revoked++;
		tokenfmt_id_str(op->rec.rotated_to, next);
		log_warnx("reuse of rotated token %s \"%s\" of %s (uid %u) "
		    "after its overlap, by caller uid %u pid %d: it and the "
		    "tokens rotated from it (%s on) are revoked", p->id,
		    op->rec.name,
		    op->rec.user, (unsigned)op->rec.uid,
		    (unsigned)p->caller_uid, (int)p->caller_pid, next);
	} else if (op->result != STORE_NOTFOUND)
		log_warnx("reuse of rotated token %s: cannot revoke: %s",
		    p->id, op->cause ? op->cause : "?");
	pending_free(p, NULL);
}

/*
 * A rotated token came back after its overlap: whoever holds it may have
 * stolen it, so its successor (maybe in the thief's hands, maybe in the
 * owner's) is revoked with it (OAuth 2.0 Security BCP, refresh token
 * reuse).  The request itself is answered as for an inactive token.
 */
static void
reuse_detected(struct conn *c, const struct token_record *rec)
{
	struct pending	*p;

	td->stats.reuse_detected++;
	vcache_forget(rec->id);
	vcache_forget(rec->rotated_to);
	/* Not pending_new: the request gets its own answer, even without. */
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warnx("reuse of rotated token: out of memory, not revoked");
		return;
	}
	p->op.type = STORE_OP_DEL_CHAIN;
	p->op.done = reuse_done;
	p->op.arg = NULL;	/* the request is answered now: nobody waits */
	p->caller_uid = conn_peer(c)->uid;
	p->caller_pid = conn_peer(c)->pid;
	p->op.id = rec->id;
	tokenfmt_id_str(rec->id, p->id);
	store_submit(&p->op);
}

/*
 * Why EXCHANGE refused a token, in words that help its holder without
 * telling a guesser anything: an access token is named as such (its
 * prefix says so anyway), and an expired refresh token says when it
 * expired only to its owner presenting the right secret.
 */
static void
exchange_refused(struct conn *c, const char *text, int64_t now,
    const char *verb)
{
	struct token_claims	claims;
	struct token_record	rec;
	char			when[32];

	if (token_parse(td->keys, text, strlen(text), &claims) == -1)
		goto inactive;
	if (claims.kind != TOKEN_REFRESH) {
		conn_error(c, PERR_INACTIVE, "only refresh tokens (tkr_...) "
		    "can be %s; this is an access token (tka_...)", verb);
		return;
	}
	if (store_get_token(td->store, claims.rid, &rec) == STORE_OK &&
	    token_hash_equal(claims.hash, rec.hash) &&
	    rec.uid == conn_peer(c)->uid && rec.expires <= now) {
		conn_error(c, PERR_INACTIVE, "the refresh token \"%s\" "
		    "expired on %s", rec.name, log_time(rec.expires, when,
		    sizeof(when)));
		return;
	}
inactive:
	conn_error(c, PERR_INACTIVE, "the refresh token is not active");
}

#define OWNER_WAIT	-1	/* owner_usable(): a check must be waited for */

/* Whether the owner's account lets the token be used (account.h): 1 or 0. */
static int
owner_usable(enum account_answer a)
{
	switch (a) {
	case ACCOUNT_OK:
		return 1;
	case ACCOUNT_WAIT:
		return OWNER_WAIT;
	default:
		td->stats.accounts_refused++;
		return 0;
	}
}

/* The encoders of the hot path's answers, for conn_encode(). */
static void
encode_exchanged(struct wbuf *w, void *arg)
{
	enc_exchanged(w, arg);
}

struct verify_answer {
	const struct msg_verify_result	*res;
	const struct vcache_hit		*hit;		/* or a cached frame */
	size_t				 last_used_off;	/* in the frame */
};

static void
encode_verify(struct wbuf *w, void *arg)
{
	struct verify_answer	*a = arg;
	size_t			 start = w->len;

	if (a->hit == NULL) {
		a->last_used_off = enc_verify_result(w, a->res) - start;
		return;
	}
	/* The frame as it was sent, with last_used brought up to date. */
	wbuf_put(w, a->hit->reply, a->hit->len);
	if (!w->failed)
		tokenfmt_store64(w->data + start + a->hit->last_used_off,
		    (uint64_t)lastused_get(a->hit->rid,
		    a->hit->stored_last_used));
}

static int
handle_exchange(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_exchange	m;
	struct msg_exchanged	out;
	struct token_claims	 claims;
	struct token_record	 found;
	const struct token_record *rec;
	uint8_t			 tag[VCACHE_TAG_BYTES];
	uint64_t		 mask = 0, jti;
	uint32_t		 acct = 0;
	int64_t			now = clock_now(), lifetime, exp;
	char			when[32];
	size_t			flen;
	uint8_t			i, j;
	int			ret = CONN_FRAME_DONE, usable, active;

	out.token[0] = '\0';
	memset(&claims, 0, sizeof(claims));
	if (dec_exchange(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed EXCHANGE");
		goto done;
	}
	if (exchange_limited(c) || fleet_refused(c))
		goto done;
	rec = NULL;
	if (td->conf.answer_cache) {
		vcache_tag(m.token, strlen(m.token), tag);
		rec = vcache_get_record(tag, now, &acct);
	}
	if (rec == NULL) {
		if ((active = token_active(m.token, &claims, &found, now)) ==
		    TOKEN_REUSED)
			reuse_detected(c, &found);
		/* Fleet: issued on another host a moment ago? Ask once. */
		if (active == TOKEN_MISSING && fleetlink_on() &&
		    fleetlink_lookup(claims.rid)) {
			ret = CONN_FRAME_RETRY;
			goto done;
		}
		if (active != 0 || claims.kind != TOKEN_REFRESH) {
			ratelimit_fail(RL_EXCHANGE, conn_peer(c)->uid);
			exchange_refused(c, m.token, now, "exchanged");
			log_info("exchange refused for caller uid %u pid %d",
			    (unsigned)conn_peer(c)->uid, (int)conn_peer(c)->pid);
			goto done;
		}
		usable = owner_usable(account_usable(found.uid, found.user,
		    now, &acct));
		/* A rotated record is not kept: its overlap must be looked at. */
		if (usable == 1 && td->conf.answer_cache &&
		    found.rotated_to == 0)
			vcache_put_record(tag, now, &found, acct);
		rec = &found;
	} else {
		usable = owner_usable(account_usable_ref(acct, now));
		if (usable == 1)
			td->stats.exchanged_cached++;
	}
	if (usable == OWNER_WAIT) {
		ret = CONN_FRAME_RETRY;
		goto done;
	}
	if (!usable) {
		conn_error(c, PERR_INACTIVE, "the refresh token is not active");
		goto done;
	}
	lifetime = m.lifetime ? m.lifetime : td->conf.access_default;
	if (lifetime > td->conf.access_max) {
		conn_error(c, PERR_INVALID, "an access token lives at most %s "
		    "on this host", duration_format(td->conf.access_max, when,
		    sizeof(when)));
		goto done;
	}
	if (m.nscopes == 0)
		mask = rec->nscopes ? ((uint64_t)1 << rec->nscopes) - 1 : 0;
	for (i = 0; i < m.nscopes; i++) {
		for (j = 0; j < rec->nscopes; j++)
			if (strcmp(m.scopes[i], rec->scopes[j]) == 0)
				break;
		if (j == rec->nscopes) {
			conn_error(c, PERR_INVALID, "scope '%.64s' is not "
			    "granted to this refresh token", m.scopes[i]);
			goto done;
		}
		mask |= (uint64_t)1 << j;
	}
	exp = now + lifetime;
	if (exp > rec->expires)
		exp = rec->expires;
	if (rec->rotated_to != 0 && exp > rec->overlap_until)
		exp = rec->overlap_until;
	if (token_mint_access(td->keys, rec->id, now, exp, mask, out.token,
	    sizeof(out.token), &jti) == -1) {
		conn_error(c, PERR_INTERNAL, "cannot make a token");
		goto done;
	}
	record_to_proto(rec, &out.rec);
	tokenfmt_id_str(jti, out.rec.id);
	tokenfmt_id_str(rec->id, out.rec.parent);
	out.rec.kind = TOKEN_ACCESS;
	out.rec.created = now;
	out.rec.expires = exp;
	out.rec.nscopes = 0;
	for (j = 0; j < rec->nscopes; j++)
		if (mask & ((uint64_t)1 << j))
			memcpy(out.rec.scopes[out.rec.nscopes++], rec->scopes[j],
			    sizeof(rec->scopes[j]));
	out.expires_in = (uint32_t)(exp - now);
	(void)conn_encode(c, encode_exchanged, &out, &flen);
	lastused_note(rec->id, now, rec->last_used);
	td->stats.exchanged++;
	log_debug("exchanged token %s for access token %s, caller uid %u",
	    out.rec.parent, out.rec.id, (unsigned)conn_peer(c)->uid);
done:
	/* Only these hold secrets; the rest of the structs is public. */
	explicit_bzero(m.token, sizeof(m.token));
	explicit_bzero(out.token, sizeof(out.token));
	explicit_bzero(&claims, sizeof(claims));
	return ret;
}

/* A cached answer. */
static void
verify_cached(struct conn *c, const struct vcache_hit *hit, int64_t now)
{
	struct verify_answer	a = { NULL, hit, 0 };
	size_t			len;

	if (conn_encode(c, encode_verify, &a, &len) == NULL)
		return;
	lastused_note(hit->rid, now, hit->stored_last_used);
	td->stats.verified_active++;
	td->stats.verified_cached++;
}

static int
handle_verify(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_verify		m;
	struct msg_verify_result	out;
	struct token_claims		claims;
	struct token_record		rec;
	struct vcache_hit		hit;
	uint8_t				tag[VCACHE_TAG_BYTES];
	struct verify_answer		a = { &out, NULL, 0 };
	const uint8_t			*frame;
	int64_t				now = clock_now(), until = 0;
	uint32_t			acct = 0;
	size_t				flen;
	uint8_t				j;
	int				ret = CONN_FRAME_DONE, usable = 0, active;

	if (dec_verify(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed VERIFY");
		return CONN_FRAME_DONE;
	}
	if (fleet_refused(c)) {
		explicit_bzero(m.token, sizeof(m.token));
		return CONN_FRAME_DONE;
	}
	out.active = 0;
	if (td->conf.answer_cache) {
		vcache_tag(m.token, strlen(m.token), tag);
		if (vcache_get(tag, now, &hit) == 0) {
			usable = owner_usable(account_usable_ref(hit.acct, now));
			if (usable == 1) {
				verify_cached(c, &hit, now);
				goto done;
			}
			if (usable == OWNER_WAIT) {
				ret = CONN_FRAME_RETRY;
				goto done;
			}
			goto answer;	/* inactive */
		}
	}
	if ((active = token_active(m.token, &claims, &rec, now)) ==
	    TOKEN_REUSED)
		reuse_detected(c, &rec);
	if (active == TOKEN_MISSING && fleetlink_on() &&
	    fleetlink_lookup(claims.rid)) {
		ret = CONN_FRAME_RETRY;
		goto done;
	}
	if (active == 0) {
		usable = owner_usable(account_usable(rec.uid, rec.user, now,
		    &acct));
		if (usable == OWNER_WAIT) {
			ret = CONN_FRAME_RETRY;
			goto done;
		}
	}
	if (usable == 1) {
		out.active = 1;
		record_to_proto(&rec, &out.rec);
		until = out.rec.expires;	/* a rotated token's: its overlap */
		if (claims.kind == TOKEN_ACCESS) {
			tokenfmt_id_str(claims.jti, out.rec.id);
			tokenfmt_id_str(claims.rid, out.rec.parent);
			out.rec.kind = TOKEN_ACCESS;
			out.rec.created = claims.iat;
			if (claims.exp < until)
				until = claims.exp;
			out.rec.expires = until;
			out.rec.nscopes = 0;
			for (j = 0; j < rec.nscopes; j++)
				if (claims.scope_mask & ((uint64_t)1 << j))
					memcpy(out.rec.scopes[out.rec.nscopes++],
					    rec.scopes[j], sizeof(rec.scopes[j]));
		}
		lastused_note(rec.id, now, rec.last_used);
		td->stats.verified_active++;
	}
answer:
	if (!out.active)
		td->stats.verified_inactive++;
	frame = conn_encode(c, encode_verify, &a, &flen);
	if (out.active && frame != NULL && td->conf.answer_cache)
		vcache_put(tag, now, rec.id, acct, until, rec.last_used, frame,
		    flen, a.last_used_off);
done:
	explicit_bzero(m.token, sizeof(m.token));
	explicit_bzero(&claims, sizeof(claims));
	return ret;
}

static void
unrotate_done(struct store_op *op)
{
	struct pending	*p = (struct pending *)op;
	char		 old[TOKEND_ID_LEN + 1];

	tokenfmt_id_str(op->id, old);
	if (op->result == STORE_OK) {
		vcache_forget(op->id);
		vcache_forget(op->rec.id);
		log_info("rotation of token %s to %s undone: the client left "
		    "before the new token was shown; the old one works on",
		    old, p->id);
	} else
		log_warnx("rotation of token %s to %s could not be undone "
		    "(%s): the old one may no longer work", old, p->id,
		    op->cause ? op->cause : "store error");
	pending_free(p, NULL);
}

/*
 * The client of a ROTATE left before its answer: nobody has the new
 * token, so it goes and the old one works again, as if nothing happened.
 * p is reused for the undo.
 */
static void
rotate_undo(struct pending *p)
{
	uint64_t	id = p->op.id, next = p->op.rec.id;

	explicit_bzero(p->token, sizeof(p->token));
	free(p->op.cause);
	memset(&p->op, 0, sizeof(p->op));
	p->op.type = STORE_OP_UNROTATE;
	p->op.done = unrotate_done;
	p->op.id = id;
	p->op.rec.id = next;
	store_submit(&p->op);
}

static void
rotate_done(struct store_op *op)
{
	struct pending		*p = (struct pending *)op;
	struct token_record	*rec = &op->rec;
	struct conn		*c = pending_end(p);
	char			 old[TOKEND_ID_LEN + 1], when[32];

	tokenfmt_id_str(op->id, old);
	if (op->result != STORE_OK) {
		if (op->result != STORE_EXISTS && op->result != STORE_NOTFOUND)
			log_warnx("rotation of %s failed: %s", old,
			    op->cause ? op->cause : "store error");
		if (c != NULL)
			conn_error(c, op->result == STORE_EXISTS ||
			    op->result == STORE_NOTFOUND ? PERR_INACTIVE :
			    PERR_STORE, op->result == STORE_EXISTS ? "the "
			    "refresh token was rotated already" :
			    op->result == STORE_NOTFOUND ? "the refresh token "
			    "is not active" : op->result == STORE_FULL ?
			    "the token database is full" : "cannot store the "
			    "token");
		pending_free(p, c);
		return;
	}
	/* Answers kept for the old token did not know of its overlap. */
	vcache_forget(op->id);
	if (op->gone != 0) {
		/* The token before it, kept until now, is gone. */
		vcache_forget(op->gone);
		lastused_forget(op->gone);
	}
	/*
	 * Nobody to show the successor to: the client went away meanwhile,
	 * maybe so recently that its connection still looks open.
	 */
	if (c != NULL && conn_hung_up(c)) {
		conn_close(c);		/* its wait ends: p is ours again */
		c = NULL;
	}
	if (c == NULL) {
		rotate_undo(p);
		return;
	}
	td->stats.rotated++;
	log_info("rotated token %s \"%s\" of %s (uid %u) to %s; the old one "
	    "works until %s; caller uid %u pid %d", old, rec->name,
	    rec->user, (unsigned)rec->uid, p->id, log_time(op->until, when,
	    sizeof(when)), (unsigned)p->caller_uid, (int)p->caller_pid);
	send_issued(c, p->token, rec);
	pending_free(p, c);
}

/*
 * ROTATE: the refresh token is the credential (no PAM: a job rotates its
 * own token).  Its successor gets a new id and secret and the same name,
 * scopes and expiry; the old one works for the overlap, then is kept only
 * to tell a replay (token_active: TOKEN_REUSED).
 */
static int
handle_rotate(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_rotate	 m;
	struct token_claims	 claims;
	struct token_record	 old, *rec;
	struct pending		*p;
	char			 when[32], next[TOKEND_ID_LEN + 1];
	int64_t			 now = clock_now();
	uint32_t		 acct = 0;
	int			 active, usable, ret = CONN_FRAME_DONE;

	if (dec_rotate(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed ROTATE");
		return CONN_FRAME_DONE;
	}
	if (exchange_limited(c))
		goto done;
	if ((int64_t)m.overlap > td->conf.rotate_overlap_max) {
		conn_error(c, PERR_INVALID, "the overlap is at most %s on this "
		    "host", duration_format(td->conf.rotate_overlap_max, when,
		    sizeof(when)));
		goto done;
	}
	if ((active = token_active(m.token, &claims, &old, now)) ==
	    TOKEN_REUSED)
		reuse_detected(c, &old);
	if (active != 0 || claims.kind != TOKEN_REFRESH) {
		ratelimit_fail(RL_EXCHANGE, conn_peer(c)->uid);
		exchange_refused(c, m.token, now, "rotated");
		goto done;
	}
	if (old.rotated_to != 0) {
		tokenfmt_id_str(old.rotated_to, next);
		conn_error(c, PERR_INACTIVE, "the refresh token was rotated "
		    "already (to %s): rotate that one", next);
		goto done;
	}
	usable = owner_usable(account_usable(old.uid, old.user, now, &acct));
	if (usable == OWNER_WAIT) {
		ret = CONN_FRAME_RETRY;
		goto done;
	}
	if (!usable) {
		conn_error(c, PERR_INACTIVE, "the refresh token is not active");
		goto done;
	}
	if ((p = pending_new(c, STORE_OP_ROTATE, rotate_done)) == NULL)
		goto done;
	rec = &p->op.rec;
	if (token_mint_refresh(td->keys, p->token, sizeof(p->token), &rec->id,
	    rec->hash) == -1) {
		conn_error(c, PERR_INTERNAL, "cannot make a token");
		pending_free(p, c);
		goto done;
	}
	tokenfmt_id_str(rec->id, p->id);
	rec->kind = TOKEN_REFRESH;
	rec->uid = old.uid;
	rec->created = now;
	rec->expires = old.expires;	/* rotation never extends a token */
	memcpy(rec->user, old.user, sizeof(rec->user));
	memcpy(rec->name, old.name, sizeof(rec->name));
	rec->nscopes = old.nscopes;
	memcpy(rec->scopes, old.scopes, sizeof(rec->scopes));
	p->op.id = old.id;
	p->op.until = now + m.overlap;
	pending_submit(p);
done:
	explicit_bzero(m.token, sizeof(m.token));
	explicit_bzero(&claims, sizeof(claims));
	return ret;
}

static void
status_add(struct msg_status_result *m, const char *key, uint64_t value)
{
	if (m->n >= TOKEND_STATUS_MAX)
		return;
	snprintf(m->counters[m->n].key, sizeof(m->counters[m->n].key), "%s",
	    key);
	m->counters[m->n++].value = value;
}

static int
handle_status(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_status_result	*m;
	struct store_stats		 ss;
	struct counters			*s = &td->stats;
	char				 key[TOKEND_STATUS_KEY_MAX + 1];
	int				 t;

	if (dec_status(body, len) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed STATUS");
		return CONN_FRAME_DONE;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		conn_error(c, PERR_INTERNAL, "out of memory");
		return CONN_FRAME_DONE;
	}
	snprintf(m->version, sizeof(m->version), "%s", TOKEND_VERSION);
	/* Fleet mode: a host that cannot vouch for tokens is not healthy. */
	m->healthy = !fleetlink_stale();
	if (conn_peer(c)->is_admin) {
		store_get_stats(td->store, &ss);
		status_add(m, "uptime_seconds",
		    (uint64_t)(clock_now() - td->started));
		status_add(m, "connections", conn_count());
		status_add(m, "pam_helpers", pamhelper_running());
		status_add(m, "pam_queued", pamhelper_queued());
		status_add(m, "writes_pending", writer_pending());
		status_add(m, "lookups_pending", account_pending());
		status_add(m, "accounts_disabled", account_disabled());
		status_add(m, "account_checks", account_checks());
		status_add(m, "tokens", ss.tokens);
		status_add(m, "map_size_bytes", ss.map_size);
		status_add(m, "map_used_bytes", ss.map_used);
		status_add(m, "write_txns", ss.write_txns);
		status_add(m, "read_txns", ss.read_txns);
		status_add(m, "connections_accepted", s->conns_accepted);
		status_add(m, "connections_refused", s->conns_refused);
		status_add(m, "connections_dropped", s->conns_dropped);
		status_add(m, "output_blocked", s->output_blocked);
		status_add(m, "issued", s->issued);
		status_add(m, "revoked", s->revoked);
		status_add(m, "exchanged", s->exchanged);
		status_add(m, "exchanged_cached", s->exchanged_cached);
		status_add(m, "verified_active", s->verified_active);
		status_add(m, "verified_inactive", s->verified_inactive);
		status_add(m, "verified_cached", s->verified_cached);
		status_add(m, "accounts_refused", s->accounts_refused);
		status_add(m, "pam_failures", s->pam_failures);
		status_add(m, "pam_timeouts", s->pam_timeouts);
		status_add(m, "purged", s->purged);
		status_add(m, "rate_limited", s->rate_limited);
		status_add(m, "rotated", s->rotated);
		status_add(m, "reuse_detected", s->reuse_detected);
		if (fleetlink_on()) {
			status_add(m, "fleet_connected", fleetlink_connected());
			if (fleetlink_age() >= 0)
				status_add(m, "fleet_contact_age_seconds",
				    (uint64_t)fleetlink_age());
			status_add(m, "fleet_change", fleetlink_seq());
		}
		for (t = MSG_ISSUE; t <= MSG_OTP; t++) {
			snprintf(key, sizeof(key), "requests_%s", msgtype_name(t));
			status_add(m, key, s->requests[t]);
		}
		for (t = PERR_MALFORMED; t <= PERR_UNAVAILABLE; t++) {
			snprintf(key, sizeof(key), "errors_%s", proto_err_key(t));
			status_add(m, key, s->errors[t]);
		}
	}
	enc_status_result(&reply, m);
	conn_send(c, &reply);
	free(m);
	return CONN_FRAME_DONE;
}

/*
 * PAM said yes (pamhelper.h): an ISSUE makes its token; an OTP enrolment
 * or removal is done already (the helper did it, as root).
 */
static void
pam_authenticated(struct conn *c, const struct msg_issue *m, uid_t uid,
    int mode)
{
	struct msg_otp_result	out;

	if (mode == MON_PAM_MODE_ISSUE) {
		issue_authenticated(c, m, uid);
		return;
	}
	memset(&out, 0, sizeof(out));
	if (mode == MON_PAM_MODE_ENROLL) {
		out.enrolled = 1;
		out.since = (int64_t)time(NULL);	/* the file's time */
		log_notice("%s (uid %u) enrolled a new one-time-code secret",
		    m->user, (unsigned)uid);
	} else
		log_notice("%s (uid %u) removed their one-time-code enrolment",
		    m->user, (unsigned)uid);
	enc_otp_result(&reply, &out);
	conn_send(c, &reply);
	conn_done(c);
}

/*
 * One-time codes (tokenctl otp): a user enrols or removes their own
 * enrolment through PAM; status needs no PAM; an admin sees or removes
 * another user's (a lost phone) without PAM.  The files are root's: the
 * monitor and its helpers touch them, never the engine.
 */
static int
handle_otp(struct conn *c, const uint8_t *body, size_t len)
{
	const struct peer	*peer = conn_peer(c);
	struct msg_otp		 m;
	struct msg_issue	*job;
	char			 self[TOKEND_USER_MAX + 1];
	int			 rc, own;

	if (dec_otp(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed OTP");
		return CONN_FRAME_DONE;
	}
	if ((rc = caller_name(c, self, sizeof(self))) != 0)
		return rc == CONN_FRAME_RETRY ? rc : CONN_FRAME_DONE;
	own = m.user[0] == '\0' || strcmp(m.user, self) == 0;
	if (own)
		memcpy(m.user, self, sizeof(self));
	else if (!peer->is_admin) {
		conn_error(c, PERR_DENIED, "only admins may see or remove "
		    "another user's one-time-code enrolment");
		return CONN_FRAME_DONE;
	} else if (m.op == OTP_ENROLL) {
		conn_error(c, PERR_DENIED, "users enrol themselves: the "
		    "secret goes to the phone of the one who types the code");
		return CONN_FRAME_DONE;
	}
	if (!mon_user_ok(m.user)) {
		conn_error(c, PERR_NOT_FOUND, "no such user: %s", m.user);
		return CONN_FRAME_DONE;
	}
	if (!own || m.op == OTP_STATUS) {
		(void)otpask_request(c, m.op, m.user);
		return CONN_FRAME_DONE;
	}
	if (!td->conf.otp_enroll) {
		conn_error(c, PERR_DENIED, "one-time-code enrolment is off on "
		    "this host (otp_enroll in tokend.conf)");
		return CONN_FRAME_DONE;
	}
	if (pamhelper_limited(c, m.user, peer->uid, 0))
		return CONN_FRAME_DONE;
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		conn_error(c, PERR_INTERNAL, "out of memory");
		return CONN_FRAME_DONE;
	}
	memcpy(job->user, m.user, sizeof(job->user));
	(void)pamhelper_request(c, job, peer->uid, self, m.op == OTP_ENROLL ?
	    MON_PAM_MODE_ENROLL : MON_PAM_MODE_REMOVE);	/* takes job */
	return CONN_FRAME_DONE;
}
