# SPDX-License-Identifier: ISC
# packaging/install.mk: make install, uninstall, install-check, package-check.
# Included by the Makefile, which sets PREFIX, SBINDIR, BINDIR, INCLUDEDIR,
# LIBDIR (Debian multiarch), PKGCONFIGDIR and SYSCONFDIR.
#
#   make install DESTDIR=/tmp/root          staged install (packages, tests)
#   make install PREFIX=/usr/local          by hand; config and PAM service
#                                           files are never overwritten
#   make uninstall [DESTDIR=...]            removes what install put there;
#                                           edited config files stay
#   make install-check                      tests/regress/t_install.sh
#   make install-dirs                       where install puts things
#   make package-check                      .debs + lintian (+ rpmbuild); slow
#
# PAM modules and systemd files go where the system looks for them, whatever
# PREFIX is: PAMDIR is Debian's /lib/<multiarch>/security (elsewhere
# $(LIBDIR)/security); the systemd directories come from systemd.pc when it
# is installed.

DATADIR		?= $(PREFIX)/share
MANDIR		?= $(DATADIR)/man
PAMDIR		?= $(if $(MULTIARCH),/lib/$(MULTIARCH)/security,$(LIBDIR)/security)
PAMCONFDIR	?= $(SYSCONFDIR)/pam.d
CONFDIR		?= $(SYSCONFDIR)/tokend
BASHCOMPDIR	?= $(DATADIR)/bash-completion/completions
TOKENDDATADIR	?= $(DATADIR)/tokend

SYSTEMD_VAR	= $(shell $(PKG_CONFIG) --variable=$(1) systemd 2>/dev/null)
ifeq ($(origin UNITDIR),undefined)
UNITDIR		:= $(or $(call SYSTEMD_VAR,systemdsystemunitdir),/lib/systemd/system)
endif
ifeq ($(origin SYSUSERSDIR),undefined)
SYSUSERSDIR	:= $(or $(call SYSTEMD_VAR,sysusersdir),/usr/lib/sysusers.d)
endif
ifeq ($(origin TMPFILESDIR),undefined)
TMPFILESDIR	:= $(or $(call SYSTEMD_VAR,tmpfilesdir),/usr/lib/tmpfiles.d)
endif

INSTALL		?= install
INSTALL_PROGRAM	= $(INSTALL) -m 0755
INSTALL_DATA	= $(INSTALL) -m 0644

# The daemon reads /etc/tokend/tokend.conf unless told otherwise.
CONF_FLAG	= $(if $(filter /etc,$(SYSCONFDIR)),,-c $(CONFDIR)/tokend.conf)

MAN_PAGES	= client/tokenctl.1 protocol/tokend.3 packaging/tokend.conf.5 \
		  daemon/tokend.8 pam/pam_tokend.8

