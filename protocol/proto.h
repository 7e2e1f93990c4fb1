/* SPDX-License-Identifier: ISC */
/*
 * tokend wire protocol: message types, limits and field layouts shared by
 * the daemon, libtokend and the tests.  protocol/PROTOCOL.md is the prose
 * version of this file; keep the two in step.
 *
 * Bump TOKEND_PROTO_VERSION if the header, a message layout, a type number
 * or an error code below changes meaning.
 */
#ifndef TOKEND_PROTO_H
#define TOKEND_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define TOKEND_PROTO_VERSION	1
#define TOKEND_MAGIC0		0x54	/* 'T' */
#define TOKEND_MAGIC1		0x4b	/* 'K' */
#define TOKEND_HDR_LEN		8	/* magic[2] version type length(be32) */

/* Hard limits of the format itself; the daemon's configurable limits stay below. */
#define TOKEND_FRAME_MAX	65536	/* largest body either side may send */
#define TOKEND_REQUEST_MAX	16384	/* default max request body (max_frame) */
#define TOKEND_NAME_MAX		64	/* token name, bytes */
#define TOKEND_USER_MAX		256	/* user name, bytes */
#define TOKEND_SCOPE_MAX	64	/* one scope, bytes */
#define TOKEND_SCOPES_MAX	16	/* scopes per token */
#define TOKEND_TOKEN_MAX	128	/* a token string, bytes */
#define TOKEND_ID_LEN		11	/* public token id, base62 characters */
#define TOKEND_CONV_MAX		16	/* messages in one PAM conversation call */
#define TOKEND_CONV_TEXT_MAX	512	/* PAM_MAX_MSG_SIZE */
#define TOKEND_CONV_ANSWER_MAX	512	/* PAM_MAX_RESP_SIZE */
#define TOKEND_ERRMSG_MAX	256
#define TOKEND_LIST_CHUNK	32	/* records per LIST_RESULT frame (32 of the largest fit) */
#define TOKEND_STATUS_MAX	64	/* counters in a STATUS_RESULT */
#define TOKEND_STATUS_KEY_MAX	48

/* Message types.  Requests are below 0x80, responses at or above. */
enum msgtype {
	MSG_ISSUE		= 0x01,
	MSG_CONV_REPLY		= 0x02,
	MSG_LIST		= 0x03,
	MSG_REVOKE		= 0x04,
	MSG_REVOKE_ALL		= 0x05,
	MSG_EXCHANGE		= 0x06,
	MSG_VERIFY		= 0x07,
	MSG_STATUS		= 0x08,
	MSG_RENAME		= 0x09,
	MSG_UNLOCK		= 0x0a,
	MSG_ROTATE		= 0x0b,
	MSG_OTP			= 0x0c,

	MSG_ERROR		= 0x80,
	MSG_CONV		= 0x81,
	MSG_ISSUED		= 0x82,
	MSG_LIST_RESULT		= 0x83,
	MSG_REVOKED		= 0x84,
	MSG_EXCHANGED		= 0x85,
	MSG_VERIFY_RESULT	= 0x86,
	MSG_STATUS_RESULT	= 0x87,
	MSG_RENAMED		= 0x88,
	MSG_UNLOCKED		= 0x89,
	MSG_OTP_RESULT		= 0x8a,
};

/* Error codes carried by MSG_ERROR; libtokend's enum uses the same numbers. */
enum proto_err {
	PERR_MALFORMED		= 1,	/* request could not be decoded */
	PERR_AUTH		= 2,	/* PAM authentication or account check failed */
	PERR_DENIED		= 3,	/* caller may not do this */
	PERR_NOT_FOUND		= 4,	/* no such token or user */
	PERR_INACTIVE		= 5,	/* token unknown, expired, revoked or wrong */
	PERR_EXISTS		= 6,	/* token name already used by this user */
	PERR_LIMIT		= 7,	/* per-user token limit reached */
	PERR_INVALID		= 8,	/* bad argument: name, expiry, scope */
	PERR_BUSY		= 9,	/* too many connections or authentications */
	PERR_TIMEOUT		= 10,	/* PAM conversation timed out */
	PERR_STORE		= 11,	/* database error or database full */
	PERR_INTERNAL		= 12,
	PERR_RATE_LIMITED	= 13,
	PERR_SHUTDOWN		= 14,	/* daemon is stopping */
	PERR_UNAVAILABLE	= 15,	/* fleet mode: the token database is out of reach */
};

