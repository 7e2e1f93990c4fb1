/* SPDX-License-Identifier: ISC */
/*
 * Users and accounts, the engine's side (account.h): the cache of
 * answers, the queue of questions and the background re-check.  The
 * questions go to the account helper through the monitor, which started
 * it (monitor.h: MON_ACCT_ASK, MON_ACCT_ANSWER, MON_ACCT_RESET,
 * MON_ACCT_LOST); the answers come back in order.
 *
 * Entries live in one array and are never moved or freed while the
 * daemon runs, so their index is a stable handle (account_usable_ref);
 * a hash table of indices finds them by kind, uid and name.  Questions
 * wait in two queues: "urgent" when a request waits for the answer,
 * "background" for re-checks, of which only a few are in flight at once
 * so that an urgent question never queues behind many of them.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "account.h"
#include "clock.h"
#include "conn.h"
#include "daemon.h"
#include "log.h"
#include "monitor.h"
#include "util.h"

#define NSS_TTL			60	/* seconds a found user is trusted */
#define NSS_NEG_TTL		5	/* ... and a missing one */
#define ERROR_TTL		1	/* a failed look-up is retried after this */
#define MAX_INFLIGHT		64	/* questions sent, not yet answered */
#define MAX_BG_INFLIGHT		4	/* of which re-checks */
#define MAX_ENTRIES		(1u << 20)
#define RESPAWN_MS		1000
#define SWEEP_MS		1000

enum kind { K_BY_UID, K_BY_NAME, K_ACCOUNT };
enum estate { S_UNKNOWN, S_OK, S_NONE, S_ERROR };

struct entry {
	uint8_t		 kind;
	uint8_t		 state;
	uint8_t		 shown;		/* ACCOUNT: S_OK or S_NONE as last logged */
	uint8_t		 queued;	/* waits: 1 in background, 2 in urgent */
	uint8_t		 sent;		/* with the helper: 1 urgent, 2 background */
	uint8_t		 used;		/* ACCOUNT: asked for since its last answer */
	uint32_t	 uid;		/* key (BY_UID, ACCOUNT) or answer (BY_NAME) */
	char		*name;		/* key (BY_NAME, ACCOUNT) or answer (BY_UID) */
	int64_t		 when;		/* clock_now() of the last answer */
};

/* A ring of entry indices. */
struct fifo {
	uint32_t	*v;
	size_t		 head;
	size_t		 len;
	size_t		 cap;
};

static struct entry	*ents;		/* [0] unused: handles are never 0 */
static uint32_t		 nents, capents;
static uint32_t		*slots;		/* hash table of indices, 0 = empty */
static size_t		 nslots;
static uint8_t		 hkey[crypto_shorthash_KEYBYTES];
static struct fifo	 urgent, background, inflight;
static unsigned		 bg_inflight;
static unsigned		 ndisabled;
static uint64_t		 nchecks;	/* account checks answered */

static int		 helper_down;	/* lost: a new one after RESPAWN_MS */
static int		 resetting;	/* RESET sent, LOST not yet back */
static struct event	*ev_timeout, *ev_respawn, *ev_sweep;

static void	account_timeout_cb(evutil_socket_t, short, void *);
static void	account_respawn_cb(evutil_socket_t, short, void *);
static void	account_sweep_cb(evutil_socket_t, short, void *);
static void	account_pump(void);

/* ---- small containers ---- */

static int
fifo_push(struct fifo *f, uint32_t idx)
{
	uint32_t	*v;
	size_t		 cap, i;

	if (f->len == f->cap) {
		cap = f->cap ? f->cap * 2 : 64;
		if ((v = calloc(cap, sizeof(*v))) == NULL)
			return -1;
		for (i = 0; i < f->len; i++)
			v[i] = f->v[(f->head + i) % f->cap];
		free(f->v);
		f->v = v;
		f->cap = cap;
		f->head = 0;
	}
	f->v[(f->head + f->len) % f->cap] = idx;
	f->len++;
	return 0;
}