# Files that "make install" places, relative to DESTDIR (uninstall's list).
INSTALLED_FILES	= $(SBINDIR)/tokend $(BINDIR)/tokenctl \
		  $(LIBDIR)/libtokend.so.0.1.0 $(LIBDIR)/$(LIB_SONAME) \
		  $(LIBDIR)/libtokend.so $(LIBDIR)/libtokend.a \
		  $(INCLUDEDIR)/tokend.h $(PKGCONFIGDIR)/tokend.pc \
		  $(PAMDIR)/pam_tokend.so \
		  $(UNITDIR)/tokend.service $(UNITDIR)/tokend.socket \
		  $(SYSUSERSDIR)/tokend.conf $(TMPFILESDIR)/tokend.conf \
		  $(BASHCOMPDIR)/tokenctl $(TOKENDDATADIR)/fleet.conf \
		  $(foreach m,$(MAN_PAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
# Edited by administrators: installed when absent, removed only when unchanged.
CONFIG_FILES	= packaging/tokend.conf:$(CONFDIR)/tokend.conf \
		  packaging/pam/tokend:$(PAMCONFDIR)/tokend \
		  packaging/pam/tokend-enroll:$(PAMCONFDIR)/tokend-enroll

SUBST		= sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@CONF_FLAG@|$(CONF_FLAG)|g' \
		  -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		  -e 's|  *$$||'

install: daemon/tokend client/tokenctl $(LIB_SO) $(LIB_A) $(PAM_MODULE)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(PAMDIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(CONFDIR) $(DESTDIR)$(PAMCONFDIR) \
	    $(DESTDIR)$(TOKENDDATADIR) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man,1 3 5 8)
	$(INSTALL_PROGRAM) daemon/tokend $(DESTDIR)$(SBINDIR)/tokend
	$(INSTALL_PROGRAM) client/tokenctl $(DESTDIR)$(BINDIR)/tokenctl
	$(INSTALL_DATA) $(LIB_SO) $(DESTDIR)$(LIBDIR)/libtokend.so.0.1.0
	ln -sf libtokend.so.0.1.0 $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libtokend.so
	$(INSTALL_DATA) $(LIB_A) $(DESTDIR)$(LIBDIR)/libtokend.a
	$(INSTALL_DATA) protocol/tokend.h $(DESTDIR)$(INCLUDEDIR)/tokend.h
	$(SUBST) protocol/tokend.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/tokend.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/tokend.pc
	$(INSTALL_DATA) $(PAM_MODULE) $(DESTDIR)$(PAMDIR)/pam_tokend.so
	for u in tokend.service tokend.socket; do \
	    $(SUBST) packaging/systemd/$$u.in > $(DESTDIR)$(UNITDIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	$(INSTALL_DATA) packaging/systemd/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/tokend.conf
	$(INSTALL_DATA) packaging/systemd/tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/tokend.conf
	$(INSTALL_DATA) packaging/bash-completion/tokenctl $(DESTDIR)$(BASHCOMPDIR)/tokenctl
	$(INSTALL_DATA) packaging/systemd/fleet.conf $(DESTDIR)$(TOKENDDATADIR)/fleet.conf
	for m in $(MAN_PAGES); do \
	    s=$${m##*.}; $(INSTALL_DATA) $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done
	for c in $(CONFIG_FILES); do \
	    src=$${c%%:*}; dst=$(DESTDIR)$${c#*:}; \
	    if [ -e $$dst ] && ! cmp -s $$src $$dst; then \
	        echo "keeping $$dst (differs from $$src)"; \
	    else $(INSTALL_DATA) $$src $$dst || exit 1; fi; \
	done
	$(INSTALL) -d -m 0700 $(DESTDIR)$(CONFDIR)/oath
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    echo "ldconfig; systemd-sysusers; systemd-tmpfiles --create"; \
	    ldconfig || :; \
	    systemd-sysusers $(SYSUSERSDIR)/tokend.conf 2>/dev/null || { \
	        getent group tokend-admin >/dev/null || groupadd -r tokend-admin; \
	        getent group tokend-verify >/dev/null || groupadd -r tokend-verify; \
	        getent passwd tokend >/dev/null || useradd -r -U -d / \
	            -s /usr/sbin/nologin -c "tokend engine" tokend; }; \
	    getent passwd tokend >/dev/null || \
	        echo "create the user tokend (useradd -r -U tokend): the engine runs as it"; \
	    systemd-tmpfiles --create $(TMPFILESDIR)/tokend.conf 2>/dev/null || \
	        install -d -m 0700 -o tokend -g tokend /var/lib/tokend || :; \
	    if [ -d /run/systemd/system ]; then systemctl daemon-reload || :; \
	        echo "start with: systemctl enable --now tokend.socket tokend.service"; fi; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED_FILES))
	for c in $(CONFIG_FILES); do \
	    src=$${c%%:*}; dst=$(DESTDIR)$${c#*:}; \
	    if cmp -s $$src $$dst; then rm -f $$dst; \
	    elif [ -e $$dst ]; then echo "keeping $$dst (edited)"; fi; \
	done
	rmdir $(DESTDIR)$(CONFDIR)/oath $(DESTDIR)$(CONFDIR) 2>/dev/null || :
	@echo "tokens and key in /var/lib/tokend are left in place"

# The installed tree: every file, its mode, units that verify (also in make check).
install-check: daemon/tokend client/tokenctl $(LIB_SO) $(LIB_A) $(PAM_MODULE)
	bash tests/regress/t_install.sh

# Where install puts things, as shell assignments (for t_install.sh).
install-dirs:
	@$(foreach v,SBINDIR BINDIR LIBDIR INCLUDEDIR PKGCONFIGDIR PAMDIR MANDIR \
	    UNITDIR SYSUSERSDIR TMPFILESDIR BASHCOMPDIR TOKENDDATADIR CONFDIR PAMCONFDIR, \
	    echo "$(v)='$($(v))'";)

# .debs built in a copy of the tree, then lintian; rpmbuild when present.
package-check:
	sh packaging/package-check.sh

.PHONY: install uninstall install-check install-dirs package-check
