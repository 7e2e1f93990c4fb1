# SPDX-License-Identifier: ISC
# tokend: plain make + pkg-config.
#   make              build everything
#   make check        unit + regression tests (summary line "N passed, M failed")
#   make SAN=1 check  the same under ASan + UBSan
#   make WERROR=1     warnings are errors (CI)
#   make install DESTDIR=... PREFIX=... ; make uninstall

VERSION		= 0.1.0
PREFIX		?= /usr
SBINDIR		?= $(PREFIX)/sbin
BINDIR		?= $(PREFIX)/bin
INCLUDEDIR	?= $(PREFIX)/include
MULTIARCH	:= $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
LIBDIR		?= $(PREFIX)/lib$(if $(MULTIARCH),/$(MULTIARCH))
PKGCONFIGDIR	?= $(LIBDIR)/pkgconfig
SYSCONFDIR	?= /etc

CC		?= cc
PKG_CONFIG	?= pkg-config
PKGS		= libevent lmdb libsodium pam json-c libseccomp liboath libqrencode libpq

WARN	= -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wstrict-prototypes \
	  -Wmissing-prototypes -Wwrite-strings -Wcast-qual -Wundef
HARDEN	= -D_FORTIFY_SOURCE=2 -fstack-protector-strong
ifeq ($(WERROR),1)
WARN	+= -Werror
endif
ifeq ($(SAN),1)
OPT	= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SANLD	= -fsanitize=address,undefined
HARDEN	=
else
OPT	?= -O2 -g
endif

PKG_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags $(PKGS))
CFLAGS		?=
CPPFLAGS	+= -D_GNU_SOURCE -DTOKEND_VERSION='"$(VERSION)"' -Iprotocol -Idaemon -Iclient -Ipam
ALL_CFLAGS	= -std=c11 $(OPT) $(WARN) $(HARDEN) -fPIC $(PKG_CFLAGS) $(CFLAGS)
LDHARDEN	= -Wl,-z,relro,-z,now
EXE_LDFLAGS	= $(if $(filter 1,$(SAN)),,-pie) $(LDHARDEN) $(SANLD) $(LDFLAGS)

LIBEVENT_LIBS	:= $(shell $(PKG_CONFIG) --libs libevent)
LMDB_LIBS	:= $(shell $(PKG_CONFIG) --libs lmdb)
SODIUM_LIBS	:= $(shell $(PKG_CONFIG) --libs libsodium)
SECCOMP_LIBS	:= $(shell $(PKG_CONFIG) --libs libseccomp)
PAM_LIBS	:= $(shell $(PKG_CONFIG) --libs pam)
JSON_LIBS	:= $(shell $(PKG_CONFIG) --libs json-c)
OATH_LIBS	:= $(shell $(PKG_CONFIG) --libs liboath)
QRENCODE_LIBS	:= $(shell $(PKG_CONFIG) --libs libqrencode)
PQ_LIBS		:= $(shell $(PKG_CONFIG) --libs libpq)

# protocol/ + libtokend
PROTO_OBJS	= protocol/wire.o protocol/frame.o protocol/tokenfmt.o protocol/duration.o
LIB_OBJS	= $(PROTO_OBJS) protocol/libtokend.o protocol/text.o
LIB_SONAME	= libtokend.so.0
LIB_SO		= protocol/libtokend.so.0.1.0
LIB_A		= protocol/libtokend.a

# daemon/
DAEMON_CORE	= daemon/util.o daemon/log.o daemon/config.o daemon/store.o daemon/store_write.o daemon/token.o
DAEMON_OBJS	= $(DAEMON_CORE) daemon/tokend.o daemon/monitor.o daemon/engine.o \
		  daemon/channel.o daemon/chanout.o daemon/sandbox.o daemon/listener.o daemon/conn.o \
		  daemon/dispatch.o daemon/pamhelper.o daemon/pamchild.o daemon/account.o \
		  daemon/accountchild.o daemon/helper.o daemon/clock.o daemon/lastused.o \
		  daemon/ratelimit.o daemon/writer.o daemon/vcache.o daemon/otp.o \
		  daemon/otpask.o daemon/fleet.o daemon/fleetsql.o daemon/fleetlink.o \
		  daemon/fleetwire.o
DAEMON_LIBS	= -pthread $(LIBEVENT_LIBS) $(LMDB_LIBS) $(SODIUM_LIBS) $(PAM_LIBS) \
		  $(SECCOMP_LIBS) $(OATH_LIBS) $(PQ_LIBS)