static uint32_t
fifo_pop(struct fifo *f)
{
	uint32_t	idx;

	if (f->len == 0)
		return 0;
	idx = f->v[f->head];
	f->head = (f->head + 1) % f->cap;
	f->len--;
	return idx;
}

static uint32_t
fifo_head(const struct fifo *f)
{
	return f->len == 0 ? 0 : f->v[f->head];
}

static void
fifo_free(struct fifo *f)
{
	free(f->v);
	memset(f, 0, sizeof(*f));
}

static uint64_t
entry_hash(enum kind kind, uint32_t uid, const char *name)
{
	uint8_t		buf[5 + TOKEND_USER_MAX], out[crypto_shorthash_BYTES];
	size_t		len = 5, n;
	uint64_t	h;

	buf[0] = (uint8_t)kind;
	memcpy(buf + 1, &uid, 4);
	if (kind != K_BY_UID) {
		n = strnlen(name, TOKEND_USER_MAX);
		memcpy(buf + 5, name, n);
		len += n;
		if (kind == K_BY_NAME)
			memset(buf + 1, 0, 4);
	}
	crypto_shorthash(out, buf, len, hkey);
	memcpy(&h, out, sizeof(h));
	return h;
}

static int
entry_is(const struct entry *e, enum kind kind, uint32_t uid,
    const char *name)
{
	if (e->kind != kind)
		return 0;
	switch (kind) {
	case K_BY_UID:
		return e->uid == uid;
	case K_BY_NAME:
		return strcmp(e->name, name) == 0;
	case K_ACCOUNT:
		return e->uid == uid && strcmp(e->name, name) == 0;
	}
	return 0;
}

static uint32_t
entry_find(enum kind kind, uint32_t uid, const char *name)
{
	size_t		i;
	uint32_t	idx;

	if (nslots == 0)
		return 0;
	for (i = entry_hash(kind, uid, name) & (nslots - 1);
	    (idx = slots[i]) != 0; i = (i + 1) & (nslots - 1))
		if (entry_is(&ents[idx], kind, uid, name))
			return idx;
	return 0;
}

static void
slot_insert(uint32_t idx)
{
	const struct entry	*e = &ents[idx];
	size_t			 i;

	for (i = entry_hash(e->kind, e->uid, e->name) & (nslots - 1);
	    slots[i] != 0; i = (i + 1) & (nslots - 1))
		;
	slots[i] = idx;
}

/* The entry for a key, made when missing; 0 when out of memory. */
static uint32_t
entry_get(enum kind kind, uint32_t uid, const char *name)
{
	struct entry	*e;
	uint32_t	 idx, *ns, i;
	size_t		 n;

	if ((idx = entry_find(kind, uid, name)) != 0)
		return idx;
	if (nents + 1 >= MAX_ENTRIES)
		return 0;
	if (nents + 1 >= capents) {
		n = capents ? capents * 2 : 256;
		if ((e = reallocarray(ents, n, sizeof(*e))) == NULL)
			return 0;
		memset(e + capents, 0, (n - capents) * sizeof(*e));
		ents = e;
		capents = (uint32_t)n;
		if (nents == 0)
			nents = 1;	/* index 0 stays unused */
	}
	if ((size_t)(nents + 1) * 2 > nslots) {
		n = nslots ? nslots * 2 : 512;
		if ((ns = calloc(n, sizeof(*ns))) == NULL)
			return 0;
		free(slots);
		slots = ns;
		nslots = n;
		for (i = 1; i < nents; i++)
			slot_insert(i);
	}
	e = &ents[nents];
	memset(e, 0, sizeof(*e));
	e->kind = (uint8_t)kind;
	e->uid = kind == K_BY_NAME ? 0 : uid;
	if (kind != K_BY_UID && (e->name = strdup(name)) == NULL)
		return 0;
	if (kind == K_BY_UID && (e->name = strdup("")) == NULL)
		return 0;
	idx = nents++;
	slot_insert(idx);
	return idx;
}

/* ---- the helper ---- */

