#!/bin/bash
# SPDX-License-Identifier: ISC
# t_install.sh: "make install DESTDIR=..." puts every file where it belongs
# with the right mode; the installed daemon starts from the installed config
# and answers the installed tokenctl; the library links through the installed
# tokend.pc; the units pass systemd-analyze verify; the man pages lint clean;
# "make uninstall" takes everything away but an edited config file.
# Needs no root.  Tools that are missing (systemd-analyze, mandoc, man) are
# reported as skipped.

TEST_NAME=install
# shellcheck source=tests/regress/lib.sh
. "$(dirname "$0")/lib.sh"

trap cleanup EXIT
trap 'exit 130' INT TERM
T=$(mktemp -d "${TMPDIR:-/tmp}/tokend-install.XXXXXX") || exit 1
chmod 755 "$T"
ROOT=$T/root

# make without the parent make's flags (jobserver, SAN=1): nothing is rebuilt.
TMAKE=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$TOP" --no-print-directory)
CMD_TIMEOUT=120

# mode_is NAME PATH MODE: PATH is a regular file (or folder) with MODE.
mode_is() {
	local got
	if [ ! -e "$2" ] || [ -L "$2" ]; then
		fail "$1" "missing or a symlink: ${2#"$ROOT"}"
		return
	fi
	got=$(stat -c %a "$2")
	if [ "$got" = "$3" ]; then pass "$1"; else
		fail "$1" "${2#"$ROOT"}: mode $got, expected $3"; fi
}

# link_is NAME PATH TARGET: PATH is a symlink to TARGET that resolves.
link_is() {
	if [ -L "$2" ] && [ "$(readlink "$2")" = "$3" ] && [ -e "$2" ]; then
		pass "$1"
	else
		fail "$1" "${2#"$ROOT"} -> $(readlink "$2" 2>/dev/null), expected -> $3"
	fi
}

# ---------------------------------------------------------------- install

for f in daemon/tokend client/tokenctl protocol/libtokend.so.0.1.0 \
    protocol/libtokend.a pam/pam_tokend.so; do
	if [ ! -e "$TOP/$f" ]; then
		echo "$TEST_NAME: $TOP/$f not built (run make first)" >&2
		exit 1
	fi
done

# Sets SBINDIR BINDIR LIBDIR ... PAMCONFDIR.
eval "$("${TMAKE[@]}" -s install-dirs)"
# shellcheck disable=SC2153
: "$BINDIR"
if [ -z "${SBINDIR:-}" ] || [ -z "${PAMDIR:-}" ]; then
	fail "make install-dirs prints the install paths"
	finish
fi

run "${TMAKE[@]}" install DESTDIR="$ROOT"
expect_rc "make install DESTDIR=... succeeds" 0
[ "$RC" = 0 ] || finish

mode_is "tokend in SBINDIR, 0755" "$ROOT$SBINDIR/tokend" 755
mode_is "tokenctl in BINDIR, 0755" "$ROOT$BINDIR/tokenctl" 755
mode_is "libtokend.so.0.1.0, 0644" "$ROOT$LIBDIR/libtokend.so.0.1.0" 644
link_is "libtokend.so.0 -> libtokend.so.0.1.0" "$ROOT$LIBDIR/libtokend.so.0" libtokend.so.0.1.0
link_is "libtokend.so -> libtokend.so.0" "$ROOT$LIBDIR/libtokend.so" libtokend.so.0
mode_is "libtokend.a, 0644" "$ROOT$LIBDIR/libtokend.a" 644
mode_is "tokend.h, 0644" "$ROOT$INCLUDEDIR/tokend.h" 644
mode_is "tokend.pc, 0644" "$ROOT$PKGCONFIGDIR/tokend.pc" 644
mode_is "pam_tokend.so in PAMDIR, 0644" "$ROOT$PAMDIR/pam_tokend.so" 644
MANS="man1/tokenctl.1 man3/tokend.3 man5/tokend.conf.5 man8/tokend.8 man8/pam_tokend.8"
for m in $MANS; do
	mode_is "man page $m, 0644" "$ROOT$MANDIR/$m" 644
