#!/bin/bash
# SPDX-License-Identifier: ISC
# make check-cockpit: the "API tokens" page in a real browser.
#
# Runs as root on a Debian host with cockpit-ws, cockpit-bridge, chromium,
# chromium-driver, python3-selenium and curl (fonts-vlgothic makes the
# Japanese screenshots readable).  About 20 seconds.  It starts, in a
# temporary folder:
# a private tokend with the test PAM stack (pam_matrix password + pam_oath
# TOTP), and cockpit-ws --no-tls on 127.0.0.1 (which logs in through the
# PAM service "cockpit"), for a test user it creates and removes again.
# The page is installed with "make install-cockpit" into the test user's
# ~/.local/share/cockpit (Cockpit's place for a user's own pages), and
# ~/.config/cockpit/tokend.override.json, the manifest override an
# administrator would put in /etc/cockpit, points it at the private
# daemon's socket and a copy of tokenctl: nothing under /usr, /etc/tokend
# or /run/tokend is touched, and a tokend running on the host is left alone.  tests/cockpit/browser.py then drives headless
# Chromium through the page and keeps a screenshot of every step in
# $COCKPIT_ARTIFACTS (default tests/cockpit/artifacts/).
#
# Last line: "check-cockpit: N passed, M failed".
# shellcheck disable=SC2034  # read by lib.sh
TEST_NAME=check-cockpit
. "$(dirname "$0")/../regress/lib.sh"

WEB_USER=${COCKPIT_TEST_USER:-tokend-web-test}
WEB_MARK="tokend check-cockpit test user"
ARTIFACTS=${COCKPIT_ARTIFACTS:-$TOP/tests/cockpit/artifacts}
COCKPIT_WS=${COCKPIT_WS:-/usr/lib/cockpit/cockpit-ws}
SYS_PYTHON=/usr/bin/python3       # Debian's, which has python3-selenium
WS_PID=
USER_MADE=0

need() {
	echo "check-cockpit: $1" >&2
	echo "check-cockpit: 0 passed, 1 failed"
	exit 1
}

[ "$(id -u)" -eq 0 ] || need "needs root (it creates a test user that logs in to Cockpit)"
for f in "$COCKPIT_WS" /usr/bin/cockpit-bridge /usr/bin/chromium /usr/bin/chromedriver \
    /usr/bin/curl; do
	[ -x "$f" ] || need "$f missing: apt-get install --no-install-recommends cockpit-ws cockpit-bridge cockpit-system chromium chromium-driver python3-selenium curl"
done
"$SYS_PYTHON" -c 'import selenium' 2>/dev/null || need "python3-selenium missing: apt-get install python3-selenium"

# The test user: removed with everything it ran, even after a failed run.
remove_web_user() {
	local pids uid
	id "$WEB_USER" >/dev/null 2>&1 || return 0
	[ "$(getent passwd "$WEB_USER" | cut -d: -f5)" = "$WEB_MARK" ] || return 0
	uid=$(id -u "$WEB_USER")
	pids=$(pgrep -u "$WEB_USER")
	# shellcheck disable=SC2086
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	# Its login session's ssh-agent and D-Bus sockets.
	find /tmp /var/tmp /dev/shm -maxdepth 1 -uid "$uid" -exec rm -rf {} + 2>/dev/null
	userdel -r "$WEB_USER" >/dev/null 2>&1 || userdel "$WEB_USER" >/dev/null 2>&1
	if id "$WEB_USER" >/dev/null 2>&1; then
		echo "check-cockpit: could not remove user $WEB_USER" >&2
		return 1
	fi
}

cockpit_cleanup() {
	local rc=$?
	if [ -n "$WS_PID" ]; then
		kill "$WS_PID" 2>/dev/null
		wait "$WS_PID" 2>/dev/null
	fi
	[ "$USER_MADE" = 1 ] && remove_web_user
	(exit $rc)
	cleanup
}