/*
 * The helper answers in order: lookup_timeout runs from the moment the
 * oldest question in flight became the oldest (restart), not from the
 * last one sent, so a steady stream of questions cannot keep a stuck
 * helper alive.
 */
static void
helper_arm_timeout(int restart)
{
	struct timeval	tv = { td->conf.lookup_timeout, 0 };

	if (inflight.len == 0)
		event_del(ev_timeout);
	else if (restart || !evtimer_pending(ev_timeout, NULL))
		event_add(ev_timeout, &tv);
}

/*
 * An answer of a failed look-up: a fresh answer it was to renew stays
 * (and is asked again soon); otherwise the entry is an error for a while.
 */
static void
entry_failed(struct entry *e, int64_t now)
{
	int64_t	ttl = e->kind == K_ACCOUNT ? td->conf.account_recheck :
		    e->state == S_OK ? NSS_TTL : NSS_NEG_TTL;

	if ((e->state == S_OK || e->state == S_NONE) && now >= e->when &&
	    now - e->when < ttl) {
		e->used = 1;
		return;
	}
	e->state = S_ERROR;
	e->when = now;
}

/*
 * The helper is stuck or gone.  The question it was answering (the oldest
 * in flight) fails; the others go back to their queues for the next
 * helper, which the monitor starts when asked, a little later.  A stuck
 * one is replaced (MON_ACCT_RESET): until the monitor says it is gone
 * (MON_ACCT_LOST), what the old one might still answer is not taken.
 */
static void
helper_lost(const char *why, int reset)
{
	static const struct mon_msg	reset_msg = { .type = MON_ACCT_RESET };
	struct timeval	 tv = { RESPAWN_MS / 1000, (RESPAWN_MS % 1000) * 1000 };
	struct wbuf	 w;
	int64_t		 now = clock_now();
	uint32_t	 idx;

	log_warnx("account helper %s; a new one in %d ms", why, RESPAWN_MS);
	if ((idx = fifo_pop(&inflight)) != 0) {
		ents[idx].sent = 0;
		entry_failed(&ents[idx], now);
	}
	while ((idx = fifo_pop(&inflight)) != 0) {
		ents[idx].queued = ents[idx].sent == 1 ? 2 : 1;
		ents[idx].sent = 0;
		fifo_push(ents[idx].queued == 2 ? &urgent : &background, idx);
	}
	bg_inflight = 0;
	helper_down = 1;
	if (reset) {
		resetting = 1;
		wbuf_init(&w);
		mon_encode(&w, &reset_msg);
		(void)engine_send(&w);
		wbuf_free(&w);
	}
	event_del(ev_timeout);
	event_add(ev_respawn, &tv);
	conn_wake_lookups();
}

static void
account_respawn_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	account_pump();
}

static int
helper_send(uint32_t idx)
{
	const struct entry	*e = &ents[idx];
	struct mon_msg		 m;
	struct wbuf		 w;
	int			 rc;

	memset(&m, 0, sizeof(m));
	m.type = MON_ACCT_ASK;
	m.flag = e->kind == K_BY_UID ? ACCOUNT_REQ_BY_UID :
	    e->kind == K_BY_NAME ? ACCOUNT_REQ_BY_NAME : ACCOUNT_REQ_CHECK;
	m.uid = e->uid;
	if (e->kind != K_BY_UID)
		snprintf(m.user, sizeof(m.user), "%s", e->name);
	wbuf_init(&w);
	mon_encode(&w, &m);
	rc = engine_send(&w);
	wbuf_free(&w);
	return rc;
}

