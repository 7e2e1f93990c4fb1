/* SPDX-License-Identifier: ISC */
/*
 * Frame and message encoding of the tokend protocol (see PROTOCOL.md).
 * Integers are big-endian; a string is a u16 length then its bytes, with
 * no NUL inside; a scope list is a u8 count then that many strings.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static const struct {
	int		 type;
	const char	*name;
	size_t		 min_len;
	size_t		 max_len;
} msg_table[] = {
	/* requests: min/max body as the decoder will accept */
	{ MSG_ISSUE,		"ISSUE",	2 + 2 + 8 + 1,	TOKEND_FRAME_MAX },
	{ MSG_CONV_REPLY,	"CONV_REPLY",	1,		TOKEND_FRAME_MAX },
	{ MSG_LIST,		"LIST",		1 + 2,		1 + 2 + TOKEND_USER_MAX },
	{ MSG_REVOKE,		"REVOKE",	2,		2 + TOKEND_ID_LEN },
	{ MSG_REVOKE_ALL,	"REVOKE_ALL",	2,		2 + TOKEND_USER_MAX },
	{ MSG_EXCHANGE,		"EXCHANGE",	2 + 4 + 1,	TOKEND_FRAME_MAX },
	{ MSG_VERIFY,		"VERIFY",	2,		2 + TOKEND_TOKEN_MAX },
	{ MSG_STATUS,		"STATUS",	0,		0 },
	{ MSG_RENAME,		"RENAME",	2 + 2,		2 + TOKEND_ID_LEN + 2 + TOKEND_NAME_MAX },
	{ MSG_UNLOCK,		"UNLOCK",	2,		2 + TOKEND_USER_MAX },
	{ MSG_ROTATE,		"ROTATE",	2 + 4,		2 + TOKEND_TOKEN_MAX + 4 },
	{ MSG_OTP,		"OTP",		1 + 2,		1 + 2 + TOKEND_USER_MAX },
	/* responses */
	{ MSG_ERROR,		"ERROR",	2 + 2,		2 + 2 + TOKEND_ERRMSG_MAX },
	{ MSG_CONV,		"CONV",		1,		TOKEND_FRAME_MAX },
	{ MSG_ISSUED,		"ISSUED",	2,		TOKEND_FRAME_MAX },
	{ MSG_LIST_RESULT,	"LIST_RESULT",	1 + 2,		TOKEND_FRAME_MAX },
	{ MSG_REVOKED,		"REVOKED",	4,		4 },
	{ MSG_EXCHANGED,	"EXCHANGED",	2 + 4,		TOKEND_FRAME_MAX },
	{ MSG_VERIFY_RESULT,	"VERIFY_RESULT", 1,		TOKEND_FRAME_MAX },
	{ MSG_STATUS_RESULT,	"STATUS_RESULT", 2 + 1 + 1,	TOKEND_FRAME_MAX },
	{ MSG_RENAMED,		"RENAMED",	0,		0 },
	{ MSG_UNLOCKED,		"UNLOCKED",	1,		1 },
	{ MSG_OTP_RESULT,	"OTP_RESULT",	1 + 8,		1 + 8 },
};

static int
msg_index(int type)
{
	size_t	i;

	for (i = 0; i < sizeof(msg_table) / sizeof(msg_table[0]); i++)
		if (msg_table[i].type == type)
			return (int)i;
	return -1;
}

const char *
msgtype_name(int type)
{
	int	i = msg_index(type);

	return i < 0 ? "UNKNOWN" : msg_table[i].name;
}

int
msgtype_is_request(int type)
{
	return msg_index(type) >= 0 && type < 0x80;
}

int
msg_len_ok(int type, size_t len)
{
	int	i = msg_index(type);

	return i >= 0 && len >= msg_table[i].min_len &&
	    len <= msg_table[i].max_len;
}

