/* SPDX-License-Identifier: ISC */
/*
 * fuzz_response: what a hostile or broken daemon could send libtokend.
 * Frames are split as conn_read_frame() (protocol/libtokend.c) does it
 * (header, a response type, length up to TOKEND_FRAME_MAX), each body goes
 * to its response decoder in a buffer of exactly its size, and whatever
 * decodes must encode back to the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct list_acc {
	size_t			n;
	struct proto_record	recs[TOKEND_LIST_CHUNK];
};

union response {
	struct msg_error		error;
	struct msg_conv			conv;
	struct msg_issued		issued;
	struct list_acc			list;
	struct msg_revoked		revoked;
	struct msg_otp_result		otp_result;
	struct msg_unlocked		unlocked;
	struct msg_exchanged		exchanged;
	struct msg_verify_result	verify_result;
	struct msg_status_result	status_result;
};

static void
check_str(const char *s, size_t size, const char *what)
{
	if (memchr(s, '\0', size) == NULL) {
		fprintf(stderr, "fuzz_response: %s not terminated\n", what);
		abort();
	}
}

static void
check_record(const struct proto_record *rec)
{
	uint8_t	i;

	check_str(rec->id, sizeof(rec->id), "id");
	check_str(rec->parent, sizeof(rec->parent), "parent");
	check_str(rec->user, sizeof(rec->user), "user");
	check_str(rec->name, sizeof(rec->name), "name");
	if (rec->nscopes > TOKEND_SCOPES_MAX) {
		fprintf(stderr, "fuzz_response: %u scopes decoded\n",
		    rec->nscopes);
		abort();
	}
	for (i = 0; i < rec->nscopes; i++)
		check_str(rec->scopes[i], sizeof(rec->scopes[i]), "scope");
}

static int
list_cb(const struct proto_record *rec, void *arg)
{
	struct list_acc	*acc = arg;

	check_record(rec);
	if (acc->n >= TOKEND_LIST_CHUNK) {
		fprintf(stderr, "fuzz_response: more than %d records\n",
		    TOKEND_LIST_CHUNK);
		abort();
	}
	acc->recs[acc->n++] = *rec;
	return 0;
}

/* Decode one response body; on success re-encode it into w. */
static int
decode_encode(uint8_t type, const uint8_t *body, size_t len, struct wbuf *w)
{
	union response	*m;
	int		 more, rc = -1;
	uint8_t		 i;

	/* Big (the list holds 64 records): on the heap, poisoned. */
	if ((m = malloc(sizeof(*m))) == NULL)
		abort();
	memset(m, 0xa5, sizeof(*m));
	switch (type) {
	case MSG_ERROR:
		if (dec_error(body, len, &m->error) == -1)
			goto done;
		check_str(m->error.message, sizeof(m->error.message), "message");
		enc_error(w, m->error.code, m->error.message);
		break;
	case MSG_CONV:
		if (dec_conv(body, len, &m->conv) == -1)
			goto done;
		if (m->conv.n > TOKEND_CONV_MAX)
			abort();
		for (i = 0; i < m->conv.n; i++)
			check_str(m->conv.text[i], sizeof(m->conv.text[i]),
			    "text");
		enc_conv(w, &m->conv);
		break;
	case MSG_ISSUED:
		if (dec_issued(body, len, &m->issued) == -1)
			goto done;
		check_str(m->issued.token, sizeof(m->issued.token), "token");
		check_record(&m->issued.rec);
		enc_issued(w, &m->issued);
		break;
	case MSG_LIST_RESULT:
		m->list.n = 0;
		if (dec_list_result(body, len, &more, list_cb, &m->list) == -1)
			goto done;
		if (more != 0 && more != 1)
			abort();
		enc_list_result(w, m->list.recs, m->list.n, more);
		break;
	case MSG_REVOKED:
		if (dec_revoked(body, len, &m->revoked) == -1)
			goto done;
		enc_revoked(w, m->revoked.count);
		break;
	case MSG_RENAMED:
		if (dec_renamed(body, len) == -1)
			goto done;
		enc_renamed(w);
		break;
	case MSG_UNLOCKED:
		if (dec_unlocked(body, len, &m->unlocked) == -1)
			goto done;
		if (m->unlocked.was_limited > 1)
			abort();
		enc_unlocked(w, &m->unlocked);
		break;
	case MSG_OTP_RESULT:
		if (dec_otp_result(body, len, &m->otp_result) == -1)
			goto done;
		if (m->otp_result.enrolled > 1 ||
		    (!m->otp_result.enrolled && m->otp_result.since != 0))
			abort();
		enc_otp_result(w, &m->otp_result);
		break;
	case MSG_EXCHANGED:
		if (dec_exchanged(body, len, &m->exchanged) == -1)
			goto done;
		check_str(m->exchanged.token, sizeof(m->exchanged.token),
		    "token");
		check_record(&m->exchanged.rec);
		enc_exchanged(w, &m->exchanged);
		break;
	case MSG_VERIFY_RESULT:
		if (dec_verify_result(body, len, &m->verify_result) == -1)
			goto done;
		if (m->verify_result.active)
			check_record(&m->verify_result.rec);
		enc_verify_result(w, &m->verify_result);
		break;
	case MSG_STATUS_RESULT:
		if (dec_status_result(body, len, &m->status_result) == -1)
			goto done;
		check_str(m->status_result.version,
		    sizeof(m->status_result.version), "version");
		if (m->status_result.n > TOKEND_STATUS_MAX)
			abort();
		for (i = 0; i < m->status_result.n; i++)
			check_str(m->status_result.counters[i].key,
			    sizeof(m->status_result.counters[i].key), "key");
		enc_status_result(w, &m->status_result);
		break;
	default:
		goto done;	/* libtokend: TOKEND_E_PROTOCOL */
	}
	rc = 0;
done:
	free(m);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_hdr	 hdr;
	struct wbuf		 w;
	uint8_t			*body;
	size_t			 pos = 0, need;

	wbuf_init(&w);
	while (size - pos >= TOKEND_HDR_LEN) {
		if (frame_hdr_decode(data + pos, &hdr) == -1 ||
		    hdr.type < 0x80 || hdr.length > TOKEND_FRAME_MAX)
			break;
		need = TOKEND_HDR_LEN + (size_t)hdr.length;
		if (size - pos < need)
			break;
		if ((body = malloc(hdr.length ? hdr.length : 1)) == NULL)
			abort();
		memcpy(body, data + pos + TOKEND_HDR_LEN, hdr.length);
		wbuf_reset(&w);
		if (decode_encode(hdr.type, body, hdr.length, &w) == 0 &&
		    (w.failed || w.len != need ||
		    memcmp(w.data, data + pos, need) != 0)) {
			fprintf(stderr, "fuzz_response: %s frame of %zu bytes "
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