done
mode_is "tokend.service, 0644" "$ROOT$UNITDIR/tokend.service" 644
mode_is "tokend.socket, 0644" "$ROOT$UNITDIR/tokend.socket" 644
mode_is "sysusers.d/tokend.conf, 0644" "$ROOT$SYSUSERSDIR/tokend.conf" 644
mode_is "tmpfiles.d/tokend.conf, 0644" "$ROOT$TMPFILESDIR/tokend.conf" 644
mode_is "bash completion, 0644" "$ROOT$BASHCOMPDIR/tokenctl" 644
mode_is "fleet drop-in, 0644" "$ROOT$TOKENDDATADIR/fleet.conf" 644
mode_is "tokend.conf, 0644" "$ROOT$CONFDIR/tokend.conf" 644
mode_is "pam.d/tokend, 0644" "$ROOT$PAMCONFDIR/tokend" 644
mode_is "pam.d/tokend-enroll, 0644" "$ROOT$PAMCONFDIR/tokend-enroll" 644
mode_is "oath folder, 0700" "$ROOT$CONFDIR/oath" 700

n=$(find "$ROOT" ! -type d | wc -l)
expect_eq "nothing else installed (files + links)" 23 "$n"
ww=$(find "$ROOT" ! -type l -perm /022 -printf '%p %m\n')
expect_eq "nothing group- or world-writable" "" "$ww"

# ---------------------------------------------------------------- contents

expect_match "the unit starts the installed daemon" \
    "^ExecStart=$SBINDIR/tokend --foreground\$" "$(cat "$ROOT$UNITDIR/tokend.service")"
expect_match "the service is Type=notify" "^Type=notify\$" "$(cat "$ROOT$UNITDIR/tokend.service")"
expect_match "the socket is the daemon's default" "^ListenStream=/run/tokend/tokend.sock\$" \
    "$(cat "$ROOT$UNITDIR/tokend.socket")"
expect_match "tokend.pc names LIBDIR" "^libdir=$LIBDIR\$" "$(cat "$ROOT$PKGCONFIGDIR/tokend.pc")"
expect_no_match "tokend.pc has no @VAR@ left" "@[A-Z]+@" "$(cat "$ROOT$PKGCONFIGDIR/tokend.pc")"
expect_match "config sets admin_group" "^admin_group = tokend-admin\$" "$(cat "$ROOT$CONFDIR/tokend.conf")"
expect_match "config sets verifier_group" "^verifier_group = tokend-verify\$" \
    "$(cat "$ROOT$CONFDIR/tokend.conf")"
expect_match "sysusers makes both groups" "^g tokend-admin .*" "$(grep '^g' "$ROOT$SYSUSERSDIR/tokend.conf")"
expect_match "sysusers makes both groups (verify)" "^g tokend-verify .*" \
    "$(grep '^g' "$ROOT$SYSUSERSDIR/tokend.conf")"
pamsvc=$(grep -v '^[[:space:]]*\(#\|$\)' "$ROOT$PAMCONFDIR/tokend")
expect_eq "pam.d/tokend: common-auth then common-account" \
    "@include common-auth
@include common-account" "$pamsvc"
expect_match "pam.d/tokend: commented pam_oath line, one file per user" \
    '^#auth.*pam_oath\.so usersfile=/etc/tokend/oath/\$\{USER\}\.oath' "$(cat "$ROOT$PAMCONFDIR/tokend")"
expect_eq "pam.d/tokend-enroll: the password alone (common-auth, common-account)" \
    "@include common-auth
@include common-account" "$(grep -v '^[[:space:]]*\(#\|$\)' "$ROOT$PAMCONFDIR/tokend-enroll")"

if command -v readelf >/dev/null; then
	expect_match "libtokend SONAME is libtokend.so.0" '\(SONAME\).*\[libtokend\.so\.0\]' \
	    "$(readelf -d "$ROOT$LIBDIR/libtokend.so.0.1.0")"
fi

# ---------------------------------------------------------------- installed files run

