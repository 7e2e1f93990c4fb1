#!/bin/bash
# SPDX-License-Identifier: ISC
# tokenctl usage errors (exit 2), an unreachable daemon (exit 3), status.
. "$(dirname "$0")/lib.sh"

setup
start_daemon || finish
issue_ok for-unreachable || finish
WELLFORMED=$TOKEN

# --- usage errors: exit 2, one line on stderr, nothing on stdout
usage_case() { # usage_case NAME ARGS...
	local name=$1
	shift
	tctl "$@"
	expect_rc "$name: exit 2" 2
	expect_lines "$name: nothing on stdout" 0 "$T/out"
	expect_match "$name: says something on stderr" '.' "$ERR"
}
usage_case "unknown command" frobnicate
usage_case "no command"
usage_case "issue --expires bogus" issue --name x --expires bogus
usage_case "issue with an unknown option" issue --frob
usage_case "list --user and --all together" list --user root --all
usage_case "delete without an id" delete
usage_case "exchange with the token in argv" exchange tkr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
usage_case "verify with the token in argv" verify tka_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
usage_case "status with an extra argument" status extra
run "$TCTL" --socket
expect_rc "--socket without a value: exit 2" 2
tctl frobnicate
expect_lines "unknown command: exactly one line on stderr" 1 "$T/err"

tctl --help
expect_true "--help is not an error (0)" test "$RC" = 0
expect_match "--help names the commands" 'issue' "$OUT$ERR"

# --- status
tctl status
expect_rc "status exits 0" 0
expect_match "status shows the version" '[0-9]+\.[0-9]+\.[0-9]+' "$OUT"
tctl --json status
expect_rc "status --json exits 0" 0
expect_json "status --json is an object" 'isinstance(j, dict)' "$OUT"
# Refusals are counted by name, not by number (counters: admins only).
tctl_in "$WELLFORMED" exchange
tctl_in "$OUT" exchange		# an access token: refused as inactive
if is_root; then
	tctl --json status
	expect_json "status counts the refused exchange as errors_inactive" 'j.get("errors_inactive", 0) >= 1' "$OUT"
	expect_json "status names every error: no errors_<number> key" \
	    'not [k for k in j if k.startswith("errors_") and k[7:].isdigit()] and len([k for k in j if k.startswith("errors_")]) == 15' "$OUT"
else
	skip "status counts errors by name" "needs root: counters are for admins"
fi

# --- nothing on stdin for a command that reads a token: usage (exit 2)
for cmd in verify exchange; do
	STDIN_TEXT="" run "$TCTL" --socket "$SOCK" $cmd
	expect_rc "$cmd with empty stdin exits 2 (usage)" 2
	expect_match "$cmd with empty stdin: says how to give the token" \
	    "no token on standard input \\(pipe it in" "$ERR"
done

# --- COMMAND --help: that command's usage, not the global one
for cmd in issue list delete exchange verify status; do
	tctl $cmd --help
	expect_rc "$cmd --help exits 0" 0
	expect_match "$cmd --help starts with its own usage line" "^usage: tokenctl $cmd" "$(head -n 1 "$T/out")"
	expect_no_match "$cmd --help is not the list of every command" '^commands:' "$OUT"
done
tctl exchange --help
expect_match "exchange --help says what --lifetime takes" '--lifetime DURATION' "$OUT"

# --- unreachable daemon: exit 3, exactly one line on stderr
for cmd in status list "delete --all --yes"; do
	# shellcheck disable=SC2086
	run "$TCTL" --socket /nonexistent/tokend.sock $cmd
	expect_rc "$cmd with an unreachable daemon exits 3" 3
	expect_lines "$cmd with an unreachable daemon: one line on stderr" 1 "$T/err"
	expect_lines "$cmd with an unreachable daemon: nothing on stdout" 0 "$T/out"
done
STDIN_TEXT="$WELLFORMED
" run "$TCTL" --socket /nonexistent/tokend.sock verify
expect_rc "verify with an unreachable daemon exits 3" 3
expect_lines "verify with an unreachable daemon: one line on stderr" 1 "$T/err"
STDIN_TEXT="$WELLFORMED
" run "$TCTL" --socket /nonexistent/tokend.sock exchange
expect_rc "exchange with an unreachable daemon exits 3" 3
expect_lines "exchange with an unreachable daemon: one line on stderr" 1 "$T/err"
STDIN_TEXT="pw
000000
" run "$TCTL" --socket /nonexistent/tokend.sock issue --name x
expect_rc "issue with an unreachable daemon exits 3" 3
expect_no_match "issue with an unreachable daemon asks for no password" '[Pp]assword' "$ERR"

