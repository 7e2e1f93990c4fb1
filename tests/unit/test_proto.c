/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for protocol/wire.c and the token vectors of tokenfmt.c.
 *
 * Reads protocol/vectors.txt (argv[1], default "protocol/vectors.txt",
 * relative to the repository root where `make check` runs):
 *   frame    NAME HEX              encode the known values NAME, compare bytes;
 *                                  decode HEX, compare fields
 *   reject   NAME STAGE HEX        the frame must pass every check before
 *                                  STAGE (header|type|length|body) and fail it
 *   token    NAME KIND PAYLOAD TEXT, badtoken NAME REASON TEXT
 * and skips the key lines that test_token reads.  Then: round trips with
 * every field at its maximum, truncation at every byte, wbuf growth.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proto.h"
#include "tokenfmt.h"

#define VECTORS_DEFAULT	"protocol/vectors.txt"

/* The known values behind the vectors (protocol/vectors.txt says what they mean). */
#define T_REFRESH	"tkr_063UfDVRKBz1NWOlQOzi1H24Gwru6DtGh2l1UyNnS4W749AtvT"
#define T_ACCESS	"tka_063UfDVRKBz1MmvJ36AYi192h5PhXtR8O00000000001HbhSa7GqM0w1STDy7B5PVH3b9Y25"
#define T_RID		"063UfDVRKBz"	/* 0x0123456789abcdef */
#define T_JTI		"1MmvJ36AYi1"	/* 0x0fedcba987654321 */

#define SET(dst, s)	snprintf((dst), sizeof(dst), "%s", (s))

/* LIST_RESULT has no struct in proto.h: its decoder calls back per record. */
struct list_result {
	int			more;
	size_t			n;
	struct proto_record	recs[TOKEND_LIST_CHUNK];
};

union msg {
	struct msg_issue		issue;
	struct msg_conv_reply		conv_reply;
	struct msg_list			list;
	struct msg_revoke		revoke;
	struct msg_revoke_all		revoke_all;
	struct msg_rename		rename;
	struct msg_unlock		unlock;
	struct msg_rotate		rotate;
	struct msg_unlocked		unlocked;
	struct msg_otp			otp;
	struct msg_otp_result		otp_result;
	struct msg_exchange		exchange;
	struct msg_verify		verify;
	struct msg_error		error;
	struct msg_conv			conv;
	struct msg_issued		issued;
	struct list_result		list_result;
	struct msg_revoked		revoked;
	struct msg_exchanged		exchanged;
	struct msg_verify_result	verify_result;
	struct msg_status_result	status_result;
};

static const int all_types[] = {
	MSG_ISSUE, MSG_CONV_REPLY, MSG_LIST, MSG_REVOKE, MSG_REVOKE_ALL,
	MSG_EXCHANGE, MSG_VERIFY, MSG_STATUS, MSG_ERROR, MSG_CONV, MSG_ISSUED,
	MSG_LIST_RESULT, MSG_REVOKED, MSG_EXCHANGED, MSG_VERIFY_RESULT,
	MSG_STATUS_RESULT, MSG_RENAME, MSG_RENAMED, MSG_UNLOCK, MSG_UNLOCKED,
	MSG_ROTATE, MSG_OTP, MSG_OTP_RESULT,
};
#define NTYPES	(sizeof(all_types) / sizeof(all_types[0]))

/* ---- encode, decode and compare any message ---- */

static void
encode(int type, const union msg *m, struct wbuf *w)
{
	switch (type) {
	case MSG_ISSUE:		enc_issue(w, &m->issue); break;
	case MSG_CONV_REPLY:	enc_conv_reply(w, &m->conv_reply); break;
	case MSG_LIST:		enc_list(w, &m->list); break;
	case MSG_REVOKE:	enc_revoke(w, &m->revoke); break;
	case MSG_REVOKE_ALL:	enc_revoke_all(w, &m->revoke_all); break;
	case MSG_EXCHANGE:	enc_exchange(w, &m->exchange); break;
	case MSG_VERIFY:	enc_verify(w, &m->verify); break;
	case MSG_STATUS:	enc_status(w); break;
	case MSG_RENAME:	enc_rename(w, &m->rename); break;
	case MSG_RENAMED:	enc_renamed(w); break;
	case MSG_UNLOCK:	enc_unlock(w, &m->unlock); break;
	case MSG_ROTATE:	enc_rotate(w, &m->rotate); break;
	case MSG_UNLOCKED:	enc_unlocked(w, &m->unlocked); break;
	case MSG_OTP:		enc_otp(w, &m->otp); break;
	case MSG_OTP_RESULT:	enc_otp_result(w, &m->otp_result); break;
	case MSG_ERROR:
		enc_error(w, m->error.code, m->error.message);
		break;
	case MSG_CONV:		enc_conv(w, &m->conv); break;
	case MSG_ISSUED:	enc_issued(w, &m->issued); break;
	case MSG_LIST_RESULT:
		enc_list_result(w, m->list_result.recs, m->list_result.n,
		    m->list_result.more);
		break;
	case MSG_REVOKED:	enc_revoked(w, m->revoked.count); break;
	case MSG_EXCHANGED:	enc_exchanged(w, &m->exchanged); break;
	case MSG_VERIFY_RESULT:	enc_verify_result(w, &m->verify_result); break;
	case MSG_STATUS_RESULT:	enc_status_result(w, &m->status_result); break;
	default:		w->failed = 1; break;
	}
}

static int
list_collect_cb(const struct proto_record *rec, void *arg)
{
	struct list_result	*lr = arg;

	if (lr->n >= TOKEND_LIST_CHUNK)
		return -1;
	lr->recs[lr->n++] = *rec;
	return 0;
}

/* Decode a body of the given type into *m (zeroed first); 0 or -1. */
static int
decode(int type, const uint8_t *p, size_t n, union msg *m)
{
	memset(m, 0, sizeof(*m));
	switch (type) {
	case MSG_ISSUE:		return dec_issue(p, n, &m->issue);
	case MSG_CONV_REPLY:	return dec_conv_reply(p, n, &m->conv_reply);
	case MSG_LIST:		return dec_list(p, n, &m->list);
	case MSG_REVOKE:	return dec_revoke(p, n, &m->revoke);
	case MSG_REVOKE_ALL:	return dec_revoke_all(p, n, &m->revoke_all);
	case MSG_EXCHANGE:	return dec_exchange(p, n, &m->exchange);
	case MSG_VERIFY:	return dec_verify(p, n, &m->verify);
	case MSG_STATUS:	return dec_status(p, n);
	case MSG_RENAME:	return dec_rename(p, n, &m->rename);
	case MSG_RENAMED:	return dec_renamed(p, n);
	case MSG_UNLOCK:	return dec_unlock(p, n, &m->unlock);
	case MSG_ROTATE:	return dec_rotate(p, n, &m->rotate);
	case MSG_UNLOCKED:	return dec_unlocked(p, n, &m->unlocked);
	case MSG_OTP:		return dec_otp(p, n, &m->otp);
	case MSG_OTP_RESULT:	return dec_otp_result(p, n, &m->otp_result);
	case MSG_ERROR:		return dec_error(p, n, &m->error);
	case MSG_CONV:		return dec_conv(p, n, &m->conv);
	case MSG_ISSUED:	return dec_issued(p, n, &m->issued);
	case MSG_LIST_RESULT:
		return dec_list_result(p, n, &m->list_result.more,
		    list_collect_cb, &m->list_result);
	case MSG_REVOKED:	return dec_revoked(p, n, &m->revoked);
	case MSG_EXCHANGED:	return dec_exchanged(p, n, &m->exchanged);
	case MSG_VERIFY_RESULT:	return dec_verify_result(p, n, &m->verify_result);
	case MSG_STATUS_RESULT:	return dec_status_result(p, n, &m->status_result);
	}
	return -1;
}

