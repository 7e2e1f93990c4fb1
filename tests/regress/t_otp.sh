#!/bin/bash
# SPDX-License-Identifier: ISC
# tokenctl otp enroll | status | remove, end to end: a user enrols with the
# password alone (PAM service tokend-enroll), gets the secret as an
# otpauth:// URI on stdout, confirms it with a code, and from then on the
# tokend stack (password, then the real pam_oath reading
# otp_dir/${USER}.oath) issues tokens with codes from that secret.
# Replacing or removing an enrolment takes the password and a current code.
. "$(dirname "$0")/lib.sh"

setup
OTPDIR=$T/oath
# The tokend stack of a host using enrolments: one pam_oath file per user.
cat >"$PAMDIR/tokend" <<EOF
auth     requisite  $PAM_MATRIX passdb=$PAMDIR/passdb
auth     required   $PAM_OATH usersfile=$OTPDIR/\${USER}.oath window=3 digits=6
account  required   $PAM_MATRIX passdb=$PAMDIR/passdb
EOF
# tokend-enroll: the password only (pam_matrix wants the service named in passdb).
cat >"$PAMDIR/tokend-enroll" <<EOF
auth     required   $PAM_MATRIX passdb=$PAMDIR/passdb-enroll
account  required   $PAM_MATRIX passdb=$PAMDIR/passdb-enroll
EOF
sed 's/:tokend$/:tokend-enroll/' "$PAMDIR/passdb" >"$PAMDIR/passdb-enroll"
chmod 600 "$PAMDIR/passdb-enroll"
# Unprivileged runs: the caller is the admin who removes nobody's enrolment.
is_root || write_config "otp_dir=$OTPDIR" "admin_group=$(id -gn)"
is_root && write_config "otp_dir=$OTPDIR"
start_daemon || finish