enum token_kind {
	TOKEN_REFRESH	= 1,
	TOKEN_ACCESS	= 2,
};

/* PAM message styles, same values as PAM_PROMPT_ECHO_OFF ... PAM_TEXT_INFO. */
enum conv_style {
	CONV_ECHO_OFF	= 1,
	CONV_ECHO_ON	= 2,
	CONV_ERROR	= 3,
	CONV_INFO	= 4,
	/*
	 * Not a PAM style: a secret for the user alone (the otpauth:// URI of
	 * an OTP enrolment), shown once, never logged.  Only tokend's own
	 * enrolment helper sends it.
	 */
	CONV_SECRET	= 5,
};

/* What an OTP request asks. */
enum otp_op {
	OTP_ENROLL	= 1,	/* make a new secret (a PAM conversation) */
	OTP_STATUS	= 2,	/* is the user enrolled? */
	OTP_REMOVE	= 3,	/* remove the enrolment (PAM, or an admin for another user) */
};

#define LIST_F_ALL	0x01

struct frame_hdr {
	uint8_t		version;
	uint8_t		type;
	uint32_t	length;
};

/* A token record as it travels in ISSUED, LIST_RESULT and VERIFY_RESULT. */
struct proto_record {
	char		id[TOKEND_ID_LEN + 1];
	char		parent[TOKEND_ID_LEN + 1];	/* refresh id of an access token, else "" */
	char		user[TOKEND_USER_MAX + 1];
	uint32_t	uid;
	char		name[TOKEND_NAME_MAX + 1];
	uint8_t		kind;
	int64_t		created;
	int64_t		expires;
	int64_t		last_used;			/* 0: never */
	uint8_t		nscopes;
	char		scopes[TOKEND_SCOPES_MAX][TOKEND_SCOPE_MAX + 1];
};

struct msg_issue {
	char		user[TOKEND_USER_MAX + 1];	/* "" = the caller */
	char		name[TOKEND_NAME_MAX + 1];	/* "" = daemon picks one */
	int64_t		expires;			/* unix time, 0 = default */
	uint8_t		nscopes;
	char		scopes[TOKEND_SCOPES_MAX][TOKEND_SCOPE_MAX + 1];
};

struct msg_conv_reply {
	uint8_t		n;
	char		answers[TOKEND_CONV_MAX][TOKEND_CONV_ANSWER_MAX + 1];
};

struct msg_list {
	uint8_t		flags;				/* LIST_F_ALL */
	char		user[TOKEND_USER_MAX + 1];	/* "" = the caller */
};

struct msg_revoke {
	char		id[TOKEND_ID_LEN + 1];
};

struct msg_rename {
	char		id[TOKEND_ID_LEN + 1];
	char		name[TOKEND_NAME_MAX + 1];
};

struct msg_rotate {
	char		token[TOKEND_TOKEN_MAX + 1];	/* the refresh token */
	uint32_t	overlap;			/* seconds the old one still works */
};

struct msg_unlock {
	char		user[TOKEND_USER_MAX + 1];
};

struct msg_unlocked {
	uint8_t		was_limited;	/* 1: the user was being refused */
};

struct msg_otp {
	uint8_t		op;				/* enum otp_op */
	char		user[TOKEND_USER_MAX + 1];	/* "" = the caller */
};

struct msg_otp_result {
	uint8_t		enrolled;	/* 1: the user has a secret now */
	int64_t		since;		/* when it was written, 0 when not enrolled */
};

struct msg_revoke_all {
	char		user[TOKEND_USER_MAX + 1];	/* "" = the caller */
};

struct msg_exchange {
	char		token[TOKEND_TOKEN_MAX + 1];
	uint32_t	lifetime;			/* seconds, 0 = default */
	uint8_t		nscopes;
	char		scopes[TOKEND_SCOPES_MAX][TOKEND_SCOPE_MAX + 1];
};

struct msg_verify {
	char		token[TOKEND_TOKEN_MAX + 1];
};

struct msg_error {
	uint16_t	code;
	char		message[TOKEND_ERRMSG_MAX + 1];
};

