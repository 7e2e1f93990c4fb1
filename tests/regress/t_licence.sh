#!/bin/bash
# SPDX-License-Identifier: ISC
# The licence is ISC, and every source file of the tree says so: a file
# without its SPDX line is one a packager would have to ask about.
. "$(dirname "$0")/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
expect_match "LICENSE is the ISC licence" \
    'Permission to use, copy, modify, and distribute this software for any' "$(cat "$TOP/LICENSE")"
expect_match "debian/copyright says ISC" '^License: ISC$' "$(cat "$TOP/packaging/debian/copyright")"
expect_match "the RPM spec says ISC" '^License: +ISC$' "$(cat "$TOP/packaging/rpm/tokend.spec")"

# Sources by kind, found without git (a release tarball has no .git);
# generated, built and data files are not sources.
missing=$(cd "$TOP" && find . \( -path ./.git -o -path ./tests/fuzz/corpus -o -path ./tests/fuzz/build \
    -o -path ./tests/cockpit/artifacts -o -path ./debian \) -prune -o -type f \
    \( -name '*.[ch]' -o -name '*.sh' -o -name '*.py' -o -name '*.mk' -o -name '*.js' \
    -o -name '*.css' -o -name '*.html' -o -name '*.[1358]' -o -name '*.in' -o -name '*.spec' \
    -o -name Makefile -o -name '*.conf' -o -name '*.map' \) -print |
    grep -v -e '^./cockpit/po\.ja\.js$' |
    while read -r f; do
	    head -c 400 "$f" | grep -q 'SPDX-License-Identifier: ISC' || echo "$f"
    done | sort)
expect_eq "every source file has an SPDX-License-Identifier: ISC line" "" "$missing"
finish
