#!/bin/sh
# SPDX-License-Identifier: ISC
# Rebuild the committed seed corpora, tests/fuzz/corpus/<target>/:
#   gen-*  frames and tokens from the real encoders (build/seedgen), and
#          tokend.conf variants for fuzz_config (below);
#   vec-*  one per frame/reject/token/badtoken line of protocol/vectors.txt,
#          when that file exists.
# Deterministic: a rerun rewrites the same files.  Run via `make fuzz-seed`.
set -eu
cd "$(dirname "$0")/../.."
corpus=tests/fuzz/corpus
seedgen=tests/fuzz/build/seedgen
[ -x "$seedgen" ] || make -s "$seedgen"

for t in fuzz_frame fuzz_response fuzz_token fuzz_config fuzz_monitor; do
	mkdir -p "$corpus/$t"
	rm -f "$corpus/$t"/gen-* "$corpus/$t"/vec-*
done
if [ -f protocol/vectors.txt ]; then
	"$seedgen" "$corpus" protocol/vectors.txt
else
	echo "seed.sh: no protocol/vectors.txt, generated seeds only" >&2
	"$seedgen" "$corpus"
fi

c=$corpus/fuzz_config
cp packaging/tokend.conf "$c/gen-default"
# Every key set, to its documented default.
sed 's/^#\([a-z_]* =\)/\1/' packaging/tokend.conf > "$c/gen-all-keys"
cat > "$c/gen-custom" <<'CONF'
# a site's configuration
socket_path = "/run/tokend test/tokend.sock"   # quoted: spaces kept
db_dir=/srv/tokend#not-a-comment
key_file = /srv/tokend/hash.key
pam_service = tokend-otp
pam_confdir = /etc/tokend/pam.d
admin_group = wheel
verifier_group = "svc-verify"
max_connections = 65536
max_connections_per_uid = 1
max_frame = 64k
idle_timeout = 1d
pam_timeout = 30S
max_pam_helpers = 1024
pam_serialize = TRUE
fail_delay_ms = 0
refresh_default = 3650d
refresh_max = 3650d
access_default = 1
access_max = 24h
max_tokens_per_user = 100000
map_size = 1T
purge_interval = 10
last_used_flush = 1m
CONF
printf 'max_frame = 256\r\npam_serialize = off\r\n' > "$c/gen-crlf"
printf 'map_size = 512M' > "$c/gen-no-newline"
printf '\n   \n\t# only comments\n#\n' > "$c/gen-blank"
printf 'max_connections = 10\nmax_connections_per_uid = 11\n' > "$c/gen-bad-per-uid"
printf 'access_default = 2h\n' > "$c/gen-bad-access-default"
printf 'max_frame = 65537\n' > "$c/gen-bad-range"
printf 'db_dir = var/lib/tokend\n' > "$c/gen-bad-relative"
printf 'pam_service = ../shadow\n' > "$c/gen-bad-service"
printf 'no_such_key = 1\n' > "$c/gen-bad-key"
printf 'max_frame 4096\n' > "$c/gen-bad-no-equals"
printf 'admin_group = "wheel\n' > "$c/gen-bad-quote"
printf 'idle_timeout = 18446744073709551616\n' > "$c/gen-bad-overflow"
printf 'refresh_max = 5y\n' > "$c/gen-bad-suffix"
printf 'max_frame = 1\0024\n' | tr '\002' '\000' > "$c/gen-bad-nul"
{ printf 'admin_group = '; head -c 4090 /dev/zero | tr '\000' 'g'; printf '\n'; } \
    > "$c/gen-bad-long-line"

for t in fuzz_frame fuzz_response fuzz_token fuzz_config; do
	printf '%s: %s files, %s bytes\n' "$t" "$(find "$corpus/$t" -type f | wc -l)" \
	    "$(cat "$corpus/$t"/* | wc -c)"
done