struct msg_conv {
	uint8_t		n;
	uint8_t		style[TOKEND_CONV_MAX];
	char		text[TOKEND_CONV_MAX][TOKEND_CONV_TEXT_MAX + 1];
};

struct msg_issued {
	char		token[TOKEND_TOKEN_MAX + 1];
	struct proto_record rec;
};

struct msg_revoked {
	uint32_t	count;
};

struct msg_exchanged {
	char		token[TOKEND_TOKEN_MAX + 1];
	uint32_t	expires_in;
	struct proto_record rec;			/* the access token */
};

struct msg_verify_result {
	uint8_t		active;
	struct proto_record rec;			/* only when active */
};

struct status_counter {
	char		key[TOKEND_STATUS_KEY_MAX + 1];
	uint64_t	value;
};

struct msg_status_result {
	char		version[32];
	uint8_t		healthy;
	uint8_t		n;
	struct status_counter counters[TOKEND_STATUS_MAX];
};

/* A growable output buffer; once an append fails, every later one is a no-op. */
struct wbuf {
	uint8_t		*data;
	size_t		 len;
	size_t		 cap;
	int		 failed;
};

/* A read cursor over one frame body. */
struct rbuf {
	const uint8_t	*p;
	size_t		 left;
	int		 failed;
};

const char	*msgtype_name(int type);
int		 msgtype_is_request(int type);
const char	*proto_err_name(int code);
/* The error's name in STATUS keys ("not_found"), NULL for an unknown code. */
const char	*proto_err_key(int code);

/*
 * What frame_next() lets through: a type (NULL: any), lengths per type
 * (NULL: any), and the largest body.
 */
struct frame_rules {
	int		(*type_ok)(int type);
	int		(*len_ok)(int type, size_t len);
	size_t		  max_len;
};

#define FRAME_BAD		-1
#define FRAME_INCOMPLETE	0
#define FRAME_COMPLETE		1

/* A client's rules: response types, bodies up to TOKEND_FRAME_MAX. */
extern const struct frame_rules frame_rules_response;

/*
 * The frame at the start of buf[0..len) (protocol/frame.c): FRAME_COMPLETE
 * when all of it is there (*hdr filled; it takes TOKEND_HDR_LEN +
 * hdr->length bytes), FRAME_INCOMPLETE when more must be read (*hdr is
 * filled once the 8 header bytes are there, so the caller can make room
 * for the body), FRAME_BAD when the header breaks the rules (*why says
 * how).  Reads buf only.
 */
int		 frame_next(const uint8_t *buf, size_t len,
		     const struct frame_rules *rules, struct frame_hdr *hdr,
		     const char **why);

/* Header: 0 and *hdr filled when 8 bytes are a valid header, -1 otherwise. */
int		 frame_hdr_decode(const uint8_t *p, struct frame_hdr *hdr);
void		 frame_hdr_encode(uint8_t *p, uint8_t type, uint32_t length);
/* 1 when type is known and len is within its bounds (checked before any body parsing). */
int		 msg_len_ok(int type, size_t len);

void		 wbuf_init(struct wbuf *);
void		 wbuf_free(struct wbuf *);	/* wipes before freeing */
void		 wbuf_reset(struct wbuf *);	/* wipes, keeps memory */
void		 wbuf_put(struct wbuf *, const void *, size_t);
void		 wbuf_u8(struct wbuf *, uint8_t);
void		 wbuf_u16(struct wbuf *, uint16_t);
void		 wbuf_u32(struct wbuf *, uint32_t);
void		 wbuf_u64(struct wbuf *, uint64_t);
void		 wbuf_str(struct wbuf *, const char *);
/* Start a frame; frame_end() fills in the length.  Returns the frame offset. */
size_t		 frame_begin(struct wbuf *, uint8_t type);
void		 frame_end(struct wbuf *, size_t off);

void		 rbuf_init(struct rbuf *, const uint8_t *, size_t);
uint8_t		 rbuf_u8(struct rbuf *);
uint16_t	 rbuf_u16(struct rbuf *);
uint32_t	 rbuf_u32(struct rbuf *);
uint64_t	 rbuf_u64(struct rbuf *);
/* Copy a string into dst[size]; fails on overflow or an embedded NUL. */
void		 rbuf_str(struct rbuf *, char *dst, size_t size);
/* 0 when every read succeeded and the body was consumed exactly. */
int		 rbuf_done(struct rbuf *);

