# shellcheck shell=bash disable=SC2034  # sourced: the scripts use what it sets
# SPDX-License-Identifier: ISC
# tests/bench/engine.sh: tokend runs as two processes (daemon/MONITOR.md);
# the benchmarks start the monitor and measure both.  Sourced by common.sh
# and run-large.sh.

# As root, the engine runs as user tokend; where the package has not made
# it, as nobody.
ENGINE_USER=()
[ "$(id -u)" -eq 0 ] && ! getent passwd tokend >/dev/null && ENGINE_USER=(--user nobody)

# engine_of PID: the engine process under the tokend (monitor) PID.
engine_of() {
	local _ e
	for _ in $(seq 100); do
		e=$(pgrep -P "$1" -f -- --engine) && { echo "$e"; return 0; }
		sleep 0.1
	done
	echo "no engine under tokend $1" >&2
	exit 1
}