static int
scopes_eq(uint8_t na, const char a[][TOKEND_SCOPE_MAX + 1], uint8_t nb,
    const char b[][TOKEND_SCOPE_MAX + 1])
{
	uint8_t	i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static int
rec_eq(const struct proto_record *a, const struct proto_record *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->parent, b->parent) == 0 &&
	    strcmp(a->user, b->user) == 0 && a->uid == b->uid &&
	    strcmp(a->name, b->name) == 0 && a->kind == b->kind &&
	    a->created == b->created && a->expires == b->expires &&
	    a->last_used == b->last_used &&
	    scopes_eq(a->nscopes, a->scopes, b->nscopes, b->scopes);
}

/* Field by field: 1 when a and b carry the same message of this type. */
static int
msg_eq(int type, const union msg *a, const union msg *b)
{
	size_t	i;

	switch (type) {
	case MSG_ISSUE:
		return strcmp(a->issue.user, b->issue.user) == 0 &&
		    strcmp(a->issue.name, b->issue.name) == 0 &&
		    a->issue.expires == b->issue.expires &&
		    scopes_eq(a->issue.nscopes, a->issue.scopes,
		    b->issue.nscopes, b->issue.scopes);
	case MSG_CONV_REPLY:
		if (a->conv_reply.n != b->conv_reply.n)
			return 0;
		for (i = 0; i < a->conv_reply.n; i++)
			if (strcmp(a->conv_reply.answers[i],
			    b->conv_reply.answers[i]) != 0)
				return 0;
		return 1;
	case MSG_LIST:
		return a->list.flags == b->list.flags &&
		    strcmp(a->list.user, b->list.user) == 0;
	case MSG_REVOKE:
		return strcmp(a->revoke.id, b->revoke.id) == 0;
	case MSG_REVOKE_ALL:
		return strcmp(a->revoke_all.user, b->revoke_all.user) == 0;
	case MSG_EXCHANGE:
		return strcmp(a->exchange.token, b->exchange.token) == 0 &&
		    a->exchange.lifetime == b->exchange.lifetime &&
		    scopes_eq(a->exchange.nscopes, a->exchange.scopes,
		    b->exchange.nscopes, b->exchange.scopes);
	case MSG_VERIFY:
		return strcmp(a->verify.token, b->verify.token) == 0;
	case MSG_STATUS:
	case MSG_RENAMED:
		return 1;
	case MSG_RENAME:
		return strcmp(a->rename.id, b->rename.id) == 0 &&
		    strcmp(a->rename.name, b->rename.name) == 0;
	case MSG_UNLOCK:
		return strcmp(a->unlock.user, b->unlock.user) == 0;
	case MSG_ROTATE:
		return strcmp(a->rotate.token, b->rotate.token) == 0 &&
		    a->rotate.overlap == b->rotate.overlap;
	case MSG_UNLOCKED:
		return a->unlocked.was_limited == b->unlocked.was_limited;
	case MSG_OTP:
		return a->otp.op == b->otp.op &&
		    strcmp(a->otp.user, b->otp.user) == 0;
	case MSG_OTP_RESULT:
		return a->otp_result.enrolled == b->otp_result.enrolled &&
		    a->otp_result.since == b->otp_result.since;
	case MSG_ERROR:
		return a->error.code == b->error.code &&
		    strcmp(a->error.message, b->error.message) == 0;
	case MSG_CONV:
		if (a->conv.n != b->conv.n)
			return 0;
		for (i = 0; i < a->conv.n; i++)
			if (a->conv.style[i] != b->conv.style[i] ||
			    strcmp(a->conv.text[i], b->conv.text[i]) != 0)
				return 0;
		return 1;
	case MSG_ISSUED:
		return strcmp(a->issued.token, b->issued.token) == 0 &&
		    rec_eq(&a->issued.rec, &b->issued.rec);
	case MSG_LIST_RESULT:
		if ((a->list_result.more != 0) != (b->list_result.more != 0) ||
		    a->list_result.n != b->list_result.n)
			return 0;
		for (i = 0; i < a->list_result.n; i++)
			if (!rec_eq(&a->list_result.recs[i],
			    &b->list_result.recs[i]))
				return 0;
		return 1;
	case MSG_REVOKED:
		return a->revoked.count == b->revoked.count;
	case MSG_EXCHANGED:
		return strcmp(a->exchanged.token, b->exchanged.token) == 0 &&
		    a->exchanged.expires_in == b->exchanged.expires_in &&
		    rec_eq(&a->exchanged.rec, &b->exchanged.rec);
	case MSG_VERIFY_RESULT:
		if (a->verify_result.active != b->verify_result.active)
			return 0;
		return !a->verify_result.active ||
		    rec_eq(&a->verify_result.rec, &b->verify_result.rec);
	case MSG_STATUS_RESULT:
		if (strcmp(a->status_result.version, b->status_result.version) != 0 ||
		    a->status_result.healthy != b->status_result.healthy ||
		    a->status_result.n != b->status_result.n)
			return 0;
		for (i = 0; i < a->status_result.n; i++)
			if (strcmp(a->status_result.counters[i].key,
			    b->status_result.counters[i].key) != 0 ||
			    a->status_result.counters[i].value !=
			    b->status_result.counters[i].value)
				return 0;
		return 1;
	}
	return 0;
}

/* ---- the known values of the "frame" vectors ---- */

static void
rec_refresh(struct proto_record *r)
{
	SET(r->id, T_RID);
	SET(r->user, "alice");
	r->uid = 1000;
	SET(r->name, "ci");
	r->kind = TOKEN_REFRESH;
	r->created = 1760000000;
	r->expires = 1767776000;
	r->last_used = 1767225600;
	r->nscopes = 2;
	SET(r->scopes[0], "read");
	SET(r->scopes[1], "write");
}

static void
rec_access(struct proto_record *r)
{
	SET(r->id, T_JTI);
	SET(r->parent, T_RID);
	SET(r->user, "alice");
	r->uid = 1000;
	SET(r->name, "ci");
	r->kind = TOKEN_ACCESS;
	r->created = 1767225600;
	r->expires = 1767225900;
	r->last_used = 1767225600;
	r->nscopes = 1;
	SET(r->scopes[0], "read");
}

static void
rec_laptop(struct proto_record *r)
{
	SET(r->id, "7nT3kQz9XbW");
	SET(r->user, "alice");
	r->uid = 1000;
	SET(r->name, "laptop");
	r->kind = TOKEN_REFRESH;
	r->created = 1761000000;
	r->expires = 1768776000;
	r->last_used = 0;
	r->nscopes = 0;
}

static void
rec_bob(struct proto_record *r)
{
	SET(r->id, "Zz09Aa18Bb2");
	SET(r->user, "bob");
	r->uid = 1001;
	SET(r->name, "backup");
	r->kind = TOKEN_REFRESH;
	r->created = 1762000000;
	r->expires = 1793536000;
	r->last_used = 1767000000;
	r->nscopes = 1;
	SET(r->scopes[0], "backup:read");
}

static void
k_issue(union msg *m)
{
	SET(m->issue.user, "alice");
	SET(m->issue.name, "ci");
	m->issue.expires = 1767776000;
	m->issue.nscopes = 2;
	SET(m->issue.scopes[0], "read");
	SET(m->issue.scopes[1], "write");
}

static void
k_issue_defaults(union msg *m)
{
	(void)m;	/* user "", name "", expires 0, no scopes */
}

static void
k_conv_reply(union msg *m)
{
	m->conv_reply.n = 3;
	SET(m->conv_reply.answers[0], "hunter2");
	SET(m->conv_reply.answers[1], "");
	SET(m->conv_reply.answers[2], "123456");
}

static void
k_list(union msg *m)
{
	(void)m;
}

static void
k_list_all(union msg *m)
{
	m->list.flags = LIST_F_ALL;
}

static void
k_list_user(union msg *m)
{
	SET(m->list.user, "bob");
}