# otp_run ARGS... -- ANSWER...: tokenctl otp ARGS, as $AS, with stdin a
# pipe fed one ANSWER per line; an answer "@CODE" (or "@CODE+30") is
# replaced, once the otpauth:// line is on stdout, by a current code of
# that line's secret (30 s later).  Sets RC OUT ERR URI SECRET.
otp_run() {
	local args=() a pid fd code
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	rm -f "$T/otp.in"
	mkfifo "$T/otp.in"
	LAST_CMD="tokenctl otp ${args[*]}"
	# shellcheck disable=SC2086
	timeout -k 2 "$CMD_TIMEOUT" $AS "$TCTL" --socket "$SOCK" otp "${args[@]}" \
	    <"$T/otp.in" >"$T/out" 2>"$T/err" &
	pid=$!
	exec {fd}>"$T/otp.in"
	URI= SECRET=
	for a in "$@"; do
		if [[ "$a" == @CODE* ]]; then
			wait_for "$CMD_TIMEOUT" otp_uri_or_gone "$pid"
			URI=$(grep -m1 '^otpauth://' "$T/out")
			SECRET=$(sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p' <<<"$URI")
			[ -n "$SECRET" ] || break
			if [ "$a" = @CODE+30 ]; then
				code=$(oathtool --totp -b -N "now + 30 seconds" "$SECRET")
			else
				code=$(oathtool --totp -b "$SECRET")
			fi
			a=$code
		fi
		printf '%s\n' "$a" >&"$fd" 2>/dev/null
	done
	exec {fd}>&-
	wait "$pid"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	rm -f "$T/otp.in"
}
otp_uri_or_gone() { grep -q '^otpauth://' "$T/out" || ! kill -0 "$1" 2>/dev/null; }

# A code of the enrolled hex key, NOW or 30 s (one step) later: a step
# pam_oath has not seen yet.
code_of() { oathtool --totp ${2:+-N "now + $2 seconds"} "$1"; }
hex_of() { "$PYTHON" -c 'import base64,sys; print(base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8)).hex())' "$1"; }

# --- off by default
tctl otp enroll </dev/null
expect_rc "otp enroll is refused while otp_enroll is off" 1
expect_match "... saying how to turn it on" 'one-time-code enrolment is off on this host \(otp_enroll' "$ERR"
expect_true "... and nothing was made" test ! -e "$OTPDIR"
tctl otp enroll --user nobody
expect_rc "otp enroll --user is a usage error" 2
tctl otp frobnicate
expect_rc "an unknown otp command is a usage error" 2

# --- turn it on: a reload makes otp_dir (0700)
if is_root; then write_config "otp_dir=$OTPDIR" otp_enroll=yes
else write_config "otp_dir=$OTPDIR" otp_enroll=yes "admin_group=$(id -gn)"; fi
: >"$T/daemon.log.mark"
kill -HUP "$DAEMON_PID"
wait_log 'configuration reloaded'
expect_eq "the reload made otp_dir, mode 700" 700 "$(stat -c %a "$OTPDIR" 2>&1)"

tctl otp status
expect_rc "otp status before enrolling exits 0" 0
expect_match "... and says not enrolled" "^$ME is not enrolled for one-time codes\\.$" "$OUT"
tctl --json otp status
expect_json "otp status --json: enrolled false, updated null" \
    "j == {'user': '$ME', 'enrolled': False, 'updated': None}" "$OUT"
fresh_oath
tctl_in "$PW_ME
000000" issue --name before
expect_rc "before enrolling, the tokend stack (per-user pam_oath) refuses to issue" 1

# --- a wrong password: no secret is ever shown
otp_run enroll -- "not the password" @CODE
expect_rc "otp enroll with a wrong password exits 1" 1
expect_no_match "... shows no secret" 'otpauth' "$OUT$ERR"
expect_true "... and writes no file" test ! -e "$OTPDIR/$ME.oath"

# --- enrol
otp_run enroll -- "$PW_ME" @CODE
expect_rc "otp enroll with the password and a code of the new secret exits 0" 0
expect_lines "stdout is the URI alone, on one line" 1 "$T/out"
expect_match "... an otpauth://totp URI labelled tokend:USER@HOST" \
    "^otpauth://totp/tokend:$ME%40[^?]+\\?secret=[A-Z2-7]{32}&issuer=tokend&algorithm=SHA1&digits=6&period=30\$" "$URI"
expect_match "stderr says to add it to an app (no QR: stderr is no terminal)" \
    'Add the otpauth:// line on standard output to your authenticator app' "$ERR"
expect_match "... asks for the code" 'Code shown by your authenticator app:' "$ERR"
expect_match "... and says it is enrolled" "Enrolled $ME for one-time codes" "$ERR"
SECRET1=$SECRET
HEX1=$(hex_of "$SECRET1")
expect_eq "the file is mode 600" 600 "$(stat -c %a "$OTPDIR/$ME.oath" 2>&1)"
expect_eq "... in pam_oath's format, with the secret of the URI (160 bits)" \
    "HOTP/T30/6 $ME - $HEX1" "$(tr '\t' ' ' <"$OTPDIR/$ME.oath" 2>&1)"
expect_eq "... and nothing else is left in otp_dir" "$ME.oath" "$(ls -A "$OTPDIR")"
expect_no_match "the secret is not in the daemon's log" "$SECRET1|$HEX1" "$(cat "$T/daemon.log")"
expect_match "... which says who enrolled" "$ME \\(uid $MY_UID\\) enrolled a new one-time-code secret" \
    "$(cat "$T/daemon.log")"

tctl --json otp status
expect_json "otp status --json: enrolled, the file written now" \
    "j['user'] == '$ME' and j['enrolled'] is True and abs(ts(j['updated']) - now) < 120" "$OUT"
tctl otp status
expect_match "otp status says enrolled, and when the file was written" \
    "^$ME is enrolled for one-time codes \\(secret file last written [0-9-]+T[0-9:]+Z\\)\\.$" "$OUT"

# --- the real pam_oath now takes codes of that secret
tctl_in "$PW_ME
$(code_of "$HEX1")" issue --name enrolled
expect_rc "issue with the password and a code of the enrolled secret exits 0" 0
expect_match "... and prints a refresh token" '^tkr_' "$OUT"
tctl_in "$PW_ME
000000" issue --name wrongcode
expect_rc "issue with a wrong code is refused" 1

# --- replacing it takes the full stack: password and a current code
otp_run enroll -- "$PW_ME" "$(code_of "$HEX1" 30)" @CODE
expect_rc "re-enrolling with the password, an old code and a new one exits 0" 0
expect_match "... with the tokend stack's code prompt first" "One-time password \\(OATH\\) for .$ME." "$ERR"
SECRET2=$SECRET
HEX2=$(hex_of "$SECRET2")
expect_ne "the new secret differs" "$SECRET1" "$SECRET2"
expect_eq "the file holds the new secret" "HOTP/T30/6 $ME - $HEX2" "$(tr '\t' ' ' <"$OTPDIR/$ME.oath" 2>&1)"
otp_run enroll -- "$PW_ME" 123456 @CODE
expect_rc "re-enrolling with the password but a wrong code is refused" 1
expect_no_match "... before any secret is shown" 'otpauth' "$OUT"
expect_eq "... and the file keeps its secret" "HOTP/T30/6 $ME - $HEX2" "$(tr '\t' ' ' <"$OTPDIR/$ME.oath" 2>&1)"
tctl unlock "$ME" >/dev/null	# (that failure counted against the user)
tctl_in "$PW_ME
$(code_of "$HEX1" 60)" issue --name oldsecret
expect_rc "the old secret's codes no longer issue" 1
expect_match "... refused as a failed authentication" 'authentication failed' "$ERR"
tctl_in "$PW_ME
$(code_of "$HEX2")" issue --name newsecret
expect_rc "... the new one's do" 0

# --- remove one's own: password and a current code
otp_run remove -- "$PW_ME" "$(code_of "$HEX2" 30)"
expect_rc "otp remove with the password and a current code exits 0" 0
expect_match "... and says so" "Removed the one-time-code enrolment of $ME" "$ERR"
expect_true "... the file is gone" test ! -e "$OTPDIR/$ME.oath"
tctl otp status
expect_match "status says not enrolled again" "is not enrolled" "$OUT"
otp_run remove -- "$PW_ME" 000000
expect_rc "removing again is refused" 1
expect_match "... as not enrolled, without asking for a password" "not enrolled for one-time codes" "$ERR"
expect_no_match "... (no prompt was shown)" 'Password' "$ERR"

# --- three wrong codes: nothing is saved
otp_run enroll -- "$PW_ME" 000000 111111 222222
expect_rc "enrolling with three wrong codes exits 1" 1
expect_match "... after saying the code did not match" 'That code does not match' "$ERR"
expect_match "... and why it failed in the end" 'no code matched the new secret; nothing was saved' "$ERR"
expect_true "... and no file was written" test ! -e "$OTPDIR/$ME.oath"
tctl --json otp status
expect_json "... (status agrees)" "j['enrolled'] is False" "$OUT"

# --- an otp_dir others may enter takes no secret (checked before PAM runs)
chmod 755 "$OTPDIR"
otp_run enroll -- "$PW_ME" @CODE
expect_rc "enrolling into an otp_dir others may enter fails" 1
expect_match "... saying where and why" "cannot keep secrets in $OTPDIR: Operation not permitted" "$ERR"
expect_no_match "... before asking for the password" 'Password' "$ERR"
chmod 700 "$OTPDIR"

# --- another user's enrolment: admins see and remove it, others may not
printf 'HOTP/T30/6\tnobody\t-\t%s\n' "$KEY_NOBODY" >"$OTPDIR/nobody.oath"
chmod 600 "$OTPDIR/nobody.oath"
tctl --json otp status --user nobody
expect_json "an admin sees another user's status" "j['user'] == 'nobody' and j['enrolled'] is True" "$OUT"
tctl_in "no" otp remove --user nobody
expect_rc "an admin's remove not confirmed with yes exits 1" 1
expect_true "... and leaves the file" test -e "$OTPDIR/nobody.oath"
tctl_in "yes" otp remove --user nobody
expect_rc "an admin removes it after typing yes (no code: the phone may be lost)" 0
expect_match "... the question says what stops working" 'authenticator app stops working' "$ERR"
expect_true "... the file is gone" test ! -e "$OTPDIR/nobody.oath"
expect_match "... and the log names the admin" 'enrolment of nobody removed by an admin' "$(cat "$T/daemon.log")"
tctl otp remove --user nobody --yes
expect_rc "removing a missing enrolment exits 1" 1
expect_match "... saying so" 'nobody is not enrolled for one-time codes' "$ERR"

if is_root; then
	as_nobody tctl otp status --user root
	expect_rc "a user may not see another user's status" 1
	expect_match "... told only admins may" 'only admins may' "$ERR"
	as_nobody tctl otp remove --user root --yes
	expect_rc "... nor remove it" 1
	# nobody enrols for themselves: the monitor writes the file, root's.
	AS=$AS_NOBODY_CMD otp_run enroll -- "$PW_NOBODY" @CODE
	expect_rc "another user (nobody) enrols too" 0
	expect_eq "... their file is root's, mode 600" "root 600" \
	    "$(stat -c '%U %a' "$OTPDIR/nobody.oath" 2>&1)"
else
	skip "another user enrols; status of others refused to non-admins" "needs root to act as nobody"
fi

# Completion knows the otp commands (packaging/bash-completion/tokenctl).
completion() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tokenctl
	    echo "${COMPREPLY[*]}"' - "$TOP/packaging/bash-completion/tokenctl" "$TCTL" "$@"
}
expect_eq "completion: otp offers enroll, status and remove" "enroll status remove" \
    "$(completion otp "")"
expect_eq "completion: otp status --... offers --user and --yes" "--user --yes --json --help" \
    "$(completion otp status --)"

sanitizer_check
finish