if id "$WEB_USER" >/dev/null 2>&1; then
	[ "$(getent passwd "$WEB_USER" | cut -d: -f5)" = "$WEB_MARK" ] ||
		need "user $WEB_USER exists and is not this test's; set COCKPIT_TEST_USER"
	remove_web_user || need "a test user of an earlier run is left and cannot be removed"
fi

# lib.sh writes the PAM stack (passdb, users.oath) for $ME: the test user,
# whose login password is the one tokend's PAM stack asks for too.
# shellcheck disable=SC2034  # read by lib.sh
ME=$WEB_USER
WEB_PW=$PW_ME
setup max_tokens_per_user=2 auth_fail_burst=2 auth_fail_per_minute=1 pam_timeout=60s
trap cockpit_cleanup EXIT

useradd -m -c "$WEB_MARK" -s /bin/bash "$WEB_USER" || need "useradd $WEB_USER failed"
USER_MADE=1
printf '%s:%s\n' "$WEB_USER" "$WEB_PW" | chpasswd || need "chpasswd failed"
WEB_HOME=$(getent passwd "$WEB_USER" | cut -d: -f6)

# The page as the package installs it, as a user package of the test user.
run make -C "$TOP" --no-print-directory install-cockpit DESTDIR="$T/inst" PREFIX=/usr
expect_rc "make install-cockpit" 0 || finish
install -d -o "$WEB_USER" -g "$WEB_USER" "$WEB_HOME/.local" "$WEB_HOME/.local/share" \
    "$WEB_HOME/.local/share/cockpit" "$WEB_HOME/.config" "$WEB_HOME/.config/cockpit"
cp -r "$T/inst/usr/share/cockpit/tokend" "$WEB_HOME/.local/share/cockpit/tokend"
"$SYS_PYTHON" -c 'import json, sys; print(json.dumps({"config": {
    "tokenctl": sys.argv[1], "socket": sys.argv[2], "conf": sys.argv[3]}}))' \
    "$TCTL" "$SOCK" "$T/tokend.conf" >"$WEB_HOME/.config/cockpit/tokend.override.json"
chown -R "$WEB_USER:" "$WEB_HOME/.local/share/cockpit/tokend" "$WEB_HOME/.config/cockpit"
chmod 644 "$T/tokend.conf"

start_daemon || finish

# cockpit-ws on a free loopback port; it answers once it listens.
PORT=$("$SYS_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$COCKPIT_WS" --no-tls --address 127.0.0.1 --port "$PORT" >"$T/cockpit-ws.log" 2>&1 &
WS_PID=$!
for _ in $(seq 100); do
	curl -fs -o /dev/null "http://127.0.0.1:$PORT/" && break
	kill -0 "$WS_PID" 2>/dev/null || break
	sleep 0.1
done
if curl -fs -o /dev/null "http://127.0.0.1:$PORT/"; then pass "cockpit-ws answers"; else
	fail "cockpit-ws answers" "$(tail -n 20 "$T/cockpit-ws.log")"
	finish
fi

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
WEB_GROUP=$(id -gn "$WEB_USER")
export COCKPIT_URL="http://127.0.0.1:$PORT" WEB_USER WEB_PW PW_ME KEY_ME SOCK TCTL \
    PAMDIR DAEMON_PID ARTIFACTS CONF="$T/tokend.conf" WEB_GROUP
timeout -k 5 300 "$SYS_PYTHON" "$TOP/tests/cockpit/browser.py" 2>&1 | tee "$T/browser.out"
read -r p f < <(sed -n 's/^browser: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$T/browser.out")
PASSED=$((PASSED + ${p:-0}))
FAILED=$((FAILED + ${f:-1}))
if [ "${f:-1}" != 0 ]; then
	echo "  --- last lines of cockpit-ws's log"
	tail -n 15 "$T/cockpit-ws.log" | sed 's/^/       | /'
fi
echo "check-cockpit: screenshots in $ARTIFACTS"
finish
