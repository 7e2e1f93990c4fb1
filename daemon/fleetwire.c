/* SPDX-License-Identifier: ISC */
/*
 * Fleet mode: what the engine and the fleet process send each other
 * (fleet.h), checked as the monitor's channel is: the type and the
 * length before anything else.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fleet.h"

struct fl_bound {
	int	type;
	size_t	min;
	size_t	max;
};

#define FL_REC_MAX	(8 + 2 + STORE_RECORD_MAX)

static const struct fl_bound to_engine[] = {
	{ FL_RESULT,	4 + 1 + 4 + 2 + 1,
			4 + 1 + 4 + 2 + TOKEND_ERRMSG_MAX + 1 + FL_REC_MAX },
	{ FL_FOUND,	4 + 1,		4 + 1 + FL_REC_MAX },
	{ FL_CHANGE,	1 + 8,		1 + 8 + FL_REC_MAX },
	{ FL_SNAPSHOT,	1,		1 },
	{ FL_CONTACT,	1 + 8 + 2,	1 + 8 + 2 + 127 },
};

static int
fl_type_ok(int type)
{
	size_t	i;

	for (i = 0; i < sizeof(to_engine) / sizeof(to_engine[0]); i++)
		if (to_engine[i].type == type)
			return 1;
	return 0;
}

static int
fl_len_ok(int type, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(to_engine) / sizeof(to_engine[0]); i++)
		if (to_engine[i].type == type)
			return len >= to_engine[i].min && len <= to_engine[i].max;
	return 0;
}

const struct frame_rules fleet_to_engine = {
	fl_type_ok, fl_len_ok, TOKEND_FRAME_MAX
};

void
fleet_put_record(struct wbuf *w, const struct token_record *rec)
{
	uint8_t	buf[STORE_RECORD_MAX];
	size_t	len = store_record_encode(rec, buf);

	if (len == 0) {
		w->failed = 1;
		return;
	}
	wbuf_u64(w, rec->id);
	wbuf_u16(w, (uint16_t)len);
	wbuf_put(w, buf, len);
	explicit_bzero(buf, sizeof(buf));
}

void
fleet_get_record(struct rbuf *r, struct token_record *rec)
{
	uint64_t	id = rbuf_u64(r);
	size_t		len = rbuf_u16(r);

	memset(rec, 0, sizeof(*rec));
	if (r->failed || len > r->left ||
	    store_record_decode(id, r->p, len, rec) == -1) {
		r->failed = 1;
		return;
	}
	r->p += len;
	r->left -= len;
}

void
fleet_issue_params(struct fleet_issue_params *ip,
    const struct token_record *rec, unsigned max_per_user, int64_t now)
{
	const int64_t	 nums[] = { (int64_t)rec->id, rec->uid, rec->kind,
			    rec->created, rec->expires, max_per_user, now };
	size_t		 i, k;

	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		snprintf(ip->num[i], sizeof(ip->num[i]), "%" PRId64, nums[i]);
	for (i = 0; i < sizeof(rec->hash); i++)
		snprintf(ip->hex + 2 * i, 3, "%02x", rec->hash[i]);
	ip->scopes[0] = '\0';
	for (i = 0, k = 0; i < rec->nscopes; i++)
		k += (size_t)snprintf(ip->scopes + k, sizeof(ip->scopes) - k,
		    "%s%s", i > 0 ? " " : "", rec->scopes[i]);
	ip->v[0] = ip->num[0];		/* id */
	ip->v[1] = rec->user;
	ip->v[2] = ip->num[1];		/* uid on the issuing host */
	ip->v[3] = ip->num[2];		/* kind */
	ip->v[4] = ip->num[3];		/* created */
	ip->v[5] = ip->num[4];		/* expires */
	ip->v[6] = ip->hex;
	ip->v[7] = rec->name;
	ip->v[8] = ip->scopes;
	ip->v[9] = ip->num[5];		/* the limit, 0: none */
	ip->v[10] = ip->num[6];		/* now */
}
