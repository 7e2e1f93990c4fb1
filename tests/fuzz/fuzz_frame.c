/* SPDX-License-Identifier: ISC */
/*
 * fuzz_frame: a client byte stream, split into frames by frame_next() with
 * the daemon's rules (daemon/conn.c: request types, the type's bounds,
 * max_frame), then each frame's decoder.  frame_next() is fed every
 * prefix length too, so its answers for a growing buffer must agree:
 * INCOMPLETE until the whole frame is there, then COMPLETE with the same
 * header, and BAD as soon as the header can tell.  Each body is copied
 * into a buffer of exactly its size, so a decoder that reads past its
 * frame is caught even when the next frame follows.  A request that
 * decodes must encode back to the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define FUZZ_MAX_FRAME	TOKEND_REQUEST_MAX	/* the daemon's default max_frame */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

union request {
	struct msg_issue	issue;
	struct msg_conv_reply	conv_reply;
	struct msg_list		list;
	struct msg_revoke	revoke;
	struct msg_revoke_all	revoke_all;
	struct msg_rename	rename;
	struct msg_unlock	unlock;
	struct msg_rotate	rotate;
	struct msg_otp		otp;
	struct msg_exchange	exchange;
	struct msg_verify	verify;
};

/* A decoded string must end inside its array. */
static void
check_str(const char *s, size_t size, const char *what)
{
	if (memchr(s, '\0', size) == NULL) {
		fprintf(stderr, "fuzz_frame: %s not terminated\n", what);
		abort();
	}
}

static void
check_scopes(uint8_t n, const char scopes[][TOKEND_SCOPE_MAX + 1])
{
	uint8_t	i;

	if (n > TOKEND_SCOPES_MAX) {
		fprintf(stderr, "fuzz_frame: %u scopes decoded\n", n);
		abort();
	}
	for (i = 0; i < n; i++)
		check_str(scopes[i], TOKEND_SCOPE_MAX + 1, "scope");
}

/* Decode one request body; on success re-encode it into w. */
static int
decode_encode(uint8_t type, const uint8_t *body, size_t len, struct wbuf *w)
{
	union request	m;
	uint8_t		i;

	memset(&m, 0xa5, sizeof(m));	/* no accidental terminators */
	switch (type) {
	case MSG_ISSUE:
		if (dec_issue(body, len, &m.issue) == -1)
			return -1;
		check_str(m.issue.user, sizeof(m.issue.user), "user");
		check_str(m.issue.name, sizeof(m.issue.name), "name");
		check_scopes(m.issue.nscopes, m.issue.scopes);
		enc_issue(w, &m.issue);
		break;
	case MSG_CONV_REPLY:
		if (dec_conv_reply(body, len, &m.conv_reply) == -1)
			return -1;
		if (m.conv_reply.n > TOKEND_CONV_MAX)
			abort();
		for (i = 0; i < m.conv_reply.n; i++)
			check_str(m.conv_reply.answers[i],
			    sizeof(m.conv_reply.answers[i]), "answer");
		enc_conv_reply(w, &m.conv_reply);
		break;
	case MSG_LIST:
		if (dec_list(body, len, &m.list) == -1)
			return -1;
		check_str(m.list.user, sizeof(m.list.user), "user");
		enc_list(w, &m.list);
		break;
	case MSG_REVOKE:
		if (dec_revoke(body, len, &m.revoke) == -1)
			return -1;
		check_str(m.revoke.id, sizeof(m.revoke.id), "id");
		enc_revoke(w, &m.revoke);
		break;
	case MSG_RENAME:
		if (dec_rename(body, len, &m.rename) == -1)
			return -1;
		check_str(m.rename.id, sizeof(m.rename.id), "id");
		check_str(m.rename.name, sizeof(m.rename.name), "name");
		enc_rename(w, &m.rename);
		break;
	case MSG_ROTATE:
		if (dec_rotate(body, len, &m.rotate) == -1)
			return -1;
		check_str(m.rotate.token, sizeof(m.rotate.token), "token");
		enc_rotate(w, &m.rotate);
		break;
	case MSG_UNLOCK:
		if (dec_unlock(body, len, &m.unlock) == -1)
			return -1;
		check_str(m.unlock.user, sizeof(m.unlock.user), "user");
		enc_unlock(w, &m.unlock);
		break;
	case MSG_OTP:
		if (dec_otp(body, len, &m.otp) == -1)
			return -1;
		if (m.otp.op < OTP_ENROLL || m.otp.op > OTP_REMOVE)
			abort();
		check_str(m.otp.user, sizeof(m.otp.user), "user");
		enc_otp(w, &m.otp);
		break;
	case MSG_REVOKE_ALL:
		if (dec_revoke_all(body, len, &m.revoke_all) == -1)
			return -1;
		check_str(m.revoke_all.user, sizeof(m.revoke_all.user), "user");
		enc_revoke_all(w, &m.revoke_all);
		break;
	case MSG_EXCHANGE:
		if (dec_exchange(body, len, &m.exchange) == -1)
			return -1;
		check_str(m.exchange.token, sizeof(m.exchange.token), "token");
		check_scopes(m.exchange.nscopes, m.exchange.scopes);
		enc_exchange(w, &m.exchange);
		break;
	case MSG_VERIFY:
		if (dec_verify(body, len, &m.verify) == -1)
			return -1;
		check_str(m.verify.token, sizeof(m.verify.token), "token");
		enc_verify(w, &m.verify);
		break;
	case MSG_STATUS:
		if (dec_status(body, len) == -1)
			return -1;
		enc_status(w);
		break;
	default:
		/* msgtype_is_request() let through a type with no decoder. */
		fprintf(stderr, "fuzz_frame: request type 0x%02x has no decoder\n",
		    type);
		abort();
	}
	return 0;
}

