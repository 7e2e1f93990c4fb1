/* SPDX-License-Identifier: ISC */
/*
 * seedgen DIR [VECTORS]: write the generated part of the seed corpora into
 * DIR/fuzz_frame, DIR/fuzz_response, DIR/fuzz_token and DIR/fuzz_monitor
 * with the real
 * encoders and token minting (fixed key, fixed "random" bytes, so a rerun
 * writes the same files), plus, given protocol/vectors.txt, one seed per
 * frame, reject, token and badtoken line of it.  seed.sh runs it.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "account.h"
#include "monitor.h"
#include "proto.h"
#include "token.h"
#include "tokenfmt.h"
#include "fuzzkey.h"

#define SET(dst, s)	snprintf((dst), sizeof(dst), "%s", (s))

static const char	*outdir;
static uint64_t		 rng_state = 0x746f6b656e642121ULL;	/* "tokend!!" */

/* splitmix64: libsodium's randombytes, made repeatable. */
static uint32_t
det_random(void)
{
	uint64_t	z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static void
det_buf(void * const buf, const size_t size)
{
	unsigned char	*p = buf;
	size_t		 i;

	for (i = 0; i < size; i++)
		p[i] = (unsigned char)det_random();
}

static const char *
det_name(void)
{
	return "seedgen";
}

static struct randombytes_implementation det_impl = {
	.implementation_name = det_name,
	.random = det_random,
	.buf = det_buf,
};

static void
put_named(const char *target, const char *prefix, const char *name,
    const void *data, size_t len)
{
	char	 path[PATH_MAX], *p;
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/", outdir, target);
	p = path + strlen(path);
	snprintf(p, sizeof(path) - (size_t)(p - path), "%s-%s", prefix, name);
	for (; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.')
			*p = '_';
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
put(const char *target, const char *name, const void *data, size_t len)
{
	put_named(target, "gen", name, data, len);
}

/* Write w's bytes as one seed and empty it. */
static void
put_wbuf(const char *target, const char *name, struct wbuf *w)
{
	if (w->failed) {
		fprintf(stderr, "seedgen: encoding %s failed\n", name);
		exit(1);
	}
	put(target, name, w->data, w->len);
	wbuf_reset(w);
}

static void
fill(char *dst, size_t size, char c)
{
	memset(dst, c, size - 1);
	dst[size - 1] = '\0';
}

static void
record(struct proto_record *r, int kind, int max)
{
	int	i;

	memset(r, 0, sizeof(*r));
	SET(r->id, "063UfDVRKBz");
	if (kind == TOKEN_ACCESS)
		SET(r->parent, "0000000000A");
	SET(r->user, "alice");
	r->uid = 1000;
	SET(r->name, "laptop");
	r->kind = (uint8_t)kind;
	r->created = 1767225600;
	r->expires = 1774915200;
	r->last_used = kind == TOKEN_ACCESS ? 0 : 1767229200;
	r->nscopes = 2;
	SET(r->scopes[0], "read");
	SET(r->scopes[1], "write");
	if (!max)
		return;
	fill(r->user, sizeof(r->user), 'u');
	fill(r->name, sizeof(r->name), 'n');
	r->uid = UINT32_MAX;
	r->created = INT64_MIN;
	r->expires = INT64_MAX;
	r->last_used = -1;
	r->nscopes = TOKEND_SCOPES_MAX;
	for (i = 0; i < TOKEND_SCOPES_MAX; i++)
		fill(r->scopes[i], sizeof(r->scopes[i]), (char)('a' + i));
}

static void
gen_requests(const char *refresh, const char *access)
{
	struct wbuf		w;
	struct msg_issue	is;
	struct msg_conv_reply	cr;
	struct msg_list		li;
	struct msg_revoke	rv;
	struct msg_rename	rn;
	struct msg_unlock	ul;
	struct msg_rotate	ro;
	struct msg_otp		otp;
	struct msg_revoke_all	ra;
	struct msg_exchange	ex;
	struct msg_verify	ve;
	size_t			mark;
	int			i;
	static const uint8_t	bad_magic[] = { 't', 'K', 1, 8, 0, 0, 0, 0 };
	static const uint8_t	bad_version[] = { 'T', 'K', 2, 8, 0, 0, 0, 0 };
	static const uint8_t	response_type[] = { 'T', 'K', 1, 0x84, 0, 0, 0, 4,
				    0, 0, 0, 1 };
	static const uint8_t	unknown_type[] = { 'T', 'K', 1, 0x0c, 0, 0, 0, 0 };
	static const uint8_t	status_len1[] = { 'T', 'K', 1, 0x08, 0, 0, 0, 1, 0 };
	static const uint8_t	over_max[] = { 'T', 'K', 1, 0x01, 0, 0, 0x40, 0x01 };
	static const uint8_t	list_flags2[] = { 'T', 'K', 1, 0x03, 0, 0, 0, 3,
				    2, 0, 0 };
	static const uint8_t	revoke_nul[] = { 'T', 'K', 1, 0x04, 0, 0, 0, 5,
				    0, 3, 'a', 0, 'b' };
	static const uint8_t	revoke_long[] = { 'T', 'K', 1, 0x04, 0, 0, 0, 4,
				    0, 12, 'a', 'b' };
	static const uint8_t	issue_17scopes[] = { 'T', 'K', 1, 0x01, 0, 0, 0, 13,
				    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17 };

	wbuf_init(&w);

	memset(&is, 0, sizeof(is));
	enc_issue(&w, &is);
	put_wbuf("fuzz_frame", "issue-empty", &w);
	SET(is.user, "alice");
	SET(is.name, "laptop");
	is.expires = 1774915200;
	is.nscopes = 2;
	SET(is.scopes[0], "read");
	SET(is.scopes[1], "write");
	enc_issue(&w, &is);
	put_wbuf("fuzz_frame", "issue", &w);
	fill(is.user, sizeof(is.user), 'u');
	fill(is.name, sizeof(is.name), 'n');
	is.expires = -1;
	is.nscopes = TOKEND_SCOPES_MAX;
	for (i = 0; i < TOKEND_SCOPES_MAX; i++)
		fill(is.scopes[i], sizeof(is.scopes[i]), (char)('a' + i));
	enc_issue(&w, &is);
	put_wbuf("fuzz_frame", "issue-max", &w);

	memset(&cr, 0, sizeof(cr));
	enc_conv_reply(&w, &cr);
	put_wbuf("fuzz_frame", "conv_reply-none", &w);
	cr.n = 2;
	SET(cr.answers[0], "secret");
	SET(cr.answers[1], "123456");
	enc_conv_reply(&w, &cr);
	put_wbuf("fuzz_frame", "conv_reply", &w);
	cr.n = TOKEND_CONV_MAX;
	for (i = 0; i < TOKEND_CONV_MAX; i++)
		fill(cr.answers[i], sizeof(cr.answers[i]), (char)('A' + i));
	enc_conv_reply(&w, &cr);
	put_wbuf("fuzz_frame", "conv_reply-max", &w);

	memset(&li, 0, sizeof(li));
	enc_list(&w, &li);
	put_wbuf("fuzz_frame", "list-self", &w);
	li.flags = LIST_F_ALL;
	SET(li.user, "bob");
	enc_list(&w, &li);
	put_wbuf("fuzz_frame", "list-all", &w);

	SET(rv.id, "063UfDVRKBz");
	enc_revoke(&w, &rv);
	put_wbuf("fuzz_frame", "revoke", &w);

	memset(&rn, 0, sizeof(rn));
	SET(rn.id, "063UfDVRKBz");
	SET(rn.name, "laptop");
	enc_rename(&w, &rn);
	put_wbuf("fuzz_frame", "rename", &w);

	memset(&ul, 0, sizeof(ul));
	SET(ul.user, "bob");
	enc_unlock(&w, &ul);
	put_wbuf("fuzz_frame", "unlock", &w);

	memset(&ro, 0, sizeof(ro));
	SET(ro.token, refresh);
	ro.overlap = 600;
	enc_rotate(&w, &ro);
	put_wbuf("fuzz_frame", "rotate", &w);

	memset(&otp, 0, sizeof(otp));
	otp.op = OTP_ENROLL;
	enc_otp(&w, &otp);
	put_wbuf("fuzz_frame", "otp-enroll", &w);
	otp.op = OTP_REMOVE;
	SET(otp.user, "bob");
	enc_otp(&w, &otp);
	put_wbuf("fuzz_frame", "otp-remove-user", &w);

	memset(&ra, 0, sizeof(ra));
	enc_revoke_all(&w, &ra);
	put_wbuf("fuzz_frame", "revoke_all-self", &w);
	SET(ra.user, "bob");
	enc_revoke_all(&w, &ra);
	put_wbuf("fuzz_frame", "revoke_all", &w);

	memset(&ex, 0, sizeof(ex));
	SET(ex.token, refresh);
	enc_exchange(&w, &ex);
	put_wbuf("fuzz_frame", "exchange", &w);
	ex.lifetime = 300;
	ex.nscopes = 1;
	SET(ex.scopes[0], "read");
	enc_exchange(&w, &ex);
	put_wbuf("fuzz_frame", "exchange-scoped", &w);

	SET(ve.token, access);
	enc_verify(&w, &ve);
	put_wbuf("fuzz_frame", "verify", &w);

	enc_status(&w);
	put_wbuf("fuzz_frame", "status", &w);

	/* A session: ISSUE, its CONV_REPLY, then more requests pipelined. */
	SET(is.user, "");
	SET(is.name, "ci");
	is.expires = 0;
	is.nscopes = 0;
	enc_issue(&w, &is);
	cr.n = 1;
	SET(cr.answers[0], "secret");
	enc_conv_reply(&w, &cr);
	enc_list(&w, &li);
	enc_verify(&w, &ve);
	enc_status(&w);
	put_wbuf("fuzz_frame", "stream", &w);

	/* A whole frame, then half of the next. */
	enc_status(&w);
	mark = w.len;
	enc_exchange(&w, &ex);
	w.len = mark + (w.len - mark) / 2;
	put_wbuf("fuzz_frame", "stream-partial", &w);

	put("fuzz_frame", "bad-magic", bad_magic, sizeof(bad_magic));
	put("fuzz_frame", "bad-version", bad_version, sizeof(bad_version));
	put("fuzz_frame", "bad-response-type", response_type,
	    sizeof(response_type));
	put("fuzz_frame", "bad-unknown-type", unknown_type, sizeof(unknown_type));
	put("fuzz_frame", "bad-status-length", status_len1, sizeof(status_len1));
	put("fuzz_frame", "bad-over-max-frame", over_max, sizeof(over_max));
	put("fuzz_frame", "bad-list-flags", list_flags2, sizeof(list_flags2));
	put("fuzz_frame", "bad-revoke-nul", revoke_nul, sizeof(revoke_nul));
	put("fuzz_frame", "bad-revoke-id-too-long", revoke_long, sizeof(revoke_long));
	put("fuzz_frame", "bad-issue-17-scopes", issue_17scopes,
	    sizeof(issue_17scopes));
	wbuf_free(&w);
}

static void
gen_responses(const char *refresh, const char *access)
{
	struct wbuf			 w;
	struct msg_conv			 cv;
	struct msg_issued		 isd;
	struct proto_record		*recs;
	struct msg_exchanged		 exd;
	struct msg_verify_result	 vr;
	struct msg_status_result	*st;
	struct msg_unlocked		 ud;
	struct msg_otp_result		 otr;
	char				 msg[TOKEND_ERRMSG_MAX + 1];
	int				 i;
	static const uint8_t		 conv_style0[] = { 'T', 'K', 1, 0x81, 0, 0, 0, 4,
					    1, 0, 0, 0 };
	static const uint8_t		 list_over[] = { 'T', 'K', 1, 0x83, 0, 0, 0, 3,
					    0, 0, TOKEND_LIST_CHUNK + 1 };
	static const uint8_t		 verify_active2[] = { 'T', 'K', 1, 0x86, 0, 0, 0, 1,
					    2 };

	wbuf_init(&w);
	if ((recs = calloc(TOKEND_LIST_CHUNK, sizeof(*recs))) == NULL ||
	    (st = calloc(1, sizeof(*st))) == NULL)
		exit(1);

	enc_error(&w, PERR_AUTH, "authentication failed");
	put_wbuf("fuzz_response", "error", &w);
	fill(msg, sizeof(msg), 'e');
	enc_error(&w, UINT16_MAX, msg);
	put_wbuf("fuzz_response", "error-max", &w);

	memset(&cv, 0, sizeof(cv));
	cv.n = 2;
	cv.style[0] = CONV_ECHO_OFF;
	SET(cv.text[0], "Password: ");
	cv.style[1] = CONV_INFO;
	SET(cv.text[1], "One-time password (OATH) for `alice': ");
	enc_conv(&w, &cv);
	put_wbuf("fuzz_response", "conv", &w);
	cv.n = TOKEND_CONV_MAX;
	for (i = 0; i < TOKEND_CONV_MAX; i++) {
		cv.style[i] = (uint8_t)(CONV_ECHO_OFF + i % 4);
		fill(cv.text[i], sizeof(cv.text[i]), (char)('a' + i));
	}
	enc_conv(&w, &cv);
	put_wbuf("fuzz_response", "conv-max", &w);

	SET(isd.token, refresh);
	record(&isd.rec, TOKEN_REFRESH, 0);
	enc_issued(&w, &isd);
	put_wbuf("fuzz_response", "issued", &w);
	record(&isd.rec, TOKEN_REFRESH, 1);
	enc_issued(&w, &isd);
	put_wbuf("fuzz_response", "issued-max", &w);

	enc_list_result(&w, recs, 0, 0);
	put_wbuf("fuzz_response", "list_result-empty", &w);
	record(&recs[0], TOKEN_REFRESH, 0);
	record(&recs[1], TOKEN_REFRESH, 0);
	SET(recs[1].name, "ci");
	recs[1].nscopes = 0;
	enc_list_result(&w, recs, 2, 1);
	enc_list_result(&w, recs, 1, 0);
	put_wbuf("fuzz_response", "list_result", &w);
	for (i = 0; i < TOKEND_LIST_CHUNK; i++)
		record(&recs[i], TOKEN_REFRESH, 0);
	enc_list_result(&w, recs, TOKEND_LIST_CHUNK, 0);
	put_wbuf("fuzz_response", "list_result-full-chunk", &w);

	enc_revoked(&w, 3);
	put_wbuf("fuzz_response", "revoked", &w);

	enc_renamed(&w);
	put_wbuf("fuzz_response", "renamed", &w);

	ud.was_limited = 1;
	enc_unlocked(&w, &ud);
	put_wbuf("fuzz_response", "unlocked", &w);

	otr.enrolled = 1;
	otr.since = 1798761600;
	enc_otp_result(&w, &otr);
	put_wbuf("fuzz_response", "otp-result", &w);

	SET(exd.token, access);
	exd.expires_in = 300;
	record(&exd.rec, TOKEN_ACCESS, 0);
	enc_exchanged(&w, &exd);
	put_wbuf("fuzz_response", "exchanged", &w);

	memset(&vr, 0, sizeof(vr));
	enc_verify_result(&w, &vr);
	put_wbuf("fuzz_response", "verify_result-inactive", &w);
	vr.active = 1;
	record(&vr.rec, TOKEN_ACCESS, 0);
	enc_verify_result(&w, &vr);
	put_wbuf("fuzz_response", "verify_result", &w);

	SET(st->version, "0.1.0");
	st->healthy = 1;
	st->n = 3;
	SET(st->counters[0].key, "connections");
	st->counters[0].value = 2;
	SET(st->counters[1].key, "tokens");
	st->counters[1].value = 41;
	SET(st->counters[2].key, "uptime");
	st->counters[2].value = UINT64_MAX;
	enc_status_result(&w, st);
	put_wbuf("fuzz_response", "status_result", &w);
	st->n = TOKEND_STATUS_MAX;
	for (i = 0; i < TOKEND_STATUS_MAX; i++) {
		fill(st->counters[i].key, sizeof(st->counters[i].key),
		    (char)('a' + i % 26));
		st->counters[i].value = (uint64_t)i;
	}
	enc_status_result(&w, st);
	put_wbuf("fuzz_response", "status_result-max", &w);

	/* An ISSUE as the client sees it: CONV, CONV, ISSUED. */
	cv.n = 1;
	cv.style[0] = CONV_ECHO_OFF;
	SET(cv.text[0], "Password: ");
	enc_conv(&w, &cv);
	SET(cv.text[0], "Verification code: ");
	enc_conv(&w, &cv);
	record(&isd.rec, TOKEN_REFRESH, 0);
	enc_issued(&w, &isd);
	put_wbuf("fuzz_response", "stream-issue", &w);

	put("fuzz_response", "bad-conv-style", conv_style0, sizeof(conv_style0));
	put("fuzz_response", "bad-list-over-chunk", list_over,
	    sizeof(list_over));
	put("fuzz_response", "bad-verify-active", verify_active2,
	    sizeof(verify_active2));
	free(recs);
	free(st);
	wbuf_free(&w);
}

static void
gen_tokens(struct token_keys *keys, const char *refresh, const char *access)
{
	struct tokenfmt	 tf;
	char		 t[TOKENFMT_MAX_LEN + 1], id[TOKENFMT_BLOCK_CHARS + 1];
	uint8_t		 payload[TOKENFMT_ACCESS_BYTES];
	uint64_t	 jti;

	put("fuzz_token", "refresh", refresh, strlen(refresh));
	put("fuzz_token", "access", access, strlen(access));
	if (token_mint_access(keys, 1, 0, UINT32_MAX, UINT64_MAX, t, sizeof(t),
	    &jti) == -1)
		exit(1);
	put("fuzz_token", "access-extremes", t, strlen(t));

	/* Well-formed, checksum right, MAC wrong. */
	if (tokenfmt_parse(access, strlen(access), &tf) == -1)
		exit(1);
	memcpy(payload, tf.payload, sizeof(payload));
	payload[TOKENFMT_ACCESS_BYTES - 1] ^= 1;
	tokenfmt_encode(TOKEN_ACCESS, payload, sizeof(payload), t, sizeof(t));
	put("fuzz_token", "access-bad-mac", t, strlen(t));

	/* Checksum wrong. */
	snprintf(t, sizeof(t), "%s", refresh);
	t[TOKENFMT_REFRESH_LEN - 1] = t[TOKENFMT_REFRESH_LEN - 1] == '0' ?
	    '1' : '0';
	put("fuzz_token", "refresh-bad-crc", t, strlen(t));
	/* Largest block values: "LygHa16AHYF" is UINT64_MAX in base62. */
	memset(payload, 0xff, sizeof(payload));
	tokenfmt_encode(TOKEN_REFRESH, payload, TOKENFMT_REFRESH_BYTES, t,
	    sizeof(t));
	put("fuzz_token", "refresh-all-ones", t, strlen(t));

	tokenfmt_id_str(tokenfmt_load64(tf.payload), id);
	put("fuzz_token", "id", id, strlen(id));
	tokenfmt_id_str(UINT64_MAX, id);
	put("fuzz_token", "id-max", id, strlen(id));
	put("fuzz_token", "bad-prefix", "tkx_", 4);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One seed per frame/reject/token/badtoken line of the test vectors. */
static void
gen_vectors(const char *path)
{
	FILE		*f;
	char		*line = NULL, *save, *w[6];
	uint8_t		*bin = NULL;
	size_t		 cap = 0, i, n;
	int		 nw, hi, lo;
	const char	*hex, *target;

	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		exit(1);
	}
	while (getline(&line, &cap, f) != -1) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#')
			continue;
		nw = 0;
		for (w[nw] = strtok_r(line, " \t", &save); w[nw] != NULL &&
		    nw < 5; w[nw] = strtok_r(NULL, " \t", &save))
			nw++;
		if (nw == 0)
			continue;
		if (strcmp(w[0], "token") == 0 && nw == 5) {
			put_named("fuzz_token", "vec", w[1], w[4], strlen(w[4]));
			continue;
		}
		if (strcmp(w[0], "badtoken") == 0 && nw == 4) {
			put_named("fuzz_token", "vec", w[1], w[3], strlen(w[3]));
			continue;
		}
		if (strcmp(w[0], "frame") == 0 && nw == 3)
			hex = w[2];
		else if (strcmp(w[0], "reject") == 0 && nw == 4)
			hex = w[3];
		else
			continue;
		n = strlen(hex) / 2;
		if ((bin = realloc(bin, n + 1)) == NULL)
			exit(1);
		for (i = 0; i < n; i++) {
			if ((hi = hexval(hex[2 * i])) < 0 ||
			    (lo = hexval(hex[2 * i + 1])) < 0) {
				fprintf(stderr, "%s: %s: bad hex\n", path, w[1]);
				exit(1);
			}
			bin[i] = (uint8_t)(hi << 4 | lo);
		}
		target = n > 3 && bin[3] >= 0x80 ? "fuzz_response" : "fuzz_frame";
		put_named(target, "vec", w[1], bin, n);
	}
	free(bin);
	free(line);
	fclose(f);
}

/* Every message the engine sends the monitor, from mon_encode(). */
static void
gen_monitor(void)
{
	struct msg_conv_reply	 reply;
	struct mon_msg		 m;
	struct wbuf		 w, rw;

	wbuf_init(&w);
	memset(&m, 0, sizeof(m));
	m.type = MON_KEY_WANTED;
	m.flag = 1;
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "key-wanted", &w);
	m.type = MON_READY;
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "ready", &w);
	m.type = MON_ACCT_RESET;
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "acct-reset", &w);

	memset(&m, 0, sizeof(m));
	m.type = MON_LOG;
	m.flag = 6;
	SET(m.text, "issued token AbCdEfGhIjK \"ci\" for alice (uid 1000)");
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "log", &w);

	memset(&m, 0, sizeof(m));
	m.type = MON_PAM_START;
	m.id = 7;
	m.uid = 1000;
	SET(m.user, "alice");
	SET(m.ruser, "alice");
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "pam-start", &w);
	fill(m.user, sizeof(m.user), 'u');
	m.ruser[0] = '\0';
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "pam-start-long", &w);
	SET(m.user, "alice");
	m.flag = MON_PAM_MODE_ENROLL;
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "pam-start-enroll", &w);

	memset(&m, 0, sizeof(m));
	m.type = MON_OTP_ASK;
	m.id = 9;
	m.flag = OTP_STATUS;
	SET(m.user, "alice");
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "otp-status", &w);
	m.flag = OTP_REMOVE;
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "otp-remove", &w);

	/* The reply's body is a CONV_REPLY frame's, without its header. */
	memset(&reply, 0, sizeof(reply));
	reply.n = 2;
	SET(reply.answers[0], "correct horse");
	SET(reply.answers[1], "123456");
	wbuf_init(&rw);
	enc_conv_reply(&rw, &reply);
	memset(&m, 0, sizeof(m));
	m.type = MON_PAM_REPLY;
	m.id = 7;
	m.reply = rw.data + TOKEND_HDR_LEN;
	m.reply_len = rw.len - TOKEND_HDR_LEN;
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "pam-reply", &w);
	wbuf_free(&rw);

	memset(&m, 0, sizeof(m));
	m.type = MON_PAM_CANCEL;
	m.id = 7;
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "pam-cancel", &w);

	memset(&m, 0, sizeof(m));
	m.type = MON_ACCT_ASK;
	m.flag = ACCOUNT_REQ_BY_UID;
	m.uid = 1000;
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "acct-by-uid", &w);
	m.flag = ACCOUNT_REQ_BY_NAME;
	SET(m.user, "alice");
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "acct-by-name", &w);
	m.flag = ACCOUNT_REQ_CHECK;
	mon_encode(&w, &m);
	put_wbuf("fuzz_monitor", "acct-check", &w);
	wbuf_free(&w);
}

int
main(int argc, char *argv[])
{
	struct token_keys	*keys;
	char			 refresh[TOKENFMT_MAX_LEN + 1];
	char			 access[TOKENFMT_MAX_LEN + 1];
	uint8_t			 hash[TOKEN_HASH_BYTES];
	uint64_t		 rid, jti;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: seedgen DIR [VECTORS]\n");
		return 2;
	}
	outdir = argv[1];
	randombytes_set_implementation(&det_impl);
	keys = fuzzkey_load();
	if (token_mint_refresh(keys, refresh, sizeof(refresh), &rid, hash) == -1 ||
	    token_mint_access(keys, rid, 1767225600, 1767225900, 0x3, access,
	    sizeof(access), &jti) == -1) {
		fprintf(stderr, "seedgen: minting failed\n");
		return 1;
	}
	gen_requests(refresh, access);
	gen_responses(refresh, access);
	gen_tokens(keys, refresh, access);
	gen_monitor();
	if (argc == 3)
		gen_vectors(argv[2]);
	token_keys_free(keys);
	return 0;
}