static void
k_revoke(union msg *m)
{
	SET(m->revoke.id, T_RID);
}

static void
k_revoke_all(union msg *m)
{
	(void)m;
}

static void
k_revoke_all_user(union msg *m)
{
	SET(m->revoke_all.user, "bob");
}

static void
k_exchange(union msg *m)
{
	SET(m->exchange.token, T_REFRESH);
	m->exchange.lifetime = 300;
	m->exchange.nscopes = 1;
	SET(m->exchange.scopes[0], "read");
}

static void
k_exchange_defaults(union msg *m)
{
	SET(m->exchange.token, T_REFRESH);
}

static void
k_verify(union msg *m)
{
	SET(m->verify.token, T_ACCESS);
}

static void
k_status(union msg *m)
{
	(void)m;
}

static void
k_unlock(union msg *m)
{
	SET(m->unlock.user, "bob");
}

static void
k_rotate(union msg *m)
{
	SET(m->rotate.token, T_REFRESH);
	m->rotate.overlap = 600;
}

static void
k_unlocked(union msg *m)
{
	m->unlocked.was_limited = 1;
}

static void
k_otp_enroll(union msg *m)
{
	m->otp.op = OTP_ENROLL;
}

static void
k_otp_remove_user(union msg *m)
{
	m->otp.op = OTP_REMOVE;
	SET(m->otp.user, "bob");
}

static void
k_otp_result(union msg *m)
{
	m->otp_result.enrolled = 1;
	m->otp_result.since = 1798761600;	/* 2027-01-01T00:00:00Z */
}

static void
k_conv_secret(union msg *m)
{
	m->conv.n = 2;
	m->conv.style[0] = CONV_SECRET;
	SET(m->conv.text[0], "otpauth://totp/tokend:bob%40h?secret=GEZDGNBV");
	m->conv.style[1] = CONV_ECHO_ON;
	SET(m->conv.text[1], "Code: ");
}

static void
k_rename(union msg *m)
{
	SET(m->rename.id, T_RID);
	SET(m->rename.name, "laptop");
}

static void
k_error(union msg *m)
{
	m->error.code = PERR_INACTIVE;
	SET(m->error.message, "the refresh token is not active");
}

static void
k_error_violation(union msg *m)
{
	m->error.code = PERR_MALFORMED;
	SET(m->error.message, "bad frame header");
}

static void
k_conv(union msg *m)
{
	m->conv.n = 3;
	m->conv.style[0] = CONV_ECHO_OFF;
	SET(m->conv.text[0], "Password: ");
	m->conv.style[1] = CONV_INFO;
	SET(m->conv.text[1], "A code was sent to your phone");
	m->conv.style[2] = CONV_ECHO_ON;
	SET(m->conv.text[2], "One-time code: ");
}

static void
k_issued(union msg *m)
{
	SET(m->issued.token, T_REFRESH);
	rec_refresh(&m->issued.rec);
	m->issued.rec.created = 1760000000;
	m->issued.rec.last_used = 0;
}

static void
k_list_result_more(union msg *m)
{
	m->list_result.more = 1;
	m->list_result.n = 2;
	rec_refresh(&m->list_result.recs[0]);
	rec_laptop(&m->list_result.recs[1]);
}

static void
k_list_result_last(union msg *m)
{
	m->list_result.more = 0;
	m->list_result.n = 1;
	rec_bob(&m->list_result.recs[0]);
}

static void
k_list_result_empty(union msg *m)
{
	(void)m;
}

static void
k_revoked(union msg *m)
{
	m->revoked.count = 1;
}

static void
k_revoked_many(union msg *m)
{
	m->revoked.count = 3;
}

static void
k_exchanged(union msg *m)
{
	SET(m->exchanged.token, T_ACCESS);
	m->exchanged.expires_in = 300;
	rec_access(&m->exchanged.rec);
}

static void
k_verify_result_active(union msg *m)
{
	m->verify_result.active = 1;
	rec_access(&m->verify_result.rec);
}

static void
k_verify_result_inactive(union msg *m)
{
	(void)m;
}

static void
k_status_result(union msg *m)
{
	SET(m->status_result.version, "0.1.0");
	m->status_result.healthy = 1;
	m->status_result.n = 2;
	SET(m->status_result.counters[0].key, "tokens");
	m->status_result.counters[0].value = 42;
	SET(m->status_result.counters[1].key, "uptime_seconds");
	m->status_result.counters[1].value = 86400;
}

static void
k_status_result_user(union msg *m)
{
	SET(m->status_result.version, "0.1.0");
	m->status_result.healthy = 1;
}

static const struct known {
	const char	*name;
	int		 type;
	void		(*fill)(union msg *);
} known[] = {
	{ "issue",			MSG_ISSUE,		k_issue },
	{ "issue_defaults",		MSG_ISSUE,		k_issue_defaults },
	{ "conv_reply",			MSG_CONV_REPLY,		k_conv_reply },
	{ "list",			MSG_LIST,		k_list },
	{ "list_all",			MSG_LIST,		k_list_all },
	{ "list_user",			MSG_LIST,		k_list_user },
	{ "revoke",			MSG_REVOKE,		k_revoke },
	{ "revoke_all",			MSG_REVOKE_ALL,		k_revoke_all },
	{ "revoke_all_user",		MSG_REVOKE_ALL,		k_revoke_all_user },
	{ "exchange",			MSG_EXCHANGE,		k_exchange },
	{ "exchange_defaults",		MSG_EXCHANGE,		k_exchange_defaults },
	{ "verify",			MSG_VERIFY,		k_verify },
	{ "status",			MSG_STATUS,		k_status },
	{ "rename",			MSG_RENAME,		k_rename },
	{ "renamed",			MSG_RENAMED,		k_status },
	{ "unlock",			MSG_UNLOCK,		k_unlock },
	{ "unlocked",			MSG_UNLOCKED,		k_unlocked },
	{ "rotate",			MSG_ROTATE,		k_rotate },
	{ "otp_enroll",			MSG_OTP,		k_otp_enroll },
	{ "otp_remove_user",		MSG_OTP,		k_otp_remove_user },
	{ "otp_result",			MSG_OTP_RESULT,		k_otp_result },
	{ "conv_secret",		MSG_CONV,		k_conv_secret },
	{ "error",			MSG_ERROR,		k_error },
	{ "error_violation",		MSG_ERROR,		k_error_violation },
	{ "conv",			MSG_CONV,		k_conv },
	{ "issued",			MSG_ISSUED,		k_issued },
	{ "list_result_more",		MSG_LIST_RESULT,	k_list_result_more },
	{ "list_result_last",		MSG_LIST_RESULT,	k_list_result_last },
	{ "list_result_empty",		MSG_LIST_RESULT,	k_list_result_empty },
	{ "revoked",			MSG_REVOKED,		k_revoked },
	{ "revoked_many",		MSG_REVOKED,		k_revoked_many },
	{ "exchanged",			MSG_EXCHANGED,		k_exchanged },
	{ "verify_result_active",	MSG_VERIFY_RESULT,	k_verify_result_active },
	{ "verify_result_inactive",	MSG_VERIFY_RESULT,	k_verify_result_inactive },
	{ "status_result",		MSG_STATUS_RESULT,	k_status_result },
	{ "status_result_user",		MSG_STATUS_RESULT,	k_status_result_user },
};
#define NKNOWN	(sizeof(known) / sizeof(known[0]))

static const struct known *
known_find(const char *name)
{
	size_t	i;

	for (i = 0; i < NKNOWN; i++)
		if (strcmp(known[i].name, name) == 0)
			return &known[i];
	return NULL;
}

static union msg *
msg_new(void)
{
	union msg	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return m;
}