static const struct frame_rules requests = {
	msgtype_is_request, msg_len_ok, FUZZ_MAX_FRAME
};

/* frame_next() on a shorter prefix agrees with its answer on the whole. */
static void
check_prefixes(const uint8_t *data, size_t left, int rc,
    const struct frame_hdr *hdr)
{
	struct frame_hdr	 h;
	const char		*why;
	size_t			 n, whole;
	int			 r;

	whole = rc == FRAME_INCOMPLETE ? left : rc == FRAME_BAD ?
	    TOKEND_HDR_LEN : TOKEND_HDR_LEN + hdr->length;
	for (n = 0; n < whole && n <= left; n++) {
		r = frame_next(data, n, &requests, &h, &why);
		if (n < TOKEND_HDR_LEN ? r != FRAME_INCOMPLETE :
		    r != (rc == FRAME_BAD ? FRAME_BAD : FRAME_INCOMPLETE) ||
		    (r != FRAME_BAD && (h.type != hdr->type ||
		    h.length != hdr->length))) {
			fprintf(stderr, "fuzz_frame: frame_next of %zu bytes says "
			    "%d, of %zu bytes %d\n", n, r, left, rc);
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_hdr	 hdr;
	struct wbuf		 w;
	const char		*why;
	uint8_t			*body;
	size_t			 pos = 0, need;
	int			 rc;

	wbuf_init(&w);
	for (;;) {
		rc = frame_next(data + pos, size - pos, &requests, &hdr, &why);
		if (size - pos <= 4096)
			check_prefixes(data + pos, size - pos, rc, &hdr);
		if (rc == FRAME_BAD && why == NULL)
			abort();		/* a refusal always says why */
		if (rc != FRAME_COMPLETE)
			break;		/* dropped, or the daemon waits for more */
		need = TOKEND_HDR_LEN + (size_t)hdr.length;
		if (size - pos < need)
			abort();	/* COMPLETE must mean complete */

		/* Exactly the body: ASan reports any read past it. */
		if ((body = malloc(hdr.length ? hdr.length : 1)) == NULL)
			abort();
		memcpy(body, data + pos + TOKEND_HDR_LEN, hdr.length);
		wbuf_reset(&w);
		if (decode_encode(hdr.type, body, hdr.length, &w) == 0 &&
		    (w.failed || w.len != need ||
		    memcmp(w.data, data + pos, need) != 0)) {
			fprintf(stderr, "fuzz_frame: %s frame of %zu bytes "
			    "re-encodes to %zu different bytes%s\n",
			    msgtype_name(hdr.type), need, w.len,
			    w.failed ? " (encoder failed)" : "");
			abort();
		}
		free(body);
		pos += need;
	}
	wbuf_free(&w);
	return 0;
}
