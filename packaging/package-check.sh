#!/bin/sh
# SPDX-License-Identifier: ISC
# packaging/package-check.sh (make package-check): builds the Debian packages
# in a copy of the tree, checks that the five binary packages hold what they
# should, runs lintian (errors and warnings fail; the overrides in
# packaging/debian/*.lintian-overrides say why each is accepted), and builds
# the RPMs with rpmbuild --nodeps when rpmbuild is installed.
# Last line: "package-check: N passed, M failed".
#
# Needs: apt-get install devscripts debhelper lintian  (rpm: optional)
# Environment: PACKAGE_KEEP=1 keeps the work folder; DEB_BUILD_OPTIONS as usual.

TOP=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(sed -n 's/^VERSION[[:space:]]*=[[:space:]]*//p' "$TOP/Makefile")
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "  ok   $1"; }
bad() { failed=$((failed + 1)); echo "  FAIL $1"; shift; [ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/       | /'; }
finish() {
	echo "package-check: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

for tool in dpkg-buildpackage dh lintian rsync; do
	if ! command -v $tool >/dev/null 2>&1; then
		bad "$tool is installed" "apt-get install devscripts debhelper lintian rsync"
		finish
	fi
done

W=$(mktemp -d "${TMPDIR:-/tmp}/tokend-package.XXXXXX") || exit 1
if [ "${PACKAGE_KEEP:-0}" = 1 ]; then
	echo "package-check: work folder $W (kept)"
else
	trap 'rm -rf "$W"' EXIT
fi
trap 'exit 130' INT TERM

# A copy without .git and build products: the build must not touch the tree.
SRC=$W/tokend-$VERSION
rsync -a --exclude /.git --exclude /debian "$TOP/" "$SRC/"
make -C "$SRC" clean >/dev/null 2>&1
cp -r "$SRC/packaging/debian" "$SRC/debian"

echo "package-check: dpkg-buildpackage -us -uc -b (log: $W/deb-build.log)"
if (cd "$SRC" && dpkg-buildpackage -us -uc -b) >"$W/deb-build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	bad "dpkg-buildpackage -us -uc -b" "$(tail -n 25 "$W/deb-build.log")"
	finish
fi

ARCH=$(dpkg --print-architecture)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
DV=$(cd "$SRC" && dpkg-parsechangelog -S Version)
# has PACKAGE PATH...: each PATH is in PACKAGE's .deb.
has() {
	deb=$W/${1}_${DV}_$ARCH.deb
	[ -f "$deb" ] || deb=$W/${1}_${DV}_all.deb
	pkg=$1
	shift
	if [ ! -f "$deb" ]; then
		bad "$pkg: .deb built" "no $deb"
		return
	fi
	list=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
	missing=
	for p in "$@"; do
		printf '%s\n' "$list" | grep -qx "$p" || missing="$missing $p"
	done
	if [ -z "$missing" ]; then ok "$pkg holds its files"; else
		bad "$pkg holds its files" "missing:$missing"; fi
}
has tokend /usr/sbin/tokend /usr/bin/tokenctl /etc/tokend/tokend.conf /etc/pam.d/tokend \
    /etc/pam.d/tokend-enroll \
    /lib/systemd/system/tokend.service /lib/systemd/system/tokend.socket \
    /usr/lib/sysusers.d/tokend.conf /usr/lib/tmpfiles.d/tokend.conf \
    /usr/share/bash-completion/completions/tokenctl /usr/share/man/man1/tokenctl.1.gz \
    /usr/share/tokend/fleet.conf \
    /usr/share/man/man5/tokend.conf.5.gz /usr/share/man/man8/tokend.8.gz
has libtokend0 "/usr/lib/$MA/libtokend.so.0.1.0" "/usr/lib/$MA/libtokend.so.0"
has libtokend-dev /usr/include/tokend.h "/usr/lib/$MA/libtokend.so" "/usr/lib/$MA/libtokend.a" \
    "/usr/lib/$MA/pkgconfig/tokend.pc" /usr/share/man/man3/tokend.3.gz
has libpam-tokend "/lib/$MA/security/pam_tokend.so" "/lib/$MA/security/pam_tokd.so" \
    /usr/share/man/man8/pam_tokend.8.gz /usr/share/pam-configs/tokend
has cockpit-tokend /usr/share/cockpit/tokend/manifest.json /usr/share/cockpit/tokend/index.html \
    /usr/share/cockpit/tokend/tokend.js /usr/share/cockpit/tokend/tokenctl.js \
    /usr/share/cockpit/tokend/tokend.css /usr/share/cockpit/tokend/po.ja.js

conf=$(dpkg-deb -I "$W/tokend_${DV}_$ARCH.deb" conffiles 2>/dev/null)
if [ "$conf" = "/etc/pam.d/tokend
/etc/pam.d/tokend-enroll
/etc/tokend/tokend.conf" ]; then ok "tokend: conffiles"; else
	bad "tokend: conffiles" "$conf"; fi
if dpkg-deb -f "$W/libpam-tokend_${DV}_$ARCH.deb" >/dev/null &&
    dpkg-deb --fsys-tarfile "$W/libpam-tokend_${DV}_$ARCH.deb" |
    tar -xOf - ./usr/share/pam-configs/tokend | grep -qx 'Default: no'; then
	ok "libpam-tokend: pam-auth-update profile not enabled by default"
else
	bad "libpam-tokend: pam-auth-update profile not enabled by default"
fi

for d in "$W"/*.deb; do
	case $d in *-dbgsym_*) continue ;; esac	# debug symbols: no doc of their own
	c=$(dpkg-deb --fsys-tarfile "$d" | tar -xOf - --wildcards './usr/share/doc/*/copyright' 2>/dev/null)
	case $c in
	*"License: ISC"*"Permission to use, copy, modify"*) ;;
	*) bad "$(basename "$d"): copyright is ISC" "$(printf '%s' "$c" | head -n 8)"; continue ;;
	esac
	ok "$(basename "$d" | cut -d_ -f1): copyright is ISC"
done

echo "package-check: lintian (log: $W/lintian.log)"
lintian --fail-on error,warning --display-info --pedantic \
    "$W/tokend_${DV}_$ARCH.changes" >"$W/lintian.log" 2>&1
rc=$?
grep -v 'running with root privileges' "$W/lintian.log" | sed 's/^/       /'
if [ $rc -eq 0 ]; then ok "lintian: no error, no warning"; else
	bad "lintian: no error, no warning" "exit $rc"; fi

if command -v rpmbuild >/dev/null 2>&1; then
	R=$W/rpm
	mkdir -p "$R/SOURCES"
	rm -rf "$SRC/debian"
	make -C "$SRC" clean >/dev/null 2>&1
	tar -C "$W" -czf "$R/SOURCES/tokend-$VERSION.tar.gz" "tokend-$VERSION"
	echo "package-check: rpmbuild -bb --nodeps (log: $W/rpm-build.log)"
	if rpmbuild -bb --nodeps --define "_topdir $R" --define 'debug_package %{nil}' \
	    "$SRC/packaging/rpm/tokend.spec" >"$W/rpm-build.log" 2>&1; then
		n=$(find "$R/RPMS" -name '*.rpm' | wc -l)
		if [ "$n" -eq 5 ]; then ok "rpmbuild -bb: 5 packages"; else
			bad "rpmbuild -bb: 5 packages" "$(find "$R/RPMS" -name '*.rpm')"; fi
		lic=$(for r in "$R"/RPMS/*/*.rpm; do
			rpm -qp --qf '%{NAME} %{LICENSE}\n' "$r" 2>/dev/null
		done | grep -v ' ISC$')
		if [ -z "$lic" ]; then ok "every RPM: License ISC"; else
			bad "every RPM: License ISC" "$lic"; fi
		nolic=$(for r in "$R"/RPMS/*/*.rpm; do
			case $r in *-devel-*) continue ;; esac
			rpm -qpL "$r" 2>/dev/null | grep -q '/LICENSE$' || basename "$r"
		done)
		if [ -z "$nolic" ]; then ok "every RPM but -devel ships LICENSE"; else
			bad "every RPM but -devel ships LICENSE" "$nolic"; fi
	else
		bad "rpmbuild -bb --nodeps" "$(tail -n 25 "$W/rpm-build.log")"
	fi
else
	echo "package-check: rpmbuild not installed, RPM spec not checked"
fi

finish