/* Send what waits, urgent questions first. */
static void
account_pump(void)
{
	struct fifo	*q;
	uint32_t	 idx;
	int		 bg;

	if (urgent.len == 0 && background.len == 0)
		return;
	if (helper_down) {
		if (resetting || evtimer_pending(ev_respawn, NULL))
			return;		/* not yet */
		helper_down = 0;
	}
	while (inflight.len < MAX_INFLIGHT) {
		bg = urgent.len == 0;
		if (bg && (background.len == 0 || bg_inflight >= MAX_BG_INFLIGHT))
			break;
		q = bg ? &background : &urgent;
		idx = fifo_pop(q);
		if (!ents[idx].queued || ents[idx].sent)
			continue;	/* sent already, through the other queue */
		if (helper_send(idx) == -1) {
			fifo_push(q, idx);	/* the monitor is gone: stopping */
			break;
		}
		ents[idx].queued = 0;
		ents[idx].sent = 1 + bg;
		if (bg)
			bg_inflight++;
		if (fifo_push(&inflight, idx) == -1) {
			helper_lost("lost track (out of memory)", 1);
			return;
		}
	}
	helper_arm_timeout(0);
}

static void
account_ask(uint32_t idx, int urgently)
{
	struct entry	*e = &ents[idx];

	if (e->sent || e->queued == 2 || (e->queued == 1 && !urgently))
		return;
	if (fifo_push(urgently ? &urgent : &background, idx) == -1)
		return;		/* asked again by the next request */
	e->queued = urgently ? 2 : 1;
	account_pump();
}

static void
account_log_change(struct entry *e, const char *detail)
{
	if (e->state == S_NONE && e->shown != S_NONE) {
		log_notice("account of %s (uid %u) disabled: tokens inactive",
		    e->name, (unsigned)e->uid);
		log_debug("account of %s (uid %u): %s", e->name,
		    (unsigned)e->uid, detail);
		e->shown = S_NONE;
		ndisabled++;
	} else if (e->state == S_OK && e->shown == S_NONE) {
		log_notice("account of %s (uid %u) enabled again", e->name,
		    (unsigned)e->uid);
		e->shown = S_OK;
		ndisabled--;
	} else if (e->state == S_OK)
		e->shown = S_OK;
}

/* One answer, for the oldest question in flight.  -1: the helper lied. */
static int
account_apply(const uint8_t *body, size_t len, int64_t now)
{
	struct entry	*e;
	struct rbuf	 r;
	char		 name[TOKEND_USER_MAX + 1], detail[TOKEND_ERRMSG_MAX + 1];
	uint32_t	 idx, uid;
	int		 type, res, want;

	rbuf_init(&r, body, len);
	type = rbuf_u8(&r);
	res = rbuf_u8(&r);
	uid = rbuf_u32(&r);
	rbuf_str(&r, name, sizeof(name));
	rbuf_str(&r, detail, sizeof(detail));
	if (rbuf_done(&r) == -1 || res > ACCOUNT_RES_ERROR ||
	    (idx = fifo_head(&inflight)) == 0)
		return -1;
	e = &ents[idx];
	want = e->kind == K_BY_UID ? ACCOUNT_REQ_BY_UID :
	    e->kind == K_BY_NAME ? ACCOUNT_REQ_BY_NAME : ACCOUNT_REQ_CHECK;
	/* (A name look-up may answer another spelling: LDAP ignores case.) */
	if (type != want || (e->kind == K_BY_UID && res == ACCOUNT_RES_OK &&
	    uid != e->uid) || (e->kind == K_ACCOUNT &&
	    (uid != e->uid || strcmp(name, e->name) != 0)))
		return -1;	/* helper_lost() fails it, at the head */
	fifo_pop(&inflight);
	if (e->sent == 2)
		bg_inflight--;
	e->sent = 0;
	if (res == ACCOUNT_RES_ERROR) {
		log_warnx("look-up of %s failed: %s", e->kind == K_BY_UID ?
		    "a uid" : e->name, detail[0] ? detail : "?");
		entry_failed(e, now);
		return 0;
	}
	e->when = now;
	e->used = 0;
	e->state = res == ACCOUNT_RES_OK ? S_OK : S_NONE;
	/* A uid whose name the monitor would not act on has no usable name. */
	if (e->kind == K_BY_UID && res == ACCOUNT_RES_OK && !mon_user_ok(name))
		e->state = S_NONE;
	else if (e->kind == K_BY_UID && res == ACCOUNT_RES_OK) {
		char *n = strdup(name);

		if (n == NULL) {
			e->state = S_ERROR;
			return 0;
		}
		free(e->name);
		e->name = n;
	} else if (e->kind == K_BY_NAME && res == ACCOUNT_RES_OK)
		e->uid = uid;
	else if (e->kind == K_ACCOUNT) {
		nchecks++;
		account_log_change(e, detail);
	}
	return 0;
}

