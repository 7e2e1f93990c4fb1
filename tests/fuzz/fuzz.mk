# SPDX-License-Identifier: ISC
# tests/fuzz: libFuzzer targets (clang).  See tests/fuzz/README.md.
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="fuzz_frame ..."]
#   make fuzz-build       build only (tests/fuzz/build/)
#   make fuzz-regress     replay the seed corpus and every past crash, no fuzzing
#   make fuzz-seed        regenerate tests/fuzz/corpus/ (seed.sh)

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_TARGETS	?= fuzz_frame fuzz_response fuzz_token fuzz_config fuzz_monitor
FUZZ_B		= tests/fuzz/build
FUZZ_O		= $(FUZZ_B)/obj
FUZZ_SAN	= -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS	= -std=c11 -g -O1 -fno-omit-frame-pointer $(WARN) $(PKG_CFLAGS) \
		  $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_BINS	= $(FUZZ_B)/fuzz_frame $(FUZZ_B)/fuzz_response $(FUZZ_B)/fuzz_token \
		  $(FUZZ_B)/fuzz_config $(FUZZ_B)/fuzz_monitor

$(FUZZ_O)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_B)/fuzz_frame: $(FUZZ_O)/tests/fuzz/fuzz_frame.o $(FUZZ_O)/protocol/wire.o \
		$(FUZZ_O)/protocol/frame.o
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^

$(FUZZ_B)/fuzz_response: $(FUZZ_O)/tests/fuzz/fuzz_response.o $(FUZZ_O)/protocol/wire.o \
		$(FUZZ_O)/protocol/frame.o
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^

$(FUZZ_B)/fuzz_token: $(FUZZ_O)/tests/fuzz/fuzz_token.o $(FUZZ_O)/tests/fuzz/fuzzkey.o \
		$(FUZZ_O)/protocol/tokenfmt.o $(FUZZ_O)/daemon/token.o $(FUZZ_O)/daemon/util.o
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(SODIUM_LIBS)

$(FUZZ_B)/fuzz_config: $(FUZZ_O)/tests/fuzz/fuzz_config.o $(FUZZ_O)/daemon/config.o \
		$(FUZZ_O)/daemon/util.o $(FUZZ_O)/protocol/duration.o
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^

$(FUZZ_B)/fuzz_monitor: $(FUZZ_O)/tests/fuzz/fuzz_monitor.o $(FUZZ_O)/daemon/channel.o \
		$(FUZZ_O)/protocol/wire.o $(FUZZ_O)/protocol/frame.o
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^

# The seed generator: the real encoders, built like the targets (no libFuzzer main).
$(FUZZ_B)/seedgen: $(FUZZ_O)/tests/fuzz/seedgen.o $(FUZZ_O)/tests/fuzz/fuzzkey.o \
		$(FUZZ_O)/daemon/channel.o $(FUZZ_O)/protocol/wire.o $(FUZZ_O)/protocol/frame.o $(FUZZ_O)/protocol/tokenfmt.o \
		$(FUZZ_O)/daemon/token.o $(FUZZ_O)/daemon/util.o
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -o $@ $^ $(SODIUM_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-regress: fuzz-build
	sh tests/fuzz/run.sh 0 $(FUZZ_TARGETS)

fuzz-seed: $(FUZZ_B)/seedgen
	sh tests/fuzz/seed.sh

# Keeps the grown corpora and logs in tests/fuzz/build/; rm -rf it to start over.
fuzz-clean:
	rm -rf $(FUZZ_O) $(FUZZ_BINS) $(FUZZ_B)/seedgen

clean: fuzz-clean

.PHONY: fuzz fuzz-build fuzz-regress fuzz-seed fuzz-clean

-include $(wildcard $(FUZZ_O)/*/*.d $(FUZZ_O)/*/*/*.d)