# a socket path that is a plain file, and one nobody listens on
: >"$T/plain"
run "$TCTL" --socket "$T/plain" status
expect_rc "a plain file as socket: exit 3" 3
"$PYTHON" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/dead.sock"
run "$TCTL" --socket "$T/dead.sock" status
expect_rc "a socket nobody listens on: exit 3" 3

# --- a daemon that answers garbage: protocol error, exit 3
"$PYTHON" - "$T/liar.sock" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(4)
s.settimeout(15)
for _ in range(2):
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    c.recv(4096); c.sendall(b"HTTP/1.0 200 OK\r\n\r\n"); c.close()
EOF
LIAR=$!
BG_PIDS="$BG_PIDS $LIAR"
for i in $(seq 50); do [ -S "$T/liar.sock" ] && break; sleep 0.1; done
run "$TCTL" --socket "$T/liar.sock" status
expect_rc "a peer that answers garbage: protocol error, exit 3" 3
expect_lines "protocol error: one line on stderr" 1 "$T/err"
kill "$LIAR" 2>/dev/null
wait "$LIAR" 2>/dev/null

stop_daemon
# --- tokend -n: the configuration checked, nothing started
check_conf() {
	run "$TOKEND" -n -c "$T/check.conf" --socket "$T/check.sock" --db "$T/check-db" \
	    --key-file "${1:-$T/hash.key}" --pam-confdir "$PAMDIR"
}
cp "$T/tokend.conf" "$T/check.conf"
check_conf
expect_rc "tokend -n with a good configuration exits 0" 0
expect_match "... and says so" "^$T/check.conf: configuration OK\$" "$OUT"
expect_true "... and starts nothing (no socket, no database)" \
    sh -c "[ ! -e '$T/check.sock' ] && [ ! -e '$T/check-db' ]"
check_conf "$T/no-such.key"
expect_rc "tokend -n: a missing key file is fine (made at the first start)" 0
expect_match "... and it says so" 'does not exist yet' "$ERR"
echo "access_max = 5x" >>"$T/check.conf"
check_conf
expect_rc "tokend -n with a bad duration exits 1" 1
expect_match "... naming the line, the key and the units it takes" \
    "check.conf:[0-9]+: bad value for access_max: '5x' \\(a duration: seconds, or a number with s, m, h, d or w" "$ERR"
cp "$T/tokend.conf" "$T/check.conf"
echo "access_max = 2d" >>"$T/check.conf"
check_conf
expect_rc "tokend -n with a duration out of range exits 1" 1
expect_match "... giving the range as durations" "bad value for access_max: '2d' \\(must be 1s to 1d\\)" "$ERR"
cp "$T/tokend.conf" "$T/check.conf"
cp "$T/hash.key" "$T/open.key"
chmod 644 "$T/open.key"
check_conf "$T/open.key"
expect_rc "tokend -n with a key file others can read exits 1" 1
expect_match "... and says why" 'open.key' "$ERR"

# --- tokend --key-id: the same key, the same fingerprint; no key bytes shown
run "$TOKEND" --key-id -c "$T/check.conf" --key-file "$T/hash.key"
expect_rc "tokend --key-id exits 0" 0
KEYID=$(sed -n 's/^.*: //p' "$T/out")
expect_match "it prints the key file and a fingerprint in groups of 4" \
    "^$T/hash.key: [0-9a-f]{4}(-[0-9a-f]{4}){7}\$" "$OUT"
cp -p "$T/hash.key" "$T/copy.key"
run "$TOKEND" --key-id -c "$T/check.conf" --key-file "$T/copy.key"
expect_eq "a copy of the key (another host's) has the same id" "$KEYID" "$(sed -n 's/^.*: //p' "$T/out")"
head -c 32 /dev/urandom >"$T/other.key"
chmod 600 "$T/other.key"
run "$TOKEND" --key-id -c "$T/check.conf" --key-file "$T/other.key"
expect_no_match "another key has another id" "$KEYID" "$OUT"
expect_no_match "the id is not the key's bytes" "$(od -An -tx1 "$T/hash.key" | tr -d ' \n' | cut -c1-16)" "$OUT"
run "$TOKEND" --key-id -c "$T/check.conf" --key-file "$T/missing.key"
expect_rc "a missing key file: exit 1" 1
expect_match "... saying so" 'missing.key: No such file or directory' "$ERR"

finish