void
account_message(int type, const uint8_t *body, size_t len)
{
	if (type == MON_ACCT_LOST) {
		if (resetting)
			resetting = 0;	/* the stuck one is gone: go on */
		else
			helper_lost("ended", 0);
		account_pump();
		return;
	}
	if (resetting)
		return;		/* the replaced helper's last words */
	if (account_apply(body, len, clock_now()) == -1) {
		helper_lost("sent a malformed answer", 1);
		return;
	}
	helper_arm_timeout(1);
	account_pump();
	conn_wake_lookups();
}

static void
account_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	char	why[64];

	(void)fd;
	(void)events;
	(void)arg;
	snprintf(why, sizeof(why), "did not answer within %u s",
	    td->conf.lookup_timeout);
	helper_lost(why, 1);
}

/* ---- what the event loop asks ---- */

/* The cached answer of entry idx, asking for a new one when it is stale. */
static enum account_answer
account_answer(uint32_t idx, int64_t now, int64_t ttl_ok, int64_t ttl_none)
{
	struct entry	*e = &ents[idx];
	int64_t		 age = now - e->when;

	switch (e->state) {
	case S_OK:
		if (age < ttl_ok && age >= 0)
			return ACCOUNT_OK;
		break;
	case S_NONE:
		if (age < ttl_none && age >= 0)
			return ACCOUNT_NONE;
		break;
	case S_ERROR:
		if (age < ERROR_TTL && age >= 0)
			return ACCOUNT_ERROR;
		break;
	}
	account_ask(idx, 1);
	return ACCOUNT_WAIT;
}

enum account_answer
account_name(uid_t uid, char *name, size_t size)
{
	enum account_answer	 a;
	uint32_t		 idx;

	if ((idx = entry_get(K_BY_UID, (uint32_t)uid, "")) == 0)
		return ACCOUNT_ERROR;
	a = account_answer(idx, clock_now(), NSS_TTL, NSS_NEG_TTL);
	if (a == ACCOUNT_OK) {
		if (strlen(ents[idx].name) >= size)
			return ACCOUNT_NONE;
		memcpy(name, ents[idx].name, strlen(ents[idx].name) + 1);
	}
	return a;
}

enum account_answer
account_uid(const char *name, uid_t *uid)
{
	enum account_answer	 a;
	uint32_t		 idx;

	/* A name the monitor would not act on is nobody's (monitor.h). */
	if (!mon_user_ok(name))
		return ACCOUNT_NONE;
	if ((idx = entry_get(K_BY_NAME, 0, name)) == 0)
		return ACCOUNT_ERROR;
	if ((a = account_answer(idx, clock_now(), NSS_TTL, NSS_NEG_TTL)) ==
	    ACCOUNT_OK)
		*uid = ents[idx].uid;
	return a;
}

/*
 * An account answer is trusted for account_recheck.  Past that, an account
 * whose tokens were used since its last answer is checked again in the
 * background and its requests go on with the last answer meanwhile (for
 * at most lookup_timeout more: a check takes no longer); an account idle
 * since its last answer, or older still, waits for a fresh check.  So each
 * account in use is checked once per account_recheck, and no answer is
 * older than account_recheck plus the time one check takes.
 */