/* ---- helpers ---- */

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse hex into a malloc'ed buffer; -1 on a bad digit or odd length. */
static int
hex_decode(const char *s, uint8_t **out, size_t *outlen)
{
	size_t	 n = strlen(s), i;
	uint8_t	*p;
	int	 hi, lo;

	if (n % 2 != 0 || (p = malloc(n / 2 + 1)) == NULL)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hex_nibble(s[2 * i])) < 0 ||
		    (lo = hex_nibble(s[2 * i + 1])) < 0) {
			free(p);
			return -1;
		}
		p[i] = (uint8_t)(hi << 4 | lo);
	}
	*out = p;
	*outlen = n / 2;
	return 0;
}

/* A copy of exactly n bytes, so a sanitizer sees any read past them. */
static uint8_t *
dup_exact(const uint8_t *p, size_t n)
{
	uint8_t	*q = malloc(n ? n : 1);

	if (q == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

/*
 * Every strict prefix of a valid body and the body plus one extra byte
 * must be refused by the decoder.  step > 1 samples long bodies.
 */
static int
cut_and_extend_fail(int type, const uint8_t *body, size_t len, size_t step)
{
	union msg	*m = msg_new();
	uint8_t		*q;
	size_t		 k;
	int		 bad = 0;

	for (k = 0; k < len; k += (len - k > 64 ? step : 1)) {
		q = dup_exact(body, k);
		if (decode(type, q, k, m) != -1) {
			fprintf(stderr, "  %s: prefix of %zu/%zu bytes accepted\n",
			    msgtype_name(type), k, len);
			bad++;
		}
		free(q);
	}
	q = malloc(len + 1);
	if (q == NULL)
		exit(1);
	if (len > 0)
		memcpy(q, body, len);
	q[len] = 0;
	if (decode(type, q, len + 1, m) != -1) {
		fprintf(stderr, "  %s: trailing byte accepted\n", msgtype_name(type));
		bad++;
	}
	free(q);
	free(m);
	return bad == 0;
}

static void
b62_put(uint64_t v, char *out, size_t n)
{
	static const char	a[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

	while (n-- > 0) {
		out[n] = a[v % 62];
		v /= 62;
	}
}

/* Replace the last 6 characters of s with the CRC32 of what comes before. */
static void
fix_checksum(char *s)
{
	size_t	n = strlen(s);

	if (n < TOKENFMT_CRC_CHARS)
		return;
	b62_put(tokenfmt_crc32(s, n - TOKENFMT_CRC_CHARS),
	    s + n - TOKENFMT_CRC_CHARS, TOKENFMT_CRC_CHARS);
}

static int
checksum_ok(const char *s)
{
	char	*t = strdup(s);
	int	 ok;

	if (t == NULL)
		exit(1);
	fix_checksum(t);
	ok = strcmp(s, t) == 0;
	free(t);
	return ok;
}

/* ---- the vector file ---- */

static unsigned	seen[NKNOWN];
static unsigned	nframes, nrejects, ntokens, nbadtokens;

static void
vec_frame(const char *name, const char *hex)
{
	const struct known	*k = known_find(name);
	struct frame_hdr	 hdr;
	struct wbuf		 w;
	union msg		*want, *got;
	uint8_t			*p;
	size_t			 n;

	if (k == NULL) {
		CHECK(0, name);
		fprintf(stderr, "  no known values named %s\n", name);
		return;
	}
	seen[k - known]++;
	if (hex_decode(hex, &p, &n) == -1) {
		CHECK(0, "vector is hex");
		return;
	}
	nframes++;
	want = msg_new();
	got = msg_new();
	k->fill(want);

	/* Encoding the known values gives exactly these bytes. */
	wbuf_init(&w);
	encode(k->type, want, &w);
	CHECK(!w.failed, name);
	CHECK(w.len == n && memcmp(w.data, p, n) == 0, name);
	if (w.len != n || memcmp(w.data, p, n) != 0) {
		size_t	i;

		fprintf(stderr, "  %s: encoder gives ", name);
		for (i = 0; i < w.len; i++)
			fprintf(stderr, "%02x", w.data[i]);
		fprintf(stderr, "\n");
	}
	wbuf_free(&w);

	/* The header is what the daemon checks first. */
	CHECK(n >= TOKEND_HDR_LEN && frame_hdr_decode(p, &hdr) == 0, name);
	if (n < TOKEND_HDR_LEN || frame_hdr_decode(p, &hdr) == -1)
		goto done;
	CHECK(hdr.version == TOKEND_PROTO_VERSION, name);
	CHECK(hdr.type == k->type, name);
	CHECK(hdr.length == n - TOKEND_HDR_LEN, name);
	CHECK(msg_len_ok(hdr.type, hdr.length), name);
	CHECK(msgtype_is_request(hdr.type) == (k->type < 0x80), name);
	if (msgtype_is_request(hdr.type))
		CHECK(hdr.length <= TOKEND_REQUEST_MAX, name);

	/* Decoding gives the known values back. */
	CHECK(decode(k->type, p + TOKEND_HDR_LEN, hdr.length, got) == 0, name);
	CHECK(msg_eq(k->type, want, got), name);
	CHECK(cut_and_extend_fail(k->type, p + TOKEND_HDR_LEN, hdr.length, 1),
	    name);
done:
	free(want);
	free(got);
	free(p);
}

static void
vec_reject(const char *name, const char *stage, const char *hex)
{
	struct frame_hdr	 hdr;
	union msg		*m;
	uint8_t			*p;
	size_t			 n;
	int			 hdr_ok, req, len_ok;

	if (hex_decode(hex, &p, &n) == -1) {
		CHECK(0, "reject vector is hex");
		return;
	}
	if (n < TOKEND_HDR_LEN) {
		CHECK(0, "reject vector has a whole header");
		free(p);
		return;
	}
	nrejects++;
	hdr_ok = frame_hdr_decode(p, &hdr) == 0;
	req = hdr_ok && msgtype_is_request(hdr.type);
	len_ok = req && msg_len_ok(hdr.type, hdr.length);
	if (strcmp(stage, "header") == 0) {
		CHECK(!hdr_ok, name);
	} else if (strcmp(stage, "type") == 0) {
		CHECK(hdr_ok && !req, name);
	} else if (strcmp(stage, "length") == 0) {
		CHECK(hdr_ok && req && !len_ok, name);
	} else if (strcmp(stage, "body") == 0) {
		/* A whole frame whose header passes; the decoder refuses the body. */
		CHECK(hdr_ok && hdr.length == n - TOKEND_HDR_LEN, name);
		if (hdr_ok && hdr.type < 0x80)
			CHECK(req && len_ok, name);
		if (hdr_ok && hdr.length == n - TOKEND_HDR_LEN) {
			m = msg_new();
			CHECK(decode(hdr.type, p + TOKEND_HDR_LEN, hdr.length, m) == -1,
			    name);
			free(m);
		}
	} else
		CHECK(0, "reject stage is header, type, length or body");
	free(p);
}

static void
vec_token(const char *name, const char *kind, const char *hex,
    const char *text)
{
	struct tokenfmt	 tf;
	char		 out[TOKENFMT_MAX_LEN + 1], id[12];
	uint8_t		*p;
	size_t		 n;
	int		 k;

	if (strcmp(kind, "refresh") == 0)
		k = TOKEN_REFRESH;
	else if (strcmp(kind, "access") == 0)
		k = TOKEN_ACCESS;
	else {
		CHECK(0, "token kind is refresh or access");
		return;
	}
	if (hex_decode(hex, &p, &n) == -1) {
		CHECK(0, "token payload is hex");
		return;
	}
	ntokens++;
	CHECK(tokenfmt_encode(k, p, n, out, sizeof(out)) == 0, name);
	CHECK(strcmp(out, text) == 0, name);
	CHECK(strlen(text) == (k == TOKEN_REFRESH ? 54 : 76), name);
	CHECK(tokenfmt_parse(text, strlen(text), &tf) == 0, name);
	CHECK(tf.kind == k && tf.len == n && memcmp(tf.payload, p, n) == 0,
	    name);
	/* The public id is the first block, right after the prefix. */
	tokenfmt_id_str(tokenfmt_load64(p), id);
	CHECK(strncmp(text + TOKENFMT_PREFIX_LEN, id, 11) == 0, name);
	free(p);
}

static void
vec_badtoken(const char *name, const char *reason, const char *text)
{
	struct tokenfmt	 tf;
	char		*fixed;

	nbadtokens++;
	CHECK(tokenfmt_parse(text, strlen(text), &tf) == -1, name);
	if (strcmp(reason, "checksum") == 0) {
		/* Only the checksum is wrong: with it recomputed, it parses. */
		if ((fixed = strdup(text)) == NULL)
			exit(1);
		fix_checksum(fixed);
		CHECK(tokenfmt_parse(fixed, strlen(fixed), &tf) == 0, name);
		free(fixed);
	} else if (strcmp(reason, "prefix") == 0 ||
	    strcmp(reason, "overflow") == 0 || strcmp(reason, "char") == 0) {
		/* Refused for that reason, not for the checksum. */
		CHECK(checksum_ok(text), name);
	} else if (strcmp(reason, "length") != 0)
		CHECK(0, "badtoken reason is checksum, prefix, length, overflow or char");
}

static void
read_vectors(const char *path)
{
	FILE	*f;
	char	*line = NULL, *save, *w[6];
	size_t	 cap = 0, i;
	int	 nw, lineno = 0;

	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		CHECK(0, "vector file opens");
		return;
	}
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[strspn(line, " \t")] == '\0')
			continue;
		nw = 0;
		for (w[nw] = strtok_r(line, " \t", &save); w[nw] != NULL && nw < 5;
		    w[nw] = strtok_r(NULL, " \t", &save))
			nw++;
		if (strcmp(w[0], "frame") == 0 && nw == 3)
			vec_frame(w[1], w[2]);
		else if (strcmp(w[0], "reject") == 0 && nw == 4)
			vec_reject(w[1], w[2], w[3]);
		else if (strcmp(w[0], "token") == 0 && nw == 5)
			vec_token(w[1], w[2], w[3], w[4]);
		else if (strcmp(w[0], "badtoken") == 0 && nw == 4)
			vec_badtoken(w[1], w[2], w[3]);
		else if (strcmp(w[0], "masterkey") == 0 ||
		    strcmp(w[0], "hash") == 0 || strcmp(w[0], "mac") == 0 ||
		    strcmp(w[0], "forged") == 0)
			continue;	/* tests/unit/test_token.c */
		else {
			fprintf(stderr, "%s:%d: cannot read this line\n", path,
			    lineno);
			CHECK(0, "vector line is well-formed");
		}
	}
	free(line);
	fclose(f);
	for (i = 0; i < NKNOWN; i++) {
		CHECK(seen[i] == 1, known[i].name);
		if (seen[i] != 1)
			fprintf(stderr, "  %s appears %u times in %s\n",
			    known[i].name, seen[i], path);
	}
	/* Every message type has at least one vector. */
	for (i = 0; i < NTYPES; i++) {
		size_t	j;
		int	found = 0;

		for (j = 0; j < NKNOWN; j++)
			if (known[j].type == all_types[i] && seen[j])
				found = 1;
		CHECK(found, msgtype_name(all_types[i]));
	}
	CHECK(nrejects >= 8 && ntokens >= 2 && nbadtokens >= 4,
	    "the file has reject and token vectors");
}