cp "$ROOT$CONFDIR/tokend.conf" "$T/tokend.conf"
mkdir -p "$T/db"
SOCK=$T/tokend.sock
TOKEND=$ROOT$SBINDIR/tokend
TCTL=$ROOT$BINDIR/tokenctl
PAMDIR=$ROOT$PAMCONFDIR
# As root, the engine's user is "tokend" unless the config says otherwise;
# where make install has not made it (DESTDIR), tokend says what to do.
ENGINE_USER=()
if is_root && ! getent passwd tokend >/dev/null; then
	START_QUIET=1 start_daemon
	expect_true "as root without user tokend: the installed tokend does not start" \
	    test -z "$DAEMON_PID"
	expect_match "it says the user is missing and what to do" \
	    'user "tokend" does not exist: create it, or set user= in tokend.conf' \
	    "$(tail -n 3 "$T/daemon.log")"
	expect_true "no socket is left behind" test ! -e "$SOCK"
	ENGINE_USER=(--user nobody)
fi
if start_daemon "${ENGINE_USER[@]}"; then
	pass "installed tokend starts with the installed tokend.conf"
	tctl status
	expect_rc "installed tokenctl: status" 0

	# A program built against the installed header, tokend.pc and .so.
	cat >"$T/client.c" <<'EOF'
#include <stdio.h>
#include <tokend.h>

int
main(int argc, char **argv)
{
	struct tokend_conn	*conn = NULL;
	enum tokend_err		 err;

	(void)argc;
	err = tokend_conn_open(&conn, argv[1], 2000);
	printf("%s\n", tokend_strerror(err));
	tokend_conn_close(conn);
	return err != TOKEND_OK;
}
EOF
	if command -v "${CC:-cc}" >/dev/null && command -v pkg-config >/dev/null; then
		flags=$(PKG_CONFIG_SYSROOT_DIR=$ROOT PKG_CONFIG_LIBDIR=$ROOT$PKGCONFIGDIR \
		    PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 \
		    pkg-config --cflags --libs tokend)
		# A sanitizer build (make SAN=1) installs an instrumented library.
		if ldd "$ROOT$LIBDIR/libtokend.so.0.1.0" 2>/dev/null | grep -q libasan; then
			flags="$flags -fsanitize=address,undefined"
		fi
		# shellcheck disable=SC2086
		run "${CC:-cc}" -o "$T/client" "$T/client.c" $flags
		expect_rc "a client builds with pkg-config tokend" 0
		run env LD_LIBRARY_PATH="$ROOT$LIBDIR" "$T/client" "$SOCK"
		expect_rc "that client connects through the installed libtokend.so" 0
		run env LD_LIBRARY_PATH="$ROOT$LIBDIR" ldd "$T/client"
		expect_match "the client uses libtokend.so.0" "libtokend\.so\.0 => $ROOT$LIBDIR/" "$OUT"
	else
		skip "build a client with pkg-config" "no cc or pkg-config"
	fi
	stop_daemon
	expect_eq "installed tokend stops cleanly on SIGTERM" 0 "$DAEMON_RC"
fi

# ---------------------------------------------------------------- systemd

if command -v systemd-analyze >/dev/null; then
	# The binary is in DESTDIR, not on the host: point ExecStart there.
	mkdir -p "$T/units"
	sed "s|^ExecStart=$SBINDIR/|ExecStart=$ROOT$SBINDIR/|" "$ROOT$UNITDIR/tokend.service" \
	    >"$T/units/tokend.service"
	cp "$ROOT$UNITDIR/tokend.socket" "$T/units/"
	run systemd-analyze verify --man=no "$T/units/tokend.socket" "$T/units/tokend.service"
	if [ "$RC" = 0 ] && [ -z "$OUT$ERR" ]; then pass "systemd-analyze verify: clean"; else
		fail "systemd-analyze verify: clean" "$(observed)"; fi
	run systemd-analyze security --offline=yes "$T/units/tokend.service"
	score=$(sed -n 's/.*Overall exposure level for tokend.service: \([0-9.]*\).*/\1/p' "$T/out")
	if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
		pass "exposure score $score <= 2.0"
	else
		fail "exposure score <= 2.0" "score: ${score:-none}" "$(observed)"
	fi
else
	skip "systemd-analyze verify" "systemd-analyze not installed"