enum account_answer
account_usable_ref(uint32_t ref, int64_t now)
{
	struct entry	*e;
	int64_t		 age, recheck = td->conf.account_recheck;
	int		 was_used;

	if (recheck == 0)
		return ACCOUNT_OK;
	if (ref == 0 || ref >= nents)
		return ACCOUNT_ERROR;
	e = &ents[ref];
	was_used = e->used;
	e->used = 1;
	age = now - e->when;
	if (e->state == S_OK || e->state == S_NONE) {
		if (age >= 0 && age < recheck)
			return e->state == S_OK ? ACCOUNT_OK : ACCOUNT_NONE;
		if (age >= 0 && age < recheck + td->conf.lookup_timeout &&
		    e->sent != 1 && e->queued != 2 &&
		    (was_used || e->sent || e->queued)) {
			account_ask(ref, 0);
			return e->state == S_OK ? ACCOUNT_OK : ACCOUNT_NONE;
		}
	}
	return account_answer(ref, now, recheck, recheck);
}

enum account_answer
account_usable(uint32_t uid, const char *name, int64_t now, uint32_t *ref)
{
	uint32_t	idx;

	if (ref != NULL)
		*ref = 0;
	if (td->conf.account_recheck == 0)
		return ACCOUNT_OK;
	if (!mon_user_ok(name))
		return ACCOUNT_NONE;
	if ((idx = entry_get(K_ACCOUNT, uid, name)) == 0)
		return ACCOUNT_ERROR;
	if (ref != NULL)
		*ref = idx;
	return account_usable_ref(idx, now);
}

void
account_seen_ok(uint32_t uid, const char *name, int64_t now)
{
	uint32_t	idx;

	if (td->conf.account_recheck == 0 || !mon_user_ok(name) ||
	    (idx = entry_get(K_ACCOUNT, uid, name)) == 0)
		return;
	ents[idx].state = S_OK;
	ents[idx].when = now;
	account_log_change(&ents[idx], "");
}

unsigned
account_pending(void)
{
	return (unsigned)(inflight.len + urgent.len + background.len);
}

unsigned
account_disabled(void)
{
	return ndisabled;
}

uint64_t
account_checks(void)
{
	return nchecks;
}

/*
 * Every second: accounts whose tokens were used since their last answer
 * and whose answer has reached account_recheck are checked again, before
 * anyone has to wait for it.
 */
static void
account_sweep_cb(evutil_socket_t fd, short events, void *arg)
{
	struct entry	*e;
	int64_t		 now = clock_now(), recheck = td->conf.account_recheck;
	uint32_t	 idx;

	(void)fd;
	(void)events;
	(void)arg;
	for (idx = 1; idx < nents; idx++) {
		e = &ents[idx];
		if (e->kind != K_ACCOUNT || !e->used || e->sent || e->queued)
			continue;
		if (now - e->when < (e->state == S_ERROR ? ERROR_TTL : recheck) &&
		    now >= e->when)
			continue;
		account_ask(idx, 0);
	}
}

void
account_configure(void)
{
	struct timeval	tv = { SWEEP_MS / 1000, (SWEEP_MS % 1000) * 1000 };

	if (td->conf.account_recheck > 0)
		event_add(ev_sweep, &tv);
	else
		event_del(ev_sweep);
}

int
account_init(char **cause)
{
	crypto_shorthash_keygen(hkey);
	ev_timeout = evtimer_new(td->base, account_timeout_cb, NULL);
	ev_respawn = evtimer_new(td->base, account_respawn_cb, NULL);
	ev_sweep = event_new(td->base, -1, EV_PERSIST, account_sweep_cb, NULL);
	if (ev_timeout == NULL || ev_respawn == NULL || ev_sweep == NULL)
		return cause_set(cause, "cannot create the account timers");
	account_configure();
	return 0;
}

void
account_free(void)
{
	uint32_t	idx;

	if (ev_timeout != NULL)
		event_free(ev_timeout);
	if (ev_respawn != NULL)
		event_free(ev_respawn);
	if (ev_sweep != NULL)
		event_free(ev_sweep);
	for (idx = 1; idx < nents; idx++)
		free(ents[idx].name);
	free(ents);
	free(slots);
	fifo_free(&urgent);
	fifo_free(&background);
	fifo_free(&inflight);
	ents = NULL;
	slots = NULL;
	nents = capents = 0;
	nslots = 0;
}
