/*
 * Requests: one table says who may send each type and which handler
 * answers it; handlers decode, check, and queue exactly one reply (LIST:
 * a series of LIST_RESULT frames; ISSUE: CONV frames, then one reply).
 */
#include <sys/types.h>

#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "log.h"
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

static void	handle_issue(struct conn *, const uint8_t *, size_t);
static void	handle_conv_reply(struct conn *, const uint8_t *, size_t);
static void	handle_list(struct conn *, const uint8_t *, size_t);
static void	handle_revoke(struct conn *, const uint8_t *, size_t);
static void	handle_revoke_all(struct conn *, const uint8_t *, size_t);
static void	handle_exchange(struct conn *, const uint8_t *, size_t);
static void	handle_verify(struct conn *, const uint8_t *, size_t);
static void	handle_status(struct conn *, const uint8_t *, size_t);

/* Length bounds per type live beside the decoders (protocol/wire.c). */
static const struct handler {
	int		 type;
	enum who	 who;
	void		(*fn)(struct conn *, const uint8_t *, size_t);
} handlers[] = {
	{ MSG_ISSUE,		WHO_ANY,	handle_issue },
	{ MSG_CONV_REPLY,	WHO_ANY,	handle_conv_reply },
	{ MSG_LIST,		WHO_ANY,	handle_list },
	{ MSG_REVOKE,		WHO_ANY,	handle_revoke },
	{ MSG_REVOKE_ALL,	WHO_ANY,	handle_revoke_all },
	{ MSG_EXCHANGE,		WHO_ANY,	handle_exchange },
	{ MSG_VERIFY,		WHO_VERIFIER,	handle_verify },
	{ MSG_STATUS,		WHO_ANY,	handle_status },
};

static struct wbuf	reply;		/* scratch for one answer */

void
dispatch_frame(struct conn *c, int type, const uint8_t *body, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (handlers[i].type != type)
			continue;
		if (handlers[i].who == WHO_VERIFIER && !c->is_verifier) {
			conn_error(c, PERR_DENIED, "%s is for root and the "
			    "verifier group only", msgtype_name(type));
			return;
		}
		handlers[i].fn(c, body, len);
		return;
	}
	conn_error(c, PERR_MALFORMED, "unexpected message type");
	c->closing = 1;
}

static int64_t
now_sec(void)
{
	return (int64_t)time(NULL);
}

const char *
dispatch_user_name(uid_t uid, char *buf, size_t size)
{
	struct passwd	 pw, *res = NULL;
	char		 tmp[4096];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) != 0 || res == NULL)
		return NULL;
	if (strlen(pw.pw_name) >= size)
		return NULL;
	memcpy(buf, pw.pw_name, strlen(pw.pw_name) + 1);
	return buf;
}

int
dispatch_user_uid(const char *name, uid_t *uid)
{
	struct passwd	 pw, *res = NULL;
	char		 tmp[4096];

	if (getpwnam_r(name, &pw, tmp, sizeof(tmp), &res) != 0 || res == NULL)
		return -1;
	*uid = pw.pw_uid;
	return 0;
}

/*
 * Whose tokens a LIST/REVOKE_ALL means: "" is the caller; another user
 * needs an admin.  Queues the error and returns -1 when refused.
 */