const char *
proto_err_name(int code)
{
	switch (code) {
	case PERR_MALFORMED:	return "malformed request";
	case PERR_AUTH:		return "authentication failed";
	case PERR_DENIED:	return "permission denied";
	case PERR_NOT_FOUND:	return "not found";
	case PERR_INACTIVE:	return "token is not active";
	case PERR_EXISTS:	return "a token with that name exists";
	case PERR_LIMIT:	return "too many tokens";
	case PERR_INVALID:	return "invalid argument";
	case PERR_BUSY:		return "daemon busy";
	case PERR_TIMEOUT:	return "timed out";
	case PERR_STORE:	return "storage error";
	case PERR_INTERNAL:	return "internal error";
	case PERR_RATE_LIMITED:	return "too many failures, try again later";
	case PERR_SHUTDOWN:	return "daemon is shutting down";
	case PERR_UNAVAILABLE:	return "token database unavailable";
	}
	return "unknown error";
}

const char *
proto_err_key(int code)
{
	switch (code) {
	case PERR_MALFORMED:	return "malformed";
	case PERR_AUTH:		return "auth";
	case PERR_DENIED:	return "denied";
	case PERR_NOT_FOUND:	return "not_found";
	case PERR_INACTIVE:	return "inactive";
	case PERR_EXISTS:	return "exists";
	case PERR_LIMIT:	return "limit";
	case PERR_INVALID:	return "invalid";
	case PERR_BUSY:		return "busy";
	case PERR_TIMEOUT:	return "timeout";
	case PERR_STORE:	return "store";
	case PERR_INTERNAL:	return "internal";
	case PERR_RATE_LIMITED:	return "rate_limited";
	case PERR_SHUTDOWN:	return "shutdown";
	case PERR_UNAVAILABLE:	return "unavailable";
	}
	return NULL;
}

int
frame_hdr_decode(const uint8_t *p, struct frame_hdr *hdr)
{
	if (p[0] != TOKEND_MAGIC0 || p[1] != TOKEND_MAGIC1)
		return -1;
	hdr->version = p[2];
	hdr->type = p[3];
	hdr->length = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
	    (uint32_t)p[6] << 8 | p[7];
	if (hdr->version != TOKEND_PROTO_VERSION)
		return -1;
	return 0;
}

void
frame_hdr_encode(uint8_t *p, uint8_t type, uint32_t length)
{
	p[0] = TOKEND_MAGIC0;
	p[1] = TOKEND_MAGIC1;
	p[2] = TOKEND_PROTO_VERSION;
	p[3] = type;
	p[4] = length >> 24;
	p[5] = length >> 16;
	p[6] = length >> 8;
	p[7] = length;
}

void
wbuf_init(struct wbuf *w)
{
	memset(w, 0, sizeof(*w));
}

void
wbuf_free(struct wbuf *w)
{
	if (w->data != NULL) {
		explicit_bzero(w->data, w->cap);
		free(w->data);
	}
	wbuf_init(w);
}

void
wbuf_reset(struct wbuf *w)
{
	if (w->data != NULL)
		explicit_bzero(w->data, w->len);
	w->len = 0;
	w->failed = 0;
}

/* Grow by doubling; the old block is wiped since frames carry secrets. */
static int
wbuf_grow(struct wbuf *w, size_t n)
{
	size_t	 cap;
	uint8_t	*p;

	if (w->failed)
		return -1;
	if (n > TOKEND_FRAME_MAX * 4 || w->len + n > SIZE_MAX / 2) {
		w->failed = 1;
		return -1;
	}
	if (w->len + n <= w->cap)
		return 0;
	cap = w->cap ? w->cap : 256;
	while (cap < w->len + n)
		cap *= 2;
	if ((p = malloc(cap)) == NULL) {
		w->failed = 1;
		return -1;
	}
	if (w->data != NULL) {
		memcpy(p, w->data, w->len);
		explicit_bzero(w->data, w->cap);
		free(w->data);
	}
	w->data = p;
	w->cap = cap;
	return 0;
}

/*
 * The encoders below use these inline forms: a reply is dozens of small
 * appends, and the daemon encodes one per request.
 */
static inline int
reserve(struct wbuf *w, size_t n)
{
	if (!w->failed && n <= w->cap - w->len)
		return 0;
	return wbuf_grow(w, n);
}

