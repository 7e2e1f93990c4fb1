# SPDX-License-Identifier: ISC
# tests/pam/pam_testmod.so: a PAM module that hangs, crashes or exits on
# request (t_failure.sh).  Included from the Makefile; for tests only, never
# installed.
PAM_TESTMOD	= tests/pam/pam_testmod.so

$(PAM_TESTMOD): tests/pam/pam_testmod.o
	$(CC) -shared $(LDHARDEN) $(SANLD) $(LDFLAGS) -o $@ $^ $(PAM_LIBS)

clean: clean-pam-testmod
clean-pam-testmod:
	rm -f $(PAM_TESTMOD) tests/pam/pam_testmod.o tests/pam/pam_testmod.d

.PHONY: clean-pam-testmod