static int
target_uid(struct conn *c, const char *user, uid_t *uid)
{
	if (user[0] == '\0') {
		*uid = c->uid;
		return 0;
	}
	if (dispatch_user_uid(user, uid) == -1) {
		if (!c->is_admin) {
			conn_error(c, PERR_DENIED, "only admins may name "
			    "another user");
			return -1;
		}
		conn_error(c, PERR_NOT_FOUND, "no such user: %s", user);
		return -1;
	}
	if (*uid != c->uid && !c->is_admin) {
		conn_error(c, PERR_DENIED, "only admins may act on another "
		    "user's tokens");
		return -1;
	}
	return 0;
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

	if (r->expires <= p->now)
		return 0;
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

	if (store_list(td->store, 0, uid, precheck_cb, &p) != STORE_OK) {
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

static void
handle_issue(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_issue	*m;
	char			 self[TOKEND_USER_MAX + 1];
	uid_t			 uid = c->uid;
	int64_t			 now = now_sec();

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		conn_error(c, PERR_INTERNAL, "out of memory");
		return;
	}
	if (dec_issue(body, len, m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed ISSUE");
		goto fail;
	}
	if (dispatch_user_name(c->uid, self, sizeof(self)) == NULL) {
		conn_error(c, PERR_NOT_FOUND, "uid %u has no user name",
		    (unsigned)c->uid);
		goto fail;
	}
	if (m->user[0] == '\0' || strcmp(m->user, self) == 0)
		memcpy(m->user, self, sizeof(self));
	else if (c->uid != 0) {
		conn_error(c, PERR_DENIED, "only root may issue tokens for "
		    "another user");
		goto fail;
	} else if (dispatch_user_uid(m->user, &uid) == -1) {
		conn_error(c, PERR_NOT_FOUND, "no such user: %s", m->user);
		goto fail;
	}
	if (m->name[0] != '\0' && !valid_name(m->name)) {
		conn_error(c, PERR_INVALID, "a token name is 1 to %d printable "
		    "characters", TOKEND_NAME_MAX);
		goto fail;
	}
	if (m->expires == 0)
		m->expires = now + td->conf.refresh_default;
	if (m->expires <= now) {
		conn_error(c, PERR_INVALID, "the expiry is in the past");
		goto fail;
	}
	if (m->expires > now + td->conf.refresh_max) {
		conn_error(c, PERR_INVALID, "the expiry is more than %lld days "
		    "away, the maximum", (long long)td->conf.refresh_max / 86400);
		goto fail;
	}
	if (scopes_check(c, m->nscopes, m->scopes) == -1)
		goto fail;
	if (!ratelimit_allowed(RL_AUTH, uid)) {
		td->stats.rate_limited++;
		conn_error(c, PERR_RATE_LIMITED, "too many failed "
		    "authentications for %s; try again later", m->user);
		goto fail;
	}
	if (issue_precheck(c, m, uid, now) == -1)
		goto fail;
	c->issue = m;
	pamhelper_request(c);
	return;
fail:
	free(m);
}

static void
handle_conv_reply(struct conn *c, const uint8_t *body, size_t len)
{
	if (c->pam == NULL) {
		conn_error(c, PERR_MALFORMED, "CONV_REPLY without a prompt");
		c->closing = 1;
		return;
	}
	pamhelper_reply(c, body, len);
}

/*
 * A write in flight for a client (ISSUE, REVOKE, REVOKE_ALL): the answer
 * goes out once the writer thread made it durable.  op.arg is the
 * connection, NULL once the client is gone (conn_close); the caller's
 * identity is copied for the log.
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
	p->caller_uid = c->uid;
	p->caller_pid = c->pid;
	return p;
}

/* Hand p to the writer; c takes no other frame until it is done. */
static void
pending_submit(struct pending *p)
{
	struct conn	*c = p->op.arg;

	c->wop = &p->op;
	writer_submit(&p->op);
}

/* The write is over: its client, if still there, may go on. */
static struct conn *
pending_end(struct pending *p)
{
	struct conn	*c = p->op.arg;

	if (c != NULL)
		c->wop = NULL;
	return c;
}

/* Free p and let its client's later frames in. */
static void
pending_free(struct pending *p, struct conn *c)
{
	free(p->op.cause);
	explicit_bzero(p, sizeof(*p));
	free(p);
	if (c != NULL)
		conn_resume(c);
}

static void
issue_done(struct store_op *op)
{
	struct pending		*p = (struct pending *)op;
	struct token_record	*rec = &op->rec;
	struct msg_issued	 out;
	struct conn		*c = pending_end(p);

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
	log_info("issued token %s \"%s\" for %s (uid %u), expires %lld, "
	    "caller uid %u pid %d%s", p->id, rec->name, rec->user,
	    (unsigned)rec->uid, (long long)rec->expires,
	    (unsigned)p->caller_uid, (int)p->caller_pid,
	    c == NULL ? "; the client left before it was shown" : "");
	if (c != NULL) {
		memset(&out, 0, sizeof(out));
		memcpy(out.token, p->token, sizeof(out.token));
		record_to_proto(rec, &out.rec);
		enc_issued(&reply, &out);
		conn_send(c, &reply);
		explicit_bzero(&out, sizeof(out));
	}
done:
	pending_free(p, c);
}

/* Called by pamhelper.c once PAM said yes: mint, then store durably. */
void
dispatch_issue_authenticated(struct conn *c)
{
	struct msg_issue	*m = c->issue;
	struct token_record	*rec;
	struct pending		*p;
	uid_t			 uid;
	uint8_t			 i;

	if (dispatch_user_uid(m->user, &uid) == -1) {
		conn_error(c, PERR_NOT_FOUND, "no such user: %s", m->user);
		return;
	}
	if ((p = pending_new(c, STORE_OP_PUT, issue_done)) == NULL)
		return;
	rec = &p->op.rec;
	if (token_mint_refresh(td->keys, p->token, sizeof(p->token), &rec->id,
	    rec->hash) == -1) {
		conn_error(c, PERR_INTERNAL, "cannot make a token");
		pending_free(p, NULL);
		return;
	}
	tokenfmt_id_str(rec->id, p->id);
	rec->kind = TOKEN_REFRESH;
	rec->uid = uid;
	rec->created = now_sec();
	rec->expires = m->expires;
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

struct list_ctx {
	struct conn		*c;
	struct proto_record	 recs[TOKEND_LIST_CHUNK];
	size_t			 n;
};

static int
list_cb(const struct token_record *r, void *arg)
{
	struct list_ctx	*ctx = arg;

	if (ctx->n == TOKEND_LIST_CHUNK) {
		enc_list_result(&reply, ctx->recs, ctx->n, 1);
		if (reply.failed) {
			wbuf_reset(&reply);
			return -1;	/* one ERROR ends the series */
		}
		conn_send(ctx->c, &reply);
		ctx->n = 0;
	}
	record_to_proto(r, &ctx->recs[ctx->n++]);
	return 0;
}

static void
handle_list(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_list		 m;
	struct list_ctx		*ctx;
	uid_t			 uid = c->uid;
	int			 all;

	if (dec_list(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed LIST");
		return;
	}
	all = (m.flags & LIST_F_ALL) != 0;
	if (all && !c->is_admin) {
		conn_error(c, PERR_DENIED, "only admins may list every user's "
		    "tokens");
		return;
	}
	if (!all && target_uid(c, m.user, &uid) == -1)
		return;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		conn_error(c, PERR_INTERNAL, "out of memory");
		return;
	}
	ctx->c = c;
	if (store_list(td->store, all, uid, list_cb, ctx) != STORE_OK) {
		/* Frames already queued end with an error instead of more=0. */
		conn_error(c, PERR_STORE, "cannot read the token database");
		free(ctx);
		return;
	}
	enc_list_result(&reply, ctx->recs, ctx->n, 0);
	conn_send(c, &reply);
	free(ctx);
}

/* A record the caller may act on: its own, or any for an admin. */
static int
may_touch(const struct conn *c, const struct token_record *r)
{
	return c->is_admin || r->uid == c->uid;
}

static void
revoke_done(struct store_op *op)
{
	struct pending	*p = (struct pending *)op;
	struct conn	*c = pending_end(p);

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

static void
handle_revoke(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_revoke	m;
	struct token_record	rec;
	struct pending		*p;
	uint64_t		id;

	if (dec_revoke(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed REVOKE");
		return;
	}
	if (tokenfmt_id_parse(m.id, &id) == -1) {
		conn_error(c, PERR_INVALID, "not a token id: %.11s", m.id);
		return;
	}
	/* Another user's token is "not found" to a non-admin: ids don't leak. */
	if (store_get_token(td->store, id, &rec) != STORE_OK ||
	    !may_touch(c, &rec)) {
		conn_error(c, PERR_NOT_FOUND, "no token %s", m.id);
		return;
	}
	if ((p = pending_new(c, STORE_OP_DEL, revoke_done)) == NULL)
		return;
	p->op.id = id;
	tokenfmt_id_str(id, p->id);
	pending_submit(p);
}

static void
revoke_all_done(struct store_op *op)
{
	struct pending	*p = (struct pending *)op;
	struct conn	*c = pending_end(p);

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
	log_info("revoked all %u tokens of uid %u, caller uid %u pid %d",
	    op->count, (unsigned)op->uid, (unsigned)p->caller_uid,
	    (int)p->caller_pid);
	if (c != NULL) {
		enc_revoked(&reply, op->count);
		conn_send(c, &reply);
	}
	pending_free(p, c);
}

static void
handle_revoke_all(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_revoke_all	m;
	struct pending		*p;
	uid_t			 uid;

	if (dec_revoke_all(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed REVOKE_ALL");
		return;
	}
	if (target_uid(c, m.user, &uid) == -1)
		return;
	if ((p = pending_new(c, STORE_OP_DEL_USER, revoke_all_done)) == NULL)
		return;
	p->op.uid = uid;
	pending_submit(p);
}

/*
 * The refresh record behind a token, if the token is active now.
 * Fills *claims and *rec; 0 when active.
 */
static int
token_active(const char *text, struct token_claims *claims,
    struct token_record *rec, int64_t now)
{
	if (token_parse(td->keys, text, strlen(text), claims) == -1)
		return -1;
	if (store_get_token(td->store, claims->rid, rec) != STORE_OK)
		return -1;
	if (rec->expires <= now)
		return -1;
	if (claims->kind == TOKEN_REFRESH)
		return token_hash_equal(claims->hash, rec->hash) ? 0 : -1;
	if (claims->exp <= now || claims->iat > now + 60)
		return -1;
	return 0;
}

static void
handle_exchange(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_exchange	m;
	struct msg_exchanged	out;
	struct token_claims	 claims;
	struct token_record	 found;
	const struct token_record *rec;
	uint8_t			 tag[VCACHE_TAG_BYTES];
	uint64_t		 mask = 0, jti;
	int64_t			now = now_sec(), lifetime, exp;
	uint8_t			i, j;

	out.token[0] = '\0';
	memset(&claims, 0, sizeof(claims));
	if (dec_exchange(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed EXCHANGE");
		goto done;
	}
	if (!ratelimit_allowed(RL_EXCHANGE, c->uid)) {
		td->stats.rate_limited++;
		conn_error(c, PERR_RATE_LIMITED, "too many failed exchanges; "
		    "try again later");
		goto done;
	}
	rec = NULL;
	if (td->conf.answer_cache) {
		vcache_tag(m.token, strlen(m.token), tag);
		rec = vcache_get_record(tag, now);
	}
	if (rec == NULL) {
		if (token_active(m.token, &claims, &found, now) == -1 ||
		    claims.kind != TOKEN_REFRESH) {
			ratelimit_fail(RL_EXCHANGE, c->uid);
			conn_error(c, PERR_INACTIVE, "the refresh token is not "
			    "active");
			log_info("exchange refused for caller uid %u pid %d",
			    (unsigned)c->uid, (int)c->pid);
			goto done;
		}
		if (td->conf.answer_cache)
			vcache_put_record(tag, now, &found);
		rec = &found;
	} else
		td->stats.exchanged_cached++;
	lifetime = m.lifetime ? m.lifetime : td->conf.access_default;
	if (lifetime > td->conf.access_max) {
		conn_error(c, PERR_INVALID, "an access token lives at most %lld "
		    "seconds", (long long)td->conf.access_max);
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
	enc_exchanged(&c->out, &out);	/* small and bounded: no scratch copy */
	lastused_note(rec->id, now, rec->last_used);
	td->stats.exchanged++;
	log_debug("exchanged token %s for access token %s, caller uid %u",
	    out.rec.parent, out.rec.id, (unsigned)c->uid);
done:
	/* Only these hold secrets; the rest of the structs is public. */
	explicit_bzero(m.token, sizeof(m.token));
	explicit_bzero(out.token, sizeof(out.token));
	explicit_bzero(&claims, sizeof(claims));
}

/*
 * A cached answer: the frame as it was sent, with last_used brought up
 * to date.
 */
static void
verify_cached(struct conn *c, const struct vcache_hit *hit, int64_t now)
{
	size_t	off = c->out.len;

	wbuf_put(&c->out, hit->reply, hit->len);
	if (c->out.failed)
		return;
	tokenfmt_store64(c->out.data + off + hit->last_used_off,
	    (uint64_t)lastused_get(hit->rid, hit->stored_last_used));
	lastused_note(hit->rid, now, hit->stored_last_used);
	td->stats.verified_active++;
	td->stats.verified_cached++;
}

static void
handle_verify(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_verify		m;
	struct msg_verify_result	out;
	struct token_claims		claims;
	struct token_record		rec;
	struct vcache_hit		hit;
	uint8_t				tag[VCACHE_TAG_BYTES];
	int64_t				now = now_sec(), until = 0;
	size_t				off, last_used_off;
	uint8_t				j;

	if (dec_verify(body, len, &m) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed VERIFY");
		return;
	}
	out.active = 0;
	if (!ratelimit_allowed(RL_VERIFY, c->uid)) {
		td->stats.rate_limited++;
		conn_error(c, PERR_RATE_LIMITED, "too many inactive tokens "
		    "verified; try again later");
		goto done;
	}
	if (td->conf.answer_cache) {
		vcache_tag(m.token, strlen(m.token), tag);
		if (vcache_get(tag, now, &hit) == 0) {
			verify_cached(c, &hit, now);
			goto done;
		}
	}
	if (token_active(m.token, &claims, &rec, now) == 0) {
		out.active = 1;
		record_to_proto(&rec, &out.rec);
		until = rec.expires;
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
	} else {
		ratelimit_fail(RL_VERIFY, c->uid);
		td->stats.verified_inactive++;
	}
	off = c->out.len;
	last_used_off = enc_verify_result(&c->out, &out);	/* small and bounded */
	if (out.active && !c->out.failed && td->conf.answer_cache)
		vcache_put(tag, now, rec.id, until, rec.last_used, c->out.data + off,
		    c->out.len - off, last_used_off - off);
done:
	explicit_bzero(m.token, sizeof(m.token));
	explicit_bzero(&claims, sizeof(claims));
}

static unsigned
pam_queue_len(void)
{
	struct conn	*q;
	unsigned	 n = 0;

	TAILQ_FOREACH(q, &td->pam_queue, qentry)
		n++;
	return n;
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

static void
handle_status(struct conn *c, const uint8_t *body, size_t len)
{
	struct msg_status_result	*m;
	struct store_stats		 ss;
	struct counters			*s = &td->stats;
	char				 key[TOKEND_STATUS_KEY_MAX + 1];
	int				 t;

	if (dec_status(body, len) == -1) {
		conn_error(c, PERR_MALFORMED, "malformed STATUS");
		return;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		conn_error(c, PERR_INTERNAL, "out of memory");
		return;
	}
	snprintf(m->version, sizeof(m->version), "%s", TOKEND_VERSION);
	m->healthy = 1;
	if (c->is_admin) {
		store_get_stats(td->store, &ss);
		status_add(m, "uptime_seconds", (uint64_t)(now_sec() - td->started));
		status_add(m, "connections", td->nconns);
		status_add(m, "pam_helpers", td->npam);
		status_add(m, "pam_queued", pam_queue_len());
		status_add(m, "writes_pending", writer_pending());
		status_add(m, "tokens", ss.tokens);
		status_add(m, "map_size_bytes", ss.map_size);
		status_add(m, "map_used_bytes", ss.map_used);
		status_add(m, "write_txns", ss.write_txns);
		status_add(m, "read_txns", ss.read_txns);
		status_add(m, "connections_accepted", s->conns_accepted);
		status_add(m, "connections_refused", s->conns_refused);
		status_add(m, "connections_dropped", s->conns_dropped);
		status_add(m, "issued", s->issued);
		status_add(m, "revoked", s->revoked);
		status_add(m, "exchanged", s->exchanged);
		status_add(m, "exchanged_cached", s->exchanged_cached);
		status_add(m, "verified_active", s->verified_active);
		status_add(m, "verified_inactive", s->verified_inactive);
		status_add(m, "verified_cached", s->verified_cached);
		status_add(m, "pam_failures", s->pam_failures);
		status_add(m, "pam_timeouts", s->pam_timeouts);
		status_add(m, "purged", s->purged);
		status_add(m, "rate_limited", s->rate_limited);
		for (t = MSG_ISSUE; t <= MSG_STATUS; t++) {
			snprintf(key, sizeof(key), "requests_%s", msgtype_name(t));
			status_add(m, key, s->requests[t]);
		}
		for (t = PERR_MALFORMED; t <= PERR_SHUTDOWN; t++) {
			snprintf(key, sizeof(key), "errors_%d", t);
			status_add(m, key, s->errors[t]);
		}
	}
	enc_status_result(&reply, m);
	conn_send(c, &reply);
	free(m);
}
