# SPDX-License-Identifier: ISC
# cockpit/cockpit.mk: the "API tokens" page of the web console (Cockpit),
# package cockpit-tokend.  Included by the Makefile.  Plain files: nothing
# is built or downloaded; cockpit.js comes from Cockpit itself.
#
#   make install-cockpit [DESTDIR=...]   the page into $(COCKPITDIR)
#   make uninstall-cockpit
#   make cockpit-po                      po.LANG.js from cockpit/po/LANG.po
#   make cockpit-pot                     cockpit/po/tokend-cockpit.pot from the sources
#   make check-cockpit                   the page in headless Chromium (root; see
#                                        tests/cockpit/check-cockpit.sh)

COCKPITDIR	?= $(PREFIX)/share/cockpit/tokend
COCKPIT_LANGS	= ja
COCKPIT_SRC	= cockpit/manifest.json cockpit/index.html cockpit/tokend.js \
		  cockpit/tokenctl.js cockpit/tokend.css
COCKPIT_PO_JS	= $(foreach l,$(COCKPIT_LANGS),cockpit/po.$(l).js)
COCKPIT_FILES	= $(COCKPIT_SRC) $(COCKPIT_PO_JS)
COCKPIT_I18N	= python3 cockpit/po/i18n.py

install-cockpit: $(COCKPIT_FILES)
	$(INSTALL) -d $(DESTDIR)$(COCKPITDIR)
	$(INSTALL) -m 0644 $(COCKPIT_FILES) $(DESTDIR)$(COCKPITDIR)/

uninstall-cockpit:
	rm -f $(addprefix $(DESTDIR)$(COCKPITDIR)/,$(notdir $(COCKPIT_FILES)))
	rmdir $(DESTDIR)$(COCKPITDIR) 2>/dev/null || :

# The translations are committed as po.LANG.js (what Cockpit serves); these
# targets remake them, and check-cockpit-po fails when one is out of date.
cockpit-po:
	for l in $(COCKPIT_LANGS); do \
	    $(COCKPIT_I18N) js cockpit/po/$$l.po cockpit/po.$$l.js || exit 1; done

cockpit-pot:
	$(COCKPIT_I18N) pot cockpit/po/tokend-cockpit.pot $(COCKPIT_SRC)

check-cockpit-po:
	$(COCKPIT_I18N) check $(COCKPIT_SRC) -- $(foreach l,$(COCKPIT_LANGS),cockpit/po/$(l).po)

check-cockpit: client/tokenctl daemon/tokend check-cockpit-po
	timeout -k 10 600 bash tests/cockpit/check-cockpit.sh

.PHONY: install-cockpit uninstall-cockpit cockpit-po cockpit-pot check-cockpit-po check-cockpit