/* ---- header, types, lengths ---- */

static void
test_header(void)
{
	static const uint8_t	ex[8] = { 'T', 'K', 1, 0x08, 0, 0, 0, 0 };
	struct frame_hdr	hdr;
	uint8_t			b[8];
	const uint32_t		lens[] = { 0, 1, 255, 256, 0x01020304, UINT32_MAX };
	size_t			i;
	int			t, nreq;

	frame_hdr_encode(b, MSG_STATUS, 0);
	CHECK(memcmp(b, ex, 8) == 0, "STATUS header is 54 4b 01 08 00000000");
	frame_hdr_encode(b, MSG_ISSUE, 0x01020304);
	CHECK(b[4] == 1 && b[5] == 2 && b[6] == 3 && b[7] == 4,
	    "length is big-endian");
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		frame_hdr_encode(b, MSG_LIST, lens[i]);
		CHECK(frame_hdr_decode(b, &hdr) == 0 && hdr.type == MSG_LIST &&
		    hdr.length == lens[i] && hdr.version == 1, "header round trip");
	}
	memcpy(b, ex, 8);
	b[0] = 't';
	CHECK(frame_hdr_decode(b, &hdr) == -1, "magic is case-sensitive");
	memcpy(b, ex, 8);
	b[1] = 0;
	CHECK(frame_hdr_decode(b, &hdr) == -1, "second magic byte checked");
	for (t = 0; t < 256; t++) {
		memcpy(b, ex, 8);
		b[2] = (uint8_t)t;
		CHECK((frame_hdr_decode(b, &hdr) == 0) == (t == 1),
		    "only version 1 is accepted");
	}
	/* Exactly the twelve request types are requests. */
	nreq = 0;
	for (t = 0; t < 256; t++)
		if (msgtype_is_request(t))
			nreq++;
	CHECK(nreq == 12, "twelve request types");
	for (t = MSG_ISSUE; t <= MSG_OTP; t++)
		CHECK(msgtype_is_request(t), msgtype_name(t));
	for (t = MSG_ERROR; t <= MSG_OTP_RESULT; t++) {
		CHECK(!msgtype_is_request(t), msgtype_name(t));
		CHECK(strcmp(msgtype_name(t), "UNKNOWN") != 0, "response has a name");
	}
	CHECK(strcmp(msgtype_name(MSG_ISSUE), "ISSUE") == 0, "ISSUE name");
	CHECK(strcmp(msgtype_name(MSG_STATUS_RESULT), "STATUS_RESULT") == 0,
	    "STATUS_RESULT name");
	CHECK(strcmp(msgtype_name(0), "UNKNOWN") == 0, "type 0 unknown");
	CHECK(strcmp(msgtype_name(0x0d), "UNKNOWN") == 0, "type 0x0d unknown");
	CHECK(strcmp(msgtype_name(0x8b), "UNKNOWN") == 0, "type 0x8b unknown");
	CHECK(!msg_len_ok(0x0d, 0) && !msg_len_ok(0xff, 4), "unknown types have no length");
	for (t = PERR_MALFORMED; t <= PERR_UNAVAILABLE; t++)
		CHECK(strcmp(proto_err_name(t), "unknown error") != 0,
		    "every error code has a name");
	CHECK(strcmp(proto_err_name(0), "unknown error") == 0 &&
	    strcmp(proto_err_name(16), "unknown error") == 0,
	    "codes 0 and 16 are unknown");
}

/* The request body bounds PROTOCOL.md documents. */
static void
test_lengths(void)
{
	static const struct {
		int	type;
		size_t	min, max;
	} b[] = {
		{ MSG_ISSUE,		13,	65536 },
		{ MSG_CONV_REPLY,	1,	65536 },
		{ MSG_LIST,		3,	259 },
		{ MSG_REVOKE,		2,	13 },
		{ MSG_REVOKE_ALL,	2,	258 },
		{ MSG_EXCHANGE,		7,	65536 },
		{ MSG_VERIFY,		2,	130 },
		{ MSG_STATUS,		0,	0 },
		{ MSG_RENAME,		4,	79 },
		{ MSG_UNLOCK,		2,	258 },
		{ MSG_ROTATE,		6,	134 },
		{ MSG_OTP,		3,	259 },
	};
	size_t	i;

	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		const char	*n = msgtype_name(b[i].type);

		if (b[i].min > 0)
			CHECK(!msg_len_ok(b[i].type, b[i].min - 1), n);
		CHECK(msg_len_ok(b[i].type, b[i].min), n);
		CHECK(msg_len_ok(b[i].type, b[i].max), n);
		CHECK(!msg_len_ok(b[i].type, b[i].max + 1), n);
		CHECK(!msg_len_ok(b[i].type, (size_t)UINT32_MAX), n);
	}
	CHECK(!msg_len_ok(MSG_REVOKED, 3) && msg_len_ok(MSG_REVOKED, 4) &&
	    !msg_len_ok(MSG_REVOKED, 5), "REVOKED is 4 bytes");
	CHECK(!msg_len_ok(MSG_ERROR, 3) && msg_len_ok(MSG_ERROR, 260) &&
	    !msg_len_ok(MSG_ERROR, 261), "ERROR is 4..260 bytes");
}