static inline void
put_bytes(struct wbuf *w, const void *p, size_t n)
{
	if (n == 0 || reserve(w, n) == -1)
		return;
	memcpy(w->data + w->len, p, n);
	w->len += n;
}

static inline void
put_u8(struct wbuf *w, uint8_t v)
{
	if (reserve(w, 1) == -1)
		return;
	w->data[w->len++] = v;
}

static inline void
put_u16(struct wbuf *w, uint16_t v)
{
	uint8_t	*b;

	if (reserve(w, 2) == -1)
		return;
	b = w->data + w->len;
	b[0] = v >> 8;
	b[1] = v & 0xff;
	w->len += 2;
}

static inline void
put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t	*b;

	if (reserve(w, 4) == -1)
		return;
	b = w->data + w->len;
	b[0] = v >> 24;
	b[1] = (v >> 16) & 0xff;
	b[2] = (v >> 8) & 0xff;
	b[3] = v & 0xff;
	w->len += 4;
}

static inline void
put_u64(struct wbuf *w, uint64_t v)
{
	put_u32(w, v >> 32);
	put_u32(w, v & 0xffffffff);
}

static inline void
put_str(struct wbuf *w, const char *s)
{
	size_t	n = strlen(s);

	if (n > 0xffff) {
		w->failed = 1;
		return;
	}
	put_u16(w, n);
	put_bytes(w, s, n);
}

void
wbuf_put(struct wbuf *w, const void *p, size_t n)
{
	put_bytes(w, p, n);
}

void
wbuf_u8(struct wbuf *w, uint8_t v)
{
	put_u8(w, v);
}

void
wbuf_u16(struct wbuf *w, uint16_t v)
{
	put_u16(w, v);
}

void
wbuf_u32(struct wbuf *w, uint32_t v)
{
	put_u32(w, v);
}

void
wbuf_u64(struct wbuf *w, uint64_t v)
{
	put_u64(w, v);
}

void
wbuf_str(struct wbuf *w, const char *s)
{
	put_str(w, s);
}

size_t
frame_begin(struct wbuf *w, uint8_t type)
{
	uint8_t	hdr[TOKEND_HDR_LEN];
	size_t	off = w->len;

	frame_hdr_encode(hdr, type, 0);
	put_bytes(w, hdr, sizeof(hdr));
	return off;
}

void
frame_end(struct wbuf *w, size_t off)
{
	size_t	len;

	if (w->failed)
		return;
	len = w->len - off - TOKEND_HDR_LEN;
	if (len > TOKEND_FRAME_MAX) {
		w->failed = 1;
		return;
	}
	frame_hdr_encode(w->data + off, w->data[off + 3], len);
}

void
rbuf_init(struct rbuf *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->left = n;
	r->failed = 0;
}

