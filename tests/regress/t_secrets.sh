#!/bin/bash
# SPDX-License-Identifier: ISC
# Secrets stay secret (issue 5, item 6).  After a full session (issue, list,
# exchange, verify, delete) the refresh token's secret, the access token, the
# PAM password and the one-time code appear nowhere: not in the daemon log,
# not in the LMDB files, not in /proc/<pid>/cmdline or environ of tokenctl or
# the daemon.  The daemon and its PAM helper cannot dump core and, being
# non-dumpable, their /proc files are not readable by their own (unprivileged)
# user.
# shellcheck source=tests/regress/lib.sh
. "$(dirname "$0")/lib.sh"

TESTMOD=$TOP/tests/pam/pam_testmod.so
setup auth_fail_burst=0 pam_timeout=3s
start_daemon || finish

# mem_scan PID NAME=TEXT...: prints "NAME: none" or "NAME: where" for each
# TEXT searched in every readable mapping of PID (needs root).
mem_scan() {
	"$PYTHON" - "$@" <<'PY'
import sys
pid, needles = sys.argv[1], sys.argv[2:]
names = [a.split("=", 1)[0] for a in needles]
needles = [a.split("=", 1)[1] for a in needles]
found = {}
CHUNK, BIG = 1 << 22, 1 << 30	# skip huge reservations (sanitizer shadow)
longest = max(len(x) for x in needles)
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    regions = maps.read().splitlines()	# read once: the daemon may map more meanwhile
    for line in regions:
        f = line.split()
        path = f[5] if len(f) > 5 else ""
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if "r" not in f[1] or path.startswith("[v") or hi - lo > BIG:
            continue	# [vvar] [vsyscall] [vdso]
        counts = dict.fromkeys(names, 0)
        tail = b""
        for off in range(lo, hi, CHUNK):
            try:
                mem.seek(off)
                data = mem.read(min(CHUNK, hi - off))
            except Exception:	# a region unmapped meanwhile, EIO, ...
                tail = b""
                continue
            buf = tail + data
            for n, s in zip(names, needles):
                counts[n] += buf.count(s.encode())
            tail = buf[-(longest - 1):] if longest > 1 else b""
        for n in names:
            if counts[n]:
                found.setdefault(n, []).append("%s %s x%d" % (f[0], path or "anon", counts[n]))
for n in names:
    print("%s: %s" % (n, "; ".join(found[n]) if n in found else "none"))
PY
}

