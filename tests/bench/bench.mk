# SPDX-License-Identifier: ISC
# tests/bench: tokend-bench (load generator) and `make bench` (tokend
# beside redis GET, same machine, same run).  See tests/bench/README.md.

BENCH_BIN	= tests/bench/tokend-bench
BENCH_ARGS	?=

all: $(BENCH_BIN)

$(BENCH_BIN): tests/bench/tokend-bench.o protocol/wire.o
	$(CC) $(EXE_LDFLAGS) -o $@ $^

bench: daemon/tokend $(BENCH_BIN)
	bash tests/bench/run-bench.sh $(BENCH_ARGS)

bench-clean:
	rm -f $(BENCH_BIN)

clean: bench-clean

.PHONY: bench bench-clean

# tokend-fill: bulk records for the large-store measurement (no PAM).
FILL_BIN	= tests/bench/tokend-fill

all: $(FILL_BIN)

$(FILL_BIN): tests/bench/tokend-fill.o daemon/store.o daemon/store_write.o daemon/token.o daemon/util.o daemon/log.o $(PROTO_OBJS)
	$(CC) $(EXE_LDFLAGS) -o $@ $^ $(LMDB_LIBS) $(SODIUM_LIBS)

clean: fill-clean
fill-clean:
	rm -f $(FILL_BIN)
.PHONY: fill-clean

bench-large: daemon/tokend $(BENCH_BIN) $(FILL_BIN)
	bash tests/bench/run-large.sh
.PHONY: bench-large

# The account re-check with 10,000 users in use (target: under 5% of a core).
bench-recheck: daemon/tokend client/tokenctl $(BENCH_BIN) $(FILL_BIN)
	bash tests/bench/run-recheck.sh
.PHONY: bench-recheck

# VERIFY latency idle and with PAM conversations held open and an
# ISSUE/REVOKE loop running (target: loaded p99 <= 2x idle p99).
bench-load: daemon/tokend $(BENCH_BIN)
	bash tests/bench/run-load.sh
.PHONY: bench-load

# Fleet mode beside the one-host store, same run: cached VERIFY/EXCHANGE
# (target: fleet >= 0.9x LMDB), ISSUE/REVOKE latency, revocation
# propagation across hosts (needs the postgresql package).
bench-fleet: daemon/tokend $(BENCH_BIN)
	bash tests/bench/run-fleet.sh
.PHONY: bench-fleet

# The answer cache's hit rate over 100,000 distinct live tokens (target:
# 95% or more with the default answer_cache_size).
bench-cacheset: daemon/tokend $(BENCH_BIN) $(FILL_BIN)
	bash tests/bench/run-cacheset.sh
.PHONY: bench-cacheset
