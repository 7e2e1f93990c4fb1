#!/bin/bash
# SPDX-License-Identifier: ISC
# Failures the daemon must survive or refuse cleanly (issue 5, item 3):
#  - a PAM module that hangs, crashes or exits in the helper: the ISSUE fails
#    with one clear line, the helper is gone, everybody else is served;
#  - the LMDB map is full: ISSUE says "database is full", reads keep working;
#  - the key file is missing (while the database holds tokens), too open, or
#    owned by someone else, or the database directory is not writable: the
#    daemon refuses to start with a one-line reason; a fresh install creates
#    the key (0600) and starts.
# Uses tests/pam/pam_testmod.so (make tests/pam/pam_testmod.so).
# shellcheck source=tests/regress/lib.sh
. "$(dirname "$0")/lib.sh"

TESTMOD=$TOP/tests/pam/pam_testmod.so
PAMTO=3		# pam_timeout, seconds
# Hangs and crashes count as failed authentications: the burst leaves room.
setup pam_timeout=${PAMTO}s auth_fail_burst=20
if [ ! -f "$TESTMOD" ]; then
	fail "tests/pam/pam_testmod.so is built" "missing: $TESTMOD (make tests/pam/pam_testmod.so)"
	finish
fi
cp "$PAMDIR/tokend" "$T/pam-tokend.orig"

# testmod_stack ARGS...: the tokend service is pam_testmod.so ARGS alone.
testmod_stack() {
	cat >"$PAMDIR/tokend" <<EOF
auth     required   $TESTMOD $*
account  required   $TESTMOD
EOF
}
restore_stack() { cp "$T/pam-tokend.orig" "$PAMDIR/tokend"; }

# helpers_left: PAM helper processes of the daemon (zombies included).
helpers_left() { pam_helpers | wc -l; }