/* ---- maximal fields ---- */

/* n bytes of varied non-NUL values (high bytes too), NUL-terminated. */
static void
fill_str(char *dst, size_t n, unsigned seed)
{
	size_t	i;

	for (i = 0; i < n; i++)
		dst[i] = (char)(1 + (seed * 31 + i * 7) % 255);
	dst[n] = '\0';
}

static void
fill_scopes(uint8_t *n, char scopes[][TOKEND_SCOPE_MAX + 1], unsigned seed)
{
	unsigned	i;

	*n = TOKEND_SCOPES_MAX;
	for (i = 0; i < TOKEND_SCOPES_MAX; i++)
		fill_str(scopes[i], TOKEND_SCOPE_MAX, seed + i);
}

static void
max_record(struct proto_record *r, unsigned seed)
{
	fill_str(r->id, TOKEND_ID_LEN, seed);
	fill_str(r->parent, TOKEND_ID_LEN, seed + 1);
	fill_str(r->user, TOKEND_USER_MAX, seed + 2);
	r->uid = UINT32_MAX - seed;
	fill_str(r->name, TOKEND_NAME_MAX, seed + 3);
	r->kind = TOKEN_ACCESS;
	r->created = INT64_MIN;
	r->expires = INT64_MAX;
	r->last_used = -1;
	fill_scopes(&r->nscopes, r->scopes, seed + 4);
}

static void
max_fill(int type, union msg *m)
{
	size_t	i;

	switch (type) {
	case MSG_ISSUE:
		fill_str(m->issue.user, TOKEND_USER_MAX, 1);
		fill_str(m->issue.name, TOKEND_NAME_MAX, 2);
		m->issue.expires = INT64_MAX;
		fill_scopes(&m->issue.nscopes, m->issue.scopes, 3);
		break;
	case MSG_CONV_REPLY:
		m->conv_reply.n = TOKEND_CONV_MAX;
		for (i = 0; i < TOKEND_CONV_MAX; i++)
			fill_str(m->conv_reply.answers[i], TOKEND_CONV_ANSWER_MAX,
			    (unsigned)i);
		break;
	case MSG_LIST:
		m->list.flags = LIST_F_ALL;
		fill_str(m->list.user, TOKEND_USER_MAX, 5);
		break;
	case MSG_REVOKE:
		fill_str(m->revoke.id, TOKEND_ID_LEN, 6);
		break;
	case MSG_REVOKE_ALL:
		fill_str(m->revoke_all.user, TOKEND_USER_MAX, 7);
		break;
	case MSG_EXCHANGE:
		fill_str(m->exchange.token, TOKEND_TOKEN_MAX, 8);
		m->exchange.lifetime = UINT32_MAX;
		fill_scopes(&m->exchange.nscopes, m->exchange.scopes, 9);
		break;
	case MSG_VERIFY:
		fill_str(m->verify.token, TOKEND_TOKEN_MAX, 10);
		break;
	case MSG_STATUS:
	case MSG_RENAMED:
		break;
	case MSG_RENAME:
		fill_str(m->rename.id, TOKEND_ID_LEN, 6);
		fill_str(m->rename.name, TOKEND_NAME_MAX, 7);
		break;
	case MSG_UNLOCK:
		fill_str(m->unlock.user, TOKEND_USER_MAX, 8);
		break;
	case MSG_ROTATE:
		fill_str(m->rotate.token, TOKEND_TOKEN_MAX, 9);
		m->rotate.overlap = UINT32_MAX;
		break;
	case MSG_UNLOCKED:
		m->unlocked.was_limited = 1;
		break;
	case MSG_OTP:
		m->otp.op = OTP_REMOVE;
		fill_str(m->otp.user, TOKEND_USER_MAX, 12);
		break;
	case MSG_OTP_RESULT:
		m->otp_result.enrolled = 1;
		m->otp_result.since = INT64_MAX;
		break;
	case MSG_ERROR:
		m->error.code = UINT16_MAX;
		fill_str(m->error.message, TOKEND_ERRMSG_MAX, 11);
		break;
	case MSG_CONV:
		m->conv.n = TOKEND_CONV_MAX;
		for (i = 0; i < TOKEND_CONV_MAX; i++) {
			m->conv.style[i] = (uint8_t)(CONV_ECHO_OFF + i % 5);
			fill_str(m->conv.text[i], TOKEND_CONV_TEXT_MAX, (unsigned)i);
		}
		break;
	case MSG_ISSUED:
		fill_str(m->issued.token, TOKEND_TOKEN_MAX, 12);
		max_record(&m->issued.rec, 13);
		break;
	case MSG_LIST_RESULT:
		/* A full chunk of maximal records (see test_list_chunk). */
		m->list_result.more = 1;
		m->list_result.n = TOKEND_LIST_CHUNK;
		for (i = 0; i < m->list_result.n; i++)
			max_record(&m->list_result.recs[i], (unsigned)i);
		break;
	case MSG_REVOKED:
		m->revoked.count = UINT32_MAX;
		break;
	case MSG_EXCHANGED:
		fill_str(m->exchanged.token, TOKEND_TOKEN_MAX, 14);
		m->exchanged.expires_in = UINT32_MAX;
		max_record(&m->exchanged.rec, 15);
		break;
	case MSG_VERIFY_RESULT:
		m->verify_result.active = 1;
		max_record(&m->verify_result.rec, 16);
		break;
	case MSG_STATUS_RESULT:
		fill_str(m->status_result.version,
		    sizeof(m->status_result.version) - 1, 17);
		m->status_result.healthy = 1;
		m->status_result.n = TOKEND_STATUS_MAX;
		for (i = 0; i < TOKEND_STATUS_MAX; i++) {
			fill_str(m->status_result.counters[i].key,
			    TOKEND_STATUS_KEY_MAX, (unsigned)i);
			m->status_result.counters[i].value = UINT64_MAX - i;
		}
		break;
	}
}

static void
test_max_round_trips(void)
{
	struct frame_hdr	 hdr;
	struct wbuf		 w;
	union msg		*a = msg_new(), *b = msg_new();
	size_t			 i;
	const char		*n;

	for (i = 0; i < NTYPES; i++) {
		int	t = all_types[i];

		n = msgtype_name(t);
		memset(a, 0, sizeof(*a));
		max_fill(t, a);
		wbuf_init(&w);
		encode(t, a, &w);
		CHECK(!w.failed, n);
		if (w.failed) {
			wbuf_free(&w);
			continue;
		}
		CHECK(frame_hdr_decode(w.data, &hdr) == 0 && hdr.type == t &&
		    hdr.length == w.len - TOKEND_HDR_LEN, n);
		CHECK(msg_len_ok(t, hdr.length), n);
		/* The largest request still fits the default max_frame. */
		if (t < 0x80)
			CHECK(hdr.length <= TOKEND_REQUEST_MAX, n);
		CHECK(decode(t, w.data + TOKEND_HDR_LEN, hdr.length, b) == 0, n);
		CHECK(msg_eq(t, a, b), n);
		CHECK(cut_and_extend_fail(t, w.data + TOKEND_HDR_LEN, hdr.length,
		    hdr.length > 16384 ? 97 : 1), n);
		wbuf_free(&w);
	}
	free(a);
	free(b);
}

