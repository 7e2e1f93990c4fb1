/* SPDX-License-Identifier: ISC */
/*
 * Finding the next frame in a byte stream (proto.h): one pure function for
 * every reader of the format, the daemon's connections, libtokend and the
 * channel between the daemon's two processes, each with its own rules.
 * It only reads the bytes it is given, so it is fuzzed as it is.
 */
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

static int
is_response(int type)
{
	return type >= 0x80;
}

/* What a client accepts from the daemon (PROTOCOL.md §2.3). */
const struct frame_rules frame_rules_response = {
	is_response, NULL, TOKEND_FRAME_MAX
};

int
frame_next(const uint8_t *buf, size_t len, const struct frame_rules *rules,
    struct frame_hdr *hdr, const char **why)
{
	*why = NULL;
	if (len < TOKEND_HDR_LEN)
		return FRAME_INCOMPLETE;
	if (frame_hdr_decode(buf, hdr) == -1) {
		*why = "bad frame header";
		return FRAME_BAD;
	}
	if (rules->type_ok != NULL && !rules->type_ok(hdr->type)) {
		*why = "unexpected message type";
		return FRAME_BAD;
	}
	if (hdr->length > rules->max_len || (rules->len_ok != NULL &&
	    !rules->len_ok(hdr->type, hdr->length))) {
		*why = "bad frame length";
		return FRAME_BAD;
	}
	if (len - TOKEND_HDR_LEN < hdr->length)
		return FRAME_INCOMPLETE;
	return FRAME_COMPLETE;
}