# no_helpers_left WHAT: within 1 s the daemon has no PAM helpers.
no_helpers_left() {
	local i=0 n
	while n=$(helpers_left) && [ "$n" -gt 0 ] && [ $i -lt 10 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	expect_eq "no PAM helper process left after $1" 0 "$n"
}

start_daemon || finish
issue_ok keeper --expires 1d || finish
KEEP=$TOKEN

# still_serving WHAT: status and a verify of an earlier token answer.
still_serving() {
	tctl status
	expect_rc "status still works after $1" 0
	tctl_in "$KEEP" verify
	expect_rc "an earlier token still verifies after $1" 0
}

# timed_issue NAME: tokenctl issue with nothing on stdin; sets TOOK (seconds, 0.1 precision).
timed_issue() {
	local t0 t1
	t0=$(date +%s%N)
	tctl issue --name "$1"
	t1=$(date +%s%N)
	TOOK=$(((t1 - t0) / 100000000))
	TOOK="$((TOOK / 10)).$((TOOK % 10))"
}

# log_since MARK: the daemon log after line MARK.
log_since() { tail -n +"$(($1 + 1))" "$T/daemon.log"; }
log_mark() { wc -l <"$T/daemon.log"; }

# ================================================================ PAM helper
# --- a module that hangs (sleeps 30 s) is killed after pam_timeout
testmod_stack sleep=30
MARK=$(log_mark)
tctl issue --name hung-bg >/dev/null &
HUNG=$!
BG_PIDS="$BG_PIDS $HUNG"
sleep 0.5
T0=$(date +%s%N)
tctl_in "$KEEP" verify
T1=$(date +%s%N)
expect_rc "verify while a PAM module hangs" 0
expect_true "verify answers at once (< 1 s) while a PAM module hangs" \
    test $(((T1 - T0) / 1000000)) -lt 1000
tctl status
expect_rc "status while a PAM module hangs" 0
wait "$HUNG"
timed_issue hung
expect_rc "issue with a hanging PAM module exits 1" 1
# The upper bound only says "not hung for good": a busy machine may be slow.
expect_true "it fails within pam_timeout + 10 s (took $TOOK s, pam_timeout ${PAMTO}s)" \
    test "${TOOK%.*}" -lt $((PAMTO + 10))
expect_true "it waited for pam_timeout first (took $TOOK s)" test "${TOOK%.*}" -ge $((PAMTO - 1))
expect_lines "hanging module: one line on stderr" 1 "$T/err"
expect_match "hanging module: stderr says it timed out" '[Tt]imed? ?out' "$ERR"
expect_lines "hanging module: nothing on stdout" 0 "$T/out"
expect_match "the daemon log says the PAM conversation timed out" 'timed out' "$(log_since "$MARK")"
no_helpers_left "a hanging module"
still_serving "a hanging PAM module"

# --- a module that crashes (SIGSEGV) or exits (_exit(3)) in the helper
for how in crash exit; do
	testmod_stack "$how"
	MARK=$(log_mark)
	timed_issue "$how"
	expect_rc "issue with a PAM module that does '$how' exits 1" 1
	expect_lines "$how: one line on stderr" 1 "$T/err"
	expect_match "$how: stderr says authentication failed" \
	    '[Aa]uthenticat|PAM|helper' "$ERR"
	expect_lines "$how: nothing on stdout" 0 "$T/out"
	# Not a timeout: the daemon saw the helper go (no clock involved, so
	# a busy machine cannot make this flaky).
	expect_no_match "$how: stderr does not blame a timeout" '[Tt]imed? ?out' "$ERR"
	if [ "$how" = crash ]; then
		wait_for "$CMD_TIMEOUT" sh -c "tail -n +$((MARK + 1)) '$T/daemon.log' |
		    grep -Eq 'helper.*(died|killed).*(signal 11|SIGSEGV)'"
		expect_match "crash: the daemon log says the helper died of signal 11" \
		    'helper.*(died|killed).*(signal 11|SIGSEGV)' "$(log_since "$MARK")"
	else
		wait_for "$CMD_TIMEOUT" sh -c "tail -n +$((MARK + 1)) '$T/daemon.log' |
		    grep -Eq 'helper.*exit.*3'"
		expect_match "exit: the daemon log says the helper exited with status 3" \
		    'helper.*exit.*3' "$(log_since "$MARK")"
	fi
	expect_no_match "$how: the daemon log does not say it timed out" \
	    'timed out' "$(log_since "$MARK")"
	no_helpers_left "a module that does '$how'"
	still_serving "a PAM module that does '$how'"
done

# --- a crash after the password prompt was answered (mid-conversation)
cat >"$PAMDIR/tokend" <<EOF
auth     requisite  $PAM_MATRIX passdb=$PAMDIR/passdb
auth     required   $TESTMOD crash
account  required   $TESTMOD
EOF
tctl_in "$PW_ME" issue --name crash-mid
expect_rc "a module crashing after the password prompt: issue exits 1" 1
expect_match "crash mid-conversation: the last stderr line says why" \
    '[Aa]uthenticat|PAM|helper' "$(tail -n 1 "$T/err")"
expect_lines "crash mid-conversation: nothing on stdout" 0 "$T/out"
no_helpers_left "a crash mid-conversation"
still_serving "a crash mid-conversation"

# --- a module that changes PAM_USER (a user-mapping module): PAM said yes,
# but for another name than the one asked for; no token for anybody.
testmod_stack user=nobody
tctl issue --name mapped
expect_rc "a stack that changes PAM_USER: issue exits 1" 1
expect_match "the log names the reason" 'changed the user name' "$(cat "$T/daemon.log")"
no_helpers_left "a user-mapping module"

# --- a helper that cannot be started (the monitor has no descriptor left for
# its socketpair): the ISSUE gets an error, the connection and the daemon
# go on.  (This path once freed the connection under its caller.)
restore_stack
if command -v prlimit >/dev/null; then
	SOFT=$(prlimit --pid "$DAEMON_PID" --nofile -o SOFT --noheadings)
	# No descriptor for the monitor's socketpair.  (Only the soft limit
	# moves: raising a hard one may need a capability.)
	prlimit --pid "$DAEMON_PID" --nofile="$(free_fd 1 "$DAEMON_PID")":
	RES=$("$PYTHON" - "$SOCK" <<'PYEOF'
import json, socket, struct, sys
def frame(t, b=b""): return b"TK" + bytes([1, t]) + struct.pack(">I", len(b)) + b
def pstr(s): b = s.encode(); return struct.pack(">H", len(b)) + b
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(20)
s.sendall(frame(1, pstr("") + pstr("nofd") + struct.pack(">q", 0) + b"\0") + frame(8))
buf, types, codes = b"", [], []
while len(types) < 2:
    d = s.recv(65536)
    if not d: break
    buf += d
    while len(buf) >= 8 and len(buf) >= 8 + struct.unpack(">I", buf[4:8])[0]:
        n = 8 + struct.unpack(">I", buf[4:8])[0]
        types.append(buf[3]); codes.append(struct.unpack(">H", buf[8:10])[0] if buf[3] == 0x80 else None)
        buf = buf[n:]
print(json.dumps({"types": types, "codes": codes}))
PYEOF
)
	prlimit --pid "$DAEMON_PID" --nofile="$SOFT":
	expect_json "no descriptor for a helper: the ISSUE gets ERROR 12, the STATUS behind it its answer" \
	    'j["types"] == [0x80, 0x87] and j["codes"][0] == 12' "$RES"
	still_serving "a PAM helper that could not be started"
else
	skip "a PAM helper that cannot be started" "needs prlimit (util-linux)"
fi

# --- the good stack works again at once; nothing was stored by the failures
restore_stack
issue_ok after-failures
tctl --json list
expect_json "no token was created by the failed issues" \
    'sorted(t["name"] for t in j) == ["after-failures", "keeper"]' "$OUT"
stop_daemon
expect_eq "SIGTERM exits 0 after the PAM failures" 0 "$DAEMON_RC"

# ================================================================ map full
# A 1 MiB map; each token has a 64-byte name and 16 scopes of 64 bytes.  The
# PAM stack is pam_testmod.so alone (no prompts): PAM is not what is tested
# here.  The bulk of the map is filled by four raw protocol clients at once
# (tokenctl's start-up dominates under sanitizers); tokenctl issues the first
# token and the one that is refused.
write_config map_size=1M max_tokens_per_user=100000 auth_fail_burst=0 pam_timeout=10s \
    pam_serialize=no max_pam_helpers=4
mkdir -p "$T/dbfull"
testmod_stack
DB_DIR=$T/dbfull KEY_FILE=$T/full.key start_daemon || finish
PAD=$(printf 'x%.0s' $(seq 1 56))
SCOPES=()
for s in $(seq -w 1 16); do
	SCOPES+=(--scope "scope$s:$PAD")
done
PAD=$(printf 'n%.0s' $(seq 1 53))
LIMIT=60	# seconds
T0=$(date +%s)
NAME="full-first-$PAD"
tctl issue --name "${NAME:0:64}" --expires 30d "${SCOPES[@]}"
expect_rc "issue a token with a 64-byte name and 16 scopes of 64 bytes" 0
FIRST=$OUT
FILL=$(timeout -k 2 $((LIMIT + 10)) "$PYTHON" - "$SOCK" "$LIMIT" <<'PY'
import json, socket, struct, sys, threading, time
path, limit = sys.argv[1], float(sys.argv[2])
pad, scope_pad = "n" * 53, "x" * 56
def s16(b): return struct.pack(">H", len(b)) + b
def frame(t, body): return b"TK\x01" + bytes([t]) + struct.pack(">I", len(body)) + body
scopes = bytes([16]) + b"".join(s16(("scope%02d:%s" % (i, scope_pad)).encode()) for i in range(1, 17))
def recv_frame(s):
    buf = b""
    while len(buf) < 8:
        d = s.recv(8 - len(buf))
        if not d: raise EOFError
        buf += d
    n = struct.unpack(">I", buf[4:8])[0]
    body = b""
    while len(body) < n:
        d = s.recv(n - len(body))
        if not d: raise EOFError
        body += d
    return buf[3], body
res = {}
def filler(k):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    # A refused record may still leave room in another page: stop after
    # three refusals in a row.
    n, i, refused, end, t0 = 0, 0, 0, "limit", time.monotonic()
    while time.monotonic() - t0 < limit and refused < 3:
        name = ("full-%d-%05d-%s" % (k, i, pad))[:64].encode()
        i += 1
        exp = int(time.time()) + 30 * 86400
        s.sendall(frame(0x01, s16(b"") + s16(name) + struct.pack(">q", exp) + scopes))
        t, body = recv_frame(s)
        if t == 0x82:
            n, refused = n + 1, 0
            continue
        if t == 0x80 and struct.unpack(">H", body[:2])[0] == 9:
            time.sleep(0.05)    # BUSY: this uid's PAM slots are taken (not root)
            continue
        refused += 1
        end = "error %d" % struct.unpack(">H", body[:2])[0] if t == 0x80 else "frame 0x%02x" % t
        if t != 0x80:
            break
    # Then fill the crumbs with small tokens (no scopes), so that the map is
    # really full, not just too full for big records.
    small, refused = 0, 0
    while time.monotonic() - t0 < limit and refused < 3:
        name = ("small-%d-%05d" % (k, small + refused)).encode()
        s.sendall(frame(0x01, s16(b"") + s16(name) + struct.pack(">q", 0) + b"\x00"))
        t, body = recv_frame(s)
        if t == 0x82:
            small += 1
        else:
            refused += 1
    res[k] = {"n": n, "end": end, "small": small}
ts = [threading.Thread(target=filler, args=(k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps({"n": sum(r["n"] + r["small"] for r in res.values()),
                  "small": sum(r["small"] for r in res.values()),
                  "ends": [r["end"] for r in res.values()]}))
PY
)
N=$(json_eval '1 + j["n"]' "$FILL")
# The same through tokenctl, until it is refused too (at most 20 more fit).
for i in $(seq -w 1 20); do
	NAME="full-last-$i-$PAD"
	tctl issue --name "${NAME:0:64}" --expires 30d "${SCOPES[@]}"
	[ "$RC" = 0 ] || break
	N=$((N + 1))
done
ELAPSED=$(($(date +%s) - T0))
if [ "$RC" = 0 ]; then
	fail "the 1 MiB map fills up within ${LIMIT}s" "$N tokens issued in ${ELAPSED}s and still not full" \
	    "raw clients: $FILL"
elif [ -z "$FIRST" ]; then
	fail "issue of large tokens into a 1 MiB map" "$(observed)"
else
	pass "the 1 MiB map filled up after $N tokens in ${ELAPSED}s"
	expect_true "at least 100 such tokens fit in 1 MiB before it is full ($N)" test "$N" -ge 100
	expect_json "every raw client was refused with error 11 (STORE)" \
	    'j["ends"] == ["error 11"] * 4' "$FILL"
	expect_rc "tokenctl issue into a full database exits 1" 1
	expect_lines "full database: one line on stderr" 1 "$T/err"
	expect_match "full database: stderr says the database is full" 'database is full' "$ERR"
	expect_lines "full database: nothing on stdout" 0 "$T/out"
	expect_match "the daemon log says the database is full" 'full' \
	    "$(grep -i 'refused' "$T/daemon.log" | tail -n 1)"
	tctl --json list
	expect_rc "list works when the database is full" 0
	# (too big for json_eval's argv: read the file)
	expect_eq "list shows all $N tokens" "$N" \
	    "$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/out" 2>&1)"
	tctl_in "$FIRST" verify
	expect_rc "verify of an earlier token works when the database is full" 0
	tctl_in "$FIRST" exchange
	expect_rc "exchange works when the database is full" 0
	tctl_in "$OUT" verify
	expect_rc "the access token from it verifies" 0
	tctl status
	expect_rc "status works when the database is full" 0
	# Deleting tokens is how a user makes room.  LMDB may need a free page
	# even to delete: then the refusal must say the database is full.
	tctl --json list
	# (three of them, never FIRST, which is verified after the restart)
	IDS=$("$PYTHON" -c 'import json,sys; print(" ".join([t["id"] for t in json.load(open(sys.argv[1])) if t["id"] != sys.argv[2]][-3:]))' "$T/out" "${FIRST:4:11}")
	REFUSED=
	for id in $IDS; do
		tctl delete "$id" --yes
		[ "$RC" != 0 ] && REFUSED="$REFUSED$ERR
"
	done
	expect_eq "a delete refused in a full database says the database is full" "" \
	    "$(printf '%s' "$REFUSED" | grep -v full)"
	# A restart over a full map works, and reads still answer.
	stop_daemon
	expect_eq "SIGTERM exits 0 with a full database" 0 "$DAEMON_RC"
	DB_DIR=$T/dbfull KEY_FILE=$T/full.key start_daemon || finish
	tctl_in "$FIRST" verify
	expect_rc "verify after a restart over a full database" 0
	# Revoking everything (an incident) must work in a full database too.
	tctl delete --all --yes
	expect_rc "delete --all works in a full database" 0
	if [ "$RC" = 0 ]; then
		tctl_in "$FIRST" verify
		expect_rc "after delete --all, the first token is inactive" 1
	else
		expect_match "a refused delete --all says the database is full" 'full' "$ERR"
	fi
	stop_daemon
	# The administrator's way out: a bigger map_size and a restart.
	write_config map_size=2M max_tokens_per_user=100000 auth_fail_burst=0
	DB_DIR=$T/dbfull KEY_FILE=$T/full.key start_daemon || finish
	tctl issue --name "after-growing" "${SCOPES[@]}"
	expect_rc "with map_size raised to 2M, issue works again" 0
fi
stop_daemon
restore_stack

# ================================================================ key file
write_config
# start_refused NAME REGEX: the daemon (paths from DB_DIR, KEY_FILE) refuses
# to start: exits non-zero within START_TIMEOUT with one log line matching REGEX.
start_refused() {
	local name=$1 re=$2 mark lines
	mark=$(log_mark)
	if START_QUIET=1 start_daemon; then
		fail "$name: the daemon refuses to start" "it started and answers status" \
		    "$(log_since "$mark" | tail -n 5)"
		stop_daemon
		return 1
	fi
	if [ -n "$DAEMON_PID" ]; then		# still running, not answering
		fail "$name: the daemon exits" "still running after ${START_TIMEOUT}s"
		kill -9 "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
		DAEMON_PID=
		return 1
	fi
	expect_ne "$name: the daemon exits non-zero" 0 "$DAEMON_RC"
	lines=$(log_since "$mark" | grep -v '^--- start')
	expect_eq "$name: exactly one line on stderr" 1 "$(printf '%s\n' "$lines" | grep -c .)"
	expect_match "$name: the reason is given ($re)" "$re" "$lines"
}

# A database that holds tokens, and its key.
start_daemon || finish
issue_ok keyed || finish
KEYED=$TOKEN
stop_daemon
KEY=$T/hash.key
cp -p "$KEY" "$T/hash.key.saved"

# (a) key file missing while the database holds tokens
rm -f "$KEY"
start_refused "key file missing, database holds tokens" 'key file.*(missing|[Nn]o such)'
expect_true "the missing key file is not replaced by a new one" test ! -e "$KEY"
cp -p "$T/hash.key.saved" "$KEY"

# (b) key file readable by the group
chmod 640 "$KEY"
start_refused "key file mode 0640" 'key file.*0?640'
chmod 600 "$KEY"
chmod 604 "$KEY"
start_refused "key file mode 0604" 'key file.*0?604'
chmod 600 "$KEY"

# (c) key file owned by another uid
if is_root; then
	chown "$NOBODY_UID" "$KEY"
	start_refused "key file owned by nobody" "key file.*(owned|owner).*($NOBODY_UID|nobody)"
	chown 0 "$KEY"
else
	skip "key file owned by another uid"
fi

# the untouched key still works: the refusals changed nothing
start_daemon || finish
tctl_in "$KEYED" verify
expect_rc "with its key restored, the database's token verifies" 0
stop_daemon

# (d) fresh install: no database directory, no key file
mkdir -p "$T/fresh"
if DB_DIR=$T/fresh/db KEY_FILE=$T/fresh/hash.key start_daemon; then
	pass "fresh install (no database, no key file): the daemon starts"
	expect_eq "fresh install: the key file is created with mode 0600" 600 \
	    "$(stat -c %a "$T/fresh/hash.key" 2>/dev/null)"
	expect_eq "fresh install: the key file belongs to the daemon's uid" "$MY_UID" \
	    "$(stat -c %u "$T/fresh/hash.key" 2>/dev/null)"
	expect_eq "fresh install: the key file is 32 bytes" 32 "$(stat -c %s "$T/fresh/hash.key" 2>/dev/null)"
	expect_eq "fresh install: the database directory is 0700" 700 \
	    "$(stat -c %a "$T/fresh/db" 2>/dev/null)"
	issue_ok fresh
	stop_daemon
fi

# (e) the database directory is not writable by the daemon's user
if is_root; then
	# root ignores permissions: run the daemon as nobody.
	NB=$T/nb
	mkdir -p "$NB/run" "$NB/dbok" "$NB/dbro"
	chown -R "$NOBODY_UID:$NOBODY_UID" "$NB/run" "$NB/dbok"
	chown 0:0 "$NB/dbro"
	chmod 755 "$NB/dbro"
	cp "$TOKEND" "$NB/tokend"
	chmod 755 "$NB" "$NB/tokend"
	chmod 644 "$T/tokend.conf"
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$AS_NOBODY_CMD" "$NB/tokend" >"$NB/as-nobody"
	chmod 755 "$NB/as-nobody"
	REAL_TOKEND=$TOKEND REAL_SOCK=$SOCK
	TOKEND=$NB/as-nobody SOCK=$NB/run/tokend.sock
	# control: the same set-up with a database directory nobody owns starts.
	if DB_DIR=$NB/dbok KEY_FILE=$NB/run/hash.key start_daemon; then
		pass "as nobody with its own database directory, the daemon starts"
		expect_eq "it runs as nobody" "$NOBODY_UID" "$(stat -c %u /proc/"$DAEMON_PID")"
		stop_daemon
	fi
	rm -f "$NB/run/hash.key"
	DB_DIR=$NB/dbro KEY_FILE=$NB/run/hash.key \
	    start_refused "database directory owned by root 0755, daemon as nobody" \
	    "$NB/dbro.*(writ|[Pp]ermission)"
	expect_true "nothing was created in the unwritable database directory" \
	    test -z "$(ls -A "$NB/dbro")"
	TOKEND=$REAL_TOKEND SOCK=$REAL_SOCK
else
	mkdir -p "$T/dbro"
	chmod 555 "$T/dbro"
	DB_DIR=$T/dbro KEY_FILE=$T/ro.key start_refused "database directory mode 0555" \
	    "$T/dbro.*(writ|[Pp]ermission)"
	chmod 755 "$T/dbro"
fi

finish
