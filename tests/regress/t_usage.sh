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
finish