# ---------------------------------------------------------------- the session
fresh_oath
CODE=$(oathtool --totp "$KEY_ME")
tctl_in "$PW_ME
$CODE" issue --name secret-session --scope deploy
expect_rc "issue" 0
TKR=$(head -n 1 "$T/out")
expect_match "the refresh token has the documented shape" '^tkr_[0-9A-Za-z]{50}$' "$TKR"
BODY=${TKR#tkr_}		# id + secret + checksum
SECRET=${BODY:11:33}		# the 24 secret bytes, without the public id
ID=${BODY:0:11}
tctl --json list
expect_rc "list" 0
expect_json "list shows the token by id" "any(t['id'] == '$ID' for t in j)" "$OUT"
expect_no_match "list does not show the secret" "$SECRET" "$OUT"
tctl_in "$TKR" exchange
expect_rc "exchange" 0
TKA=$OUT
expect_match "the access token has the documented shape" '^tka_[0-9A-Za-z]{72}$' "$TKA"
TKA_MAC=${TKA:48}		# MAC blocks + checksum: what makes it unforgeable
tctl_in "$TKA" --json verify
expect_json "the access token verifies" 'j["active"] is True' "$OUT"
tctl_in "$TKR" verify
expect_rc "the refresh token verifies" 0

# --- tokenctl exchange waiting on its stdin: its argv and environment hold
# no token, also while it holds half of one.
mkfifo "$T/fifo"
"$TCTL" --socket "$SOCK" exchange <"$T/fifo" >"$T/ex.out" 2>"$T/ex.err" &
EXPID=$!
BG_PIDS="$BG_PIDS $EXPID"
exec 7>"$T/fifo"
printf '%s' "$TKR" >&7		# the whole token, but no newline and no EOF yet
sleep 0.3
if [ -r "/proc/$EXPID/cmdline" ]; then
	expect_eq "the waiting process is tokenctl" tokenctl "$(cat "/proc/$EXPID/comm" 2>/dev/null)"
	CMDLINE=$(tr '\0' ' ' <"/proc/$EXPID/cmdline")
	expect_match "tokenctl's cmdline is readable and says exchange" 'exchange' "$CMDLINE"
	expect_no_match "tokenctl's /proc cmdline holds no token" 'tk[ra]_' "$CMDLINE"
	expect_no_match "tokenctl's /proc cmdline holds no secret" "$SECRET" "$CMDLINE"
	ENVIRON=$(tr '\0' '\n' <"/proc/$EXPID/environ" 2>/dev/null)
	expect_no_match "tokenctl's /proc environ holds no token" "tk[ra]_|$SECRET" "$ENVIRON"
	# control for the memory scan below: it finds the token where it is.
	if is_root; then
		expect_no_match "control: the memory scan finds the token in the waiting tokenctl" \
		    'none' "$(mem_scan "$EXPID" "token=$SECRET")"
	fi
else
	fail "tokenctl exchange waits for its stdin" "process $EXPID gone: $(cat "$T/ex.err")"
fi
printf '\n' >&7
exec 7>&-
wait "$EXPID"
RC=$?
LAST_CMD="tokenctl exchange <fifo"
expect_rc "exchange fed through a fifo" 0
expect_match "it printed an access token" '^tka_' "$(cat "$T/ex.out")"
TKA2=$(head -n 1 "$T/ex.out")

# --- the daemon's own argv and environment, monitor and engine
for P in "$DAEMON_PID" "$ENGINE_PID"; do
	DCMD=$(tr '\0' ' ' <"/proc/$P/cmdline")
	expect_no_match "the daemon's /proc cmdline holds no token ($DCMD)" "tk[ra]_|$SECRET" "$DCMD"
	if is_root; then
		DENV=$(tr '\0' '\n' <"/proc/$P/environ")
		expect_no_match "the daemon's /proc environ holds no token or password" \
		    "tk[ra]_|$SECRET|$PW_ME" "$DENV"
	fi
done

tctl delete "$ID" --yes
expect_rc "delete" 0
tctl_in "$TKR" verify
expect_rc "after delete the refresh token is inactive" 1

# A failed authentication too: its (wrong) answers must not be logged either.
WRONG_PW='wrong horse 9'
tctl_in "$WRONG_PW
000000" issue --name wrong
expect_rc "issue with a wrong password fails" 1

# ---------------------------------------------------------------- the memory
# While the daemon still runs: neither the token, nor the password, nor the
# code is left in its memory (buffers are wiped after use).
if is_root; then
	# Until the daemon has let go of every other connection and helper.
	settled() {
		tctl --json status &&
		    json_eval 'j["connections"] == 1 and j["pam_helpers"] == 0' "$OUT" | grep -qx true
	}
	wait_for "$CMD_TIMEOUT" settled
	expect_true "the daemon has freed the session's connections" settled
	for P in "$DAEMON_PID" "$ENGINE_PID"; do
		[ "$P" = "$DAEMON_PID" ] && WHO=monitor || WHO=engine
		MEM=$(mem_scan "$P" "refresh token=$TKR" "refresh secret=$SECRET" \
		    "access token=$TKA" "second access token=$TKA2" "PAM password=$PW_ME" \
		    "wrong PAM password=$WRONG_PW" 2>&1)
		# A scan that could not finish says why; it is tried once more.
		if ! printf '%s\n' "$MEM" | grep -q '^refresh token: '; then
			printf '%s\n' "$MEM" | tail -3 | sed 's/^/  mem_scan failed, again: /'
			sleep 1
			MEM=$(mem_scan "$P" "refresh token=$TKR" "refresh secret=$SECRET" \
			    "access token=$TKA" "second access token=$TKA2" "PAM password=$PW_ME" \
			    "wrong PAM password=$WRONG_PW" 2>&1)
		fi
		printf '%s\n' "$MEM" | grep -v ': none$' | head -5 | sed "s/^/  mem_scan $WHO: /"
		for n in "refresh token" "refresh secret" "access token" "second access token" \
		    "PAM password" "wrong PAM password"; do
			LINE=$(printf '%s\n' "$MEM" | grep "^$n: ")
			expect_eq "the $WHO's memory holds no $n after the session" "$n: none" "$LINE"
		done
	done
else
	skip "the daemon's memory holds no secrets after the session"
fi

stop_daemon
expect_eq "SIGTERM exits 0" 0 "$DAEMON_RC"

# ---------------------------------------------------------------- the files
LOG=$(cat "$T/daemon.log")
expect_match "the daemon log names the token id" "$ID" "$LOG"
for what in "refresh token:$BODY" "refresh secret:$SECRET" "access token:$TKA" \
    "access token MAC:$TKA_MAC" "second access token:${TKA2:-none}" "PAM password:$PW_ME" \
    "wrong PAM password:$WRONG_PW"; do
	expect_no_match "the daemon log has no ${what%%:*}" "${what#*:}" "$LOG"
done
# The one-time code: six digits, so look for it as a word not part of a pid.
expect_eq "the daemon log has no one-time code" 0 \
    "$(grep -ow -- "$CODE" "$T/daemon.log" | wc -l)"
expect_eq "the daemon log has no wrong one-time code" 0 \
    "$(grep -w -- "000000" "$T/daemon.log" | grep -cv 'expires')"

for f in "$T"/db/*.mdb; do
	fn=$(basename "$f")
	for what in "refresh token:$BODY" "refresh secret:$SECRET" "access token:$TKA" \
	    "PAM password:$PW_ME" "one-time code:$CODE"; do
		expect_eq "$fn has no ${what%%:*} in clear" 0 \
		    "$(grep -a -c -F -- "${what#*:}" "$f")"
	done
done
# The 24 secret bytes themselves (binary), in every file of the database.
BIN=$("$PYTHON" - "$SECRET" "$T"/db/*.mdb <<'PY'
import sys
b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
s = sys.argv[1]
raw = b""
for i in range(0, 33, 11):
    v = 0
    for ch in s[i:i + 11]:
        v = v * 62 + b62.index(ch)
    raw += v.to_bytes(8, "big")
hits = [f for f in sys.argv[2:] if raw in open(f, "rb").read() or raw[:12] in open(f, "rb").read()]
print(" ".join(hits) if hits else "none")
PY
)
expect_eq "no database file holds the raw secret bytes" none "$BIN"

# ---------------------------------------------------------------- core dumps
# The daemon and its PAM helper are not dumpable and have RLIMIT_CORE 0.
if is_root && [ -f "$TESTMOD" ]; then
	# Run a daemon as nobody: a non-dumpable process's /proc files belong to
	# root, so even its own user cannot read its environ.  A PAM module that
	# sleeps keeps a helper alive to look at (until pam_timeout, 10 s, ends
	# it, or the client goes).
	NB=$T/nb
	mkdir -p "$NB/run" "$NB/db" "$NB/pam"
	chown -R "$NOBODY_UID:$NOBODY_UID" "$NB/run" "$NB/db"
	# Its binary and the module are copied where nobody can reach them:
	# the tree may sit in a 0700 folder (a CI checkout, root's home).
	cp "$TESTMOD" "$NB/pam_testmod.so"
	printf 'auth required %s sleep=60\naccount required %s\n' "$NB/pam_testmod.so" \
	    "$NB/pam_testmod.so" >"$NB/pam/tokend"
	: >"$NB/pam/other"
	cp "$TOKEND" "$NB/tokend"
	chmod 755 "$NB" "$NB/pam" "$NB/tokend" "$NB/pam_testmod.so"
	chmod 644 "$NB/pam/tokend" "$NB/pam/other" "$T/tokend.conf"
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$AS_NOBODY_CMD" "$NB/tokend" >"$NB/as-nobody"
	chmod 755 "$NB/as-nobody"
	TOKEND=$NB/as-nobody SOCK=$NB/run/tokend.sock PAMDIR=$NB/pam DB_DIR=$NB/db \
	    KEY_FILE=$NB/run/hash.key start_daemon || finish
	SOCK=$NB/run/tokend.sock
	expect_eq "the test daemon runs as nobody" "$NOBODY_UID" \
	    "$(awk '/^Uid:/ { print $2 }' "/proc/$DAEMON_PID/status")"
	expect_eq "the daemon is not dumpable: its /proc/PID/environ belongs to root" 0 \
	    "$(stat -c %u "/proc/$DAEMON_PID/environ")"
	expect_true "the daemon's own user cannot read its /proc/PID/environ" \
	    bash -c "! $AS_NOBODY_CMD cat /proc/$DAEMON_PID/environ >/dev/null 2>&1"
	expect_match "the daemon has RLIMIT_CORE 0" '^Max core file size +0 +0 ' \
	    "$(cat "/proc/$DAEMON_PID/limits")"
	# an ISSUE as nobody: the helper sleeps in the PAM module
	$AS_NOBODY_CMD "$TCTL" --socket "$SOCK" issue --name nb </dev/null >/dev/null 2>&1 &
	NBI=$!
	BG_PIDS="$BG_PIDS $NBI"
	HELPER=
	wait_for "$CMD_TIMEOUT" sh -c "pgrep -P $DAEMON_PID -f -- --pam-helper >/dev/null"
	HELPER=$(pam_helpers | head -n 1)
	if [ -n "$HELPER" ]; then
		# The helper is an exec of tokend: it makes itself non-dumpable
		# first thing, before PAM, while it holds nothing yet.  Give it
		# that moment, then it must be so.
		wait_for "$CMD_TIMEOUT" sh -c "[ \"\$(stat -c %u /proc/$HELPER/environ 2>/dev/null)\" = 0 ]"
		expect_eq "the PAM helper is not dumpable: its /proc/PID/environ belongs to root" 0 \
		    "$(stat -c %u "/proc/$HELPER/environ")"
		expect_true "nobody cannot read the PAM helper's /proc/PID/environ" \
		    bash -c "! $AS_NOBODY_CMD cat /proc/$HELPER/environ >/dev/null 2>&1"
		expect_match "the PAM helper has RLIMIT_CORE 0" '^Max core file size +0 +0 ' \
		    "$(cat "/proc/$HELPER/limits")"
		expect_eq "the PAM helper is called tokend-pam in ps" tokend-pam \
		    "$(cat "/proc/$HELPER/comm")"
	else
		fail "a PAM helper runs while the module sleeps" "no child of $DAEMON_PID"
	fi
	kill "$NBI" 2>/dev/null
	wait "$NBI"
	stop_daemon
else
	skip "the daemon and its PAM helper are not dumpable" \
	    "needs root and tests/pam/pam_testmod.so"
fi

finish