static const uint8_t *
rbuf_take(struct rbuf *r, size_t n)
{
	const uint8_t	*p;

	if (r->failed || r->left < n) {
		r->failed = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

uint8_t
rbuf_u8(struct rbuf *r)
{
	const uint8_t	*p = rbuf_take(r, 1);

	return p == NULL ? 0 : p[0];
}

uint16_t
rbuf_u16(struct rbuf *r)
{
	const uint8_t	*p = rbuf_take(r, 2);

	return p == NULL ? 0 : (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t
rbuf_u32(struct rbuf *r)
{
	const uint8_t	*p = rbuf_take(r, 4);

	if (p == NULL)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

uint64_t
rbuf_u64(struct rbuf *r)
{
	uint64_t	hi = rbuf_u32(r);

	return hi << 32 | rbuf_u32(r);
}

void
rbuf_str(struct rbuf *r, char *dst, size_t size)
{
	const uint8_t	*p;
	size_t		 n;

	dst[0] = '\0';
	n = rbuf_u16(r);
	if (r->failed)
		return;
	if (n >= size) {
		r->failed = 1;
		return;
	}
	if ((p = rbuf_take(r, n)) == NULL)
		return;
	if (memchr(p, '\0', n) != NULL) {
		r->failed = 1;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

int
rbuf_done(struct rbuf *r)
{
	return (r->failed || r->left != 0) ? -1 : 0;
}

static void
put_scopes(struct wbuf *w, uint8_t n, const char scopes[][TOKEND_SCOPE_MAX + 1])
{
	uint8_t	i;

	if (n > TOKEND_SCOPES_MAX) {
		w->failed = 1;
		return;
	}
	put_u8(w, n);
	for (i = 0; i < n; i++)
		put_str(w, scopes[i]);
}

static void
get_scopes(struct rbuf *r, uint8_t *n, char scopes[][TOKEND_SCOPE_MAX + 1])
{
	uint8_t	i;

	*n = rbuf_u8(r);
	if (*n > TOKEND_SCOPES_MAX) {
		r->failed = 1;
		*n = 0;
		return;
	}
	for (i = 0; i < *n; i++)
		rbuf_str(r, scopes[i], TOKEND_SCOPE_MAX + 1);
}

/* Returns where last_used went in w (VERIFY answers patch it when cached). */
static size_t
put_record(struct wbuf *w, const struct proto_record *rec)
{
	size_t	last_used_off;

	put_str(w, rec->id);
	put_str(w, rec->parent);
	put_str(w, rec->user);
	put_u32(w, rec->uid);
	put_str(w, rec->name);
	put_u8(w, rec->kind);
	put_u64(w, (uint64_t)rec->created);
	put_u64(w, (uint64_t)rec->expires);
	last_used_off = w->len;
	put_u64(w, (uint64_t)rec->last_used);
	put_scopes(w, rec->nscopes, rec->scopes);
	return last_used_off;
}

static void
get_record(struct rbuf *r, struct proto_record *rec)
{
	rbuf_str(r, rec->id, sizeof(rec->id));
	rbuf_str(r, rec->parent, sizeof(rec->parent));
	rbuf_str(r, rec->user, sizeof(rec->user));
	rec->uid = rbuf_u32(r);
	rbuf_str(r, rec->name, sizeof(rec->name));
	rec->kind = rbuf_u8(r);
	rec->created = (int64_t)rbuf_u64(r);
	rec->expires = (int64_t)rbuf_u64(r);
	rec->last_used = (int64_t)rbuf_u64(r);
	get_scopes(r, &rec->nscopes, rec->scopes);
}

void
enc_issue(struct wbuf *w, const struct msg_issue *m)
{
	size_t	off = frame_begin(w, MSG_ISSUE);

	put_str(w, m->user);
	put_str(w, m->name);
	put_u64(w, (uint64_t)m->expires);
	put_scopes(w, m->nscopes, m->scopes);
	frame_end(w, off);
}

int
dec_issue(const uint8_t *p, size_t n, struct msg_issue *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	rbuf_str(&r, m->user, sizeof(m->user));
	rbuf_str(&r, m->name, sizeof(m->name));
	m->expires = (int64_t)rbuf_u64(&r);
	get_scopes(&r, &m->nscopes, m->scopes);
	return rbuf_done(&r);
}

void
enc_conv_reply(struct wbuf *w, const struct msg_conv_reply *m)
{
	size_t	off = frame_begin(w, MSG_CONV_REPLY);
	uint8_t	i;

	if (m->n > TOKEND_CONV_MAX)
		w->failed = 1;
	put_u8(w, m->n);
	for (i = 0; i < m->n && i < TOKEND_CONV_MAX; i++)
		put_str(w, m->answers[i]);
	frame_end(w, off);
}

int
dec_conv_reply(const uint8_t *p, size_t n, struct msg_conv_reply *m)
{
	struct rbuf	r;
	uint8_t		i;

	rbuf_init(&r, p, n);
	m->n = rbuf_u8(&r);
	if (m->n > TOKEND_CONV_MAX)
		return -1;
	for (i = 0; i < m->n; i++)
		rbuf_str(&r, m->answers[i], sizeof(m->answers[i]));
	return rbuf_done(&r);
}

void
enc_list(struct wbuf *w, const struct msg_list *m)
{
	size_t	off = frame_begin(w, MSG_LIST);

	put_u8(w, m->flags);
	put_str(w, m->user);
	frame_end(w, off);
}

int
dec_list(const uint8_t *p, size_t n, struct msg_list *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	m->flags = rbuf_u8(&r);
	rbuf_str(&r, m->user, sizeof(m->user));
	if (m->flags & ~LIST_F_ALL)
		return -1;
	return rbuf_done(&r);
}

void
enc_revoke(struct wbuf *w, const struct msg_revoke *m)
{
	size_t	off = frame_begin(w, MSG_REVOKE);

	put_str(w, m->id);
	frame_end(w, off);
}

int
dec_revoke(const uint8_t *p, size_t n, struct msg_revoke *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	rbuf_str(&r, m->id, sizeof(m->id));
	return rbuf_done(&r);
}

void
enc_rename(struct wbuf *w, const struct msg_rename *m)
{
	size_t	off = frame_begin(w, MSG_RENAME);

	put_str(w, m->id);
	put_str(w, m->name);
	frame_end(w, off);
}

int
dec_rename(const uint8_t *p, size_t n, struct msg_rename *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	rbuf_str(&r, m->id, sizeof(m->id));
	rbuf_str(&r, m->name, sizeof(m->name));
	return rbuf_done(&r);
}

void
enc_renamed(struct wbuf *w)
{
	frame_end(w, frame_begin(w, MSG_RENAMED));
}

int
dec_renamed(const uint8_t *p, size_t n)
{
	(void)p;
	return n == 0 ? 0 : -1;
}

void
enc_rotate(struct wbuf *w, const struct msg_rotate *m)
{
	size_t	off = frame_begin(w, MSG_ROTATE);

	put_str(w, m->token);
	put_u32(w, m->overlap);
	frame_end(w, off);
}

int
dec_rotate(const uint8_t *p, size_t n, struct msg_rotate *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	rbuf_str(&r, m->token, sizeof(m->token));
	m->overlap = rbuf_u32(&r);
	return rbuf_done(&r);
}

void
enc_unlock(struct wbuf *w, const struct msg_unlock *m)
{
	size_t	off = frame_begin(w, MSG_UNLOCK);

	put_str(w, m->user);
	frame_end(w, off);
}

int
dec_unlock(const uint8_t *p, size_t n, struct msg_unlock *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	rbuf_str(&r, m->user, sizeof(m->user));
	return rbuf_done(&r);
}

void
enc_unlocked(struct wbuf *w, const struct msg_unlocked *m)
{
	size_t	off = frame_begin(w, MSG_UNLOCKED);

	put_u8(w, m->was_limited);
	frame_end(w, off);
}

int
dec_unlocked(const uint8_t *p, size_t n, struct msg_unlocked *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	m->was_limited = rbuf_u8(&r);
	if (m->was_limited > 1)
		return -1;
	return rbuf_done(&r);
}

void
enc_otp(struct wbuf *w, const struct msg_otp *m)
{
	size_t	off = frame_begin(w, MSG_OTP);

	put_u8(w, m->op);
	put_str(w, m->user);
	frame_end(w, off);
}

int
dec_otp(const uint8_t *p, size_t n, struct msg_otp *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	m->op = rbuf_u8(&r);
	if (m->op < OTP_ENROLL || m->op > OTP_REMOVE)
		return -1;
	rbuf_str(&r, m->user, sizeof(m->user));
	return rbuf_done(&r);
}

void
enc_otp_result(struct wbuf *w, const struct msg_otp_result *m)
{
	size_t	off = frame_begin(w, MSG_OTP_RESULT);

	put_u8(w, m->enrolled);
	put_u64(w, (uint64_t)m->since);
	frame_end(w, off);
}

int
dec_otp_result(const uint8_t *p, size_t n, struct msg_otp_result *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	m->enrolled = rbuf_u8(&r);
	m->since = (int64_t)rbuf_u64(&r);
	if (m->enrolled > 1 || (!m->enrolled && m->since != 0))
		return -1;
	return rbuf_done(&r);
}

void
enc_revoke_all(struct wbuf *w, const struct msg_revoke_all *m)
{
	size_t	off = frame_begin(w, MSG_REVOKE_ALL);

	put_str(w, m->user);
	frame_end(w, off);
}

int
dec_revoke_all(const uint8_t *p, size_t n, struct msg_revoke_all *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	rbuf_str(&r, m->user, sizeof(m->user));
	return rbuf_done(&r);
}

void
enc_exchange(struct wbuf *w, const struct msg_exchange *m)
{
	size_t	off = frame_begin(w, MSG_EXCHANGE);

	put_str(w, m->token);
	put_u32(w, m->lifetime);
	put_scopes(w, m->nscopes, m->scopes);
	frame_end(w, off);
}

int
dec_exchange(const uint8_t *p, size_t n, struct msg_exchange *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	rbuf_str(&r, m->token, sizeof(m->token));
	m->lifetime = rbuf_u32(&r);
	get_scopes(&r, &m->nscopes, m->scopes);
	return rbuf_done(&r);
}

void
enc_verify(struct wbuf *w, const struct msg_verify *m)
{
	size_t	off = frame_begin(w, MSG_VERIFY);

	put_str(w, m->token);
	frame_end(w, off);
}

int
dec_verify(const uint8_t *p, size_t n, struct msg_verify *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	rbuf_str(&r, m->token, sizeof(m->token));
	return rbuf_done(&r);
}

void
enc_status(struct wbuf *w)
{
	frame_end(w, frame_begin(w, MSG_STATUS));
}

int
dec_status(const uint8_t *p, size_t n)
{
	(void)p;
	return n == 0 ? 0 : -1;
}

void
enc_error(struct wbuf *w, uint16_t code, const char *message)
{
	size_t	off = frame_begin(w, MSG_ERROR);
	char	buf[TOKEND_ERRMSG_MAX + 1];

	/* Truncate rather than fail: an error must always be sendable. */
	strncpy(buf, message, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	put_u16(w, code);
	put_str(w, buf);
	frame_end(w, off);
}

int
dec_error(const uint8_t *p, size_t n, struct msg_error *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	m->code = rbuf_u16(&r);
	rbuf_str(&r, m->message, sizeof(m->message));
	return rbuf_done(&r);
}

void
enc_conv(struct wbuf *w, const struct msg_conv *m)
{
	size_t	off = frame_begin(w, MSG_CONV);
	uint8_t	i;

	if (m->n > TOKEND_CONV_MAX)
		w->failed = 1;
	put_u8(w, m->n);
	for (i = 0; i < m->n && i < TOKEND_CONV_MAX; i++) {
		put_u8(w, m->style[i]);
		put_str(w, m->text[i]);
	}
	frame_end(w, off);
}

int
dec_conv(const uint8_t *p, size_t n, struct msg_conv *m)
{
	struct rbuf	r;
	uint8_t		i;

	rbuf_init(&r, p, n);
	m->n = rbuf_u8(&r);
	if (m->n > TOKEND_CONV_MAX || m->n == 0)
		return -1;
	for (i = 0; i < m->n; i++) {
		m->style[i] = rbuf_u8(&r);
		if (m->style[i] < CONV_ECHO_OFF || m->style[i] > CONV_SECRET)
			return -1;
		rbuf_str(&r, m->text[i], sizeof(m->text[i]));
	}
	return rbuf_done(&r);
}

void
enc_issued(struct wbuf *w, const struct msg_issued *m)
{
	size_t	off = frame_begin(w, MSG_ISSUED);

	put_str(w, m->token);
	put_record(w, &m->rec);
	frame_end(w, off);
}

int
dec_issued(const uint8_t *p, size_t n, struct msg_issued *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	rbuf_str(&r, m->token, sizeof(m->token));
	get_record(&r, &m->rec);
	return rbuf_done(&r);
}

void
enc_list_result(struct wbuf *w, const struct proto_record *recs, size_t n,
    int more)
{
	size_t	off = frame_begin(w, MSG_LIST_RESULT);
	size_t	i;

	if (n > TOKEND_LIST_CHUNK)
		w->failed = 1;
	put_u8(w, more ? 1 : 0);
	put_u16(w, n);
	for (i = 0; i < n && i < TOKEND_LIST_CHUNK; i++)
		put_record(w, &recs[i]);
	frame_end(w, off);
}

int
dec_list_result(const uint8_t *p, size_t n, int *more,
    int (*cb)(const struct proto_record *, void *), void *arg)
{
	struct rbuf		r;
	struct proto_record	rec;
	uint16_t		i, count;
	uint8_t			flag;

	rbuf_init(&r, p, n);
	flag = rbuf_u8(&r);
	count = rbuf_u16(&r);
	if (flag > 1 || count > TOKEND_LIST_CHUNK)
		return -1;
	*more = flag;
	for (i = 0; i < count; i++) {
		memset(&rec, 0, sizeof(rec));
		get_record(&r, &rec);
		if (r.failed)
			return -1;
		if (cb(&rec, arg) == -1)
			return -1;
	}
	return rbuf_done(&r);
}

void
enc_revoked(struct wbuf *w, uint32_t count)
{
	size_t	off = frame_begin(w, MSG_REVOKED);

	put_u32(w, count);
	frame_end(w, off);
}

int
dec_revoked(const uint8_t *p, size_t n, struct msg_revoked *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	m->count = rbuf_u32(&r);
	return rbuf_done(&r);
}

void
enc_exchanged(struct wbuf *w, const struct msg_exchanged *m)
{
	size_t	off = frame_begin(w, MSG_EXCHANGED);

	put_str(w, m->token);
	put_u32(w, m->expires_in);
	put_record(w, &m->rec);
	frame_end(w, off);
}

int
dec_exchanged(const uint8_t *p, size_t n, struct msg_exchanged *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	rbuf_str(&r, m->token, sizeof(m->token));
	m->expires_in = rbuf_u32(&r);
	get_record(&r, &m->rec);
	return rbuf_done(&r);
}

size_t
enc_verify_result(struct wbuf *w, const struct msg_verify_result *m)
{
	size_t	off = frame_begin(w, MSG_VERIFY_RESULT);
	size_t	last_used_off = 0;

	put_u8(w, m->active ? 1 : 0);
	if (m->active)
		last_used_off = put_record(w, &m->rec);
	frame_end(w, off);
	return last_used_off;
}

int
dec_verify_result(const uint8_t *p, size_t n, struct msg_verify_result *m)
{
	struct rbuf	r;

	rbuf_init(&r, p, n);
	m->active = rbuf_u8(&r);
	if (m->active > 1)
		return -1;
	if (m->active)
		get_record(&r, &m->rec);
	return rbuf_done(&r);
}

void
enc_status_result(struct wbuf *w, const struct msg_status_result *m)
{
	size_t	off = frame_begin(w, MSG_STATUS_RESULT);
	uint8_t	i;

	if (m->n > TOKEND_STATUS_MAX)
		w->failed = 1;
	put_str(w, m->version);
	put_u8(w, m->healthy);
	put_u8(w, m->n);
	for (i = 0; i < m->n && i < TOKEND_STATUS_MAX; i++) {
		put_str(w, m->counters[i].key);
		put_u64(w, m->counters[i].value);
	}
	frame_end(w, off);
}

int
dec_status_result(const uint8_t *p, size_t n, struct msg_status_result *m)
{
	struct rbuf	r;
	uint8_t		i;

	rbuf_init(&r, p, n);
	rbuf_str(&r, m->version, sizeof(m->version));
	m->healthy = rbuf_u8(&r);
	m->n = rbuf_u8(&r);
	if (m->n > TOKEND_STATUS_MAX)
		return -1;
	for (i = 0; i < m->n; i++) {
		rbuf_str(&r, m->counters[i].key, sizeof(m->counters[i].key));
		m->counters[i].value = rbuf_u64(&r);
	}
	return rbuf_done(&r);
}