# client/
CLIENT_OBJS	= client/tokenctl.o client/cmd_issue.o client/cmd_list.o client/cmd_delete.o \
		  client/cmd_token.o client/cmd_otp.o client/credcache.o client/prompt.o \
		  client/output.o

# pam/
PAM_OBJS	= pam/pam_tokend.o pam/pamcore.o
PAM_MODULE	= pam/pam_tokend.so

UNIT_TESTS	= tests/unit/test_tokenfmt tests/unit/test_proto tests/unit/test_token \
		  tests/unit/test_store tests/unit/test_config

all: daemon/tokend client/tokenctl $(LIB_A) $(LIB_SO) protocol/tokend.pc $(PAM_MODULE) \
	tests/pam/pamdrive examples/bearer

%.o: %.c
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB_A): $(LIB_OBJS)
	rm -f $@; ar rcs $@ $(LIB_OBJS)

$(LIB_SO): $(LIB_OBJS) protocol/libtokend.map
	$(CC) -shared -Wl,-soname,$(LIB_SONAME) -Wl,--version-script=protocol/libtokend.map \
	    $(LDHARDEN) $(SANLD) $(LDFLAGS) -o $@ $(LIB_OBJS)
	ln -sf libtokend.so.0.1.0 protocol/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) protocol/libtokend.so

protocol/tokend.pc: protocol/tokend.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' $< > $@

daemon/tokend: $(DAEMON_OBJS) $(PROTO_OBJS)
	$(CC) $(EXE_LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

client/tokenctl: $(CLIENT_OBJS) $(LIB_A)
	$(CC) $(EXE_LDFLAGS) -o $@ $(CLIENT_OBJS) $(LIB_A) $(JSON_LIBS) $(SODIUM_LIBS) \
	    $(QRENCODE_LIBS)

# Only pam_sm_* leave the module; libtokend is linked in, hidden.
$(PAM_MODULE): $(PAM_OBJS) $(LIB_OBJS) pam/pam_tokend.map
	$(CC) -shared -Wl,--version-script=pam/pam_tokend.map $(LDHARDEN) $(SANLD) $(LDFLAGS) \
	    -o $@ $(PAM_OBJS) $(LIB_OBJS) $(PAM_LIBS)

examples/bearer: examples/bearer.o $(LIB_A)
	$(CC) $(EXE_LDFLAGS) -o $@ examples/bearer.o $(LIB_A)

tests/pam/pamdrive: tests/pam/pamdrive.o
	$(CC) $(EXE_LDFLAGS) -o $@ $^ $(PAM_LIBS)

tests/unit/test_tokenfmt: tests/unit/test_tokenfmt.o $(PROTO_OBJS)
	$(CC) $(EXE_LDFLAGS) -o $@ $^ $(SODIUM_LIBS)
tests/unit/test_proto: tests/unit/test_proto.o $(PROTO_OBJS)
	$(CC) $(EXE_LDFLAGS) -o $@ $^ $(SODIUM_LIBS)
tests/unit/test_token: tests/unit/test_token.o daemon/token.o daemon/util.o daemon/log.o $(PROTO_OBJS)
	$(CC) $(EXE_LDFLAGS) -o $@ $^ $(SODIUM_LIBS)
tests/unit/test_store: tests/unit/test_store.o daemon/store.o daemon/store_write.o daemon/util.o daemon/log.o $(PROTO_OBJS)
	$(CC) $(EXE_LDFLAGS) -o $@ $^ $(LMDB_LIBS) $(SODIUM_LIBS)
tests/unit/test_config: tests/unit/test_config.o daemon/config.o daemon/util.o daemon/log.o \
    protocol/duration.o
	$(CC) $(EXE_LDFLAGS) -o $@ $^ $(SODIUM_LIBS)

check: all $(UNIT_TESTS) tests/pam/pam_testmod.so
	@sh tests/run-all.sh $(UNIT_TESTS)

clean:
	rm -f */*.o */*/*.o */*.d */*/*.d daemon/tokend client/tokenctl $(UNIT_TESTS) \
	    $(PAM_MODULE) tests/pam/pamdrive examples/bearer \
	    $(LIB_A) protocol/libtokend.so* protocol/tokend.pc

.PHONY: all check clean

-include $(patsubst %.o,%.d,$(wildcard */*.o */*/*.o))

# Install rules, the benchmark and the fuzzers live beside what they build.
-include packaging/install.mk
-include tests/bench/bench.mk
-include tests/fuzz/fuzz.mk
-include tests/pam/pam.mk
-include cockpit/cockpit.mk