/* Encoders append one whole frame to the buffer. */
void	 enc_issue(struct wbuf *, const struct msg_issue *);
void	 enc_conv_reply(struct wbuf *, const struct msg_conv_reply *);
void	 enc_list(struct wbuf *, const struct msg_list *);
void	 enc_revoke(struct wbuf *, const struct msg_revoke *);
void	 enc_revoke_all(struct wbuf *, const struct msg_revoke_all *);
void	 enc_exchange(struct wbuf *, const struct msg_exchange *);
void	 enc_verify(struct wbuf *, const struct msg_verify *);
void	 enc_status(struct wbuf *);
void	 enc_rename(struct wbuf *, const struct msg_rename *);
void	 enc_renamed(struct wbuf *);
void	 enc_unlock(struct wbuf *, const struct msg_unlock *);
void	 enc_rotate(struct wbuf *, const struct msg_rotate *);
void	 enc_unlocked(struct wbuf *, const struct msg_unlocked *);
void	 enc_otp(struct wbuf *, const struct msg_otp *);
void	 enc_otp_result(struct wbuf *, const struct msg_otp_result *);
void	 enc_error(struct wbuf *, uint16_t code, const char *message);
void	 enc_conv(struct wbuf *, const struct msg_conv *);
void	 enc_issued(struct wbuf *, const struct msg_issued *);
/* LIST_RESULT: records[0..n), more = 1 when further frames follow. */
void	 enc_list_result(struct wbuf *, const struct proto_record *, size_t n, int more);
void	 enc_revoked(struct wbuf *, uint32_t count);
void	 enc_exchanged(struct wbuf *, const struct msg_exchanged *);
/* Returns the offset in w of the record's last_used field (0: inactive). */
size_t	 enc_verify_result(struct wbuf *, const struct msg_verify_result *);
void	 enc_status_result(struct wbuf *, const struct msg_status_result *);

/* Decoders take one frame body; 0 on success, -1 when it is malformed. */
int	 dec_issue(const uint8_t *, size_t, struct msg_issue *);
int	 dec_conv_reply(const uint8_t *, size_t, struct msg_conv_reply *);
int	 dec_list(const uint8_t *, size_t, struct msg_list *);
int	 dec_revoke(const uint8_t *, size_t, struct msg_revoke *);
int	 dec_revoke_all(const uint8_t *, size_t, struct msg_revoke_all *);
int	 dec_exchange(const uint8_t *, size_t, struct msg_exchange *);
int	 dec_verify(const uint8_t *, size_t, struct msg_verify *);
int	 dec_status(const uint8_t *, size_t);
int	 dec_rename(const uint8_t *, size_t, struct msg_rename *);
int	 dec_renamed(const uint8_t *, size_t);
int	 dec_unlock(const uint8_t *, size_t, struct msg_unlock *);
int	 dec_rotate(const uint8_t *, size_t, struct msg_rotate *);
int	 dec_unlocked(const uint8_t *, size_t, struct msg_unlocked *);
int	 dec_otp(const uint8_t *, size_t, struct msg_otp *);
int	 dec_otp_result(const uint8_t *, size_t, struct msg_otp_result *);
int	 dec_error(const uint8_t *, size_t, struct msg_error *);
int	 dec_conv(const uint8_t *, size_t, struct msg_conv *);
int	 dec_issued(const uint8_t *, size_t, struct msg_issued *);
/*
 * LIST_RESULT: calls cb for each record; *more tells whether another frame
 * follows.  Returns -1 when malformed or when cb returns -1.
 */
int	 dec_list_result(const uint8_t *, size_t, int *more,
	     int (*cb)(const struct proto_record *, void *), void *arg);
int	 dec_revoked(const uint8_t *, size_t, struct msg_revoked *);
int	 dec_exchanged(const uint8_t *, size_t, struct msg_exchanged *);
int	 dec_verify_result(const uint8_t *, size_t, struct msg_verify_result *);
int	 dec_status_result(const uint8_t *, size_t, struct msg_status_result *);

#endif /* TOKEND_PROTO_H */