/*
 * A LIST_RESULT frame carries up to TOKEND_LIST_CHUNK records, so that many
 * records with maximal fields must fit in TOKEND_FRAME_MAX.
 */
static void
test_list_chunk(void)
{
	struct proto_record	*recs;
	struct wbuf		 w;
	size_t			 i, one;

	if ((recs = calloc(TOKEND_LIST_CHUNK, sizeof(*recs))) == NULL)
		exit(1);
	for (i = 0; i < TOKEND_LIST_CHUNK; i++)
		max_record(&recs[i], (unsigned)i);
	wbuf_init(&w);
	enc_list_result(&w, recs, 1, 0);
	one = w.len - TOKEND_HDR_LEN - 3;
	CHECK(one == 1436, "a maximal record is 1436 bytes");
	wbuf_reset(&w);
	enc_list_result(&w, recs, TOKEND_LIST_CHUNK, 0);
	CHECK(!w.failed, "BUG: TOKEND_LIST_CHUNK maximal records exceed "
	    "TOKEND_FRAME_MAX (64 x 1436 + 3 = 91907 > 65536)");
	wbuf_free(&w);
	free(recs);
}

/* A body built by hand with one field one byte over its limit. */
static void
test_over_limits(void)
{
	struct wbuf	 w;
	union msg	*m = msg_new();
	char		 s[TOKEND_CONV_TEXT_MAX + 2];
	int		 i;

#define BODY	(w.data), (w.len)
	/* token name 65 bytes */
	wbuf_init(&w);
	fill_str(s, 0, 0);
	wbuf_str(&w, "");
	fill_str(s, TOKEND_NAME_MAX + 1, 1);
	wbuf_str(&w, s);
	wbuf_u64(&w, 0);
	wbuf_u8(&w, 0);
	CHECK(decode(MSG_ISSUE, BODY, m) == -1, "name of 65 bytes refused");
	wbuf_reset(&w);
	/* user 257 bytes */
	fill_str(s, TOKEND_USER_MAX + 1, 2);
	wbuf_str(&w, s);
	CHECK(decode(MSG_REVOKE_ALL, BODY, m) == -1, "user of 257 bytes refused");
	wbuf_reset(&w);
	/* scope 65 bytes */
	wbuf_str(&w, "");
	wbuf_str(&w, "");
	wbuf_u64(&w, 0);
	wbuf_u8(&w, 1);
	fill_str(s, TOKEND_SCOPE_MAX + 1, 3);
	wbuf_str(&w, s);
	CHECK(decode(MSG_ISSUE, BODY, m) == -1, "scope of 65 bytes refused");
	wbuf_reset(&w);
	/* token 129 bytes */
	fill_str(s, TOKEND_TOKEN_MAX + 1, 4);
	wbuf_str(&w, s);
	CHECK(decode(MSG_VERIFY, BODY, m) == -1, "token of 129 bytes refused");
	wbuf_reset(&w);
	/* id 12 bytes */
	wbuf_str(&w, "0123456789AB");
	CHECK(decode(MSG_REVOKE, BODY, m) == -1, "id of 12 bytes refused");
	wbuf_reset(&w);
	/* answer 513 bytes */
	wbuf_u8(&w, 1);
	fill_str(s, TOKEND_CONV_ANSWER_MAX + 1, 5);
	wbuf_str(&w, s);
	CHECK(decode(MSG_CONV_REPLY, BODY, m) == -1, "answer of 513 bytes refused");
	wbuf_reset(&w);
	/* prompt 513 bytes */
	wbuf_u8(&w, 1);
	wbuf_u8(&w, CONV_ECHO_OFF);
	fill_str(s, TOKEND_CONV_TEXT_MAX + 1, 6);
	wbuf_str(&w, s);
	CHECK(decode(MSG_CONV, BODY, m) == -1, "prompt of 513 bytes refused");
	wbuf_reset(&w);
	/* error message 257 bytes */
	wbuf_u16(&w, 1);
	fill_str(s, TOKEND_ERRMSG_MAX + 1, 7);
	wbuf_str(&w, s);
	CHECK(decode(MSG_ERROR, BODY, m) == -1, "message of 257 bytes refused");
	wbuf_reset(&w);
	/* version 32 bytes, counter key 49 bytes */
	fill_str(s, 32, 8);
	wbuf_str(&w, s);
	wbuf_u8(&w, 1);
	wbuf_u8(&w, 0);
	CHECK(decode(MSG_STATUS_RESULT, BODY, m) == -1, "version of 32 bytes refused");
	wbuf_reset(&w);
	wbuf_str(&w, "0.1.0");
	wbuf_u8(&w, 1);
	wbuf_u8(&w, 1);
	fill_str(s, TOKEND_STATUS_KEY_MAX + 1, 9);
	wbuf_str(&w, s);
	wbuf_u64(&w, 1);
	CHECK(decode(MSG_STATUS_RESULT, BODY, m) == -1, "key of 49 bytes refused");
	wbuf_reset(&w);
	/* status counters 65 */
	wbuf_str(&w, "0.1.0");
	wbuf_u8(&w, 1);
	wbuf_u8(&w, TOKEND_STATUS_MAX + 1);
	for (i = 0; i < TOKEND_STATUS_MAX + 1; i++) {
		wbuf_str(&w, "k");
		wbuf_u64(&w, 1);
	}
	CHECK(decode(MSG_STATUS_RESULT, BODY, m) == -1, "65 counters refused");
	wbuf_reset(&w);
	/* LIST_RESULT with 65 records announced */
	wbuf_u8(&w, 0);
	wbuf_u16(&w, TOKEND_LIST_CHUNK + 1);
	CHECK(decode(MSG_LIST_RESULT, BODY, m) == -1, "TOKEND_LIST_CHUNK + 1 records refused");
	wbuf_reset(&w);
	/* CONV styles 0 and 5 */
	wbuf_u8(&w, 1);
	wbuf_u8(&w, 0);
	wbuf_str(&w, "x");
	CHECK(decode(MSG_CONV, BODY, m) == -1, "style 0 refused");
	wbuf_free(&w);
#undef BODY

	/* Encoders refuse counts over the limits. */
	memset(m, 0, sizeof(*m));
	m->issue.nscopes = TOKEND_SCOPES_MAX + 1;
	wbuf_init(&w);
	enc_issue(&w, &m->issue);
	CHECK(w.failed, "enc_issue refuses 17 scopes");
	wbuf_free(&w);
	memset(m, 0, sizeof(*m));
	m->exchange.nscopes = TOKEND_SCOPES_MAX + 1;
	enc_exchange(&w, &m->exchange);
	CHECK(w.failed, "enc_exchange refuses 17 scopes");
	wbuf_free(&w);
	memset(m, 0, sizeof(*m));
	m->conv_reply.n = TOKEND_CONV_MAX + 1;
	enc_conv_reply(&w, &m->conv_reply);
	CHECK(w.failed, "enc_conv_reply refuses 17 answers");
	wbuf_free(&w);
	memset(m, 0, sizeof(*m));
	m->conv.n = TOKEND_CONV_MAX + 1;
	enc_conv(&w, &m->conv);
	CHECK(w.failed, "enc_conv refuses 17 prompts");
	wbuf_free(&w);
	memset(m, 0, sizeof(*m));
	m->status_result.n = TOKEND_STATUS_MAX + 1;
	enc_status_result(&w, &m->status_result);
	CHECK(w.failed, "enc_status_result refuses 65 counters");
	wbuf_free(&w);
	memset(m, 0, sizeof(*m));
	enc_list_result(&w, m->list_result.recs, TOKEND_LIST_CHUNK + 1, 0);
	CHECK(w.failed, "enc_list_result refuses 65 records");
	wbuf_free(&w);
	memset(m, 0, sizeof(*m));
	m->issued.rec.nscopes = TOKEND_SCOPES_MAX + 1;
	enc_issued(&w, &m->issued);
	CHECK(w.failed, "a record with 17 scopes is refused");
	wbuf_free(&w);

	/* An over-long error message is cut to 256 bytes, never refused. */
	{
		char		long_msg[1000];
		struct frame_hdr hdr;

		memset(long_msg, 'e', sizeof(long_msg) - 1);
		long_msg[sizeof(long_msg) - 1] = '\0';
		enc_error(&w, PERR_INTERNAL, long_msg);
		CHECK(!w.failed && frame_hdr_decode(w.data, &hdr) == 0 &&
		    hdr.length == 2 + 2 + TOKEND_ERRMSG_MAX, "error message truncated");
		CHECK(decode(MSG_ERROR, w.data + TOKEND_HDR_LEN, hdr.length, m) == 0 &&
		    strlen(m->error.message) == TOKEND_ERRMSG_MAX,
		    "truncated error decodes");
		wbuf_free(&w);
	}
	free(m);
}

