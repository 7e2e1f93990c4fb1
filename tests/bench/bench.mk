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