fi
if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$T/sysroot/etc"
	: >"$T/sysroot/etc/group"
	: >"$T/sysroot/etc/passwd"
	run systemd-sysusers --root="$T/sysroot" "$ROOT$SYSUSERSDIR/tokend.conf"
	expect_match "systemd-sysusers makes tokend-admin" '^tokend-admin:' "$(cat "$T/sysroot/etc/group")"
	expect_match "systemd-sysusers makes tokend-verify" '^tokend-verify:' "$(cat "$T/sysroot/etc/group")"
	expect_match "systemd-sysusers makes the engine's user tokend, no login" \
	    '^tokend:x:[1-9][0-9]*:[1-9][0-9]*:[^:]*:/:/(usr/)?s?bin/nologin$' \
	    "$(cat "$T/sysroot/etc/passwd")"
fi
if command -v systemd-tmpfiles >/dev/null; then
	run systemd-tmpfiles --root="$T/sysroot" --create "$ROOT$TMPFILESDIR/tokend.conf"
	if [ -d "$T/sysroot/var/lib/tokend" ]; then
		mode_is "systemd-tmpfiles: /var/lib/tokend 0700" "$T/sysroot/var/lib/tokend" 700
		# Its uid:gid as systemd-sysusers made them in the same sysroot
		# (only root can give a directory away).
		is_root && expect_eq "systemd-tmpfiles: /var/lib/tokend is the engine's user's" \
		    "$(awk -F: '$1 == "tokend" { print $3 ":" $4 }' "$T/sysroot/etc/passwd")" \
		    "$(stat -c %u:%g "$T/sysroot/var/lib/tokend")"
	else
		fail "systemd-tmpfiles creates /var/lib/tokend" "$(observed)"
	fi
fi

# ---------------------------------------------------------------- man pages, completion

if command -v mandoc >/dev/null; then
	for m in $MANS; do
		run mandoc -T lint -W warning "$ROOT$MANDIR/$m"
		lint=$(cat "$T/out" "$T/err" | grep -v 'mandoc\.db')
		expect_eq "mandoc -T lint: $m" "" "$lint"
	done
else
	skip "mandoc -T lint" "mandoc not installed"
fi
if command -v man >/dev/null && man --help 2>&1 | grep -q -- --warnings; then
	for m in $MANS; do
		run env MANWIDTH=80 man --warnings -l "$ROOT$MANDIR/$m"
		if [ "$RC" = 0 ] && [ -z "$ERR" ] && [ -n "$OUT" ]; then pass "man -l: $m"; else
			fail "man -l: $m" "$(observed)"; fi
	done
else
	skip "man -l" "man-db not installed"
fi

completion() { # completion WORD...: what tokenctl's completion offers
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tokenctl
	    echo "${COMPREPLY[*]}"' - "$ROOT$BASHCOMPDIR/tokenctl" tokenctl "$@"
}
expect_eq "completion: commands" "issue list show rename delete exchange rotate verify status unlock otp" "$(completion "")"
expect_eq "completion: de -> delete" "delete" "$(completion de)"
expect_eq "completion: global options" "--socket --json --help --version" "$(completion --)"
expect_eq "completion: delete options" "--all --user --yes --json --help" \
    "$(completion --socket /x delete --)"
expect_eq "completion: exchange options, --lifetime among them" "--scope --lifetime --token-file --cache --json --help" \
    "$(completion exchange --)"
expect_eq "completion: --lifetime values" "5m" "$(completion exchange --lifetime 5)"

# ---------------------------------------------------------------- reinstall, uninstall

echo "max_tokens_per_user = 5" >>"$ROOT$CONFDIR/tokend.conf"
run "${TMAKE[@]}" install DESTDIR="$ROOT"
expect_rc "make install again succeeds" 0
expect_match "make install keeps an edited tokend.conf" "^max_tokens_per_user = 5\$" \
    "$(cat "$ROOT$CONFDIR/tokend.conf")"

run "${TMAKE[@]}" uninstall DESTDIR="$ROOT"
expect_rc "make uninstall succeeds" 0
left=$(cd "$ROOT" && find . ! -type d | sort)
expect_eq "make uninstall leaves only the edited config" "./${CONFDIR#/}/tokend.conf" "$left"

finish