/* ---- wbuf ---- */

static void
test_wbuf(void)
{
	struct wbuf	 w;
	struct frame_hdr hdr;
	uint8_t		*big;
	size_t		 i, off, caps = 0, lastcap = 0;
	int		 ok;

	wbuf_init(&w);
	CHECK(w.data == NULL && w.len == 0 && w.cap == 0 && !w.failed, "init");
	/* Byte by byte through several doublings: nothing lost. */
	for (i = 0; i < 10000; i++) {
		wbuf_u8(&w, (uint8_t)(i * 13));
		if (w.cap != lastcap) {
			caps++;
			lastcap = w.cap;
		}
	}
	CHECK(!w.failed && w.len == 10000 && w.cap >= 10000, "grows");
	CHECK(caps >= 6, "capacity doubled several times");
	ok = 1;
	for (i = 0; i < 10000; i++)
		if (w.data[i] != (uint8_t)(i * 13))
			ok = 0;
	CHECK(ok, "contents survive growth");
	wbuf_reset(&w);
	CHECK(w.len == 0 && w.cap == lastcap && !w.failed, "reset keeps memory");
	wbuf_free(&w);
	CHECK(w.data == NULL && w.len == 0 && w.cap == 0, "free");

	/* Integers are big-endian. */
	wbuf_u16(&w, 0x0102);
	wbuf_u32(&w, 0x03040506);
	wbuf_u64(&w, 0x0708090a0b0c0d0eULL);
	wbuf_str(&w, "ab");
	{
		static const uint8_t want[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
		    11, 12, 13, 14, 0, 2, 'a', 'b' };

		CHECK(w.len == sizeof(want) && memcmp(w.data, want, w.len) == 0,
		    "u16 u32 u64 str layout");
	}
	wbuf_free(&w);

	/* One put of exactly the largest allowed size, then a failing one. */
	if ((big = calloc(1, TOKEND_FRAME_MAX * 4 + 1)) == NULL)
		exit(1);
	wbuf_put(&w, big, TOKEND_FRAME_MAX * 4);
	CHECK(!w.failed && w.len == TOKEND_FRAME_MAX * 4, "large put");
	wbuf_free(&w);
	wbuf_put(&w, big, TOKEND_FRAME_MAX * 4 + 1);
	CHECK(w.failed && w.len == 0, "oversize put fails");
	wbuf_u8(&w, 1);
	CHECK(w.len == 0, "after a failure every append is a no-op");
	wbuf_reset(&w);
	CHECK(!w.failed, "reset clears the failure");
	wbuf_free(&w);

	/* A frame whose body passes TOKEND_FRAME_MAX fails. */
	off = frame_begin(&w, MSG_ISSUED);
	wbuf_put(&w, big, TOKEND_FRAME_MAX);
	frame_end(&w, off);
	CHECK(!w.failed && frame_hdr_decode(w.data, &hdr) == 0 &&
	    hdr.length == TOKEND_FRAME_MAX, "a body of TOKEND_FRAME_MAX is fine");
	wbuf_free(&w);
	off = frame_begin(&w, MSG_ISSUED);
	wbuf_put(&w, big, TOKEND_FRAME_MAX + 1);
	frame_end(&w, off);
	CHECK(w.failed, "a body over TOKEND_FRAME_MAX fails");
	wbuf_free(&w);

	/* A string over 65535 bytes fails. */
	memset(big, 'x', 70000);
	big[70000] = '\0';
	wbuf_str(&w, (const char *)big);
	CHECK(w.failed, "a string over 65535 bytes fails");
	wbuf_free(&w);
	memset(big, 'x', 0xffff);
	big[0xffff] = '\0';
	wbuf_str(&w, (const char *)big);
	CHECK(!w.failed && w.len == 2 + 0xffff, "a string of 65535 bytes is fine");
	wbuf_free(&w);
	free(big);

	/* Pipelining: frames appended to one buffer come apart in order. */
	{
		struct msg_list		l;
		struct msg_revoke	r;
		const int		order[] = { MSG_LIST, MSG_STATUS, MSG_REVOKE };
		size_t			pos = 0;
		int			k = 0;

		memset(&l, 0, sizeof(l));
		memset(&r, 0, sizeof(r));
		SET(r.id, T_RID);
		enc_list(&w, &l);
		enc_status(&w);
		enc_revoke(&w, &r);
		CHECK(!w.failed && w.len == 11 + 8 + 21, "three frames");
		while (pos + TOKEND_HDR_LEN <= w.len && k < 3) {
			CHECK(frame_hdr_decode(w.data + pos, &hdr) == 0 &&
			    hdr.type == order[k], "frame order");
			pos += TOKEND_HDR_LEN + hdr.length;
			k++;
		}
		CHECK(k == 3 && pos == w.len, "frames end where the buffer ends");
		wbuf_free(&w);
	}
}

/* rbuf: reads past the end fail, and stay failed. */
static void
test_rbuf(void)
{
	static const uint8_t	b[] = { 0x01, 0x02, 0x03, 0x04, 0x05 };
	struct rbuf		r;
	char			s[8];

	rbuf_init(&r, b, sizeof(b));
	CHECK(rbuf_u32(&r) == 0x01020304, "u32 big-endian");
	CHECK(rbuf_done(&r) == -1, "not all consumed");
	CHECK(rbuf_u16(&r) == 0 && r.failed, "short read fails");
	CHECK(rbuf_u8(&r) == 0, "failed stays failed");
	CHECK(rbuf_done(&r) == -1, "done reports the failure");
	rbuf_init(&r, b, 0);
	CHECK(rbuf_done(&r) == 0, "empty body consumed");
	rbuf_init(&r, (const uint8_t *)"\x00\x03" "abc", 5);
	rbuf_str(&r, s, 4);
	CHECK(rbuf_done(&r) == 0 && strcmp(s, "abc") == 0, "str fits size-1");
	rbuf_init(&r, (const uint8_t *)"\x00\x03" "abc", 5);
	rbuf_str(&r, s, 3);
	CHECK(r.failed && s[0] == '\0', "str over size-1 fails");
	rbuf_init(&r, (const uint8_t *)"\x00\x00", 2);
	rbuf_str(&r, s, 1);
	CHECK(rbuf_done(&r) == 0 && s[0] == '\0', "empty string");
}

int
main(int argc, char **argv)
{
	read_vectors(argc > 1 ? argv[1] : VECTORS_DEFAULT);
	test_header();
	test_lengths();
	test_rbuf();
	test_wbuf();
	test_max_round_trips();
	test_over_limits();
	test_list_chunk();
	printf("vectors: %u frames, %u rejects, %u tokens, %u bad tokens\n",
	    nframes, nrejects, ntokens, nbadtokens);
	return check_summary("proto");
}
